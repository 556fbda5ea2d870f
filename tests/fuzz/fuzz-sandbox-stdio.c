/*
 * fuzz-sandbox-stdio.c: libFuzzer target for the stdio protocol's
 * decoder (sandbox/vsb-stdio-proto.h).
 *
 * Any byte stream may come over a console.  Nothing may crash; every
 * frame delivered must be a valid frame (re-encoding it gives bytes
 * that decode to the same frame); how the stream is split between
 * reads must not change what is delivered; the payload parsers accept
 * or refuse any delivered frame without reading past it.
 *
 *   fuzz-sandbox-stdio -max_total_time=60 CORPUS_DIR
 */
#include <config.h>

#include "vsb-stdio-proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static VsbStdioDecoder whole, split, again;

/* A digest of what was delivered, to compare two runs. */
static uint32_t
run(VsbStdioDecoder *d, const uint8_t *data, size_t size, size_t chunk, size_t *count)
{
    uint32_t digest = 0;
    size_t off = 0;

    vsb_stdio_decoder_init(d);
    *count = 0;
    while (off < size) {
        size_t n = vsb_stdio_decoder_feed(d, data + off, size - off < chunk ? size - off : chunk);
        VsbStdioMsg msg;

        if (n == 0)
            abort();   /* the decoder must always take more after _next() */
        off += n;
        while (vsb_stdio_decoder_next(d, &msg)) {
            static uint8_t frame[VSB_STDIO_MAX_FRAME];
            VsbStdioMsg m2;
            VsbStdioReady r;
            VsbStdioStart s;
            VsbStdioWinsize w;
            VsbStdioExit e;
            size_t len;

            if (msg.len > VSB_STDIO_MAX_PAYLOAD)
                abort();
            len = vsb_stdio_encode(frame, msg.type, msg.payload, msg.len);
            vsb_stdio_decoder_init(&again);
            vsb_stdio_decoder_feed(&again, frame, len);
            if (!vsb_stdio_decoder_next(&again, &m2) || m2.type != msg.type ||
                m2.len != msg.len || memcmp(m2.payload, msg.payload, msg.len) != 0 ||
                again.noise != 0)
                abort();
            (void)vsb_stdio_parse_ready(&msg, &r);
            (void)vsb_stdio_parse_start(&msg, &s);
            (void)vsb_stdio_parse_winsize(&msg, &w);
            if (vsb_stdio_parse_exit(&msg, &e) && vsb_stdio_exit_status(&e) > 255)
                abort();
            digest = vsb_stdio_crc32(digest, &msg.type, 1);
            digest = vsb_stdio_crc32(digest, msg.payload, msg.len);
            (*count)++;
        }
    }
    return digest;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n1, n2;
    /* The first byte picks how small the reads are. */
    size_t chunk = size ? (size_t)data[0] % 17 + 1 : 1;
    uint32_t a = run(&whole, data, size, size ? size : 1, &n1);
    uint32_t b = run(&split, data, size, chunk, &n2);

    if (a != b || n1 != n2) {
        fprintf(stderr, "split reads changed the frames: %zu vs %zu\n", n1, n2);
        abort();
    }
    return 0;
}
