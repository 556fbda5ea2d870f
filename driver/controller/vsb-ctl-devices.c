/*
 * vsb-ctl-devices.c: the container's /dev.
 */
#include <config.h>

#include "vsb-ctl-devices.h"
#include "vsb-ctl-mounts.h"
#include "vsb-util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

typedef struct {
    const char *name;
    unsigned int major;
    unsigned int minor;
} DevNode;

static const DevNode dev_nodes[] = {
    { "null", 1, 3 },
    { "zero", 1, 5 },
    { "full", 1, 7 },
    { "random", 1, 8 },
    { "urandom", 1, 9 },
    { "tty", 5, 0 },
};

static const VsbCgroupDevice allowed[] = {
    { 'c', 1, 3, "rwm" },
    { 'c', 1, 5, "rwm" },
    { 'c', 1, 7, "rwm" },
    { 'c', 1, 8, "rwm" },
    { 'c', 1, 9, "rwm" },
    { 'c', 5, 0, "rwm" },     /* /dev/tty */
    { 'c', 5, 1, "rwm" },     /* /dev/console as the kernel names it */
    { 'c', 5, 2, "rwm" },     /* /dev/ptmx */
    { 'c', 136, VSB_CGROUP_DEVICE_ANY, "rwm" },  /* the private devpts' slaves */
};

const VsbCgroupDevice *
vsb_ctl_devices_allowed(size_t *n)
{
    *n = G_N_ELEMENTS(allowed);
    return allowed;
}

/* mknod() the node, or, where that is refused (a user namespace, or
 * a kernel that refuses device nodes on this tmpfs), bind the host's
 * node: what the device cgroup allows is the same either way. */
static bool
make_node(const VsbCtlChildConfig *cfg, int rootfd, int devfd, const DevNode *node,
          GError **error)
{
    g_autofree char *hostpath = g_strdup_printf("/dev/%s", node->name);
    g_autofree char *target = g_strdup_printf("dev/%s", node->name);

    if (!cfg->userns) {
        if (mknodat(devfd, node->name, S_IFCHR | 0666, makedev(node->major, node->minor)) == 0) {
            /* mknod is subject to the umask */
            if (fchmodat(devfd, node->name, 0666, 0) < 0)
                return vsb_error_set_errno(error, errno, "Cannot chmod /dev/%s", node->name);
            return true;
        }
        if (errno != EPERM)
            return vsb_error_set_errno(error, errno, "Cannot create /dev/%s", node->name);
    }
    return vsb_ctl_bind_at(-1, hostpath, rootfd, target, false, false, error);
}

bool
vsb_ctl_devices_setup(const VsbCtlChildConfig *cfg, int rootfd, GError **error)
{
    const char *dev_opts[] = { "mode=0755", "size=65536k", NULL };
    const char *shm_opts[] = { "mode=1777", NULL };
    const char *pts_opts[] = { "newinstance", "ptmxmode=0666", "mode=0620", NULL, NULL };
    static const char *const links[][2] = {
        { "fd", "/proc/self/fd" },
        { "stdin", "/proc/self/fd/0" },
        { "stdout", "/proc/self/fd/1" },
        { "stderr", "/proc/self/fd/2" },
        { "ptmx", "pts/ptmx" },
    };
    g_auto(VsbFd) devfd = -1;
    g_autoptr(GError) local = NULL;

    if (!vsb_ctl_mount_fs_at(rootfd, "dev", "tmpfs", dev_opts,
                             MOUNT_ATTR_NOSUID | MOUNT_ATTR_STRICTATIME, error))
        return false;
    {
        g_auto(VsbFd) pathfd = vsb_ctl_open_in_root(rootfd, "dev", false, false, error);
        if (pathfd < 0)
            return false;
        devfd = openat(pathfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (devfd < 0)
            return vsb_error_set_errno(error, errno, "Cannot open the container's /dev");
    }
    for (size_t i = 0; i < G_N_ELEMENTS(dev_nodes); i++) {
        if (!make_node(cfg, rootfd, devfd, &dev_nodes[i], error))
            return false;
    }
    /* gid=5 ("tty") only means something where gid 5 is mapped. */
    if (!cfg->userns)
        pts_opts[3] = "gid=5";
    if (!vsb_ctl_mount_fs_at(rootfd, "dev/pts", "devpts", pts_opts,
                             MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, error))
        return false;
    if (!vsb_ctl_mount_fs_at(rootfd, "dev/shm", "tmpfs", shm_opts,
                             MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, error))
        return false;
    /* mqueue belongs to the ipc namespace; not fatal where the kernel
     * lacks it. */
    if (!vsb_ctl_mount_fs_at(rootfd, "dev/mqueue", "mqueue", NULL,
                             MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, &local))
        g_clear_error(&local);
    for (size_t i = 0; i < G_N_ELEMENTS(links); i++) {
        if (symlinkat(links[i][1], devfd, links[i][0]) < 0)
            return vsb_error_set_errno(error, errno, "Cannot create /dev/%s", links[i][0]);
    }
    return true;
}
