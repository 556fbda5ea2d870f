/*
 * vsb-launch.h: the `virt-sandbox` launcher's pure decisions.
 *
 * `virt-sandbox` is a small plain-C program (sandbox/virt-sandbox-launch.c)
 * that execs the real tool, LIBEXECDIR/virt-sandbox-tool.  It exists for
 * one reason: the tool loads libvirt, libvirt-gobject and the ~60
 * libraries they pull in (6-8 ms of symbol binding here) before any of
 * its code runs, and the container it starts soon after has to wait for
 * the kernel's cgroup-migration lock, whose first writer after a quiet
 * spell waits for an RCU grace period (8-12 ms here; see
 * driver/controller/vsb-ctl-cgwarm.h).  The launcher starts that wait at
 * once, in a short-lived child that moves itself to the cgroup it is in,
 * so the grace period runs while the tool loads its libraries instead of
 * after.  The tool reaps that child before it exits (VSB_LAUNCH_PID_ENV).
 *
 * These functions take no locks and make no system calls: tests feed
 * them argument vectors and /proc file contents.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The warm-up child's pid, for the tool to reap; unset by the tool. */
#define VSB_LAUNCH_PID_ENV "VSB_CGWARM_PID"
/* Overrides the tool's path (tests, and running a tool from elsewhere). */
#define VSB_LAUNCH_TOOL_ENV "VSB_SANDBOX_TOOL"
#define VSB_LAUNCH_TOOL_NAME "virt-sandbox-tool"

/* Whether a run with these arguments will start a container on our
 * driver, so that warming the cgroup lock pays: not for --help or
 * --version, not for a -c/--connect URI other than lxc:..., and only
 * for root (LXC mode needs root; others cannot move themselves). */
bool vsb_launch_wants_warm(int argc, char *const *argv, bool is_root);

/* The file a thread writes its own tid into to move itself to the
 * cgroup it is already in: the cgroup2 hierarchy's cgroup.threads of
 * the "0::" entry of @proc_cgroup, found through @mountinfo.  False
 * when there is no cgroup2 mount (legacy v1-only hosts: no warm-up) or
 * the path does not fit @len. */
bool vsb_launch_cgroup_file(const char *mountinfo, const char *proc_cgroup,
                            char *buf, size_t len);
