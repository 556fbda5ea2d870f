/*
 * vsb-cgroup-stats.c: a payload's usage from its cgroup files (see
 * vsb-cgroup-stats.h).  File formats: Documentation/admin-guide/
 * cgroup-v2.rst (memory.stat, memory.events, cpu.stat, io.stat) and
 * cgroup-v1/{memory,cpuacct,blkio-controller}.rst.
 */
#include <config.h>
#include "vsb-cgroup-stats.h"
#include "vsb-util.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Pure parsers                                                        */

bool
vsb_cgroup_keyed_value(const char *text, const char *key, guint64 *value)
{
    size_t klen = strlen(key);

    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');

        if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
            const char *num = line + klen + 1;
            char *rest = NULL;
            guint64 v = g_ascii_strtoull(num, &rest, 10);

            /* A field we do not know how to read is as good as absent. */
            if (rest == num || (*rest && *rest != '\n'))
                return false;
            *value = v;
            return true;
        }
        line = end ? end + 1 : NULL;
    }
    return false;
}

static bool
parse_u64(const char *s, guint64 *v)
{
    return g_ascii_string_to_unsigned(s, 10, 0, G_MAXUINT64, v, NULL);
}

/* A device field: "MAJ:MIN". */
static bool
is_dev(const char *s)
{
    const char *colon = strchr(s, ':');

    return colon && colon > s && strspn(s, "0123456789") == (size_t)(colon - s) &&
           colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1);
}

bool
vsb_cgroup_parse_io_stat(const char *text, VsbCgroupIoTotals *t, GError **error)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

    memset(t, 0, sizeof(*t));
    for (guint ln = 0; lines[ln]; ln++) {
        g_auto(GStrv) f = NULL;

        if (!lines[ln][0])
            continue;
        f = g_strsplit(lines[ln], " ", -1);
        if (!is_dev(f[0]))
            goto bad;
        for (guint i = 1; f[i]; i++) {
            static const struct {
                const char *key;
                size_t offset;
            } keys[] = {
                { "rbytes", G_STRUCT_OFFSET(VsbCgroupIoTotals, read_bytes) },
                { "wbytes", G_STRUCT_OFFSET(VsbCgroupIoTotals, write_bytes) },
                { "rios", G_STRUCT_OFFSET(VsbCgroupIoTotals, read_ops) },
                { "wios", G_STRUCT_OFFSET(VsbCgroupIoTotals, write_ops) },
            };
            const char *eq = strchr(f[i], '=');
            g_autofree char *key = NULL;
            guint64 v;

            if (!f[i][0])
                continue;
            if (!eq)
                goto bad;
            key = g_strndup(f[i], eq - f[i]);
            /* Others (dbytes, dios, and iocost's cost.* which are not
             * all integers) are not I/O the container asked for. */
            for (guint k = 0; k < G_N_ELEMENTS(keys); k++) {
                if (!g_str_equal(key, keys[k].key))
                    continue;
                if (!parse_u64(eq + 1, &v))
                    goto bad;
                G_STRUCT_MEMBER(guint64, t, keys[k].offset) += v;
            }
        }
        continue;
    bad:
        g_set_error(error, VSB_ERROR, VSB_ERROR_FAILED,
                    "Malformed io.stat line %u: '%s'", ln + 1, lines[ln]);
        return false;
    }
    return true;
}

bool
vsb_cgroup_parse_blkio_v1(const char *text, bool ops, VsbCgroupIoTotals *t, GError **error)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

    for (guint ln = 0; lines[ln]; ln++) {
        g_auto(GStrv) f = NULL;
        guint64 v;

        if (!lines[ln][0])
            continue;
        f = g_strsplit(lines[ln], " ", -1);
        /* The closing "Total N" sums every device's Total. */
        if (g_strv_length(f) == 2 && g_str_equal(f[0], "Total") && parse_u64(f[1], &v))
            continue;
        if (g_strv_length(f) != 3 || !is_dev(f[0]) || !parse_u64(f[2], &v)) {
            g_set_error(error, VSB_ERROR, VSB_ERROR_FAILED,
                        "Malformed blkio statistics line %u: '%s'", ln + 1, lines[ln]);
            return false;
        }
        /* Sync/Async/Discard/Total overlap Read and Write. */
        if (g_str_equal(f[1], "Read"))
            *(ops ? &t->read_ops : &t->read_bytes) += v;
        else if (g_str_equal(f[1], "Write"))
            *(ops ? &t->write_ops : &t->write_bytes) += v;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* Reading                                                             */

static char *
read_opt(const char *dir, const char *name)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);

    return vsb_file_read_all(path, NULL, NULL);
}

static char *
read_req(const char *dir, const char *name, GError **error)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);

    return vsb_file_read_all(path, NULL, error);
}

/* A file holding one number ("max" = unlimited; v1 shows unlimited
 * as the largest page-aligned long). */
static bool
read_num(const char *dir, const char *name, bool required, guint64 *value, GError **error)
{
    g_autofree char *text = required ? read_req(dir, name, error) : read_opt(dir, name);

    if (!text)
        return false;
    g_strstrip(text);
    if (g_str_equal(text, "max")) {
        *value = VSB_CGROUP_UNLIMITED;
        return true;
    }
    if (!parse_u64(text, value)) {
        if (required)
            g_set_error(error, VSB_ERROR, VSB_ERROR_FAILED,
                        "Cannot parse %s/%s: '%s' is not a number", dir, name, text);
        return false;
    }
    return true;
}

static guint64
v1_limit(guint64 n)
{
    return n >= (guint64)G_MAXINT64 - 4096 ? VSB_CGROUP_UNLIMITED : n;
}

/* Keyed value of a file read before, naming it if missing. */
static bool
keyed_req(const char *text, const char *dir, const char *name, const char *key,
          guint64 *value, GError **error)
{
    if (vsb_cgroup_keyed_value(text, key, value))
        return true;
    g_set_error(error, VSB_ERROR, VSB_ERROR_FAILED, "No '%s' in %s/%s", key, dir, name);
    return false;
}

static bool
read_cpu(const char *dir, bool v2, VsbCgroupStats *st, GError **error)
{
    g_autofree char *text = NULL;

    if (v2) {
        guint64 total, user, sys;

        if (!(text = read_req(dir, "cpu.stat", error)) ||
            !keyed_req(text, dir, "cpu.stat", "usage_usec", &total, error) ||
            !keyed_req(text, dir, "cpu.stat", "user_usec", &user, error) ||
            !keyed_req(text, dir, "cpu.stat", "system_usec", &sys, error))
            return false;
        st->cpu_total_ns = total * 1000;
        st->cpu_user_ns = user * 1000;
        st->cpu_system_ns = sys * 1000;
        return true;
    }
    if (!read_num(dir, "cpuacct.usage", true, &st->cpu_total_ns, error))
        return false;
    /* In ns since Linux 4.6; cpuacct.stat counts USER_HZ ticks. */
    if (read_num(dir, "cpuacct.usage_user", false, &st->cpu_user_ns, NULL) &&
        read_num(dir, "cpuacct.usage_sys", false, &st->cpu_system_ns, NULL))
        return true;
    {
        guint64 user, sys;
        long hz = sysconf(_SC_CLK_TCK);

        if (!(text = read_req(dir, "cpuacct.stat", error)) ||
            !keyed_req(text, dir, "cpuacct.stat", "user", &user, error) ||
            !keyed_req(text, dir, "cpuacct.stat", "system", &sys, error))
            return false;
        if (hz <= 0)
            hz = 100;
        st->cpu_user_ns = user * (G_GUINT64_CONSTANT(1000000000) / (guint64)hz);
        st->cpu_system_ns = sys * (G_GUINT64_CONSTANT(1000000000) / (guint64)hz);
    }
    return true;
}

static bool
read_memory_v2(const char *dir, VsbCgroupStats *st, GError **error)
{
    g_autofree char *stat = NULL;
    g_autofree char *events = NULL;
    guint64 v = 0;

    if (!read_num(dir, "memory.current", true, &st->mem_usage_bytes, error) ||
        !read_num(dir, "memory.max", true, &st->mem_limit_bytes, error) ||
        !(stat = read_req(dir, "memory.stat", error)) ||
        !keyed_req(stat, dir, "memory.stat", "anon", &st->mem_anon_bytes, error) ||
        !keyed_req(stat, dir, "memory.stat", "file", &st->mem_file_bytes, error) ||
        !keyed_req(stat, dir, "memory.stat", "inactive_file", &st->mem_reclaimable_bytes, error))
        return false;
    if (vsb_cgroup_keyed_value(stat, "slab_reclaimable", &v))
        st->mem_reclaimable_bytes += v;
    read_num(dir, "memory.swap.current", false, &st->mem_swap_bytes, NULL);
    /* Hierarchical (unless mounted with memory_localevents): nested
     * cgroups of the container count too. */
    if ((events = read_opt(dir, "memory.events"))) {
        vsb_cgroup_keyed_value(events, "oom_kill", &st->mem_oom_kills);
        vsb_cgroup_keyed_value(events, "max", &st->mem_failcnt);
    }
    st->have |= VSB_CGROUP_STAT_MEMORY;

    /* "kernel" (Linux 5.18) sums every kernel allocation charged; before
     * it, add up the parts memory.stat had. */
    if (vsb_cgroup_keyed_value(stat, "kernel", &st->kmem_bytes)) {
        st->have |= VSB_CGROUP_STAT_KMEM;
    } else {
        static const char *const parts[] = { "slab", "kernel_stack", "pagetables", "sock" };

        for (guint i = 0; i < G_N_ELEMENTS(parts); i++) {
            if (vsb_cgroup_keyed_value(stat, parts[i], &v)) {
                st->kmem_bytes += v;
                st->have |= VSB_CGROUP_STAT_KMEM;
            }
        }
    }
    vsb_cgroup_keyed_value(stat, "slab", &st->kmem_slab_bytes);
    vsb_cgroup_keyed_value(stat, "sock", &st->kmem_sock_bytes);
    return true;
}

static bool
read_memory_v1(const char *dir, VsbCgroupStats *st, GError **error)
{
    g_autofree char *stat = NULL;
    g_autofree char *oom = NULL;
    guint64 limit, memsw;

    if (!read_num(dir, "memory.usage_in_bytes", true, &st->mem_usage_bytes, error) ||
        !read_num(dir, "memory.limit_in_bytes", true, &limit, error) ||
        !read_num(dir, "memory.failcnt", true, &st->mem_failcnt, error) ||
        !(stat = read_req(dir, "memory.stat", error)) ||
        !keyed_req(stat, dir, "memory.stat", "total_rss", &st->mem_anon_bytes, error) ||
        !keyed_req(stat, dir, "memory.stat", "total_cache", &st->mem_file_bytes, error) ||
        !keyed_req(stat, dir, "memory.stat", "total_inactive_file",
                   &st->mem_reclaimable_bytes, error))
        return false;
    st->mem_limit_bytes = v1_limit(limit);
    /* memsw counts memory + swap; absent without swap accounting. */
    if (read_num(dir, "memory.memsw.usage_in_bytes", false, &memsw, NULL) &&
        memsw > st->mem_usage_bytes)
        st->mem_swap_bytes = memsw - st->mem_usage_bytes;
    /* "oom_kill" since Linux 4.13. */
    if ((oom = read_opt(dir, "memory.oom_control")))
        vsb_cgroup_keyed_value(oom, "oom_kill", &st->mem_oom_kills);
    st->have |= VSB_CGROUP_STAT_MEMORY;

    /* Kernel memory is in usage_in_bytes already; kmem.usage_in_bytes
     * is its share, TCP buffers apart in kmem.tcp. */
    if (read_num(dir, "memory.kmem.usage_in_bytes", false, &st->kmem_bytes, NULL)) {
        st->have |= VSB_CGROUP_STAT_KMEM;
        vsb_cgroup_keyed_value(stat, "slab", &st->kmem_slab_bytes);
        read_num(dir, "memory.kmem.tcp.usage_in_bytes", false, &st->kmem_sock_bytes, NULL);
    }
    return true;
}

static bool
read_pids(const char *dir, VsbCgroupStats *st, GError **error)
{
    if (!read_num(dir, "pids.current", true, &st->pids_current, error) ||
        !read_num(dir, "pids.max", true, &st->pids_max, error))
        return false;
    st->have |= VSB_CGROUP_STAT_PIDS;
    return true;
}

static bool
read_io(const char *dir, bool v2, VsbCgroupStats *st, GError **error)
{
    VsbCgroupIoTotals t = { 0 };

    if (v2) {
        g_autofree char *text = read_req(dir, "io.stat", error);

        if (!text || !vsb_cgroup_parse_io_stat(text, &t, error)) {
            g_prefix_error(error, "%s: ", dir);
            return false;
        }
    } else {
        /* The throttling layer counts I/O of every device that has (or
         * had) a throttle; BFQ counts I/O of devices it schedules.  Each
         * sees only part of it: take the larger. */
        static const char *const prefixes[] = { "blkio.throttle.", "blkio.bfq." };
        bool any = false;

        for (guint i = 0; i < G_N_ELEMENTS(prefixes); i++) {
            VsbCgroupIoTotals one = { 0 };
            bool ok = true;

            for (int ops = 0; ok && ops <= 1; ops++) {
                g_autofree char *name = g_strconcat(prefixes[i], ops ? "io_serviced"
                                                    : "io_service_bytes", "_recursive", NULL);
                g_autofree char *text = read_opt(dir, name);

                /* The non-recursive files predate _recursive (Linux 4.4). */
                if (!text) {
                    name[strlen(name) - strlen("_recursive")] = '\0';
                    text = read_opt(dir, name);
                }
                if (!text) {
                    ok = false;
                } else if (!vsb_cgroup_parse_blkio_v1(text, ops, &one, error)) {
                    g_prefix_error(error, "%s/%s: ", dir, name);
                    return false;
                }
            }
            if (!ok)
                continue;
            any = true;
            if (one.read_bytes + one.write_bytes > t.read_bytes + t.write_bytes)
                t = one;
        }
        if (!any) {
            g_set_error(error, VSB_ERROR, VSB_ERROR_FAILED,
                        "No blkio statistics in %s (neither blkio.throttle.io_service_bytes "
                        "nor blkio.bfq.io_service_bytes)", dir);
            return false;
        }
    }
    st->io_read_bytes = t.read_bytes;
    st->io_write_bytes = t.write_bytes;
    st->io_read_ops = t.read_ops;
    st->io_write_ops = t.write_ops;
    st->have |= VSB_CGROUP_STAT_IO;
    return true;
}

bool
vsb_cgroup_stats_read(const VsbCgroupStatDirs *dirs, VsbCgroupStats *st, GError **error)
{
    memset(st, 0, sizeof(*st));
    if (dirs->cpu_dir) {
        if (!read_cpu(dirs->cpu_dir, dirs->cpu_v2, st, error))
            return false;
        st->have |= VSB_CGROUP_STAT_CPU;
    }
    if (dirs->memory_dir &&
        !(dirs->memory_v2 ? read_memory_v2 : read_memory_v1)(dirs->memory_dir, st, error))
        return false;
    if (dirs->pids_dir && !read_pids(dirs->pids_dir, st, error))
        return false;
    if (dirs->io_dir && !read_io(dirs->io_dir, dirs->io_v2, st, error))
        return false;
    return true;
}
