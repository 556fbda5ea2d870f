/*
 * vsb-rpc-procs-domain.c: per-domain procedures (lookups, XML,
 * lifecycle, information, console, namespaces).
 */
#include <config.h>

#include "vsb-rpc-dispatch-priv.h"
#include "vsb-util.h"

#include <string.h>
#include <unistd.h>

/* libvirt's shutdown/reboot modes we implement (see vsb-driver.h). */
#define SHUTDOWN_MODES (VSB_SHUTDOWN_INITCTL | VSB_SHUTDOWN_SIGNAL)

static bool
ret_domain(VsbDomain *dom, void *r)
{
    vsb_rpc_domain_ret *ret = r;

    vsb_rpc_domain_to_wire(dom, &ret->dom);
    return true;
}

/* ------------------------------------------------------------------ */
/* Lookups                                                             */
/* ------------------------------------------------------------------ */

static bool
proc_lookup_by_id(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_lookup_by_id_args *args = a;
    VsbDomain *dom = vsb_driver_lookup_by_id(vsb_rpc_call_driver(call), args->id, error);

    return dom && ret_domain(dom, r);
}

static bool
proc_lookup_by_name(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_lookup_by_name_args *args = a;
    VsbDomain *dom = vsb_driver_lookup_by_name(vsb_rpc_call_driver(call), args->name, error);

    return dom && ret_domain(dom, r);
}

static bool
proc_lookup_by_uuid(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_lookup_by_uuid_args *args = a;
    VsbDomain *dom = vsb_driver_lookup_by_uuid(vsb_rpc_call_driver(call),
                                               (const unsigned char *)args->uuid, error);

    return dom && ret_domain(dom, r);
}

/* ------------------------------------------------------------------ */
/* Information                                                         */
/* ------------------------------------------------------------------ */

static bool
proc_get_state(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_flags_args *args = a;
    vsb_rpc_domain_get_state_ret *ret = r;
    VsbDomain *dom;
    int reason = 0;

    if (!vsb_rpc_check_flags(args->flags, 0, "virDomainGetState", error))
        return false;
    if (!(dom = vsb_rpc_lookup(call, &args->dom, error)))
        return false;
    ret->state = vsb_domain_get_state(dom, &reason);
    ret->reason = reason;
    return true;
}

static bool
proc_get_info(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_args *args = a;
    vsb_rpc_domain_get_info_ret *ret = r;
    VsbDomainInfo info = { 0 };
    VsbDomain *dom;

    if (!(dom = vsb_rpc_lookup(call, &args->dom, error)))
        return false;
    vsb_domain_get_info(dom, &info);
    ret->state = info.state;
    ret->max_mem = info.max_mem_kib;
    ret->memory = info.memory_kib;
    ret->nr_virt_cpu = MIN(info.nr_virt_cpu, (unsigned int)G_MAXUINT16);
    ret->cpu_time = info.cpu_time_ns;
    return true;
}

static bool
proc_get_os_type(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_args *args = a;
    vsb_rpc_string_ret *ret = r;

    if (!vsb_rpc_lookup(call, &args->dom, error))
        return false;
    ret->str = g_strdup("exe");
    return true;
}

static bool
proc_get_max_memory(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_args *args = a;
    vsb_rpc_uhyper_ret *ret = r;
    VsbDomainInfo info = { 0 };
    VsbDomain *dom;

    if (!(dom = vsb_rpc_lookup(call, &args->dom, error)))
        return false;
    vsb_domain_get_info(dom, &info);
    ret->value = info.max_mem_kib;
    return true;
}

static bool
proc_is_active(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_args *args = a;
    vsb_rpc_int_ret *ret = r;
    VsbDomain *dom;

    if (!(dom = vsb_rpc_lookup(call, &args->dom, error)))
        return false;
    ret->value = vsb_domain_is_active(dom);
    return true;
}

static bool
proc_is_persistent(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_args *args = a;
    vsb_rpc_int_ret *ret = r;
    VsbDomain *dom;

    if (!(dom = vsb_rpc_lookup(call, &args->dom, error)))
        return false;
    ret->value = vsb_domain_is_persistent(dom);
    return true;
}

/* Whether the live definition differs from the persistent one in a
 * way the running domain has not applied: definitions are only ever
 * replaced whole, so never. */
static bool
proc_is_updated(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_args *args = a;
    vsb_rpc_int_ret *ret = r;

    if (!vsb_rpc_lookup(call, &args->dom, error))
        return false;
    ret->value = 0;
    return true;
}

static bool
proc_get_autostart(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_args *args = a;
    vsb_rpc_int_ret *ret = r;
    VsbDomain *dom;

    if (!(dom = vsb_rpc_lookup(call, &args->dom, error)))
        return false;
    ret->value = vsb_domain_get_autostart(dom);
    return true;
}

static bool
proc_set_autostart(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_int_args *args = a;
    VsbDomain *dom;

    if (!(dom = vsb_rpc_lookup(call, &args->dom, error)))
        return false;
    return vsb_driver_set_autostart(vsb_rpc_call_driver(call), dom, args->value != 0, error);
}

static bool
proc_get_xml_desc(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_flags_args *args = a;
    vsb_rpc_string_ret *ret = r;
    VsbDomain *dom;

    if (!vsb_rpc_check_flags(args->flags,
                             VIR_DOMAIN_XML_SECURE | VIR_DOMAIN_XML_INACTIVE |
                             VIR_DOMAIN_XML_MIGRATABLE, "virDomainGetXMLDesc", error))
        return false;
    if (call->conn->readonly && (args->flags & VIR_DOMAIN_XML_SECURE)) {
        vsb_rpc_set_error(error, VIR_ERR_OPERATION_DENIED, "virDomainGetXMLDesc with secure flag");
        return false;
    }
    if (!(dom = vsb_rpc_lookup(call, &args->dom, error)))
        return false;
    ret->str = vsb_domain_get_xml(dom, (args->flags & VIR_DOMAIN_XML_INACTIVE) != 0);
    if (!ret->str) {
        vsb_rpc_set_error(error, VIR_ERR_INTERNAL_ERROR, "cannot format the XML of domain '%s'",
                          vsb_domain_get_name(dom));
        return false;
    }
    return true;
}

static bool
proc_get_control_info(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_flags_args *args = a;
    vsb_rpc_domain_get_control_info_ret *ret = r;
    VsbDomain *dom;

    if (!vsb_rpc_check_flags(args->flags, 0, "virDomainGetControlInfo", error))
        return false;
    if (!(dom = vsb_rpc_lookup(call, &args->dom, error)))
        return false;
    if (!vsb_domain_is_active(dom)) {
        vsb_rpc_set_error(error, VIR_ERR_OPERATION_INVALID, "domain is not running");
        return false;
    }
    /* The controller answers at once or not at all: always "ok". */
    ret->state = 0;
    return true;
}

static bool
proc_get_job_info(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_args *args = a;

    /* No long-running jobs exist: type 0 (VIR_DOMAIN_JOB_NONE), all
     * counters 0. */
    return vsb_rpc_lookup(call, &args->dom, error) != NULL;
}

static bool
proc_has_managed_save(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_flags_args *args = a;
    vsb_rpc_int_ret *ret = r;

    if (!vsb_rpc_check_flags(args->flags, 0, "virDomainHasManagedSaveImage", error))
        return false;
    if (!vsb_rpc_lookup(call, &args->dom, error))
        return false;
    ret->value = 0;
    return true;
}

static bool
proc_get_security_label(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_args *args = a;
    vsb_rpc_domain_get_security_label_ret *ret = r;

    if (!vsb_rpc_lookup(call, &args->dom, error))
        return false;
    /* Security model "none": an empty label, not enforcing. */
    ret->label.label_len = 1;
    ret->label.label_val = g_strdup("");
    ret->enforcing = 0;
    return true;
}

static bool
proc_get_messages(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_flags_args *args = a;

    /* nothing deprecated or tainting is ever recorded */
    if (!vsb_rpc_check_flags(args->flags,
                             VIR_DOMAIN_MESSAGE_DEPRECATION | VIR_DOMAIN_MESSAGE_TAINTING,
                             "virDomainGetMessages", error))
        return false;
    return vsb_rpc_lookup(call, &args->dom, error) != NULL;
}

static const VsbDomainDef *tuning_def(VsbDomain *dom, unsigned int flags, GError **error);

static bool
proc_get_metadata(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_get_metadata_args *args = a;
    vsb_rpc_string_ret *ret = r;
    const VsbDomainDef *def;
    const char *value = NULL;
    VsbDomain *dom;

    if (!vsb_rpc_check_flags(args->flags, VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG,
                             "virDomainGetMetadata", error))
        return false;
    if (!(dom = vsb_rpc_lookup(call, &args->dom, error)))
        return false;
    if (!(def = tuning_def(dom, args->flags, error)))
        return false;
    switch (args->type) {
    case VIR_DOMAIN_METADATA_TITLE:
        value = def->title;
        break;
    case VIR_DOMAIN_METADATA_DESCRIPTION:
        value = def->description;
        break;
    case VIR_DOMAIN_METADATA_ELEMENT:
        /* Foreign <metadata> children are kept as text only; clients
         * read them from the XML. */
        vsb_rpc_set_error(error, VIR_ERR_ARGUMENT_UNSUPPORTED,
                          "metadata elements are only available in the domain XML");
        return false;
    default:
        vsb_rpc_set_error(error, VIR_ERR_INVALID_ARG, "unknown metadata type %d", args->type);
        return false;
    }
    if (!value) {
        vsb_rpc_set_error(error, VIR_ERR_NO_DOMAIN_METADATA,
                          "Requested metadata element is not present");
        return false;
    }
    ret->str = g_strdup(value);
    return true;
}

/* ------------------------------------------------------------------ */
/* Tuning, read from the definition                                    */
/* ------------------------------------------------------------------ */

/* The definition a tuning call with @flags (VIR_DOMAIN_AFFECT_*)
 * reads. */
static const VsbDomainDef *
tuning_def(VsbDomain *dom, unsigned int flags, GError **error)
{
    bool live = flags & VIR_DOMAIN_AFFECT_LIVE;
    bool config = flags & VIR_DOMAIN_AFFECT_CONFIG;

    if (live && config) {
        vsb_rpc_set_error(error, VIR_ERR_INVALID_ARG,
                          "flags 'affect live' and 'affect config' are mutually exclusive");
        return NULL;
    }
    if (!live && !config)
        live = vsb_domain_is_active(dom);
    if (live && !vsb_domain_is_active(dom)) {
        vsb_rpc_set_error(error, VIR_ERR_OPERATION_INVALID, "domain is not running");
        return NULL;
    }
    if (config && !vsb_domain_is_persistent(dom)) {
        vsb_rpc_set_error(error, VIR_ERR_OPERATION_INVALID,
                          "cannot change persistent config of a transient domain");
        return NULL;
    }
    return vsb_domain_get_def(dom, !live);
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

static bool
proc_get_memory_parameters(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_get_params_args *args = a;
    vsb_rpc_domain_get_params_ret *ret = r;
    const unsigned long long unlimited = VIR_DOMAIN_MEMORY_PARAM_UNLIMITED;
    const VsbDomainDef *def;
    VsbDomain *dom;
    vsb_rpc_param p[3] = { 0 };
    guint n;

    if (!vsb_rpc_check_flags(args->flags, VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG |
                             VIR_TYPED_PARAM_STRING_OKAY, "virDomainGetMemoryParameters", error))
        return false;
    if (!check_nparams(args->nparams, error))
        return false;
    if (!(dom = vsb_rpc_lookup(call, &args->dom, error)))
        return false;
    if (args->nparams == 0) {
        ret->nparams = G_N_ELEMENTS(p);   /* the client asks how many first */
        return true;
    }
    if (!(def = tuning_def(dom, args->flags, error)))
        return false;
    /* <memtune><hard_limit>, else <memory>, is the hard limit the
     * controller sets. */
    vsb_rpc_param_set_ullong(&p[0], "hard_limit", def->mem_hard_kib ? def->mem_hard_kib :
                             def->memory_kib ? def->memory_kib : unlimited);
    vsb_rpc_param_set_ullong(&p[1], "soft_limit", def->mem_soft_kib ? def->mem_soft_kib :
                             unlimited);
    vsb_rpc_param_set_ullong(&p[2], "swap_hard_limit", def->mem_swap_kib ? def->mem_swap_kib :
                             unlimited);
    n = MIN((guint)args->nparams, G_N_ELEMENTS(p));
    ret->params.params_len = n;
    ret->params.params_val = g_new0(vsb_rpc_param, n);
    memcpy(ret->params.params_val, p, n * sizeof(p[0]));
    for (guint i = n; i < G_N_ELEMENTS(p); i++)
        xdr_free((xdrproc_t)xdr_vsb_rpc_param, (char *)&p[i]);
    ret->nparams = n;
    return true;
}

/* What a tuning change with @flags (VIR_DOMAIN_AFFECT_*) changes,
 * libvirt's way: "current" is live when running, else config. */
static bool
tuning_affect(VsbDomain *dom, unsigned int flags, bool *live, bool *config, GError **error)
{
    *live = flags & VIR_DOMAIN_AFFECT_LIVE;
    *config = flags & VIR_DOMAIN_AFFECT_CONFIG;
    if (!*live && !*config) {
        *live = vsb_domain_is_active(dom);
        *config = !*live;
    }
    if (*live && !vsb_domain_is_active(dom)) {
        vsb_rpc_set_error(error, VIR_ERR_OPERATION_INVALID, "domain is not running");
        return false;
    }
    if (*config && !vsb_domain_is_persistent(dom)) {
        vsb_rpc_set_error(error, VIR_ERR_OPERATION_INVALID,
                          "transient domains do not have any persistent config");
        return false;
    }
    return true;
}

/* An unsigned long long typed parameter's value. */
static bool
param_ullong(const vsb_rpc_param *p, unsigned long long *v, GError **error)
{
    if (p->value.type != VSB_RPC_PARAM_ULLONG) {
        vsb_rpc_set_error(error, VIR_ERR_INVALID_ARG,
                          "invalid type for parameter '%s', expected 'ullong'", p->field);
        return false;
    }
    *v = p->value.vsb_rpc_param_value_u.ul;
    return true;
}

static bool
proc_set_memory_parameters(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_set_params_args *args = a;
    VsbMemtune mt = { 0 };
    bool live, config;
    VsbDomain *dom;

    if (!vsb_rpc_check_flags(args->flags, VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG,
                             "virDomainSetMemoryParameters", error))
        return false;
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
            vsb_rpc_set_error(error, VIR_ERR_INVALID_ARG, "parameter '%s' not supported",
                              p->field);
            return false;
        }
        if (!param_ullong(p, v, error))
            return false;
    }
    if (!(dom = vsb_rpc_lookup(call, &args->dom, error)) ||
        !tuning_affect(dom, args->flags, &live, &config, error))
        return false;
    return vsb_driver_set_memtune(vsb_rpc_call_driver(call), dom, &mt, live, config, error);
}

/* A container's "vcpus": <vcpu> (how many CPUs it may use), one when
 * not given. */
static bool
proc_get_vcpus_flags(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_flags_args *args = a;
    vsb_rpc_int_ret *ret = r;
    const VsbDomainDef *def;
    VsbDomain *dom;

    if (!vsb_rpc_check_flags(args->flags, VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG |
                             VIR_DOMAIN_VCPU_MAXIMUM, "virDomainGetVcpusFlags", error))
        return false;
    if (!(dom = vsb_rpc_lookup(call, &args->dom, error)))
        return false;
    if (!(def = tuning_def(dom, args->flags & ~VIR_DOMAIN_VCPU_MAXIMUM, error)))
        return false;
    ret->value = def->vcpus ? (int)def->vcpus : 1;
    return true;
}

static bool
proc_get_max_vcpus(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_args *args = a;
    vsb_rpc_int_ret *ret = r;
    const VsbDomainDef *def;
    VsbDomain *dom;

    if (!(dom = vsb_rpc_lookup(call, &args->dom, error)))
        return false;
    if (!vsb_domain_is_active(dom)) {
        vsb_rpc_set_error(error, VIR_ERR_OPERATION_INVALID, "domain is not running");
        return false;
    }
    def = vsb_domain_get_def(dom, false);
    ret->value = def && def->vcpus ? (int)def->vcpus : 1;
    return true;
}

static bool
proc_get_scheduler_type(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_args *args = a;
    vsb_rpc_domain_get_scheduler_type_ret *ret = r;

    if (!vsb_rpc_lookup(call, &args->dom, error))
        return false;
    ret->type = g_strdup("posix");
    ret->nparams = 1;   /* cpu_shares */
    return true;
}

static bool
scheduler_params(VsbRpcCall *call, const vsb_rpc_nonnull_domain *wire, int nparams,
                 unsigned int flags, vsb_rpc_domain_get_scheduler_parameters_ret *ret,
                 GError **error)
{
    const VsbDomainDef *def;
    VsbDomain *dom;

    if (!check_nparams(nparams, error))
        return false;
    if (!(dom = vsb_rpc_lookup(call, wire, error)))
        return false;
    if (!(def = tuning_def(dom, flags, error)))
        return false;
    if (nparams < 1)
        return true;
    ret->params.params_len = 1;
    ret->params.params_val = g_new0(vsb_rpc_param, 1);
    vsb_rpc_param_set_ullong(&ret->params.params_val[0], "cpu_shares", def->cpu_shares);
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

    if (!vsb_rpc_check_flags(args->flags, VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG |
                             VIR_TYPED_PARAM_STRING_OKAY, "virDomainGetSchedulerParametersFlags",
                             error))
        return false;
    return scheduler_params(call, &args->dom, args->nparams, args->flags, r, error);
}

/* ------------------------------------------------------------------ */
/* Statistics                                                          */
/* ------------------------------------------------------------------ */

static bool
proc_memory_stats(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_memory_stats_args *args = a;
    vsb_rpc_domain_memory_stats_ret *ret = r;
    VsbDomainInfo info = { 0 };
    VsbDomain *dom;
    guint n = 0;

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
    vsb_domain_get_info(dom, &info);
    ret->stats.stats_val = g_new0(vsb_rpc_domain_memory_stat, 2);
    /* The limit plays the balloon's part; what the cgroup uses is the
     * resident set. */
    if (n < args->max_stats) {
        ret->stats.stats_val[n].tag = VIR_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON;
        ret->stats.stats_val[n++].val = info.max_mem_kib;
    }
    if (n < args->max_stats) {
        ret->stats.stats_val[n].tag = VIR_DOMAIN_MEMORY_STAT_RSS;
        ret->stats.stats_val[n++].val = info.memory_kib;
    }
    ret->stats.stats_len = n;
    return true;
}

#define STATS_SUPPORTED (VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL | \
                         VIR_DOMAIN_STATS_BALLOON | VIR_DOMAIN_STATS_VCPU)
#define STATS_LIST_FLAGS 0xffu   /* ACTIVE ... OTHER */

static void
domain_stats(VsbDomain *dom, unsigned int stats, vsb_rpc_domain_stats_record *rec)
{
    VsbDomainInfo info = { 0 };
    vsb_rpc_param *p;
    int reason = 0;
    guint n = 0;

    vsb_domain_get_info(dom, &info);
    vsb_rpc_domain_to_wire(dom, &rec->dom);
    p = g_new0(vsb_rpc_param, 8);
    if (stats & VIR_DOMAIN_STATS_STATE) {
        vsb_rpc_param_set_int(&p[n++], "state.state", vsb_domain_get_state(dom, &reason));
        vsb_rpc_param_set_int(&p[n++], "state.reason", reason);
    }
    if (stats & VIR_DOMAIN_STATS_CPU_TOTAL)
        vsb_rpc_param_set_ullong(&p[n++], "cpu.time", info.cpu_time_ns);
    if (stats & VIR_DOMAIN_STATS_BALLOON) {
        vsb_rpc_param_set_ullong(&p[n++], "balloon.current", info.memory_kib);
        vsb_rpc_param_set_ullong(&p[n++], "balloon.maximum", info.max_mem_kib);
    }
    if (stats & VIR_DOMAIN_STATS_VCPU) {
        vsb_rpc_param_set_uint(&p[n++], "vcpu.current", info.nr_virt_cpu);
        vsb_rpc_param_set_uint(&p[n++], "vcpu.maximum", info.nr_virt_cpu);
    }
    rec->params.params_len = n;
    rec->params.params_val = p;
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
        unsigned int f = args->flags;

        for (guint i = 0; all && i < all->len; i++) {
            VsbDomain *dom = g_ptr_array_index(all, i);
            bool active = vsb_domain_is_active(dom);
            bool persistent = vsb_domain_is_persistent(dom);

            if ((f & (VIR_CONNECT_LIST_DOMAINS_ACTIVE | VIR_CONNECT_LIST_DOMAINS_INACTIVE)) &&
                !((f & VIR_CONNECT_LIST_DOMAINS_ACTIVE && active) ||
                  (f & VIR_CONNECT_LIST_DOMAINS_INACTIVE && !active)))
                continue;
            if ((f & (VIR_CONNECT_LIST_DOMAINS_PERSISTENT | VIR_CONNECT_LIST_DOMAINS_TRANSIENT)) &&
                !((f & VIR_CONNECT_LIST_DOMAINS_PERSISTENT && persistent) ||
                  (f & VIR_CONNECT_LIST_DOMAINS_TRANSIENT && !persistent)))
                continue;
            if (f & (VIR_CONNECT_LIST_DOMAINS_RUNNING | VIR_CONNECT_LIST_DOMAINS_PAUSED |
                     VIR_CONNECT_LIST_DOMAINS_SHUTOFF | VIR_CONNECT_LIST_DOMAINS_OTHER)) {
                VsbDomainState st = vsb_domain_get_state(dom, NULL);
                bool ok = (f & VIR_CONNECT_LIST_DOMAINS_RUNNING && st == VSB_DOMAIN_STATE_RUNNING) ||
                          (f & VIR_CONNECT_LIST_DOMAINS_PAUSED && st == VSB_DOMAIN_STATE_PAUSED) ||
                          (f & VIR_CONNECT_LIST_DOMAINS_SHUTOFF && st == VSB_DOMAIN_STATE_SHUTOFF) ||
                          (f & VIR_CONNECT_LIST_DOMAINS_OTHER && st != VSB_DOMAIN_STATE_RUNNING &&
                           st != VSB_DOMAIN_STATE_PAUSED && st != VSB_DOMAIN_STATE_SHUTOFF);
                if (!ok)
                    continue;
            }
            g_ptr_array_add(doms, dom);
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
        domain_stats(g_ptr_array_index(doms, i), stats, &ret->stats.stats_val[i]);
    return true;
}

/* ------------------------------------------------------------------ */
/* Definitions and lifecycle                                           */
/* ------------------------------------------------------------------ */

static bool
proc_define_xml(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_define_xml_args *args = a;
    VsbDomain *dom = vsb_driver_define_xml(vsb_rpc_call_driver(call), args->xml, error);

    return dom && ret_domain(dom, r);
}

static bool
proc_define_xml_flags(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_xml_flags_args *args = a;
    VsbDomain *dom;

    /* VALIDATE: our parser rejects whatever libvirt's schema would. */
    if (!vsb_rpc_check_flags(args->flags, VIR_DOMAIN_DEFINE_VALIDATE, "virDomainDefineXMLFlags",
                             error))
        return false;
    dom = vsb_driver_define_xml(vsb_rpc_call_driver(call), args->xml, error);
    return dom && ret_domain(dom, r);
}

static bool
undefine(VsbRpcCall *call, const vsb_rpc_nonnull_domain *wire, GError **error)
{
    VsbDomain *dom = vsb_rpc_lookup(call, wire, error);

    return dom && vsb_driver_undefine(vsb_rpc_call_driver(call), dom, error);
}

static bool
proc_undefine(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_args *args = a;

    return undefine(call, &args->dom, error);
}

static bool
proc_undefine_flags(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_flags_args *args = a;

    /* Removing managed save images, snapshot or checkpoint metadata is
     * trivially done: there are none. */
    if (!vsb_rpc_check_flags(args->flags,
                             VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
                             VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                             VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA,
                             "virDomainUndefineFlags", error))
        return false;
    return undefine(call, &args->dom, error);
}

static void
remember_autodestroy(VsbRpcCall *call, VsbDomain *dom)
{
    VsbDomainRef ref = { 0 };
    unsigned char *uuid = g_malloc(16);

    vsb_domain_get_ref(dom, &ref);
    memcpy(uuid, ref.uuid, 16);
    g_ptr_array_add(call->conn->autodestroy, uuid);
    vsb_domain_ref_clear(&ref);
}

static bool
start(VsbRpcCall *call, const vsb_rpc_nonnull_domain *wire, unsigned int flags, void *r,
      GError **error)
{
    VsbDomain *dom;

    if (!vsb_rpc_check_flags(flags, VIR_DOMAIN_START_AUTODESTROY, "virDomainCreateWithFlags",
                             error))
        return false;
    if (!(dom = vsb_rpc_lookup(call, wire, error)))
        return false;
    if (!vsb_driver_start(vsb_rpc_call_driver(call), dom, error))
        return false;
    if (flags & VIR_DOMAIN_START_AUTODESTROY)
        remember_autodestroy(call, dom);
    return r ? ret_domain(dom, r) : true;
}

static bool
proc_create(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_args *args = a;

    /* No reply body: the client looks the domain up again for its id. */
    return start(call, &args->dom, 0, NULL, error);
}

static bool
proc_create_with_flags(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_flags_args *args = a;

    return start(call, &args->dom, args->flags, r, error);
}

static bool
proc_create_xml(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_xml_flags_args *args = a;
    VsbDomain *dom;

    if (!vsb_rpc_check_flags(args->flags, VIR_DOMAIN_START_AUTODESTROY | VIR_DOMAIN_START_VALIDATE,
                             "virDomainCreateXML", error))
        return false;
    if (!(dom = vsb_driver_create_xml(vsb_rpc_call_driver(call), args->xml, error)))
        return false;
    if (args->flags & VIR_DOMAIN_START_AUTODESTROY)
        remember_autodestroy(call, dom);
    return ret_domain(dom, r);
}

static bool
destroy(VsbRpcCall *call, const vsb_rpc_nonnull_domain *wire, GError **error)
{
    VsbDomain *dom = vsb_rpc_lookup(call, wire, error);

    return dom && vsb_driver_destroy(vsb_rpc_call_driver(call), dom, error);
}

static bool
proc_suspend(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_args *args = a;
    VsbDomain *dom = vsb_rpc_lookup(call, &args->dom, error);

    return dom && vsb_driver_suspend(vsb_rpc_call_driver(call), dom, error);
}

static bool
proc_resume(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_args *args = a;
    VsbDomain *dom = vsb_rpc_lookup(call, &args->dom, error);

    return dom && vsb_driver_resume(vsb_rpc_call_driver(call), dom, error);
}

static bool
proc_destroy(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_args *args = a;

    return destroy(call, &args->dom, error);
}

static bool
proc_destroy_flags(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_flags_args *args = a;

    if (!vsb_rpc_check_flags(args->flags, 0, "virDomainDestroyFlags", error))
        return false;
    return destroy(call, &args->dom, error);
}

static bool
shutdown_domain(VsbRpcCall *call, const vsb_rpc_nonnull_domain *wire, unsigned int flags,
                GError **error)
{
    VsbDomain *dom;

    if (!vsb_rpc_check_flags(flags, SHUTDOWN_MODES, "virDomainShutdownFlags", error))
        return false;
    if (!(dom = vsb_rpc_lookup(call, wire, error)))
        return false;
    return vsb_driver_shutdown(vsb_rpc_call_driver(call), dom, flags, error);
}

static bool
proc_shutdown(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_args *args = a;

    return shutdown_domain(call, &args->dom, 0, error);
}

static bool
proc_shutdown_flags(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_flags_args *args = a;

    return shutdown_domain(call, &args->dom, args->flags, error);
}

static bool
proc_reboot(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_flags_args *args = a;
    VsbDomain *dom;

    if (!vsb_rpc_check_flags(args->flags, SHUTDOWN_MODES, "virDomainReboot", error))
        return false;
    if (!(dom = vsb_rpc_lookup(call, &args->dom, error)))
        return false;
    return vsb_driver_reboot(vsb_rpc_call_driver(call), dom, args->flags, error);
}

/* ------------------------------------------------------------------ */
/* Console and namespaces                                              */
/* ------------------------------------------------------------------ */

static void
console_start(VsbRpcCall *call, gpointer data)
{
    vsb_rpc_stream_start(data);
}

static bool
proc_open_console(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_open_console_args *args = a;
    VsbRpcConn *conn = call->conn;
    const char *dev = args->dev_name ? *args->dev_name : NULL;
    const VsbDomainDef *def;
    VsbRpcStream *st;
    VsbDomain *dom;
    int fd;

    if (!vsb_rpc_check_flags(args->flags, VIR_DOMAIN_CONSOLE_FORCE | VIR_DOMAIN_CONSOLE_SAFE,
                             "virDomainOpenConsole", error))
        return false;
    if (!(dom = vsb_rpc_lookup(call, &args->dom, error)))
        return false;
    if (!vsb_domain_is_active(dom)) {
        vsb_rpc_set_error(error, VIR_ERR_OPERATION_INVALID, "domain is not running");
        return false;
    }
    /* One console, which clients name by its alias (virt-manager) or
     * as the first serial port. */
    def = vsb_domain_get_def(dom, false);
    if (dev && strcmp(dev, "console0") != 0 && strcmp(dev, "serial0") != 0) {
        vsb_rpc_set_error(error, VIR_ERR_INTERNAL_ERROR, "cannot find console device '%s'", dev);
        return false;
    }
    if (def && !def->has_console) {
        vsb_rpc_set_error(error, VIR_ERR_INTERNAL_ERROR, "cannot find default console device");
        return false;
    }
    if (g_hash_table_contains(conn->streams, GUINT_TO_POINTER(call->msg->header.serial))) {
        vsb_rpc_set_error(error, VIR_ERR_RPC, "a stream with serial %u is already open",
                          call->msg->header.serial);
        return false;
    }
    fd = vsb_driver_open_console(vsb_rpc_call_driver(call), dom,
                                 (args->flags & VIR_DOMAIN_CONSOLE_FORCE) != 0, error);
    if (fd < 0)
        return false;
    st = vsb_rpc_stream_new(conn, &call->msg->header, fd);
    /* Data may flow only once the reply is on its way. */
    call->after_reply = console_start;
    call->after_data = st;
    call->after_free = (GDestroyNotify)vsb_rpc_stream_free;
    return true;
}

static bool
proc_open_namespace(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_flags_args *args = a;
    g_autoptr(GArray) fds = NULL;
    VsbDomain *dom;

    if (!vsb_rpc_check_flags(args->flags, 0, "virDomainLxcOpenNamespace", error))
        return false;
    if (!(dom = vsb_rpc_lookup(call, &args->dom, error)))
        return false;
    if (!(fds = vsb_driver_open_namespaces(vsb_rpc_call_driver(call), dom, error)))
        return false;
    if (fds->len > VSB_RPC_FDS_MAX) {
        for (guint i = 0; i < fds->len; i++)
            close(g_array_index(fds, int, i));
        vsb_rpc_set_error(error, VIR_ERR_INTERNAL_ERROR, "too many namespaces");
        return false;
    }
    g_array_append_vals(call->reply_fds, fds->data, fds->len);
    return true;
}

/* ------------------------------------------------------------------ */

#define R VSB_RPC_PROGRAM_REMOTE
#define W VSB_RPC_PROC_WRITE
#define NONE vsb_rpc_none
#define D vsb_rpc_domain_args
#define DF vsb_rpc_domain_flags_args

const VsbRpcProc vsb_rpc_procs_domain[] = {
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_LOOKUP_BY_ID, "virDomainLookupByID",
                 vsb_rpc_lookup_by_id_args, vsb_rpc_domain_ret, proc_lookup_by_id, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_LOOKUP_BY_NAME, "virDomainLookupByName",
                 vsb_rpc_lookup_by_name_args, vsb_rpc_domain_ret, proc_lookup_by_name, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_LOOKUP_BY_UUID, "virDomainLookupByUUID",
                 vsb_rpc_lookup_by_uuid_args, vsb_rpc_domain_ret, proc_lookup_by_uuid, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_GET_STATE, "virDomainGetState", DF,
                 vsb_rpc_domain_get_state_ret, proc_get_state, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_GET_INFO, "virDomainGetInfo", D,
                 vsb_rpc_domain_get_info_ret, proc_get_info, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_GET_OS_TYPE, "virDomainGetOSType", D,
                 vsb_rpc_string_ret, proc_get_os_type, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_GET_MAX_MEMORY, "virDomainGetMaxMemory", D,
                 vsb_rpc_uhyper_ret, proc_get_max_memory, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_IS_ACTIVE, "virDomainIsActive", D, vsb_rpc_int_ret,
                 proc_is_active, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_IS_PERSISTENT, "virDomainIsPersistent", D,
                 vsb_rpc_int_ret, proc_is_persistent, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_IS_UPDATED, "virDomainIsUpdated", D, vsb_rpc_int_ret,
                 proc_is_updated, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_GET_AUTOSTART, "virDomainGetAutostart", D,
                 vsb_rpc_int_ret, proc_get_autostart, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_SET_AUTOSTART, "virDomainSetAutostart",
                 vsb_rpc_domain_int_args, NONE, proc_set_autostart, W),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_GET_XML_DESC, "virDomainGetXMLDesc", DF,
                 vsb_rpc_string_ret, proc_get_xml_desc, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_GET_CONTROL_INFO, "virDomainGetControlInfo", DF,
                 vsb_rpc_domain_get_control_info_ret, proc_get_control_info, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_GET_JOB_INFO, "virDomainGetJobInfo", D,
                 vsb_rpc_domain_get_job_info_ret, proc_get_job_info, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_HAS_MANAGED_SAVE_IMAGE, "virDomainHasManagedSaveImage",
                 DF, vsb_rpc_int_ret, proc_has_managed_save, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_GET_SECURITY_LABEL, "virDomainGetSecurityLabel", D,
                 vsb_rpc_domain_get_security_label_ret, proc_get_security_label, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_GET_MESSAGES, "virDomainGetMessages", DF,
                 vsb_rpc_domain_get_messages_ret, proc_get_messages, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_GET_METADATA, "virDomainGetMetadata",
                 vsb_rpc_domain_get_metadata_args, vsb_rpc_string_ret, proc_get_metadata, 0),

    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_GET_MEMORY_PARAMETERS, "virDomainGetMemoryParameters",
                 vsb_rpc_domain_get_params_args, vsb_rpc_domain_get_params_ret,
                 proc_get_memory_parameters, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_GET_VCPUS_FLAGS, "virDomainGetVcpusFlags", DF,
                 vsb_rpc_int_ret, proc_get_vcpus_flags, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_GET_MAX_VCPUS, "virDomainGetMaxVcpus", D,
                 vsb_rpc_int_ret, proc_get_max_vcpus, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_GET_SCHEDULER_TYPE, "virDomainGetSchedulerType", D,
                 vsb_rpc_domain_get_scheduler_type_ret, proc_get_scheduler_type, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_GET_SCHEDULER_PARAMETERS,
                 "virDomainGetSchedulerParameters", vsb_rpc_domain_get_scheduler_parameters_args,
                 vsb_rpc_domain_get_scheduler_parameters_ret, proc_get_scheduler_parameters, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_GET_SCHEDULER_PARAMETERS_FLAGS,
                 "virDomainGetSchedulerParametersFlags", vsb_rpc_domain_get_params_args,
                 vsb_rpc_domain_get_scheduler_parameters_ret,
                 proc_get_scheduler_parameters_flags, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_MEMORY_STATS, "virDomainMemoryStats",
                 vsb_rpc_domain_memory_stats_args, vsb_rpc_domain_memory_stats_ret,
                 proc_memory_stats, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_CONNECT_GET_ALL_DOMAIN_STATS, "virConnectGetAllDomainStats",
                 vsb_rpc_get_all_domain_stats_args, vsb_rpc_get_all_domain_stats_ret,
                 proc_get_all_domain_stats, 0),

    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_DEFINE_XML, "virDomainDefineXML",
                 vsb_rpc_define_xml_args, vsb_rpc_domain_ret, proc_define_xml, W),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_DEFINE_XML_FLAGS, "virDomainDefineXMLFlags",
                 vsb_rpc_xml_flags_args, vsb_rpc_domain_ret, proc_define_xml_flags, W),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_UNDEFINE, "virDomainUndefine", D, NONE, proc_undefine,
                 W),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_UNDEFINE_FLAGS, "virDomainUndefineFlags", DF, NONE,
                 proc_undefine_flags, W),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_CREATE, "virDomainCreate", D, NONE, proc_create, W),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_CREATE_WITH_FLAGS, "virDomainCreateWithFlags", DF,
                 vsb_rpc_domain_ret, proc_create_with_flags, W),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_CREATE_XML, "virDomainCreateXML",
                 vsb_rpc_xml_flags_args, vsb_rpc_domain_ret, proc_create_xml, W),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_DESTROY, "virDomainDestroy", D, NONE, proc_destroy, W),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_DESTROY_FLAGS, "virDomainDestroyFlags", DF, NONE,
                 proc_destroy_flags, W),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_SHUTDOWN, "virDomainShutdown", D, NONE, proc_shutdown,
                 W),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_SHUTDOWN_FLAGS, "virDomainShutdownFlags", DF, NONE,
                 proc_shutdown_flags, W),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_REBOOT, "virDomainReboot", DF, NONE, proc_reboot, W),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_SUSPEND, "virDomainSuspend", D, NONE, proc_suspend, W),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_SET_MEMORY_PARAMETERS, "virDomainSetMemoryParameters",
                 vsb_rpc_domain_set_params_args, NONE, proc_set_memory_parameters, W),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_RESUME, "virDomainResume", D, NONE, proc_resume, W),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_OPEN_CONSOLE, "virDomainOpenConsole",
                 vsb_rpc_domain_open_console_args, NONE, proc_open_console, W),
    VSB_RPC_PROC(VSB_RPC_PROGRAM_LXC, VSB_RPC_LXC_PROC_DOMAIN_OPEN_NAMESPACE,
                 "virDomainLxcOpenNamespace", DF, NONE, proc_open_namespace, W),

    /* Known, not (yet) supported: answered VIR_ERR_NO_SUPPORT with the
     * API's name.  Tuning writes come with the resource work,
     * save/restore with checkpoint/restore. */
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_SET_MEMORY_FLAGS, "virDomainSetMemoryFlags", NONE, NONE,
                 NULL, W),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_SET_SCHEDULER_PARAMETERS,
                 "virDomainSetSchedulerParameters", NONE, NONE, NULL, W),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_SET_SCHEDULER_PARAMETERS_FLAGS,
                 "virDomainSetSchedulerParametersFlags", NONE, NONE, NULL, W),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_GET_BLKIO_PARAMETERS, "virDomainGetBlkioParameters",
                 NONE, NONE, NULL, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_SET_BLKIO_PARAMETERS, "virDomainSetBlkioParameters",
                 NONE, NONE, NULL, W),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_SAVE, "virDomainSave", NONE, NONE, NULL, W),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_SAVE_FLAGS, "virDomainSaveFlags", NONE, NONE, NULL, W),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_RESTORE, "virDomainRestore", NONE, NONE, NULL, W),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_RESTORE_FLAGS, "virDomainRestoreFlags", NONE, NONE, NULL,
                 W),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_MANAGED_SAVE, "virDomainManagedSave", NONE, NONE, NULL,
                 W),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_MANAGED_SAVE_REMOVE, "virDomainManagedSaveRemove", NONE,
                 NONE, NULL, W),
};
const gsize vsb_rpc_procs_domain_len = G_N_ELEMENTS(vsb_rpc_procs_domain);
