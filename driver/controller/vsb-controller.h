/*
 * vsb-controller.h: the contract between virt-sandbox-controller and
 * whoever starts it (the driver daemon, tests, a person debugging).
 *
 * This is the one place that documents it.
 *
 * Command line
 * ------------
 *   virt-sandbox-controller --xml FILE [--foreground] [--run-dir DIR]
 *                           [--cgroup-partition NAME] [--ready-fd FD]
 *                           [--log-dir DIR]
 *
 *   --foreground   the container's console is the controller's own
 *                  stdin/stdout (raw mode when stdin is a terminal;
 *                  otherwise the end of stdin is typed as the
 *                  terminal's EOF character); the controller exits with
 *                  init's exit status.
 *   --run-dir      where state files live (default RUNSTATEDIR
 *                  "/virt-sandbox/lxc", i.e. /run/virt-sandbox/lxc).
 *   --cgroup-partition  the cgroup under which the domain's cgroup is
 *                  made (default "machine").
 *   --ready-fd     once init has been exec'ed, "ok <init-pid>\n" is
 *                  written to FD and FD closed; on a setup failure,
 *                  "error <message>\n".  Lets a daemon wait for start.
 *   --log-dir      where the container's log is kept (default
 *                  LOCALSTATEDIR "/log/virt-sandbox", i.e.
 *                  /var/log/virt-sandbox); made when first needed.
 *
 * Exit status (like env(1)): init's own status; 128+N when init was
 * killed by signal N; 125 when the controller failed (bad XML, a
 * missing root, no cgroup, ...); 126 when init is not executable; 127
 * when init does not exist.  Every failure prints one line on stderr
 * naming the path and the cause.
 *
 * Run directory (one set of files per domain NAME)
 * ------------------------------------------------
 *   NAME.pid    the controller's pid; the controller holds an flock()
 *               on it while it lives, so a reader tells a live
 *               controller from a stale file without trusting the pid.
 *   NAME.xml    the live domain XML (with id= the init pid).
 *   NAME.state  key=value lines: controller_pid, init_pid, started
 *               (CLOCK_REALTIME, microseconds), console (socket path).
 *   NAME.sock   the control socket (see below).
 *   NAME.exit   written when init has exited and the container is torn
 *               down: "status=N\n" (N as the exit status above) and
 *               "reason=exited|signaled|destroyed\n".  It stays until
 *               someone collects (reads and unlinks) it.  A start that
 *               failed writes none: --ready-fd and stderr tell.
 *   NAME.root   the staging mount point of the root filesystem (an
 *               empty directory on the host; mounts on it exist only in
 *               the container's mount namespace).
 *
 * All but NAME.exit are removed when the controller exits.
 *
 * Control socket (SOCK_STREAM, root only, one request line per
 * connection, answers one line)
 * -----------------------------------------------------------------
 *   "status"          -> "running init=PID controller=PID"
 *   "console [force]" -> "ok", then the connection carries the console's
 *                        raw bytes both ways until either side closes;
 *                        recent output (up to 64 KiB) is replayed first.
 *                        A second client gets "error console busy"
 *                        unless it says "force", which takes over.
 *   "kill SIGNAL"     -> "ok": sends SIGNAL (a number) to init.
 *   "destroy"         -> "ok": kills every process of the container;
 *                        the controller then tears down and exits.
 *   anything else     -> "error unknown request"
 *
 * What the container sees of itself
 * ---------------------------------
 *   /proc/meminfo, /proc/stat, /proc/cpuinfo, /proc/loadavg,
 *   /proc/diskstats, /proc/swaps, /proc/pressure/{cpu,memory,io,irq}
 *   (where the host has PSI and the container a cgroup2 cgroup) and
 *   /sys/devices/system/cpu/online are rendered from the container's
 *   cgroups (cgroup v1 or v2) by a FUSE file system that the controller
 *   itself serves from its main loop (vsb-ctl-fuse.h): MemTotal is the
 *   memory limit, the cpus are its cpuset's (renumbered from 0), its
 *   cpu time, its tasks, its I/O.  The views live exactly as long as
 *   the controller, and the container dies with its controller
 *   (init has PR_SET_PDEATHSIG SIGKILL): no view is ever left without
 *   its server (what the issue calls surviving a restart of the
 *   server: there is no other server to restart), and the
 *   daemon has no part in them (restarting it changes nothing).
 *   sysinfo(2) (busybox's free and uptime) gives the same figures:
 *   its calls are handed to the controller by a seccomp listener and
 *   answered from its main loop (vsb-ctl-sysinfo.h, which also says
 *   what happens when the controller does not answer).
 *
 *   Time: a time namespace of its own; CLOCK_MONOTONIC and
 *   CLOCK_BOOTTIME read 0 when init starts (/proc/uptime, uptime: the
 *   container's), or what <vsb:time> in the XML says (vsb-ctl-time.h).
 *   <clock offset='timezone' timezone='Area/City'> sets TZ for init.
 *
 *   /dev/log: a datagram socket read by the controller (none when the
 *   init is systemd: its journald serves /dev/log).  Each message
 *   becomes a line of LOG_DIR/NAME.log (rotated to NAME.log.1 at
 *   1 MiB; at most 2 MiB per domain; nothing written while the file
 *   system has less than 64 MiB free):
 *       2025-01-02T03:04:05.123456Z user.notice app[12]: hello
 *   (UTC time of receipt, facility.level, tag, the sender's pid as the
 *   container numbers it, or "host:PID" when it was gone before it
 *   could be translated), and, when journald runs, a journal entry with
 *   CONTAINER_NAME=NAME, CONTAINER_ID and CONTAINER_ID_FULL (the
 *   domain's UUID: vsb-ctl-syslog.h) (journalctl CONTAINER_NAME=NAME).  More than
 *   200 messages a second (bursts of 1000) are dropped and counted in
 *   the log; a flood cannot make the controller do more than that
 *   (vsb-ctl-syslog.h).
 *
 *   /dev/kmsg: the container's own kernel log (64 KiB): what its
 *   processes write there (also copied to NAME.log, tag "kernel") and
 *   the controller's notes ("virt-sandbox: container NAME starting",
 *   "Memory cgroup out of memory: Killed process ..." on OOM kills in
 *   its memory cgroup).  util-linux's dmesg shows it.  syslog(2) fails
 *   with EPERM (a seccomp filter): the host's ring is never shown.
 *
 *   Network: a network namespace of its own, loopback up, and one veth
 *   pair per <interface> (vsb-ctl-net.h), made before init runs: the
 *   container end renamed, addressed and routed as the XML says, the
 *   host end on its bridge; NAME.xml names generated host ends in
 *   <target dev>.
 *
 * Teardown: when init exits the kernel kills the rest of its pid
 * namespace; the controller kills what remains in the payload cgroup,
 * waits for it to empty, deletes the host ends of its veth pairs,
 * detaches loop devices, removes the cgroups and the state files,
 * writes NAME.exit and exits.
 */
#pragma once

#define VSB_CTL_EXIT_FAILURE 125
#define VSB_CTL_EXIT_CANNOT_EXEC 126
#define VSB_CTL_EXIT_NOT_FOUND 127

#define VSB_CTL_CONSOLE_BACKLOG (64 * 1024)
