/*
 * vsb-rpc-message.c: libvirt RPC messages in memory (see the header).
 */
#include <config.h>

#include "vsb-rpc-message.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <libvirt/virterror.h>

G_DEFINE_QUARK(vsb-rpc-error-quark, vsb_rpc_error)

/* First buffer for an outgoing message; most replies fit. */
#define VSB_RPC_MESSAGE_INITIAL 65536

VsbRpcMessage *
vsb_rpc_message_new(void)
{
    return g_new0(VsbRpcMessage, 1);
}

void
vsb_rpc_message_free(VsbRpcMessage *msg)
{
    if (!msg)
        return;
    /* fds handed over (sent, or taken by a handler) are -1 */
    for (guint i = 0; i < msg->nfds && msg->fds; i++) {
        if (msg->fds[i] >= 0)
            close(msg->fds[i]);
    }
    g_free(msg->fds);
    g_free(msg->data);
    g_free(msg);
}

void
vsb_rpc_message_add_fd(VsbRpcMessage *msg, int fd)
{
    msg->fds = g_renew(int, msg->fds, msg->nfds + 1);
    msg->fds[msg->nfds++] = fd;
}

guint32
vsb_rpc_read_u32(const guint8 *p)
{
    return ((guint32)p[0] << 24) | ((guint32)p[1] << 16) | ((guint32)p[2] << 8) | p[3];
}

void
vsb_rpc_write_u32(guint8 *p, guint32 v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

bool
vsb_rpc_frame_length_check(guint32 len, GError **error)
{
    if (len < VSB_RPC_FRAME_MIN || len > VSB_RPC_FRAME_MAX) {
        g_set_error(error, VSB_RPC_ERROR, VIR_ERR_RPC,
                    "frame length %u outside %u..%u", len,
                    (unsigned)VSB_RPC_FRAME_MIN, (unsigned)VSB_RPC_FRAME_MAX);
        return false;
    }
    return true;
}

void
vsb_rpc_message_prepare_read(VsbRpcMessage *msg, guint32 len)
{
    /* Memory follows the bytes that actually arrive, not the length
     * a client announces (it may announce 32 MiB and send nothing). */
    gsize first = MIN((gsize)len, (gsize)VSB_RPC_MESSAGE_INITIAL);

    if (msg->alloc < first) {
        g_free(msg->data);
        msg->data = g_malloc(first);
        msg->alloc = first;
    }
    msg->len = len;
    vsb_rpc_write_u32(msg->data, len);
    msg->done = VSB_RPC_LEN_WORD;
}

guint8 *
vsb_rpc_message_read_buffer(VsbRpcMessage *msg, gsize *room)
{
    if (msg->done == msg->alloc && msg->alloc < msg->len) {
        msg->alloc = MIN(msg->alloc * 2, msg->len);
        msg->data = g_realloc(msg->data, msg->alloc);
    }
    *room = MIN(msg->alloc, msg->len) - msg->done;
    return msg->data + msg->done;
}

static bool
header_invalid(GError **error, const vsb_rpc_header *h, const char *why)
{
    g_set_error(error, VSB_RPC_ERROR, VIR_ERR_RPC,
                "invalid message header (prog 0x%x vers %u proc %d type %d status %d): %s",
                h->prog, h->vers, h->proc, h->type, h->status, why);
    return false;
}

bool
vsb_rpc_message_decode_header(VsbRpcMessage *msg, GError **error)
{
    vsb_rpc_header *h = &msg->header;
    const guint8 *p;

    if (msg->len < VSB_RPC_FRAME_MIN || msg->len > VSB_RPC_FRAME_MAX) {
        g_set_error(error, VSB_RPC_ERROR, VIR_ERR_RPC, "frame length %zu out of bounds",
                    (size_t)msg->len);
        return false;
    }
    /* Six plain 4-byte words: no need for an XDR stream here. */
    p = msg->data + VSB_RPC_LEN_WORD;
    h->prog = vsb_rpc_read_u32(p);
    h->vers = vsb_rpc_read_u32(p + 4);
    h->proc = (int)vsb_rpc_read_u32(p + 8);
    h->type = (int)vsb_rpc_read_u32(p + 12);
    h->serial = vsb_rpc_read_u32(p + 16);
    h->status = (int)vsb_rpc_read_u32(p + 20);
    msg->payload = VSB_RPC_FRAME_MIN;
    msg->nfds = 0;
    msg->nfds_done = 0;

    if (h->vers != VSB_RPC_PROGRAM_VERSION)
        return header_invalid(error, h, "unknown program version");
    if (h->status != VSB_RPC_STATUS_OK && h->status != VSB_RPC_STATUS_ERROR &&
        h->status != VSB_RPC_STATUS_CONTINUE)
        return header_invalid(error, h, "unknown status");

    switch (h->prog) {
    case VSB_RPC_PROGRAM_REMOTE:
    case VSB_RPC_PROGRAM_LXC:
        if (h->type == VSB_RPC_TYPE_CALL)
            return true;
        if (h->type == VSB_RPC_TYPE_STREAM && h->prog == VSB_RPC_PROGRAM_REMOTE)
            return true;
        if (h->type == VSB_RPC_TYPE_CALL_WITH_FDS) {
            guint32 n;

            if (msg->len < VSB_RPC_FRAME_MIN + 4)
                return header_invalid(error, h, "no fd count");
            n = vsb_rpc_read_u32(msg->data + VSB_RPC_FRAME_MIN);
            if (n > VSB_RPC_FDS_MAX)
                return header_invalid(error, h, "too many fds");
            msg->nfds = n;
            g_free(msg->fds);
            msg->fds = g_new(int, MAX(n, 1));
            for (guint32 i = 0; i < n; i++)
                msg->fds[i] = -1;
            msg->payload += 4;
            return true;
        }
        /* Replies, messages and stream holes never come from a client
         * (holes only on streams that asked for them, which none does). */
        return header_invalid(error, h, "unexpected message type");
    case VSB_RPC_PROGRAM_KEEPALIVE:
        if (h->type != VSB_RPC_TYPE_MESSAGE || h->status != VSB_RPC_STATUS_OK)
            return header_invalid(error, h, "unexpected keepalive message type");
        if (h->proc != VSB_RPC_KEEPALIVE_PROC_PING && h->proc != VSB_RPC_KEEPALIVE_PROC_PONG)
            return header_invalid(error, h, "unknown keepalive procedure");
        if (msg->len != VSB_RPC_FRAME_MIN)
            return header_invalid(error, h, "keepalive message with a payload");
        return true;
    default:
        return header_invalid(error, h, "unknown program");
    }
}

bool
vsb_rpc_message_decode_payload(const VsbRpcMessage *msg, xdrproc_t filter, void *out,
                               GError **error)
{
    XDR xdr;
    gsize size = msg->len - msg->payload;
    bool ok;

    g_return_val_if_fail(msg->len >= msg->payload, false);
    xdrmem_create(&xdr, (char *)msg->data + msg->payload, size, XDR_DECODE);
    ok = filter(&xdr, out, 0);
    /* Trailing bytes mean the client and we disagree on the layout:
     * better an error than acting on a misread call. */
    if (ok && xdr_getpos(&xdr) != size)
        ok = false;
    xdr_destroy(&xdr);
    if (!ok) {
        xdr_free(filter, out);
        g_set_error(error, VSB_RPC_ERROR, VIR_ERR_RPC,
                    "Unable to decode message payload (procedure %d)", msg->header.proc);
        return false;
    }
    return true;
}

/* Grow the buffer to at least @need bytes, doubling; false beyond the
 * largest frame. */
static bool
message_reserve(VsbRpcMessage *msg, gsize need)
{
    gsize n;

    if (need > VSB_RPC_FRAME_MAX)
        return false;
    if (msg->alloc >= need)
        return true;
    n = MAX(msg->alloc, VSB_RPC_MESSAGE_INITIAL);
    while (n < need)
        n *= 2;
    n = MIN(n, (gsize)VSB_RPC_FRAME_MAX);
    msg->data = g_realloc(msg->data, n);
    msg->alloc = n;
    return true;
}

static bool
too_large(GError **error, const VsbRpcMessage *msg)
{
    g_set_error(error, VSB_RPC_ERROR, VIR_ERR_RPC,
                "reply to procedure %d exceeds the largest message (%u bytes)",
                msg->header.proc, (unsigned)VSB_RPC_MESSAGE_MAX);
    return false;
}

/* Length placeholder, header and fd count; returns the payload offset. */
static gsize
encode_header(VsbRpcMessage *msg)
{
    const vsb_rpc_header *h = &msg->header;
    guint8 *p;
    gsize off = VSB_RPC_FRAME_MIN;

    message_reserve(msg, VSB_RPC_MESSAGE_INITIAL);
    p = msg->data + VSB_RPC_LEN_WORD;
    vsb_rpc_write_u32(p, h->prog);
    vsb_rpc_write_u32(p + 4, h->vers);
    vsb_rpc_write_u32(p + 8, (guint32)h->proc);
    vsb_rpc_write_u32(p + 12, (guint32)h->type);
    vsb_rpc_write_u32(p + 16, h->serial);
    vsb_rpc_write_u32(p + 20, (guint32)h->status);
    if (h->type == VSB_RPC_TYPE_CALL_WITH_FDS || h->type == VSB_RPC_TYPE_REPLY_WITH_FDS) {
        vsb_rpc_write_u32(msg->data + off, msg->nfds);
        off += 4;
    }
    return off;
}

static void
finish_frame(VsbRpcMessage *msg, gsize len)
{
    msg->len = len;
    vsb_rpc_write_u32(msg->data, (guint32)len);
    msg->done = 0;
    msg->nfds_done = 0;
    /* Messages may wait in a queue: keep only what they use. */
    if (msg->alloc > len + 1024) {
        msg->data = g_realloc(msg->data, len);
        msg->alloc = len;
    }
}

bool
vsb_rpc_message_encode(VsbRpcMessage *msg, xdrproc_t filter, const void *body, GError **error)
{
    gsize off = encode_header(msg);

    msg->payload = off;
    if (!filter) {
        finish_frame(msg, off);
        return true;
    }
    for (;;) {
        XDR xdr;
        bool ok;
        gsize used = 0;

        xdrmem_create(&xdr, (char *)msg->data + off, msg->alloc - off, XDR_ENCODE);
        ok = filter(&xdr, (void *)body, 0);
        if (ok)
            used = xdr_getpos(&xdr);
        xdr_destroy(&xdr);
        if (ok) {
            finish_frame(msg, off + used);
            return true;
        }
        /* Out of room (the only way encoding fails on valid data):
         * retry with twice the buffer, as long as a frame may be. */
        if (msg->alloc >= VSB_RPC_FRAME_MAX ||
            !message_reserve(msg, MIN(msg->alloc * 2, (gsize)VSB_RPC_FRAME_MAX)))
            return too_large(error, msg);
    }
}

bool
vsb_rpc_message_encode_raw(VsbRpcMessage *msg, const void *data, gsize len, GError **error)
{
    gsize off = encode_header(msg);

    msg->payload = off;
    if (len > VSB_RPC_FRAME_MAX - off || !message_reserve(msg, off + len))
        return too_large(error, msg);
    if (len)
        memcpy(msg->data + off, data, len);
    finish_frame(msg, off + len);
    return true;
}

bool
vsb_rpc_message_encode_error(VsbRpcMessage *msg, int code, int domain, const char *message,
                             GError **error)
{
    vsb_rpc_error err = { 0 };
    /* The client's strings are bounded: a longer message would make it
     * drop the connection instead of showing the error. */
    g_autofree char *text = g_strndup(message ? message : "unknown error",
                                      VSB_RPC_STRING_MAX - 1);
    char *textp = text;

    err.code = code;
    err.domain = domain;
    err.message = &textp;
    err.level = VIR_ERR_ERROR;
    return vsb_rpc_message_encode(msg, (xdrproc_t)xdr_vsb_rpc_error, &err, error);
}

/* The fixed part of libvirt's messages, per error code (the wording
 * clients show and scripts match). */
static const char *
error_prefix(int code)
{
    switch (code) {
    case VIR_ERR_INTERNAL_ERROR: return "internal error";
    case VIR_ERR_NO_SUPPORT: return "this function is not supported by the connection driver";
    case VIR_ERR_NO_CONNECT: return "no connection driver available for";
    case VIR_ERR_INVALID_ARG: return "invalid argument";
    case VIR_ERR_OPERATION_FAILED: return "operation failed";
    case VIR_ERR_XML_ERROR: return "XML error";
    case VIR_ERR_OPERATION_DENIED: return "operation forbidden";
    case VIR_ERR_NO_DOMAIN: return "Domain not found";
    case VIR_ERR_OPERATION_INVALID: return "Requested operation is not valid";
    case VIR_ERR_CONFIG_UNSUPPORTED: return "unsupported configuration";
    case VIR_ERR_ARGUMENT_UNSUPPORTED: return "argument unsupported";
    case VIR_ERR_OPERATION_UNSUPPORTED: return "Operation not supported";
    case VIR_ERR_NO_SECURITY_MODEL: return "Security model not found";
    case VIR_ERR_NO_DOMAIN_METADATA: return "metadata not found";
    default: return NULL;   /* VIR_ERR_RPC, VIR_ERR_SYSTEM_ERROR: the detail alone */
    }
}

char *
vsb_rpc_error_format(int code, const char *detail)
{
    const char *prefix = error_prefix(code);
    gsize plen;

    if (!detail || !*detail)
        return g_strdup(prefix ? prefix : "unknown error");
    if (!prefix)
        return g_strdup(detail);
    plen = strlen(prefix);
    if (strncmp(detail, prefix, plen) == 0)
        return g_strdup(detail);
    if (code == VIR_ERR_NO_CONNECT)
        return g_strdup_printf("%s %s", prefix, detail);
    return g_strdup_printf("%s: %s", prefix, detail);
}

void
vsb_rpc_param_set_int(vsb_rpc_param *p, const char *field, int v)
{
    p->field = g_strdup(field);
    p->value.type = VSB_RPC_PARAM_INT;
    p->value.vsb_rpc_param_value_u.i = v;
}

void
vsb_rpc_param_set_uint(vsb_rpc_param *p, const char *field, unsigned int v)
{
    p->field = g_strdup(field);
    p->value.type = VSB_RPC_PARAM_UINT;
    p->value.vsb_rpc_param_value_u.ui = v;
}

void
vsb_rpc_param_set_llong(vsb_rpc_param *p, const char *field, long long v)
{
    p->field = g_strdup(field);
    p->value.type = VSB_RPC_PARAM_LLONG;
    p->value.vsb_rpc_param_value_u.l = v;
}

void
vsb_rpc_param_set_ullong(vsb_rpc_param *p, const char *field, unsigned long long v)
{
    p->field = g_strdup(field);
    p->value.type = VSB_RPC_PARAM_ULLONG;
    p->value.vsb_rpc_param_value_u.ul = v;
}

void
vsb_rpc_param_set_string(vsb_rpc_param *p, const char *field, const char *v)
{
    p->field = g_strdup(field);
    p->value.type = VSB_RPC_PARAM_STRING;
    p->value.vsb_rpc_param_value_u.s = g_strdup(v);
}

bool
vsb_rpc_params_check(const vsb_rpc_param *params, guint n, GError **error)
{
    for (guint i = 0; i < n; i++) {
        if (strlen(params[i].field) >= VSB_RPC_PARAM_FIELD_MAX) {
            g_set_error(error, VSB_RPC_ERROR, VIR_ERR_INVALID_ARG,
                        "parameter name '%.*s...' too long", 20, params[i].field);
            return false;
        }
        for (guint j = 0; j < i; j++) {
            if (strcmp(params[i].field, params[j].field) == 0) {
                g_set_error(error, VSB_RPC_ERROR, VIR_ERR_INVALID_ARG,
                            "parameter '%s' given twice", params[i].field);
                return false;
            }
        }
    }
    return true;
}
