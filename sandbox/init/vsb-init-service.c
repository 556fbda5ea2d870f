/*
 * vsb-init-service.c: init of a service sandbox ("service 1").
 *
 * A service sandbox (virt-sandbox-service) is a persistent domain that
 * runs with nobody attached: no tool answers READY, its console may
 * have no client for its whole life, and it is stopped with libvirt's
 * shutdown, which signals init.  So init speaks no protocol here: it
 * sets up as always, runs the program with /dev/null as stdin and its
 * own stdout/stderr (the console, which the controller drains and keeps
 * a backlog of, so the program never blocks on it), forwards the stop
 * signals to the program, reaps every orphan, keeps the DHCP leases
 * (vsb-init-net.c; a lost lease is said on the console), and exits
 * with the program's status after one last line saying what it was
 * (VSB_INIT_SERVICE_STATUS), which `start --foreground` reports.
 */
#include <config.h>

#include "vsb-init.h"
#include "vsb-init-config.h"
#include "vsb-stdio-proto.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

extern char **environ;

static void __attribute__((noreturn))
service_end(const char *how, int value, int code)
{
    fprintf(stderr, "%s %s %d\n", VSB_INIT_SERVICE_STATUS, how, value);
    fflush(stderr);
    exit(code);
}

/* The program, as the protocol's spawn() would run it but with init's
 * stdout/stderr; -1 after saying why. */
static pid_t
service_spawn(const VsbInitConfig *cfg, int *code)
{
    char **env = vsb_init_build_env(cfg, false);
    int errpipe[2];
    pid_t pid;
    int err = 0;
    ssize_t n;

    *code = VSB_STDIO_EXIT_SETUP_FAILED;
    if (pipe2(errpipe, O_CLOEXEC) < 0) {
        fprintf(stderr, "virt-sandbox-init: pipe: %s\n", strerror(errno));
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "virt-sandbox-init: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        sigset_t none;
        const char *what = NULL;
        struct sigaction dfl = { .sa_handler = SIG_DFL };
        int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

        sigaction(SIGPIPE, &dfl, NULL);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        setsid();
        if (devnull >= 0)
            dup2(devnull, STDIN_FILENO);
        if ((err = vsb_init_drop_identity(cfg, &what))) {
            fprintf(stderr, "virt-sandbox-init: cannot %s for %s: %s\n", what, cfg->argv[0],
                    strerror(err));
            if (write(errpipe[1], &err, sizeof(err)) < 0) {
                /* the parent sees EOF and a dead child */
            }
            _exit(VSB_STDIO_EXIT_SETUP_FAILED);
        }
        environ = env;
        execvp(cfg->argv[0], cfg->argv);
        err = errno;
        fprintf(stderr, "virt-sandbox-init: cannot run %s: %s\n", cfg->argv[0], strerror(err));
        if (write(errpipe[1], &err, sizeof(err)) < 0) {
            /* as above */
        }
        _exit(err == ENOENT ? VSB_STDIO_EXIT_NOT_FOUND : VSB_STDIO_EXIT_CANNOT_EXEC);
    }
    close(errpipe[1]);
    do {
        n = read(errpipe[0], &err, sizeof(err));
    } while (n < 0 && errno == EINTR);
    close(errpipe[0]);
    if (n == (ssize_t)sizeof(err)) {
        *code = err == ENOENT ? VSB_STDIO_EXIT_NOT_FOUND
                : err == 0 ? VSB_STDIO_EXIT_SETUP_FAILED : VSB_STDIO_EXIT_CANNOT_EXEC;
        return -1;
    }
    return pid;
}

/* The leases' reports, on the console (the service's log). */
static void
lease_log(bool debug, const char *msg, void *opaque)
{
    const VsbInitConfig *cfg = opaque;

    if (!debug || cfg->debug) {
        fprintf(stderr, "virt-sandbox-init: %s\n", msg);
        fflush(stderr);
    }
}

void
vsb_init_run_service(const VsbInitConfig *cfg, int sigfd)
{
    char err[1024] = "";
    struct termios tio;
    VsbInitLeases *leases = NULL;
    struct pollfd *pfd;
    int code;
    pid_t pid;

    /* The console carries the service's log: no \r added to lines, no
     * echo of what a `connect` client types. */
    if (isatty(STDOUT_FILENO) && tcgetattr(STDOUT_FILENO, &tio) == 0) {
        cfmakeraw(&tio);
        tcsetattr(STDOUT_FILENO, TCSANOW, &tio);
    }
    if (!vsb_init_do_mounts(cfg, err, sizeof(err)) ||
        !vsb_init_do_setattrs(cfg, err, sizeof(err)) ||
        !vsb_init_do_includes(cfg, err, sizeof(err)) ||
        !vsb_init_do_network(cfg, &leases, err, sizeof(err))) {
        fprintf(stderr, "virt-sandbox-init: %s\n", err);
        service_end("exited", VSB_STDIO_EXIT_SETUP_FAILED, VSB_STDIO_EXIT_SETUP_FAILED);
    }
    if ((pid = service_spawn(cfg, &code)) < 0) {
        /* The child (if any) is reaped by the kernel with us. */
        service_end("exited", code, code);
    }
    if (!(pfd = calloc(1 + vsb_init_leases_nfds(leases), sizeof(*pfd))))
        abort();
    for (;;) {
        struct signalfd_siginfo si;

        pfd[0] = (struct pollfd){ .fd = sigfd, .events = POLLIN };
        vsb_init_leases_pollfds(leases, pfd + 1);
        if (poll(pfd, 1 + vsb_init_leases_nfds(leases), vsb_init_leases_timeout(leases)) < 0 &&
            errno != EINTR)
            break;
        vsb_init_leases_run(leases, pfd + 1, lease_log, (void *)cfg);
        while (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
            /* A stop (libvirt's shutdown sends SIGTERM to init) or a
             * reload is the program's to handle. */
            if (si.ssi_signo != SIGCHLD)
                kill(pid, (int)si.ssi_signo);
        }
        for (;;) {
            int status;
            pid_t p = waitpid(-1, &status, WNOHANG);
            if (p <= 0)
                break;
            if (p != pid)
                continue;
            if (WIFSIGNALED(status))
                service_end("killed", WTERMSIG(status), 128 + WTERMSIG(status));
            service_end("exited", WEXITSTATUS(status), WEXITSTATUS(status));
        }
    }
    fprintf(stderr, "virt-sandbox-init: poll: %s\n", strerror(errno));
    kill(pid, SIGKILL);
    service_end("exited", VSB_STDIO_EXIT_SETUP_FAILED, VSB_STDIO_EXIT_SETUP_FAILED);
}
