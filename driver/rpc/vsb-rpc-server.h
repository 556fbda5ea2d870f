/*
 * vsb-rpc-server.h: the transport of virt-sandboxd: listening unix
 * sockets, client connections, framing, fd passing, output queues,
 * keepalive.
 *
 * Runs in the GLib main loop of the calling thread (the default
 * context); nothing blocks.  A connection that breaks the protocol
 * (bad framing, unknown program, version or type) or that stops
 * reading while its output queue grows past the bound is dropped; no
 * other connection notices.
 *
 * What messages mean is the business of the hooks (the dispatcher):
 * the server hands them every valid REMOTE/LXC message, answers
 * keepalive itself.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

#include "vsb-rpc-message.h"

G_BEGIN_DECLS

typedef struct _VsbRpcServer VsbRpcServer;
typedef struct _VsbRpcClient VsbRpcClient;

typedef struct {
    /* A connection was accepted.  Returns the connection's private
     * data, handed to the other hooks. */
    gpointer (*client_open)(VsbRpcClient *client, gpointer opaque);
    /* A complete REMOTE or LXC message (CALL, CALL_WITH_FDS with its
     * fds received, STREAM), header validated.  Takes @msg. */
    void (*client_message)(VsbRpcClient *client, gpointer data, VsbRpcMessage *msg,
                           gpointer opaque);
    /* The output queue went down below the low-water mark
     * (vsb_rpc_client_queue_is_low() is true again). */
    void (*client_drained)(VsbRpcClient *client, gpointer data, gpointer opaque);
    /* The connection is gone (closed by the peer, dropped, or the
     * server is freed): free @data.  Called once, from the main loop,
     * never from inside another hook of the same client. */
    void (*client_close)(VsbRpcClient *client, gpointer data, gpointer opaque);
    /* What happened (connections dropped, listeners failing); the
     * daemon decides what to print.  May be NULL. */
    void (*log)(GLogLevelFlags level, const char *message, gpointer opaque);
} VsbRpcServerHooks;

typedef struct {
    guint max_clients;          /* beyond it new connections are closed at once; 0 = 4096 */
    int keepalive_interval;     /* seconds of silence before we ping; <= 0: never */
    guint keepalive_count;      /* unanswered pings before the client is dropped */
    gsize max_queue;            /* bytes queued to a client before it is dropped; 0 = default */
} VsbRpcServerConfig;

/* Defaults: libvirt's (5 s, 5 pings), a 40 MiB queue (above one
 * largest message). */
#define VSB_RPC_KEEPALIVE_INTERVAL 5
#define VSB_RPC_KEEPALIVE_COUNT 5
#define VSB_RPC_MAX_QUEUE ((gsize)VSB_RPC_FRAME_MAX + 8 * 1024 * 1024)
/* Below this many queued bytes a client may be sent more stream data. */
#define VSB_RPC_QUEUE_LOW (256 * 1024)

VsbRpcServer *vsb_rpc_server_new(const VsbRpcServerConfig *cfg, const VsbRpcServerHooks *hooks,
                                 gpointer opaque);
/* Closes every connection (client_close hooks run), stops listening
 * and removes the socket files it created (when still the same). */
void vsb_rpc_server_free(VsbRpcServer *srv);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbRpcServer, vsb_rpc_server_free)

/* Listen at @path (a unix socket, mode @mode).  Its directory is
 * created when missing.  A stale socket file (nobody accepts on it) is
 * replaced; a live one is left alone and the error says which process
 * serves it; any other file there is an error. */
bool vsb_rpc_server_listen(VsbRpcServer *srv, const char *path, bool readonly, mode_t mode,
                           GError **error);

/* Accept on @fd, a listening unix socket made by someone else (systemd's
 * socket activation): made non-blocking and close-on-exec, owned by the
 * server from now on; @path (for messages) is never removed. */
bool vsb_rpc_server_listen_fd(VsbRpcServer *srv, int fd, const char *path, bool readonly,
                              GError **error);

guint vsb_rpc_server_n_clients(VsbRpcServer *srv);

/* Whether @client came through a read-only socket. */
bool vsb_rpc_client_is_readonly(VsbRpcClient *client);
/* Peer credentials (SO_PEERCRED), for messages; -1 when unknown. */
pid_t vsb_rpc_client_get_pid(VsbRpcClient *client);
uid_t vsb_rpc_client_get_uid(VsbRpcClient *client);
/* A short name for messages: "client 12 (pid 345)". */
const char *vsb_rpc_client_get_name(VsbRpcClient *client);

/* Queue @msg (encoded) for @client; takes it.  Never blocks: what the
 * socket does not take now is sent when it becomes writable.  Past the
 * queue bound the client is dropped (asynchronously). */
void vsb_rpc_client_send(VsbRpcClient *client, VsbRpcMessage *msg);
gsize vsb_rpc_client_get_queued(VsbRpcClient *client);
bool vsb_rpc_client_queue_is_low(VsbRpcClient *client);

/* Start pinging a client that said it understands keepalive. */
void vsb_rpc_client_start_keepalive(VsbRpcClient *client);

/* Drop the connection: no more I/O from now on; the client_close hook
 * runs from the main loop soon after (never from inside this call).
 * @reason goes to the log hook (NULL: closed quietly). */
void vsb_rpc_client_close(VsbRpcClient *client, const char *reason);
bool vsb_rpc_client_is_closed(VsbRpcClient *client);

G_END_DECLS
