/*
 * vsb-ctl-procsrc.h: where the container's /proc views come from: its
 * payload cgroup's files, the host's /proc files, its tasks and its
 * clocks (controller side; the rendering is vsb-ctl-procviews.c).
 *
 * Everything is read at the moment a view is opened, from file
 * descriptors kept open (pread at offset 0 makes the kernel generate
 * a cgroup or /proc file afresh): no path lookup on the hot path, no
 * polling while nobody looks.  The load average is the exception: it
 * needs samples over time, so a 5 s timer samples the container's
 * runnable tasks from the start of init (as the kernel does from boot),
 * whether anyone looks or not.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/sysinfo.h>
#include <sys/types.h>

#include "vsb-cgroup.h"
#include "vsb-ctl-procviews.h"

typedef struct _VsbCtlProcSrc VsbCtlProcSrc;

/* @cg outlives the source. */
VsbCtlProcSrc *vsb_ctl_procsrc_new(VsbCgroup *cg);

/* Init runs: read the offsets of its time namespace, so that our
 * figures use the container's clocks, and start sampling the load
 * (needs the GLib main context the controller runs). */
void vsb_ctl_procsrc_set_init(VsbCtlProcSrc *src, pid_t init_pid);

/* Only read the offsets of @init_pid's time namespace (already set up):
 * for sysinfo(2) calls answered before init is declared running. */
void vsb_ctl_procsrc_set_clocks(VsbCtlProcSrc *src, pid_t init_pid);

/* The view can be rendered here (a pressure view needs cgroup v2). */
bool vsb_ctl_procsrc_available(VsbCtlProcSrc *src, VsbProcView view);

/* The view's text now (or rendered at most a few ms ago: see
 * VIEW_CACHE_USEC), or NULL (its inputs could not be read). */
char *vsb_ctl_procsrc_render(VsbCtlProcSrc *src, VsbProcView view);

/* sysinfo(2) as the container sees it (vsb-ctl-sysinfo.h); false
 * when the host's meminfo cannot be read. */
bool vsb_ctl_procsrc_sysinfo(VsbCtlProcSrc *src, struct sysinfo *si);

/* The container's number for host pid @pid (0 when it is gone). */
guint vsb_ctl_procsrc_ns_pid(VsbCtlProcSrc *src, pid_t pid);

/* The container's CLOCK_MONOTONIC now, in microseconds (its kernel
 * log's timestamps). */
guint64 vsb_ctl_procsrc_monotonic_usec(VsbCtlProcSrc *src);

void vsb_ctl_procsrc_free(VsbCtlProcSrc *src);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbCtlProcSrc, vsb_ctl_procsrc_free)
