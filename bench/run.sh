#!/usr/bin/env bash
# Benchmarks of oci-signature-hook on this machine, as root, on a throwaway lab (tests/lab/lab.sh):
#   (a) what the hook adds to a container start: `podman run --rm` of a signed image with the hook
#       (signedBy policy) against the same run without any hook, and with a hook that does nothing
#       (what running any prestart hook costs);
#   (b) the hook alone, fed the state of a container of that image, against
#       `skopeo standalone-verify` of the same manifest and signature; the hook cold (no verdict
#       cache) and, when the hook has a verdict cache (--cache-dir), warm;
#   (c) the hook alone on stores of 10, 1,000 and 10,000 containers and 1,000 images, built around
#       the lab's real container and image by bench/synth_store.py, their records last in the
#       store's files (a newly created container) or first;
#   (d) the hook's peak memory on the smallest and the largest of those stores (bench/peakrss.py:
#       /usr/bin/time's %M of the hook, and the largest gpg process gpgme started for it);
#   (e) sigstore (bench/sigstore.sh), in podman 5's Debian 13 root: the hook alone, cold, on a
#       container whose image carries a cosign signature, against `cosign verify-blob --offline`
#       of the same payload, signature and key, and the peak RSS of each.
# The commands of each of (a), (b) and (c) are timed together by bench/interleave.py, alternating
# round by round in a random order, so that the machine's drift affects them alike. hyperfine
# times (a) and (b) once more, as a cross-check. One table on stdout; progress on stderr.
#
#   bench/run.sh [RUNS] [--json FILE]
#     RUNS         timed rounds per group (default 30; about a minute in all on 2 cores)
#     --json FILE  also write every sample and the machine's description as JSON
set -euo pipefail

usage() {
    echo "usage:" >&2
    sed -n '/^#   bench\/run.sh/,/^#     --json/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
    exit 2
}

runs=30
json_out=
while (($#)); do
    case $1 in
        -h | --help) usage ;;
        --json)
            (($# >= 2)) || usage
            json_out=$(realpath -m -- "$2")
            shift 2
            ;;
        --json=*)
            json_out=$(realpath -m -- "${1#--json=}")
            shift
            ;;
        *)
            [[ $1 =~ ^[1-9][0-9]*$ ]] || usage
            runs=$1
            shift
            ;;
    esac
done
readonly warmup=3 mem_runs=5 sizes=(10 1000 10000) images=1000 positions=(end start)
declare -rA position_label=([end]="record last" [start]="record first")

cd "$(dirname "${BASH_SOURCE[0]}")/.."
started=$SECONDS
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)

log() { printf 'bench: %s\n' "$*" >&2; }
# 10000 -> 10,000
thousands() { sed ':a; s/\B[0-9]\{3\}\>/,&/; ta' <<<"$1"; }
die() {
    printf 'bench: error: %s\n' "$*" >&2
    exit 1
}

if [[ $(id -u) != 0 ]]; then
    die "run as root (the lab runs rootful podman on a private store)"
fi

# ---------------------------------------------------------------------------
# Tools, build, lab
# ---------------------------------------------------------------------------
apt_install() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 || {
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
    }
}
bash tests/install-deps.sh
command -v hyperfine >/dev/null || apt_install hyperfine
[[ -x /usr/bin/time ]] || apt_install time
log "building (cargo build --release)"
cargo build --release --quiet
hook=$PWD/target/release/oci-signature-hook
# The in-process OpenPGP verifier is a build option: a second binary, beside the default one.
log "building with the sequoia feature (cargo build --release --features sequoia)"
cargo build --release --quiet --features sequoia --target-dir target/sequoia
hook_sequoia=$PWD/target/sequoia/release/oci-signature-hook

lab=$(mktemp -d /tmp/osh-bench.XXXXXX)
# shellcheck disable=SC2317  # called by the traps
cleanup() {
    bash tests/lab/lab.sh down "$lab" >/dev/null 2>&1 || rm -rf --one-file-system "$lab"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
log "bringing up the lab in $lab"
if ! out=$(bash tests/lab/lab.sh up "$lab" 2>&1); then
    printf '%s\n' "$out" >&2
    die "the lab did not come up"
fi
# shellcheck disable=SC1091
source "$lab/env"

b=$lab/bench
mkdir -p "$b/hooks-with" "$b/hooks-without" "$b/hooks-noop" "$b/hooks-reject" "$b/hooks-nocache" \
    "$b/tmp" "$b/cache" "$b/results"
nosyslog=$b/no-syslog # never created: audit records are dropped, the verdict is what counts

# A JSON array of the arguments (jq 1.6 would take "--flag" positional arguments as its own).
json_array() { python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "$@"; }

# cmd NAME BASELINE STDIN ENV_JSON BEFORE_JSON ARGV...: one command of an interleave.py spec.
cmd() {
    local name=$1 base=$2 stdin=$3 env=$4 before=$5
    shift 5
    jq -cn --arg name "$name" --arg base "$base" --arg stdin "$stdin" --argjson env "$env" \
        --argjson before "$before" --argjson argv "$(json_array "$@")" '
        {name: $name, argv: $argv}
        + (if $base != "" then {baseline: $base} else {} end)
        + (if $stdin != "" then {stdin: $stdin} else {} end)
        + (if $env != {} then {env: $env} else {} end)
        + (if $before != null then {before: $before} else {} end)'
}

# group KEY TITLE CMD_JSON...: times the commands interleaved, into $b/results/KEY.json.
group() {
    local key=$1 title=$2
    shift 2
    printf '%s\n' "$@" | jq -s --arg title "$title" --argjson runs "$runs" \
        --argjson warmup "$warmup" '{title: $title, runs: $runs, warmup: $warmup, commands: .}' \
        >"$b/results/$key.spec.json"
    log "timing $title: $runs rounds of $# commands"
    python3 bench/interleave.py --quiet --out "$b/results/$key.json" "$b/results/$key.spec.json"
}

# ---------------------------------------------------------------------------
# The hook: policy, arguments, verdict cache
# ---------------------------------------------------------------------------
jq -n --arg k "$TRUSTED_KEY" '{default: [{type: "signedBy", keyType: "GPGKeys", keyPath: $k}]}' \
    >"$b/policy.json"
jq -n --arg k "$OTHER_KEY" '{default: [{type: "signedBy", keyType: "GPGKeys", keyPath: $k}]}' \
    >"$b/policy-other.json"
printf '%s\n' '{"default":[{"type":"reject"}]}' >"$b/policy-reject.json"
hook_args=(--policy "$b/policy.json" --syslog-socket "$nosyslog" --journal-socket "$nosyslog" --log-file /dev/null)
hook_env=$(jq -cn --arg t "$b/tmp" '{TMPDIR: $t}')

help=$("$hook" --help 2>&1) || die "oci-signature-hook --help failed: $help"
has_cache=false
has_no_cache=false
[[ $help == *--cache-dir* ]] && has_cache=true
[[ $help == *--no-cache* ]] && has_no_cache=true

# cold_flags NAME / cold_before NAME: a run without a cached verdict: --no-cache, or else a
# cache directory emptied before every run. warm_flags NAME: the cache directory of NAME.
cold_flags() {
    if [[ $has_cache == false ]]; then
        return 0
    elif [[ $has_no_cache == true ]]; then
        printf '%s\n' --no-cache
    else
        printf '%s\n' --cache-dir "$b/cache/$1-cold"
    fi
}
cold_before() {
    if [[ $has_cache == true && $has_no_cache == false ]]; then
        json_array rm -rf -- "$b/cache/$1-cold"
    else
        echo null
    fi
}
warm_flags() { printf '%s\n' --cache-dir "$b/cache/$1"; }

# run_hook STATE FLAG...: the hook alone, as the benchmark runs it; its exit status.
run_hook() {
    local state=$1
    shift
    TMPDIR=$b/tmp "$hook" "${hook_args[@]}" "$@" <"$state" >/dev/null 2>"$b/hook.err"
}
expect_allow() {
    local what=$1
    shift
    run_hook "$@" || die "the hook denied $what (exit $?): $(cat "$b/hook.err")"
}
expect_deny() {
    local what=$1
    shift
    if run_hook "$@"; then
        die "the hook allowed $what, which it must deny"
    fi
}

# cache_entries DIR: how many entries the verdict cache DIR holds.
cache_entries() { find "$1" -type f 2>/dev/null | wc -l; }
expect_cached() {
    (($(cache_entries "$1") > 0)) || die "$2 left no entry in the verdict cache $1: warm runs would not be warm"
    cache_state "$1" >"$1.state"
}
# A hit rewrites nothing, a miss that allows writes its entry anew (a new file renamed into
# place): the same inodes after the timed runs mean that every one of them was a hit.
cache_state() { find "$1" -type f -printf '%i %p\n' | sort; }
expect_unchanged() {
    local d
    for d in "$@"; do
        [[ $(cache_state "$d") == "$(cat "$d.state")" ]] ||
            die "the verdict cache $d was written to during the timed runs: some were not warm"
    done
}

# hooks.d entry running the hook with the given extra arguments.
hook_json() {
    local policy=$1
    shift
    jq -n --arg path "$hook" --arg tmp "TMPDIR=$b/tmp" --argjson args "$(json_array \
        oci-signature-hook --policy "$policy" --syslog-socket "$nosyslog" --journal-socket "$nosyslog" \
        --log-file /dev/null "$@")" '
        {version: "1.0.0", hook: {path: $path, args: $args, env: [$tmp]},
         when: {always: true}, stages: ["prestart"]}'
}

mapfile -t podman_cache < <(if [[ $has_cache == true ]]; then warm_flags podman; fi)
hook_json "$b/policy.json" "${podman_cache[@]}" >"$b/hooks-with/oci-signature-hook.json"
hook_json "$b/policy-reject.json" "${podman_cache[@]}" >"$b/hooks-reject/oci-signature-hook.json"
if [[ $has_no_cache == true ]]; then
    hook_json "$b/policy.json" --no-cache >"$b/hooks-nocache/oci-signature-hook.json"
fi
# A hook that does nothing: what running any prestart hook costs podman and runc.
jq -n --arg path "$(command -v true)" '{version: "1.0.0", hook: {path: $path},
    when: {always: true}, stages: ["prestart"]}' >"$b/hooks-noop/true.json"

# ---------------------------------------------------------------------------
# Sanity checks: every timed command does what it is meant to
# ---------------------------------------------------------------------------
podman_run() { "$LAB_PODMAN" --hooks-dir "$1" run --rm "$IMAGE_SIGNED" true; }
log "checking the commands"
podman_run "$b/hooks-without" >/dev/null 2>&1 || die "podman run without the hook fails"
podman_run "$b/hooks-with" >/dev/null 2>"$b/podman.err" ||
    die "podman run with the hook fails: $(cat "$b/podman.err")"
if podman_run "$b/hooks-reject" >/dev/null 2>&1; then
    die "podman run started the container although the hook's policy rejects everything:" \
        "--hooks-dir is not in effect"
fi
if [[ $has_cache == true ]]; then
    expect_cached "$b/cache/podman" "podman run with the hook"
fi
if [[ $has_no_cache == true ]]; then
    podman_run "$b/hooks-nocache" >/dev/null 2>"$b/podman.err" ||
        die "podman run with the hook --no-cache fails: $(cat "$b/podman.err")"
fi

cid=$("$LAB_PODMAN" create "$IMAGE_SIGNED" true)
state=$b/state.json
printf '{"ociVersion":"1.0.2","id":"%s","status":"creating","bundle":"%s/%s-containers/%s/userdata"}' \
    "$cid" "$ROOT" "$DRIVER" "$cid" >"$state"
mapfile -t cold < <(cold_flags lab)
mapfile -t warm < <(warm_flags lab)
expect_allow "the lab's signed container" "$state" "${cold[@]}"
expect_deny "a container under a reject policy" "$state" --policy "$b/policy-reject.json" "${cold[@]}"
expect_deny "an image signed by another key" "$state" --policy "$b/policy-other.json" "${cold[@]}"
# The Sequoia build must give the same verdicts.
hook=$hook_sequoia expect_allow "the lab's signed container (sequoia)" "$state" "${cold[@]}" --openpgp sequoia
hook=$hook_sequoia expect_deny "an image signed by another key (sequoia)" "$state" \
    --policy "$b/policy-other.json" "${cold[@]}" --openpgp sequoia
if [[ $has_cache == true ]]; then
    expect_allow "the lab's signed container (priming the cache)" "$state" "${warm[@]}"
    expect_cached "$b/cache/lab" "the hook"
fi

# skopeo standalone-verify of the same manifest and signature, with the trusted key only.
sk_home=$b/skopeo-gnupg
mkdir -m 0700 "$sk_home"
gpg --homedir "$sk_home" --batch --quiet --import "$TRUSTED_KEY" 2>/dev/null
manifest=$b/manifest.json
"$LAB_SKOPEO" inspect --raw --tls-verify=false "docker://$IMAGE_SIGNED" >"$manifest"
[[ sha256:$(sha256sum <"$manifest" | cut -d' ' -f1) == "$DIGEST_SIGNED" ]] ||
    die "the registry's manifest of $IMAGE_SIGNED does not hash to $DIGEST_SIGNED"
cmp -s "$manifest" "$ROOT/$DRIVER-images/$IMAGE_ID_SIGNED/manifest" ||
    die "the registry's manifest differs from the one in storage"
repo=${IMAGE_SIGNED#"$REGISTRY"/}
repo=${repo%:*}
signature=$LOOKASIDE/$repo@sha256=${DIGEST_SIGNED#sha256:}/signature-1
[[ -s $signature ]] || die "no lookaside signature at $signature"
sk_key=()
skopeo_label="skopeo standalone-verify (GNUPGHOME keyring)"
if skopeo standalone-verify --help 2>&1 | grep -q -- --public-key-file; then
    sk_key=(--public-key-file "$TRUSTED_KEY")
    skopeo_label="skopeo standalone-verify --public-key-file"
fi
skopeo_verify() { skopeo standalone-verify "${sk_key[@]}" "$manifest" "$IMAGE_SIGNED" "$1" "$signature"; }
skopeo_cmd=(skopeo standalone-verify "${sk_key[@]}" "$manifest" "$IMAGE_SIGNED" "$TRUSTED_FPR" "$signature")
skopeo_env=$(jq -cn --arg g "$sk_home" '{GNUPGHOME: $g}')
out=$(GNUPGHOME=$sk_home skopeo_verify "$TRUSTED_FPR" 2>&1) ||
    die "skopeo standalone-verify fails on the signed image: $out"
[[ $out == *"Signature verified"* ]] || die "unexpected skopeo standalone-verify output: $out"
if GNUPGHOME=$sk_home skopeo_verify "$OTHER_FPR" >/dev/null 2>&1; then
    die "skopeo standalone-verify accepts the signature for the wrong fingerprint"
fi

# ---------------------------------------------------------------------------
# Synthetic stores for (c)
# ---------------------------------------------------------------------------
# s<N>-<position>: N containers, the real container's and image's records at that position.
for pos in "${positions[@]}"; do
    for n in "${sizes[@]}"; do
        st=s$n-$pos
        log "building a store of $n containers and $images images, the real records at the $pos"
        bundle=$(python3 bench/synth_store.py --src "$ROOT" --driver "$DRIVER" --container "$cid" \
            --dest "$b/$st" --containers "$n" --images "$images" --position "$pos")
        printf '{"ociVersion":"1.0.2","id":"%s","status":"creating","bundle":"%s"}' "$cid" "$bundle" \
            >"$b/state-$st.json"
        got=$(jq length "$b/$st/$DRIVER-containers/containers.json")/$(jq length "$b/$st/$DRIVER-images/images.json")
        [[ $got == "$n/$images" ]] || die "store $st has $got containers/images, not $n/$images"
        mapfile -t c < <(cold_flags "$st")
        expect_allow "the real container in store $st" "$b/state-$st.json" "${c[@]}"
        expect_deny "the real container in store $st under a reject policy" "$b/state-$st.json" \
            --policy "$b/policy-reject.json" "${c[@]}"
        if [[ $has_cache == true ]]; then
            mapfile -t w < <(warm_flags "$st")
            expect_allow "the real container in store $st (priming the cache)" "$b/state-$st.json" "${w[@]}"
            expect_cached "$b/cache/$st" "the hook on store $st"
        fi
    done
done

# ---------------------------------------------------------------------------
# (a) podman run --rm, with and without the hook
# ---------------------------------------------------------------------------
a_base="podman run --rm, no hook"
a_cmds=(
    "$(cmd "$a_base" "" "" '{}' null "$LAB_PODMAN" --hooks-dir "$b/hooks-without" run --rm "$IMAGE_SIGNED" true)"
    "$(cmd "podman run --rm, a hook that does nothing (true)" "$a_base" "" '{}' null \
        "$LAB_PODMAN" --hooks-dir "$b/hooks-noop" run --rm "$IMAGE_SIGNED" true)"
)
if [[ $has_cache == true ]]; then
    a_cmds+=("$(cmd "podman run --rm, with hook (verdict cached)" "$a_base" "" '{}' null \
        "$LAB_PODMAN" --hooks-dir "$b/hooks-with" run --rm "$IMAGE_SIGNED" true)")
else
    a_cmds+=("$(cmd "podman run --rm, with hook" "$a_base" "" '{}' null \
        "$LAB_PODMAN" --hooks-dir "$b/hooks-with" run --rm "$IMAGE_SIGNED" true)")
fi
if [[ $has_no_cache == true ]]; then
    a_cmds+=("$(cmd "podman run --rm, with hook --no-cache" "$a_base" "" '{}' null \
        "$LAB_PODMAN" --hooks-dir "$b/hooks-nocache" run --rm "$IMAGE_SIGNED" true)")
fi
group a "(a) container start: podman run --rm $IMAGE_SIGNED true" "${a_cmds[@]}"
[[ $has_cache == false ]] || expect_unchanged "$b/cache/podman"

# ---------------------------------------------------------------------------
# (b) the hook alone against skopeo standalone-verify
# ---------------------------------------------------------------------------
b_cmds=(
    "$(cmd "$skopeo_label" "" "" "$skopeo_env" null "${skopeo_cmd[@]}")"
    "$(cmd "hook alone, cold" "$skopeo_label" "$state" "$hook_env" "$(cold_before lab)" \
        "$hook" "${hook_args[@]}" "${cold[@]}")"
)
if [[ $has_cache == true ]]; then
    b_cmds+=("$(cmd "hook alone, warm" "$skopeo_label" "$state" "$hook_env" null \
        "$hook" "${hook_args[@]}" "${warm[@]}")")
fi
b_cmds+=("$(cmd "hook alone, cold, --openpgp sequoia" "$skopeo_label" "$state" "$hook_env" \
    "$(cold_before lab)" "$hook_sequoia" "${hook_args[@]}" "${cold[@]}" --openpgp sequoia)")
group b "(b) one signature check: the lab's signed image, one signature" "${b_cmds[@]}"
[[ $has_cache == false ]] || expect_unchanged "$b/cache/lab"

# ---------------------------------------------------------------------------
# (c) the hook alone on large stores
# ---------------------------------------------------------------------------
c_cmds=()
for mode in cold warm; do
    [[ $mode == cold || $has_cache == true ]] || continue
    for pos in "${positions[@]}"; do
        base=
        for n in "${sizes[@]}"; do
            st=s$n-$pos
            if [[ $mode == cold ]]; then
                mapfile -t f < <(cold_flags "$st")
                before=$(cold_before "$st")
            else
                mapfile -t f < <(warm_flags "$st")
                before=null
            fi
            name="hook $mode, $(thousands "$n") containers, ${position_label[$pos]}"
            c_cmds+=("$(cmd "$name" "$base" "$b/state-$st.json" "$hook_env" "$before" \
                "$hook" "${hook_args[@]}" "${f[@]}")")
            [[ -n $base ]] || base=$name
        done
    done
done
group c "(c) store size: the hook alone, $(thousands "$images") images in storage" "${c_cmds[@]}"
if [[ $has_cache == true ]]; then
    for pos in "${positions[@]}"; do
        for n in "${sizes[@]}"; do
            expect_unchanged "$b/cache/s$n-$pos"
        done
    done
fi

# ---------------------------------------------------------------------------
# (d) peak memory
# ---------------------------------------------------------------------------
log "measuring peak memory: $mem_runs runs each"
mem=()
for st in "s${sizes[0]}-end" "s${sizes[-1]}-end" "s${sizes[-1]}-start"; do
    n=${st#s}
    n=${n%-*}
    pos=${st##*-}
    for mode in cold warm; do
        [[ $mode == cold || $has_cache == true ]] || continue
        : >"$b/mem.jsonl"
        for _ in $(seq "$mem_runs"); do
            if [[ $mode == cold ]]; then
                mapfile -t f < <(cold_flags "$st")
                [[ $has_cache == false || $has_no_cache == true ]] || rm -rf -- "$b/cache/$st-cold"
            else
                mapfile -t f < <(warm_flags "$st")
            fi
            TMPDIR=$b/tmp python3 bench/peakrss.py --stdin "$b/state-$st.json" -- \
                "$hook" "${hook_args[@]}" "${f[@]}" >>"$b/mem.jsonl" ||
                die "peak memory of the hook on store $st could not be measured"
        done
        mem+=("$(jq -cs --arg l "hook $mode, $(thousands "$n") containers, ${position_label[$pos]}" '
            {"label": $l, "kib": map(.kib), "gpg_kib": map(.orphans_max_kib),
             "gpg_processes": map(.orphans)}' "$b/mem.jsonl")")
    done
done
printf '%s\n' "${mem[@]}" | jq -s . >"$b/results/memory.json"

# ---------------------------------------------------------------------------
# hyperfine cross-check of (a) and (b)
# ---------------------------------------------------------------------------
log "hyperfine cross-check of (a) and (b): $runs runs each"
hyperfine --style none --runs "$runs" --warmup "$warmup" --export-json "$b/results/hf-a.json" \
    -n "podman run --rm, no hook" "$LAB_PODMAN --hooks-dir $b/hooks-without run --rm $IMAGE_SIGNED true" \
    -n "podman run --rm, with hook" "$LAB_PODMAN --hooks-dir $b/hooks-with run --rm $IMAGE_SIGNED true"
hyperfine --style none --runs "$runs" --warmup "$warmup" --export-json "$b/results/hf-b.json" \
    -n "$skopeo_label" "GNUPGHOME=$sk_home ${skopeo_cmd[*]}" \
    -n "hook alone, cold" "TMPDIR=$b/tmp $hook ${hook_args[*]} ${cold[*]} <$state"

left=$(find "$b/tmp" -mindepth 1 -maxdepth 1 | head -n 3)
[[ -z $left ]] || die "the hook left files in its TMPDIR: $left"

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
ram=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
sizes_note=
for n in "${sizes[@]}"; do
    sizes_note+="containers.json of $(thousands "$n") containers $(($(stat -c %s "$b/s$n-end/$DRIVER-containers/containers.json") / 1024)) KiB, "
done
sizes_note+="images.json $(($(stat -c %s "$b/s${sizes[0]}-end/$DRIVER-images/images.json") / 1024)) KiB"
unavailable=()
notes=()
if ((${#sk_key[@]})); then
    notes+=("(b) skopeo reads the key from the policy's key file (--public-key-file), as the hook does, which imports it into a temporary GnuPG home on every run.")
else
    notes+=("(b) skopeo finds the key in a GnuPG keyring prepared beforehand; the hook imports it from the policy's keyPath into a temporary GnuPG home on every run.")
fi
notes+=(
    "(b), (c) the hook runs with --syslog-socket and --journal-socket pointing at a path that does not exist and --log-file /dev/null: audit records are dropped, so no syslog daemon, journal or file is involved."
    "(c) each store holds the lab's real container and image records and synthetic copies of them; only the real image has big-data files. \"record last\": the real records are the last ones of containers.json and images.json (where containers/storage appends a new container), \"record first\": the first ones (the far end of a search from the end of the file). File sizes: $sizes_note."
)
if [[ $has_cache == false ]]; then
    why="this oci-signature-hook has no verdict cache (no --cache-dir in --help)"
    unavailable+=("$(jq -cn --arg why "$why" '{"group": "b", "label": "hook alone, warm", "why": $why}')")
    unavailable+=("$(jq -cn --arg why "$why" '{"group": "c", "label": "hook warm, any store size", "why": $why}')")
    unavailable+=("$(jq -cn --arg why "$why" '{"group": "d", "label": "hook warm", "why": $why}')")
    notes+=("hook warm: not available, $why; only the cold hook was measured.")
elif [[ $has_no_cache == false ]]; then
    notes+=("hook cold: the hook has --cache-dir but no --no-cache, so cold runs use a cache directory emptied before every run.")
fi
if [[ $has_cache == false ]]; then
    cache_desc="no verdict cache"
elif [[ $has_no_cache == true ]]; then
    cache_desc="verdict cache (--cache-dir, --no-cache)"
else
    cache_desc="verdict cache (--cache-dir, no --no-cache)"
fi
source_desc=unknown
if rev=$(git rev-parse --short HEAD 2>/dev/null); then
    source_desc="git $rev"
    [[ -z $(git status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null) ]] ||
        source_desc+=", with uncommitted changes under src/ or in Cargo.*"
fi
jq -n --arg date "$(date -u '+%Y-%m-%d %H:%M UTC')" \
    --arg machine "$(nproc) CPUs ($cpu), $ram RAM, Linux $(uname -r), load average $load_at_start at the start" \
    --arg source "$source_desc" \
    --arg tools "$(podman --version | awk '{print $NF}' | sed 's/^/podman /'), $(runc --version | head -n1), $(skopeo --version | awk '{print "skopeo " $3}'), $(gpg --version | head -n1 | awk '{print "gpg " $NF}'), $(hyperfine --version)" \
    --arg hook "$("$hook" --version 2>&1 | head -n1), $(stat -c %s "$hook") bytes, $cache_desc" \
    --argjson runs "$runs" --argjson unavailable "$(printf '%s\n' "${unavailable[@]}" | jq -s .)" \
    --argjson notes "$(json_array "${notes[@]}")" \
    '{date: $date, machine: $machine, tools: $tools, hook: $hook, runs: $runs,
      source: $source, unavailable: $unavailable, notes: $notes}' >"$b/results/meta.json"

report=(--meta "$b/results/meta.json" --group "a=$b/results/a.json" --group "b=$b/results/b.json"
    --group "c=$b/results/c.json" --memory "$b/results/memory.json"
    --hyperfine "a=$b/results/hf-a.json" --hyperfine "b=$b/results/hf-b.json")
[[ -z $json_out ]] || report+=(--json "$json_out")
python3 bench/report.py "${report[@]}"
echo
echo "wall time of bench/run.sh: $((SECONDS - started)) s (build, lab, checks and timing)"

# (e) sigstore, in podman 5's root (where cosign is): its own table, after the others.
log "sigstore: the hook against cosign verify-blob, in the podman 5 root"
bash bench/sigstore.sh "$runs"
