/*
 * vsb-rpc-dispatch-priv.h: what the pieces of the dispatcher share
 * (vsb-rpc-dispatch.c: calls and connections; vsb-rpc-procs-*.c: the
 * procedures; vsb-rpc-stream.c: console streams; events live in
 * vsb-rpc-dispatch.c).
 */
#pragma once

#include "vsb-rpc-dispatch.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

G_BEGIN_DECLS

typedef struct _VsbRpcStream VsbRpcStream;

/* One client connection, as the dispatcher sees it. */
typedef struct {
    VsbRpcDispatcher *disp;
    VsbRpcClient *client;
    bool open;                  /* CONNECT_OPEN succeeded */
    bool readonly;              /* read-only socket or read-only open */
    GHashTable *streams;        /* serial -> VsbRpcStream*, owned */
    GArray *callbacks;          /* of VsbRpcEventCallback */
    int next_callback_id;
    GPtrArray *autodestroy;     /* uuids (16 bytes, g_memdup2) of AUTODESTROY domains */
} VsbRpcConn;

typedef struct {
    int id;
    int event_id;
    bool has_dom;
    unsigned char uuid[16];
} VsbRpcEventCallback;

struct _VsbRpcDispatcher {
    VsbDriver *drv;
    VsbRpcServer *srv;
    VsbRpcDispatcherConfig cfg;
    GList *conns;               /* of VsbRpcConn* */
    guint listener;
};

/* A call being handled. */
typedef struct _VsbRpcCall VsbRpcCall;
typedef void (*VsbRpcAfterReply)(VsbRpcCall *call, gpointer data);
struct _VsbRpcCall {
    VsbRpcConn *conn;
    const VsbRpcMessage *msg;   /* the call: header, received fds */
    GArray *reply_fds;          /* of int: fds going back (REPLY_WITH_FDS) */
    VsbRpcAfterReply after_reply;  /* run once the reply is queued (on success) */
    gpointer after_data;
    GDestroyNotify after_free;
};

typedef bool (*VsbRpcHandler)(VsbRpcCall *call, void *args, void *ret, GError **error);

/* Flags of a procedure. */
#define VSB_RPC_PROC_BEFORE_OPEN (1 << 0)  /* allowed before CONNECT_OPEN */
#define VSB_RPC_PROC_WRITE       (1 << 1)  /* refused on a read-only connection */

typedef struct {
    guint32 prog;
    int proc;
    const char *name;           /* the libvirt API, for messages */
    xdrproc_t args_filter;      /* NULL: no arguments */
    gsize args_size;
    xdrproc_t ret_filter;       /* NULL: empty reply */
    gsize ret_size;
    VsbRpcHandler handler;      /* NULL: answered VIR_ERR_NO_SUPPORT */
    unsigned int flags;
} VsbRpcProc;

/* A table entry; @args and @ret are rpcgen type names (their filter is
 * xdr_<type>), or vsb_rpc_none. */
typedef char vsb_rpc_none;
#define xdr_vsb_rpc_none NULL
#define VSB_RPC_PROC_(prog_, num, api, args, ret, fn, fl) \
    { prog_, num, api, (xdrproc_t)xdr_##args, sizeof(args), \
      (xdrproc_t)xdr_##ret, sizeof(ret), fn, fl }
/* (one level more, so that @args and @ret may be macros themselves) */
#define VSB_RPC_PROC(prog_, num, api, args, ret, fn, fl) \
    VSB_RPC_PROC_(prog_, num, api, args, ret, fn, fl)

/* The tables of the procedure modules. */
extern const VsbRpcProc vsb_rpc_procs_connect[];
extern const gsize vsb_rpc_procs_connect_len;
extern const VsbRpcProc vsb_rpc_procs_domain[];
extern const gsize vsb_rpc_procs_domain_len;
extern const VsbRpcProc vsb_rpc_procs_tune[];
extern const gsize vsb_rpc_procs_tune_len;

/* Errors of the handlers: a libvirt code in our error domain. */
#define vsb_rpc_set_error(error, code, ...) \
    g_set_error(error, VSB_RPC_ERROR, code, __VA_ARGS__)

/* libvirt's "unsupported flags (0x..) in function ..." when @flags has
 * a bit outside @allowed. */
bool vsb_rpc_check_flags(unsigned int flags, unsigned int allowed, const char *api,
                         GError **error);

/* Wire domain <-> driver. */
VsbDomain *vsb_rpc_lookup(VsbRpcCall *call, const vsb_rpc_nonnull_domain *wire,
                          GError **error);
void vsb_rpc_domain_to_wire(VsbDomain *dom, vsb_rpc_nonnull_domain *wire);
void vsb_rpc_ref_to_wire(const VsbDomainRef *ref, vsb_rpc_nonnull_domain *wire);

/* The domain of @call's connection's driver. */
static inline VsbDriver *
vsb_rpc_call_driver(VsbRpcCall *call)
{
    return call->conn->disp->drv;
}

/* What a tuning call addresses: the domain and the definitions it
 * affects, libvirt's VIR_DOMAIN_AFFECT_* resolved ("current" is live
 * when the domain runs, else config). */
typedef struct {
    VsbDomain *dom;
    bool live;
    bool config;
    const VsbDomainDef *def;    /* what a getter reads: live or persistent */
} VsbRpcTuneTarget;
#define VSB_RPC_TUNE_GET false  /* LIVE and CONFIG exclusive */
#define VSB_RPC_TUNE_SET true   /* both may be given */
/* The common preamble of tuning calls (vsb-rpc-procs-tune.c): @flags
 * may hold AFFECT_LIVE/CONFIG and @extra (else libvirt's "unsupported
 * flags" naming @api), look the domain up, resolve what it affects. */
bool vsb_rpc_tune_target(VsbRpcCall *call, const vsb_rpc_nonnull_domain *wire,
                         unsigned int flags, unsigned int extra, const char *api, bool set,
                         VsbRpcTuneTarget *t, GError **error);

/* Convert any GError into what goes on the wire. */
void vsb_rpc_error_to_wire(const GError *error, int *code, int *domain, char **message);

/* Logging through the daemon's function. */
void vsb_rpc_dispatcher_log(VsbRpcDispatcher *disp, GLogLevelFlags level, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

/* Console streams (vsb-rpc-stream.c). */
VsbRpcStream *vsb_rpc_stream_new(VsbRpcConn *conn, const vsb_rpc_header *call, int fd);
void vsb_rpc_stream_free(VsbRpcStream *st);
/* Start relaying (after the reply to the opening call is queued). */
void vsb_rpc_stream_start(VsbRpcStream *st);
/* A STREAM message from the client; takes @msg. */
void vsb_rpc_stream_incoming(VsbRpcConn *conn, VsbRpcMessage *msg);
/* The client's queue is low again: resume reading consoles. */
void vsb_rpc_stream_drained(VsbRpcConn *conn);

/* Events: a domain's lifecycle event, to every registered callback. */
void vsb_rpc_events_dispatch(VsbRpcDispatcher *disp, const VsbDomainRef *ref, int event,
                             int detail);

G_END_DECLS
