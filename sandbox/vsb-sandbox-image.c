/*
 * vsb-sandbox-image.c: qcow2 images as raw files, through
 * qemu-storage-daemon's FUSE export.
 */
#include <config.h>

#include "vsb-sandbox-image.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define QSD "qemu-storage-daemon"
/* How long qemu-storage-daemon may take to unmount and exit on SIGTERM. */
#define STOP_MS 5000

struct _VsbSandboxImageExport {
    char *image;
    char *path;
    char *pidfile;
    int pidfd;               /* the daemonized qemu-storage-daemon */
};

static void
export_free(VsbSandboxImageExport *e)
{
    if (e->pidfd >= 0)
        close(e->pidfd);
    g_free(e->image);
    g_free(e->path);
    g_free(e->pidfile);
    g_free(e);
}

bool
vsb_sandbox_image_needs_export(const VsbSandboxMount *m)
{
    return m->type == VSB_SANDBOX_MOUNT_HOST_IMAGE && m->format == VSB_SANDBOX_FORMAT_QCOW2;
}

char *
vsb_sandbox_image_export_path(const char *statedir, guint index)
{
    g_autofree char *n = g_strdup_printf("%u", index);

    return g_build_filename(statedir, "images", n, NULL);
}

/* A value in QEMU's key=value,... option syntax: commas are doubled. */
static char *
keyval_escape(const char *s)
{
    g_auto(GStrv) parts = g_strsplit(s, ",", -1);

    return g_strjoinv(",,", parts);
}

/* The exported file, then the daemon's pid from its pidfile, held as a
 * pidfd: the daemon is not our child (it daemonizes so that we know
 * when the export is ready), and a pidfd cannot name a reused pid. */
static bool
open_daemon(VsbSandboxImageExport *e, GError **error)
{
    g_autofree char *text = NULL;
    gint64 pid;
    char *end;

    if (!g_file_get_contents(e->pidfile, &text, NULL, error)) {
        g_prefix_error(error, "%s's pid: ", QSD);
        return false;
    }
    pid = g_ascii_strtoll(text, &end, 10);
    if (pid <= 1 || (*end && *end != '\n')) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s wrote no pid to %s: '%s'",
                    QSD, e->pidfile, text);
        return false;
    }
    e->pidfd = syscall(SYS_pidfd_open, (pid_t)pid, 0);
    if (e->pidfd < 0) {
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
                    "%s (pid %" G_GINT64_FORMAT ") is gone: %s", QSD, pid, g_strerror(errno));
        return false;
    }
    return true;
}

VsbSandboxImageExport *
vsb_sandbox_image_export_start(const char *image, VsbSandboxFormat format, const char *path,
                               GError **error)
{
    VsbSandboxImageExport *e = g_new0(VsbSandboxImageExport, 1);
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *qsd = g_find_program_in_path(QSD);
    g_autofree char *img = keyval_escape(image);
    g_autofree char *mnt = keyval_escape(path);
    g_autofree char *file_opt = NULL, *fmt_opt = NULL, *exp_opt = NULL, *pid_arg = NULL;
    g_autofree char *err_text = NULL;
    int fd, status;

    e->pidfd = -1;
    e->image = g_strdup(image);
    e->path = g_strdup(path);
    e->pidfile = g_strconcat(path, ".pid", NULL);

    if (format != VSB_SANDBOX_FORMAT_QCOW2) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "image %s: no export for format %s",
                    image, vsb_sandbox_format_to_string(format));
        goto fail;
    }
    if (!qsd) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                    "image %s: qcow2 images need %s (Debian: qemu-system-common), "
                    "which is not in PATH", image, QSD);
        goto fail;
    }
    /* FUSE exports mount over a regular file. */
    if (g_mkdir_with_parents(dir, 0700) < 0 ||
        (fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0) {
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
                    "image %s: cannot create %s: %s", image, path, g_strerror(errno));
        goto fail;
    }
    close(fd);

    file_opt = g_strdup_printf("driver=file,node-name=file0,filename=%s", img);
    fmt_opt = g_strdup_printf("driver=qcow2,node-name=fmt0,file=file0");
    /* Only root (the controller) opens it: no allow-other. */
    exp_opt = g_strdup_printf("type=fuse,id=exp0,node-name=fmt0,mountpoint=%s,writable=on,"
                              "allow-other=off", mnt);
    pid_arg = g_strdup(e->pidfile);
    {
        const char *argv[] = { qsd, "--blockdev", file_opt, "--blockdev", fmt_opt,
                               "--export", exp_opt, "--daemonize", "--pidfile", pid_arg, NULL };
        /* --daemonize: the command returns once the export is mounted,
         * and its daemon leaves our session (no terminal signals). */
        if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                          NULL, &err_text, &status, error)) {
            g_prefix_error(error, "image %s: ", image);
            goto fail;
        }
    }
    if (!g_spawn_check_wait_status(status, NULL)) {
        g_strchomp(err_text);
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                    "image %s: %s failed: %s", image, QSD, err_text[0] ? err_text : "(no message)");
        goto fail;
    }
    if (!open_daemon(e, error)) {
        g_prefix_error(error, "image %s: ", image);
        goto fail;
    }
    return e;

fail:
    /* Nothing runs yet; only the files. */
    unlink(e->pidfile);
    unlink(e->path);
    export_free(e);
    return NULL;
}

bool
vsb_sandbox_image_export_stop(VsbSandboxImageExport *e, GError **error)
{
    bool ok = true;

    if (!e)
        return true;
    if (e->pidfd >= 0) {
        struct pollfd pfd = { .fd = e->pidfd, .events = POLLIN };
        int n;

        /* SIGTERM: it unmounts its export before it exits. */
        syscall(SYS_pidfd_send_signal, e->pidfd, SIGTERM, NULL, 0);
        do
            n = poll(&pfd, 1, STOP_MS);
        while (n < 0 && errno == EINTR);
        if (n == 0) {
            syscall(SYS_pidfd_send_signal, e->pidfd, SIGKILL, NULL, 0);
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                        "image %s: %s ignored SIGTERM for %d ms; killed",
                        e->image, QSD, STOP_MS);
            ok = false;
        }
    }
    /* After a SIGKILL (or a crash) the mount stays, disconnected. */
    if (umount2(e->path, MNT_DETACH | UMOUNT_NOFOLLOW) == 0 && ok) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                    "image %s: %s exited without unmounting %s", e->image, QSD, e->path);
        ok = false;
    }
    if (unlink(e->path) < 0 && errno != ENOENT && ok) {
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
                    "image %s: cannot remove %s: %s", e->image, e->path, g_strerror(errno));
        ok = false;
    }
    unlink(e->pidfile);
    export_free(e);
    return ok;
}
