/*
 * test-sandbox-cli.c: virt-sandbox's command line, data-driven from
 * tests/sandboxdata/cli.txt (its header says how to read it), plus the
 * identity taken through sudo.
 */
#include <config.h>

#include "vsb-sandbox-cli.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "vsb-test-util.h"

static char *data_dir;

static VsbSandboxCli *
parse_line(const char *args, GError **error)
{
    g_auto(GStrv) words = NULL;
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(GError) err = NULL;

    g_ptr_array_add(argv, (char *)"virt-sandbox");
    if (args[0] && !g_shell_parse_argv(args, NULL, &words, &err))
        g_error("cannot split '%s': %s", args, err->message);
    for (size_t i = 0; words && words[i]; i++)
        g_ptr_array_add(argv, words[i]);
    g_ptr_array_add(argv, NULL);
    return vsb_sandbox_cli_parse(argv->len - 1, (const char *const *)argv->pdata, error);
}

static void
check(const char *line, VsbSandboxCli *cli, GError *error, const char *expect, GKeyFile *kf)
{
    const char *eq;

    if (g_str_has_prefix(expect, "error: ")) {
        if (!error)
            g_error("%s: expected an error containing '%s', got none", line, expect + 7);
        if (!strstr(error->message, expect + 7))
            g_error("%s: expected an error containing '%s', got '%s'", line, expect + 7,
                    error->message);
        return;
    }
    if (error)
        g_error("%s: unexpected error: %s", line, error->message);
    if (g_str_equal(expect, "help")) {
        g_assert_nonnull(cli->help);
        g_assert_nonnull(strstr(cli->help, "--mount"));
        return;
    }
    if (g_str_equal(expect, "version")) {
        g_assert_true(cli->version);
        return;
    }
    if (g_str_has_prefix(expect, "uri=")) {
        g_assert_cmpstr(cli->uri ? cli->uri : "", ==, expect + 4);
        return;
    }
    g_assert_nonnull(kf);
    if (g_str_has_suffix(expect, "!")) {
        g_autofree char *gk = g_strndup(expect, strlen(expect) - 1);
        char *dot = strrchr(gk, '.');
        g_assert_nonnull(dot);
        *dot = '\0';
        if (g_key_file_has_key(kf, gk, dot + 1, NULL))
            g_error("%s: %s should be absent", line, expect);
        return;
    }
    eq = strchr(expect, '=');
    g_assert_nonnull(eq);
    {
        g_autofree char *gk = g_strndup(expect, eq - expect);
        char *dot = strrchr(gk, '.');
        g_autofree char *value = NULL;

        g_assert_nonnull(dot);
        *dot = '\0';
        value = g_key_file_get_value(kf, gk, dot + 1, NULL);
        if (g_strcmp0(value, eq + 1) != 0)
            g_error("%s: expected %s, got %s.%s=%s", line, expect, gk, dot + 1,
                    value ? value : "(absent)");
    }
}

static void
test_line(gconstpointer data)
{
    const char *line = data;
    g_auto(GStrv) parts = g_strsplit(line, "\t", -1);
    g_autoptr(GError) error = NULL;
    g_autoptr(VsbSandboxCli) cli = parse_line(parts[0], &error);
    g_autoptr(GKeyFile) kf = NULL;

    g_assert_true((cli == NULL) == (error != NULL));
    if (cli && cli->config) {
        g_autofree char *saved = vsb_sandbox_config_to_data(cli->config);
        g_autoptr(GError) err = NULL;
        kf = g_key_file_new();
        g_assert_true(g_key_file_load_from_data(kf, saved, -1, G_KEY_FILE_NONE, &err));
    }
    g_assert_nonnull(parts[1]);
    for (size_t i = 1; parts[i]; i++)
        check(line, cli, error, parts[i], kf);
}

/* Through sudo, the sandbox is for the person who typed the command. */
static void
test_sudo(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VsbSandboxCli) cli = NULL;
    const char *argv[] = { "virt-sandbox", "--", "id", NULL };

    if (getuid() != 0) {
        g_test_skip("SUDO_UID only counts when running as root");
        return;
    }
    g_setenv("SUDO_UID", "65534", TRUE);
    g_setenv("SUDO_GID", "65533", TRUE);
    cli = vsb_sandbox_cli_parse(3, argv, &error);
    g_unsetenv("SUDO_UID");
    g_unsetenv("SUDO_GID");
    g_assert_no_error(error);
    g_assert_cmpuint(vsb_sandbox_config_get_uid(cli->config), ==, 65534);
    g_assert_cmpuint(vsb_sandbox_config_get_gid(cli->config), ==, 65533);
    g_assert_false(vsb_sandbox_config_get_privileged(cli->config));
    g_clear_pointer(&cli, vsb_sandbox_cli_free);

    /* Without sudo, root stays root (but unprivileged unless -p). */
    cli = vsb_sandbox_cli_parse(3, argv, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(vsb_sandbox_config_get_uid(cli->config), ==, 0);
    g_assert_false(vsb_sandbox_config_get_privileged(cli->config));
}

/* Parallel runs never clash: every run has its own generated name. */
static void
test_names(void)
{
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    const char *argv[] = { "virt-sandbox", "true", NULL };

    for (int i = 0; i < 1000; i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(VsbSandboxCli) cli = vsb_sandbox_cli_parse(2, argv, &error);
        const char *name;

        g_assert_no_error(error);
        name = vsb_sandbox_config_get_name(cli->config);
        g_assert_true(g_str_has_prefix(name, "sandbox-"));
        g_assert_false(g_hash_table_contains(seen, name));
        g_hash_table_add(seen, g_strdup(name));
    }
}

int
main(int argc, char **argv)
{
    g_autofree char *path = NULL;
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;
    g_auto(GStrv) lines = NULL;
    int n = 0;

    g_test_init(&argc, &argv, NULL);
    data_dir = vsb_test_data_dir("sandboxdata");
    path = g_build_filename(data_dir, "cli.txt", NULL);
    if (!g_file_get_contents(path, &text, NULL, &error))
        g_error("%s", error->message);
    /* Relative paths in the cases are relative to /. */
    if (g_chdir("/") < 0)
        g_error("cannot chdir to /");
    g_unsetenv("SUDO_UID");
    g_unsetenv("SUDO_GID");
    lines = g_strsplit(text, "\n", -1);
    for (size_t i = 0; lines[i]; i++) {
        g_autofree char *tpath = NULL;
        if (!lines[i][0] || lines[i][0] == '#')
            continue;
        tpath = g_strdup_printf("/sandbox/cli/%03d", ++n);
        g_test_add_data_func(tpath, lines[i], test_line);
    }
    g_test_add_func("/sandbox/cli/sudo", test_sudo);
    g_test_add_func("/sandbox/cli/names", test_names);
    n = g_test_run();
    g_free(data_dir);
    return n;
}
