#!/usr/bin/env bash
# End-to-end test of the packages, as root:
#   1. checks that the manual page renders without warnings; builds the .deb and the .rpm
#      (packaging/build-deb.sh, packaging/build-rpm.sh) and checks their file lists, modes,
#      dependencies and hook definition; checks `make install` with another PREFIX;
#   2. builds a lab (tests/lab/lab.sh: registry, keys, signed and unsigned images) and installs a
#      host policy, /etc/containers/policy.json, that requires the lab key's signature for the
#      lab registry;
#   3. runs plain `podman run` (podman's default hooks directories, no --hooks-dir, the hook's
#      default policy path): the unsigned image starts while the package is not installed; with
#      the .deb installed (dpkg -i) it is blocked and the signed image starts; after
#      `dpkg --purge` the unsigned image starts again.
# On exit, whatever happened, the package is purged, the original policy is put back (or removed
# if there was none) and the lab is torn down. Syslog is not needed.
#
# While the package is installed, every podman container on this machine that uses the default
# hooks directories runs the hook (the policy change only concerns the lab's registry).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

pkg=oci-signature-hook
policy=/etc/containers/policy.json
backup=/etc/containers/.policy.json.$pkg-package-test
hook_json=/usr/share/containers/oci/hooks.d/$pkg.json
override_json=/etc/containers/oci/hooks.d/$pkg.json
hook_bin=/usr/libexec/oci/hooks.d/$pkg

say() { printf 'package: %s\n' "$*" >&2; }
fail() {
    printf 'package: FAIL: %s\n' "$*" >&2
    exit 1
}

if [[ $(id -u) != 0 ]]; then
    echo "tests/package.sh: run as root (it installs the package and changes $policy)" >&2
    exit 1
fi
for tool in make dpkg-deb dpkg-gencontrol rpm rpmbuild podman jq groff; do
    command -v "$tool" >/dev/null || fail "missing tool: $tool"
done

pkg_status() { dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true; }

status=$(pkg_status)
if [[ -n $status && $status != not-installed ]]; then
    fail "$pkg is already on this machine (status $status); this test installs and purges it: remove it first"
fi
for f in "$hook_json" "$override_json" "$hook_bin"; do
    [[ ! -e $f ]] || fail "$f exists although $pkg is not installed: the test could not tell its hook apart"
done
[[ ! -e $backup ]] || fail "$backup exists: a previous run was killed; put it back as $policy (or delete it) by hand"

work=$(mktemp -d /tmp/osh-pkgtest.XXXXXX)
lab=
installed=0
policy_saved=0
had_policy=0

restore_policy() {
    if ((had_policy)); then
        mv -f "$backup" "$policy"
        cmp -s "$policy" "$work/policy.orig" || {
            say "$policy differs from the original after restoring it (the original is in $work/policy.orig)"
            return 1
        }
    else
        rm -f "$policy"
    fi
}

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM HUP
    if ((installed)) && [[ $(pkg_status) != "" && $(pkg_status) != not-installed ]]; then
        dpkg --purge "$pkg" >/dev/null || { say "could not purge $pkg"; rc=1; }
    fi
    if ((policy_saved)); then
        if restore_policy; then
            say "$policy restored"
        else
            rc=1
        fi
    fi
    if [[ -n $lab ]]; then
        bash tests/lab/lab.sh down "$lab" >/dev/null 2>&1 || say "could not tear down the lab at $lab"
    fi
    if ((rc == 0)); then
        rm -rf "$work"
    else
        say "kept $work"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# --- 1. build and inspect -----------------------------------------------------------------------

# The manual page renders with no groff warning.
LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z packaging/$pkg.1 2>"$work/groff.log"
[[ ! -s $work/groff.log ]] || { cat "$work/groff.log" >&2; fail "groff warns about packaging/$pkg.1"; }

say "building the .deb and the .rpm"
deb=$(bash packaging/build-deb.sh 2>"$work/build-deb.log") || { cat "$work/build-deb.log" >&2; fail "build-deb.sh failed"; }
rpm=$(bash packaging/build-rpm.sh 2>"$work/build-rpm.log") || { cat "$work/build-rpm.log" >&2; fail "build-rpm.sh failed"; }
say "$deb: $(stat -c %s "$deb") bytes; $rpm: $(stat -c %s "$rpm") bytes"

# "MODE PATH" of every entry ("d" for directories), one a line, sorted.
deb_entries() {
    dpkg -c "$1" | awk '{ p = $6; sub(/^\./, "", p); sub(/\/$/, "", p); if (p != "") print $1, p }' | LC_ALL=C sort -k2
}
rpm_entries() {
    rpm -qlvp "$1" | awk '{ print $1, $9 }' | LC_ALL=C sort -k2
}
# Compares the non-directory entries of a listing with the expected "MODE PATH" lines.
expect_entries() {
    local what=$1 listing=$2
    shift 2
    if ! diff -u <(printf '%s\n' "$@" | LC_ALL=C sort -k2) <(grep -v '^d' "$listing"); then
        fail "$what: unexpected files (- expected, + in the package)"
    fi
}

common=(
    "lrwxrwxrwx /usr/bin/$pkg"
    "-rwxr-xr-x $hook_bin"
    "-rw-r--r-- $hook_json"
    "-rw-r--r-- /usr/share/man/man1/$pkg.1.gz"
)

deb_entries "$deb" >"$work/deb.list"
expect_entries "dpkg -c $deb" "$work/deb.list" "${common[@]}" \
    "-rw-r--r-- /usr/share/doc/$pkg/changelog.gz" \
    "-rw-r--r-- /usr/share/doc/$pkg/copyright" \
    "-rw-r--r-- /usr/share/lintian/overrides/$pkg"
! grep -q ' /etc' "$work/deb.list" || fail "the .deb ships files under /etc"
# One maintainer script, postrm: a purge removes the hook's record file and state.
[[ $(dpkg-deb --ctrl-tarfile "$deb" | tar -t | LC_ALL=C sort | tr '\n' ' ') == "./ ./control ./md5sums ./postrm " ]] ||
    fail "the .deb has other maintainer scripts or conffiles than postrm: $(dpkg-deb --ctrl-tarfile "$deb" | tar -t | tr '\n' ' ')"
dpkg-deb -I "$deb" >/dev/null
[[ $(dpkg-deb -f "$deb" Package) == "$pkg" ]] || fail "the .deb's Package is not $pkg"
[[ $(dpkg-deb -f "$deb" Architecture) == "$(dpkg --print-architecture)" ]] || fail "the .deb's Architecture is wrong"
grep -qw gnupg <<<"$(dpkg-deb -f "$deb" Depends)" || fail "the .deb does not depend on gnupg"
[[ $(dpkg-deb -f "$deb" Recommends) == "podman | cri-o" ]] || fail "the .deb does not recommend podman | cri-o"
[[ $(dpkg-deb --fsys-tarfile "$deb" | tar -xO ".$hook_json" | jq -r .hook.path) == "$hook_bin" ]] ||
    fail "the hook definition in the .deb does not name $hook_bin"

rpm_entries "$rpm" >"$work/rpm.list"
expect_entries "rpm -qlp $rpm" "$work/rpm.list" "${common[@]}"
[[ $(grep '^d' "$work/rpm.list") == "$(printf 'drwxr-xr-x %s\n' /usr/libexec/oci /usr/libexec/oci/hooks.d)" ]] ||
    fail "the .rpm owns unexpected directories: $(grep '^d' "$work/rpm.list" | tr '\n' ' ')"
rpm -qp --requires "$rpm" | grep -qx gnupg2 || fail "the .rpm does not require gnupg2"
[[ -z $(rpm -qp --scripts "$rpm") ]] || fail "the .rpm has scriptlets"
[[ $(rpm -qp --queryformat '%{NAME} %{LICENSE}' "$rpm") == "$pkg Apache-2.0" ]] || fail "the .rpm's name or license is wrong"
say "file lists, modes and dependencies of both packages are as expected"

# make install with another PREFIX: the hook definition names the program where it went.
make -s install DESTDIR="$work/dest" PREFIX=/opt/osh >/dev/null
[[ $(jq -r .hook.path "$work/dest/opt/osh/share/containers/oci/hooks.d/$pkg.json") == /opt/osh/libexec/oci/hooks.d/$pkg ]] ||
    fail "make install PREFIX=/opt/osh: the hook definition does not name /opt/osh/libexec/oci/hooks.d/$pkg"
[[ $(readlink -f "$work/dest/opt/osh/bin/$pkg") == "$work/dest/opt/osh/libexec/oci/hooks.d/$pkg" ]] ||
    fail "make install PREFIX=/opt/osh: bin/$pkg does not lead to the program"
make -s uninstall DESTDIR="$work/dest" PREFIX=/opt/osh >/dev/null
[[ -z $(find "$work/dest" -type f -o -type l) ]] || fail "make uninstall left files: $(find "$work/dest" -type f -o -type l)"

# --- 2. lab and host policy ---------------------------------------------------------------------

# Short: podman refuses a runroot path longer than 50 characters.
lab=$(mktemp -d /tmp/osh-pkg.XXXXXX)
say "building the lab in $lab"
bash tests/lab/lab.sh up "$lab" 2>"$work/lab.log" || { cat "$work/lab.log" >&2; fail "lab.sh up failed"; }
declare -A L
while IFS='=' read -r key value; do
    L[$key]=$value
done <"$lab/env"
for key in REGISTRY ROOT RUNROOT DRIVER CONTAINERS_CONF CONTAINERS_REGISTRIES_CONF CONTAINERS_STORAGE_CONF \
    LAB_HOME LAB_TMPDIR TRUSTED_KEY IMAGE_SIGNED IMAGE_UNSIGNED; do
    [[ -n ${L[$key]:-} ]] || fail "$lab/env has no $key"
done

# The lab's containers.conf points podman at the lab's own hooks dir: drop that, so that podman
# uses its default hooks directories, where the package puts the hook.
grep -v '^[[:space:]]*hooks_dir[[:space:]]*=' "${L[CONTAINERS_CONF]}" >"$work/containers.conf"
! grep -q hooks_dir "$work/containers.conf" || fail "could not drop hooks_dir from ${L[CONTAINERS_CONF]}"

mkdir -p /etc/containers
if [[ -e $policy ]]; then
    had_policy=1
    cp -a "$policy" "$work/policy.orig"
    cp -a "$policy" "$backup"
fi
policy_saved=1
jq -n --arg registry "${L[REGISTRY]}" --arg key "${L[TRUSTED_KEY]}" '{
    default: [{type: "insecureAcceptAnything"}],
    transports: {docker: {($registry): [{type: "signedBy", keyType: "GPGKeys", keyPath: $key}]}}
}' >"$work/policy.json"
install -m 0644 "$work/policy.json" "$policy.tmp.$$"
mv -f "$policy.tmp.$$" "$policy"
say "$policy: images from ${L[REGISTRY]} must be signed by the lab's trusted key"

# --- 3. podman run ------------------------------------------------------------------------------

n=0
# run IMAGE: plain `podman run --rm IMAGE echo MARKER` on the lab's store (no --hooks-dir, no
# policy flag); stdout and stderr in $work/run-N.{out,err}; returns podman's status.
run() {
    n=$((n + 1))
    marker="started $1 ($n)"
    out=$work/run-$n.out
    err=$work/run-$n.err
    env CONTAINERS_CONF="$work/containers.conf" \
        CONTAINERS_REGISTRIES_CONF="${L[CONTAINERS_REGISTRIES_CONF]}" \
        CONTAINERS_STORAGE_CONF="${L[CONTAINERS_STORAGE_CONF]}" \
        HOME="${L[LAB_HOME]}" TMPDIR="${L[LAB_TMPDIR]}" \
        podman --root "${L[ROOT]}" --runroot "${L[RUNROOT]}" --storage-driver "${L[DRIVER]}" \
        run --rm "$1" echo "$marker" >"$out" 2>"$err"
}
expect_started() {
    local rc=0
    run "$1" || rc=$?
    if [[ $rc != 0 ]] || ! grep -qxF "$marker" "$out"; then
        cat "$err" >&2
        fail "$2: podman run $1 exited with $rc, output: $(cat "$out")"
    fi
    say "ok: $2: podman run $1 started"
}
expect_blocked() {
    local rc=0
    run "$1" || rc=$?
    if [[ $rc == 0 ]] || grep -qF "$marker" "$out"; then
        cat "$err" >&2
        fail "$2: podman run $1 was not blocked (status $rc)"
    fi
    grep -qF "oci-signature-hook: blocked container start" "$err" ||
        { cat "$err" >&2; fail "$2: podman failed, but not with the hook's message"; }
    grep -qF "(policy $policy," "$err" ||
        { cat "$err" >&2; fail "$2: the hook did not use the default policy $policy"; }
    say "ok: $2: podman run $1 blocked (status $rc): $(grep -o 'oci-signature-hook: blocked container start.*' "$err" | head -1)"
}

expect_started "${L[IMAGE_UNSIGNED]}" "without the package"

say "installing $deb"
installed=1
if ! dpkg -i "$deb" >"$work/dpkg.log" 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -f -y -qq >>"$work/dpkg.log" 2>&1 ||
        { cat "$work/dpkg.log" >&2; fail "dpkg -i $deb failed"; }
fi
[[ $(pkg_status) == installed ]] || { cat "$work/dpkg.log" >&2; fail "$pkg is not installed after dpkg -i"; }
[[ -x $hook_bin && -f $hook_json ]] || fail "the package did not install $hook_bin and $hook_json"
"/usr/bin/$pkg" --version >/dev/null || fail "/usr/bin/$pkg --version failed"

records=/var/log/$pkg.log
had_records=
[[ -e $records ]] && had_records=1
expect_blocked "${L[IMAGE_UNSIGNED]}" "with the package"
expect_started "${L[IMAGE_SIGNED]}" "with the package"
# With neither a journal nor a syslog socket, the installed hook's records go to its file.
if [[ ! -S /dev/log && ! -S /run/systemd/journal/socket ]]; then
    grep -q 'verdict=deny .*image=[^ ]*unsigned' "$records" ||
        fail "no deny record in $records (no journal or syslog here)"
    grep -q 'verdict=allow .*image=[^ ]*signed' "$records" ||
        fail "no allow record in $records (no journal or syslog here)"
    say "records in $records, as documented when there is no journal or syslog"
fi

say "purging $pkg"
dpkg --purge "$pkg" >>"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg --purge failed"; }
[[ $(pkg_status) == "" || $(pkg_status) == not-installed ]] || fail "$pkg is still known to dpkg after --purge"
for f in "$hook_bin" "$hook_json" "/usr/bin/$pkg" "/usr/share/man/man1/$pkg.1.gz" "/usr/share/doc/$pkg"; do
    [[ ! -e $f && ! -L $f ]] || fail "$f is left after dpkg --purge"
done
if [[ -z $had_records ]]; then
    [[ ! -e $records ]] || fail "$records is left after dpkg --purge"
fi
expect_started "${L[IMAGE_UNSIGNED]}" "after the purge"

say "all package checks passed"
