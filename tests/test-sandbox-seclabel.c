/*
 * test-sandbox-seclabel.c: MCS labels for -s dynamic
 * (vsb-sandbox-seclabel.h): level and category parsing, labels made
 * from a base and a pair, the pair numbering, picking a free pair,
 * lxc_contexts, and leases in a directory (stale ones reclaimed, none
 * shared between concurrent takers).
 *
 * Data: tests/sandboxdata/seclabel/{labels.txt,pairs.txt,lxc_contexts}.
 */
#include <config.h>

#include "vsb-sandbox-config.h"
#include "vsb-sandbox-seclabel.h"
#include "vsb-test-util.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *data_dir;

static GPtrArray *
data_lines(const char *name)
{
    g_autofree char *path = g_build_filename(data_dir, "seclabel", name, NULL);
    g_autofree char *text = vsb_test_read_file(path);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);

    for (size_t i = 0; lines[i]; i++)
        if (lines[i][0] && lines[i][0] != '#')
            g_ptr_array_add(out, g_strdup(lines[i]));
    g_assert_cmpuint(out->len, >, 0);
    return out;
}

static void
test_with_pair(void)
{
    g_autoptr(GPtrArray) lines = data_lines("labels.txt");

    for (guint i = 0; i < lines->len; i++) {
        g_auto(GStrv) f = g_strsplit(g_ptr_array_index(lines, i), "\t", 3);
        g_autoptr(GError) error = NULL;
        g_autofree char *label = NULL;
        VsbMcsPair pair = { -1, -1 };
        const char *comma;

        g_assert_nonnull(f[1]);
        g_assert_nonnull(f[2]);
        /* The pair column is written loosely on purpose: c3,c1 and
         * c2,c2 must be refused by with_pair, not by this parser. */
        comma = strchr(f[1], ',');
        g_assert_nonnull(comma);
        pair.c1 = atoi(f[1] + 1);
        pair.c2 = atoi(comma + 2);
        label = vsb_seclabel_with_pair(f[0], pair, &error);
        if (g_str_has_prefix(f[2], "error: ")) {
            g_assert_null(label);
            g_assert_nonnull(error);
            if (!strstr(error->message, f[2] + strlen("error: ")))
                g_error("%s: expected an error with '%s', got '%s'", f[0], f[2] + 7,
                        error->message);
        } else {
            g_assert_no_error(error);
            g_assert_cmpstr(label, ==, f[2]);
        }
    }
}

static void
test_pair_from_label(void)
{
    g_autoptr(GPtrArray) lines = data_lines("pairs.txt");

    for (guint i = 0; i < lines->len; i++) {
        g_auto(GStrv) f = g_strsplit(g_ptr_array_index(lines, i), "\t", 2);
        VsbMcsPair pair;
        bool ok = vsb_mcs_pair_from_label(f[0], &pair);

        g_assert_nonnull(f[1]);
        if (g_str_equal(f[1], "-")) {
            g_assert_false(ok);
        } else {
            g_autofree char *s = NULL;
            g_assert_true(ok);
            s = vsb_mcs_pair_to_string(pair);
            g_assert_cmpstr(s, ==, f[1]);
        }
    }
}

static void
test_categories(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *sens = NULL;
    VsbMcsSet set;

    g_assert_true(vsb_mcs_parse_categories("c0.c3,c7,c1023", &set, &error));
    g_assert_no_error(error);
    for (int c = 0; c < VSB_MCS_CATEGORIES; c++)
        g_assert_cmpint(vsb_mcs_set_has(&set, c), ==, c <= 3 || c == 7 || c == 1023);
    g_assert_false(vsb_mcs_set_has(&set, -1));
    g_assert_false(vsb_mcs_set_has(&set, 1024));

    g_assert_true(vsb_mcs_parse_level("s0-s0:c0.c1023", &sens, &set, &error));
    g_assert_cmpstr(sens, ==, "s0");
    g_assert_false(vsb_mcs_set_has(&set, 0));   /* the low end has none */

    for (const char *const *bad = (const char *const[]){ "", "c", "c-1", "1", "c1.c2.c3",
                                                         "c01x", "c1024", "c0.c1024", NULL };
         *bad; bad++) {
        g_clear_error(&error);
        g_assert_false(vsb_mcs_parse_categories(*bad, &set, &error));
        g_assert_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID);
    }
}

/* Every pair has one index and back, the indexes cover 0..PAIRS-1. */
static void
test_pair_index(void)
{
    guint expect = 0;

    for (int a = 0; a < VSB_MCS_CATEGORIES; a++) {
        for (int b = a + 1; b < VSB_MCS_CATEGORIES; b++) {
            VsbMcsPair p = { a, b }, q;
            guint idx = vsb_mcs_pair_index(p);
            g_assert_cmpuint(idx, ==, expect);
            expect++;
            if (idx % 4099 == 0 || b == VSB_MCS_CATEGORIES - 1) {
                q = vsb_mcs_pair_at(idx);
                g_assert_cmpint(q.c1, ==, a);
                g_assert_cmpint(q.c2, ==, b);
            }
        }
    }
    g_assert_cmpuint(expect, ==, VSB_MCS_PAIRS);
}

/* With all pairs but one taken, the one left is found; with all taken,
 * none is made up. */
static void
test_pick(void)
{
    g_autoptr(GHashTable) used = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_autoptr(GRand) rng = g_rand_new_with_seed(7);
    VsbMcsPair p, last = { 500, 777 };
    guint free_idx = vsb_mcs_pair_index(last);

    for (guint i = 0; i < VSB_MCS_PAIRS; i++)
        if (i != free_idx)
            g_hash_table_add(used, GUINT_TO_POINTER(i + 1));
    g_assert_true(vsb_mcs_pick(used, rng, &p));
    g_assert_cmpint(p.c1, ==, 500);
    g_assert_cmpint(p.c2, ==, 777);
    g_hash_table_add(used, GUINT_TO_POINTER(free_idx + 1));
    g_assert_false(vsb_mcs_pick(used, rng, &p));

    /* Nothing taken: a valid pair, c1 < c2 < 1024. */
    g_hash_table_remove_all(used);
    for (int i = 0; i < 1000; i++) {
        g_assert_true(vsb_mcs_pick(used, rng, &p));
        g_assert_cmpint(p.c1, >=, 0);
        g_assert_cmpint(p.c1, <, p.c2);
        g_assert_cmpint(p.c2, <, VSB_MCS_CATEGORIES);
    }
}

static void
test_lxc_contexts(void)
{
    g_autofree char *path = g_build_filename(data_dir, "seclabel", "lxc_contexts", NULL);
    g_autofree char *text = vsb_test_read_file(path);
    g_autofree char *process = NULL, *file = NULL;

    vsb_seclabel_parse_lxc_contexts(text, &process, &file);
    g_assert_cmpstr(process, ==, "system_u:system_r:container_t:s0");
    g_assert_cmpstr(file, ==, "system_u:object_r:container_file_t:s0");
    g_clear_pointer(&process, g_free);
    g_clear_pointer(&file, g_free);
    vsb_seclabel_parse_lxc_contexts("# nothing\nfoo = \"bar\"\n", &process, &file);
    g_assert_null(process);
    g_assert_null(file);
}

/* A policy that knows the types listed in valid_types. */
static const char *const *valid_types;

static bool
fake_valid(const char *context)
{
    for (size_t i = 0; valid_types[i]; i++)
        if (strstr(context, valid_types[i]))
            return true;
    return false;
}

static void
check_bases(const char *label, const char *lxc, VsbSeclabelValidFunc valid,
            const char *want_process, const char *want_file)
{
    g_autofree char *process = NULL, *file = NULL;

    vsb_seclabel_dynamic_bases(label, lxc, valid, &process, &file);
    g_assert_cmpstr(process, ==, want_process);
    g_assert_cmpstr(file, ==, want_file);
}

static void
test_dynamic_bases(void)
{
    static const char *const ours[] = { ":virt_sandbox_lxc_t:", ":virt_sandbox_file_t:",
                                        ":svirt_t:", NULL };
    static const char *const debian[] = { ":svirt_lxc_net_t:", ":svirt_sandbox_file_t:", NULL };
    static const char *const fedora[] = { ":container_t:", ":container_file_t:",
                                          ":svirt_lxc_net_t:", ":svirt_sandbox_file_t:", NULL };
    static const char *const none[] = { NULL };
    const char *lxc = "process = \"system_u:system_r:container_t:s0\"\n"
                      "file = \"system_u:object_r:container_file_t:s0\"\n";

    /* SELinux off: the classic pair, or the given process label. */
    check_bases(NULL, lxc, NULL, VSB_SECLABEL_DEFAULT_PROCESS, VSB_SECLABEL_DEFAULT_FILE);
    check_bases("u:r:x_t:s0", NULL, NULL, "u:r:x_t:s0", VSB_SECLABEL_DEFAULT_FILE);
    /* Our module loaded: its pair, even when lxc_contexts names types
     * the policy lacks (Debian's names container_t, which it has not). */
    valid_types = ours;
    check_bases(NULL, lxc, fake_valid, VSB_SECLABEL_POLICY_PROCESS, VSB_SECLABEL_POLICY_FILE);
    check_bases("system_u:system_r:virt_sandbox_lxc_t:s0", lxc, fake_valid,
                "system_u:system_r:virt_sandbox_lxc_t:s0", VSB_SECLABEL_POLICY_FILE);
    /* A label of another type: the first valid pair's file. */
    check_bases("u:r:svirt_t:s0", lxc, fake_valid, "u:r:svirt_t:s0", VSB_SECLABEL_POLICY_FILE);
    /* lxc_contexts' pair where the policy has it, the label's type
     * picking the pair. */
    valid_types = fedora;
    check_bases(NULL, lxc, fake_valid, "system_u:system_r:container_t:s0",
                "system_u:object_r:container_file_t:s0");
    check_bases("system_u:system_r:svirt_lxc_net_t:s0:c1,c2", lxc, fake_valid,
                "system_u:system_r:svirt_lxc_net_t:s0:c1,c2", VSB_SECLABEL_DEFAULT_FILE);
    /* The classic pair. */
    valid_types = debian;
    check_bases(NULL, lxc, fake_valid, VSB_SECLABEL_DEFAULT_PROCESS, VSB_SECLABEL_DEFAULT_FILE);
    /* Nothing valid: the classic pair (the relabelling then says why). */
    valid_types = none;
    check_bases(NULL, NULL, fake_valid, VSB_SECLABEL_DEFAULT_PROCESS, VSB_SECLABEL_DEFAULT_FILE);
}

static char *
make_tmpdir(void)
{
    g_autoptr(GError) error = NULL;
    char *dir = g_dir_make_tmp("vsb-mcs-XXXXXX", &error);

    g_assert_no_error(error);
    return dir;
}

static void
remove_dir(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *n;

    while (d && (n = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(dir, n, NULL);
        g_unlink(p);
    }
    g_rmdir(dir);
}

/* Leases: distinct while held, the file says who holds it, released on
 * release, and a dead holder's lease is reclaimed. */
static void
test_leases(void)
{
    g_autofree char *dir = make_tmpdir();
    g_autoptr(GHashTable) seen = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_autoptr(GPtrArray) leases = g_ptr_array_new_with_free_func(
        (GDestroyNotify)vsb_mcs_lease_release);
    g_autoptr(GError) error = NULL;
    g_autofree char *stale = g_build_filename(dir, "c1,c2", NULL);
    g_autofree char *content = NULL;
    g_autofree char *name = NULL, *path = NULL;
    pid_t dead;
    int status;

    /* A holder that is gone: a child that exited. */
    dead = fork();
    if (dead == 0)
        _exit(0);
    waitpid(dead, &status, 0);
    content = g_strdup_printf("%d 12345 gone\n", (int)dead);
    g_assert_true(g_file_set_contents(stale, content, -1, NULL));

    /* Many takers from one seed would collide at once without the
     * directory: each sees what the others hold. */
    for (int i = 0; i < 200; i++) {
        g_autoptr(GRand) same = g_rand_new_with_seed(42);
        VsbMcsLease *l = vsb_mcs_lease_take(dir, "t", same, &error);
        VsbMcsPair p;
        g_assert_no_error(error);
        p = vsb_mcs_lease_get_pair(l);
        g_assert_false(g_hash_table_contains(seen, GUINT_TO_POINTER(vsb_mcs_pair_index(p) + 1)));
        g_hash_table_add(seen, GUINT_TO_POINTER(vsb_mcs_pair_index(p) + 1));
        g_ptr_array_add(leases, l);
    }
    g_assert_false(g_file_test(stale, G_FILE_TEST_EXISTS));

    name = vsb_mcs_pair_to_string(vsb_mcs_lease_get_pair(g_ptr_array_index(leases, 0)));
    path = g_build_filename(dir, name, NULL);
    g_clear_pointer(&content, g_free);
    g_assert_true(g_file_get_contents(path, &content, NULL, NULL));
    g_assert_cmpint(atoi(content), ==, getpid());
    g_assert_nonnull(strstr(content, " t\n"));
    g_ptr_array_set_size(leases, 0);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));

    remove_dir(dir);
}

/* Processes taking leases at the same time never share a pair.  They
 * hold them until told to go (a dead holder's pairs are free again). */
static void
test_leases_concurrent(void)
{
    g_autofree char *dir = make_tmpdir();
    enum { PROCS = 8, EACH = 25 };
    int fds[2], go[2];
    char c;
    pid_t pids[PROCS];
    g_autoptr(GHashTable) seen = g_hash_table_new(g_direct_hash, g_direct_equal);
    VsbMcsPair p;

    g_assert_cmpint(pipe(fds), ==, 0);
    g_assert_cmpint(pipe(go), ==, 0);
    for (int i = 0; i < PROCS; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            /* Same seed everywhere: only the lock keeps them apart. */
            GRand *rng = g_rand_new_with_seed(99);
            VsbMcsLease *held[EACH];
            close(fds[0]);
            close(go[1]);
            for (int j = 0; j < EACH; j++) {
                g_rand_set_seed(rng, 99);
                held[j] = vsb_mcs_lease_take(dir, "c", rng, NULL);
                if (!held[j])
                    _exit(1);
                p = vsb_mcs_lease_get_pair(held[j]);
                if (write(fds[1], &p, sizeof(p)) != sizeof(p))
                    _exit(1);
            }
            close(fds[1]);
            if (read(go[0], &c, 1) < 0)
                _exit(1);
            _exit(0);   /* leases stay, as after a crash */
        }
    }
    close(fds[1]);
    close(go[0]);
    for (int n = 0; n < PROCS * EACH; n++) {
        g_assert_cmpint(read(fds[0], &p, sizeof(p)), ==, sizeof(p));
        guint key = vsb_mcs_pair_index(p) + 1;
        g_assert_false(g_hash_table_contains(seen, GUINT_TO_POINTER(key)));
        g_hash_table_add(seen, GUINT_TO_POINTER(key));
    }
    close(fds[0]);
    close(go[1]);
    for (int i = 0; i < PROCS; i++) {
        int status;
        waitpid(pids[i], &status, 0);
        g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    g_assert_cmpuint(g_hash_table_size(seen), ==, PROCS * EACH);
    remove_dir(dir);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    data_dir = vsb_test_data_dir("sandboxdata");
    g_test_add_func("/sandbox/seclabel/with-pair", test_with_pair);
    g_test_add_func("/sandbox/seclabel/pair-from-label", test_pair_from_label);
    g_test_add_func("/sandbox/seclabel/categories", test_categories);
    g_test_add_func("/sandbox/seclabel/pair-index", test_pair_index);
    g_test_add_func("/sandbox/seclabel/pick", test_pick);
    g_test_add_func("/sandbox/seclabel/lxc-contexts", test_lxc_contexts);
    g_test_add_func("/sandbox/seclabel/dynamic-bases", test_dynamic_bases);
    g_test_add_func("/sandbox/seclabel/leases", test_leases);
    g_test_add_func("/sandbox/seclabel/leases-concurrent", test_leases_concurrent);
    return g_test_run();
}
