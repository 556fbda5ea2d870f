/*
 * vsb-ctl-mounts.h: the container's filesystem tree (child side).
 *
 * Every mount is made with the new mount API (open_tree, fsopen,
 * fsmount, move_mount) and every target is resolved inside the
 * container root (openat2 RESOLVE_IN_ROOT), so a symlink in a
 * container's tree can never redirect a mount onto the host.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "vsb-ctl-child.h"

/* What must be taken from the host while the child still has the
 * host's identity: with a user namespace, the namespace's root may not
 * even be able to look up the host paths (a 0700 run directory, a
 * private source directory).  Detached mounts, attached later. */
typedef struct {
    int staging_fd;       /* O_PATH of the staging directory */
    int root_fd;          /* detached root tree */
    int *fs_fds;          /* per filesystem: detached tree, or -1 (made in the container) */
    guint n_fs;
} VsbCtlPremounts;

bool vsb_ctl_mounts_prepare(const VsbCtlChildConfig *cfg, VsbCtlPremounts *pre, GError **error);
void vsb_ctl_premounts_clear(VsbCtlPremounts *pre);

/* Attach the root on the staging directory; returns an O_PATH fd of
 * the new root or -1. */
int vsb_ctl_mounts_setup_root(const VsbCtlChildConfig *cfg, VsbCtlPremounts *pre, GError **error);

/* The other <filesystem> elements, in document order. */
bool vsb_ctl_mounts_setup_filesystems(const VsbCtlChildConfig *cfg, VsbCtlPremounts *pre,
                                      int rootfd, GError **error);

/* Open @path inside @rootfd with @flags (no creation). */
int vsb_ctl_openat_in_root(int rootfd, const char *path, int flags, GError **error);

/* /proc (with masked and read-only paths) and /sys (read-only, with
 * the container's own cgroups). /dev must exist first. */
bool vsb_ctl_mounts_setup_proc(const VsbCtlChildConfig *cfg, int rootfd, GError **error);
bool vsb_ctl_mounts_setup_sys(const VsbCtlChildConfig *cfg, int rootfd, GError **error);

/* Make @rootfd the root of the mount namespace; the old root is
 * detached. */
bool vsb_ctl_mounts_pivot_root(int rootfd, GError **error);
/* The init @cfg runs, resolved in @rootfd, is systemd. */
bool vsb_ctl_mounts_init_is_systemd(const VsbCtlChildConfig *cfg, int rootfd);

/* Helpers shared with the /dev setup. */
/* Open (O_PATH) @path inside @rootfd, creating missing directories and,
 * when @file is true, an empty file as the last component. */
int vsb_ctl_open_in_root(int rootfd, const char *path, bool create, bool file, GError **error);
/* Attach the detached mount @mntfd at @path inside @rootfd. */
bool vsb_ctl_attach_in_root(int mntfd, int rootfd, const char *path, bool file, GError **error);
/* A new detached filesystem: @opts is a NULL-terminated list of
 * "key" or "key=value" strings; @attrs are MOUNT_ATTR_* flags. */
int vsb_ctl_fs_new(const char *fstype, const char *const *opts, unsigned int attrs, GError **error);
/* Mount a fresh @fstype at @path in @rootfd. */
bool vsb_ctl_mount_fs_at(int rootfd, const char *path, const char *fstype,
                         const char *const *opts, unsigned int attrs, GError **error);
/* Bind (a clone of) @src at @path in @rootfd; @src is a host path, or
 * a path inside the container when @src_root >= 0. */
bool vsb_ctl_bind_at(int src_root, const char *src, int rootfd, const char *path,
                     bool recursive, bool readonly, GError **error);
