/*
 * vsb-cgroup-limits.c: limits written to one payload directory (see
 * vsb-cgroup-limits.h).  Kernel facts this relies on:
 *
 * - Proportional I/O weights are the I/O scheduler's business: CFQ
 *   (gone since Linux 5.0) read v1 blkio.weight, BFQ reads
 *   blkio.bfq.weight / io.bfq.weight, v2's io.weight is iocost's.  A
 *   file exists when its policy is built in, but a per device weight
 *   is refused (EOPNOTSUPP) unless that device runs the scheduler.
 * - v1 blkio.throttle.*_device take "MAJ:MIN N", N = 0 removing the
 *   rule; v2 io.max takes "MAJ:MIN rbps=N wbps=N riops=N wiops=N",
 *   "max" removing.
 * - v1 memory.kmem.tcp.limit_in_bytes: socket buffers are charged to
 *   the memcg only once a limit was written (the write turns TCP
 *   accounting on for the cgroup).
 */
#include <config.h>
#include "vsb-cgroup-limits.h"
#include "vsb-util.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static bool
exists_at(const char *dir, const char *name)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);

    return access(path, F_OK) == 0;
}

static bool
check_weight(unsigned int weight, GError **error)
{
    if (weight >= VSB_CGROUP_BLKIO_WEIGHT_MIN && weight <= VSB_CGROUP_BLKIO_WEIGHT_MAX)
        return true;
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "Invalid I/O weight %u: expected %u to %u", weight,
                VSB_CGROUP_BLKIO_WEIGHT_MIN, VSB_CGROUP_BLKIO_WEIGHT_MAX);
    return false;
}

/* The weight files of @dir and what each takes from libvirt's scale:
 * BFQ's range (1..1000, 1..10000 since Linux 5.15) holds libvirt's as
 * is, as libvirt writes it; iocost's io.weight is converted. */
typedef struct {
    const char *name;
    bool convert;
} WeightFile;

static const WeightFile v1_weight_files[] = {
    { "blkio.weight", false },
    { "blkio.bfq.weight", false },
};
static const WeightFile v2_weight_files[] = {
    { "io.weight", true },
    { "io.bfq.weight", false },
};

static const WeightFile *
weight_files(bool v2, size_t *n)
{
    *n = v2 ? G_N_ELEMENTS(v2_weight_files) : G_N_ELEMENTS(v1_weight_files);
    return v2 ? v2_weight_files : v1_weight_files;
}

static unsigned int
scaled(const WeightFile *f, unsigned int weight)
{
    return f->convert ? (unsigned int)vsb_cgroup_blkio_weight_to_io_weight(weight) : weight;
}

bool
vsb_cgroup_dir_set_blkio_weight(const char *dir, bool v2, unsigned int weight, GError **error)
{
    size_t n;
    const WeightFile *files = weight_files(v2, &n);
    bool found = false;

    if (!check_weight(weight, error))
        return false;
    for (size_t i = 0; i < n; i++) {
        g_autofree char *v = NULL;

        if (!exists_at(dir, files[i].name))
            continue;
        found = true;
        /* "default N": the weight of devices without one of their own
         * (v1 takes a bare number). */
        v = g_strdup_printf(v2 ? "default %u" : "%u", scaled(&files[i], weight));
        if (!vsb_file_write_str_at(dir, files[i].name, v, error)) {
            g_prefix_error(error, "Cannot set the I/O weight: ");
            return false;
        }
    }
    if (!found) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
                    "I/O weight is not available: neither %s nor %s exists in %s (%s)",
                    files[0].name, files[1].name, dir,
                    v2 ? "it needs the io controller with iocost or the BFQ I/O scheduler"
                       : "it needs the BFQ I/O scheduler");
        return false;
    }
    return true;
}

static bool
set_device_weight(const char *dir, bool v2, const VsbCgroupBlkioDevice *dev, GError **error)
{
    size_t n;
    const WeightFile *files = weight_files(v2, &n);
    bool found = false;

    if (!check_weight(dev->weight, error))
        return false;
    for (size_t i = 0; i < n; i++) {
        /* v1 keeps per device weights in a file of their own. */
        g_autofree char *name = v2 ? g_strdup(files[i].name)
                                   : g_strconcat(files[i].name, "_device", NULL);
        g_autofree char *v = NULL;
        g_autoptr(GError) local = NULL;

        if (!exists_at(dir, name))
            continue;
        found = true;
        v = g_strdup_printf("%u:%u %u", dev->major, dev->minor, scaled(&files[i], dev->weight));
        if (vsb_file_write_str_at(dir, name, v, &local))
            continue;
        if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_FAILED) ||
            g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOSYS)) {
            /* EOPNOTSUPP has no GFileError code of its own. */
            g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
                        "Cannot set the I/O weight of block device %u:%u: %s (the device's "
                        "I/O scheduler must be BFQ, see /sys/dev/block/%u:%u/queue/scheduler)",
                        dev->major, dev->minor, local->message, dev->major, dev->minor);
        } else {
            g_propagate_prefixed_error(error, g_steal_pointer(&local),
                                       "Cannot set the I/O weight of block device %u:%u: ",
                                       dev->major, dev->minor);
        }
        return false;
    }
    if (!found) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
                    "Per device I/O weight is not available: no %s in %s (%s)",
                    v2 ? "io.weight or io.bfq.weight" : "blkio.weight_device or "
                    "blkio.bfq.weight_device", dir, "it needs the BFQ I/O scheduler");
        return false;
    }
    return true;
}

static bool
set_device_throttles(const char *dir, bool v2, const VsbCgroupBlkioDevice *dev, GError **error)
{
    const struct {
        guint64 value;
        const char *v1_file;
        const char *v2_key;
    } t[] = {
        { dev->read_bps, "blkio.throttle.read_bps_device", "rbps" },
        { dev->write_bps, "blkio.throttle.write_bps_device", "wbps" },
        { dev->read_iops, "blkio.throttle.read_iops_device", "riops" },
        { dev->write_iops, "blkio.throttle.write_iops_device", "wiops" },
    };

    if (v2) {
        g_autoptr(GString) v = g_string_new(NULL);

        g_string_printf(v, "%u:%u", dev->major, dev->minor);
        for (guint i = 0; i < G_N_ELEMENTS(t); i++) {
            if (t[i].value)
                g_string_append_printf(v, " %s=%" G_GUINT64_FORMAT, t[i].v2_key, t[i].value);
            else
                g_string_append_printf(v, " %s=max", t[i].v2_key);
        }
        if (!exists_at(dir, "io.max")) {
            g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
                        "I/O throttling is not available: no io.max in %s "
                        "(the io controller is not enabled there)", dir);
            return false;
        }
        if (!vsb_file_write_str_at(dir, "io.max", v->str, error)) {
            g_prefix_error(error, "Cannot throttle block device %u:%u: ", dev->major, dev->minor);
            return false;
        }
        return true;
    }
    for (guint i = 0; i < G_N_ELEMENTS(t); i++) {
        g_autofree char *v = g_strdup_printf("%u:%u %" G_GUINT64_FORMAT,
                                             dev->major, dev->minor, t[i].value);

        if (!exists_at(dir, t[i].v1_file)) {
            g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
                        "I/O throttling is not available: no %s in %s "
                        "(the kernel lacks CONFIG_BLK_DEV_THROTTLING)", t[i].v1_file, dir);
            return false;
        }
        if (!vsb_file_write_str_at(dir, t[i].v1_file, v, error)) {
            g_prefix_error(error, "Cannot throttle block device %u:%u: ", dev->major, dev->minor);
            return false;
        }
    }
    return true;
}

bool
vsb_cgroup_dir_set_blkio_device(const char *dir, bool v2, const VsbCgroupBlkioDevice *dev,
                                GError **error)
{
    if (dev->weight && !set_device_weight(dir, v2, dev, error))
        return false;
    return set_device_throttles(dir, v2, dev, error);
}

bool
vsb_cgroup_dir_set_pids_max(const char *dir, guint64 max, GError **error)
{
    g_autofree char *v = max == G_MAXUINT64 ? g_strdup("max")
                                            : g_strdup_printf("%" G_GUINT64_FORMAT, max);

    if (max == 0) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                    "Invalid pids limit 0: the container needs at least its init");
        return false;
    }
    if (!vsb_file_write_str_at(dir, "pids.max", v, error)) {
        g_prefix_error(error, "Cannot set the pids limit: ");
        return false;
    }
    return true;
}

bool
vsb_cgroup_dir_set_kmem_tcp(const char *dir, guint64 bytes, GError **error)
{
    g_autofree char *v = NULL;

    if (!exists_at(dir, "memory.kmem.tcp.limit_in_bytes"))
        return true;
    v = bytes == G_MAXUINT64 ? g_strdup("-1") : g_strdup_printf("%" G_GUINT64_FORMAT, bytes);
    if (!vsb_file_write_str_at(dir, "memory.kmem.tcp.limit_in_bytes", v, error)) {
        g_prefix_error(error, "Cannot set the TCP buffer limit: ");
        return false;
    }
    return true;
}
