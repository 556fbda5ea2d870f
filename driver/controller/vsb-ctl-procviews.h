/*
 * vsb-ctl-procviews.h: what the container sees in /proc/meminfo,
 * /proc/stat, /proc/cpuinfo, ... rendered from its cgroups.
 *
 * Pure code: a renderer gets file contents (by name) and a few numbers,
 * and returns text; it never reads a file itself.  So the same code
 * renders from a live cgroup (vsb-ctl-procsrc.c) and from the fixtures
 * of tests/procdata/, and both cgroup versions are handled here by
 * looking at which files exist:
 *
 *   cgroup v1                                 cgroup v2
 *   memory.limit_in_bytes, .usage_in_bytes    memory.max, memory.current
 *   memory.memsw.limit_in_bytes, .usage_...   memory.swap.max, .swap.current
 *   memory.stat (cache, rss, total_*)         memory.stat (file, anon, ...)
 *   cpuacct.usage_percpu_user / _sys          cpu.stat (user_usec, system_usec)
 *     (or cpuacct.usage_percpu + cpuacct.stat)
 *   cpu.stat (throttled_time, ns)             cpu.stat (throttled_usec)
 *   cpuset.effective_cpus                     cpuset.cpus.effective
 *   blkio.throttle.io_service_bytes[_recursive],
 *   blkio.throttle.io_serviced[_recursive]    io.stat
 *                                             cpu.pressure, memory.pressure, ...
 *
 * Host files are named "host/meminfo", "host/stat", "host/cpuinfo",
 * "host/diskstats" and "host/online" (/sys/devices/system/cpu/online).
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

G_BEGIN_DECLS

typedef enum {
    VSB_PROC_VIEW_MEMINFO,       /* /proc/meminfo */
    VSB_PROC_VIEW_STAT,          /* /proc/stat */
    VSB_PROC_VIEW_CPUINFO,       /* /proc/cpuinfo */
    VSB_PROC_VIEW_LOADAVG,       /* /proc/loadavg */
    VSB_PROC_VIEW_DISKSTATS,     /* /proc/diskstats */
    VSB_PROC_VIEW_SWAPS,         /* /proc/swaps */
    VSB_PROC_VIEW_CPU_ONLINE,    /* /sys/devices/system/cpu/online */
    VSB_PROC_VIEW_PRESSURE_CPU,  /* /proc/pressure/cpu ... */
    VSB_PROC_VIEW_PRESSURE_MEMORY,
    VSB_PROC_VIEW_PRESSURE_IO,
    VSB_PROC_VIEW_PRESSURE_IRQ,
    VSB_PROC_VIEW_LAST
} VsbProcView;

/* The view's file name as the tests and the FUSE fs name it
 * ("meminfo", "cpu-online", "pressure-io", ...), or NULL. */
const char *vsb_proc_view_name(VsbProcView view);
int vsb_proc_view_from_name(const char *name);

/* The files a view is rendered from (NULL-terminated): a reader fetches
 * those that exist.  Alternatives for both cgroup versions are listed. */
const char *const *vsb_proc_view_inputs(VsbProcView view);

/* The container's tasks, counted by whoever gathers the inputs. */
typedef struct {
    guint running;        /* state R */
    guint blocked;        /* state D */
    guint threads;        /* all threads */
    guint last_pid;       /* the newest pid, as the container numbers it */
} VsbProcTasks;

typedef struct {
    GHashTable *files;    /* name -> contents (char *); an absent name = no such file */
    guint64 uptime_ns;    /* the container's CLOCK_BOOTTIME now (its /proc/uptime) */
    gint64 btime;         /* realtime seconds when that clock read 0 (/proc/stat btime) */
    VsbProcTasks tasks;
    double load[3];       /* 1, 5 and 15 minute averages of running tasks */
} VsbProcInputs;

/* Render @view (NULL when its inputs are missing: a pressure file
 * without cgroup v2, say). */
char *vsb_proc_render(VsbProcView view, const VsbProcInputs *in);

/* The container's memory in bytes, as /proc/meminfo shows it
 * (MemTotal, MemFree, Shmem, SwapTotal, SwapFree): for sysinfo(2). */
typedef struct {
    guint64 total, free, shared, buffers, swap_total, swap_free;
} VsbProcMemory;

/* False when the host's meminfo is missing from @in. */
bool vsb_proc_memory(const VsbProcInputs *in, VsbProcMemory *out);

/* Allowed cpus (sorted host numbers) from the cpuset files, else
 * host/online; NULL when neither says. */
GArray *vsb_proc_allowed_cpus(const VsbProcInputs *in);

/* "0-3,8,10-11" -> sorted cpu numbers (guint); NULL when malformed. */
GArray *vsb_proc_parse_cpu_list(const char *text);

/* The load average step: fold @running tasks seen @dt_sec seconds
 * after the previous sample into @load (1, 5, 15 minutes), the way the
 * kernel's calc_load() does every 5 s (exponential decay). */
void vsb_proc_load_update(double load[3], guint running, double dt_sec);

G_END_DECLS
