/*
 * test-cgroup.c: the controller's cgroup module.
 *
 * Pure parsers against fixtures in tests/cgroupdata/ (one table line per
 * case), then, as root on a host with cgroups, the real thing: each host
 * test runs in a subprocess, and the parent removes whatever that left
 * behind (killing its processes first), so a failed assertion half-way
 * leaves nothing on the host, and fails the test if there was anything.
 */
#include <config.h>

#include "vsb-cgroup.h"
#include "vsb-cgroup-bpf.h"
#include "vsb-cgroup-limits.h"
#include "vsb-cgroup-stats.h"
#include "vsb-cgroup-tune.h"
#include "vsb-ctl-numa.h"
#include "vsb-util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sched.h>
#include <stddef.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>

#define MIB (1024ULL * 1024ULL)

/* ------------------------------------------------------------------ */
/* Fixtures                                                            */

static char *
data_path(const char *name)
{
    const char *dir = g_getenv("G_TEST_SRCDIR");
    g_autofree char *srcdir = NULL;

    if (dir)
        return g_build_filename(dir, "cgroupdata", name, NULL);
    dir = g_getenv("abs_top_srcdir");
    if (dir)
        return g_build_filename(dir, "tests", "cgroupdata", name, NULL);
    /* Run by hand from the build tree: the compiler saw the source's path. */
    srcdir = g_path_get_dirname(__FILE__);
    return g_build_filename(srcdir, "cgroupdata", name, NULL);
}

static char *
read_data(const char *name)
{
    g_autofree char *path = data_path(name);
    g_autoptr(GError) error = NULL;
    char *text = vsb_file_read_all(path, NULL, &error);

    g_assert_no_error(error);
    return text;
}

/* The cases of a one-line-per-case file: its lines but blank ones and
 * '#' comments.  Each file holds more than five, or it was cut short. */
static GPtrArray *
read_cases(const char *name)
{
    g_autofree char *text = read_data(name);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    GPtrArray *cases = g_ptr_array_new_with_free_func(g_free);

    for (guint i = 0; lines[i]; i++)
        if (lines[i][0] && lines[i][0] != '#')
            g_ptr_array_add(cases, g_strdup(lines[i]));
    g_assert_cmpuint(cases->len, >, 5);
    return cases;
}

/* A field of the expected files: mountinfo's octal escapes for the
 * characters that would split it, "-" for empty. */
static void
append_field(GString *out, const char *s)
{
    if (!s || !s[0]) {
        g_string_append_c(out, '-');
        return;
    }
    for (; *s; s++) {
        if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\\')
            g_string_append_printf(out, "\\%03o", (unsigned char)*s);
        else
            g_string_append_c(out, *s);
    }
}

/* NAME.mountinfo + NAME.cgroup must parse into NAME.expected, one line
 * "version mount_point options own_path" per hierarchy, or fail with
 * the message that follows "error " on its only line. */
static const char *const parse_cases[] = {
    "hybrid",          /* this CI host: v1 controllers + cgroup2 owning hugetlb only */
    "v1",              /* CentOS 7: co-mounted controllers, xattr/release_agent, optional fields */
    "v2",              /* pure cgroup2 with nsdelegate */
    "quirks",          /* \040 escapes, bind mounts of one hierarchy, ':' in a path, flag options */
    "bad-mountinfo",   /* line without the " - " separator */
    "bad-cgroup",      /* /proc/PID/cgroup line without fields */
    "missing",         /* a mounted hierarchy not in /proc/PID/cgroup */
};

static void
test_parse(gconstpointer data)
{
    const char *name = data;
    g_autofree char *mi_name = g_strdup_printf("%s.mountinfo", name);
    g_autofree char *cg_name = g_strdup_printf("%s.cgroup", name);
    g_autofree char *ex_name = g_strdup_printf("%s.expected", name);
    g_autofree char *mountinfo = read_data(mi_name);
    g_autofree char *proc_cgroup = read_data(cg_name);
    g_autofree char *expected = read_data(ex_name);
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) hs = NULL;
    g_autoptr(GString) got = g_string_new(NULL);

    hs = vsb_cgroup_parse_mountinfo(mountinfo, &error);
    if (hs)
        vsb_cgroup_parse_proc_cgroup(hs, proc_cgroup, &error);
    if (g_str_has_prefix(expected, "error ")) {
        g_assert_nonnull(error);
        g_assert_cmpstr(error->message, ==, g_strstrip(expected + strlen("error ")));
        return;
    }
    g_assert_no_error(error);
    for (guint i = 0; i < hs->len; i++) {
        VsbCgroupHierarchy *h = g_ptr_array_index(hs, i);

        g_string_append_printf(got, "%d ", h->version == VSB_CGROUP_VERSION_2 ? 2 : 1);
        append_field(got, h->mount_point);
        g_string_append_c(got, ' ');
        append_field(got, h->mount_options);
        g_string_append_c(got, ' ');
        append_field(got, h->own_path);
        g_string_append_c(got, '\n');
        /* v1 controllers are the options; v2 ones come from the host. */
        g_assert_nonnull(h->controllers);
        if (h->version == VSB_CGROUP_VERSION_2) {
            g_assert_null(h->controllers[0]);
        } else {
            g_autofree char *joined = g_strjoinv(",", h->controllers);
            g_assert_cmpstr(joined, ==, h->mount_options);
        }
    }
    g_assert_cmpstr(got->str, ==, expected);
}

static void
test_mount_root(void)
{
    /* Of two mounts of one hierarchy the one showing its root wins,
     * wherever it comes in mountinfo. */
    g_autofree char *mountinfo = read_data("quirks.mountinfo");
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) hs = vsb_cgroup_parse_mountinfo(mountinfo, &error);

    g_assert_no_error(error);
    for (guint i = 0; i < hs->len; i++) {
        VsbCgroupHierarchy *h = g_ptr_array_index(hs, i);
        g_assert_cmpstr(h->mount_root, ==, "/");
    }
}

static void
test_shares_to_weight(void)
{
    g_autoptr(GPtrArray) cases = read_cases("shares-to-weight.txt");

    for (guint i = 0; i < cases->len; i++) {
        const char *line = g_ptr_array_index(cases, i);
        unsigned long long shares, weight;

        g_assert_cmpint(sscanf(line, "%llu %llu", &shares, &weight), ==, 2);
        g_test_message("shares %llu", shares);
        g_assert_cmpuint(vsb_cgroup_shares_to_weight(shares), ==, weight);
    }
}

static void
test_blkio_weight_to_io_weight(void)
{
    g_autoptr(GPtrArray) cases = read_cases("blkio-weight-to-io-weight.txt");

    for (guint i = 0; i < cases->len; i++) {
        const char *line = g_ptr_array_index(cases, i);
        unsigned long long blkio, io;

        g_assert_cmpint(sscanf(line, "%llu %llu", &blkio, &io), ==, 2);
        g_test_message("weight %llu", blkio);
        g_assert_cmpuint(vsb_cgroup_blkio_weight_to_io_weight(blkio), ==, io);
    }
}

/* systemd's unit names of a domain under systemd, and the paths the
 * daemon looks for its cgroup at. */
static void
test_unit_names(void)
{
    g_autoptr(GPtrArray) cases = read_cases("unit-names.txt");
    g_auto(GStrv) rels = vsb_cgroup_domain_rel_paths(NULL, "vsb-sd1");

    for (guint i = 0; i < cases->len; i++) {
        const char *line = g_ptr_array_index(cases, i);
        g_auto(GStrv) f = NULL;
        const char *partition;
        g_autofree char *slice = NULL;
        g_autofree char *scope = NULL;

        f = g_strsplit(line, " ", -1);
        g_assert_cmpuint(g_strv_length(f), ==, 4);
        g_test_message("%s", line);
        partition = g_str_equal(f[0], "-") ? NULL : f[0];
        slice = vsb_cgroup_slice_name(partition);
        scope = vsb_cgroup_scope_name(partition, f[1]);
        g_assert_cmpstr(slice, ==, f[2]);
        g_assert_cmpstr(scope, ==, f[3]);
    }
    g_assert_cmpuint(g_strv_length(rels), ==, 2);
    g_assert_cmpstr(rels[0], ==, "machine/vsb-sd1.virt-sandbox");
    g_assert_cmpstr(rels[1], ==, "machine.slice/machine-vsb\\x2dsd1.scope");
}

/* <numatune> nodesets as set_mempolicy(2) takes them. */
static void
test_numa_nodeset(void)
{
    g_autoptr(GPtrArray) cases = read_cases("numa-nodesets.txt");

    for (guint i = 0; i < cases->len; i++) {
        const char *line = g_ptr_array_index(cases, i);
        unsigned long mask[VSB_NUMA_MAX_NODES / (8 * sizeof(unsigned long))];
        g_auto(GStrv) f = NULL;
        g_autoptr(GError) error = NULL;
        guint count = 0;
        bool ok;

        f = g_strsplit(line, " ", 3);
        g_assert_cmpuint(g_strv_length(f), ==, 3);
        g_test_message("nodeset %s", f[0]);
        /* "-" stands for the empty set. */
        ok = vsb_ctl_numa_parse_nodeset(g_str_equal(f[0], "-") ? "" : f[0], mask,
                                        VSB_NUMA_MAX_NODES, &count, &error);
        if (g_str_equal(f[1], "error")) {
            g_assert_false(ok);
            g_assert_error(error, VSB_ERROR, VSB_ERROR_INVALID);
            g_test_message("%s", error->message);
            g_assert_true(g_str_has_suffix(error->message, f[2]));
        } else {
            g_assert_no_error(error);
            g_assert_true(ok);
            g_assert_cmpuint(count, ==, g_ascii_strtoull(f[1], NULL, 10));
            g_assert_cmphex(mask[0], ==, g_ascii_strtoull(f[2], NULL, 16));
        }
    }
}

/* stats-NAME/ holds one directory per controller named in its file
 * "versions" ("memory 2": memory/ spelled as v2); NAME.expected lists
 * "have GROUPS" and every field, or "error " and the end of the
 * message. */
static const char *const stats_cases[] = {
    "stats-v1",        /* this host: cpuacct in ns, kmem + tcp, memsw, throttle stats */
    "stats-v1-old",    /* cpuacct.stat ticks, no kmem/memsw/oom_kill, BFQ stats only */
    "stats-v2",        /* memory.stat "kernel", memory.events, io.stat with iocost keys */
    "stats-v2-old",    /* before 5.18: kernel memory summed from its parts; memory only */
    "stats-bad-io",    /* malformed io.stat */
    "stats-missing",   /* memory.stat without a field we need */
};

static void
test_stats(gconstpointer data)
{
    static const struct {
        const char *name;
        size_t offset;
    } fields[] = {
#define F(x) { #x, offsetof(VsbCgroupStats, x) }
        F(cpu_total_ns), F(cpu_user_ns), F(cpu_system_ns),
        F(mem_usage_bytes), F(mem_limit_bytes), F(mem_anon_bytes), F(mem_file_bytes),
        F(mem_reclaimable_bytes), F(mem_swap_bytes), F(mem_oom_kills), F(mem_failcnt),
        F(kmem_bytes), F(kmem_slab_bytes), F(kmem_sock_bytes),
        F(pids_current), F(pids_max),
        F(io_read_bytes), F(io_write_bytes), F(io_read_ops), F(io_write_ops),
#undef F
    };
    static const char *const groups[] = { "cpu", "memory", "kmem", "pids", "io" };
    const char *name = data;
    g_autofree char *dir = data_path(name);
    g_autofree char *vname = g_build_filename(name, "versions", NULL);
    g_autofree char *versions = read_data(vname);
    g_autofree char *ex_name = g_strdup_printf("%s.expected", name);
    g_autofree char *expected = read_data(ex_name);
    g_autofree char *cpu = g_build_filename(dir, "cpu", NULL);
    g_autofree char *memory = g_build_filename(dir, "memory", NULL);
    g_autofree char *pids = g_build_filename(dir, "pids", NULL);
    g_autofree char *io = g_build_filename(dir, "io", NULL);
    g_autoptr(GString) got = g_string_new("have ");
    g_autoptr(GError) error = NULL;
    VsbCgroupStatDirs dirs = { 0 };
    VsbCgroupStats st;
    guint64 v;
    bool ok;

    if (vsb_cgroup_keyed_value(versions, "cpu", &v)) {
        dirs.cpu_dir = cpu;
        dirs.cpu_v2 = v == 2;
    }
    if (vsb_cgroup_keyed_value(versions, "memory", &v)) {
        dirs.memory_dir = memory;
        dirs.memory_v2 = v == 2;
    }
    if (vsb_cgroup_keyed_value(versions, "pids", &v))
        dirs.pids_dir = pids;
    if (vsb_cgroup_keyed_value(versions, "io", &v)) {
        dirs.io_dir = io;
        dirs.io_v2 = v == 2;
    }
    ok = vsb_cgroup_stats_read(&dirs, &st, &error);
    if (g_str_has_prefix(expected, "error ")) {
        g_assert_false(ok);
        g_assert_nonnull(error);
        g_test_message("%s", error->message);
        g_assert_true(g_str_has_suffix(error->message, g_strstrip(expected + strlen("error "))));
        return;
    }
    g_assert_no_error(error);
    g_assert_true(ok);
    for (guint i = 0; i < G_N_ELEMENTS(groups); i++) {
        if (st.have & (1u << i))
            g_string_append_printf(got, "%s%s", got->str[got->len - 1] == ' ' ? "" : ",",
                                   groups[i]);
    }
    g_string_append_c(got, '\n');
    for (guint i = 0; i < G_N_ELEMENTS(fields); i++) {
        guint64 f = *(const guint64 *)((const char *)&st + fields[i].offset);

        if (f == VSB_CGROUP_UNLIMITED)
            g_string_append_printf(got, "%s unlimited\n", fields[i].name);
        else
            g_string_append_printf(got, "%s %" G_GUINT64_FORMAT "\n", fields[i].name, f);
    }
    g_assert_cmpstr(got->str, ==, expected);
}

static void
test_device_check(void)
{
    static const struct {
        VsbCgroupDevice dev;
        bool ok;
    } cases[] = {
        { { 'c', 1, 3, "rwm" }, true },
        { { 'b', 8, 0, "r" }, true },
        { { 'c', 4095, 1048575, "m" }, true },
        { { 'c', 136, VSB_CGROUP_DEVICE_ANY, "rw" }, true },
        { { 'b', VSB_CGROUP_DEVICE_ANY, VSB_CGROUP_DEVICE_ANY, "m" }, true },
        { { 'x', 1, 3, "rwm" }, false },
        { { 'c', 1, 3, "" }, false },
        { { 'c', 1, 3, NULL }, false },
        { { 'c', 1, 3, "rwx" }, false },
        { { 'c', 4096, 0, "r" }, false },
        { { 'c', 1, 1048576, "r" }, false },
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        bool ok = vsb_cgroup_device_check(&cases[i].dev, &error);

        g_test_message("case %u", i);
        g_assert_cmpint(ok, ==, cases[i].ok);
        if (!ok)
            g_assert_error(error, VSB_ERROR, VSB_ERROR_INVALID);
    }
}

static void
test_config_invalid(void)
{
    static const VsbCgroupDevice bad_dev = { 'c', 1, 3, "rwz" };
    static const VsbCgroupBlkioDevice bad_blkio = { .major = 8, .minor = 0, .weight = 2000 };
    const VsbCgroupConfig cases[] = {
        { .name = NULL },
        { .name = "" },
        { .name = "a/b" },
        { .name = ".." },
        { .name = "a\nb" },
        { .name = "ok", .partition = "x/y" },
        { .name = "ok", .cpu_shares = 1 },
        { .name = "ok", .cpuset = "0-3;rm" },
        { .name = "ok", .restrict_devices = true, .devices = &bad_dev, .ndevices = 1 },
        { .name = "ok", .mems = "0;1" },
        { .name = "ok", .mems = "" },
        { .name = "ok", .blkio_weight = 5 },
        { .name = "ok", .blkio_weight = 1001 },
        { .name = "ok", .blkio_devices = &bad_blkio, .nblkio_devices = 1 },
    };

    /* Refused before anything is read or made: no host needed. */
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(VsbCgroup) cg = vsb_cgroup_create(&cases[i], &error);

        g_test_message("case %u", i);
        g_assert_null(cg);
        g_assert_error(error, VSB_ERROR, VSB_ERROR_INVALID);
    }
}

/* ------------------------------------------------------------------ */
/* Host tests                                                          */

/* The parent's pid: names every cgroup a test makes, so the parent
 * finds them afterwards and parallel runs do not meet. */
static const char *
tag(void)
{
    const char *t = g_getenv("VSB_TEST_CGROUP_TAG");

    g_assert_nonnull(t);
    return t;
}

static char *
test_partition(void)
{
    return g_strdup_printf("vsb-test-%s", tag());
}

static char *
test_domain(const char *suffix)
{
    return g_strdup_printf("vsbtest-%s%s", tag(), suffix);
}

static bool
is_ours(const char *name, const char *t)
{
    static const char *const prefixes[] = { "vsb-test-", "vsbtest-" };

    for (guint i = 0; i < G_N_ELEMENTS(prefixes); i++) {
        size_t plen = strlen(prefixes[i]), tlen = strlen(t);
        if (strncmp(name, prefixes[i], plen) == 0 && strncmp(name + plen, t, tlen) == 0 &&
            !g_ascii_isdigit(name[plen + tlen]))
            return true;
    }
    return false;
}

static GPtrArray *
host_hierarchies(void)
{
    g_autofree char *mountinfo = vsb_file_read_all("/proc/self/mountinfo", NULL, NULL);
    g_autofree char *proc_cgroup = vsb_file_read_all("/proc/self/cgroup", NULL, NULL);
    g_autoptr(GPtrArray) hs = NULL;

    if (!mountinfo || !proc_cgroup)
        return NULL;
    hs = vsb_cgroup_parse_mountinfo(mountinfo, NULL);
    if (!hs || !vsb_cgroup_parse_proc_cgroup(hs, proc_cgroup, NULL))
        return NULL;
    return g_steal_pointer(&hs);
}

static bool
is_dir(const char *dir, struct dirent *de)
{
    g_autofree char *path = NULL;
    struct stat st;

    if (de->d_type == DT_DIR)
        return true;
    if (de->d_type != DT_UNKNOWN)
        return false;
    path = g_build_filename(dir, de->d_name, NULL);
    return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Cgroups named after @t below @dir, not descending into them. */
static void
find_ours(const char *dir, const char *t, GPtrArray *found)
{
    DIR *d = opendir(dir);
    struct dirent *de;

    if (!d)
        return;
    while ((de = readdir(d))) {
        g_autofree char *sub = NULL;

        if (g_str_equal(de->d_name, ".") || g_str_equal(de->d_name, "..") || !is_dir(dir, de))
            continue;
        sub = g_build_filename(dir, de->d_name, NULL);
        if (is_ours(de->d_name, t))
            g_ptr_array_add(found, g_steal_pointer(&sub));
        else
            find_ours(sub, t, found);
    }
    closedir(d);
}

/* Kill, thaw and count what is in @dir's tree. */
static guint
kill_tree(const char *dir)
{
    g_autofree char *procs = g_build_filename(dir, "cgroup.procs", NULL);
    g_autofree char *text = vsb_file_read_all(procs, NULL, NULL);
    g_auto(GStrv) pids = g_strsplit(text ? text : "", "\n", -1);
    DIR *d;
    struct dirent *de;
    guint n = 0;

    for (guint i = 0; pids[i]; i++) {
        if (pids[i][0]) {
            kill(atoi(pids[i]), SIGKILL);
            n++;
        }
    }
    d = opendir(dir);
    while (d && (de = readdir(d))) {
        g_autofree char *sub = g_build_filename(dir, de->d_name, NULL);
        if (!g_str_equal(de->d_name, ".") && !g_str_equal(de->d_name, "..") && is_dir(dir, de))
            n += kill_tree(sub);
    }
    if (d)
        closedir(d);
    /* Killed tasks die only once thawed. */
    vsb_file_write_str_at(dir, "freezer.state", "THAWED", NULL);
    vsb_file_write_str_at(dir, "cgroup.freeze", "0", NULL);
    return n;
}

static void
rmdir_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;

    while (d && (de = readdir(d))) {
        g_autofree char *sub = g_build_filename(dir, de->d_name, NULL);
        if (!g_str_equal(de->d_name, ".") && !g_str_equal(de->d_name, "..") && is_dir(dir, de))
            rmdir_tree(sub);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

/* Every cgroup named after @t, in every hierarchy, as one string; and,
 * if @remove, kill their processes and remove them. */
static char *
leftovers(const char *t, bool remove)
{
    g_autoptr(GPtrArray) hs = host_hierarchies();
    g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *joined = NULL;

    for (guint i = 0; hs && i < hs->len; i++) {
        VsbCgroupHierarchy *h = g_ptr_array_index(hs, i);
        find_ours(h->mount_point, t, found);
    }
    /* All hierarchies at each round: a task frozen in one (v1 freezer)
     * and killed in another dies only when every freezer let it go. */
    for (int tries = 0; remove && tries < 200; tries++) {
        guint alive = 0;

        for (guint i = 0; i < found->len; i++)
            alive += kill_tree(g_ptr_array_index(found, i));
        if (alive == 0)
            break;
        g_usleep(50 * 1000);
    }
    for (guint i = 0; remove && i < found->len; i++)
        rmdir_tree(g_ptr_array_index(found, i));
    g_ptr_array_add(found, NULL);
    joined = g_strjoinv(" ", (char **)found->pdata);
    return g_steal_pointer(&joined);
}

static bool
host_usable(void)
{
    g_autoptr(GPtrArray) hs = NULL;

    if (geteuid() != 0) {
        g_test_skip("needs root");
        return false;
    }
    hs = host_hierarchies();
    if (!hs || hs->len == 0) {
        g_test_skip("no cgroup file system mounted");
        return false;
    }
    return true;
}

static bool
host_has(VsbCgroupVersion version)
{
    g_autoptr(GPtrArray) hs = host_hierarchies();

    for (guint i = 0; hs && i < hs->len; i++) {
        VsbCgroupHierarchy *h = g_ptr_array_index(hs, i);
        if (h->version == version)
            return true;
    }
    return false;
}

/* Run the test in a subprocess; afterwards remove what it left.  A
 * test that makes a pure v1 or pure v2 host out of a hybrid one says
 * which versions it needs. */
static void
run_host_test_needing(void (*body)(void), bool need_v1, bool need_v2)
{
    g_autofree char *t = NULL;
    g_autofree char *left = NULL;

    if (g_test_subprocess()) {
        body();
        return;
    }
    if (!host_usable())
        return;
    if ((need_v1 && !host_has(VSB_CGROUP_VERSION_1)) ||
        (need_v2 && !host_has(VSB_CGROUP_VERSION_2))) {
        g_test_skip(need_v1 && need_v2 ? "needs a hybrid cgroup host"
                    : need_v1 ? "needs cgroup v1" : "needs cgroup v2");
        return;
    }
    t = g_strdup_printf("%d", (int)getpid());
    g_setenv("VSB_TEST_CGROUP_TAG", t, TRUE);
    g_test_trap_subprocess(NULL, 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
    left = leftovers(t, true);
    g_test_trap_assert_passed();
    g_assert_cmpstr(left, ==, "");
}

static void
run_host_test(void (*body)(void))
{
    run_host_test_needing(body, false, false);
}

/* In a mount namespace of our own, unmount every hierarchy of the other
 * version: the module then sees a pure v1 or v2 host (the cgroups
 * themselves are the host's, so the parent still finds leftovers). */
static void
keep_only(VsbCgroupVersion keep)
{
    g_assert_no_errno(unshare(CLONE_NEWNS));
    g_assert_no_errno(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
    /* Again until none is left: a hierarchy may be mounted twice. */
    for (bool again = true; again;) {
        g_autoptr(GPtrArray) hs = host_hierarchies();

        g_assert_nonnull(hs);
        again = false;
        for (guint i = 0; i < hs->len; i++) {
            VsbCgroupHierarchy *h = g_ptr_array_index(hs, i);
            if (h->version != keep) {
                g_assert_no_errno(umount2(h->mount_point, MNT_DETACH));
                again = true;
            }
        }
    }
}

static char *
read_trimmed(const char *dir, const char *name)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    g_autoptr(GError) error = NULL;
    char *text = vsb_file_read_all(path, NULL, &error);

    g_assert_no_error(error);
    return g_strstrip(text);
}

/* A child that waits in the payload until killed.  Told 'd', it reports
 * on @res whether /dev/null and /dev/ptmx open and /dev/zero does not
 * (0 = as expected); told 'f', whether it can fork ('O'), is refused
 * by pids.max ('E') or fails otherwise ('X'). */
typedef struct {
    pid_t pid;
    int go;     /* write a byte once it is in its cgroups */
    int res;    /* read its report */
} Child;

static void
child_start(Child *c)
{
    int go[2], res[2];

    g_assert_no_errno(pipe2(go, O_CLOEXEC));
    g_assert_no_errno(pipe2(res, O_CLOEXEC));
    c->pid = fork();
    g_assert_cmpint(c->pid, >=, 0);
    if (c->pid == 0) {
        char b = 0;
        int fd;

        /* Dies with the test process, should that abort; and holds
         * none of its output pipes, which the parent test reads until
         * EOF (a frozen child would not die and hang it). */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (fd < 0 || dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(1);
        close(go[1]);
        close(res[0]);
        /* One answer per command, until told nothing more. */
        while (read(go[0], &b, 1) == 1) {
            if (b == 'd') {
                char r = 0;

                fd = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (fd < 0)
                    r |= 1;
                fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
                if (fd >= 0 || errno != EPERM)
                    r |= 2;
                /* Allowed by "c 5:* rw"; may fail for other reasons. */
                fd = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
                if (fd < 0 && errno == EPERM)
                    r |= 4;
                b = r;
            } else if (b == 'f') {
                /* Can it fork? 'E': refused with EAGAIN (pids.max). */
                pid_t p = fork();

                if (p == 0)
                    _exit(0);
                b = p > 0 ? 'O' : errno == EAGAIN ? 'E' : 'X';
                if (p > 0)
                    waitpid(p, NULL, 0);
            } else {
                b = 0;
            }
            if (write(res[1], &b, 1) != 1)
                _exit(1);
        }
        for (;;)
            pause();
    }
    close(go[0]);
    close(res[1]);
    c->go = go[1];
    c->res = res[0];
}

static char
child_go(Child *c, char what)
{
    char b = 0x7f;

    g_assert_cmpint(write(c->go, &what, 1), ==, 1);
    g_assert_cmpint(read(c->res, &b, 1), ==, 1);
    return b;
}

static void
child_reap_killed(Child *c)
{
    int status = 0;

    g_assert_cmpint(waitpid(c->pid, &status, 0), ==, c->pid);
    g_assert_true(WIFSIGNALED(status));
    g_assert_cmpint(WTERMSIG(status), ==, SIGKILL);
    close(c->go);
    close(c->res);
}

static void
check_in_payload(pid_t pid, const char *partition, const char *domain)
{
    g_autofree char *proc = g_strdup_printf("/proc/%d/cgroup", (int)pid);
    g_autofree char *text = vsb_file_read_all(proc, NULL, NULL);
    g_autofree char *mountinfo = vsb_file_read_all("/proc/self/mountinfo", NULL, NULL);
    g_autofree char *want = g_strdup_printf("/%s/%s.virt-sandbox/payload", partition, domain);
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) hs = NULL;

    g_assert_nonnull(text);
    hs = vsb_cgroup_parse_mountinfo(mountinfo, &error);
    g_assert_no_error(error);
    vsb_cgroup_parse_proc_cgroup(hs, text, &error);
    g_assert_no_error(error);
    for (guint i = 0; i < hs->len; i++) {
        VsbCgroupHierarchy *h = g_ptr_array_index(hs, i);
        g_test_message("%s", h->mount_point);
        g_assert_cmpstr(h->own_path, ==, want);
    }
}

static void
assert_no_leftovers(void)
{
    g_autofree char *left = leftovers(tag(), false);

    g_assert_cmpstr(left, ==, "");
}

typedef enum {
    MODE_HOST,       /* as the host is */
    MODE_V1_ONLY,    /* cgroup2 unmounted: the freezer kills */
    MODE_V2_ONLY,    /* v1 unmounted: BPF devices, cgroup.kill */
} HostMode;

static void
host_lifecycle(HostMode mode)
{
    g_autofree char *partition = test_partition();
    g_autofree char *name = test_domain("");
    g_autofree char *self_before = vsb_file_read_all("/proc/self/cgroup", NULL, NULL);
    g_autofree char *self_after = NULL;
    static const VsbCgroupDevice devs[] = {
        { 'c', 1, 3, "rwm" },                      /* /dev/null */
        { 'c', 5, VSB_CGROUP_DEVICE_ANY, "rw" },   /* /dev/tty, /dev/ptmx, ... */
    };
    VsbCgroupConfig cfg = {
        .name = name, .partition = partition,
        .memory_limit_bytes = 64 * MIB, .cpu_shares = 512, .cpuset = "0",
        .restrict_devices = true, .devices = devs, .ndevices = G_N_ELEMENTS(devs),
    };
    g_autoptr(GError) error = NULL;
    g_autoptr(VsbCgroup) cg = NULL;
    GPtrArray *hs;
    const char *dir;
    Child child;
    Child nested;

    if (mode == MODE_V1_ONLY)
        keep_only(VSB_CGROUP_VERSION_1);
    if (mode == MODE_V2_ONLY) {
        g_autoptr(GPtrArray) v2 = NULL;
        g_autofree char *path = NULL;
        g_autofree char *text = NULL;
        g_auto(GStrv) ctrls = NULL;

        keep_only(VSB_CGROUP_VERSION_2);
        v2 = host_hierarchies();
        g_assert_cmpuint(v2->len, ==, 1);
        /* Ask only for what this host's cgroup2 has (on a hybrid host,
         * none of these). */
        path = g_build_filename(((VsbCgroupHierarchy *)v2->pdata[0])->mount_point,
                                "cgroup.controllers", NULL);
        text = vsb_file_read_all(path, NULL, NULL);
        g_assert_nonnull(text);
        ctrls = g_strsplit_set(g_strstrip(text), " ", -1);
        if (!g_strv_contains((const char *const *)ctrls, "memory"))
            cfg.memory_limit_bytes = 0;
        if (!g_strv_contains((const char *const *)ctrls, "cpu"))
            cfg.cpu_shares = 0;
        if (!g_strv_contains((const char *const *)ctrls, "cpuset"))
            cfg.cpuset = NULL;
    }

    cg = vsb_cgroup_create(&cfg, &error);
    g_assert_no_error(error);
    g_assert_nonnull(cg);

    hs = vsb_cgroup_get_hierarchies(cg);
    g_assert_cmpuint(hs->len, >, 0);
    for (guint i = 0; i < hs->len; i++) {
        VsbCgroupHierarchy *h = g_ptr_array_index(hs, i);
        g_autofree char *sup = NULL;

        dir = vsb_cgroup_hierarchy_payload_path(cg, h);
        g_assert_nonnull(dir);
        g_assert_true(g_file_test(dir, G_FILE_TEST_IS_DIR));
        sup = g_build_filename(dir, "..", "supervisor", NULL);
        g_assert_true(g_file_test(sup, G_FILE_TEST_IS_DIR));
    }

    /* The limits, as each hierarchy version spells them. */
    dir = vsb_cgroup_payload_path(cg, "memory");
    if (cfg.memory_limit_bytes) {
        g_assert_nonnull(dir);
        g_autofree char *limit = g_build_filename(dir, "memory.limit_in_bytes", NULL);
        bool v1 = access(limit, F_OK) == 0;
        g_autofree char *v = read_trimmed(dir, v1 ? "memory.limit_in_bytes" : "memory.max");
        g_assert_cmpstr(v, ==, "67108864");
    }
    dir = vsb_cgroup_payload_path(cg, "cpu");
    if (cfg.cpu_shares) {
        g_assert_nonnull(dir);
        g_autofree char *shares = g_build_filename(dir, "cpu.shares", NULL);
        bool v1 = access(shares, F_OK) == 0;
        g_autofree char *v = read_trimmed(dir, v1 ? "cpu.shares" : "cpu.weight");
        g_assert_cmpstr(v, ==, v1 ? "512" : "50");
    }
    dir = vsb_cgroup_payload_path(cg, "cpuset");
    if (cfg.cpuset) {
        g_assert_nonnull(dir);
        g_autofree char *v = read_trimmed(dir, "cpuset.cpus");
        g_assert_cmpstr(v, ==, "0");
    }

    /* The supervisor: this very process, which destroy moves back. */
    vsb_cgroup_enter_supervisor(cg, getpid(), &error);
    g_assert_no_error(error);

    child_start(&child);
    vsb_cgroup_enter_payload(cg, child.pid, &error);
    g_assert_no_error(error);
    g_assert_cmpint(child_go(&child, 'd'), ==, 0);
    check_in_payload(child.pid, partition, name);

    /* What a container's own init does: cgroups below payload, one of
     * them frozen.  Killing and removal must cope with both. */
    child_start(&nested);
    for (guint i = 0; i < hs->len; i++) {
        g_autofree char *inner = g_build_filename(
            vsb_cgroup_hierarchy_payload_path(cg, g_ptr_array_index(hs, i)), "inner", NULL);
        g_autofree char *pid = g_strdup_printf("%d", (int)nested.pid);

        /* On v1 cpuset, works thanks to cgroup.clone_children. */
        g_assert_no_errno(mkdir(inner, 0755));
        vsb_file_write_str_at(inner, "cgroup.procs", pid, &error);
        g_assert_no_error(error);
    }
    g_assert_cmpint(child_go(&nested, 'n'), ==, 0);
    for (guint i = 0; i < hs->len; i++) {
        g_autofree char *inner = g_build_filename(
            vsb_cgroup_hierarchy_payload_path(cg, g_ptr_array_index(hs, i)), "inner", NULL);
        g_autofree char *fz = g_build_filename(inner, "freezer.state", NULL);
        g_autofree char *fz2 = g_build_filename(inner, "cgroup.freeze", NULL);

        if (access(fz, F_OK) == 0)
            vsb_file_write_str(fz, "FROZEN", &error);
        else if (access(fz2, F_OK) == 0)
            vsb_file_write_str(fz2, "1", &error);
        g_assert_no_error(error);
    }

    vsb_cgroup_kill_payload(cg, &error);
    g_assert_no_error(error);
    child_reap_killed(&child);
    child_reap_killed(&nested);
    /* Nothing left to kill: fine too. */
    vsb_cgroup_kill_payload(cg, &error);
    g_assert_no_error(error);

    vsb_cgroup_destroy(cg, &error);
    g_assert_no_error(error);
    vsb_cgroup_destroy(cg, &error);
    g_assert_no_error(error);

    self_after = vsb_file_read_all("/proc/self/cgroup", NULL, NULL);
    g_assert_cmpstr(self_after, ==, self_before);
    assert_no_leftovers();
}

static void
host_lifecycle_host(void)
{
    host_lifecycle(MODE_HOST);
}

static void
host_lifecycle_v1(void)
{
    host_lifecycle(MODE_V1_ONLY);
}

static void
host_lifecycle_v2(void)
{
    host_lifecycle(MODE_V2_ONLY);
}

static void
test_host_lifecycle(void)
{
    run_host_test(host_lifecycle_host);
}

static void
test_host_lifecycle_v1(void)
{
    run_host_test_needing(host_lifecycle_v1, true, false);
}

static void
test_host_lifecycle_v2(void)
{
    run_host_test_needing(host_lifecycle_v2, false, true);
}

static void
host_in_use_and_stale(void)
{
    g_autofree char *partition = test_partition();
    g_autofree char *name = test_domain("");
    g_autofree char *name2 = test_domain("-other");
    VsbCgroupConfig cfg = { .name = name, .partition = partition };
    VsbCgroupConfig cfg2 = { .name = name2, .partition = partition };
    g_autoptr(GError) error = NULL;
    g_autoptr(VsbCgroup) cg = NULL;
    g_autoptr(VsbCgroup) again = NULL;
    g_autoptr(VsbCgroup) other = NULL;
    g_autofree char *payload = NULL;
    GPtrArray *hs;
    Child child;

    cg = vsb_cgroup_create(&cfg, &error);
    g_assert_no_error(error);
    hs = vsb_cgroup_get_hierarchies(cg);
    payload = g_strdup(vsb_cgroup_hierarchy_payload_path(cg, g_ptr_array_index(hs, 0)));
    child_start(&child);
    vsb_cgroup_enter_payload(cg, child.pid, &error);
    g_assert_no_error(error);
    g_assert_cmpint(child_go(&child, 'n'), ==, 0);

    /* Running: a second start fails and leaves the first alone. */
    again = vsb_cgroup_create(&cfg, &error);
    g_assert_null(again);
    g_assert_error(error, VSB_ERROR, VSB_ERROR_EXISTS);
    g_assert_nonnull(strstr(error->message, "is in use: domain"));
    g_clear_error(&error);
    g_assert_true(g_file_test(payload, G_FILE_TEST_IS_DIR));

    /* Another domain in the same partition keeps it alive. */
    other = vsb_cgroup_create(&cfg2, &error);
    g_assert_no_error(error);

    vsb_cgroup_kill_payload(cg, &error);
    g_assert_no_error(error);
    child_reap_killed(&child);

    /* A crash: the cgroups stay, empty; the next start takes them over. */
    g_clear_pointer(&cg, vsb_cgroup_free);
    g_assert_true(g_file_test(payload, G_FILE_TEST_IS_DIR));
    cg = vsb_cgroup_create(&cfg, &error);
    g_assert_no_error(error);
    vsb_cgroup_destroy(cg, &error);
    g_assert_no_error(error);

    hs = vsb_cgroup_get_hierarchies(other);
    for (guint i = 0; i < hs->len; i++) {
        VsbCgroupHierarchy *h = g_ptr_array_index(hs, i);
        g_autofree char *part = g_build_filename(h->mount_point, partition, NULL);
        g_assert_true(g_file_test(part, G_FILE_TEST_IS_DIR));
    }
    vsb_cgroup_destroy(other, &error);
    g_assert_no_error(error);
    assert_no_leftovers();
}

static void
test_host_in_use_and_stale(void)
{
    run_host_test(host_in_use_and_stale);
}

static void
host_failure_cleans_up(void)
{
    g_autofree char *partition = test_partition();
    g_autofree char *name = test_domain("");
    /* Valid syntax, but no such CPU: fails at the very end of create. */
    VsbCgroupConfig cfg = {
        .name = name, .partition = partition,
        .memory_limit_bytes = 64 * MIB, .cpuset = "4095",
    };
    g_autoptr(GError) error = NULL;
    g_autoptr(VsbCgroup) cg = NULL;
    g_autoptr(GPtrArray) hs = host_hierarchies();
    bool has_cpuset = false;

    for (guint i = 0; i < hs->len; i++) {
        VsbCgroupHierarchy *h = g_ptr_array_index(hs, i);
        if (h->version == VSB_CGROUP_VERSION_1 &&
            g_strv_contains((const char *const *)h->controllers, "cpuset"))
            has_cpuset = true;
    }
    if (!has_cpuset) {
        g_autofree char *v2 = vsb_file_read_all("/sys/fs/cgroup/cgroup.controllers", NULL, NULL);
        has_cpuset = v2 && strstr(v2, "cpuset");
    }
    if (!has_cpuset) {
        g_test_skip("no cpuset controller");
        return;
    }
    cg = vsb_cgroup_create(&cfg, &error);
    g_assert_null(cg);
    g_assert_nonnull(error);
    g_test_message("%s", error->message);
    g_assert_nonnull(strstr(error->message, "cpuset.cpus"));
    assert_no_leftovers();
}

static void
test_host_failure_cleans_up(void)
{
    run_host_test(host_failure_cleans_up);
}

/* The v2 device program, for real: on a hybrid host cgroup2 is mounted
 * (without controllers) and BPF device programs work there. */
static void
host_bpf_devices(void)
{
    static const VsbCgroupDevice devs[] = {
        { 'c', 1, 3, "rw" },     /* /dev/null, no mknod */
        { 'c', 1, 8, "r" },      /* /dev/random, read only */
        { 'c', 5, VSB_CGROUP_DEVICE_ANY, "rw" },   /* /dev/ptmx, /dev/tty... */
    };
    g_autoptr(GPtrArray) hs = host_hierarchies();
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = NULL;
    g_autofree char *tmp = NULL;
    g_autofree char *node = NULL;
    g_auto(VsbFd) prog = -1;
    VsbCgroupHierarchy *v2 = NULL;
    pid_t pid;
    int status = 0;

    for (guint i = 0; i < hs->len; i++) {
        VsbCgroupHierarchy *h = g_ptr_array_index(hs, i);
        if (h->version == VSB_CGROUP_VERSION_2)
            v2 = h;
    }
    if (!v2) {
        g_test_skip("no cgroup2 mounted");
        return;
    }
    prog = vsb_cgroup_bpf_devices_load(devs, G_N_ELEMENTS(devs), &error);
    g_assert_no_error(error);
    g_assert_cmpint(prog, >=, 0);

    dir = g_strdup_printf("%s/vsb-test-%s-bpf", v2->mount_point, tag());
    g_assert_no_errno(mkdir(dir, 0755));
    vsb_cgroup_bpf_attach(prog, dir, &error);
    g_assert_no_error(error);
    tmp = g_dir_make_tmp("vsb-test-XXXXXX", &error);
    g_assert_no_error(error);
    node = g_build_filename(tmp, "null", NULL);

    pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        g_autofree char *self = g_strdup_printf("%d", (int)getpid());
        int bits = 0;
        int fd;

        if (!vsb_file_write_str_at(dir, "cgroup.procs", self, NULL))
            _exit(64);
        if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
            bits |= 1;
        if ((fd = open("/dev/zero", O_RDONLY | O_CLOEXEC)) >= 0 || errno != EPERM)
            bits |= 2;
        if ((fd = open("/dev/random", O_RDONLY | O_CLOEXEC)) < 0)
            bits |= 4;
        if ((fd = open("/dev/random", O_WRONLY | O_CLOEXEC)) >= 0 || errno != EPERM)
            bits |= 8;
        if (mknod(node, S_IFCHR | 0600, makedev(1, 3)) == 0 || errno != EPERM)
            bits |= 16;
        if ((fd = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0 && errno == EPERM)
            bits |= 32;
        _exit(bits);
    }
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    unlink(node);
    g_rmdir(tmp);
    /* A cgroup goes with its programs once the child is gone. */
    g_assert_no_errno(rmdir(dir));
    g_assert_true(WIFEXITED(status));
    /* 1: /dev/null refused, 2: /dev/zero allowed, 4: /dev/random
     * refused for read, 8: allowed for write, 16: mknod allowed,
     * 32: /dev/ptmx refused (5:*), 64: could not join the cgroup. */
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);

    vsb_cgroup_bpf_detach(prog, v2->mount_point, &error);
    g_assert_nonnull(error);    /* never attached there */
}

static void
test_host_bpf_devices(void)
{
    run_host_test(host_bpf_devices);
}

/* Is @controller usable here: a v1 hierarchy has it, or cgroup2's root
 * offers it? */
static bool
host_controller(const char *controller)
{
    g_autoptr(GPtrArray) hs = host_hierarchies();

    for (guint i = 0; hs && i < hs->len; i++) {
        VsbCgroupHierarchy *h = g_ptr_array_index(hs, i);
        g_autofree char *path = NULL;
        g_autofree char *text = NULL;
        g_auto(GStrv) ctrls = NULL;

        if (h->version == VSB_CGROUP_VERSION_1) {
            if (g_strv_contains((const char *const *)h->controllers, controller))
                return true;
            continue;
        }
        path = g_build_filename(h->mount_point, "cgroup.controllers", NULL);
        text = vsb_file_read_all(path, NULL, NULL);
        ctrls = g_strsplit_set(text ? g_strstrip(text) : "", " ", -1);
        if (g_strv_contains((const char *const *)ctrls, controller))
            return true;
    }
    return false;
}

/* A block device to throttle (throttles take whole disks, not
 * partitions): a loop device of our own over a sparse file, detached by
 * the kernel when *fd, the only opener, is closed (LO_FLAGS_AUTOCLEAR:
 * even if the test dies); else, without loop devices, a disk of this
 * host (a throttle in our own cgroup harms nobody).  *fd = -1 then. */
static bool
test_block_device(unsigned int *major, unsigned int *minor, int *fd)
{
    static const char *const prefer[] = { "vd", "sd", "nvme", "xvd", "hd", "mmcblk" };
    g_auto(VsbFd) ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
    g_autoptr(GDir) d = NULL;
    const char *e;

    *fd = -1;
    if (ctl >= 0) {
        g_autofree char *file = g_strdup_printf("/tmp/vsb-test-%s-loop", tag());
        g_auto(VsbFd) back = open(file, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        int n = ioctl(ctl, LOOP_CTL_GET_FREE);

        unlink(file);
        if (back >= 0 && n >= 0 && ftruncate(back, 16 * MIB) == 0) {
            g_autofree char *dev = g_strdup_printf("/dev/loop%d", n);
            struct loop_info64 info = { .lo_flags = LO_FLAGS_AUTOCLEAR };
            struct stat st;
            int lfd = open(dev, O_RDWR | O_CLOEXEC);

            if (lfd >= 0 && ioctl(lfd, LOOP_SET_FD, back) == 0) {
                if (ioctl(lfd, LOOP_SET_STATUS64, &info) == 0 && fstat(lfd, &st) == 0) {
                    *major = major(st.st_rdev);
                    *minor = minor(st.st_rdev);
                    *fd = lfd;
                    return true;
                }
                ioctl(lfd, LOOP_CLR_FD, 0);
            }
            if (lfd >= 0)
                close(lfd);
        }
    }
    d = g_dir_open("/sys/block", 0, NULL);
    while (d && (e = g_dir_read_name(d))) {
        g_autofree char *path = g_strdup_printf("/sys/block/%s/dev", e);
        g_autofree char *text = NULL;
        bool disk = false;

        for (guint p = 0; p < G_N_ELEMENTS(prefer); p++)
            disk = disk || g_str_has_prefix(e, prefer[p]);
        if (disk && (text = vsb_file_read_all(path, NULL, NULL)) &&
            sscanf(text, "%u:%u", major, minor) == 2)
            return true;
    }
    return false;
}

static bool
dir_v2(const char *dir)
{
    g_autofree char *path = g_build_filename(dir, "cgroup.controllers", NULL);

    return access(path, F_OK) == 0;
}

/* Does @text (a cgroup file) hold a line starting with @prefix? */
static bool
has_line(const char *text, const char *line)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

    return g_strv_contains((const char *const *)lines, line);
}

static bool
has_line_prefix(const char *text, const char *prefix)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

    for (guint i = 0; lines[i]; i++) {
        if (g_str_has_prefix(lines[i], prefix))
            return true;
    }
    return false;
}

/* The new limits of <numatune>, <blkiotune> and the pids limit, set at
 * creation, in each hierarchy's spelling. */
static void
host_start_limits(void)
{
    g_autofree char *partition = test_partition();
    g_autofree char *name = test_domain("");
    VsbCgroupBlkioDevice dev = { .read_bps = 1048576, .write_iops = 100 };
    VsbCgroupConfig cfg = { .name = name, .partition = partition };
    g_auto(VsbFd) loop = -1;
    g_autoptr(GError) error = NULL;
    g_autoptr(VsbCgroup) cg = NULL;
    const char *dir;
    Child child;

    if (host_controller("memory"))
        cfg.memory_limit_bytes = 64 * MIB;
    if (host_controller("cpuset"))
        cfg.mems = "0";
    if (host_controller("pids"))
        cfg.pids_max = 1;
    if ((host_controller("blkio") || host_controller("io")) &&
        test_block_device(&dev.major, &dev.minor, &loop)) {
        cfg.blkio_devices = &dev;
        cfg.nblkio_devices = 1;
    }
    if (!cfg.memory_limit_bytes && !cfg.mems && !cfg.pids_max && !cfg.nblkio_devices) {
        g_test_skip("no memory, cpuset, pids or block I/O controller");
        return;
    }
    cg = vsb_cgroup_create(&cfg, &error);
    g_assert_no_error(error);

    if (cfg.memory_limit_bytes) {
        dir = vsb_cgroup_payload_path(cg, "memory");
        g_assert_nonnull(dir);
        if (!dir_v2(dir)) {
            /* v1: socket buffers get the hard limit too. */
            g_autofree char *v = read_trimmed(dir, "memory.kmem.tcp.limit_in_bytes");
            g_assert_cmpstr(v, ==, "67108864");
        }
    }
    if (cfg.mems) {
        g_autofree char *v = NULL;

        dir = vsb_cgroup_payload_path(cg, "cpuset");
        g_assert_nonnull(dir);
        v = read_trimmed(dir, "cpuset.mems");
        g_assert_cmpstr(v, ==, "0");
    }
    if (cfg.nblkio_devices) {
        g_autofree char *devstr = g_strdup_printf("%u:%u", dev.major, dev.minor);

        dir = vsb_cgroup_payload_path(cg, "blkio");
        if (dir) {
            g_autofree char *r = read_trimmed(dir, "blkio.throttle.read_bps_device");
            g_autofree char *w = read_trimmed(dir, "blkio.throttle.write_iops_device");
            g_autofree char *rl = g_strdup_printf("%s 1048576", devstr);
            g_autofree char *wl = g_strdup_printf("%s 100", devstr);

            g_assert_true(has_line(r, rl));
            g_assert_true(has_line(w, wl));
        } else {
            g_autofree char *m = NULL;
            g_autofree char *want = g_strdup_printf("%s rbps=1048576 wbps=max riops=max wiops=100",
                                                    devstr);

            dir = vsb_cgroup_payload_path(cg, "io");
            g_assert_nonnull(dir);
            m = read_trimmed(dir, "io.max");
            g_test_message("io.max: %s", m);
            g_assert_true(has_line(m, want));
        }
    }
    if (cfg.pids_max) {
        g_autofree char *v = NULL;

        dir = vsb_cgroup_payload_path(cg, "pids");
        g_assert_nonnull(dir);
        v = read_trimmed(dir, "pids.max");
        g_assert_cmpstr(v, ==, "1");
        /* Enforced: the one task of payload cannot fork. */
        child_start(&child);
        vsb_cgroup_enter_payload(cg, child.pid, &error);
        g_assert_no_error(error);
        g_assert_cmpint(child_go(&child, 'f'), ==, 'E');
        vsb_cgroup_kill_payload(cg, &error);
        g_assert_no_error(error);
        child_reap_killed(&child);
    }
    vsb_cgroup_destroy(cg, &error);
    g_assert_no_error(error);
    assert_no_leftovers();
}

static void
test_host_start_limits(void)
{
    run_host_test(host_start_limits);
}

/* The daemon's side: a running domain's limits changed and its usage
 * read through vsb_cgroup_payload_*(), checked in the cgroup files. */
static void
host_tune(void)
{
    g_autofree char *partition = test_partition();
    g_autofree char *name = test_domain("");
    VsbCgroupConfig cfg = { .name = name, .partition = partition };
    g_autoptr(GError) error = NULL;
    g_autoptr(VsbCgroup) cg = NULL;
    g_autoptr(VsbCgroupPayload) p = NULL;
    VsbCgroupStats st;
    const char *dir;
    guint64 got = 0;
    Child child;

    if (host_controller("memory"))
        cfg.memory_limit_bytes = 64 * MIB;
    cg = vsb_cgroup_create(&cfg, &error);
    g_assert_no_error(error);
    child_start(&child);
    vsb_cgroup_enter_payload(cg, child.pid, &error);
    g_assert_no_error(error);
    g_assert_cmpint(child_go(&child, 'n'), ==, 0);

    p = vsb_cgroup_payload_open(partition, "no-such-domain", &error);
    g_assert_null(p);
    g_assert_error(error, VSB_ERROR, VSB_ERROR_NOT_FOUND);
    g_clear_error(&error);
    p = vsb_cgroup_payload_open(partition, name, &error);
    g_assert_no_error(error);

    /* Memory: the hard limit, and on v1 the TCP buffer limit with it. */
    if ((dir = vsb_cgroup_payload_path(cg, "memory"))) {
        bool v1 = !dir_v2(dir);

        vsb_cgroup_payload_set_memory(p, VSB_CGROUP_MEM_HARD, 32 * MIB, &error);
        g_assert_no_error(error);
        vsb_cgroup_payload_get_memory(p, VSB_CGROUP_MEM_HARD, &got, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(got, ==, 32 * MIB);
        if (v1) {
            g_autofree char *v = read_trimmed(dir, "memory.kmem.tcp.limit_in_bytes");
            g_assert_cmpstr(v, ==, "33554432");
        }
        vsb_cgroup_payload_set_memory(p, VSB_CGROUP_MEM_HARD, VSB_CGROUP_UNLIMITED, &error);
        g_assert_no_error(error);
        if (v1) {
            g_autofree char *v = read_trimmed(dir, "memory.kmem.tcp.limit_in_bytes");
            g_assert_cmpuint(g_ascii_strtoull(v, NULL, 10), >=, (guint64)G_MAXINT64 - 4096);
        }
        vsb_cgroup_payload_set_memory(p, VSB_CGROUP_MEM_HARD, 64 * MIB, &error);
        g_assert_no_error(error);
    }

    /* pids.max: enforced, then lifted. */
    if ((dir = vsb_cgroup_payload_path(cg, "pids"))) {
        g_autofree char *v = NULL;

        vsb_cgroup_payload_set_pids_max(p, 1, &error);
        g_assert_no_error(error);
        v = read_trimmed(dir, "pids.max");
        g_assert_cmpstr(v, ==, "1");
        g_assert_cmpint(child_go(&child, 'f'), ==, 'E');
        vsb_cgroup_payload_set_pids_max(p, VSB_CGROUP_UNLIMITED, &error);
        g_assert_no_error(error);
        g_free(v);
        v = read_trimmed(dir, "pids.max");
        g_assert_cmpstr(v, ==, "max");
        g_assert_cmpint(child_go(&child, 'f'), ==, 'O');
        vsb_cgroup_payload_set_pids_max(p, 0, &error);
        g_assert_error(error, VSB_ERROR, VSB_ERROR_INVALID);
        g_clear_error(&error);
    } else {
        vsb_cgroup_payload_set_pids_max(p, 10, &error);
        g_assert_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED);
        g_clear_error(&error);
    }

    /* Block I/O: the weight where a weight file exists, else the error
     * naming what is missing; a throttle set and removed. */
    dir = vsb_cgroup_payload_path(cg, "blkio");
    if (!dir)
        dir = vsb_cgroup_payload_path(cg, "io");
    if (dir) {
        bool v2 = dir_v2(dir);
        const char *const files[] = { v2 ? "io.weight" : "blkio.weight",
                                      v2 ? "io.bfq.weight" : "blkio.bfq.weight" };
        const char *const want[] = { v2 ? "default 60" : "300", v2 ? "default 300" : "300" };
        bool any = false;
        VsbCgroupBlkioDevice dev = { .read_bps = 2 * MIB, .write_bps = 3 * MIB };
        g_auto(VsbFd) loop = -1;

        vsb_cgroup_payload_set_blkio_weight(p, 300, &error);
        for (guint i = 0; i < G_N_ELEMENTS(files); i++) {
            g_autofree char *path = g_build_filename(dir, files[i], NULL);
            g_autofree char *v = NULL;

            if (access(path, F_OK) < 0)
                continue;
            any = true;
            g_assert_no_error(error);
            v = read_trimmed(dir, files[i]);
            g_test_message("%s: %s", files[i], v);
            g_assert_true(has_line(v, want[i]));
        }
        if (!any) {
            g_assert_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED);
            g_assert_nonnull(strstr(error->message, "I/O weight is not available"));
            g_clear_error(&error);
        }
        vsb_cgroup_payload_set_blkio_weight(p, 5, &error);
        g_assert_error(error, VSB_ERROR, VSB_ERROR_INVALID);
        g_clear_error(&error);

        if (!test_block_device(&dev.major, &dev.minor, &loop)) {
            g_test_message("no loop device and no disk: throttles not tried");
        } else {
            g_autofree char *devstr = g_strdup_printf("%u:%u", dev.major, dev.minor);
            const char *file = v2 ? "io.max" : "blkio.throttle.read_bps_device";
            g_autofree char *set = NULL;
            g_autofree char *cleared = NULL;

            vsb_cgroup_payload_set_blkio_device(p, &dev, &error);
            g_assert_no_error(error);
            set = read_trimmed(dir, file);
            g_test_message("%s: %s", file, set);
            if (v2) {
                g_autofree char *line = g_strdup_printf(
                    "%s rbps=2097152 wbps=3145728 riops=max wiops=max", devstr);
                g_assert_true(has_line(set, line));
            } else {
                g_autofree char *line = g_strdup_printf("%s 2097152", devstr);
                g_autofree char *wr = read_trimmed(dir, "blkio.throttle.write_bps_device");
                g_autofree char *wline = g_strdup_printf("%s 3145728", devstr);
                g_assert_true(has_line(set, line));
                g_assert_true(has_line(wr, wline));
            }
            /* All throttles 0: the device's rules go. */
            dev.read_bps = dev.write_bps = 0;
            vsb_cgroup_payload_set_blkio_device(p, &dev, &error);
            g_assert_no_error(error);
            cleared = read_trimmed(dir, file);
            g_assert_false(has_line_prefix(cleared, devstr));
        }
    }

    /* Usage, with the child in payload. */
    vsb_cgroup_payload_get_stats(p, &st, &error);
    g_assert_no_error(error);
    g_test_message("have %#x mem %" G_GUINT64_FORMAT " kmem %" G_GUINT64_FORMAT
                   " pids %" G_GUINT64_FORMAT, st.have, st.mem_usage_bytes, st.kmem_bytes,
                   st.pids_current);
    g_assert_true(st.have & VSB_CGROUP_STAT_CPU);
    if (vsb_cgroup_payload_path(cg, "memory")) {
        g_assert_true(st.have & VSB_CGROUP_STAT_MEMORY);
        /* Kernel memory is reported on v1 and v2 alike on this kernel. */
        g_assert_true(st.have & VSB_CGROUP_STAT_KMEM);
        g_assert_cmpuint(st.mem_usage_bytes, >, 0);
        g_assert_cmpuint(st.mem_limit_bytes, ==, 64 * MIB);
        g_assert_cmpuint(st.mem_oom_kills, ==, 0);
    }
    if (vsb_cgroup_payload_path(cg, "pids")) {
        g_assert_true(st.have & VSB_CGROUP_STAT_PIDS);
        g_assert_cmpuint(st.pids_current, ==, 1);
        g_assert_cmpuint(st.pids_max, ==, VSB_CGROUP_UNLIMITED);
    }
    if (vsb_cgroup_payload_path(cg, "blkio") || vsb_cgroup_payload_path(cg, "io"))
        g_assert_true(st.have & VSB_CGROUP_STAT_IO);

    vsb_cgroup_kill_payload(cg, &error);
    g_assert_no_error(error);
    child_reap_killed(&child);
    vsb_cgroup_destroy(cg, &error);
    g_assert_no_error(error);
    assert_no_leftovers();
}

static void
test_host_tune(void)
{
    run_host_test(host_tune);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    for (guint i = 0; i < G_N_ELEMENTS(parse_cases); i++) {
        g_autofree char *path = g_strdup_printf("/cgroup/parse/%s", parse_cases[i]);
        g_test_add_data_func(path, parse_cases[i], test_parse);
    }
    g_test_add_func("/cgroup/parse/mount-root", test_mount_root);
    g_test_add_func("/cgroup/shares-to-weight", test_shares_to_weight);
    g_test_add_func("/cgroup/blkio-weight-to-io-weight", test_blkio_weight_to_io_weight);
    g_test_add_func("/cgroup/numa-nodeset", test_numa_nodeset);
    g_test_add_func("/cgroup/unit-names", test_unit_names);
    for (guint i = 0; i < G_N_ELEMENTS(stats_cases); i++) {
        g_autofree char *path = g_strdup_printf("/cgroup/stats/%s", stats_cases[i]);
        g_test_add_data_func(path, stats_cases[i], test_stats);
    }
    g_test_add_func("/cgroup/device-check", test_device_check);
    g_test_add_func("/cgroup/config-invalid", test_config_invalid);
    g_test_add_func("/cgroup/host/lifecycle", test_host_lifecycle);
    g_test_add_func("/cgroup/host/lifecycle-v1-only", test_host_lifecycle_v1);
    g_test_add_func("/cgroup/host/lifecycle-v2-only", test_host_lifecycle_v2);
    g_test_add_func("/cgroup/host/in-use-and-stale", test_host_in_use_and_stale);
    g_test_add_func("/cgroup/host/failure-cleans-up", test_host_failure_cleans_up);
    g_test_add_func("/cgroup/host/bpf-devices", test_host_bpf_devices);
    g_test_add_func("/cgroup/host/start-limits", test_host_start_limits);
    g_test_add_func("/cgroup/host/tune", test_host_tune);
    return g_test_run();
}
