/*
 * vsb-ctl-cgwarm.h: starting the kernel's wait of a cgroup move early.
 *
 * Moving a task between cgroups takes a kernel lock (the cgroup
 * threadgroup rwsem) whose first taker waits for an RCU grace period,
 * 8-12 ms on the test machines, unless another move took it within
 * about the last two: every fork and exit uses the lock's fast path,
 * and a mover must first switch them all to the slow one.  The
 * controller's own moves (into its supervisor cgroup at the start, out
 * of it at the end) come after work that does not depend on them.  A
 * thread that moves itself into the cgroup it already is in starts the
 * wait early, so it runs alongside that work instead of after it: the
 * later move finds the lock warm.
 *
 * Nothing else changes: one thread moved to where it is, then gone (only
 * the thread, "tasks" / "cgroup.threads", never the process, which may
 * be moving elsewhere meanwhile).  A failure changes nothing either:
 * the later move waits as it would have.  The wait holds the kernel's
 * cgroup mutex, so cgroup work (mkdir, limits) meanwhile waits too:
 * only work outside cgroups overlaps.
 */
#pragma once

#include <glib.h>

/* Start the thread; NULL when none could be started (nothing to join). */
GThread *vsb_ctl_cgwarm_start(void);

/* Wait for it (a process about to clone() must be single-threaded) and
 * clear *@thread; nothing when NULL. */
void vsb_ctl_cgwarm_join(GThread **thread);
