/*
 * test-rpc.c: unit tests of the RPC layer's pure parts (framing,
 * header decoding, XDR layouts, errors, typed parameters) and of the
 * transport (vsb-rpc-server.c) over real unix sockets, with test hooks
 * in place of the dispatcher.
 */
#include <config.h>

#include "vsb-rpc-message.h"
#include "vsb-rpc-server.h"
#include "vsb-util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <libvirt/virterror.h>

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static void
put_u32(GByteArray *b, guint32 v)
{
    guint8 w[4];

    vsb_rpc_write_u32(w, v);
    g_byte_array_append(b, w, 4);
}

/* A frame: length word, header, payload. */
static GByteArray *
frame(guint32 prog, guint32 vers, int proc, int type, guint32 serial, int status,
      const void *payload, gsize len)
{
    GByteArray *b = g_byte_array_new();

    put_u32(b, VSB_RPC_FRAME_MIN + len);
    put_u32(b, prog);
    put_u32(b, vers);
    put_u32(b, proc);
    put_u32(b, type);
    put_u32(b, serial);
    put_u32(b, status);
    if (len)
        g_byte_array_append(b, payload, len);
    return b;
}

static VsbRpcMessage *
message_from(GByteArray *b)
{
    VsbRpcMessage *msg = vsb_rpc_message_new();

    vsb_rpc_message_prepare_read(msg, b->len);
    while (msg->done < msg->len) {
        gsize room;
        guint8 *p = vsb_rpc_message_read_buffer(msg, &room);

        memcpy(p, b->data + msg->done, room);
        msg->done += room;
    }
    return msg;
}

static bool
decode_header_of(GByteArray *b, VsbRpcMessage **out)
{
    g_autoptr(VsbRpcMessage) msg = message_from(b);
    g_autoptr(GError) error = NULL;
    bool ok = vsb_rpc_message_decode_header(msg, &error);

    if (ok)
        g_assert_no_error(error);
    else
        g_assert_error(error, VSB_RPC_ERROR, VIR_ERR_RPC);
    if (out)
        *out = g_steal_pointer(&msg);
    return ok;
}

/* ------------------------------------------------------------------ */
/* Framing and headers                                                 */
/* ------------------------------------------------------------------ */

static void
test_frame_length(void)
{
    const struct {
        guint32 len;
        bool ok;
    } cases[] = {
        { 0, false }, { 4, false }, { 27, false }, { 28, true }, { 1000, true },
        { 33554432, true }, { 33554436, true }, { 33554437, false }, { 0xffffffffu, false },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;

        g_assert_cmpint(vsb_rpc_frame_length_check(cases[i].len, &error), ==, cases[i].ok);
        if (!cases[i].ok)
            g_assert_error(error, VSB_RPC_ERROR, VIR_ERR_RPC);
    }
}

/* The receive buffer follows what arrives, not what is announced. */
static void
test_read_buffer(void)
{
    g_autoptr(VsbRpcMessage) msg = vsb_rpc_message_new();
    gsize total = 0;
    gsize room;
    guint8 *p;

    vsb_rpc_message_prepare_read(msg, VSB_RPC_FRAME_MAX);
    g_assert_cmpuint(msg->alloc, ==, 65536);
    g_assert_cmpuint(vsb_rpc_read_u32(msg->data), ==, VSB_RPC_FRAME_MAX);
    while (msg->done < 200000) {
        p = vsb_rpc_message_read_buffer(msg, &room);
        g_assert_cmpuint(room, >, 0);
        g_assert_true(p == msg->data + msg->done);
        memset(p, 0xab, room);
        msg->done += room;
        total += room;
    }
    g_assert_cmpuint(msg->alloc, ==, 262144);
    g_assert_cmpuint(total, ==, 262144 - 4);

    /* a small frame: exactly its size */
    vsb_rpc_message_prepare_read(msg, 40);
    p = vsb_rpc_message_read_buffer(msg, &room);
    g_assert_cmpuint(room, ==, 36);
    msg->done += room;
    vsb_rpc_message_read_buffer(msg, &room);
    g_assert_cmpuint(room, ==, 0);
}

static void
test_header_valid(void)
{
    g_autoptr(GByteArray) call = frame(VSB_RPC_PROGRAM_REMOTE, 1, 273, VSB_RPC_TYPE_CALL, 7, 0,
                                       "\0\0\0\1\0\0\0\0", 8);
    g_autoptr(GByteArray) lxc = frame(VSB_RPC_PROGRAM_LXC, 1, 1, VSB_RPC_TYPE_CALL, 8, 0, NULL, 0);
    g_autoptr(GByteArray) stream = frame(VSB_RPC_PROGRAM_REMOTE, 1, 201, VSB_RPC_TYPE_STREAM, 9,
                                         VSB_RPC_STATUS_CONTINUE, "abc", 3);
    g_autoptr(GByteArray) ping = frame(VSB_RPC_PROGRAM_KEEPALIVE, 1, 1, VSB_RPC_TYPE_MESSAGE, 0, 0,
                                       NULL, 0);
    g_autoptr(GByteArray) pong = frame(VSB_RPC_PROGRAM_KEEPALIVE, 1, 2, VSB_RPC_TYPE_MESSAGE, 0, 0,
                                       NULL, 0);
    VsbRpcMessage *msg = NULL;

    g_assert_true(decode_header_of(call, &msg));
    g_assert_cmpuint(msg->header.prog, ==, VSB_RPC_PROGRAM_REMOTE);
    g_assert_cmpint(msg->header.proc, ==, 273);
    g_assert_cmpuint(msg->header.serial, ==, 7);
    g_assert_cmpuint(msg->payload, ==, 28);
    g_assert_cmpuint(msg->nfds, ==, 0);
    vsb_rpc_message_free(msg);
    g_assert_true(decode_header_of(lxc, NULL));
    g_assert_true(decode_header_of(stream, NULL));
    g_assert_true(decode_header_of(ping, NULL));
    g_assert_true(decode_header_of(pong, NULL));
}

static void
test_header_invalid(void)
{
    const struct {
        guint32 prog, vers;
        int proc, type, status;
        gsize payload;
    } bad[] = {
        { 0x12345678, 1, 1, VSB_RPC_TYPE_CALL, 0, 0 },                 /* unknown program */
        { 0x20008087, 1, 1, VSB_RPC_TYPE_CALL, 0, 0 },                 /* QEMU program */
        { VSB_RPC_PROGRAM_REMOTE, 2, 1, VSB_RPC_TYPE_CALL, 0, 0 },     /* version */
        { VSB_RPC_PROGRAM_REMOTE, 0, 1, VSB_RPC_TYPE_CALL, 0, 0 },
        { VSB_RPC_PROGRAM_REMOTE, 1, 1, VSB_RPC_TYPE_REPLY, 0, 0 },    /* replies come from us */
        { VSB_RPC_PROGRAM_REMOTE, 1, 1, VSB_RPC_TYPE_REPLY_WITH_FDS, 0, 0 },
        { VSB_RPC_PROGRAM_REMOTE, 1, 1, VSB_RPC_TYPE_MESSAGE, 0, 0 },
        { VSB_RPC_PROGRAM_REMOTE, 1, 1, VSB_RPC_TYPE_STREAM_HOLE, 0, 0 },
        { VSB_RPC_PROGRAM_REMOTE, 1, 1, 7, 0, 0 },                     /* unknown type */
        { VSB_RPC_PROGRAM_REMOTE, 1, 1, -1, 0, 0 },
        { VSB_RPC_PROGRAM_REMOTE, 1, 1, VSB_RPC_TYPE_CALL, 3, 0 },     /* unknown status */
        { VSB_RPC_PROGRAM_LXC, 1, 1, VSB_RPC_TYPE_STREAM, 2, 0 },      /* no LXC streams */
        { VSB_RPC_PROGRAM_KEEPALIVE, 1, 1, VSB_RPC_TYPE_CALL, 0, 0 },
        { VSB_RPC_PROGRAM_KEEPALIVE, 1, 3, VSB_RPC_TYPE_MESSAGE, 0, 0 },
        { VSB_RPC_PROGRAM_KEEPALIVE, 1, 1, VSB_RPC_TYPE_MESSAGE, 1, 0 },
        { VSB_RPC_PROGRAM_KEEPALIVE, 1, 1, VSB_RPC_TYPE_MESSAGE, 0, 4 },  /* payload */
        { VSB_RPC_PROGRAM_KEEPALIVE, 2, 1, VSB_RPC_TYPE_MESSAGE, 0, 0 },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GByteArray) b = frame(bad[i].prog, bad[i].vers, bad[i].proc, bad[i].type, 1,
                                        bad[i].status, "\0\0\0\0", bad[i].payload);

        g_test_message("case %zu", i);
        g_assert_false(decode_header_of(b, NULL));
    }
}

static void
test_header_fds(void)
{
    g_autoptr(GByteArray) two = frame(VSB_RPC_PROGRAM_REMOTE, 1, 309, VSB_RPC_TYPE_CALL_WITH_FDS,
                                      3, 0, "\0\0\0\2" "\0\0\0\0", 8);
    g_autoptr(GByteArray) many = frame(VSB_RPC_PROGRAM_REMOTE, 1, 309, VSB_RPC_TYPE_CALL_WITH_FDS,
                                       3, 0, "\0\0\0\41", 4);
    g_autoptr(GByteArray) none = frame(VSB_RPC_PROGRAM_REMOTE, 1, 309, VSB_RPC_TYPE_CALL_WITH_FDS,
                                       3, 0, NULL, 0);
    VsbRpcMessage *msg = NULL;

    g_assert_true(decode_header_of(two, &msg));
    g_assert_cmpuint(msg->nfds, ==, 2);
    g_assert_cmpuint(msg->payload, ==, 32);
    g_assert_cmpint(msg->fds[0], ==, -1);
    g_assert_cmpint(msg->fds[1], ==, -1);
    vsb_rpc_message_free(msg);
    g_assert_false(decode_header_of(many, NULL));   /* 33 > 32 */
    g_assert_false(decode_header_of(none, NULL));   /* no count word */
}

/* ------------------------------------------------------------------ */
/* Encoding: byte-exact layouts the client expects                     */
/* ------------------------------------------------------------------ */

static void
assert_bytes(const guint8 *got, gsize got_len, const guint8 *want, gsize want_len)
{
    if (got_len != want_len || memcmp(got, want, want_len) != 0) {
        g_autofree char *g = g_base64_encode(got, got_len);
        g_autofree char *w = g_base64_encode(want, want_len);

        g_error("bytes differ (%zu vs %zu)\n got:  %s\n want: %s", got_len, want_len, g, w);
    }
}

static void
set_reply_header(VsbRpcMessage *msg, int proc, int type, int status, guint32 serial)
{
    msg->header.prog = VSB_RPC_PROGRAM_REMOTE;
    msg->header.vers = 1;
    msg->header.proc = proc;
    msg->header.type = type;
    msg->header.serial = serial;
    msg->header.status = status;
}

static void
test_encode_string_reply(void)
{
    g_autoptr(VsbRpcMessage) msg = vsb_rpc_message_new();
    g_autoptr(GError) error = NULL;
    vsb_rpc_string_ret ret = { .str = (char *)"LXC" };
    const guint8 want[] = {
        0, 0, 0, 36,                       /* length */
        0x20, 0x00, 0x80, 0x86, 0, 0, 0, 1, /* prog, vers */
        0, 0, 0, 3, 0, 0, 0, 1,             /* proc 3, REPLY */
        0, 0, 0, 6, 0, 0, 0, 0,             /* serial 6, OK */
        0, 0, 0, 3, 'L', 'X', 'C', 0,       /* string, padded */
    };

    set_reply_header(msg, 3, VSB_RPC_TYPE_REPLY, VSB_RPC_STATUS_OK, 6);
    g_assert_true(vsb_rpc_message_encode(msg, (xdrproc_t)xdr_vsb_rpc_string_ret, &ret, &error));
    g_assert_no_error(error);
    assert_bytes(msg->data, msg->len, want, sizeof(want));
}

static void
test_encode_error(void)
{
    g_autoptr(VsbRpcMessage) msg = vsb_rpc_message_new();
    g_autoptr(GError) error = NULL;
    const guint8 want[] = {
        0, 0, 0, 84,
        0x20, 0x00, 0x80, 0x86, 0, 0, 0, 1,
        0, 0, 0, 23, 0, 0, 0, 1,            /* proc 23, REPLY */
        0, 0, 0, 9, 0, 0, 0, 1,             /* serial 9, ERROR */
        0, 0, 0, 42,                        /* code VIR_ERR_NO_DOMAIN */
        0, 0, 0, 17,                        /* domain VIR_FROM_LXC */
        0, 0, 0, 1, 0, 0, 0, 5, 'n', 'o', 'p', 'e', '!', 0, 0, 0,  /* message */
        0, 0, 0, 2,                         /* level error */
        0, 0, 0, 0,                         /* dom absent */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* str1..3 absent */
        0, 0, 0, 0, 0, 0, 0, 0,             /* int1, int2 */
        0, 0, 0, 0,                         /* net absent */
    };

    set_reply_header(msg, 23, VSB_RPC_TYPE_REPLY, VSB_RPC_STATUS_ERROR, 9);
    g_assert_true(vsb_rpc_message_encode_error(msg, VIR_ERR_NO_DOMAIN, VIR_FROM_LXC, "nope!",
                                               &error));
    g_assert_no_error(error);
    assert_bytes(msg->data, msg->len, want, sizeof(want));
}

/* Fixed-size replies: the sizes the client decodes. */
static gsize
encoded_size(xdrproc_t filter, void *body)
{
    g_autoptr(VsbRpcMessage) msg = vsb_rpc_message_new();
    g_autoptr(GError) error = NULL;

    set_reply_header(msg, 1, VSB_RPC_TYPE_REPLY, VSB_RPC_STATUS_OK, 1);
    g_assert_true(vsb_rpc_message_encode(msg, filter, body, &error));
    return msg->len - msg->payload;
}

static void
test_layouts(void)
{
    vsb_rpc_node_get_info_ret ni = { .model = "x86_64", .memory = 1, .cpus = 2 };
    vsb_rpc_domain_get_info_ret di = { 0 };
    char model[] = "none";
    char doi[] = "0";
    vsb_rpc_node_get_security_model_ret sm = { { sizeof(model), model }, { sizeof(doi), doi } };
    vsb_rpc_domain_get_job_info_ret ji = { 0 };
    char name[] = "abcd";
    vsb_rpc_event_lifecycle_msg ev = { .callback_id = 1, .dom = { .name = name, .id = -1 } };
    vsb_rpc_domain_set_memory_args setmem = { .dom = { .name = name, .id = -1 } };
    char field[] = "device_read_bytes_sec";
    char list[] = "/dev/vda,1048576";       /* 16 bytes */
    vsb_rpc_param blk = { .field = field,
                          .value = { .type = VSB_RPC_PARAM_STRING,
                                     .vsb_rpc_param_value_u.s = list } };
    vsb_rpc_domain_set_params_args setblk = { .dom = { .name = name, .id = -1 },
                                              .params = { 1, &blk }, .flags = 1 };

    /* char model[32] is 32 XDR chars of 4 bytes each */
    g_assert_cmpuint(encoded_size((xdrproc_t)xdr_vsb_rpc_node_get_info_ret, &ni), ==,
                     32 * 4 + 8 + 6 * 4);
    /* uchar and ushort take 4 bytes each */
    g_assert_cmpuint(encoded_size((xdrproc_t)xdr_vsb_rpc_domain_get_info_ret, &di), ==,
                     4 + 8 + 8 + 4 + 8);
    /* variable char arrays: count, then 4 bytes per char (with the NUL) */
    g_assert_cmpuint(encoded_size((xdrproc_t)xdr_vsb_rpc_node_get_security_model_ret, &sm), ==,
                     4 + 5 * 4 + 4 + 2 * 4);
    g_assert_cmpuint(encoded_size((xdrproc_t)xdr_vsb_rpc_domain_get_job_info_ret, &ji), ==,
                     4 + 11 * 8);
    /* callbackID, domain (name, uuid, id), event, detail */
    g_assert_cmpuint(encoded_size((xdrproc_t)xdr_vsb_rpc_event_lifecycle_msg, &ev), ==,
                     4 + (4 + 4 + 16 + 4) + 4 + 4);
    /* SET_MEMORY / SET_MAX_MEMORY (31 / 30): domain, unsigned hyper */
    g_assert_cmpuint(encoded_size((xdrproc_t)xdr_vsb_rpc_domain_set_memory_args, &setmem), ==,
                     (4 + 4 + 16 + 4) + 8);
    /* SET_BLKIO_PARAMETERS (205): domain, params (count, field, type,
     * string), flags */
    g_assert_cmpuint(encoded_size((xdrproc_t)xdr_vsb_rpc_domain_set_params_args, &setblk), ==,
                     (4 + 4 + 16 + 4) + 4 + (4 + 24) + 4 + (4 + 16) + 4);
}

static void
test_encode_grows(void)
{
    g_autoptr(VsbRpcMessage) msg = vsb_rpc_message_new();
    g_autoptr(GError) error = NULL;
    g_autofree char *big = g_malloc(300 * 1024 + 1);
    vsb_rpc_string_ret ret = { .str = big };

    memset(big, 'x', 300 * 1024);
    big[300 * 1024] = '\0';
    set_reply_header(msg, 7, VSB_RPC_TYPE_REPLY, VSB_RPC_STATUS_OK, 2);
    g_assert_true(vsb_rpc_message_encode(msg, (xdrproc_t)xdr_vsb_rpc_string_ret, &ret, &error));
    g_assert_cmpuint(msg->len, ==, 28 + 4 + 300 * 1024);
    g_assert_cmpuint(vsb_rpc_read_u32(msg->data), ==, msg->len);
}

static void
test_encode_too_large(void)
{
    g_autoptr(VsbRpcMessage) msg = vsb_rpc_message_new();
    g_autoptr(GError) error = NULL;
    gsize n = VSB_RPC_MESSAGE_MAX;
    g_autofree char *big = g_malloc(n);

    set_reply_header(msg, 7, VSB_RPC_TYPE_STREAM, VSB_RPC_STATUS_CONTINUE, 2);
    memset(big, 'y', n);
    g_assert_false(vsb_rpc_message_encode_raw(msg, big, n, &error));
    g_assert_error(error, VSB_RPC_ERROR, VIR_ERR_RPC);
    g_clear_error(&error);
    g_assert_true(vsb_rpc_message_encode_raw(msg, big, n - 24, &error));
    g_assert_cmpuint(msg->len, ==, VSB_RPC_FRAME_MAX);
}

/* ------------------------------------------------------------------ */
/* Decoding payloads                                                   */
/* ------------------------------------------------------------------ */

static bool
decode_open(const void *payload, gsize len, vsb_rpc_connect_open_args *args)
{
    g_autoptr(GByteArray) b = frame(VSB_RPC_PROGRAM_REMOTE, 1, 1, 0, 2, 0, payload, len);
    g_autoptr(VsbRpcMessage) msg = message_from(b);
    g_autoptr(GError) error = NULL;
    bool ok;

    g_assert_true(vsb_rpc_message_decode_header(msg, NULL));
    memset(args, 0, sizeof(*args));
    ok = vsb_rpc_message_decode_payload(msg, (xdrproc_t)xdr_vsb_rpc_connect_open_args, args,
                                        &error);
    if (!ok) {
        g_assert_error(error, VSB_RPC_ERROR, VIR_ERR_RPC);
        /* a failed decode leaves nothing allocated */
        g_assert_null(args->name);
    }
    return ok;
}

static void
test_decode_payload(void)
{
    const guint8 good[] = { 0, 0, 0, 1, 0, 0, 0, 13, 'l', 'x', 'c', ':', '/', '/', '/', 's', 'y',
                            's', 't', 'e', 'm', 0, 0, 0, 0, 0, 0, 1 };
    const guint8 absent[] = { 0, 0, 0, 0, 0, 0, 0, 1 };
    const guint8 trailing[] = { 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0 };
    const guint8 truncated[] = { 0, 0, 0, 1, 0, 0, 0, 13, 'l', 'x', 'c' };
    const guint8 huge[] = { 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff, 'a', 'b', 'c', 'd' };
    vsb_rpc_connect_open_args args;

    g_assert_true(decode_open(good, sizeof(good), &args));
    g_assert_nonnull(args.name);
    g_assert_cmpstr(*args.name, ==, "lxc:///system");
    g_assert_cmpuint(args.flags, ==, 1);
    xdr_free((xdrproc_t)xdr_vsb_rpc_connect_open_args, (char *)&args);

    g_assert_true(decode_open(absent, sizeof(absent), &args));
    g_assert_null(args.name);

    g_assert_false(decode_open(trailing, sizeof(trailing), &args));
    g_assert_false(decode_open(truncated, sizeof(truncated), &args));
    g_assert_false(decode_open(huge, sizeof(huge), &args));
    g_assert_false(decode_open(NULL, 0, &args));
}

static void
test_params(void)
{
    g_autoptr(VsbRpcMessage) msg = vsb_rpc_message_new();
    g_autoptr(GError) error = NULL;
    vsb_rpc_domain_get_params_ret ret = { 0 };
    vsb_rpc_domain_get_params_ret back = { 0 };
    vsb_rpc_param p[3] = { 0 };
    guint8 *unknown;

    vsb_rpc_param_set_ullong(&p[0], "hard_limit", 9007199254740991ULL);
    vsb_rpc_param_set_string(&p[1], "name", "value");
    vsb_rpc_param_set_int(&p[2], "n", -3);
    ret.params.params_len = 3;
    ret.params.params_val = p;
    ret.nparams = 3;
    set_reply_header(msg, 198, VSB_RPC_TYPE_CALL, VSB_RPC_STATUS_OK, 1);
    g_assert_true(vsb_rpc_message_encode(msg, (xdrproc_t)xdr_vsb_rpc_domain_get_params_ret, &ret,
                                         &error));
    /* field, type 4, 8 bytes */
    g_assert_cmpuint(vsb_rpc_read_u32(msg->data + 28 + 4 + 4 + 12), ==, VSB_RPC_PARAM_ULLONG);
    g_assert_true(vsb_rpc_message_decode_header(msg, NULL));
    g_assert_true(vsb_rpc_message_decode_payload(msg, (xdrproc_t)xdr_vsb_rpc_domain_get_params_ret,
                                                 &back, &error));
    g_assert_cmpuint(back.params.params_len, ==, 3);
    g_assert_cmpstr(back.params.params_val[0].field, ==, "hard_limit");
    g_assert_cmpuint(back.params.params_val[0].value.vsb_rpc_param_value_u.ul, ==,
                     9007199254740991ULL);
    g_assert_cmpstr(back.params.params_val[1].value.vsb_rpc_param_value_u.s, ==, "value");
    g_assert_cmpint(back.params.params_val[2].value.vsb_rpc_param_value_u.i, ==, -3);
    g_assert_true(vsb_rpc_params_check(back.params.params_val, 3, NULL));
    g_free(back.params.params_val[1].field);
    back.params.params_val[1].field = g_strdup("hard_limit");
    g_assert_false(vsb_rpc_params_check(back.params.params_val, 3, &error));
    g_assert_error(error, VSB_RPC_ERROR, VIR_ERR_INVALID_ARG);
    g_clear_error(&error);
    xdr_free((xdrproc_t)xdr_vsb_rpc_domain_get_params_ret, (char *)&back);

    /* an unknown parameter type does not decode */
    unknown = msg->data + 28 + 4 + 4 + 12;
    vsb_rpc_write_u32(unknown, 99);
    memset(&back, 0, sizeof(back));
    g_assert_false(vsb_rpc_message_decode_payload(msg,
                                                  (xdrproc_t)xdr_vsb_rpc_domain_get_params_ret,
                                                  &back, &error));
    for (int i = 0; i < 3; i++)
        xdr_free((xdrproc_t)xdr_vsb_rpc_param, (char *)&p[i]);
}

static void
test_error_format(void)
{
    g_autofree char *a = vsb_rpc_error_format(VIR_ERR_NO_DOMAIN, "no domain with matching name 'x'");
    g_autofree char *b = vsb_rpc_error_format(VIR_ERR_NO_DOMAIN,
                                              "Domain not found: no domain with matching name 'x'");
    g_autofree char *c = vsb_rpc_error_format(VIR_ERR_RPC, "unknown procedure: 999");
    g_autofree char *d = vsb_rpc_error_format(VIR_ERR_OPERATION_DENIED,
                                              "read only access prevents virDomainCreate");
    g_autofree char *e = vsb_rpc_error_format(VIR_ERR_NO_SUPPORT, NULL);
    g_autofree char *f = vsb_rpc_error_format(VIR_ERR_NO_CONNECT, "qemu:///system");

    g_assert_cmpstr(a, ==, "Domain not found: no domain with matching name 'x'");
    g_assert_cmpstr(b, ==, a);
    g_assert_cmpstr(c, ==, "unknown procedure: 999");
    g_assert_cmpstr(d, ==, "operation forbidden: read only access prevents virDomainCreate");
    g_assert_cmpstr(e, ==, "this function is not supported by the connection driver");
    g_assert_cmpstr(f, ==, "no connection driver available for qemu:///system");
}

/* ------------------------------------------------------------------ */
/* The transport, over real sockets                                    */
/* ------------------------------------------------------------------ */

typedef struct {
    char *dir;
    char *path;
    VsbRpcServer *srv;
    int opened;
    int closed;
    int calls;
    int fds_seen;
    gsize reply_size;     /* bytes of payload in each reply */
    bool reply_fd;        /* send /dev/null back with each reply */
} Fixture;

static gpointer
hook_open(VsbRpcClient *client, gpointer opaque)
{
    Fixture *f = opaque;

    f->opened++;
    /* a no-op unless the server was configured with an interval */
    vsb_rpc_client_start_keepalive(client);
    return f;
}

/* Echo the call's payload back (or reply_size bytes). */
static void
hook_message(VsbRpcClient *client, gpointer data, VsbRpcMessage *msg, gpointer opaque)
{
    Fixture *f = opaque;
    g_autoptr(GError) error = NULL;
    VsbRpcMessage *reply = vsb_rpc_message_new();
    g_autofree guint8 *body = NULL;
    gsize len = msg->len - msg->payload;

    f->calls++;
    for (guint i = 0; i < msg->nfds; i++) {
        struct stat st;

        g_assert_cmpint(fstat(msg->fds[i], &st), ==, 0);
        g_assert_cmpint(fcntl(msg->fds[i], F_GETFD) & FD_CLOEXEC, !=, 0);
        f->fds_seen++;
    }
    reply->header = msg->header;
    reply->header.type = VSB_RPC_TYPE_REPLY;
    if (f->reply_fd) {
        reply->header.type = VSB_RPC_TYPE_REPLY_WITH_FDS;
        vsb_rpc_message_add_fd(reply, open("/dev/null", O_RDONLY | O_CLOEXEC));
    }
    if (f->reply_size) {
        len = f->reply_size;
        body = g_malloc0(len);
    } else {
        body = g_malloc(MAX(len, 1));
        memcpy(body, msg->data + msg->payload, len);
    }
    g_assert_true(vsb_rpc_message_encode_raw(reply, body, len, &error));
    vsb_rpc_client_send(client, reply);
    vsb_rpc_message_free(msg);
}

static void
hook_close(VsbRpcClient *client, gpointer data, gpointer opaque)
{
    Fixture *f = opaque;

    f->closed++;
}

static void
fixture_setup(Fixture *f, gconstpointer cfgp)
{
    const VsbRpcServerConfig *cfg = cfgp;
    VsbRpcServerHooks hooks = {
        .client_open = hook_open,
        .client_message = hook_message,
        .client_close = hook_close,
    };
    g_autoptr(GError) error = NULL;

    memset(f, 0, sizeof(*f));
    f->dir = g_dir_make_tmp("vsb-test-rpc-XXXXXX", &error);
    g_assert_no_error(error);
    f->path = g_build_filename(f->dir, "sub", "sock", NULL);
    f->srv = vsb_rpc_server_new(cfg, &hooks, f);
    g_assert_true(vsb_rpc_server_listen(f->srv, f->path, false, 0600, &error));
    g_assert_no_error(error);
}

static void
fixture_teardown(Fixture *f, gconstpointer cfg)
{
    g_autofree char *sub = g_path_get_dirname(f->path);

    vsb_rpc_server_free(f->srv);
    /* the socket file is removed with the server */
    g_assert_false(g_file_test(f->path, G_FILE_TEST_EXISTS));
    g_assert_cmpint(f->opened, ==, f->closed);
    rmdir(sub);
    rmdir(f->dir);
    g_free(f->path);
    g_free(f->dir);
}

static int
connect_to(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    g_assert_cmpint(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    return fd;
}

/* Run the main loop until @fd is readable (or hung up); false on
 * timeout. */
static bool
spin_until_readable(int fd, int timeout_ms)
{
    gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    while (g_get_monotonic_time() < end) {
        struct pollfd p = { .fd = fd, .events = POLLIN };

        while (g_main_context_iteration(NULL, FALSE))
            ;
        if (poll(&p, 1, 5) > 0)
            return true;
    }
    return false;
}

static void
spin_for(int ms)
{
    gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;

    while (g_get_monotonic_time() < end) {
        while (g_main_context_iteration(NULL, FALSE))
            ;
        g_usleep(2000);
    }
}

static void
send_all(int fd, const void *buf, gsize len)
{
    g_assert_true(vsb_write_all(fd, buf, len));
}

/* Read one frame (blocking, after the loop made it readable); NULL at
 * end of file. */
static GByteArray *
read_frame(int fd)
{
    GByteArray *b = g_byte_array_new();
    guint8 buf[65536];
    guint32 want = 4;

    while (b->len < want) {
        ssize_t n;

        if (!spin_until_readable(fd, 5000)) {
            g_byte_array_free(b, TRUE);
            g_error("timed out reading a frame");
        }
        n = recv(fd, buf, MIN(sizeof(buf), want - b->len), 0);
        if (n <= 0) {
            g_byte_array_free(b, TRUE);
            return NULL;
        }
        g_byte_array_append(b, buf, n);
        if (b->len == 4)
            want = vsb_rpc_read_u32(b->data);
    }
    return b;
}

static bool
peer_closed(int fd)
{
    guint8 buf[4096];

    for (int i = 0; i < 100; i++) {
        ssize_t n;

        if (!spin_until_readable(fd, 5000))
            return false;
        n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return true;
    }
    return false;
}

static void
test_server_echo(Fixture *f, gconstpointer cfg)
{
    int fd = connect_to(f->path);
    g_autoptr(GByteArray) call = frame(VSB_RPC_PROGRAM_REMOTE, 1, 59, VSB_RPC_TYPE_CALL, 5, 0,
                                       "abcd", 4);
    g_autoptr(GByteArray) reply = NULL;
    struct stat st;

    g_assert_cmpint(stat(f->path, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 0777, ==, 0600);
    /* byte by byte: framing must not depend on how reads split */
    for (guint i = 0; i < call->len; i++) {
        send_all(fd, call->data + i, 1);
        spin_for(1);
    }
    reply = read_frame(fd);
    g_assert_nonnull(reply);
    g_assert_cmpuint(reply->len, ==, 32);
    g_assert_cmpuint(vsb_rpc_read_u32(reply->data + 20), ==, 5);     /* serial echoed */
    g_assert_cmpmem(reply->data + 28, 4, "abcd", 4);
    g_assert_cmpint(f->calls, ==, 1);
    g_assert_cmpuint(vsb_rpc_server_n_clients(f->srv), ==, 1);
    close(fd);
    spin_for(50);
    g_assert_cmpuint(vsb_rpc_server_n_clients(f->srv), ==, 0);
    g_assert_cmpint(f->closed, ==, 1);
}

static void
test_server_keepalive(Fixture *f, gconstpointer cfg)
{
    int fd = connect_to(f->path);
    g_autoptr(GByteArray) ping = frame(VSB_RPC_PROGRAM_KEEPALIVE, 1, 1, VSB_RPC_TYPE_MESSAGE, 0,
                                       0, NULL, 0);
    g_autoptr(GByteArray) pong = NULL;

    send_all(fd, ping->data, ping->len);
    pong = read_frame(fd);
    g_assert_nonnull(pong);
    g_assert_cmpuint(pong->len, ==, 28);
    g_assert_cmpuint(vsb_rpc_read_u32(pong->data + 4), ==, VSB_RPC_PROGRAM_KEEPALIVE);
    g_assert_cmpuint(vsb_rpc_read_u32(pong->data + 12), ==, VSB_RPC_KEEPALIVE_PROC_PONG);
    g_assert_cmpuint(vsb_rpc_read_u32(pong->data + 16), ==, VSB_RPC_TYPE_MESSAGE);
    g_assert_cmpint(f->calls, ==, 0);   /* answered by the server itself */
    close(fd);
    spin_for(20);
}

/* Each malformed stream drops its connection only. */
static void
test_server_malformed(Fixture *f, gconstpointer cfg)
{
    const guint8 small[] = { 0, 0, 0, 27, 1, 2, 3 };
    const guint8 huge[] = { 0x02, 0x00, 0x00, 0x05 };
    const guint8 *cases[] = { small, huge };
    const gsize lens[] = { sizeof(small), sizeof(huge) };
    int good = connect_to(f->path);
    g_autoptr(GByteArray) call = frame(VSB_RPC_PROGRAM_REMOTE, 1, 4, VSB_RPC_TYPE_CALL, 1, 0,
                                       NULL, 0);
    g_autoptr(GByteArray) badprog = frame(0x20008087, 1, 4, VSB_RPC_TYPE_CALL, 1, 0, NULL, 0);
    g_autoptr(GByteArray) badtype = frame(VSB_RPC_PROGRAM_REMOTE, 1, 4, VSB_RPC_TYPE_REPLY, 1, 0,
                                          NULL, 0);

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        int fd = connect_to(f->path);

        send_all(fd, cases[i], lens[i]);
        g_assert_true(peer_closed(fd));
        close(fd);
    }
    for (int i = 0; i < 2; i++) {
        GByteArray *b = i == 0 ? badprog : badtype;
        int fd = connect_to(f->path);

        send_all(fd, b->data, b->len);
        g_assert_true(peer_closed(fd));
        close(fd);
    }
    {
        /* the end of file in the middle of a frame */
        int fd = connect_to(f->path);

        send_all(fd, call->data, 10);
        shutdown(fd, SHUT_WR);
        g_assert_true(peer_closed(fd));
        close(fd);
    }
    /* the well-behaved connection never noticed */
    for (int i = 0; i < 3; i++) {
        g_autoptr(GByteArray) reply = NULL;

        send_all(good, call->data, call->len);
        reply = read_frame(good);
        g_assert_nonnull(reply);
    }
    close(good);
    spin_for(20);
}

static int
send_with_fd(int sock, const void *buf, gsize len, int fd)
{
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    union {
        struct cmsghdr hdr;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct msghdr mh = { 0 };
    struct cmsghdr *cm;

    memset(&ctl, 0, sizeof(ctl));
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl.buf;
    mh.msg_controllen = sizeof(ctl.buf);
    cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    return sendmsg(sock, &mh, 0);
}

static int
recv_fd(int sock)
{
    char byte;
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    union {
        struct cmsghdr hdr;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct msghdr mh = { 0 };
    struct cmsghdr *cm;
    int fd = -1;

    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl.buf;
    mh.msg_controllen = sizeof(ctl.buf);
    if (!spin_until_readable(sock, 5000) || recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) != 1)
        return -1;
    cm = CMSG_FIRSTHDR(&mh);
    if (cm && cm->cmsg_type == SCM_RIGHTS)
        memcpy(&fd, CMSG_DATA(cm), sizeof(int));
    return fd;
}

static void
test_server_fds(Fixture *f, gconstpointer cfg)
{
    int fd = connect_to(f->path);
    g_autoptr(GByteArray) call = frame(VSB_RPC_PROGRAM_REMOTE, 1, 309, VSB_RPC_TYPE_CALL_WITH_FDS,
                                       3, 0, "\0\0\0\2", 4);
    g_autoptr(GByteArray) reply = NULL;
    int rfd;
    struct stat st;

    f->reply_fd = true;
    send_all(fd, call->data, call->len);
    for (int i = 0; i < 2; i++)
        g_assert_cmpint(send_with_fd(fd, "", 1, 1), ==, 1);
    reply = read_frame(fd);
    g_assert_nonnull(reply);
    g_assert_cmpint(f->fds_seen, ==, 2);
    g_assert_cmpuint(vsb_rpc_read_u32(reply->data + 16), ==, VSB_RPC_TYPE_REPLY_WITH_FDS);
    rfd = recv_fd(fd);
    g_assert_cmpint(rfd, >=, 0);
    g_assert_cmpint(fstat(rfd, &st), ==, 0);
    g_assert_true(S_ISCHR(st.st_mode));
    close(rfd);

    /* an fd where none is expected is a violation */
    g_assert_cmpint(send_with_fd(fd, "\0\0\0", 3, 1), ==, 3);
    g_assert_true(peer_closed(fd));
    close(fd);
    spin_for(20);
}

/* A client that sends calls and never reads its replies is dropped
 * once its queue passes the bound. */
static void
test_server_slow_reader(Fixture *f, gconstpointer cfg)
{
    int slow = connect_to(f->path);
    int good = connect_to(f->path);
    g_autoptr(GByteArray) call = frame(VSB_RPC_PROGRAM_REMOTE, 1, 7, VSB_RPC_TYPE_CALL, 1, 0,
                                       NULL, 0);
    bool dropped = false;

    f->reply_size = 64 * 1024;
    for (int i = 0; i < 200 && !dropped; i++) {
        if (send(slow, call->data, call->len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
            dropped = true;
        spin_for(2);
        if (vsb_rpc_server_n_clients(f->srv) < 2)
            dropped = true;
    }
    g_assert_true(dropped);
    g_assert_cmpuint(vsb_rpc_server_n_clients(f->srv), ==, 1);
    f->reply_size = 0;
    {
        g_autoptr(GByteArray) reply = NULL;

        send_all(good, call->data, call->len);
        reply = read_frame(good);
        g_assert_nonnull(reply);
    }
    close(slow);
    close(good);
    spin_for(20);
}

/* With keepalive on, a silent client is dropped after its pings go
 * unanswered; one that answers stays. */
static void
test_server_keepalive_timeout(Fixture *f, gconstpointer cfg)
{
    int silent = connect_to(f->path);
    int alive = connect_to(f->path);
    g_autoptr(GByteArray) pong = frame(VSB_RPC_PROGRAM_KEEPALIVE, 1, 2, VSB_RPC_TYPE_MESSAGE, 0,
                                       0, NULL, 0);
    gint64 end = g_get_monotonic_time() + 6 * G_USEC_PER_SEC;
    int pings = 0;

    spin_for(50);
    g_assert_cmpuint(vsb_rpc_server_n_clients(f->srv), ==, 2);
    while (g_get_monotonic_time() < end && vsb_rpc_server_n_clients(f->srv) > 1) {
        if (spin_until_readable(alive, 100)) {
            g_autoptr(GByteArray) ping = read_frame(alive);

            g_assert_nonnull(ping);
            g_assert_cmpuint(vsb_rpc_read_u32(ping->data + 4), ==, VSB_RPC_PROGRAM_KEEPALIVE);
            g_assert_cmpuint(vsb_rpc_read_u32(ping->data + 12), ==, VSB_RPC_KEEPALIVE_PROC_PING);
            send_all(alive, pong->data, pong->len);
            pings++;
        }
    }
    g_assert_cmpuint(vsb_rpc_server_n_clients(f->srv), ==, 1);
    g_assert_cmpint(pings, >=, 1);
    g_assert_true(peer_closed(silent));
    close(silent);
    close(alive);
    spin_for(20);
}

static void
test_listen_stale_and_live(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("vsb-test-rpc-XXXXXX", &error);
    g_autofree char *path = g_build_filename(dir, "sock", NULL);
    g_autofree char *file = g_build_filename(dir, "file", NULL);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    VsbRpcServer *a;
    VsbRpcServer *b;
    int fd;

    /* a stale socket: bound, then its owner went away */
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    close(fd);
    a = vsb_rpc_server_new(NULL, NULL, NULL);
    g_assert_true(vsb_rpc_server_listen(a, path, true, 0666, &error));
    g_assert_no_error(error);

    /* a live one is left alone, and the message says who serves it */
    b = vsb_rpc_server_new(NULL, NULL, NULL);
    g_assert_false(vsb_rpc_server_listen(b, path, false, 0600, &error));
    g_assert_nonnull(error);
    g_assert_nonnull(strstr(error->message, "served by another process"));
    g_clear_error(&error);
    vsb_rpc_server_free(b);
    g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));

    /* not a socket: never removed */
    g_assert_true(g_file_set_contents(file, "x", 1, NULL));
    b = vsb_rpc_server_new(NULL, NULL, NULL);
    g_assert_false(vsb_rpc_server_listen(b, file, false, 0600, &error));
    g_assert_nonnull(strstr(error->message, "not a socket"));
    g_clear_error(&error);
    vsb_rpc_server_free(b);
    g_assert_true(g_file_test(file, G_FILE_TEST_EXISTS));

    vsb_rpc_server_free(a);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    unlink(file);
    rmdir(dir);
}

int
main(int argc, char **argv)
{
    static const VsbRpcServerConfig defaults = { 0 };
    static const VsbRpcServerConfig small_queue = { .max_queue = 256 * 1024 };
    static const VsbRpcServerConfig keepalive = { .keepalive_interval = 1, .keepalive_count = 2 };

    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/rpc/frame-length", test_frame_length);
    g_test_add_func("/rpc/read-buffer", test_read_buffer);
    g_test_add_func("/rpc/header/valid", test_header_valid);
    g_test_add_func("/rpc/header/invalid", test_header_invalid);
    g_test_add_func("/rpc/header/fds", test_header_fds);
    g_test_add_func("/rpc/encode/string-reply", test_encode_string_reply);
    g_test_add_func("/rpc/encode/error", test_encode_error);
    g_test_add_func("/rpc/encode/layouts", test_layouts);
    g_test_add_func("/rpc/encode/grows", test_encode_grows);
    g_test_add_func("/rpc/encode/too-large", test_encode_too_large);
    g_test_add_func("/rpc/decode/payload", test_decode_payload);
    g_test_add_func("/rpc/params", test_params);
    g_test_add_func("/rpc/error-format", test_error_format);
    g_test_add_func("/rpc/listen/stale-and-live", test_listen_stale_and_live);
    g_test_add("/rpc/server/echo", Fixture, &defaults, fixture_setup, test_server_echo,
               fixture_teardown);
    g_test_add("/rpc/server/keepalive", Fixture, &defaults, fixture_setup, test_server_keepalive,
               fixture_teardown);
    g_test_add("/rpc/server/malformed", Fixture, &defaults, fixture_setup, test_server_malformed,
               fixture_teardown);
    g_test_add("/rpc/server/fds", Fixture, &defaults, fixture_setup, test_server_fds,
               fixture_teardown);
    g_test_add("/rpc/server/slow-reader", Fixture, &small_queue, fixture_setup,
               test_server_slow_reader, fixture_teardown);
    g_test_add("/rpc/server/keepalive-timeout", Fixture, &keepalive, fixture_setup,
               test_server_keepalive_timeout, fixture_teardown);
    return g_test_run();
}
