/*
 * vsb-sandbox-console.c: the tool's end of the stdio protocol.
 */
#include <config.h>

#include "vsb-sandbox-console.h"
#include "vsb-sandbox-config.h"
#include "vsb-stdio-proto.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

/* Stop reading stdin while this much waits for the channel. */
#define QUEUE_HIGH (256 * 1024)
/* Ctrl-]: detaches, as in virsh console. */
#define ESCAPE_CHAR 0x1d
/* After EXIT: how long the EXIT_ACK may take to leave. */
#define ACK_FLUSH_MS 2000

/* ------------------------------------------------------------------ */
/* Channels                                                            */

typedef struct {
    VsbSandboxChannel *ch;
    VsbSandboxChannelFunc func;
    gpointer data;
} Watch;

typedef struct {
    VsbSandboxChannel base;
    int in_fd;
    int out_fd;
} FdChannel;

static gssize
io_result(gssize n, int errsv, const char *what, GError **error)
{
    if (n >= 0)
        return n;
    if (errsv == EAGAIN || errsv == EWOULDBLOCK)
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "%s would block", what);
    else
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errsv), "Cannot %s the console: %s",
                    what, g_strerror(errsv));
    return -1;
}

static gssize
fd_recv(VsbSandboxChannel *ch, void *buf, gsize len, GError **error)
{
    FdChannel *f = (FdChannel *)ch;
    gssize n;

    do {
        n = read(f->in_fd, buf, len);
    } while (n < 0 && errno == EINTR);
    /* A pty whose other side is gone says EIO: that is its end. */
    if (n < 0 && errno == EIO)
        return 0;
    return io_result(n, errno, "read", error);
}

static gssize
fd_send(VsbSandboxChannel *ch, const void *buf, gsize len, GError **error)
{
    FdChannel *f = (FdChannel *)ch;
    gssize n;

    do {
        n = write(f->out_fd, buf, len);
    } while (n < 0 && errno == EINTR);
    return io_result(n, errno, "write", error);
}

static gboolean
fd_dispatch(gint fd, GIOCondition cond, gpointer data)
{
    Watch *w = data;

    return w->func(w->ch, cond, w->data);
}

static guint
fd_add_watch(VsbSandboxChannel *ch, GIOCondition cond, VsbSandboxChannelFunc func, gpointer data)
{
    FdChannel *f = (FdChannel *)ch;
    Watch *w = g_new0(Watch, 1);

    w->ch = ch;
    w->func = func;
    w->data = data;
    return g_unix_fd_add_full(G_PRIORITY_DEFAULT, cond & G_IO_OUT ? f->out_fd : f->in_fd,
                              cond | G_IO_HUP | G_IO_ERR, fd_dispatch, w, g_free);
}

static void
fd_free(VsbSandboxChannel *ch)
{
    g_free(ch);
}

VsbSandboxChannel *
vsb_sandbox_channel_new_fds(int in_fd, int out_fd)
{
    FdChannel *f = g_new0(FdChannel, 1);

    f->base.recv = fd_recv;
    f->base.send = fd_send;
    f->base.add_watch = fd_add_watch;
    f->base.free = fd_free;
    f->in_fd = in_fd;
    f->out_fd = out_fd;
    g_unix_set_fd_nonblocking(in_fd, TRUE, NULL);
    g_unix_set_fd_nonblocking(out_fd, TRUE, NULL);
    return &f->base;
}

typedef struct {
    VsbSandboxChannel base;
    GVirStream *stream;
} StreamChannel;

static gssize
stream_recv(VsbSandboxChannel *ch, void *buf, gsize len, GError **error)
{
    return gvir_stream_receive(((StreamChannel *)ch)->stream, buf, len, NULL, error);
}

static gssize
stream_send(VsbSandboxChannel *ch, const void *buf, gsize len, GError **error)
{
    return gvir_stream_send(((StreamChannel *)ch)->stream, buf, len, NULL, error);
}

static gboolean
stream_dispatch(GVirStream *stream, GVirStreamIOCondition cond, gpointer data)
{
    Watch *w = data;
    GIOCondition c = 0;

    if (cond & GVIR_STREAM_IO_CONDITION_READABLE)
        c |= G_IO_IN;
    if (cond & GVIR_STREAM_IO_CONDITION_WRITABLE)
        c |= G_IO_OUT;
    if (cond & GVIR_STREAM_IO_CONDITION_HANGUP)
        c |= G_IO_HUP;
    if (cond & GVIR_STREAM_IO_CONDITION_ERROR)
        c |= G_IO_ERR;
    return w->func(w->ch, c, w->data);
}

static guint
stream_add_watch(VsbSandboxChannel *ch, GIOCondition cond, VsbSandboxChannelFunc func,
                 gpointer data)
{
    Watch *w = g_new0(Watch, 1);

    w->ch = ch;
    w->func = func;
    w->data = data;
    return gvir_stream_add_watch_full(((StreamChannel *)ch)->stream, G_PRIORITY_DEFAULT,
                                      cond & G_IO_OUT ? GVIR_STREAM_IO_CONDITION_WRITABLE
                                                      : GVIR_STREAM_IO_CONDITION_READABLE,
                                      stream_dispatch, w, g_free);
}

static void
stream_free(VsbSandboxChannel *ch)
{
    g_object_unref(((StreamChannel *)ch)->stream);
    g_free(ch);
}

VsbSandboxChannel *
vsb_sandbox_channel_new_stream(GVirStream *stream)
{
    StreamChannel *s = g_new0(StreamChannel, 1);

    s->base.recv = stream_recv;
    s->base.send = stream_send;
    s->base.add_watch = stream_add_watch;
    s->base.free = stream_free;
    s->stream = g_object_ref(stream);
    return &s->base;
}

void
vsb_sandbox_channel_free(VsbSandboxChannel *ch)
{
    if (ch)
        ch->free(ch);
}

/* ------------------------------------------------------------------ */
/* The console                                                         */

typedef enum {
    STATE_WAIT_READY,
    STATE_RUNNING,
    STATE_DONE,      /* EXIT came; sending EXIT_ACK */
} State;

struct _VsbSandboxConsole {
    GObject parent;

    VsbSandboxChannel *ch;
    int in_fd, out_fd, err_fd;
    bool tty;

    State state;
    bool quit;
    bool raw;
    struct termios saved;
    GByteArray *outq;
    guint chan_in_watch, chan_out_watch, stdin_watch, winch_watch, ack_timer;
    /* --shell: the host pty's master (not ours), -1 without */
    int shell_fd;
    guint shell_watch;
    struct winsize shell_ws;
    bool stdin_ended;
    bool out_broken, err_broken;
    int status;
    int interrupt;
    GError *error;
    guint64 frames_in;

    VsbStdioDecoder dec;
};

G_DEFINE_TYPE(VsbSandboxConsole, vsb_sandbox_console, G_TYPE_OBJECT)

static void
remove_source(guint *id)
{
    if (*id) {
        g_source_remove(*id);
        *id = 0;
    }
}

static void
vsb_sandbox_console_finalize(GObject *obj)
{
    VsbSandboxConsole *con = VSB_SANDBOX_CONSOLE(obj);

    remove_source(&con->chan_in_watch);
    remove_source(&con->chan_out_watch);
    remove_source(&con->stdin_watch);
    remove_source(&con->winch_watch);
    remove_source(&con->ack_timer);
    remove_source(&con->shell_watch);
    vsb_sandbox_channel_free(con->ch);
    g_byte_array_unref(con->outq);
    g_clear_error(&con->error);
    G_OBJECT_CLASS(vsb_sandbox_console_parent_class)->finalize(obj);
}

static void
vsb_sandbox_console_class_init(VsbSandboxConsoleClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = vsb_sandbox_console_finalize;
}

static void
vsb_sandbox_console_init(VsbSandboxConsole *con)
{
    con->outq = g_byte_array_new();
    con->shell_fd = -1;
    vsb_stdio_decoder_init(&con->dec);
}

VsbSandboxConsole *
vsb_sandbox_console_new(VsbSandboxChannel *ch, int in_fd, int out_fd, int err_fd)
{
    VsbSandboxConsole *con = g_object_new(VSB_SANDBOX_TYPE_CONSOLE, NULL);

    con->ch = ch;
    con->in_fd = in_fd;
    con->out_fd = out_fd;
    con->err_fd = err_fd;
    con->tty = in_fd >= 0 && isatty(in_fd);
    return con;
}

void
vsb_sandbox_console_set_tty(VsbSandboxConsole *con, bool tty)
{
    con->tty = tty;
}

void
vsb_sandbox_console_set_shell(VsbSandboxConsole *con, int fd)
{
    con->shell_fd = fd;
}

guint64
vsb_sandbox_console_get_noise(VsbSandboxConsole *con)
{
    return con->dec.noise;
}

int
vsb_sandbox_console_get_interrupt(VsbSandboxConsole *con)
{
    return con->interrupt;
}

static void
fail(VsbSandboxConsole *con, GError *error)
{
    if (!con->error)
        con->error = error;
    else
        g_error_free(error);
    con->quit = true;
}

void
vsb_sandbox_console_interrupt(VsbSandboxConsole *con, int signum)
{
    if (con->quit)
        return;
    con->interrupt = signum;
    fail(con, g_error_new(VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INTERRUPTED,
                          "Interrupted by signal %d (%s)", signum, g_strsignal(signum)));
}

/* Ctrl-]: ends the run as a hang-up would. */
static void
detach(VsbSandboxConsole *con)
{
    if (con->quit)
        return;
    con->interrupt = SIGHUP;
    fail(con, g_error_new_literal(VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INTERRUPTED,
                                  "Detached from the sandbox (Ctrl-])"));
}

static gboolean on_chan_out(VsbSandboxChannel *ch, GIOCondition cond, gpointer data);
static gboolean on_stdin(gint fd, GIOCondition cond, gpointer data);

static void
watch_stdin(VsbSandboxConsole *con, bool on)
{
    if (on && !con->stdin_watch && !con->stdin_ended && con->state == STATE_RUNNING)
        con->stdin_watch = g_unix_fd_add(con->in_fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, con);
    else if (!on)
        remove_source(&con->stdin_watch);
}

static void
maybe_done(VsbSandboxConsole *con)
{
    if (con->state == STATE_DONE && con->outq->len == 0)
        con->quit = true;
}

/* Send what the channel takes now; watch for room for the rest. */
static void
flush(VsbSandboxConsole *con)
{
    while (con->outq->len) {
        g_autoptr(GError) err = NULL;
        gssize n = con->ch->send(con->ch, con->outq->data, con->outq->len, &err);
        if (n < 0 && g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            break;
        if (n <= 0) {
            if (con->state == STATE_DONE) {
                /* The sandbox is already going: the ACK is a courtesy. */
                g_byte_array_set_size(con->outq, 0);
                break;
            }
            fail(con, err ? g_steal_pointer(&err)
                          : g_error_new(G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE,
                                        "The sandbox's console closed"));
            return;
        }
        g_byte_array_remove_range(con->outq, 0, n);
    }
    if (con->outq->len && !con->chan_out_watch)
        con->chan_out_watch = con->ch->add_watch(con->ch, G_IO_OUT, on_chan_out, con);
    else if (!con->outq->len)
        remove_source(&con->chan_out_watch);
    watch_stdin(con, con->outq->len < QUEUE_HIGH);
    maybe_done(con);
}

static void
send_frame(VsbSandboxConsole *con, uint8_t type, const void *payload, size_t len)
{
    guint old = con->outq->len;

    g_byte_array_set_size(con->outq, old + VSB_STDIO_FRAME_LEN(len));
    vsb_stdio_encode(con->outq->data + old, type, payload, len);
}

static void
send_winsize(VsbSandboxConsole *con)
{
    struct winsize ws;
    VsbStdioWinsize w;
    guint old = con->outq->len;

    if (ioctl(con->in_fd, TIOCGWINSZ, &ws) < 0)
        return;
    w.rows = ws.ws_row;
    w.cols = ws.ws_col;
    g_byte_array_set_size(con->outq, old + VSB_STDIO_FRAME_LEN(4));
    vsb_stdio_encode_winsize(con->outq->data + old, &w);
}

static gboolean
on_winch(gpointer data)
{
    VsbSandboxConsole *con = data;

    send_winsize(con);
    flush(con);
    return G_SOURCE_CONTINUE;
}

/* Write all of it to a local fd (blocking: a slow reader of our
 * stdout slows the sandbox down, through the channel). */
static bool
write_local(int fd, const uint8_t *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            struct pollfd pfd = { .fd = fd, .events = POLLOUT };
            poll(&pfd, 1, -1);
            continue;
        }
        if (n < 0)
            return false;
        p += n;
        len -= n;
    }
    return true;
}

/* What a client typed on the shell's host pty goes to the shell, after
 * its window size when that changed (a pty master gets no SIGWINCH:
 * the size is looked at whenever the user types). */
static gboolean
on_shell_in(gint fd, GIOCondition cond, gpointer data)
{
    VsbSandboxConsole *con = data;
    uint8_t buf[VSB_STDIO_MAX_PAYLOAD];
    struct winsize ws;
    ssize_t n;

    do {
        n = read(fd, buf, sizeof(buf));
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN)
        return G_SOURCE_CONTINUE;
    if (n <= 0) {
        con->shell_watch = 0;
        return G_SOURCE_REMOVE;
    }
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col &&
        (ws.ws_row != con->shell_ws.ws_row || ws.ws_col != con->shell_ws.ws_col)) {
        VsbStdioWinsize w = { .rows = ws.ws_row, .cols = ws.ws_col };
        guint old = con->outq->len;
        con->shell_ws = ws;
        g_byte_array_set_size(con->outq, old + VSB_STDIO_FRAME_LEN(4));
        vsb_stdio_encode_shell_winsize(con->outq->data + old, &w);
    }
    send_frame(con, VSB_STDIO_SHELL_IN, buf, n);
    flush(con);
    return G_SOURCE_CONTINUE;
}

/* The shell's output for whoever has the host pty open.  Never blocks
 * the run: with nobody reading, the pty fills and the rest is dropped,
 * as a terminal nobody watches would lose it. */
static void
shell_output(VsbSandboxConsole *con, const void *p, size_t len)
{
    if (con->shell_fd >= 0 && write(con->shell_fd, p, len) < 0) {
        /* dropped, see above */
    }
}

static void
start(VsbSandboxConsole *con)
{
    VsbStdioStart s = {
        .flags = (con->tty ? VSB_STDIO_START_TTY : 0) |
                 (con->shell_fd >= 0 ? VSB_STDIO_START_SHELL : 0),
    };
    struct winsize ws;
    guint old = con->outq->len;

    if (con->tty && ioctl(con->in_fd, TIOCGWINSZ, &ws) == 0) {
        s.rows = ws.ws_row;
        s.cols = ws.ws_col;
    }
    g_byte_array_set_size(con->outq, old + VSB_STDIO_FRAME_LEN(8));
    vsb_stdio_encode_start(con->outq->data + old, &s);
    con->state = STATE_RUNNING;
    if (con->in_fd < 0) {
        con->stdin_ended = true;
        send_frame(con, VSB_STDIO_STDIN_EOF, NULL, 0);
    }
    if (con->tty)
        con->winch_watch = g_unix_signal_add(SIGWINCH, on_winch, con);
    if (con->shell_fd >= 0)
        con->shell_watch = g_unix_fd_add(con->shell_fd, G_IO_IN, on_shell_in, con);
}

static void
handle_frame(VsbSandboxConsole *con, const VsbStdioMsg *msg)
{
    VsbStdioExit e;

    con->frames_in++;
    switch (msg->type) {
    case VSB_STDIO_READY:
        /* READY is repeated until START reaches init: only the first
         * one counts. */
        if (con->state == STATE_WAIT_READY)
            start(con);
        break;
    case VSB_STDIO_STDOUT:
        if (!con->out_broken && !write_local(con->out_fd, msg->payload, msg->len)) {
            con->out_broken = true;
            /* "| head": the program would die of SIGPIPE writing to a
             * closed pipe; so does the run, or it would never end. */
            if (errno == EPIPE) {
                con->interrupt = SIGPIPE;
                fail(con, g_error_new_literal(VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INTERRUPTED,
                                              "Standard output closed (broken pipe)"));
            }
        }
        break;
    case VSB_STDIO_STDERR:
        if (!con->err_broken && !write_local(con->err_fd, msg->payload, msg->len))
            con->err_broken = true;
        break;
    case VSB_STDIO_LOG:
        write_local(con->err_fd, msg->payload, msg->len);
        break;
    case VSB_STDIO_SHELL_OUT:
        shell_output(con, msg->payload, msg->len);
        break;
    case VSB_STDIO_SHELL_EXIT:
        if (con->shell_fd >= 0 && vsb_stdio_parse_exit(msg, &e)) {
            g_autofree char *note = g_strdup_printf(
                "\r\n[virt-sandbox: the shell ended with status %d]\r\n",
                vsb_stdio_exit_status(&e));
            shell_output(con, note, strlen(note));
        }
        remove_source(&con->shell_watch);
        break;
    case VSB_STDIO_EXIT:
        if (con->state != STATE_RUNNING)
            break;
        if (!vsb_stdio_parse_exit(msg, &e)) {
            fail(con, g_error_new(VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_FAILED,
                                  "The sandbox reported an invalid exit status"));
            return;
        }
        con->status = vsb_stdio_exit_status(&e);
        con->state = STATE_DONE;
        watch_stdin(con, false);
        send_frame(con, VSB_STDIO_EXIT_ACK, NULL, 0);
        break;
    default:
        break;
    }
}

static gboolean
on_ack_timeout(gpointer data)
{
    VsbSandboxConsole *con = data;

    con->ack_timer = 0;
    con->quit = true;
    return G_SOURCE_REMOVE;
}

static gboolean
on_chan_in(VsbSandboxChannel *ch, GIOCondition cond, gpointer data)
{
    VsbSandboxConsole *con = data;

    /* Bounded, so that a flood from the sandbox cannot starve stdin. */
    for (int i = 0; i < 16 && !con->quit; i++) {
        g_autoptr(GError) err = NULL;
        size_t room;
        uint8_t *space = vsb_stdio_decoder_space(&con->dec, &room);
        gssize n = ch->recv(ch, space, room, &err);
        VsbStdioMsg msg;

        if (n < 0 && g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            break;
        if (n <= 0) {
            con->chan_in_watch = 0;
            if (con->state == STATE_DONE) {
                con->quit = true;
            } else {
                fail(con, g_error_new(VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_FAILED,
                                      "The sandbox ended %s%s%s",
                                      con->state == STATE_WAIT_READY
                                          ? "before its init answered"
                                          : "without reporting the program's exit status",
                                      err ? ": " : "", err ? err->message : ""));
            }
            return G_SOURCE_REMOVE;
        }
        vsb_stdio_decoder_commit(&con->dec, n);
        while (!con->quit && vsb_stdio_decoder_next(&con->dec, &msg))
            handle_frame(con, &msg);
        if (con->state == STATE_DONE && !con->ack_timer)
            con->ack_timer = g_timeout_add(ACK_FLUSH_MS, on_ack_timeout, con);
    }
    flush(con);
    return G_SOURCE_CONTINUE;
}

static gboolean
on_chan_out(VsbSandboxChannel *ch, GIOCondition cond, gpointer data)
{
    VsbSandboxConsole *con = data;

    con->chan_out_watch = 0;
    flush(con);
    /* flush() added a new watch if it still has to wait. */
    return G_SOURCE_REMOVE;
}

static gboolean
on_stdin(gint fd, GIOCondition cond, gpointer data)
{
    VsbSandboxConsole *con = data;
    uint8_t buf[VSB_STDIO_MAX_PAYLOAD];
    ssize_t n;

    do {
        n = read(fd, buf, sizeof(buf));
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN)
        return G_SOURCE_CONTINUE;
    if (n <= 0) {
        /* EOF, or a terminal that went away (EIO). */
        con->stdin_watch = 0;
        con->stdin_ended = true;
        send_frame(con, VSB_STDIO_STDIN_EOF, NULL, 0);
        flush(con);
        return G_SOURCE_REMOVE;
    }
    if (con->tty) {
        uint8_t *esc = memchr(buf, ESCAPE_CHAR, n);
        if (esc) {
            if (esc > buf)
                send_frame(con, VSB_STDIO_STDIN, buf, esc - buf);
            flush(con);
            detach(con);
            con->stdin_watch = 0;
            return G_SOURCE_REMOVE;
        }
    }
    send_frame(con, VSB_STDIO_STDIN, buf, n);
    flush(con);
    return con->stdin_watch ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static void
raw_mode(VsbSandboxConsole *con)
{
    struct termios tio;

    if (!con->tty || !isatty(con->in_fd) || tcgetattr(con->in_fd, &con->saved) < 0)
        return;
    tio = con->saved;
    /* The program's own terminal (the pty in the sandbox) does the
     * echoing, line editing and signals: ours passes bytes. */
    cfmakeraw(&tio);
    if (tcsetattr(con->in_fd, TCSADRAIN, &tio) == 0)
        con->raw = true;
}

bool
vsb_sandbox_console_run(VsbSandboxConsole *con, int *status, GError **error)
{
    raw_mode(con);
    con->chan_in_watch = con->ch->add_watch(con->ch, G_IO_IN, on_chan_in, con);
    while (!con->quit)
        g_main_context_iteration(NULL, TRUE);

    remove_source(&con->chan_in_watch);
    remove_source(&con->chan_out_watch);
    remove_source(&con->stdin_watch);
    remove_source(&con->winch_watch);
    remove_source(&con->ack_timer);
    remove_source(&con->shell_watch);
    if (con->raw) {
        tcsetattr(con->in_fd, TCSADRAIN, &con->saved);
        con->raw = false;
    }
    if (con->error) {
        g_propagate_error(error, g_steal_pointer(&con->error));
        return false;
    }
    *status = con->status;
    return true;
}
