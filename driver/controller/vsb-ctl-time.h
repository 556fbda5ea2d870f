/*
 * vsb-ctl-time.h: the container's time namespace.
 *
 * Every container gets one: CLOCK_MONOTONIC and CLOCK_BOOTTIME read 0
 * when init starts (so /proc/uptime is the container's uptime), unless
 * <vsb:time> in the domain XML says otherwise (a start value, or a
 * fixed offset from the host's clock).  CLOCK_REALTIME cannot be
 * offset by the kernel: the conf layer refuses realtime offsets.
 *
 * How a process enters it: unshare(CLONE_NEWTIME) creates the
 * namespace for the caller's future children only (the caller keeps
 * its clocks), and the offsets can be written to
 * /proc/self/timens_offsets only until a process is in it.  Kernels
 * from 6.0 also move a process into its time_for_children namespace at
 * execve(); older ones (5.6 on) do not, so the child enters it with
 * setns() right after writing the offsets, which every kernel with
 * time namespaces allows to a single-threaded process.  Init, exec'ed
 * next, starts in it.  Writing the offsets needs CAP_SYS_TIME in the
 * namespace's user namespace and setns() CAP_SYS_ADMIN: both are still
 * held then, before the container's capabilities are applied.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

#include "vsb-domain-conf.h"

/* Child side: create the namespace with @def's offsets and enter it. */
bool vsb_ctl_time_setup(const VsbDomainDef *def, GError **error);

/* Controller side: the offsets of @pid's time namespace, in ns (0 when
 * it has none, or the kernel no time namespaces). */
void vsb_ctl_time_read_offsets(pid_t pid, gint64 *monotonic_ns, gint64 *boottime_ns);
