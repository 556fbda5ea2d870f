/*
 * vsb-controller.c: virt-sandbox-controller, the supervisor of one
 * running container (see vsb-controller.h for its contract).
 *
 * The controller stays in the host's namespaces; the container's first
 * process is its child.  Setup is a flat list of steps:
 *
 *   SetupState       run-dir files, the per-domain lock
 *   SetupCgroup      domain cgroup, supervisor and payload leaves (under
 *                    systemd: in our own delegated scope, vsb-ctl-machined.h)
 *   SetupImages      image files on loop devices, mounted detached
 *   SetupLogs        /dev/log socket (bound by the child), kernel log ring,
 *                    the /proc views' FUSE mount (detached, bound by the
 *                    child); nothing is read yet
 *   StartContainer   clone() into new namespaces, id maps, payload cgroup
 *   SetupNet         veth pairs into the container's network namespace
 *                    (vsb-ctl-net.h), before the child goes on to exec init
 *   WaitStarted      console fd from the child, then exec or an error;
 *                    the /proc views' connection is served from here on;
 *                    under systemd, the machine registered with machined
 *   Publish          live XML, state file, control socket, ready fd
 *
 * then a main loop (console relay, control socket, init's exit), and
 * the teardown, which undoes every step whatever happened.
 */
#include <config.h>

#include "vsb-controller.h"
#include "vsb-cgroup.h"
#include "vsb-ctl-cgwarm.h"
#include "vsb-ctl-child.h"
#include "vsb-ctl-console.h"
#include "vsb-ctl-devices.h"
#include "vsb-ctl-fuse.h"
#include "vsb-ctl-kmsg.h"
#include "vsb-ctl-loop.h"
#include "vsb-ctl-net.h"
#include "vsb-ctl-oomwatch.h"
#include "vsb-ctl-procsrc.h"
#include "vsb-ctl-state.h"
#include "vsb-ctl-machined.h"
#include "vsb-ctl-syslog.h"
#include "vsb-ctl-sysinfo.h"
#include "vsb-domain-conf.h"
#include "vsb-util.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

/* How long the container's setup may take before we give up on it. */
#define START_TIMEOUT_MS (60 * 1000)
/* destroy: how long to wait for init's end before killing the cgroup's
 * tasks one by one.  Dying takes milliseconds; a task stuck in the
 * kernel may take for ever, and the payload's kill copes with that. */
#define DESTROY_INIT_WAIT_MS 1000

typedef struct {
    /* command line */
    char *xml_path;
    gboolean foreground;
    char *run_dir;
    char *partition;
    int ready_fd;
    char *log_dir;

    VsbDomainDef *def;
    VsbCtlState *state;
    VsbCgroup *cgroup;
    VsbCtlMachined *machined;   /* our systemd scope; NULL when systemd is not PID 1 */
    GPtrArray *images;          /* VsbCtlLoopMount* or NULL, per filesystem */
    int *fs_mount_fds;
    int root_mount_fd;
    int sync_fd;

    pid_t init_pid;
    int init_status;            /* wait status */
    bool init_exited;
    bool destroyed;
    VsbCtlConsole *console;
    GMainLoop *loop;
    int listen_fd;
    guint listen_watch;

    VsbCtlSyslog *syslog;       /* /dev/log and the log file */
    VsbKmsg *kmsg;              /* /dev/kmsg's records */
    VsbCtlProcSrc *procsrc;     /* what the /proc views are made of */
    VsbCtlFuse *fuse;           /* the views' server (NULL: the host has no FUSE) */
    VsbCtlOomWatch *oomwatch;
    VsbCtlSysinfo *sysinfo;     /* sysinfo(2) of the container (NULL: not handed to us) */
    GThread *cgroup_warm;       /* see vsb-ctl-cgwarm.h */
    VsbCtlNet *net;             /* the container's veth pairs */
} VsbController;

typedef struct {
    VsbController *ctl;
    int fd;
    GString *line;
    guint watch;
} ControlClient;

/* See vsb-ctl-cgwarm.h. */
static void
cgroup_lock_warm_start(VsbController *ctl)
{
    if (!ctl->cgroup_warm)
        ctl->cgroup_warm = vsb_ctl_cgwarm_start();
}

static void
controller_free(VsbController *ctl)
{
    vsb_ctl_cgwarm_join(&ctl->cgroup_warm);
    g_free(ctl->xml_path);
    g_free(ctl->run_dir);
    g_free(ctl->partition);
    g_free(ctl->log_dir);
    g_clear_pointer(&ctl->oomwatch, vsb_ctl_oomwatch_free);
    g_clear_pointer(&ctl->sysinfo, vsb_ctl_sysinfo_free);
    g_clear_pointer(&ctl->net, vsb_ctl_net_free);
    g_clear_pointer(&ctl->fuse, vsb_ctl_fuse_free);
    g_clear_pointer(&ctl->procsrc, vsb_ctl_procsrc_free);
    g_clear_pointer(&ctl->kmsg, vsb_kmsg_free);
    g_clear_pointer(&ctl->syslog, vsb_ctl_syslog_free);
    if (ctl->ready_fd >= 0)
        close(ctl->ready_fd);
    g_clear_pointer(&ctl->console, vsb_ctl_console_free);
    g_clear_handle_id(&ctl->listen_watch, g_source_remove);
    if (ctl->listen_fd >= 0)
        close(ctl->listen_fd);
    if (ctl->sync_fd >= 0)
        close(ctl->sync_fd);
    if (ctl->images)
        g_ptr_array_unref(ctl->images);
    g_free(ctl->fs_mount_fds);
    g_clear_pointer(&ctl->cgroup, vsb_cgroup_free);
    g_clear_pointer(&ctl->machined, vsb_ctl_machined_free);
    g_clear_pointer(&ctl->state, vsb_ctl_state_free);
    g_clear_pointer(&ctl->def, vsb_domain_def_free);
    if (ctl->loop)
        g_main_loop_unref(ctl->loop);
}

static bool
controller_setup_state(VsbController *ctl, GError **error)
{
    ctl->state = vsb_ctl_state_acquire(ctl->run_dir, ctl->def->name, error);
    return ctl->state != NULL;
}

/* <blkiotune><device> paths to device numbers for the cgroup files. */
static VsbCgroupBlkioDevice *
controller_blkio_devices(const VsbDomainDef *def, GError **error)
{
    g_autofree VsbCgroupBlkioDevice *devs =
        g_new0(VsbCgroupBlkioDevice, def->blkio_devices->len + 1);

    for (guint i = 0; i < def->blkio_devices->len; i++) {
        const VsbDomainBlkioDevice *d = g_ptr_array_index(def->blkio_devices, i);
        struct stat st;

        if (stat(d->path, &st) < 0) {
            vsb_error_set_errno(error, errno, "blkiotune device %s", d->path);
            return NULL;
        }
        if (!S_ISBLK(st.st_mode)) {
            g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                        "blkiotune device %s: not a block device", d->path);
            return NULL;
        }
        devs[i] = (VsbCgroupBlkioDevice) {
            .major = major(st.st_rdev), .minor = minor(st.st_rdev),
            .weight = d->weight,
            .read_bps = d->read_bytes_sec, .write_bps = d->write_bytes_sec,
            .read_iops = d->read_iops_sec, .write_iops = d->write_iops_sec,
        };
    }
    return g_steal_pointer(&devs);
}

/* Under systemd, a scope of our own (vsb-ctl-machined.h).  Without one
 * (no system bus, systemd refused) the domain still runs, in our own
 * cgroup layout beside systemd's: worth a warning, not a failure. */
static void
controller_setup_scope(VsbController *ctl)
{
    g_autoptr(GError) local = NULL;

    ctl->machined = vsb_ctl_machined_start(ctl->partition, ctl->def->name, &local);
    if (local)
        g_printerr("virt-sandbox-controller: warning: %s; the domain's cgroups are not "
                   "in a systemd scope\n", local->message);
}

/* The machine's root directory on the host, for machined: a host
 * directory, the host's own /, or none to name (an image, a tmpfs). */
static const char *
controller_root_dir(const VsbDomainDef *def)
{
    const VsbDomainFS *root = vsb_domain_def_get_root(def);

    if (!root)
        return "/";
    return root->type == VSB_DOMAIN_FS_MOUNT && root->source ? root->source : "";
}

/* Register with systemd-machined once init runs: `machinectl list`
 * shows the domain.  machined is optional (systemd-container). */
static void
controller_register_machine(VsbController *ctl)
{
    g_autoptr(GError) local = NULL;

    if (ctl->machined &&
        !vsb_ctl_machined_register(ctl->machined, ctl->init_pid, ctl->def->uuid,
                                   controller_root_dir(ctl->def), &local))
        g_printerr("virt-sandbox-controller: warning: %s, ignoring\n", local->message);
}

static bool
controller_setup_cgroup(VsbController *ctl, GError **error)
{
    g_autofree VsbCgroupBlkioDevice *blkio = controller_blkio_devices(ctl->def, error);
    bool numa_cpuset = ctl->def->numa_mode == VSB_DOMAIN_NUMATUNE_STRICT ||
                       ctl->def->numa_mode == VSB_DOMAIN_NUMATUNE_RESTRICTIVE;
    VsbCgroupConfig cfg = {
        .name = ctl->def->name,
        .partition = ctl->partition,
        /* The balloon (<currentMemory>), capped by <memtune><hard_limit>:
         * what setmem and memtune put in force on a running domain. */
        .memory_limit_bytes = vsb_domain_def_hard_limit_kib(ctl->def) * 1024,
        .memory_soft_bytes = ctl->def->mem_soft_kib * 1024,
        .memory_swap_bytes = ctl->def->mem_swap_kib * 1024,
        .cpu_shares = ctl->def->cpu_shares,
        .cpu_period_us = ctl->def->cpu_period_us,
        .cpu_quota_us = ctl->def->cpu_quota_us,
        .cpuset = ctl->def->cpuset,
        /* preferred and interleave are a memory policy instead
         * (vsb-ctl-numa.h) */
        .mems = numa_cpuset ? ctl->def->numa_nodeset : NULL,
        .blkio_weight = ctl->def->blkio_weight,
        .blkio_devices = blkio,
        .nblkio_devices = ctl->def->blkio_devices->len,
        .pids_max = ctl->def->pids_max,
        .restrict_devices = true,
    };

    if (!blkio)
        return false;
    cfg.devices = vsb_ctl_devices_allowed(&cfg.ndevices);
    /* Under systemd: our own delegated scope, the domain cgroup. */
    controller_setup_scope(ctl);
    if (ctl->machined)
        cfg.delegated_unit = vsb_ctl_machined_unit(ctl->machined);
    ctl->cgroup = vsb_cgroup_create(&cfg, error);
    if (!ctl->cgroup)
        return false;
    return vsb_cgroup_enter_supervisor(ctl->cgroup, getpid(), error);
}

static bool
controller_setup_images(VsbController *ctl, GError **error)
{
    guint n = ctl->def->filesystems->len;

    ctl->images = g_ptr_array_new_with_free_func((GDestroyNotify)vsb_ctl_loop_mount_free);
    ctl->fs_mount_fds = g_new(int, n ? n : 1);
    for (guint i = 0; i < n; i++) {
        VsbDomainFS *fs = g_ptr_array_index(ctl->def->filesystems, i);
        VsbCtlLoopMount *lm = NULL;

        ctl->fs_mount_fds[i] = -1;
        if (fs->type == VSB_DOMAIN_FS_FILE) {
            lm = vsb_ctl_loop_mount(fs->source, fs->readonly, error);
            if (!lm) {
                g_prefix_error(error, "Filesystem for %s: ", fs->target);
                g_ptr_array_add(ctl->images, NULL);
                return false;
            }
            ctl->fs_mount_fds[i] = lm->mount_fd;
            if (g_str_equal(fs->target, "/"))
                ctl->root_mount_fd = lm->mount_fd;
        }
        g_ptr_array_add(ctl->images, lm);
    }
    return true;
}

static void
on_kmsg_record(gpointer opaque)
{
    VsbController *ctl = opaque;

    if (ctl->fuse)
        vsb_ctl_fuse_kmsg_changed(ctl->fuse);
}

/* A process of the container wrote to its /dev/kmsg: the log file has
 * it too, as a syslog daemon would copy the kernel's log. */
static void
on_kmsg_write(gpointer opaque, pid_t pid, int pri, const char *text)
{
    VsbController *ctl = opaque;
    guint nspid = pid > 0 ? vsb_ctl_procsrc_ns_pid(ctl->procsrc, pid) : 0;
    g_autofree char *p = nspid ? g_strdup_printf("%u", nspid)
                         : pid > 0 ? g_strdup_printf("host:%d", (int)pid) : NULL;

    vsb_ctl_syslog_store(ctl->syslog, pri, p, "kernel", text);
}

/* Our own notes about the container, in its dmesg and its log. */
static void
controller_note(VsbController *ctl, const char *text)
{
    int pri = LOG_KERN | LOG_ERR;

    vsb_kmsg_append(ctl->kmsg, pri, ctl->procsrc ? vsb_ctl_procsrc_monotonic_usec(ctl->procsrc) : 0,
                    text, strlen(text));
    vsb_ctl_syslog_store(ctl->syslog, pri, NULL, "kernel", text);
}

static void
on_oom_kill(gpointer opaque, const char *text)
{
    controller_note(opaque, text);
}

static bool
controller_setup_logs(VsbController *ctl, GError **error)
{
    uid_t root_uid = 0;
    gid_t root_gid = 0;
    g_autofree char *first = g_strdup_printf("virt-sandbox: container %s starting",
                                             ctl->def->name);

    ctl->syslog = vsb_ctl_syslog_new(ctl->def->name, ctl->def->uuid, ctl->log_dir, error);
    if (!ctl->syslog)
        return false;
    /* the views' files belong to the container's root, as on a host */
    for (guint i = 0; i < ctl->def->uidmap->len; i++) {
        VsbDomainIdMap *m = &g_array_index(ctl->def->uidmap, VsbDomainIdMap, i);
        if (m->start == 0)
            root_uid = m->target;
    }
    for (guint i = 0; i < ctl->def->gidmap->len; i++) {
        VsbDomainIdMap *m = &g_array_index(ctl->def->gidmap, VsbDomainIdMap, i);
        if (m->start == 0)
            root_gid = m->target;
    }
    /* Never empty: util-linux's dmesg falls back to syslog(2), which
     * the container may not use, when /dev/kmsg has no record. */
    ctl->kmsg = vsb_kmsg_new(VSB_KMSG_RING_BYTES, on_kmsg_record, ctl);
    vsb_kmsg_append(ctl->kmsg, LOG_KERN | LOG_NOTICE, 0, first, strlen(first));
    ctl->procsrc = vsb_ctl_procsrc_new(ctl->cgroup);
    ctl->fuse = vsb_ctl_fuse_new(ctl->procsrc, ctl->kmsg, root_uid, root_gid, on_kmsg_write, ctl,
                                 error);
    return ctl->fuse || !*error;
}

static bool
write_id_map(pid_t pid, const char *file, GArray *map, GError **error)
{
    g_autoptr(GString) text = g_string_new(NULL);
    g_autofree char *path = g_strdup_printf("/proc/%d/%s", pid, file);

    for (guint i = 0; i < map->len; i++) {
        VsbDomainIdMap *m = &g_array_index(map, VsbDomainIdMap, i);
        g_string_append_printf(text, "%u %u %u\n", m->start, m->target, m->count);
    }
    return vsb_file_write_str(path, text->str, error);
}

static bool
controller_start_container(VsbController *ctl, GError **error)
{
    bool userns = ctl->def->uidmap->len > 0;
    unsigned long flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC |
                          CLONE_NEWNET | (userns ? CLONE_NEWUSER : 0);
    int sv[2];
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return vsb_error_set_errno(error, errno, "Cannot create a socket pair");

    /* fork() semantics (no new stack): the child returns here.  The
     * controller has no thread yet, so the child's copy of the
     * process is consistent. */
    pid = syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, 0);
    if (pid < 0) {
        int errsv = errno;
        close(sv[0]);
        close(sv[1]);
        return vsb_error_set_errno(error, errsv, "Cannot create the container's namespaces");
    }
    if (pid == 0) {
        VsbCtlChildConfig cfg = {
            .def = ctl->def,
            .staging = vsb_ctl_state_staging(ctl->state),
            .sync_fd = sv[1],
            .root_mount_fd = ctl->root_mount_fd,
            .fs_mount_fds = ctl->fs_mount_fds,
            .hierarchies = vsb_cgroup_get_hierarchies(ctl->cgroup),
            .userns = userns,
            .console_raw = ctl->foreground && !isatty(STDOUT_FILENO),
            .syslog_fd = vsb_ctl_syslog_socket(ctl->syslog),
            .views_mount_fd = ctl->fuse ? vsb_ctl_fuse_mount_fd(ctl->fuse) : -1,
        };
        close(sv[0]);
        _exit(vsb_ctl_child_run(&cfg));
    }
    close(sv[1]);
    ctl->sync_fd = sv[0];
    ctl->init_pid = pid;

    if (userns &&
        (!write_id_map(pid, "uid_map", ctl->def->uidmap, error) ||
         !write_id_map(pid, "gid_map", ctl->def->gidmap, error)))
        return false;
    return vsb_cgroup_enter_payload(ctl->cgroup, pid, error);
}

/* The child waits for GO: its interfaces exist before init runs.
 * Generated host-side names go into the definition, so the live XML
 * published later names them. */
static bool
controller_setup_net(VsbController *ctl, GError **error)
{
    ctl->net = vsb_ctl_net_new(ctl->def);
    return vsb_ctl_net_setup(ctl->net, ctl->init_pid, error);
}

/* At once rather than with the namespace (which the kernel dismantles
 * asynchronously): once we say the container is gone, its veths are. */
static void
controller_delete_net(VsbController *ctl)
{
    g_autoptr(GError) error = NULL;

    if (!vsb_ctl_net_teardown(ctl->net, &error))
        g_printerr("virt-sandbox-controller: warning: %s, ignoring\n", error->message);
}

static bool
controller_release_child(VsbController *ctl, GError **error)
{
    if (send(ctl->sync_fd, VSB_CTL_MSG_GO, strlen(VSB_CTL_MSG_GO), MSG_NOSIGNAL) < 0)
        return vsb_error_set_errno(error, errno, "Cannot start the container's setup");
    return true;
}

static bool
on_sysinfo(gpointer opaque, struct sysinfo *si)
{
    VsbController *ctl = opaque;

    return vsb_ctl_procsrc_sysinfo(ctl->procsrc, si);
}

/* Read the child's messages until exec() closes its end. */
static int
controller_wait_started(VsbController *ctl, GError **error)
{
    int console = -1;

    for (;;) {
        char buf[4096];
        char cbuf[CMSG_SPACE(sizeof(int))];
        struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                              .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
        /* the child looks the views up while it binds them: their
         * server answers from here */
        struct pollfd pfd[3] = { { .fd = ctl->sync_fd, .events = POLLIN },
                                 { .fd = ctl->fuse ? vsb_ctl_fuse_fd(ctl->fuse) : -1,
                                   .events = POLLIN },
                                 /* and its sysinfo(2) calls, once it made the filter */
                                 { .fd = ctl->sysinfo ? vsb_ctl_sysinfo_fd(ctl->sysinfo) : -1,
                                   .events = POLLIN } };
        ssize_t n;
        int rc = poll(pfd, 3, START_TIMEOUT_MS);

        if (rc < 0 && errno == EINTR)
            continue;
        if (rc == 0) {
            g_set_error(error, VSB_ERROR, VSB_ERROR_FAILED,
                        "The container's setup did not finish within %d s",
                        START_TIMEOUT_MS / 1000);
            return VSB_CTL_EXIT_FAILURE;
        }
        if (rc > 0 && (pfd[1].revents || (pfd[2].revents & POLLIN))) {
            if (pfd[1].revents)
                vsb_ctl_fuse_process(ctl->fuse);
            if (pfd[2].revents & POLLIN)
                vsb_ctl_sysinfo_process(ctl->sysinfo);
            if (!pfd[0].revents)
                continue;
        }
        n = recvmsg(ctl->sync_fd, &msg, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            vsb_error_set_errno(error, errno, "Cannot read from the container's setup");
            return VSB_CTL_EXIT_FAILURE;
        }
        if (n == 0)
            break;
        buf[n] = '\0';
        if (g_str_equal(buf, VSB_CTL_MSG_CONSOLE)) {
            struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
            if (cmsg && cmsg->cmsg_type == SCM_RIGHTS)
                memcpy(&console, CMSG_DATA(cmsg), sizeof(int));
        } else if (g_str_equal(buf, VSB_CTL_MSG_SYSINFO)) {
            struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
            int fd;
            if (cmsg && cmsg->cmsg_type == SCM_RIGHTS && !ctl->sysinfo) {
                memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
                ctl->sysinfo = vsb_ctl_sysinfo_new(fd, on_sysinfo, ctl);
                /* init may call sysinfo(2) as soon as it runs, before
                 * we see its exec (EOF below): its uptime needs the time
                 * namespace's offsets, written by now (the filter is the
                 * setup's last step). */
                vsb_ctl_procsrc_set_clocks(ctl->procsrc, ctl->init_pid);
            }
        } else if (g_str_has_prefix(buf, VSB_CTL_MSG_ERROR " ")) {
            char *end = NULL;
            long code = strtol(buf + strlen(VSB_CTL_MSG_ERROR " "), &end, 10);
            g_set_error_literal(error, VSB_ERROR, VSB_ERROR_FAILED,
                                end && *end == ' ' ? end + 1 : buf);
            if (console >= 0)
                close(console);
            return code >= 1 && code <= 255 ? (int)code : VSB_CTL_EXIT_FAILURE;
        }
    }
    if (console < 0) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_FAILED,
                    "The container's setup died before starting init");
        return VSB_CTL_EXIT_FAILURE;
    }
    close(g_steal_fd(&ctl->sync_fd));
    if (ctl->fuse)
        vsb_ctl_fuse_release_mount(ctl->fuse);
    ctl->console = vsb_ctl_console_new(console);
    return 0;
}

static void
controller_release_images(VsbController *ctl)
{
    /* The container's mount namespace holds the image mounts now (or,
     * after teardown, nothing does): our detached references go. */
    for (guint i = 0; ctl->images && i < ctl->images->len; i++) {
        VsbCtlLoopMount *lm = g_ptr_array_index(ctl->images, i);
        if (lm && lm->mount_fd >= 0) {
            close(lm->mount_fd);
            lm->mount_fd = -1;
        }
        if (ctl->fs_mount_fds)
            ctl->fs_mount_fds[i] = -1;
    }
    ctl->root_mount_fd = -1;
}

/* Until the SIGKILLed init is gone, at most @timeout_ms.  The kernel
 * lets a pid namespace's init go only once every other task of the
 * namespace is gone too, so afterwards vsb_cgroup_kill_payload() finds
 * an empty payload at once, where it would find it dying and freeze,
 * kill and sleep 10 ms for it.  Not reaped: the child watch does that. */
static void
wait_init_gone(pid_t pid, int timeout_ms)
{
    g_auto(VsbFd) fd = syscall(SYS_pidfd_open, pid, 0);
    gint64 deadline = g_get_monotonic_time() + timeout_ms * 1000LL;
    struct pollfd pfd = { .fd = fd, .events = POLLIN };

    if (fd < 0)
        return;   /* no pidfd (Linux < 5.3): kill_payload's own waiting */
    for (;;) {
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;

        if (left <= 0 || poll(&pfd, 1, (int)left) != -1 || errno != EINTR)
            return;
    }
}

static void
controller_destroy(VsbController *ctl)
{
    g_autoptr(GError) error = NULL;

    if (ctl->init_exited || ctl->destroyed)
        return;
    ctl->destroyed = true;
    /* the teardown moves us out of the supervisor cgroup */
    cgroup_lock_warm_start(ctl);
    /* A task waiting on a /proc view (a blocking /dev/kmsg read) dies
     * only once the view's server answers, and we are about to wait
     * for the container without serving it: the views go first, which
     * fails whatever waits on them. */
    g_clear_pointer(&ctl->fuse, vsb_ctl_fuse_free);
    /* Killing init alone would do (the kernel then kills its pid
     * namespace), but the cgroup also holds processes that entered the
     * container from outside. */
    if (ctl->init_pid > 0 && kill(ctl->init_pid, SIGKILL) == 0)
        wait_init_gone(ctl->init_pid, DESTROY_INIT_WAIT_MS);
    if (!vsb_cgroup_kill_payload(ctl->cgroup, &error))
        g_printerr("virt-sandbox-controller: warning: %s, ignoring\n", error->message);
}

static void
control_client_free(ControlClient *cl)
{
    g_clear_handle_id(&cl->watch, g_source_remove);
    if (cl->fd >= 0)
        close(cl->fd);
    g_string_free(cl->line, TRUE);
    g_free(cl);
}

static void
control_reply(ControlClient *cl, const char *text)
{
    /* A few bytes on a fresh socket: the send buffer takes them. */
    if (send(cl->fd, text, strlen(text), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        /* the client left already */
    }
}

static void
control_handle(ControlClient *cl, const char *req)
{
    VsbController *ctl = cl->ctl;
    g_autoptr(GError) error = NULL;

    if (g_str_equal(req, "status")) {
        g_autofree char *text = g_strdup_printf("running init=%d controller=%d\n",
                                                ctl->init_pid, getpid());
        control_reply(cl, text);
    } else if (g_str_equal(req, "console") || g_str_equal(req, "console force")) {
        int fd = dup(cl->fd);
        if (fd < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
            control_reply(cl, "error cannot attach the console\n");
        } else if (!vsb_ctl_console_attach_client(ctl->console, fd, g_str_has_suffix(req, "force"),
                                                  &error)) {
            g_autofree char *text = g_strdup_printf("error %s\n", error->message);
            control_reply(cl, text);
        } else {
            /* "ok" must precede the replayed output: the console's own
             * writes are queued to the main loop. */
            control_reply(cl, "ok\n");
        }
    } else if (g_str_has_prefix(req, "kill ")) {
        guint64 sig;
        if (!g_ascii_string_to_unsigned(req + 5, 10, 1, 64, &sig, NULL))
            control_reply(cl, "error bad signal number\n");
        else if (kill(ctl->init_pid, (int)sig) < 0)
            control_reply(cl, "error cannot signal init\n");
        else
            control_reply(cl, "ok\n");
    } else if (g_str_equal(req, "destroy")) {
        control_reply(cl, "ok\n");
        controller_destroy(ctl);
    } else {
        control_reply(cl, "error unknown request\n");
    }
}

static gboolean
control_client_readable(gint fd, GIOCondition cond, gpointer opaque)
{
    ControlClient *cl = opaque;
    char buf[256];
    ssize_t n = read(fd, buf, sizeof(buf));
    char *nl;

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return G_SOURCE_CONTINUE;
    if (n > 0)
        g_string_append_len(cl->line, buf, n);
    nl = memchr(cl->line->str, '\n', cl->line->len);
    if (!nl && n > 0 && cl->line->len < 256)
        return G_SOURCE_CONTINUE;
    cl->watch = 0;
    if (nl) {
        *nl = '\0';
        control_handle(cl, g_strstrip(cl->line->str));
    } else if (n > 0) {
        control_reply(cl, "error request too long\n");
    }
    control_client_free(cl);
    return G_SOURCE_REMOVE;
}

static gboolean
control_accept(gint fd, GIOCondition cond, gpointer opaque)
{
    VsbController *ctl = opaque;
    int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    ControlClient *cl;

    if (cfd < 0)
        return G_SOURCE_CONTINUE;
    cl = g_new0(ControlClient, 1);
    cl->ctl = ctl;
    cl->fd = cfd;
    cl->line = g_string_new(NULL);
    cl->watch = g_unix_fd_add(cfd, G_IO_IN | G_IO_HUP | G_IO_ERR, control_client_readable, cl);
    return G_SOURCE_CONTINUE;
}

static bool
controller_publish(VsbController *ctl, GError **error)
{
    g_autofree char *xml = vsb_domain_def_format(ctl->def, ctl->init_pid);

    if (!vsb_ctl_state_publish(ctl->state, xml, ctl->init_pid, error))
        return false;
    ctl->listen_fd = vsb_ctl_state_listen(ctl->state, error);
    if (ctl->listen_fd < 0)
        return false;
    ctl->listen_watch = g_unix_fd_add(ctl->listen_fd, G_IO_IN, control_accept, ctl);
    if (ctl->ready_fd >= 0) {
        g_autofree char *msg = g_strdup_printf("ok %d\n", ctl->init_pid);
        vsb_write_all(ctl->ready_fd, msg, strlen(msg));
        close(g_steal_fd(&ctl->ready_fd));
    }
    return true;
}

static void
on_init_exit(GPid pid, gint status, gpointer opaque)
{
    VsbController *ctl = opaque;

    ctl->init_exited = true;
    ctl->init_status = status;
    g_main_loop_quit(ctl->loop);
}

static gboolean
on_terminate(gpointer opaque)
{
    controller_destroy(opaque);
    return G_SOURCE_CONTINUE;
}

static gboolean
on_winch(gpointer opaque)
{
    VsbController *ctl = opaque;

    if (ctl->console)
        vsb_ctl_console_sync_winsize(ctl->console, STDIN_FILENO);
    return G_SOURCE_CONTINUE;
}

static int
wait_status_to_exit(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return VSB_CTL_EXIT_FAILURE;
}

/* Undo every setup step, whatever state the start reached.  Returns
 * false if the container could not be fully removed. */
static void
controller_teardown(VsbController *ctl)
{
    g_autoptr(GError) error = NULL;

    /* vsb_cgroup_destroy() moves us out of the supervisor cgroup */
    if (ctl->cgroup)
        cgroup_lock_warm_start(ctl);
    /* first, as in controller_destroy(): nothing may wait on the views
     * while we wait for the container */
    g_clear_pointer(&ctl->fuse, vsb_ctl_fuse_free);
    /* and sysinfo(2) calls fail (ENOSYS) rather than wait for us */
    g_clear_pointer(&ctl->sysinfo, vsb_ctl_sysinfo_free);
    if (ctl->init_pid > 0 && !ctl->init_exited) {
        int status;
        kill(ctl->init_pid, SIGKILL);
        while (waitpid(ctl->init_pid, &status, 0) < 0 && errno == EINTR)
            ;
        ctl->init_exited = true;
        ctl->init_status = status;
    }
    if (ctl->cgroup && !vsb_cgroup_kill_payload(ctl->cgroup, &error)) {
        g_printerr("virt-sandbox-controller: warning: %s, ignoring\n", error->message);
        g_clear_error(&error);
    }
    if (ctl->console)
        vsb_ctl_console_drain(ctl->console);
    g_clear_pointer(&ctl->oomwatch, vsb_ctl_oomwatch_free);
    controller_delete_net(ctl);
    controller_release_images(ctl);
    for (guint i = 0; ctl->images && i < ctl->images->len; i++) {
        VsbCtlLoopMount *lm = g_ptr_array_index(ctl->images, i);
        if (lm)
            vsb_ctl_loop_release(lm);
    }
    if (ctl->cgroup && !vsb_cgroup_destroy(ctl->cgroup, &error)) {
        g_printerr("virt-sandbox-controller: warning: %s, ignoring\n", error->message);
        g_clear_error(&error);
    }
    if (ctl->machined && !vsb_ctl_machined_unregister(ctl->machined, &error)) {
        g_printerr("virt-sandbox-controller: warning: %s, ignoring\n", error->message);
        g_clear_error(&error);
    }
    /* Last, once nothing of the container is left: a reader that is
     * slow to take the rest of the output holds nothing up. */
    if (ctl->console)
        vsb_ctl_console_flush(ctl->console);
    g_clear_pointer(&ctl->console, vsb_ctl_console_free);
    vsb_ctl_cgwarm_join(&ctl->cgroup_warm);
}

static bool
parse_args(VsbController *ctl, int *argc, char ***argv, GError **error)
{
    g_autofree char *run_dir = NULL;
    GOptionEntry entries[] = {
        { "xml", 0, 0, G_OPTION_ARG_FILENAME, &ctl->xml_path, "Domain XML file", "FILE" },
        { "foreground", 0, 0, G_OPTION_ARG_NONE, &ctl->foreground,
          "Console on stdio, exit with init's status", NULL },
        { "run-dir", 0, 0, G_OPTION_ARG_FILENAME, &ctl->run_dir, "State directory", "DIR" },
        { "cgroup-partition", 0, 0, G_OPTION_ARG_STRING, &ctl->partition,
          "Parent cgroup of the domain's cgroup (default: machine)", "NAME" },
        { "ready-fd", 0, 0, G_OPTION_ARG_INT, &ctl->ready_fd, "Report start-up on this fd", "FD" },
        { "log-dir", 0, 0, G_OPTION_ARG_FILENAME, &ctl->log_dir,
          "Directory of the container's log (default " LOCALSTATEDIR "/log/virt-sandbox)", "DIR" },
        { NULL }
    };
    g_autoptr(GOptionContext) octx = g_option_context_new("- run one container");

    g_option_context_add_main_entries(octx, entries, NULL);
    if (!g_option_context_parse(octx, argc, argv, error))
        return false;
    if (*argc > 1) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "Unexpected argument '%s'", (*argv)[1]);
        return false;
    }
    if (!ctl->xml_path) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "--xml FILE is required");
        return false;
    }
    if (!ctl->run_dir)
        ctl->run_dir = g_strdup(RUNSTATEDIR "/virt-sandbox/lxc");
    if (!ctl->log_dir)
        ctl->log_dir = g_strdup(LOCALSTATEDIR "/log/virt-sandbox");
    if (ctl->ready_fd >= 0 && fcntl(ctl->ready_fd, F_SETFD, FD_CLOEXEC) < 0)
        return vsb_error_set_errno(error, errno, "--ready-fd %d", ctl->ready_fd);
    return true;
}

static void
report_failure(VsbController *ctl, const char *message)
{
    g_printerr("virt-sandbox-controller: %s\n", message);
    if (ctl->ready_fd >= 0) {
        g_autofree char *msg = g_strdup_printf("error %s\n", message);
        vsb_write_all(ctl->ready_fd, msg, strlen(msg));
        close(g_steal_fd(&ctl->ready_fd));
    }
}

int
main(int argc, char **argv)
{
    VsbController ctl = { .ready_fd = -1, .root_mount_fd = -1, .sync_fd = -1,
                          .listen_fd = -1 };
    g_autoptr(GError) error = NULL;
    int code = VSB_CTL_EXIT_FAILURE;
    int status = -1;
    const char *reason = "error";

    /* A console or control client that went away must not kill us. */
    signal(SIGPIPE, SIG_IGN);

    if (!parse_args(&ctl, &argc, &argv, &error)) {
        report_failure(&ctl, error->message);
        controller_free(&ctl);
        return VSB_CTL_EXIT_FAILURE;
    }
    ctl.def = vsb_domain_def_parse_file(ctl.xml_path, &error);
    if (!ctl.def) {
        report_failure(&ctl, error->message);
        controller_free(&ctl);
        return VSB_CTL_EXIT_FAILURE;
    }

    if (!controller_setup_state(&ctl, &error) ||
        !controller_setup_cgroup(&ctl, &error) ||
        !controller_setup_images(&ctl, &error) ||
        !controller_setup_logs(&ctl, &error) ||
        !controller_start_container(&ctl, &error) ||
        !controller_setup_net(&ctl, &error) ||
        !controller_release_child(&ctl, &error))
        goto fail;
    code = controller_wait_started(&ctl, &error);
    if (code != 0)
        goto fail;
    controller_register_machine(&ctl);
    controller_release_images(&ctl);

    /* Only now: GLib's main loop may start helper threads, and the
     * clone() above needed a single-threaded process. */
    ctl.loop = g_main_loop_new(NULL, FALSE);
    g_child_watch_add(ctl.init_pid, on_init_exit, &ctl);
    vsb_ctl_procsrc_set_init(ctl.procsrc, ctl.init_pid);
    vsb_ctl_syslog_attach(ctl.syslog);
    if (ctl.fuse)
        vsb_ctl_fuse_attach(ctl.fuse);
    if (ctl.sysinfo)
        vsb_ctl_sysinfo_attach(ctl.sysinfo);
    ctl.oomwatch = vsb_ctl_oomwatch_new(ctl.cgroup, on_oom_kill, &ctl);
    g_unix_signal_add(SIGTERM, on_terminate, &ctl);
    g_unix_signal_add(SIGINT, on_terminate, &ctl);
    g_unix_signal_add(SIGHUP, on_terminate, &ctl);
    if (ctl.foreground) {
        vsb_ctl_console_attach_stdio(ctl.console, STDIN_FILENO, STDOUT_FILENO);
        if (isatty(STDIN_FILENO))
            g_unix_signal_add(SIGWINCH, on_winch, &ctl);
    }
    if (!controller_publish(&ctl, &error)) {
        code = VSB_CTL_EXIT_FAILURE;
        goto fail;
    }
    if (!ctl.init_exited)
        g_main_loop_run(ctl.loop);

    controller_teardown(&ctl);
    status = wait_status_to_exit(ctl.init_status);
    reason = ctl.destroyed ? "destroyed" : WIFSIGNALED(ctl.init_status) ? "signaled" : "exited";
    vsb_ctl_state_finish(ctl.state, status, reason);
    controller_free(&ctl);
    return status;

 fail:
    /* Before the failure is reported: whoever started us may look for
     * the veths at once, and a failed start leaves none. */
    controller_delete_net(&ctl);
    report_failure(&ctl, error ? error->message : "unknown error");
    controller_teardown(&ctl);
    if (ctl.state)
        vsb_ctl_state_finish(ctl.state, -1, NULL);
    controller_free(&ctl);
    return code;
}
