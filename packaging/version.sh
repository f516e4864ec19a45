# shellcheck shell=bash disable=SC2034
# Sourced by the package build scripts: sets `version`, Cargo.toml's package version with a "-"
# of a pre-release turned into "~" (which sorts before the release in both dpkg and rpm).
cargo_version=$(awk -F'"' '/^\[/ { p = ($0 == "[package]") } p && /^version *=/ { print $2; exit }' Cargo.toml)
if [[ -z $cargo_version ]]; then
    echo "no version in Cargo.toml" >&2
    exit 1
fi
version=${cargo_version//-/\~}
