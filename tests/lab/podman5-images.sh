#!/usr/bin/env bash
# podman5-images.sh — the signed and unsigned images of the podman 5 tests (tests/podman5.rs).
# Runs INSIDE a podman5.sh root, as `podman5.sh run DIR -- bash /lab/osh/podman5-images.sh`:
# the registry it starts on 127.0.0.1 lives in that run's network namespace, so keys, push, sign
# and pull all happen in this one run.
#
# Makes, in the root's storage (/lab/storage), by a real `podman pull` with a registries.d
# lookaside, so that the signatures are stored exactly as a pull stores them:
#   127.0.0.1:5000/osh/signed:v1     signed by trusted
#   127.0.0.1:5000/osh/unsigned:v1   no signature
#   127.0.0.1:5000/osh/wrongkey:v1   signed by other
# and in /lab/osh/fixture: keys/trusted.gpg, keys/other.gpg (public keys), and `prepared`, a copy
# of this script written last. When `prepared` is this script, everything is in place already
# and nothing is done: run it before every test run, it takes a fraction of a second then.
set -euo pipefail

readonly FIXTURE=/lab/osh/fixture
readonly REGISTRY=127.0.0.1:5000
readonly IMAGES=(signed unsigned wrongkey)

if cmp -s "$0" "$FIXTURE/prepared"; then
    exit 0
fi

log() { printf 'podman5-images: %s\n' "$*" >&2; }
die() {
    printf 'podman5-images: error: %s\n' "$*" >&2
    exit 1
}

log "making keys and images in $FIXTURE"
rm -rf "$FIXTURE"
work=$FIXTURE/work
mkdir -p "$FIXTURE/keys" "$FIXTURE/lookaside" "$FIXTURE/home/.config/containers/registries.d" \
    "$work/rootfs"
# containers/image reads registries.d under HOME; the gpg keys live in GNUPGHOME.
export HOME=$FIXTURE/home GNUPGHOME=$FIXTURE/gnupg
mkdir -m 0700 "$GNUPGHOME"

gpg_() { gpg --batch --quiet "$@"; }
fingerprint() { gpg_ --with-colons --list-keys "$1" | awk -F: '$1 == "fpr" { print $10; exit }'; }
for key in trusted other; do
    gpg_ --passphrase '' --quick-gen-key "podman5 $key <$key@podman5.test>" ed25519 sign never 2>/dev/null
    gpg_ --export "$key@podman5.test" >"$FIXTURE/keys/$key.gpg"
    [[ -s $FIXTURE/keys/$key.gpg ]] || die "export of key $key failed"
done

cat >"$HOME/.config/containers/registries.d/osh.yaml" <<EOF
default-docker:
  lookaside: file://$FIXTURE/lookaside
  lookaside-staging: file://$FIXTURE/lookaside
EOF
printf '%s\n' '{"default":[{"type":"insecureAcceptAnything"}]}' >"$work/accept.json"

cat >"$work/registry.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: $REGISTRY
EOF
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry=$!
up=
for _ in $(seq 100); do
    if curl -fsS -o /dev/null "http://$REGISTRY/v2/" 2>/dev/null; then
        up=1
        break
    fi
    sleep 0.1
done
[[ -n $up ]] || { cat "$work/registry.log" >&2; die "docker-registry did not come up"; }

# Each image: the lab's busybox plus a file naming it (its own layer, config and ID), built in a
# throwaway vfs store so that the pull below is the image's first arrival in /lab/storage.
build=(--root "$work/build-root" --runroot /run/osh-build --storage-driver vfs)
tar -C "$work/rootfs" -xf /lab/busybox.tar
for name in "${IMAGES[@]}"; do
    printf 'oci-signature-hook podman5 test image %s\n' "$name" >"$work/rootfs/etc/osh-image"
    tar -C "$work/rootfs" --numeric-owner --owner=0 --group=0 -cf "$work/$name.tar" .
    podman "${build[@]}" import --quiet --change 'CMD ["/bin/sh"]' "$work/$name.tar" \
        "localhost/osh/$name:v1" >/dev/null
    sign=()
    case $name in
        signed) sign=(--sign-by "$(fingerprint trusted@podman5.test)") ;;
        wrongkey) sign=(--sign-by "$(fingerprint other@podman5.test)") ;;
    esac
    skopeo copy --quiet --policy "$work/accept.json" --dest-tls-verify=false "${sign[@]}" \
        "containers-storage:[vfs@$work/build-root+/run/osh-build]localhost/osh/$name:v1" \
        "docker://$REGISTRY/osh/$name:v1"
    # An earlier preparation's image of the same name (and its containers) goes first.
    podman rmi --force --ignore "$REGISTRY/osh/$name:v1" >/dev/null
    podman pull --quiet --tls-verify=false --signature-policy "$work/accept.json" \
        "$REGISTRY/osh/$name:v1" >/dev/null
done
kill "$registry"
wait "$registry" 2>/dev/null || true

# Every image must have arrived with the signatures the tests expect.
for name in "${IMAGES[@]}"; do
    case $name in
        unsigned) want=0 ;;
        *) want=1 ;;
    esac
    got=$(jq -r --arg n "$REGISTRY/osh/$name:v1" '
        .[] | select((.names // []) | index($n))
        | (.metadata // "{}" | fromjson | .["signature-sizes"] // [] | length)' \
        /lab/storage/overlay-images/images.json)
    [[ $got == "$want" ]] || die "osh/$name: expected $want stored signature(s), found '${got:-no image}'"
done

gpgconf --kill all 2>/dev/null || true
rm -rf "$work"
cp "$0" "$FIXTURE/prepared"
log "ready"
