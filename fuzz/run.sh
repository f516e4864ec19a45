#!/usr/bin/env bash
# Runs every cargo-fuzz target of oci-signature-hook for a fixed time, one after the other, and
# prints what each one did: executions, final coverage (libFuzzer's cov: and ft:), corpus size,
# and whether it found a crash. Exits non-zero if any target crashed, timed out or ran out of
# memory, naming the input that did it.
#
#   fuzz/run.sh [SECONDS_PER_TARGET]        (default 60)
#
# Environment:
#   FUZZ_TARGETS      targets to run, space-separated (default: all, from `cargo fuzz list`)
#   FUZZ_RSS_LIMIT_MB libFuzzer's memory limit per target (default 2048)
#   FUZZ_TIMEOUT      seconds one input may take before it counts as a hang (default 25)
#   FUZZ_SANITIZER    cargo fuzz --sanitizer (default address)
#
# New corpus entries are kept in fuzz/corpus/<target>/ (git ignores all but the seed-* files),
# logs go to fuzz/logs/<target>.log, failing inputs to fuzz/artifacts/<target>/.
# cargo-fuzz needs nightly flags: RUSTC_BOOTSTRAP=1 lets a stable toolchain accept them.
set -euo pipefail

seconds=${1:-60}
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 [SECONDS_PER_TARGET]" >&2
    exit 2
fi
rss_limit=${FUZZ_RSS_LIMIT_MB:-2048}
timeout=${FUZZ_TIMEOUT:-25}
sanitizer=${FUZZ_SANITIZER:-address}

fuzz_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$fuzz_dir"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "run.sh: installing cargo-fuzz" >&2
    start=$SECONDS
    cargo install cargo-fuzz --locked
    echo "run.sh: cargo-fuzz installed in $((SECONDS - start)) s" >&2
fi
# libfuzzer-sys compiles libFuzzer itself, which is C++.
if ! command -v c++ >/dev/null 2>&1; then
    echo "run.sh: no C++ compiler (c++): install g++ (Debian: apt-get install g++)" >&2
    exit 1
fi

if [[ -n ${FUZZ_TARGETS:-} ]]; then
    read -r -a targets <<<"$FUZZ_TARGETS"
else
    mapfile -t targets < <(cargo fuzz list)
fi
if ((${#targets[@]} == 0)); then
    echo "run.sh: no fuzz targets" >&2
    exit 1
fi

start=$SECONDS
cargo fuzz build --sanitizer "$sanitizer"
echo "run.sh: build took $((SECONDS - start)) s" >&2

# The storage target builds its store under $TMPDIR: keep that out of the host's /tmp.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p logs

# The last libFuzzer status line ("#123 DONE cov: 1 ft: 2 corp: 3/4b ..."): field after `name`.
field() {
    sed -n "s/.* $1 \([^ ]*\).*/\1/p" <<<"$2"
}

failed=()
rows=()
for t in "${targets[@]}"; do
    log=logs/$t.log
    corpus=corpus/$t
    mkdir -p "$corpus" "artifacts/$t"
    echo "run.sh: fuzzing $t for $seconds s" >&2
    status=0
    TMPDIR=$work cargo fuzz run --sanitizer "$sanitizer" "$t" "$corpus" -- \
        -max_total_time="$seconds" -rss_limit_mb="$rss_limit" -timeout="$timeout" \
        -print_final_stats=1 >"$log" 2>&1 || status=$?

    last=$(grep -E '^#[0-9]+' "$log" | grep ' cov: ' | tail -n 1 || true)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if [[ -z $execs ]]; then
        execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$last")
    fi
    files=$(find "$corpus" -type f | wc -l)
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    if ((status == 0)); then
        result=ok
    else
        case $(basename "${artifact:-none}") in
        crash-*) result=CRASH ;;
        timeout-*) result=TIMEOUT ;;
        oom-*) result=OOM ;;
        leak-*) result=LEAK ;;
        *) result="FAILED (exit $status)" ;;
        esac
        failed+=("$t: $result${artifact:+, input $artifact}; log $fuzz_dir/$log")
    fi
    rows+=("$(printf '%-16s %12s %8s %8s %8s  %s' "$t" "${execs:-?}" \
        "$(field cov: "$last")" "$(field ft: "$last")" "$files" "$result")")
done

printf '\n%-16s %12s %8s %8s %8s  %s\n' target executions cov ft corpus result
printf '%s\n' "${rows[@]}"
if ((${#failed[@]})); then
    echo
    for f in "${failed[@]}"; do
        echo "run.sh: $f" >&2
    done
    echo "run.sh: reproduce with: (cd $fuzz_dir && RUSTC_BOOTSTRAP=1 cargo fuzz run <target> <input>)" >&2
    exit 1
fi
