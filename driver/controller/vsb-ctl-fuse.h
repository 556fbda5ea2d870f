/*
 * vsb-ctl-fuse.h: the container's /proc views and /dev/kmsg, as a FUSE
 * file system served by the container's own controller.
 *
 * One flat directory: meminfo, stat, cpuinfo, loadavg, diskstats,
 * swaps, cpu-online, pressure-{cpu,memory,io,irq} (where the container
 * has cgroup v2 pressure files) and kmsg.  The controller mounts it,
 * detached, before clone(); the child binds each file over the real
 * one (/proc/meminfo, /sys/devices/system/cpu/online, /proc/pressure/io,
 * /dev/kmsg, ...) before pivot_root(); the mount itself is nowhere in
 * the container's tree.  Mounted by the host's root, in the host's user
 * namespace, for every container: the child could not open /dev/fuse
 * once in the payload cgroup (its device filter has no FUSE, and should
 * not), and a FUSE mount must be made in the user namespace that opened
 * /dev/fuse.  So requests carry host pids and uids; the files' owner is
 * the host uid of the container's root.
 *
 * Why the controller and not a shared server (lxcfs): the container
 * dies with its controller anyway (PR_SET_PDEATHSIG), so no view can
 * outlive its server and leave a dead mount; the daemon is not
 * involved, so restarting it leaves every view working.  No thread and
 * no extra process: the /dev/fuse fd is one more source of the
 * controller's main loop, and requests are answered in order, each
 * without waiting on anything (a blocking read of /dev/kmsg is parked
 * and answered when a record arrives).
 *
 * Speed: a view is rendered when it is opened and reads are served
 * from that text, with direct I/O (no stale page cache), attributes
 * and names cached by the kernel for a day (they never change), and
 * no FLUSH round trip: an open-read-close is OPEN, READ, READ (EOF),
 * plus a RELEASE the reader does not wait for.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

#include "vsb-ctl-child.h"
#include "vsb-ctl-kmsg.h"
#include "vsb-ctl-procsrc.h"

/* ---- child side ---- */

/* Bind each view of the detached mount @mount_fd over its file in the
 * container root @rootfd (/proc, /sys and /dev mounted). */
bool vsb_ctl_fuse_mount_views(int mount_fd, int rootfd, GError **error);

/* ---- controller side ---- */

typedef struct _VsbCtlFuse VsbCtlFuse;

/* A process of the container wrote @text to /dev/kmsg (already in the
 * ring): @pid as the host numbers it. */
typedef void (*VsbCtlFuseKmsgFn)(gpointer opaque, pid_t pid, int pri, const char *text);

/* Open /dev/fuse, mount the views detached and get ready to serve
 * them; the files belong to @uid:@gid (host ids of the container's
 * root).  NULL without @error set when the host has no FUSE: the
 * container then sees the host's files. */
VsbCtlFuse *vsb_ctl_fuse_new(VsbCtlProcSrc *src, VsbKmsg *kmsg, uid_t uid, gid_t gid,
                             VsbCtlFuseKmsgFn on_kmsg, gpointer opaque, GError **error);

/* The detached mount, for the child (close-on-exec). */
int vsb_ctl_fuse_mount_fd(VsbCtlFuse *fs);

/* The child has bound the views (or failed): our reference goes. */
void vsb_ctl_fuse_release_mount(VsbCtlFuse *fs);

/* The connection's fd, to poll; -1 once it is closed. */
int vsb_ctl_fuse_fd(VsbCtlFuse *fs);

/* Answer what the kernel has queued, without blocking (before the main
 * loop runs, while the child binds the views). */
void vsb_ctl_fuse_process(VsbCtlFuse *fs);

/* From now on, serve from the default main context. */
void vsb_ctl_fuse_attach(VsbCtlFuse *fs);

/* The kmsg ring has new records: answer waiting readers and pollers. */
void vsb_ctl_fuse_kmsg_changed(VsbCtlFuse *fs);

void vsb_ctl_fuse_free(VsbCtlFuse *fs);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbCtlFuse, vsb_ctl_fuse_free)
