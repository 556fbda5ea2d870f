/*
 * vsb-stdio-proto.c: frames of the stdio protocol (see the header).
 *
 * Plain C without GLib: linked into the static init too.
 */
#include <config.h>

#include "vsb-stdio-proto.h"

#include <string.h>

/* CRC-32 (reflected 0xEDB88320) four bits at a time: a 16-entry table
 * is fast enough for console traffic and small enough to read. */
static const uint32_t crc_nibble[16] = {
    0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac,
    0x76dc4190, 0x6b6b51f4, 0x4db26158, 0x5005713c,
    0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
    0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
};

uint32_t
vsb_stdio_crc32(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;

    crc = ~crc;
    while (len--) {
        crc ^= *p++;
        crc = (crc >> 4) ^ crc_nibble[crc & 15];
        crc = (crc >> 4) ^ crc_nibble[crc & 15];
    }
    return ~crc;
}

static void
put16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v;
}

static void
put32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

static uint16_t
get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

size_t
vsb_stdio_encode(uint8_t *out, uint8_t type, const void *payload, size_t len)
{
    if (len > VSB_STDIO_MAX_PAYLOAD)
        return 0;
    memcpy(out, VSB_STDIO_MAGIC, VSB_STDIO_MAGIC_LEN);
    out[4] = type;
    out[5] = 0;
    put16(out + 6, (uint16_t)len);
    put32(out + 8, vsb_stdio_crc32(0, out, 8));
    /* memmove: callers may build the payload in place at out + 12. */
    if (len)
        memmove(out + VSB_STDIO_HEADER_LEN, payload, len);
    put32(out + VSB_STDIO_HEADER_LEN + len, vsb_stdio_crc32(0, out + VSB_STDIO_HEADER_LEN, len));
    return VSB_STDIO_FRAME_LEN(len);
}

size_t
vsb_stdio_encode_ready(uint8_t *out, const VsbStdioReady *r)
{
    uint8_t p[8];

    put32(p, r->version);
    put32(p + 4, r->flags);
    return vsb_stdio_encode(out, VSB_STDIO_READY, p, sizeof(p));
}

size_t
vsb_stdio_encode_start(uint8_t *out, const VsbStdioStart *s)
{
    uint8_t p[8];

    put32(p, s->flags);
    put16(p + 4, s->rows);
    put16(p + 6, s->cols);
    return vsb_stdio_encode(out, VSB_STDIO_START, p, sizeof(p));
}

static size_t
encode_winsize(uint8_t *out, uint8_t type, const VsbStdioWinsize *w)
{
    uint8_t p[4];

    put16(p, w->rows);
    put16(p + 2, w->cols);
    return vsb_stdio_encode(out, type, p, sizeof(p));
}

size_t
vsb_stdio_encode_winsize(uint8_t *out, const VsbStdioWinsize *w)
{
    return encode_winsize(out, VSB_STDIO_WINSIZE, w);
}

size_t
vsb_stdio_encode_shell_winsize(uint8_t *out, const VsbStdioWinsize *w)
{
    return encode_winsize(out, VSB_STDIO_SHELL_WINSIZE, w);
}

static size_t
encode_exit(uint8_t *out, uint8_t type, const VsbStdioExit *e)
{
    uint8_t p[8] = { e->how, e->core_dumped, 0, 0 };

    put32(p + 4, e->value);
    return vsb_stdio_encode(out, type, p, sizeof(p));
}

size_t
vsb_stdio_encode_exit(uint8_t *out, const VsbStdioExit *e)
{
    return encode_exit(out, VSB_STDIO_EXIT, e);
}

size_t
vsb_stdio_encode_shell_exit(uint8_t *out, const VsbStdioExit *e)
{
    return encode_exit(out, VSB_STDIO_SHELL_EXIT, e);
}

bool
vsb_stdio_parse_ready(const VsbStdioMsg *m, VsbStdioReady *r)
{
    if (m->type != VSB_STDIO_READY || m->len < 8)
        return false;
    r->version = get32(m->payload);
    r->flags = get32(m->payload + 4);
    return true;
}

bool
vsb_stdio_parse_start(const VsbStdioMsg *m, VsbStdioStart *s)
{
    if (m->type != VSB_STDIO_START || m->len < 8)
        return false;
    s->flags = get32(m->payload);
    s->rows = get16(m->payload + 4);
    s->cols = get16(m->payload + 6);
    return true;
}

bool
vsb_stdio_parse_winsize(const VsbStdioMsg *m, VsbStdioWinsize *w)
{
    if ((m->type != VSB_STDIO_WINSIZE && m->type != VSB_STDIO_SHELL_WINSIZE) || m->len < 4)
        return false;
    w->rows = get16(m->payload);
    w->cols = get16(m->payload + 2);
    return true;
}

bool
vsb_stdio_parse_exit(const VsbStdioMsg *m, VsbStdioExit *e)
{
    if ((m->type != VSB_STDIO_EXIT && m->type != VSB_STDIO_SHELL_EXIT) || m->len < 8)
        return false;
    e->how = m->payload[0];
    e->core_dumped = m->payload[1];
    e->value = get32(m->payload + 4);
    if (e->how == VSB_STDIO_EXITED)
        return e->value <= 255;
    if (e->how == VSB_STDIO_SIGNALED)
        return e->value >= 1 && e->value <= 127;
    return false;
}

int
vsb_stdio_exit_status(const VsbStdioExit *e)
{
    if (e->how == VSB_STDIO_SIGNALED)
        return 128 + (int)(e->value & 127);
    return (int)(e->value & 255);
}

const char *
vsb_stdio_type_name(uint8_t type)
{
    switch ((VsbStdioType)type) {
    case VSB_STDIO_READY: return "READY";
    case VSB_STDIO_STDOUT: return "STDOUT";
    case VSB_STDIO_STDERR: return "STDERR";
    case VSB_STDIO_EXIT: return "EXIT";
    case VSB_STDIO_LOG: return "LOG";
    case VSB_STDIO_SHELL_OUT: return "SHELL_OUT";
    case VSB_STDIO_SHELL_EXIT: return "SHELL_EXIT";
    case VSB_STDIO_START: return "START";
    case VSB_STDIO_STDIN: return "STDIN";
    case VSB_STDIO_STDIN_EOF: return "STDIN_EOF";
    case VSB_STDIO_WINSIZE: return "WINSIZE";
    case VSB_STDIO_EXIT_ACK: return "EXIT_ACK";
    case VSB_STDIO_SHELL_IN: return "SHELL_IN";
    case VSB_STDIO_SHELL_WINSIZE: return "SHELL_WINSIZE";
    case VSB_STDIO_KEEPALIVE: return "KEEPALIVE";
    }
    return NULL;
}

void
vsb_stdio_decoder_init(VsbStdioDecoder *d)
{
    d->start = d->end = 0;
    d->noise = d->bad_frames = 0;
}

uint8_t *
vsb_stdio_decoder_space(VsbStdioDecoder *d, size_t *len)
{
    /* Compact lazily: only when the tail is short of a whole frame. */
    if (sizeof(d->buf) - d->end < VSB_STDIO_MAX_FRAME && d->start > 0) {
        memmove(d->buf, d->buf + d->start, d->end - d->start);
        d->end -= d->start;
        d->start = 0;
    }
    *len = sizeof(d->buf) - d->end;
    return d->buf + d->end;
}

void
vsb_stdio_decoder_commit(VsbStdioDecoder *d, size_t len)
{
    d->end += len;
}

size_t
vsb_stdio_decoder_feed(VsbStdioDecoder *d, const void *data, size_t len)
{
    size_t room;
    uint8_t *space = vsb_stdio_decoder_space(d, &room);

    if (len > room)
        len = room;
    memcpy(space, data, len);
    vsb_stdio_decoder_commit(d, len);
    return len;
}

static void
skip(VsbStdioDecoder *d, size_t n)
{
    d->start += n;
    d->noise += n;
}

bool
vsb_stdio_decoder_next(VsbStdioDecoder *d, VsbStdioMsg *msg)
{
    while (d->start < d->end) {
        const uint8_t *p = d->buf + d->start;
        size_t avail = d->end - d->start;
        size_t len;

        if (p[0] != (uint8_t)VSB_STDIO_MAGIC[0]) {
            const uint8_t *m = memchr(p, (uint8_t)VSB_STDIO_MAGIC[0], avail);
            skip(d, m ? (size_t)(m - p) : avail);
            continue;
        }
        if (avail < VSB_STDIO_MAGIC_LEN) {
            if (memcmp(p, VSB_STDIO_MAGIC, avail) != 0) {
                skip(d, 1);
                continue;
            }
            return false;
        }
        if (memcmp(p, VSB_STDIO_MAGIC, VSB_STDIO_MAGIC_LEN) != 0) {
            skip(d, 1);
            continue;
        }
        if (avail < VSB_STDIO_HEADER_LEN)
            return false;
        len = get16(p + 6);
        if (get32(p + 8) != vsb_stdio_crc32(0, p, 8) || len > VSB_STDIO_MAX_PAYLOAD) {
            skip(d, 1);
            continue;
        }
        if (avail < VSB_STDIO_FRAME_LEN(len))
            return false;
        if (get32(p + VSB_STDIO_HEADER_LEN + len) !=
            vsb_stdio_crc32(0, p + VSB_STDIO_HEADER_LEN, len)) {
            /* Something was inserted into (or lost from) this frame:
             * drop it, a frame may start anywhere inside it. */
            d->bad_frames++;
            skip(d, 1);
            continue;
        }
        msg->type = p[4];
        msg->payload = p + VSB_STDIO_HEADER_LEN;
        msg->len = len;
        d->start += VSB_STDIO_FRAME_LEN(len);
        if (d->start == d->end)
            d->start = d->end = 0;
        return true;
    }
    d->start = d->end = 0;
    return false;
}
