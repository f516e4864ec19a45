#!/usr/bin/env bash
# The hook at work, on this machine, as root: builds the hook, makes a throwaway signing key, a
# local registry and signed and unsigned images (tests/lab/lab.sh), installs the hook for podman
# with --hooks-dir and a policy that requires the key's signature, then shows podman starting the
# signed image and refusing the unsigned one, and the audit records of both decisions.
# Nothing outside a temporary directory is changed, and it is removed at the end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ $(id -u) != 0 ]]; then
    echo "tests/demo.sh: run as root (podman rootful)" >&2
    exit 1
fi
bash tests/install-deps.sh
echo "building the hook (cargo build --release)..."
cargo build --release --quiet
hook=$PWD/target/release/oci-signature-hook

# Short: podman refuses a runroot path longer than 50 characters.
lab=$(mktemp -d /tmp/osh-demo.XXXXXX)
receiver=
cleanup() {
    [[ -n $receiver ]] && kill "$receiver" 2>/dev/null
    bash tests/lab/lab.sh down "$lab" >/dev/null 2>&1 || true
    rm -f "$lab.log"
}
trap cleanup EXIT
echo "making a key, a registry on 127.0.0.1 and images, signing some (tests/lab/lab.sh)..."
bash tests/lab/lab.sh up "$lab" 2>"$lab.log" || { cat "$lab.log" >&2; exit 1; }
# shellcheck disable=SC1091
source "$lab/env"

# The host policy for this demo: images from the lab registry must be signed by the key.
cat >"$lab/policy.json" <<POLICY
{
  "default": [{"type": "insecureAcceptAnything"}],
  "transports": {
    "docker": {
      "$REGISTRY": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "$TRUSTED_KEY"}]
    }
  }
}
POLICY

# A syslog receiver of the demo's own (this machine may have no /dev/log).
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as out:
    while True:
        out.write(s.recv(65536).decode(errors="replace") + "\n")
        out.flush()
' "$lab/log" "$lab/audit.log" &
receiver=$!
for _ in $(seq 50); do [[ -S $lab/log ]] && break; sleep 0.1; done

mkdir -p "$lab/demo-hooks.d"
cat >"$lab/demo-hooks.d/oci-signature-hook.json" <<HOOK
{
  "version": "1.0.0",
  "hook": {"path": "$hook", "args": ["oci-signature-hook", "--policy", "$lab/policy.json", "--syslog-socket", "$lab/log"]},
  "when": {"always": true},
  "stages": ["prestart"]
}
HOOK

podman_run() {
    printf '\n$ podman run --rm %s echo ...\n' "$1"
    "$LAB_PODMAN" --hooks-dir "$lab/demo-hooks.d" run --rm "$1" echo "hello from $1"
}

echo
echo "policy: images from $REGISTRY must be signed by key $TRUSTED_FPR"
podman_run "$IMAGE_SIGNED"
status=0
podman_run "$IMAGE_UNSIGNED" || status=$?
if [[ $status == 0 ]]; then
    echo "demo: the unsigned image started: the hook did not block it" >&2
    exit 1
fi
echo "(podman exited with $status: the hook blocked the start)"

sleep 0.2
printf '\naudit records (syslog, identifier oci-signature-hook):\n'
cat "$lab/audit.log"
