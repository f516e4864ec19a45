#!/usr/bin/env bash
# CI smoke for the fuzz targets: builds them (installing cargo-fuzz if it is missing) and runs
# each one briefly from its seed corpus. Fails if any target crashes, hangs or runs out of memory.
# A real fuzzing run is `fuzz/run.sh SECONDS_PER_TARGET`.
#
#   FUZZ_SMOKE_SECONDS  seconds per target (default 10)
#   FUZZ_TARGETS        targets to run, space-separated (default: all)
#
# Needs a C++ compiler (g++) for libFuzzer; about 3 minutes on 2 cores, the build included.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The fuzz crate is outside the main workspace: lint it here.
(cd fuzz && cargo clippy --all-targets -- -D warnings)

start=$SECONDS
bash fuzz/run.sh "${FUZZ_SMOKE_SECONDS:-10}"
echo "fuzz-smoke: passed in $((SECONDS - start)) s"
