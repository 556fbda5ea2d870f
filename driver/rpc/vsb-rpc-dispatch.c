/*
 * vsb-rpc-dispatch.c: connections, calls and events of virt-sandboxd
 * (the procedures themselves are in vsb-rpc-procs-*.c).
 */
#include <config.h>

#include "vsb-rpc-dispatch-priv.h"
#include "vsb-util.h"

#include <stdarg.h>
#include <string.h>
#include <unistd.h>

void
vsb_rpc_dispatcher_log(VsbRpcDispatcher *disp, GLogLevelFlags level, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    if (!disp->cfg.log)
        return;
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    disp->cfg.log(level, msg, disp->cfg.log_opaque);
}

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

bool
vsb_rpc_check_flags(unsigned int flags, unsigned int allowed, const char *api, GError **error)
{
    if (flags & ~allowed) {
        vsb_rpc_set_error(error, VIR_ERR_INVALID_ARG, "unsupported flags (0x%x) in function %s",
                          flags & ~allowed, api);
        return false;
    }
    return true;
}

void
vsb_rpc_error_to_wire(const GError *error, int *code, int *domain, char **message)
{
    *code = VIR_ERR_INTERNAL_ERROR;
    *domain = VIR_FROM_LXC;
    if (error->domain == VSB_RPC_ERROR) {
        /* The protocol's own failures come from the RPC layer, a
         * missing procedure from the remote driver (as libvirt's client
         * reports them); the rest is the LXC driver's answer. */
        *code = error->code;
        if (error->code == VIR_ERR_RPC)
            *domain = VIR_FROM_RPC;
        else if (error->code == VIR_ERR_NO_SUPPORT)
            *domain = VIR_FROM_REMOTE;
    } else if (error->domain == VSB_DRIVER_ERROR) {
        switch ((VsbDriverErrorCode)error->code) {
        case VSB_DRIVER_ERROR_INTERNAL: *code = VIR_ERR_INTERNAL_ERROR; break;
        case VSB_DRIVER_ERROR_NO_DOMAIN: *code = VIR_ERR_NO_DOMAIN; break;
        case VSB_DRIVER_ERROR_OPERATION_INVALID: *code = VIR_ERR_OPERATION_INVALID; break;
        case VSB_DRIVER_ERROR_OPERATION_FAILED: *code = VIR_ERR_OPERATION_FAILED; break;
        case VSB_DRIVER_ERROR_INVALID_ARG: *code = VIR_ERR_INVALID_ARG; break;
        case VSB_DRIVER_ERROR_EXISTS: *code = VIR_ERR_OPERATION_FAILED; break;
        case VSB_DRIVER_ERROR_NO_SUPPORT: *code = VIR_ERR_NO_SUPPORT; break;
        case VSB_DRIVER_ERROR_UNSUPPORTED_FLAGS: *code = VIR_ERR_INVALID_ARG; break;
        case VSB_DRIVER_ERROR_OPERATION_UNSUPPORTED: *code = VIR_ERR_OPERATION_UNSUPPORTED; break;
        default: *code = VIR_ERR_INTERNAL_ERROR; break;
        }
    } else if (error->domain == VSB_DOMAIN_CONF_ERROR) {
        *domain = VIR_FROM_DOMAIN;
        *code = error->code == VSB_DOMAIN_CONF_ERROR_UNSUPPORTED ? VIR_ERR_CONFIG_UNSUPPORTED
                                                                 : VIR_ERR_XML_ERROR;
    } else {
        /* errno-based failures and anything else from below the
         * driver: the operation failed, the message says why */
        *code = VIR_ERR_OPERATION_FAILED;
    }
    *message = vsb_rpc_error_format(*code, error->message);
}

/* ------------------------------------------------------------------ */
/* Wire domains                                                        */
/* ------------------------------------------------------------------ */

VsbDomain *
vsb_rpc_lookup(VsbRpcCall *call, const vsb_rpc_nonnull_domain *wire, GError **error)
{
    VsbDomainRef ref = { 0 };

    ref.name = wire->name;
    memcpy(ref.uuid, wire->uuid, 16);
    ref.id = wire->id;
    return vsb_driver_lookup_ref(vsb_rpc_call_driver(call), &ref, error);
}

void
vsb_rpc_ref_to_wire(const VsbDomainRef *ref, vsb_rpc_nonnull_domain *wire)
{
    wire->name = g_strdup(ref->name);
    memcpy(wire->uuid, ref->uuid, 16);
    wire->id = ref->id;
}

void
vsb_rpc_domain_to_wire(VsbDomain *dom, vsb_rpc_nonnull_domain *wire)
{
    VsbDomainRef ref = { 0 };

    vsb_domain_get_ref(dom, &ref);
    vsb_rpc_ref_to_wire(&ref, wire);
    vsb_domain_ref_clear(&ref);
}

/* ------------------------------------------------------------------ */
/* Calls                                                               */
/* ------------------------------------------------------------------ */

static const VsbRpcProc *
find_proc(guint32 prog, int num)
{
    static const struct {
        const VsbRpcProc *procs;
        const gsize *len;
    } tables[] = {
        { vsb_rpc_procs_connect, &vsb_rpc_procs_connect_len },
        { vsb_rpc_procs_domain, &vsb_rpc_procs_domain_len },
        { vsb_rpc_procs_tune, &vsb_rpc_procs_tune_len },
    };

    for (gsize t = 0; t < G_N_ELEMENTS(tables); t++) {
        for (gsize i = 0; i < *tables[t].len; i++) {
            const VsbRpcProc *p = &tables[t].procs[i];

            if (p->prog == prog && p->proc == num)
                return p;
        }
    }
    return NULL;
}

static VsbRpcMessage *
reply_new(const vsb_rpc_header *call, int type, int status)
{
    VsbRpcMessage *reply = vsb_rpc_message_new();

    reply->header.prog = call->prog;
    reply->header.vers = call->vers;
    reply->header.proc = call->proc;
    reply->header.type = type;
    reply->header.serial = call->serial;
    reply->header.status = status;
    return reply;
}

static void
send_error_reply(VsbRpcConn *conn, const vsb_rpc_header *call, const GError *err)
{
    g_autoptr(GError) enc_error = NULL;
    g_autofree char *message = NULL;
    VsbRpcMessage *reply = reply_new(call, VSB_RPC_TYPE_REPLY, VSB_RPC_STATUS_ERROR);
    int code, domain;

    vsb_rpc_error_to_wire(err, &code, &domain, &message);
    if (!vsb_rpc_message_encode_error(reply, code, domain, message, &enc_error)) {
        /* An error payload is small; failing to encode it means the
         * connection cannot be answered properly any more. */
        vsb_rpc_message_free(reply);
        vsb_rpc_client_close(conn->client, enc_error->message);
        return;
    }
    vsb_rpc_client_send(conn->client, reply);
}

static void
trace_call(VsbRpcConn *conn, const VsbRpcMessage *msg, const VsbRpcProc *proc,
           const GError *err)
{
    if (!conn->disp->cfg.trace)
        return;
    vsb_rpc_dispatcher_log(conn->disp, G_LOG_LEVEL_DEBUG, "%s: call %s %d (%s) serial %u: %s",
                           vsb_rpc_client_get_name(conn->client),
                           msg->header.prog == VSB_RPC_PROGRAM_LXC ? "lxc proc" : "proc",
                           msg->header.proc, proc ? proc->name : "unknown",
                           msg->header.serial, err ? err->message : "ok");
}

static bool
run_handler(VsbRpcCall *call, const VsbRpcProc *proc, void **args, void **ret, GError **error)
{
    VsbRpcConn *conn = call->conn;
    const VsbRpcMessage *msg = call->msg;

    if (msg->header.status != VSB_RPC_STATUS_OK) {
        vsb_rpc_set_error(error, VIR_ERR_RPC, "Unexpected message status %d",
                          msg->header.status);
        return false;
    }
    if (!proc) {
        vsb_rpc_set_error(error, VIR_ERR_NO_SUPPORT, "unknown procedure: %d",
                          msg->header.proc);
        return false;
    }
    if (!conn->open && !(proc->flags & VSB_RPC_PROC_BEFORE_OPEN)) {
        vsb_rpc_set_error(error, VIR_ERR_INTERNAL_ERROR, "connection not open");
        return false;
    }
    if (conn->readonly && (proc->flags & VSB_RPC_PROC_WRITE)) {
        vsb_rpc_set_error(error, VIR_ERR_OPERATION_DENIED, "read only access prevents %s",
                          proc->name);
        return false;
    }
    if (!proc->handler) {
        vsb_rpc_set_error(error, VIR_ERR_NO_SUPPORT, "%s", proc->name);
        return false;
    }
    *args = g_malloc0(MAX(proc->args_size, 1));
    *ret = g_malloc0(MAX(proc->ret_size, 1));
    if (proc->args_filter && !vsb_rpc_message_decode_payload(msg, proc->args_filter, *args, error))
        return false;
    if (!proc->args_filter && msg->len != msg->payload) {
        vsb_rpc_set_error(error, VIR_ERR_RPC, "Unable to decode message payload (procedure %d)",
                          msg->header.proc);
        return false;
    }
    return proc->handler(call, *args, *ret, error);
}

static void
dispatch_call(VsbRpcConn *conn, VsbRpcMessage *msg)
{
    const VsbRpcProc *proc = find_proc(msg->header.prog, msg->header.proc);
    g_autoptr(GError) error = NULL;
    VsbRpcCall call = { 0 };
    void *args = NULL;
    void *ret = NULL;
    bool ok;

    call.conn = conn;
    call.msg = msg;
    call.reply_fds = g_array_new(FALSE, FALSE, sizeof(int));

    ok = run_handler(&call, proc, &args, &ret, &error);
    trace_call(conn, msg, proc, error);
    if (ok) {
        g_autoptr(GError) enc_error = NULL;
        VsbRpcMessage *reply;

        reply = reply_new(&msg->header,
                          call.reply_fds->len ? VSB_RPC_TYPE_REPLY_WITH_FDS : VSB_RPC_TYPE_REPLY,
                          VSB_RPC_STATUS_OK);
        for (guint i = 0; i < call.reply_fds->len; i++)
            vsb_rpc_message_add_fd(reply, g_array_index(call.reply_fds, int, i));
        g_array_set_size(call.reply_fds, 0);
        if (vsb_rpc_message_encode(reply, proc->ret_filter, ret, &enc_error)) {
            vsb_rpc_client_send(conn->client, reply);
            if (call.after_reply)
                call.after_reply(&call, call.after_data);
            call.after_data = NULL;
        } else {
            vsb_rpc_message_free(reply);
            send_error_reply(conn, &msg->header, enc_error);
        }
    } else {
        send_error_reply(conn, &msg->header, error);
    }

    if (call.after_data && call.after_free)
        call.after_free(call.after_data);
    for (guint i = 0; i < call.reply_fds->len; i++)
        close(g_array_index(call.reply_fds, int, i));
    g_array_free(call.reply_fds, TRUE);
    if (args) {
        if (proc && proc->args_filter)
            xdr_free(proc->args_filter, args);
        g_free(args);
    }
    if (ret) {
        if (proc && proc->ret_filter)
            xdr_free(proc->ret_filter, ret);
        g_free(ret);
    }
    vsb_rpc_message_free(msg);
}

/* ------------------------------------------------------------------ */
/* Events                                                              */
/* ------------------------------------------------------------------ */

static void
send_lifecycle(VsbRpcConn *conn, int callback_id, const VsbDomainRef *ref, int event,
               int detail)
{
    g_autoptr(GError) error = NULL;
    vsb_rpc_event_lifecycle_msg body = { 0 };
    VsbRpcMessage *msg = vsb_rpc_message_new();

    msg->header.prog = VSB_RPC_PROGRAM_REMOTE;
    msg->header.vers = VSB_RPC_PROGRAM_VERSION;
    msg->header.proc = VSB_RPC_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE;
    msg->header.type = VSB_RPC_TYPE_MESSAGE;
    msg->header.serial = 0;
    msg->header.status = VSB_RPC_STATUS_OK;
    body.callback_id = callback_id;
    vsb_rpc_ref_to_wire(ref, &body.dom);
    body.event = event;
    body.detail = detail;
    if (vsb_rpc_message_encode(msg, (xdrproc_t)xdr_vsb_rpc_event_lifecycle_msg, &body, &error))
        vsb_rpc_client_send(conn->client, g_steal_pointer(&msg));
    xdr_free((xdrproc_t)xdr_vsb_rpc_event_lifecycle_msg, (char *)&body);
    vsb_rpc_message_free(msg);
}

void
vsb_rpc_events_dispatch(VsbRpcDispatcher *disp, const VsbDomainRef *ref, int event, int detail)
{
    for (GList *l = disp->conns; l; l = l->next) {
        VsbRpcConn *conn = l->data;

        if (!conn->open || vsb_rpc_client_is_closed(conn->client))
            continue;
        for (guint i = 0; i < conn->callbacks->len; i++) {
            VsbRpcEventCallback *cb = &g_array_index(conn->callbacks, VsbRpcEventCallback, i);

            if (cb->event_id != VIR_DOMAIN_EVENT_ID_LIFECYCLE)
                continue;
            if (cb->has_dom && memcmp(cb->uuid, ref->uuid, 16) != 0)
                continue;
            send_lifecycle(conn, cb->id, ref, event, detail);
        }
    }
}

static void
driver_event_cb(const VsbDomainRef *ref, VsbEventType event, int detail, gpointer opaque)
{
    vsb_rpc_events_dispatch(opaque, ref, event, detail);
}

/* ------------------------------------------------------------------ */
/* Connections                                                         */
/* ------------------------------------------------------------------ */

static gpointer
conn_open(VsbRpcClient *client, gpointer opaque)
{
    VsbRpcDispatcher *disp = opaque;
    VsbRpcConn *conn = g_new0(VsbRpcConn, 1);

    conn->disp = disp;
    conn->client = client;
    conn->readonly = vsb_rpc_client_is_readonly(client);
    conn->streams = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
                                          (GDestroyNotify)vsb_rpc_stream_free);
    conn->callbacks = g_array_new(FALSE, FALSE, sizeof(VsbRpcEventCallback));
    conn->autodestroy = g_ptr_array_new_with_free_func(g_free);
    disp->conns = g_list_prepend(disp->conns, conn);
    if (disp->cfg.trace)
        vsb_rpc_dispatcher_log(disp, G_LOG_LEVEL_DEBUG, "%s: connected%s",
                               vsb_rpc_client_get_name(client),
                               conn->readonly ? " (read-only socket)" : "");
    return conn;
}

static void
conn_message(VsbRpcClient *client, gpointer data, VsbRpcMessage *msg, gpointer opaque)
{
    VsbRpcConn *conn = data;

    if (msg->header.type == VSB_RPC_TYPE_STREAM)
        vsb_rpc_stream_incoming(conn, msg);
    else
        dispatch_call(conn, msg);
}

static void
conn_drained(VsbRpcClient *client, gpointer data, gpointer opaque)
{
    vsb_rpc_stream_drained(data);
}

/* Domains started with VIR_DOMAIN_START_AUTODESTROY die with the
 * connection that started them. */
static void
conn_autodestroy(VsbRpcConn *conn)
{
    VsbDriver *drv = conn->disp->drv;

    for (guint i = 0; drv && i < conn->autodestroy->len; i++) {
        g_autoptr(GError) error = NULL;
        VsbDomain *dom = vsb_driver_lookup_by_uuid(drv, g_ptr_array_index(conn->autodestroy, i),
                                                   NULL);

        if (!dom || !vsb_domain_is_active(dom))
            continue;
        if (!vsb_driver_destroy(drv, dom, &error))
            vsb_rpc_dispatcher_log(conn->disp, G_LOG_LEVEL_WARNING,
                                   "cannot destroy auto-destroy domain %s: %s",
                                   vsb_domain_get_name(dom), error->message);
    }
}

static void
conn_close(VsbRpcClient *client, gpointer data, gpointer opaque)
{
    VsbRpcDispatcher *disp = opaque;
    VsbRpcConn *conn = data;

    if (!conn)
        return;
    if (disp->cfg.trace)
        vsb_rpc_dispatcher_log(disp, G_LOG_LEVEL_DEBUG, "%s: disconnected",
                               vsb_rpc_client_get_name(client));
    disp->conns = g_list_remove(disp->conns, conn);
    g_hash_table_destroy(conn->streams);
    conn->streams = NULL;
    conn_autodestroy(conn);
    g_ptr_array_free(conn->autodestroy, TRUE);
    g_array_free(conn->callbacks, TRUE);
    g_free(conn);
}

static void
server_log_cb(GLogLevelFlags level, const char *message, gpointer opaque)
{
    VsbRpcDispatcher *disp = opaque;

    vsb_rpc_dispatcher_log(disp, level, "%s", message);
}

VsbRpcDispatcher *
vsb_rpc_dispatcher_new(VsbDriver *drv, const VsbRpcDispatcherConfig *cfg)
{
    VsbRpcDispatcher *disp = g_new0(VsbRpcDispatcher, 1);
    VsbRpcServerHooks hooks = {
        .client_open = conn_open,
        .client_message = conn_message,
        .client_drained = conn_drained,
        .client_close = conn_close,
        .log = server_log_cb,
    };

    disp->drv = drv;
    if (cfg)
        disp->cfg = *cfg;
    disp->srv = vsb_rpc_server_new(&disp->cfg.server, &hooks, disp);
    vsb_rpc_dispatcher_set_driver(disp, drv);
    return disp;
}

void
vsb_rpc_dispatcher_set_driver(VsbRpcDispatcher *disp, VsbDriver *drv)
{
    if (disp->listener)
        vsb_driver_remove_event_listener(disp->drv, disp->listener);
    disp->listener = 0;
    disp->drv = drv;
    if (drv)
        disp->listener = vsb_driver_add_event_listener(drv, driver_event_cb, disp);
}

void
vsb_rpc_dispatcher_free(VsbRpcDispatcher *disp)
{
    if (!disp)
        return;
    if (disp->listener)
        vsb_driver_remove_event_listener(disp->drv, disp->listener);
    vsb_rpc_server_free(disp->srv);
    g_list_free(disp->conns);
    g_free(disp);
}

VsbRpcServer *
vsb_rpc_dispatcher_get_server(VsbRpcDispatcher *disp)
{
    return disp->srv;
}
