/*
 * vsb-ctl-procsrc.c: the inputs of the container's /proc views (see
 * vsb-ctl-procsrc.h).
 */
#include <config.h>

#include "vsb-ctl-procsrc.h"
#include "vsb-ctl-sysinfo.h"
#include "vsb-ctl-time.h"
#include "vsb-util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOAD_INTERVAL_S 5
/* A container with more threads than this has its load counted on
 * this many (the walk is per open of /proc/stat or /proc/loadavg). */
#define MAX_TASKS_SCANNED 65536
#define MAX_CGROUP_DEPTH 32
/* A view rendered less than this long ago is served again as it was:
 * a reader that opens the file over and over (top, a monitoring
 * agent, bench/proc-read) costs one render per period, not one per
 * open.  Far below anything the figures mean at: the kernel's own
 * load average moves every 5 s, /proc/stat counts in ticks of 4-10 ms,
 * and no tool samples memory faster. */
#define VIEW_CACHE_USEC 5000

typedef struct {
    int fd;               /* -1: not opened yet */
    bool absent;          /* does not exist here: never tried again */
    bool multi;           /* a seq_file of many records */
} CachedFile;

struct _VsbCtlProcSrc {
    VsbCgroup *cg;
    const char *v2_dir;   /* payload in the cgroup2 hierarchy, or NULL */
    GHashTable *files;    /* name -> CachedFile* */
    int proc_fd;          /* /proc, for /proc/TID/stat */
    GByteArray *buf;

    gint64 mono_offset_ns;
    gint64 boot_offset_ns;

    double load[3];
    gint64 load_at;       /* monotonic usec of the last sample, 0: not sampling */
    guint load_timer;

    struct {
        char *text;
        gint64 at;        /* monotonic usec of the render */
    } cache[VSB_PROC_VIEW_LAST];
};

static void
cached_file_free(CachedFile *f)
{
    if (f->fd >= 0)
        close(f->fd);
    g_free(f);
}

VsbCtlProcSrc *
vsb_ctl_procsrc_new(VsbCgroup *cg)
{
    VsbCtlProcSrc *src = g_new0(VsbCtlProcSrc, 1);
    GPtrArray *hs = vsb_cgroup_get_hierarchies(cg);

    src->cg = cg;
    src->files = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                       (GDestroyNotify)cached_file_free);
    src->proc_fd = -1;
    src->buf = g_byte_array_sized_new(4096);
    for (guint i = 0; hs && i < hs->len; i++) {
        VsbCgroupHierarchy *h = g_ptr_array_index(hs, i);
        if (h->version == VSB_CGROUP_VERSION_2)
            src->v2_dir = vsb_cgroup_hierarchy_payload_path(cg, h);
    }
    return src;
}

void
vsb_ctl_procsrc_free(VsbCtlProcSrc *src)
{
    if (!src)
        return;
    g_clear_handle_id(&src->load_timer, g_source_remove);
    for (int v = 0; v < VSB_PROC_VIEW_LAST; v++)
        g_free(src->cache[v].text);
    g_hash_table_unref(src->files);
    if (src->proc_fd >= 0)
        close(src->proc_fd);
    g_byte_array_unref(src->buf);
    g_free(src);
}

static void load_start(VsbCtlProcSrc *src);

void
vsb_ctl_procsrc_set_clocks(VsbCtlProcSrc *src, pid_t init_pid)
{
    vsb_ctl_time_read_offsets(init_pid, &src->mono_offset_ns, &src->boot_offset_ns);
}

void
vsb_ctl_procsrc_set_init(VsbCtlProcSrc *src, pid_t init_pid)
{
    vsb_ctl_procsrc_set_clocks(src, init_pid);
    load_start(src);
}

static gint64
clock_ns(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (gint64)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

guint64
vsb_ctl_procsrc_monotonic_usec(VsbCtlProcSrc *src)
{
    gint64 ns = clock_ns(CLOCK_MONOTONIC) + src->mono_offset_ns;

    return ns > 0 ? (guint64)ns / 1000 : 0;
}

/* ------------------------------------------------------------------ */
/* Files                                                               */

/* The directory holding @name: the payload cgroup in the hierarchy
 * of the controller the name starts with ("memory.max" -> memory), the
 * cgroup2 one for core files (pressure, cgroup.*), or the host. */
static char *
path_of(VsbCtlProcSrc *src, const char *name)
{
    static const char *const host[][2] = {
        { "host/meminfo", "/proc/meminfo" },
        { "host/stat", "/proc/stat" },
        { "host/cpuinfo", "/proc/cpuinfo" },
        { "host/diskstats", "/proc/diskstats" },
        { "host/online", "/sys/devices/system/cpu/online" },
    };
    g_autofree char *controller = NULL;
    const char *dir = NULL;
    const char *dot = strchr(name, '.');

    for (size_t i = 0; i < G_N_ELEMENTS(host); i++)
        if (g_str_equal(name, host[i][0]))
            return g_strdup(host[i][1]);
    if (!dot)
        return NULL;
    if (g_str_has_suffix(name, ".pressure") || g_str_has_prefix(name, "cgroup.")) {
        dir = src->v2_dir;
    } else {
        controller = g_strndup(name, dot - name);
        dir = vsb_cgroup_payload_path(src->cg, controller);
        /* cpu.stat is a core file of cgroup2, there without the cpu
         * controller */
        if (!dir && g_str_equal(name, "cpu.stat"))
            dir = src->v2_dir;
    }
    return dir ? g_build_filename(dir, name, NULL) : NULL;
}

static CachedFile *
cached_file(VsbCtlProcSrc *src, const char *name)
{
    CachedFile *f = g_hash_table_lookup(src->files, name);
    g_autofree char *path = NULL;

    if (f)
        return f;
    f = g_new0(CachedFile, 1);
    f->fd = -1;
    f->multi = g_str_equal(name, "host/cpuinfo") || g_str_equal(name, "host/diskstats") ||
               g_str_equal(name, "host/stat");
    g_hash_table_insert(src->files, g_strdup(name), f);
    path = path_of(src, name);
    if (path)
        f->fd = open(path, O_RDONLY | O_CLOEXEC);
    /* a v1 name on v2 (or the other way round), a controller this host
     * lacks: it will not appear later */
    if (f->fd < 0)
        f->absent = true;
    return f;
}

/* The whole file, generated afresh: pread() at offset 0 restarts the
 * kernel's seq_file. */
static char *
read_cached(VsbCtlProcSrc *src, const char *name)
{
    CachedFile *f = cached_file(src, name);
    gsize len = 0;

    if (f->absent)
        return NULL;
    for (;;) {
        ssize_t n;

        if (src->buf->len < len + 4096)
            g_byte_array_set_size(src->buf, len + 4096);
        n = pread(f->fd, src->buf->data + len, src->buf->len - len, (off_t)len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return NULL;
        if (n == 0)
            break;
        len += n;
        /* A file shown by one call (cgroup files, /proc/meminfo) comes
         * whole from a big enough read: a short read is its end, no
         * second pread() needed.  Files of many records (cpuinfo, one
         * per cpu; diskstats) come a page at a time. */
        if (!f->multi && (gsize)n < src->buf->len - (len - n))
            break;
    }
    return g_strndup((const char *)src->buf->data, len);
}

bool
vsb_ctl_procsrc_available(VsbCtlProcSrc *src, VsbProcView view)
{
    switch (view) {
    case VSB_PROC_VIEW_PRESSURE_CPU:
    case VSB_PROC_VIEW_PRESSURE_MEMORY:
    case VSB_PROC_VIEW_PRESSURE_IO:
    case VSB_PROC_VIEW_PRESSURE_IRQ:
        return !cached_file(src, vsb_proc_view_inputs(view)[0])->absent;
    case VSB_PROC_VIEW_LAST:
        return false;
    default:
        return true;
    }
}

/* ------------------------------------------------------------------ */
/* Tasks                                                               */

static char
task_state(VsbCtlProcSrc *src, const char *tid)
{
    char path[64], buf[512];
    g_auto(VsbFd) fd = -1;
    ssize_t n;
    char *paren;

    g_snprintf(path, sizeof(path), "%s/stat", tid);
    fd = openat(src->proc_fd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    /* "TID (COMM) S ...": COMM may hold anything, ')' included */
    paren = strrchr(buf, ')');
    return paren && paren[1] == ' ' ? paren[2] : 0;
}

/* The container's number of host pid @tid (last field of NSpid). */
static guint
task_ns_pid(VsbCtlProcSrc *src, guint tid)
{
    char path[64], buf[2048];
    g_auto(VsbFd) fd = -1;
    ssize_t n;
    char *line, *end, *last;

    g_snprintf(path, sizeof(path), "%u/status", tid);
    fd = openat(src->proc_fd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    line = strstr(buf, "\nNSpid:");
    if (!line)
        return 0;
    end = strchr(line + 1, '\n');
    if (end)
        *end = '\0';
    last = strrchr(line, '\t');
    if (!last)
        last = strrchr(line, ' ');
    return last ? (guint)strtoul(last + 1, NULL, 10) : 0;
}

/* Threads of the cgroup at @dirfd and below: v1 lists them in
 * "tasks", v2 in "cgroup.threads".  Their states (running, blocked:
 * one /proc read per thread) only when @states. */
static void
scan_cgroup(VsbCtlProcSrc *src, int dirfd, int depth, bool states, VsbProcTasks *t,
            guint *max_tid)
{
    g_auto(VsbFd) fd = openat(dirfd, "cgroup.threads", O_RDONLY | O_CLOEXEC);
    g_autofree char *text = NULL;
    DIR *dir;
    struct dirent *de;
    int dupfd;

    if (fd < 0)
        fd = openat(dirfd, "tasks", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        GString *s = g_string_new(NULL);
        char chunk[4096];
        ssize_t n;
        while ((n = read(fd, chunk, sizeof(chunk))) > 0)
            g_string_append_len(s, chunk, n);
        text = g_string_free(s, FALSE);
    }
    for (char *p = text; p && *p && t->threads < MAX_TASKS_SCANNED;) {
        char *nl = strchr(p, '\n');
        guint tid;
        char st;

        if (nl)
            *nl = '\0';
        tid = (guint)strtoul(p, NULL, 10);
        if (tid && !states) {
            t->threads++;
        } else if (tid) {
            t->threads++;
            st = task_state(src, p);
            if (st == 'R')
                t->running++;
            else if (st == 'D')
                t->blocked++;
            if (tid > *max_tid)
                *max_tid = tid;
        }
        p = nl ? nl + 1 : NULL;
    }
    if (depth >= MAX_CGROUP_DEPTH)
        return;
    /* cgroups the container made below its own */
    dupfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dupfd < 0 || !(dir = fdopendir(dupfd))) {
        if (dupfd >= 0)
            close(dupfd);
        return;
    }
    while ((de = readdir(dir))) {
        g_auto(VsbFd) sub = -1;
        if (de->d_type != DT_DIR || de->d_name[0] == '.')
            continue;
        sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (sub >= 0)
            scan_cgroup(src, sub, depth + 1, states, t, max_tid);
    }
    closedir(dir);
}

guint
vsb_ctl_procsrc_ns_pid(VsbCtlProcSrc *src, pid_t pid)
{
    if (src->proc_fd < 0)
        src->proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
    return src->proc_fd >= 0 ? task_ns_pid(src, (guint)pid) : 0;
}

static void
scan_tasks(VsbCtlProcSrc *src, bool states, VsbProcTasks *t)
{
    const char *dir = vsb_cgroup_payload_path(src->cg, "pids");
    g_auto(VsbFd) dirfd = -1;
    guint max_tid = 0;

    memset(t, 0, sizeof(*t));
    if (!dir)
        dir = vsb_cgroup_payload_path(src->cg, "cpu");
    if (!dir)
        dir = src->v2_dir;
    if (!dir)
        return;
    if (src->proc_fd < 0)
        src->proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
    dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0 || src->proc_fd < 0)
        return;
    scan_cgroup(src, dirfd, 0, states, t, &max_tid);
    /* pids rise in a namespace as on the host: the newest host pid is
     * the container's newest (one more read instead of one per task) */
    if (max_tid)
        t->last_pid = task_ns_pid(src, max_tid);
}

/* ------------------------------------------------------------------ */
/* Load average                                                        */

static void
load_sample(VsbCtlProcSrc *src, guint running)
{
    gint64 now = g_get_monotonic_time();

    if (src->load_at)
        vsb_proc_load_update(src->load, running, (now - src->load_at) / (double)G_USEC_PER_SEC);
    src->load_at = now;
}

static gboolean
on_load_timer(gpointer opaque)
{
    VsbCtlProcSrc *src = opaque;
    VsbProcTasks t;

    scan_tasks(src, true, &t);
    load_sample(src, t.running);
    return G_SOURCE_CONTINUE;
}

/* From the container's start, as the kernel counts from boot: a
 * container busy since it started shows it at its first look. */
static void
load_start(VsbCtlProcSrc *src)
{
    VsbProcTasks t;

    if (src->load_timer)
        return;
    scan_tasks(src, true, &t);
    load_sample(src, t.running);
    src->load_timer = g_timeout_add_seconds(LOAD_INTERVAL_S, on_load_timer, src);
}

/* ------------------------------------------------------------------ */

static char *
render(VsbCtlProcSrc *src, VsbProcView view)
{
    g_autoptr(GHashTable) files = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
    VsbProcInputs in = { .files = files };

    for (const char *const *n = vsb_proc_view_inputs(view); *n; n++) {
        char *text = read_cached(src, *n);
        if (text)
            g_hash_table_insert(files, (gpointer)*n, text);
    }
    if (view == VSB_PROC_VIEW_STAT || view == VSB_PROC_VIEW_LOADAVG) {
        gint64 boot = clock_ns(CLOCK_BOOTTIME) + src->boot_offset_ns;

        scan_tasks(src, true, &in.tasks);
        memcpy(in.load, src->load, sizeof(in.load));
        in.uptime_ns = boot > 0 ? (guint64)boot : 0;
        in.btime = (clock_ns(CLOCK_REALTIME) - boot) / 1000000000LL;
    }
    return vsb_proc_render(view, &in);
}

char *
vsb_ctl_procsrc_render(VsbCtlProcSrc *src, VsbProcView view)
{
    gint64 now = g_get_monotonic_time();

    if (view < 0 || view >= VSB_PROC_VIEW_LAST)
        return NULL;
    /* no text kept past its period: a big view (cpuinfo of many cpus)
     * read once does not stay in the controller's memory */
    for (int v = 0; v < VSB_PROC_VIEW_LAST; v++)
        if (v != (int)view && src->cache[v].text && now - src->cache[v].at >= VIEW_CACHE_USEC)
            g_clear_pointer(&src->cache[v].text, g_free);
    if (!src->cache[view].text || now - src->cache[view].at >= VIEW_CACHE_USEC) {
        char *text = render(src, view);
        /* inputs that could not be read: no stale text either */
        g_free(src->cache[view].text);
        src->cache[view].text = text;
        src->cache[view].at = now;
        if (!text)
            return NULL;
    }
    return g_strdup(src->cache[view].text);
}

bool
vsb_ctl_procsrc_sysinfo(VsbCtlProcSrc *src, struct sysinfo *si)
{
    g_autoptr(GHashTable) files = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
    VsbProcInputs in = { .files = files };
    gint64 boot = clock_ns(CLOCK_BOOTTIME) + src->boot_offset_ns;

    for (const char *const *n = vsb_proc_view_inputs(VSB_PROC_VIEW_MEMINFO); *n; n++) {
        char *text = read_cached(src, *n);
        if (text)
            g_hash_table_insert(files, (gpointer)*n, text);
    }
    /* sysinfo(2) counts threads only: no state to read per thread
     * (programs call it at start-up, through sysconf()) */
    scan_tasks(src, false, &in.tasks);
    memcpy(in.load, src->load, sizeof(in.load));
    in.uptime_ns = boot > 0 ? (guint64)boot : 0;
    return vsb_sysinfo_fill(&in, si);
}
