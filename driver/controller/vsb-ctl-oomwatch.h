/*
 * vsb-ctl-oomwatch.h: notice OOM kills in the container's memory
 * cgroup, for a note in its kernel log (its dmesg) and its log file.
 *
 * cgroup v1: an eventfd registered on memory.oom_control through
 * cgroup.event_control; v2: inotify on memory.events, which the kernel
 * marks modified on each event.  Either way the oom_kill counter says
 * how many tasks were killed; the host's kernel log (its oom-kill line
 * names the memory cgroup) says which.  Nothing runs until an OOM.
 */
#pragma once

#include <glib.h>

#include "vsb-cgroup.h"

typedef struct _VsbCtlOomWatch VsbCtlOomWatch;

/* @text: one line per killed task, such as "Memory cgroup out of
 * memory: Killed process 1234 (stress) (host pid), limit 262144 kB". */
typedef void (*VsbCtlOomFn)(gpointer opaque, const char *text);

/* Watches from the default main context; NULL when the host offers
 * neither way (no memory controller). */
VsbCtlOomWatch *vsb_ctl_oomwatch_new(VsbCgroup *cg, VsbCtlOomFn fn, gpointer opaque);
void vsb_ctl_oomwatch_free(VsbCtlOomWatch *w);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbCtlOomWatch, vsb_ctl_oomwatch_free)
