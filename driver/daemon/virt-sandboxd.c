/*
 * virt-sandboxd: the libvirt-compatible daemon of virt-sandbox.
 *
 * Speaks libvirt 9.0's RPC protocol on unix sockets, so that virsh,
 * python3-libvirt, virt-manager and libvirt-gobject manage our
 * containers unchanged (lxc:///system).  The domains are the driver's
 * (vsb-driver.h); each runs under its own controller process, which
 * outlives the daemon: the daemon may die or be restarted at any time,
 * it reattaches to the running domains when it starts.
 *
 *   virt-sandboxd [--socket-dir DIR | --listen PATH[,ro]...] [--run-dir DIR]
 *                 [--config-dir DIR] [--log-dir DIR] [--controller PATH]
 *                 [--timeout SECONDS] [--no-libvirt-paths] [-v] [--trace]
 *
 * Sockets by default: RUNSTATEDIR/virt-sandbox/virt-sandboxd-sock (0600)
 * and ...-sock-ro (0666, read-only), and libvirt's LXC daemon paths
 * /run/libvirt/virtlxcd-sock and virtlxcd-sock-ro, so that a
 * plain "virsh -c lxc:///system" reaches us, unless another process
 * already serves them.  SIGTERM and SIGINT stop the daemon (the
 * containers keep running); the sockets are removed.
 *
 * Exit status: 0 on a clean stop (signal, idle timeout), 1 when it
 * cannot start.
 */
#include <config.h>

#include "vsb-driver.h"
#include "vsb-rpc-dispatch.h"
#include "vsb-util.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#define PROGRAM "virt-sandboxd"

/* Where libvirt's clients look for the LXC daemon: fixed by libvirt's
 * build (/var/run/libvirt, which is /run/libvirt), not by our prefix. */
#define LIBVIRT_SOCKET_DIR "/run/libvirt"

typedef struct {
    char *path;
    bool readonly;
    bool optional;      /* libvirt's paths: someone else may serve them */
    bool activated;     /* systemd passed it (socket activation) */
} Socket;

typedef struct {
    /* options */
    char *socket_dir;
    char **listen;
    char *libvirt_socket_dir;
    char *run_dir;
    char *config_dir;
    char *log_dir;
    char *controller;
    char *cgroup_partition;
    int timeout;
    gboolean no_libvirt_paths;
    gboolean no_autostart;
    gboolean verbose;
    gboolean trace;
    int keepalive_interval;
    int keepalive_count;

    /* state */
    GMainLoop *loop;
    VsbDriver *drv;
    VsbRpcDispatcher *disp;
    gint64 idle_since;   /* monotonic µs; 0 = busy */
    int exit_status;
} Daemon;

/* The only place that prints: everything below reports through GError
 * or the dispatcher's log hook, the driver through g_warning(). */
static gboolean opt_verbose;
static gboolean opt_trace;

static void
log_line(GLogLevelFlags level, const char *message)
{
    const char *what = "";
    char stamp[32] = "";
    struct timespec ts;
    struct tm tm;

    if ((level & G_LOG_LEVEL_DEBUG) && !opt_trace)
        return;
    if ((level & (G_LOG_LEVEL_INFO | G_LOG_LEVEL_MESSAGE)) && !opt_verbose && !opt_trace)
        return;
    if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
        what = "error: ";
    else if (level & G_LOG_LEVEL_WARNING)
        what = "warning: ";
    clock_gettime(CLOCK_REALTIME, &ts);
    if (localtime_r(&ts.tv_sec, &tm))
        snprintf(stamp, sizeof(stamp), "%02d:%02d:%02d.%03ld ", tm.tm_hour, tm.tm_min,
                 tm.tm_sec, ts.tv_nsec / 1000000);
    fprintf(stderr, "%s%s: %s%s\n", stamp, PROGRAM, what, message);
}

static void
glib_log_handler(const char *domain, GLogLevelFlags level, const char *message, gpointer opaque)
{
    log_line(level, message);
}

static void
dispatcher_log(GLogLevelFlags level, const char *message, gpointer opaque)
{
    log_line(level, message);
}

/* Many clients at once, each an fd, plus consoles: take what the hard
 * limit allows. */
static void
raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
        return;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
        g_autofree char *msg = g_strdup_printf("cannot raise the open file limit: %s",
                                               g_strerror(errno));
        log_line(G_LOG_LEVEL_WARNING, msg);
    }
}

static gboolean
on_sighup(gpointer opaque)
{
    /* libvirt's daemons reload their configuration; ours has none to
     * reload, and must not die of it either. */
    log_line(G_LOG_LEVEL_INFO, "SIGHUP: nothing to reload");
    return G_SOURCE_CONTINUE;
}

static gboolean
on_signal(gpointer opaque)
{
    Daemon *d = opaque;

    log_line(G_LOG_LEVEL_INFO, "stopping on a signal");
    g_main_loop_quit(d->loop);
    return G_SOURCE_CONTINUE;
}

/* --timeout: stop once nobody has been connected and no domain has
 * run for that long. */
static gboolean
on_idle_check(gpointer opaque)
{
    Daemon *d = opaque;
    gint64 now = g_get_monotonic_time();

    if (vsb_rpc_server_n_clients(vsb_rpc_dispatcher_get_server(d->disp)) > 0 ||
        vsb_driver_has_active(d->drv)) {
        d->idle_since = 0;
        return G_SOURCE_CONTINUE;
    }
    if (!d->idle_since)
        d->idle_since = now;
    if (now - d->idle_since >= (gint64)d->timeout * G_USEC_PER_SEC) {
        log_line(G_LOG_LEVEL_INFO, "idle: stopping");
        g_main_loop_quit(d->loop);
    }
    return G_SOURCE_CONTINUE;
}

static bool
parse_options(Daemon *d, int *argc, char ***argv, GError **error)
{
    GOptionEntry entries[] = {
        { "socket-dir", 0, 0, G_OPTION_ARG_FILENAME, &d->socket_dir,
          "Directory of the sockets virt-sandboxd-sock and virt-sandboxd-sock-ro "
          "(default " RUNSTATEDIR "/virt-sandbox)", "DIR" },
        { "listen", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &d->listen,
          "Listen at PATH instead of the default sockets (\",ro\": read-only); repeatable",
          "PATH[,ro]" },
        { "libvirt-socket-dir", 0, 0, G_OPTION_ARG_FILENAME, &d->libvirt_socket_dir,
          "Where libvirt's LXC daemon sockets are (default " LIBVIRT_SOCKET_DIR ")", "DIR" },
        { "no-libvirt-paths", 0, 0, G_OPTION_ARG_NONE, &d->no_libvirt_paths,
          "Do not answer at libvirt's virtlxcd-sock and virtlxcd-sock-ro", NULL },
        { "run-dir", 0, 0, G_OPTION_ARG_FILENAME, &d->run_dir,
          "State of the running domains (default " RUNSTATEDIR "/virt-sandbox/lxc)", "DIR" },
        { "config-dir", 0, 0, G_OPTION_ARG_FILENAME, &d->config_dir,
          "Persistent domain definitions (default " SYSCONFDIR "/virt-sandbox/lxc)", "DIR" },
        { "log-dir", 0, 0, G_OPTION_ARG_FILENAME, &d->log_dir,
          "Output of the controllers (default " LOCALSTATEDIR "/log/virt-sandbox)", "DIR" },
        { "controller", 0, 0, G_OPTION_ARG_FILENAME, &d->controller,
          "The controller program (default " LIBEXECDIR "/virt-sandbox-controller)", "PATH" },
        { "cgroup-partition", 0, 0, G_OPTION_ARG_STRING, &d->cgroup_partition,
          "Cgroup partition of the containers (default: the controller's)", "NAME" },
        { "timeout", 0, 0, G_OPTION_ARG_INT, &d->timeout,
          "Stop after SECONDS with no client and no running domain (0: never)", "SECONDS" },
        { "no-autostart", 0, 0, G_OPTION_ARG_NONE, &d->no_autostart,
          "Do not start the autostart domains", NULL },
        { "keepalive-interval", 0, 0, G_OPTION_ARG_INT, &d->keepalive_interval,
          "Seconds of client silence before a keepalive ping (default 5; -1: never)",
          "SECONDS" },
        { "keepalive-count", 0, 0, G_OPTION_ARG_INT, &d->keepalive_count,
          "Unanswered pings before a client is dropped (default 5)", "N" },
        { "verbose", 'v', 0, G_OPTION_ARG_NONE, &d->verbose,
          "Say what happens (connections dropped, domains started...)", NULL },
        { "trace", 0, 0, G_OPTION_ARG_NONE, &d->trace, "Log every call", NULL },
        { NULL }
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- the libvirt-compatible daemon of virt-sandbox");

    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, argc, argv, error))
        return false;
    if (*argc > 1) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "unexpected argument '%s'", (*argv)[1]);
        return false;
    }
    if (d->timeout < 0) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "--timeout must be 0 or more");
        return false;
    }
    if (d->keepalive_count < 0) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "--keepalive-count must be 0 or more");
        return false;
    }
    return true;
}

static GArray *
socket_list(Daemon *d)
{
    GArray *socks = g_array_new(FALSE, TRUE, sizeof(Socket));
    Socket s;

    g_array_set_clear_func(socks, NULL);
    if (d->listen && d->listen[0]) {
        for (char **p = d->listen; *p; p++) {
            memset(&s, 0, sizeof(s));
            s.readonly = g_str_has_suffix(*p, ",ro");
            s.path = s.readonly ? g_strndup(*p, strlen(*p) - 3) : g_strdup(*p);
            g_array_append_val(socks, s);
        }
    } else {
        const char *dir = d->socket_dir ? d->socket_dir : RUNSTATEDIR "/virt-sandbox";

        memset(&s, 0, sizeof(s));
        s.path = g_build_filename(dir, "virt-sandboxd-sock", NULL);
        g_array_append_val(socks, s);
        s.path = g_build_filename(dir, "virt-sandboxd-sock-ro", NULL);
        s.readonly = true;
        g_array_append_val(socks, s);
    }
    if (!d->no_libvirt_paths) {
        const char *dir = d->libvirt_socket_dir ? d->libvirt_socket_dir : LIBVIRT_SOCKET_DIR;

        memset(&s, 0, sizeof(s));
        s.optional = true;
        s.path = g_build_filename(dir, "virtlxcd-sock", NULL);
        g_array_append_val(socks, s);
        s.path = g_build_filename(dir, "virtlxcd-sock-ro", NULL);
        s.readonly = true;
        g_array_append_val(socks, s);
    }
    return socks;
}

/* Sockets systemd made for us (virt-sandboxd.socket and -ro.socket):
 * each is matched to ours by its path, so the unit files and our
 * defaults agree on which is read-only; one matching none of ours is
 * taken as well, read-only when its FileDescriptorName= ends in "ro".
 * Those matched are marked in @socks so that they are not bound again. */
static bool
take_activated_sockets(Daemon *d, GArray *socks, guint *listening, GError **error)
{
    VsbRpcServer *srv = vsb_rpc_dispatcher_get_server(d->disp);
    g_auto(GStrv) names = NULL;
    int n = sd_listen_fds_with_names(1, &names);

    if (n < 0)
        return vsb_error_set_errno(error, -n, "cannot take the sockets systemd passed");
    for (int i = 0; i < n; i++) {
        int fd = SD_LISTEN_FDS_START + i;
        const char *name = names && names[i] ? names[i] : "";
        g_autofree char *label = NULL;
        bool readonly = g_str_has_suffix(name, "ro");
        const char *path = NULL;

        if (sd_is_socket(fd, AF_UNIX, SOCK_STREAM, 1) <= 0) {
            g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                        "socket activation: fd %d (%s) is not a listening unix stream socket",
                        fd, name);
            return false;
        }
        for (guint j = 0; j < socks->len; j++) {
            Socket *s = &g_array_index(socks, Socket, j);

            if (s->path && sd_is_socket_unix(fd, SOCK_STREAM, 1, s->path, 0) > 0) {
                readonly = s->readonly;
                path = s->path;
                s->activated = true;
                break;
            }
        }
        label = g_strdup_printf("%s (from systemd)", path ? path : name);
        if (!vsb_rpc_server_listen_fd(srv, fd, label, readonly, error))
            return false;
        {
            g_autofree char *msg = g_strdup_printf("listening at %s%s", label,
                                                   readonly ? " (read-only)" : "");
            log_line(G_LOG_LEVEL_INFO, msg);
        }
        (*listening)++;
    }
    return true;
}

static bool
start_listening(Daemon *d, GError **error)
{
    g_autoptr(GArray) socks = socket_list(d);
    VsbRpcServer *srv = vsb_rpc_dispatcher_get_server(d->disp);
    guint listening = 0;

    if (!take_activated_sockets(d, socks, &listening, error)) {
        for (guint j = 0; j < socks->len; j++)
            g_free(g_array_index(socks, Socket, j).path);
        return false;
    }
    for (guint i = 0; i < socks->len; i++) {
        Socket *s = &g_array_index(socks, Socket, i);
        g_autoptr(GError) err = NULL;
        g_autofree char *path = s->path;

        if (s->activated)
            continue;
        if (vsb_rpc_server_listen(srv, path, s->readonly, s->readonly ? 0666 : 0600, &err)) {
            g_autofree char *msg = g_strdup_printf("listening at %s%s", path,
                                                   s->readonly ? " (read-only)" : "");
            log_line(G_LOG_LEVEL_INFO, msg);
            listening++;
            continue;
        }
        if (!s->optional) {
            for (guint j = i + 1; j < socks->len; j++)
                g_free(g_array_index(socks, Socket, j).path);
            g_propagate_error(error, g_steal_pointer(&err));
            return false;
        }
        /* libvirt's own virtlxcd (or another of us) may be there: it
         * keeps its socket, we keep ours. */
        {
            g_autofree char *msg = g_strdup_printf("not answering at libvirt's path: %s",
                                                   err->message);
            log_line(G_LOG_LEVEL_WARNING, msg);
        }
    }
    if (!listening) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_FAILED, "no socket to listen on");
        return false;
    }
    return true;
}

/* One daemon per run directory: two would both manage the same
 * controllers.  The lock dies with the process (even kill -9). */
static bool
lock_run_dir(const char *run_dir, int *fd_out, GError **error)
{
    g_autofree char *path = g_build_filename(run_dir, ".virt-sandboxd.pid", NULL);
    g_autofree char *pid = NULL;
    g_auto(VsbFd) fd = -1;
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

    if (!vsb_mkdir_p(run_dir, 0755, error))
        return false;
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return vsb_error_set_errno(error, errno, "cannot open %s", path);
    if (fcntl(fd, F_SETLK, &fl) < 0) {
        if (errno == EAGAIN || errno == EACCES) {
            g_autofree char *other = vsb_file_read_all(path, NULL, NULL);

            g_set_error(error, VSB_ERROR, VSB_ERROR_EXISTS,
                        "another virt-sandboxd (pid %s) manages %s",
                        other ? g_strstrip(other) : "?", run_dir);
            return false;
        }
        return vsb_error_set_errno(error, errno, "cannot lock %s", path);
    }
    pid = g_strdup_printf("%d\n", (int)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, strlen(pid), 0) != (ssize_t)strlen(pid))
        return vsb_error_set_errno(error, errno, "cannot write %s", path);
    *fd_out = fd;
    fd = -1;
    return true;
}

int
main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *config_dir = NULL;
    g_autofree char *autostart_dir = NULL;
    g_auto(VsbFd) lock_fd = -1;
    Daemon d = { 0 };
    VsbDriverConfig dcfg = { 0 };
    VsbRpcDispatcherConfig rcfg = { 0 };

    setlocale(LC_ALL, "");
    d.keepalive_interval = VSB_RPC_KEEPALIVE_INTERVAL;
    d.keepalive_count = VSB_RPC_KEEPALIVE_COUNT;
    if (!parse_options(&d, &argc, &argv, &error)) {
        fprintf(stderr, "%s: %s\n", PROGRAM, error->message);
        return 1;
    }
    opt_verbose = d.verbose;
    opt_trace = d.trace;
    g_log_set_default_handler(glib_log_handler, NULL);
    /* A client going away mid-write must not kill us. */
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    umask(022);

    config_dir = g_strdup(d.config_dir ? d.config_dir : SYSCONFDIR "/virt-sandbox/lxc");
    autostart_dir = g_build_filename(config_dir, "autostart", NULL);
    dcfg.config_dir = config_dir;
    dcfg.autostart_dir = autostart_dir;
    dcfg.run_dir = d.run_dir ? d.run_dir : RUNSTATEDIR "/virt-sandbox/lxc";
    dcfg.log_dir = d.log_dir ? d.log_dir : LOCALSTATEDIR "/log/virt-sandbox";
    dcfg.controller = d.controller ? d.controller : LIBEXECDIR "/virt-sandbox-controller";
    dcfg.cgroup_partition = d.cgroup_partition;
    dcfg.autostart = !d.no_autostart;

    d.loop = g_main_loop_new(NULL, FALSE);
    /* Before the sockets: a client may see them and stop us at once
     * (SIGTERM's default action would kill us mid-start); the stop is
     * then handled when the main loop first runs. */
    g_unix_signal_add(SIGTERM, on_signal, &d);
    g_unix_signal_add(SIGINT, on_signal, &d);
    g_unix_signal_add(SIGHUP, on_sighup, &d);
    /* Sockets first: a daemon already serving them makes this one stop
     * before it touches any domain.  Nothing is read from them before
     * the main loop runs, by when the driver is there. */
    rcfg.server.keepalive_interval = d.keepalive_interval;
    rcfg.server.keepalive_count = d.keepalive_count;
    rcfg.log = dispatcher_log;
    rcfg.trace = d.trace;
    d.disp = vsb_rpc_dispatcher_new(NULL, &rcfg);
    if (!start_listening(&d, &error) || !lock_run_dir(dcfg.run_dir, &lock_fd, &error)) {
        log_line(G_LOG_LEVEL_CRITICAL, error->message);
        vsb_rpc_dispatcher_free(d.disp);
        return 1;
    }
    /* Reattach to the running domains, load the others, autostart. */
    d.drv = vsb_driver_new(&dcfg, &error);
    if (!d.drv) {
        log_line(G_LOG_LEVEL_CRITICAL, error->message);
        vsb_rpc_dispatcher_free(d.disp);
        return 1;
    }
    vsb_rpc_dispatcher_set_driver(d.disp, d.drv);

    if (d.timeout > 0)
        g_timeout_add_seconds(1, on_idle_check, &d);
    log_line(G_LOG_LEVEL_INFO, "ready");
    /* Under systemd (Type=notify): clients may come.  A no-op elsewhere. */
    sd_notify(0, "READY=1\nSTATUS=serving");

    g_main_loop_run(d.loop);
    sd_notify(0, "STOPPING=1");

    /* Connections and sockets go; the domains keep running. */
    vsb_rpc_dispatcher_free(d.disp);
    vsb_driver_free(d.drv);
    g_main_loop_unref(d.loop);
    g_free(d.socket_dir);
    g_strfreev(d.listen);
    g_free(d.libvirt_socket_dir);
    g_free(d.run_dir);
    g_free(d.config_dir);
    g_free(d.log_dir);
    g_free(d.controller);
    g_free(d.cgroup_partition);
    return d.exit_status;
}
