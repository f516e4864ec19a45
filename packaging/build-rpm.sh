#!/usr/bin/env bash
# Builds the RPM package of oci-signature-hook into target/packages/: `make build` (cargo from
# PATH), then rpmbuild on packaging/rpm/oci-signature-hook.spec with a private _topdir
# (target/rpm), whose %install runs `make install` with the binary just built.
#
#   packaging/build-rpm.sh       prints the path of the .rpm on stdout, everything else on stderr
#
# rpmbuild runs with --nodeps: on Debian (Debian's rpm package) it cannot see what apt installed.
# brp-compress (which compresses the manual page) runs under bash: Debian's starts with #!/bin/sh
# but needs bash's `read -d`, and under dash it compresses nothing.
# The version is Cargo.toml's (a "-" of a pre-release becomes "~", which sorts before the release).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
umask 022

pkg=oci-signature-hook
say() { printf 'build-rpm: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

command -v rpmbuild >/dev/null || die "rpmbuild not found (Debian: apt-get install rpm)"
# shellcheck source=packaging/version.sh
source packaging/version.sh

make build >&2
bin=target/release/$pkg
# A dynamic binary would need shared-library dependencies this package does not declare.
if ! ldd "$bin" 2>&1 | grep -qE 'statically linked|not a dynamic executable'; then
    die "$bin is dynamically linked (is RUSTC_WRAPPER set?); the package expects a static binary"
fi

top=$PWD/target/rpm
rm -rf "$top"
mkdir -p "$top"/{BUILD,BUILDROOT,RPMS,SOURCES,SPECS,SRPMS,tmp} target/packages
rpmbuild -bb --nodeps \
    --define "_topdir $top" \
    --define "_tmppath $top/tmp" \
    --define "srcdir $PWD" \
    --define "pkg_version $version" \
    --define "_build_id_links none" \
    --define "__brp_compress bash %{_rpmconfigdir}/brp-compress %{?_prefix}" \
    packaging/rpm/$pkg.spec >&2

mapfile -t built < <(find "$top/RPMS" -name "$pkg-$version-*.rpm")
[[ ${#built[@]} == 1 ]] || die "expected one $pkg-$version-*.rpm in $top/RPMS, found ${#built[@]}"
rpm=target/packages/${built[0]##*/}
cp "${built[0]}" "$rpm"
rpm -qlp "$rpm" >/dev/null
say "built $rpm ($(stat -c %s "$rpm") bytes)"
printf '%s\n' "$rpm"
