/*
 * vsb-cgroup-limits.h: limits written to one payload directory, as
 * cgroup v1 or v2 spells them.  Shared by the controller at start
 * (vsb-cgroup.c) and the daemon live (vsb-cgroup-tune.c), so both write
 * the same files the same way.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "vsb-cgroup.h"

G_BEGIN_DECLS

/* libvirt's blkio weight range (<blkiotune><weight>, CFQ's scale,
 * default 500). */
#define VSB_CGROUP_BLKIO_WEIGHT_MIN 10
#define VSB_CGROUP_BLKIO_WEIGHT_MAX 1000

/* The domain's I/O weight (libvirt scale) in @dir: v1 blkio.weight
 * (CFQ) and blkio.bfq.weight, v2 io.weight (converted, see
 * vsb_cgroup_blkio_weight_to_io_weight()) and io.bfq.weight: every one
 * that exists, since the device's scheduler decides which counts.
 * Fails naming the files when none exists. */
bool vsb_cgroup_dir_set_blkio_weight(const char *dir, bool v2, unsigned int weight,
                                     GError **error);

/* One device's weight (0 = leave) and throttles (0 = none: removes
 * it): v1 blkio.{,bfq.}weight_device and blkio.throttle.*_device,
 * v2 io.weight / io.bfq.weight "MAJ:MIN W" and io.max. */
bool vsb_cgroup_dir_set_blkio_device(const char *dir, bool v2, const VsbCgroupBlkioDevice *dev,
                                     GError **error);

/* pids.max (same file on v1 and v2); VSB_CGROUP_UNLIMITED (G_MAXUINT64)
 * writes "max". */
bool vsb_cgroup_dir_set_pids_max(const char *dir, guint64 max, GError **error);

/* v1 only: TCP socket buffers are charged apart from
 * memory.limit_in_bytes, in memory.kmem.tcp.*; give them the hard limit
 * too (G_MAXUINT64: unlimited).  Nothing to do when the file is absent
 * (v2, whose memory.max covers sockets). */
bool vsb_cgroup_dir_set_kmem_tcp(const char *dir, guint64 bytes, GError **error);

G_END_DECLS
