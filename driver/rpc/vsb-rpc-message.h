/*
 * vsb-rpc-message.h: libvirt RPC messages in memory: framing limits,
 * header decoding and validation, XDR payload encoding and decoding,
 * error payloads.
 *
 * Pure code (no I/O): the server feeds it bytes read from a socket,
 * the fuzzer feeds it anything.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <rpc/rpc.h>

#include "vsb-rpc-protocol.h"

G_BEGIN_DECLS

/* Errors of the RPC layer.  The codes are libvirt's virErrorNumber
 * values themselves (VIR_ERR_RPC, VIR_ERR_NO_SUPPORT, ...), so that an
 * error travels to the client unchanged. */
#define VSB_RPC_ERROR (vsb_rpc_error_quark())
GQuark vsb_rpc_error_quark(void);

/* A frame, its length word included, is within these bounds. */
#define VSB_RPC_FRAME_MIN (VSB_RPC_LEN_WORD + VSB_RPC_HEADER_LEN)
#define VSB_RPC_FRAME_MAX (VSB_RPC_LEN_WORD + VSB_RPC_MESSAGE_MAX)

typedef struct {
    guint8 *data;          /* the whole frame: length word, header, [fd count], payload */
    gsize len;             /* frame length (bytes of data in use) */
    gsize alloc;           /* bytes allocated in data */
    vsb_rpc_header header; /* decoded (incoming) or to encode (outgoing) */
    gsize payload;         /* offset of the payload in data */

    int *fds;              /* nfds entries, received with it or to send after
                            * it; -1 once handed over (or not received yet) */
    guint nfds;
    guint nfds_done;       /* I/O progress on fds */
    gsize done;            /* I/O progress on data */
} VsbRpcMessage;

VsbRpcMessage *vsb_rpc_message_new(void);
/* Frees the buffer and closes the fds still owned. */
void vsb_rpc_message_free(VsbRpcMessage *msg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbRpcMessage, vsb_rpc_message_free)

/* Take ownership of @fd (to send after the message). */
void vsb_rpc_message_add_fd(VsbRpcMessage *msg, int fd);

/* The big-endian length word at the start of a frame. */
guint32 vsb_rpc_read_u32(const guint8 *p);
void vsb_rpc_write_u32(guint8 *p, guint32 v);

/* Check a frame length (the length word's value) against the wire's
 * limits: VSB_RPC_FRAME_MIN..VSB_RPC_FRAME_MAX. */
bool vsb_rpc_frame_length_check(guint32 len, GError **error);

/* Prepare @msg to receive a frame of @len bytes (already checked);
 * the length word is stored, msg->done is set to 4. */
void vsb_rpc_message_prepare_read(VsbRpcMessage *msg, guint32 len);
/* Where the next bytes of the frame go, and how many fit (> 0 until
 * the frame is complete); the buffer grows as the frame arrives.  The
 * caller adds what it stored to msg->done. */
guint8 *vsb_rpc_message_read_buffer(VsbRpcMessage *msg, gsize *room);

/* Decode and validate the header of a complete frame in @msg (and the
 * fd count of CALL_WITH_FDS, stored in msg->nfds as the number of fds
 * still to receive).  What a client may send:
 *  - REMOTE or LXC, version 1: CALL, CALL_WITH_FDS; REMOTE also STREAM;
 *  - KEEPALIVE, version 1: MESSAGE of PING or PONG with status OK.
 * Anything else (unknown program, version, type or status, a fd count
 * above VSB_RPC_FDS_MAX or beyond the frame) is a protocol violation:
 * VSB_RPC_ERROR / VIR_ERR_RPC, and the connection must be dropped. */
bool vsb_rpc_message_decode_header(VsbRpcMessage *msg, GError **error);

/* Decode the XDR payload into @out (zeroed by the caller) with
 * @filter; the payload must be consumed exactly.  On failure @out is
 * freed again (xdr_free) and the error is VIR_ERR_RPC. */
bool vsb_rpc_message_decode_payload(const VsbRpcMessage *msg, xdrproc_t filter, void *out,
                                    GError **error);

/* Encode @msg->header (with the fd count when the type is
 * *_WITH_FDS: msg->nfds), then @body through @filter (NULL: empty).
 * The buffer grows as needed up to VSB_RPC_FRAME_MAX; beyond that the
 * error is VIR_ERR_RPC. */
bool vsb_rpc_message_encode(VsbRpcMessage *msg, xdrproc_t filter, const void *body,
                            GError **error);
/* Same with raw bytes as the payload (stream data). */
bool vsb_rpc_message_encode_raw(VsbRpcMessage *msg, const void *data, gsize len,
                                GError **error);

/* Encode an error payload (status ERROR must already be in msg->header):
 * @code is a virErrorNumber, @domain a virErrorDomain; @message is
 * sent as is. */
bool vsb_rpc_message_encode_error(VsbRpcMessage *msg, int code, int domain,
                                  const char *message, GError **error);

/* libvirt's wording for an error: its fixed prefix for @code followed by
 * @detail ("Domain not found: no domain with matching name 'x'").  When
 * @detail already starts with that prefix it is returned unchanged. */
char *vsb_rpc_error_format(int code, const char *detail);

/* A typed parameter, for replies: @field is copied. */
void vsb_rpc_param_set_int(vsb_rpc_param *p, const char *field, int v);
void vsb_rpc_param_set_uint(vsb_rpc_param *p, const char *field, unsigned int v);
void vsb_rpc_param_set_llong(vsb_rpc_param *p, const char *field, long long v);
void vsb_rpc_param_set_ullong(vsb_rpc_param *p, const char *field, unsigned long long v);
void vsb_rpc_param_set_string(vsb_rpc_param *p, const char *field, const char *v);

/* Validate typed parameters received from a client: every field name
 * shorter than VSB_RPC_PARAM_FIELD_MAX, no name twice (VIR_ERR_INVALID_ARG). */
bool vsb_rpc_params_check(const vsb_rpc_param *params, guint n, GError **error);

G_END_DECLS
