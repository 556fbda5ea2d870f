/*
 * vsb-driver-blkio.c: blkiotune, live (the payload's blkio / io
 * cgroup) and persistent: the domain weight and the per device
 * weights and throttles, devices named by their host path and
 * resolved to their numbers here.
 */
#include <config.h>

#include "vsb-cgroup-tune.h"
#include "vsb-driver-priv.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

/* ------------------------------------------------------------------ */
/* blkiotune                                                           */

static const char *const blkio_field_names[VSB_BLKIO_DEVICE_LAST] = {
    [VSB_BLKIO_DEVICE_WEIGHT] = "device_weight",
    [VSB_BLKIO_DEVICE_READ_IOPS] = "device_read_iops_sec",
    [VSB_BLKIO_DEVICE_WRITE_IOPS] = "device_write_iops_sec",
    [VSB_BLKIO_DEVICE_READ_BYTES] = "device_read_bytes_sec",
    [VSB_BLKIO_DEVICE_WRITE_BYTES] = "device_write_bytes_sec",
};

const char *
vsb_blkio_field_to_string(VsbBlkioField f)
{
    return f < VSB_BLKIO_DEVICE_LAST ? blkio_field_names[f] : NULL;
}

int
vsb_blkio_field_from_string(const char *s)
{
    for (int i = 0; i < VSB_BLKIO_DEVICE_LAST; i++) {
        if (g_str_equal(s, blkio_field_names[i]))
            return i;
    }
    return -1;
}

void
vsb_blkio_setting_free(VsbBlkioSetting *s)
{
    if (!s)
        return;
    g_free(s->path);
    g_free(s);
}

#define BLKIO_WEIGHT_MIN 100
#define BLKIO_WEIGHT_MAX 1000

/* The largest value of @field: libvirt keeps iops in an unsigned int. */
static unsigned long long
blkio_field_max(VsbBlkioField field)
{
    switch (field) {
    case VSB_BLKIO_DEVICE_WEIGHT:
        return BLKIO_WEIGHT_MAX;
    case VSB_BLKIO_DEVICE_READ_IOPS:
    case VSB_BLKIO_DEVICE_WRITE_IOPS:
        return G_MAXUINT;
    default:
        return G_MAXUINT64;
    }
}

bool
vsb_blkio_parse_list(const char *text, VsbBlkioField field, GPtrArray *out, GError **error)
{
    const char *name = vsb_blkio_field_to_string(field);
    g_auto(GStrv) parts = NULL;
    guint n;

    if (!*text)
        return true;
    parts = g_strsplit(text, ",", -1);
    n = g_strv_length(parts);
    if (n % 2 != 0) {
        vsb_driver_error(error, VSB_DRIVER_ERROR_INVALID_ARG,
                         "unable to parse blkio device '%s' '%s': expected path,value pairs",
                         name, text);
        return false;
    }
    for (guint i = 0; i < n; i += 2) {
        const char *path = parts[i], *num = parts[i + 1];
        unsigned long long v = 0;
        VsbBlkioSetting *s;
        char *end = NULL;

        if (path[0] != '/') {
            vsb_driver_error(error, VSB_DRIVER_ERROR_INVALID_ARG,
                             "blkio device path '%s' of '%s' is not absolute", path, name);
            return false;
        }
        errno = 0;
        if (g_ascii_isdigit(num[0]))
            v = g_ascii_strtoull(num, &end, 10);
        if (!end || *end || errno || v > blkio_field_max(field) ||
            (field == VSB_BLKIO_DEVICE_WEIGHT && v && v < BLKIO_WEIGHT_MIN)) {
            vsb_driver_error(error, VSB_DRIVER_ERROR_INVALID_ARG,
                             "invalid value '%s' for parameter '%s' of device '%s'%s", num,
                             name, path,
                             field == VSB_BLKIO_DEVICE_WEIGHT
                                 ? ": must be 0 (remove) or in range [100, 1000]" : "");
            return false;
        }
        s = g_new0(VsbBlkioSetting, 1);
        s->path = g_strdup(path);
        s->field = field;
        s->value = v;
        g_ptr_array_add(out, s);
    }
    return true;
}

static unsigned long long
device_get(const VsbDomainBlkioDevice *d, VsbBlkioField field)
{
    switch (field) {
    case VSB_BLKIO_DEVICE_WEIGHT: return d->weight;
    case VSB_BLKIO_DEVICE_READ_IOPS: return d->read_iops_sec;
    case VSB_BLKIO_DEVICE_WRITE_IOPS: return d->write_iops_sec;
    case VSB_BLKIO_DEVICE_READ_BYTES: return d->read_bytes_sec;
    case VSB_BLKIO_DEVICE_WRITE_BYTES: return d->write_bytes_sec;
    default: return 0;
    }
}

/* (@v fits: vsb_blkio_parse_list() bounds it by field) */
static void
device_set(VsbDomainBlkioDevice *d, VsbBlkioField field, unsigned long long v)
{
    switch (field) {
    case VSB_BLKIO_DEVICE_WEIGHT: d->weight = (unsigned int)v; break;
    case VSB_BLKIO_DEVICE_READ_IOPS: d->read_iops_sec = v; break;
    case VSB_BLKIO_DEVICE_WRITE_IOPS: d->write_iops_sec = v; break;
    case VSB_BLKIO_DEVICE_READ_BYTES: d->read_bytes_sec = v; break;
    case VSB_BLKIO_DEVICE_WRITE_BYTES: d->write_bytes_sec = v; break;
    default: break;
    }
}

char *
vsb_blkio_format_list(const VsbDomainDef *def, VsbBlkioField field)
{
    GString *s = g_string_new(NULL);

    for (guint i = 0; i < def->blkio_devices->len; i++) {
        const VsbDomainBlkioDevice *d = g_ptr_array_index(def->blkio_devices, i);
        unsigned long long v = device_get(d, field);

        if (v)
            g_string_append_printf(s, "%s%s,%llu", s->len ? "," : "", d->path, v);
    }
    return g_string_free(s, FALSE);
}

static VsbDomainBlkioDevice *
find_device(const VsbDomainDef *def, const char *path, guint *idx)
{
    for (guint i = 0; i < def->blkio_devices->len; i++) {
        VsbDomainBlkioDevice *d = g_ptr_array_index(def->blkio_devices, i);

        if (g_str_equal(d->path, path)) {
            if (idx)
                *idx = i;
            return d;
        }
    }
    return NULL;
}

/* Fold @bt into @def: a device gets an entry on its first non-zero
 * setting and loses it when nothing is left set. */
static void
blkiotune_to_def(const VsbBlkiotune *bt, VsbDomainDef *def)
{
    if (bt->set_weight)
        def->blkio_weight = bt->weight;
    for (guint i = 0; bt->devices && i < bt->devices->len; i++) {
        const VsbBlkioSetting *s = g_ptr_array_index(bt->devices, i);
        VsbDomainBlkioDevice *d = find_device(def, s->path, NULL);
        guint idx;

        if (!d) {
            if (!s->value)
                continue;
            d = g_new0(VsbDomainBlkioDevice, 1);
            d->path = g_strdup(s->path);
            g_ptr_array_add(def->blkio_devices, d);
        }
        device_set(d, s->field, s->value);
        if (!d->weight && !d->read_iops_sec && !d->write_iops_sec && !d->read_bytes_sec &&
            !d->write_bytes_sec && find_device(def, d->path, &idx))
            g_ptr_array_remove_index(def->blkio_devices, idx);
    }
}

/* The cgroup needs the device's numbers. */
static bool
resolve_device(const char *path, unsigned int *major_out, unsigned int *minor_out,
               GError **error)
{
    struct stat sb;

    if (stat(path, &sb) < 0) {
        int errsv = errno;
        vsb_driver_error(error, VSB_DRIVER_ERROR_INVALID_ARG, "cannot stat blkio device '%s': %s",
                         path, g_strerror(errsv));
        return false;
    }
    if (!S_ISBLK(sb.st_mode)) {
        vsb_driver_error(error, VSB_DRIVER_ERROR_INVALID_ARG,
                         "blkio device path '%s' is not a block device", path);
        return false;
    }
    *major_out = major(sb.st_rdev);
    *minor_out = minor(sb.st_rdev);
    return true;
}

/* Every device @bt names, as it stands in @want, into the cgroup
 * (whole: a throttle left 0 is removed there). */
static bool
apply_blkiotune(VsbDomain *dom, const VsbBlkiotune *bt, const VsbDomainDef *want,
                GError **error)
{
    g_autoptr(VsbCgroupPayload) p = NULL;
    GError *local = NULL;

    if (!(p = vsb_domain_open_payload(dom, error)))
        return false;
    if (bt->set_weight && !vsb_cgroup_payload_set_blkio_weight(p, bt->weight, &local))
        return vsb_driver_cgroup_failed(error, local, "Cannot set the blkio weight");
    for (guint i = 0; bt->devices && i < bt->devices->len; i++) {
        const VsbBlkioSetting *s = g_ptr_array_index(bt->devices, i);
        const VsbDomainBlkioDevice *d = find_device(want, s->path, NULL);
        VsbCgroupBlkioDevice cd = { 0 };
        g_autofree char *what = NULL;

        if (!resolve_device(s->path, &cd.major, &cd.minor, error))
            return false;
        if (d) {
            cd.weight = d->weight;
            cd.read_iops = d->read_iops_sec;
            cd.write_iops = d->write_iops_sec;
            cd.read_bps = d->read_bytes_sec;
            cd.write_bps = d->write_bytes_sec;
        }
        if (!vsb_cgroup_payload_set_blkio_device(p, &cd, &local)) {
            what = g_strdup_printf("Failed to set %s of '%s'",
                                   vsb_blkio_field_to_string(s->field), s->path);
            return vsb_driver_cgroup_failed(error, local, what);
        }
    }
    return true;
}

bool
vsb_driver_set_blkiotune(VsbDriver *drv, VsbDomain *dom, const VsbBlkiotune *bt, bool live,
                         bool config, GError **error)
{
    VsbDomainDef *new_live = NULL, *new_config = NULL;

    if (bt->set_weight && (bt->weight < BLKIO_WEIGHT_MIN || bt->weight > BLKIO_WEIGHT_MAX)) {
        vsb_driver_error(error, VSB_DRIVER_ERROR_INVALID_ARG,
                         "blkio weight %u must be in range [%d, %d]", bt->weight,
                         BLKIO_WEIGHT_MIN, BLKIO_WEIGHT_MAX);
        return false;
    }
    if (!vsb_domain_begin_change(dom, live, config, &new_live, &new_config, error))
        return false;
    if (new_config)
        blkiotune_to_def(bt, new_config);
    if (new_live) {
        blkiotune_to_def(bt, new_live);
        if (!apply_blkiotune(dom, bt, new_live, error)) {
            vsb_domain_def_free(new_live);
            vsb_domain_def_free(new_config);
            return false;
        }
    }
    return vsb_domain_commit_change(dom, new_live, new_config, error);
}
