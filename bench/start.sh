#!/usr/bin/env bash
# What the hook costs a container start, measured on this machine, as root: `podman run --rm` of
# a signed image with the hook (signedBy policy) against the same run without it, and the hook
# alone fed that container's state. Medians from hyperfine, in one run, on a throwaway lab.
#   bench/start.sh [RUNS]     (default 30 runs per command)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=${1:-30}

if [[ $(id -u) != 0 ]]; then
    echo "bench/start.sh: run as root" >&2
    exit 1
fi
bash tests/install-deps.sh
command -v hyperfine >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null
cargo build --release --quiet
hook=$PWD/target/release/oci-signature-hook

lab=$(mktemp -d /tmp/osh-bench.XXXXXX)
trap 'bash tests/lab/lab.sh down "$lab" >/dev/null 2>&1 || true' EXIT
bash tests/lab/lab.sh up "$lab" 2>/dev/null
# shellcheck disable=SC1091
source "$lab/env"

cat >"$lab/policy.json" <<POLICY
{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"$TRUSTED_KEY"}]}
POLICY
mkdir -p "$lab/with" "$lab/without"
cat >"$lab/with/hook.json" <<HOOK
{"version":"1.0.0","hook":{"path":"$hook","args":["oci-signature-hook","--policy","$lab/policy.json","--syslog-socket","$lab/nosyslog"]},"when":{"always":true},"stages":["prestart"]}
HOOK

cid=$("$LAB_PODMAN" create "$IMAGE_SIGNED" true)
state=$(printf '{"ociVersion":"1.0.2","id":"%s","status":"creating","bundle":"%s/%s-containers/%s/userdata"}' \
    "$cid" "$ROOT" "$DRIVER" "$cid")
printf '%s' "$state" >"$lab/state.json"

hyperfine --style basic --runs "$runs" --warmup 3 --export-json "$lab/run.json" \
    -n "podman run, no hook" "$LAB_PODMAN --hooks-dir $lab/without run --rm $IMAGE_SIGNED true" \
    -n "podman run, with hook" "$LAB_PODMAN --hooks-dir $lab/with run --rm $IMAGE_SIGNED true" \
    -n "hook alone" "$hook --policy $lab/policy.json --syslog-socket $lab/nosyslog < $lab/state.json 2>/dev/null"

python3 - "$lab/run.json" "$hook" <<'PY'
import json, os, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
med = {k: r["median"] * 1000 for k, r in res.items()}
print()
for k, r in res.items():
    print(f"{k:24} median {med[k]:8.1f} ms   min {r['min']*1000:7.1f}   max {r['max']*1000:7.1f}")
base, withh = med["podman run, no hook"], med["podman run, with hook"]
print(f"with hook / no hook: {withh / base:.3f}  (+{withh - base:.1f} ms)")
print(f"binary: {os.path.getsize(sys.argv[2])} bytes")
PY
