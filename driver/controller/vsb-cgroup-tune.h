/*
 * vsb-cgroup-tune.h: a running domain's payload cgroups seen from
 * outside its controller (by the daemon): freeze and thaw it, change
 * its limits live.
 *
 * The daemon is not the controller's process and holds no VsbCgroup:
 * the payload directories are found again from the domain's name and
 * the partition, in the layouts vsb-cgroup.h describes (ours, or the
 * systemd scope's).  Each
 * controller is driven through the hierarchy owning it: v1 first
 * (a hybrid host's cgroup2 owns none of these), else v2 where the
 * controller is enabled in payload.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "vsb-cgroup.h"

G_BEGIN_DECLS

typedef struct _VsbCgroupPayload VsbCgroupPayload;

/* The payload cgroups of domain @name in @partition ("machine");
 * VSB_ERROR_NOT_FOUND when the domain has none. */
VsbCgroupPayload *vsb_cgroup_payload_open(const char *partition, const char *name,
                                          GError **error);
void vsb_cgroup_payload_free(VsbCgroupPayload *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbCgroupPayload, vsb_cgroup_payload_free)

/* Freeze (v1 freezer.state, v2 cgroup.freeze) and wait (bounded) until
 * every task is frozen; thaw, nested cgroups included. */
bool vsb_cgroup_payload_freeze(VsbCgroupPayload *p, bool frozen, GError **error);
bool vsb_cgroup_payload_is_frozen(VsbCgroupPayload *p, bool *frozen, GError **error);

/* Memory limits, in bytes; VSB_CGROUP_UNLIMITED for none.
 * HARD: v1 memory.limit_in_bytes, v2 memory.max;
 * SOFT: v1 memory.soft_limit_in_bytes, v2 memory.high;
 * SWAP: v1 memory.memsw.limit_in_bytes (memory + swap), v2 memory.swap.max. */
#define VSB_CGROUP_UNLIMITED G_MAXUINT64
typedef enum {
    VSB_CGROUP_MEM_HARD,
    VSB_CGROUP_MEM_SOFT,
    VSB_CGROUP_MEM_SWAP,
} VsbCgroupMemLimit;
bool vsb_cgroup_payload_set_memory(VsbCgroupPayload *p, VsbCgroupMemLimit which,
                                   guint64 bytes, GError **error);
bool vsb_cgroup_payload_get_memory(VsbCgroupPayload *p, VsbCgroupMemLimit which,
                                   guint64 *bytes, GError **error);

/* cpu.shares (v2: cpu.weight, converted). */
bool vsb_cgroup_payload_set_cpu_shares(VsbCgroupPayload *p, guint64 shares, GError **error);
/* CFS bandwidth: period in µs (0 = leave), quota in µs (-1 = none,
 * 0 = leave): v1 cpu.cfs_period_us / cpu.cfs_quota_us, v2 cpu.max. */
bool vsb_cgroup_payload_set_cpu_bandwidth(VsbCgroupPayload *p, guint64 period_us,
                                          gint64 quota_us, GError **error);

/* Block I/O: the domain's weight (0 = leave) and per device settings
 * (a 0 throttle removes that throttle; a 0 weight leaves it). */
bool vsb_cgroup_payload_set_blkio_weight(VsbCgroupPayload *p, unsigned int weight,
                                         GError **error);
bool vsb_cgroup_payload_set_blkio_device(VsbCgroupPayload *p, const VsbCgroupBlkioDevice *dev,
                                         GError **error);

/* pids.max; VSB_CGROUP_UNLIMITED for none. */
bool vsb_cgroup_payload_set_pids_max(VsbCgroupPayload *p, guint64 max, GError **error);

/* What the payload uses, for statistics.  Each field is filled when its
 * bit is set in @have (a controller may be missing: a v1 host without
 * the pids hierarchy, a v2 payload without io enabled). */
typedef enum {
    VSB_CGROUP_STAT_CPU    = 1 << 0,   /* cpu_*  (v1 cpuacct, v2 cpu.stat) */
    VSB_CGROUP_STAT_MEMORY = 1 << 1,   /* mem_*  */
    VSB_CGROUP_STAT_KMEM   = 1 << 2,   /* kmem_* (v1 memory.kmem.*, v2 memory.stat) */
    VSB_CGROUP_STAT_PIDS   = 1 << 3,   /* pids_* */
    VSB_CGROUP_STAT_IO     = 1 << 4,   /* io_*   (v1 blkio.throttle.io_service*, v2 io.stat) */
} VsbCgroupStatGroup;

typedef struct {
    unsigned int have;           /* VsbCgroupStatGroup bits */
    guint64 cpu_total_ns;        /* v1 cpuacct.usage, v2 usage_usec * 1000 */
    guint64 cpu_user_ns;         /* v1 cpuacct.stat user (ticks), v2 user_usec */
    guint64 cpu_system_ns;
    guint64 mem_usage_bytes;     /* v1 memory.usage_in_bytes, v2 memory.current */
    guint64 mem_limit_bytes;     /* hard limit in force; VSB_CGROUP_UNLIMITED for none */
    guint64 mem_anon_bytes;      /* v1 total_rss, v2 anon */
    guint64 mem_file_bytes;      /* page cache: v1 total_cache, v2 file */
    guint64 mem_reclaimable_bytes; /* what the kernel can drop: v1 total_inactive_file,
                                    * v2 inactive_file (+ slab_reclaimable) */
    guint64 mem_swap_bytes;      /* v1 memsw.usage - usage, v2 memory.swap.current */
    guint64 mem_oom_kills;       /* tasks OOM-killed: v2 memory.events oom_kill,
                                  * v1 memory.oom_control oom_kill */
    guint64 mem_failcnt;         /* times the limit was hit: v1 memory.failcnt,
                                  * v2 memory.events max */
    guint64 kmem_bytes;          /* kernel memory: v1 memory.kmem.usage_in_bytes,
                                  * v2 memory.stat kernel (5.18+; else slab + kernel_stack
                                  * + pagetables + sock) */
    guint64 kmem_slab_bytes;     /* v1 memory.stat slab (if present), v2 slab */
    guint64 kmem_sock_bytes;     /* v1 memory.kmem.tcp.usage_in_bytes, v2 sock */
    guint64 pids_current;
    guint64 pids_max;            /* VSB_CGROUP_UNLIMITED for "max" */
    guint64 io_read_bytes;       /* summed over devices */
    guint64 io_write_bytes;
    guint64 io_read_ops;
    guint64 io_write_ops;
} VsbCgroupStats;
bool vsb_cgroup_payload_get_stats(VsbCgroupPayload *p, VsbCgroupStats *st, GError **error);

G_END_DECLS
