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
 * Teardown: when init exits the kernel kills the rest of its pid
 * namespace; the controller kills what remains in the payload cgroup,
 * waits for it to empty, detaches loop devices, removes the cgroups and
 * the state files, writes NAME.exit and exits.
 */
#pragma once

#define VSB_CTL_EXIT_FAILURE 125
#define VSB_CTL_EXIT_CANNOT_EXEC 126
#define VSB_CTL_EXIT_NOT_FOUND 127

#define VSB_CTL_CONSOLE_BACKLOG (64 * 1024)
