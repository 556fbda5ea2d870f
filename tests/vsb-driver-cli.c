/*
 * vsb-driver-cli.c: the driver (driver/daemon/vsb-driver.h) without
 * the RPC layer, for tests/integration/test_driver.py.
 *
 *   vsb-driver-cli [--config-dir D] [--run-dir R] [--log-dir L]
 *                  [--controller PATH] [--partition NAME] [--autostart]
 *                  COMMAND ARGS... [--- COMMAND ARGS...]...
 *
 * Every invocation is a daemon's life: vsb_driver_new() (reattaching
 * to what runs), the commands in order, vsb_driver_free().  Events are
 * printed as they come: "event NAME TYPE DETAIL ID".  The first failing
 * command prints "error: CODE: MESSAGE" on stderr and ends the run with
 * status 1.
 *
 * Commands:
 *   define FILE | create FILE | undefine NAME | start NAME | destroy NAME
 *   shutdown NAME [default|initctl|signal|both] | reboot NAME [MODE]
 *   autostart NAME on|off | list [FLAG...] | info NAME | dumpxml NAME [inactive]
 *   lookup-id ID | lookup-uuid UUID | capabilities | nodeinfo | has-active
 *   console NAME [force] [send TEXT] [expect TEXT] [timeout S] [hold S]
 *   enter NAME CMD ARGS...      (namespaces of init, then CMD; last)
 *   wait NAME running|shutoff|gone [TIMEOUT] | events N [TIMEOUT] | sleep S
 */
#include <config.h>

#include "vsb-driver.h"
#include "vsb-driver-util.h"
#include "vsb-util.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static guint events_seen;

static const char *
event_name(VsbEventType e)
{
    static const char *const names[] = { "defined", "undefined", "started", "suspended",
                                         "resumed", "stopped" };

    return (guint)e < G_N_ELEMENTS(names) ? names[e] : "?";
}

static const char *
detail_name(VsbEventType e, int detail)
{
    static const char *const stopped[] = { "shutdown", "destroyed", "crashed", "migrated",
                                           "saved", "failed", "from_snapshot" };

    switch (e) {
    case VSB_EVENT_DEFINED:
        return detail == 0 ? "added" : detail == 1 ? "updated" : "?";
    case VSB_EVENT_UNDEFINED:
        return detail == 0 ? "removed" : "?";
    case VSB_EVENT_STARTED:
        return detail == 0 ? "booted" : "?";
    case VSB_EVENT_STOPPED:
        return detail >= 0 && detail < (int)G_N_ELEMENTS(stopped) ? stopped[detail] : "?";
    default:
        return "?";
    }
}

static void
on_event(const VsbDomainRef *ref, VsbEventType event, int detail, gpointer opaque)
{
    events_seen++;
    printf("event %s %s %s %d\n", ref->name, event_name(event), detail_name(event, detail),
           ref->id);
    fflush(stdout);
}

static const char *
state_name(VsbDomainState s)
{
    static const char *const names[] = { "nostate", "running", "blocked", "paused", "shutdown",
                                         "shutoff", "crashed" };

    return (guint)s < G_N_ELEMENTS(names) ? names[s] : "?";
}

/* Run the main loop for up to @ms or until @done says so. */
static gboolean
tick(gpointer opaque)
{
    return G_SOURCE_CONTINUE;
}

static bool
loop_until(int ms, bool (*done)(gpointer), gpointer opaque)
{
    gint64 deadline = g_get_monotonic_time() + ms * 1000LL;
    guint ticker = g_timeout_add(20, tick, NULL);   /* bounds each blocking iteration */
    bool ok = true;

    while (!(done && done(opaque))) {
        if (g_get_monotonic_time() >= deadline) {
            ok = false;
            break;
        }
        g_main_context_iteration(NULL, TRUE);
    }
    g_source_remove(ticker);
    return ok;
}

typedef struct {
    VsbDriver *drv;
    const char *name;
    const char *state;
} WaitState;

static bool
state_reached(gpointer opaque)
{
    WaitState *w = opaque;
    VsbDomain *dom = vsb_driver_lookup_by_name(w->drv, w->name, NULL);

    if (g_str_equal(w->state, "gone"))
        return dom == NULL;
    return dom && g_str_equal(state_name(vsb_domain_get_state(dom, NULL)), w->state);
}

static bool
events_reached(gpointer opaque)
{
    return events_seen >= GPOINTER_TO_UINT(opaque);
}

static int
seconds_ms(const char *s)
{
    return (int)(g_ascii_strtod(s, NULL) * 1000);
}

static unsigned int
list_flag(const char *word)
{
    static const struct { const char *name; unsigned int flag; } flags[] = {
        { "active", VSB_LIST_ACTIVE }, { "inactive", VSB_LIST_INACTIVE },
        { "persistent", VSB_LIST_PERSISTENT }, { "transient", VSB_LIST_TRANSIENT },
        { "running", VSB_LIST_RUNNING }, { "paused", VSB_LIST_PAUSED },
        { "shutoff", VSB_LIST_SHUTOFF }, { "other", VSB_LIST_OTHER },
        { "autostart", VSB_LIST_AUTOSTART }, { "no-autostart", VSB_LIST_NO_AUTOSTART },
        { "managedsave", VSB_LIST_MANAGEDSAVE }, { "no-managedsave", VSB_LIST_NO_MANAGEDSAVE },
        { "has-snapshot", VSB_LIST_HAS_SNAPSHOT }, { "no-snapshot", VSB_LIST_NO_SNAPSHOT },
    };

    for (guint i = 0; i < G_N_ELEMENTS(flags); i++) {
        if (g_str_equal(word, flags[i].name))
            return flags[i].flag;
    }
    return 0;
}

static unsigned int
shutdown_mode(const char *word, GError **error)
{
    if (!word || g_str_equal(word, "default"))
        return VSB_SHUTDOWN_DEFAULT;
    if (g_str_equal(word, "initctl"))
        return VSB_SHUTDOWN_INITCTL;
    if (g_str_equal(word, "signal"))
        return VSB_SHUTDOWN_SIGNAL;
    if (g_str_equal(word, "both"))
        return VSB_SHUTDOWN_INITCTL | VSB_SHUTDOWN_SIGNAL;
    if (g_str_equal(word, "bogus"))
        return 1 << 30;
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "unknown mode '%s'", word);
    return (unsigned int)-1;
}

static char *
read_xml_file(const char *path, GError **error)
{
    char *text = NULL;

    if (!g_file_get_contents(path, &text, NULL, error))
        return NULL;
    return text;
}

/* Send @send, read until @expect shows up (or @timeout), print what
 * came, keep the console @hold ms more. */
static bool
run_console(VsbDriver *drv, VsbDomain *dom, char **args, GError **error)
{
    bool force = false;
    const char *send_text = NULL, *expect = NULL;
    int timeout_ms = 10000, hold_ms = 0;
    g_autoptr(GString) got = g_string_new(NULL);
    g_auto(VsbFd) fd = -1;
    gint64 deadline;

    for (char **a = args; *a; a++) {
        if (g_str_equal(*a, "force"))
            force = true;
        else if (g_str_equal(*a, "send") && a[1])
            send_text = *++a;
        else if (g_str_equal(*a, "expect") && a[1])
            expect = *++a;
        else if (g_str_equal(*a, "timeout") && a[1])
            timeout_ms = seconds_ms(*++a);
        else if (g_str_equal(*a, "hold") && a[1])
            hold_ms = seconds_ms(*++a);
    }
    fd = vsb_driver_open_console(drv, dom, force, error);
    if (fd < 0)
        return false;
    if (send_text) {
        g_autofree char *text = g_strcompress(send_text);
        if (!vsb_write_all(fd, text, strlen(text)))
            return vsb_error_set_errno(error, errno, "Cannot write to the console");
    }
    deadline = g_get_monotonic_time() + timeout_ms * 1000LL;
    while (expect && !strstr(got->str, expect)) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;
        char buf[4096];
        ssize_t n;

        if (left <= 0)
            break;
        if (poll(&pfd, 1, (int)left) <= 0)
            continue;
        n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            break;
        g_string_append_len(got, buf, n);
    }
    fwrite(got->str, 1, got->len, stdout);
    printf("\n");
    if (hold_ms)
        g_usleep(hold_ms * 1000LL);
    if (expect && !strstr(got->str, expect)) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_FAILED, "console: '%s' did not show up", expect);
        return false;
    }
    return true;
}

/* As virsh lxc-enter-namespace: join every namespace, fork (the pid
 * namespace applies to children), exec. */
static int
run_enter(VsbDriver *drv, VsbDomain *dom, char **argv, GError **error)
{
    g_autoptr(GArray) fds = vsb_driver_open_namespaces(drv, dom, error);
    pid_t pid;
    int status;

    if (!fds)
        return -1;
    printf("namespaces %u\n", fds->len);
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        for (guint i = 0; i < fds->len; i++) {
            /* EINVAL: our own user namespace */
            if (setns(g_array_index(fds, int, i), 0) < 0 && errno != EINVAL) {
                perror("setns");
                _exit(125);
            }
        }
        pid = fork();
        if (pid == 0) {
            execv(argv[0], argv);
            perror("execv");
            _exit(127);
        }
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    }
    for (guint i = 0; i < fds->len; i++)
        close(g_array_index(fds, int, i));
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void
print_domain_line(VsbDomain *dom)
{
    printf("%s %s %d %s %s\n", vsb_domain_get_name(dom),
           state_name(vsb_domain_get_state(dom, NULL)), vsb_domain_get_id(dom),
           vsb_domain_is_persistent(dom) ? "persistent" : "transient",
           vsb_domain_get_autostart(dom) ? "autostart" : "-");
}

/* One command; @args ends at the next "---" or NULL.  Returns false
 * with @error set on failure. */
static bool
run_command(VsbDriver *drv, char **args, int *exit_code, GError **error)
{
    const char *cmd = args[0];
    guint n = g_strv_length(args);
    VsbDomain *dom = NULL;

#define NEED(k) do { if (n < (k) + 1) { g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, \
                                        "%s: missing argument", cmd); return false; } } while (0)
#define LOOKUP() do { NEED(1); dom = vsb_driver_lookup_by_name(drv, args[1], error); \
                      if (!dom) return false; } while (0)

    if (g_str_equal(cmd, "define") || g_str_equal(cmd, "create")) {
        g_autofree char *xml = NULL;
        NEED(1);
        if (!(xml = read_xml_file(args[1], error)))
            return false;
        dom = cmd[0] == 'd' ? vsb_driver_define_xml(drv, xml, error)
                            : vsb_driver_create_xml(drv, xml, error);
        if (!dom)
            return false;
        printf("%s %s %d\n", cmd[0] == 'd' ? "defined" : "created", vsb_domain_get_name(dom),
               vsb_domain_get_id(dom));
    } else if (g_str_equal(cmd, "undefine")) {
        LOOKUP();
        return vsb_driver_undefine(drv, dom, error);
    } else if (g_str_equal(cmd, "start")) {
        LOOKUP();
        if (!vsb_driver_start(drv, dom, error))
            return false;
        printf("started %s %d\n", vsb_domain_get_name(dom), vsb_domain_get_id(dom));
    } else if (g_str_equal(cmd, "destroy")) {
        gint64 t0 = g_get_monotonic_time();
        LOOKUP();
        if (!vsb_driver_destroy(drv, dom, error))
            return false;
        printf("destroyed %s in %" G_GINT64_FORMAT " ms\n", args[1],
               (g_get_monotonic_time() - t0) / 1000);
    } else if (g_str_equal(cmd, "shutdown") || g_str_equal(cmd, "reboot")) {
        unsigned int flags;
        LOOKUP();
        flags = shutdown_mode(args[2], error);
        if (flags == (unsigned int)-1)
            return false;
        return cmd[0] == 's' ? vsb_driver_shutdown(drv, dom, flags, error)
                             : vsb_driver_reboot(drv, dom, flags, error);
    } else if (g_str_equal(cmd, "autostart")) {
        LOOKUP();
        NEED(2);
        return vsb_driver_set_autostart(drv, dom, g_str_equal(args[2], "on"), error);
    } else if (g_str_equal(cmd, "list")) {
        unsigned int flags = 0;
        g_autoptr(GPtrArray) doms = NULL;
        for (guint i = 1; i < n; i++)
            flags |= list_flag(args[i]);
        doms = vsb_driver_list(drv, flags);
        for (guint i = 0; i < doms->len; i++)
            print_domain_line(doms->pdata[i]);
    } else if (g_str_equal(cmd, "info")) {
        VsbDomainInfo info;
        int reason;
        LOOKUP();
        vsb_domain_get_info(dom, &info);
        vsb_domain_get_state(dom, &reason);
        printf("state=%s\nreason=%d\nid=%d\nmax_mem_kib=%llu\nmemory_kib=%llu\n"
               "nr_virt_cpu=%u\ncpu_time_ns=%llu\npersistent=%d\nautostart=%d\nactive=%d\n",
               state_name(info.state), reason, vsb_domain_get_id(dom), info.max_mem_kib,
               info.memory_kib, info.nr_virt_cpu, info.cpu_time_ns,
               vsb_domain_is_persistent(dom), vsb_domain_get_autostart(dom),
               vsb_domain_is_active(dom));
    } else if (g_str_equal(cmd, "dumpxml")) {
        g_autofree char *xml = NULL;
        LOOKUP();
        xml = vsb_domain_get_xml(dom, n > 2 && g_str_equal(args[2], "inactive"));
        fputs(xml, stdout);
    } else if (g_str_equal(cmd, "lookup-id")) {
        NEED(1);
        if (!(dom = vsb_driver_lookup_by_id(drv, atoi(args[1]), error)))
            return false;
        print_domain_line(dom);
    } else if (g_str_equal(cmd, "lookup-uuid")) {
        unsigned char uuid[16];
        NEED(1);
        if (!vsb_domain_uuid_parse(args[1], uuid)) {
            g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "bad uuid '%s'", args[1]);
            return false;
        }
        if (!(dom = vsb_driver_lookup_by_uuid(drv, uuid, error)))
            return false;
        print_domain_line(dom);
    } else if (g_str_equal(cmd, "capabilities")) {
        g_autofree char *xml = vsb_driver_get_capabilities(drv);
        fputs(xml, stdout);
    } else if (g_str_equal(cmd, "nodeinfo")) {
        VsbNodeInfo ni;
        if (!vsb_driver_get_node_info(drv, &ni, error))
            return false;
        printf("model=%s\nmemory_kib=%llu\ncpus=%u\nmhz=%u\nnodes=%u\nsockets=%u\ncores=%u\n"
               "threads=%u\n", ni.model, ni.memory_kib, ni.cpus, ni.mhz, ni.nodes, ni.sockets,
               ni.cores, ni.threads);
    } else if (g_str_equal(cmd, "has-active")) {
        printf("%s\n", vsb_driver_has_active(drv) ? "yes" : "no");
    } else if (g_str_equal(cmd, "console")) {
        LOOKUP();
        return run_console(drv, dom, args + 2, error);
    } else if (g_str_equal(cmd, "enter")) {
        int rc;
        LOOKUP();
        NEED(2);
        rc = run_enter(drv, dom, args + 2, error);
        if (rc < 0)
            return false;
        *exit_code = rc;
    } else if (g_str_equal(cmd, "wait")) {
        WaitState w = { .drv = drv };
        NEED(2);
        w.name = args[1];
        w.state = args[2];
        if (!loop_until(n > 3 ? seconds_ms(args[3]) : 20000, state_reached, &w)) {
            g_set_error(error, VSB_ERROR, VSB_ERROR_FAILED, "%s did not become %s", w.name,
                        w.state);
            return false;
        }
    } else if (g_str_equal(cmd, "events")) {
        NEED(1);
        if (!loop_until(n > 2 ? seconds_ms(args[2]) : 20000, events_reached,
                        GUINT_TO_POINTER(atoi(args[1])))) {
            g_set_error(error, VSB_ERROR, VSB_ERROR_FAILED, "saw %u events, not %s",
                        events_seen, args[1]);
            return false;
        }
    } else if (g_str_equal(cmd, "sleep")) {
        NEED(1);
        loop_until(seconds_ms(args[1]), NULL, NULL);
    } else {
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "unknown command '%s'", cmd);
        return false;
    }
    return true;
#undef LOOKUP
#undef NEED
}

static const char *
error_code_name(const GError *e)
{
    static const char *const names[] = { "INTERNAL", "NO_DOMAIN", "OPERATION_INVALID",
                                         "OPERATION_FAILED", "INVALID_ARG", "EXISTS",
                                         "NO_SUPPORT", "UNSUPPORTED_FLAGS" };

    if (e->domain == VSB_DRIVER_ERROR && (guint)e->code < G_N_ELEMENTS(names))
        return names[e->code];
    if (e->domain == VSB_DOMAIN_CONF_ERROR)
        return "XML";
    return "OTHER";
}

int
main(int argc, char **argv)
{
    VsbDriverConfig cfg = { 0 };
    g_autofree char *config_dir = NULL, *run_dir = NULL, *log_dir = NULL;
    g_autofree char *controller = NULL, *partition = NULL;
    gboolean autostart = FALSE;
    GOptionEntry entries[] = {
        { "config-dir", 0, 0, G_OPTION_ARG_FILENAME, &config_dir, "Persistent XML", "DIR" },
        { "run-dir", 0, 0, G_OPTION_ARG_FILENAME, &run_dir, "Controllers' state", "DIR" },
        { "log-dir", 0, 0, G_OPTION_ARG_FILENAME, &log_dir, "Controllers' logs", "DIR" },
        { "controller", 0, 0, G_OPTION_ARG_FILENAME, &controller, "The controller", "PATH" },
        { "partition", 0, 0, G_OPTION_ARG_STRING, &partition, "Cgroup partition", "NAME" },
        { "autostart", 0, 0, G_OPTION_ARG_NONE, &autostart, "Start autostart domains", NULL },
        { NULL }
    };
    g_autoptr(GOptionContext) octx = g_option_context_new("COMMAND ARGS... [--- COMMAND...]");
    g_autoptr(GError) error = NULL;
    g_autoptr(VsbDriver) drv = NULL;
    int exit_code = 0;
    int i;

    /* Commands' own words must not be taken for options. */
    g_option_context_set_strict_posix(octx, TRUE);
    g_option_context_add_main_entries(octx, entries, NULL);
    if (!g_option_context_parse(octx, &argc, &argv, &error) || argc < 2) {
        fprintf(stderr, "error: USAGE: %s\n", error ? error->message : "no command");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    cfg.config_dir = config_dir;
    cfg.run_dir = run_dir;
    cfg.log_dir = log_dir;
    cfg.controller = controller;
    cfg.cgroup_partition = partition;
    cfg.autostart = autostart;

    drv = vsb_driver_new(&cfg, &error);
    if (!drv) {
        fprintf(stderr, "error: %s: %s\n", error_code_name(error), error->message);
        return 1;
    }
    vsb_driver_add_event_listener(drv, on_event, NULL);

    for (i = 1; i < argc; ) {
        int j = i;

        while (j < argc && !g_str_equal(argv[j], "---"))
            j++;
        argv[j < argc ? j : argc] = NULL;
        if (!run_command(drv, argv + i, &exit_code, &error)) {
            fprintf(stderr, "error: %s: %s\n", error_code_name(error), error->message);
            fflush(stdout);
            return 1;
        }
        fflush(stdout);
        i = j + 1;
    }
    return exit_code;
}
