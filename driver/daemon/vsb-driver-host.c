/*
 * vsb-driver-host.c: facts about this host: the capabilities XML,
 * node info, and a running domain's usage from its cgroups.
 *
 * Everything is read from /proc and /sys when asked (CPUs go on and
 * offline, huge pages get reserved): nothing is cached but the host's
 * uuid when it has to be made up.
 */
#include <config.h>

#include "vsb-cgroup.h"
#include "vsb-driver-priv.h"
#include "vsb-util.h"

#include <errno.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#define SYS_CPU "/sys/devices/system/cpu"
#define SYS_NODE "/sys/devices/system/node"
#define SYS_HUGEPAGES "/sys/kernel/mm/hugepages"

/* ------------------------------------------------------------------ */
/* Small readers                                                       */

static char *
read_trimmed(const char *path)
{
    char *text = vsb_file_read_all(path, NULL, NULL);

    return text ? g_strstrip(text) : NULL;
}

static guint64
read_u64(const char *path, guint64 dflt)
{
    g_autofree char *text = read_trimmed(path);
    guint64 v;

    if (!text || !g_ascii_string_to_unsigned(text, 10, 0, G_MAXUINT64, &v, NULL))
        return dflt;
    return v;
}

/* "KEY: N kB" of a meminfo-style file (/proc/meminfo, a node's meminfo,
 * whose lines start with "Node N "). */
static unsigned long long
meminfo_kib(const char *path, const char *key)
{
    g_autofree char *text = vsb_file_read_all(path, NULL, NULL);
    g_auto(GStrv) lines = text ? g_strsplit(text, "\n", -1) : NULL;

    for (char **l = lines; l && *l; l++) {
        char *p = strstr(*l, key);
        guint64 v;

        if (!p || p[strlen(key)] != ':')
            continue;
        p += strlen(key) + 1;
        while (*p == ' ')
            p++;
        *strchrnul(p, ' ') = '\0';
        if (g_ascii_string_to_unsigned(p, 10, 0, G_MAXUINT64, &v, NULL))
            return v;
    }
    return 0;
}

unsigned long long
vsb_driver_host_memory_kib(void)
{
    return meminfo_kib("/proc/meminfo", "MemTotal");
}

/* The value of @key in the first processor's block of /proc/cpuinfo. */
static char *
cpuinfo_value(const char *cpuinfo, const char *key)
{
    g_auto(GStrv) lines = cpuinfo ? g_strsplit(cpuinfo, "\n", -1) : NULL;

    for (char **l = lines; l && *l && **l; l++) {
        char *colon = strchr(*l, ':');
        if (!colon)
            continue;
        *colon = '\0';
        if (g_str_equal(g_strstrip(*l), key))
            return g_strdup(g_strstrip(colon + 1));
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Topology                                                            */

typedef struct {
    guint id;
    guint64 socket;
    guint64 die;
    guint64 core;
    char *siblings;
} HostCpu;

typedef struct {
    guint size_kib;
    unsigned long long count;
} HostPages;

typedef struct {
    guint id;
    unsigned long long mem_kib;
    GArray *cpus;        /* guint, online ones */
    char **distances;    /* NULL when unknown */
    GArray *pages;       /* HostPages, one per page size */
} HostNode;

typedef struct {
    GArray *cpus;        /* HostCpu, online ones */
    GPtrArray *nodes;    /* HostNode */
    GArray *page_sizes;  /* guint KiB, the base page first */
} HostTopology;

static void
host_cpu_clear(gpointer p)
{
    g_free(((HostCpu *)p)->siblings);
}

static void
host_node_free(HostNode *n)
{
    g_array_unref(n->cpus);
    g_array_unref(n->pages);
    g_strfreev(n->distances);
    g_free(n);
}

static void
host_topology_free(HostTopology *t)
{
    g_array_unref(t->cpus);
    g_ptr_array_unref(t->nodes);
    g_array_unref(t->page_sizes);
    g_free(t);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HostTopology, host_topology_free)

static GArray *
read_cpulist(const char *path)
{
    g_autofree char *text = read_trimmed(path);

    return text ? vsb_driver_parse_cpulist(text, NULL) : NULL;
}

static gint
compare_uint(gconstpointer a, gconstpointer b)
{
    guint x = *(const guint *)a, y = *(const guint *)b;

    return x < y ? -1 : x > y;
}

/* Page sizes in KiB: the base page, then huge pages ascending. */
static GArray *
read_page_sizes(void)
{
    GArray *sizes = g_array_new(FALSE, FALSE, sizeof(guint));
    g_autoptr(GDir) dir = g_dir_open(SYS_HUGEPAGES, 0, NULL);
    guint base = (guint)(sysconf(_SC_PAGESIZE) / 1024);
    const char *e;

    g_array_append_val(sizes, base);
    while (dir && (e = g_dir_read_name(dir))) {
        guint64 kib;
        g_autofree char *num = NULL;

        if (!g_str_has_prefix(e, "hugepages-") || !g_str_has_suffix(e, "kB"))
            continue;
        num = g_strndup(e + strlen("hugepages-"), strlen(e) - strlen("hugepages-") - 2);
        if (g_ascii_string_to_unsigned(num, 10, 1, G_MAXUINT, &kib, NULL)) {
            guint v = (guint)kib;
            g_array_append_val(sizes, v);
        }
    }
    if (sizes->len > 1)
        g_array_sort(sizes, compare_uint);  /* the base page is the smallest */
    return sizes;
}

/* Pages of each size in @dir/hugepages (a node's, or the host's
 * SYS_HUGEPAGES when @dir is NULL); the base page gets the rest. */
static GArray *
read_pages(const char *dir, GArray *sizes, unsigned long long mem_kib)
{
    GArray *pages = g_array_new(FALSE, FALSE, sizeof(HostPages));
    unsigned long long huge_kib = 0;

    for (guint i = 1; i < sizes->len; i++) {
        guint size = g_array_index(sizes, guint, i);
        g_autofree char *path = g_strdup_printf("%s%s/hugepages-%ukB/nr_hugepages",
                                                dir ? dir : "", dir ? "/hugepages" : SYS_HUGEPAGES,
                                                size);
        HostPages p = { .size_kib = size, .count = read_u64(path, 0) };

        huge_kib += p.count * size;
        g_array_append_val(pages, p);
    }
    {
        guint base = g_array_index(sizes, guint, 0);
        HostPages p = { .size_kib = base,
                        .count = mem_kib > huge_kib ? (mem_kib - huge_kib) / base : 0 };
        g_array_prepend_val(pages, p);
    }
    return pages;
}

static HostTopology *
host_topology_read(void)
{
    HostTopology *t = g_new0(HostTopology, 1);
    g_autoptr(GArray) online = read_cpulist(SYS_CPU "/online");
    g_autoptr(GArray) node_ids = read_cpulist(SYS_NODE "/online");

    if (!online) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        online = g_array_new(FALSE, FALSE, sizeof(guint));
        for (guint i = 0; i < (guint)MAX(n, 1); i++)
            g_array_append_val(online, i);
    }
    t->cpus = g_array_new(FALSE, FALSE, sizeof(HostCpu));
    g_array_set_clear_func(t->cpus, host_cpu_clear);
    for (guint i = 0; i < online->len; i++) {
        guint id = g_array_index(online, guint, i);
        g_autofree char *dir = g_strdup_printf(SYS_CPU "/cpu%u/topology", id);
        g_autofree char *p_socket = g_build_filename(dir, "physical_package_id", NULL);
        g_autofree char *p_die = g_build_filename(dir, "die_id", NULL);
        g_autofree char *p_core = g_build_filename(dir, "core_id", NULL);
        g_autofree char *p_sib = g_build_filename(dir, "thread_siblings_list", NULL);
        HostCpu c = {
            .id = id,
            .socket = read_u64(p_socket, 0),
            .die = read_u64(p_die, 0),
            .core = read_u64(p_core, id),
            .siblings = read_trimmed(p_sib),
        };
        if (!c.siblings)
            c.siblings = g_strdup_printf("%u", id);
        g_array_append_val(t->cpus, c);
    }

    t->page_sizes = read_page_sizes();
    t->nodes = g_ptr_array_new_with_free_func((GDestroyNotify)host_node_free);
    if (!node_ids || node_ids->len == 0) {
        /* No NUMA in this kernel: one node with everything. */
        HostNode *n = g_new0(HostNode, 1);
        n->mem_kib = vsb_driver_host_memory_kib();
        n->cpus = g_array_copy(online);
        n->pages = read_pages(NULL, t->page_sizes, n->mem_kib);
        g_ptr_array_add(t->nodes, n);
        return t;
    }
    for (guint i = 0; i < node_ids->len; i++) {
        HostNode *n = g_new0(HostNode, 1);
        g_autofree char *dir = NULL;
        g_autofree char *p_mem = NULL;
        g_autofree char *p_cpus = NULL;
        g_autofree char *p_dist = NULL;
        g_autofree char *dist = NULL;
        g_autoptr(GArray) cpus = NULL;

        n->id = g_array_index(node_ids, guint, i);
        dir = g_strdup_printf(SYS_NODE "/node%u", n->id);
        p_mem = g_build_filename(dir, "meminfo", NULL);
        p_cpus = g_build_filename(dir, "cpulist", NULL);
        p_dist = g_build_filename(dir, "distance", NULL);
        n->mem_kib = meminfo_kib(p_mem, "MemTotal");
        n->cpus = g_array_new(FALSE, FALSE, sizeof(guint));
        cpus = read_cpulist(p_cpus);
        for (guint j = 0; cpus && j < cpus->len; j++) {
            guint c = g_array_index(cpus, guint, j);
            for (guint k = 0; k < online->len; k++) {
                if (g_array_index(online, guint, k) == c) {
                    g_array_append_val(n->cpus, c);
                    break;
                }
            }
        }
        dist = read_trimmed(p_dist);
        if (dist && *dist)
            n->distances = g_strsplit_set(dist, " \t", -1);
        n->pages = read_pages(dir, t->page_sizes, n->mem_kib);
        g_ptr_array_add(t->nodes, n);
    }
    return t;
}

static const HostCpu *
topology_cpu(HostTopology *t, guint id)
{
    for (guint i = 0; i < t->cpus->len; i++) {
        if (g_array_index(t->cpus, HostCpu, i).id == id)
            return &g_array_index(t->cpus, HostCpu, i);
    }
    return NULL;
}

typedef struct {
    guint sockets;   /* in the host */
    guint dies;      /* per socket */
    guint cores;     /* per die */
    guint threads;   /* per core */
} HostCounts;

/* Counts of distinct sockets, dies, cores; threads per core.  Zero
 * counts when the topology is irregular. */
static void
topology_counts(HostTopology *t, HostCounts *c)
{
    g_autoptr(GHashTable) sockets = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GHashTable) dies = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GHashTable) cores = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

    for (guint i = 0; i < t->cpus->len; i++) {
        HostCpu *cpu = &g_array_index(t->cpus, HostCpu, i);
        g_hash_table_add(sockets, g_strdup_printf("%" G_GUINT64_FORMAT, cpu->socket));
        g_hash_table_add(dies, g_strdup_printf("%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT,
                                               cpu->socket, cpu->die));
        g_hash_table_add(cores, g_strdup_printf("%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT
                                                ":%" G_GUINT64_FORMAT,
                                                cpu->socket, cpu->die, cpu->core));
    }
    memset(c, 0, sizeof(*c));
    c->sockets = g_hash_table_size(sockets);
    if (!c->sockets || g_hash_table_size(dies) % c->sockets ||
        g_hash_table_size(cores) % g_hash_table_size(dies) ||
        t->cpus->len % g_hash_table_size(cores)) {
        c->sockets = 0;
        return;
    }
    c->dies = g_hash_table_size(dies) / c->sockets;
    c->cores = g_hash_table_size(cores) / g_hash_table_size(dies);
    c->threads = t->cpus->len / g_hash_table_size(cores);
}

/* ------------------------------------------------------------------ */
/* Node info                                                           */

bool
vsb_driver_get_node_info(VsbDriver *drv, VsbNodeInfo *info, GError **error)
{
    g_autoptr(HostTopology) t = host_topology_read();
    g_autofree char *cpuinfo = vsb_file_read_all("/proc/cpuinfo", NULL, NULL);
    g_autofree char *mhz = cpuinfo_value(cpuinfo, "cpu MHz");
    struct utsname un;
    HostCounts c;

    memset(info, 0, sizeof(*info));
    if (uname(&un) < 0) {
        vsb_driver_error(error, VSB_DRIVER_ERROR_INTERNAL, "Cannot get the host's architecture: %s",
                         g_strerror(errno));
        return false;
    }
    g_strlcpy(info->model, un.machine, sizeof(info->model));
    info->memory_kib = vsb_driver_host_memory_kib();
    if (!info->memory_kib) {
        vsb_driver_error(error, VSB_DRIVER_ERROR_INTERNAL,
                         "Cannot read the host's memory size from /proc/meminfo");
        return false;
    }
    info->cpus = t->cpus->len;
    if (mhz)
        info->mhz = (unsigned int)g_ascii_strtoull(mhz, NULL, 10);
    else
        info->mhz = (unsigned int)(read_u64(SYS_CPU "/cpu0/cpufreq/cpuinfo_max_freq", 0) / 1000);
    info->nodes = MAX(t->nodes->len, 1);
    topology_counts(t, &c);
    /* virNodeInfo's fields multiply to the CPU count; where this host's
     * topology does not, libvirt's fallback: one socket of N cores. */
    if (c.sockets && c.sockets % info->nodes == 0 &&
        info->nodes * (c.sockets / info->nodes) * c.dies * c.cores * c.threads == info->cpus) {
        info->sockets = c.sockets / info->nodes;
        info->cores = c.dies * c.cores;
        info->threads = c.threads;
    } else {
        info->nodes = 1;
        info->sockets = 1;
        info->cores = info->cpus;
        info->threads = 1;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* Capabilities                                                        */

static bool
uuid_usable(const unsigned char uuid[16])
{
    /* Firmware fills unset uuids with one repeated byte (libvirt's
     * virUUIDIsValid() rejects those too). */
    for (guint i = 1; i < 16; i++) {
        if (uuid[i] != uuid[0])
            return true;
    }
    return false;
}

/* SMBIOS's system uuid, else the machine id (a uuid without dashes),
 * else one made up for this daemon's life. */
static void
host_uuid(VsbDriver *drv, unsigned char uuid[16])
{
    g_autofree char *dmi = read_trimmed("/sys/class/dmi/id/product_uuid");
    g_autofree char *machine_id = read_trimmed("/etc/machine-id");

    if (dmi && vsb_domain_uuid_parse(dmi, uuid) && uuid_usable(uuid))
        return;
    if (machine_id && strlen(machine_id) == 32) {
        g_autofree char *s = g_strdup_printf("%.8s-%.4s-%.4s-%.4s-%.12s", machine_id,
                                             machine_id + 8, machine_id + 12, machine_id + 16,
                                             machine_id + 20);
        if (vsb_domain_uuid_parse(s, uuid) && uuid_usable(uuid))
            return;
    }
    if (!drv->host_uuid_set) {
        g_autofree char *s = g_uuid_string_random();
        vsb_domain_uuid_parse(s, drv->host_uuid);
        drv->host_uuid_set = true;
    }
    memcpy(uuid, drv->host_uuid, 16);
}

static bool
host_has_iommu(void)
{
    g_autoptr(GDir) dir = g_dir_open("/sys/kernel/iommu_groups", 0, NULL);

    return dir && g_dir_read_name(dir) != NULL;
}

/* libvirt's vendor names of x86 CPUs (its cpu_map). */
static const char *
cpu_vendor(const char *vendor_id)
{
    if (!vendor_id)
        return NULL;
    if (g_str_equal(vendor_id, "GenuineIntel"))
        return "Intel";
    if (g_str_equal(vendor_id, "AuthenticAMD"))
        return "AMD";
    if (g_str_equal(vendor_id, "HygonGenuine"))
        return "Hygon";
    return NULL;
}

static void
format_host_cpu(GString *x, const char *arch, HostTopology *t)
{
    g_autofree char *cpuinfo = vsb_file_read_all("/proc/cpuinfo", NULL, NULL);
    g_autofree char *vendor_id = cpuinfo_value(cpuinfo, "vendor_id");
    g_autofree char *family = cpuinfo_value(cpuinfo, "cpu family");
    g_autofree char *model = cpuinfo_value(cpuinfo, "model");
    g_autofree char *stepping = cpuinfo_value(cpuinfo, "stepping");
    g_autofree char *microcode = cpuinfo_value(cpuinfo, "microcode");
    const char *vendor = cpu_vendor(vendor_id);
    guint64 fam, mod, step, ucode;
    HostCounts c;

    g_string_append(x, "    <cpu>\n");
    g_string_append_printf(x, "      <arch>%s</arch>\n", arch);
    if (vendor)
        g_string_append_printf(x, "      <vendor>%s</vendor>\n", vendor);
    if (microcode && (ucode = g_ascii_strtoull(microcode, NULL, 0)) > 0)
        g_string_append_printf(x, "      <microcode version='%" G_GUINT64_FORMAT "'/>\n", ucode);
    if (vendor && family && model && stepping &&
        g_ascii_string_to_unsigned(family, 10, 1, G_MAXUINT, &fam, NULL) &&
        g_ascii_string_to_unsigned(model, 10, 0, G_MAXUINT, &mod, NULL) &&
        g_ascii_string_to_unsigned(stepping, 10, 0, G_MAXUINT, &step, NULL))
        g_string_append_printf(x, "      <signature family='%" G_GUINT64_FORMAT "' model='%"
                               G_GUINT64_FORMAT "' stepping='%" G_GUINT64_FORMAT "'/>\n",
                               fam, mod, step);
    topology_counts(t, &c);
    if (c.sockets)
        g_string_append_printf(x, "      <topology sockets='%u' dies='%u' cores='%u' "
                               "threads='%u'/>\n", c.sockets, c.dies, c.cores, c.threads);
    for (guint i = 0; i < t->page_sizes->len; i++)
        g_string_append_printf(x, "      <pages unit='KiB' size='%u'/>\n",
                               g_array_index(t->page_sizes, guint, i));
    g_string_append(x, "    </cpu>\n");
}

static void
format_topology(GString *x, HostTopology *t)
{
    g_string_append(x, "    <topology>\n");
    g_string_append_printf(x, "      <cells num='%u'>\n", t->nodes->len);
    for (guint i = 0; i < t->nodes->len; i++) {
        HostNode *n = t->nodes->pdata[i];

        g_string_append_printf(x, "        <cell id='%u'>\n", n->id);
        g_string_append_printf(x, "          <memory unit='KiB'>%llu</memory>\n", n->mem_kib);
        for (guint j = 0; j < n->pages->len; j++) {
            HostPages *p = &g_array_index(n->pages, HostPages, j);
            g_string_append_printf(x, "          <pages unit='KiB' size='%u'>%llu</pages>\n",
                                   p->size_kib, p->count);
        }
        if (n->distances && g_strv_length(n->distances) == t->nodes->len) {
            g_string_append(x, "          <distances>\n");
            for (guint j = 0; j < t->nodes->len; j++)
                g_string_append_printf(x, "            <sibling id='%u' value='%s'/>\n",
                                       ((HostNode *)t->nodes->pdata[j])->id, n->distances[j]);
            g_string_append(x, "          </distances>\n");
        }
        g_string_append_printf(x, "          <cpus num='%u'>\n", n->cpus->len);
        for (guint j = 0; j < n->cpus->len; j++) {
            guint id = g_array_index(n->cpus, guint, j);
            const HostCpu *c = topology_cpu(t, id);
            if (c)
                g_string_append_printf(x, "            <cpu id='%u' socket_id='%" G_GUINT64_FORMAT
                                       "' die_id='%" G_GUINT64_FORMAT "' core_id='%"
                                       G_GUINT64_FORMAT "' siblings='%s'/>\n",
                                       id, c->socket, c->die, c->core, c->siblings);
            else
                g_string_append_printf(x, "            <cpu id='%u'/>\n", id);
        }
        g_string_append(x, "          </cpus>\n");
        g_string_append(x, "        </cell>\n");
    }
    g_string_append(x, "      </cells>\n");
    g_string_append(x, "    </topology>\n");
}

char *
vsb_driver_get_capabilities(VsbDriver *drv)
{
    g_autoptr(HostTopology) t = host_topology_read();
    g_autoptr(GString) x = g_string_new(NULL);
    g_autofree char *emulator = g_markup_escape_text(drv->controller, -1);
    unsigned char uuid[16];
    char uuid_str[37];
    struct utsname un;
    const char *arch = uname(&un) == 0 ? un.machine : "x86_64";

    host_uuid(drv, uuid);
    vsb_domain_uuid_format(uuid, uuid_str);
    g_string_append(x, "<capabilities>\n\n  <host>\n");
    g_string_append_printf(x, "    <uuid>%s</uuid>\n", uuid_str);
    format_host_cpu(x, arch, t);
    /* The host cannot be suspended through us. */
    g_string_append(x, "    <power_management/>\n");
    g_string_append_printf(x, "    <iommu support='%s'/>\n", host_has_iommu() ? "yes" : "no");
    format_topology(x, t);
    /* No security driver (yet): libvirt's words for that. */
    g_string_append(x, "    <secmodel>\n      <model>none</model>\n      <doi>0</doi>\n"
                       "    </secmodel>\n");
    g_string_append(x, "  </host>\n\n");
    /* Containers run the host's architecture only (no personality()
     * switch to a 32-bit one, unlike libvirt). */
    g_string_append(x, "  <guest>\n    <os_type>exe</os_type>\n");
    g_string_append_printf(x, "    <arch name='%s'>\n", arch);
    g_string_append_printf(x, "      <wordsize>%u</wordsize>\n", (guint)(sizeof(long) * 8));
    g_string_append_printf(x, "      <emulator>%s</emulator>\n", emulator);
    g_string_append(x, "      <domain type='lxc'/>\n    </arch>\n  </guest>\n\n");
    g_string_append(x, "</capabilities>\n");
    return g_string_free(g_steal_pointer(&x), FALSE);
}

/* ------------------------------------------------------------------ */
/* A domain's cgroups                                                  */

static bool
has_controller(const VsbCgroupHierarchy *h, const char *name)
{
    return h->controllers && g_strv_contains((const char *const *)h->controllers, name);
}

/* Remove @dir and the cgroups below it, children first.  errno tells
 * why not (EBUSY: processes left). */
static bool
remove_cgroup_tree(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *e;

    if (!d)
        return !g_file_test(dir, G_FILE_TEST_EXISTS);
    while ((e = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(dir, e, NULL);
        if (g_file_test(path, G_FILE_TEST_IS_DIR) && !g_file_test(path, G_FILE_TEST_IS_SYMLINK) &&
            !remove_cgroup_tree(path))
            return false;
    }
    return rmdir(dir) == 0 || errno == ENOENT;
}

void
vsb_driver_cgroup_remove(VsbDriver *drv, const char *name)
{
    g_autofree char *mountinfo = vsb_file_read_all("/proc/self/mountinfo", NULL, NULL);
    g_autoptr(GPtrArray) hs = mountinfo ? vsb_cgroup_parse_mountinfo(mountinfo, NULL) : NULL;
    /* Ours, or the controller's systemd scope (vsb-cgroup.h) */
    g_auto(GStrv) rels = vsb_cgroup_domain_rel_paths(drv->cgroup_partition, name);

    for (guint k = 0; hs && k < hs->len * 2; k++) {
        const VsbCgroupHierarchy *h = hs->pdata[k / 2];
        g_autofree char *dir = g_build_filename(h->mount_point, rels[k % 2], NULL);
        /* (a slice is systemd's: never removed here) */
        g_autofree char *partition = k % 2 ? NULL :
            g_build_filename(h->mount_point, drv->cgroup_partition, NULL);
        gint64 deadline = g_get_monotonic_time() + G_USEC_PER_SEC;

        if (!g_file_test(dir, G_FILE_TEST_IS_DIR))
            continue;
        /* A controller killed while freezing the payload (v1) leaves
         * it frozen, and frozen tasks never die. */
        if (has_controller(h, "freezer")) {
            g_autofree char *state = g_build_filename(dir, "payload", "freezer.state", NULL);
            vsb_file_write_str(state, "THAWED", NULL);
        }
        /* Tasks of a killed pid namespace take a moment to leave. */
        while (!remove_cgroup_tree(dir) && errno == EBUSY &&
               g_get_monotonic_time() < deadline)
            g_usleep(10000);
        /* The partition too, when no other domain uses it. */
        if (partition)
            rmdir(partition);
    }
}
