/*
 * vsb-ctl-sysinfo.c: sysinfo(2) answered for the container (see
 * vsb-ctl-sysinfo.h).
 */
#include <config.h>

#include "vsb-ctl-sysinfo.h"
#include "vsb-util.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#elif defined(__i386__)
#define NATIVE_ARCH AUDIT_ARCH_I386
#else
#error "sysinfo(2) emulation: unknown native architecture"
#endif

/* SI_LOAD_SHIFT of the kernel: loads are fixed point, 16 bits of
 * fraction. */
#define LOAD_ONE (1 << 16)

/* ------------------------------------------------------------------ */
/* Pure                                                                */

bool
vsb_sysinfo_fill(const VsbProcInputs *in, struct sysinfo *si)
{
    VsbProcMemory m;

    if (!vsb_proc_memory(in, &m))
        return false;
    memset(si, 0, sizeof(*si));
    /* whole seconds rounded up, as the kernel does (a container that
     * started a moment ago has been up 1 s, not 0) */
    si->uptime = (long)((in->uptime_ns + 999999999ULL) / 1000000000ULL);
    for (int i = 0; i < 3; i++)
        si->loads[i] = (unsigned long)(in->load[i] * LOAD_ONE + 0.5);
    si->totalram = m.total;
    si->freeram = m.free;
    si->sharedram = m.shared;
    si->bufferram = m.buffers;
    si->totalswap = m.swap_total;
    si->freeswap = m.swap_free;
    si->procs = (unsigned short)MIN(in->tasks.threads, (guint)G_MAXUINT16);
    si->mem_unit = 1;
    return true;
}

void
vsb_sysinfo_to_compat(const struct sysinfo *si, VsbSysinfo32 *out)
{
    guint64 unit = si->mem_unit ? si->mem_unit : 1;
    guint shift = 0;

    memset(out, 0, sizeof(*out));
    /* the largest figures are the totals: make them fit 32 bits by
     * counting in bigger units */
    while (((guint64)si->totalram >> shift) > G_MAXUINT32 ||
           ((guint64)si->totalswap >> shift) > G_MAXUINT32)
        shift++;
    out->uptime = (gint32)MIN(si->uptime, (long)G_MAXINT32);
    for (int i = 0; i < 3; i++)
        out->loads[i] = (guint32)MIN(si->loads[i], (unsigned long)G_MAXUINT32);
    out->totalram = (guint32)(si->totalram >> shift);
    out->freeram = (guint32)(si->freeram >> shift);
    out->sharedram = (guint32)(si->sharedram >> shift);
    out->bufferram = (guint32)(si->bufferram >> shift);
    out->totalswap = (guint32)(si->totalswap >> shift);
    out->freeswap = (guint32)(si->freeswap >> shift);
    out->procs = si->procs;
    out->mem_unit = (guint32)(unit << shift);
}

/* ------------------------------------------------------------------ */
/* Controller side                                                     */

struct _VsbCtlSysinfo {
    int fd;
    VsbCtlSysinfoFillFn fill;
    gpointer opaque;
    guint watch;
};

VsbCtlSysinfo *
vsb_ctl_sysinfo_new(int listener_fd, VsbCtlSysinfoFillFn fill, gpointer opaque)
{
    VsbCtlSysinfo *s = g_new0(VsbCtlSysinfo, 1);

    s->fd = listener_fd;
    s->fill = fill;
    s->opaque = opaque;
    return s;
}

int
vsb_ctl_sysinfo_fd(VsbCtlSysinfo *s)
{
    return s->fd;
}

static void
reply(VsbCtlSysinfo *s, guint64 id, int err, guint32 flags)
{
    struct seccomp_notif_resp resp = { .id = id, .error = err ? -err : 0, .flags = flags };

    /* ENOENT: the caller is gone (killed while it waited): nobody to
     * answer */
    while (ioctl(s->fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0 && errno == EINTR)
        ;
}

/* Write @data into the caller's memory, at the call's pointer: 0, or
 * the errno the call fails with; -1 when the call is gone. */
static int
write_answer(VsbCtlSysinfo *s, const struct seccomp_notif *req, const void *data, size_t len)
{
    char path[64];
    g_auto(VsbFd) mem = -1;
    guint64 id = req->id;
    ssize_t n;

    g_snprintf(path, sizeof(path), "/proc/%u/mem", req->pid);
    mem = open(path, O_WRONLY | O_CLOEXEC);
    /* The pid may have been reused between the notification and the
     * open: only a call still waiting proves that @mem is its
     * caller's memory (a dead caller's pid is not reused while the
     * call waits, and its call is invalid once it died). */
    if (ioctl(s->fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) < 0)
        return -1;
    if (mem < 0)
        return EFAULT;
    n = pwrite(mem, data, len, (off_t)req->data.args[0]);
    return n == (ssize_t)len ? 0 : EFAULT;
}

void
vsb_ctl_sysinfo_process(VsbCtlSysinfo *s)
{
    struct seccomp_notif req;
    struct sysinfo si;
    VsbSysinfo32 si32;
    const void *data = &si;
    size_t len = sizeof(si);
    int err;

    memset(&req, 0, sizeof(req));
    if (ioctl(s->fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
        /* ENOENT: its caller was killed since poll() saw it */
        return;
    if (req.data.arch != NATIVE_ARCH
#if defined(__x86_64__)
        && req.data.arch != AUDIT_ARCH_I386
#endif
       ) {
        /* an architecture whose layout we do not know: the kernel
         * answers (the host's figures) */
        reply(s, req.id, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
        return;
    }
    if (!s->fill(s->opaque, &si)) {
        reply(s, req.id, EIO, 0);
        return;
    }
    if (req.data.arch != NATIVE_ARCH) {
        vsb_sysinfo_to_compat(&si, &si32);
        data = &si32;
        len = sizeof(si32);
    }
    err = write_answer(s, &req, data, len);
    if (err >= 0)
        reply(s, req.id, err, 0);
}

static gboolean
on_readable(gint fd, GIOCondition cond, gpointer opaque)
{
    VsbCtlSysinfo *s = opaque;

    if (cond & G_IO_IN)
        vsb_ctl_sysinfo_process(s);
    /* every task of the filter is gone */
    if (cond & (G_IO_HUP | G_IO_ERR)) {
        s->watch = 0;
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

void
vsb_ctl_sysinfo_attach(VsbCtlSysinfo *s)
{
    if (!s->watch)
        s->watch = g_unix_fd_add(s->fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_readable, s);
}

void
vsb_ctl_sysinfo_free(VsbCtlSysinfo *s)
{
    if (!s)
        return;
    g_clear_handle_id(&s->watch, g_source_remove);
    if (s->fd >= 0)
        close(s->fd);
    g_free(s);
}
