/*
 * virt-sandbox: run one command in a throw-away sandbox.
 *
 *   virt-sandbox [OPTIONS] [--] COMMAND [ARGS...]
 *
 * Options: vsb-sandbox-cli.h.  Exit status: the command's, 128+N when
 * it died from signal N; 128+N too when virt-sandbox itself was
 * interrupted by signal N (Ctrl-] counts as SIGHUP, a closed stdout as
 * SIGPIPE); 125 when the
 * sandbox could not be run (like env(1)), with one message on stderr.
 *
 * This is LIBEXECDIR/virt-sandbox-tool, exec'd by the `virt-sandbox`
 * launcher (virt-sandbox-launch.c, vsb-launch.h), which may leave a
 * child for it to reap: VSB_CGWARM_PID.
 *
 * Environment (tests run from a build tree): VSB_SANDBOX_INIT, the path
 * of virt-sandbox-init; VSB_SANDBOXD, the daemon's command (shell words)
 * when it has to be started; VSB_SANDBOX_MCS_DIR, where -s dynamic
 * takes its MCS leases (tests keep theirs apart from real sandboxes').
 */
#include <config.h>

#include "vsb-launch.h"
#include "vsb-sandbox-cli.h"
#include "vsb-sandbox-context.h"

#include <glib-unix.h>
#include <libvirt-gobject/libvirt-gobject.h>
#include <errno.h>
#include <locale.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXIT_CANNOT_RUN 125

typedef struct {
    VsbSandboxContext *ctx;
    int signum;
} SignalWatch;

static gboolean
on_signal_watch(gpointer data)
{
    SignalWatch *w = data;

    vsb_sandbox_context_interrupt(w->ctx, w->signum);
    return G_SOURCE_CONTINUE;
}

static void
verbose(bool on, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
verbose(bool on, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    if (!on)
        return;
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_printerr("virt-sandbox: %s\n", msg);
}

/* The launcher's warm-up child (vsb-launch.h) is ours once the launcher
 * has exec'd us: taken out of the environment, which the sandbox and
 * any daemon we start must not inherit, and reaped once the sandbox has
 * started (it is done long before: at worst this waits for the rest of
 * one grace period), so no zombie stays beside a long-running sandbox. */
static pid_t
take_warm_child(void)
{
    const char *s = g_getenv(VSB_LAUNCH_PID_ENV);
    gint64 pid = 0;

    if (s && !g_ascii_string_to_signed(s, 10, 1, G_MAXINT, &pid, NULL))
        pid = 0;
    g_unsetenv(VSB_LAUNCH_PID_ENV);
    return (pid_t)pid;
}

static void
reap_warm_child(pid_t *pid)
{
    if (*pid <= 0)
        return;
    while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
        ;
    *pid = 0;
}

static int
run(int argc, char **argv, pid_t *warm)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VsbSandboxCli) cli = NULL;
    g_autoptr(VsbSandboxContext) ctx = NULL;
    static const int signals[] = { SIGINT, SIGTERM, SIGHUP };
    SignalWatch watches[G_N_ELEMENTS(signals)];
    int status = EXIT_CANNOT_RUN;
    bool ok;

    setlocale(LC_ALL, "");
    if (!(cli = vsb_sandbox_cli_parse(argc, (const char *const *)argv, &error))) {
        g_printerr("virt-sandbox: %s\n(virt-sandbox --help lists the options)\n",
                   error->message);
        return EXIT_CANNOT_RUN;
    }
    if (cli->help) {
        fputs(cli->help, stdout);
        return 0;
    }
    if (cli->version) {
        printf("%s %s\n", PACKAGE, VERSION);
        return 0;
    }
    if (cli->debug) {
        g_setenv("LIBVIRT_LOG_FILTERS", "1:libvirt", TRUE);
        g_setenv("LIBVIRT_LOG_OUTPUTS", "1:stderr", TRUE);
    }
    vsb_sandbox_cli_inherit_term(cli->config, STDIN_FILENO);
    /* Our stdout going away (| head) must not kill us before the
     * sandbox is destroyed. */
    signal(SIGPIPE, SIG_IGN);

    if (!gvir_init_object_check(NULL, NULL, &error)) {
        g_printerr("virt-sandbox: cannot initialise libvirt-gobject: %s\n", error->message);
        return EXIT_CANNOT_RUN;
    }
    if (!(ctx = vsb_sandbox_context_new(cli->uri, cli->config, &error))) {
        g_printerr("virt-sandbox: %s\n", error->message);
        return EXIT_CANNOT_RUN;
    }
    if (g_getenv("VSB_SANDBOX_INIT"))
        vsb_sandbox_builder_set_init_path(vsb_sandbox_context_get_builder(ctx),
                                          g_getenv("VSB_SANDBOX_INIT"));
    if (g_getenv("VSB_SANDBOX_MCS_DIR"))
        vsb_sandbox_context_set_lease_dir(ctx, g_getenv("VSB_SANDBOX_MCS_DIR"));
    if (g_getenv("VSB_SANDBOXD")) {
        g_auto(GStrv) daemon = NULL;
        if (!g_shell_parse_argv(g_getenv("VSB_SANDBOXD"), NULL, &daemon, &error)) {
            g_printerr("virt-sandbox: VSB_SANDBOXD: %s\n", error->message);
            return EXIT_CANNOT_RUN;
        }
        vsb_sandbox_context_set_daemon(ctx, (const char *const *)daemon);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(signals); i++) {
        watches[i].ctx = ctx;
        watches[i].signum = signals[i];
        g_unix_signal_add(signals[i], on_signal_watch, &watches[i]);
    }

    verbose(cli->verbose || cli->debug, "starting sandbox %s",
            vsb_sandbox_config_get_name(cli->config));
    ok = vsb_sandbox_context_start(ctx, &error);
    reap_warm_child(warm);
    for (const char *const *w =
             vsb_sandbox_builder_get_warnings(vsb_sandbox_context_get_builder(ctx)); *w; w++)
        g_printerr("virt-sandbox: warning: %s\n", *w);
    if (ok && vsb_sandbox_context_get_shell_path(ctx))
        /* Always said: without it --shell is of no use. */
        g_printerr("virt-sandbox: a shell in the sandbox is on %s (attach with e.g. "
                   "`screen %s`)\n", vsb_sandbox_context_get_shell_path(ctx),
                   vsb_sandbox_context_get_shell_path(ctx));
    ok = ok && vsb_sandbox_context_run(ctx, STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO, &status,
                                 &error);
    if (!ok) {
        int sig = vsb_sandbox_context_get_interrupt(ctx);
        status = sig ? 128 + sig : EXIT_CANNOT_RUN;
        g_printerr("virt-sandbox: %s\n", error->message);
        g_clear_error(&error);
    }
    verbose(cli->verbose || cli->debug, "stopping sandbox %s (status %d)",
            vsb_sandbox_config_get_name(cli->config), status);
    if (!vsb_sandbox_context_stop(ctx, &error)) {
        g_printerr("virt-sandbox: %s\n", error->message);
        if (status == 0)
            status = EXIT_CANNOT_RUN;
    }
    return status;
}

int
main(int argc, char **argv)
{
    pid_t warm = take_warm_child();
    int status = run(argc, argv, &warm);

    reap_warm_child(&warm);
    return status;
}
