/*
 * vsb-sandbox-cli.c: virt-sandbox's options into a sandbox config.
 */
#include <config.h>

#include "vsb-sandbox-cli.h"
#include "vsb-sandbox-context.h"
#include "vsb-sandbox-netspec.h"

#include <string.h>
#include <unistd.h>

typedef struct {
    VsbSandboxConfig *config;
    char *uri;
    char *switchto;
    gboolean privileged, shell, debug, verbose, version, help;
} ParseState;

/* "-m 'x': unknown mount type ..." with @err's domain and code. */
static gboolean
option_error(const char *option, const char *value, GError *err, GError **error)
{
    g_propagate_prefixed_error(error, err, "%s '%s': ", option, value);
    return FALSE;
}

static gboolean
opt_connect(const char *option, const char *value, gpointer data, GError **error)
{
    ParseState *st = data;
    g_autofree char *scheme = g_uri_parse_scheme(value);

    if (!scheme)
        return option_error(option, value,
                            g_error_new_literal(VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                                                "not a URI (expected e.g. lxc:///system)"),
                            error);
    g_free(st->uri);
    st->uri = g_strdup(value);
    return TRUE;
}

static gboolean
opt_name(const char *option, const char *value, gpointer data, GError **error)
{
    ParseState *st = data;
    GError *err = NULL;

    if (!vsb_sandbox_config_set_name(st->config, value, &err))
        return option_error(option, value, err, error);
    return TRUE;
}

static gboolean
opt_root(const char *option, const char *value, gpointer data, GError **error)
{
    ParseState *st = data;
    GError *err = NULL;
    g_autofree char *abs = g_canonicalize_filename(value, NULL);

    if (!value[0] || !vsb_sandbox_config_set_root(st->config, abs, &err))
        return option_error(option, value,
                            err ? err : g_error_new_literal(VSB_SANDBOX_ERROR,
                                                            VSB_SANDBOX_ERROR_INVALID,
                                                            "empty directory name"),
                            error);
    return TRUE;
}

static gboolean
opt_env(const char *option, const char *value, gpointer data, GError **error)
{
    ParseState *st = data;
    GError *err = NULL;
    g_autofree char *name = NULL;
    g_autofree char *val = NULL;

    if (!vsb_sandbox_parse_env(value, &name, &val, &err) ||
        !vsb_sandbox_config_set_env(st->config, name, val, &err))
        return option_error(option, value, err, error);
    return TRUE;
}

static gboolean
opt_mount(const char *option, const char *value, gpointer data, GError **error)
{
    ParseState *st = data;
    GError *err = NULL;
    VsbSandboxMount *m = vsb_sandbox_parse_mount(value, &err);

    if (!m || !vsb_sandbox_config_add_mount(st->config, m, &err))
        return option_error(option, value, err, error);
    return TRUE;
}

static gboolean
opt_include(const char *option, const char *value, gpointer data, GError **error)
{
    ParseState *st = data;
    GError *err = NULL;
    g_autofree char *guest = NULL;
    g_autofree char *host = NULL;

    if (!vsb_sandbox_parse_include(value, &guest, &host, &err) ||
        !vsb_sandbox_config_add_include(st->config, guest, host, &err))
        return option_error(option, value, err, error);
    return TRUE;
}

static gboolean
opt_includefile(const char *option, const char *value, gpointer data, GError **error)
{
    ParseState *st = data;
    GError *err = NULL;

    if (!vsb_sandbox_config_add_include_file(st->config, value, &err))
        return option_error(option, value, err, error);
    return TRUE;
}

static gboolean
opt_disk(const char *option, const char *value, gpointer data, GError **error)
{
    ParseState *st = data;
    GError *err = NULL;

    if (!vsb_sandbox_config_add_disk_spec(st->config, value, &err))
        return option_error(option, value, err, error);
    return TRUE;
}

static gboolean
opt_network(const char *option, const char *value, gpointer data, GError **error)
{
    ParseState *st = data;
    g_autoptr(VsbNetspec) spec = NULL;
    GError *err = NULL;

    /* Checked now, so that a bad spec fails before anything starts;
     * the config keeps the string, builders parse it again. */
    if (!(spec = vsb_netspec_parse(value, &err)))
        return option_error(option, value, err, error);
    vsb_sandbox_config_add_network(st->config, value);
    return TRUE;
}

static gboolean
opt_security(const char *option, const char *value, gpointer data, GError **error)
{
    ParseState *st = data;
    GError *err = NULL;
    VsbSandboxSecurityMode mode;
    g_autofree char *label = NULL;

    if (!vsb_sandbox_parse_security(value, &mode, &label, &err) ||
        !vsb_sandbox_config_set_security(st->config, mode, label, &err))
        return option_error(option, value, err, error);
    return TRUE;
}

static gboolean
opt_kernver(const char *option, const char *value, gpointer data, GError **error)
{
    ParseState *st = data;
    GError *err = NULL;

    if (!vsb_sandbox_config_set_kernel_version(st->config, value, &err))
        return option_error(option, value, err, error);
    return TRUE;
}

/* Paths are taken relative to the caller's directory, as -m's are. */
static gboolean
opt_kernpath(const char *option, const char *value, gpointer data, GError **error)
{
    ParseState *st = data;
    GError *err = NULL;
    g_autofree char *abs = value[0] ? g_canonicalize_filename(value, NULL) : NULL;
    bool mods = g_str_equal(option, "--kmodpath");

    if (!abs)
        return option_error(option, value,
                            g_error_new_literal(VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                                                "empty path"), error);
    if (!(mods ? vsb_sandbox_config_set_kmod_path(st->config, abs, &err)
               : vsb_sandbox_config_set_kernel_path(st->config, abs, &err)))
        return option_error(option, value, err, error);
    return TRUE;
}

static gboolean
opt_memory(const char *option, const char *value, gpointer data, GError **error)
{
    ParseState *st = data;
    GError *err = NULL;
    guint64 bytes;

    if (!vsb_sandbox_parse_size(value, &bytes, &err))
        return option_error(option, value, err, error);
    if (bytes < 1024 * 1024)
        return option_error(option, value,
                            g_error_new_literal(VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                                                "less than 1 MiB"), error);
    vsb_sandbox_config_set_memory_kib(st->config, bytes / 1024);
    return TRUE;
}

static gboolean
opt_vcpus(const char *option, const char *value, gpointer data, GError **error)
{
    ParseState *st = data;
    GError *err = NULL;
    guint64 n;

    if (!g_ascii_string_to_unsigned(value, 10, 1, VSB_SANDBOX_MAX_VCPUS, &n, NULL))
        return option_error(option, value,
                            g_error_new(VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                                        "expected a number of CPUs from 1 to %d",
                                        VSB_SANDBOX_MAX_VCPUS), error);
    if (!vsb_sandbox_config_set_vcpus(st->config, n, &err))
        return option_error(option, value, err, error);
    return TRUE;
}

static gboolean
opt_clock_offset(const char *option, const char *value, gpointer data, GError **error)
{
    ParseState *st = data;
    GError *err = NULL;
    gint64 secs;

    if (!vsb_sandbox_parse_clock_offset(value, &secs, &err) ||
        !vsb_sandbox_config_set_clock_offset(st->config, secs, &err))
        return option_error(option, value, err, error);
    return TRUE;
}

static gboolean
opt_switchto(const char *option, const char *value, gpointer data, GError **error)
{
    ParseState *st = data;

    if (!value[0])
        return option_error(option, value,
                            g_error_new_literal(VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                                                "empty user name"), error);
    g_free(st->switchto);
    st->switchto = g_strdup(value);
    return TRUE;
}

void
vsb_sandbox_cli_free(VsbSandboxCli *cli)
{
    if (!cli)
        return;
    g_free(cli->uri);
    g_clear_object(&cli->config);
    g_free(cli->help);
    g_free(cli);
}

void
vsb_sandbox_cli_inherit_term(VsbSandboxConfig *config, int fd)
{
    const char *term = g_getenv("TERM");
    GPtrArray *env = vsb_sandbox_config_get_env(config);

    if (!isatty(fd) || !term || !term[0])
        return;
    for (guint i = 0; i < env->len; i++)
        if (g_str_equal(((VsbSandboxEnv *)g_ptr_array_index(env, i))->name, "TERM"))
            return;
    vsb_sandbox_config_set_env(config, "TERM", term, NULL);
}

static bool
set_root_identity(VsbSandboxConfig *c, GError **error)
{
    g_autoptr(GError) err = NULL;

    if (vsb_sandbox_config_set_identity_from_host(c, "root", &err))
        return true;
    /* A root without a passwd entry is still root. */
    return vsb_sandbox_config_set_identity(c, 0, 0, "root", "/root", error);
}

VsbSandboxCli *
vsb_sandbox_cli_parse(int argc, const char *const *argv, GError **error)
{
    g_autoptr(VsbSandboxCli) cli = g_new0(VsbSandboxCli, 1);
    g_autofree char *name = vsb_sandbox_config_generate_name();
    ParseState st = { 0 };
    g_autoptr(GOptionContext) ctx = NULL;
    GOptionGroup *group;
    g_auto(GStrv) args = NULL;
    g_auto(GStrv) command = NULL;
    bool ok = false;
    const GOptionEntry entries[] = {
        { "connect", 'c', 0, G_OPTION_ARG_CALLBACK, opt_connect,
          "libvirt URI (default " VSB_SANDBOX_DEFAULT_URI ")", "URI" },
        { "name", 'n', 0, G_OPTION_ARG_CALLBACK, opt_name,
          "name of the sandbox (default: a unique generated one)", "NAME" },
        { "root", 'r', 0, G_OPTION_ARG_CALLBACK, opt_root,
          "root directory of the sandbox, read-only (default: the host's /)", "DIR" },
        { "env", 'e', 0, G_OPTION_ARG_CALLBACK, opt_env,
          "set an environment variable in the sandbox", "KEY=VALUE" },
        { "mount", 'm', 0, G_OPTION_ARG_CALLBACK, opt_mount,
          "mount something in the sandbox: TYPE is host-bind (SRC a host directory, empty "
          "for a temporary one; KVM: ',driver=virtiofs' shares it through virtiofsd "
          "rather than 9p), host-image (SRC an image file), guest-bind (SRC a "
          "directory of the sandbox) or ram (SRC a size: 500M, 2G)", "TYPE:DST=SRC" },
        { "include", 'i', 0, G_OPTION_ARG_CALLBACK, opt_include,
          "copy a host file or directory into the sandbox (below a mount, /tmp, "
          "/var/tmp or /run)", "GUEST-PATH=HOST-PATH" },
        { "includefile", 'I', 0, G_OPTION_ARG_CALLBACK, opt_includefile,
          "copy the files listed in FILE, one GUEST-PATH=HOST-PATH a line", "FILE" },
        { "disk", 0, 0, G_OPTION_ARG_CALLBACK, opt_disk,
          "add a disk to a KVM sandbox: TYPE file, FORMAT raw or qcow2; the guest sees it as "
          "/dev/disk/by-tag/TAGNAME", "TYPE:TAGNAME=SOURCE[,format=FORMAT]" },
        { "network", 'N', 0, G_OPTION_ARG_CALLBACK, opt_network,
          "add a network interface: dhcp,source=NET | address=IP/PREFIX,route=NET/PREFIX%GW,"
          "source=NET | source=bridge:BR (each with ,mac=MAC)", "SPEC" },
        { "security", 's', 0, G_OPTION_ARG_CALLBACK, opt_security,
          "SELinux confinement: dynamic[,label=BASE], static,label=LABEL, inherit or none "
          "(default dynamic)", "OPTIONS" },
        { "memory", 0, 0, G_OPTION_ARG_CALLBACK, opt_memory,
          "memory: the limit of an LXC sandbox, the RAM of a KVM sandbox's guest (default "
          "512M there)", "SIZE" },
        { "vcpus", 0, 0, G_OPTION_ARG_CALLBACK, opt_vcpus,
          "virtual CPUs of a KVM sandbox (default 1)", "N" },
        { "kernver", 0, 0, G_OPTION_ARG_CALLBACK, opt_kernver,
          "kernel version a KVM sandbox boots (default: the running kernel if its modules "
          "are installed, else the newest installed)", "VERSION" },
        { "kernpath", 0, 0, G_OPTION_ARG_CALLBACK, opt_kernpath,
          "kernel image a KVM sandbox boots (default /boot/vmlinuz-VERSION; its version "
          "is read from the image)", "FILE" },
        { "kmodpath", 0, 0, G_OPTION_ARG_CALLBACK, opt_kernpath,
          "directory of the kernel modules trees, KVM sandboxes (default /lib/modules)", "DIR" },
        { "clock-offset", 0, 0, G_OPTION_ARG_CALLBACK, opt_clock_offset,
          "run a KVM sandbox's clock SECONDS ahead of the host's (negative: behind)",
          "SECONDS" },
        { "privileged", 'p', 0, G_OPTION_ARG_NONE, &st.privileged,
          "run the command as root with the container's capabilities", NULL },
        { "switchto", 'S', 0, G_OPTION_ARG_CALLBACK, opt_switchto,
          "run the command as USER", "USER" },
        { "shell", 'l', 0, G_OPTION_ARG_NONE, &st.shell,
          "also start a shell in the sandbox, on a host terminal device (printed)", NULL },
        { "debug", 'd', 0, G_OPTION_ARG_NONE, &st.debug,
          "display debugging information", NULL },
        { "verbose", 'v', 0, G_OPTION_ARG_NONE, &st.verbose,
          "display verbose information", NULL },
        { "version", 'V', 0, G_OPTION_ARG_NONE, &st.version,
          "display the version and exit", NULL },
        { "help", 'h', 0, G_OPTION_ARG_NONE, &st.help,
          "display this help and exit", NULL },
        { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &command, NULL,
          "COMMAND [ARGS...]" },
        { NULL },
    };

    if (!(st.config = vsb_sandbox_config_new(name, error)))
        return NULL;
    ctx = g_option_context_new("[--] COMMAND [ARGS...] - run a command in a sandbox");
    g_option_context_set_help_enabled(ctx, FALSE);
    g_option_context_set_strict_posix(ctx, TRUE);
    group = g_option_group_new("virt-sandbox", "virt-sandbox", "virt-sandbox options", &st, NULL);
    g_option_group_add_entries(group, entries);
    g_option_context_set_main_group(ctx, group);

    args = g_new0(char *, argc + 1);
    for (int i = 0; i < argc; i++)
        args[i] = g_strdup(argv[i]);
    if (!g_option_context_parse_strv(ctx, &args, error))
        goto out;

    cli->uri = g_steal_pointer(&st.uri);
    cli->verbose = st.verbose;
    cli->debug = st.debug;
    if (st.help) {
        cli->help = g_option_context_get_help(ctx, TRUE, NULL);
        ok = true;
        goto out;
    }
    if (st.version) {
        cli->version = true;
        ok = true;
        goto out;
    }
    if (!command || !command[0]) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "No command given: virt-sandbox [OPTIONS] -- COMMAND [ARGS...]");
        goto out;
    }
    if (st.privileged && st.switchto) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "-p/--privileged and -S/--switchto '%s' exclude each other", st.switchto);
        goto out;
    }
    if (st.privileged) {
        if (!set_root_identity(st.config, error))
            goto out;
    } else if (!vsb_sandbox_config_set_identity_from_host(st.config, st.switchto, error)) {
        if (st.switchto)
            g_prefix_error(error, "-S/--switchto '%s': ", st.switchto);
        goto out;
    }
    vsb_sandbox_config_set_privileged(st.config, st.privileged);
    vsb_sandbox_config_set_shell(st.config, st.shell);
    vsb_sandbox_config_set_debug(st.config, st.debug);
    if (!vsb_sandbox_config_set_command(st.config, (const char *const *)command, error) ||
        !vsb_sandbox_config_validate(st.config, error))
        goto out;
    cli->config = g_steal_pointer(&st.config);
    ok = true;

 out:
    g_clear_object(&st.config);
    g_free(st.uri);
    g_free(st.switchto);
    return ok ? g_steal_pointer(&cli) : NULL;
}
