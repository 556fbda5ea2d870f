/*
 * vsb-rpc-procs-connect.c: connection-level procedures: opening,
 * features, host facts, listing, event registrations.
 */
#include <config.h>

#include "vsb-rpc-dispatch-priv.h"
#include "vsb-util.h"

#include <errno.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

/* Driver features a client asks about (CONNECT_SUPPORTS_FEATURE);
 * libvirt's internal numbering. */
enum {
    VSB_RPC_FEATURE_FD_PASSING = 8,
    VSB_RPC_FEATURE_TYPED_PARAM_STRING = 9,
    VSB_RPC_FEATURE_PROGRAM_KEEPALIVE = 10,
    VSB_RPC_FEATURE_REMOTE_EVENT_CALLBACK = 14,
    VSB_RPC_FEATURE_REMOTE_CLOSE_CALLBACK = 15,
    VSB_RPC_FEATURE_NETWORK_UPDATE_HAS_CORRECT_ORDER = 16,
};

/* The library version we report: the protocol we speak is libvirt
 * 9.0's, and clients gate features on this number. */
#define VSB_RPC_LIBVIRT_VERSION 9000000ULL

/* Event ids of libvirt 9.0 are 0..this (the header's own upper bound
 * is hidden behind VIR_ENUM_SENTINELS). */
#define EVENT_ID_MAX VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE

/* Callback registrations one connection may hold. */
#define VSB_RPC_CALLBACKS_MAX 1024

static bool
proc_auth_list(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_auth_list_ret *ret = r;

    /* One entry, "none": unix sockets are authorised by their mode. */
    ret->types.types_len = 1;
    ret->types.types_val = g_new0(int, 1);
    return true;
}

static bool
proc_supports_feature(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_supports_feature_args *args = a;
    vsb_rpc_supports_feature_ret *ret = r;

    /* Never an error: clients probe features before opening. */
    switch (args->feature) {
    case VSB_RPC_FEATURE_PROGRAM_KEEPALIVE:
        vsb_rpc_client_start_keepalive(call->conn->client);
        ret->supported = 1;
        break;
    case VSB_RPC_FEATURE_FD_PASSING:
    case VSB_RPC_FEATURE_TYPED_PARAM_STRING:
    case VSB_RPC_FEATURE_REMOTE_EVENT_CALLBACK:
    case VSB_RPC_FEATURE_REMOTE_CLOSE_CALLBACK:
    case VSB_RPC_FEATURE_NETWORK_UPDATE_HAS_CORRECT_ORDER:
        ret->supported = 1;
        break;
    default:
        ret->supported = 0;   /* migration and the like */
        break;
    }
    return true;
}

/* Which names we answer to: lxc:///system (lxc:/// and lxc:// too, as
 * libvirt's LXC driver does), or none at all (the default driver). */
static bool
check_uri(const char *name, GError **error)
{
    g_autofree char *base = NULL;
    const char *path;

    if (!name || !*name)
        return true;
    base = g_strndup(name, strcspn(name, "?#"));
    if (!g_str_has_prefix(base, "lxc:")) {
        vsb_rpc_set_error(error, VIR_ERR_NO_CONNECT, "%s", name);
        return false;
    }
    path = base + strlen("lxc:");
    if (g_str_has_prefix(path, "//")) {
        path += 2;
        if (*path && *path != '/') {
            vsb_rpc_set_error(error, VIR_ERR_INVALID_ARG,
                              "cannot connect to a remote host in %s: this is the local daemon",
                              name);
            return false;
        }
    }
    if (*path && strcmp(path, "/") != 0 && strcmp(path, "/system") != 0) {
        vsb_rpc_set_error(error, VIR_ERR_INTERNAL_ERROR,
                          "Unexpected LXC URI path '%s', try lxc:///system", path);
        return false;
    }
    return true;
}

static bool
proc_connect_open(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_connect_open_args *args = a;
    VsbRpcConn *conn = call->conn;

    if (conn->open) {
        vsb_rpc_set_error(error, VIR_ERR_INTERNAL_ERROR, "connection already open");
        return false;
    }
    if (!vsb_rpc_check_flags(args->flags, VIR_CONNECT_RO | VIR_CONNECT_NO_ALIASES,
                             "virConnectOpen", error))
        return false;
    if (!check_uri(args->name ? *args->name : NULL, error))
        return false;
    /* The read-only socket forces read-only, whatever was asked. */
    if (args->flags & VIR_CONNECT_RO)
        conn->readonly = true;
    conn->open = true;
    return true;
}

static bool
proc_connect_close(VsbRpcCall *call, void *a, void *r, GError **error)
{
    /* The client closes the socket after the reply; until then the
     * connection answers nothing but what needs no open connection. */
    call->conn->open = false;
    g_array_set_size(call->conn->callbacks, 0);
    return true;
}

static bool
proc_get_type(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_string_ret *ret = r;

    ret->str = g_strdup("LXC");
    return true;
}

/* The hypervisor's version for LXC is the kernel's: 6.1.12 -> 6001012. */
static bool
proc_get_version(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_uhyper_ret *ret = r;
    struct utsname u;
    unsigned long long v[3] = { 0, 0, 0 };
    const char *p;

    if (uname(&u) < 0) {
        vsb_error_set_errno(error, errno, "uname");
        return false;
    }
    p = u.release;
    for (int i = 0; i < 3 && g_ascii_isdigit(*p); i++) {
        char *end;

        v[i] = g_ascii_strtoull(p, &end, 10);
        p = end;
        if (*p != '.')
            break;
        p++;
    }
    ret->value = MIN(v[0], 999ULL) * 1000000 + MIN(v[1], 999ULL) * 1000 + MIN(v[2], 999ULL);
    return true;
}

static bool
proc_get_lib_version(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_uhyper_ret *ret = r;

    ret->value = VSB_RPC_LIBVIRT_VERSION;
    return true;
}

static bool
proc_get_hostname(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_string_ret *ret = r;
    char buf[HOST_NAME_MAX + 1];

    if (gethostname(buf, sizeof(buf)) < 0) {
        vsb_error_set_errno(error, errno, "gethostname");
        return false;
    }
    buf[sizeof(buf) - 1] = '\0';
    ret->str = g_strdup(buf);
    return true;
}

static bool
proc_get_uri(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_string_ret *ret = r;

    ret->str = g_strdup("lxc:///system");
    return true;
}

static bool
proc_is_secure(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_int_ret *ret = r;

    ret->value = 1;   /* a local unix socket: nobody can listen in */
    return true;
}

static bool
proc_get_capabilities(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_string_ret *ret = r;

    ret->str = vsb_driver_get_capabilities(vsb_rpc_call_driver(call));
    if (!ret->str) {
        vsb_rpc_set_error(error, VIR_ERR_INTERNAL_ERROR, "cannot describe the host's capabilities");
        return false;
    }
    return true;
}

static bool
proc_node_get_info(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_node_get_info_ret *ret = r;
    VsbNodeInfo info = { 0 };

    if (!vsb_driver_get_node_info(vsb_rpc_call_driver(call), &info, error))
        return false;
    /* A fixed array of 32 chars, NUL padded. */
    memcpy(ret->model, info.model, MIN(strnlen(info.model, sizeof(info.model)),
                                       sizeof(ret->model) - 1));
    ret->memory = info.memory_kib;
    ret->cpus = info.cpus;
    ret->mhz = info.mhz;
    ret->nodes = info.nodes;
    ret->sockets = info.sockets;
    ret->cores = info.cores;
    ret->threads = info.threads;
    return true;
}

static bool
proc_node_get_free_memory(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_uhyper_ret *ret = r;
    g_autofree char *text = vsb_file_read_all("/proc/meminfo", NULL, error);
    const char *p;

    if (!text)
        return false;
    p = strstr(text, "MemFree:");
    if (!p) {
        vsb_rpc_set_error(error, VIR_ERR_INTERNAL_ERROR, "no MemFree in /proc/meminfo");
        return false;
    }
    ret->value = g_ascii_strtoull(p + strlen("MemFree:"), NULL, 10) * 1024;
    return true;
}

/* Strings of char arrays travel with their trailing NUL. */
static void
set_char_array(const char *s, u_int *len, char **val)
{
    *len = strlen(s) + 1;
    *val = g_strdup(s);
}

static bool
proc_node_get_security_model(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_node_get_security_model_ret *ret = r;

    /* No security driver: "none", as libvirt says it (an empty model
     * makes virsh lxc-enter-namespace fail). */
    set_char_array("none", &ret->model.model_len, &ret->model.model_val);
    set_char_array("0", &ret->doi.doi_len, &ret->doi.doi_val);
    return true;
}

static bool
proc_close_callback(VsbRpcCall *call, void *a, void *r, GError **error)
{
    /* Nothing to do: a connection only "closes" by going away, which
     * the client notices by itself. */
    return true;
}

/* ------------------------------------------------------------------ */
/* Listing                                                             */
/* ------------------------------------------------------------------ */

#define LIST_FILTERS_ALL 0xffffu

static bool
domain_matches(VsbDomain *dom, unsigned int flags)
{
    bool active = vsb_domain_is_active(dom);
    bool persistent = vsb_domain_is_persistent(dom);
    bool autostart = vsb_domain_get_autostart(dom);
    VsbDomainState state = vsb_domain_get_state(dom, NULL);

#define WANTED(f_yes, f_no, value) \
    (!(flags & ((f_yes) | (f_no))) || ((flags & (f_yes)) && (value)) || \
     ((flags & (f_no)) && !(value)))
    if (!WANTED(VIR_CONNECT_LIST_DOMAINS_ACTIVE, VIR_CONNECT_LIST_DOMAINS_INACTIVE, active))
        return false;
    if (!WANTED(VIR_CONNECT_LIST_DOMAINS_PERSISTENT, VIR_CONNECT_LIST_DOMAINS_TRANSIENT,
                persistent))
        return false;
    if (!WANTED(VIR_CONNECT_LIST_DOMAINS_AUTOSTART, VIR_CONNECT_LIST_DOMAINS_NO_AUTOSTART,
                autostart))
        return false;
    /* No managed save images, snapshots or checkpoints exist here. */
    if (!WANTED(VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE, VIR_CONNECT_LIST_DOMAINS_NO_MANAGEDSAVE,
                false))
        return false;
    if (!WANTED(VIR_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT, VIR_CONNECT_LIST_DOMAINS_NO_SNAPSHOT,
                false))
        return false;
    if (!WANTED(VIR_CONNECT_LIST_DOMAINS_HAS_CHECKPOINT, VIR_CONNECT_LIST_DOMAINS_NO_CHECKPOINT,
                false))
        return false;
#undef WANTED
    if (flags & (VIR_CONNECT_LIST_DOMAINS_RUNNING | VIR_CONNECT_LIST_DOMAINS_PAUSED |
                 VIR_CONNECT_LIST_DOMAINS_SHUTOFF | VIR_CONNECT_LIST_DOMAINS_OTHER)) {
        bool running = state == VSB_DOMAIN_STATE_RUNNING;
        bool paused = state == VSB_DOMAIN_STATE_PAUSED;
        bool shutoff = state == VSB_DOMAIN_STATE_SHUTOFF;
        bool other = !running && !paused && !shutoff;

        if (!((flags & VIR_CONNECT_LIST_DOMAINS_RUNNING && running) ||
              (flags & VIR_CONNECT_LIST_DOMAINS_PAUSED && paused) ||
              (flags & VIR_CONNECT_LIST_DOMAINS_SHUTOFF && shutoff) ||
              (flags & VIR_CONNECT_LIST_DOMAINS_OTHER && other)))
            return false;
    }
    return true;
}

/* The driver's domains matching @flags (libvirt's list filters). */
static GPtrArray *
list_matching(VsbRpcCall *call, unsigned int flags)
{
    g_autoptr(GPtrArray) all = vsb_driver_list(vsb_rpc_call_driver(call), 0);
    GPtrArray *out = g_ptr_array_new();

    for (guint i = 0; all && i < all->len; i++) {
        if (domain_matches(g_ptr_array_index(all, i), flags))
            g_ptr_array_add(out, g_ptr_array_index(all, i));
    }
    return out;
}

static bool
too_many(guint n, GError **error)
{
    if (n > VSB_RPC_DOMAIN_LIST_MAX) {
        vsb_rpc_set_error(error, VIR_ERR_RPC, "Too many domains '%u' for limit '%d'", n,
                          VSB_RPC_DOMAIN_LIST_MAX);
        return true;
    }
    return false;
}

static bool
proc_list_all_domains(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_list_all_domains_args *args = a;
    vsb_rpc_list_all_domains_ret *ret = r;
    g_autoptr(GPtrArray) doms = NULL;

    if (!vsb_rpc_check_flags(args->flags, LIST_FILTERS_ALL, "virConnectListAllDomains", error))
        return false;
    doms = list_matching(call, args->flags);
    if (too_many(doms->len, error))
        return false;
    if (args->need_results) {
        ret->domains.domains_len = doms->len;
        ret->domains.domains_val = g_new0(vsb_rpc_nonnull_domain, MAX(doms->len, 1));
        for (guint i = 0; i < doms->len; i++)
            vsb_rpc_domain_to_wire(g_ptr_array_index(doms, i), &ret->domains.domains_val[i]);
    }
    ret->ret = doms->len;
    return true;
}

static bool
proc_num_of_domains(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_int_ret *ret = r;
    g_autoptr(GPtrArray) doms = list_matching(call, VIR_CONNECT_LIST_DOMAINS_ACTIVE);

    ret->value = doms->len;
    return true;
}

static bool
proc_num_of_defined_domains(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_int_ret *ret = r;
    g_autoptr(GPtrArray) doms = list_matching(call, VIR_CONNECT_LIST_DOMAINS_INACTIVE);

    ret->value = doms->len;
    return true;
}

static bool
check_max(int max, const char *what, GError **error)
{
    if (max < 0 || max > VSB_RPC_DOMAIN_LIST_MAX) {
        vsb_rpc_set_error(error, VIR_ERR_RPC, "%s must be 0..%d, not %d", what,
                          VSB_RPC_DOMAIN_LIST_MAX, max);
        return false;
    }
    return true;
}

static bool
proc_list_domains(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_list_domains_args *args = a;
    vsb_rpc_list_domains_ret *ret = r;
    g_autoptr(GPtrArray) doms = NULL;
    guint n;

    if (!check_max(args->maxids, "maxids", error))
        return false;
    doms = list_matching(call, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    n = MIN(doms->len, (guint)args->maxids);
    ret->ids.ids_len = n;
    ret->ids.ids_val = g_new0(int, MAX(n, 1));
    for (guint i = 0; i < n; i++)
        ret->ids.ids_val[i] = vsb_domain_get_id(g_ptr_array_index(doms, i));
    return true;
}

static bool
proc_list_defined_domains(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_list_defined_domains_args *args = a;
    vsb_rpc_list_defined_domains_ret *ret = r;
    g_autoptr(GPtrArray) doms = NULL;
    guint n;

    if (!check_max(args->maxnames, "maxnames", error))
        return false;
    doms = list_matching(call, VIR_CONNECT_LIST_DOMAINS_INACTIVE);
    n = MIN(doms->len, (guint)args->maxnames);
    ret->names.names_len = n;
    ret->names.names_val = g_new0(char *, MAX(n, 1));
    for (guint i = 0; i < n; i++)
        ret->names.names_val[i] = g_strdup(vsb_domain_get_name(g_ptr_array_index(doms, i)));
    return true;
}

/* ------------------------------------------------------------------ */
/* Events                                                              */
/* ------------------------------------------------------------------ */

static bool
proc_event_register_any(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_event_register_any_args *args = a;
    vsb_rpc_event_register_any_ret *ret = r;
    VsbRpcConn *conn = call->conn;
    VsbRpcEventCallback cb = { 0 };

    /* Every event id the client library knows is accepted; only
     * LIFECYCLE ever fires (the others have nothing to report for a
     * container: no disks, balloon, graphics, agent...). */
    if (args->event_id < 0 || args->event_id > EVENT_ID_MAX) {
        vsb_rpc_set_error(error, VIR_ERR_INVALID_ARG, "unsupported event ID %d", args->event_id);
        return false;
    }
    if (conn->callbacks->len >= VSB_RPC_CALLBACKS_MAX) {
        vsb_rpc_set_error(error, VIR_ERR_OPERATION_FAILED,
                          "too many event callbacks on this connection (at most %d)",
                          VSB_RPC_CALLBACKS_MAX);
        return false;
    }
    cb.id = conn->next_callback_id++;
    cb.event_id = args->event_id;
    if (args->dom) {
        cb.has_dom = true;
        memcpy(cb.uuid, args->dom->uuid, 16);
    }
    g_array_append_val(conn->callbacks, cb);
    ret->callback_id = cb.id;
    return true;
}

static bool
proc_event_deregister_any(VsbRpcCall *call, void *a, void *r, GError **error)
{
    vsb_rpc_event_deregister_any_args *args = a;
    VsbRpcConn *conn = call->conn;

    for (guint i = 0; i < conn->callbacks->len; i++) {
        if (g_array_index(conn->callbacks, VsbRpcEventCallback, i).id == args->callback_id) {
            g_array_remove_index(conn->callbacks, i);
            return true;
        }
    }
    vsb_rpc_set_error(error, VIR_ERR_INVALID_ARG, "domain event callback %d not registered",
                      args->callback_id);
    return false;
}

/* ------------------------------------------------------------------ */

#define R VSB_RPC_PROGRAM_REMOTE
#define BEFORE VSB_RPC_PROC_BEFORE_OPEN

const VsbRpcProc vsb_rpc_procs_connect[] = {
    VSB_RPC_PROC(R, VSB_RPC_PROC_AUTH_LIST, "virConnectAuthList", vsb_rpc_none,
                 vsb_rpc_auth_list_ret, proc_auth_list, BEFORE),
    VSB_RPC_PROC(R, VSB_RPC_PROC_CONNECT_SUPPORTS_FEATURE, "virConnectSupportsFeature",
                 vsb_rpc_supports_feature_args, vsb_rpc_supports_feature_ret,
                 proc_supports_feature, BEFORE),
    VSB_RPC_PROC(R, VSB_RPC_PROC_CONNECT_OPEN, "virConnectOpen", vsb_rpc_connect_open_args,
                 vsb_rpc_none, proc_connect_open, BEFORE),
    VSB_RPC_PROC(R, VSB_RPC_PROC_CONNECT_CLOSE, "virConnectClose", vsb_rpc_none, vsb_rpc_none,
                 proc_connect_close, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_CONNECT_GET_TYPE, "virConnectGetType", vsb_rpc_none,
                 vsb_rpc_string_ret, proc_get_type, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_CONNECT_GET_VERSION, "virConnectGetVersion", vsb_rpc_none,
                 vsb_rpc_uhyper_ret, proc_get_version, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_CONNECT_GET_LIB_VERSION, "virConnectGetLibVersion",
                 vsb_rpc_none, vsb_rpc_uhyper_ret, proc_get_lib_version, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_CONNECT_GET_HOSTNAME, "virConnectGetHostname", vsb_rpc_none,
                 vsb_rpc_string_ret, proc_get_hostname, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_CONNECT_GET_URI, "virConnectGetURI", vsb_rpc_none,
                 vsb_rpc_string_ret, proc_get_uri, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_CONNECT_IS_SECURE, "virConnectIsSecure", vsb_rpc_none,
                 vsb_rpc_int_ret, proc_is_secure, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_CONNECT_GET_CAPABILITIES, "virConnectGetCapabilities",
                 vsb_rpc_none, vsb_rpc_string_ret, proc_get_capabilities, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_NODE_GET_INFO, "virNodeGetInfo", vsb_rpc_none,
                 vsb_rpc_node_get_info_ret, proc_node_get_info, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_NODE_GET_FREE_MEMORY, "virNodeGetFreeMemory", vsb_rpc_none,
                 vsb_rpc_uhyper_ret, proc_node_get_free_memory, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_NODE_GET_SECURITY_MODEL, "virNodeGetSecurityModel",
                 vsb_rpc_none, vsb_rpc_node_get_security_model_ret,
                 proc_node_get_security_model, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_CONNECT_REGISTER_CLOSE_CALLBACK,
                 "virConnectRegisterCloseCallback", vsb_rpc_none, vsb_rpc_none,
                 proc_close_callback, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_CONNECT_UNREGISTER_CLOSE_CALLBACK,
                 "virConnectUnregisterCloseCallback", vsb_rpc_none, vsb_rpc_none,
                 proc_close_callback, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_CONNECT_LIST_ALL_DOMAINS, "virConnectListAllDomains",
                 vsb_rpc_list_all_domains_args, vsb_rpc_list_all_domains_ret,
                 proc_list_all_domains, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_CONNECT_NUM_OF_DOMAINS, "virConnectNumOfDomains",
                 vsb_rpc_none, vsb_rpc_int_ret, proc_num_of_domains, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_CONNECT_LIST_DOMAINS, "virConnectListDomains",
                 vsb_rpc_list_domains_args, vsb_rpc_list_domains_ret, proc_list_domains, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_CONNECT_NUM_OF_DEFINED_DOMAINS,
                 "virConnectNumOfDefinedDomains", vsb_rpc_none, vsb_rpc_int_ret,
                 proc_num_of_defined_domains, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_CONNECT_LIST_DEFINED_DOMAINS, "virConnectListDefinedDomains",
                 vsb_rpc_list_defined_domains_args, vsb_rpc_list_defined_domains_ret,
                 proc_list_defined_domains, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY,
                 "virConnectDomainEventRegisterAny", vsb_rpc_event_register_any_args,
                 vsb_rpc_event_register_any_ret, proc_event_register_any, 0),
    VSB_RPC_PROC(R, VSB_RPC_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY,
                 "virConnectDomainEventDeregisterAny", vsb_rpc_event_deregister_any_args,
                 vsb_rpc_none, proc_event_deregister_any, 0),
};
const gsize vsb_rpc_procs_connect_len = G_N_ELEMENTS(vsb_rpc_procs_connect);
