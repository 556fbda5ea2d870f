/*
 * vsb-ctl-seccomp.h: the container's seccomp filter.
 *
 * One rule for now: syslog(2) fails with EPERM.  Its read actions
 * would show the host's kernel ring buffer (where dmesg_restrict is 0,
 * or to a container given CAP_SYSLOG), its others change the host's
 * console log level.  The container's own kernel log is its /dev/kmsg
 * (vsb-ctl-fuse.c), which util-linux's dmesg reads first; busybox's
 * dmesg, which only knows syslog(2), reports the EPERM.
 *
 * And sysinfo(2) is handed to the controller through a seccomp user
 * notification listener (vsb-ctl-sysinfo.h), where the kernel has them
 * (5.0); on older kernels it shows the host's figures.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

/* Child side, while it still has CAP_SYS_ADMIN: installed without
 * no_new_privs, so setuid programs keep working in the container. */
/* @sysinfo_fd: the sysinfo(2) listener for the controller, or -1 when
 * the kernel has no user notifications. */
bool vsb_ctl_seccomp_apply(int *sysinfo_fd, GError **error);
