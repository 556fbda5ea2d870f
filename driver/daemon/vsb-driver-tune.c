/*
 * vsb-driver-tune.c: what the daemon does to a running domain's
 * cgroups itself, without its controller: suspend / resume through the
 * freezer, and the live and persistent tuning changes (memtune,
 * setmem, schedinfo, blkiotune).  The controller created the cgroups
 * (vsb-cgroup.h); the daemon finds them again by name
 * (vsb-cgroup-tune.h).
 *
 * A tuning change is all or nothing per definition: the new persistent
 * definition is built and checked first, the live change applied to
 * the cgroups next, and only then are the definitions replaced and
 * saved (the live one in run_dir/NAME.xml, which is what a restarted
 * daemon reattaches with).
 */
#include <config.h>

#include "vsb-cgroup-tune.h"
#include "vsb-driver-priv.h"
#include "vsb-util.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

/* virDomainPausedReason, virDomainRunningReason, event details */
#define VSB_PAUSED_USER 1
#define VSB_RUNNING_UNPAUSED 5
#define VSB_EVENT_SUSPENDED_PAUSED 0
#define VSB_EVENT_RESUMED_UNPAUSED 0

VsbCgroupPayload *
vsb_domain_open_payload(VsbDomain *dom, GError **error)
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
    if (!(p = vsb_domain_open_payload(dom, error)))
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
    if (!(p = vsb_domain_open_payload(dom, error)))
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
/* Shared by the tuning changes (see vsb-driver-priv.h)                */

/* The running definition goes where a restarted daemon reattaches
 * from (the controller published it there first). */
static bool
save_live(VsbDomain *dom, GError **error)
{
    g_autofree char *path = vsb_driver_run_file(dom->drv, dom->name, "xml");
    g_autofree char *xml = vsb_domain_def_format(dom->live, vsb_domain_get_id(dom));
    g_autoptr(GError) local = NULL;

    if (!vsb_file_write_atomic(path, xml, strlen(xml), 0600, &local)) {
        vsb_driver_error(error, VSB_DRIVER_ERROR_OPERATION_FAILED,
                         "cannot save the live definition of domain '%s': %s", dom->name,
                         local->message);
        return false;
    }
    return true;
}

bool
vsb_domain_begin_change(VsbDomain *dom, bool live, bool config, VsbDomainDef **new_live,
                        VsbDomainDef **new_config, GError **error)
{
    *new_live = *new_config = NULL;
    if (live && !require_active(dom, error))
        return false;
    if (config && !dom->config) {
        vsb_driver_error(error, VSB_DRIVER_ERROR_OPERATION_INVALID,
                         "cannot change persistent config of a transient domain");
        return false;
    }
    if (live && !(*new_live = vsb_domain_def_copy(dom->live, error)))
        return false;
    if (config && !(*new_config = vsb_domain_def_copy(dom->config, error))) {
        g_clear_pointer(new_live, vsb_domain_def_free);
        return false;
    }
    return true;
}

bool
vsb_domain_commit_change(VsbDomain *dom, VsbDomainDef *new_live, VsbDomainDef *new_config,
                         GError **error)
{
    if (new_live) {
        vsb_domain_def_free(dom->live);
        dom->live = new_live;
        if (!save_live(dom, error)) {
            vsb_domain_def_free(new_config);
            return false;
        }
    }
    if (new_config) {
        if (!vsb_domain_save_config(dom, new_config, error)) {
            vsb_domain_def_free(new_config);
            return false;
        }
        vsb_domain_def_free(dom->config);
        dom->config = new_config;
    }
    return true;
}

bool
vsb_driver_cgroup_failed(GError **error, GError *cause, const char *what)
{
    vsb_driver_error(error,
                     g_error_matches(cause, VSB_ERROR, VSB_ERROR_UNSUPPORTED)
                         ? VSB_DRIVER_ERROR_OPERATION_UNSUPPORTED
                         : VSB_DRIVER_ERROR_OPERATION_FAILED,
                     "%s: %s", what, cause->message);
    g_error_free(cause);
    return false;
}

/* ------------------------------------------------------------------ */
/* memtune and setmem                                                  */

static guint64
limit_bytes(unsigned long long kib)
{
    return kib == 0 || kib >= VSB_MEMTUNE_UNLIMITED ? VSB_CGROUP_UNLIMITED : kib * 1024;
}

/* Put @want's memory limits in force: the hard limit is the balloon
 * capped by <memtune> (vsb_domain_def_hard_limit_kib).  Written in an
 * order each step is valid in: v1 refuses limit_in_bytes above
 * memsw.limit_in_bytes, so a growing swap limit goes first, a
 * shrinking one last. */
static bool
apply_memory(VsbDomain *dom, const VsbDomainDef *want, bool set_soft, bool set_swap,
             GError **error)
{
    g_autoptr(VsbCgroupPayload) p = NULL;
    GError *local = NULL;
    guint64 cur_swap = VSB_CGROUP_UNLIMITED;
    guint64 swap = limit_bytes(want->mem_swap_kib);
    bool swap_first;

    if (!(p = vsb_domain_open_payload(dom, error)))
        return false;
    if (set_swap)
        vsb_cgroup_payload_get_memory(p, VSB_CGROUP_MEM_SWAP, &cur_swap, NULL);
    swap_first = set_swap && swap >= cur_swap;
    if ((swap_first && !vsb_cgroup_payload_set_memory(p, VSB_CGROUP_MEM_SWAP, swap, &local)) ||
        !vsb_cgroup_payload_set_memory(p, VSB_CGROUP_MEM_HARD,
                                       limit_bytes(vsb_domain_def_hard_limit_kib(want)),
                                       &local) ||
        (set_swap && !swap_first &&
         !vsb_cgroup_payload_set_memory(p, VSB_CGROUP_MEM_SWAP, swap, &local)) ||
        (set_soft && !vsb_cgroup_payload_set_memory(p, VSB_CGROUP_MEM_SOFT,
                                                    limit_bytes(want->mem_soft_kib), &local)))
        return vsb_driver_cgroup_failed(error, local, "Failed to set memory for domain");
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
    VsbDomainDef *new_live = NULL, *new_config = NULL;

    if (!vsb_domain_begin_change(dom, live, config, &new_live, &new_config, error))
        return false;
    if (new_config) {
        memtune_to_def(mt, new_config);
        if (!check_memtune(new_config, error))
            goto fail;
    }
    if (new_live) {
        memtune_to_def(mt, new_live);
        if (!check_memtune(new_live, error) ||
            !apply_memory(dom, new_live, mt->set_soft, mt->set_swap, error))
            goto fail;
    }
    return vsb_domain_commit_change(dom, new_live, new_config, error);

fail:
    vsb_domain_def_free(new_live);
    vsb_domain_def_free(new_config);
    return false;
}

/* <memory> of @def, the host's memory when not given (the bound then). */
static unsigned long long
max_memory_kib(const VsbDomainDef *def)
{
    return def->memory_kib ? def->memory_kib : vsb_driver_host_memory_kib();
}

bool
vsb_driver_set_memory(VsbDriver *drv, VsbDomain *dom, unsigned long long kib, bool maximum,
                      bool live, bool config, GError **error)
{
    VsbDomainDef *new_live = NULL, *new_config = NULL;
    unsigned long long max = 0;

    if (kib == 0) {
        vsb_driver_error(error, VSB_DRIVER_ERROR_INVALID_ARG, "memory must not be zero");
        return false;
    }
    if (maximum && live) {
        vsb_driver_error(error, VSB_DRIVER_ERROR_OPERATION_INVALID,
                         "Cannot resize the max memory on an active domain");
        return false;
    }
    if (!vsb_domain_begin_change(dom, live, config, &new_live, &new_config, error))
        return false;
    if (maximum) {
        /* The balloon stays where it was (libvirt's keeps its
         * cur_balloon): an implicit one becomes explicit. */
        if (!new_config->current_memory_kib)
            new_config->current_memory_kib = new_config->memory_kib;
        new_config->memory_kib = kib;
        if (new_config->current_memory_kib > kib)
            new_config->current_memory_kib = kib;
        return vsb_domain_commit_change(dom, NULL, new_config, error);
    }
    /* Not above the smaller maximum of the definitions it changes. */
    if (new_live)
        max = max_memory_kib(new_live);
    if (new_config && (!max || max_memory_kib(new_config) < max))
        max = max_memory_kib(new_config);
    if (kib > max) {
        vsb_driver_error(error, VSB_DRIVER_ERROR_INVALID_ARG,
                         "Cannot set memory higher than max memory");
        goto fail;
    }
    if (new_config)
        new_config->current_memory_kib = kib;
    if (new_live) {
        new_live->current_memory_kib = kib;
        if (!apply_memory(dom, new_live, false, false, error))
            goto fail;
    }
    return vsb_domain_commit_change(dom, new_live, new_config, error);

fail:
    vsb_domain_def_free(new_live);
    vsb_domain_def_free(new_config);
    return false;
}

/* ------------------------------------------------------------------ */
/* schedinfo                                                           */

static bool
check_sched(const VsbSchedParams *sp, GError **error)
{
    if (sp->set_shares &&
        (sp->shares < VSB_SCHED_SHARES_MIN || sp->shares > VSB_SCHED_SHARES_MAX)) {
        vsb_driver_error(error, VSB_DRIVER_ERROR_INVALID_ARG,
                         "cpu_shares '%llu' must be in range [%llu, %llu]", sp->shares,
                         VSB_SCHED_SHARES_MIN, VSB_SCHED_SHARES_MAX);
        return false;
    }
    /* 0 leaves period and quota as they are, as libvirt's does. */
    if (sp->set_period && sp->period_us &&
        (sp->period_us < VSB_SCHED_PERIOD_MIN || sp->period_us > VSB_SCHED_PERIOD_MAX)) {
        vsb_driver_error(error, VSB_DRIVER_ERROR_INVALID_ARG,
                         "vcpu_period '%llu' must be in range [%llu, %llu]", sp->period_us,
                         VSB_SCHED_PERIOD_MIN, VSB_SCHED_PERIOD_MAX);
        return false;
    }
    if (sp->set_quota && sp->quota_us > 0 &&
        (sp->quota_us < VSB_SCHED_QUOTA_MIN || sp->quota_us > VSB_SCHED_QUOTA_MAX)) {
        vsb_driver_error(error, VSB_DRIVER_ERROR_INVALID_ARG,
                         "vcpu_quota '%lld' must be -1 or in range [%lld, %lld]", sp->quota_us,
                         VSB_SCHED_QUOTA_MIN, VSB_SCHED_QUOTA_MAX);
        return false;
    }
    return true;
}

static void
sched_to_def(const VsbSchedParams *sp, VsbDomainDef *def)
{
    if (sp->set_shares)
        def->cpu_shares = sp->shares;
    if (sp->set_period && sp->period_us)
        def->cpu_period_us = sp->period_us;
    if (sp->set_quota && sp->quota_us)
        def->cpu_quota_us = sp->quota_us < 0 ? -1 : sp->quota_us;
}

void
vsb_domain_def_get_sched(const VsbDomainDef *def, bool live, VsbSchedParams *sp)
{
    memset(sp, 0, sizeof(*sp));
    sp->shares = def->cpu_shares;
    sp->period_us = def->cpu_period_us;
    sp->quota_us = def->cpu_quota_us;
    if (live) {
        /* what the kernel applies to a cgroup nobody tuned */
        sp->shares = sp->shares ? sp->shares : 1024;
        sp->period_us = sp->period_us ? sp->period_us : 100000;
        sp->quota_us = sp->quota_us > 0 ? sp->quota_us : -1;
    }
}

bool
vsb_driver_set_sched(VsbDriver *drv, VsbDomain *dom, const VsbSchedParams *sp, bool live,
                     bool config, GError **error)
{
    VsbDomainDef *new_live = NULL, *new_config = NULL;
    g_autoptr(VsbCgroupPayload) p = NULL;
    GError *local = NULL;

    if (!check_sched(sp, error) ||
        !vsb_domain_begin_change(dom, live, config, &new_live, &new_config, error))
        return false;
    if (new_config)
        sched_to_def(sp, new_config);
    if (new_live) {
        if (!(p = vsb_domain_open_payload(dom, error)))
            goto fail;
        if (sp->set_shares && !vsb_cgroup_payload_set_cpu_shares(p, sp->shares, &local)) {
            vsb_driver_cgroup_failed(error, local, "Failed to set cpu_shares");
            goto fail;
        }
        if ((sp->set_period || sp->set_quota) &&
            !vsb_cgroup_payload_set_cpu_bandwidth(p, sp->set_period ? sp->period_us : 0,
                                                  sp->set_quota ? sp->quota_us : 0, &local)) {
            vsb_driver_cgroup_failed(error, local, "Failed to set the CPU bandwidth");
            goto fail;
        }
        sched_to_def(sp, new_live);
    }
    return vsb_domain_commit_change(dom, new_live, new_config, error);

fail:
    vsb_domain_def_free(new_live);
    vsb_domain_def_free(new_config);
    return false;
}
