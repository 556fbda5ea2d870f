/*
 * vsb-rpc-procs-domain.c: per-domain procedures (lookups, XML,
 * lifecycle, information, console, namespaces); tuning and statistics
 * are in vsb-rpc-procs-tune.c.
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

static bool
proc_get_metadata(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_get_metadata_args *args = a;
    vsb_rpc_string_ret *ret = r;
    const VsbDomainDef *def;
    const char *value = NULL;
    VsbRpcTuneTarget t;

    if (!vsb_rpc_tune_target(call, &args->dom, args->flags, 0, "virDomainGetMetadata",
                             VSB_RPC_TUNE_GET, &t, error))
        return false;
    def = t.def;
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
/* vCPUs (the other tuning calls are in vsb-rpc-procs-tune.c)          */
/* ------------------------------------------------------------------ */

/* A container's "vcpus": <vcpu> (how many CPUs it may use), one when
 * not given. */
static bool
proc_get_vcpus_flags(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_domain_flags_args *args = a;
    vsb_rpc_int_ret *ret = r;
    VsbRpcTuneTarget t;

    if (!vsb_rpc_tune_target(call, &args->dom, args->flags, VIR_DOMAIN_VCPU_MAXIMUM,
                             "virDomainGetVcpusFlags", VSB_RPC_TUNE_GET, &t, error))
        return false;
    ret->value = t.def->vcpus ? (int)t.def->vcpus : 1;
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

    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_GET_VCPUS_FLAGS, "virDomainGetVcpusFlags", DF,
                 vsb_rpc_int_ret, proc_get_vcpus_flags, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_GET_MAX_VCPUS, "virDomainGetMaxVcpus", D,
                 vsb_rpc_int_ret, proc_get_max_vcpus, 0),

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
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_RESUME, "virDomainResume", D, NONE, proc_resume, W),
    VSB_RPC_PROC(R, VSB_RPC_PROC_DOMAIN_OPEN_CONSOLE, "virDomainOpenConsole",
                 vsb_rpc_domain_open_console_args, NONE, proc_open_console, W),
    VSB_RPC_PROC(VSB_RPC_PROGRAM_LXC, VSB_RPC_LXC_PROC_DOMAIN_OPEN_NAMESPACE,
                 "virDomainLxcOpenNamespace", DF, NONE, proc_open_namespace, W),

    /* Known, not (yet) supported: answered VIR_ERR_NO_SUPPORT with the
     * API's name.  Save/restore come with checkpoint/restore. */
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
