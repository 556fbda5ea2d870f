/*
 * vsb-ctl-numa.h: <numatune> modes the cpuset controller cannot give.
 *
 * strict and restrictive confine the container's memory to the nodes
 * (cpuset.mems, set with its cgroups); preferred and interleave are a
 * memory policy instead, set on the container's first process before
 * it execs init: children inherit it across fork() and execve().
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "vsb-domain-conf.h"

G_BEGIN_DECLS

/* Largest node number + 1 we take: the kernel's MAX_NUMNODES at most
 * (CONFIG_NODES_SHIFT 10). */
#define VSB_NUMA_MAX_NODES 1024

/* Pure: "0-2,5" into a bit mask of @nbits bits (@mask holds
 * nbits / (8 * sizeof(long)) longs, cleared first); *count = nodes set. */
bool vsb_ctl_numa_parse_nodeset(const char *nodeset, unsigned long *mask, size_t nbits,
                                guint *count, GError **error);

/* In the container's first process: set_mempolicy(2) for preferred
 * (one node) and interleave; nothing for other modes or no nodeset. */
bool vsb_ctl_numa_apply(const VsbDomainDef *def, GError **error);

G_END_DECLS
