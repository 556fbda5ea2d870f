/*
 * vsb-ctl-time.c: the container's time namespace (see vsb-ctl-time.h).
 */
#include <config.h>

#include "vsb-ctl-time.h"
#include "vsb-util.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
# define CLONE_NEWTIME 0x00000080
#endif

#define NSEC_PER_SEC 1000000000LL

static gint64
clock_ns(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (gint64)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

/* The offset that makes the namespace's clock read what @clk asks,
 * from the host's clock @id read now. */
static gint64
offset_for(const VsbDomainTimensClock *clk, clockid_t id)
{
    if (clk->mode == VSB_DOMAIN_TIMENS_OFFSET)
        return clk->ns;
    /* start (0 by default) at init's start: the few microseconds until
     * exec() keep the clock positive, as the kernel requires */
    return clk->ns - clock_ns(id);
}

/* "NAME SECONDS NANOSECONDS", nanoseconds in [0, 1e9) whatever the sign */
static void
append_offset(GString *buf, const char *name, gint64 off)
{
    gint64 sec = off / NSEC_PER_SEC;
    gint64 nsec = off % NSEC_PER_SEC;

    if (nsec < 0) {
        nsec += NSEC_PER_SEC;
        sec -= 1;
    }
    g_string_append_printf(buf, "%s %" G_GINT64_FORMAT " %" G_GINT64_FORMAT "\n", name, sec, nsec);
}

bool
vsb_ctl_time_setup(const VsbDomainDef *def, GError **error)
{
    g_autoptr(GString) offsets = g_string_new(NULL);
    g_auto(VsbFd) fd = -1;
    g_auto(VsbFd) ns = -1;
    int dumpable;
    bool asked = def->timens_monotonic.mode != VSB_DOMAIN_TIMENS_DEFAULT ||
                 def->timens_boottime.mode != VSB_DOMAIN_TIMENS_DEFAULT;

    if (unshare(CLONE_NEWTIME) < 0) {
        /* A kernel without time namespaces (before 5.6, or built
         * without them) still runs containers that ask for nothing. */
        if (errno == EINVAL && !asked)
            return true;
        return vsb_error_set_errno(error, errno, "Cannot create the container's time namespace");
    }
    append_offset(offsets, "monotonic", offset_for(&def->timens_monotonic, CLOCK_MONOTONIC));
    append_offset(offsets, "boottime", offset_for(&def->timens_boottime, CLOCK_BOOTTIME));
    /* Becoming root of a user namespace made us non-dumpable, which
     * gives our /proc/self files to the host's root: ours again for
     * this one write.  exec() sets dumpable afresh for init. */
    dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    if (dumpable == 0 && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
        return vsb_error_set_errno(error, errno, "Cannot make the container's setup dumpable");
    fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
    if (dumpable == 0)
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (fd < 0)
        return vsb_error_set_errno(error, errno, "Cannot open /proc/self/timens_offsets");
    if (write(fd, offsets->str, offsets->len) != (ssize_t)offsets->len) {
        /* ERANGE: an offset= would put a clock below 0 (or too far) */
        int errsv = errno;
        g_strchomp(offsets->str);
        g_strdelimit(offsets->str, "\n", ',');
        return vsb_error_set_errno(error, errsv, "Cannot set the container's clock offsets (%s)",
                                   offsets->str);
    }
    ns = open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC);
    if (ns < 0)
        return vsb_error_set_errno(error, errno, "Cannot open /proc/self/ns/time_for_children");
    if (setns(ns, CLONE_NEWTIME) < 0)
        return vsb_error_set_errno(error, errno, "Cannot enter the container's time namespace");
    return true;
}

void
vsb_ctl_time_read_offsets(pid_t pid, gint64 *monotonic_ns, gint64 *boottime_ns)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/timens_offsets", (int)pid);
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;

    *monotonic_ns = *boottime_ns = 0;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return;
    lines = g_strsplit(text, "\n", -1);
    for (size_t i = 0; lines[i]; i++) {
        char name[16];
        long long sec, nsec;

        if (sscanf(lines[i], "%15s %lld %lld", name, &sec, &nsec) != 3)
            continue;
        if (g_str_equal(name, "monotonic"))
            *monotonic_ns = sec * NSEC_PER_SEC + nsec;
        else if (g_str_equal(name, "boottime"))
            *boottime_ns = sec * NSEC_PER_SEC + nsec;
    }
}
