/*
 * vsb-ctl-procviews.c: pure renderers of the container's /proc views
 * (see vsb-ctl-procviews.h).  The output follows the kernel's own
 * formats byte for byte where tools parse columns (procps, busybox,
 * util-linux), so that free, top, vmstat, nproc and iostat work
 * unchanged on them.
 */
#include <config.h>

#include "vsb-ctl-procviews.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* /proc/stat counts in USER_HZ ticks, 100 per second on every
 * architecture Linux exports to user space (sysconf(_SC_CLK_TCK)). */
#define USER_HZ 100
#define NS_PER_TICK (1000000000ULL / USER_HZ)
#define KIB 1024ULL

static const char *const view_names[] = {
    [VSB_PROC_VIEW_MEMINFO] = "meminfo",
    [VSB_PROC_VIEW_STAT] = "stat",
    [VSB_PROC_VIEW_CPUINFO] = "cpuinfo",
    [VSB_PROC_VIEW_LOADAVG] = "loadavg",
    [VSB_PROC_VIEW_DISKSTATS] = "diskstats",
    [VSB_PROC_VIEW_SWAPS] = "swaps",
    [VSB_PROC_VIEW_CPU_ONLINE] = "cpu-online",
    [VSB_PROC_VIEW_PRESSURE_CPU] = "pressure-cpu",
    [VSB_PROC_VIEW_PRESSURE_MEMORY] = "pressure-memory",
    [VSB_PROC_VIEW_PRESSURE_IO] = "pressure-io",
    [VSB_PROC_VIEW_PRESSURE_IRQ] = "pressure-irq",
};
G_STATIC_ASSERT(G_N_ELEMENTS(view_names) == VSB_PROC_VIEW_LAST);

const char *
vsb_proc_view_name(VsbProcView view)
{
    return (unsigned)view < VSB_PROC_VIEW_LAST ? view_names[view] : NULL;
}

int
vsb_proc_view_from_name(const char *name)
{
    for (int i = 0; i < VSB_PROC_VIEW_LAST; i++)
        if (g_str_equal(view_names[i], name))
            return i;
    return -1;
}

#define MEMORY_INPUTS \
    "host/meminfo", "memory.max", "memory.limit_in_bytes", "memory.current", \
    "memory.usage_in_bytes", "memory.stat", "memory.swap.max", "memory.swap.current", \
    "memory.memsw.limit_in_bytes", "memory.memsw.usage_in_bytes"
#define CPUSET_INPUTS "cpuset.cpus.effective", "cpuset.effective_cpus", "host/online"

static const char *const meminfo_inputs[] = { MEMORY_INPUTS, NULL };
static const char *const stat_inputs[] = {
    CPUSET_INPUTS, "cpuacct.usage_percpu_user", "cpuacct.usage_percpu_sys",
    "cpuacct.usage_percpu", "cpuacct.stat", "cpu.stat", NULL
};
static const char *const cpuinfo_inputs[] = { CPUSET_INPUTS, "host/cpuinfo", NULL };
static const char *const cpuset_inputs[] = { CPUSET_INPUTS, NULL };
static const char *const diskstats_inputs[] = {
    "host/diskstats", "io.stat", "blkio.throttle.io_service_bytes_recursive",
    "blkio.throttle.io_serviced_recursive", "blkio.throttle.io_service_bytes",
    "blkio.throttle.io_serviced", NULL
};
static const char *const no_inputs[] = { NULL };
static const char *const psi_cpu_inputs[] = { "cpu.pressure", NULL };
static const char *const psi_memory_inputs[] = { "memory.pressure", NULL };
static const char *const psi_io_inputs[] = { "io.pressure", NULL };
static const char *const psi_irq_inputs[] = { "irq.pressure", NULL };

const char *const *
vsb_proc_view_inputs(VsbProcView view)
{
    switch (view) {
    case VSB_PROC_VIEW_MEMINFO:
    case VSB_PROC_VIEW_SWAPS:
        return meminfo_inputs;
    case VSB_PROC_VIEW_STAT:
        return stat_inputs;
    case VSB_PROC_VIEW_CPUINFO:
        return cpuinfo_inputs;
    case VSB_PROC_VIEW_CPU_ONLINE:
        return cpuset_inputs;
    case VSB_PROC_VIEW_DISKSTATS:
        return diskstats_inputs;
    case VSB_PROC_VIEW_PRESSURE_CPU:
        return psi_cpu_inputs;
    case VSB_PROC_VIEW_PRESSURE_MEMORY:
        return psi_memory_inputs;
    case VSB_PROC_VIEW_PRESSURE_IO:
        return psi_io_inputs;
    case VSB_PROC_VIEW_PRESSURE_IRQ:
        return psi_irq_inputs;
    case VSB_PROC_VIEW_LOADAVG:
    case VSB_PROC_VIEW_LAST:
    default:
        return no_inputs;
    }
}

/* ------------------------------------------------------------------ */
/* Parsing helpers                                                     */

static const char *
input(const VsbProcInputs *in, const char *name)
{
    return in->files ? g_hash_table_lookup(in->files, name) : NULL;
}

static bool
parse_u64(const char *s, guint64 *out)
{
    char *end = NULL;
    guint64 v;

    while (*s == ' ' || *s == '\t')
        s++;
    if (!g_ascii_isdigit(*s))
        return false;
    v = g_ascii_strtoull(s, &end, 10);
    while (*end == ' ' || *end == '\t' || *end == '\n')
        end++;
    if (*end)
        return false;
    *out = v;
    return true;
}

/* A limit file: a number, or "max" (v2) for none. */
static bool
parse_limit(const char *text, guint64 *out)
{
    g_autofree char *s = text ? g_strstrip(g_strdup(text)) : NULL;

    if (!s)
        return false;
    if (g_str_equal(s, "max")) {
        *out = G_MAXUINT64;
        return true;
    }
    return parse_u64(s, out);
}

/* "key value" lines (memory.stat, cpu.stat, cpuacct.stat) */
static GHashTable *
parse_kv(const char *text)
{
    GHashTable *kv = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    const char *p = text;

    while (p && *p) {
        const char *nl = strchr(p, '\n');
        const char *end = nl ? nl : p + strlen(p);
        const char *sp = memchr(p, ' ', end - p);

        if (sp) {
            g_autofree char *val = g_strndup(sp + 1, end - sp - 1);
            guint64 v;

            if (parse_u64(val, &v)) {
                guint64 *box = g_new(guint64, 1);
                *box = v;
                g_hash_table_replace(kv, g_strndup(p, sp - p), box);
            }
        }
        p = nl ? nl + 1 : NULL;
    }
    return kv;
}

static guint64
kv_get(GHashTable *kv, const char *key)
{
    guint64 *v = g_hash_table_lookup(kv, key);

    return v ? *v : 0;
}

static bool
kv_has(GHashTable *kv, const char *key)
{
    return g_hash_table_contains(kv, key);
}

/* Space-separated numbers (cpuacct.usage_percpu*): index = host cpu. */
static GArray *
parse_u64_list(const char *text)
{
    GArray *a = g_array_new(FALSE, FALSE, sizeof(guint64));
    const char *p = text;

    while (p && *p) {
        char *end = NULL;
        guint64 v;

        while (*p == ' ' || *p == '\n' || *p == '\t')
            p++;
        if (!*p)
            break;
        v = g_ascii_strtoull(p, &end, 10);
        if (end == p)
            break;
        g_array_append_val(a, v);
        p = end;
    }
    return a;
}

GArray *
vsb_proc_parse_cpu_list(const char *text)
{
    g_autoptr(GArray) cpus = g_array_new(FALSE, FALSE, sizeof(guint));
    g_autofree char *s = g_strstrip(g_strdup(text ? text : ""));
    g_auto(GStrv) parts = g_strsplit(s, ",", -1);

    if (!*s)
        return NULL;
    for (size_t i = 0; parts[i]; i++) {
        g_auto(GStrv) range = g_strsplit(parts[i], "-", 2);
        guint64 lo, hi;

        if (!g_ascii_string_to_unsigned(range[0], 10, 0, 65535, &lo, NULL))
            return NULL;
        hi = lo;
        if (range[1] && !g_ascii_string_to_unsigned(range[1], 10, lo, 65535, &hi, NULL))
            return NULL;
        for (guint64 c = lo; c <= hi; c++) {
            guint v = (guint)c;
            g_array_append_val(cpus, v);
        }
    }
    /* Kernel lists are sorted; a hand-written one need not be. */
    for (guint i = 1; i < cpus->len; i++) {
        if (g_array_index(cpus, guint, i) <= g_array_index(cpus, guint, i - 1))
            return NULL;
    }
    return g_steal_pointer(&cpus);
}

GArray *
vsb_proc_allowed_cpus(const VsbProcInputs *in)
{
    static const char *const sources[] = { "cpuset.cpus.effective", "cpuset.effective_cpus",
                                           "host/online" };

    for (size_t i = 0; i < G_N_ELEMENTS(sources); i++) {
        const char *text = input(in, sources[i]);
        GArray *cpus = text ? vsb_proc_parse_cpu_list(text) : NULL;

        if (cpus && cpus->len)
            return cpus;
        if (cpus)
            g_array_unref(cpus);
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Memory: /proc/meminfo and /proc/swaps                               */

typedef struct {
    guint64 total, free, available, cached, swap_cached;
    guint64 active_anon, inactive_anon, active_file, inactive_file, unevictable;
    guint64 swap_total, swap_free, swap_used;
    guint64 dirty, writeback, anon, mapped, shmem;
    guint64 slab_reclaimable, slab_unreclaimable, kernel_stack, page_tables, sec_page_tables;
    guint64 commit_limit, committed, percpu, anon_thp, shmem_thp, file_thp;
    bool swap_accounted;
} MemFigures;   /* KiB */

/* A memory.stat figure in bytes: v2's name, else v1's hierarchical
 * total_NAME (which includes cgroups the container made below its
 * own), else v1's NAME. */
static guint64
mem_stat(GHashTable *st, const char *v2, const char *v1)
{
    g_autofree char *total = NULL;

    if (v2 && kv_has(st, v2))
        return kv_get(st, v2);
    if (!v1)
        return 0;
    total = g_strconcat("total_", v1, NULL);
    if (kv_has(st, total))
        return kv_get(st, total);
    return kv_get(st, v1);
}

static guint64
sat_sub(guint64 a, guint64 b)
{
    return a > b ? a - b : 0;
}

/* Host figures of /proc/meminfo, in KiB. */
static guint64
host_meminfo_kib(const char *host, const char *key)
{
    size_t klen = strlen(key);

    for (const char *p = host; p && *p;) {
        const char *nl = strchr(p, '\n');

        if (strncmp(p, key, klen) == 0 && p[klen] == ':') {
            guint64 v = g_ascii_strtoull(p + klen + 1, NULL, 10);
            return v;
        }
        p = nl ? nl + 1 : NULL;
    }
    return 0;
}

static bool
mem_compute(const VsbProcInputs *in, MemFigures *m)
{
    const char *host = input(in, "host/meminfo");
    const char *limit_text = input(in, "memory.max");
    const char *usage_text = input(in, "memory.current");
    g_autoptr(GHashTable) st = parse_kv(input(in, "memory.stat"));
    guint64 host_total, host_swap, limit = G_MAXUINT64, usage = 0, used, file;

    if (!host)
        return false;
    memset(m, 0, sizeof(*m));
    host_total = host_meminfo_kib(host, "MemTotal");
    host_swap = host_meminfo_kib(host, "SwapTotal");
    if (!limit_text)
        limit_text = input(in, "memory.limit_in_bytes");
    if (!usage_text)
        usage_text = input(in, "memory.usage_in_bytes");
    if (!limit_text || !parse_limit(limit_text, &limit))
        limit = G_MAXUINT64;
    if (!usage_text || !parse_limit(usage_text, &usage))
        usage = 0;

    /* No limit (v1 says so with a huge number) or one above the host's
     * memory: the host's memory is the bound. */
    m->total = MIN(host_total, limit / KIB);
    /* Usage includes the page cache, as the kernel's "used" does not:
     * free = what the container may still allocate before reclaim. */
    used = MIN(usage / KIB, m->total);
    m->free = m->total - used;

    file = mem_stat(st, "file", "cache") / KIB;
    m->shmem = mem_stat(st, "shmem", "shmem") / KIB;
    m->cached = file;
    m->swap_cached = mem_stat(st, "swapcached", NULL) / KIB;
    m->active_anon = mem_stat(st, "active_anon", "active_anon") / KIB;
    m->inactive_anon = mem_stat(st, "inactive_anon", "inactive_anon") / KIB;
    m->active_file = mem_stat(st, "active_file", "active_file") / KIB;
    m->inactive_file = mem_stat(st, "inactive_file", "inactive_file") / KIB;
    m->unevictable = mem_stat(st, "unevictable", "unevictable") / KIB;
    m->dirty = mem_stat(st, "file_dirty", "dirty") / KIB;
    m->writeback = mem_stat(st, "file_writeback", "writeback") / KIB;
    m->anon = mem_stat(st, "anon", "rss") / KIB;
    m->mapped = mem_stat(st, "file_mapped", "mapped_file") / KIB;
    m->slab_reclaimable = mem_stat(st, "slab_reclaimable", NULL) / KIB;
    m->slab_unreclaimable = mem_stat(st, "slab_unreclaimable", NULL) / KIB;
    m->kernel_stack = mem_stat(st, "kernel_stack", NULL) / KIB;
    m->page_tables = mem_stat(st, "pagetables", NULL) / KIB;
    m->sec_page_tables = mem_stat(st, "sec_pagetables", NULL) / KIB;
    m->percpu = mem_stat(st, "percpu", NULL) / KIB;
    m->anon_thp = mem_stat(st, "anon_thp", "rss_huge") / KIB;
    m->shmem_thp = mem_stat(st, "shmem_thp", NULL) / KIB;
    m->file_thp = mem_stat(st, "file_thp", NULL) / KIB;
    /* What reclaim can give back: the page cache but shmem (it can
     * only be swapped), and reclaimable slab. */
    m->available = MIN(m->total, m->free + sat_sub(file, m->shmem) + m->slab_reclaimable);

    /* Swap is the container's only where the kernel accounts it to the
     * cgroup; then its bound is the smaller of its limit and the
     * host's swap. */
    if (input(in, "memory.swap.max")) {
        guint64 lim = G_MAXUINT64, cur = 0;
        parse_limit(input(in, "memory.swap.max"), &lim);
        parse_limit(input(in, "memory.swap.current"), &cur);
        m->swap_accounted = true;
        m->swap_total = MIN(lim / KIB, host_swap);
        m->swap_used = MIN(cur / KIB, m->swap_total);
    } else if (input(in, "memory.memsw.limit_in_bytes")) {
        /* v1 counts memory + swap together */
        guint64 memsw = G_MAXUINT64, memsw_usage = 0;
        parse_limit(input(in, "memory.memsw.limit_in_bytes"), &memsw);
        parse_limit(input(in, "memory.memsw.usage_in_bytes"), &memsw_usage);
        m->swap_accounted = true;
        m->swap_total = MIN(sat_sub(memsw, MIN(memsw, limit)) / KIB, host_swap);
        m->swap_used = MIN(sat_sub(memsw_usage, usage) / KIB, m->swap_total);
    }
    m->swap_free = m->swap_total - m->swap_used;
    m->commit_limit = m->total + m->swap_total;
    m->committed = m->anon + m->shmem;
    return true;
}

bool
vsb_proc_memory(const VsbProcInputs *in, VsbProcMemory *out)
{
    MemFigures m;

    if (!mem_compute(in, &m))
        return false;
    /* the figures of /proc/meminfo, so that sysinfo(2) users (busybox
     * free, which reads Cached there) and readers of the file agree */
    out->total = m.total * KIB;
    out->free = m.free * KIB;
    out->shared = m.shmem * KIB;
    /* a cgroup does not account block device buffers apart: they are
     * in its page cache (Cached) */
    out->buffers = 0;
    out->swap_total = m.swap_total * KIB;
    out->swap_free = m.swap_free * KIB;
    return true;
}

typedef enum {
    MI_ZERO,       /* a figure we cannot attribute to the container */
    MI_HOST,       /* a constant of the machine, shown as it is */
    MI_FIELD,
} MeminfoKind;

typedef struct {
    const char *key;
    MeminfoKind kind;
    size_t offset;       /* MI_FIELD: in MemFigures */
} MeminfoLine;

#define F(key, field) { key, MI_FIELD, G_STRUCT_OFFSET(MemFigures, field) }
static const MeminfoLine meminfo_lines[] = {
    F("MemTotal", total), F("MemFree", free), F("MemAvailable", available),
    F("Cached", cached), F("SwapCached", swap_cached),
    F("Active(anon)", active_anon), F("Inactive(anon)", inactive_anon),
    F("Active(file)", active_file), F("Inactive(file)", inactive_file),
    F("Unevictable", unevictable), F("SwapTotal", swap_total), F("SwapFree", swap_free),
    F("Dirty", dirty), F("Writeback", writeback), F("AnonPages", anon), F("Mapped", mapped),
    F("Shmem", shmem), F("KReclaimable", slab_reclaimable),
    F("SReclaimable", slab_reclaimable), F("SUnreclaim", slab_unreclaimable),
    F("KernelStack", kernel_stack), F("PageTables", page_tables),
    F("SecPageTables", sec_page_tables), F("CommitLimit", commit_limit),
    F("Committed_AS", committed), F("Percpu", percpu), F("AnonHugePages", anon_thp),
    F("ShmemHugePages", shmem_thp), F("FileHugePages", file_thp),
    { "VmallocTotal", MI_HOST, 0 }, { "Hugepagesize", MI_HOST, 0 },
};
#undef F

static guint64
meminfo_value(const MemFigures *m, const char *key, guint64 host_value)
{
    /* by name, once per line of every render: a table made once */
    static GHashTable *by_key;
    const MeminfoLine *l;

    if (g_once_init_enter(&by_key)) {
        GHashTable *t = g_hash_table_new(g_str_hash, g_str_equal);
        for (size_t i = 0; i < G_N_ELEMENTS(meminfo_lines); i++)
            g_hash_table_insert(t, (gpointer)meminfo_lines[i].key, (gpointer)&meminfo_lines[i]);
        g_once_init_leave(&by_key, t);
    }
    if (g_str_equal(key, "Active"))
        return m->active_anon + m->active_file;
    if (g_str_equal(key, "Inactive"))
        return m->inactive_anon + m->inactive_file;
    if (g_str_equal(key, "Slab"))
        return m->slab_reclaimable + m->slab_unreclaimable;
    l = g_hash_table_lookup(by_key, key);
    if (!l)
        return 0;
    if (l->kind == MI_HOST)
        return host_value;
    return G_STRUCT_MEMBER(guint64, m, l->offset);
}

/* The host's lines, in the host's order (it varies with the kernel's
 * version and configuration), with the container's figures. */
static char *
render_meminfo(const VsbProcInputs *in)
{
    const char *host = input(in, "host/meminfo");
    GString *out;
    MemFigures m;

    if (!mem_compute(in, &m))
        return NULL;
    out = g_string_sized_new(1600);
    for (const char *p = host; *p;) {
        const char *nl = strchr(p, '\n');
        const char *end = nl ? nl : p + strlen(p);
        const char *colon = memchr(p, ':', end - p);

        if (colon && colon - p < 64) {
            char key[64];
            bool kb = end - p > 3 && memcmp(end - 3, " kB", 3) == 0;
            guint64 v;

            memcpy(key, p, colon - p);
            key[colon - p] = '\0';
            v = meminfo_value(&m, key, g_ascii_strtoull(colon + 1, NULL, 10));
            /* The kernel's layout: the label padded to 16 columns, the
             * value right-aligned in 8 (show_val_kb()). */
            g_string_append_printf(out, "%s:%*s%8" G_GUINT64_FORMAT "%s\n", key,
                                   (int)MAX(0, 15 - (colon - p)), "", v, kb ? " kB" : "");
        }
        p = nl ? nl + 1 : end;
    }
    return g_string_free(out, FALSE);
}

static char *
render_swaps(const VsbProcInputs *in)
{
    GString *out = g_string_new("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
    MemFigures m;

    if (!mem_compute(in, &m)) {
        g_string_free(out, TRUE);
        return NULL;
    }
    /* One line standing for the swap the container may use, laid out
     * as the kernel lays out a swap file (swap_show()). */
    if (m.swap_accounted && m.swap_total) {
        g_string_append_printf(out, "%-40s%s\t%" G_GUINT64_FORMAT "\t%s%" G_GUINT64_FORMAT
                               "\t%s%d\n", "none", "file\t", m.swap_total,
                               m.swap_total < 10000000 ? "\t" : "", m.swap_used,
                               m.swap_used < 10000000 ? "\t" : "", -1);
    }
    return g_string_free(out, FALSE);
}

/* ------------------------------------------------------------------ */
/* CPU: /proc/stat, /proc/cpuinfo, /sys/devices/system/cpu/online      */

static char *
render_cpu_online(const VsbProcInputs *in)
{
    g_autoptr(GArray) cpus = vsb_proc_allowed_cpus(in);

    if (!cpus)
        return NULL;
    /* renumbered from 0, as /proc/stat and /proc/cpuinfo are */
    if (cpus->len == 1)
        return g_strdup("0\n");
    return g_strdup_printf("0-%u\n", cpus->len - 1);
}

typedef struct {
    guint64 user, system, steal;   /* ns */
} CpuTimes;

/* Per allowed cpu (index i = the container's cpu i). */
static void
cpu_times(const VsbProcInputs *in, GArray *cpus, CpuTimes *t)
{
    const char *pu = input(in, "cpuacct.usage_percpu_user");
    const char *ps = input(in, "cpuacct.usage_percpu_sys");
    const char *pt = input(in, "cpuacct.usage_percpu");
    g_autoptr(GHashTable) cpu_stat = parse_kv(input(in, "cpu.stat"));
    guint n = cpus->len;
    guint64 throttled;

    if (pu && ps) {
        /* v1, split per cpu by the kernel */
        g_autoptr(GArray) u = parse_u64_list(pu);
        g_autoptr(GArray) s = parse_u64_list(ps);
        for (guint i = 0; i < n; i++) {
            guint c = g_array_index(cpus, guint, i);
            t[i].user = c < u->len ? g_array_index(u, guint64, c) : 0;
            t[i].system = c < s->len ? g_array_index(s, guint64, c) : 0;
        }
    } else if (pt) {
        /* older v1: per-cpu totals, split by the overall user/system
         * ratio of cpuacct.stat */
        g_autoptr(GArray) tot = parse_u64_list(pt);
        g_autoptr(GHashTable) st = parse_kv(input(in, "cpuacct.stat"));
        guint64 u = kv_get(st, "user"), s = kv_get(st, "system");
        for (guint i = 0; i < n; i++) {
            guint c = g_array_index(cpus, guint, i);
            guint64 v = c < tot->len ? g_array_index(tot, guint64, c) : 0;
            t[i].user = u + s ? (guint64)((double)v * u / (u + s)) : v;
            t[i].system = v - t[i].user;
        }
    } else if (kv_has(cpu_stat, "usage_usec")) {
        /* v2 has no per-cpu figures: spread evenly */
        for (guint i = 0; i < n; i++) {
            t[i].user = kv_get(cpu_stat, "user_usec") * 1000 / n;
            t[i].system = kv_get(cpu_stat, "system_usec") * 1000 / n;
        }
    }
    /* Steal: time the container was runnable but held back by its cpu
     * quota, the nearest thing to a hypervisor's steal it has. */
    if (kv_has(cpu_stat, "throttled_usec"))
        throttled = kv_get(cpu_stat, "throttled_usec") * 1000;
    else
        throttled = kv_get(cpu_stat, "throttled_time");
    for (guint i = 0; i < n; i++)
        t[i].steal = throttled / n;
}

static void
append_cpu_line(GString *out, const char *label, guint64 user, guint64 system, guint64 idle,
                guint64 steal)
{
    /* user nice system idle iowait irq softirq steal guest guest_nice */
    g_string_append_printf(out, "%s %" G_GUINT64_FORMAT " 0 %" G_GUINT64_FORMAT " %"
                           G_GUINT64_FORMAT " 0 0 0 %" G_GUINT64_FORMAT " 0 0\n",
                           label, user, system, idle, steal);
}

static char *
render_stat(const VsbProcInputs *in)
{
    g_autoptr(GArray) cpus = vsb_proc_allowed_cpus(in);
    g_autofree CpuTimes *t = NULL;
    guint64 up = in->uptime_ns / NS_PER_TICK;
    guint64 su = 0, ss = 0, si = 0, st = 0;
    GString *out;

    if (!cpus)
        return NULL;
    t = g_new0(CpuTimes, cpus->len);
    cpu_times(in, cpus, t);
    out = g_string_sized_new(256 + 64 * cpus->len);
    /* Idle: the container's uptime on each cpu, less what it used
     * there (so top's idle is the share it could still have). */
    for (guint i = 0; i < cpus->len; i++) {
        guint64 u = t[i].user / NS_PER_TICK, s = t[i].system / NS_PER_TICK;
        guint64 l = t[i].steal / NS_PER_TICK;
        su += u;
        ss += s;
        st += l;
        si += sat_sub(up, u + s + l);
    }
    append_cpu_line(out, "cpu ", su, ss, si, st);
    for (guint i = 0; i < cpus->len; i++) {
        g_autofree char *label = g_strdup_printf("cpu%u", i);
        guint64 u = t[i].user / NS_PER_TICK, s = t[i].system / NS_PER_TICK;
        guint64 l = t[i].steal / NS_PER_TICK;
        append_cpu_line(out, label, u, s, sat_sub(up, u + s + l), l);
    }
    /* Interrupts and context switches are the host's: none is the
     * container's own.  Forks since boot: in a fresh pid namespace,
     * pids are handed out in order, so the newest pid is the count. */
    g_string_append_printf(out, "intr 0\nctxt 0\nbtime %" G_GINT64_FORMAT "\n"
                           "processes %u\nprocs_running %u\nprocs_blocked %u\n"
                           "softirq 0 0 0 0 0 0 0 0 0 0 0\n",
                           in->btime, in->tasks.last_pid, MAX(in->tasks.running, 1U),
                           in->tasks.blocked);
    return g_string_free(out, FALSE);
}

static bool
cpu_allowed(GArray *cpus, guint cpu)
{
    for (guint i = 0; i < cpus->len; i++)
        if (g_array_index(cpus, guint, i) == cpu)
            return true;
    return false;
}

/* "processor\t: N" -> N */
static bool
processor_line(const char *line, size_t len, guint *num)
{
    const char *p = line, *end = line + len;

    if (len < 9 || strncmp(line, "processor", 9) != 0)
        return false;
    p += 9;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p >= end || *p != ':')
        return false;
    *num = (guint)g_ascii_strtoull(p + 1, NULL, 10);
    return true;
}

/* The host's blocks of the allowed cpus only, renumbered from 0;
 * blocks without a processor line (an architecture's header or
 * trailer) stay. */
static char *
render_cpuinfo(const VsbProcInputs *in)
{
    const char *host = input(in, "host/cpuinfo");
    g_autoptr(GArray) cpus = vsb_proc_allowed_cpus(in);
    GString *out;
    guint next = 0;

    if (!host || !cpus)
        return NULL;
    out = g_string_sized_new(strlen(host));
    for (const char *block = host; *block;) {
        const char *sep = strstr(block, "\n\n");
        const char *bend = sep ? sep + 2 : block + strlen(block);
        const char *pline = NULL;
        size_t plen = 0;
        guint num = 0;

        for (const char *l = block; l < bend;) {
            const char *nl = memchr(l, '\n', bend - l);
            size_t len = (nl ? nl : bend) - l;
            if (processor_line(l, len, &num)) {
                pline = l;
                plen = len;
                break;
            }
            l = nl ? nl + 1 : bend;
        }
        if (!pline) {
            g_string_append_len(out, block, bend - block);
        } else if (cpu_allowed(cpus, num)) {
            g_string_append_len(out, block, pline - block);
            g_string_append_printf(out, "processor\t: %u", next++);
            g_string_append_len(out, pline + plen, bend - (pline + plen));
        }
        block = bend;
    }
    return g_string_free(out, FALSE);
}

/* ------------------------------------------------------------------ */
/* /proc/loadavg, /proc/diskstats, /proc/pressure/...               */

void
vsb_proc_load_update(double load[3], guint running, double dt_sec)
{
    static const double period[3] = { 60, 300, 900 };

    if (dt_sec <= 0)
        return;
    for (int i = 0; i < 3; i++) {
        double e = exp(-dt_sec / period[i]);
        load[i] = load[i] * e + running * (1 - e);
    }
}

static char *
render_loadavg(const VsbProcInputs *in)
{
    return g_strdup_printf("%.2f %.2f %.2f %u/%u %u\n", in->load[0], in->load[1], in->load[2],
                           MAX(in->tasks.running, 1U), MAX(in->tasks.threads, 1U),
                           in->tasks.last_pid);
}

typedef struct {
    guint64 rbytes, wbytes, rios, wios, dbytes, dios;
} IoFigures;

static IoFigures *
io_entry(GHashTable *io, const char *dev, size_t len)
{
    g_autofree char *key = g_strndup(dev, len);
    IoFigures *f = g_hash_table_lookup(io, key);

    if (!f) {
        f = g_new0(IoFigures, 1);
        g_hash_table_insert(io, g_steal_pointer(&key), f);
    }
    return f;
}

/* v2 io.stat: "MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N" */
static void
parse_io_stat(GHashTable *io, const char *text)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

    for (size_t i = 0; lines[i]; i++) {
        g_auto(GStrv) f = g_strsplit_set(lines[i], " \t", -1);
        IoFigures *e;

        if (!f[0] || !strchr(f[0], ':'))
            continue;
        e = io_entry(io, f[0], strlen(f[0]));
        for (size_t j = 1; f[j]; j++) {
            const char *eq = strchr(f[j], '=');
            guint64 v;
            if (!eq)
                continue;
            v = g_ascii_strtoull(eq + 1, NULL, 10);
            if (g_str_has_prefix(f[j], "rbytes="))
                e->rbytes = v;
            else if (g_str_has_prefix(f[j], "wbytes="))
                e->wbytes = v;
            else if (g_str_has_prefix(f[j], "rios="))
                e->rios = v;
            else if (g_str_has_prefix(f[j], "wios="))
                e->wios = v;
            else if (g_str_has_prefix(f[j], "dbytes="))
                e->dbytes = v;
            else if (g_str_has_prefix(f[j], "dios="))
                e->dios = v;
        }
    }
}

/* v1 blkio.throttle.*: "MAJ:MIN Read N" ... "Total N" */
static void
parse_blkio(GHashTable *io, const char *text, bool ios)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

    for (size_t i = 0; lines[i]; i++) {
        g_auto(GStrv) f = g_strsplit(lines[i], " ", -1);
        IoFigures *e;
        guint64 v;

        if (g_strv_length(f) != 3 || !strchr(f[0], ':'))
            continue;
        e = io_entry(io, f[0], strlen(f[0]));
        v = g_ascii_strtoull(f[2], NULL, 10);
        if (g_str_equal(f[1], "Read"))
            *(ios ? &e->rios : &e->rbytes) = v;
        else if (g_str_equal(f[1], "Write"))
            *(ios ? &e->wios : &e->wbytes) = v;
        else if (g_str_equal(f[1], "Discard"))
            *(ios ? &e->dios : &e->dbytes) = v;
    }
}

/* The host's devices the container did I/O on, with its own counts;
 * times and queue figures are not accounted per cgroup: 0. */
static char *
render_diskstats(const VsbProcInputs *in)
{
    const char *host = input(in, "host/diskstats");
    g_autoptr(GHashTable) io = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_auto(GStrv) lines = NULL;
    const char *bytes, *ios;
    GString *out;

    if (!host)
        return NULL;
    if (input(in, "io.stat")) {
        parse_io_stat(io, input(in, "io.stat"));
    } else {
        bytes = input(in, "blkio.throttle.io_service_bytes_recursive");
        ios = input(in, "blkio.throttle.io_serviced_recursive");
        if (!bytes)
            bytes = input(in, "blkio.throttle.io_service_bytes");
        if (!ios)
            ios = input(in, "blkio.throttle.io_serviced");
        if (bytes)
            parse_blkio(io, bytes, false);
        if (ios)
            parse_blkio(io, ios, true);
    }
    out = g_string_new(NULL);
    lines = g_strsplit(host, "\n", -1);
    for (size_t i = 0; lines[i]; i++) {
        g_auto(GStrv) f = NULL;
        g_autofree char *dev = NULL;
        IoFigures *e;
        guint nf;

        f = g_strsplit_set(g_strstrip(lines[i]), " ", -1);
        /* collapse the alignment spaces */
        {
            guint w = 0;
            for (guint r = 0; f[r]; r++) {
                if (*f[r])
                    f[w++] = f[r];
                else
                    g_free(f[r]);
            }
            f[w] = NULL;
        }
        nf = g_strv_length(f);
        if (nf < 7)
            continue;
        dev = g_strdup_printf("%s:%s", f[0], f[1]);
        e = g_hash_table_lookup(io, dev);
        if (!e || !(e->rios | e->wios | e->rbytes | e->wbytes | e->dios | e->dbytes))
            continue;
        g_string_append_printf(out, "%4s %7s %s", f[0], f[1], f[2]);
        for (guint k = 0; k < nf - 3; k++) {
            guint64 v = 0;
            switch (k) {
            case 0: v = e->rios; break;
            case 2: v = e->rbytes / 512; break;
            case 4: v = e->wios; break;
            case 6: v = e->wbytes / 512; break;
            case 11: v = e->dios; break;
            case 13: v = e->dbytes / 512; break;
            default: break;
            }
            g_string_append_printf(out, " %" G_GUINT64_FORMAT, v);
        }
        g_string_append_c(out, '\n');
    }
    return g_string_free(out, FALSE);
}

static char *
render_passthrough(const VsbProcInputs *in, const char *name)
{
    const char *text = input(in, name);

    return text ? g_strdup(text) : NULL;
}

char *
vsb_proc_render(VsbProcView view, const VsbProcInputs *in)
{
    switch (view) {
    case VSB_PROC_VIEW_MEMINFO:
        return render_meminfo(in);
    case VSB_PROC_VIEW_STAT:
        return render_stat(in);
    case VSB_PROC_VIEW_CPUINFO:
        return render_cpuinfo(in);
    case VSB_PROC_VIEW_LOADAVG:
        return render_loadavg(in);
    case VSB_PROC_VIEW_DISKSTATS:
        return render_diskstats(in);
    case VSB_PROC_VIEW_SWAPS:
        return render_swaps(in);
    case VSB_PROC_VIEW_CPU_ONLINE:
        return render_cpu_online(in);
    case VSB_PROC_VIEW_PRESSURE_CPU:
    case VSB_PROC_VIEW_PRESSURE_MEMORY:
    case VSB_PROC_VIEW_PRESSURE_IO:
    case VSB_PROC_VIEW_PRESSURE_IRQ:
        /* the cgroup's own pressure files have the same format */
        return render_passthrough(in, vsb_proc_view_inputs(view)[0]);
    case VSB_PROC_VIEW_LAST:
    default:
        return NULL;
    }
}
