/*
 * test-sandbox-launch.c: the virt-sandbox launcher's decisions
 * (sandbox/vsb-launch.h), one case per line of
 * tests/sandboxdata/launch/{warm,cgroup}.txt.
 */
#include <config.h>

#include "vsb-launch.h"
#include "vsb-test-util.h"

#include <limits.h>

typedef struct {
    char *line;
    char *dir;
} Case;

static void
case_free(gpointer data)
{
    Case *c = data;

    g_free(c->line);
    g_free(c->dir);
    g_free(c);
}

static void
test_warm(gconstpointer data)
{
    const Case *c = data;
    g_auto(GStrv) f = g_strsplit(c->line, "\t", 3);
    g_autoptr(GError) error = NULL;
    g_auto(GStrv) words = NULL;
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    bool want;

    g_assert_cmpuint(g_strv_length(f), ==, 3);
    g_assert_true(g_shell_parse_argv(f[2], NULL, &words, &error));
    g_ptr_array_add(argv, (gpointer) "virt-sandbox");
    for (char **w = words; *w; w++)
        g_ptr_array_add(argv, *w);
    g_ptr_array_add(argv, NULL);
    want = g_str_equal(f[1], "yes");
    g_assert_cmpint(vsb_launch_wants_warm((int)argv->len - 1, (char *const *)argv->pdata,
                                          g_str_equal(f[0], "ROOT")), ==, want);
}

static void
test_cgroup(gconstpointer data)
{
    const Case *c = data;
    g_auto(GStrv) f = g_strsplit(c->line, "\t", 2);
    g_autofree char *mi_path = NULL, *cg_path = NULL, *mi = NULL, *cg = NULL;
    char buf[PATH_MAX];
    bool found;

    g_assert_cmpuint(g_strv_length(f), ==, 2);
    mi_path = g_strdup_printf("%s/%s-mountinfo", c->dir, f[0]);
    cg_path = g_strdup_printf("%s/%s-cgroup", c->dir, f[0]);
    mi = vsb_test_read_file(mi_path);
    cg = vsb_test_read_file(cg_path);
    found = vsb_launch_cgroup_file(mi, cg, buf, sizeof(buf));
    if (g_str_equal(f[1], "-")) {
        g_assert_false(found);
        return;
    }
    g_assert_true(found);
    g_assert_cmpstr(buf, ==, f[1]);
    /* Too small a buffer is a refusal, never a truncated path. */
    g_assert_false(vsb_launch_cgroup_file(mi, cg, buf, strlen(f[1])));
}

static void
add_cases(const char *dir, const char *file, const char *prefix, GTestDataFunc fn)
{
    g_autofree char *path = g_build_filename(dir, file, NULL);
    g_autofree char *text = vsb_test_read_file(path);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

    for (guint i = 0; lines[i]; i++) {
        Case *c;
        g_autofree char *name = NULL;

        if (!lines[i][0] || lines[i][0] == '#')
            continue;
        c = g_new0(Case, 1);
        c->line = g_strdup(lines[i]);
        c->dir = g_strdup(dir);
        name = g_strdup_printf("/launch/%s/line%u", prefix, i + 1);
        g_test_add_data_func_full(name, c, fn, case_free);
    }
}

int
main(int argc, char **argv)
{
    g_autofree char *dir = vsb_test_data_dir("sandboxdata/launch");

    g_test_init(&argc, &argv, NULL);
    add_cases(dir, "warm.txt", "warm", test_warm);
    add_cases(dir, "cgroup.txt", "cgroup", test_cgroup);
    return g_test_run();
}
