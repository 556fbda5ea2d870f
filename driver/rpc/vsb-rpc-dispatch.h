/*
 * vsb-rpc-dispatch.h: libvirt's remote procedures on top of the driver.
 *
 * The dispatcher owns the RPC server (vsb-rpc-server.h) and turns
 * every call into vsb-driver.h calls, every driver event into 318
 * messages, every console into a stream.  Per connection: CONNECT_OPEN
 * first, a read-only connection (read-only socket, or opened with the
 * read-only flag) refused every call that changes anything.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "vsb-driver.h"
#include "vsb-rpc-server.h"

G_BEGIN_DECLS

typedef struct _VsbRpcDispatcher VsbRpcDispatcher;

typedef void (*VsbRpcLogFunc)(GLogLevelFlags level, const char *message, gpointer opaque);

typedef struct {
    VsbRpcServerConfig server;
    /* Where connection drops and (with @trace) every call go. */
    VsbRpcLogFunc log;
    gpointer log_opaque;
    bool trace;                 /* log each call: procedure, result */
} VsbRpcDispatcherConfig;

/* @drv is borrowed and must outlive the dispatcher.  It may be NULL
 * at first (listen before the driver reattaches to its domains, so that
 * a second daemon fails on the sockets before touching anything), then
 * set with vsb_rpc_dispatcher_set_driver() before the main loop runs:
 * no call is read until then. */
VsbRpcDispatcher *vsb_rpc_dispatcher_new(VsbDriver *drv, const VsbRpcDispatcherConfig *cfg);
void vsb_rpc_dispatcher_set_driver(VsbRpcDispatcher *disp, VsbDriver *drv);
/* Closes every connection (auto-destroy domains are destroyed), stops
 * listening, removes the socket files. */
void vsb_rpc_dispatcher_free(VsbRpcDispatcher *disp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbRpcDispatcher, vsb_rpc_dispatcher_free)

VsbRpcServer *vsb_rpc_dispatcher_get_server(VsbRpcDispatcher *disp);

G_END_DECLS
