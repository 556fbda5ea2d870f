/*
 * vsb-sandbox-context.c: start, relay, stop one sandbox through libvirt.
 */
#include <config.h>

#include "vsb-sandbox-context.h"
#include "vsb-sandbox-seclabel.h"
#include "vsb-sandbox-shell.h"
#include "vsb-sandbox-console.h"
#include "vsb-sandbox-image.h"
#include "vsb-sandbox-private.h"

#include <errno.h>
#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libvirt-gobject/libvirt-gobject.h>
#include <selinux/selinux.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* How long an auto-started daemon may take to answer. */
#define DAEMON_START_MS 10000

struct _VsbSandboxContext {
    GObject parent;

    char *uri;
    VsbSandboxConfig *config;
    VsbSandboxBuilder *builder;
    char *statedir;
    GStrv daemon;

    GVirConnection *conn;
    GVirDomain *domain;
    GVirStream *stream;
    VsbSandboxConsole *console;
    VsbSandboxShell *shell;  /* --shell's host pty */
    char *lease_dir;         /* NULL: the default (vsb-sandbox-seclabel.h) */
    VsbMcsLease *lease;      /* -s dynamic: our MCS categories */
    VsbRelabel *relabel;     /* -s dynamic with SELinux: labels to restore */
    bool prepared;           /* the state directory is ours to remove */
    GPtrArray *exports;      /* VsbSandboxImageExport, to stop after the domain */
    int interrupt;
};

G_DEFINE_TYPE(VsbSandboxContext, vsb_sandbox_context, G_TYPE_OBJECT)

static void
vsb_sandbox_context_finalize(GObject *obj)
{
    VsbSandboxContext *ctx = VSB_SANDBOX_CONTEXT(obj);

    g_free(ctx->uri);
    g_clear_object(&ctx->config);
    g_clear_object(&ctx->builder);
    g_free(ctx->statedir);
    g_strfreev(ctx->daemon);
    g_clear_object(&ctx->console);
    g_clear_pointer(&ctx->shell, vsb_sandbox_shell_free);
    if (ctx->relabel)
        vsb_relabel_restore(ctx->relabel, NULL);
    g_clear_pointer(&ctx->relabel, vsb_relabel_free);
    g_clear_pointer(&ctx->lease, vsb_mcs_lease_release);
    g_free(ctx->lease_dir);
    g_clear_object(&ctx->stream);
    g_clear_object(&ctx->domain);
    if (ctx->conn)
        gvir_connection_close(ctx->conn);
    g_clear_object(&ctx->conn);
    g_clear_pointer(&ctx->exports, g_ptr_array_unref);
    G_OBJECT_CLASS(vsb_sandbox_context_parent_class)->finalize(obj);
}

static void
vsb_sandbox_context_class_init(VsbSandboxContextClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = vsb_sandbox_context_finalize;
}

/* A context dropped without stop() must not leave daemons behind. */
static void
export_stop_quiet(gpointer e)
{
    vsb_sandbox_image_export_stop(e, NULL);
}

static void
vsb_sandbox_context_init(VsbSandboxContext *ctx)
{
    const char *const daemon[] = { SBINDIR "/virt-sandboxd", NULL };

    ctx->daemon = g_strdupv((char **)daemon);
    ctx->exports = g_ptr_array_new_with_free_func(export_stop_quiet);
}

VsbSandboxContext *
vsb_sandbox_context_new(const char *uri, VsbSandboxConfig *config, GError **error)
{
    g_autoptr(VsbSandboxContext) ctx = g_object_new(VSB_SANDBOX_TYPE_CONTEXT, NULL);

    ctx->uri = g_strdup(uri ? uri : VSB_SANDBOX_DEFAULT_URI);
    if (!(ctx->builder = vsb_sandbox_builder_for_uri(ctx->uri, error)))
        return NULL;
    ctx->config = g_object_ref(config);
    return g_steal_pointer(&ctx);
}

VsbSandboxBuilder *
vsb_sandbox_context_get_builder(VsbSandboxContext *ctx)
{
    return ctx->builder;
}

void
vsb_sandbox_context_set_statedir(VsbSandboxContext *ctx, const char *dir)
{
    g_free(ctx->statedir);
    ctx->statedir = g_strdup(dir);
}

void
vsb_sandbox_context_set_daemon(VsbSandboxContext *ctx, const char *const *argv)
{
    g_strfreev(ctx->daemon);
    ctx->daemon = argv && argv[0] ? g_strdupv((char **)argv) : NULL;
}

static char *
default_statedir(VsbSandboxConfig *config)
{
    const char *name = vsb_sandbox_config_get_name(config);

    if (geteuid() == 0)
        return g_build_filename(RUNSTATEDIR, "virt-sandbox", "sandbox", name, NULL);
    return g_build_filename(g_get_user_runtime_dir(), "virt-sandbox", name, NULL);
}

/* The socket=... of a URI, if any. */
static char *
uri_socket(const char *uri)
{
    g_autoptr(GUri) u = g_uri_parse(uri, G_URI_FLAGS_ENCODED_QUERY, NULL);
    g_autoptr(GHashTable) params = NULL;
    const char *query = u ? g_uri_get_query(u) : NULL;

    if (!query)
        return NULL;
    params = g_uri_parse_params(query, -1, "&", G_URI_PARAMS_NONE, NULL);
    return params ? g_strdup(g_hash_table_lookup(params, "socket")) : NULL;
}

static bool
socket_answers(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd;
    bool ok;

    if (strlen(path) >= sizeof(sa.sun_path))
        return false;
    strcpy(sa.sun_path, path);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return false;
    ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

static void
daemon_child_setup(gpointer data)
{
    /* Its own session: our terminal's ^C must not stop it. */
    setsid();
}

/* Start our daemon, as libvirt starts its session daemons, when the
 * URI points at its socket and nothing answers there. */
static bool
ensure_daemon(VsbSandboxContext *ctx, GError **error)
{
    g_autofree char *sock = uri_socket(ctx->uri);
    g_autofree char *timeout = g_strdup_printf("%d", VSB_SANDBOX_DAEMON_TIMEOUT);
    g_autofree char *logdir = g_build_filename(LOCALSTATEDIR, "log", "virt-sandbox", NULL);
    g_autofree char *logpath = g_build_filename(logdir, "virt-sandboxd.log", NULL);
    g_autofree char *cmdline = NULL;
    g_autofree char *dir = NULL;
    g_autoptr(GPtrArray) args = g_ptr_array_new();
    int devnull, log;
    gint64 deadline;
    bool ok;

    if (!ctx->daemon || !sock || !g_str_has_suffix(sock, "/virt-sandboxd-sock") ||
        socket_answers(sock))
        return true;
    dir = g_path_get_dirname(sock);
    for (size_t i = 0; ctx->daemon[i]; i++)
        g_ptr_array_add(args, ctx->daemon[i]);
    g_ptr_array_add(args, (char *)"--timeout");
    g_ptr_array_add(args, timeout);
    g_ptr_array_add(args, (char *)"--socket-dir");
    g_ptr_array_add(args, dir);
    g_ptr_array_add(args, NULL);
    cmdline = g_strjoinv(" ", (char **)args->pdata);

    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    g_mkdir_with_parents(logdir, 0755);
    log = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    ok = g_spawn_async_with_fds(NULL, (char **)args->pdata, NULL, G_SPAWN_DEFAULT, daemon_child_setup,
                                NULL, NULL, devnull, log >= 0 ? log : devnull,
                                log >= 0 ? log : devnull, error);
    if (devnull >= 0)
        close(devnull);
    if (log >= 0)
        close(log);
    if (!ok) {
        g_prefix_error(error, "Cannot start the daemon (%s): ", cmdline);
        return false;
    }
    deadline = g_get_monotonic_time() + DAEMON_START_MS * 1000;
    while (!socket_answers(sock)) {
        if (g_get_monotonic_time() > deadline) {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_FAILED,
                        "Started the daemon (%s), but nothing answers at %s after %d s (see %s)",
                        cmdline, sock, DAEMON_START_MS / 1000, logpath);
            return false;
        }
        g_usleep(10 * 1000);
    }
    return true;
}

static GVirDomain *
start_domain(VsbSandboxContext *ctx, GVirConfigDomain *conf, GError **error)
{
    g_autoptr(GError) err = NULL;
    GVirDomain *dom;

    /* AUTODESTROY: if we die without cleaning up, the driver destroys
     * the sandbox when our connection drops. */
    dom = gvir_connection_start_domain(ctx->conn, conf, VIR_DOMAIN_START_AUTODESTROY, &err);
    if (!dom && (virGetLastErrorCode() == VIR_ERR_INVALID_ARG ||
                 virGetLastErrorCode() == VIR_ERR_NO_SUPPORT)) {
        g_clear_error(&err);
        dom = gvir_connection_start_domain(ctx->conn, conf, 0, &err);
    }
    if (!dom)
        g_propagate_prefixed_error(error, g_steal_pointer(&err), "Cannot start the sandbox: ");
    return dom;
}

/* The raw views of qcow2 images, which the domain refers to. */
static bool
start_exports(VsbSandboxContext *ctx, GError **error)
{
    GPtrArray *mounts = vsb_sandbox_config_get_mounts(ctx->config);

    /* A KVM guest takes qcow2 images as they are (QEMU's own driver). */
    if (VSB_IS_SANDBOX_BUILDER_KVM(ctx->builder))
        return true;
    for (guint i = 0; i < mounts->len; i++) {
        VsbSandboxMount *m = g_ptr_array_index(mounts, i);
        g_autofree char *path = NULL;
        VsbSandboxImageExport *e;

        if (!vsb_sandbox_image_needs_export(m))
            continue;
        path = vsb_sandbox_image_export_path(ctx->statedir, i);
        if (!(e = vsb_sandbox_image_export_start(m->source, m->format, path, error))) {
            g_prefix_error(error, "Mount %s: ", m->target);
            return false;
        }
        g_ptr_array_add(ctx->exports, e);
    }
    return true;
}

/* The base labels of -s dynamic (vsb_seclabel_dynamic_bases): our
 * policy module's types where the loaded policy has them, else the
 * policy's lxc_contexts, else libvirt's classic LXC types.  The policy
 * is asked only where SELinux is on: elsewhere the labels mean nothing
 * and should not depend on which policy package happens to be
 * installed. */
static bool
context_valid(const char *context)
{
    return security_check_context(context) == 0;
}

static void
dynamic_bases(VsbSandboxConfig *config, char **process, char **file)
{
    g_autofree char *text = NULL;
    const char *label = vsb_sandbox_config_get_security_label(config);
    bool on = is_selinux_enabled() > 0;

    if (on)
        g_file_get_contents(selinux_lxc_contexts_path(), &text, NULL, NULL);
    vsb_seclabel_dynamic_bases(label, text, on ? context_valid : NULL, process, file);
}

/* -s dynamic: categories no other running sandbox has, on the labels
 * the XML carries; with SELinux on, the sandbox's files relabelled
 * (vsb-sandbox-seclabel.h). */
static bool
setup_dynamic_label(VsbSandboxContext *ctx, GError **error)
{
    g_autofree char *process = NULL, *file = NULL, *label = NULL, *imagelabel = NULL;
    g_autofree char *dir = NULL;
    g_autoptr(GRand) rng = g_rand_new();
    GPtrArray *mounts = vsb_sandbox_config_get_mounts(ctx->config);
    VsbMcsPair pair;

    dynamic_bases(ctx->config, &process, &file);
    dir = ctx->lease_dir ? g_strdup(ctx->lease_dir)
          : geteuid() == 0 ? g_strdup(VSB_MCS_LEASE_DIR)
                         : g_build_filename(g_get_user_runtime_dir(), "virt-sandbox", "mcs",
                                            NULL);
    if (!(ctx->lease = vsb_mcs_lease_take(dir, vsb_sandbox_config_get_name(ctx->config), rng,
                                          error)))
        return false;
    pair = vsb_mcs_lease_get_pair(ctx->lease);
    if (!(label = vsb_seclabel_with_pair(process, pair, error)) ||
        !(imagelabel = vsb_seclabel_with_pair(file, pair, error))) {
        g_prefix_error(error, "-s dynamic: ");
        return false;
    }
    vsb_sandbox_builder_set_dynamic_label(ctx->builder, label, imagelabel);
    if (is_selinux_enabled() <= 0)
        return true;

    ctx->relabel = vsb_relabel_new();
    if (!vsb_relabel_tree(ctx->relabel, ctx->statedir, imagelabel, error))
        return false;
    for (guint i = 0; i < mounts->len; i++) {
        VsbSandboxMount *m = g_ptr_array_index(mounts, i);
        if ((m->type == VSB_SANDBOX_MOUNT_HOST_BIND && m->source[0]) ||
            m->type == VSB_SANDBOX_MOUNT_HOST_IMAGE) {
            if (!vsb_relabel_tree(ctx->relabel, m->source, imagelabel, error)) {
                g_prefix_error(error, "Mount %s: ", m->target);
                return false;
            }
        }
    }
    return true;
}

void
vsb_sandbox_context_set_lease_dir(VsbSandboxContext *ctx, const char *dir)
{
    g_free(ctx->lease_dir);
    ctx->lease_dir = g_strdup(dir);
}

bool
vsb_sandbox_context_start(VsbSandboxContext *ctx, GError **error)
{
    g_autoptr(GVirConfigDomain) conf = NULL;
    g_autofree char *cfgpath = NULL;
    g_autofree char *cfgdata = NULL;

    if (VSB_IS_SANDBOX_BUILDER_CONTAINER(ctx->builder) && geteuid() != 0) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_UNSUPPORTED,
                    "LXC sandboxes need root: run virt-sandbox as root (e.g. with sudo)");
        return false;
    }
    if (!vsb_sandbox_config_validate(ctx->config, error))
        return false;
    if (!ensure_daemon(ctx, error))
        return false;

    ctx->conn = gvir_connection_new(ctx->uri);
    if (!gvir_connection_open(ctx->conn, NULL, error)) {
        g_prefix_error(error, "Cannot connect to %s: ", ctx->uri);
        return false;
    }

    if (!ctx->statedir)
        ctx->statedir = default_statedir(ctx->config);
    if (!vsb_sandbox_builder_prepare(ctx->builder, ctx->config, ctx->statedir, error)) {
        /* Only what prepare made, never a directory that was there. */
        if (!g_error_matches(*error, G_FILE_ERROR, G_FILE_ERROR_EXIST))
            ctx->prepared = true;
        return false;
    }
    ctx->prepared = true;
    if (!start_exports(ctx, error))
        return false;
    if (vsb_sandbox_config_get_security_mode(ctx->config) == VSB_SANDBOX_SECURITY_DYNAMIC &&
        VSB_IS_SANDBOX_BUILDER_CONTAINER(ctx->builder) && !setup_dynamic_label(ctx, error))
        return false;
    /* For whoever debugs a run: what it was asked to be.  Not
     * vsb_sandbox_config_save(): a throw-away copy in a directory
     * removed at the end needs no fsync (two of them cost ~2 ms of a
     * run on a disk-backed /run). */
    cfgpath = g_build_filename(ctx->statedir, "sandbox.cfg", NULL);
    cfgdata = vsb_sandbox_config_to_data(ctx->config);
    if (!g_file_set_contents_full(cfgpath, cfgdata, -1, G_FILE_SET_CONTENTS_NONE, 0600, error))
        return false;
    if (!(conf = vsb_sandbox_builder_construct(ctx->builder, ctx->config, ctx->statedir, error)))
        return false;
    if (!(ctx->domain = start_domain(ctx, conf, error)))
        return false;

    ctx->stream = gvir_connection_get_stream(ctx->conn, VIR_STREAM_NONBLOCK);
    if (!vsb_sandbox_builder_open_stream(ctx->builder, ctx->domain, ctx->stream, error)) {
        g_prefix_error(error, "Cannot open the sandbox's console: ");
        return false;
    }
    if (vsb_sandbox_config_get_shell(ctx->config) &&
        !(ctx->shell = vsb_sandbox_shell_new(vsb_sandbox_config_get_uid(ctx->config),
                                             vsb_sandbox_config_get_gid(ctx->config), error)))
        return false;
    return true;
}

const char *
vsb_sandbox_context_get_shell_path(VsbSandboxContext *ctx)
{
    return ctx->shell ? vsb_sandbox_shell_get_path(ctx->shell) : NULL;
}

bool
vsb_sandbox_context_run(VsbSandboxContext *ctx, int in_fd, int out_fd, int err_fd,
                        int *status, GError **error)
{
    if (ctx->interrupt) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INTERRUPTED,
                    "Interrupted by signal %d (%s)", ctx->interrupt,
                    g_strsignal(ctx->interrupt));
        return false;
    }
    if (!ctx->stream) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_FAILED,
                    "The sandbox is not started");
        return false;
    }
    ctx->console = vsb_sandbox_console_new(vsb_sandbox_channel_new_stream(ctx->stream),
                                           in_fd, out_fd, err_fd);
    if (ctx->shell)
        vsb_sandbox_console_set_shell(ctx->console, vsb_sandbox_shell_get_fd(ctx->shell));
    if (!vsb_sandbox_console_run(ctx->console, status, error)) {
        ctx->interrupt = vsb_sandbox_console_get_interrupt(ctx->console);
        return false;
    }
    return true;
}

void
vsb_sandbox_context_interrupt(VsbSandboxContext *ctx, int signum)
{
    if (!ctx->interrupt)
        ctx->interrupt = signum;
    if (ctx->console)
        vsb_sandbox_console_interrupt(ctx->console, signum);
}

int
vsb_sandbox_context_get_interrupt(VsbSandboxContext *ctx)
{
    return ctx->interrupt;
}

bool
vsb_sandbox_context_stop(VsbSandboxContext *ctx, GError **error)
{
    g_autoptr(GError) err = NULL;
    bool ok = true;
    bool ended = false;     /* the domain ends by itself: no destroy */

    g_clear_object(&ctx->console);
    if (ctx->stream)
        ended = vsb_sandbox_builder_close_stream(ctx->builder, ctx->domain, ctx->stream,
                                                 ctx->interrupt != 0);
    if (ctx->domain) {
        if (!ended && !gvir_domain_stop(ctx->domain, 0, &err)) {
            int code = virGetLastErrorCode();
            /* A sandbox whose program exited is gone already. */
            if (code != VIR_ERR_NO_DOMAIN && code != VIR_ERR_OPERATION_INVALID) {
                g_propagate_prefixed_error(error, g_steal_pointer(&err),
                                           "Cannot destroy the sandbox %s: ",
                                           vsb_sandbox_config_get_name(ctx->config));
                ok = false;
            }
        }
        g_clear_object(&ctx->domain);
    }
    g_clear_object(&ctx->stream);
    /* Once the domain (and so its loop devices) is gone; last first. */
    while (ctx->exports->len) {
        VsbSandboxImageExport *e = g_ptr_array_steal_index(ctx->exports, ctx->exports->len - 1);
        if (!vsb_sandbox_image_export_stop(e, ok ? error : NULL))
            ok = false;
    }
    /* The domain is gone: our files get their labels back and our
     * categories are free for the next sandbox. */
    if (ctx->relabel) {
        if (!vsb_relabel_restore(ctx->relabel, ok ? error : NULL))
            ok = false;
        g_clear_pointer(&ctx->relabel, vsb_relabel_free);
    }
    g_clear_pointer(&ctx->lease, vsb_mcs_lease_release);
    if (ctx->prepared) {
        ctx->prepared = false;
        if (!vsb_sandbox_builder_cleanup(ctx->builder, ctx->statedir, ok ? error : NULL))
            ok = false;
    }
    return ok;
}
