#!/usr/bin/env bash
# Builds the Debian package of oci-signature-hook into target/packages/, without debhelper and
# without Debian's Rust packages: `make build` (cargo from PATH), `make install` into a staging
# tree, the package's documentation, then the control file from packaging/debian/control and
# packaging/debian/changelog (dpkg-gencontrol) and `dpkg-deb --build`.
#
#   packaging/build-deb.sh       prints the path of the .deb on stdout, everything else on stderr
#
# The version is Cargo.toml's (a "-" of a pre-release becomes "~", which sorts before the release).
# Needs cargo, make, dpkg-dev; root is not needed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
umask 022

pkg=oci-signature-hook
say() { printf 'build-deb: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# shellcheck source=packaging/version.sh
source packaging/version.sh
changelog_version=$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)
if [[ $changelog_version != "$version" ]]; then
    say "warning: packaging/debian/changelog is at $changelog_version, Cargo.toml at $version"
fi
arch=$(dpkg --print-architecture)

make build >&2
bin=target/release/$pkg
# A dynamic binary would need shared-library dependencies this package does not declare.
if ! ldd "$bin" 2>&1 | grep -qE 'statically linked|not a dynamic executable'; then
    die "$bin is dynamically linked (is RUSTC_WRAPPER set?); the package expects a static binary"
fi

work=target/deb
stage=$work/root
rm -rf "$work"
mkdir -p "$stage/DEBIAN" target/packages
make install DESTDIR="$PWD/$stage" PREFIX=/usr >&2

# Debian policy: manual pages and changelogs are compressed; the copyright file is not.
gzip -9n "$stage/usr/share/man/man1/$pkg.1"
doc=$stage/usr/share/doc/$pkg
install -d "$doc"
install -m 0644 packaging/debian/copyright "$doc/copyright"
gzip -9n <packaging/debian/changelog >"$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"
install -D -m 0644 packaging/debian/$pkg.lintian-overrides "$stage/usr/share/lintian/overrides/$pkg"
# The purge step (dh adds its own lines at #DEBHELPER#; there are none here).
grep -v '^#DEBHELPER#$' packaging/debian/postrm >"$stage/DEBIAN/postrm"
chmod 0755 "$stage/DEBIAN/postrm"

# Reproducible: every file dated at the last changelog entry.
SOURCE_DATE_EPOCH=$(dpkg-parsechangelog -l packaging/debian/changelog -S Timestamp)
export SOURCE_DATE_EPOCH
find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) \
    >"$stage/DEBIAN/md5sums"

# GPGME, libassuan, libgpg-error and the C library are linked in statically.
built_using=$(dpkg-query -W -f='${source:Package} (= ${source:Version}), ' \
    libgpgme-dev libassuan-dev libgpg-error-dev libc6-dev 2>/dev/null | sed 's/, $//') ||
    die "cannot tell the versions of the static libraries (libgpgme-dev libassuan-dev libgpg-error-dev libc6-dev)"
: >"$work/substvars"
dpkg-gencontrol -p"$pkg" -cpackaging/debian/control -lpackaging/debian/changelog \
    -f"$work/files" -T"$work/substvars" -P"$stage" -v"$version" \
    -Vmisc:Depends= -Vmisc:Built-Using="$built_using"
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/md5sums"

deb=target/packages/${pkg}_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >&2
dpkg-deb --info "$deb" >/dev/null
say "built $deb ($(stat -c %s "$deb") bytes)"
printf '%s\n' "$deb"
