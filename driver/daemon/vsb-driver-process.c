/*
 * vsb-driver-process.c: the domains' controllers: spawning them,
 * watching them end, reattaching to them after a daemon restart, and
 * what is asked of them (destroy, shutdown, reboot, console,
 * namespaces).
 *
 * The daemon is never a controller's parent (a double fork gives it to
 * init), so a controller outlives a daemon killed with SIGKILL, and the
 * daemon learns of its end from the run directory (see
 * vsb-controller.h): NAME.exit appears (inotify), and, as a safety net
 * for a controller that died without writing it, a periodic check of
 * the flock() on NAME.pid.  Every decision is taken from the files as
 * they are when looked at, never from the events themselves, so events
 * that arrive late, twice or not at all (queue overflow) do no harm.
 */
#include <config.h>

#include "vsb-controller.h"
#include "vsb-ctl-cgwarm.h"
#include "vsb-domain-net.h"
#include "vsb-driver-priv.h"
#include "vsb-util.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <linux/openat2.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The controller gives up on a setup after 60 s and says so; waiting a
 * bit longer means its own message is what the caller gets. */
#define START_TIMEOUT_MS (65 * 1000)
/* destroy: from the request until the container is gone.  Tearing one
 * down takes milliseconds; seconds mean processes stuck in the kernel. */
#define DESTROY_TIMEOUT_US (5 * G_USEC_PER_SEC)
/* ... and after killing an unresponsive controller. */
#define DESTROY_KILL_TIMEOUT_US (2 * G_USEC_PER_SEC)
/* Between NAME.exit and the controller's exit (lock released). */
#define RELEASE_TIMEOUT_US (2 * G_USEC_PER_SEC)
/* An answer on the control socket. */
#define CONTROL_TIMEOUT_MS 5000
/* The safety net: how often live controllers' locks are checked. */
#define CHECK_INTERVAL_S 3
/* A run this short followed by a restart counts as a restart loop... */
#define QUICK_RUN_US G_USEC_PER_SEC
/* ... and this many in a row stop the restarts. */
#define MAX_QUICK_RESTARTS 5

static const char *const initctl_fifos[] = { "/run/initctl", "/dev/initctl", "/etc/.initctl" };
static const char *const namespaces[] = { "user", "ipc", "uts", "net", "pid", "mnt" };

static void domain_check(VsbDomain *dom);
static void driver_read_events(VsbDriver *drv);

/* The start request: hidden (no domain name starts with a dot) so it
 * never clashes with a controller's NAME.xml. */
static char *
start_xml_file(VsbDriver *drv, const char *name)
{
    g_autofree char *base = g_strdup_printf(".%s.xml", name);

    return g_build_filename(drv->run_dir, base, NULL);
}

/* ------------------------------------------------------------------ */
/* The controller's files                                              */

/* The pid of the live controller holding NAME.pid's lock, or 0 when
 * none does (no file, or a stale one).  Testing takes a shared lock for
 * an instant: only a controller starting at that very instant could
 * notice, and the driver does not start one while it looks. */
static pid_t
controller_alive(VsbDriver *drv, const char *name)
{
    g_autofree char *path = vsb_driver_run_file(drv, name, "pid");
    g_auto(VsbFd) fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    char buf[32];
    ssize_t n;
    guint64 pid;

    if (fd < 0)
        return 0;
    if (flock(fd, LOCK_SH | LOCK_NB) == 0)
        return 0;
    if (errno != EWOULDBLOCK)
        return -1;  /* cannot tell: alive, but no pid to signal */
    n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    if (!g_ascii_string_to_unsigned(g_strstrip(buf), 10, 1, G_MAXINT32, &pid, NULL))
        return -1;
    return (pid_t)pid;
}

/* Wait (bounded) until no controller holds NAME.pid: a controller that
 * wrote NAME.exit is about to exit, and a new one for the same name
 * could not take the lock before. */
static void
wait_released(VsbDriver *drv, const char *name)
{
    gint64 deadline = g_get_monotonic_time() + RELEASE_TIMEOUT_US;
    gulong delay = 500;
    pid_t pid = controller_alive(drv, name);

    if (pid == 0)
        return;
    /* The lock goes when the controller exits: its pidfd says when, where
     * polling the lock would oversleep by up to a step.  The lock, still
     * held after the pidfd is open, proves the pid was not reused. */
    if (pid > 0) {
        g_auto(VsbFd) fd = syscall(SYS_pidfd_open, pid, 0);
        struct pollfd pfd = { .fd = fd, .events = POLLIN };

        if (fd >= 0 && controller_alive(drv, name) == pid) {
            gint64 left;
            while ((left = deadline - g_get_monotonic_time()) > 0 &&
                   poll(&pfd, 1, (int)(left / 1000)) < 0 && errno == EINTR)
                ;
        }
    }
    while (controller_alive(drv, name) != 0 && g_get_monotonic_time() < deadline) {
        g_usleep(delay);
        delay = MIN(delay * 2, 20000);
    }
}

/* Read and remove NAME.exit.  False when there is none; *@parsed says
 * whether its content made sense. */
static bool
collect_exit(VsbDriver *drv, const char *name, VsbControllerExit *ex, bool *parsed)
{
    g_autofree char *path = vsb_driver_run_file(drv, name, "exit");
    g_autofree char *text = NULL;
    g_autoptr(GError) err = NULL;

    *parsed = false;
    text = vsb_file_read_all(path, NULL, &err);
    if (!text) {
        if (!g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            g_warning("%s, ignoring", err->message);
        return !g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NOENT);
    }
    if (unlink(path) < 0 && errno != ENOENT)
        g_warning("Cannot remove %s: %s, ignoring", path, g_strerror(errno));
    if (!vsb_driver_parse_exit(text, ex, &err)) {
        g_warning("%s: %s, ignoring", path, err->message);
        return true;
    }
    *parsed = true;
    return true;
}

/* Remove what a controller killed hard left behind, if nobody holds
 * its lock (taking it ourselves keeps a new controller out meanwhile). */
static void
cleanup_stale(VsbDriver *drv, const char *name)
{
    static const char *const exts[] = { "xml", "state", "sock" };
    g_autofree char *pid_path = vsb_driver_run_file(drv, name, "pid");
    g_autofree char *root = vsb_driver_run_file(drv, name, "root");
    g_auto(VsbFd) fd = open(pid_path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);

    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0)
        return;
    for (guint i = 0; i < G_N_ELEMENTS(exts); i++) {
        g_autofree char *path = vsb_driver_run_file(drv, name, exts[i]);
        unlink(path);
    }
    rmdir(root);
    unlink(pid_path);
}

/* True if @pid is in the payload cgroup of domain @name: a pid read
 * from a file may have been reused since. */
static bool
pid_in_domain(VsbDriver *drv, pid_t pid, const char *name)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/cgroup", (int)pid);
    g_autofree char *text = vsb_file_read_all(path, NULL, NULL);
    /* ours, or the controller's systemd scope (vsb-cgroup.h) */
    g_auto(GStrv) rels = vsb_cgroup_domain_rel_paths(drv->cgroup_partition, name);

    for (guint i = 0; rels[i]; i++) {
        g_autofree char *want = g_strdup_printf("/%s/payload", rels[i]);
        const char *p = text;

        while (p && (p = strstr(p, want))) {
            char next = p[strlen(want)];
            if (next == '\n' || next == '/' || next == '\0')
                return true;
            p++;
        }
    }
    return false;
}

/* ------------------------------------------------------------------ */
/* The control socket                                                  */

/* Connect to NAME.sock, send @req, read the one-line answer (a byte at
 * a time: console data may follow it).  Returns the connected socket. */
static int
control_request(VsbDriver *drv, const char *name, const char *req, char **answer,
                GError **error)
{
    g_autofree char *path = vsb_driver_run_file(drv, name, "sock");
    g_autofree char *line = g_strdup_printf("%s\n", req);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    g_auto(VsbFd) fd = -1;
    g_autoptr(GString) buf = g_string_new(NULL);
    gint64 deadline = g_get_monotonic_time() + CONTROL_TIMEOUT_MS * 1000LL;

    if (strlen(path) >= sizeof(addr.sun_path)) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "Socket path %s is too long", path);
        return -1;
    }
    strcpy(addr.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return vsb_error_set_errno(error, errno, "Cannot create a socket"), -1;
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
        return vsb_error_set_errno(error, errno, "Cannot connect to %s", path), -1;
    if (send(fd, line, strlen(line), MSG_NOSIGNAL) < 0)
        return vsb_error_set_errno(error, errno, "Cannot send to %s", path), -1;
    for (;;) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;
        char c;
        ssize_t n;
        int rc;

        if (left <= 0) {
            g_set_error(error, VSB_ERROR, VSB_ERROR_FAILED,
                        "No answer to '%s' from %s within %d s", req, path,
                        CONTROL_TIMEOUT_MS / 1000);
            return -1;
        }
        rc = poll(&pfd, 1, (int)left);
        if (rc < 0 && errno != EINTR)
            return vsb_error_set_errno(error, errno, "Cannot wait for %s", path), -1;
        if (rc <= 0)
            continue;
        n = recv(fd, &c, 1, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return vsb_error_set_errno(error, errno, "Cannot read from %s", path), -1;
        if (n == 0 || c == '\n')
            break;
        if (buf->len >= 1024) {
            g_set_error(error, VSB_ERROR, VSB_ERROR_FAILED, "Overlong answer from %s", path);
            return -1;
        }
        g_string_append_c(buf, c);
    }
    *answer = g_string_free(g_steal_pointer(&buf), FALSE);
    return g_steal_fd(&fd);
}

/* ------------------------------------------------------------------ */
/* Spawning                                                            */

/* In the controller-to-be, after the double fork: async-signal-safe
 * calls only (the daemon may have threads).  fd 3 is the ready fd. */
static void G_GNUC_NORETURN
exec_controller(const char *path, char **argv, int devnull, int log_fd, int ready_w)
{
    static const char failed[] = "error Cannot execute the controller\n";
    struct sigaction dfl = { .sa_handler = SIG_DFL };
    sigset_t none;
    /* Out of the way of 0-3 first: a source may be one of them. */
    int in = fcntl(devnull, F_DUPFD_CLOEXEC, 10);
    int out = fcntl(log_fd, F_DUPFD_CLOEXEC, 10);
    int ready = fcntl(ready_w, F_DUPFD_CLOEXEC, 10);

    if (in < 0 || out < 0 || ready < 0 ||
        dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
        dup2(out, STDERR_FILENO) < 0 || dup2(ready, 3) < 0)
        _exit(VSB_CTL_EXIT_FAILURE);
    /* Whatever the daemon's other parts left without O_CLOEXEC. */
    if (close_range(4, ~0U, 0) < 0) {
        for (int fd = 4; fd < 65536; fd++)
            close(fd);
    }
    /* Ignored signals and the mask survive exec: the controller must
     * start from the defaults. */
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &dfl, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execv(path, argv);
    if (write(3, failed, sizeof(failed) - 1) < 0) {
        /* nobody to tell */
    }
    _exit(VSB_CTL_EXIT_FAILURE);
}

/* Start the controller as a grandchild in a session of its own: init
 * reaps it, the daemon's death or its process group's signals do not
 * reach it. */
static bool
spawn_controller(const char *path, char **argv, int devnull, int log_fd, int ready_w,
                 GError **error)
{
    pid_t pid = fork();
    int status;

    if (pid < 0)
        return vsb_error_set_errno(error, errno, "Cannot fork");
    if (pid == 0) {
        pid_t grandchild;

        if (setsid() < 0)
            _exit(1);
        grandchild = fork();
        if (grandchild != 0)
            _exit(grandchild < 0 ? 1 : 0);
        exec_controller(path, argv, devnull, log_fd, ready_w);
    }
    while (waitpid(pid, &status, 0) < 0) {
        /* ECHILD: SIGCHLD is ignored, the kernel reaped it; the ready
         * fd tells the rest. */
        if (errno == ECHILD)
            return true;
        if (errno != EINTR)
            return vsb_error_set_errno(error, errno, "Cannot wait for process %d", (int)pid);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_FAILED,
                    "Cannot start the controller in a new session");
        return false;
    }
    return true;
}

/* The first line written to @fd; NULL on EOF before any byte or on
 * timeout (*@timed_out). */
static char *
read_ready_line(int fd, int timeout_ms, bool *timed_out)
{
    g_autoptr(GString) buf = g_string_new(NULL);
    gint64 deadline = g_get_monotonic_time() + timeout_ms * 1000LL;
    char *nl;

    *timed_out = false;
    while (!(nl = memchr(buf->str, '\n', buf->len)) && buf->len < 65536) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;
        char chunk[1024];
        ssize_t n;
        int rc;

        if (left <= 0) {
            *timed_out = true;
            return NULL;
        }
        rc = poll(&pfd, 1, (int)left);
        if (rc < 0 && errno != EINTR)
            return NULL;
        if (rc <= 0)
            continue;
        n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        g_string_append_len(buf, chunk, n);
    }
    if (nl)
        g_string_truncate(buf, nl - buf->str);
    if (!buf->len)
        return NULL;
    return g_string_free(g_steal_pointer(&buf), FALSE);
}

/* The last non-empty line of a log file, for an error message. */
static char *
log_tail(const char *path)
{
    g_auto(VsbFd) fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    char buf[4097];
    off_t off;
    ssize_t n;
    char *end, *start;

    if (fd < 0 || fstat(fd, &st) < 0)
        return NULL;
    off = st.st_size > 4096 ? st.st_size - 4096 : 0;
    n = pread(fd, buf, 4096, off);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    end = buf + n;
    while (end > buf && (end[-1] == '\n' || end[-1] == '\r'))
        *--end = '\0';
    start = strrchr(buf, '\n');
    start = start ? start + 1 : buf;
    return *start ? g_strdup(start) : NULL;
}

static void
log_header(int log_fd, char **argv)
{
    g_autoptr(GDateTime) now = g_date_time_new_now_local();
    g_autofree char *stamp = g_date_time_format(now, "%Y-%m-%d %H:%M:%S.%f");
    g_autofree char *cmd = g_strjoinv(" ", argv);
    g_autofree char *line = g_strdup_printf("%s: starting %s\n", stamp, cmd);

    if (!vsb_write_all(log_fd, line, strlen(line))) {
        /* a full disk: the controller will fail to log too; nothing lost here */
    }
}

static bool
launch_failed(VsbDomain *dom, GError **error, GError *cause)
{
    vsb_driver_error(error, VSB_DRIVER_ERROR_OPERATION_FAILED, "guest failed to start: %s",
                     cause->message);
    g_error_free(cause);
    return false;
}

/* The controller names the host ends of veth pairs that <target dev>
 * leaves unnamed; its live XML has the names, which dumpxml shows (as
 * libvirt shows the tap devices it makes up). */
static void
adopt_interface_names(VsbDriver *drv, const char *name, VsbDomainDef *def)
{
    g_autofree char *path = vsb_driver_run_file(drv, name, "xml");
    g_autoptr(GError) err = NULL;
    g_autoptr(VsbDomainDef) live = vsb_domain_def_parse_file(path, &err);

    if (!live) {
        g_warning("%s, the live XML of '%s' misses its host interface names", err->message,
                  name);
        return;
    }
    for (guint i = 0; i < def->interfaces->len && i < live->interfaces->len; i++) {
        VsbDomainNet *d = def->interfaces->pdata[i];
        const VsbDomainNet *l = live->interfaces->pdata[i];

        if (!d->target_dev && l->target_dev)
            d->target_dev = g_strdup(l->target_dev);
    }
}

bool
vsb_domain_launch(VsbDomain *dom, VsbDomainDef *def_in, GError **error)
{
    g_autoptr(VsbDomainDef) def = def_in;
    VsbDriver *drv = dom->drv;
    g_autofree char *xml = vsb_domain_def_format(def, -1);
    g_autofree char *xml_path = start_xml_file(drv, dom->name);
    g_autofree char *log_base = g_strdup_printf("%s.log", dom->name);
    g_autofree char *log_path = g_build_filename(drv->log_dir, log_base, NULL);
    g_autofree char *state_path = vsb_driver_run_file(drv, dom->name, "state");
    g_autofree char *state_text = NULL;
    g_autofree char *line = NULL;
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(GError) err = NULL;
    g_auto(VsbFd) log_fd = -1;
    g_auto(VsbFd) devnull = -1;
    g_auto(VsbFd) ready_r = -1;
    g_auto(VsbFd) ready_w = -1;
    VsbControllerState st = { 0 };
    GThread *cgroup_warm = NULL;
    int pipefd[2];
    bool timed_out;
    pid_t init_pid;

    g_clear_error(&dom->restart_error);
    if (!vsb_mkdir_p(drv->run_dir, 0700, &err) || !vsb_mkdir_p(drv->log_dir, 0700, &err) ||
        /* no fsync(): the controller reads it at once, and no reboot
         * leaves anybody to read it (up to ms on a disk-backed /run) */
        !vsb_file_replace(xml_path, xml, strlen(xml), 0600, &err))
        return launch_failed(dom, error, g_steal_pointer(&err));
    /* The controller's first cgroup move then finds the kernel's lock
     * warm: its wait overlaps our fork and the controller's loading. */
    cgroup_warm = vsb_ctl_cgwarm_start();
    log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
    if (log_fd < 0) {
        vsb_error_set_errno(&err, errno, "Cannot open %s", log_path);
        goto fail;
    }
    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0) {
        vsb_error_set_errno(&err, errno, "Cannot open /dev/null");
        goto fail;
    }
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        vsb_error_set_errno(&err, errno, "Cannot create a pipe");
        goto fail;
    }
    ready_r = pipefd[0];
    ready_w = pipefd[1];
    if (access(drv->controller, X_OK) < 0) {
        vsb_error_set_errno(&err, errno, "Cannot execute %s", drv->controller);
        goto fail;
    }

    g_ptr_array_add(argv, drv->controller);
    g_ptr_array_add(argv, (char *)"--xml");
    g_ptr_array_add(argv, xml_path);
    g_ptr_array_add(argv, (char *)"--run-dir");
    g_ptr_array_add(argv, drv->run_dir);
    g_ptr_array_add(argv, (char *)"--cgroup-partition");
    g_ptr_array_add(argv, drv->cgroup_partition);
    g_ptr_array_add(argv, (char *)"--ready-fd");
    g_ptr_array_add(argv, (char *)"3");
    g_ptr_array_add(argv, NULL);
    log_header(log_fd, (char **)argv->pdata);

    if (!spawn_controller(drv->controller, (char **)argv->pdata, devnull, log_fd, ready_w, &err))
        goto fail;
    close(g_steal_fd(&ready_w));   /* EOF when the controller closes its end */
    line = read_ready_line(ready_r, START_TIMEOUT_MS, &timed_out);
    vsb_ctl_cgwarm_join(&cgroup_warm);
    if (!line) {
        g_autofree char *tail = log_tail(log_path);
        if (timed_out) {
            /* Stuck in the kernel: nothing will come.  Killing it is
             * all we can do; its lock says which process it is. */
            pid_t pid = controller_alive(drv, dom->name);
            if (pid > 0)
                kill(pid, SIGKILL);
            g_set_error(&err, VSB_ERROR, VSB_ERROR_FAILED,
                        "the controller did not report within %d s (see %s)",
                        START_TIMEOUT_MS / 1000, log_path);
        } else {
            g_set_error(&err, VSB_ERROR, VSB_ERROR_FAILED,
                        "the controller exited without reporting (see %s)%s%s", log_path,
                        tail ? ": " : "", tail ? tail : "");
        }
        goto fail;
    }
    init_pid = vsb_driver_parse_ready(line, &err);
    if (!init_pid)
        goto fail;
    unlink(xml_path);
    if (def->interfaces->len)
        adopt_interface_names(drv, dom->name, def);

    /* Published before "ok"; only the controller's pid is wanted. */
    state_text = vsb_file_read_all(state_path, NULL, NULL);
    if (!state_text || !vsb_driver_parse_state(state_text, &st, NULL))
        st.controller_pid = 0;

    dom->live = g_steal_pointer(&def);
    dom->init_pid = init_pid;
    dom->controller_pid = st.controller_pid;
    dom->reason = VSB_RUNNING_BOOTED;
    dom->paused = false;
    dom->request = VSB_DOMAIN_REQUEST_NONE;
    dom->started_mono = g_get_monotonic_time();
    dom->run_id++;
    vsb_domain_emit(dom, VSB_EVENT_STARTED, VSB_EVENT_STARTED_BOOTED);
    return true;

 fail:
    vsb_ctl_cgwarm_join(&cgroup_warm);
    unlink(xml_path);
    return launch_failed(dom, error, g_steal_pointer(&err));
}

/* ------------------------------------------------------------------ */
/* A domain's end                                                      */

/* Kill what may be left of a container whose controller died: init,
 * if it still is the one we knew (taking its pid namespace with it). */
static void
kill_orphan_init(VsbDriver *drv, const char *name, pid_t init_pid)
{
    if (init_pid > 0 && pid_in_domain(drv, init_pid, name))
        kill(init_pid, SIGKILL);
}

/* After a controller died without its teardown: no container, and
 * none of its cgroups, may stay.  @init_pid 0: read from NAME.state. */
static void
cleanup_orphan(VsbDriver *drv, const char *name, pid_t init_pid)
{
    if (!init_pid) {
        g_autofree char *path = vsb_driver_run_file(drv, name, "state");
        g_autofree char *text = vsb_file_read_all(path, NULL, NULL);
        VsbControllerState st;

        /* None: the controller died before its container ran. */
        if (!text || !vsb_driver_parse_state(text, &st, NULL))
            return;
        init_pid = st.init_pid;
    }
    kill_orphan_init(drv, name, init_pid);
    vsb_driver_cgroup_remove(drv, name);
}

/* The domain's run ended (@ex NULL: without NAME.exit).  Reports it,
 * restarts it when asked, forgets it when transient. */
static void
domain_stopped(VsbDomain *dom, const VsbControllerExit *ex)
{
    VsbDriver *drv = dom->drv;
    g_autoptr(VsbDomainDef) def = NULL;
    g_autoptr(GError) err = NULL;
    VsbStopOutcome out;
    VsbDomainRef ref;
    bool quick;

    vsb_driver_stop_outcome(ex, dom->request, dom->live, &out);
    wait_released(drv, dom->name);
    /* The id is still set for STOPPED, as libvirt sends it. */
    vsb_domain_get_ref(dom, &ref);
    def = g_steal_pointer(&dom->live);
    dom->init_pid = 0;
    dom->controller_pid = 0;
    dom->request = VSB_DOMAIN_REQUEST_NONE;
    dom->reason = out.shutoff_reason;
    vsb_driver_emit(drv, &ref, VSB_EVENT_STOPPED, out.event_detail);
    vsb_domain_ref_clear(&ref);

    /* A listener may have started it again, or undefined it. */
    if (out.restart && !dom->live && !dom->removed) {
        quick = g_get_monotonic_time() - dom->started_mono < QUICK_RUN_US;
        dom->quick_restarts = quick ? dom->quick_restarts + 1 : 0;
        if (dom->quick_restarts > MAX_QUICK_RESTARTS) {
            dom->quick_restarts = 0;
            vsb_driver_error(&dom->restart_error, VSB_DRIVER_ERROR_OPERATION_FAILED,
                             "domain '%s' stopped %d times in a row within a second of "
                             "starting, not restarting it", dom->name, MAX_QUICK_RESTARTS + 1);
            g_warning("%s", dom->restart_error->message);
        } else if (vsb_domain_launch(dom, g_steal_pointer(&def), &err)) {
            return;
        } else {
            g_warning("Cannot restart domain '%s': %s", dom->name, err->message);
            dom->restart_error = g_steal_pointer(&err);
        }
    }
    if (!dom->config && !dom->live)
        vsb_driver_remove_domain(drv, dom);
}

/* Has the running domain @dom ended?  Then handle it. */
static void
domain_check(VsbDomain *dom)
{
    VsbDriver *drv = dom->drv;
    VsbControllerExit ex;
    bool parsed;
    pid_t alive;

    if (!dom->live)
        return;
    /* The lock first: NAME.exit is written before the lock goes, so no
     * lock and no NAME.exit means that none will come. */
    alive = controller_alive(drv, dom->name);
    if (collect_exit(drv, dom->name, &ex, &parsed)) {
        domain_stopped(dom, parsed ? &ex : NULL);
    } else if (!alive) {
        cleanup_orphan(drv, dom->name, dom->init_pid);
        cleanup_stale(drv, dom->name);
        domain_stopped(dom, NULL);
    }
}

/* A controller we do not follow yet (the daemon restarted, or someone
 * started it by hand) that has published its state: follow it. */
static void
domain_attach(VsbDriver *drv, VsbDomain *dom, const char *name)
{
    g_autofree char *state_path = vsb_driver_run_file(drv, name, "state");
    g_autofree char *xml_path = vsb_driver_run_file(drv, name, "xml");
    g_autofree char *state_text = NULL;
    g_autoptr(VsbDomainDef) live = NULL;
    g_autoptr(GError) err = NULL;
    VsbControllerState st;
    gint64 age;

    /* Not published yet (still setting up): its NAME.state will come. */
    state_text = vsb_file_read_all(state_path, NULL, NULL);
    if (!state_text)
        return;
    if (!vsb_driver_parse_state(state_text, &st, &err)) {
        g_warning("%s: %s, ignoring the controller of '%s'", state_path, err->message, name);
        return;
    }
    live = vsb_domain_def_parse_file(xml_path, &err);
    if (!live) {
        g_warning("%s, ignoring the controller of '%s'", err->message, name);
        return;
    }
    if (!g_str_equal(live->name, name)) {
        g_warning("%s names domain '%s', ignoring", xml_path, live->name);
        return;
    }
    if (!dom) {
        VsbDomain *other = NULL;
        GHashTableIter it;
        gpointer value;

        g_hash_table_iter_init(&it, drv->domains);
        while (g_hash_table_iter_next(&it, NULL, &value)) {
            if (memcmp(((VsbDomain *)value)->uuid, live->uuid, 16) == 0)
                other = value;
        }
        if (other) {
            g_warning("The running domain '%s' has the uuid of domain '%s', ignoring it",
                      name, other->name);
            return;
        }
        dom = vsb_driver_add_domain(drv, live, NULL);
    } else if (memcmp(dom->uuid, live->uuid, 16) != 0) {
        /* Edited by hand meanwhile: the running one is what it is. */
        g_warning("The running domain '%s' has another uuid than its definition, "
                  "keeping the definition's", name);
    }
    dom->live = g_steal_pointer(&live);
    dom->init_pid = st.init_pid;
    dom->controller_pid = st.controller_pid;
    dom->reason = VSB_RUNNING_BOOTED;
    vsb_domain_load_paused(dom);
    dom->request = VSB_DOMAIN_REQUEST_NONE;
    age = st.started_us ? MAX(g_get_real_time() - st.started_us, 0) : QUICK_RUN_US;
    dom->started_mono = g_get_monotonic_time() - age;
    dom->run_id++;
    vsb_domain_emit(dom, VSB_EVENT_STARTED, VSB_EVENT_STARTED_BOOTED);
}

/* Bring what we know of NAME in line with its files. */
static void
reconcile(VsbDriver *drv, const char *name)
{
    VsbDomain *dom = g_hash_table_lookup(drv->domains, name);
    VsbControllerExit ex;
    bool parsed;

    if (dom && dom->live) {
        domain_check(dom);
        return;
    }
    if (controller_alive(drv, name)) {
        domain_attach(drv, dom, name);
        return;
    }
    /* Ended while nobody watched: the domain is simply shut off. */
    if (collect_exit(drv, name, &ex, &parsed) && dom && dom->config) {
        VsbStopOutcome out;
        vsb_driver_stop_outcome(parsed ? &ex : NULL, VSB_DOMAIN_REQUEST_NONE, dom->config, &out);
        dom->reason = out.shutoff_reason;
    }
    /* A controller killed hard while nobody watched: its NAME.state
     * (removed by a normal end) names the init that may still run. */
    if (controller_alive(drv, name) == 0) {
        cleanup_orphan(drv, name, 0);
        cleanup_stale(drv, name);
    }
}

/* "NAME" of the run-dir entries that tell of a controller's life. */
static char *
entry_domain(const char *entry)
{
    static const char *const exts[] = { ".pid", ".exit", ".state" };

    if (entry[0] == '.')
        return NULL;
    for (guint i = 0; i < G_N_ELEMENTS(exts); i++) {
        if (g_str_has_suffix(entry, exts[i]) && strlen(entry) > strlen(exts[i]))
            return g_strndup(entry, strlen(entry) - strlen(exts[i]));
    }
    return NULL;
}

void
vsb_driver_scan_run_dir(VsbDriver *drv)
{
    g_autoptr(GHashTable) names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GError) err = NULL;
    g_autoptr(GDir) dir = g_dir_open(drv->run_dir, 0, &err);
    g_autoptr(GPtrArray) active = NULL;
    GHashTableIter it;
    gpointer key;
    const char *entry;

    if (!dir) {
        g_warning("%s, ignoring", err->message);
        return;
    }
    while ((entry = g_dir_read_name(dir))) {
        char *name = entry_domain(entry);

        if (name) {
            g_hash_table_add(names, name);
        } else if (entry[0] == '.' && g_str_has_suffix(entry, ".xml")) {
            /* The start request of a daemon that died while starting:
             * its controller read it long ago, or never will. */
            g_autofree char *path = g_build_filename(drv->run_dir, entry, NULL);
            unlink(path);
        }
    }
    /* And those we follow whose files are all gone. */
    active = vsb_driver_list(drv, VSB_LIST_ACTIVE);
    for (guint i = 0; i < active->len; i++)
        g_hash_table_add(names, g_strdup(vsb_domain_get_name(active->pdata[i])));
    g_hash_table_iter_init(&it, names);
    while (g_hash_table_iter_next(&it, &key, NULL))
        reconcile(drv, key);
}

/* ------------------------------------------------------------------ */
/* Watching                                                            */

static void
driver_read_events(VsbDriver *drv)
{
    g_autoptr(GHashTable) names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    bool overflow = false;
    GHashTableIter it;
    gpointer key;

    for (;;) {
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        ssize_t n = read(drv->inotify_fd, buf, sizeof(buf));
        const struct inotify_event *ev;

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (char *p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
            ev = (const struct inotify_event *)p;
            if (ev->mask & IN_Q_OVERFLOW)
                overflow = true;
            if (ev->len) {
                char *name = entry_domain(ev->name);
                if (name)
                    g_hash_table_add(names, name);
            }
        }
    }
    if (overflow) {
        vsb_driver_scan_run_dir(drv);
        return;
    }
    g_hash_table_iter_init(&it, names);
    while (g_hash_table_iter_next(&it, &key, NULL))
        reconcile(drv, key);
}

static gboolean
on_run_dir_event(gint fd, GIOCondition cond, gpointer opaque)
{
    driver_read_events(opaque);
    return G_SOURCE_CONTINUE;
}

static gboolean
on_check_timer(gpointer opaque)
{
    VsbDriver *drv = opaque;
    g_autoptr(GPtrArray) active = vsb_driver_list(drv, VSB_LIST_ACTIVE);

    /* domain_check() may drop a domain from the list: the array holds
     * pointers valid until we return. */
    for (guint i = 0; i < active->len; i++)
        domain_check(active->pdata[i]);
    return G_SOURCE_CONTINUE;
}

bool
vsb_driver_watch_start(VsbDriver *drv, GError **error)
{
    drv->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (drv->inotify_fd < 0)
        return vsb_error_set_errno(error, errno, "Cannot create an inotify instance");
    if (inotify_add_watch(drv->inotify_fd, drv->run_dir,
                          IN_MOVED_TO | IN_DELETE | IN_ONLYDIR) < 0)
        return vsb_error_set_errno(error, errno, "Cannot watch %s", drv->run_dir);
    drv->inotify_watch = g_unix_fd_add(drv->inotify_fd, G_IO_IN, on_run_dir_event, drv);
    drv->check_timer = g_timeout_add_seconds(CHECK_INTERVAL_S, on_check_timer, drv);
    return true;
}

void
vsb_driver_watch_stop(VsbDriver *drv)
{
    g_clear_handle_id(&drv->inotify_watch, g_source_remove);
    g_clear_handle_id(&drv->check_timer, g_source_remove);
    if (drv->inotify_fd >= 0)
        close(g_steal_fd(&drv->inotify_fd));
}

/* Until the run of @dom that was current when called has ended, at
 * most @timeout_us.  Handles every run-dir event meanwhile, this
 * domain's and others'. */
static bool
domain_wait_run_end(VsbDomain *dom, guint run_id, gint64 timeout_us)
{
    VsbDriver *drv = dom->drv;
    gint64 deadline = g_get_monotonic_time() + timeout_us;

    for (;;) {
        struct pollfd pfd = { .fd = drv->inotify_fd, .events = POLLIN };
        gint64 left;

        domain_check(dom);
        if (!dom->live || dom->run_id != run_id)
            return true;
        left = deadline - g_get_monotonic_time();
        if (left <= 0)
            return false;
        /* Events wake us at once; the timeout bounds a missed one. */
        if (poll(&pfd, 1, (int)MIN(left / 1000 + 1, 50)) > 0)
            driver_read_events(drv);
    }
}

/* ------------------------------------------------------------------ */
/* Stopping                                                            */

static bool
check_active(VsbDomain *dom, GError **error)
{
    if (!dom->live) {
        vsb_driver_error(error, VSB_DRIVER_ERROR_OPERATION_INVALID, "domain is not running");
        return false;
    }
    return true;
}

/* Kill the container now; @request says how its end is reported. */
static bool
domain_kill(VsbDomain *dom, VsbDomainRequest request, GError **error)
{
    VsbDriver *drv = dom->drv;
    g_autofree char *answer = NULL;
    g_autoptr(GError) err = NULL;
    guint run_id = dom->run_id;
    int fd;
    pid_t pid;

    dom->request = request;
    fd = control_request(drv, dom->name, "destroy", &answer, &err);
    if (fd >= 0)
        close(fd);
    if (fd < 0 || !g_str_equal(answer, "ok")) {
        /* No control socket: SIGTERM makes the controller destroy too. */
        pid = controller_alive(drv, dom->name);
        if (pid > 0)
            kill(pid, SIGTERM);
    }
    if (domain_wait_run_end(dom, run_id, DESTROY_TIMEOUT_US))
        return true;
    /* A controller that does not do its job: kill it, and init. */
    pid = controller_alive(drv, dom->name);
    if (pid > 0)
        kill(pid, SIGKILL);
    kill_orphan_init(drv, dom->name, dom->init_pid);
    if (domain_wait_run_end(dom, run_id, DESTROY_KILL_TIMEOUT_US))
        return true;
    if (dom->run_id == run_id)
        dom->request = VSB_DOMAIN_REQUEST_NONE;
    vsb_driver_error(error, VSB_DRIVER_ERROR_OPERATION_FAILED,
                     "Failed to kill domain '%s': still running after %d s%s%s", dom->name,
                     (int)((DESTROY_TIMEOUT_US + DESTROY_KILL_TIMEOUT_US) / G_USEC_PER_SEC),
                     err ? "; " : "", err ? err->message : "");
    return false;
}

bool
vsb_driver_destroy(VsbDriver *drv, VsbDomain *dom, GError **error)
{
    return check_active(dom, error) && domain_kill(dom, VSB_DOMAIN_REQUEST_DESTROY, error);
}

/* Write a runlevel change to init's fifo in the container, found
 * through /proc/PID/root with the container's view of symlinks (never
 * the host's fifo).  1: written; 0: no fifo anybody reads; -1: error. */
static int
domain_initctl(VsbDomain *dom, char runlevel, GError **error)
{
    g_autofree char *root_path = g_strdup_printf("/proc/%d/root", (int)dom->init_pid);
    g_auto(VsbFd) root = open(root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    unsigned char req[VSB_INITCTL_REQUEST_SIZE];

    if (root < 0) {
        vsb_error_set_errno(error, errno, "Cannot open %s", root_path);
        return -1;
    }
    vsb_driver_initctl_request(runlevel, req);
    for (guint i = 0; i < G_N_ELEMENTS(initctl_fifos); i++) {
        struct open_how how = {
            .flags = O_PATH | O_CLOEXEC,
            .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        g_auto(VsbFd) path_fd = syscall(SYS_openat2, root, initctl_fifos[i], &how, sizeof(how));
        g_auto(VsbFd) fd = -1;
        g_autofree char *proc_path = NULL;
        struct stat st, host;

        if (path_fd < 0) {
            if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP || errno == EXDEV)
                continue;
            vsb_error_set_errno(error, errno, "Cannot open %s in the container", initctl_fifos[i]);
            return -1;
        }
        if (fstat(path_fd, &st) < 0 || !S_ISFIFO(st.st_mode))
            continue;
        /* A container sharing the host's /run: not its init's fifo. */
        if (stat(initctl_fifos[i], &host) == 0 && host.st_dev == st.st_dev &&
            host.st_ino == st.st_ino)
            continue;
        proc_path = g_strdup_printf("/proc/self/fd/%d", path_fd);
        fd = open(proc_path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
            if (errno == ENXIO)
                continue;   /* nobody reads it */
            vsb_error_set_errno(error, errno, "Cannot open %s in the container", initctl_fifos[i]);
            return -1;
        }
        /* Less than PIPE_BUF: written whole or not at all. */
        if (write(fd, req, sizeof(req)) != (ssize_t)sizeof(req)) {
            vsb_error_set_errno(error, errno, "Cannot write to %s in the container",
                                initctl_fifos[i]);
            return -1;
        }
        return 1;
    }
    return 0;
}

static int
init_signal(pid_t pid, bool reboot)
{
    g_autofree char *comm_path = g_strdup_printf("/proc/%d/comm", (int)pid);
    g_autofree char *exe_path = g_strdup_printf("/proc/%d/exe", (int)pid);
    g_autofree char *comm = vsb_file_read_all(comm_path, NULL, NULL);
    g_autofree char *exe = g_file_read_link(exe_path, NULL);

    return vsb_driver_init_signal(comm ? g_strstrip(comm) : NULL, exe, reboot);
}

/* Ask init to power off or reboot, the way libvirt's LXC driver does:
 * initctl when asked for (or by default), else (or if the container has
 * none) a signal, chosen for the init it is. */
static bool
domain_ask_init(VsbDomain *dom, unsigned int flags, bool reboot, GError **error)
{
    g_autoptr(GError) err = NULL;
    int rc = 0;

    if (flags == 0 || (flags & VSB_SHUTDOWN_INITCTL)) {
        rc = domain_initctl(dom, reboot ? '6' : '0', &err);
        if (rc < 0) {
            vsb_driver_error(error, VSB_DRIVER_ERROR_OPERATION_FAILED, "%s", err->message);
            return false;
        }
        if (rc == 0 && flags != 0 && !(flags & VSB_SHUTDOWN_SIGNAL)) {
            vsb_driver_error(error, VSB_DRIVER_ERROR_NO_SUPPORT,
                             "Container does not provide an initctl pipe");
            return false;
        }
    }
    if (rc == 0) {
        int sig = init_signal(dom->init_pid, reboot);

        if (kill(dom->init_pid, sig) < 0 && errno != ESRCH) {
            vsb_driver_error(error, VSB_DRIVER_ERROR_OPERATION_FAILED,
                             "Unable to send signal %d to init pid %d: %s", sig,
                             (int)dom->init_pid, g_strerror(errno));
            return false;
        }
    }
    dom->request = reboot ? VSB_DOMAIN_REQUEST_REBOOT : VSB_DOMAIN_REQUEST_SHUTDOWN;
    return true;
}

static bool
check_flags(unsigned int flags, unsigned int allowed, const char *func, GError **error)
{
    if (flags & ~allowed) {
        vsb_driver_error(error, VSB_DRIVER_ERROR_UNSUPPORTED_FLAGS,
                         "unsupported flags (0x%x) in function %s", flags & ~allowed, func);
        return false;
    }
    return true;
}

bool
vsb_driver_shutdown(VsbDriver *drv, VsbDomain *dom, unsigned int flags, GError **error)
{
    return check_flags(flags, VSB_SHUTDOWN_INITCTL | VSB_SHUTDOWN_SIGNAL, __func__, error) &&
        check_active(dom, error) && domain_ask_init(dom, flags, false, error);
}

bool
vsb_driver_reboot(VsbDriver *drv, VsbDomain *dom, unsigned int flags, GError **error)
{
    if (!check_flags(flags, VSB_SHUTDOWN_INITCTL | VSB_SHUTDOWN_SIGNAL, __func__, error) ||
        !check_active(dom, error))
        return false;
    if (flags)
        return domain_ask_init(dom, flags, true, error);
    /* No mode: a fresh container at once, whatever init understands;
     * domain_stopped() starts it again (as <on_reboot> says). */
    if (!domain_kill(dom, VSB_DOMAIN_REQUEST_RESTART, error))
        return false;
    if (dom->restart_error) {
        g_propagate_error(error, g_error_copy(dom->restart_error));
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* Console and namespaces                                              */

int
vsb_driver_open_console(VsbDriver *drv, VsbDomain *dom, bool force, GError **error)
{
    g_autofree char *answer = NULL;
    g_autoptr(GError) err = NULL;
    g_auto(VsbFd) fd = -1;

    if (!check_active(dom, error))
        return -1;
    fd = control_request(drv, dom->name, force ? "console force" : "console", &answer, &err);
    if (fd < 0) {
        vsb_driver_error(error, VSB_DRIVER_ERROR_OPERATION_FAILED, "%s", err->message);
        return -1;
    }
    if (g_str_equal(answer, "error console busy")) {
        vsb_driver_error(error, VSB_DRIVER_ERROR_OPERATION_FAILED,
                         "Active console session exists for this domain");
        return -1;
    }
    if (!g_str_equal(answer, "ok")) {
        vsb_driver_error(error, VSB_DRIVER_ERROR_OPERATION_FAILED,
                         "Cannot open the console of domain '%s': %s", dom->name,
                         g_str_has_prefix(answer, "error ") ? answer + 6 : answer);
        return -1;
    }
    return g_steal_fd(&fd);
}

GArray *
vsb_driver_open_namespaces(VsbDriver *drv, VsbDomain *dom, GError **error)
{
    g_autoptr(GArray) fds = g_array_new(FALSE, FALSE, sizeof(int));

    if (!check_active(dom, error))
        return NULL;
    /* As libvirt: those that exist, the user namespace too even when it
     * is the host's (setns() into one's own is harmless). */
    for (guint i = 0; i < G_N_ELEMENTS(namespaces); i++) {
        g_autofree char *path = g_strdup_printf("/proc/%d/ns/%s", (int)dom->init_pid,
                                                namespaces[i]);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0)
            g_array_append_val(fds, fd);
    }
    if (fds->len == 0) {
        vsb_driver_error(error, VSB_DRIVER_ERROR_OPERATION_FAILED,
                         "Cannot open the namespaces of init pid %d: %s", (int)dom->init_pid,
                         g_strerror(errno));
        return NULL;
    }
    return g_steal_pointer(&fds);
}
