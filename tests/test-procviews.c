/*
 * test-procviews.c: the renderers of the container's /proc views.
 *
 * Data-driven, from tests/procdata/CASE/:
 *   cgroup/FILE     cgroup files by their kernel names (memory.stat,
 *                   cpu.stat, cpuset.effective_cpus, io.stat, ...): a
 *                   case is a v1, v2 or hybrid host by the files it has
 *   host/FILE       the host's meminfo, stat, cpuinfo, diskstats, online
 *   params          key=value: uptime_ns, btime, running, blocked,
 *                   threads, last_pid, load1, load5, load15
 *   expected/VIEW   what each view renders ("meminfo", "stat",
 *                   "cpu-online", "pressure-io", ... as named by
 *                   vsb_proc_view_name()); a view without a file here
 *                   must render nothing (its inputs are missing).
 *   expected/sysinfo  the struct sysinfo answered for the container
 *                   (vsb-ctl-sysinfo.h), a field=value per line.
 * VSB_PROCDATA_REGENERATE=1 writes expected/ from the renderers' output
 * (review the diff before committing it).
 */
#include <config.h>

#include "vsb-ctl-procviews.h"
#include "vsb-ctl-sysinfo.h"

#include <glib/gstdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vsb-test-util.h"

static char *data_dir;

static void
load_dir(GHashTable *files, const char *dir, const char *prefix)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;

    if (!d)
        return;
    while ((name = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        g_autoptr(GError) error = NULL;
        char *text = NULL;

        if (!g_file_get_contents(path, &text, NULL, &error))
            g_error("%s", error->message);
        g_hash_table_insert(files, g_strconcat(prefix, name, NULL), text);
    }
}

static void
load_params(VsbProcInputs *in, const char *path)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return;
    lines = g_strsplit(text, "\n", -1);
    for (size_t i = 0; lines[i]; i++) {
        g_auto(GStrv) kv = g_strsplit(lines[i], "=", 2);
        const char *k = kv[0];
        const char *v = k ? kv[1] : NULL;

        if (!v || k[0] == '#')
            continue;
        if (g_str_equal(k, "uptime_ns"))
            in->uptime_ns = g_ascii_strtoull(v, NULL, 10);
        else if (g_str_equal(k, "btime"))
            in->btime = g_ascii_strtoll(v, NULL, 10);
        else if (g_str_equal(k, "running"))
            in->tasks.running = atoi(v);
        else if (g_str_equal(k, "blocked"))
            in->tasks.blocked = atoi(v);
        else if (g_str_equal(k, "threads"))
            in->tasks.threads = atoi(v);
        else if (g_str_equal(k, "last_pid"))
            in->tasks.last_pid = atoi(v);
        else if (g_str_has_prefix(k, "load"))
            in->load[g_str_equal(k, "load1") ? 0 : g_str_equal(k, "load5") ? 1 : 2] =
                g_ascii_strtod(v, NULL);
        else
            g_error("%s: unknown parameter %s", path, k);
    }
}

static char *
format_sysinfo(const struct sysinfo *si)
{
    return g_strdup_printf("uptime=%ld\nloads=%lu %lu %lu\ntotalram=%lu\nfreeram=%lu\n"
                           "sharedram=%lu\nbufferram=%lu\ntotalswap=%lu\nfreeswap=%lu\n"
                           "procs=%u\ntotalhigh=%lu\nfreehigh=%lu\nmem_unit=%u\n",
                           si->uptime, si->loads[0], si->loads[1], si->loads[2], si->totalram,
                           si->freeram, si->sharedram, si->bufferram, si->totalswap,
                           si->freeswap, (unsigned)si->procs, si->totalhigh, si->freehigh,
                           si->mem_unit);
}

/* expected/sysinfo against what the inputs give */
static void
check_sysinfo(const char *name, const VsbProcInputs *in, const char *exp_dir, bool regen)
{
    g_autofree char *path = g_build_filename(exp_dir, "sysinfo", NULL);
    g_autofree char *expected = NULL;
    g_autofree char *actual = NULL;
    struct sysinfo si;

    g_assert_true(vsb_sysinfo_fill(in, &si));
    actual = format_sysinfo(&si);
    if (regen) {
        g_file_set_contents(path, actual, -1, NULL);
        return;
    }
    if (!g_file_get_contents(path, &expected, NULL, NULL))
        g_error("%s: no expected/sysinfo; sysinfo gives:\n%s", name, actual);
    if (!g_str_equal(actual, expected))
        g_error("%s: sysinfo differs from expected/sysinfo.\n--- got ---\n%s--- expected ---\n%s",
                name, actual, expected);
}

static void
test_case(gconstpointer data)
{
    const char *name = data;
    g_autofree char *dir = g_build_filename(data_dir, name, NULL);
    g_autofree char *cg = g_build_filename(dir, "cgroup", NULL);
    g_autofree char *host = g_build_filename(dir, "host", NULL);
    g_autofree char *params = g_build_filename(dir, "params", NULL);
    g_autofree char *exp_dir = g_build_filename(dir, "expected", NULL);
    g_autoptr(GHashTable) files = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    VsbProcInputs in = { .files = files };
    bool regen = g_getenv("VSB_PROCDATA_REGENERATE") != NULL;

    load_dir(files, cg, "");
    load_dir(files, host, "host/");
    load_params(&in, params);
    if (regen)
        g_mkdir_with_parents(exp_dir, 0755);

    for (int v = 0; v < VSB_PROC_VIEW_LAST; v++) {
        const char *view = vsb_proc_view_name(v);
        g_autofree char *path = g_build_filename(exp_dir, view, NULL);
        g_autofree char *actual = vsb_proc_render(v, &in);
        g_autofree char *expected = NULL;

        /* every input a renderer reads is one it declares */
        for (const char *const *n = vsb_proc_view_inputs(v); *n; n++)
            g_assert_nonnull(*n);
        if (regen) {
            if (actual)
                g_file_set_contents(path, actual, -1, NULL);
            else
                g_unlink(path);
            continue;
        }
        if (!g_file_get_contents(path, &expected, NULL, NULL)) {
            if (actual)
                g_error("%s: view %s renders, but there is no expected/%s:\n%s", name, view,
                        view, actual);
            continue;
        }
        if (!actual)
            g_error("%s: view %s renders nothing, expected/%s exists", name, view, view);
        if (!g_str_equal(actual, expected))
            g_error("%s: view %s differs from expected/%s.\n--- got ---\n%s--- expected ---\n%s",
                    name, view, view, actual, expected);
    }
    check_sysinfo(name, &in, exp_dir, regen);
}

/* Files every case must have, so that a typo in a name cannot pass
 * for an absent file. */
static void
test_case_files_known(gconstpointer data)
{
    const char *name = data;
    g_autofree char *cg = g_build_filename(data_dir, name, "cgroup", NULL);
    g_autoptr(GDir) d = g_dir_open(cg, 0, NULL);
    const char *f;

    g_assert_nonnull(d);
    while ((f = g_dir_read_name(d))) {
        bool known = false;
        for (int v = 0; v < VSB_PROC_VIEW_LAST && !known; v++)
            for (const char *const *n = vsb_proc_view_inputs(v); *n; n++)
                if (g_str_equal(*n, f))
                    known = true;
        if (!known)
            g_error("%s: cgroup/%s is read by no view", name, f);
    }
}

static void
test_cpu_list(void)
{
    static const struct {
        const char *text;
        const char *expected;   /* cpus joined by ' ', NULL = invalid */
    } cases[] = {
        { "0", "0" },
        { "0-3\n", "0 1 2 3" },
        { "0,2-3,7", "0 2 3 7" },
        { " 5 ", "5" },
        { "", NULL },
        { "3-1", NULL },
        { "1,0", NULL },
        { "a", NULL },
        { "0-", NULL },
        { "1,1", NULL },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GArray) cpus = vsb_proc_parse_cpu_list(cases[i].text);
        g_autoptr(GString) s = g_string_new(NULL);

        if (!cases[i].expected) {
            if (cpus)
                g_error("'%s' should be invalid", cases[i].text);
            continue;
        }
        g_assert_nonnull(cpus);
        for (guint j = 0; j < cpus->len; j++)
            g_string_append_printf(s, "%s%u", j ? " " : "", g_array_index(cpus, guint, j));
        g_assert_cmpstr(s->str, ==, cases[i].expected);
    }
}

/* The kernel's fixed-point steps: after one minute of a steady load of
 * 1, the 1-minute average is 1 - 1/e, however the minute is cut. */
static void
test_load_average(void)
{
    double a[3] = { 0, 0, 0 }, b[3] = { 0, 0, 0 };

    for (int i = 0; i < 12; i++)
        vsb_proc_load_update(a, 1, 5.0);
    vsb_proc_load_update(b, 1, 60.0);
    g_assert_cmpfloat_with_epsilon(a[0], 1 - exp(-1), 1e-9);
    g_assert_cmpfloat_with_epsilon(b[0], a[0], 1e-9);
    g_assert_cmpfloat_with_epsilon(a[1], 1 - exp(-0.2), 1e-9);
    g_assert_cmpfloat_with_epsilon(a[2], 1 - exp(-60.0 / 900), 1e-9);
    vsb_proc_load_update(a, 0, 0);
    g_assert_cmpfloat_with_epsilon(b[0], a[0], 1e-9);
    /* and it decays */
    vsb_proc_load_update(a, 0, 600);
    g_assert_cmpfloat(a[0], <, 0.0001);
}

/* Without the host's meminfo there is nothing to answer with. */
static void
test_sysinfo_needs_meminfo(void)
{
    VsbProcInputs in = { 0 };
    struct sysinfo si;

    g_assert_false(vsb_sysinfo_fill(&in, &si));
}

/* The i386 layout: figures that do not fit 32 bits are counted in
 * bigger units, the others are left as they are. */
static void
test_sysinfo_compat(void)
{
    struct sysinfo si = { .uptime = 42, .loads = { 65536, 2, 3 }, .totalram = 256ULL << 20,
                          .freeram = 100ULL << 20, .sharedram = 4096, .totalswap = 0,
                          .procs = 7, .mem_unit = 1 };
    VsbSysinfo32 c;

    G_STATIC_ASSERT(sizeof(VsbSysinfo32) == 64);
    vsb_sysinfo_to_compat(&si, &c);
    g_assert_cmpint(c.uptime, ==, 42);
    g_assert_cmpuint(c.loads[0], ==, 65536);
    g_assert_cmpuint(c.totalram, ==, 256U << 20);
    g_assert_cmpuint(c.freeram, ==, 100U << 20);
    g_assert_cmpuint(c.sharedram, ==, 4096);
    g_assert_cmpuint(c.procs, ==, 7);
    g_assert_cmpuint(c.mem_unit, ==, 1);

    /* 16 GiB of memory, 6 GiB of swap: both must fit */
    si.totalram = 16ULL << 30;
    si.freeram = 10ULL << 30;
    si.totalswap = 6ULL << 30;
    si.freeswap = 5ULL << 30;
    vsb_sysinfo_to_compat(&si, &c);
    g_assert_cmpuint(c.mem_unit, ==, 8);   /* 2^34 >> 3 fits, >> 2 does not */
    g_assert_cmpuint((guint64)c.totalram * c.mem_unit, ==, 16ULL << 30);
    g_assert_cmpuint((guint64)c.freeram * c.mem_unit, ==, 10ULL << 30);
    g_assert_cmpuint((guint64)c.totalswap * c.mem_unit, ==, 6ULL << 30);
    g_assert_cmpuint((guint64)c.freeswap * c.mem_unit, ==, 5ULL << 30);
}

static void
test_view_names(void)
{
    for (int v = 0; v < VSB_PROC_VIEW_LAST; v++)
        g_assert_cmpint(vsb_proc_view_from_name(vsb_proc_view_name(v)), ==, v);
    g_assert_cmpint(vsb_proc_view_from_name("bogus"), ==, -1);
    g_assert_null(vsb_proc_view_name(VSB_PROC_VIEW_LAST));
}

static gint
compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int
main(int argc, char **argv)
{
    g_autoptr(GDir) dir = NULL;
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *ent;
    int ret;

    g_test_init(&argc, &argv, NULL);
    data_dir = vsb_test_data_dir("procdata");
    g_test_add_func("/procviews/cpu-list", test_cpu_list);
    g_test_add_func("/procviews/load-average", test_load_average);
    g_test_add_func("/procviews/view-names", test_view_names);
    g_test_add_func("/procviews/sysinfo-needs-meminfo", test_sysinfo_needs_meminfo);
    g_test_add_func("/procviews/sysinfo-compat", test_sysinfo_compat);

    dir = g_dir_open(data_dir, 0, NULL);
    g_assert_nonnull(dir);
    while ((ent = g_dir_read_name(dir)))
        g_ptr_array_add(names, g_strdup(ent));
    g_ptr_array_sort(names, compare_names);
    g_assert_cmpuint(names->len, >, 0);
    for (guint i = 0; i < names->len; i++) {
        g_autofree char *p1 = g_strdup_printf("/procviews/case/%s", (char *)names->pdata[i]);
        g_autofree char *p2 = g_strdup_printf("/procviews/case-files/%s",
                                              (char *)names->pdata[i]);
        g_test_add_data_func(p1, names->pdata[i], test_case);
        g_test_add_data_func(p2, names->pdata[i], test_case_files_known);
    }
    ret = g_test_run();
    g_free(data_dir);
    return ret;
}
