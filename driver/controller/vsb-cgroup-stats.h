/*
 * vsb-cgroup-stats.h: what a payload cgroup uses, read from the files
 * of each controller (v1 or v2), for vsb_cgroup_payload_get_stats().
 *
 * Split from vsb-cgroup-tune.c so that the reading itself is tested on
 * fixture directories (tests/cgroupdata/stats-*) laid out like the
 * kernel's: one directory per controller.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "vsb-cgroup-tune.h"

G_BEGIN_DECLS

/* The payload's directory for each group of statistics, NULL when no
 * hierarchy gives it; *_v2 says how that directory spells its files. */
typedef struct {
    const char *cpu_dir;      /* v1 cpuacct, v2 any payload (cpu.stat needs no controller) */
    bool cpu_v2;
    const char *memory_dir;
    bool memory_v2;
    const char *pids_dir;     /* pids.current / pids.max, the same on v1 and v2 */
    const char *io_dir;       /* v1 blkio, v2 io */
    bool io_v2;
} VsbCgroupStatDirs;

/* Fill @st from the files under @dirs.  A group whose directory is
 * given must have its core files (memory.current...) or this fails
 * naming the file; optional files (swap, kmem, ...) leave their fields
 * 0 and, for kmem, the group unset. */
bool vsb_cgroup_stats_read(const VsbCgroupStatDirs *dirs, VsbCgroupStats *st, GError **error);

/* Pure parsers. */
/* Value of @key in "key value" lines (memory.stat, cpu.stat,
 * memory.events, memory.oom_control, cpuacct.stat). */
bool vsb_cgroup_keyed_value(const char *text, const char *key, guint64 *value);

/* Sums over every device of v2 io.stat ("MAJ:MIN rbytes=.. wbytes=..
 * rios=.. wios=.. ..."), or of v1 blkio *io_service_bytes (@ops false)
 * / *io_serviced (@ops true) ("MAJ:MIN Read N" lines, "Total N"). */
typedef struct {
    guint64 read_bytes;
    guint64 write_bytes;
    guint64 read_ops;
    guint64 write_ops;
} VsbCgroupIoTotals;
bool vsb_cgroup_parse_io_stat(const char *text, VsbCgroupIoTotals *t, GError **error);
bool vsb_cgroup_parse_blkio_v1(const char *text, bool ops, VsbCgroupIoTotals *t,
                               GError **error);

G_END_DECLS
