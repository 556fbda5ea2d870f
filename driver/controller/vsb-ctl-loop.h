/*
 * vsb-ctl-loop.h: image files on loop devices, mounted from the host side.
 *
 * Runs in the controller, before clone(): the filesystem is mounted as
 * a detached mount (fsopen/fsmount) whose fd the container's setup code
 * attaches with move_mount().  Doing it here keeps the privileged part
 * (loop ioctls, mounting a block filesystem) in the init user namespace,
 * so it works when the container has a user namespace of its own.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

typedef struct {
    char *image;        /* the image file */
    char *loop_dev;     /* /dev/loopN it is attached to */
    int mount_fd;       /* detached mount (fsmount), -1 once handed over */
} VsbCtlLoopMount;

/* Probe @image for a filesystem, attach it to a free loop device with
 * autoclear (the device detaches itself when the last mount goes) and
 * mount it detached.  Errors name the image. */
VsbCtlLoopMount *vsb_ctl_loop_mount(const char *image, bool readonly, GError **error);

/* Which filesystem the first bytes of an image hold ("ext4", "xfs",
 * "btrfs", "squashfs"), or NULL.  Pure; @buf holds at least the first
 * 68 KiB of the image or all of it. */
const char *vsb_ctl_loop_probe_fstype(const unsigned char *buf, size_t len);

/* Close the mount fd; afterwards wait (bounded) until the loop device
 * has detached itself, and force the detach if it did not. */
void vsb_ctl_loop_release(VsbCtlLoopMount *lm);
void vsb_ctl_loop_mount_free(VsbCtlLoopMount *lm);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbCtlLoopMount, vsb_ctl_loop_mount_free)
