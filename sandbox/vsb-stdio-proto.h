/*
 * vsb-stdio-proto.h: the stdio protocol between virt-sandbox (the tool,
 * on the host) and virt-sandbox-init (PID 1 inside the sandbox).
 *
 * This header is the protocol's one definition.  The code is plain C
 * (no GLib, no allocation) because it is linked into the statically
 * linked init as well as into the GLib-based library.
 *
 * Why a protocol at all
 * ---------------------
 * libvirt gives the tool one byte stream into the sandbox: the console
 * (a pty in LXC, a virtio-serial port in KVM).  The program's stdout
 * and stderr must stay apart, its exit status must come back, the
 * terminal's size must go in, and nothing the program prints before
 * the tool is attached may be lost.  So both ends speak in frames.
 *
 * The channel
 * -----------
 * A console pty cooks bytes until someone makes it raw (echo, \n ->
 * \r\n, ^C, ^S ...), replays up to 64 KiB of old output to a new
 * client, and the controller types the terminal's EOF character (^D)
 * into it when its own stdin is a pipe that ends.  Hence:
 *   - init puts its end of the console in raw mode (cfmakeraw) before
 *     it sends anything, and the tool sends nothing before it has seen
 *     READY: nothing the tool sends is ever cooked or echoed;
 *   - every frame carries a magic marker and two CRC-32s (header,
 *     payload), and the decoder skips whatever is not a valid frame
 *     (counted as noise), one byte at a time, so it resynchronises
 *     after any garbage: an injected ^D, a replayed partial frame, a
 *     stray message on the console;
 *   - a frame is delivered whole and exact or not at all.
 *
 * Frame layout (integers big-endian)
 * ----------------------------------
 *   offset size
 *    0     4   magic F9 'V' 'S' 'B' (0xF9 never occurs in UTF-8 text)
 *    4     1   type (VsbStdioType)
 *    5     1   flags, 0 (receivers ignore them)
 *    6     2   payload length, 0..VSB_STDIO_MAX_PAYLOAD
 *    8     4   CRC-32 (IEEE 802.3, as zlib's crc32()) of bytes 0..7
 *   12     n   payload
 *   12+n   4   CRC-32 of the payload (of nothing: 0)
 * A header is checked on its own, so a false magic in noise is
 * rejected at once instead of making the decoder wait for a payload
 * that never comes.
 *
 * Conversation
 * ------------
 *   init -> tool  READY     (repeated with back-off until START comes:
 *                            a client attaching late still sees one)
 *   tool -> init  START     tty flag and window size; init starts the
 *                           program only now, so no output is lost
 *   tool -> init  STDIN*, WINSIZE*, STDIN_EOF
 *   init -> tool  STDOUT*, STDERR*, LOG*  (in the order produced)
 *   init -> tool  EXIT      after the program exited and its output
 *                           was drained; then init waits (bounded) for
 *   tool -> init  EXIT_ACK  before it exits, so the last output is not
 *                           lost with the channel
 * KEEPALIVE may be sent either way at any time and is ignored.  Frames
 * of unknown type are ignored (room for later versions); payloads
 * longer than a type needs are accepted, the extra bytes ignored.
 *
 * With a tty (START flag TTY), the program runs on a pty inside the
 * sandbox: its stdout and stderr both arrive as STDOUT, and STDIN_EOF
 * is typed as the pty's EOF character.  Without one, the program gets
 * pipes and STDIN_EOF closes its stdin.
 *
 * With START flag SHELL (virt-sandbox --shell), init also starts an
 * interactive /bin/sh on a second pty of its own, alongside the
 * program (same identity, environment and directory).  Its terminal
 * travels as SHELL_OUT / SHELL_IN / SHELL_WINSIZE and SHELL_EXIT says
 * it ended; it never decides the run's end or status: when the
 * program is gone, init hangs the shell up and sends EXIT as usual.
 * An init that does not know the flag ignores it (no shell frames).
 *
 * Exit status: EXIT carries how the program ended (exited with a code,
 * or killed by a signal); the tool exits with the code, or 128+N for
 * signal N.  init reports its own failures as LOG text followed by
 * EXIT with code 125 (setup failed), 126 (program not executable) or
 * 127 (program not found), like env(1).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VSB_STDIO_VERSION 1

#define VSB_STDIO_MAGIC "\xf9VSB"
#define VSB_STDIO_MAGIC_LEN 4
#define VSB_STDIO_HEADER_LEN 12
#define VSB_STDIO_TRAILER_LEN 4
#define VSB_STDIO_MAX_PAYLOAD 16384
#define VSB_STDIO_FRAME_LEN(n) (VSB_STDIO_HEADER_LEN + (n) + VSB_STDIO_TRAILER_LEN)
#define VSB_STDIO_MAX_FRAME VSB_STDIO_FRAME_LEN(VSB_STDIO_MAX_PAYLOAD)

typedef enum {
    /* init -> tool */
    VSB_STDIO_READY = 1,      /* u32 version, u32 flags (0) */
    VSB_STDIO_STDOUT = 2,     /* data */
    VSB_STDIO_STDERR = 3,     /* data */
    VSB_STDIO_EXIT = 4,       /* u8 how, u8 core dumped, u16 0, u32 code or signal */
    VSB_STDIO_LOG = 5,        /* text from init itself (errors, --debug) */
    VSB_STDIO_SHELL_OUT = 6,  /* data from the --shell shell's terminal */
    VSB_STDIO_SHELL_EXIT = 7, /* the shell ended; payload as EXIT */
    /* tool -> init */
    VSB_STDIO_START = 16,     /* u32 flags (VSB_STDIO_START_TTY), u16 rows, u16 cols */
    VSB_STDIO_STDIN = 17,     /* data */
    VSB_STDIO_STDIN_EOF = 18, /* empty */
    VSB_STDIO_WINSIZE = 19,   /* u16 rows, u16 cols */
    VSB_STDIO_EXIT_ACK = 20,  /* empty */
    VSB_STDIO_SHELL_IN = 21,  /* data for the --shell shell's terminal */
    VSB_STDIO_SHELL_WINSIZE = 22, /* u16 rows, u16 cols of the shell's terminal */
    /* either way */
    VSB_STDIO_KEEPALIVE = 32, /* empty, ignored */
} VsbStdioType;

#define VSB_STDIO_START_TTY 0x1u
#define VSB_STDIO_START_SHELL 0x2u

typedef enum {
    VSB_STDIO_EXITED = 1,     /* value: exit code 0..255 */
    VSB_STDIO_SIGNALED = 2,   /* value: signal number */
} VsbStdioExitHow;

/* The exit codes init uses for its own failures. */
#define VSB_STDIO_EXIT_SETUP_FAILED 125
#define VSB_STDIO_EXIT_CANNOT_EXEC 126
#define VSB_STDIO_EXIT_NOT_FOUND 127

/* A decoded frame; payload points into the decoder (or the caller's
 * buffer) and is valid until the decoder is fed or asked again. */
typedef struct {
    uint8_t type;             /* a VsbStdioType, or unknown */
    const uint8_t *payload;
    size_t len;
} VsbStdioMsg;

typedef struct {
    uint32_t version;
    uint32_t flags;
} VsbStdioReady;

typedef struct {
    uint32_t flags;
    uint16_t rows;
    uint16_t cols;
} VsbStdioStart;

typedef struct {
    uint16_t rows;
    uint16_t cols;
} VsbStdioWinsize;

typedef struct {
    uint8_t how;              /* VsbStdioExitHow */
    uint8_t core_dumped;
    uint32_t value;
} VsbStdioExit;

uint32_t vsb_stdio_crc32(uint32_t crc, const void *data, size_t len);

/* Write one frame into @out, which has room for VSB_STDIO_FRAME_LEN(@len)
 * bytes; @len must not exceed VSB_STDIO_MAX_PAYLOAD (returns 0 then).
 * Returns the frame's length. */
size_t vsb_stdio_encode(uint8_t *out, uint8_t type, const void *payload, size_t len);

size_t vsb_stdio_encode_ready(uint8_t *out, const VsbStdioReady *r);
size_t vsb_stdio_encode_start(uint8_t *out, const VsbStdioStart *s);
size_t vsb_stdio_encode_winsize(uint8_t *out, const VsbStdioWinsize *w);
size_t vsb_stdio_encode_exit(uint8_t *out, const VsbStdioExit *e);
/* The same payloads as SHELL_WINSIZE and SHELL_EXIT. */
size_t vsb_stdio_encode_shell_winsize(uint8_t *out, const VsbStdioWinsize *w);
size_t vsb_stdio_encode_shell_exit(uint8_t *out, const VsbStdioExit *e);

/* Payload parsers: false when the payload is too short for the type
 * (or, for EXIT, names no known way to end).  _winsize() takes WINSIZE
 * and SHELL_WINSIZE, _exit() EXIT and SHELL_EXIT. */
bool vsb_stdio_parse_ready(const VsbStdioMsg *m, VsbStdioReady *r);
bool vsb_stdio_parse_start(const VsbStdioMsg *m, VsbStdioStart *s);
bool vsb_stdio_parse_winsize(const VsbStdioMsg *m, VsbStdioWinsize *w);
bool vsb_stdio_parse_exit(const VsbStdioMsg *m, VsbStdioExit *e);

/* The shell's view of an exit: the code, or 128+N for signal N. */
int vsb_stdio_exit_status(const VsbStdioExit *e);

/* Name of a type for messages ("STDOUT"), or NULL when unknown. */
const char *vsb_stdio_type_name(uint8_t type);

/* Stream decoder.  Fixed size, no allocation: embed it or make it
 * static.  Use either _feed() (copies) or _space()/_commit() (read()
 * straight into it), then call _next() until it returns false. */
typedef struct {
    uint8_t buf[2 * VSB_STDIO_MAX_FRAME];
    size_t start;             /* undecoded data is buf[start..end) */
    size_t end;
    uint64_t noise;           /* bytes skipped as not part of a valid frame */
    uint64_t bad_frames;      /* valid headers whose payload CRC failed */
} VsbStdioDecoder;

void vsb_stdio_decoder_init(VsbStdioDecoder *d);
/* Free room, at least VSB_STDIO_MAX_FRAME bytes once _next() has
 * returned false. */
uint8_t *vsb_stdio_decoder_space(VsbStdioDecoder *d, size_t *len);
void vsb_stdio_decoder_commit(VsbStdioDecoder *d, size_t len);
/* Copy as much of @data as fits; returns how much was taken. */
size_t vsb_stdio_decoder_feed(VsbStdioDecoder *d, const void *data, size_t len);
/* The next complete frame, if any. */
bool vsb_stdio_decoder_next(VsbStdioDecoder *d, VsbStdioMsg *msg);

#ifdef __cplusplus
}
#endif
