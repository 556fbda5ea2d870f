/*
 * vsb-ctl-console.c: the container's console.
 */
#include <config.h>

#include "vsb-ctl-console.h"
#include "vsb-ctl-mounts.h"
#include "vsb-controller.h"
#include "vsb-util.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

/* A client that does not read its console is disconnected once this
 * much output waits for it. */
#define CLIENT_MAX_PENDING (1024 * 1024)

bool
vsb_ctl_console_setup(const VsbCtlChildConfig *cfg, int rootfd,
                      int *master, int *slave, GError **error)
{
    g_auto(VsbFd) mfd = vsb_ctl_openat_in_root(rootfd, "dev/pts/ptmx", O_RDWR | O_NOCTTY, error);
    g_auto(VsbFd) sfd = -1;
    g_autofree char *slave_path = NULL;
    int unlock = 0;
    unsigned int ptn;
    struct termios tio;

    if (mfd < 0)
        return false;
    if (ioctl(mfd, TIOCSPTLCK, &unlock) < 0 || ioctl(mfd, TIOCGPTN, &ptn) < 0)
        return vsb_error_set_errno(error, errno, "Cannot set up the console pty");
    /* TIOCGPTPEER opens the slave through the master: no path lookup
     * that could be raced. */
    sfd = ioctl(mfd, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (sfd < 0)
        return vsb_error_set_errno(error, errno, "Cannot open the console pty's slave");
    if (cfg->console_raw && tcgetattr(sfd, &tio) == 0) {
        tio.c_lflag &= ~(ECHO | ECHOE | ECHOK | ECHONL | ECHOCTL | ECHOKE);
        tio.c_oflag &= ~ONLCR;
        tcsetattr(sfd, TCSANOW, &tio);
    }
    slave_path = g_strdup_printf("dev/pts/%u", ptn);
    if (!vsb_ctl_bind_at(rootfd, slave_path, rootfd, "dev/console", false, false, error))
        return false;
    *master = g_steal_fd(&mfd);
    *slave = g_steal_fd(&sfd);
    return true;
}

struct _VsbCtlConsole {
    int master;
    guint master_in_watch;
    guint master_out_watch;
    GByteArray *to_master;        /* input waiting for the container */

    GByteArray *backlog;          /* the last VSB_CTL_CONSOLE_BACKLOG bytes of output */

    int in_fd;                    /* stdin or the client socket, -1 if none */
    int out_fd;                   /* stdout or the client socket, -1 if none */
    bool client;                  /* in/out are one socket we own */
    bool out_lossless;            /* stdout: never drop, slow the container
                                   * down instead; client: drop the client */
    bool master_paused;           /* stopped reading: stdout is behind */
    guint in_watch;
    guint out_watch;
    GByteArray *to_out;           /* output queued for a client */
    guint8 last_in;               /* last byte of input, 0 if none yet */

    bool tty_raw;
    int tty_fd;
    struct termios tty_saved;
};

static gboolean master_writable(gint fd, GIOCondition cond, gpointer opaque);
static gboolean out_writable(gint fd, GIOCondition cond, gpointer opaque);

static void
detach_peer(VsbCtlConsole *con)
{
    g_clear_handle_id(&con->in_watch, g_source_remove);
    g_clear_handle_id(&con->out_watch, g_source_remove);
    if (con->client && con->in_fd >= 0)
        close(con->in_fd);
    con->in_fd = -1;
    con->out_fd = -1;
    con->client = false;
    g_byte_array_set_size(con->to_out, 0);
}

static void
queue_to_master(VsbCtlConsole *con, const guint8 *buf, gsize len)
{
    g_byte_array_append(con->to_master, buf, len);
    if (!con->master_out_watch)
        con->master_out_watch = g_unix_fd_add(con->master, G_IO_OUT, master_writable, con);
}

/* Write what @queue holds to @fd: true while the fd works (what
 * could not be written stays queued), false on a real error. */
static bool
flush_queue(int fd, GByteArray *queue)
{
    ssize_t n = write(fd, queue->data, queue->len);

    if (n < 0)
        return errno == EAGAIN || errno == EINTR;
    g_byte_array_remove_range(queue, 0, n);
    return true;
}

static gboolean
master_writable(gint fd, GIOCondition cond, gpointer opaque)
{
    VsbCtlConsole *con = opaque;

    /* An error means the container is gone: drop what it will never read. */
    if (!flush_queue(fd, con->to_master))
        g_byte_array_set_size(con->to_master, 0);
    if (con->to_master->len)
        return G_SOURCE_CONTINUE;
    con->master_out_watch = 0;
    return G_SOURCE_REMOVE;
}

static gboolean master_readable(gint fd, GIOCondition cond, gpointer opaque);

/* Backpressure for a lossless stdout: while it lags behind by more than
 * CLIENT_MAX_PENDING, leave the container's output in the pty, whose
 * writers then block, as they would on a slow terminal. */
static void
pause_master(VsbCtlConsole *con, bool pause)
{
    if (pause == con->master_paused)
        return;
    con->master_paused = pause;
    if (pause)
        g_clear_handle_id(&con->master_in_watch, g_source_remove);
    else if (!con->master_in_watch)
        con->master_in_watch = g_unix_fd_add(con->master, G_IO_IN | G_IO_HUP | G_IO_ERR,
                                             master_readable, con);
}

static void
send_out(VsbCtlConsole *con, const guint8 *buf, gsize len)
{
    if (con->out_fd < 0)
        return;
    if (!con->out_lossless && con->to_out->len + len > CLIENT_MAX_PENDING) {
        detach_peer(con);
        return;
    }
    g_byte_array_append(con->to_out, buf, len);
    if (con->out_lossless && con->to_out->len > CLIENT_MAX_PENDING)
        pause_master(con, true);
    if (!con->out_watch)
        con->out_watch = g_unix_fd_add(con->out_fd, G_IO_OUT | G_IO_ERR, out_writable, con);
}

/* How much a write to @fd may carry without blocking.  Our stdout is
 * shared with whoever started us, so it stays in blocking mode (making
 * it non-blocking would change it for them too): after POLLOUT a pipe
 * takes what fits in its free space, anything else a page. */
static gsize
writable_size(int fd, gsize want)
{
    int cap = fcntl(fd, F_GETPIPE_SZ);
    int queued = 0;

    if (cap > 0 && ioctl(fd, FIONREAD, &queued) == 0)
        return MIN(want, (gsize)MAX(cap - queued, 0));
    return MIN(want, 4096);
}

static gboolean
out_writable(gint fd, GIOCondition cond, gpointer opaque)
{
    VsbCtlConsole *con = opaque;
    bool ok;

    if (con->out_lossless) {
        gsize n = writable_size(fd, con->to_out->len);
        ssize_t w = n ? write(fd, con->to_out->data, n) : 0;
        ok = w >= 0 || errno == EINTR || errno == EAGAIN;
        if (w > 0)
            g_byte_array_remove_range(con->to_out, 0, w);
    } else {
        ok = flush_queue(fd, con->to_out);
    }
    if (!ok) {
        /* stdout closed, or the client left: the container runs on */
        con->out_watch = 0;
        if (con->client)
            detach_peer(con);
        else
            con->out_fd = -1;
        g_byte_array_set_size(con->to_out, 0);
        pause_master(con, false);
        return G_SOURCE_REMOVE;
    }
    if (con->to_out->len <= CLIENT_MAX_PENDING / 2)
        pause_master(con, false);
    if (con->to_out->len)
        return G_SOURCE_CONTINUE;
    con->out_watch = 0;
    return G_SOURCE_REMOVE;
}

static void
remember(VsbCtlConsole *con, const guint8 *buf, gsize len)
{
    if (len >= VSB_CTL_CONSOLE_BACKLOG) {
        g_byte_array_set_size(con->backlog, 0);
        g_byte_array_append(con->backlog, buf + len - VSB_CTL_CONSOLE_BACKLOG,
                            VSB_CTL_CONSOLE_BACKLOG);
        return;
    }
    if (con->backlog->len + len > VSB_CTL_CONSOLE_BACKLOG)
        g_byte_array_remove_range(con->backlog, 0,
                                  con->backlog->len + len - VSB_CTL_CONSOLE_BACKLOG);
    g_byte_array_append(con->backlog, buf, len);
}

typedef enum {
    READ_MORE,     /* read @max_chunks chunks: more may wait */
    READ_AGAIN,    /* nothing more for now */
    READ_CLOSED,   /* no process holds the slave any more, or an error */
} ReadResult;

/* Read what the container wrote, at most @max_chunks chunks so that a
 * chatty container cannot starve the control socket. */
static ReadResult
read_master(VsbCtlConsole *con, int max_chunks)
{
    guint8 buf[16384];

    for (int i = 0; i < max_chunks; i++) {
        ssize_t n = read(con->master, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return READ_AGAIN;
        if (n <= 0)
            return READ_CLOSED;
        remember(con, buf, n);
        send_out(con, buf, n);
    }
    return READ_MORE;
}

static gboolean
master_readable(gint fd, GIOCondition cond, gpointer opaque)
{
    VsbCtlConsole *con = opaque;

    if (read_master(con, 16) != READ_CLOSED)
        return G_SOURCE_CONTINUE;
    /* EIO: no process holds the slave any more (all exited).  The
     * controller notices init's exit on its own. */
    con->master_in_watch = 0;
    return G_SOURCE_REMOVE;
}

/* The end of a piped stdin: a pty has no EOF of its own, so type the
 * terminal's EOF character, as a person at a terminal would.  In
 * canonical mode it ends input only at the start of a line: after a
 * partial line the first one just flushes it. */
static void
send_eof(VsbCtlConsole *con)
{
    struct termios tio;
    guint8 eof[2];

    if (tcgetattr(con->master, &tio) < 0)
        return;
    eof[0] = eof[1] = tio.c_cc[VEOF];
    queue_to_master(con, eof, con->last_in == '\n' || con->last_in == 0 ? 1 : 2);
}

static gboolean
in_readable(gint fd, GIOCondition cond, gpointer opaque)
{
    VsbCtlConsole *con = opaque;
    guint8 buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf));

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return G_SOURCE_CONTINUE;
    if (n <= 0) {
        con->in_watch = 0;
        if (con->client) {
            /* The client hung up: detach it, the container runs on. */
            detach_peer(con);
        } else if (!con->tty_raw) {
            send_eof(con);
        }
        return G_SOURCE_REMOVE;
    }
    con->last_in = buf[n - 1];
    queue_to_master(con, buf, n);
    return G_SOURCE_CONTINUE;
}

VsbCtlConsole *
vsb_ctl_console_new(int master)
{
    VsbCtlConsole *con = g_new0(VsbCtlConsole, 1);

    con->master = master;
    g_unix_set_fd_nonblocking(master, TRUE, NULL);
    con->to_master = g_byte_array_new();
    con->backlog = g_byte_array_new();
    con->to_out = g_byte_array_new();
    con->in_fd = con->out_fd = con->tty_fd = -1;
    con->master_in_watch = g_unix_fd_add(master, G_IO_IN | G_IO_HUP | G_IO_ERR,
                                         master_readable, con);
    return con;
}

void
vsb_ctl_console_sync_winsize(VsbCtlConsole *con, int tty_fd)
{
    struct winsize ws;

    if (ioctl(tty_fd, TIOCGWINSZ, &ws) == 0)
        ioctl(con->master, TIOCSWINSZ, &ws);
}

void
vsb_ctl_console_attach_stdio(VsbCtlConsole *con, int in_fd, int out_fd)
{
    con->out_fd = out_fd;
    con->out_lossless = true;
    if (in_fd >= 0 && isatty(in_fd) && tcgetattr(in_fd, &con->tty_saved) == 0) {
        struct termios raw = con->tty_saved;
        cfmakeraw(&raw);
        if (tcsetattr(in_fd, TCSADRAIN, &raw) == 0) {
            con->tty_raw = true;
            con->tty_fd = in_fd;
        }
        vsb_ctl_console_sync_winsize(con, in_fd);
    }
    if (in_fd >= 0) {
        con->in_fd = in_fd;
        con->in_watch = g_unix_fd_add(in_fd, G_IO_IN | G_IO_HUP | G_IO_ERR, in_readable, con);
    }
}

bool
vsb_ctl_console_attach_client(VsbCtlConsole *con, int fd, bool force, GError **error)
{
    if (con->client && !force) {
        close(fd);
        g_set_error(error, VSB_ERROR, VSB_ERROR_EXISTS, "console busy");
        return false;
    }
    detach_peer(con);
    g_unix_set_fd_nonblocking(fd, TRUE, NULL);
    con->client = true;
    con->in_fd = con->out_fd = fd;
    con->out_lossless = false;
    send_out(con, con->backlog->data, con->backlog->len);
    con->in_watch = g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR, in_readable, con);
    return true;
}

void
vsb_ctl_console_drain(VsbCtlConsole *con)
{
    /* Called once every process of the container is gone: the pty
     * returns what is buffered, then EIO. */
    while (read_master(con, 64) == READ_MORE)
        ;
    if (con->client && con->to_out->len) {
        /* Best effort, without blocking on a client that does not read. */
        ssize_t n = write(con->out_fd, con->to_out->data, con->to_out->len);
        (void)n;
        g_byte_array_set_size(con->to_out, 0);
    }
}

void
vsb_ctl_console_flush(VsbCtlConsole *con)
{
    /* The end: nothing else to serve, so stdout may block now. */
    if (con->out_lossless && con->out_fd >= 0 && con->to_out->len)
        vsb_write_all(con->out_fd, con->to_out->data, con->to_out->len);
    g_byte_array_set_size(con->to_out, 0);
}

void
vsb_ctl_console_free(VsbCtlConsole *con)
{
    if (!con)
        return;
    if (con->tty_raw)
        tcsetattr(con->tty_fd, TCSADRAIN, &con->tty_saved);
    detach_peer(con);
    g_clear_handle_id(&con->master_in_watch, g_source_remove);
    g_clear_handle_id(&con->master_out_watch, g_source_remove);
    close(con->master);
    g_byte_array_unref(con->to_master);
    g_byte_array_unref(con->backlog);
    g_byte_array_unref(con->to_out);
    g_free(con);
}
