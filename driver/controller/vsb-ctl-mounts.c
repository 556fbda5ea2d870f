/*
 * vsb-ctl-mounts.c: the container's filesystem tree (child side).
 */
#include <config.h>

#include "vsb-ctl-mounts.h"
#include "vsb-cgroup.h"
#include "vsb-util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int
sys_openat2(int dirfd, const char *path, int flags, unsigned long long resolve)
{
    struct open_how how = { .flags = flags, .resolve = resolve };

    return syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

int
vsb_ctl_openat_in_root(int rootfd, const char *path, int flags, GError **error)
{
    int fd = sys_openat2(rootfd, path, flags | O_CLOEXEC, RESOLVE_IN_ROOT);

    if (fd < 0)
        vsb_error_set_errno(error, errno, "Cannot open %s in the container", path);
    return fd;
}

int
vsb_ctl_open_in_root(int rootfd, const char *path, bool create, bool file, GError **error)
{
    g_auto(GStrv) parts = g_strsplit(path, "/", -1);
    g_autoptr(GString) sofar = g_string_new(".");
    int fd = -1;

    /* Walk component by component so that missing ones can be created
     * with mkdirat() in a parent that was itself resolved in the root. */
    for (size_t i = 0; parts[i]; i++) {
        bool last;
        int parent;

        if (parts[i][0] == '\0' || g_str_equal(parts[i], "."))
            continue;
        last = true;
        for (size_t j = i + 1; parts[j]; j++)
            if (parts[j][0] != '\0')
                last = false;
        parent = sys_openat2(rootfd, sofar->str, O_PATH | O_DIRECTORY | O_CLOEXEC, RESOLVE_IN_ROOT);
        if (parent < 0)
            return vsb_error_set_errno(error, errno, "Cannot open %s in the container", sofar->str), -1;
        g_string_append_printf(sofar, "/%s", parts[i]);
        fd = sys_openat2(rootfd, sofar->str, O_PATH | O_CLOEXEC, RESOLVE_IN_ROOT);
        if (fd < 0 && errno == ENOENT && create) {
            int rc;
            if (last && file) {
                rc = openat(parent, parts[i], O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
                if (rc >= 0)
                    close(rc);
            } else {
                rc = mkdirat(parent, parts[i], 0755);
            }
            if (rc < 0 && errno != EEXIST) {
                int errsv = errno;
                close(parent);
                return vsb_error_set_errno(error, errsv, "Cannot create %s in the container", path), -1;
            }
            fd = sys_openat2(rootfd, sofar->str, O_PATH | O_CLOEXEC, RESOLVE_IN_ROOT);
        }
        close(parent);
        if (fd < 0)
            return vsb_error_set_errno(error, errno, "Cannot open %s in the container", path), -1;
        if (!last)
            close(fd);
    }
    if (fd < 0)
        fd = sys_openat2(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC, RESOLVE_IN_ROOT);
    if (fd < 0)
        vsb_error_set_errno(error, errno, "Cannot open %s in the container", path);
    return fd;
}

bool
vsb_ctl_attach_in_root(int mntfd, int rootfd, const char *path, bool file, GError **error)
{
    g_auto(VsbFd) target = vsb_ctl_open_in_root(rootfd, path, true, file, error);

    if (target < 0)
        return false;
    if (move_mount(mntfd, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        return vsb_error_set_errno(error, errno, "Cannot mount on %s in the container", path);
    return true;
}

int
vsb_ctl_fs_new(const char *fstype, const char *const *opts, unsigned int attrs, GError **error)
{
    g_auto(VsbFd) fsfd = fsopen(fstype, FSOPEN_CLOEXEC);
    int mfd;

    if (fsfd < 0)
        return vsb_error_set_errno(error, errno, "Cannot create a %s filesystem", fstype), -1;
    for (size_t i = 0; opts && opts[i]; i++) {
        const char *eq = strchr(opts[i], '=');
        int rc;

        if (eq) {
            g_autofree char *key = g_strndup(opts[i], eq - opts[i]);
            rc = fsconfig(fsfd, FSCONFIG_SET_STRING, key, eq + 1, 0);
        } else {
            rc = fsconfig(fsfd, FSCONFIG_SET_FLAG, opts[i], NULL, 0);
        }
        if (rc < 0)
            return vsb_error_set_errno(error, errno, "Cannot set option %s of %s", opts[i], fstype), -1;
    }
    if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
        return vsb_error_set_errno(error, errno, "Cannot create a %s filesystem", fstype), -1;
    mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, attrs);
    if (mfd < 0)
        return vsb_error_set_errno(error, errno, "Cannot mount a %s filesystem", fstype), -1;
    return mfd;
}

bool
vsb_ctl_mount_fs_at(int rootfd, const char *path, const char *fstype,
                    const char *const *opts, unsigned int attrs, GError **error)
{
    g_auto(VsbFd) mfd = vsb_ctl_fs_new(fstype, opts, attrs, error);

    if (mfd < 0 || !vsb_ctl_attach_in_root(mfd, rootfd, path, false, error)) {
        g_prefix_error(error, "Cannot mount %s on %s: ", fstype, path);
        return false;
    }
    return true;
}

static bool
set_readonly(int mntfd, bool recursive, const char *what, GError **error)
{
    struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };

    if (mount_setattr(mntfd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0),
                      &attr, sizeof(attr)) < 0)
        return vsb_error_set_errno(error, errno, "Cannot make %s read-only", what);
    return true;
}

/* A detached copy of the tree at @src (a host path, or a path below
 * @src_root when it is >= 0). */
static int
clone_tree(int src_root, const char *src, bool recursive, bool readonly, GError **error)
{
    g_auto(VsbFd) srcfd = -1;
    int mfd;
    unsigned int flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0);

    if (src_root >= 0) {
        srcfd = vsb_ctl_open_in_root(src_root, src, false, false, error);
        if (srcfd < 0)
            return -1;
        mfd = open_tree(srcfd, "", flags | AT_EMPTY_PATH);
    } else {
        mfd = open_tree(AT_FDCWD, src, flags);
    }
    if (mfd < 0)
        return vsb_error_set_errno(error, errno, "Cannot bind %s", src), -1;
    if (readonly && !set_readonly(mfd, recursive, src, error)) {
        close(mfd);
        return -1;
    }
    return mfd;
}

bool
vsb_ctl_bind_at(int src_root, const char *src, int rootfd, const char *path,
                bool recursive, bool readonly, GError **error)
{
    g_auto(VsbFd) mfd = clone_tree(src_root, src, recursive, readonly, error);
    struct stat st;

    if (mfd < 0)
        return false;
    if (fstat(mfd, &st) < 0)
        return vsb_error_set_errno(error, errno, "Cannot stat %s", src);
    return vsb_ctl_attach_in_root(mfd, rootfd, path, !S_ISDIR(st.st_mode), error);
}

static int
prepare_root(const VsbCtlChildConfig *cfg, GError **error)
{
    const VsbDomainFS *root = vsb_domain_def_get_root(cfg->def);
    struct stat st;
    int mfd = -1;

    if (!root) {
        /* The host's whole tree, read-only; /proc, /sys, /dev are
         * replaced by the container's own later. */
        return clone_tree(-1, "/", true, true, error);
    }
    switch (root->type) {
    case VSB_DOMAIN_FS_FILE:
        mfd = dup(cfg->root_mount_fd);
        if (mfd < 0)
            vsb_error_set_errno(error, errno, "Cannot use the mount of %s", root->source);
        return mfd;
    case VSB_DOMAIN_FS_MOUNT:
        if (stat(root->source, &st) < 0)
            return vsb_error_set_errno(error, errno, "Root directory %s", root->source), -1;
        if (!S_ISDIR(st.st_mode)) {
            g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                        "Root directory %s is not a directory", root->source);
            return -1;
        }
        return clone_tree(-1, root->source, true, root->readonly, error);
    case VSB_DOMAIN_FS_RAM: {
        g_autofree char *size = g_strdup_printf("size=%llu", root->usage_kib * 1024);
        const char *opts[] = { "mode=0755", root->usage_kib ? size : NULL, NULL };
        return vsb_ctl_fs_new("tmpfs", opts, MOUNT_ATTR_NODEV, error);
    }
    case VSB_DOMAIN_FS_BIND:
    case VSB_DOMAIN_FS_LAST:
    default:
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                    "A filesystem of type %s cannot be the root",
                    vsb_domain_fs_type_to_string(root->type));
        return -1;
    }
}

bool
vsb_ctl_mounts_prepare(const VsbCtlChildConfig *cfg, VsbCtlPremounts *pre, GError **error)
{
    pre->n_fs = cfg->def->filesystems->len;
    pre->fs_fds = g_new(int, pre->n_fs ? pre->n_fs : 1);
    for (guint i = 0; i < pre->n_fs; i++)
        pre->fs_fds[i] = -1;
    pre->root_fd = -1;

    /* Nothing we mount may propagate back to the host. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return vsb_error_set_errno(error, errno, "Cannot make / private");
    pre->staging_fd = open(cfg->staging, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (pre->staging_fd < 0)
        return vsb_error_set_errno(error, errno, "Cannot open %s", cfg->staging);
    pre->root_fd = prepare_root(cfg, error);
    if (pre->root_fd < 0)
        return false;
    for (guint i = 0; i < pre->n_fs; i++) {
        VsbDomainFS *fs = g_ptr_array_index(cfg->def->filesystems, i);

        if (g_str_equal(fs->target, "/"))
            continue;
        if (fs->type == VSB_DOMAIN_FS_MOUNT) {
            pre->fs_fds[i] = clone_tree(-1, fs->source, true, fs->readonly, error);
        } else if (fs->type == VSB_DOMAIN_FS_FILE) {
            pre->fs_fds[i] = dup(cfg->fs_mount_fds[i]);
            if (pre->fs_fds[i] < 0)
                vsb_error_set_errno(error, errno, "Cannot use the mount of %s", fs->source);
        } else {
            continue;
        }
        if (pre->fs_fds[i] < 0) {
            g_prefix_error(error, "Filesystem %s (target %s): ", fs->source, fs->target);
            return false;
        }
    }
    return true;
}

void
vsb_ctl_premounts_clear(VsbCtlPremounts *pre)
{
    for (guint i = 0; pre->fs_fds && i < pre->n_fs; i++)
        if (pre->fs_fds[i] >= 0)
            close(pre->fs_fds[i]);
    g_clear_pointer(&pre->fs_fds, g_free);
    if (pre->root_fd >= 0)
        close(pre->root_fd);
    if (pre->staging_fd >= 0)
        close(pre->staging_fd);
    pre->root_fd = pre->staging_fd = -1;
}

int
vsb_ctl_mounts_setup_root(const VsbCtlChildConfig *cfg, VsbCtlPremounts *pre, GError **error)
{
    int rootfd;

    if (move_mount(pre->root_fd, "", pre->staging_fd, "",
                   MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        return vsb_error_set_errno(error, errno, "Cannot mount the root on %s", cfg->staging), -1;
    /* The detached mount's fd now points at the attached root. */
    rootfd = openat(pre->root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        vsb_error_set_errno(error, errno, "Cannot open the container root");
    return rootfd;
}

static bool
setup_one_fs(const VsbDomainFS *fs, int *premount_fd, int rootfd, GError **error)
{
    g_auto(VsbFd) mfd = -1;
    struct stat st;

    switch (fs->type) {
    case VSB_DOMAIN_FS_MOUNT:
    case VSB_DOMAIN_FS_FILE:
        mfd = g_steal_fd(premount_fd);
        break;
    case VSB_DOMAIN_FS_BIND:
        mfd = clone_tree(rootfd, fs->source, true, fs->readonly, error);
        break;
    case VSB_DOMAIN_FS_RAM: {
        g_autofree char *size = g_strdup_printf("size=%llu", fs->usage_kib * 1024);
        const char *opts[] = { "mode=0755", fs->usage_kib ? size : NULL, NULL };
        mfd = vsb_ctl_fs_new("tmpfs", opts, MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID, error);
        break;
    }
    case VSB_DOMAIN_FS_LAST:
    default:
        g_assert_not_reached();
    }
    if (mfd < 0)
        return false;
    if (fstat(mfd, &st) < 0)
        return vsb_error_set_errno(error, errno, "Cannot stat %s", fs->source);
    return vsb_ctl_attach_in_root(mfd, rootfd, fs->target, !S_ISDIR(st.st_mode), error);
}

bool
vsb_ctl_mounts_setup_filesystems(const VsbCtlChildConfig *cfg, VsbCtlPremounts *pre,
                                 int rootfd, GError **error)
{
    /* In document order, as libvirt does: a later filesystem may sit
     * on an earlier one, or bind a directory of it (type='bind'). */
    for (guint i = 0; i < cfg->def->filesystems->len; i++) {
        VsbDomainFS *fs = g_ptr_array_index(cfg->def->filesystems, i);

        if (g_str_equal(fs->target, "/"))
            continue;
        if (!setup_one_fs(fs, &pre->fs_fds[i], rootfd, error)) {
            g_prefix_error(error, "Filesystem %s (target %s): ",
                           fs->source ? fs->source : vsb_domain_fs_type_to_string(fs->type),
                           fs->target);
            return false;
        }
    }
    return true;
}

/* Files of /proc that reveal or change the host: hidden behind
 * /dev/null.  Directories: behind an empty read-only tmpfs. */
static const char *const masked_files[] = {
    "proc/kcore", "proc/kallsyms", "proc/timer_list",
    "proc/keys", "proc/latency_stats", "proc/sched_debug", "proc/kmsg",
    "proc/kpagecount", "proc/kpageflags", "proc/kpagecgroup", "proc/config.gz",
    "proc/vmallocinfo",
    /* a file (rtc-cmos), present on real machines and in QEMU guests */
    "proc/driver/rtc",
};
static const char *const masked_dirs[] = {
    "proc/acpi", "proc/scsi", "proc/asound", "proc/firmware",
};
/* Kernel knobs that stay readable but must not be written. */
static const char *const readonly_proc[] = {
    "proc/sys", "proc/irq", "proc/bus", "proc/fs",
};
/* Files that must not be written, bound read-only onto themselves: opening
 * them for writing fails (EROFS).  /dev/null would not do: a device node
 * opens for writing even on a read-only mount, and the write "succeeds". */
static const char *const readonly_proc_files[] = {
    "proc/sysrq-trigger",
};

static bool
path_exists_in_root(int rootfd, const char *path)
{
    int fd = sys_openat2(rootfd, path, O_PATH | O_CLOEXEC, RESOLVE_IN_ROOT);

    if (fd < 0)
        return false;
    close(fd);
    return true;
}

bool
vsb_ctl_mounts_setup_proc(const VsbCtlChildConfig *cfg, int rootfd, GError **error)
{
    if (!vsb_ctl_mount_fs_at(rootfd, "proc", "proc", NULL,
                             MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, error))
        return false;
    for (size_t i = 0; i < G_N_ELEMENTS(readonly_proc); i++) {
        g_auto(VsbFd) mfd = -1;
        if (!path_exists_in_root(rootfd, readonly_proc[i]))
            continue;
        mfd = clone_tree(rootfd, readonly_proc[i], true, true, error);
        if (mfd < 0 || !vsb_ctl_attach_in_root(mfd, rootfd, readonly_proc[i], false, error))
            return false;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(readonly_proc_files); i++) {
        const char *f = readonly_proc_files[i];
        if (path_exists_in_root(rootfd, f) &&
            !vsb_ctl_bind_at(rootfd, f, rootfd, f, false, true, error))
            return false;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(masked_files); i++) {
        if (!path_exists_in_root(rootfd, masked_files[i]))
            continue;
        if (!vsb_ctl_bind_at(rootfd, "dev/null", rootfd, masked_files[i], false, true, error))
            return false;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(masked_dirs); i++) {
        const char *opts[] = { "size=0", "mode=0555", NULL };
        if (!path_exists_in_root(rootfd, masked_dirs[i]))
            continue;
        if (!vsb_ctl_mount_fs_at(rootfd, masked_dirs[i], "tmpfs", opts,
                                 MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                 MOUNT_ATTR_NOEXEC, error))
            return false;
    }
    return true;
}

/* The container's init, as resolved in its root, is systemd (Debian's
 * /sbin/init is a symlink to it). */
bool
vsb_ctl_mounts_init_is_systemd(const VsbCtlChildConfig *cfg, int rootfd)
{
    g_auto(VsbFd) fd = sys_openat2(rootfd, cfg->def->init ? cfg->def->init : "/sbin/init",
                                   O_PATH | O_CLOEXEC, RESOLVE_IN_ROOT);
    g_autofree char *link = NULL;
    g_autofree char *path = NULL;
    g_autofree char *base = NULL;

    if (fd < 0)
        return false;   /* child_exec() reports a missing init */
    link = g_strdup_printf("/proc/self/fd/%d", (int)fd);
    if (!(path = g_file_read_link(link, NULL)))
        return false;
    base = g_path_get_basename(path);
    return g_str_equal(base, "systemd");
}

/* The hierarchies systemd keeps its own tree of cgroups in: the named
 * "systemd" one of a v1 or hybrid host, and the v2 one.  Neither holds
 * a limit of the host's (the v2 one of a hybrid host at most the
 * controllers no v1 hierarchy took, which stay off below the payload). */
static bool
hierarchy_is_systemds(const VsbCgroupHierarchy *h)
{
    if (h->version == VSB_CGROUP_VERSION_2)
        return true;
    return h->mount_options && g_str_equal(h->mount_options, "name=systemd");
}

/* The container's view of its cgroups: each hierarchy mounted again
 * from inside the cgroup namespace, so its root is the container's own
 * cgroup and nothing of the host's tree above it is reachable.
 * Read-only: the limits are the host's to change; except, when init is
 * systemd, the hierarchies it tracks its units in: it cannot start
 * without creating cgroups there, and what it sees of them is only the
 * container's own subtree. */
static bool
setup_cgroups(const VsbCtlChildConfig *cfg, int rootfd, GError **error)
{
    const unsigned int attrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                               MOUNT_ATTR_NOEXEC;
    bool tmpfs_needed = false;
    bool systemd = vsb_ctl_mounts_init_is_systemd(cfg, rootfd);
    g_auto(VsbFd) tmpfd = -1;

    if (!cfg->hierarchies)
        return true;
    for (guint i = 0; i < cfg->hierarchies->len; i++) {
        VsbCgroupHierarchy *h = g_ptr_array_index(cfg->hierarchies, i);
        if (!g_str_equal(h->mount_point, "/sys/fs/cgroup"))
            tmpfs_needed = true;
    }
    if (tmpfs_needed) {
        const char *opts[] = { "mode=0755", "size=64k", NULL };
        if (!vsb_ctl_mount_fs_at(rootfd, "sys/fs/cgroup", "tmpfs", opts,
                                 MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, error))
            return false;
    }
    for (guint i = 0; i < cfg->hierarchies->len; i++) {
        VsbCgroupHierarchy *h = g_ptr_array_index(cfg->hierarchies, i);
        g_autofree char *target = NULL;
        g_auto(GStrv) opts = NULL;
        const char *fstype = h->version == VSB_CGROUP_VERSION_2 ? "cgroup2" : "cgroup";

        if (!g_str_has_prefix(h->mount_point, "/sys/fs/cgroup"))
            continue;
        target = g_strdup(h->mount_point + 1);
        opts = h->version == VSB_CGROUP_VERSION_1 && h->mount_options && h->mount_options[0]
            ? g_strsplit(h->mount_options, ",", -1) : g_new0(char *, 1);
        if (!vsb_ctl_mount_fs_at(rootfd, target, fstype, (const char *const *)opts,
                                 systemd && hierarchy_is_systemds(h)
                                 ? attrs & ~MOUNT_ATTR_RDONLY : attrs, error))
            return false;
    }
    if (tmpfs_needed) {
        tmpfd = vsb_ctl_open_in_root(rootfd, "sys/fs/cgroup", false, false, error);
        if (tmpfd < 0)
            return false;
        /* Mounts made below it stay as they are: not recursive. */
        if (!set_readonly(tmpfd, false, "/sys/fs/cgroup", error))
            return false;
    }
    return true;
}

bool
vsb_ctl_mounts_setup_sys(const VsbCtlChildConfig *cfg, int rootfd, GError **error)
{
    if (!vsb_ctl_mount_fs_at(rootfd, "sys", "sysfs", NULL,
                             MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                             MOUNT_ATTR_NOEXEC, error))
        return false;
    return setup_cgroups(cfg, rootfd, error);
}

bool
vsb_ctl_mounts_pivot_root(int rootfd, GError **error)
{
    /* pivot_root(".", ".") stacks the old root on top of the new one;
     * detaching "." then drops the old root without needing a
     * directory to park it in. */
    if (fchdir(rootfd) < 0)
        return vsb_error_set_errno(error, errno, "Cannot enter the container root");
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        return vsb_error_set_errno(error, errno, "Cannot pivot_root into the container root");
    if (umount2(".", MNT_DETACH) < 0)
        return vsb_error_set_errno(error, errno, "Cannot detach the host's root");
    if (chdir("/") < 0)
        return vsb_error_set_errno(error, errno, "Cannot chdir to /");
    return true;
}
