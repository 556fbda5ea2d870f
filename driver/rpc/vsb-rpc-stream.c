/*
 * vsb-rpc-stream.c: console streams.
 *
 * A stream is named by the call that opened it (program, version,
 * procedure 201, serial).  Console output goes to the client as
 * STREAM/CONTINUE messages of raw bytes, an empty one at end of file;
 * the client's STREAM/CONTINUE bytes go to the console unacknowledged.
 * The client ends the stream with an empty STREAM/OK (finish) or
 * STREAM/ERROR (abort), each confirmed by an empty STREAM/OK; a failure
 * on our side is a STREAM/ERROR carrying the error.  Console output
 * is read only while the client's queue is short, so a slow reader
 * slows the console instead of growing our memory.
 */
#include <config.h>

#include "vsb-rpc-dispatch-priv.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Bytes from the client not yet taken by the console; beyond this the
 * stream fails rather than buffering without end. */
#define VSB_RPC_STREAM_PENDING_MAX (1024 * 1024)

typedef struct {
    GSource base;
    VsbRpcStream *st;
    gpointer tag;
} VsbRpcStreamSource;

struct _VsbRpcStream {
    VsbRpcConn *conn;
    vsb_rpc_header id;          /* prog, vers, proc, serial of the opening call */
    int fd;                     /* the console */
    GSource *source;
    VsbRpcStreamSource *ssource;
    GIOCondition events;
    GByteArray *pending;        /* client -> console */
    bool started;
    bool eof;                   /* console ended; the empty CONTINUE is sent */
    bool write_closed;          /* the console takes no more input */
};

static VsbRpcMessage *
stream_message(VsbRpcStream *st, int status)
{
    VsbRpcMessage *msg = vsb_rpc_message_new();

    msg->header.prog = st->id.prog;
    msg->header.vers = st->id.vers;
    msg->header.proc = st->id.proc;
    msg->header.type = VSB_RPC_TYPE_STREAM;
    msg->header.serial = st->id.serial;
    msg->header.status = status;
    return msg;
}

static void
stream_send_raw(VsbRpcStream *st, int status, const void *data, gsize len)
{
    g_autoptr(GError) error = NULL;
    VsbRpcMessage *msg = stream_message(st, status);

    if (!vsb_rpc_message_encode_raw(msg, data, len, &error)) {
        vsb_rpc_message_free(msg);
        vsb_rpc_client_close(st->conn->client, error->message);
        return;
    }
    vsb_rpc_client_send(st->conn->client, msg);
}

/* Forget the stream (closing the console). */
static void
stream_remove(VsbRpcStream *st)
{
    VsbRpcConn *conn = st->conn;

    if (st->started && conn->streams)
        g_hash_table_remove(conn->streams, GUINT_TO_POINTER(st->id.serial));
    else
        vsb_rpc_stream_free(st);
}

/* A failure on our side: tell the client, drop the stream. */
static void
stream_fail(VsbRpcStream *st, int code, const char *message)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *text = vsb_rpc_error_format(code, message);
    VsbRpcMessage *msg = stream_message(st, VSB_RPC_STATUS_ERROR);

    if (vsb_rpc_message_encode_error(msg, code, VIR_FROM_STREAMS, text, &error))
        vsb_rpc_client_send(st->conn->client, g_steal_pointer(&msg));
    vsb_rpc_message_free(msg);
    stream_remove(st);
}

static void
stream_update_events(VsbRpcStream *st)
{
    GIOCondition want = 0;

    if (!st->source)
        return;
    if (!st->eof && vsb_rpc_client_queue_is_low(st->conn->client))
        want |= G_IO_IN;
    if (st->pending->len && !st->write_closed)
        want |= G_IO_OUT;
    if (want == st->events)
        return;
    /* poll() reports a hang-up even for no events: an fd we wait for
     * nothing on must leave the poll set, or a hung-up console spins. */
    if (!want) {
        g_source_remove_unix_fd(st->source, st->ssource->tag);
        st->ssource->tag = NULL;
    } else if (!st->ssource->tag) {
        st->ssource->tag = g_source_add_unix_fd(st->source, st->fd, want);
    } else {
        g_source_modify_unix_fd(st->source, st->ssource->tag, want);
    }
    st->events = want;
}

/* Write what the console takes.  Returns false if the stream is gone. */
static bool
stream_write(VsbRpcStream *st)
{
    while (st->pending->len && !st->write_closed) {
        ssize_t n = send(st->fd, st->pending->data, st->pending->len,
                         MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n < 0 && errno == ENOTSOCK)
            n = write(st->fd, st->pending->data, st->pending->len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            /* The console went away (the domain stopped): its reading
             * side reports the end; input is dropped from now on. */
            st->write_closed = true;
            g_byte_array_set_size(st->pending, 0);
            break;
        }
        g_byte_array_remove_range(st->pending, 0, n);
    }
    return true;
}

/* Read one chunk of console output for the client. */
static void
stream_read(VsbRpcStream *st)
{
    g_autofree guint8 *buf = g_malloc(VSB_RPC_STREAM_CHUNK_MAX);
    ssize_t n;

    do {
        n = read(st->fd, buf, VSB_RPC_STREAM_CHUNK_MAX);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (n < 0 && errno != ECONNRESET && errno != EIO) {
        g_autofree char *why = g_strdup_printf("console read failed: %s", g_strerror(errno));

        stream_fail(st, VIR_ERR_RPC, why);
        return;
    }
    if (n <= 0) {
        /* End of the console (the domain stopped): an empty CONTINUE;
         * the stream stays until the client finishes or aborts it. */
        st->eof = true;
        st->write_closed = true;
        g_byte_array_set_size(st->pending, 0);
        stream_send_raw(st, VSB_RPC_STATUS_CONTINUE, "", 0);
        return;
    }
    stream_send_raw(st, VSB_RPC_STATUS_CONTINUE, buf, n);
}

static gboolean
stream_source_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
    VsbRpcStreamSource *ss = (VsbRpcStreamSource *)source;
    VsbRpcStream *st = ss->st;
    GIOCondition revents = ss->tag ? g_source_query_unix_fd(source, ss->tag) : 0;
    guint serial = st->id.serial;
    VsbRpcConn *conn = st->conn;

    if (revents & G_IO_OUT)
        stream_write(st);
    if (!st->eof && (revents & (G_IO_IN | G_IO_HUP | G_IO_ERR)) &&
        vsb_rpc_client_queue_is_low(conn->client)) {
        stream_read(st);
        /* stream_read may have dropped the stream */
        if (g_hash_table_lookup(conn->streams, GUINT_TO_POINTER(serial)) != st)
            return G_SOURCE_REMOVE;
    }
    stream_update_events(st);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs stream_source_funcs = {
    .dispatch = stream_source_dispatch,
};

VsbRpcStream *
vsb_rpc_stream_new(VsbRpcConn *conn, const vsb_rpc_header *call, int fd)
{
    VsbRpcStream *st = g_new0(VsbRpcStream, 1);
    int fl = fcntl(fd, F_GETFL);

    if (fl >= 0)
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    st->conn = conn;
    st->id = *call;
    st->fd = fd;
    st->pending = g_byte_array_new();
    return st;
}

void
vsb_rpc_stream_free(VsbRpcStream *st)
{
    if (!st)
        return;
    if (st->source) {
        g_source_destroy(st->source);
        g_source_unref(st->source);
    }
    if (st->fd >= 0)
        close(st->fd);
    g_byte_array_free(st->pending, TRUE);
    g_free(st);
}

void
vsb_rpc_stream_start(VsbRpcStream *st)
{
    VsbRpcConn *conn = st->conn;

    st->started = true;
    g_hash_table_replace(conn->streams, GUINT_TO_POINTER(st->id.serial), st);
    st->source = g_source_new(&stream_source_funcs, sizeof(VsbRpcStreamSource));
    st->ssource = (VsbRpcStreamSource *)st->source;
    st->ssource->st = st;
    st->events = 0;
    st->ssource->tag = NULL;
    g_source_set_name(st->source, "vsb-rpc-stream");
    g_source_attach(st->source, NULL);
    stream_update_events(st);
}

void
vsb_rpc_stream_incoming(VsbRpcConn *conn, VsbRpcMessage *msg)
{
    VsbRpcStream *st = g_hash_table_lookup(conn->streams, GUINT_TO_POINTER(msg->header.serial));
    gsize len = msg->len - msg->payload;

    /* Data may still arrive for a stream we already ended (it is not
     * acknowledged): ignore it, as libvirt does. */
    if (!st || st->id.proc != msg->header.proc || st->id.prog != msg->header.prog) {
        vsb_rpc_message_free(msg);
        return;
    }
    switch (msg->header.status) {
    case VSB_RPC_STATUS_CONTINUE:
        if (st->write_closed || len == 0)
            break;
        if (st->pending->len + len > VSB_RPC_STREAM_PENDING_MAX) {
            stream_fail(st, VIR_ERR_RPC, "the console does not take input fast enough");
            break;
        }
        g_byte_array_append(st->pending, msg->data + msg->payload, len);
        stream_write(st);
        stream_update_events(st);
        break;
    case VSB_RPC_STATUS_OK:      /* finish */
    case VSB_RPC_STATUS_ERROR:   /* abort */
    default:
        /* Both confirmed by an empty STREAM/OK; the console is closed
         * (the controller then frees it for the next client). */
        stream_send_raw(st, VSB_RPC_STATUS_OK, NULL, 0);
        stream_remove(st);
        break;
    }
    vsb_rpc_message_free(msg);
}

void
vsb_rpc_stream_drained(VsbRpcConn *conn)
{
    GHashTableIter it;
    gpointer value;

    g_hash_table_iter_init(&it, conn->streams);
    while (g_hash_table_iter_next(&it, NULL, &value))
        stream_update_events(value);
}
