/*
 * vsb-sandbox-service-run.c: inside a running service: execute (and
 * reload, which is a signal sent from inside), and follow, the
 * foreground start that ties a caller (a systemd unit) to the
 * service's lifetime.
 */
#include <config.h>

#include "vsb-sandbox-service-private.h"
#include "vsb-init-config.h"

#include <errno.h>
#include <libvirt/libvirt-lxc.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <sys/wait.h>
#include <unistd.h>

/* As env(1) and virt-sandbox: the command could not be run at all. */
#define EXIT_CANNOT_ENTER 125

static int
status_of(int wstatus)
{
    return WIFSIGNALED(wstatus) ? 128 + WTERMSIG(wstatus) : WEXITSTATUS(wstatus);
}

typedef enum {
    INSIDE_EXEC,        /* run a command */
    INSIDE_RELOAD,      /* SIGHUP to the container's init (forwarded to the program) */
} InsideAction;

/* In a forked child: enter the running service's label, cgroup and
 * namespaces (the order of `virsh lxc-enter-namespace`), fork again
 * (the pid namespace applies to children only) and do @action there.
 * Returns the action's status; 125 when the service cannot be entered
 * (said on stderr: libvirt's message). */
static int
inside(VsbServiceStore *s, virDomainPtr dom, InsideAction action, const char *const *argv,
       GError **error)
{
    virSecurityModel model;
    virSecurityLabel label;
    int *fds = NULL;
    int nfds;
    int wstatus;
    pid_t pid;

    memset(&model, 0, sizeof(model));
    memset(&label, 0, sizeof(label));
    if ((nfds = virDomainLxcOpenNamespace(dom, &fds, 0)) < 0) {
        vsb_service_set_virt_error(error, "Cannot open the namespaces of service '%s'",
                                   virDomainGetName(dom));
        return -1;
    }
    if (virNodeGetSecurityModel(s->conn, &model) < 0 ||
        virDomainGetSecurityLabel(dom, &label) < 0) {
        vsb_service_set_virt_error(error, "Cannot read the security label of service '%s'",
                                   virDomainGetName(dom));
        goto fail;
    }
    fflush(stdout);
    fflush(stderr);
    if ((pid = fork()) < 0) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_FAILED, "fork: %s",
                    g_strerror(errno));
        goto fail;
    }
    if (pid == 0) {
        pid_t child;

        if (virDomainLxcEnterSecurityLabel(&model, &label, NULL, 0) < 0 ||
            virDomainLxcEnterCGroup(dom, 0) < 0 ||
            virDomainLxcEnterNamespace(dom, nfds, fds, NULL, NULL, 0) < 0) {
            fprintf(stderr, "virt-sandbox-service: cannot enter service '%s': %s\n",
                    virDomainGetName(dom), virGetLastErrorMessage());
            _exit(EXIT_CANNOT_ENTER);
        }
        if ((child = fork()) < 0) {
            fprintf(stderr, "virt-sandbox-service: fork: %s\n", g_strerror(errno));
            _exit(EXIT_CANNOT_ENTER);
        }
        if (child == 0) {
            sigset_t none;
            sigemptyset(&none);
            sigprocmask(SIG_SETMASK, &none, NULL);
            if (action == INSIDE_RELOAD) {
                if (kill(1, SIGHUP) < 0) {
                    fprintf(stderr, "virt-sandbox-service: cannot signal the init of "
                            "service '%s': %s\n", virDomainGetName(dom), g_strerror(errno));
                    _exit(EXIT_CANNOT_ENTER);
                }
                _exit(0);
            }
            execvp(argv[0], (char **)argv);
            fprintf(stderr, "virt-sandbox-service: cannot run %s in service '%s': %s\n",
                    argv[0], virDomainGetName(dom), g_strerror(errno));
            _exit(errno == ENOENT ? 127 : 126);
        }
        while (waitpid(child, &wstatus, 0) < 0 && errno == EINTR)
            ;
        _exit(status_of(wstatus));
    }
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    free(fds);
    while (waitpid(pid, &wstatus, 0) < 0) {
        if (errno != EINTR) {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_FAILED, "waitpid: %s",
                        g_strerror(errno));
            return -1;
        }
    }
    return status_of(wstatus);

 fail:
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    free(fds);
    return -1;
}

static virDomainPtr
lookup_running(VsbServiceStore *s, const char *name, GError **error)
{
    virDomainPtr dom = vsb_service_lookup(s, name, error);

    if (dom && virDomainIsActive(dom) != 1) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "service '%s' is not running", name);
        virDomainFree(dom);
        return NULL;
    }
    return dom;
}

bool
vsb_service_execute(VsbServiceStore *s, const char *name, const char *const *argv, int *status,
                    GError **error)
{
    virDomainPtr dom;
    int rc;

    if (!argv || !argv[0] || !argv[0][0]) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "execute needs a command: execute NAME -- COMMAND [ARGS...]");
        return false;
    }
    if (!(dom = lookup_running(s, name, error)))
        return false;
    rc = inside(s, dom, INSIDE_EXEC, argv, error);
    virDomainFree(dom);
    if (rc < 0)
        return false;
    *status = rc;
    return true;
}

/* `systemctl reload-or-restart UNIT...` inside: what reloading a unit
 * means to systemd (a restart for a unit without ExecReload=). */
static bool
reload_units(VsbServiceStore *s, virDomainPtr dom, const char *const *units, GError **error)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    int rc;

    g_ptr_array_add(argv, (char *)"systemctl");
    g_ptr_array_add(argv, (char *)"reload-or-restart");
    g_ptr_array_add(argv, (char *)"--");
    for (size_t i = 0; units[i]; i++)
        g_ptr_array_add(argv, (char *)units[i]);
    g_ptr_array_add(argv, NULL);
    if ((rc = inside(s, dom, INSIDE_EXEC, (const char *const *)argv->pdata, error)) < 0)
        return false;
    if (rc != 0) {
        g_autofree char *list = g_strjoinv(" ", (char **)units);
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_FAILED,
                    "Cannot reload %s in service '%s' (systemctl status %d)", list,
                    virDomainGetName(dom), rc);
        return false;
    }
    return true;
}

bool
vsb_service_reload(VsbServiceStore *s, const char *name, const char *const *units,
                   GError **error)
{
    g_auto(VsbServiceOptions) opts = { 0 };
    virDomainPtr dom;
    bool ok;
    int rc;

    if (!vsb_service_exists(s, name, error) || !vsb_service_load_options(s, name, &opts, error))
        return false;
    if (opts.kind == VSB_SERVICE_KIND_GENERIC && units && units[0]) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "reload -u %s: service '%s' is a generic one (a command, no units)",
                    units[0], name);
        return false;
    }
    if (opts.kind == VSB_SERVICE_KIND_SYSTEMD && !(units && units[0]) &&
        !(opts.units && opts.units[0])) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "service '%s' has no units to reload: reload -u UNIT %s", name, name);
        return false;
    }
    if (!(dom = lookup_running(s, name, error)))
        return false;
    if (opts.kind == VSB_SERVICE_KIND_SYSTEMD) {
        ok = reload_units(s, dom, units && units[0] ? units : (const char *const *)opts.units,
                          error);
        virDomainFree(dom);
        return ok;
    }
    rc = inside(s, dom, INSIDE_RELOAD, NULL, error);
    virDomainFree(dom);
    if (rc < 0)
        return false;
    if (rc != 0) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_FAILED,
                    "Cannot reload service '%s' (status %d)", name, rc);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* follow                                                              */

typedef struct {
    VsbServiceStore *store;
    const char *name;
    sigset_t set;
    volatile gint done;         /* follow is over: the next signal ends the thread */
} SignalThread;

/* The caller's stop and reload requests, which a blocking console read
 * cannot watch for: a thread waits for them. */
static gpointer
signal_thread(gpointer data)
{
    SignalThread *t = data;

    for (;;) {
        g_autoptr(GError) err = NULL;
        g_autoptr(VsbServiceStore) own = NULL;
        int sig;

        if (sigwait(&t->set, &sig) != 0)
            continue;
        if (g_atomic_int_get(&t->done))
            return NULL;
        /* A connection of its own: a call made on the one the main
         * thread reads the console stream on can stay unsent (seen
         * with libvirt 9.0's client: the call waits for the thread
         * polling the stream, which never passes it on). */
        own = vsb_service_store_new(t->store->uri, t->store->basedir);
        if (t->store->init_path)
            vsb_service_store_set_init_path(own, t->store->init_path);
        if (sig == SIGHUP ? !vsb_service_reload(own, t->name, NULL, &err)
                          : !vsb_service_stop(own, t->name, &err))
            fprintf(stderr, "virt-sandbox-service: %s\n", err->message);
    }
    return NULL;
}

/* Tell the service manager that started us (Type=notify: the template
 * unit) @state.  No manager ($NOTIFY_SOCKET unset), nothing to do; one
 * we cannot reach is said on stderr (the unit then times out, which
 * says the rest). */
static void
notify_manager(const char *state)
{
    int r = sd_notify(0, state);

    if (r < 0)
        fprintf(stderr, "virt-sandbox-service: cannot notify the service manager at %s: %s\n",
                g_getenv("NOTIFY_SOCKET"), g_strerror(-r));
}

/* The status in init's last line (vsb-init-service.c), or -1. */
static int
parse_status(const GString *tail)
{
    const char *p = NULL, *q = tail->str;
    unsigned int value;
    char how[16];

    while ((q = strstr(q, VSB_INIT_SERVICE_STATUS " "))) {
        p = q;
        q += strlen(VSB_INIT_SERVICE_STATUS);
    }
    if (!p || sscanf(p + strlen(VSB_INIT_SERVICE_STATUS), " %15s %u", how, &value) != 2 ||
        value > 255)
        return -1;
    if (g_str_equal(how, "exited"))
        return (int)value;
    if (g_str_equal(how, "killed"))
        return 128 + (int)value;
    return -1;
}

static bool
write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        buf += n;
        len -= n;
    }
    return true;
}

bool
vsb_service_follow(VsbServiceStore *s, const char *name, int out_fd, int *status,
                   GError **error)
{
    SignalThread t = { 0 };
    g_auto(VsbServiceOptions) opts = { 0 };
    pthread_t thread;
    int state = VIR_DOMAIN_NOSTATE, reason = 0;
    g_autoptr(GString) tail = g_string_new(NULL);
    virDomainPtr dom;
    virStreamPtr st = NULL;
    bool out_ok = true;
    bool console;
    int rc;

    /* Before anything starts a thread: only ours takes these. */
    t.store = s;
    t.name = name;
    sigemptyset(&t.set);
    sigaddset(&t.set, SIGTERM);
    sigaddset(&t.set, SIGINT);
    sigaddset(&t.set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &t.set, NULL);

    if (!(dom = vsb_service_lookup(s, name, error)))
        return false;
    if (!vsb_service_load_options(s, name, &opts, error)) {
        virDomainFree(dom);
        return false;
    }
    if (virDomainIsActive(dom) != 1 && virDomainCreate(dom) < 0) {
        vsb_service_set_virt_error(error, "Cannot start service '%s'", name);
        virDomainFree(dom);
        return false;
    }
    if ((rc = pthread_create(&thread, NULL, signal_thread, &t)) != 0) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_FAILED,
                    "Cannot start a thread: %s", g_strerror(rc));
        virDomainFree(dom);
        return false;
    }

    /* The console (the controller replays what it kept of it) until it
     * ends with the container.  Another client on it, or a daemon
     * restart, leaves us with the domain's state alone. */
    console = (st = virStreamNew(s->conn, 0)) && virDomainOpenConsole(dom, NULL, st, 0) >= 0;
    if (!console)
        fprintf(stderr, "virt-sandbox-service: not showing the console of '%s': %s\n", name,
                virGetLastErrorMessage());
    /* The container runs and its console is ours: a unit's start is
     * over (systemctl start returns; a failure before this fails it). */
    notify_manager("READY=1");
    if (console) {
        char buf[4096];
        while ((rc = virStreamRecv(st, buf, sizeof(buf))) > 0) {
            if (out_ok && !write_all(out_fd, buf, rc))
                out_ok = false;  /* keep following: the status still counts */
            g_string_append_len(tail, buf, rc);
            if (tail->len > 8192)
                g_string_erase(tail, 0, tail->len - 4096);
        }
        if (rc == 0)
            virStreamFinish(st);
        else
            virStreamAbort(st);
    }
    if (st)
        virStreamFree(st);
    while (virDomainIsActive(dom) == 1)
        g_usleep(100 * 1000);
    if (virDomainGetState(dom, &state, &reason, 0) < 0)
        state = VIR_DOMAIN_NOSTATE;
    virDomainFree(dom);
    g_atomic_int_set(&t.done, 1);
    pthread_kill(thread, SIGINT);
    pthread_join(thread, NULL);

    /* systemd has no status to give: it powered off (stop, or
     * `systemctl poweroff` inside), or something else ended it. */
    if (opts.kind == VSB_SERVICE_KIND_SYSTEMD) {
        *status = state == VIR_DOMAIN_SHUTOFF && reason == VIR_DOMAIN_SHUTOFF_SHUTDOWN ? 0 : 1;
        if (*status)
            fprintf(stderr, "virt-sandbox-service: service '%s' did not power off (%s)\n",
                    name, reason == VIR_DOMAIN_SHUTOFF_DESTROYED ? "destroyed" : "it ended");
    } else if ((*status = parse_status(tail)) < 0) {
        fprintf(stderr, "virt-sandbox-service: service '%s' ended without a status (destroyed, "
                "or its console was lost)\n", name);
        *status = 1;
    }
    return true;
}
