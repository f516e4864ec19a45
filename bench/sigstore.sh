#!/usr/bin/env bash
# The sigstore row of bench/run.sh: the hook alone, cold (no verdict cache), judging a container
# whose image carries a cosign signature, against `cosign verify-blob --offline` of the same
# payload and signature with the same key (cosign's closest offline check of a signature), in
# podman 5's Debian 13 root (tests/lab/podman5.sh; the image corpus of
# tests/lab/podman5-sigstore.sh), timed together by bench/interleave.py; and the peak RSS of each.
#
#   bench/sigstore.sh [RUNS]     RUNS timed rounds (default 30); a table on stdout
#
# Needs root. The root is $OSH_PODMAN5_ROOT (default /var/tmp/osh-podman5), made if missing; the
# hook is target/release/oci-signature-hook (built if missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=${1:-30}
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "usage: bench/sigstore.sh [RUNS]" >&2; exit 2; }
root=${OSH_PODMAN5_ROOT:-/var/tmp/osh-podman5}
log() { printf 'bench sigstore: %s\n' "$*" >&2; }

[[ -x target/release/oci-signature-hook ]] || cargo build --release >&2
bash tests/lab/podman5.sh root "$root" >&2
mkdir -p "$root/lab/osh/bin" "$root/lab/osh/bench"
cp target/release/oci-signature-hook "$root/lab/osh/bin/.bench-hook"
mv "$root/lab/osh/bin/.bench-hook" "$root/lab/osh/bench/oci-signature-hook"
cp bench/interleave.py tests/lab/podman5-sigstore.sh "$root/lab/osh/bench/"
cp tests/lab/podman5-sigstore.sh "$root/lab/osh/podman5-sigstore.sh"

log "timing in $root ($runs rounds)"
bash tests/lab/podman5.sh run "$root" -- bash -s "$runs" <<'IN_ROOT'
set -euo pipefail
runs=$1
B=/lab/osh/bench
bash /lab/osh/podman5-sigstore.sh >&2
K=$(ls /lab/osh/sigstore/keys/cosign.pub)
IMAGE=127.0.0.1:5000/osh-sig/cosign:v1
podman rm --force --ignore osh-bench-sigstore >/dev/null
id=$(podman create --name osh-bench-sigstore "$IMAGE" true)
bundle=/lab/storage/overlay-containers/$id/userdata
printf '{"ociVersion":"1.0.2","id":"%s","status":"created","pid":1,"bundle":"%s"}\n' "$id" "$bundle" >$B/state.json
jq -n --arg k "$K" '{default:[{type:"sigstoreSigned",keyPath:$k,signedIdentity:{type:"matchRepository"}}]}' >$B/policy.json
# The payload and signature as stored with the image, for cosign.
python3 - "$bundle" $B <<'PY'
import base64, glob, json, sys
out = sys.argv[2]
img = json.load(open("/lab/storage/overlay-containers/containers.json"))
cid = [c for c in img if c["id"] in sys.argv[1]][0]["image"]
for path in glob.glob(f"/lab/storage/overlay-images/{cid}/signature*"):
    blob = open(path, "rb").read()
    for chunk in blob.split(b"\x00sigstore-json\n")[1:]:
        j = json.JSONDecoder().raw_decode(chunk.decode())[0]
        if j.get("mimeType") == "application/vnd.dev.cosign.simplesigning.v1+json":
            open(f"{out}/payload", "wb").write(base64.b64decode(j["payload"]))
            open(f"{out}/signature", "w").write(j["annotations"]["dev.cosignproject.cosign/signature"])
            sys.exit(0)
sys.exit("no sigstore signature stored with the image")
PY
hook=($B/oci-signature-hook --policy $B/policy.json --no-cache --syslog-socket $B/no-syslog
    --journal-socket $B/no-journal --log-file /dev/null)
cosign=(cosign verify-blob --key "$K" --signature $B/signature --insecure-ignore-tlog=true
    --offline=true $B/payload)
"${hook[@]}" <$B/state.json >/dev/null 2>$B/hook.err || { cat $B/hook.err >&2; exit 1; }
"${cosign[@]}" >/dev/null 2>$B/cosign.err || { cat $B/cosign.err >&2; exit 1; }
jq -n --argjson runs "$runs" --arg state $B/state.json \
    --argjson hook "$(printf '%s\n' "${hook[@]}" | jq -R . | jq -s .)" \
    --argjson cosign "$(printf '%s\n' "${cosign[@]}" | jq -R . | jq -s .)" '
    {title: "sigstore", runs: $runs, warmup: 3, commands: [
      {name: "cosign", argv: $cosign},
      {name: "hook", argv: $hook, stdin: $state, baseline: "cosign"}]}' >$B/spec.json
python3 $B/interleave.py --quiet --out $B/result.json $B/spec.json >&2
# Peak RSS (KiB) of each, by wait4's rusage, median of 5.
python3 - "$B" <<'PY'
import json, os, statistics, subprocess, sys
B = sys.argv[1]
spec = json.load(open(f"{B}/spec.json"))
res = json.load(open(f"{B}/result.json"))
def rss(c):
    out = []
    for _ in range(5):
        stdin = open(c.get("stdin", "/dev/null"))
        p = subprocess.Popen(c["argv"], stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        out.append(ru.ru_maxrss)
    return statistics.median(out)
def median_ms(name):
    return next(c["median_ms"] for c in res["commands"] if c["name"] == name)
rows = {c["name"]: (median_ms(c["name"]), rss(c)) for c in spec["commands"]}
base = rows["cosign"][0]
print("| sigstore, one cosign signature (ECDSA P-256) | median | ratio | peak RSS |")
print("| --- | --- | --- | --- |")
print(f"| cosign verify-blob --offline (same payload, signature, key) | {rows['cosign'][0]:.2f} ms | 1.00 | {rows['cosign'][1]/1024:.1f} MiB |")
print(f"| oci-signature-hook, cold (no verdict cache) | {rows['hook'][0]:.2f} ms | {rows['hook'][0]/base:.3f} | {rows['hook'][1]/1024:.1f} MiB |")
PY
podman rm --force --ignore osh-bench-sigstore >/dev/null
IN_ROOT
