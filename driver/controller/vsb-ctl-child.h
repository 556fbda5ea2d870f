/*
 * vsb-ctl-child.h: what runs in the container's first process, after
 * clone() and before exec() of init.
 *
 * Everything here runs in the new namespaces, with the host's mount
 * tree still visible until the root is pivoted.  It must not start
 * threads or touch the controller's main loop (none exists yet when
 * clone() happens: the controller is single-threaded until then).
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "vsb-domain-conf.h"

typedef struct {
    const VsbDomainDef *def;
    const char *staging;        /* host directory the root is mounted on */
    int sync_fd;                /* SOCK_SEQPACKET to the controller, close-on-exec */
    int root_mount_fd;          /* detached mount of an image root, or -1 */
    const int *fs_mount_fds;    /* per def->filesystems: detached mount or -1 */
    GPtrArray *hierarchies;     /* VsbCgroupHierarchy*, for /sys/fs/cgroup */
    bool userns;                /* a user namespace was requested (<idmap>) */
    bool console_raw;           /* no echo, no \n -> \r\n: output goes to a pipe */
    int syslog_fd;              /* datagram socket to bind on /dev/log, or -1 */
    int views_mount_fd;         /* detached mount of the /proc views, or -1 */
} VsbCtlChildConfig;

/* Messages on sync_fd.  The controller sends GO once the child is in
 * its cgroups and its id maps are written; the child sends CONSOLE with
 * the console's master fd, SYSINFO with the seccomp listener of
 * sysinfo(2) (vsb-ctl-sysinfo.h), then either ERROR or nothing: exec() closes
 * sync_fd and the controller reads EOF, meaning init is running. */
#define VSB_CTL_MSG_GO      "go"
#define VSB_CTL_MSG_CONSOLE "console"
#define VSB_CTL_MSG_ERROR   "error"   /* "error CODE MESSAGE" */
#define VSB_CTL_MSG_SYSINFO "sysinfo" /* with the sysinfo(2) listener */

/* Send @msg with @fd to the controller. */
bool vsb_ctl_child_send_fd(const VsbCtlChildConfig *cfg, const char *msg, int fd, GError **error);

/* The child's main: returns only on failure, with the exit code to
 * report (the error has been sent to the controller). */
int vsb_ctl_child_run(const VsbCtlChildConfig *cfg);
