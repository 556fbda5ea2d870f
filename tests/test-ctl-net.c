/*
 * test-ctl-net.c: the controller's reading of libvirt's network status
 * (vsb_ctl_net_network_bridge), one case per line of
 * tests/netstatusdata/cases.txt; the veths themselves are
 * tests/integration/test_daemon_net.py's.
 */
#include <config.h>

#include "vsb-ctl-net.h"
#include "vsb-test-util.h"

#include <string.h>

static void
test_network_bridge(gconstpointer data)
{
    const char *line = data;
    g_autofree char *dir = vsb_test_data_dir("netstatusdata");
    g_auto(GStrv) f = g_strsplit(line, "\t", 2);
    g_autoptr(GError) error = NULL;
    g_autofree char *bridge = NULL;

    g_assert_cmpuint(g_strv_length(f), ==, 2);
    bridge = vsb_ctl_net_network_bridge(dir, f[0], &error);
    if (g_str_has_prefix(f[1], "error: ")) {
        g_assert_null(bridge);
        g_assert_nonnull(error);
        if (!strstr(error->message, f[1] + strlen("error: ")))
            g_error("%s: expected '%s', got '%s'", f[0], f[1], error->message);
        return;
    }
    g_assert_no_error(error);
    g_assert_cmpstr(bridge, ==, f[1]);
}

int
main(int argc, char **argv)
{
    g_autofree char *dir = vsb_test_data_dir("netstatusdata");
    g_autofree char *path = g_build_filename(dir, "cases.txt", NULL);
    g_autofree char *text = vsb_test_read_file(path);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    guint n = 0;

    g_test_init(&argc, &argv, NULL);
    for (guint i = 0; lines[i]; i++) {
        g_autofree char *name = NULL;

        if (!lines[i][0] || lines[i][0] == '#')
            continue;
        name = g_strdup_printf("/ctl-net/network-bridge/%.*s", (int)strcspn(lines[i], "\t"),
                               lines[i]);
        g_test_add_data_func_full(name, g_strdup(lines[i]), test_network_bridge, g_free);
        n++;
    }
    g_assert_cmpuint(n, >, 5);
    return g_test_run();
}
