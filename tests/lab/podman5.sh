#!/usr/bin/env bash
# podman5.sh — a Debian 13 ("trixie") root with podman 5, skopeo, cosign, crun and runc, for
# testing oci-signature-hook against the podman most users run, on a machine whose own podman
# is older.
#
#   tests/lab/podman5.sh root DIR              make the root at DIR (reused if complete)
#   tests/lab/podman5.sh run  DIR [--] CMD...  run CMD inside the root (default: bash)
#   tests/lab/podman5.sh down DIR              stop what runs in the root, unmount, delete DIR
#
# The root is built with debootstrap from the Debian archive this machine's apt sources already
# name (PODMAN5_MIRROR overrides it). DIR/.oci-signature-hook-podman5 records the suite and package
# list; a root built from another list is rebuilt.
#
# Inside the root, /lab holds podman's configuration, selected by the environment `run` sets:
#   /lab/containers.conf   ulimits, no network, cgroupfs, crun by default (`--runtime runc` switches),
#                          /lab/hooks.d as the only hooks dir
#   /lab/storage.conf      graphroot /lab/storage (overlay), runroot /run/lab-storage
#   /lab/registries.conf   no search registries: nothing is pulled from the network by accident
#   /lab/hooks.d           empty hooks dir for tests to fill
#   /lab/busybox.tar       a static-busybox root file system, imported as localhost/lab/busybox:latest
# `podman build` reads neither hooks_dir nor netns from containers.conf: give it
# `--hooks-dir /lab/hooks.d` (else it reads the root's /usr/share and /etc hooks dirs) and
# `--network none`.
#
# Each `run` is like a fresh boot of the root, and leaves nothing behind when CMD exits:
#   - a mount namespace of its own: / of the root is a bind mount of DIR, /sys and /dev are the
#     host's, /proc, /run and /dev/shm are new, and /sys/fs/cgroup shows only what crun and runc
#     can use here (see enter_root). The mounts end with the namespace: nothing is left in the
#     host's mount table. podman's runroot and lock memory (/dev/shm/libpod_lock, which the host's
#     podman uses too) start empty, so containers still running at the end of one `run` would be
#     orphans to the next;
#   - hence a PID namespace of its own: when CMD exits, containers it left running are stopped
#     with podman (which removes their cgroups from the host's hierarchies), and whatever else it
#     left running (a registry, an agent) is killed with the namespace;
#   - a network namespace of its own with only loopback up: podman calls netavark whenever
#     something asks for a bridge network (`podman build` does unless given `--network none`), and
#     netavark would create a podman0 bridge on the host. A registry started in a `run` is
#     reachable from that `run` only. PODMAN5_HOSTNET=1 shares the host's network namespace
#     instead (e.g. to reach a registry on the host's loopback); then pass `--network none` to
#     every podman build.
# Storage (/lab/storage: images, stopped containers) persists from one `run` to the next.
#
# Needs root, debootstrap (installed with apt-get if missing), unshare, chroot, tar.
set -euo pipefail

readonly SUITE=trixie
readonly VARIANT=minbase
# python3-cffi-backend: debootstrap does not resolve virtual packages, and python3-cryptography
# stays unconfigured without a provider of python3-cffi-backend-api-min.
# catatonit is only recommended by podman, but pods need it for their infra container's image;
# iproute2 brings up loopback in the root's network namespace.
readonly PACKAGES=(podman skopeo cosign crun runc catatonit gnupg docker-registry busybox-static
    ca-certificates iptables uidmap python3 python3-cffi-backend python3-cryptography bsdutils
    iproute2 jq curl)
readonly MARKER=.oci-signature-hook-podman5
readonly IMAGE=localhost/lab/busybox:latest
readonly CHROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

log() { printf 'podman5: %s\n' "$*" >&2; }
die() {
    printf 'podman5: error: %s\n' "$*" >&2
    exit 1
}

usage() {
    printf 'usage: %s root DIR | run DIR [--] [CMD...] | down DIR\n' "${0##*/}" >&2
    exit 2
}

# What the marker of a complete root says; any other content means "build again".
marker_content() {
    printf 'suite %s\nvariant %s\npackages %s\n' "$SUITE" "$VARIANT" "${PACKAGES[*]}"
}

root_is_complete() {
    [[ -f $ROOT/$MARKER && $(<"$ROOT/$MARKER") == "$(marker_content)" ]]
}

# ---------------------------------------------------------------------------
# Mirror: the Debian archive this machine's apt already uses
# ---------------------------------------------------------------------------

# Every `deb` URI of the apt sources, deb822 (*.sources) and one-line (sources.list, *.list) alike.
apt_uris() {
    local f sources=() lists=()
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] && sources+=("$f")
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] && lists+=("$f")
    done
    if ((${#sources[@]})); then
        awk '
            function flush(   n, i, u) {
                if (types ~ /(^|[ \t])deb([ \t]|$)/ && enabled != "no") {
                    n = split(uris, u, /[ \t]+/)
                    for (i = 1; i <= n; i++) if (u[i] != "") print u[i]
                }
                types = uris = enabled = ""
            }
            FNR == 1 { flush() }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { flush(); next }
            tolower($1) == "types:" { $1 = ""; types = $0 }
            tolower($1) == "uris:" { $1 = ""; uris = $0 }
            tolower($1) == "enabled:" { enabled = tolower($2) }
            END { flush() }
        ' "${sources[@]}"
    fi
    if ((${#lists[@]})); then
        awk '$1 == "deb" { sub(/\[[^]]*\]/, ""); print $2 }' "${lists[@]}"
    fi
}

# The first archive that is not a security archive (those have another layout and no trixie).
debian_mirror() {
    if [[ -n ${PODMAN5_MIRROR:-} ]]; then
        printf '%s\n' "${PODMAN5_MIRROR%/}"
        return
    fi
    # On Ubuntu and other derivatives the apt sources name an archive without trixie.
    local id
    # shellcheck disable=SC1091 # a system file
    id=$(. /etc/os-release && printf '%s' "${ID:-}")
    [[ $id == debian ]] || die "this machine runs '$id', not Debian: set PODMAN5_MIRROR to a Debian archive"
    local uri
    while IFS= read -r uri; do
        case $uri in
            *-security | *-security/) continue ;;
            http://* | https://* | file:/*) printf '%s\n' "${uri%/}"; return ;;
        esac
    done < <(apt_uris)
    die "no Debian archive found in /etc/apt/sources.list or /etc/apt/sources.list.d (set PODMAN5_MIRROR)"
}

# ---------------------------------------------------------------------------
# root
# ---------------------------------------------------------------------------

need_debootstrap() {
    command -v debootstrap >/dev/null && return
    log "installing debootstrap"
    apt-get install -y -qq debootstrap >/dev/null 2>&1 ||
        { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; } ||
        die "could not install debootstrap"
}

debootstrap_root() {
    local mirror include
    mirror=$(debian_mirror)
    include=$(IFS=,; printf '%s' "${PACKAGES[*]}")
    log "debootstrap $SUITE from $mirror into $ROOT"
    # In a private mount namespace: debootstrap mounts /proc and /sys in the target, and none of
    # that may outlive it, even when it fails half-way.
    if ! unshare -m --propagation private -- \
        debootstrap --variant="$VARIANT" --include="$include" "$SUITE" "$ROOT" "$mirror" \
        >"$ROOT.debootstrap.log" 2>&1; then
        tail -n 20 "$ROOT.debootstrap.log" >&2
        die "debootstrap failed (log: $ROOT.debootstrap.log)"
    fi
    rm -f "$ROOT.debootstrap.log"
}

# Packages of PACKAGES that are not installed and configured in the root, with their state.
packages_not_installed() {
    # shellcheck disable=SC2016 # a dpkg-query format, not a shell expansion
    run_in_root dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${PACKAGES[@]}" 2>&1 |
        awk '$2 != "installed"' || true
}

# Every package named must be installed and configured; apt fixes up what debootstrap left.
check_packages() {
    local bad
    bad=$(packages_not_installed)
    if [[ -n $bad ]]; then
        log "finishing package configuration: $bad"
        run_in_root env DEBIAN_FRONTEND=noninteractive apt-get install -f -y -qq >/dev/null
        bad=$(packages_not_installed)
        [[ -z $bad ]] || die "packages not installed in the root: $bad"
    fi
    run_in_root apt-get clean
}

# podman's configuration under /lab (rewritten on every `root`, so that a changed script applies
# without a rebuild).
write_lab_config() {
    local lab=$ROOT/lab
    mkdir -p "$lab/hooks.d" "$lab/storage"
    cat >"$lab/containers.conf" <<'EOF'
# podman configuration of the podman5 lab root (CONTAINERS_CONF, set by podman5.sh run).
[containers]
# podman cannot read the default limits here: set them.
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
# No networking: no netavark or iptables state, nothing reaches out.
netns = "none"

[engine]
# crun is what most podman 5 installations run; `podman --runtime runc` picks runc.
runtime = "crun"
# No systemd in the root.
cgroup_manager = "cgroupfs"
events_logger = "file"
# Only the lab's hooks, never the root's system hooks dirs.
hooks_dir = ["/lab/hooks.d"]
EOF
    cat >"$lab/storage.conf" <<'EOF'
# containers-storage of the podman5 lab root (CONTAINERS_STORAGE_CONF, set by podman5.sh run).
# The runroot is on the tmpfs each run mounts on /run: every run starts like a fresh boot.
[storage]
driver = "overlay"
graphroot = "/lab/storage"
runroot = "/run/lab-storage"
EOF
    cat >"$lab/registries.conf" <<'EOF'
# registries.conf of the podman5 lab root (CONTAINERS_REGISTRIES_CONF, set by podman5.sh run).
unqualified-search-registries = []
EOF
}

# A static busybox with every applet linked, imported into the lab storage as $IMAGE.
make_image() {
    local lab=$ROOT/lab rootfs=$ROOT/lab/image-rootfs applet
    if [[ ! -s $lab/busybox.tar ]]; then
        rm -rf "$rootfs"
        mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp"
        chmod 1777 "$rootfs/tmp"
        cp "$ROOT/bin/busybox" "$rootfs/bin/busybox"
        for applet in $(run_in_root /bin/busybox --list); do
            [[ $applet == busybox || -e $rootfs/bin/$applet ]] || ln -s busybox "$rootfs/bin/$applet"
        done
        printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$rootfs/etc/passwd"
        printf 'root:x:0:\nnobody:x:65534:\n' >"$rootfs/etc/group"
        tar -C "$rootfs" --numeric-owner --owner=0 --group=0 -cf "$lab/busybox.tar.tmp" .
        mv "$lab/busybox.tar.tmp" "$lab/busybox.tar"
        rm -rf "$rootfs"
    fi
    if ! run_in_root podman image exists "$IMAGE"; then
        log "importing $IMAGE"
        run_in_root podman import --quiet --change 'CMD ["/bin/sh"]' /lab/busybox.tar "$IMAGE" >/dev/null
    fi
}

cmd_root() {
    [[ $(id -u) == 0 ]] || die "must run as root"
    local start=$EPOCHREALTIME
    if root_is_complete; then
        log "reusing the root at $ROOT"
    else
        if [[ -e $ROOT ]]; then
            if [[ -e $ROOT/$MARKER ]]; then
                log "the root at $ROOT is incomplete or was built from another package list: rebuilding"
                cmd_down
            elif [[ -n $(ls -A "$ROOT") ]]; then
                die "$ROOT exists, is not empty and is not a podman5 root; refusing to use it"
            fi
        fi
        need_debootstrap
        mkdir -p "$ROOT"
        # An incomplete marker: a failed build is recognised as ours and rebuilt (or removed by down).
        printf 'incomplete\n' >"$ROOT/$MARKER"
        debootstrap_root
        check_packages
        marker_content >"$ROOT/$MARKER"
    fi
    write_lab_config
    make_image
    log "root ready at $ROOT in $(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')s" \
        "($(du -sh --one-file-system "$ROOT" | cut -f1)):" \
        "$(run_in_root sh -c 'podman --version; crun --version | head -n1; runc --version | head -n1' | paste -sd' ')"
}

# ---------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------

# Run a command in the root, in namespaces of its own (see enter_root; a new IPC namespace keeps
# SysV IPC objects in it too). With --kill-child, the whole PID namespace dies also when unshare
# itself is killed.
run_in_root() {
    local net=(--net)
    if [[ ${PODMAN5_HOSTNET:-} == 1 ]]; then
        net=()
    fi
    unshare --mount --propagation private --pid --fork --kill-child --ipc "${net[@]}" -- \
        bash "$SELF" _enter "$ROOT" "$@"
}

# Mount points of the host's cgroup v1 controller hierarchies under /sys/fs/cgroup. Named
# hierarchies without a controller (name=systemd) are left out: podman creates a pod's cgroup in
# them too but never removes it there.
cgroup_v1_mounts() {
    awk '{
        for (i = 7; $i != "-"; i++) {}
        if ($(i + 1) == "cgroup" && index($5, "/sys/fs/cgroup/") == 1 && $(i + 3) !~ /(^|,)name=/) print $5
    }' /proc/self/mountinfo
}

# The cgroup file system of the root. crun refuses a hybrid (v1 + v2) layout and runc fails
# without any cgroup mount, so on a v1 or hybrid host the root gets a tmpfs holding only the v1
# hierarchies (a plain v1 layout, which both handle); a v2-only host's cgroup2 is bound as is.
mount_cgroups() {
    local cg=$ROOT/sys/fs/cgroup m link
    if [[ $(stat -f -c %T /sys/fs/cgroup) == cgroup2fs ]]; then
        mount --bind /sys/fs/cgroup "$cg"
        return
    fi
    mount -t tmpfs -o mode=0755,nosuid,nodev,noexec cgroup "$cg"
    while IFS= read -r m; do
        mkdir -p "$cg/${m#/sys/fs/cgroup/}"
        mount --bind "$m" "$cg/${m#/sys/fs/cgroup/}"
    done < <(cgroup_v1_mounts)
    # Aliases such as cpu -> cpu,cpuacct.
    for link in /sys/fs/cgroup/*; do
        if [[ -L $link && ! -e $cg/${link##*/} ]]; then
            ln -s "$(readlink "$link")" "$cg/${link##*/}"
        fi
    done
}

# The environment of commands in the root: nothing from the caller but TERM.
root_env() {
    ROOT_ENV=(env -i
        PATH="$CHROOT_PATH" HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}"
        PODMAN_IGNORE_CGROUPSV1_WARNING=1
        CONTAINERS_CONF=/lab/containers.conf
        CONTAINERS_STORAGE_CONF=/lab/storage.conf
        CONTAINERS_REGISTRIES_CONF=/lab/registries.conf)
}

# Containers still running when CMD ends would be killed with the PID namespace, leaving their
# cgroups behind in the host's hierarchies: stop them with podman first.
stop_leftover_containers() {
    local p
    for p in "$ROOT"/proc/[0-9]*; do
        if [[ $(cat "$p/comm" 2>/dev/null) == conmon ]]; then
            chroot "$ROOT" "${ROOT_ENV[@]}" sh -c 'podman pod stop -a -t 0; podman stop -a -t 0' \
                >/dev/null 2>&1 || true
            return
        fi
    done
}

# Runs as PID 1 of the new namespaces: make the mounts, run CMD chrooted, stop what it left
# running, and exit with its status (which ends the namespaces and everything still in them).
enter_root() {
    # podman wants / to be a mount point.
    mount --bind "$ROOT" "$ROOT"
    # /proc of the new PID namespace.
    mount -t proc -o nosuid,nodev,noexec proc "$ROOT/proc"
    mount --bind /sys "$ROOT/sys"
    mount --bind /dev "$ROOT/dev"
    mount --bind /dev/pts "$ROOT/dev/pts"
    # Not the host's: podman keeps its lock table here (libpod_lock), under the same name as the
    # host's podman.
    mount -t tmpfs -o mode=1777,nosuid,nodev shm "$ROOT/dev/shm"
    mount_cgroups
    mount -t tmpfs -o mode=0755,nosuid,nodev run "$ROOT/run"
    mkdir -m 1777 "$ROOT/run/lock"
    if [[ ${PODMAN5_HOSTNET:-} != 1 ]]; then
        chroot "$ROOT" /usr/sbin/ip link set lo up
    fi
    if (($# == 0)); then
        set -- /bin/bash
    fi
    root_env
    # In the foreground (not exec'd): CMD keeps the terminal and stdin, and is not PID 1 (which
    # would ignore SIGINT and SIGTERM); this shell, as PID 1, reaps what gets orphaned.
    local rc=0
    chroot "$ROOT" "${ROOT_ENV[@]}" "$@" || rc=$?
    stop_leftover_containers
    exit "$rc"
}

cmd_run() {
    [[ $(id -u) == 0 ]] || die "must run as root"
    root_is_complete || die "$ROOT is not a complete podman5 root (make it with: $0 root $ROOT)"
    run_in_root "$@"
}

# ---------------------------------------------------------------------------
# down
# ---------------------------------------------------------------------------

# Pids of processes whose root directory is the lab root: only left when a `run` was killed
# before it could end its PID namespace, or while one is still going.
processes_in_root() {
    local p r
    for p in /proc/[0-9]*; do
        r=$(readlink "$p/root" 2>/dev/null) || continue
        if [[ $r == "$ROOT" || $r == "$ROOT"/* ]]; then
            printf '%s\n' "${p#/proc/}"
        fi
    done
}

# Mount points of the host's mount table at or below $ROOT, deepest first.
mounts_under_root() {
    awk -v base="$ROOT" '$5 == base || index($5, base "/") == 1 { print $5 }' /proc/self/mountinfo |
        sort -r
}

cmd_down() {
    [[ -e $ROOT ]] || return 0
    [[ -e $ROOT/$MARKER ]] || die "$ROOT exists but is not a podman5 root (no $MARKER); refusing to touch it"
    log "removing $ROOT"
    # Removing pods through podman also removes their cgroups from the host's hierarchies.
    if root_is_complete; then
        run_in_root sh -c 'podman pod rm -a -f -t 0; podman rm -a -f -t 0' >/dev/null 2>&1 || true
    fi
    local pids
    pids=$(processes_in_root)
    if [[ -n $pids ]]; then
        # shellcheck disable=SC2086 # one pid per word
        kill $pids 2>/dev/null || true
        for _ in $(seq 50); do
            pids=$(processes_in_root)
            [[ -n $pids ]] || break
            sleep 0.1
        done
        # shellcheck disable=SC2086
        [[ -z $pids ]] || kill -9 $pids 2>/dev/null || true
    fi
    local m
    while IFS= read -r m; do
        [[ -n $m ]] || continue
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "could not unmount $m"
    done < <(mounts_under_root)
    rm -rf --one-file-system "$ROOT" "$ROOT.debootstrap.log"
}

# ---------------------------------------------------------------------------

main() {
    (($# >= 2)) || usage
    local cmd=$1 dir=$2
    shift 2
    [[ -n $dir ]] || usage
    dir=$(realpath -m -- "$dir")
    [[ $dir != / ]] || die "refusing to use / as the root"
    # It goes into mount and chroot arguments and /proc/*/root comparisons: keep the path simple.
    [[ $dir =~ ^/[A-Za-z0-9._/+-]+$ ]] || die "root dir must be an absolute path of [A-Za-z0-9._/+-]: $dir"
    ROOT=$dir
    case $cmd in
        root) (($# == 0)) || usage; cmd_root ;;
        run)
            if [[ ${1:-} == -- ]]; then
                shift
            fi
            cmd_run "$@"
            ;;
        down) (($# == 0)) || usage; cmd_down ;;
        _enter) enter_root "$@" ;; # internal: the namespace side of run_in_root
        *) usage ;;
    esac
}

SELF=$(realpath -- "${BASH_SOURCE[0]}")
main "$@"
