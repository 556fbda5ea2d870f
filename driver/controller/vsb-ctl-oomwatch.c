/*
 * vsb-ctl-oomwatch.c: OOM kills of the container's tasks (see
 * vsb-ctl-oomwatch.h).
 */
#include <config.h>

#include "vsb-ctl-oomwatch.h"
#include "vsb-util.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

struct _VsbCtlOomWatch {
    char *dir;                /* payload in the memory hierarchy */
    char *memcg;              /* the same as the kernel names it: "/machine/x.virt-sandbox/payload" */
    bool v2;
    int fd;                   /* eventfd (v1) or inotify (v2) */
    guint watch;
    guint recheck;
    guint64 kills;            /* oom_kill counter seen so far */
    guint64 kmsg_seq;         /* host kernel log records read so far */
    gint64 since_usec;        /* host CLOCK_MONOTONIC at start */
    VsbCtlOomFn fn;
    gpointer opaque;
};

static guint64
read_counter(VsbCtlOomWatch *w)
{
    g_autofree char *path = g_build_filename(w->dir, w->v2 ? "memory.events" : "memory.oom_control",
                                             NULL);
    g_autofree char *text = NULL;
    const char *p;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return w->kills;
    p = strstr(text, "oom_kill ");
    if (!p || (p != text && p[-1] != '\n'))
        return w->kills;
    return g_ascii_strtoull(p + strlen("oom_kill "), NULL, 10);
}

static char *
limit_text(VsbCtlOomWatch *w)
{
    g_autofree char *path = g_build_filename(w->dir, w->v2 ? "memory.max" : "memory.limit_in_bytes",
                                             NULL);
    g_autofree char *text = NULL;
    guint64 v;

    if (!g_file_get_contents(path, &text, NULL, NULL) ||
        !g_ascii_string_to_unsigned(g_strstrip(text), 10, 0, G_MAXUINT64, &v, NULL))
        return g_strdup("none");
    return g_strdup_printf("%" G_GUINT64_FORMAT " kB", v / 1024);
}

/* "key=value" in a comma-separated kernel line */
static char *
field(const char *line, const char *key)
{
    g_autofree char *k = g_strdup_printf("%s=", key);
    const char *p = strstr(line, k);
    const char *end;

    while (p && p != line && p[-1] != ',' && p[-1] != ':')
        p = strstr(p + 1, k);
    if (!p)
        return NULL;
    p += strlen(k);
    end = strchr(p, ',');
    return g_strndup(p, end ? (gsize)(end - p) : strlen(p));
}

/* The host kernel's oom-kill lines about our cgroup since the last
 * look: "6,SEQ,USEC,-;oom-kill:...,oom_memcg=/x,task_memcg=/x,task=sh,pid=12,uid=0". */
static GPtrArray *
killed_tasks(VsbCtlOomWatch *w)
{
    GPtrArray *found = g_ptr_array_new_with_free_func(g_free);
    g_auto(VsbFd) fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    char rec[8192];

    if (fd < 0)
        return found;
    for (;;) {
        ssize_t n = read(fd, rec, sizeof(rec) - 1);
        guint64 seq, usec;
        char *text, *memcg;

        if (n < 0 && errno == EPIPE)
            continue;
        if (n <= 0)
            break;
        rec[n] = '\0';
        text = strchr(rec, ';');
        if (!text || sscanf(rec, "%*u,%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT, &seq, &usec) != 2)
            continue;
        text++;
        if (seq < w->kmsg_seq || (gint64)usec < w->since_usec ||
            !g_str_has_prefix(text, "oom-kill:"))
            continue;
        w->kmsg_seq = seq + 1;
        memcg = field(text, "oom_memcg");
        if (memcg && (g_str_equal(memcg, w->memcg) ||
                      (g_str_has_prefix(memcg, w->memcg) && memcg[strlen(w->memcg)] == '/'))) {
            g_autofree char *task = field(text, "task");
            g_autofree char *pid = field(text, "pid");
            g_ptr_array_add(found, g_strdup_printf("%s (host pid %s)", task ? task : "?",
                                                   pid ? pid : "?"));
        }
        g_free(memcg);
    }
    return found;
}

static gboolean on_recheck(gpointer opaque);

static void
check(VsbCtlOomWatch *w)
{
    guint64 now = read_counter(w);
    g_autoptr(GPtrArray) tasks = NULL;
    g_autofree char *limit = NULL;

    if (now <= w->kills) {
        /* v1 signals when the cgroup runs out of memory, before the
         * OOM killer has chosen: look again a little later */
        if (!w->v2 && !w->recheck)
            w->recheck = g_timeout_add(200, on_recheck, w);
        return;
    }
    tasks = killed_tasks(w);
    limit = limit_text(w);
    for (guint64 i = 0; i < now - w->kills; i++) {
        g_autofree char *text = g_strdup_printf(
            "Memory cgroup out of memory: Killed process %s, memory limit %s",
            i < tasks->len ? (char *)g_ptr_array_index(tasks, i) : "of the container", limit);
        w->fn(w->opaque, text);
    }
    w->kills = now;
}

static gboolean
on_recheck(gpointer opaque)
{
    VsbCtlOomWatch *w = opaque;

    w->recheck = 0;
    check(w);
    return G_SOURCE_REMOVE;
}

static gboolean
on_event(gint fd, GIOCondition cond, gpointer opaque)
{
    char buf[4096];

    while (read(fd, buf, sizeof(buf)) > 0)
        ;
    check(opaque);
    return G_SOURCE_CONTINUE;
}

static bool
watch_v1(VsbCtlOomWatch *w)
{
    g_autofree char *ctl = g_build_filename(w->dir, "cgroup.event_control", NULL);
    g_autofree char *oom = g_build_filename(w->dir, "memory.oom_control", NULL);
    g_autofree char *line = NULL;
    g_auto(VsbFd) ofd = open(oom, O_RDONLY | O_CLOEXEC);

    if (ofd < 0)
        return false;
    w->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->fd < 0)
        return false;
    /* the registration holds its own reference to both files */
    line = g_strdup_printf("%d %d", w->fd, ofd);
    return vsb_file_write_str(ctl, line, NULL);
}

static bool
watch_v2(VsbCtlOomWatch *w)
{
    g_autofree char *events = g_build_filename(w->dir, "memory.events", NULL);

    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    return w->fd >= 0 && inotify_add_watch(w->fd, events, IN_MODIFY) >= 0;
}

VsbCtlOomWatch *
vsb_ctl_oomwatch_new(VsbCgroup *cg, VsbCtlOomFn fn, gpointer opaque)
{
    g_autoptr(VsbCtlOomWatch) w = g_new0(VsbCtlOomWatch, 1);
    GPtrArray *hs = vsb_cgroup_get_hierarchies(cg);
    const VsbCgroupHierarchy *h = NULL;
    const char *dir;

    w->fd = -1;
    w->fn = fn;
    w->opaque = opaque;
    /* the kernel log's clock and ours may differ a little */
    w->since_usec = g_get_monotonic_time() - G_USEC_PER_SEC;
    for (guint i = 0; hs && i < hs->len && !h; i++) {
        const VsbCgroupHierarchy *c = g_ptr_array_index(hs, i);
        if (c->controllers && g_strv_contains((const char *const *)c->controllers, "memory"))
            h = c;
    }
    if (!h || !(dir = vsb_cgroup_hierarchy_payload_path(cg, h)))
        return NULL;
    w->dir = g_strdup(dir);
    w->v2 = h->version == VSB_CGROUP_VERSION_2;
    w->memcg = g_str_equal(h->mount_root, "/")
        ? g_strdup(dir + strlen(h->mount_point))
        : g_strconcat(h->mount_root, dir + strlen(h->mount_point), NULL);
    if (!(w->v2 ? watch_v2(w) : watch_v1(w)))
        return NULL;
    w->kills = read_counter(w);
    w->watch = g_unix_fd_add(w->fd, G_IO_IN, on_event, w);
    return g_steal_pointer(&w);
}

void
vsb_ctl_oomwatch_free(VsbCtlOomWatch *w)
{
    if (!w)
        return;
    g_clear_handle_id(&w->watch, g_source_remove);
    g_clear_handle_id(&w->recheck, g_source_remove);
    if (w->fd >= 0)
        close(w->fd);
    g_free(w->dir);
    g_free(w->memcg);
    g_free(w);
}
