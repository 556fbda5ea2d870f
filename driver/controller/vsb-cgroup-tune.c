/*
 * vsb-cgroup-tune.c: a running domain's payload cgroups, from the
 * daemon (see vsb-cgroup-tune.h).
 */
#include <config.h>
#include "vsb-cgroup-tune.h"
#include "vsb-cgroup.h"
#include "vsb-cgroup-limits.h"
#include "vsb-cgroup-stats.h"
#include "vsb-util.h"

#include <errno.h>
#include <string.h>

struct _VsbCgroupPayload {
    GPtrArray *dirs;     /* char *: payload in each hierarchy holding one */
    GPtrArray *v2;       /* gboolean per dir, as pointers */
    GPtrArray *ctrls;    /* char *: v1 super options, v2 cgroup.controllers of payload */
};

void
vsb_cgroup_payload_free(VsbCgroupPayload *p)
{
    if (!p)
        return;
    g_ptr_array_unref(p->dirs);
    g_ptr_array_unref(p->v2);
    g_ptr_array_unref(p->ctrls);
    g_free(p);
}

VsbCgroupPayload *
vsb_cgroup_payload_open(const char *partition, const char *name, GError **error)
{
    g_autofree char *mountinfo = NULL;
    g_autoptr(GPtrArray) hs = NULL;
    g_autoptr(VsbCgroupPayload) p = g_new0(VsbCgroupPayload, 1);
    /* our layout, or the systemd scope the controller ran in */
    g_auto(GStrv) rels = vsb_cgroup_domain_rel_paths(partition, name);

    if (!(mountinfo = vsb_file_read_all("/proc/self/mountinfo", NULL, error)) ||
        !(hs = vsb_cgroup_parse_mountinfo(mountinfo, error)))
        return NULL;
    p->dirs = g_ptr_array_new_with_free_func(g_free);
    p->v2 = g_ptr_array_new();
    p->ctrls = g_ptr_array_new_with_free_func(g_free);
    /* Where vsb_driver_cgroup_usage() reads: the hierarchy's root, the
     * daemon and its controllers sitting at the root of each. */
    for (guint i = 0; i < hs->len; i++) {
        const VsbCgroupHierarchy *h = hs->pdata[i];
        g_autofree char *dir = NULL;
        char *ctrls;

        for (guint j = 0; rels[j] && !dir; j++) {
            dir = g_build_filename(h->mount_point, rels[j], "payload", NULL);
            if (!g_file_test(dir, G_FILE_TEST_IS_DIR))
                g_clear_pointer(&dir, g_free);
        }
        if (!dir)
            continue;
        if (h->version == VSB_CGROUP_VERSION_2) {
            g_autofree char *path = g_build_filename(dir, "cgroup.controllers", NULL);
            ctrls = vsb_file_read_all(path, NULL, NULL);
            ctrls = ctrls ? g_strstrip(ctrls) : g_strdup("");
        } else {
            ctrls = g_strjoinv(" ", h->controllers ? h->controllers : (char *[]){ NULL });
        }
        g_ptr_array_add(p->dirs, g_steal_pointer(&dir));
        g_ptr_array_add(p->v2, GINT_TO_POINTER(h->version == VSB_CGROUP_VERSION_2));
        g_ptr_array_add(p->ctrls, ctrls);
    }
    if (p->dirs->len == 0) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_NOT_FOUND,
                    "no cgroup found for domain '%s'", name);
        return NULL;
    }
    return g_steal_pointer(&p);
}

static bool
has_word(const char *list, const char *word)
{
    g_auto(GStrv) words = g_strsplit(list, " ", -1);

    return g_strv_contains((const char *const *)words, word);
}

/* Payload's directory in the hierarchy owning @controller (v1 first),
 * or NULL with VSB_ERROR_UNSUPPORTED. */
static const char *
find_dir(VsbCgroupPayload *p, const char *controller, bool *v2, GError **error)
{
    for (int want_v2 = 0; want_v2 <= 1; want_v2++) {
        for (guint i = 0; i < p->dirs->len; i++) {
            if (GPOINTER_TO_INT(p->v2->pdata[i]) != want_v2 ||
                !has_word(p->ctrls->pdata[i], controller))
                continue;
            *v2 = want_v2;
            return p->dirs->pdata[i];
        }
    }
    g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
                "cgroup controller '%s' is not available for this domain", controller);
    return NULL;
}

/* The freezer: v1's controller, else any v2 payload with cgroup.freeze
 * (it needs no controller, Linux 5.2). */
static const char *
find_freezer(VsbCgroupPayload *p, bool *v2, GError **error)
{
    const char *dir = find_dir(p, "freezer", v2, NULL);

    if (dir)
        return dir;
    for (guint i = 0; i < p->dirs->len; i++) {
        g_autofree char *path = g_build_filename(p->dirs->pdata[i], "cgroup.freeze", NULL);

        if (GPOINTER_TO_INT(p->v2->pdata[i]) && g_file_test(path, G_FILE_TEST_EXISTS)) {
            *v2 = true;
            return p->dirs->pdata[i];
        }
    }
    g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
                "no cgroup freezer is available for this domain");
    return NULL;
}

static char *
read_at(const char *dir, const char *name, GError **error)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    char *text = vsb_file_read_all(path, NULL, error);

    return text ? g_strstrip(text) : NULL;
}

bool
vsb_cgroup_payload_is_frozen(VsbCgroupPayload *p, bool *frozen, GError **error)
{
    bool v2 = false;
    const char *dir = find_freezer(p, &v2, error);
    g_autofree char *text = NULL;

    if (!dir || !(text = read_at(dir, v2 ? "cgroup.events" : "freezer.state", error)))
        return false;
    /* v1 says FREEZING until every task is stopped: not frozen yet. */
    *frozen = v2 ? strstr(text, "frozen 1") != NULL : g_str_equal(text, "FROZEN");
    return true;
}

/* Write @value to @name in @dir and every cgroup below it: the
 * container may have frozen a cgroup of its own. */
static bool
write_tree(const char *dir, const char *name, const char *value, GError **error)
{
    g_autoptr(GDir) d = NULL;
    const char *e;

    if (!vsb_file_write_str_at(dir, name, value, error))
        return false;
    if (!(d = g_dir_open(dir, 0, NULL)))
        return true;
    while ((e = g_dir_read_name(d))) {
        g_autofree char *sub = g_build_filename(dir, e, NULL);
        g_autoptr(GError) local = NULL;

        if (!g_file_test(sub, G_FILE_TEST_IS_DIR) || g_file_test(sub, G_FILE_TEST_IS_SYMLINK))
            continue;
        if (!write_tree(sub, name, value, &local) &&
            !g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
            g_propagate_error(error, g_steal_pointer(&local));
            return false;
        }
    }
    return true;
}

bool
vsb_cgroup_payload_freeze(VsbCgroupPayload *p, bool frozen, GError **error)
{
    bool v2 = false;
    const char *dir = find_freezer(p, &v2, error);
    const char *file = v2 ? "cgroup.freeze" : "freezer.state";
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    bool is_frozen = false;

    if (!dir)
        return false;
    if (!frozen)
        return write_tree(dir, file, v2 ? "0" : "THAWED", error);
    if (!vsb_file_write_str_at(dir, file, v2 ? "1" : "FROZEN", error))
        return false;
    /* A task in an uninterruptible sleep holds the cgroup in FREEZING;
     * v1 retries freezing it on each write. */
    while (vsb_cgroup_payload_is_frozen(p, &is_frozen, error) && !is_frozen) {
        if (g_get_monotonic_time() > deadline) {
            write_tree(dir, file, v2 ? "0" : "THAWED", NULL);
            g_set_error(error, VSB_ERROR, VSB_ERROR_FAILED,
                        "timed out freezing the tasks of %s", dir);
            return false;
        }
        g_usleep(10000);
        if (!v2)
            vsb_file_write_str_at(dir, file, "FROZEN", NULL);
    }
    return is_frozen;
}

static const char *
mem_file(VsbCgroupMemLimit which, bool v2)
{
    switch (which) {
    case VSB_CGROUP_MEM_HARD:
        return v2 ? "memory.max" : "memory.limit_in_bytes";
    case VSB_CGROUP_MEM_SOFT:
        return v2 ? "memory.high" : "memory.soft_limit_in_bytes";
    case VSB_CGROUP_MEM_SWAP:
    default:
        return v2 ? "memory.swap.max" : "memory.memsw.limit_in_bytes";
    }
}

static const char *
mem_dir(VsbCgroupPayload *p, VsbCgroupMemLimit which, bool *v2, GError **error)
{
    const char *dir = find_dir(p, "memory", v2, error);
    g_autofree char *path = NULL;

    if (!dir)
        return NULL;
    path = g_build_filename(dir, mem_file(which, *v2), NULL);
    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        /* memsw needs swap accounting (swapaccount=1), swap.max swap. */
        g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
                    "cgroup file '%s' is not available on this host", mem_file(which, *v2));
        return NULL;
    }
    return dir;
}

bool
vsb_cgroup_payload_set_memory(VsbCgroupPayload *p, VsbCgroupMemLimit which, guint64 bytes,
                              GError **error)
{
    bool v2 = false;
    const char *dir = mem_dir(p, which, &v2, error);
    g_autofree char *value = NULL;

    if (!dir)
        return false;
    if (bytes == VSB_CGROUP_UNLIMITED)
        value = g_strdup(v2 ? "max" : "-1");
    else
        value = g_strdup_printf("%" G_GUINT64_FORMAT, bytes);
    if (!vsb_file_write_str_at(dir, mem_file(which, v2), value, error)) {
        g_prefix_error(error, "cannot set %s to %s: ", mem_file(which, v2), value);
        return false;
    }
    /* v1 charges TCP buffers apart: they get the hard limit too. */
    if (which == VSB_CGROUP_MEM_HARD && !v2 && !vsb_cgroup_dir_set_kmem_tcp(dir, bytes, error))
        return false;
    return true;
}

bool
vsb_cgroup_payload_get_memory(VsbCgroupPayload *p, VsbCgroupMemLimit which, guint64 *bytes,
                              GError **error)
{
    bool v2 = false;
    const char *dir = mem_dir(p, which, &v2, error);
    g_autofree char *text = NULL;
    guint64 n;

    if (!dir || !(text = read_at(dir, mem_file(which, v2), error)))
        return false;
    if (g_str_equal(text, "max")) {
        *bytes = VSB_CGROUP_UNLIMITED;
        return true;
    }
    if (!g_ascii_string_to_unsigned(text, 10, 0, G_MAXUINT64, &n, error))
        return false;
    /* v1 shows "unlimited" as the largest page-aligned long. */
    *bytes = n >= (guint64)G_MAXINT64 - 4096 ? VSB_CGROUP_UNLIMITED : n;
    return true;
}

bool
vsb_cgroup_payload_set_cpu_shares(VsbCgroupPayload *p, guint64 shares, GError **error)
{
    bool v2 = false;
    const char *dir = find_dir(p, "cpu", &v2, error);
    g_autofree char *value = NULL;

    if (!dir)
        return false;
    value = g_strdup_printf("%llu", v2 ? vsb_cgroup_shares_to_weight(shares)
                                       : (unsigned long long)shares);
    return vsb_file_write_str_at(dir, v2 ? "cpu.weight" : "cpu.shares", value, error);
}

bool
vsb_cgroup_payload_set_cpu_bandwidth(VsbCgroupPayload *p, guint64 period_us, gint64 quota_us,
                                     GError **error)
{
    bool v2 = false;
    const char *dir = find_dir(p, "cpu", &v2, error);

    if (!dir)
        return false;
    if (v2) {
        /* cpu.max is "QUOTA PERIOD"; keep what is not changed. */
        g_autofree char *cur = read_at(dir, "cpu.max", error);
        g_auto(GStrv) f = NULL;
        g_autofree char *value = NULL;
        g_autofree char *q = NULL;

        if (!cur)
            return false;
        f = g_strsplit(cur, " ", 2);
        if (g_strv_length(f) != 2) {
            g_set_error(error, VSB_ERROR, VSB_ERROR_FAILED, "cannot parse cpu.max '%s'", cur);
            return false;
        }
        q = quota_us < 0 ? g_strdup("max") : quota_us > 0
            ? g_strdup_printf("%" G_GINT64_FORMAT, quota_us) : g_strdup(f[0]);
        value = period_us ? g_strdup_printf("%s %" G_GUINT64_FORMAT, q, period_us)
                          : g_strdup_printf("%s %s", q, f[1]);
        return vsb_file_write_str_at(dir, "cpu.max", value, error);
    }
    if (period_us) {
        g_autofree char *v = g_strdup_printf("%" G_GUINT64_FORMAT, period_us);
        if (!vsb_file_write_str_at(dir, "cpu.cfs_period_us", v, error))
            return false;
    }
    if (quota_us) {
        g_autofree char *v = g_strdup_printf("%" G_GINT64_FORMAT, quota_us < 0 ? -1 : quota_us);
        if (!vsb_file_write_str_at(dir, "cpu.cfs_quota_us", v, error))
            return false;
    }
    return true;
}

/* The block I/O controller: v1 blkio first, else v2 io. */
static const char *
find_blkio(VsbCgroupPayload *p, bool *v2, GError **error)
{
    const char *dir = find_dir(p, "blkio", v2, NULL);

    return dir ? dir : find_dir(p, "io", v2, error);
}

bool
vsb_cgroup_payload_set_blkio_weight(VsbCgroupPayload *p, unsigned int weight, GError **error)
{
    bool v2 = false;
    const char *dir;

    if (weight == 0)
        return true;
    if (!(dir = find_blkio(p, &v2, error)))
        return false;
    return vsb_cgroup_dir_set_blkio_weight(dir, v2, weight, error);
}

bool
vsb_cgroup_payload_set_blkio_device(VsbCgroupPayload *p, const VsbCgroupBlkioDevice *dev,
                                    GError **error)
{
    bool v2 = false;
    const char *dir = find_blkio(p, &v2, error);

    return dir && vsb_cgroup_dir_set_blkio_device(dir, v2, dev, error);
}

bool
vsb_cgroup_payload_set_pids_max(VsbCgroupPayload *p, guint64 max, GError **error)
{
    bool v2 = false;
    const char *dir = find_dir(p, "pids", &v2, error);

    return dir && vsb_cgroup_dir_set_pids_max(dir, max, error);
}

bool
vsb_cgroup_payload_get_stats(VsbCgroupPayload *p, VsbCgroupStats *st, GError **error)
{
    VsbCgroupStatDirs dirs = { 0 };

    /* CPU time: v1 cpuacct, else v2 cpu.stat, which every cgroup2
     * directory has (Linux 4.15) with or without the cpu controller. */
    dirs.cpu_dir = find_dir(p, "cpuacct", &dirs.cpu_v2, NULL);
    for (guint i = 0; !dirs.cpu_dir && i < p->dirs->len; i++) {
        g_autofree char *path = g_build_filename(p->dirs->pdata[i], "cpu.stat", NULL);

        if (GPOINTER_TO_INT(p->v2->pdata[i]) && g_file_test(path, G_FILE_TEST_EXISTS)) {
            dirs.cpu_dir = p->dirs->pdata[i];
            dirs.cpu_v2 = true;
        }
    }
    dirs.memory_dir = find_dir(p, "memory", &dirs.memory_v2, NULL);
    dirs.pids_dir = find_dir(p, "pids", &(bool){ false }, NULL);
    dirs.io_dir = find_blkio(p, &dirs.io_v2, NULL);
    return vsb_cgroup_stats_read(&dirs, st, error);
}
