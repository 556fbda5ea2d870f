/*
 * vsb-rpc-procs-tune.c: tuning and statistics procedures: memtune,
 * setmem / setmaxmem, schedinfo, blkiotune, dommemstat, domifstat, domstats.
 *
 * Only the wire's side lives here (flags, typed parameters, replies);
 * the semantics are the driver's (vsb-driver-tune.c,
 * vsb-driver-blkio.c, vsb-driver-stats.c, vsb-driver-net.c).
 */
#include <config.h>

#include "vsb-rpc-dispatch-priv.h"

#include <string.h>

#define AFFECT (VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG)

bool
vsb_rpc_tune_target(VsbRpcCall *call, const vsb_rpc_nonnull_domain *wire, unsigned int flags,
                    unsigned int extra, const char *api, bool set, VsbRpcTuneTarget *t,
                    GError **error)
{
    bool active;

    memset(t, 0, sizeof(*t));
    if (!vsb_rpc_check_flags(flags, AFFECT | extra, api, error))
        return false;
    if (!(t->dom = vsb_rpc_lookup(call, wire, error)))
        return false;
    active = vsb_domain_is_active(t->dom);
    t->live = flags & VIR_DOMAIN_AFFECT_LIVE;
    t->config = flags & VIR_DOMAIN_AFFECT_CONFIG;
    if (!set && t->live && t->config) {
        vsb_rpc_set_error(error, VIR_ERR_INVALID_ARG,
                          "flags 'affect live' and 'affect config' are mutually exclusive");
        return false;
    }
    if (!t->live && !t->config) {
        t->live = active;
        t->config = !active;
    }
    if (t->live && !active) {
        vsb_rpc_set_error(error, VIR_ERR_OPERATION_INVALID, "domain is not running");
        return false;
    }
    if (t->config && !vsb_domain_is_persistent(t->dom)) {
        vsb_rpc_set_error(error, VIR_ERR_OPERATION_INVALID,
                          "transient domains do not have any persistent config");
        return false;
    }
    t->def = vsb_domain_get_def(t->dom, !t->live);
    return true;
}

static bool
check_nparams(int nparams, GError **error)
{
    if (nparams < 0 || nparams > VSB_RPC_TUNING_PARAMS_MAX) {
        vsb_rpc_set_error(error, VIR_ERR_RPC, "nparams too large");
        return false;
    }
    return true;
}

/* Hand the first @want of @n parameters @p to the reply, free the rest. */
static void
params_to_reply(vsb_rpc_param *p, guint n, int want, vsb_rpc_param **out, u_int *out_len)
{
    guint keep = MIN((guint)want, n);

    *out = g_new0(vsb_rpc_param, MAX(keep, 1));
    memcpy(*out, p, keep * sizeof(p[0]));
    *out_len = keep;
    for (guint i = keep; i < n; i++)
        xdr_free((xdrproc_t)xdr_vsb_rpc_param, (char *)&p[i]);
}

/* A typed parameter of the type libvirt's API gives it. */
static bool
param_type(const vsb_rpc_param *p, int type, const char *name, GError **error)
{
    if (p->value.type != type) {
        vsb_rpc_set_error(error, VIR_ERR_INVALID_ARG,
                          "invalid type for parameter '%s', expected '%s'", p->field, name);
        return false;
    }
    return true;
}

static bool
param_ullong(const vsb_rpc_param *p, unsigned long long *v, GError **error)
{
    if (!param_type(p, VSB_RPC_PARAM_ULLONG, "ullong", error))
        return false;
    *v = p->value.vsb_rpc_param_value_u.ul;
    return true;
}

static bool
unknown_param(const vsb_rpc_param *p, GError **error)
{
    vsb_rpc_set_error(error, VIR_ERR_INVALID_ARG, "parameter '%s' not supported", p->field);
    return false;
}

/* ------------------------------------------------------------------ */
/* memtune                                                             */
/* ------------------------------------------------------------------ */

static bool
proc_get_memory_parameters(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_get_params_args *args = a;
    vsb_rpc_domain_get_params_ret *ret = r;
    const unsigned long long unlimited = VIR_DOMAIN_MEMORY_PARAM_UNLIMITED;
    const VsbDomainDef *def;
    VsbRpcTuneTarget t;
    vsb_rpc_param p[3] = { 0 };
    unsigned long long balloon;

    if (!check_nparams(args->nparams, error) ||
        !vsb_rpc_tune_target(call, &args->dom, args->flags, VIR_TYPED_PARAM_STRING_OKAY,
                             "virDomainGetMemoryParameters", VSB_RPC_TUNE_GET, &t, error))
        return false;
    if (args->nparams == 0) {
        ret->nparams = G_N_ELEMENTS(p);   /* the client asks how many first */
        return true;
    }
    def = t.def;
    /* Not given, the hard limit is the balloon's (<currentMemory>,
     * else <memory>): that is what the cgroup holds. */
    balloon = def->current_memory_kib ? def->current_memory_kib : def->memory_kib;
    vsb_rpc_param_set_ullong(&p[0], "hard_limit", def->mem_hard_kib ? def->mem_hard_kib :
                             balloon ? balloon : unlimited);
    vsb_rpc_param_set_ullong(&p[1], "soft_limit", def->mem_soft_kib ? def->mem_soft_kib :
                             unlimited);
    vsb_rpc_param_set_ullong(&p[2], "swap_hard_limit", def->mem_swap_kib ? def->mem_swap_kib :
                             unlimited);
    params_to_reply(p, G_N_ELEMENTS(p), args->nparams, &ret->params.params_val,
                    &ret->params.params_len);
    ret->nparams = ret->params.params_len;
    return true;
}

static bool
proc_set_memory_parameters(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_set_params_args *args = a;
    VsbMemtune mt = { 0 };
    VsbRpcTuneTarget t;

    if (!vsb_rpc_params_check(args->params.params_val, args->params.params_len, error))
        return false;
    for (guint i = 0; i < args->params.params_len; i++) {
        const vsb_rpc_param *p = &args->params.params_val[i];
        unsigned long long *v;

        if (g_str_equal(p->field, "hard_limit")) {
            mt.set_hard = true;
            v = &mt.hard_kib;
        } else if (g_str_equal(p->field, "soft_limit")) {
            mt.set_soft = true;
            v = &mt.soft_kib;
        } else if (g_str_equal(p->field, "swap_hard_limit")) {
            mt.set_swap = true;
            v = &mt.swap_kib;
        } else if (g_str_equal(p->field, "min_guarantee")) {
            vsb_rpc_set_error(error, VIR_ERR_CONFIG_UNSUPPORTED,
                              "min_guarantee is not supported by the LXC driver");
            return false;
        } else {
            return unknown_param(p, error);
        }
        if (!param_ullong(p, v, error))
            return false;
    }
    if (!vsb_rpc_tune_target(call, &args->dom, args->flags, 0, "virDomainSetMemoryParameters",
                             VSB_RPC_TUNE_SET, &t, error))
        return false;
    return vsb_driver_set_memtune(vsb_rpc_call_driver(call), t.dom, &mt, t.live, t.config,
                                  error);
}

/* ------------------------------------------------------------------ */
/* setmem / setmaxmem                                                  */
/* ------------------------------------------------------------------ */

static bool
set_memory(VsbRpcCall *call, const vsb_rpc_nonnull_domain *wire, unsigned long long kib,
           unsigned int flags, const char *api, GError **error)
{
    VsbRpcTuneTarget t;

    if (!vsb_rpc_tune_target(call, wire, flags, VIR_DOMAIN_MEM_MAXIMUM, api, VSB_RPC_TUNE_SET,
                             &t, error))
        return false;
    return vsb_driver_set_memory(vsb_rpc_call_driver(call), t.dom, kib,
                                 (flags & VIR_DOMAIN_MEM_MAXIMUM) != 0, t.live, t.config, error);
}

static bool
proc_set_memory_flags(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_set_memory_flags_args *args = a;

    return set_memory(call, &args->dom, args->memory, args->flags, "virDomainSetMemoryFlags",
                      error);
}

/* libvirt's own: setmem is SetMemoryFlags(LIVE), setmaxmem is
 * SetMemoryFlags(MAXIMUM) ("current": config when inactive). */
static bool
proc_set_memory(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_set_memory_args *args = a;

    return set_memory(call, &args->dom, args->memory, VIR_DOMAIN_AFFECT_LIVE,
                      "virDomainSetMemory", error);
}

static bool
proc_set_max_memory(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_set_memory_args *args = a;

    return set_memory(call, &args->dom, args->memory, VIR_DOMAIN_MEM_MAXIMUM,
                      "virDomainSetMaxMemory", error);
}

/* ------------------------------------------------------------------ */
/* schedinfo                                                           */
/* ------------------------------------------------------------------ */

#define SCHED_NPARAMS 3   /* cpu_shares, vcpu_period, vcpu_quota */

static bool
proc_get_scheduler_type(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_args *args = a;
    vsb_rpc_domain_get_scheduler_type_ret *ret = r;

    if (!vsb_rpc_lookup(call, &args->dom, error))
        return false;
    ret->type = g_strdup("posix");
    ret->nparams = SCHED_NPARAMS;
    return true;
}

static bool
scheduler_params(VsbRpcCall *call, const vsb_rpc_nonnull_domain *wire, int nparams,
                 unsigned int flags, vsb_rpc_domain_get_scheduler_parameters_ret *ret,
                 GError **error)
{
    vsb_rpc_param p[SCHED_NPARAMS] = { 0 };
    VsbSchedParams sp;
    VsbRpcTuneTarget t;

    if (!check_nparams(nparams, error) ||
        !vsb_rpc_tune_target(call, wire, flags, VIR_TYPED_PARAM_STRING_OKAY,
                             "virDomainGetSchedulerParametersFlags", VSB_RPC_TUNE_GET, &t, error))
        return false;
    vsb_domain_def_get_sched(t.def, t.live, &sp);
    vsb_rpc_param_set_ullong(&p[0], "cpu_shares", sp.shares);
    vsb_rpc_param_set_ullong(&p[1], "vcpu_period", sp.period_us);
    vsb_rpc_param_set_llong(&p[2], "vcpu_quota", sp.quota_us);
    params_to_reply(p, G_N_ELEMENTS(p), nparams, &ret->params.params_val,
                    &ret->params.params_len);
    return true;
}

static bool
proc_get_scheduler_parameters(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_get_scheduler_parameters_args *args = a;

    return scheduler_params(call, &args->dom, args->nparams, 0, r, error);
}

static bool
proc_get_scheduler_parameters_flags(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_get_params_args *args = a;

    return scheduler_params(call, &args->dom, args->nparams, args->flags, r, error);
}

static bool
set_scheduler(VsbRpcCall *call, const vsb_rpc_nonnull_domain *wire, const vsb_rpc_param *params,
              guint n, unsigned int flags, GError **error)
{
    VsbSchedParams sp = { 0 };
    VsbRpcTuneTarget t;

    if (!vsb_rpc_params_check(params, n, error))
        return false;
    for (guint i = 0; i < n; i++) {
        const vsb_rpc_param *p = &params[i];

        if (g_str_equal(p->field, "cpu_shares")) {
            sp.set_shares = true;
            if (!param_ullong(p, &sp.shares, error))
                return false;
        } else if (g_str_equal(p->field, "vcpu_period")) {
            sp.set_period = true;
            if (!param_ullong(p, &sp.period_us, error))
                return false;
        } else if (g_str_equal(p->field, "vcpu_quota")) {
            sp.set_quota = true;
            if (!param_type(p, VSB_RPC_PARAM_LLONG, "llong", error))
                return false;
            sp.quota_us = p->value.vsb_rpc_param_value_u.l;
        } else {
            return unknown_param(p, error);
        }
    }
    if (!vsb_rpc_tune_target(call, wire, flags, 0, "virDomainSetSchedulerParametersFlags",
                             VSB_RPC_TUNE_SET, &t, error))
        return false;
    return vsb_driver_set_sched(vsb_rpc_call_driver(call), t.dom, &sp, t.live, t.config, error);
}

static bool
proc_set_scheduler_parameters(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_set_scheduler_parameters_args *args = a;

    return set_scheduler(call, &args->dom, args->params.params_val, args->params.params_len, 0,
                         error);
}

static bool
proc_set_scheduler_parameters_flags(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_set_params_args *args = a;

    return set_scheduler(call, &args->dom, args->params.params_val, args->params.params_len,
                         args->flags, error);
}

/* ------------------------------------------------------------------ */
/* blkiotune                                                           */
/* ------------------------------------------------------------------ */

#define BLKIO_NPARAMS (1 + VSB_BLKIO_DEVICE_LAST)   /* weight, then the device lists */

static bool
proc_get_blkio_parameters(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_get_params_args *args = a;
    vsb_rpc_domain_get_params_ret *ret = r;
    vsb_rpc_param p[BLKIO_NPARAMS] = { 0 };
    VsbRpcTuneTarget t;
    guint n = 0;

    if (!check_nparams(args->nparams, error) ||
        !vsb_rpc_tune_target(call, &args->dom, args->flags, VIR_TYPED_PARAM_STRING_OKAY,
                             "virDomainGetBlkioParameters", VSB_RPC_TUNE_GET, &t, error))
        return false;
    if (args->nparams == 0) {
        ret->nparams = BLKIO_NPARAMS;
        return true;
    }
    vsb_rpc_param_set_uint(&p[n++], "weight", t.def->blkio_weight);
    /* The device lists are strings: only for a client that said it
     * reads them (libvirt's daemon drops them likewise). */
    if (args->flags & VIR_TYPED_PARAM_STRING_OKAY) {
        for (int f = 0; f < VSB_BLKIO_DEVICE_LAST; f++) {
            g_autofree char *list = vsb_blkio_format_list(t.def, f);

            vsb_rpc_param_set_string(&p[n++], vsb_blkio_field_to_string(f), list);
        }
    }
    params_to_reply(p, n, args->nparams, &ret->params.params_val, &ret->params.params_len);
    ret->nparams = ret->params.params_len;
    return true;
}

static bool
proc_set_blkio_parameters(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_set_params_args *args = a;
    g_autoptr(GPtrArray) devices =
        g_ptr_array_new_with_free_func((GDestroyNotify)vsb_blkio_setting_free);
    VsbBlkiotune bt = { .devices = devices };
    VsbRpcTuneTarget t;

    if (!vsb_rpc_params_check(args->params.params_val, args->params.params_len, error))
        return false;
    for (guint i = 0; i < args->params.params_len; i++) {
        const vsb_rpc_param *p = &args->params.params_val[i];
        int field;

        if (g_str_equal(p->field, "weight")) {
            if (!param_type(p, VSB_RPC_PARAM_UINT, "uint", error))
                return false;
            bt.set_weight = true;
            bt.weight = p->value.vsb_rpc_param_value_u.ui;
        } else if ((field = vsb_blkio_field_from_string(p->field)) >= 0) {
            if (!param_type(p, VSB_RPC_PARAM_STRING, "string", error) ||
                !vsb_blkio_parse_list(p->value.vsb_rpc_param_value_u.s, field, devices, error))
                return false;
        } else {
            return unknown_param(p, error);
        }
    }
    if (!vsb_rpc_tune_target(call, &args->dom, args->flags, 0, "virDomainSetBlkioParameters",
                             VSB_RPC_TUNE_SET, &t, error))
        return false;
    return vsb_driver_set_blkiotune(vsb_rpc_call_driver(call), t.dom, &bt, t.live, t.config,
                                    error);
}

/* ------------------------------------------------------------------ */
/* Statistics                                                          */
/* ------------------------------------------------------------------ */

static bool
proc_memory_stats(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_memory_stats_args *args = a;
    vsb_rpc_domain_memory_stats_ret *ret = r;
    VsbDomainStats st;
    VsbDomain *dom;
    struct { int tag; unsigned long long val; } all[6];
    guint n = 0, k = 0;

    if (!vsb_rpc_check_flags(args->flags, 0, "virDomainMemoryStats", error))
        return false;
    if (args->max_stats > VSB_RPC_MEMORY_STATS_MAX) {
        vsb_rpc_set_error(error, VIR_ERR_RPC, "maxStats > %d", VSB_RPC_MEMORY_STATS_MAX);
        return false;
    }
    if (!(dom = vsb_rpc_lookup(call, &args->dom, error)))
        return false;
    if (!vsb_domain_is_active(dom)) {
        vsb_rpc_set_error(error, VIR_ERR_OPERATION_INVALID, "domain is not running");
        return false;
    }
    if (!vsb_driver_get_stats(vsb_rpc_call_driver(call), dom, &st, error))
        return false;
    /* The hard limit in force is the balloon; swap in/out and faults
     * have no per-cgroup meaning worth reporting. */
    all[n].tag = VIR_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON;
    all[n++].val = st.balloon_kib;
    if (st.have_mem) {
        all[n].tag = VIR_DOMAIN_MEMORY_STAT_UNUSED;
        all[n++].val = st.unused_kib;
        all[n].tag = VIR_DOMAIN_MEMORY_STAT_AVAILABLE;
        all[n++].val = st.balloon_kib;
        all[n].tag = VIR_DOMAIN_MEMORY_STAT_RSS;
        all[n++].val = st.rss_kib;
        all[n].tag = VIR_DOMAIN_MEMORY_STAT_USABLE;
        all[n++].val = st.usable_kib;
    }
    all[n].tag = VIR_DOMAIN_MEMORY_STAT_LAST_UPDATE;
    all[n++].val = g_get_real_time() / G_USEC_PER_SEC;
    ret->stats.stats_val = g_new0(vsb_rpc_domain_memory_stat, n);
    for (k = 0; k < n && k < args->max_stats; k++) {
        ret->stats.stats_val[k].tag = all[k].tag;
        ret->stats.stats_val[k].val = all[k].val;
    }
    ret->stats.stats_len = k;
    return true;
}

static bool
proc_interface_stats(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_interface_stats_args *args = a;
    vsb_rpc_domain_interface_stats_ret *ret = r;
    VsbInterfaceStats st;
    VsbDomain *dom;

    if (!(dom = vsb_rpc_lookup(call, &args->dom, error)) ||
        !vsb_driver_interface_stats(dom, args->device, &st, error))
        return false;
    ret->rx_bytes = st.rx_bytes;
    ret->rx_packets = st.rx_packets;
    ret->rx_errs = st.rx_errs;
    ret->rx_drop = st.rx_drop;
    ret->tx_bytes = st.tx_bytes;
    ret->tx_packets = st.tx_packets;
    ret->tx_errs = st.tx_errs;
    ret->tx_drop = st.tx_drop;
    return true;
}

#define STATS_SUPPORTED (VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL | \
                         VIR_DOMAIN_STATS_BALLOON | VIR_DOMAIN_STATS_VCPU | \
                         VIR_DOMAIN_STATS_INTERFACE | VIR_DOMAIN_STATS_BLOCK)
#define STATS_LIST_FLAGS 0xffu   /* ACTIVE ... OTHER */

static void
add_ullong(GArray *a, const char *field, unsigned long long v)
{
    vsb_rpc_param p = { 0 };

    vsb_rpc_param_set_ullong(&p, field, v);
    g_array_append_val(a, p);
}

/* Our own figures (KiB for sizes).  virsh domstats knows no group for
 * them, so they travel with BALLOON, the group of what the container
 * takes from the host's memory: kernel memory and OOM figures are
 * memory; the tasks count is there too because a fork bomb is fought
 * next to the memory limit and a client asking for memory figures is
 * the one watching for it. */
static void
sandbox_stats(const VsbDomainStats *st, GArray *a)
{
    if (st->have_mem) {
        add_ullong(a, "sandbox.memory.used", st->used_kib);
        add_ullong(a, "sandbox.memory.cache", st->cache_kib);
        add_ullong(a, "sandbox.memory.swap", st->swap_kib);
        add_ullong(a, "sandbox.memory.oom_kill", st->oom_kills);
        add_ullong(a, "sandbox.memory.failcnt", st->failcnt);
    }
    if (st->have_kmem) {
        add_ullong(a, "sandbox.memory.kernel", st->kmem_kib);
        add_ullong(a, "sandbox.memory.kernel.slab", st->kmem_slab_kib);
        add_ullong(a, "sandbox.memory.kernel.sock", st->kmem_sock_kib);
    }
    if (st->have_pids) {
        add_ullong(a, "sandbox.pids.current", st->pids_current);
        if (st->pids_max)
            add_ullong(a, "sandbox.pids.max", st->pids_max);
    }
}

/* libvirt's net.* group: the veth pairs, counted from the guest's side. */
static void
interface_stats(VsbDomain *dom, GArray *a)
{
    g_autoptr(GArray) all = vsb_driver_all_interface_stats(dom);
    vsb_rpc_param p = { 0 };

    vsb_rpc_param_set_uint(&p, "net.count", all->len);
    g_array_append_val(a, p);
    for (guint i = 0; i < all->len; i++) {
        const VsbInterfaceStats *st = &g_array_index(all, VsbInterfaceStats, i);
        const struct { const char *f; long long v; } figures[] = {
            { "rx.bytes", st->rx_bytes }, { "rx.pkts", st->rx_packets },
            { "rx.errs", st->rx_errs }, { "rx.drop", st->rx_drop },
            { "tx.bytes", st->tx_bytes }, { "tx.pkts", st->tx_packets },
            { "tx.errs", st->tx_errs }, { "tx.drop", st->tx_drop },
        };
        g_autofree char *name = g_strdup_printf("net.%u.name", i);

        vsb_rpc_param_set_string(&p, name, st->name);
        g_array_append_val(a, p);
        for (gsize k = 0; k < G_N_ELEMENTS(figures); k++) {
            g_autofree char *field = g_strdup_printf("net.%u.%s", i, figures[k].f);

            add_ullong(a, field, (unsigned long long)figures[k].v);
        }
    }
}

static void
domain_stats(VsbRpcCall *call, VsbDomain *dom, unsigned int stats,
             vsb_rpc_domain_stats_record *rec)
{
    g_autoptr(GArray) a = g_array_new(FALSE, TRUE, sizeof(vsb_rpc_param));
    VsbDomainStats st;
    VsbDomainInfo info;
    vsb_rpc_param p = { 0 };
    int reason = 0;
    bool live = vsb_domain_is_active(dom);

    vsb_rpc_domain_to_wire(dom, &rec->dom);
    vsb_domain_get_info(dom, &info);
    /* A domain that ended meanwhile: what the definition says. */
    if (!vsb_driver_get_stats(vsb_rpc_call_driver(call), dom, &st, NULL))
        live = false;
    if (stats & VIR_DOMAIN_STATS_STATE) {
        vsb_rpc_param_set_int(&p, "state.state", vsb_domain_get_state(dom, &reason));
        g_array_append_val(a, p);
        vsb_rpc_param_set_int(&p, "state.reason", reason);
        g_array_append_val(a, p);
    }
    if ((stats & VIR_DOMAIN_STATS_CPU_TOTAL) && live && st.have_cpu) {
        add_ullong(a, "cpu.time", st.cpu_time_ns);
        add_ullong(a, "cpu.user", st.cpu_user_ns);
        add_ullong(a, "cpu.system", st.cpu_system_ns);
    }
    if (stats & VIR_DOMAIN_STATS_BALLOON) {
        add_ullong(a, "balloon.current", st.balloon_kib);
        add_ullong(a, "balloon.maximum", st.max_kib);
        if (live && st.have_mem) {
            add_ullong(a, "balloon.unused", st.unused_kib);
            add_ullong(a, "balloon.available", st.balloon_kib);
            add_ullong(a, "balloon.rss", st.rss_kib);
            add_ullong(a, "balloon.usable", st.usable_kib);
        }
        if (live)
            sandbox_stats(&st, a);
    }
    /* A container has no disks of its own (block.count stays out); what
     * its tasks read and wrote through the block layer, all devices
     * together, is its I/O figure. */
    if ((stats & VIR_DOMAIN_STATS_BLOCK) && live && st.have_io) {
        add_ullong(a, "sandbox.io.read_bytes", st.io_read_bytes);
        add_ullong(a, "sandbox.io.write_bytes", st.io_write_bytes);
        add_ullong(a, "sandbox.io.read_ops", st.io_read_ops);
        add_ullong(a, "sandbox.io.write_ops", st.io_write_ops);
    }
    if (stats & VIR_DOMAIN_STATS_VCPU) {
        vsb_rpc_param_set_uint(&p, "vcpu.current", info.nr_virt_cpu);
        g_array_append_val(a, p);
        vsb_rpc_param_set_uint(&p, "vcpu.maximum", info.nr_virt_cpu);
        g_array_append_val(a, p);
    }
    if ((stats & VIR_DOMAIN_STATS_INTERFACE) && live)
        interface_stats(dom, a);
    rec->params.params_len = a->len;
    rec->params.params_val = (vsb_rpc_param *)(void *)g_array_free(g_steal_pointer(&a), FALSE);
}

/* @dom passes the listing filters of virConnectGetAllDomainStats. */
static bool
stats_list_match(VsbDomain *dom, unsigned int f)
{
    bool active = vsb_domain_is_active(dom);
    bool persistent = vsb_domain_is_persistent(dom);
    VsbDomainState st;

    if ((f & (VIR_CONNECT_LIST_DOMAINS_ACTIVE | VIR_CONNECT_LIST_DOMAINS_INACTIVE)) &&
        !((f & VIR_CONNECT_LIST_DOMAINS_ACTIVE && active) ||
          (f & VIR_CONNECT_LIST_DOMAINS_INACTIVE && !active)))
        return false;
    if ((f & (VIR_CONNECT_LIST_DOMAINS_PERSISTENT | VIR_CONNECT_LIST_DOMAINS_TRANSIENT)) &&
        !((f & VIR_CONNECT_LIST_DOMAINS_PERSISTENT && persistent) ||
          (f & VIR_CONNECT_LIST_DOMAINS_TRANSIENT && !persistent)))
        return false;
    if (!(f & (VIR_CONNECT_LIST_DOMAINS_RUNNING | VIR_CONNECT_LIST_DOMAINS_PAUSED |
               VIR_CONNECT_LIST_DOMAINS_SHUTOFF | VIR_CONNECT_LIST_DOMAINS_OTHER)))
        return true;
    st = vsb_domain_get_state(dom, NULL);
    return (f & VIR_CONNECT_LIST_DOMAINS_RUNNING && st == VSB_DOMAIN_STATE_RUNNING) ||
           (f & VIR_CONNECT_LIST_DOMAINS_PAUSED && st == VSB_DOMAIN_STATE_PAUSED) ||
           (f & VIR_CONNECT_LIST_DOMAINS_SHUTOFF && st == VSB_DOMAIN_STATE_SHUTOFF) ||
           (f & VIR_CONNECT_LIST_DOMAINS_OTHER && st != VSB_DOMAIN_STATE_RUNNING &&
            st != VSB_DOMAIN_STATE_PAUSED && st != VSB_DOMAIN_STATE_SHUTOFF);
}

static bool
proc_get_all_domain_stats(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_get_all_domain_stats_args *args = a;
    vsb_rpc_get_all_domain_stats_ret *ret = r;
    VsbDriver *drv = vsb_rpc_call_driver(call);
    g_autoptr(GPtrArray) doms = g_ptr_array_new();
    unsigned int stats = args->stats;

    if (!vsb_rpc_check_flags(args->flags,
                             STATS_LIST_FLAGS | VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT |
                             VIR_CONNECT_GET_ALL_DOMAINS_STATS_BACKING |
                             VIR_CONNECT_GET_ALL_DOMAINS_STATS_ENFORCE_STATS,
                             "virConnectGetAllDomainStats", error))
        return false;
    if ((args->flags & VIR_CONNECT_GET_ALL_DOMAINS_STATS_ENFORCE_STATS) &&
        (stats & ~STATS_SUPPORTED)) {
        vsb_rpc_set_error(error, VIR_ERR_ARGUMENT_UNSUPPORTED,
                          "Stats types bits 0x%x are not supported by this daemon",
                          stats & ~STATS_SUPPORTED);
        return false;
    }
    stats = stats ? stats & STATS_SUPPORTED : STATS_SUPPORTED;

    if (args->doms.doms_len > 0) {
        if (args->flags & STATS_LIST_FLAGS) {
            vsb_rpc_set_error(error, VIR_ERR_INVALID_ARG,
                              "domain list filters apply to listing all domains only");
            return false;
        }
        for (guint i = 0; i < args->doms.doms_len; i++) {
            VsbDomain *dom = vsb_rpc_lookup(call, &args->doms.doms_val[i], error);

            if (!dom)
                return false;
            g_ptr_array_add(doms, dom);
        }
    } else {
        g_autoptr(GPtrArray) all = vsb_driver_list(drv, 0);

        for (guint i = 0; all && i < all->len; i++) {
            if (stats_list_match(g_ptr_array_index(all, i), args->flags))
                g_ptr_array_add(doms, g_ptr_array_index(all, i));
        }
    }
    if (doms->len > VSB_RPC_DOMAIN_LIST_MAX) {
        vsb_rpc_set_error(error, VIR_ERR_RPC, "Too many domains '%u' for limit '%d'", doms->len,
                          VSB_RPC_DOMAIN_LIST_MAX);
        return false;
    }
    ret->stats.stats_len = doms->len;
    ret->stats.stats_val = g_new0(vsb_rpc_domain_stats_record, MAX(doms->len, 1));
    for (guint i = 0; i < doms->len; i++)
        domain_stats(call, g_ptr_array_index(doms, i), stats, &ret->stats.stats_val[i]);
    return true;
}

/* ------------------------------------------------------------------ */

#define R VSB_RPC_PROGRAM_REMOTE
#define W VSB_RPC_PROC_WRITE
#define NONE vsb_rpc_none
#define D vsb_rpc_domain_args
#define GETP vsb_rpc_domain_get_params_args
#define SETP vsb_rpc_domain_set_params_args

const VsbRpcProc vsb_rpc_procs_tune[] = {
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_GET_MEMORY_PARAMETERS, "virDomainGetMemoryParameters",
                 GETP, vsb_rpc_domain_get_params_ret, proc_get_memory_parameters, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_SET_MEMORY_PARAMETERS, "virDomainSetMemoryParameters",
                 SETP, NONE, proc_set_memory_parameters, W),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_SET_MEMORY_FLAGS, "virDomainSetMemoryFlags",
                 vsb_rpc_domain_set_memory_flags_args, NONE, proc_set_memory_flags, W),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_SET_MEMORY, "virDomainSetMemory",
                 vsb_rpc_domain_set_memory_args, NONE, proc_set_memory, W),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_SET_MAX_MEMORY, "virDomainSetMaxMemory",
                 vsb_rpc_domain_set_memory_args, NONE, proc_set_max_memory, W),

    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_GET_SCHEDULER_TYPE, "virDomainGetSchedulerType", D,
                 vsb_rpc_domain_get_scheduler_type_ret, proc_get_scheduler_type, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_GET_SCHEDULER_PARAMETERS,
                 "virDomainGetSchedulerParameters", vsb_rpc_domain_get_scheduler_parameters_args,
                 vsb_rpc_domain_get_scheduler_parameters_ret, proc_get_scheduler_parameters, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_GET_SCHEDULER_PARAMETERS_FLAGS,
                 "virDomainGetSchedulerParametersFlags", GETP,
                 vsb_rpc_domain_get_scheduler_parameters_ret,
                 proc_get_scheduler_parameters_flags, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_SET_SCHEDULER_PARAMETERS,
                 "virDomainSetSchedulerParameters", vsb_rpc_domain_set_scheduler_parameters_args,
                 NONE, proc_set_scheduler_parameters, W),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_SET_SCHEDULER_PARAMETERS_FLAGS,
                 "virDomainSetSchedulerParametersFlags", SETP, NONE,
                 proc_set_scheduler_parameters_flags, W),

    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_GET_BLKIO_PARAMETERS, "virDomainGetBlkioParameters",
                 GETP, vsb_rpc_domain_get_params_ret, proc_get_blkio_parameters, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_SET_BLKIO_PARAMETERS, "virDomainSetBlkioParameters",
                 SETP, NONE, proc_set_blkio_parameters, W),

    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_INTERFACE_STATS, "virDomainInterfaceStats",
                 vsb_rpc_domain_interface_stats_args, vsb_rpc_domain_interface_stats_ret,
                 proc_interface_stats, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_MEMORY_STATS, "virDomainMemoryStats",
                 vsb_rpc_domain_memory_stats_args, vsb_rpc_domain_memory_stats_ret,
                 proc_memory_stats, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_CONNECT_GET_ALL_DOMAIN_STATS, "virConnectGetAllDomainStats",
                 vsb_rpc_get_all_domain_stats_args, vsb_rpc_get_all_domain_stats_ret,
                 proc_get_all_domain_stats, 0),
};
const gsize vsb_rpc_procs_tune_len = G_N_ELEMENTS(vsb_rpc_procs_tune);
