#!/usr/bin/env bash
# lab.sh — build (and tear down) a self-contained lab for oci-signature-hook
# integration tests and demos.
#
#   tests/lab/lab.sh up   LABDIR    build the lab (rebuilds from scratch if LABDIR is already a lab)
#   tests/lab/lab.sh down LABDIR    stop everything the lab started and delete LABDIR
#
# The lab is a private world for podman/skopeo that never touches /etc/containers:
#   LABDIR/gnupg              GNUPGHOME with the signing keys trusted, other, expired, revoked
#   LABDIR/keys/*.gpg|.asc    exported public keys (expired.gpg has expired, revoked.gpg carries its revocation)
#   LABDIR/registry           storage of a docker-registry on 127.0.0.1:PORT (pid in LABDIR/registry.pid)
#   LABDIR/lookaside          simple-signing signatures, <repo>@sha256=<hex>/signature-N
#   LABDIR/home               HOME for podman/skopeo; its registries.d points at the lookaside
#   LABDIR/containers.conf    runc, ulimits, no network, lab hooks dir, lab tmp dir
#   LABDIR/registries.conf    marks the lab registry insecure (plain HTTP)
#   LABDIR/storage.conf       the lab's containers-storage (ROOT, RUNROOT, DRIVER)
#   LABDIR/root, LABDIR/runroot   containers-storage holding every lab image, pulled with its signatures
#   LABDIR/hooks.d            empty hooks dir (containers.conf points podman here, not at the system's)
#   LABDIR/policy-*.json      policy-accept.json (insecureAcceptAnything), policy-trusted.json (signedBy trusted)
#   LABDIR/bin/lab-podman, LABDIR/bin/lab-skopeo   podman/skopeo with the lab's environment and storage
#   LABDIR/env                KEY=VALUE lines describing all of the above (sourceable by bash)
#
# Images (all 127.0.0.1:PORT/lab/NAME:v1, each with distinct content and image ID):
#   signed          signed by trusted
#   unsigned        no signature
#   wrongkey        signed by other
#   expired         signed by expired while the key was valid (key has expired since)
#   revoked         signed by revoked before the key was revoked
#   copied          signature-1 is a byte copy of signed's signature (names another manifest digest)
#   other-identity  signed by trusted, but the signature claims 127.0.0.1:PORT/lab/elsewhere:v9
#   two-sigs        signature-1 by other, signature-2 by trusted
#   garbage-sig     signature-1 is garbage bytes starting with 0xA3 (still pulls)
#
# Needs root, podman, skopeo, runc, gpg, busybox (static), docker-registry, curl, jq.
set -euo pipefail

readonly IMAGES=(signed unsigned wrongkey expired revoked copied other-identity two-sigs garbage-sig)
readonly MARKER=.oci-signature-hook-lab

log() { printf 'lab: %s\n' "$*" >&2; }
die() { printf 'lab: error: %s\n' "$*" >&2; exit 1; }

usage() {
    printf 'usage: %s up|down LABDIR\n' "${0##*/}" >&2
    exit 2
}

# ---------------------------------------------------------------------------
# Paths and wrappers (set by set_paths)
# ---------------------------------------------------------------------------
set_paths() {
    LAB=$1
    ROOT=$LAB/root
    RUNROOT=$LAB/runroot
    DRIVER=overlay
    GNUPGHOME_LAB=$LAB/gnupg
    LAB_HOME=$LAB/home
    LAB_TMP=$LAB/tmp
    LOOKASIDE=$LAB/lookaside
    KEYS=$LAB/keys
    WORK=$LAB/work
}

# Run a command with the lab's containers environment.
lab_env() {
    env CONTAINERS_CONF="$LAB/containers.conf" \
        CONTAINERS_REGISTRIES_CONF="$LAB/registries.conf" \
        CONTAINERS_STORAGE_CONF="$LAB/storage.conf" \
        HOME="$LAB_HOME" \
        GNUPGHOME="$GNUPGHOME_LAB" \
        TMPDIR="$LAB_TMP" \
        "$@"
}

lab_podman() {
    lab_env podman --root "$ROOT" --runroot "$RUNROOT" --storage-driver "$DRIVER" "$@"
}

lab_skopeo() { lab_env skopeo "$@"; }

lab_gpg() { gpg --homedir "$GNUPGHOME_LAB" --batch --quiet "$@"; }

# Fingerprint of the (single) key whose user ID matches $1.
fingerprint() {
    lab_gpg --with-colons --list-keys "$1" | awk -F: '$1 == "fpr" { print $10; exit }'
}

# ---------------------------------------------------------------------------
# down
# ---------------------------------------------------------------------------

# Mount points at or below $1, deepest first (octal escapes of mountinfo decoded).
mounts_under() {
    awk -v base="$1" '
        function unescape(s,   out, i, c) {
            out = ""
            for (i = 1; i <= length(s); i++) {
                c = substr(s, i, 1)
                if (c == "\\" && substr(s, i + 1, 3) ~ /^[0-7][0-7][0-7]$/) {
                    out = out sprintf("%c", (substr(s, i + 1, 1) * 64) + (substr(s, i + 2, 1) * 8) + substr(s, i + 3, 1))
                    i += 3
                } else {
                    out = out c
                }
            }
            return out
        }
        { m = unescape($5); if (m == base || index(m, base "/") == 1) print m }
    ' /proc/self/mountinfo | sort -r
}

# Pids of processes whose command line mentions "--homedir <dir under $LAB>" (gpg-agents
# of the lab's GnuPG homes, including the ephemeral homes containers/image makes in TMPDIR).
lab_gpg_agents() {
    local pid cmd
    for pid in $(pgrep -x gpg-agent || true); do
        cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)
        case $cmd in
            *"--homedir $LAB/"*) printf '%s\n' "$pid" ;;
        esac
    done
}

lab_down() {
    if [[ ! -e $LAB ]]; then
        return 0
    fi
    if [[ ! -e $LAB/$MARKER ]]; then
        die "$LAB exists but is not a lab (no $MARKER); refusing to touch it"
    fi
    log "tearing down $LAB"

    local pid
    if [[ -s $LAB/registry.pid ]]; then
        pid=$(<"$LAB/registry.pid")
        if [[ $pid =~ ^[0-9]+$ ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "docker-registry serve $LAB/"; then
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -9 "$pid" 2>/dev/null || true
        fi
    fi

    if [[ -d $ROOT && -f $LAB/containers.conf ]]; then
        lab_podman rm -af -t 0 >/dev/null 2>&1 || true
        lab_podman unmount -a >/dev/null 2>&1 || true
    fi

    if [[ -d $GNUPGHOME_LAB ]]; then
        gpgconf --homedir "$GNUPGHOME_LAB" --kill all 2>/dev/null || true
    fi
    for pid in $(lab_gpg_agents); do
        kill "$pid" 2>/dev/null || true
    done

    # The overlay driver keeps a private bind mount of $ROOT/overlay (and containers may
    # leave shm/overlay mounts); unmount everything below the lab before deleting it.
    local m
    while IFS= read -r m; do
        [[ -n $m ]] || continue
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "could not unmount $m"
    done < <(mounts_under "$LAB")

    rm -rf --one-file-system "$LAB"
}

# ---------------------------------------------------------------------------
# up
# ---------------------------------------------------------------------------

check_tools() {
    local t
    for t in podman skopeo runc gpg gpgconf busybox docker-registry curl jq tar sha256sum setsid pgrep; do
        command -v "$t" >/dev/null || die "missing tool: $t"
    done
    [[ $(id -u) == 0 ]] || die "must run as root (rootful podman with a private --root)"
}

make_keys() {
    log "generating keys"
    mkdir -p "$GNUPGHOME_LAB"
    chmod 0700 "$GNUPGHOME_LAB"
    mkdir -p "$KEYS"
    local name
    for name in trusted other revoked; do
        lab_gpg --passphrase '' --quick-gen-key "Lab ${name^} <$name@lab.test>" ed25519 sign never 2>/dev/null
    done
    # "expired": created two days ago, valid for one day. Its signature is made while valid.
    EXPIRED_CREATED=$(($(date +%s) - 2 * 86400))
    lab_gpg --passphrase '' --faked-system-time "$EXPIRED_CREATED!" \
        --quick-gen-key 'Lab Expired <expired@lab.test>' ed25519 sign 1d 2>/dev/null

    TRUSTED_FPR=$(fingerprint trusted@lab.test)
    OTHER_FPR=$(fingerprint other@lab.test)
    EXPIRED_FPR=$(fingerprint expired@lab.test)
    REVOKED_FPR=$(fingerprint revoked@lab.test)
    [[ -n $TRUSTED_FPR && -n $OTHER_FPR && -n $EXPIRED_FPR && -n $REVOKED_FPR ]] || die "key generation failed"
}

export_keys() {
    lab_gpg --export "$TRUSTED_FPR" >"$KEYS/trusted.gpg"
    lab_gpg --armor --export "$TRUSTED_FPR" >"$KEYS/trusted.asc"
    lab_gpg --export "$OTHER_FPR" >"$KEYS/other.gpg"
    lab_gpg --export "$EXPIRED_FPR" >"$KEYS/expired.gpg"
    lab_gpg --export "$REVOKED_FPR" >"$KEYS/revoked.gpg"
    local k
    for k in trusted.gpg trusted.asc other.gpg expired.gpg revoked.gpg; do
        [[ -s $KEYS/$k ]] || die "export of $k failed"
    done
}

# Revoke the "revoked" key with the revocation certificate gpg stored at generation time.
revoke_key() {
    log "revoking the revoked key"
    local cert=$GNUPGHOME_LAB/openpgp-revocs.d/$REVOKED_FPR.rev
    [[ -f $cert ]] || die "no revocation certificate at $cert"
    # gpg stores it with a leading ':' on the armor header so that it is not imported by accident.
    sed 's/^:-----BEGIN PGP PUBLIC KEY BLOCK-----/-----BEGIN PGP PUBLIC KEY BLOCK-----/' "$cert" |
        lab_gpg --import 2>/dev/null
    lab_gpg --with-colons --list-keys "$REVOKED_FPR" | grep -q '^pub:r:' || die "revocation did not take effect"
}

start_registry() {
    log "starting docker-registry"
    mkdir -p "$LAB/registry"
    local port pid
    for port in $(seq 5000 5099); do
        # Skip ports something already listens on.
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            continue
        fi
        cat >"$LAB/registry.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $LAB/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
EOF
        rm -f "$LAB/registry.pid"
        # Own session, so the registry outlives the calling shell and its process group;
        # the inner sh writes its own pid, which exec hands on to the registry.
        # shellcheck disable=SC2016
        setsid -f sh -c 'echo $$ >"$1"; exec docker-registry serve "$2"' sh \
            "$LAB/registry.pid" "$LAB/registry.yml" </dev/null >>"$LAB/registry.log" 2>&1
        for _ in $(seq 100); do
            [[ -s $LAB/registry.pid ]] && break
            sleep 0.05
        done
        pid=$(<"$LAB/registry.pid")
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            if curl -fsS -o /dev/null -D - "http://127.0.0.1:$port/v2/" 2>/dev/null |
                grep -qi '^docker-distribution-api-version: registry/2.0'; then
                REGISTRY=127.0.0.1:$port
                return 0
            fi
            sleep 0.1
        done
        kill "$pid" 2>/dev/null || true
        log "registry did not come up on port $port, trying the next one"
    done
    die "could not start docker-registry (see $LAB/registry.log)"
}

write_config() {
    mkdir -p "$LAB_HOME/.config/containers/registries.d" "$LAB_TMP" "$LAB/hooks.d" "$LOOKASIDE" "$LAB/bin"

    cat >"$LAB/containers.conf" <<EOF
# podman configuration of the oci-signature-hook lab (CONTAINERS_CONF).
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
# No networking: no netavark/iptables state outside the lab.
netns = "none"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$LAB_TMP/events.log"
tmp_dir = "$LAB_TMP/libpod"
# Only the lab's hooks, never the system's hooks.d.
hooks_dir = ["$LAB/hooks.d"]

[network]
network_config_dir = "$LAB/networks"
EOF

    cat >"$LAB/registries.conf" <<EOF
# registries.conf of the oci-signature-hook lab (CONTAINERS_REGISTRIES_CONF).
unqualified-search-registries = []

[[registry]]
location = "$REGISTRY"
insecure = true
EOF

    cat >"$LAB/storage.conf" <<EOF
# storage.conf of the oci-signature-hook lab (CONTAINERS_STORAGE_CONF).
[storage]
driver = "$DRIVER"
graphroot = "$ROOT"
runroot = "$RUNROOT"
EOF

    # podman has no flag for registries.d: containers/image finds it under HOME.
    cat >"$LAB_HOME/.config/containers/registries.d/lab.yaml" <<EOF
default-docker:
  lookaside: file://$LOOKASIDE
  lookaside-staging: file://$LOOKASIDE
EOF

    printf '%s\n' '{"default":[{"type":"insecureAcceptAnything"}]}' >"$LAB/policy-accept.json"
    jq -n --arg k "$KEYS/trusted.gpg" \
        '{default: [{type: "signedBy", keyType: "GPGKeys", keyPath: $k}]}' >"$LAB/policy-trusted.json"

    local tool
    for tool in podman skopeo; do
        {
            printf '#!/bin/sh\n# %s with the environment and storage of the lab at %s.\n' "$tool" "$LAB"
            printf 'export CONTAINERS_CONF=%s/containers.conf\n' "$LAB"
            printf 'export CONTAINERS_REGISTRIES_CONF=%s/registries.conf\n' "$LAB"
            printf 'export CONTAINERS_STORAGE_CONF=%s/storage.conf\n' "$LAB"
            printf 'export HOME=%s GNUPGHOME=%s TMPDIR=%s\n' "$LAB_HOME" "$GNUPGHOME_LAB" "$LAB_TMP"
            if [[ $tool == podman ]]; then
                printf 'exec podman --root %s --runroot %s --storage-driver %s "$@"\n' "$ROOT" "$RUNROOT" "$DRIVER"
            else
                printf 'exec skopeo "$@"\n'
            fi
        } >"$LAB/bin/lab-$tool"
        chmod 0755 "$LAB/bin/lab-$tool"
    done
}

# Build one tiny image per name in a throwaway vfs store: static busybox plus a file
# with the image's name, so every image has its own layer, config and ID.
build_images() {
    log "building images"
    local rootfs=$WORK/rootfs name
    mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp"
    cp "$(command -v busybox)" "$rootfs/bin/busybox"
    for name in sh true cat ls echo sleep; do
        ln -s busybox "$rootfs/bin/$name"
    done
    for name in "${IMAGES[@]}"; do
        printf 'oci-signature-hook lab image %s %s\n' "$name" "$LAB" >"$rootfs/etc/lab-image"
        tar -C "$rootfs" --numeric-owner --owner=0 --group=0 -cf "$WORK/$name.tar" .
        lab_env podman --root "$WORK/build-root" --runroot "$WORK/build-runroot" --storage-driver vfs \
            import --quiet --change 'CMD ["/bin/sh"]' "$WORK/$name.tar" "localhost/lab/$name:v1" >/dev/null
    done
}

# push NAME [skopeo copy options...]: copy the built image to the registry.
push() {
    local name=$1
    shift
    lab_skopeo copy --quiet --policy "$LAB/policy-accept.json" --dest-tls-verify=false \
        --digestfile "$WORK/$name.digest" "$@" \
        "containers-storage:[vfs@$WORK/build-root+$WORK/build-runroot]localhost/lab/$name:v1" \
        "docker://$REGISTRY/lab/$name:v1"
}

digest_of() { cat "$WORK/$1.digest"; }

# Lookaside directory of image NAME.
sigdir() {
    local d
    d=$(digest_of "$1")
    printf '%s/lab/%s@sha256=%s\n' "$LOOKASIDE" "$1" "${d#sha256:}"
}

# Fetch the manifest exactly as stored in the registry and check it against the pushed digest.
fetch_manifest() {
    local name=$1 out=$2
    lab_skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/lab/$name:v1" >"$out"
    [[ sha256:$(sha256sum <"$out" | cut -d' ' -f1) == "$(digest_of "$name")" ]] ||
        die "manifest of lab/$name does not hash to its pushed digest"
}

push_images() {
    log "pushing and signing images"
    push signed --sign-by "$TRUSTED_FPR"
    push unsigned
    push wrongkey --sign-by "$OTHER_FPR"
    push revoked --sign-by "$REVOKED_FPR"
    push expired
    push copied
    push other-identity
    push two-sigs --sign-by "$OTHER_FPR"
    push garbage-sig

    local dir
    # expired: gpg signs the simple-signing payload at a faked time while the key was valid.
    local sign_time=$((EXPIRED_CREATED + 3600))
    dir=$(sigdir expired)
    mkdir -p "$dir"
    printf '{"critical":{"identity":{"docker-reference":"%s"},"image":{"docker-manifest-digest":"%s"},"type":"atomic container signature"},"optional":{"creator":"lab","timestamp":%s}}' \
        "$REGISTRY/lab/expired:v1" "$(digest_of expired)" "$sign_time" >"$WORK/expired.payload"
    lab_gpg --faked-system-time "$sign_time!" --local-user "$EXPIRED_FPR" \
        --sign --output "$dir/signature-1" "$WORK/expired.payload" 2>/dev/null

    # copied: a byte copy of signed's signature (names signed's manifest digest).
    dir=$(sigdir copied)
    mkdir -p "$dir"
    cp "$(sigdir signed)/signature-1" "$dir/signature-1"

    # other-identity: trusted signs this manifest, but for another reference.
    dir=$(sigdir other-identity)
    mkdir -p "$dir"
    fetch_manifest other-identity "$WORK/other-identity.manifest"
    lab_skopeo standalone-sign "$WORK/other-identity.manifest" "$REGISTRY/lab/elsewhere:v9" \
        "$TRUSTED_FPR" -o "$dir/signature-1"

    # two-sigs: signature-1 (by other) came with the push; add signature-2 by trusted.
    dir=$(sigdir two-sigs)
    fetch_manifest two-sigs "$WORK/two-sigs.manifest"
    lab_skopeo standalone-sign "$WORK/two-sigs.manifest" "$REGISTRY/lab/two-sigs:v1" \
        "$TRUSTED_FPR" -o "$dir/signature-2"

    # garbage-sig: not OpenPGP, but its first byte (0xA3) passes containers/image's format sniffing.
    dir=$(sigdir garbage-sig)
    mkdir -p "$dir"
    printf '\243oci-signature-hook lab: this is not an OpenPGP message\n' >"$dir/signature-1"

    local name n
    for name in signed wrongkey revoked expired copied other-identity garbage-sig; do
        [[ -s $(sigdir "$name")/signature-1 ]] || die "no lookaside signature for lab/$name"
    done
    [[ -s $(sigdir two-sigs)/signature-2 ]] || die "no second signature for lab/two-sigs"
    n=$(find "$LOOKASIDE" -type f | wc -l)
    [[ $n == 9 ]] || die "expected 9 lookaside signatures, found $n"
}

pull_images() {
    log "pulling images into $ROOT ($DRIVER)"
    local name
    for name in "${IMAGES[@]}"; do
        lab_podman pull --quiet --signature-policy "$LAB/policy-accept.json" \
            "$REGISTRY/lab/$name:v1" >/dev/null
    done
}

# Check that every image landed with the expected number of stored signatures.
verify_storage() {
    local images_json=$ROOT/$DRIVER-images/images.json name want got
    for name in "${IMAGES[@]}"; do
        case $name in
            unsigned) want=0 ;;
            two-sigs) want=2 ;;
            *) want=1 ;;
        esac
        got=$(jq -r --arg n "$REGISTRY/lab/$name:v1" '
            .[] | select((.names // []) | index($n))
            | (.metadata // "{}" | fromjson | .["signature-sizes"] // [] | length)' "$images_json")
        [[ $got == "$want" ]] || die "lab/$name: expected $want stored signature(s), found '${got:-no image}'"
    done
}

write_env() {
    local env=$LAB/env name key
    {
        printf '%s=%s\n' \
            LAB "$LAB" \
            REGISTRY "$REGISTRY" \
            ROOT "$ROOT" \
            RUNROOT "$RUNROOT" \
            DRIVER "$DRIVER" \
            CONTAINERS_CONF "$LAB/containers.conf" \
            CONTAINERS_REGISTRIES_CONF "$LAB/registries.conf" \
            CONTAINERS_STORAGE_CONF "$LAB/storage.conf" \
            LAB_HOME "$LAB_HOME" \
            LAB_TMPDIR "$LAB_TMP" \
            GNUPGHOME "$GNUPGHOME_LAB" \
            LOOKASIDE "$LOOKASIDE" \
            HOOKS_DIR "$LAB/hooks.d" \
            POLICY_ACCEPT "$LAB/policy-accept.json" \
            POLICY_TRUSTED "$LAB/policy-trusted.json" \
            LAB_PODMAN "$LAB/bin/lab-podman" \
            LAB_SKOPEO "$LAB/bin/lab-skopeo" \
            TRUSTED_FPR "$TRUSTED_FPR" \
            OTHER_FPR "$OTHER_FPR" \
            EXPIRED_FPR "$EXPIRED_FPR" \
            REVOKED_FPR "$REVOKED_FPR" \
            TRUSTED_KEY "$KEYS/trusted.gpg" \
            TRUSTED_KEY_ASC "$KEYS/trusted.asc" \
            OTHER_KEY "$KEYS/other.gpg" \
            EXPIRED_KEY "$KEYS/expired.gpg" \
            REVOKED_KEY "$KEYS/revoked.gpg"
        for name in "${IMAGES[@]}"; do
            key=${name^^}
            key=${key//-/_}
            printf 'IMAGE_%s=%s\n' "$key" "$REGISTRY/lab/$name:v1"
            printf 'DIGEST_%s=%s\n' "$key" "$(digest_of "$name")"
            printf 'IMAGE_ID_%s=%s\n' "$key" \
                "$(lab_podman image inspect --format '{{.Id}}' "$REGISTRY/lab/$name:v1")"
        done
    } >"$env.tmp"
    mv "$env.tmp" "$env"
}

# On a failed up, say how to clean up (the registry may already be running).
up_failed_hint() {
    local rc=$?
    if [[ $rc != 0 ]]; then
        log "up failed; clean up with: $0 down $LAB"
    fi
}

lab_up() {
    check_tools
    if [[ -e $LAB ]]; then
        if [[ -e $LAB/$MARKER ]]; then
            lab_down
        elif [[ -n $(ls -A "$LAB") ]]; then
            die "$LAB exists, is not empty and is not a lab; refusing to use it"
        fi
    fi
    mkdir -p "$LAB"
    : >"$LAB/$MARKER"
    trap up_failed_hint EXIT
    mkdir -p "$WORK"

    make_keys
    start_registry
    write_config
    build_images
    push_images
    revoke_key
    export_keys
    pull_images
    verify_storage
    write_env

    # Leave no agents behind: the lab's own, and those of containers/image's ephemeral homes.
    gpgconf --homedir "$GNUPGHOME_LAB" --kill all 2>/dev/null || true
    local pid
    for pid in $(lab_gpg_agents); do
        kill "$pid" 2>/dev/null || true
    done
    # The build store is vfs (no mounts) and no longer needed.
    rm -rf "$WORK"
    log "lab is up at $LAB (registry $REGISTRY); see $LAB/env"
}

main() {
    [[ $# == 2 ]] || usage
    local cmd=$1 dir=$2
    [[ -n $dir ]] || usage
    dir=$(realpath -m -- "$dir")
    # Values go into KEY=VALUE lines and file:// URLs unquoted: keep the path simple.
    [[ $dir =~ ^/[A-Za-z0-9._/+-]+$ ]] || die "lab dir must be an absolute path of [A-Za-z0-9._/+-]: $dir"
    [[ $dir != / ]] || die "refusing to use / as the lab dir"
    set_paths "$dir"
    case $cmd in
        up) lab_up ;;
        down) lab_down ;;
        *) usage ;;
    esac
}

main "$@"
