/*
 * fuzz-rpc-frame.c: libFuzzer target for what virt-sandboxd decodes
 * from a client: the stream of frames (length words), each header, and
 * each payload through every argument layout we know.
 *
 * Any input may be rejected, but nothing may crash, leak, hang or
 * allocate without bound.  A payload that decodes must encode again,
 * and that encoding must decode and re-encode to the same bytes (XDR
 * is canonical once decoded: flags and padding normalised).
 *
 *   fuzz-rpc-frame -max_total_time=60 CORPUS_DIR
 */
#include <config.h>

#include "vsb-rpc-message.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    xdrproc_t filter;
    size_t size;
} Layout;

#define L(type) { (xdrproc_t)xdr_##type, sizeof(type) }

/* Every argument layout the dispatcher decodes, and the structures
 * the daemon encodes (their decoders must be as robust). */
static const Layout layouts[] = {
    L(vsb_rpc_supports_feature_args),
    L(vsb_rpc_connect_open_args),
    L(vsb_rpc_flags_args),
    L(vsb_rpc_list_all_domains_args),
    L(vsb_rpc_list_domains_args),
    L(vsb_rpc_list_defined_domains_args),
    L(vsb_rpc_lookup_by_id_args),
    L(vsb_rpc_lookup_by_name_args),
    L(vsb_rpc_lookup_by_uuid_args),
    L(vsb_rpc_domain_args),
    L(vsb_rpc_domain_flags_args),
    L(vsb_rpc_domain_int_args),
    L(vsb_rpc_define_xml_args),
    L(vsb_rpc_xml_flags_args),
    L(vsb_rpc_domain_set_memory_flags_args),
    L(vsb_rpc_domain_get_params_args),
    L(vsb_rpc_domain_set_params_args),
    L(vsb_rpc_domain_get_scheduler_parameters_args),
    L(vsb_rpc_domain_set_scheduler_parameters_args),
    L(vsb_rpc_get_all_domain_stats_args),
    L(vsb_rpc_domain_memory_stats_args),
    L(vsb_rpc_domain_open_console_args),
    L(vsb_rpc_domain_get_metadata_args),
    L(vsb_rpc_domain_save_args),
    L(vsb_rpc_domain_save_flags_args),
    L(vsb_rpc_domain_restore_args),
    L(vsb_rpc_domain_restore_flags_args),
    L(vsb_rpc_event_register_any_args),
    L(vsb_rpc_event_deregister_any_args),
    L(vsb_rpc_error),
    L(vsb_rpc_event_lifecycle_msg),
    L(vsb_rpc_list_all_domains_ret),
    L(vsb_rpc_domain_get_params_ret),
    L(vsb_rpc_get_all_domain_stats_ret),
    L(vsb_rpc_node_get_info_ret),
    L(vsb_rpc_node_get_security_model_ret),
};

/* Decode, re-encode, decode again, re-encode again: the two encodings
 * must match. */
static void
roundtrip(const VsbRpcMessage *msg, const Layout *l)
{
    g_autofree void *a = g_malloc0(l->size);
    g_autofree void *b = g_malloc0(l->size);
    g_autoptr(VsbRpcMessage) e1 = vsb_rpc_message_new();
    g_autoptr(VsbRpcMessage) e2 = vsb_rpc_message_new();
    g_autoptr(GError) error = NULL;

    if (!vsb_rpc_message_decode_payload(msg, l->filter, a, &error)) {
        if (!error || error->domain != VSB_RPC_ERROR)
            abort();
        return;
    }
    /* a plain call of the remote program: no fd count word */
    e1->header.prog = VSB_RPC_PROGRAM_REMOTE;
    e1->header.vers = VSB_RPC_PROGRAM_VERSION;
    e1->header.proc = msg->header.proc;
    e1->header.type = VSB_RPC_TYPE_CALL;
    e1->header.serial = msg->header.serial;
    e1->header.status = VSB_RPC_STATUS_OK;
    if (!vsb_rpc_message_encode(e1, l->filter, a, &error)) {
        /* only a decoded value larger than a frame may fail */
        if (msg->len - msg->payload < VSB_RPC_MESSAGE_MAX / 8)
            abort();
        xdr_free(l->filter, a);
        return;
    }
    if (!vsb_rpc_message_decode_header(e1, &error) ||
        !vsb_rpc_message_decode_payload(e1, l->filter, b, &error)) {
        fprintf(stderr, "re-encoded payload does not decode: %s\n", error->message);
        abort();
    }
    e2->header = e1->header;
    if (!vsb_rpc_message_encode(e2, l->filter, b, &error))
        abort();
    if (e1->len != e2->len || memcmp(e1->data, e2->data, e1->len) != 0) {
        fprintf(stderr, "encoding is not stable\n");
        abort();
    }
    xdr_free(l->filter, a);
    xdr_free(l->filter, b);
}

/* The input is a byte stream as a client would send it: frames one
 * after the other, until one is invalid (the connection would be
 * dropped there) or the input ends. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;

    while (size - off >= VSB_RPC_LEN_WORD) {
        g_autoptr(VsbRpcMessage) msg = vsb_rpc_message_new();
        g_autoptr(GError) error = NULL;
        guint32 len = vsb_rpc_read_u32(data + off);

        if (!vsb_rpc_frame_length_check(len, &error)) {
            if (!error)
                abort();
            return 0;
        }
        if (len > size - off)
            return 0;   /* the rest has not arrived */
        vsb_rpc_message_prepare_read(msg, len);
        /* as the server reads: the buffer grows as bytes arrive */
        while (msg->done < msg->len) {
            gsize room;
            guint8 *p = vsb_rpc_message_read_buffer(msg, &room);

            if (room == 0)
                abort();
            memcpy(p, data + off + msg->done, room);
            msg->done += room;
        }
        off += len;
        if (!vsb_rpc_message_decode_header(msg, &error)) {
            if (!error || error->domain != VSB_RPC_ERROR || !error->message[0])
                abort();
            return 0;
        }
        if (msg->payload > msg->len)
            abort();
        /* The procedure number picks a layout, as the dispatcher's
         * table would; every layout gets its turn across inputs. */
        roundtrip(msg, &layouts[(guint32)msg->header.proc % G_N_ELEMENTS(layouts)]);
    }
    return 0;
}
