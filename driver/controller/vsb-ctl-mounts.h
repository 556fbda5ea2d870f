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

/* Mount the root (host dir, image, or the host's / read-only) on
 * cfg->staging; returns an O_PATH fd of the new root or -1. */
int vsb_ctl_mounts_setup_root(const VsbCtlChildConfig *cfg, GError **error);

/* The other <filesystem> elements, parents before children. */
bool vsb_ctl_mounts_setup_filesystems(const VsbCtlChildConfig *cfg, int rootfd, GError **error);

/* /proc (with masked and read-only paths) and /sys (read-only, with
 * the container's own cgroups). /dev must exist first. */
bool vsb_ctl_mounts_setup_proc(const VsbCtlChildConfig *cfg, int rootfd, GError **error);
bool vsb_ctl_mounts_setup_sys(const VsbCtlChildConfig *cfg, int rootfd, GError **error);

/* Make @rootfd the root of the mount namespace; the old root is
 * detached. */
bool vsb_ctl_mounts_pivot_root(int rootfd, GError **error);

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
/* Bind (a clone of) @src at @path in @rootfd. */
bool vsb_ctl_bind_at(const char *src, int rootfd, const char *path, bool recursive,
                     bool readonly, GError **error);
