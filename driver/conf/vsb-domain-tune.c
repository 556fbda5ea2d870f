/*
 * vsb-domain-tune.c: resource tuning in the domain XML, parsed and
 * formatted: <memory>, <currentMemory>, <blkiotune>, <memtune>,
 * <vcpu>, <cputune> and <numatune>.  What libvirt defines inside them
 * and we cannot honour in a container is rejected by name.
 *
 * Pure code like the rest of driver/conf: whether a <blkiotune> device
 * exists or a NUMA node is online is the controller's business, at
 * start time.
 */
#include <config.h>

#include "vsb-domain-tune.h"
#include "vsb-xml-util.h"

#include <limits.h>
#include <string.h>

/* CPU numbers in cpuset: the kernel's NR_CPUS ceiling. */
#define VSB_CPUSET_MAX 8192
/* NUMA node numbers in nodeset: the kernel's MAX_NUMNODES ceiling
 * (NODES_SHIFT is at most 10). */
#define VSB_NODESET_MAX 1024
/* cgroup v1 cpu.shares range; v2 weights are derived from it. */
#define VSB_CPU_SHARES_MAX 262144ULL
/* Blkio weights: 100..1000, what libvirt's schema and its LXC driver's
 * virDomainSetBlkioParameters accept (its documentation also mentions
 * 10..1000, which its own schema would then reject). */
#define VSB_BLKIO_WEIGHT_MIN 100ULL
#define VSB_BLKIO_WEIGHT_MAX 1000ULL

static const char *const numatune_mode_names[] = {
    [VSB_DOMAIN_NUMATUNE_STRICT] = "strict",
    [VSB_DOMAIN_NUMATUNE_PREFERRED] = "preferred",
    [VSB_DOMAIN_NUMATUNE_INTERLEAVE] = "interleave",
    [VSB_DOMAIN_NUMATUNE_RESTRICTIVE] = "restrictive",
};
G_STATIC_ASSERT(G_N_ELEMENTS(numatune_mode_names) == VSB_DOMAIN_NUMATUNE_LAST);

const char *
vsb_domain_numatune_mode_to_string(VsbDomainNumatuneMode m)
{
    return (unsigned)m < VSB_DOMAIN_NUMATUNE_LAST ? numatune_mode_names[m] : NULL;
}

int
vsb_domain_numatune_mode_from_string(const char *s)
{
    for (int i = 0; s && i < VSB_DOMAIN_NUMATUNE_LAST; i++) {
        if (strcmp(numatune_mode_names[i], s) == 0)
            return i;
    }
    return -1;
}

void
vsb_domain_blkio_device_free(VsbDomainBlkioDevice *d)
{
    if (!d)
        return;
    g_free(d->path);
    g_free(d);
}

/* ------------------------------------------------------------------ */
/* memory                                                             */

/* libvirt's unit rules: "b", "byte", "bytes"; otherwise a letter
 * k/m/g/t/p/e alone or followed by "iB" (powers of 1024) or by "B"
 * (powers of 1000); case does not matter. */
static bool
unit_scale(const char *unit, unsigned long long *scale)
{
    static const char prefixes[] = "kmgtpe";
    const char *p;
    unsigned long long base, s = 1;
    int power;

    if (!unit) {
        *scale = 1024;
        return true;
    }
    if (g_ascii_strcasecmp(unit, "b") == 0 ||
        g_ascii_strcasecmp(unit, "byte") == 0 ||
        g_ascii_strcasecmp(unit, "bytes") == 0) {
        *scale = 1;
        return true;
    }
    if (!unit[0] || !(p = strchr(prefixes, g_ascii_tolower(unit[0]))))
        return false;
    power = (int)(p - prefixes) + 1;
    if (unit[1] == '\0' || g_ascii_strcasecmp(unit + 1, "iB") == 0)
        base = 1024;
    else if (g_ascii_strcasecmp(unit + 1, "B") == 0)
        base = 1000;
    else
        return false;
    while (power--)
        s *= base;
    *scale = s;
    return true;
}

bool
vsb_domain_parse_scaled_kib(const char *value, const char *unit,
                            unsigned long long *kib, GError **error)
{
    unsigned long long v, scale, bytes;

    if (!unit_scale(unit, &scale)) {
        g_set_error(error, VSB_DOMAIN_CONF_ERROR, VSB_DOMAIN_CONF_ERROR_INVALID,
                    "unknown unit '%s'", unit);
        return false;
    }
    switch (vsb_parse_ull_full(value, ULLONG_MAX, &v)) {
    case VSB_PARSE_NUM_OK:
        break;
    case VSB_PARSE_NUM_OVERFLOW:
        g_set_error(error, VSB_DOMAIN_CONF_ERROR, VSB_DOMAIN_CONF_ERROR_INVALID,
                    "value '%s' is too large: it overflows 64 bits", value);
        return false;
    case VSB_PARSE_NUM_INVALID:
    default:
        g_set_error(error, VSB_DOMAIN_CONF_ERROR, VSB_DOMAIN_CONF_ERROR_INVALID,
                    "invalid value '%s': expected a non-negative integer",
                    value ? value : "");
        return false;
    }
    if (v > ULLONG_MAX / scale) {
        g_set_error(error, VSB_DOMAIN_CONF_ERROR, VSB_DOMAIN_CONF_ERROR_INVALID,
                    "value '%s %s' is too large: it overflows 64 bits of bytes",
                    value, unit ? unit : "KiB");
        return false;
    }
    bytes = v * scale;
    /* Round up: a limit must never end up smaller than asked for. */
    *kib = bytes / 1024 + (bytes % 1024 != 0);
    return true;
}

static bool
parse_memory_elem(xmlNode *node, unsigned long long *kib, GError **error)
{
    static const char *const allowed[] = { "unit", NULL };
    static const char *const unsupported[] = { "dumpCore", NULL };
    g_autofree char *unit = NULL;
    g_autofree char *value = NULL;

    if (!vsb_xml_check_attrs(node, allowed, unsupported, error) ||
        !vsb_xml_get_text(node, &value, error))
        return false;
    unit = vsb_xml_prop(node, "unit");
    if (!vsb_domain_parse_scaled_kib(value, unit, kib, error)) {
        g_prefix_error(error, "<%s>: ", VSB_CC(node->name));
        return false;
    }
    return true;
}

bool
vsb_domain_tune_parse_memory(xmlNode *node, VsbDomainDef *def, GError **error)
{
    return parse_memory_elem(node, &def->memory_kib, error);
}

bool
vsb_domain_tune_parse_current_memory(xmlNode *node, VsbDomainDef *def, GError **error)
{
    return parse_memory_elem(node, &def->current_memory_kib, error);
}

/* <memtune>: hard_limit, soft_limit, swap_hard_limit.  min_guarantee
 * has no cgroup counterpart we could honour (libvirt's LXC driver
 * refuses it too). */
bool
vsb_domain_tune_parse_memtune(xmlNode *node, VsbDomainDef *def, GError **error)
{
    static const char *const known[] = { "min_guarantee", NULL };

    if (!vsb_xml_check_attrs(node, NULL, NULL, error))
        return false;
    for (xmlNode *c = node->children; c; c = c->next) {
        unsigned long long *field;
        int r = vsb_xml_next_element(c, error);

        if (r < 0)
            return false;
        if (r == 0)
            continue;
        if (vsb_xml_name_is(c, "hard_limit"))
            field = &def->mem_hard_kib;
        else if (vsb_xml_name_is(c, "soft_limit"))
            field = &def->mem_soft_kib;
        else if (vsb_xml_name_is(c, "swap_hard_limit"))
            field = &def->mem_swap_kib;
        else
            return vsb_xml_reject_child(c, known, error);
        if (*field)
            return vsb_xml_reject_duplicate(c, error);
        if (!parse_memory_elem(c, field, error))
            return false;
        if (*field == 0) {
            VSB_CONF_ERROR(error, INVALID, "<%s> must be greater than 0", VSB_CC(c->name));
            return false;
        }
    }
    if (def->mem_hard_kib && def->mem_swap_kib && def->mem_hard_kib > def->mem_swap_kib) {
        VSB_CONF_ERROR(error, INVALID, "memory hard_limit tunable value must be lower than "
                       "or equal to swap_hard_limit");
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* CPUs and NUMA node sets, <vcpu>, <cputune>                         */

/* What a set of numbers in libvirt's cpuset syntax counts. */
typedef struct {
    const char *attr;    /* the attribute, for messages: "cpuset", "nodeset" */
    const char *item;    /* one member, for messages: "CPU", "node" */
    unsigned int max;    /* members are 0..max-1 */
} NumSetKind;

static const NumSetKind cpuset_kind = { "cpuset", "CPU", VSB_CPUSET_MAX };
static const NumSetKind nodeset_kind = { "nodeset", "node", VSB_NODESET_MAX };

/* "0-3,^2,5": ranges and single numbers, "^N" excludes, applied left
 * to right as libvirt does.  Returns the canonical form ("0-1,3,5"),
 * which is what libvirt writes back. */
static char *
parse_numset(const NumSetKind *kind, const char *s, GError **error)
{
    g_autofree bool *bits = g_new0(bool, kind->max);
    g_auto(GStrv) parts = g_strsplit(s, ",", -1);
    g_autoptr(GString) out = g_string_new(NULL);

    for (char **p = parts; *p; p++) {
        const char *tok = *p;
        bool neg = tok[0] == '^';
        unsigned long long a, b;
        g_autofree char *lo = NULL;
        const char *dash;

        if (neg)
            tok++;
        dash = neg ? NULL : strchr(tok, '-');
        lo = dash ? g_strndup(tok, (gsize)(dash - tok)) : g_strdup(tok);
        if (!*lo || strspn(lo, "0123456789") != strlen(lo) ||
            (dash && (!dash[1] || strspn(dash + 1, "0123456789") != strlen(dash + 1))) ||
            !vsb_parse_ull(lo, ULLONG_MAX, &a) ||
            !vsb_parse_ull(dash ? dash + 1 : lo, ULLONG_MAX, &b)) {
            VSB_CONF_ERROR(error, INVALID, "invalid %s '%s': bad element '%s'", kind->attr, s,
                           *p);
            return NULL;
        }
        if (a > b) {
            VSB_CONF_ERROR(error, INVALID, "invalid %s '%s': range '%s' is reversed",
                           kind->attr, s, *p);
            return NULL;
        }
        if (b >= kind->max) {
            VSB_CONF_ERROR(error, INVALID, "invalid %s '%s': %s %llu is above %u",
                           kind->attr, s, kind->item, b, kind->max - 1);
            return NULL;
        }
        for (unsigned long long i = a; i <= b; i++)
            bits[i] = !neg;
    }

    for (unsigned int i = 0; i < kind->max; i++) {
        unsigned int j = i;

        if (!bits[i])
            continue;
        while (j + 1 < kind->max && bits[j + 1])
            j++;
        if (out->len)
            g_string_append_c(out, ',');
        if (j > i)
            g_string_append_printf(out, "%u-%u", i, j);
        else
            g_string_append_printf(out, "%u", i);
        i = j;
    }
    if (out->len == 0) {
        VSB_CONF_ERROR(error, INVALID, "invalid %s '%s': it selects no %s", kind->attr, s,
                       kind->item);
        return NULL;
    }
    return g_string_free(g_steal_pointer(&out), FALSE);
}

bool
vsb_domain_tune_parse_vcpu(xmlNode *node, VsbDomainDef *def, GError **error)
{
    static const char *const allowed[] = { "placement", "cpuset", NULL };
    static const char *const unsupported[] = { "current", NULL };
    g_autofree char *placement = NULL;
    g_autofree char *cpuset = NULL;
    g_autofree char *value = NULL;
    unsigned long long n;

    if (!vsb_xml_check_attrs(node, allowed, unsupported, error) ||
        !vsb_xml_get_text_stripped(node, &value, error))
        return false;
    placement = vsb_xml_prop(node, "placement");
    if (placement && strcmp(placement, "static") != 0) {
        if (strcmp(placement, "auto") == 0)
            VSB_CONF_ERROR(error, UNSUPPORTED, "unsupported <vcpu placement='auto'>");
        else
            VSB_CONF_ERROR(error, INVALID, "unknown <vcpu> placement '%s'", placement);
        return false;
    }
    if (!vsb_parse_ull(value, G_MAXUINT16, &n) || n == 0) {
        VSB_CONF_ERROR(error, INVALID, "invalid <vcpu> count '%s': expected 1 to %u",
                       value, G_MAXUINT16);
        return false;
    }
    if ((cpuset = vsb_xml_prop(node, "cpuset")) &&
        !(def->cpuset = parse_numset(&cpuset_kind, cpuset, error)))
        return false;
    def->vcpus = (unsigned int)n;
    return true;
}

/* libvirt's ranges: period 1000..1000000 µs, quota 1000..17592186044415
 * µs or negative for none. */
#define VSB_CFS_PERIOD_MIN 1000ULL
#define VSB_CFS_PERIOD_MAX 1000000ULL
#define VSB_CFS_QUOTA_MAX 17592186044415LL

static bool
parse_cpu_bandwidth(xmlNode *c, VsbDomainDef *def, GError **error)
{
    bool period = vsb_xml_name_is(c, "period");
    g_autofree char *value = NULL;
    gint64 q;

    if ((period && def->cpu_period_us) || (!period && def->cpu_quota_us))
        return vsb_xml_reject_duplicate(c, error);
    if (!vsb_xml_check_attrs(c, NULL, NULL, error) ||
        !vsb_xml_get_text_stripped(c, &value, error))
        return false;
    if (period) {
        if (!vsb_parse_ull(value, VSB_CFS_PERIOD_MAX, &def->cpu_period_us) ||
            def->cpu_period_us < VSB_CFS_PERIOD_MIN) {
            VSB_CONF_ERROR(error, INVALID, "invalid <period> '%s': expected %llu to %llu",
                           value, VSB_CFS_PERIOD_MIN, VSB_CFS_PERIOD_MAX);
            return false;
        }
        return true;
    }
    if (!g_ascii_string_to_signed(value, 10, G_MININT64, VSB_CFS_QUOTA_MAX, &q, NULL) ||
        q == 0 || (q > 0 && q < (gint64)VSB_CFS_PERIOD_MIN)) {
        VSB_CONF_ERROR(error, INVALID, "invalid <quota> '%s': expected 1000 to %lld, or "
                       "negative for no limit", value, VSB_CFS_QUOTA_MAX);
        return false;
    }
    def->cpu_quota_us = q < 0 ? -1 : q;
    return true;
}

bool
vsb_domain_tune_parse_cputune(xmlNode *node, VsbDomainDef *def, GError **error)
{
    static const char *const known[] = {
        "global_period", "global_quota", "emulator_period",
        "emulator_quota", "iothread_period", "iothread_quota", "vcpupin",
        "emulatorpin", "iothreadpin", "vcpusched", "iothreadsched",
        "emulatorsched", "cachetune", "memorytune", NULL
    };
    bool seen = false;

    if (!vsb_xml_check_attrs(node, NULL, NULL, error))
        return false;
    for (xmlNode *c = node->children; c; c = c->next) {
        g_autofree char *value = NULL;
        int r = vsb_xml_next_element(c, error);

        if (r < 0)
            return false;
        if (r == 0)
            continue;
        if (vsb_xml_name_is(c, "period") || vsb_xml_name_is(c, "quota")) {
            if (!parse_cpu_bandwidth(c, def, error))
                return false;
            continue;
        }
        if (!vsb_xml_name_is(c, "shares"))
            return vsb_xml_reject_child(c, known, error);
        if (seen)
            return vsb_xml_reject_duplicate(c, error);
        seen = true;
        if (!vsb_xml_check_attrs(c, NULL, NULL, error) ||
            !vsb_xml_get_text_stripped(c, &value, error))
            return false;
        if (!vsb_parse_ull(value, VSB_CPU_SHARES_MAX, &def->cpu_shares) || def->cpu_shares < 2) {
            VSB_CONF_ERROR(error, INVALID, "invalid <shares> '%s': expected 2 to %llu",
                           value, VSB_CPU_SHARES_MAX);
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* <blkiotune>                                                        */

static bool
parse_blkio_weight(xmlNode *c, unsigned int *weight, GError **error)
{
    g_autofree char *value = NULL;
    unsigned long long w;

    if (*weight)
        return vsb_xml_reject_duplicate(c, error);
    if (!vsb_xml_check_attrs(c, NULL, NULL, error) ||
        !vsb_xml_get_text_stripped(c, &value, error))
        return false;
    if (!vsb_parse_ull(value, VSB_BLKIO_WEIGHT_MAX, &w) || w < VSB_BLKIO_WEIGHT_MIN) {
        VSB_CONF_ERROR(error, INVALID, "invalid %s weight '%s' (line %ld): "
                       "expected %llu to %llu",
                       vsb_xml_name_is(c->parent, "device") ? "<blkiotune> <device>" :
                       "<blkiotune>", value, vsb_xml_elem_line(c),
                       VSB_BLKIO_WEIGHT_MIN, VSB_BLKIO_WEIGHT_MAX);
        return false;
    }
    *weight = (unsigned int)w;
    return true;
}

/* A per-device limit: unsignedInt (iops) or unsignedLong (bytes) in
 * libvirt's schema; 0 means no limit, as in libvirt. */
static bool
parse_blkio_limit(xmlNode *c, unsigned long long max, bool *seen, unsigned long long *out,
                  GError **error)
{
    g_autofree char *value = NULL;

    if (*seen)
        return vsb_xml_reject_duplicate(c, error);
    *seen = true;
    if (!vsb_xml_check_attrs(c, NULL, NULL, error) ||
        !vsb_xml_get_text_stripped(c, &value, error))
        return false;
    if (!vsb_parse_ull(value, max, out)) {
        VSB_CONF_ERROR(error, INVALID, "invalid <%s> '%s' in <blkiotune> <device> (line %ld): "
                       "expected 0 to %llu", VSB_CC(c->name), value, vsb_xml_elem_line(c), max);
        return false;
    }
    return true;
}

static bool
parse_blkio_device(xmlNode *node, VsbDomainBlkioDevice *dev, GError **error)
{
    static const char *const limits[] = {
        "read_iops_sec", "write_iops_sec", "read_bytes_sec", "write_bytes_sec", NULL
    };
    unsigned long long *fields[] = {
        &dev->read_iops_sec, &dev->write_iops_sec, &dev->read_bytes_sec, &dev->write_bytes_sec
    };
    const unsigned long long maxes[] = { G_MAXUINT32, G_MAXUINT32, G_MAXUINT64, G_MAXUINT64 };
    bool seen[G_N_ELEMENTS(fields)] = { false };

    if (!vsb_xml_check_attrs(node, NULL, NULL, error))
        return false;
    for (xmlNode *c = node->children; c; c = c->next) {
        int r = vsb_xml_next_element(c, error);
        size_t i;

        if (r < 0)
            return false;
        if (r == 0)
            continue;
        if (vsb_xml_name_is(c, "path")) {
            g_autofree char *path = NULL;

            if (dev->path)
                return vsb_xml_reject_duplicate(c, error);
            if (!vsb_xml_check_attrs(c, NULL, NULL, error) ||
                !vsb_xml_get_text_stripped(c, &path, error))
                return false;
            if (!vsb_check_abs_path("<blkiotune> device <path>", path, error))
                return false;
            dev->path = g_steal_pointer(&path);
            continue;
        }
        if (vsb_xml_name_is(c, "weight")) {
            if (!parse_blkio_weight(c, &dev->weight, error))
                return false;
            continue;
        }
        for (i = 0; limits[i]; i++) {
            if (vsb_xml_name_is(c, limits[i]))
                break;
        }
        if (!limits[i])
            return vsb_xml_reject_child(c, NULL, error);
        if (!parse_blkio_limit(c, maxes[i], &seen[i], fields[i], error))
            return false;
    }
    if (!dev->path) {
        VSB_CONF_ERROR(error, INVALID, "<blkiotune> <device> (line %ld) has no <path>",
                       vsb_xml_elem_line(node));
        return false;
    }
    /* libvirt drops such a device when it writes the XML back: refuse
     * it rather than lose it on a round trip. */
    if (!dev->weight && !dev->read_iops_sec && !dev->write_iops_sec &&
        !dev->read_bytes_sec && !dev->write_bytes_sec) {
        VSB_CONF_ERROR(error, INVALID, "<blkiotune> <device> '%s' sets nothing: expected a "
                       "<weight> or a non-zero limit", dev->path);
        return false;
    }
    return true;
}

/* <blkiotune>: <weight> for the whole container, and per host block
 * device a <weight> and read/write limits (io.weight, io.max; blkio.*
 * on cgroup v1). */
bool
vsb_domain_tune_parse_blkiotune(xmlNode *node, VsbDomainDef *def, GError **error)
{
    g_autoptr(GHashTable) paths = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

    if (!vsb_xml_check_attrs(node, NULL, NULL, error))
        return false;
    for (xmlNode *c = node->children; c; c = c->next) {
        VsbDomainBlkioDevice *dev;
        g_autofree char *norm = NULL;
        int r = vsb_xml_next_element(c, error);

        if (r < 0)
            return false;
        if (r == 0)
            continue;
        if (vsb_xml_name_is(c, "weight")) {
            if (!parse_blkio_weight(c, &def->blkio_weight, error))
                return false;
            continue;
        }
        if (!vsb_xml_name_is(c, "device"))
            return vsb_xml_reject_child(c, NULL, error);
        dev = g_new0(VsbDomainBlkioDevice, 1);
        g_ptr_array_add(def->blkio_devices, dev);
        if (!parse_blkio_device(c, dev, error))
            return false;
        /* One setting per device: two would leave it to chance which
         * one the kernel ends up with. */
        norm = vsb_normalize_path(dev->path);
        if (g_hash_table_contains(paths, norm)) {
            VSB_CONF_ERROR(error, INVALID, "duplicate <blkiotune> <device> path '%s' (line %ld): "
                           "give each device once", dev->path, vsb_xml_elem_line(c));
            return false;
        }
        g_hash_table_add(paths, g_steal_pointer(&norm));
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* <numatune>                                                         */

static bool
parse_numatune_memory(xmlNode *node, VsbDomainDef *def, GError **error)
{
    static const char *const allowed[] = { "mode", "nodeset", "placement", NULL };
    g_autofree char *mode = NULL;
    g_autofree char *nodeset = NULL;
    g_autofree char *placement = NULL;
    int m = VSB_DOMAIN_NUMATUNE_STRICT;  /* libvirt's default */

    if (!vsb_xml_check_attrs(node, allowed, NULL, error) || !vsb_xml_check_empty(node, error))
        return false;
    placement = vsb_xml_prop(node, "placement");
    if (placement && strcmp(placement, "static") != 0) {
        if (strcmp(placement, "auto") == 0)
            VSB_CONF_ERROR(error, UNSUPPORTED,
                           "unsupported <numatune> <memory placement='auto'>: automatic "
                           "placement asks numad, which virt-sandbox does not use; give the "
                           "host nodes with nodeset='...'");
        else
            VSB_CONF_ERROR(error, INVALID,
                           "unknown <numatune> <memory> placement '%s': expected 'static'",
                           placement);
        return false;
    }
    if ((mode = vsb_xml_prop(node, "mode")) &&
        (m = vsb_domain_numatune_mode_from_string(mode)) < 0) {
        VSB_CONF_ERROR(error, INVALID, "unknown <numatune> <memory> mode '%s': expected "
                       "strict, preferred, interleave or restrictive", mode);
        return false;
    }
    if (!(nodeset = vsb_xml_prop(node, "nodeset"))) {
        VSB_CONF_ERROR(error, INVALID, "<numatune> <memory> needs nodeset='...': the host NUMA "
                       "nodes the container's memory comes from");
        return false;
    }
    if (!(def->numa_nodeset = parse_numset(&nodeset_kind, nodeset, error))) {
        g_prefix_error(error, "<numatune> <memory>: ");
        return false;
    }
    def->numa_mode = (VsbDomainNumatuneMode)m;
    return true;
}

/* <numatune><memory mode=... nodeset=.../>: which host NUMA nodes the
 * whole container allocates from, and how. */
bool
vsb_domain_tune_parse_numatune(xmlNode *node, VsbDomainDef *def, GError **error)
{
    bool seen = false;

    if (!vsb_xml_check_attrs(node, NULL, NULL, error))
        return false;
    for (xmlNode *c = node->children; c; c = c->next) {
        int r = vsb_xml_next_element(c, error);

        if (r < 0)
            return false;
        if (r == 0)
            continue;
        if (vsb_xml_name_is(c, "memnode")) {
            VSB_CONF_ERROR(error, UNSUPPORTED,
                           "unsupported <memnode> in <numatune> (line %ld): it binds a guest "
                           "NUMA cell, and a container has no guest NUMA nodes; bind the whole "
                           "container with <memory nodeset='...'/>", vsb_xml_elem_line(c));
            return false;
        }
        if (!vsb_xml_name_is(c, "memory"))
            return vsb_xml_reject_child(c, NULL, error);
        if (seen)
            return vsb_xml_reject_duplicate(c, error);
        seen = true;
        if (!parse_numatune_memory(c, def, error))
            return false;
    }
    if (!seen) {
        VSB_CONF_ERROR(error, INVALID, "<numatune> without <memory>: expected "
                       "<memory mode='...' nodeset='...'/>");
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* across elements                                                    */

bool
vsb_domain_tune_check(const VsbDomainDef *def, GError **error)
{
    bool have_memory = def->memory_kib != 0;
    bool have_current = def->current_memory_kib != 0;

    if (have_current && !have_memory) {
        VSB_CONF_ERROR(error, INVALID, "<currentMemory> requires <memory>");
        return false;
    }
    if (have_current && def->current_memory_kib > def->memory_kib) {
        VSB_CONF_ERROR(error, INVALID, "<currentMemory> %llu KiB exceeds <memory> %llu KiB",
                       def->current_memory_kib, def->memory_kib);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* formatting                                                         */

static void
format_blkiotune(GString *buf, const VsbDomainDef *def)
{
    if (!def->blkio_weight && def->blkio_devices->len == 0)
        return;
    g_string_append(buf, "  <blkiotune>\n");
    if (def->blkio_weight)
        g_string_append_printf(buf, "    <weight>%u</weight>\n", def->blkio_weight);
    for (guint i = 0; i < def->blkio_devices->len; i++) {
        const VsbDomainBlkioDevice *d = def->blkio_devices->pdata[i];

        /* libvirt's order, whatever the input's. */
        g_string_append(buf, "    <device>\n      <path>");
        vsb_xml_escape_append(buf, d->path ? d->path : "", false);
        g_string_append(buf, "</path>\n");
        if (d->weight)
            g_string_append_printf(buf, "      <weight>%u</weight>\n", d->weight);
        if (d->read_iops_sec)
            g_string_append_printf(buf, "      <read_iops_sec>%llu</read_iops_sec>\n",
                                   d->read_iops_sec);
        if (d->write_iops_sec)
            g_string_append_printf(buf, "      <write_iops_sec>%llu</write_iops_sec>\n",
                                   d->write_iops_sec);
        if (d->read_bytes_sec)
            g_string_append_printf(buf, "      <read_bytes_sec>%llu</read_bytes_sec>\n",
                                   d->read_bytes_sec);
        if (d->write_bytes_sec)
            g_string_append_printf(buf, "      <write_bytes_sec>%llu</write_bytes_sec>\n",
                                   d->write_bytes_sec);
        g_string_append(buf, "    </device>\n");
    }
    g_string_append(buf, "  </blkiotune>\n");
}

static void
format_memtune(GString *buf, const VsbDomainDef *def)
{
    if (!def->mem_hard_kib && !def->mem_soft_kib && !def->mem_swap_kib)
        return;
    g_string_append(buf, "  <memtune>\n");
    if (def->mem_hard_kib)
        g_string_append_printf(buf, "    <hard_limit unit='KiB'>%llu</hard_limit>\n",
                               def->mem_hard_kib);
    if (def->mem_soft_kib)
        g_string_append_printf(buf, "    <soft_limit unit='KiB'>%llu</soft_limit>\n",
                               def->mem_soft_kib);
    if (def->mem_swap_kib)
        g_string_append_printf(buf, "    <swap_hard_limit unit='KiB'>%llu</swap_hard_limit>\n",
                               def->mem_swap_kib);
    g_string_append(buf, "  </memtune>\n");
}

static void
format_cputune(GString *buf, const VsbDomainDef *def)
{
    if (!def->cpu_shares && !def->cpu_period_us && !def->cpu_quota_us)
        return;
    g_string_append(buf, "  <cputune>\n");
    if (def->cpu_shares)
        g_string_append_printf(buf, "    <shares>%llu</shares>\n", def->cpu_shares);
    if (def->cpu_period_us)
        g_string_append_printf(buf, "    <period>%llu</period>\n", def->cpu_period_us);
    if (def->cpu_quota_us)
        g_string_append_printf(buf, "    <quota>%lld</quota>\n", def->cpu_quota_us);
    g_string_append(buf, "  </cputune>\n");
}

void
vsb_domain_tune_format(GString *buf, const VsbDomainDef *def)
{
    unsigned long long current;

    /* libvirt always writes both, in KiB; "0" means no limit here. */
    current = def->current_memory_kib ? def->current_memory_kib : def->memory_kib;
    g_string_append_printf(buf, "  <memory unit='KiB'>%llu</memory>\n", def->memory_kib);
    g_string_append_printf(buf, "  <currentMemory unit='KiB'>%llu</currentMemory>\n", current);
    format_blkiotune(buf, def);
    format_memtune(buf, def);

    g_string_append(buf, "  <vcpu placement='static'");
    if (def->cpuset) {
        g_string_append(buf, " cpuset='");
        vsb_xml_escape_append(buf, def->cpuset, true);
        g_string_append_c(buf, '\'');
    }
    g_string_append_printf(buf, ">%u</vcpu>\n", def->vcpus ? def->vcpus : 1);

    format_cputune(buf, def);
    if (def->numa_nodeset) {
        const char *mode = vsb_domain_numatune_mode_to_string(def->numa_mode);

        /* libvirt always writes the mode, and placement only when it
         * is not 'static'. */
        g_string_append_printf(buf, "  <numatune>\n    <memory mode='%s' nodeset='%s'/>\n"
                               "  </numatune>\n", mode ? mode : "strict", def->numa_nodeset);
    }
}

unsigned long long
vsb_domain_def_hard_limit_kib(const VsbDomainDef *def)
{
    unsigned long long balloon = def->current_memory_kib ? def->current_memory_kib
                                                         : def->memory_kib;

    if (def->mem_hard_kib && (!balloon || def->mem_hard_kib < balloon))
        return def->mem_hard_kib;
    return balloon;
}
