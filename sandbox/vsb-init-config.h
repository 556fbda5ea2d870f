/*
 * vsb-init-config.h: what virt-sandbox-init is told, and where.
 *
 * The builder (on the host) writes init's config as a small text file
 * into the sandbox's state directory, which reaches the sandbox as a
 * read-only share; init reads it as its first act.  A file rather than
 * <initarg>/<initenv>: included files need a share anyway, KVM guests
 * get the same file over the same kind of share, and the size is not
 * bounded by the kernel's limits on arguments and environment.
 *
 * In LXC the domain XML mounts (done by the controller before init
 * runs): a tmpfs on /run, the state directory's config/ on
 * VSB_INIT_GUEST_CONFIG_DIR and init's own binary on
 * VSB_INIT_GUEST_BINARY, so the sandbox's root needs neither.  In a
 * KVM guest init itself mounts the /run tmpfs and the config share
 * there before reading it (init/vsb-init-vm.c); it runs from the initrd.
 *
 * Format (plain C parses it: no GLib in the static init)
 * ------------------------------------------------------
 * One directive per line, "KEY FIELD [FIELD...]", fields separated by
 * one space.  In fields, every byte outside '!'..'~' and every '\' is
 * written "\xHH" (two hex digits), so fields never contain spaces or
 * newlines and any byte but NUL can be carried.  The first line is
 * "virt-sandbox-init 1" (the version); blank lines and lines starting
 * with '#' are ignored; an unknown KEY is an error (init stops rather
 * than run a sandbox it does not understand).
 *
 *   debug 0|1            LOG frames about what init does
 *   uid N / gid N        the program's identity (numbers)
 *   groups [N...]        supplementary groups
 *   user NAME            $USER and $LOGNAME
 *   home PATH            $HOME; cwd falls back to it
 *   cwd PATH             the program's working directory (else home, else /)
 *   privileged 0|1       0: drop every capability, no_new_privs (any uid)
 *   env NAME=VALUE       repeated, after init's defaults (PATH, HOME,
 *                        USER, LOGNAME, SHELL, TERM with a tty)
 *   arg VALUE            repeated: argv, argv[0] first (found in $PATH);
 *                        "arg" alone is an empty argument (fields are
 *                        never empty)
 *   mount TYPE SRC DST FLAGS DATA
 *                        mount(2) in order, before anything else;
 *                        FLAGS a comma list of ro, nosuid, nodev,
 *                        noexec, bind, rec or "-"; DATA "-" for none;
 *                        DST is created when missing (when its
 *                        parent is read-only, on an overlay of the
 *                        nearest existing one, kept in /run)
 *   setattr PATH MODE UID GID
 *                        chmod (octal) and chown after the mounts
 *                        (e.g. /tmp 1777, a ram mount to the user)
 *   include SRC DST      copy SRC (file, directory tree, symlink) to
 *                        DST, owned by uid:gid, after setattr
 *   channel PATH         the protocol's byte stream (KVM: a
 *                        virtio-serial port); default init's stdin/stdout
 *   poweroff 0|1         power the machine off at the end (KVM) instead
 *                        of exiting (LXC: the container ends with init)
 *   service 0|1          1: a service sandbox (virt-sandbox-service): no
 *                        tool answers READY, so init speaks no protocol;
 *                        the program gets /dev/null as stdin and init's
 *                        stdout/stderr (the console), SIGTERM, SIGINT,
 *                        SIGHUP, SIGUSR1/2 and SIGQUIT are forwarded to
 *                        it, and init's last line on stderr is
 *                        VSB_INIT_SERVICE_STATUS (init/vsb-init-service.c)
 *   net DEV dhcp|static  a network interface (-N): init brings it up
 *                        after the mounts; dhcp: runs DHCP on it (its
 *                        address, prefix, default route, and DNS servers
 *                        into /etc/resolv.conf), init/vsb-init-net.c
 *   ipaddr DEV ADDRESS PREFIX BROADCAST|-
 *   iproute DEV NETWORK PREFIX GATEWAY
 *                        static setup, in a KVM guest only (in LXC the
 *                        controller does it from the domain's <ip> and
 *                        <route>)
 */
#pragma once

#define VSB_INIT_CONFIG_MAGIC "virt-sandbox-init"
#define VSB_INIT_CONFIG_VERSION 1

/* Inside an LXC sandbox.  /run is the sandbox's own tmpfs. */
#define VSB_INIT_GUEST_DIR "/run/virt-sandbox"
#define VSB_INIT_GUEST_CONFIG_DIR VSB_INIT_GUEST_DIR "/config"
#define VSB_INIT_GUEST_BINARY VSB_INIT_GUEST_DIR "/init"
#define VSB_INIT_CONFIG_FILE "init.conf"
#define VSB_INIT_GUEST_CONFIG VSB_INIT_GUEST_CONFIG_DIR "/" VSB_INIT_CONFIG_FILE
/* A service's last console line, "<this> exited N" or "<this> killed
 * N" (signal): how virt-sandbox-service start --foreground learns the
 * status, since the domain's own end carries none. */
#define VSB_INIT_SERVICE_STATUS "virt-sandbox-init: service"

/* Staged includes, below the config directory: include/N. */
#define VSB_INIT_INCLUDE_DIR "include"
