/*
 * vsb-driver-stats.c: a domain's statistics (GET_INFO, MEMORY_STATS,
 * GET_ALL_DOMAIN_STATS) from its payload cgroups, in libvirt's terms:
 * the memory hard limit in force plays the balloon's part (what the
 * container may use), the cgroup's anonymous memory is its resident
 * set.
 */
#include <config.h>

#include "vsb-cgroup-tune.h"
#include "vsb-driver-priv.h"

#include <string.h>

static unsigned long long
kib(guint64 bytes)
{
    return bytes / 1024;
}

/* Memory figures from @cs into @st, whose balloon_kib holds the
 * definition's limit. */
static void
memory_stats(const VsbCgroupStats *cs, VsbDomainStats *st)
{
    unsigned long long limit;

    /* What the kernel enforces wins over what the definition says (the
     * same unless someone wrote the cgroup behind our back), but never
     * above the host's memory. */
    if (cs->mem_limit_bytes != VSB_CGROUP_UNLIMITED)
        st->balloon_kib = MIN(kib(cs->mem_limit_bytes), st->max_kib);
    limit = st->balloon_kib;
    st->used_kib = kib(cs->mem_usage_bytes);
    st->rss_kib = kib(cs->mem_anon_bytes);
    st->cache_kib = kib(cs->mem_file_bytes);
    st->swap_kib = kib(cs->mem_swap_bytes);
    st->unused_kib = limit > st->used_kib ? limit - st->used_kib : 0;
    /* usable: what the container could still get, reclaim included */
    st->usable_kib = limit + kib(cs->mem_reclaimable_bytes) > st->used_kib
                         ? MIN(limit + kib(cs->mem_reclaimable_bytes) - st->used_kib, limit)
                         : 0;
    st->oom_kills = cs->mem_oom_kills;
    st->failcnt = cs->mem_failcnt;
}

bool
vsb_driver_get_stats(VsbDriver *drv, VsbDomain *dom, VsbDomainStats *st, GError **error)
{
    const VsbDomainDef *def = vsb_domain_get_def(dom, false);
    g_autoptr(VsbCgroupPayload) p = NULL;
    g_autoptr(GError) local = NULL;
    unsigned long long host = vsb_driver_host_memory_kib();
    unsigned long long limit = vsb_domain_def_hard_limit_kib(def);
    VsbCgroupStats cs = { 0 };

    memset(st, 0, sizeof(*st));
    st->max_kib = def->memory_kib ? def->memory_kib : host;
    st->balloon_kib = limit ? MIN(limit, st->max_kib) : st->max_kib;
    if (!dom->live)
        return true;
    if (!(p = vsb_domain_open_payload(dom, error)))
        return false;
    if (!vsb_cgroup_payload_get_stats(p, &cs, &local)) {
        vsb_driver_error(error, VSB_DRIVER_ERROR_OPERATION_FAILED,
                         "cannot read the statistics of domain '%s': %s", dom->name,
                         local->message);
        return false;
    }
    if ((st->have_cpu = cs.have & VSB_CGROUP_STAT_CPU)) {
        st->cpu_time_ns = cs.cpu_total_ns;
        st->cpu_user_ns = cs.cpu_user_ns;
        st->cpu_system_ns = cs.cpu_system_ns;
    }
    if ((st->have_mem = cs.have & VSB_CGROUP_STAT_MEMORY))
        memory_stats(&cs, st);
    if ((st->have_kmem = cs.have & VSB_CGROUP_STAT_KMEM)) {
        st->kmem_kib = kib(cs.kmem_bytes);
        st->kmem_slab_kib = kib(cs.kmem_slab_bytes);
        st->kmem_sock_kib = kib(cs.kmem_sock_bytes);
    }
    if ((st->have_pids = cs.have & VSB_CGROUP_STAT_PIDS)) {
        st->pids_current = cs.pids_current;
        st->pids_max = cs.pids_max == VSB_CGROUP_UNLIMITED ? 0 : cs.pids_max;
    }
    if ((st->have_io = cs.have & VSB_CGROUP_STAT_IO)) {
        st->io_read_bytes = cs.io_read_bytes;
        st->io_write_bytes = cs.io_write_bytes;
        st->io_read_ops = cs.io_read_ops;
        st->io_write_ops = cs.io_write_ops;
    }
    return true;
}
