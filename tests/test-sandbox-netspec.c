/*
 * test-sandbox-netspec.c: the -N spec parser, data-driven from
 * tests/netspecdata/specs.txt (its header says how to read it).
 */
#include <config.h>

#include "vsb-sandbox-netspec.h"
#include "vsb-sandbox-config.h"

#include <string.h>

#include "vsb-test-util.h"

static void
test_spec(gconstpointer data)
{
    const char *line = data;
    g_auto(GStrv) parts = g_strsplit(line, "\t", 2);
    const char *spec = g_str_equal(parts[0], "<empty>") ? "" : parts[0];
    g_autoptr(GError) error = NULL;
    g_autoptr(VsbNetspec) n = NULL;

    g_assert_nonnull(parts[1]);
    n = vsb_netspec_parse(spec, &error);
    g_assert_true((n == NULL) == (error != NULL));
    if (g_str_has_prefix(parts[1], "error: ")) {
        if (!error)
            g_error("'%s': expected an error containing '%s', got none", spec, parts[1] + 7);
        g_assert_true(g_error_matches(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID));
        if (!strstr(error->message, parts[1] + 7))
            g_error("'%s': expected an error containing '%s', got '%s'", spec, parts[1] + 7,
                    error->message);
        return;
    }
    if (error)
        g_error("'%s': unexpected error: %s", spec, error->message);
    {
        g_autofree char *got = vsb_netspec_to_string(n);
        g_assert_cmpstr(got, ==, parts[1]);
    }
}

/* An explicit kind is what resolve answers, whatever the host has. */
static void
test_resolve_explicit(void)
{
    g_autoptr(VsbNetspec) br = vsb_netspec_parse("source=bridge:lo", NULL);
    g_autoptr(VsbNetspec) net = vsb_netspec_parse("source=network:lo", NULL);
    g_autoptr(VsbNetspec) name = vsb_netspec_parse("source=lo", NULL);

    g_assert_cmpint(vsb_netspec_resolve(br), ==, VSB_NETSPEC_SOURCE_BRIDGE);
    g_assert_cmpint(vsb_netspec_resolve(net), ==, VSB_NETSPEC_SOURCE_NETWORK);
    /* lo is no bridge: a bare name that is none is a network. */
    g_assert_cmpint(vsb_netspec_resolve(name), ==, VSB_NETSPEC_SOURCE_NETWORK);
}

static void
test_kind_names(void)
{
    for (int k = 0; k < VSB_NETSPEC_SOURCE_LAST; k++)
        g_assert_cmpint(vsb_netspec_source_kind_from_string(vsb_netspec_source_kind_to_string(k)),
                        ==, k);
    g_assert_cmpint(vsb_netspec_source_kind_from_string("bogus"), ==, -1);
    g_assert_null(vsb_netspec_source_kind_to_string(VSB_NETSPEC_SOURCE_LAST));
}

int
main(int argc, char **argv)
{
    g_autofree char *dir = NULL, *path = NULL, *text = NULL;
    g_auto(GStrv) lines = NULL;

    g_test_init(&argc, &argv, NULL);
    dir = vsb_test_data_dir("netspecdata");
    path = g_build_filename(dir, "specs.txt", NULL);
    text = vsb_test_read_file(path);
    lines = g_strsplit(text, "\n", -1);
    for (size_t i = 0; lines[i]; i++) {
        g_autofree char *tpath = NULL;
        if (!lines[i][0] || lines[i][0] == '#')
            continue;
        tpath = g_strdup_printf("/sandbox/netspec/line%zu", i + 1);
        g_test_add_data_func(tpath, lines[i], test_spec);
    }
    g_test_add_func("/sandbox/netspec/resolve-explicit", test_resolve_explicit);
    g_test_add_func("/sandbox/netspec/kind-names", test_kind_names);
    return g_test_run();
}
