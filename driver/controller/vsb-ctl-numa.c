/*
 * vsb-ctl-numa.c: the memory policy of <numatune> preferred and
 * interleave (see vsb-ctl-numa.h).  The raw system call, no libnuma: one
 * call does not warrant a library in the container's first process.
 */
#include <config.h>
#include "vsb-ctl-numa.h"
#include "vsb-util.h"

#include <errno.h>
#include <limits.h>
#include <linux/mempolicy.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define BITS_PER_LONG (8 * sizeof(unsigned long))

static bool
parse_node(const char *s, const char *whole, unsigned int *node, GError **error)
{
    guint64 v;

    if (!g_ascii_string_to_unsigned(s, 10, 0, VSB_NUMA_MAX_NODES - 1, &v, NULL)) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                    "Invalid NUMA node set '%s': '%s' is not a node number from 0 to %d",
                    whole, s, VSB_NUMA_MAX_NODES - 1);
        return false;
    }
    *node = (unsigned int)v;
    return true;
}

bool
vsb_ctl_numa_parse_nodeset(const char *nodeset, unsigned long *mask, size_t nbits,
                           guint *count, GError **error)
{
    g_auto(GStrv) ranges = g_strsplit(nodeset, ",", -1);

    memset(mask, 0, nbits / BITS_PER_LONG * sizeof(unsigned long));
    *count = 0;
    if (!nodeset[0]) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "Invalid NUMA node set: it is empty");
        return false;
    }
    for (guint i = 0; ranges[i]; i++) {
        g_auto(GStrv) ends = g_strsplit(ranges[i], "-", 2);
        unsigned int lo, hi;

        if (!parse_node(ends[0] ? ends[0] : "", nodeset, &lo, error) ||
            !parse_node(ends[1] ? ends[1] : ends[0], nodeset, &hi, error))
            return false;
        if (lo > hi) {
            g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                        "Invalid NUMA node set '%s': range '%s' runs backwards",
                        nodeset, ranges[i]);
            return false;
        }
        if (hi >= nbits) {
            g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                        "Invalid NUMA node set '%s': node %u is beyond %zu", nodeset, hi,
                        nbits - 1);
            return false;
        }
        for (unsigned int n = lo; n <= hi; n++) {
            if (!(mask[n / BITS_PER_LONG] & (1UL << (n % BITS_PER_LONG))))
                (*count)++;
            mask[n / BITS_PER_LONG] |= 1UL << (n % BITS_PER_LONG);
        }
    }
    return true;
}

bool
vsb_ctl_numa_apply(const VsbDomainDef *def, GError **error)
{
    unsigned long mask[VSB_NUMA_MAX_NODES / BITS_PER_LONG];
    guint count = 0;
    int mode;
    int errsv;

    if (!def->numa_nodeset)
        return true;
    switch (def->numa_mode) {
    case VSB_DOMAIN_NUMATUNE_PREFERRED:
        mode = MPOL_PREFERRED;
        break;
    case VSB_DOMAIN_NUMATUNE_INTERLEAVE:
        mode = MPOL_INTERLEAVE;
        break;
    default:
        return true;    /* cpuset.mems, set with the cgroups */
    }
    if (!vsb_ctl_numa_parse_nodeset(def->numa_nodeset, mask, VSB_NUMA_MAX_NODES, &count, error))
        return false;
    /* MPOL_PREFERRED takes the first node of the mask only: say so
     * rather than silently ignore the others (as libvirt does). */
    if (mode == MPOL_PREFERRED && count != 1) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                    "<numatune> mode 'preferred' takes one node, not '%s'", def->numa_nodeset);
        return false;
    }
    /* The kernel reads maxnode - 1 bits (a historical off by one). */
    if (syscall(SYS_set_mempolicy, mode, mask, (unsigned long)VSB_NUMA_MAX_NODES + 1) == 0)
        return true;
    errsv = errno;
    return vsb_error_set_errno(error, errsv, "Cannot set the %s memory policy on NUMA nodes %s%s",
                               mode == MPOL_PREFERRED ? "preferred" : "interleave",
                               def->numa_nodeset,
                               errsv == EINVAL ? " (is each node online on this host?)" : "");
}
