/*
 * vsb-cgroup-bpf.h: the cgroup v2 device controller, which is not a
 * controller file but a BPF_PROG_TYPE_CGROUP_DEVICE program attached
 * to the cgroup.  Raw bpf(2), no libbpf.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

#include "vsb-cgroup.h"

G_BEGIN_DECLS

/* Check a device rule: type 'c' or 'b', a non-empty subset of "rwm",
 * major and minor within what dev_t holds.  VSB_ERROR_INVALID if not. */
bool vsb_cgroup_device_check(const VsbCgroupDevice *dev, GError **error);

/* Load a program that allows exactly @devices (with their access) and
 * denies every other device access.  Returns the program fd (O_CLOEXEC,
 * owned by the caller) or -1 with @error set. */
int vsb_cgroup_bpf_devices_load(const VsbCgroupDevice *devices, size_t ndevices,
                                GError **error);

/* Attach @prog_fd to the cgroup v2 directory @cgroup_dir with
 * BPF_F_ALLOW_MULTI: programs of ancestors keep running, and a device
 * access needs every one of them to allow it. */
bool vsb_cgroup_bpf_attach(int prog_fd, const char *cgroup_dir, GError **error);

/* Detach it again.  Removing the cgroup detaches it as well. */
bool vsb_cgroup_bpf_detach(int prog_fd, const char *cgroup_dir, GError **error);

G_END_DECLS
