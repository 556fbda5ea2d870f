/*
 * vsb-ctl-loop.c: image files on loop devices, mounted from the host side.
 */
#include <config.h>

#include "vsb-ctl-loop.h"
#include "vsb-util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROBE_LEN (68 * 1024)

const char *
vsb_ctl_loop_probe_fstype(const unsigned char *buf, size_t len)
{
    /* ext2/3/4: superblock at 1024, s_magic 0xEF53 (little endian) at +56 */
    if (len >= 1082 && buf[1080] == 0x53 && buf[1081] == 0xEF)
        return "ext4";
    if (len >= 4 && memcmp(buf, "XFSB", 4) == 0)
        return "xfs";
    if (len >= 4 && memcmp(buf, "hsqs", 4) == 0)
        return "squashfs";
    /* btrfs: primary superblock at 64 KiB, magic at +0x40 */
    if (len >= 65536 + 0x48 && memcmp(buf + 65536 + 0x40, "_BHRfS_M", 8) == 0)
        return "btrfs";
    return NULL;
}

static bool
probe_image(const char *image, int fd, const char **fstype, GError **error)
{
    g_autofree unsigned char *buf = g_malloc0(PROBE_LEN);
    ssize_t n;

    n = pread(fd, buf, PROBE_LEN, 0);
    if (n < 0)
        return vsb_error_set_errno(error, errno, "Cannot read image file %s", image);
    *fstype = vsb_ctl_loop_probe_fstype(buf, n);
    if (!*fstype) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                    "Image file %s is not a raw image of a filesystem we can mount "
                    "(no ext2/3/4, xfs, btrfs or squashfs superblock)", image);
        return false;
    }
    return true;
}

/* Attach @imgfd to a free loop device.  LOOP_CTL_GET_FREE and
 * LOOP_CONFIGURE race with other users of loop devices: a device found
 * free may be taken before we configure it (EBUSY), so retry. */
static int
attach_loop(const char *image, int imgfd, bool readonly, char **devpath, GError **error)
{
    g_auto(VsbFd) ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
    struct loop_config cfg = { 0 };

    if (ctl < 0) {
        vsb_error_set_errno(error, errno, "Cannot open /dev/loop-control (loop module missing?)");
        return -1;
    }
    cfg.fd = imgfd;
    cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR | (readonly ? LO_FLAGS_READ_ONLY : 0);
    g_strlcpy((char *)cfg.info.lo_file_name, image, sizeof(cfg.info.lo_file_name));

    for (int attempt = 0; attempt < 64; attempt++) {
        int nr = ioctl(ctl, LOOP_CTL_GET_FREE);
        g_autofree char *path = NULL;
        int fd;

        if (nr < 0) {
            vsb_error_set_errno(error, errno, "Cannot find a free loop device for %s", image);
            return -1;
        }
        path = g_strdup_printf("/dev/loop%d", nr);
        fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
        if (fd < 0) {
            vsb_error_set_errno(error, errno, "Cannot open %s for %s", path, image);
            return -1;
        }
        if (ioctl(fd, LOOP_CONFIGURE, &cfg) == 0) {
            *devpath = g_steal_pointer(&path);
            return fd;
        }
        if (errno != EBUSY) {
            vsb_error_set_errno(error, errno, "Cannot attach %s to %s", image, path);
            close(fd);
            return -1;
        }
        close(fd);
    }
    g_set_error(error, VSB_ERROR, VSB_ERROR_FAILED,
                "Cannot attach %s: every free loop device was taken by others", image);
    return -1;
}

/* The kernel explains fsconfig() failures in a log read from the fs
 * context fd ("e ext4: ..." lines); add that to the error. */
static char *
fs_context_log(int fsfd)
{
    g_autoptr(GString) log = g_string_new(NULL);
    char buf[512];
    ssize_t n;

    while ((n = read(fsfd, buf, sizeof(buf) - 1)) > 0) {
        buf[n] = '\0';
        g_strchomp(buf);
        if (log->len)
            g_string_append(log, "; ");
        g_string_append(log, buf[1] == ' ' ? buf + 2 : buf);
    }
    return log->len ? g_string_free(g_steal_pointer(&log), FALSE) : NULL;
}

static int
mount_detached(const char *image, const char *dev, const char *fstype,
               bool readonly, GError **error)
{
    g_auto(VsbFd) fsfd = fsopen(fstype, FSOPEN_CLOEXEC);
    int mfd;

    if (fsfd < 0) {
        vsb_error_set_errno(error, errno, "Cannot mount %s: filesystem %s", image, fstype);
        return -1;
    }
    if (fsconfig(fsfd, FSCONFIG_SET_STRING, "source", dev, 0) < 0 ||
        (readonly && fsconfig(fsfd, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0) ||
        fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
        int errsv = errno;
        g_autofree char *log = fs_context_log(fsfd);
        vsb_error_set_errno(error, errsv, "Cannot mount %s filesystem of %s (on %s)%s%s",
                            fstype, image, dev, log ? ": " : "", log ? log : "");
        return -1;
    }
    mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV | (readonly ? MOUNT_ATTR_RDONLY : 0));
    if (mfd < 0) {
        vsb_error_set_errno(error, errno, "Cannot mount %s filesystem of %s", fstype, image);
        return -1;
    }
    return mfd;
}

VsbCtlLoopMount *
vsb_ctl_loop_mount(const char *image, bool readonly, GError **error)
{
    g_autoptr(VsbCtlLoopMount) lm = g_new0(VsbCtlLoopMount, 1);
    g_auto(VsbFd) imgfd = -1;
    g_auto(VsbFd) loopfd = -1;
    const char *fstype = NULL;
    struct stat st;

    lm->mount_fd = -1;
    lm->image = g_strdup(image);
    imgfd = open(image, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (imgfd < 0) {
        vsb_error_set_errno(error, errno, "Cannot open image file %s", image);
        return NULL;
    }
    if (fstat(imgfd, &st) < 0) {
        vsb_error_set_errno(error, errno, "Cannot stat image file %s", image);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                    "Image file %s is not a regular file", image);
        return NULL;
    }
    if (!probe_image(image, imgfd, &fstype, error))
        return NULL;
    loopfd = attach_loop(image, imgfd, readonly, &lm->loop_dev, error);
    if (loopfd < 0)
        return NULL;
    lm->mount_fd = mount_detached(image, lm->loop_dev, fstype, readonly, error);
    /* Closing loopfd now is fine: with autoclear the device stays
     * attached while the mounted filesystem holds it, and detaches
     * itself when the last mount of it goes (or right now, when
     * mounting failed). */
    if (lm->mount_fd < 0)
        return NULL;
    return g_steal_pointer(&lm);
}

static bool
loop_attached(const char *dev)
{
    g_autofree char *path = g_strdup_printf("/sys/block/%s/loop/backing_file", dev + strlen("/dev/"));

    return access(path, F_OK) == 0;
}

void
vsb_ctl_loop_release(VsbCtlLoopMount *lm)
{
    if (lm->mount_fd >= 0) {
        close(lm->mount_fd);
        lm->mount_fd = -1;
    }
    if (!lm->loop_dev)
        return;
    /* The container's mount namespace is freed asynchronously after
     * its last process exits; give autoclear a moment. */
    for (int i = 0; i < 200 && loop_attached(lm->loop_dev); i++)
        g_usleep(10 * 1000);
    if (loop_attached(lm->loop_dev)) {
        g_auto(VsbFd) fd = open(lm->loop_dev, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || ioctl(fd, LOOP_CLR_FD) < 0)
            g_printerr("virt-sandbox-controller: warning: cannot detach %s (%s): %s, ignoring\n",
                       lm->loop_dev, lm->image, g_strerror(errno));
    }
    g_clear_pointer(&lm->loop_dev, g_free);
}

void
vsb_ctl_loop_mount_free(VsbCtlLoopMount *lm)
{
    if (!lm)
        return;
    if (lm->mount_fd >= 0)
        close(lm->mount_fd);
    g_free(lm->image);
    g_free(lm->loop_dev);
    g_free(lm);
}
