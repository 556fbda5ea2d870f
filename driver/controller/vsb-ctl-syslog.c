/*
 * vsb-ctl-syslog.c: the container's /dev/log (see vsb-ctl-syslog.h).
 */
#include <config.h>

#include "vsb-ctl-syslog.h"
#include "vsb-ctl-mounts.h"
#include "vsb-util.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <syslog.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#define JOURNAL_SOCKET "/run/systemd/journal/socket"
/* How often a missing journald, or a log we could not write, is looked
 * at again. */
#define RECHECK_USEC (10 * G_USEC_PER_SEC)
/* Messages handled per wake-up, so the console and /proc views are
 * served in between. */
#define BATCH 64

typedef __typeof__(sd_journal_sendv) SendvFn;

struct _VsbCtlSyslog {
    char *name;
    char id_full[33];         /* the domain's UUID, 32 hex digits: its machine ID */
    char *dir;
    char *path;
    char *path_old;
    int sock;
    guint watch;
    guint resume;

    int log_fd;
    guint64 log_size;
    gint64 log_retry_at;      /* monotonic usec: do not try to open before */

    double tokens;
    gint64 refill_at;         /* monotonic usec of the last refill */
    gint64 drop_window;       /* monotonic second of the drop count */
    guint drops_in_window;
    guint64 dropped;          /* not reported in the log yet */

    SendvFn *journal;         /* NULL while journald is absent */
    gint64 journal_check_at;

    pid_t cache_host_pid;     /* last pid translation */
    pid_t cache_ns_pid;
    gint64 cache_at;
};

VsbCtlSyslog *
vsb_ctl_syslog_new(const char *name, const unsigned char uuid[16], const char *log_dir,
                   GError **error)
{
    g_autoptr(VsbCtlSyslog) sl = g_new0(VsbCtlSyslog, 1);
    int on = 1;

    sl->log_fd = -1;
    sl->name = g_strdup(name);
    for (int i = 0; i < 16; i++)
        g_snprintf(sl->id_full + 2 * i, 3, "%02x", uuid[i]);
    sl->dir = g_strdup(log_dir);
    sl->path = g_strdup_printf("%s/%s.log", log_dir, name);
    sl->path_old = g_strdup_printf("%s.1", sl->path);
    sl->tokens = VSB_SYSLOG_BURST;
    sl->refill_at = g_get_monotonic_time();
    sl->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (sl->sock < 0)
        return vsb_error_set_errno(error, errno, "Cannot create the container's /dev/log socket"),
               NULL;
    /* the sender's pid with every message */
    if (setsockopt(sl->sock, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) < 0)
        return vsb_error_set_errno(error, errno, "Cannot set SO_PASSCRED on /dev/log"), NULL;
    return g_steal_pointer(&sl);
}

int
vsb_ctl_syslog_socket(VsbCtlSyslog *sl)
{
    return sl->sock;
}

const char *
vsb_ctl_syslog_path(VsbCtlSyslog *sl)
{
    return sl->path;
}

void
vsb_ctl_syslog_free(VsbCtlSyslog *sl)
{
    if (!sl)
        return;
    g_clear_handle_id(&sl->watch, g_source_remove);
    g_clear_handle_id(&sl->resume, g_source_remove);
    if (sl->sock >= 0)
        close(sl->sock);
    if (sl->log_fd >= 0)
        close(sl->log_fd);
    g_free(sl->name);
    g_free(sl->dir);
    g_free(sl->path);
    g_free(sl->path_old);
    g_free(sl);
}

/* ------------------------------------------------------------------ */
/* The log file                                                        */

/* Never the one to fill a file system: below VSB_SYSLOG_MIN_FREE
 * nothing is written (checked when a file is opened, i.e. at least
 * once per VSB_SYSLOG_FILE_MAX written). */
static bool
log_space_ok(VsbCtlSyslog *sl)
{
    struct statvfs st;

    if (statvfs(sl->dir, &st) < 0)
        return false;
    return (guint64)st.f_bavail * st.f_frsize >= VSB_SYSLOG_MIN_FREE;
}

static bool
log_open(VsbCtlSyslog *sl)
{
    struct stat st;

    if (g_get_monotonic_time() < sl->log_retry_at)
        return false;
    sl->log_retry_at = g_get_monotonic_time() + RECHECK_USEC;
    if (!vsb_mkdir_p(sl->dir, 0750, NULL) || !log_space_ok(sl))
        return false;
    sl->log_fd = open(sl->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (sl->log_fd < 0)
        return false;
    if (fstat(sl->log_fd, &st) < 0) {
        close(g_steal_fd(&sl->log_fd));
        return false;
    }
    sl->log_size = st.st_size;
    sl->log_retry_at = 0;
    return true;
}

static void
log_write(VsbCtlSyslog *sl, const char *line, gsize len)
{
    if (sl->log_fd < 0 && !log_open(sl))
        return;
    if (sl->log_size && sl->log_size + len > VSB_SYSLOG_FILE_MAX) {
        /* NAME.log -> NAME.log.1, replacing the older one */
        close(g_steal_fd(&sl->log_fd));
        if (rename(sl->path, sl->path_old) < 0)
            unlink(sl->path);
        if (!log_open(sl))
            return;
    }
    /* O_APPEND and one write() per line: whole lines, whoever else
     * appends (logrotate's copytruncate, a second reader) */
    if (write(sl->log_fd, line, len) != (ssize_t)len) {
        close(g_steal_fd(&sl->log_fd));
        sl->log_retry_at = g_get_monotonic_time() + RECHECK_USEC;
        return;
    }
    sl->log_size += len;
}

/* ------------------------------------------------------------------ */
/* journald                                                            */

/* libsystemd is loaded at the first message while journald runs, not
 * linked: loading it (and libgcrypt, liblz4, libzstd behind it) costs
 * every controller ~0.4 ms at start, and most containers never log
 * while journald runs. */
static SendvFn *
journal_sendv(VsbCtlSyslog *sl)
{
    static void *lib;
    static SendvFn *fn;
    gint64 now = g_get_monotonic_time();

    if (now < sl->journal_check_at)
        return sl->journal;
    sl->journal_check_at = now + RECHECK_USEC;
    sl->journal = NULL;
    if (access(JOURNAL_SOCKET, W_OK) < 0)
        return NULL;
    if (!lib) {
        lib = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
        if (!lib)
            return NULL;
        fn = (SendvFn *)dlsym(lib, "sd_journal_sendv");
    }
    sl->journal = fn;
    return fn;
}

static void
journal_forward(VsbCtlSyslog *sl, int pri, const char *pid, pid_t host_pid, const char *tag,
                const char *message)
{
    SendvFn *sendv = journal_sendv(sl);
    g_autofree char *f_msg = NULL;
    g_autofree char *f_pri = NULL;
    g_autofree char *f_fac = NULL;
    g_autofree char *f_tag = NULL;
    g_autofree char *f_pid = NULL;
    g_autofree char *f_name = NULL;
    g_autofree char *f_id = NULL;
    g_autofree char *f_id_full = NULL;
    g_autofree char *f_obj = NULL;
    struct iovec iov[9];
    int n = 0;

    if (!sendv)
        return;
#define FIELD(var, ...) \
    do { var = g_strdup_printf(__VA_ARGS__); \
         iov[n].iov_base = var; iov[n].iov_len = strlen(var); n++; } while (0)
    FIELD(f_msg, "MESSAGE=%s", message);
    FIELD(f_pri, "PRIORITY=%d", pri & 7);
    FIELD(f_fac, "SYSLOG_FACILITY=%d", pri >> 3);
    /* Docker's journald fields (what journal tools know for "which
     * container"): the name, the ID's first 12 characters, the ID. */
    FIELD(f_name, "CONTAINER_NAME=%s", sl->name);
    FIELD(f_id, "CONTAINER_ID=%.12s", sl->id_full);
    FIELD(f_id_full, "CONTAINER_ID_FULL=%s", sl->id_full);
    if (tag)
        FIELD(f_tag, "SYSLOG_IDENTIFIER=%s", tag);
    if (pid && g_ascii_isdigit(*pid))
        FIELD(f_pid, "SYSLOG_PID=%s", pid);
    /* journald trusts OBJECT_PID from root and adds what it knows of
     * that process (_COMM, cgroup, ...) as OBJECT_* fields */
    if (host_pid > 0)
        FIELD(f_obj, "OBJECT_PID=%d", (int)host_pid);
#undef FIELD
    /* A datagram each; it waits only while journald's queue is full. */
    sendv(iov, n);
}

void
vsb_ctl_syslog_store(VsbCtlSyslog *sl, int pri, const char *pid, const char *tag,
                     const char *message)
{
    g_autofree char *line = vsb_syslog_format_line(g_get_real_time(), pri, pid, tag, message);

    log_write(sl, line, strlen(line));
    journal_forward(sl, pri, pid, 0, tag, message);
}

/* ------------------------------------------------------------------ */
/* Reading the socket                                                  */

/* The container's number for host pid @pid, from its NSpid line; 0
 * when the process is gone already (a logger(1) that exited). */
static pid_t
ns_pid(VsbCtlSyslog *sl, pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/status", (int)pid);
    g_autofree char *text = NULL;
    const char *line;
    gint64 now = g_get_monotonic_time();
    pid_t found = 0;

    /* the same sender, again (pid reuse within a second is not a worry) */
    if (pid == sl->cache_host_pid && now - sl->cache_at < G_USEC_PER_SEC)
        return sl->cache_ns_pid;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return 0;
    line = strstr(text, "\nNSpid:");
    if (line) {
        const char *end = strchr(line + 1, '\n');
        g_autofree char *l = g_strndup(line + 7, end ? (gsize)(end - line - 7) : strlen(line + 7));
        g_auto(GStrv) f = g_strsplit_set(g_strstrip(l), " \t", -1);
        guint n = g_strv_length(f);
        if (n)
            found = (pid_t)atoi(f[n - 1]);
    }
    sl->cache_host_pid = pid;
    sl->cache_ns_pid = found;
    sl->cache_at = now;
    return found;
}

static void
handle_message(VsbCtlSyslog *sl, const char *buf, gsize len, pid_t host_pid)
{
    VsbSyslogMsg m;
    g_autofree char *pid = NULL;
    g_autofree char *line = NULL;
    pid_t nspid = host_pid > 0 ? ns_pid(sl, host_pid) : 0;

    vsb_syslog_parse(buf, len, &m);
    if (nspid > 0)
        pid = g_strdup_printf("%d", (int)nspid);
    else if (m.claimed_pid > 0)
        pid = g_strdup_printf("%d", (int)m.claimed_pid);
    else if (host_pid > 0)
        pid = g_strdup_printf("host:%d", (int)host_pid);
    line = vsb_syslog_format_line(g_get_real_time(), m.pri, pid, m.tag, m.message);
    log_write(sl, line, strlen(line));
    journal_forward(sl, m.pri, pid, host_pid, m.tag, m.message);
    vsb_syslog_msg_clear(&m);
}

static bool
take_token(VsbCtlSyslog *sl)
{
    gint64 now = g_get_monotonic_time();

    sl->tokens = MIN((double)VSB_SYSLOG_BURST,
                     sl->tokens + (now - sl->refill_at) * (double)VSB_SYSLOG_RATE / G_USEC_PER_SEC);
    sl->refill_at = now;
    if (sl->tokens < 1)
        return false;
    sl->tokens -= 1;
    return true;
}

static void report_dropped(VsbCtlSyslog *sl);
static gboolean on_readable(gint fd, GIOCondition cond, gpointer opaque);

static gboolean
on_resume(gpointer opaque)
{
    VsbCtlSyslog *sl = opaque;

    sl->resume = 0;
    vsb_ctl_syslog_attach(sl);
    return G_SOURCE_REMOVE;
}

/* Past the drop budget of this second: stop reading until the next. */
static bool
note_drop(VsbCtlSyslog *sl)
{
    gint64 now = g_get_monotonic_time();
    gint64 second = now / G_USEC_PER_SEC;

    sl->dropped++;
    if (second != sl->drop_window) {
        sl->drop_window = second;
        sl->drops_in_window = 0;
    }
    if (++sl->drops_in_window < VSB_SYSLOG_DROP_MAX)
        return true;
    g_clear_handle_id(&sl->watch, g_source_remove);
    sl->resume = g_timeout_add((guint)(((second + 1) * G_USEC_PER_SEC - now) / 1000) + 1,
                               on_resume, sl);
    return false;
}

static void
report_dropped(VsbCtlSyslog *sl)
{
    g_autofree char *text = NULL;

    if (!sl->dropped)
        return;
    text = g_strdup_printf("%" G_GUINT64_FORMAT " messages from the container were dropped "
                           "(more than %d a second)", sl->dropped, VSB_SYSLOG_RATE);
    sl->dropped = 0;
    vsb_ctl_syslog_store(sl, LOG_SYSLOG | LOG_WARNING, NULL, "virt-sandbox", text);
}

static gboolean
on_readable(gint fd, GIOCondition cond, gpointer opaque)
{
    VsbCtlSyslog *sl = opaque;
    static char buf[VSB_SYSLOG_MAX_MSG];

    for (int i = 0; i < BATCH; i++) {
        char cbuf[CMSG_SPACE(sizeof(struct ucred))];
        struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                              .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
        struct cmsghdr *cmsg;
        pid_t pid = 0;
        ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

        if (n < 0)
            break;
        if (!take_token(sl)) {
            if (!note_drop(sl))
                return G_SOURCE_REMOVE;
            continue;
        }
        report_dropped(sl);
        for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
            if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_CREDENTIALS) {
                struct ucred cred;
                memcpy(&cred, CMSG_DATA(cmsg), sizeof(cred));
                pid = cred.pid;
            }
        }
        handle_message(sl, buf, (gsize)n, pid);
    }
    return G_SOURCE_CONTINUE;
}

void
vsb_ctl_syslog_attach(VsbCtlSyslog *sl)
{
    if (!sl->watch && !sl->resume)
        sl->watch = g_unix_fd_add(sl->sock, G_IO_IN, on_readable, sl);
}

/* ------------------------------------------------------------------ */
/* Child side                                                          */

bool
vsb_ctl_syslog_bind(int sock, int rootfd, GError **error)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX, .sun_path = "log" };
    g_auto(VsbFd) dev = vsb_ctl_open_in_root(rootfd, "dev", false, false, error);
    g_auto(VsbFd) cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    int rc, errsv;

    if (dev < 0)
        return false;
    if (cwd < 0)
        return vsb_error_set_errno(error, errno, "Cannot open the current directory");
    /* bind() takes a path: a relative one from the container's /dev,
     * resolved in the root, never from a host path. */
    if (fchdir(dev) < 0)
        return vsb_error_set_errno(error, errno, "Cannot enter the container's /dev");
    rc = bind(sock, (struct sockaddr *)&addr, sizeof(addr));
    errsv = errno;
    if (fchdir(cwd) < 0)
        return vsb_error_set_errno(error, errno, "Cannot go back to the current directory");
    if (rc < 0)
        return vsb_error_set_errno(error, errsv, "Cannot bind the container's /dev/log");
    /* every user of the container logs, as with any syslog daemon */
    if (fchmodat(dev, "log", 0666, 0) < 0)
        return vsb_error_set_errno(error, errno, "Cannot chmod the container's /dev/log");
    return true;
}
