/*
 * vsb-sandbox-shell.c: the host pty of virt-sandbox --shell.
 */
#include <config.h>

#include "vsb-sandbox-shell.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

struct _VsbSandboxShell {
    int master;
    int slave;
    char *path;
};

VsbSandboxShell *
vsb_sandbox_shell_new(uid_t uid, gid_t gid, GError **error)
{
    g_autoptr(VsbSandboxShell) sh = g_new0(VsbSandboxShell, 1);
    char name[128];
    struct termios tio;

    sh->slave = -1;
    sh->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
    if (sh->master < 0 || grantpt(sh->master) < 0 || unlockpt(sh->master) < 0 ||
        ptsname_r(sh->master, name, sizeof(name)) != 0) {
        int errsv = errno;
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errsv),
                    "Cannot make a terminal for the shell (/dev/ptmx): %s", g_strerror(errsv));
        return NULL;
    }
    sh->path = g_strdup(name);
    if ((sh->slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
        int errsv = errno;
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errsv),
                    "Cannot open the shell's terminal %s: %s", name, g_strerror(errsv));
        return NULL;
    }
    /* Bytes pass untouched: the sandbox's pty echoes and edits. */
    if (tcgetattr(sh->slave, &tio) == 0) {
        cfmakeraw(&tio);
        tcsetattr(sh->slave, TCSANOW, &tio);
    }
    if ((uid != (uid_t)-1 || gid != (gid_t)-1) && fchown(sh->slave, uid, gid) < 0) {
        int errsv = errno;
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errsv),
                    "Cannot give the shell's terminal %s to %d:%d: %s", name, (int)uid,
                    (int)gid, g_strerror(errsv));
        return NULL;
    }
    return g_steal_pointer(&sh);
}

const char *
vsb_sandbox_shell_get_path(VsbSandboxShell *sh)
{
    return sh->path;
}

int
vsb_sandbox_shell_get_fd(VsbSandboxShell *sh)
{
    return sh->master;
}

void
vsb_sandbox_shell_free(VsbSandboxShell *sh)
{
    if (!sh)
        return;
    if (sh->slave >= 0)
        close(sh->slave);
    if (sh->master >= 0)
        close(sh->master);
    g_free(sh->path);
    g_free(sh);
}
