/*
 * vsb-ctl-child.c: the container's first process, from clone() to
 * exec() of init.  A flat list of named steps, in the order the kernel
 * needs them:
 *
 *   WaitForGo          the controller put us in our cgroups, wrote id maps
 *   PrepareMounts      detached copies of host trees, while we are still
 *                      the host's root (propagation made private first)
 *   BecomeNsRoot       with <idmap>: uid/gid 0 of the new user namespace
 *   SetupCgroupNs      after the cgroup move, so its root is our leaf
 *   SetupRoot          root attached on the staging dir
 *   SetupFilesystems   the other <filesystem>s, parents first
 *   SetupDev           tmpfs /dev, nodes, devpts (before /proc: masks use /dev/null)
 *   SetupProc, SetupSys
 *   SetupDevLog        the controller's syslog socket bound on /dev/log
 *   SetupViews         the controller's FUSE /proc views bound over
 *                      /proc/meminfo, ..., /dev/kmsg
 *   SetupConsole       pty of the container's devpts, master to the controller
 *   SetupHostname, SetupNetwork
 *   PivotRoot
 *   SetupTime          time namespace with its offsets, entered (needs
 *                      CAP_SYS_TIME and CAP_SYS_ADMIN: before capabilities)
 *   SetupStdio         new session, console as controlling tty and stdio
 *   ResolveIdentity    inituser/initgroup from the container's /etc
 *   SetupNumaPolicy    <numatune> preferred/interleave (before seccomp)
 *   SetupSeccomp       syslog(2) refused, sysinfo(2) to the controller (its
 *                      listener sent on sync_fd); needs CAP_SYS_ADMIN (no
 *                      no_new_privs)
 *   SetupCapabilities  while still uid 0
 *   SetupIdentity, SetupEnvironment, exec
 */
#include <config.h>

#include "vsb-ctl-child.h"
#include "vsb-ctl-caps.h"
#include "vsb-ctl-console.h"
#include "vsb-ctl-devices.h"
#include "vsb-ctl-fuse.h"
#include "vsb-ctl-mounts.h"
#include "vsb-ctl-numa.h"
#include "vsb-ctl-seccomp.h"
#include "vsb-ctl-syslog.h"
#include "vsb-ctl-time.h"
#include "vsb-controller.h"
#include "vsb-util.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <selinux/selinux.h>

static bool
child_wait_for_go(const VsbCtlChildConfig *cfg, GError **error)
{
    char buf[16];
    ssize_t n;

    do {
        n = recv(cfg->sync_fd, buf, sizeof(buf), 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return vsb_error_set_errno(error, errno, "Cannot read from the controller");
    if (n != strlen(VSB_CTL_MSG_GO) || memcmp(buf, VSB_CTL_MSG_GO, n) != 0) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_FAILED, "The controller gave up");
        return false;
    }
    return true;
}

/* In a new user namespace we start as the host's uid, which the map
 * does not cover: become the namespace's root, or every file we create
 * would fail with EOVERFLOW. */
static bool
child_become_ns_root(const VsbCtlChildConfig *cfg, GError **error)
{
    if (!cfg->userns)
        return true;
    if (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
        return vsb_error_set_errno(error, errno,
                                   "Cannot become root of the user namespace (is id 0 mapped?)");
    return true;
}

static bool
child_setup_cgroup_ns(GError **error)
{
    /* Kernels without cgroup namespaces still run containers: the
     * cgroup mounts then show the whole tree read-only. */
    if (unshare(CLONE_NEWCGROUP) < 0 && errno != EINVAL)
        return vsb_error_set_errno(error, errno, "Cannot create a cgroup namespace");
    return true;
}

bool
vsb_ctl_child_send_fd(const VsbCtlChildConfig *cfg, const char *what, int fd, GError **error)
{
    char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
    struct iovec iov = { .iov_base = (char *)what, .iov_len = strlen(what) };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                          .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
    if (sendmsg(cfg->sync_fd, &msg, MSG_NOSIGNAL) < 0)
        return vsb_error_set_errno(error, errno, "Cannot hand the %s to the controller", what);
    return true;
}

static bool
child_setup_network(GError **error)
{
    g_auto(VsbFd) fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr = { 0 };

    if (fd < 0)
        return vsb_error_set_errno(error, errno, "Cannot open a socket to set up lo");
    g_strlcpy(ifr.ifr_name, "lo", sizeof(ifr.ifr_name));
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
        return vsb_error_set_errno(error, errno, "Cannot read the flags of lo");
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
        return vsb_error_set_errno(error, errno, "Cannot bring lo up");
    return true;
}

static bool
child_setup_stdio(int slave, GError **error)
{
    if (setsid() < 0)
        return vsb_error_set_errno(error, errno, "Cannot start a session");
    if (ioctl(slave, TIOCSCTTY, 0) < 0)
        return vsb_error_set_errno(error, errno, "Cannot make the console the controlling tty");
    for (int fd = 0; fd < 3; fd++)
        if (dup2(slave, fd) < 0)
            return vsb_error_set_errno(error, errno, "Cannot connect stdio to the console");
    return true;
}

typedef struct {
    uid_t uid;
    gid_t gid;
    char *user;          /* name, when known */
    char *home;
    GArray *groups;      /* of gid_t: supplementary groups */
} Identity;

static void
identity_clear(Identity *id)
{
    g_free(id->user);
    g_free(id->home);
    if (id->groups)
        g_array_unref(id->groups);
}

static bool
parse_id(const char *s, unsigned int *out)
{
    guint64 v;

    if (!g_ascii_string_to_unsigned(s, 10, 0, G_MAXUINT32 - 1, &v, NULL))
        return false;
    *out = v;
    return true;
}

/* The container's own /etc/passwd and /etc/group are read directly,
 * never through NSS: NSS would load the container's libraries into
 * this still-privileged process. */
static bool
child_resolve_identity(const VsbDomainDef *def, Identity *id, GError **error)
{
    g_autofree char *passwd = NULL;
    g_autofree char *group = NULL;
    bool found_user = false;

    id->uid = 0;
    id->gid = 0;
    id->groups = g_array_new(FALSE, FALSE, sizeof(gid_t));
    g_file_get_contents("/etc/passwd", &passwd, NULL, NULL);
    g_file_get_contents("/etc/group", &group, NULL, NULL);

    if (def->inituser) {
        unsigned int num;
        bool numeric = parse_id(def->inituser, &num);
        g_auto(GStrv) lines = g_strsplit(passwd ? passwd : "", "\n", -1);

        for (size_t i = 0; lines[i] && !found_user; i++) {
            g_auto(GStrv) f = g_strsplit(lines[i], ":", 7);
            unsigned int uid, gid;
            if (g_strv_length(f) < 7 || !parse_id(f[2], &uid) || !parse_id(f[3], &gid))
                continue;
            if (numeric ? uid != num : !g_str_equal(f[0], def->inituser))
                continue;
            found_user = true;
            id->uid = uid;
            id->gid = gid;
            id->user = g_strdup(f[0]);
            id->home = g_strdup(f[5]);
        }
        if (!found_user) {
            if (!numeric) {
                g_set_error(error, VSB_ERROR, VSB_ERROR_NOT_FOUND,
                            "inituser %s not found in the container's /etc/passwd",
                            def->inituser);
                return false;
            }
            id->uid = num;
            id->gid = num;
        }
    } else {
        id->user = g_strdup("root");
    }

    if (def->initgroup) {
        unsigned int num;
        bool found = false;
        g_auto(GStrv) lines = g_strsplit(group ? group : "", "\n", -1);

        if (parse_id(def->initgroup, &num)) {
            id->gid = num;
            found = true;
        }
        for (size_t i = 0; lines[i] && !found; i++) {
            g_auto(GStrv) f = g_strsplit(lines[i], ":", 4);
            unsigned int gid;
            if (g_strv_length(f) >= 3 && g_str_equal(f[0], def->initgroup) &&
                parse_id(f[2], &gid)) {
                id->gid = gid;
                found = true;
            }
        }
        if (!found) {
            g_set_error(error, VSB_ERROR, VSB_ERROR_NOT_FOUND,
                        "initgroup %s not found in the container's /etc/group",
                        def->initgroup);
            return false;
        }
    }

    if (id->user && group) {
        g_auto(GStrv) lines = g_strsplit(group, "\n", -1);
        for (size_t i = 0; lines[i]; i++) {
            g_auto(GStrv) f = g_strsplit(lines[i], ":", 4);
            g_auto(GStrv) members = NULL;
            unsigned int gid;
            if (g_strv_length(f) < 4 || !parse_id(f[2], &gid))
                continue;
            members = g_strsplit(f[3], ",", -1);
            if (g_strv_contains((const char *const *)members, id->user)) {
                gid_t g = gid;
                g_array_append_val(id->groups, g);
            }
        }
    }
    if (!id->home)
        id->home = g_strdup(id->uid == 0 ? "/root" : "/");
    return true;
}

static bool
child_setup_identity(const Identity *id, GError **error)
{
    if (setgroups(id->groups->len, (gid_t *)id->groups->data) < 0)
        return vsb_error_set_errno(error, errno, "Cannot set supplementary groups");
    if (setresgid(id->gid, id->gid, id->gid) < 0)
        return vsb_error_set_errno(error, errno, "Cannot set gid %u", (unsigned)id->gid);
    if (setresuid(id->uid, id->uid, id->uid) < 0)
        return vsb_error_set_errno(error, errno, "Cannot set uid %u", (unsigned)id->uid);
    return true;
}

static char **
child_build_env(const VsbDomainDef *def, const Identity *id)
{
    char uuid[37];
    char **env = NULL;

    vsb_domain_uuid_format(def->uuid, uuid);
    /* What libvirt's LXC driver sets, so that systemd and friends
     * recognise the container the same way. */
    env = g_environ_setenv(env, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", TRUE);
    env = g_environ_setenv(env, "container", "lxc-libvirt", TRUE);
    env = g_environ_setenv(env, "container_uuid", uuid, TRUE);
    env = g_environ_setenv(env, "LIBVIRT_LXC_NAME", def->name, TRUE);
    env = g_environ_setenv(env, "LIBVIRT_LXC_UUID", uuid, TRUE);
    env = g_environ_setenv(env, "HOME", id->home, TRUE);
    env = g_environ_setenv(env, "TERM", "linux", TRUE);
    /* <clock offset='timezone'>; <initenv name='TZ'> still wins */
    if (def->timezone)
        env = g_environ_setenv(env, "TZ", def->timezone, TRUE);
    if (id->user)
        env = g_environ_setenv(env, "USER", id->user, TRUE);
    for (guint i = 0; i < def->initenv->len; i++) {
        VsbDomainEnv *e = g_ptr_array_index(def->initenv, i);
        env = g_environ_setenv(env, e->name, e->value, TRUE);
    }
    return env;
}

/* sVirt: init runs with the domain's label where SELinux is enabled.
 * Where it is not, the <seclabel> stays in the XML and means nothing:
 * the driver reports the security model "none". */
static bool
child_setup_seclabel(const VsbDomainDef *def, GError **error)
{
    const VsbDomainSeclabel *sl = def->seclabel;

    if (!sl || sl->type == VSB_DOMAIN_SECLABEL_NONE || is_selinux_enabled() <= 0)
        return true;
    if (!sl->label) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
                    "<seclabel type='dynamic'> has no allocated <label>: dynamic labels are "
                    "allocated by the driver, not by the controller");
        return false;
    }
    if (setexeccon(sl->label) < 0)
        return vsb_error_set_errno(error, errno, "Cannot set the exec label %s", sl->label);
    return true;
}

static int
child_exec(const VsbDomainDef *def, char **env, GError **error)
{
    const char *init = def->init ? def->init : "/sbin/init";
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    struct stat st;
    int errsv;

    if (stat(init, &st) < 0) {
        errsv = errno;
        vsb_error_set_errno(error, errsv, "Cannot run init %s in the container", init);
        return errsv == ENOENT || errsv == ENOTDIR ? VSB_CTL_EXIT_NOT_FOUND : VSB_CTL_EXIT_CANNOT_EXEC;
    }
    if (!S_ISREG(st.st_mode)) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                    "Cannot run init %s in the container: not a regular file", init);
        return VSB_CTL_EXIT_CANNOT_EXEC;
    }
    g_ptr_array_add(argv, (char *)init);
    for (guint i = 0; i < def->initargs->len; i++)
        g_ptr_array_add(argv, g_ptr_array_index(def->initargs, i));
    g_ptr_array_add(argv, NULL);
    execve(init, (char **)argv->pdata, env);
    errsv = errno;
    vsb_error_set_errno(error, errsv, "Cannot run init %s in the container", init);
    /* ENOENT after a successful stat(): a missing script interpreter
     * or dynamic loader */
    return errsv == ENOENT ? VSB_CTL_EXIT_NOT_FOUND : VSB_CTL_EXIT_CANNOT_EXEC;
}

static void
child_report_error(const VsbCtlChildConfig *cfg, int code, const char *message)
{
    g_autofree char *msg = g_strdup_printf("%s %d %s", VSB_CTL_MSG_ERROR, code, message);

    if (send(cfg->sync_fd, msg, strlen(msg), MSG_NOSIGNAL) < 0) {
        /* The controller is gone; nobody to tell. */
    }
}

int
vsb_ctl_child_run(const VsbCtlChildConfig *cfg)
{
    g_autoptr(GError) error = NULL;
    g_auto(VsbFd) rootfd = -1;
    g_auto(VsbFd) master = -1;
    g_auto(VsbFd) slave = -1;
    g_auto(VsbFd) sysinfo_fd = -1;
    g_auto(GStrv) env = NULL;
    Identity id = { 0 };
    VsbCtlPremounts pre = { .staging_fd = -1, .root_fd = -1 };
    int code = VSB_CTL_EXIT_FAILURE;

    /* Nobody could supervise or reattach to a container whose
     * controller died: it dies with it.  (Survives exec; the kernel's
     * SIGKILL reaches a namespace's init.) */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) {
        vsb_error_set_errno(&error, errno, "Cannot tie the container to its controller");
        goto fail;
    }
    if (!child_wait_for_go(cfg, &error) ||
        !vsb_ctl_mounts_prepare(cfg, &pre, &error) ||
        !child_become_ns_root(cfg, &error) ||
        !child_setup_cgroup_ns(&error))
        goto fail;
    if ((rootfd = vsb_ctl_mounts_setup_root(cfg, &pre, &error)) < 0 ||
        !vsb_ctl_mounts_setup_filesystems(cfg, &pre, rootfd, &error) ||
        !vsb_ctl_devices_setup(cfg, rootfd, &error) ||
        !vsb_ctl_mounts_setup_proc(cfg, rootfd, &error) ||
        !vsb_ctl_mounts_setup_sys(cfg, rootfd, &error) ||
        /* systemd's journald inside takes /dev/log (as under nspawn):
         * ours there would keep its socket unit from linking it and
         * split the container's logs over two journals. */
        (cfg->syslog_fd >= 0 && !vsb_ctl_mounts_init_is_systemd(cfg, rootfd) &&
         !vsb_ctl_syslog_bind(cfg->syslog_fd, rootfd, &error)) ||
        (cfg->views_mount_fd >= 0 &&
         !vsb_ctl_fuse_mount_views(cfg->views_mount_fd, rootfd, &error)) ||
        !vsb_ctl_console_setup(cfg, rootfd, &master, &slave, &error) ||
        !vsb_ctl_child_send_fd(cfg, VSB_CTL_MSG_CONSOLE, master, &error))
        goto fail;
    if (sethostname(cfg->def->name, strlen(cfg->def->name)) < 0) {
        vsb_error_set_errno(&error, errno, "Cannot set the hostname");
        goto fail;
    }
    if (!child_setup_network(&error) ||
        !vsb_ctl_mounts_pivot_root(rootfd, &error) ||
        !vsb_ctl_time_setup(cfg->def, &error) ||
        !child_setup_stdio(slave, &error) ||
        !child_resolve_identity(cfg->def, &id, &error) ||
        !vsb_ctl_numa_apply(cfg->def, &error) ||
        !vsb_ctl_seccomp_apply(&sysinfo_fd, &error) ||
        (sysinfo_fd >= 0 &&
         !vsb_ctl_child_send_fd(cfg, VSB_CTL_MSG_SYSINFO, sysinfo_fd, &error)) ||
        !vsb_ctl_caps_apply(cfg->def, &error) ||
        !child_setup_identity(&id, &error))
        goto fail;
    env = child_build_env(cfg->def, &id);
    if (chdir(cfg->def->initdir ? cfg->def->initdir : "/") < 0) {
        vsb_error_set_errno(&error, errno, "Cannot change to initdir %s",
                            cfg->def->initdir ? cfg->def->initdir : "/");
        goto fail;
    }
    if (!child_setup_seclabel(cfg->def, &error))
        goto fail;
    code = child_exec(cfg->def, env, &error);

 fail:
    child_report_error(cfg, code, error ? error->message : "unknown error");
    vsb_ctl_premounts_clear(&pre);
    identity_clear(&id);
    return code;
}
