#!/usr/bin/env bash
# Runs every check of oci-signature-hook on this machine, as root: installs what is missing,
# then formatting, lints, the API docs, the declared rust-version, the release build (which must
# be a static binary), and the unit and integration tests. The integration tests run real podman,
# a local registry, skopeo and gpg in a throwaway lab (tests/lab/lab.sh) that is removed at the end,
# and podman 5 with crun and runc in a Debian 13 root (tests/lab/podman5.sh), which is kept at
# $OSH_PODMAN5_ROOT (default /var/tmp/osh-podman5) for the next run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ $(id -u) != 0 ]]; then
    echo "tests/run.sh: run as root (the integration tests run rootful podman)" >&2
    exit 1
fi
bash tests/install-deps.sh

step() { printf '\n== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check
cargo fmt --manifest-path fuzz/Cargo.toml -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings

step "cargo doc --no-deps (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps

# clippy, above, has checked our code against rust-version (incompatible_msrv); this checks that
# no dependency needs a newer Rust.
step "rust-version"
bash tests/msrv.sh

step "cargo build --release (static)"
cargo build --release
bin=target/release/oci-signature-hook
linkage=$(ldd "$bin" 2>&1 || true)
if ! grep -qE "statically linked|not a dynamic executable" <<<"$linkage"; then
    echo "$bin is dynamically linked:" >&2
    echo "$linkage" >&2
    exit 1
fi
echo "$bin: $(stat -c %s "$bin") bytes, static"

step "lab"
# Short: podman refuses a runroot path longer than 50 characters.
lab=$(mktemp -d /tmp/osh-lab.XXXXXX)
trap 'bash tests/lab/lab.sh down "$lab" || true' EXIT
bash tests/lab/lab.sh up "$lab"

# podman 5 with crun and runc (tests/podman5.rs), and the sigstore matrix against containers/image
# 5.34 (tests/sigstore.rs), in a Debian 13 root: debootstrap takes a couple of minutes the first
# time, and a complete root is reused; each test makes its images in it the first time. The hook
# the tests copy into it is the static test build (checked there too).
step "podman5 root"
root5=${OSH_PODMAN5_ROOT:-/var/tmp/osh-podman5}
bash tests/lab/podman5.sh root "$root5"
export OSH_PODMAN5_ROOT=$root5

step "cargo test"
OSH_LAB=$lab cargo test

# The in-process OpenPGP verifier is a build option; the same tests run with it compiled in
# (the verifier corpus and the differential test then cover both implementations).
step "cargo clippy, cargo doc and cargo test --features sequoia"
cargo clippy --features sequoia --all-targets -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --features sequoia
OSH_LAB=$lab cargo test --features sequoia

# Every fuzz target, briefly, from its seeds (fuzz/run.sh SECONDS runs them for longer).
step "fuzz smoke"
bash tests/fuzz-smoke.sh

# Last: while the .deb is installed, its hook runs for every podman container that uses the
# default hooks directories.
step "packages: .deb and .rpm, podman run with the installed hook"
bash tests/package.sh
