/*
 * test-sandbox-stdio.c: frames of the stdio protocol (vsb-stdio-proto.h).
 *
 * The decoder must give back exactly the frames that were encoded,
 * whatever surrounds them and however the bytes are split, and drop
 * frames that were damaged rather than deliver them.
 */
#include <config.h>

#include "vsb-stdio-proto.h"

#include <glib.h>
#include <string.h>

typedef struct {
    uint8_t type;
    GBytes *payload;
} Frame;

static void
frame_free(Frame *f)
{
    g_bytes_unref(f->payload);
    g_free(f);
}

/* Feed @data in chunks of @chunk bytes; collect what comes out. */
static GPtrArray *
decode(VsbStdioDecoder *d, const uint8_t *data, size_t len, size_t chunk)
{
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)frame_free);
    size_t off = 0;

    while (off < len) {
        size_t n = MIN(chunk, len - off);
        VsbStdioMsg msg;

        n = vsb_stdio_decoder_feed(d, data + off, n);
        g_assert_cmpuint(n, >, 0);
        off += n;
        while (vsb_stdio_decoder_next(d, &msg)) {
            Frame *f = g_new0(Frame, 1);
            f->type = msg.type;
            f->payload = g_bytes_new(msg.payload, msg.len);
            g_ptr_array_add(out, f);
        }
    }
    return out;
}

static void
append_frame(GByteArray *ba, uint8_t type, const void *payload, size_t len)
{
    guint old = ba->len;

    g_byte_array_set_size(ba, old + VSB_STDIO_FRAME_LEN(len));
    g_assert_cmpuint(vsb_stdio_encode(ba->data + old, type, payload, len), ==,
                     VSB_STDIO_FRAME_LEN(len));
}

static void
assert_frame_len(GPtrArray *frames, guint i, uint8_t type, const char *payload, size_t plen)
{
    Frame *f;
    gsize len;
    const char *data;

    g_assert_cmpuint(i, <, frames->len);
    f = g_ptr_array_index(frames, i);
    g_assert_cmpuint(f->type, ==, type);
    data = g_bytes_get_data(f->payload, &len);
    g_assert_cmpmem(data, len, payload, plen);
}

static void
assert_frame(GPtrArray *frames, guint i, uint8_t type, const char *payload)
{
    assert_frame_len(frames, i, type, payload, strlen(payload));
}

static void
test_crc(void)
{
    /* The standard check value of CRC-32 (IEEE, as zlib's crc32()). */
    g_assert_cmphex(vsb_stdio_crc32(0, "123456789", 9), ==, 0xcbf43926);
    g_assert_cmphex(vsb_stdio_crc32(0, "", 0), ==, 0);
    /* Incremental use gives the same. */
    g_assert_cmphex(vsb_stdio_crc32(vsb_stdio_crc32(0, "1234", 4), "56789", 5), ==, 0xcbf43926);
}

static void
test_layout(void)
{
    uint8_t buf[VSB_STDIO_FRAME_LEN(3)];
    /* Byte for byte, so that other implementations (the Python test
     * helper, a KVM guest's init) agree with this one. */
    static const uint8_t expected[] = {
        0xf9, 'V', 'S', 'B', VSB_STDIO_STDOUT, 0, 0, 3,
        0x5e, 0x2a, 0xe4, 0xc4,   /* crc32 of the 8 bytes before */
        'a', 'b', 'c',
        0x35, 0x24, 0x41, 0xc2,   /* crc32("abc") */
    };

    g_assert_cmpuint(vsb_stdio_encode(buf, VSB_STDIO_STDOUT, "abc", 3), ==, sizeof(expected));
    g_assert_cmpmem(buf, sizeof(buf), expected, sizeof(expected));
}

static void
test_roundtrip(void)
{
    g_autoptr(GByteArray) ba = g_byte_array_new();
    g_autofree VsbStdioDecoder *d = g_new(VsbStdioDecoder, 1);
    g_autofree char *big = g_malloc(VSB_STDIO_MAX_PAYLOAD + 1);
    uint8_t over[VSB_STDIO_MAX_FRAME + 8];
    size_t chunks[] = { 1, 2, 7, 13, 4096, 100000 };

    memset(big, 'x', VSB_STDIO_MAX_PAYLOAD);
    big[VSB_STDIO_MAX_PAYLOAD] = '\0';
    append_frame(ba, VSB_STDIO_STDOUT, "hello", 5);
    append_frame(ba, VSB_STDIO_STDERR, "", 0);
    append_frame(ba, VSB_STDIO_STDIN_EOF, NULL, 0);
    append_frame(ba, VSB_STDIO_STDIN, big, VSB_STDIO_MAX_PAYLOAD);
    append_frame(ba, 200, "future", 6);   /* unknown types pass through */
    append_frame(ba, VSB_STDIO_STDOUT, "\xf9VSB\n\r\x04", 7);
    /* Too big: refused, not truncated. */
    g_assert_cmpuint(vsb_stdio_encode(over, VSB_STDIO_STDOUT, big, VSB_STDIO_MAX_PAYLOAD + 1),
                     ==, 0);

    for (size_t c = 0; c < G_N_ELEMENTS(chunks); c++) {
        g_autoptr(GPtrArray) frames = NULL;
        vsb_stdio_decoder_init(d);
        frames = decode(d, ba->data, ba->len, chunks[c]);
        g_assert_cmpuint(frames->len, ==, 6);
        assert_frame(frames, 0, VSB_STDIO_STDOUT, "hello");
        assert_frame(frames, 1, VSB_STDIO_STDERR, "");
        assert_frame(frames, 2, VSB_STDIO_STDIN_EOF, "");
        assert_frame(frames, 3, VSB_STDIO_STDIN, big);
        assert_frame(frames, 4, 200, "future");
        assert_frame(frames, 5, VSB_STDIO_STDOUT, "\xf9VSB\n\r\x04");
        g_assert_cmpuint(d->noise, ==, 0);
        g_assert_cmpuint(d->bad_frames, ==, 0);
    }
}

/* Noise the console may add: text before init is raw, the ^D the
 * controller types at the end of a piped stdin, a partial frame
 * replayed from the console's backlog, a false magic. */
static void
test_noise(void)
{
    g_autoptr(GByteArray) ba = g_byte_array_new();
    g_autofree VsbStdioDecoder *d = g_new(VsbStdioDecoder, 1);
    uint8_t partial[VSB_STDIO_FRAME_LEN(10)];

    vsb_stdio_encode(partial, VSB_STDIO_STDOUT, "0123456789", 10);
    g_byte_array_append(ba, partial + 5, sizeof(partial) - 5);   /* tail of a frame */
    g_byte_array_append(ba, (const uint8_t *)"login: \r\n", 9);
    append_frame(ba, VSB_STDIO_READY, "\0\0\0\1\0\0\0\0", 8);
    g_byte_array_append(ba, (const uint8_t *)"\x04", 1);
    /* A false magic whose length would swallow the next frame: the
     * header check rejects it at once. */
    g_byte_array_append(ba, (const uint8_t *)"\xf9VSB\x02\x00\x40\x00garbage!", 16);
    append_frame(ba, VSB_STDIO_STDOUT, "out", 3);
    g_byte_array_append(ba, (const uint8_t *)"\xf9\xf9V", 3);
    append_frame(ba, VSB_STDIO_EXIT, "\1\0\0\0\0\0\0\3", 8);
    g_byte_array_append(ba, partial, 7);   /* head of a frame, never finished */

    for (size_t chunk = 1; chunk <= 64; chunk *= 4) {
        g_autoptr(GPtrArray) frames = NULL;
        vsb_stdio_decoder_init(d);
        frames = decode(d, ba->data, ba->len, chunk);
        g_assert_cmpuint(frames->len, ==, 3);
        assert_frame_len(frames, 0, VSB_STDIO_READY, "\0\0\0\1\0\0\0\0", 8);
        assert_frame(frames, 1, VSB_STDIO_STDOUT, "out");
        g_assert_cmpuint(((Frame *)g_ptr_array_index(frames, 2))->type, ==, VSB_STDIO_EXIT);
        g_assert_cmpuint(d->noise, >, 0);
    }
}

/* A byte inserted into or lost from a frame drops that frame only. */
static void
test_damage(void)
{
    g_autofree VsbStdioDecoder *d = g_new(VsbStdioDecoder, 1);
    uint8_t a[VSB_STDIO_FRAME_LEN(5)], b[VSB_STDIO_FRAME_LEN(5)];

    vsb_stdio_encode(a, VSB_STDIO_STDOUT, "first", 5);
    vsb_stdio_encode(b, VSB_STDIO_STDERR, "secnd", 5);

    for (size_t pos = 0; pos <= sizeof(a); pos++) {
        for (int mode = 0; mode < 3; mode++) {
            g_autoptr(GByteArray) ba = g_byte_array_new();
            g_autoptr(GPtrArray) frames = NULL;

            g_byte_array_append(ba, a, sizeof(a));
            if (mode == 0 && pos < sizeof(a))
                ba->data[pos] ^= 0x40;                       /* flipped bit */
            else if (mode == 1) {
                g_byte_array_set_size(ba, ba->len + 1);          /* inserted byte */
                memmove(ba->data + pos + 1, ba->data + pos, ba->len - pos - 1);
                ba->data[pos] = 'X';
            }
            else if (mode == 2 && pos < sizeof(a))
                g_byte_array_remove_index(ba, pos);          /* lost byte */
            g_byte_array_append(ba, b, sizeof(b));
            vsb_stdio_decoder_init(d);
            frames = decode(d, ba->data, ba->len, 3);

            /* The damaged frame is never delivered; the next one is. */
            g_assert_cmpuint(frames->len, >=, 1);
            assert_frame(frames, frames->len - 1, VSB_STDIO_STDERR, "secnd");
            if (frames->len == 2)
                assert_frame(frames, 0, VSB_STDIO_STDOUT, "first");
            /* Only an insertion before the magic or after the trailer
             * leaves the first frame whole (or no damage at all: flip
             * and loss past its end). */
            if (frames->len == 2)
                g_assert_true(pos == sizeof(a) || (mode == 1 && pos == 0));
        }
    }
}

static void
test_payloads(void)
{
    uint8_t buf[VSB_STDIO_FRAME_LEN(8)];
    g_autofree VsbStdioDecoder *d = g_new(VsbStdioDecoder, 1);
    VsbStdioMsg msg;
    VsbStdioReady r = { VSB_STDIO_VERSION, 0 }, r2;
    VsbStdioStart s = { VSB_STDIO_START_TTY, 24, 80 }, s2;
    VsbStdioWinsize w = { 50, 132 }, w2;
    VsbStdioExit e = { VSB_STDIO_SIGNALED, 1, 9 }, e2;
    VsbStdioMsg shortmsg = { VSB_STDIO_EXIT, (const uint8_t *)"\1\0\0", 3 };
    VsbStdioMsg badhow = { VSB_STDIO_EXIT, (const uint8_t *)"\7\0\0\0\0\0\0\0", 8 };
    VsbStdioMsg badcode = { VSB_STDIO_EXIT, (const uint8_t *)"\1\0\0\0\0\0\1\0", 8 };

#define ROUNDTRIP(enc, parse, in, out, same) do { \
        vsb_stdio_decoder_init(d); \
        vsb_stdio_decoder_feed(d, buf, enc(buf, &in)); \
        g_assert_true(vsb_stdio_decoder_next(d, &msg)); \
        g_assert_true(parse(&msg, &out)); \
        g_assert_true(same); \
    } while (0)
    ROUNDTRIP(vsb_stdio_encode_ready, vsb_stdio_parse_ready, r, r2,
              r.version == r2.version && r.flags == r2.flags);
    ROUNDTRIP(vsb_stdio_encode_start, vsb_stdio_parse_start, s, s2,
              s.flags == s2.flags && s.rows == s2.rows && s.cols == s2.cols);
    ROUNDTRIP(vsb_stdio_encode_winsize, vsb_stdio_parse_winsize, w, w2,
              w.rows == w2.rows && w.cols == w2.cols);
    ROUNDTRIP(vsb_stdio_encode_exit, vsb_stdio_parse_exit, e, e2,
              e.how == e2.how && e.core_dumped == e2.core_dumped && e.value == e2.value);
    /* --shell's frames: their own types, the same payloads. */
    ROUNDTRIP(vsb_stdio_encode_shell_winsize, vsb_stdio_parse_winsize, w, w2,
              msg.type == VSB_STDIO_SHELL_WINSIZE && w.rows == w2.rows && w.cols == w2.cols);
    ROUNDTRIP(vsb_stdio_encode_shell_exit, vsb_stdio_parse_exit, e, e2,
              msg.type == VSB_STDIO_SHELL_EXIT && e.how == e2.how && e.value == e2.value);
    s.flags = VSB_STDIO_START_TTY | VSB_STDIO_START_SHELL;
    ROUNDTRIP(vsb_stdio_encode_start, vsb_stdio_parse_start, s, s2,
              s2.flags == (VSB_STDIO_START_TTY | VSB_STDIO_START_SHELL));
#undef ROUNDTRIP

    g_assert_cmpint(vsb_stdio_exit_status(&e), ==, 137);
    e.how = VSB_STDIO_EXITED;
    e.value = 3;
    g_assert_cmpint(vsb_stdio_exit_status(&e), ==, 3);
    g_assert_false(vsb_stdio_parse_exit(&shortmsg, &e2));
    g_assert_false(vsb_stdio_parse_exit(&badhow, &e2));
    g_assert_false(vsb_stdio_parse_exit(&badcode, &e2));
    /* A parser never takes another type's frame. */
    msg.type = VSB_STDIO_STDOUT;
    msg.len = 8;
    g_assert_false(vsb_stdio_parse_start(&msg, &s2));
    g_assert_false(vsb_stdio_parse_winsize(&msg, &w2));
    g_assert_false(vsb_stdio_parse_exit(&msg, &e2));
    g_assert_cmpstr(vsb_stdio_type_name(VSB_STDIO_EXIT_ACK), ==, "EXIT_ACK");
    g_assert_cmpstr(vsb_stdio_type_name(VSB_STDIO_SHELL_IN), ==, "SHELL_IN");
    g_assert_cmpstr(vsb_stdio_type_name(VSB_STDIO_SHELL_OUT), ==, "SHELL_OUT");
    g_assert_null(vsb_stdio_type_name(99));
}

/* read() straight into the decoder: the room it offers always holds a
 * whole frame once it has nothing complete left. */
static void
test_space(void)
{
    g_autofree VsbStdioDecoder *d = g_new(VsbStdioDecoder, 1);
    g_autofree uint8_t *frame = g_malloc(VSB_STDIO_MAX_FRAME);
    g_autofree char *big = g_malloc0(VSB_STDIO_MAX_PAYLOAD);
    size_t n = vsb_stdio_encode(frame, VSB_STDIO_STDIN, big, VSB_STDIO_MAX_PAYLOAD);
    guint got = 0;

    vsb_stdio_decoder_init(d);
    for (int i = 0; i < 50; i++) {
        size_t room, off = 0;
        VsbStdioMsg msg;
        /* A frame in two pieces, the cut moving each time. */
        size_t cut = (i * 977) % n;

        while (off < n) {
            size_t want = off < cut ? cut - off : n - off;
            uint8_t *space = vsb_stdio_decoder_space(d, &room);
            g_assert_cmpuint(room, >=, VSB_STDIO_MAX_FRAME);
            want = MIN(want, room);
            memcpy(space, frame + off, want);
            vsb_stdio_decoder_commit(d, want);
            off += want;
            while (vsb_stdio_decoder_next(d, &msg)) {
                g_assert_cmpuint(msg.len, ==, VSB_STDIO_MAX_PAYLOAD);
                got++;
            }
        }
    }
    g_assert_cmpuint(got, ==, 50);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/sandbox/stdio/crc", test_crc);
    g_test_add_func("/sandbox/stdio/layout", test_layout);
    g_test_add_func("/sandbox/stdio/roundtrip", test_roundtrip);
    g_test_add_func("/sandbox/stdio/noise", test_noise);
    g_test_add_func("/sandbox/stdio/damage", test_damage);
    g_test_add_func("/sandbox/stdio/payloads", test_payloads);
    g_test_add_func("/sandbox/stdio/space", test_space);
    return g_test_run();
}
