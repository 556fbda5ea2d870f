/*
 * vsb-ctl-fuse.c: the container's /proc views and /dev/kmsg over FUSE
 * (see vsb-ctl-fuse.h).
 */
#include <config.h>

#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>

#include "vsb-ctl-fuse.h"
#include "vsb-ctl-mounts.h"
#include "vsb-util.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Names and attributes never change: the kernel may keep them. */
#define CACHE_TIMEOUT (24 * 3600.0)
/* What the container's processes may hold open at once, and the text
 * those opens may pin in the controller (whose memory is not the
 * container's): a container cannot grow its controller without bound. */
#define MAX_HANDLES 4096
#define MAX_HANDLE_BYTES (16 * 1024 * 1024)
/* /dev/kmsg writes kept per second (bursts of KMSG_BURST), as the
 * kernel rate-limits /dev/kmsg writers; the rest are dropped. */
#define KMSG_RATE 20
#define KMSG_BURST 200
/* Requests answered per wake-up of the main loop, and how long we wait
 * for the next one before going back to it (see
 * vsb_ctl_fuse_process()). */
#define BATCH 32
#define SPIN_US 30

#define INO_ROOT 1
#define INO_VIEW(v) ((fuse_ino_t)(v) + 2)
#define INO_KMSG INO_VIEW(VSB_PROC_VIEW_LAST)
#define INO_LAST INO_KMSG
#define TEMP_MOUNT "dev/.virt-sandbox-views"

/* ------------------------------------------------------------------ */
/* Child side                                                          */

static const struct {
    int view;               /* VsbProcView, or -1 for kmsg */
    const char *target;     /* in the container */
} view_targets[] = {
    { VSB_PROC_VIEW_MEMINFO, "proc/meminfo" },
    { VSB_PROC_VIEW_STAT, "proc/stat" },
    { VSB_PROC_VIEW_CPUINFO, "proc/cpuinfo" },
    { VSB_PROC_VIEW_LOADAVG, "proc/loadavg" },
    { VSB_PROC_VIEW_DISKSTATS, "proc/diskstats" },
    { VSB_PROC_VIEW_SWAPS, "proc/swaps" },
    { VSB_PROC_VIEW_CPU_ONLINE, "sys/devices/system/cpu/online" },
    { VSB_PROC_VIEW_PRESSURE_CPU, "proc/pressure/cpu" },
    { VSB_PROC_VIEW_PRESSURE_MEMORY, "proc/pressure/memory" },
    { VSB_PROC_VIEW_PRESSURE_IO, "proc/pressure/io" },
    { VSB_PROC_VIEW_PRESSURE_IRQ, "proc/pressure/irq" },
    { -1, "dev/kmsg" },
};

/* Bind the view @name of the views' root directory @views on
 * @target of the container; a target that does not exist (a host
 * without PSI) or a view the controller does not offer (pressure
 * without cgroup v2) is skipped. */
static bool
bind_view(int views, const char *name, int rootfd, const char *target, bool create,
          GError **error)
{
    g_autoptr(GError) local = NULL;
    g_auto(VsbFd) mfd = -1;
    g_auto(VsbFd) dst = -1;

    /* the target resolved in the container root, as every mount target */
    dst = create ? vsb_ctl_open_in_root(rootfd, target, true, true, error)
                 : vsb_ctl_openat_in_root(rootfd, target, O_PATH, &local);
    if (dst < 0)
        return !create;
    /* names of our own file system: no symlink to fear */
    mfd = open_tree(views, name, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (mfd < 0) {
        if (errno == ENOENT)
            return true;
        return vsb_error_set_errno(error, errno, "Cannot bind the view %s", name);
    }
    if (move_mount(mfd, "", dst, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        return vsb_error_set_errno(error, errno, "Cannot mount the view %s on /%s", name, target);
    return true;
}

bool
vsb_ctl_fuse_mount_views(int mount_fd, int rootfd, GError **error)
{
    g_auto(VsbFd) mfd = dup(mount_fd);
    g_auto(VsbFd) views = -1;
    g_auto(VsbFd) dev = -1;
    g_autofree char *views_path = NULL;

    if (mfd < 0 || fcntl(mfd, F_SETFD, FD_CLOEXEC) < 0)
        return vsb_error_set_errno(error, errno, "Cannot use the /proc views' mount");
    /* Bind sources must be reachable by path (kernels before 6.15
     * refuse open_tree() of a detached mount): the fs is attached on a
     * temporary directory of the container's /dev, and detached again
     * once its files are bound. */
    if (!vsb_ctl_attach_in_root(mfd, rootfd, TEMP_MOUNT, false, error))
        return false;
    views = vsb_ctl_openat_in_root(rootfd, TEMP_MOUNT, O_RDONLY | O_DIRECTORY, error);
    if (views < 0)
        return false;
    /* one READDIRPLUS puts every view in the dentry cache: the lookups
     * below need no round trip to the controller each */
    {
        char dents[4096];
        if (syscall(SYS_getdents64, views, dents, sizeof(dents)) < 0)
            return vsb_error_set_errno(error, errno, "Cannot list the /proc views");
    }
    for (size_t i = 0; i < G_N_ELEMENTS(view_targets); i++) {
        bool kmsg = view_targets[i].view < 0;
        const char *name = kmsg ? "kmsg" : vsb_proc_view_name(view_targets[i].view);

        if (!bind_view(views, name, rootfd, view_targets[i].target, kmsg, error)) {
            g_prefix_error(error, "Cannot show the container's /%s: ", view_targets[i].target);
            return false;
        }
    }
    dev = vsb_ctl_open_in_root(rootfd, "dev", false, false, error);
    if (dev < 0)
        return false;
    /* the host's /proc, until pivot_root(): it knows our fds */
    views_path = g_strdup_printf("/proc/self/fd/%d", views);
    if (umount2(views_path, MNT_DETACH) < 0)
        return vsb_error_set_errno(error, errno, "Cannot detach /%s", TEMP_MOUNT);
    if (unlinkat(dev, TEMP_MOUNT + strlen("dev/"), AT_REMOVEDIR) < 0)
        return vsb_error_set_errno(error, errno, "Cannot remove /%s", TEMP_MOUNT);
    return true;
}

/* ------------------------------------------------------------------ */
/* Controller side                                                     */

typedef struct {
    bool kmsg;
    char *text;               /* views: rendered at open */
    gsize len;
    guint64 seq;              /* kmsg: next record for this reader */
    struct fuse_pollhandle *ph;
    double tokens;            /* kmsg writes */
    gint64 refill_at;
} Handle;

typedef struct {
    VsbCtlFuse *fs;
    fuse_req_t req;
    Handle *h;
    size_t size;
    bool registering;
    bool interrupted;
} Waiter;

struct _VsbCtlFuse {
    struct fuse_session *se;
    struct fuse_buf buf;
    int fd;                   /* /dev/fuse until the session has it */
    int mount_fd;             /* the detached mount, until the child bound it */
    uid_t uid;
    gid_t gid;
    bool no_opendir;          /* the kernel needs no OPENDIR from us */
    time_t start;             /* the files' times: when the container started */
    guint watch;
    VsbCtlProcSrc *src;
    VsbKmsg *kmsg;
    VsbCtlFuseKmsgFn on_kmsg;
    gpointer opaque;
    GPtrArray *waiters;       /* Waiter*: blocked /dev/kmsg reads */
    GPtrArray *pollers;       /* Handle*: kmsg handles with a poll handle */
    guint handles;
    gsize handle_bytes;
};

static void
fill_attr(VsbCtlFuse *fs, fuse_ino_t ino, struct stat *st)
{
    memset(st, 0, sizeof(*st));
    st->st_ino = ino;
    st->st_uid = fs->uid;
    st->st_gid = fs->gid;
    st->st_atime = st->st_mtime = st->st_ctime = fs->start;
    st->st_nlink = 1;
    if (ino == INO_ROOT) {
        st->st_mode = S_IFDIR | 0555;
        st->st_nlink = 2;
    } else if (ino == INO_KMSG) {
        /* as the kernel's /dev/kmsg: root writes, everyone reads */
        st->st_mode = S_IFREG | 0644;
    } else {
        st->st_mode = S_IFREG | 0444;
    }
    /* Not 0 as in /proc (readers read until EOF anyway): with size 0,
     * sendfile() and splice() would read nothing instead of failing
     * over to read() (see op_read()). */
    if (ino != INO_ROOT)
        st->st_size = 4096;
}

static bool
ino_exists(VsbCtlFuse *fs, fuse_ino_t ino)
{
    if (ino == INO_ROOT || ino == INO_KMSG)
        return true;
    return ino >= INO_VIEW(0) && ino < INO_KMSG &&
           vsb_ctl_procsrc_available(fs->src, (VsbProcView)(ino - INO_VIEW(0)));
}

static const char *
ino_name(fuse_ino_t ino)
{
    return ino == INO_KMSG ? "kmsg" : vsb_proc_view_name((VsbProcView)(ino - INO_VIEW(0)));
}

static void
op_init(void *opaque, struct fuse_conn_info *conn)
{
    VsbCtlFuse *fs = opaque;

    /* Small requests only: no splice pipes, and a receive buffer of
     * 8 KiB instead of libfuse's default 1 MiB. */
    conn->want &= ~(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
    if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
        conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
    /* One READDIRPLUS gives the child every name with its attributes
     * (vsb_ctl_fuse_mount_views()), instead of one LOOKUP per view; a
     * directory needs no OPENDIR. */
    if (conn->capable & FUSE_CAP_READDIRPLUS) {
        conn->want |= FUSE_CAP_READDIRPLUS;
        conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
    }
    if (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT) {
        conn->want |= FUSE_CAP_NO_OPENDIR_SUPPORT;
        fs->no_opendir = true;
    }
    conn->max_write = 4096;
    conn->max_readahead = 0;
}

static void
op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    VsbCtlFuse *fs = fuse_req_userdata(req);
    struct fuse_entry_param e = { .attr_timeout = CACHE_TIMEOUT,
                                  .entry_timeout = CACHE_TIMEOUT };

    if (parent == INO_ROOT) {
        for (fuse_ino_t ino = INO_VIEW(0); ino <= INO_LAST; ino++) {
            if (g_str_equal(ino_name(ino), name) && ino_exists(fs, ino)) {
                e.ino = ino;
                fill_attr(fs, ino, &e.attr);
                break;
            }
        }
    }
    /* ino 0: a negative entry, cached as long */
    fuse_reply_entry(req, &e);
}

static void
op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    VsbCtlFuse *fs = fuse_req_userdata(req);
    struct stat st;

    if (!ino_exists(fs, ino)) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    fill_attr(fs, ino, &st);
    fuse_reply_attr(req, &st, CACHE_TIMEOUT);
}

/* Only O_TRUNC of /dev/kmsg ("echo x > /dev/kmsg") gets here: nothing
 * to truncate. */
static void
op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
           struct fuse_file_info *fi)
{
    VsbCtlFuse *fs = fuse_req_userdata(req);
    struct stat st;

    if (ino != INO_KMSG || (to_set & ~(FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME |
                                       FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW |
                                       FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME))) {
        fuse_reply_err(req, EPERM);
        return;
    }
    fill_attr(fs, ino, &st);
    fuse_reply_attr(req, &st, CACHE_TIMEOUT);
}

static void
op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    VsbCtlFuse *fs = fuse_req_userdata(req);

    if (ino != INO_ROOT)
        fuse_reply_err(req, ENOTDIR);
    else if (fs->no_opendir)
        /* the kernel opens our directories on its own from now on */
        fuse_reply_err(req, ENOSYS);
    else
        fuse_reply_open(req, fi);
}

static void
readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
    VsbCtlFuse *fs = fuse_req_userdata(req);
    g_autoptr(GByteArray) buf = g_byte_array_new();
    off_t n = 0;

    if (ino != INO_ROOT) {
        fuse_reply_err(req, ENOTDIR);
        return;
    }
    /* entry n's offset is n + 1: the next one to list */
    for (fuse_ino_t e = 0; e <= INO_LAST; e++) {
        const char *name = e == 0 ? "." : e == INO_ROOT ? ".." : ino_name(e);
        struct stat st;
        size_t need;

        if (e > INO_ROOT && !ino_exists(fs, e))
            continue;
        if (n++ < off)
            continue;
        fill_attr(fs, e > INO_ROOT ? e : INO_ROOT, &st);
        if (plus) {
            struct fuse_entry_param ep = { .attr = st, .attr_timeout = CACHE_TIMEOUT,
                                           .entry_timeout = CACHE_TIMEOUT };
            /* "." and ".." are not looked up (ino 0: no entry made) */
            ep.ino = e > INO_ROOT ? e : 0;
            need = fuse_add_direntry_plus(req, NULL, 0, name, NULL, 0);
            if (buf->len + need > size)
                break;
            g_byte_array_set_size(buf, buf->len + need);
            fuse_add_direntry_plus(req, (char *)buf->data + buf->len - need, need, name, &ep, n);
        } else {
            need = fuse_add_direntry(req, NULL, 0, name, NULL, 0);
            if (buf->len + need > size)
                break;
            g_byte_array_set_size(buf, buf->len + need);
            fuse_add_direntry(req, (char *)buf->data + buf->len - need, need, name, &st, n);
        }
    }
    fuse_reply_buf(req, (const char *)buf->data, buf->len);
}

static void
op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    readdir_common(req, ino, size, off, false);
}

static void
op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    readdir_common(req, ino, size, off, true);
}

static void
handle_free(VsbCtlFuse *fs, Handle *h)
{
    if (h->ph) {
        g_ptr_array_remove_fast(fs->pollers, h);
        fuse_pollhandle_destroy(h->ph);
    }
    fs->handles--;
    fs->handle_bytes -= h->len;
    g_free(h->text);
    g_free(h);
}

/* An open costs OPEN, READ, READ at EOF (and RELEASE, which close()
 * does not wait for).  The round trips that look avoidable are not:
 * - answering OPEN with ENOSYS (no_open) makes the kernel open every
 *   file of the connection itself, /dev/kmsg too (whose readers each
 *   need their own position), with FOPEN_KEEP_CACHE and through the
 *   page cache: the first snapshot would be served for good;
 * - the READ at EOF: a direct I/O read goes to the server whatever
 *   the file's size says (only page cache reads stop at i_size).
 * So a read is made cheap instead: the text comes rendered from a
 * cache of a few ms (vsb_ctl_procsrc_render()), and the server looks
 * for the next request before it sleeps (vsb_ctl_fuse_process()). */
static void
op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    VsbCtlFuse *fs = fuse_req_userdata(req);
    Handle *h;

    if (ino == INO_ROOT || !ino_exists(fs, ino)) {
        fuse_reply_err(req, ino == INO_ROOT ? EISDIR : ENOENT);
        return;
    }
    if (fs->handles >= MAX_HANDLES || fs->handle_bytes >= MAX_HANDLE_BYTES) {
        fuse_reply_err(req, ENFILE);
        return;
    }
    h = g_new0(Handle, 1);
    if (ino == INO_KMSG) {
        h->kmsg = true;
        h->seq = vsb_kmsg_first_seq(fs->kmsg);
        h->tokens = KMSG_BURST;
        h->refill_at = g_get_monotonic_time();
        fi->nonseekable = 1;
    } else {
        if ((fi->flags & O_ACCMODE) != O_RDONLY) {
            g_free(h);
            fuse_reply_err(req, EACCES);
            return;
        }
        /* rendered now: what a reader reads is one consistent snapshot */
        h->text = vsb_ctl_procsrc_render(fs->src, (VsbProcView)(ino - INO_VIEW(0)));
        if (!h->text) {
            g_free(h);
            fuse_reply_err(req, EIO);
            return;
        }
        h->len = strlen(h->text);
    }
    fs->handles++;
    fs->handle_bytes += h->len;
    fi->fh = (uint64_t)(uintptr_t)h;
    fi->direct_io = 1;
    fi->keep_cache = 0;
    fi->noflush = 1;
    if (fuse_reply_open(req, fi) != 0)
        handle_free(fs, h);
}

static void
op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    VsbCtlFuse *fs = fuse_req_userdata(req);

    handle_free(fs, (Handle *)(uintptr_t)fi->fh);
    fuse_reply_err(req, 0);
}

/* /dev/kmsg read semantics: one record per read(); EPIPE (once) when
 * the reader's next record was overwritten; EINVAL when the buffer is
 * too small for the record; EAGAIN when there is none yet. */
static int
kmsg_try_read(VsbCtlFuse *fs, fuse_req_t req, Handle *h, size_t size)
{
    g_autofree char *rec = NULL;
    gsize len;

    if (h->seq < vsb_kmsg_first_seq(fs->kmsg)) {
        h->seq = vsb_kmsg_first_seq(fs->kmsg);
        return EPIPE;
    }
    rec = vsb_kmsg_format(fs->kmsg, h->seq, &len);
    if (!rec)
        return EAGAIN;
    if (len > size)
        return EINVAL;
    h->seq++;
    fuse_reply_buf(req, rec, len);
    return 0;
}

static void
waiter_remove(VsbCtlFuse *fs, Waiter *w)
{
    g_ptr_array_remove_fast(fs->waiters, w);
    g_free(w);
}

/* The reader got a signal: answer EINTR (the kernel waits for that
 * answer, even for SIGKILL, once the request was read). */
static void
on_interrupt(fuse_req_t req, void *opaque)
{
    Waiter *w = opaque;

    if (w->registering) {
        /* called from fuse_req_interrupt_func() itself: replying here
         * would free the request under libfuse's feet */
        w->interrupted = true;
        return;
    }
    fuse_reply_err(req, EINTR);
    waiter_remove(w->fs, w);
}

static void
op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    VsbCtlFuse *fs = fuse_req_userdata(req);
    Handle *h = (Handle *)(uintptr_t)fi->fh;
    Waiter *w;
    int err;

    /* Reads through the page cache (sendfile(), splice(): busybox's
     * cat, cp's copy_file_range()) would cache one snapshot and shrink
     * the file's size to it for the next readers: kernels before the
     * fix "fuse: use copy_splice_read() for FOPEN_DIRECT_IO" route
     * them there despite direct I/O.  They are refused, so their
     * callers fall back to read(), which is direct.  They are the
     * reads without a lock owner (the kernel sets one on direct I/O,
     * never on page cache fills). */
    if (fi->lock_owner == 0) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    if (!h->kmsg) {
        gsize start = MIN((gsize)MAX(off, 0), h->len);
        fuse_reply_buf(req, h->text + start, MIN(size, h->len - start));
        return;
    }
    err = kmsg_try_read(fs, req, h, size);
    if (err == 0)
        return;
    if (err != EAGAIN || (fi->flags & O_NONBLOCK)) {
        fuse_reply_err(req, err);
        return;
    }
    w = g_new0(Waiter, 1);
    w->fs = fs;
    w->req = req;
    w->h = h;
    w->size = size;
    w->registering = true;
    g_ptr_array_add(fs->waiters, w);
    fuse_req_interrupt_func(req, on_interrupt, w);
    w->registering = false;
    if (w->interrupted) {
        fuse_req_interrupt_func(req, NULL, NULL);
        fuse_reply_err(req, EINTR);
        waiter_remove(fs, w);
    }
}

static bool
kmsg_take_token(Handle *h)
{
    gint64 now = g_get_monotonic_time();

    h->tokens = MIN((double)KMSG_BURST,
                    h->tokens + (now - h->refill_at) * (double)KMSG_RATE / G_USEC_PER_SEC);
    h->refill_at = now;
    if (h->tokens < 1)
        return false;
    h->tokens -= 1;
    return true;
}

/* Each write() is one record, as with the kernel's /dev/kmsg. */
static void
op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
         struct fuse_file_info *fi)
{
    VsbCtlFuse *fs = fuse_req_userdata(req);
    Handle *h = (Handle *)(uintptr_t)fi->fh;
    const char *text;
    gsize len;
    int pri;

    if (!h->kmsg) {
        fuse_reply_err(req, EBADF);
        return;
    }
    /* over the rate: accepted and dropped, as the kernel does */
    if (kmsg_take_token(h)) {
        g_autofree char *copy = NULL;
        pri = vsb_kmsg_parse_write(buf, size, &text, &len);
        copy = g_strndup(text, MIN(len, (gsize)VSB_KMSG_MAX_TEXT));
        vsb_kmsg_append(fs->kmsg, pri, vsb_ctl_procsrc_monotonic_usec(fs->src), copy,
                        strlen(copy));
        if (fs->on_kmsg)
            fs->on_kmsg(fs->opaque, fuse_req_ctx(req)->pid, pri, copy);
    }
    fuse_reply_write(req, size);
}

static void
op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct fuse_pollhandle *ph)
{
    VsbCtlFuse *fs = fuse_req_userdata(req);
    Handle *h = (Handle *)(uintptr_t)fi->fh;
    unsigned int revents = POLLOUT | POLLWRNORM;

    if (!h->kmsg || h->seq < vsb_kmsg_next_seq(fs->kmsg)) {
        revents |= POLLIN | POLLRDNORM;
        if (ph)
            fuse_pollhandle_destroy(ph);
    } else if (ph) {
        /* notified when a record arrives */
        if (h->ph)
            fuse_pollhandle_destroy(h->ph);
        else
            g_ptr_array_add(fs->pollers, h);
        h->ph = ph;
    }
    fuse_reply_poll(req, revents);
}

static const struct fuse_lowlevel_ops ops = {
    .init = op_init,
    .lookup = op_lookup,
    .getattr = op_getattr,
    .setattr = op_setattr,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .readdirplus = op_readdirplus,
    .open = op_open,
    .read = op_read,
    .write = op_write,
    .release = op_release,
    .poll = op_poll,
    /* no .flush: with FOPEN_NOFLUSH (and ENOSYS on kernels that ignore
     * it) close() never waits for us */
};

void
vsb_ctl_fuse_kmsg_changed(VsbCtlFuse *fs)
{
    /* a waiter answered leaves the array: walk a copy */
    g_autoptr(GPtrArray) waiters = g_ptr_array_copy(fs->waiters, NULL, NULL);

    for (guint i = 0; i < waiters->len; i++) {
        Waiter *w = g_ptr_array_index(waiters, i);
        int err = kmsg_try_read(fs, w->req, w->h, w->size);

        if (err == EAGAIN)
            continue;
        if (err)
            fuse_reply_err(w->req, err);
        waiter_remove(fs, w);
    }
    while (fs->pollers->len) {
        Handle *h = g_ptr_array_steal_index_fast(fs->pollers, fs->pollers->len - 1);
        fuse_lowlevel_notify_poll(h->ph);
        fuse_pollhandle_destroy(h->ph);
        h->ph = NULL;
    }
}

VsbCtlFuse *
vsb_ctl_fuse_new(VsbCtlProcSrc *src, VsbKmsg *kmsg, uid_t uid, gid_t gid,
                 VsbCtlFuseKmsgFn on_kmsg, gpointer opaque, GError **error)
{
    g_autoptr(VsbCtlFuse) fs = g_new0(VsbCtlFuse, 1);
    char *argv[] = { (char *)"virt-sandbox-controller", NULL };
    struct fuse_args args = FUSE_ARGS_INIT(1, argv);
    g_autofree char *dev = NULL;
    g_autofree char *fd_opt = NULL;

    fs->src = src;
    fs->kmsg = kmsg;
    fs->uid = uid;
    fs->gid = gid;
    fs->start = time(NULL);
    fs->on_kmsg = on_kmsg;
    fs->opaque = opaque;
    fs->waiters = g_ptr_array_new();
    fs->pollers = g_ptr_array_new();
    fs->mount_fd = -1;
    /* non-blocking: answered from the main loop between other work */
    fs->fd = open("/dev/fuse", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (fs->fd < 0) {
        if (errno == ENOENT || errno == ENODEV || errno == ENXIO)
            return NULL;
        return vsb_error_set_errno(error, errno, "Cannot open /dev/fuse"), NULL;
    }
    {
        /* The kernel queues its INIT request now; we answer it before
         * the child looks anything up (controller_wait_started()). */
        const char *opts[] = { NULL, "rootmode=40000", "user_id=0", "group_id=0", "allow_other",
                               "default_permissions", "source=virt-sandbox", NULL };
        fd_opt = g_strdup_printf("fd=%d", fs->fd);
        opts[0] = fd_opt;
        fs->mount_fd = vsb_ctl_fs_new("fuse", opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                      MOUNT_ATTR_NOEXEC, error);
        if (fs->mount_fd < 0) {
            g_prefix_error(error, "Cannot mount the /proc views: ");
            return NULL;
        }
    }
    fs->se = fuse_session_new(&args, &ops, sizeof(ops), fs);
    /* fuse_session_new() may have made its own copy of the arguments */
    fuse_opt_free_args(&args);
    if (!fs->se) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_FAILED, "Cannot start the /proc views' server");
        return NULL;
    }
    /* "/dev/fd/N": libfuse takes the connection as it is, mounted */
    dev = g_strdup_printf("/dev/fd/%d", fs->fd);
    if (fuse_session_mount(fs->se, dev) != 0) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_FAILED, "Cannot use the /proc views' connection");
        return NULL;
    }
    fs->fd = -1;   /* the session's now */
    return g_steal_pointer(&fs);
}

int
vsb_ctl_fuse_mount_fd(VsbCtlFuse *fs)
{
    return fs->mount_fd;
}

void
vsb_ctl_fuse_release_mount(VsbCtlFuse *fs)
{
    if (fs->mount_fd >= 0)
        close(g_steal_fd(&fs->mount_fd));
}

int
vsb_ctl_fuse_fd(VsbCtlFuse *fs)
{
    /* once the connection is gone there is nothing to poll for */
    return fuse_session_exited(fs->se) ? -1 : fuse_session_fd(fs->se);
}

void
vsb_ctl_fuse_process(VsbCtlFuse *fs)
{
    gint64 until = 0;

    for (int i = 0; i < BATCH && !fuse_session_exited(fs->se); i++) {
        int r = fuse_session_receive_buf(fs->se, &fs->buf);

        /* A reader's requests come in a burst (OPEN, READ, READ at
         * EOF, RELEASE), a few microseconds apart.  Going back to
         * poll() between them costs a wake-up each, and a wake-up of a
         * task sleeping in poll() on an idle cpu costs 25-30 us on
         * these virtual machines (a pipe ping-pong: 2.5 us with the
         * peer blocked in read(), 29 us with it in poll()).  So we look
         * again for SPIN_US, yielding the cpu meanwhile (the reader
         * may be on ours): an open-read-close of /proc/meminfo here
         * took 215 us without this, 100 us with it. */
        if (r == -EAGAIN && i > 0) {
            gint64 now = g_get_monotonic_time();
            if (!until)
                until = now + SPIN_US;
            if (now < until) {
                sched_yield();
                i--;
                continue;
            }
        }
        if (r <= 0)
            break;
        until = 0;
        fuse_session_process_buf(fs->se, &fs->buf);
    }
}

static gboolean
on_readable(gint fd, GIOCondition cond, gpointer opaque)
{
    VsbCtlFuse *fs = opaque;

    vsb_ctl_fuse_process(fs);
    /* unmounted everywhere (the container is gone): nothing more */
    if (fuse_session_exited(fs->se) || (cond & (G_IO_ERR | G_IO_HUP))) {
        fs->watch = 0;
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

void
vsb_ctl_fuse_attach(VsbCtlFuse *fs)
{
    if (!fs->watch && !fuse_session_exited(fs->se))
        fs->watch = g_unix_fd_add(fuse_session_fd(fs->se), G_IO_IN | G_IO_ERR | G_IO_HUP,
                                  on_readable, fs);
}

void
vsb_ctl_fuse_free(VsbCtlFuse *fs)
{
    if (!fs)
        return;
    g_clear_handle_id(&fs->watch, g_source_remove);
    for (guint i = 0; i < fs->waiters->len; i++)
        g_free(g_ptr_array_index(fs->waiters, i));
    g_ptr_array_unref(fs->waiters);
    /* open handles' memory goes with the process; poll handles too */
    g_ptr_array_unref(fs->pollers);
    if (fs->se)
        fuse_session_destroy(fs->se);   /* closes the connection */
    if (fs->fd >= 0)
        close(fs->fd);
    vsb_ctl_fuse_release_mount(fs);
    free(fs->buf.mem);
    g_free(fs);
}
