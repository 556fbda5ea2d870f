/*
 * vsb-cgroup-tune.h: a running domain's payload cgroups seen from
 * outside its controller (by the daemon): freeze and thaw it, change
 * its limits live.
 *
 * The daemon is not the controller's process and holds no VsbCgroup:
 * the payload directories are found again from the domain's name and
 * the partition, in the layout vsb-cgroup.h describes.  Each
 * controller is driven through the hierarchy owning it: v1 first
 * (a hybrid host's cgroup2 owns none of these), else v2 where the
 * controller is enabled in payload.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

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

G_END_DECLS
