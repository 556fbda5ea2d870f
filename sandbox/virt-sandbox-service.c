/*
 * virt-sandbox-service: service sandboxes, persistent containers that
 * run one service (vsb-sandbox-service.h).
 *
 *   virt-sandbox-service [-c URI] [-p PATH] COMMAND ...
 *     create [-m MOUNT]... [-s SECURITY] [-e NAME=VALUE]... [--private]
 *            [-i IMAGESIZE] [--privileged] NAME -- COMMAND [ARGS...]
 *     create -u UNIT... [-m MOUNT]... [-s SECURITY] [-i IMAGESIZE]
 *            [--privileged] NAME    (systemd inside, running UNITs)
 *     clone SRC DST
 *     start [--foreground] NAME
 *     stop NAME
 *     reload [-u UNIT]... NAME     (SIGHUP to the service's program;
 *                                   systemctl reload-or-restart UNITs)
 *     list
 *     connect NAME                 (its console: virsh console)
 *     execute NAME -- COMMAND [ARGS...]
 *     upgrade NAME
 *     delete NAME
 *
 * -c URI: the driver (default VSB_SANDBOX_DEFAULT_URI; the daemon must
 * run: services outlive this tool, so it does not start one).  -p PATH:
 * where the services' directories are (default VSB_SERVICE_DEFAULT_DIR);
 * both go before or after COMMAND.  A service runs as root without
 * capabilities (--privileged keeps them), in /, the host's / read-only
 * with private /tmp, /run, /dev, ... (as virt-sandbox).
 *
 * Exit status: 0, or 1 with one message on stderr; execute: the
 * command's status (128+N for signal N, 125 when the service cannot be
 * entered); start --foreground: the service program's status.
 *
 * Environment: VSB_SANDBOX_INIT, virt-sandbox-init's path (tests).
 */
#include <config.h>

#include "vsb-sandbox-service.h"
#include "vsb-sandbox-netspec.h"

#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define PROG "virt-sandbox-service"

typedef struct {
    char *uri;
    char *path;
    /* create */
    char **units;
    char **networks;
    char **mounts;
    char **envs;
    char *security;
    char *imagesize;
    gboolean private_dirs;
    gboolean privileged;
    /* start */
    gboolean foreground;
} Options;

static void
options_clear(Options *o)
{
    g_free(o->uri);
    g_free(o->path);
    g_strfreev(o->units);
    g_strfreev(o->networks);
    g_strfreev(o->mounts);
    g_strfreev(o->envs);
    g_free(o->security);
    g_free(o->imagesize);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Options, options_clear)

static const char usage[] =
    "usage: " PROG " [-c URI] [-p PATH] COMMAND ...\n"
    "  create [-m TYPE:DST=SRC]... [-s SECURITY] [-e NAME=VALUE]... [--private]\n"
    "         [-i IMAGESIZE] [--privileged] NAME -- COMMAND [ARGS...]\n"
    "  create -u UNIT... [-m ...] [-s ...] [-i IMAGESIZE] [--privileged] NAME\n"
    "         systemd inside, running UNITs (names, or unit files to copy in)\n"
    "  clone SRC DST | start [--foreground] NAME | stop NAME | reload [-u UNIT]... NAME\n"
    "  list\n"
    "  connect NAME | execute NAME -- COMMAND [ARGS...] | upgrade NAME | delete NAME\n"
    "  -c URI   the driver (default " "lxc:///system?socket=" RUNSTATEDIR
    "/virt-sandbox/virt-sandboxd-sock)\n"
    "  -p PATH  the services' directory (default " SYSCONFDIR "/virt-sandbox/services)\n"
    "  --private        a private writable /etc (a copy of the host's) and /var\n"
    "  -i IMAGESIZE     the same, each in an ext4 image file of IMAGESIZE (e.g. 256M)\n";

static int
fail(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static int
fail(const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_printerr(PROG ": %s\n", msg);
    return 1;
}

/* Parse the options of @cmd in @argv (up to a "--", whose rest goes to
 * @rest); positional arguments in @args. */
static bool
parse(const char *cmd, int argc, char **argv, Options *o, GPtrArray *args, char ***rest,
      GError **error)
{
    const GOptionEntry common[] = {
        { "connect", 'c', 0, G_OPTION_ARG_STRING, &o->uri, "libvirt URI", "URI" },
        { "path", 'p', 0, G_OPTION_ARG_FILENAME, &o->path, "services' directory", "PATH" },
        { NULL }
    };
    const GOptionEntry create[] = {
        { "unit", 'u', 0, G_OPTION_ARG_STRING_ARRAY, &o->units, "systemd unit", "UNIT" },
        { "network", 'N', 0, G_OPTION_ARG_STRING_ARRAY, &o->networks,
          "a network interface (as virt-sandbox -N)", "SPEC" },
        { "mount", 'm', 0, G_OPTION_ARG_STRING_ARRAY, &o->mounts, "mount", "TYPE:DST=SRC" },
        { "env", 'e', 0, G_OPTION_ARG_STRING_ARRAY, &o->envs, "environment", "NAME=VALUE" },
        { "security", 's', 0, G_OPTION_ARG_STRING, &o->security, "security", "SPEC" },
        { "imagesize", 'i', 0, G_OPTION_ARG_STRING, &o->imagesize, "image size", "SIZE" },
        { "private", 0, 0, G_OPTION_ARG_NONE, &o->private_dirs, "private /etc, /var", NULL },
        { "privileged", 0, 0, G_OPTION_ARG_NONE, &o->privileged, "keep capabilities", NULL },
        { NULL }
    };
    const GOptionEntry start[] = {
        { "foreground", 'f', 0, G_OPTION_ARG_NONE, &o->foreground, "follow", NULL },
        { NULL }
    };
    const GOptionEntry reload[] = {
        { "unit", 'u', 0, G_OPTION_ARG_STRING_ARRAY, &o->units, "systemd unit", "UNIT" },
        { NULL }
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
    g_autoptr(GPtrArray) av = g_ptr_array_new();
    int n;

    g_option_context_set_help_enabled(ctx, FALSE);
    g_option_context_add_main_entries(ctx, common, NULL);
    if (g_str_equal(cmd, "create"))
        g_option_context_add_main_entries(ctx, create, NULL);
    else if (g_str_equal(cmd, "start"))
        g_option_context_add_main_entries(ctx, start, NULL);
    else if (g_str_equal(cmd, "reload"))
        g_option_context_add_main_entries(ctx, reload, NULL);

    g_ptr_array_add(av, (char *)PROG);
    for (n = 0; n < argc && !g_str_equal(argv[n], "--"); n++)
        g_ptr_array_add(av, argv[n]);
    *rest = n < argc ? argv + n + 1 : NULL;
    g_ptr_array_add(av, NULL);
    {
        int ac = av->len - 1;
        char **a = (char **)av->pdata;
        if (!g_option_context_parse(ctx, &ac, &a, error)) {
            g_prefix_error(error, "%s: ", cmd);
            return false;
        }
        for (int i = 1; i < ac; i++) {
            if (a[i][0] == '-' && a[i][1]) {
                g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION,
                            "%s: unknown option %s", cmd, a[i]);
                return false;
            }
            g_ptr_array_add(args, a[i]);
        }
    }
    return true;
}

static bool
want_args(const char *cmd, GPtrArray *args, guint n, const char *what, GError **error)
{
    if (args->len != n) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "%s wants %s, got %u argument%s", cmd, what, args->len,
                    args->len == 1 ? "" : "s");
        return false;
    }
    return true;
}

/* The config of a service from create's options (a systemd one's
 * command is systemd: what the domain runs). */
static VsbSandboxConfig *
create_config(const char *name, Options *o, char **command, GError **error)
{
    g_autoptr(VsbSandboxConfig) c = NULL;

    if (!(c = vsb_sandbox_config_new(name, error)) ||
        !vsb_sandbox_config_set_cwd(c, "/", error) ||
        !vsb_sandbox_config_set_command(c, (const char *const *)command, error))
        return NULL;
    vsb_sandbox_config_set_privileged(c, o->privileged);
    for (size_t i = 0; o->mounts && o->mounts[i]; i++) {
        VsbSandboxMount *m = vsb_sandbox_parse_mount(o->mounts[i], error);
        if (!m || !vsb_sandbox_config_add_mount(c, m, error)) {
            g_prefix_error(error, "-m %s: ", o->mounts[i]);
            return NULL;
        }
    }
    for (size_t i = 0; o->envs && o->envs[i]; i++) {
        g_autofree char *k = NULL, *v = NULL;
        if (!vsb_sandbox_parse_env(o->envs[i], &k, &v, error) ||
            !vsb_sandbox_config_set_env(c, k, v, error)) {
            g_prefix_error(error, "-e %s: ", o->envs[i]);
            return NULL;
        }
    }
    /* Checked now (the config keeps the string): a bad spec fails
     * before anything is created. */
    for (size_t i = 0; o->networks && o->networks[i]; i++) {
        g_autoptr(VsbNetspec) n = vsb_netspec_parse(o->networks[i], error);
        if (!n) {
            g_prefix_error(error, "-N '%s': ", o->networks[i]);
            return NULL;
        }
        vsb_sandbox_config_add_network(c, o->networks[i]);
    }
    if (o->security) {
        VsbSandboxSecurityMode mode;
        g_autofree char *label = NULL;
        if (!vsb_sandbox_parse_security(o->security, &mode, &label, error) ||
            !vsb_sandbox_config_set_security(c, mode, label, error)) {
            g_prefix_error(error, "-s %s: ", o->security);
            return NULL;
        }
    }
    return g_steal_pointer(&c);
}

static bool
do_create(VsbServiceStore *s, Options *o, GPtrArray *args, char **rest, GError **error)
{
    static const char *const systemd_argv[] = { VSB_SERVICE_SYSTEMD, NULL };
    VsbServiceOptions opts = { .kind = VSB_SERVICE_KIND_GENERIC };
    g_autoptr(VsbSandboxConfig) c = NULL;
    const char *name;

    if (!want_args("create", args, 1, "one NAME", error))
        return false;
    name = g_ptr_array_index(args, 0);
    if (!vsb_service_check_name(name, error))
        return false;
    if (o->units && rest) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "create takes -u UNIT (a systemd service) or -- COMMAND (a generic one), "
                    "not both");
        return false;
    }
    if (o->units) {
        opts.kind = VSB_SERVICE_KIND_SYSTEMD;
        opts.units = o->units;
        if (o->envs) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "-e %s: a systemd service's environment is its units' "
                        "(Environment= in a unit)", o->envs[0]);
            return false;
        }
    } else if (!rest || !rest[0]) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "create needs -- COMMAND [ARGS...] (a generic service) or -u UNIT");
        return false;
    }
    if (o->imagesize) {
        if (!vsb_sandbox_parse_size(o->imagesize, &opts.image_size, error)) {
            g_prefix_error(error, "-i %s: ", o->imagesize);
            return false;
        }
        if (opts.image_size < 16 * 1024 * 1024) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "-i %s: an image of less than 16 MiB cannot hold /etc", o->imagesize);
            return false;
        }
    }
    /* systemd writes /etc (machine-id) and keeps its journal in /var. */
    opts.private_dirs = o->private_dirs || opts.image_size ||
        opts.kind == VSB_SERVICE_KIND_SYSTEMD;
    if (opts.kind == VSB_SERVICE_KIND_SYSTEMD)
        rest = (char **)systemd_argv;
    if (!(c = create_config(name, o, rest, error)))
        return false;
    return vsb_service_create(s, c, &opts, error);
}

static int
do_list(VsbServiceStore *s, GError **error)
{
    g_autoptr(GPtrArray) list = vsb_service_list(s, error);

    if (!list)
        return -1;
    printf("%-24s %-10s %s\n", "Name", "Kind", "State");
    for (guint i = 0; i < list->len; i++) {
        VsbServiceInfo *info = g_ptr_array_index(list, i);
        printf("%-24s %-10s %s\n", info->name, vsb_service_kind_to_string(info->kind),
               info->state);
    }
    return 0;
}

/* `virsh console`: its terminal handling and escape (Ctrl-]) are what
 * people know; only returns on failure. */
static bool
do_connect(VsbServiceStore *s, const char *name, GError **error)
{
    const char *argv[] = { "virsh", "-c", vsb_service_store_get_uri(s), "console", name, NULL };

    if (!vsb_service_exists(s, name, error))
        return false;
    fflush(stdout);
    execvp(argv[0], (char **)argv);
    g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_FAILED, "Cannot run virsh: %s",
                g_strerror(errno));
    return false;
}

int
main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) args = g_ptr_array_new();
    g_autoptr(GPtrArray) all = g_ptr_array_new();
    g_autoptr(VsbServiceStore) s = NULL;
    g_auto(Options) o = { 0 };
    const char *cmd = NULL;
    char **rest = NULL;
    int first = 1;
    int status = 0;
    bool ok = true;

    setlocale(LC_ALL, "");
    /* The command is the first argument that is not a global option or
     * its value. */
    while (first < argc && argv[first][0] == '-') {
        if (g_str_equal(argv[first], "-h") || g_str_equal(argv[first], "--help")) {
            fputs(usage, stdout);
            return 0;
        }
        /* -c URI, --connect URI, -p DIR, --path DIR; --connect=URI is one */
        first += (g_str_equal(argv[first], "-c") || g_str_equal(argv[first], "--connect") ||
                  g_str_equal(argv[first], "-p") || g_str_equal(argv[first], "--path")) ? 2 : 1;
    }
    if (first >= argc) {
        fputs(usage, stderr);
        return 1;
    }
    cmd = argv[first];
    /* The global options and the command's, in one parse; NULL-ended,
     * since what follows "--" is the command's argv. */
    for (int i = 1; i < argc; i++)
        if (i != first)
            g_ptr_array_add(all, argv[i]);
    g_ptr_array_add(all, NULL);
    if (!parse(cmd, all->len - 1, (char **)all->pdata, &o, args, &rest, &error))
        return fail("%s\n(" PROG " --help lists the commands)", error->message);
    s = vsb_service_store_new(o.uri, o.path);
    if (g_getenv("VSB_SANDBOX_INIT"))
        vsb_service_store_set_init_path(s, g_getenv("VSB_SANDBOX_INIT"));

    if (g_str_equal(cmd, "create")) {
        ok = do_create(s, &o, args, rest, &error);
    } else if (rest && !g_str_equal(cmd, "execute")) {
        return fail("%s takes no -- COMMAND", cmd);
    } else if (g_str_equal(cmd, "clone")) {
        ok = want_args(cmd, args, 2, "SRC DST", &error) &&
            vsb_service_clone(s, args->pdata[0], args->pdata[1], &error);
    } else if (g_str_equal(cmd, "start")) {
        ok = want_args(cmd, args, 1, "one NAME", &error) &&
            (o.foreground ? vsb_service_follow(s, args->pdata[0], STDOUT_FILENO, &status, &error)
                          : vsb_service_start(s, args->pdata[0], &error));
    } else if (g_str_equal(cmd, "stop")) {
        ok = want_args(cmd, args, 1, "one NAME", &error) &&
            vsb_service_stop(s, args->pdata[0], &error);
    } else if (g_str_equal(cmd, "reload")) {
        ok = want_args(cmd, args, 1, "one NAME", &error) &&
            vsb_service_reload(s, args->pdata[0], (const char *const *)o.units, &error);
    } else if (g_str_equal(cmd, "list")) {
        ok = want_args(cmd, args, 0, "no argument", &error) && do_list(s, &error) == 0;
    } else if (g_str_equal(cmd, "connect")) {
        ok = want_args(cmd, args, 1, "one NAME", &error) &&
            do_connect(s, args->pdata[0], &error);
    } else if (g_str_equal(cmd, "execute")) {
        if (!rest || !rest[0])
            return fail("execute needs a command: execute NAME -- COMMAND [ARGS...]");
        ok = want_args(cmd, args, 1, "one NAME", &error) &&
            vsb_service_execute(s, args->pdata[0], (const char *const *)rest, &status, &error);
    } else if (g_str_equal(cmd, "upgrade")) {
        ok = want_args(cmd, args, 1, "one NAME", &error) &&
            vsb_service_upgrade(s, args->pdata[0], &error);
    } else if (g_str_equal(cmd, "delete")) {
        ok = want_args(cmd, args, 1, "one NAME", &error) &&
            vsb_service_delete(s, args->pdata[0], &error);
    } else {
        return fail("unknown command '%s'\n(" PROG " --help lists the commands)", cmd);
    }
    if (!ok)
        return fail("%s", error->message);
    return status;
}
