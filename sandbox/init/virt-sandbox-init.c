/*
 * virt-sandbox-init: PID 1 of a sandbox.
 *
 *   virt-sandbox-init [CONFIG]      (default VSB_INIT_GUEST_CONFIG)
 *
 * Statically linked plain C: it runs on any root, and in a KVM guest
 * straight from the initrd.  It reads its config (../vsb-init-config.h),
 * makes its end of the channel raw, says READY until the tool says
 * START (../vsb-stdio-proto.h), sets up mounts, attributes, included
 * files and network interfaces (vsb-init-net.c), then runs the program
 * as its child: never as PID 1 itself, since PID 1 ignores every
 * signal it has no handler for, even SIGKILL sent from inside.  It
 * relays the program's stdio, reaps every orphan, keeps the DHCP
 * leases (renewals are timers and sockets of the relay's poll, see
 * vsb-init-net.c; a lost lease is logged as a LOG frame), and when
 * the program is gone sends what is left of its output, then EXIT, waits a little
 * for EXIT_ACK and exits (or powers off) with the program's status: its
 * code, or 128+N for signal N.
 *
 * With --shell (START flag SHELL) it also runs an interactive /bin/sh
 * on a second pty alongside the program, relayed as SHELL_* frames; the
 * shell is hung up when the program ends, since the run ends then.
 *
 * Run outside a sandbox (tests) it works the same, as a subreaper.
 */
#include <config.h>

#include "vsb-init.h"
#include "vsb-init-config.h"
#include "vsb-stdio-proto.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* How long READY is repeated without an answer before init gives up:
 * the tool died between starting the domain and attaching. */
#define START_DEADLINE_MS 60000
#define READY_BACKOFF_MAX_MS 1000
/* After EXIT: time for the tool to take the last frames. */
#define ACK_TIMEOUT_MS 5000
/* Stop reading a producer while this much waits for its consumer. */
#define QUEUE_HIGH (256 * 1024)

typedef struct {
    uint8_t *data;
    size_t off;             /* data[off..len) is pending */
    size_t len;
    size_t cap;
} Buf;

typedef struct {
    int in;                 /* channel, read side */
    int out;                /* channel, write side */
    bool gone;              /* EOF or error: the tool is not there */
    Buf q;                  /* encoded frames for the tool */
} Channel;

typedef struct {
    pid_t pid;
    bool tty;
    int pty;                /* master when tty, else -1 */
    int in_fd;              /* where stdin goes (pipe or pty master) */
    int out_fd;             /* pipe; -1 with a pty (read the master) */
    int err_fd;
    Buf inq;                /* stdin not yet taken by the program */
    bool stdin_eof;         /* the tool said STDIN_EOF */
    bool stdin_done;        /* closed, or the EOF character typed */
    bool exited;
    int status;             /* wait status */
} Program;

/* The --shell shell. */
typedef struct {
    pid_t pid;              /* 0: none, or reaped */
    int pty;                /* master, -1 when closed */
    Buf inq;                /* SHELL_IN not yet taken by the pty */
} Shell;

static Channel chan = { .in = -1, .out = -1 };
static Shell shell = { .pty = -1 };
static VsbStdioDecoder decoder;
static bool debug_enabled;
static int sigfd = -1;

/* ------------------------------------------------------------------ */

static void
buf_reserve(Buf *b, size_t n)
{
    if (b->off && b->off == b->len)
        b->off = b->len = 0;
    if (b->len + n <= b->cap)
        return;
    if (b->off) {
        memmove(b->data, b->data + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (b->len + n <= b->cap)
            return;
    }
    b->cap = (b->len + n) * 2;
    if (!(b->data = realloc(b->data, b->cap)))
        abort();
}

static size_t
buf_pending(const Buf *b)
{
    return b->len - b->off;
}

static void
queue_frame(uint8_t type, const void *payload, size_t len)
{
    const uint8_t *p = payload;

    /* Data may be longer than a frame; split it. */
    do {
        size_t n = len > VSB_STDIO_MAX_PAYLOAD ? VSB_STDIO_MAX_PAYLOAD : len;
        buf_reserve(&chan.q, VSB_STDIO_FRAME_LEN(n));
        chan.q.len += vsb_stdio_encode(chan.q.data + chan.q.len, type, p, n);
        p += n;
        len -= n;
    } while (len > 0);
}

static void __attribute__((format(printf, 1, 2)))
init_log(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof(msg) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof(msg) - 2)
        n = sizeof(msg) - 2;
    msg[n++] = '\n';
    queue_frame(VSB_STDIO_LOG, msg, n);
}

#define DEBUG(...) do { if (debug_enabled) init_log(__VA_ARGS__); } while (0)

static void
set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl >= 0)
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Write what the channel takes now. */
static void
chan_flush(void)
{
    while (!chan.gone && buf_pending(&chan.q)) {
        ssize_t n = write(chan.out, chan.q.data + chan.q.off, buf_pending(&chan.q));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            chan.gone = true;
            return;
        }
        chan.q.off += n;
    }
}

/* Read what the channel has now into the decoder. */
static void
chan_read(void)
{
    size_t room;
    uint8_t *space = vsb_stdio_decoder_space(&decoder, &room);
    ssize_t n;

    do {
        n = read(chan.in, space, room);
    } while (n < 0 && errno == EINTR);
    if (n > 0)
        vsb_stdio_decoder_commit(&decoder, n);
    else if (n == 0 || errno != EAGAIN)
        chan.gone = true;
}

static void
chan_open(const VsbInitConfig *cfg)
{
    struct termios tio;

    if (cfg && cfg->channel) {
        int fd = open(cfg->channel, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (fd < 0) {
            /* Nothing else to tell it through: the console log. */
            fprintf(stderr, "virt-sandbox-init: cannot open %s: %s\n", cfg->channel,
                    strerror(errno));
            exit(VSB_STDIO_EXIT_SETUP_FAILED);
        }
        chan.in = chan.out = fd;
    } else {
        chan.in = STDIN_FILENO;
        chan.out = STDOUT_FILENO;
    }
    /* A console pty would echo, translate \r and \n, and act on ^C,
     * ^S, ^D: nothing may touch the frames. */
    if (isatty(chan.in) && tcgetattr(chan.in, &tio) == 0) {
        cfmakeraw(&tio);
        tcsetattr(chan.in, TCSANOW, &tio);
    }
    set_nonblock(chan.in);
    set_nonblock(chan.out);
    vsb_stdio_decoder_init(&decoder);
}

/* ------------------------------------------------------------------ */

static bool pump_output(int fd, uint8_t type);

static void
shell_close_pty(void)
{
    if (shell.pty >= 0)
        close(shell.pty);
    shell.pty = -1;
    shell.inq.off = shell.inq.len;
}

/* The shell ended: send what it left on its terminal, then SHELL_EXIT. */
static void
shell_reaped(int status)
{
    VsbStdioExit e = { .how = VSB_STDIO_EXITED, .value = WEXITSTATUS(status) };
    uint8_t frame[VSB_STDIO_FRAME_LEN(8)];
    size_t n;

    if (WIFSIGNALED(status)) {
        e.how = VSB_STDIO_SIGNALED;
        e.value = WTERMSIG(status);
    }
    if (shell.pty >= 0)
        pump_output(shell.pty, VSB_STDIO_SHELL_OUT);
    shell_close_pty();
    shell.pid = 0;
    n = vsb_stdio_encode_shell_exit(frame, &e);
    buf_reserve(&chan.q, n);
    memcpy(chan.q.data + chan.q.len, frame, n);
    chan.q.len += n;
}

static void
setup_signals(void)
{
    sigset_t set;
    struct sigaction sa = { .sa_handler = SIG_IGN };

    /* A program that closed its stdin must not kill init. */
    sigaction(SIGPIPE, &sa, NULL);
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGQUIT);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sigfd < 0) {
        fprintf(stderr, "virt-sandbox-init: signalfd: %s\n", strerror(errno));
        exit(VSB_STDIO_EXIT_SETUP_FAILED);
    }
    if (getpid() != 1)
        prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

/* Reap everything; note the program's end.  Returns a signal to
 * forward (0 for none) when one other than SIGCHLD came. */
static int
handle_signals(Program *prog)
{
    struct signalfd_siginfo si;
    int forward = 0;

    while (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo != SIGCHLD)
            forward = si.ssi_signo;
    }
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            break;
        if (prog && pid == prog->pid) {
            prog->exited = true;
            prog->status = status;
        }
        if (shell.pid && pid == shell.pid)
            shell_reaped(status);
    }
    return forward;
}

/* Say READY until START comes; false if the tool never does. */
static bool
wait_start(VsbStdioStart *start)
{
    VsbStdioReady ready = { .version = VSB_STDIO_VERSION, .flags = 0 };
    uint8_t frame[VSB_STDIO_FRAME_LEN(8)];
    int64_t deadline = vsb_init_now_ms() + START_DEADLINE_MS;
    int backoff = 50;
    int64_t next_ready = 0;

    for (;;) {
        struct pollfd pfd[2] = {
            { .fd = chan.in, .events = POLLIN },
            { .fd = sigfd, .events = POLLIN },
        };
        int64_t now = vsb_init_now_ms();
        VsbStdioMsg msg;
        int sig;

        if (now >= deadline) {
            fprintf(stderr, "virt-sandbox-init: nobody answered READY in %d s\n",
                    START_DEADLINE_MS / 1000);
            return false;
        }
        if (now >= next_ready) {
            /* A client attaching late still sees one. */
            size_t n = vsb_stdio_encode_ready(frame, &ready);
            buf_reserve(&chan.q, n);
            memcpy(chan.q.data + chan.q.len, frame, n);
            chan.q.len += n;
            next_ready = now + backoff;
            backoff = backoff * 2 > READY_BACKOFF_MAX_MS ? READY_BACKOFF_MAX_MS : backoff * 2;
        }
        chan_flush();
        if (buf_pending(&chan.q))
            pfd[0].events |= POLLOUT;
        if (poll(pfd, 2, (int)(next_ready - now)) < 0 && errno != EINTR)
            return false;
        if ((sig = handle_signals(NULL)) != 0)
            exit(128 + sig);
        if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
            chan_read();
        while (vsb_stdio_decoder_next(&decoder, &msg)) {
            if (vsb_stdio_parse_start(&msg, start))
                return true;
        }
        if (chan.gone)
            return false;
    }
}

/* ------------------------------------------------------------------ */
/* The program                                                         */

typedef struct {
    int err;
    char what[96];
} ChildFailure;

static void
child_fail(int fd, int err, const char *what)
{
    ChildFailure f = { .err = err };

    snprintf(f.what, sizeof(f.what), "%s", what);
    if (write(fd, &f, sizeof(f)) < 0) {
        /* nothing left to tell it with */
    }
}

static bool
spawn(const VsbInitConfig *cfg, const VsbStdioStart *start, Program *prog, int *code)
{
    int errpipe[2], in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
    int slave = -1;
    char **env;
    ChildFailure f;
    ssize_t n;

    memset(prog, 0, sizeof(*prog));
    prog->pty = prog->in_fd = prog->out_fd = prog->err_fd = -1;
    prog->tty = start->flags & VSB_STDIO_START_TTY;
    *code = VSB_STDIO_EXIT_SETUP_FAILED;

    if (pipe2(errpipe, O_CLOEXEC) < 0) {
        init_log("virt-sandbox-init: pipe: %s", strerror(errno));
        return false;
    }
    if (prog->tty) {
        char name[128];
        struct winsize ws = { .ws_row = start->rows, .ws_col = start->cols };
        prog->pty = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (prog->pty < 0 || grantpt(prog->pty) < 0 || unlockpt(prog->pty) < 0 ||
            ptsname_r(prog->pty, name, sizeof(name)) != 0 ||
            (slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
            init_log("virt-sandbox-init: cannot make a terminal for the program: %s",
                     strerror(errno));
            return false;
        }
        if (ws.ws_row && ws.ws_col)
            ioctl(prog->pty, TIOCSWINSZ, &ws);
        prog->in_fd = prog->pty;
    } else if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
               pipe2(err, O_CLOEXEC) < 0) {
        init_log("virt-sandbox-init: pipe: %s", strerror(errno));
        return false;
    }
    env = vsb_init_build_env(cfg, prog->tty);

    prog->pid = fork();
    if (prog->pid < 0) {
        init_log("virt-sandbox-init: fork: %s", strerror(errno));
        return false;
    }
    if (prog->pid == 0) {
        sigset_t all;
        const char *what = NULL;
        int rc;
        struct sigaction dfl = { .sa_handler = SIG_DFL };

        sigaction(SIGPIPE, &dfl, NULL);
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        setsid();
        if (prog->tty) {
            if (ioctl(slave, TIOCSCTTY, 0) < 0) {
                child_fail(errpipe[1], errno, "take the terminal");
                _exit(VSB_STDIO_EXIT_SETUP_FAILED);
            }
            dup2(slave, 0);
            dup2(slave, 1);
            dup2(slave, 2);
        } else {
            dup2(in[0], 0);
            dup2(out[1], 1);
            dup2(err[1], 2);
        }
        if ((rc = vsb_init_drop_identity(cfg, &what))) {
            child_fail(errpipe[1], rc, what);
            _exit(VSB_STDIO_EXIT_SETUP_FAILED);
        }
        /* execvp() searches the PATH of environ, not of an envp. */
        environ = env;
        execvp(cfg->argv[0], cfg->argv);
        rc = errno;
        child_fail(errpipe[1], rc, "run");
        _exit(rc == ENOENT ? VSB_STDIO_EXIT_NOT_FOUND : VSB_STDIO_EXIT_CANNOT_EXEC);
    }

    close(errpipe[1]);
    if (prog->tty) {
        close(slave);
        set_nonblock(prog->pty);
    } else {
        close(in[0]);
        close(out[1]);
        close(err[1]);
        prog->in_fd = in[1];
        prog->out_fd = out[0];
        prog->err_fd = err[0];
        set_nonblock(prog->in_fd);
        set_nonblock(prog->out_fd);
        set_nonblock(prog->err_fd);
    }
    do {
        n = read(errpipe[0], &f, sizeof(f));
    } while (n < 0 && errno == EINTR);
    close(errpipe[0]);
    if (n == (ssize_t)sizeof(f)) {
        f.what[sizeof(f.what) - 1] = '\0';
        if (strcmp(f.what, "run") == 0) {
            init_log("virt-sandbox-init: cannot run %s: %s", cfg->argv[0], strerror(f.err));
            *code = f.err == ENOENT ? VSB_STDIO_EXIT_NOT_FOUND : VSB_STDIO_EXIT_CANNOT_EXEC;
        } else {
            init_log("virt-sandbox-init: cannot %s for %s: %s", f.what, cfg->argv[0],
                     strerror(f.err));
        }
        /* The child exits on its own; reaped with the rest. */
        return false;
    }
    DEBUG("virt-sandbox-init: started %s as pid %d%s", cfg->argv[0], (int)prog->pid,
          prog->tty ? " on a terminal" : "");
    return true;
}

/* --shell: an interactive /bin/sh on a pty of its own, as the program
 * would run (identity, environment, directory).  A failure is reported
 * (LOG, SHELL_EXIT 127) but does not stop the program. */
static void
spawn_shell(const VsbInitConfig *cfg)
{
    static const VsbStdioExit failed = { .how = VSB_STDIO_EXITED, .value = 127 };
    char name[128];
    int slave = -1;
    char **env;
    uint8_t frame[VSB_STDIO_FRAME_LEN(8)];
    size_t n;

    shell.pty = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (shell.pty < 0 || grantpt(shell.pty) < 0 || unlockpt(shell.pty) < 0 ||
        ptsname_r(shell.pty, name, sizeof(name)) != 0 ||
        (slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
        init_log("virt-sandbox-init: cannot make a terminal for the shell: %s", strerror(errno));
        goto fail;
    }
    env = vsb_init_build_env(cfg, true);
    shell.pid = fork();
    if (shell.pid < 0) {
        init_log("virt-sandbox-init: fork: %s", strerror(errno));
        shell.pid = 0;
        close(slave);
        goto fail;
    }
    if (shell.pid == 0) {
        sigset_t all;
        const char *what = NULL;
        int rc;
        struct sigaction dfl = { .sa_handler = SIG_DFL };

        sigaction(SIGPIPE, &dfl, NULL);
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        setsid();
        if (ioctl(slave, TIOCSCTTY, 0) < 0)
            _exit(VSB_STDIO_EXIT_SETUP_FAILED);
        dup2(slave, 0);
        dup2(slave, 1);
        dup2(slave, 2);
        if ((rc = vsb_init_drop_identity(cfg, &what))) {
            dprintf(2, "virt-sandbox-init: cannot %s for the shell: %s\r\n", what,
                    strerror(rc));
            _exit(VSB_STDIO_EXIT_SETUP_FAILED);
        }
        environ = env;
        execl("/bin/sh", "sh", "-i", (char *)NULL);
        rc = errno;
        dprintf(2, "virt-sandbox-init: cannot run /bin/sh: %s\r\n", strerror(rc));
        _exit(rc == ENOENT ? VSB_STDIO_EXIT_NOT_FOUND : VSB_STDIO_EXIT_CANNOT_EXEC);
    }
    close(slave);
    set_nonblock(shell.pty);
    DEBUG("virt-sandbox-init: started the shell as pid %d", (int)shell.pid);
    return;

fail:
    shell_close_pty();
    n = vsb_stdio_encode_shell_exit(frame, &failed);
    buf_reserve(&chan.q, n);
    memcpy(chan.q.data + chan.q.len, frame, n);
    chan.q.len += n;
}

/* Hand the shell's queued input to its terminal. */
static void
pump_shell_in(void)
{
    while (shell.pty >= 0 && buf_pending(&shell.inq)) {
        ssize_t n = write(shell.pty, shell.inq.data + shell.inq.off, buf_pending(&shell.inq));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0) {
            shell.inq.off = shell.inq.len;
            return;
        }
        shell.inq.off += n;
    }
}

/* The run ends with the program: hang the shell (and what it started
 * in its session) up. */
static void
end_shell(void)
{
    if (shell.pid) {
        kill(-shell.pid, SIGKILL);
        kill(shell.pid, SIGKILL);
    }
    shell_close_pty();
}

/* Read what @fd has now into @type frames.  Returns false at EOF (a
 * pty master says EIO when the last slave is closed). */
static bool
pump_output(int fd, uint8_t type)
{
    uint8_t buf[VSB_STDIO_MAX_PAYLOAD];

    while (buf_pending(&chan.q) < QUEUE_HIGH) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return true;
        if (n <= 0)
            return false;
        queue_frame(type, buf, n);
    }
    return true;
}

static void
pump_stdin(Program *prog)
{
    while (!prog->stdin_done && buf_pending(&prog->inq)) {
        ssize_t n = write(prog->in_fd, prog->inq.data + prog->inq.off, buf_pending(&prog->inq));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0) {
            /* The program closed its stdin: the rest has no taker. */
            prog->inq.off = prog->inq.len;
            prog->stdin_done = true;
            if (!prog->tty) {
                close(prog->in_fd);
                prog->in_fd = -1;
            }
            return;
        }
        prog->inq.off += n;
    }
    if (prog->stdin_eof && !prog->stdin_done && !buf_pending(&prog->inq)) {
        prog->stdin_done = true;
        if (prog->tty) {
            struct termios tio;
            char eof = 4;
            if (tcgetattr(prog->pty, &tio) == 0)
                eof = tio.c_cc[VEOF];
            if (write(prog->pty, &eof, 1) < 0)
                DEBUG("virt-sandbox-init: cannot type EOF: %s", strerror(errno));
        } else {
            close(prog->in_fd);
            prog->in_fd = -1;
        }
    }
}

static void
handle_frames(Program *prog)
{
    VsbStdioMsg msg;

    while (vsb_stdio_decoder_next(&decoder, &msg)) {
        VsbStdioWinsize ws;

        switch (msg.type) {
        case VSB_STDIO_STDIN:
            if (!prog->stdin_done && !prog->stdin_eof) {
                buf_reserve(&prog->inq, msg.len);
                memcpy(prog->inq.data + prog->inq.len, msg.payload, msg.len);
                prog->inq.len += msg.len;
            }
            break;
        case VSB_STDIO_STDIN_EOF:
            prog->stdin_eof = true;
            break;
        case VSB_STDIO_SHELL_IN:
            if (shell.pty >= 0) {
                buf_reserve(&shell.inq, msg.len);
                memcpy(shell.inq.data + shell.inq.len, msg.payload, msg.len);
                shell.inq.len += msg.len;
            }
            break;
        case VSB_STDIO_SHELL_WINSIZE:
            if (shell.pty >= 0 && vsb_stdio_parse_winsize(&msg, &ws)) {
                struct winsize w = { .ws_row = ws.rows, .ws_col = ws.cols };
                ioctl(shell.pty, TIOCSWINSZ, &w);
            }
            break;
        case VSB_STDIO_WINSIZE:
            if (prog->tty && vsb_stdio_parse_winsize(&msg, &ws)) {
                struct winsize w = { .ws_row = ws.rows, .ws_col = ws.cols };
                /* The kernel sends SIGWINCH to the foreground group. */
                ioctl(prog->pty, TIOCSWINSZ, &w);
            }
            break;
        default:
            /* START again, KEEPALIVE, EXIT_ACK early, unknown: nothing to do. */
            break;
        }
    }
}

/* The leases' reports, as LOG frames. */
static void
lease_log(bool debug, const char *msg, void *opaque)
{
    if (!debug || debug_enabled)
        init_log("virt-sandbox-init: %s", msg);
}

/* The relay's own descriptors, at most. */
#define RELAY_FDS 7

static void
relay(Program *prog, VsbInitLeases *leases)
{
    bool out_open = true, err_open = !prog->tty;
    struct pollfd *pfd = calloc(RELAY_FDS + vsb_init_leases_nfds(leases), sizeof(*pfd));

    if (!pfd)
        abort();
    /* Frames that came with START are decoded already. */
    handle_frames(prog);
    pump_stdin(prog);
    while (!prog->exited) {
        int npfd = 0, ichan = -1, iin = -1, iout = -1, ierr = -1, ish = -1, ilease, sig;

        pfd[npfd] = (struct pollfd){ .fd = sigfd, .events = POLLIN };
        npfd++;
        if (!chan.gone) {
            ichan = npfd;
            pfd[npfd] = (struct pollfd){ .fd = chan.in, .events = 0 };
            if (buf_pending(&prog->inq) < QUEUE_HIGH)
                pfd[npfd].events |= POLLIN;
            if (buf_pending(&chan.q))
                pfd[npfd].events |= POLLOUT;
            npfd++;
        }
        if (!prog->stdin_done && (buf_pending(&prog->inq) || prog->stdin_eof)) {
            iin = npfd;
            pfd[npfd++] = (struct pollfd){ .fd = prog->in_fd, .events = POLLOUT };
        }
        if (buf_pending(&chan.q) < QUEUE_HIGH || chan.gone) {
            if (out_open) {
                iout = npfd;
                pfd[npfd++] = (struct pollfd){ .fd = prog->tty ? prog->pty : prog->out_fd,
                                               .events = POLLIN };
            }
            if (err_open) {
                ierr = npfd;
                pfd[npfd++] = (struct pollfd){ .fd = prog->err_fd, .events = POLLIN };
            }
        }
        if (shell.pty >= 0) {
            short ev = buf_pending(&shell.inq) ? POLLOUT : 0;
            if (buf_pending(&chan.q) < QUEUE_HIGH)
                ev |= POLLIN;
            if (ev) {
                ish = npfd;
                pfd[npfd++] = (struct pollfd){ .fd = shell.pty, .events = ev };
            }
        }
        /* chan.in and chan.out may differ: watch the writer too. */
        if (!chan.gone && chan.out != chan.in && buf_pending(&chan.q))
            pfd[npfd++] = (struct pollfd){ .fd = chan.out, .events = POLLOUT };
        ilease = npfd;
        vsb_init_leases_pollfds(leases, pfd + ilease);
        npfd += vsb_init_leases_nfds(leases);

        if (poll(pfd, npfd, vsb_init_leases_timeout(leases)) < 0 && errno != EINTR)
            break;
        vsb_init_leases_run(leases, pfd + ilease, lease_log, NULL);
        if ((sig = handle_signals(prog)) != 0 && !prog->exited) {
            DEBUG("virt-sandbox-init: passing signal %d to the program", sig);
            kill(prog->pid, sig);
        }
        if (ichan >= 0 && (pfd[ichan].revents & (POLLIN | POLLHUP | POLLERR)))
            chan_read();
        handle_frames(prog);
        if (iin >= 0 || buf_pending(&prog->inq) || prog->stdin_eof)
            pump_stdin(prog);
        if (iout >= 0 && pfd[iout].revents)
            out_open = pump_output(prog->tty ? prog->pty : prog->out_fd, VSB_STDIO_STDOUT);
        if (ierr >= 0 && pfd[ierr].revents)
            err_open = pump_output(prog->err_fd, VSB_STDIO_STDERR);
        pump_shell_in();
        /* EIO once the shell and all it started closed the terminal;
         * SHELL_EXIT follows when the shell is reaped. */
        if (ish >= 0 && (pfd[ish].revents & (POLLIN | POLLHUP | POLLERR)) &&
            !pump_output(shell.pty, VSB_STDIO_SHELL_OUT))
            shell_close_pty();
        if (chan.gone) {
            /* Nobody to report to: end the program, drop its output. */
            chan.q.off = chan.q.len;
            kill(prog->pid, SIGKILL);
        }
        chan_flush();
    }
    /* What the program wrote before it died is still in the pipes. */
    if (out_open)
        pump_output(prog->tty ? prog->pty : prog->out_fd, VSB_STDIO_STDOUT);
    if (err_open)
        pump_output(prog->err_fd, VSB_STDIO_STDERR);
    end_shell();
    free(pfd);
}

/* Send the rest and EXIT, then wait (bounded) for EXIT_ACK. */
static void
finish(int how, int value)
{
    VsbStdioExit e = { .how = how, .value = value };
    uint8_t frame[VSB_STDIO_FRAME_LEN(8)];
    size_t n = vsb_stdio_encode_exit(frame, &e);
    int64_t deadline = vsb_init_now_ms() + ACK_TIMEOUT_MS;

    buf_reserve(&chan.q, n);
    memcpy(chan.q.data + chan.q.len, frame, n);
    chan.q.len += n;
    while (!chan.gone) {
        struct pollfd pfd = { .fd = chan.in, .events = POLLIN };
        int64_t left = deadline - vsb_init_now_ms();
        VsbStdioMsg msg;

        chan_flush();
        if (left <= 0)
            break;
        if (buf_pending(&chan.q))
            pfd.events |= POLLOUT;
        if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
            break;
        handle_signals(NULL);
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
            chan_read();
        while (vsb_stdio_decoder_next(&decoder, &msg))
            if (msg.type == VSB_STDIO_EXIT_ACK)
                return;
    }
}

static void __attribute__((noreturn))
end(const VsbInitConfig *cfg, int code)
{
    if (cfg && cfg->poweroff) {
        sync();
        reboot(RB_POWER_OFF);
    }
    exit(code);
}

int
main(int argc, char **argv)
{
    static VsbInitConfig cfg;
    const char *path = argc > 1 ? argv[1] : VSB_INIT_GUEST_CONFIG;
    char err[1024] = "";
    bool cfg_ok;
    VsbStdioStart start;
    Program prog;
    VsbInitLeases *leases = NULL;
    int code;

    if (argc > 2 || (argc == 2 && argv[1][0] != '/')) {
        fprintf(stderr, "usage: virt-sandbox-init [/path/to/config]\n");
        return VSB_STDIO_EXIT_SETUP_FAILED;
    }
    vsb_init_vm_setup();
    setup_signals();
    cfg_ok = vsb_init_config_load(path, &cfg, err, sizeof(err));
    debug_enabled = cfg_ok && cfg.debug;
    umask(022);
    if (cfg_ok && cfg.service)
        vsb_init_run_service(&cfg, sigfd);
    chan_open(cfg_ok ? &cfg : NULL);

    if (!wait_start(&start))
        end(cfg_ok ? &cfg : NULL, VSB_STDIO_EXIT_SETUP_FAILED);
    DEBUG("virt-sandbox-init: START (tty %s, %ux%u)",
          start.flags & VSB_STDIO_START_TTY ? "yes" : "no", start.cols, start.rows);

    if (!cfg_ok || !vsb_init_do_mounts(&cfg, err, sizeof(err)) ||
        !vsb_init_do_setattrs(&cfg, err, sizeof(err)) ||
        !vsb_init_do_includes(&cfg, err, sizeof(err)) ||
        !vsb_init_do_network(&cfg, &leases, err, sizeof(err))) {
        init_log("virt-sandbox-init: %s", err);
        finish(VSB_STDIO_EXITED, VSB_STDIO_EXIT_SETUP_FAILED);
        end(cfg_ok ? &cfg : NULL, VSB_STDIO_EXIT_SETUP_FAILED);
    }
    if (!spawn(&cfg, &start, &prog, &code)) {
        finish(VSB_STDIO_EXITED, code);
        end(&cfg, code);
    }
    if (start.flags & VSB_STDIO_START_SHELL)
        spawn_shell(&cfg);
    relay(&prog, leases);
    if (!prog.exited) {
        /* relay() stopped on a poll failure: make sure it ends. */
        kill(prog.pid, SIGKILL);
        while (!prog.exited && waitpid(prog.pid, &prog.status, 0) == prog.pid)
            prog.exited = true;
    }
    if (WIFSIGNALED(prog.status)) {
        DEBUG("virt-sandbox-init: %s killed by signal %d", cfg.argv[0], WTERMSIG(prog.status));
        finish(VSB_STDIO_SIGNALED, WTERMSIG(prog.status));
        end(&cfg, 128 + WTERMSIG(prog.status));
    }
    DEBUG("virt-sandbox-init: %s exited with %d", cfg.argv[0], WEXITSTATUS(prog.status));
    finish(VSB_STDIO_EXITED, WEXITSTATUS(prog.status));
    end(&cfg, WEXITSTATUS(prog.status));
}
