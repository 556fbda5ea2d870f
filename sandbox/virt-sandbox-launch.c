/*
 * virt-sandbox-launch.c: `virt-sandbox`, the launcher of the real tool
 * (LIBEXECDIR/virt-sandbox-tool); why it exists: vsb-launch.h.
 *
 * It forks the cgroup warm-up child when the run will start a container,
 * then execs the tool with the same arguments.  Nothing here may delay
 * the exec: the child does its own parsing.
 */
#include <config.h>

#include "vsb-launch.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXIT_CANNOT_RUN 125

static size_t
read_small(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t got = 0;
    ssize_t n;

    if (fd < 0)
        return 0;
    while (got + 1 < len && (n = read(fd, buf + got, len - 1 - got)) > 0)
        got += (size_t)n;
    close(fd);
    buf[got] = '\0';
    return got;
}

/* The child: move itself to where it is, which takes the kernel's
 * cgroup-migration lock and so starts (and waits out) the grace period
 * the container's start would otherwise wait for.  Failures do not
 * matter: this only saves time. */
static void
warm_child(void)
{
    static char mountinfo[64 * 1024], cgroup[4096], path[PATH_MAX];
    char tid[32];
    int fd, n;

    /* Hold none of the caller's pipes open. */
    syscall(SYS_close_range, 0U, ~0U, 0U);
    if (!read_small("/proc/self/mountinfo", mountinfo, sizeof(mountinfo)) ||
        !read_small("/proc/self/cgroup", cgroup, sizeof(cgroup)) ||
        !vsb_launch_cgroup_file(mountinfo, cgroup, path, sizeof(path)))
        _exit(0);
    if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
        _exit(0);
    n = snprintf(tid, sizeof(tid), "%ld", (long)syscall(SYS_gettid));
    if (write(fd, tid, (size_t)n) < 0)
        _exit(0);
    _exit(0);
}

/* The tool: $VSB_SANDBOX_TOOL; else beside this program when it is not
 * the installed one (a build tree); else LIBEXECDIR's. */
static const char *
tool_path(char *buf, size_t len)
{
    const char *env = getenv(VSB_LAUNCH_TOOL_ENV);
    char self[PATH_MAX];
    ssize_t n;

    if (env && *env)
        return env;
    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        const char *dir = dirname(self);
        if (strcmp(dir, BINDIR) != 0 &&
            snprintf(buf, len, "%s/%s", dir, VSB_LAUNCH_TOOL_NAME) < (int)len &&
            access(buf, X_OK) == 0)
            return buf;
    }
    return LIBEXECDIR "/" VSB_LAUNCH_TOOL_NAME;
}

int
main(int argc, char **argv)
{
    char buf[PATH_MAX];
    const char *tool = tool_path(buf, sizeof(buf));
    pid_t child = -1;
    int err;

    if (vsb_launch_wants_warm(argc, argv, geteuid() == 0)) {
        child = fork();
        if (child == 0)
            warm_child();
        if (child > 0) {
            char pid[32];
            snprintf(pid, sizeof(pid), "%ld", (long)child);
            setenv(VSB_LAUNCH_PID_ENV, pid, 1);
        }
    }
    execv(tool, argv);
    err = errno;
    fprintf(stderr, "virt-sandbox: cannot run %s: %s\n", tool, strerror(err));
    if (child > 0)
        waitpid(child, NULL, 0);
    return EXIT_CANNOT_RUN;
}
