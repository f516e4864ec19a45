#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages that building, testing and demonstrating oci-signature-hook
# need. Does nothing when they are all present already.
#   build:  libgpgme-dev libassuan-dev libgpg-error-dev (static .a files), pkg-config
#   run:    gnupg (gpgme runs gpg)
#   tests:  podman runc skopeo docker-registry busybox-static curl jq python3 rsyslog
#           time (/usr/bin/time: the peak memory of the hook on hostile signatures)
#           uidmap (newuidmap/newgidmap, for rootless podman as a test user)
#           debootstrap (the Debian 13 root of the podman 5 tests, tests/lab/podman5.sh)
#   pkg:    make dpkg-dev rpm (building the .deb and the .rpm), groff-base (manual page check)
#   fuzz:   g++ (libfuzzer-sys builds libFuzzer, which is C++)
set -euo pipefail

packages=(
    pkg-config libgpgme-dev libassuan-dev libgpg-error-dev gnupg
    podman runc skopeo docker-registry busybox-static curl jq python3 rsyslog time uidmap debootstrap
    make dpkg-dev rpm groff-base g++
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if ((${#missing[@]})); then
    if [[ $(id -u) != 0 ]]; then
        echo "install-deps: missing packages (run as root to install): ${missing[*]}" >&2
        exit 1
    fi
    echo "install-deps: installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null; then
    echo "install-deps: cargo not found: install a Rust toolchain (1.85 or newer), e.g. with rustup" >&2
    exit 1
fi
