# tools/lib.sh: shared by tools/quickstart, tools/run-tests and .ci/run.
# Source it after setting nothing; it defines VSB_SRCDIR and functions.
# shellcheck shell=bash

VSB_SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VSB_CONFIGURE_ARGS=(--prefix=/usr/local --sysconfdir=/etc --localstatedir=/var)

vsb_say() { printf '==> %s\n' "$*"; }
vsb_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

vsb_need_root() {
    [ "$(id -u)" = 0 ] || vsb_die "$(basename "$0") must run as root (it creates containers)"
}

# Package names from tools/packages.txt (or the files given).
vsb_package_list() {
    local f
    for f in "${@:-$VSB_SRCDIR/tools/packages.txt}"; do
        sed -e 's/#.*//' -e 's/[[:space:]]//g' "$f" | grep -v '^$'
    done
}

# Print the packages of the list that are not installed.
vsb_packages_missing() {
    local installed p
    installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "$@" 2>/dev/null |
                awk '$2 == "ii" { print $1 }')
    for p in "$@"; do
        grep -qxF "$p" <<<"$installed" || echo "$p"
    done
}

# Install what is missing of the given packages; apt-get update only
# when something is missing, so a second run costs one dpkg-query.
vsb_install_packages() {
    local missing
    mapfile -t missing < <(vsb_packages_missing "$@")
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    vsb_say "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q || return 1
    apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null || return 1
}

# autogen (only when configure is missing or older than its inputs),
# configure (only when the build dir is not configured, or with other
# arguments, or configure changed), make -j2.  $1 = build dir.
vsb_build() {
    local builddir=$1 src=$VSB_SRCDIR want have
    if [ -e "$src/config.status" ]; then
        vsb_die "$src is configured in-tree (config.status exists); run 'make distclean' there first: builds go to $builddir"
    fi
    if [ ! -x "$src/configure" ] || [ ! -e "$src/Makefile.in" ] ||
       [ "$src/configure.ac" -nt "$src/configure" ] ||
       [ "$src/Makefile.am" -nt "$src/configure" ]; then
        vsb_say "autogen.sh"
        (cd "$src" && NOCONFIGURE=1 ./autogen.sh) || return 1
    fi
    mkdir -p "$builddir" || return 1
    want="${VSB_CONFIGURE_ARGS[*]}"
    have=""
    if [ -x "$builddir/config.status" ]; then
        have=$("$builddir/config.status" --config 2>/dev/null | tr -d "'")
    fi
    if [ ! -e "$builddir/Makefile" ] || [ "$have" != "$want" ] ||
       [ "$src/configure" -nt "$builddir/config.status" ]; then
        vsb_say "configure ${VSB_CONFIGURE_ARGS[*]} (in $builddir)"
        (cd "$builddir" && "$src/configure" "${VSB_CONFIGURE_ARGS[@]}") || return 1
    fi
    vsb_say "make -j2 (in $builddir)"
    make -C "$builddir" -j2
}

# Whether a UNIX socket accepts connections (a daemon answers there).
vsb_socket_answers() {
    /usr/bin/python3 - "$1" <<'PY' 2>/dev/null
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError:
    sys.exit(1)
PY
}

# Wait up to 30 s for $2's socket $1; $3 names the log to read on failure.
vsb_wait_socket() {
    local tries=300
    while [ "$tries" -gt 0 ]; do
        vsb_socket_answers "$1" && return 0
        sleep 0.1
        tries=$((tries - 1))
    done
    printf 'error: %s did not answer at %s within 30 s (see %s)\n' "$2" "$1" "$3" >&2
    return 1
}

# qemu:///system for KVM sandboxes: libvirt never starts a daemon for
# root, and without systemd nothing else does, so start virtlogd and
# libvirtd when their sockets do not answer (a second call finds them
# and does nothing).  libvirtd runs under tools/subreaper: it waits for
# each QEMU's exit until the zombie is reaped, and a PID 1 that reaps
# slowly (as on our test machines) would delay every sandbox's end.
# The daemons outlive the caller (their own session), logging to
# /var/log/libvirt/.
vsb_start_libvirtd() {
    local logdir=/var/log/libvirt
    mkdir -p "$logdir" /run/libvirt || return 1
    if ! vsb_socket_answers /run/libvirt/virtlogd-sock; then
        vsb_say "starting virtlogd (log: $logdir/virtlogd.out)"
        setsid -f /usr/sbin/virtlogd </dev/null >>"$logdir/virtlogd.out" 2>&1 || return 1
        vsb_wait_socket /run/libvirt/virtlogd-sock virtlogd "$logdir/virtlogd.out" || return 1
    fi
    if ! vsb_socket_answers /run/libvirt/libvirt-sock; then
        vsb_say "starting libvirtd under tools/subreaper (log: $logdir/libvirtd.out)"
        setsid -f "$VSB_SRCDIR/tools/subreaper" /usr/sbin/libvirtd \
            </dev/null >>"$logdir/libvirtd.out" 2>&1 || return 1
        vsb_wait_socket /run/libvirt/libvirt-sock libvirtd "$logdir/libvirtd.out" || return 1
    fi
}

# vsb_stop_libvirtd [libvirtd] [virtlogd]: stop those daemons (started by
# vsb_start_libvirtd) through their pid files, and wait for them to go.
vsb_stop_libvirtd() {
    local d pid n
    for d in "$@"; do
        pid=$(cat "/run/$d.pid" 2>/dev/null) || continue
        [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || continue
        for n in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        vsb_say "stopped $d"
    done
}
