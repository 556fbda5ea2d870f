/*
 * vsb-ctl-state.c: the controller's files in the run directory.
 */
#include <config.h>

#include "vsb-ctl-state.h"
#include "vsb-util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct _VsbCtlState {
    char *run_dir;
    char *name;
    int lock_fd;
    char *pid_path;
    char *xml_path;
    char *state_path;
    char *sock_path;
    char *exit_path;
    char *staging;
    bool listening;
    bool locked;       /* the files are ours to remove */
};

/* Our files in the run directory tell of processes, which no reboot
 * survives: they must appear whole (a rename), never half-written, but
 * need not be durable.  So vsb_file_replace(), without the fsync()
 * which costs 0.3 ms to tens of ms (a busy disk) per file where /run is
 * not a tmpfs, at each start and end of a container. */
static bool
state_write_file(const char *path, const char *text, mode_t mode, GError **error)
{
    return vsb_file_replace(path, text, strlen(text), mode, error);
}

static char *
state_file(const char *run_dir, const char *name, const char *ext)
{
    g_autofree char *base = g_strdup_printf("%s.%s", name, ext);

    return g_build_filename(run_dir, base, NULL);
}

VsbCtlState *
vsb_ctl_state_acquire(const char *run_dir, const char *name, GError **error)
{
    g_autoptr(VsbCtlState) st = g_new0(VsbCtlState, 1);
    g_autofree char *pid = NULL;

    st->lock_fd = -1;
    st->run_dir = g_strdup(run_dir);
    st->name = g_strdup(name);
    st->pid_path = state_file(run_dir, name, "pid");
    st->xml_path = state_file(run_dir, name, "xml");
    st->state_path = state_file(run_dir, name, "state");
    st->sock_path = state_file(run_dir, name, "sock");
    st->exit_path = state_file(run_dir, name, "exit");
    st->staging = state_file(run_dir, name, "root");

    if (!vsb_mkdir_p(run_dir, 0700, error))
        return NULL;
    st->lock_fd = open(st->pid_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (st->lock_fd < 0) {
        vsb_error_set_errno(error, errno, "Cannot open %s", st->pid_path);
        return NULL;
    }
    if (flock(st->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        int errsv = errno;
        g_autofree char *other = NULL;
        g_file_get_contents(st->pid_path, &other, NULL, NULL);
        if (errsv == EWOULDBLOCK) {
            g_set_error(error, VSB_ERROR, VSB_ERROR_EXISTS,
                        "Domain %s is already running (controller pid %s)", name,
                        other ? g_strstrip(other) : "?");
            return NULL;
        }
        vsb_error_set_errno(error, errsv, "Cannot lock %s", st->pid_path);
        return NULL;
    }
    st->locked = true;
    pid = g_strdup_printf("%d\n", getpid());
    if (ftruncate(st->lock_fd, 0) < 0 || !vsb_write_all(st->lock_fd, pid, strlen(pid))) {
        vsb_error_set_errno(error, errno, "Cannot write %s", st->pid_path);
        return NULL;
    }
    /* A previous run's status nobody collected, and leftovers of a
     * controller that was killed: none of them describe this run. */
    unlink(st->exit_path);
    unlink(st->xml_path);
    unlink(st->state_path);
    unlink(st->sock_path);
    if (mkdir(st->staging, 0755) < 0 && errno != EEXIST) {
        vsb_error_set_errno(error, errno, "Cannot create %s", st->staging);
        return NULL;
    }
    return g_steal_pointer(&st);
}

const char *
vsb_ctl_state_staging(VsbCtlState *st)
{
    return st->staging;
}

bool
vsb_ctl_state_publish(VsbCtlState *st, const char *live_xml, pid_t init_pid, GError **error)
{
    g_autofree char *state = g_strdup_printf("controller_pid=%d\ninit_pid=%d\nstarted=%" G_GINT64_FORMAT
                                             "\nconsole=%s\n",
                                             getpid(), init_pid, g_get_real_time(), st->sock_path);

    return state_write_file(st->xml_path, live_xml, 0600, error) &&
        state_write_file(st->state_path, state, 0644, error);
}

int
vsb_ctl_state_listen(VsbCtlState *st, GError **error)
{
    g_auto(VsbFd) fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    mode_t old;
    int rc;

    if (strlen(st->sock_path) >= sizeof(addr.sun_path)) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                    "Socket path %s is too long", st->sock_path);
        return -1;
    }
    if (fd < 0)
        return vsb_error_set_errno(error, errno, "Cannot create a socket"), -1;
    strcpy(addr.sun_path, st->sock_path);
    unlink(st->sock_path);
    old = umask(0077);
    rc = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
    umask(old);
    if (rc < 0)
        return vsb_error_set_errno(error, errno, "Cannot bind %s", st->sock_path), -1;
    st->listening = true;
    if (listen(fd, 16) < 0)
        return vsb_error_set_errno(error, errno, "Cannot listen on %s", st->sock_path), -1;
    return g_steal_fd(&fd);
}

void
vsb_ctl_state_finish(VsbCtlState *st, int status, const char *reason)
{
    g_autoptr(GError) error = NULL;

    if (!st->locked || !st->pid_path)
        return;
    unlink(st->xml_path);
    unlink(st->state_path);
    if (st->listening)
        unlink(st->sock_path);
    if (rmdir(st->staging) < 0 && errno != ENOENT)
        g_printerr("virt-sandbox-controller: warning: cannot remove %s: %s, ignoring\n",
                   st->staging, g_strerror(errno));
    if (status >= 0) {
        g_autofree char *text = g_strdup_printf("status=%d\nreason=%s\n", status, reason);
        if (!state_write_file(st->exit_path, text, 0644, &error))
            g_printerr("virt-sandbox-controller: warning: %s, ignoring\n", error->message);
    }
    /* Last: whoever waits on the lock sees the exit file first. */
    unlink(st->pid_path);
    g_clear_pointer(&st->pid_path, g_free);
}

void
vsb_ctl_state_free(VsbCtlState *st)
{
    if (!st)
        return;
    /* Failed half-way: leave nothing behind. */
    vsb_ctl_state_finish(st, -1, NULL);
    if (st->lock_fd >= 0)
        close(st->lock_fd);
    g_free(st->run_dir);
    g_free(st->name);
    g_free(st->pid_path);
    g_free(st->xml_path);
    g_free(st->state_path);
    g_free(st->sock_path);
    g_free(st->exit_path);
    g_free(st->staging);
    g_free(st);
}
