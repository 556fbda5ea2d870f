/*
 * vsb-rpc-server.c: listening sockets and client connections of
 * virt-sandboxd (see the header for the contract).
 */
#include <config.h>

#include "vsb-rpc-server.h"
#include "vsb-util.h"

#include <errno.h>
#include <glib-unix.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Messages read from one client per wakeup, so that a busy client
 * cannot starve the others. */
#define VSB_RPC_READS_PER_WAKEUP 64
/* Connections accepted per wakeup of a listener. */
#define VSB_RPC_ACCEPTS_PER_WAKEUP 64

typedef struct {
    VsbRpcServer *srv;
    char *path;
    int fd;
    bool readonly;
    guint watch;
    guint retry;        /* timer re-enabling accept() after EMFILE */
    bool inherited;     /* passed in (socket activation): its file is not ours */
    dev_t dev;          /* the socket file we made, to remove only it */
    ino_t ino;
} VsbRpcListener;

typedef struct {
    GSource base;
    VsbRpcClient *client;
    gpointer tag;
} VsbRpcClientSource;

struct _VsbRpcClient {
    VsbRpcServer *srv;
    int refs;
    int fd;
    guint id;
    bool readonly;
    bool closed;        /* no more I/O; teardown pending */
    bool torn_down;
    int busy;           /* inside a hook: teardown waits */
    pid_t pid;
    uid_t uid;
    char *name;
    gpointer data;
    GList *link;        /* in srv->clients */

    GSource *source;
    VsbRpcClientSource *csource;
    GIOCondition events;

    guint8 lenbuf[VSB_RPC_LEN_WORD];
    gsize lendone;
    VsbRpcMessage *rx;
    bool rx_header_done;

    GQueue tx;
    gsize queued;
    bool was_high;      /* the queue went above the low-water mark */
    guint drained_idle;

    bool keepalive;
    gint64 last_rx;
    gint64 last_ping;
    guint pings;
};

struct _VsbRpcServer {
    VsbRpcServerConfig cfg;
    VsbRpcServerHooks hooks;
    gpointer opaque;
    GPtrArray *listeners;
    GQueue clients;
    guint next_id;
    guint keepalive_timer;
    GQueue closing;     /* clients waiting for teardown */
    guint closing_idle;
};

static void client_update_events(VsbRpcClient *c);
static void client_schedule_teardown(VsbRpcClient *c);

static void G_GNUC_PRINTF(3, 4)
server_log(VsbRpcServer *srv, GLogLevelFlags level, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    if (!srv->hooks.log)
        return;
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    srv->hooks.log(level, msg, srv->opaque);
}

/* ------------------------------------------------------------------ */
/* Clients: lifetime                                                   */
/* ------------------------------------------------------------------ */

static void
client_unref(VsbRpcClient *c)
{
    if (--c->refs > 0)
        return;
    g_free(c->name);
    g_free(c);
}

static void
client_teardown(VsbRpcClient *c)
{
    VsbRpcServer *srv = c->srv;
    VsbRpcMessage *msg;

    if (c->torn_down)
        return;
    c->torn_down = true;
    if (c->drained_idle) {
        g_source_remove(c->drained_idle);
        c->drained_idle = 0;
    }
    if (srv->hooks.client_close)
        srv->hooks.client_close(c, c->data, srv->opaque);
    c->data = NULL;
    if (c->source) {
        g_source_destroy(c->source);
        g_source_unref(c->source);
        c->source = NULL;
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    vsb_rpc_message_free(c->rx);
    c->rx = NULL;
    while ((msg = g_queue_pop_head(&c->tx)))
        vsb_rpc_message_free(msg);
    c->queued = 0;
    g_queue_delete_link(&srv->clients, c->link);
    c->link = NULL;
    client_unref(c);
}

static gboolean
closing_idle_cb(gpointer opaque)
{
    VsbRpcServer *srv = opaque;
    GQueue later = G_QUEUE_INIT;
    VsbRpcClient *c;

    srv->closing_idle = 0;
    while ((c = g_queue_pop_head(&srv->closing))) {
        /* A client in the middle of a hook (a nested main loop in the
         * driver) keeps its data until the hook returns. */
        if (c->busy > 0) {
            g_queue_push_tail(&later, c);
            continue;
        }
        client_teardown(c);
        client_unref(c);
    }
    while ((c = g_queue_pop_head(&later)))
        g_queue_push_tail(&srv->closing, c);
    return G_SOURCE_REMOVE;
}

static void
client_schedule_teardown(VsbRpcClient *c)
{
    VsbRpcServer *srv = c->srv;

    if (c->busy > 0)
        return;        /* done when the hook returns */
    if (!g_queue_find(&srv->closing, c)) {
        c->refs++;
        g_queue_push_tail(&srv->closing, c);
    }
    if (!srv->closing_idle)
        srv->closing_idle = g_idle_add(closing_idle_cb, srv);
}

void
vsb_rpc_client_close(VsbRpcClient *c, const char *reason)
{
    if (c->closed)
        return;
    c->closed = true;
    if (reason)
        server_log(c->srv, G_LOG_LEVEL_INFO, "%s: dropped: %s", c->name, reason);
    /* Stop all I/O at once; the hook runs later from the main loop. */
    if (c->source) {
        g_source_destroy(c->source);
        g_source_unref(c->source);
        c->source = NULL;
    }
    if (c->fd >= 0)
        shutdown(c->fd, SHUT_RDWR);
    client_schedule_teardown(c);
}

bool
vsb_rpc_client_is_closed(VsbRpcClient *c)
{
    return c->closed;
}

bool
vsb_rpc_client_is_readonly(VsbRpcClient *c)
{
    return c->readonly;
}

pid_t
vsb_rpc_client_get_pid(VsbRpcClient *c)
{
    return c->pid;
}

uid_t
vsb_rpc_client_get_uid(VsbRpcClient *c)
{
    return c->uid;
}

const char *
vsb_rpc_client_get_name(VsbRpcClient *c)
{
    return c->name;
}

static void
client_hook_enter(VsbRpcClient *c)
{
    c->busy++;
}

static void
client_hook_leave(VsbRpcClient *c)
{
    if (--c->busy == 0 && c->closed)
        client_schedule_teardown(c);
}

/* ------------------------------------------------------------------ */
/* Clients: output                                                     */
/* ------------------------------------------------------------------ */

/* One fd in its own sendmsg with one data byte, as libvirt's peers
 * expect.  Returns 1 when sent, 0 on EAGAIN, -1 on error. */
static int
send_fd(int sock, int fd)
{
    char byte = 0;
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
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
    for (;;) {
        ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n == 1)
            return 1;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        return -1;
    }
}

/* Write as much of the queue as the socket takes. */
static void
client_flush(VsbRpcClient *c)
{
    VsbRpcMessage *msg;

    while (!c->closed && (msg = g_queue_peek_head(&c->tx))) {
        while (msg->done < msg->len) {
            ssize_t n = send(c->fd, msg->data + msg->done, msg->len - msg->done,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0) {
                int errsv = errno;
                g_autofree char *why = NULL;

                if (errsv == EINTR)
                    continue;
                if (errsv == EAGAIN || errsv == EWOULDBLOCK)
                    return;
                /* a peer that went away is no news */
                if (errsv != EPIPE && errsv != ECONNRESET)
                    why = g_strdup_printf("write failed: %s", g_strerror(errsv));
                vsb_rpc_client_close(c, why);
                return;
            }
            msg->done += n;
            c->queued -= n;
        }
        while (msg->nfds_done < msg->nfds) {
            int r = send_fd(c->fd, msg->fds[msg->nfds_done]);

            if (r == 0)
                return;
            if (r < 0) {
                int errsv = errno;
                g_autofree char *why = g_strdup_printf("passing a file descriptor failed: %s",
                                                       g_strerror(errsv));
                vsb_rpc_client_close(c, why);
                return;
            }
            close(msg->fds[msg->nfds_done]);
            msg->fds[msg->nfds_done] = -1;
            msg->nfds_done++;
        }
        g_queue_pop_head(&c->tx);
        vsb_rpc_message_free(msg);
    }
}

static gboolean
drained_idle_cb(gpointer opaque)
{
    VsbRpcClient *c = opaque;
    VsbRpcServer *srv = c->srv;

    c->drained_idle = 0;
    if (c->closed || !c->was_high || !vsb_rpc_client_queue_is_low(c))
        return G_SOURCE_REMOVE;
    c->was_high = false;
    if (srv->hooks.client_drained) {
        client_hook_enter(c);
        srv->hooks.client_drained(c, c->data, srv->opaque);
        client_hook_leave(c);
    }
    return G_SOURCE_REMOVE;
}

void
vsb_rpc_client_send(VsbRpcClient *c, VsbRpcMessage *msg)
{
    gsize max = c->srv->cfg.max_queue;

    if (c->closed) {
        vsb_rpc_message_free(msg);
        return;
    }
    msg->done = 0;
    msg->nfds_done = 0;
    g_queue_push_tail(&c->tx, msg);
    c->queued += msg->len;
    if (c->queued > max) {
        g_autofree char *why = g_strdup_printf("more than %zu bytes queued: the client does not read",
                                               (size_t)max);
        vsb_rpc_client_close(c, why);
        return;
    }
    if (!vsb_rpc_client_queue_is_low(c))
        c->was_high = true;
    client_flush(c);
    client_update_events(c);
}

gsize
vsb_rpc_client_get_queued(VsbRpcClient *c)
{
    return c->queued;
}

bool
vsb_rpc_client_queue_is_low(VsbRpcClient *c)
{
    return c->queued < VSB_RPC_QUEUE_LOW;
}

static void
client_update_events(VsbRpcClient *c)
{
    GIOCondition want = G_IO_IN;

    if (c->closed || !c->source)
        return;
    if (!g_queue_is_empty(&c->tx))
        want |= G_IO_OUT;
    if (want != c->events) {
        g_source_modify_unix_fd(c->source, c->csource->tag, want);
        c->events = want;
    }
    /* The queue emptied outside the I/O callback (a synchronous
     * flush): tell the hooks from the main loop. */
    if (c->was_high && vsb_rpc_client_queue_is_low(c) && !c->drained_idle)
        c->drained_idle = g_idle_add(drained_idle_cb, c);
}

void
vsb_rpc_client_start_keepalive(VsbRpcClient *c)
{
    if (c->srv->cfg.keepalive_interval <= 0)
        return;
    c->keepalive = true;
    c->last_rx = g_get_monotonic_time();
    c->pings = 0;
}

static void
client_send_keepalive(VsbRpcClient *c, int proc)
{
    g_autoptr(GError) error = NULL;
    VsbRpcMessage *msg = vsb_rpc_message_new();

    msg->header.prog = VSB_RPC_PROGRAM_KEEPALIVE;
    msg->header.vers = VSB_RPC_PROGRAM_VERSION;
    msg->header.proc = proc;
    msg->header.type = VSB_RPC_TYPE_MESSAGE;
    msg->header.serial = 0;
    msg->header.status = VSB_RPC_STATUS_OK;
    if (!vsb_rpc_message_encode(msg, NULL, NULL, &error)) {
        vsb_rpc_message_free(msg);
        return;
    }
    vsb_rpc_client_send(c, msg);
}

static gboolean
keepalive_tick(gpointer opaque)
{
    VsbRpcServer *srv = opaque;
    gint64 now = g_get_monotonic_time();
    gint64 interval = (gint64)srv->cfg.keepalive_interval * G_USEC_PER_SEC;

    for (GList *l = srv->clients.head; l; l = l->next) {
        VsbRpcClient *c = l->data;

        if (!c->keepalive || c->closed)
            continue;
        if (now - c->last_rx < interval || now - c->last_ping < interval)
            continue;
        if (c->pings >= srv->cfg.keepalive_count) {
            vsb_rpc_client_close(c, "no answer to keepalive");
            continue;
        }
        c->pings++;
        c->last_ping = now;
        client_send_keepalive(c, VSB_RPC_KEEPALIVE_PROC_PING);
    }
    return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------ */
/* Clients: input                                                      */
/* ------------------------------------------------------------------ */

static void
close_fds_in(struct msghdr *mh)
{
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
            gsize n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            int fd;

            for (gsize i = 0; i < n; i++) {
                memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
                close(fd);
            }
        }
    }
}

/* recvmsg() of up to @len bytes.  Only fd records carry fds: @fd_out
 * NULL means any fd received is a protocol violation (-2); otherwise
 * exactly one is expected.  Returns bytes read, 0 on EOF, -1 on EAGAIN,
 * -2 on error (errno set when it is a system error, 0 otherwise). */
static ssize_t
client_recv(VsbRpcClient *c, void *buf, gsize len, int *fd_out)
{
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    union {
        struct cmsghdr hdr;
        char buf[CMSG_SPACE(sizeof(int) * VSB_RPC_FDS_MAX)];
    } ctl;
    struct msghdr mh = { 0 };
    ssize_t n;

    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl.buf;
    mh.msg_controllen = sizeof(ctl.buf);
    do {
        n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? -1 : -2;
    if (mh.msg_controllen > 0) {
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        bool one = fd_out && cm && !CMSG_NXTHDR(&mh, cm) && cm->cmsg_level == SOL_SOCKET &&
                   cm->cmsg_type == SCM_RIGHTS && cm->cmsg_len == CMSG_LEN(sizeof(int)) &&
                   !(mh.msg_flags & MSG_CTRUNC);

        if (!one) {
            close_fds_in(&mh);
            errno = 0;
            return -2;
        }
        memcpy(fd_out, CMSG_DATA(cm), sizeof(int));
    } else if (mh.msg_flags & MSG_CTRUNC) {
        errno = 0;
        return -2;
    }
    return n;
}

static void
client_recv_failed(VsbRpcClient *c, ssize_t n, const char *what)
{
    g_autofree char *why = NULL;

    if (n == 0) {
        /* A peer going away between messages is the normal end. */
        if (c->rx || c->lendone)
            why = g_strdup_printf("end of file in the middle of %s", what);
    } else if (errno) {
        if (errno != ECONNRESET)
            why = g_strdup_printf("reading %s failed: %s", what, g_strerror(errno));
    } else {
        why = g_strdup_printf("unexpected file descriptors with %s", what);
    }
    vsb_rpc_client_close(c, why);
}

static void
client_handle_message(VsbRpcClient *c, VsbRpcMessage *msg)
{
    VsbRpcServer *srv = c->srv;

    c->last_rx = g_get_monotonic_time();
    c->pings = 0;
    if (msg->header.prog == VSB_RPC_PROGRAM_KEEPALIVE) {
        if (msg->header.proc == VSB_RPC_KEEPALIVE_PROC_PING)
            client_send_keepalive(c, VSB_RPC_KEEPALIVE_PROC_PONG);
        vsb_rpc_message_free(msg);
        return;
    }
    if (!srv->hooks.client_message) {
        vsb_rpc_message_free(msg);
        return;
    }
    client_hook_enter(c);
    srv->hooks.client_message(c, c->data, msg, srv->opaque);
    client_hook_leave(c);
}

/* Read up to one message; false when nothing more can be read now. */
static bool
client_read_one(VsbRpcClient *c)
{
    g_autoptr(GError) error = NULL;
    ssize_t n;

    if (!c->rx) {
        guint32 len;

        n = client_recv(c, c->lenbuf + c->lendone, sizeof(c->lenbuf) - c->lendone, NULL);
        if (n == -1)
            return false;
        if (n <= 0) {
            client_recv_failed(c, n, "a length word");
            return false;
        }
        c->lendone += n;
        if (c->lendone < sizeof(c->lenbuf))
            return true;
        len = vsb_rpc_read_u32(c->lenbuf);
        c->lendone = 0;
        if (!vsb_rpc_frame_length_check(len, &error)) {
            vsb_rpc_client_close(c, error->message);
            return false;
        }
        c->rx = vsb_rpc_message_new();
        c->rx_header_done = false;
        vsb_rpc_message_prepare_read(c->rx, len);
    }
    if (c->rx->done < c->rx->len) {
        gsize room;
        guint8 *p = vsb_rpc_message_read_buffer(c->rx, &room);

        n = client_recv(c, p, room, NULL);
        if (n == -1)
            return false;
        if (n <= 0) {
            client_recv_failed(c, n, "a message");
            return false;
        }
        c->rx->done += n;
        if (c->rx->done < c->rx->len)
            return true;
    }
    if (!c->rx_header_done) {
        if (!vsb_rpc_message_decode_header(c->rx, &error)) {
            vsb_rpc_client_close(c, error->message);
            return false;
        }
        c->rx_header_done = true;
    }
    /* The fds of CALL_WITH_FDS follow the frame, one per data byte. */
    while (c->rx->nfds_done < c->rx->nfds) {
        guint8 byte;
        int fd = -1;

        n = client_recv(c, &byte, 1, &fd);
        if (n == -1)
            return false;
        if (n <= 0) {
            client_recv_failed(c, n, "a file descriptor");
            return false;
        }
        if (fd < 0) {
            vsb_rpc_client_close(c, "a file descriptor record without a file descriptor");
            return false;
        }
        c->rx->fds[c->rx->nfds_done++] = fd;
    }
    client_handle_message(c, g_steal_pointer(&c->rx));
    return true;
}

static void
client_io(VsbRpcClient *c, GIOCondition revents)
{
    c->refs++;
    if (revents & G_IO_OUT)
        client_flush(c);
    if (revents & (G_IO_IN | G_IO_HUP | G_IO_ERR)) {
        /* Read even on HUP: the peer may have sent its last calls. */
        for (int i = 0; i < VSB_RPC_READS_PER_WAKEUP && !c->closed; i++) {
            if (!client_read_one(c))
                break;
        }
    }
    if (!c->closed && (revents & G_IO_NVAL))
        vsb_rpc_client_close(c, "socket invalid");
    client_update_events(c);
    if (!c->closed && c->was_high && vsb_rpc_client_queue_is_low(c) && !c->drained_idle)
        c->drained_idle = g_idle_add(drained_idle_cb, c);
    client_unref(c);
}

static gboolean
client_source_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
    VsbRpcClientSource *cs = (VsbRpcClientSource *)source;

    client_io(cs->client, g_source_query_unix_fd(source, cs->tag));
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs client_source_funcs = {
    .dispatch = client_source_dispatch,
};

static void
server_add_client(VsbRpcServer *srv, int fd, bool readonly)
{
    VsbRpcClient *c = g_new0(VsbRpcClient, 1);
    struct ucred cred;
    socklen_t clen = sizeof(cred);

    c->srv = srv;
    c->refs = 1;
    c->fd = fd;
    c->id = ++srv->next_id;
    c->readonly = readonly;
    c->pid = -1;
    c->uid = (uid_t)-1;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0) {
        c->pid = cred.pid;
        c->uid = cred.uid;
    }
    c->name = g_strdup_printf("client %u (pid %d)", c->id, (int)c->pid);
    g_queue_init(&c->tx);
    c->last_rx = g_get_monotonic_time();

    c->source = g_source_new(&client_source_funcs, sizeof(VsbRpcClientSource));
    c->csource = (VsbRpcClientSource *)c->source;
    c->csource->client = c;
    c->events = G_IO_IN;
    c->csource->tag = g_source_add_unix_fd(c->source, fd, c->events);
    g_source_set_name(c->source, "vsb-rpc-client");
    g_source_attach(c->source, NULL);

    g_queue_push_tail(&srv->clients, c);
    c->link = srv->clients.tail;
    if (srv->hooks.client_open) {
        client_hook_enter(c);
        c->data = srv->hooks.client_open(c, srv->opaque);
        client_hook_leave(c);
    }
}

/* ------------------------------------------------------------------ */
/* Listeners                                                           */
/* ------------------------------------------------------------------ */

static gboolean listener_accept_cb(int fd, GIOCondition cond, gpointer opaque);

static gboolean
listener_retry_cb(gpointer opaque)
{
    VsbRpcListener *l = opaque;

    l->retry = 0;
    l->watch = g_unix_fd_add(l->fd, G_IO_IN, listener_accept_cb, l);
    return G_SOURCE_REMOVE;
}

static gboolean
listener_accept_cb(int lfd, GIOCondition cond, gpointer opaque)
{
    VsbRpcListener *l = opaque;
    VsbRpcServer *srv = l->srv;

    for (int i = 0; i < VSB_RPC_ACCEPTS_PER_WAKEUP; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            /* Out of fds (or worse): stop accepting for a moment
             * rather than spin on a readable listener. */
            server_log(srv, G_LOG_LEVEL_WARNING, "%s: accept: %s; pausing for a second",
                       l->path, g_strerror(errno));
            l->watch = 0;
            l->retry = g_timeout_add_seconds(1, listener_retry_cb, l);
            return G_SOURCE_REMOVE;
        }
        if (g_queue_get_length(&srv->clients) >= srv->cfg.max_clients) {
            server_log(srv, G_LOG_LEVEL_WARNING,
                       "%s: refusing a connection: already %u clients", l->path,
                       srv->cfg.max_clients);
            close(fd);
            continue;
        }
        server_add_client(srv, fd, l->readonly);
    }
    return G_SOURCE_CONTINUE;
}

static void
listener_free(gpointer p)
{
    VsbRpcListener *l = p;
    struct stat st;

    if (l->watch)
        g_source_remove(l->watch);
    if (l->retry)
        g_source_remove(l->retry);
    /* Remove the file only if it is still ours: a daemon started after
     * us may have replaced it. */
    if (!l->inherited && l->path && lstat(l->path, &st) == 0 && st.st_dev == l->dev &&
        st.st_ino == l->ino)
        unlink(l->path);
    if (l->fd >= 0)
        close(l->fd);
    g_free(l->path);
    g_free(l);
}

static bool
fill_sockaddr(struct sockaddr_un *sa, const char *path, GError **error)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa->sun_path)) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                    "socket path %s is too long (at most %zu bytes)", path,
                    sizeof(sa->sun_path) - 1);
        return false;
    }
    strcpy(sa->sun_path, path);
    return true;
}

/* An existing file at @path: replace a stale socket, refuse anything
 * else. */
static bool
check_existing(const char *path, GError **error)
{
    struct sockaddr_un sa;
    struct stat st;
    g_auto(VsbFd) fd = -1;

    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return true;
        return vsb_error_set_errno(error, errno, "cannot stat %s", path);
    }
    if (!S_ISSOCK(st.st_mode)) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_EXISTS,
                    "%s exists and is not a socket; not replacing it", path);
        return false;
    }
    if (!fill_sockaddr(&sa, path, error))
        return false;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return vsb_error_set_errno(error, errno, "socket");
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
        struct ucred cred;
        socklen_t clen = sizeof(cred);
        g_autofree char *who = NULL;

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0 && cred.pid > 0)
            who = g_strdup_printf(" (pid %d)", (int)cred.pid);
        g_set_error(error, VSB_ERROR, VSB_ERROR_EXISTS,
                    "%s is served by another process%s; leaving it alone", path,
                    who ? who : "");
        return false;
    }
    if (errno != ECONNREFUSED)
        return vsb_error_set_errno(error, errno, "cannot probe the existing socket %s", path);
    /* Nobody listens: a leftover of a daemon that died. */
    if (unlink(path) < 0 && errno != ENOENT)
        return vsb_error_set_errno(error, errno, "cannot remove the stale socket %s", path);
    return true;
}

bool
vsb_rpc_server_listen(VsbRpcServer *srv, const char *path, bool readonly, mode_t mode,
                      GError **error)
{
    g_autofree char *dir = g_path_get_dirname(path);
    struct sockaddr_un sa;
    struct stat st;
    VsbRpcListener *l;
    g_auto(VsbFd) fd = -1;
    mode_t old;
    int r;

    if (!fill_sockaddr(&sa, path, error))
        return false;
    if (!vsb_mkdir_p(dir, 0755, error))
        return false;
    if (!check_existing(path, error))
        return false;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return vsb_error_set_errno(error, errno, "socket for %s", path);
    /* Created private, opened up after: never more open than asked. */
    old = umask(0077);
    r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (r < 0)
        return vsb_error_set_errno(error, errno, "cannot bind %s", path);
    if (chmod(path, mode) < 0 || lstat(path, &st) < 0) {
        int errsv = errno;

        unlink(path);
        return vsb_error_set_errno(error, errsv, "cannot set the mode of %s", path);
    }
    if (listen(fd, SOMAXCONN) < 0) {
        int errsv = errno;

        unlink(path);
        return vsb_error_set_errno(error, errsv, "cannot listen on %s", path);
    }
    l = g_new0(VsbRpcListener, 1);
    l->srv = srv;
    l->path = g_strdup(path);
    l->fd = fd;
    fd = -1;
    l->readonly = readonly;
    l->dev = st.st_dev;
    l->ino = st.st_ino;
    l->watch = g_unix_fd_add(l->fd, G_IO_IN, listener_accept_cb, l);
    g_ptr_array_add(srv->listeners, l);
    return true;
}

bool
vsb_rpc_server_listen_fd(VsbRpcServer *srv, int fd, const char *path, bool readonly,
                         GError **error)
{
    VsbRpcListener *l;
    int fl;

    /* systemd passes the socket blocking and inheritable. */
    if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        return vsb_error_set_errno(error, errno, "cannot set up the socket of %s (fd %d)",
                                   path, fd);
    l = g_new0(VsbRpcListener, 1);
    l->srv = srv;
    l->path = g_strdup(path);
    l->inherited = true;
    l->fd = fd;
    l->readonly = readonly;
    l->watch = g_unix_fd_add(l->fd, G_IO_IN, listener_accept_cb, l);
    g_ptr_array_add(srv->listeners, l);
    return true;
}

/* ------------------------------------------------------------------ */
/* Server                                                              */
/* ------------------------------------------------------------------ */

VsbRpcServer *
vsb_rpc_server_new(const VsbRpcServerConfig *cfg, const VsbRpcServerHooks *hooks,
                   gpointer opaque)
{
    VsbRpcServer *srv = g_new0(VsbRpcServer, 1);

    if (cfg)
        srv->cfg = *cfg;
    if (!srv->cfg.max_clients)
        srv->cfg.max_clients = 4096;
    if (!srv->cfg.max_queue)
        srv->cfg.max_queue = VSB_RPC_MAX_QUEUE;
    if (hooks)
        srv->hooks = *hooks;
    srv->opaque = opaque;
    srv->listeners = g_ptr_array_new_with_free_func(listener_free);
    g_queue_init(&srv->clients);
    g_queue_init(&srv->closing);
    if (srv->cfg.keepalive_interval > 0)
        srv->keepalive_timer = g_timeout_add_seconds(1, keepalive_tick, srv);
    return srv;
}

void
vsb_rpc_server_free(VsbRpcServer *srv)
{
    VsbRpcClient *c;

    if (!srv)
        return;
    /* Stop accepting first, then close every connection now. */
    g_ptr_array_free(srv->listeners, TRUE);
    if (srv->keepalive_timer)
        g_source_remove(srv->keepalive_timer);
    if (srv->closing_idle)
        g_source_remove(srv->closing_idle);
    while ((c = g_queue_pop_head(&srv->closing))) {
        c->busy = 0;
        client_teardown(c);
        client_unref(c);
    }
    while ((c = g_queue_peek_head(&srv->clients))) {
        c->closed = true;
        c->busy = 0;
        client_teardown(c);
    }
    g_free(srv);
}

guint
vsb_rpc_server_n_clients(VsbRpcServer *srv)
{
    return g_queue_get_length(&srv->clients);
}
