/*
 * vsb-driver-tune.c: what the daemon does to a running domain's
 * cgroups itself, without its controller: suspend / resume through the
 * freezer.  The controller created the cgroups (vsb-cgroup.h); the
 * daemon finds them again by name (vsb-cgroup-tune.h).
 */
#include <config.h>

#include "vsb-cgroup-tune.h"
#include "vsb-driver-priv.h"

/* virDomainPausedReason, virDomainRunningReason, event details */
#define VSB_PAUSED_USER 1
#define VSB_RUNNING_UNPAUSED 5
#define VSB_EVENT_SUSPENDED_PAUSED 0
#define VSB_EVENT_RESUMED_UNPAUSED 0

static VsbCgroupPayload *
open_payload(VsbDomain *dom, GError **error)
{
    g_autoptr(GError) local = NULL;
    VsbCgroupPayload *p = vsb_cgroup_payload_open(dom->drv->cgroup_partition, dom->name, &local);

    if (!p)
        vsb_driver_error(error, VSB_DRIVER_ERROR_OPERATION_FAILED, "%s", local->message);
    return p;
}

static bool
require_active(VsbDomain *dom, GError **error)
{
    if (!dom->live) {
        vsb_driver_error(error, VSB_DRIVER_ERROR_OPERATION_INVALID, "domain is not running");
        return false;
    }
    return true;
}

bool
vsb_driver_suspend(VsbDriver *drv, VsbDomain *dom, GError **error)
{
    g_autoptr(VsbCgroupPayload) p = NULL;
    g_autoptr(GError) local = NULL;

    if (!require_active(dom, error))
        return false;
    /* libvirt's LXC driver accepts suspending a paused domain quietly. */
    if (dom->paused)
        return true;
    if (!(p = open_payload(dom, error)))
        return false;
    if (!vsb_cgroup_payload_freeze(p, true, &local)) {
        vsb_driver_error(error, VSB_DRIVER_ERROR_OPERATION_FAILED,
                         "Suspend operation failed: %s", local->message);
        return false;
    }
    dom->paused = true;
    dom->reason = VSB_PAUSED_USER;
    vsb_domain_emit(dom, VSB_EVENT_SUSPENDED, VSB_EVENT_SUSPENDED_PAUSED);
    return true;
}

bool
vsb_driver_resume(VsbDriver *drv, VsbDomain *dom, GError **error)
{
    g_autoptr(VsbCgroupPayload) p = NULL;
    g_autoptr(GError) local = NULL;

    if (!require_active(dom, error))
        return false;
    if (!dom->paused) {
        vsb_driver_error(error, VSB_DRIVER_ERROR_OPERATION_INVALID, "domain is not paused");
        return false;
    }
    if (!(p = open_payload(dom, error)))
        return false;
    if (!vsb_cgroup_payload_freeze(p, false, &local)) {
        vsb_driver_error(error, VSB_DRIVER_ERROR_OPERATION_FAILED,
                         "Resume operation failed: %s", local->message);
        return false;
    }
    dom->paused = false;
    dom->reason = VSB_RUNNING_UNPAUSED;
    vsb_domain_emit(dom, VSB_EVENT_RESUMED, VSB_EVENT_RESUMED_UNPAUSED);
    return true;
}

void
vsb_domain_load_paused(VsbDomain *dom)
{
    g_autoptr(VsbCgroupPayload) p = vsb_cgroup_payload_open(dom->drv->cgroup_partition,
                                                            dom->name, NULL);
    bool frozen = false;

    /* Reattaching after a daemon restart: the freezer remembers. */
    dom->paused = p && vsb_cgroup_payload_is_frozen(p, &frozen, NULL) && frozen;
    if (dom->paused)
        dom->reason = VSB_PAUSED_USER;
}

/* ------------------------------------------------------------------ */
/* memtune                                                             */

static guint64
limit_bytes(unsigned long long kib)
{
    return kib == 0 || kib >= VSB_MEMTUNE_UNLIMITED ? VSB_CGROUP_UNLIMITED : kib * 1024;
}

/* Write the live limits of @mt in an order each step is valid in: v1
 * refuses limit_in_bytes above memsw.limit_in_bytes, so a growing
 * swap limit goes first, a shrinking one last. */
static bool
apply_memtune(VsbDomain *dom, const VsbMemtune *mt, GError **error)
{
    g_autoptr(VsbCgroupPayload) p = NULL;
    g_autoptr(GError) local = NULL;
    guint64 cur_swap = VSB_CGROUP_UNLIMITED;
    bool swap_first;

    if (!(p = open_payload(dom, error)))
        return false;
    if (mt->set_swap)
        vsb_cgroup_payload_get_memory(p, VSB_CGROUP_MEM_SWAP, &cur_swap, NULL);
    swap_first = mt->set_swap && limit_bytes(mt->swap_kib) >= cur_swap;
    if ((swap_first &&
         !vsb_cgroup_payload_set_memory(p, VSB_CGROUP_MEM_SWAP, limit_bytes(mt->swap_kib),
                                        &local)) ||
        (mt->set_hard &&
         !vsb_cgroup_payload_set_memory(p, VSB_CGROUP_MEM_HARD, limit_bytes(mt->hard_kib),
                                        &local)) ||
        (mt->set_swap && !swap_first &&
         !vsb_cgroup_payload_set_memory(p, VSB_CGROUP_MEM_SWAP, limit_bytes(mt->swap_kib),
                                        &local)) ||
        (mt->set_soft &&
         !vsb_cgroup_payload_set_memory(p, VSB_CGROUP_MEM_SOFT, limit_bytes(mt->soft_kib),
                                        &local))) {
        vsb_driver_error(error, VSB_DRIVER_ERROR_OPERATION_FAILED, "%s", local->message);
        return false;
    }
    return true;
}

/* Fold @mt into @def (unlimited is "not given" in the XML). */
static void
memtune_to_def(const VsbMemtune *mt, VsbDomainDef *def)
{
    if (mt->set_hard)
        def->mem_hard_kib = mt->hard_kib >= VSB_MEMTUNE_UNLIMITED ? 0 : mt->hard_kib;
    if (mt->set_soft)
        def->mem_soft_kib = mt->soft_kib >= VSB_MEMTUNE_UNLIMITED ? 0 : mt->soft_kib;
    if (mt->set_swap)
        def->mem_swap_kib = mt->swap_kib >= VSB_MEMTUNE_UNLIMITED ? 0 : mt->swap_kib;
}

static bool
check_memtune(const VsbDomainDef *def, GError **error)
{
    if (def->mem_hard_kib && def->mem_swap_kib && def->mem_hard_kib > def->mem_swap_kib) {
        vsb_driver_error(error, VSB_DRIVER_ERROR_INVALID_ARG,
                         "memory hard_limit tunable value must be lower than or equal to "
                         "swap_hard_limit");
        return false;
    }
    return true;
}

bool
vsb_driver_set_memtune(VsbDriver *drv, VsbDomain *dom, const VsbMemtune *mt, bool live,
                       bool config, GError **error)
{
    g_autoptr(VsbDomainDef) new_config = NULL;
    VsbDomainDef want_live;

    if (live && !require_active(dom, error))
        return false;
    if (config) {
        if (!dom->config) {
            vsb_driver_error(error, VSB_DRIVER_ERROR_OPERATION_INVALID,
                             "cannot change persistent config of a transient domain");
            return false;
        }
        if (!(new_config = vsb_domain_def_copy(dom->config, error)))
            return false;
        memtune_to_def(mt, new_config);
        if (!check_memtune(new_config, error))
            return false;
    }
    if (live) {
        want_live = *dom->live;
        memtune_to_def(mt, &want_live);
        if (!check_memtune(&want_live, error) || !apply_memtune(dom, mt, error))
            return false;
        memtune_to_def(mt, dom->live);
    }
    if (config) {
        if (!vsb_domain_save_config(dom, new_config, error))
            return false;
        vsb_domain_def_free(dom->config);
        dom->config = g_steal_pointer(&new_config);
    }
    return true;
}
