#!/usr/bin/env bash
# Checks that the build graph honours Cargo.toml's rust-version: fails if any package in it (for
# this platform, with every feature, as the lockfile has it) declares a newer rust-version.
#
# Only one toolchain, newer than ours, is at hand, so nothing is built with the declared version.
# This step covers the dependencies; clippy's incompatible_msrv lint, which reads the same
# rust-version, covers our own use of the standard library (Cargo.toml, [lints.clippy]).
# Needs cargo and jq; takes well under a second once the crates are downloaded.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The lint must stay on, and read Cargo.toml's rust-version (not an msrv of clippy.toml's own).
if ! grep -qx 'incompatible_msrv = "deny"' Cargo.toml ||
    grep -q '^msrv' clippy.toml ||
    grep -rnE '(allow|expect)\([^)]*incompatible.msrv' src tests bench fuzz/fuzz_targets; then
    echo "msrv: clippy's incompatible_msrv lint is off, or reads another msrv" >&2
    exit 1
fi

host=$(rustc -vV | sed -n 's/^host: //p')
metadata=$(cargo metadata --format-version 1 --locked --all-features --filter-platform "$host")

ours=$(jq -r '.resolve.root as $root | .packages[] | select(.id == $root) | .rust_version // empty' \
    <<<"$metadata")
if [[ -z $ours ]]; then
    echo "msrv: Cargo.toml declares no rust-version" >&2
    exit 1
fi

# Versions compare as [major, minor, patch] numbers, so "1.85" and "1.85.0" are equal.
newer=$(jq -r --arg ours "$ours" '
    def version: split(".") | map(tonumber) | (. + [0, 0])[:3];
    .packages[]
    | select(.rust_version != null and (.rust_version | version) > ($ours | version))
    | "  \(.name) \(.version) needs Rust \(.rust_version)"
' <<<"$metadata")

if [[ -n $newer ]]; then
    echo "msrv: these packages need a newer Rust than our rust-version, $ours:" >&2
    echo "$newer" >&2
    echo "Lock older versions (cargo update -p NAME: resolver 3 picks ones that fit)," \
        "or raise rust-version in Cargo.toml." >&2
    exit 1
fi
echo "msrv: none of the $(jq '.packages | length' <<<"$metadata") packages in the build graph" \
    "needs a newer Rust than $ours"
