/*
 * vsb-cgroup.h: the domain's cgroups, on cgroup v1, v2 or both (hybrid).
 *
 * Layout, in every mounted hierarchy (v1 controllers, named v1
 * hierarchies such as name=systemd, and cgroup2):
 *
 *   <root>/<partition>/<name>.virt-sandbox/            the domain
 *   <root>/<partition>/<name>.virt-sandbox/supervisor  the controller
 *   <root>/<partition>/<name>.virt-sandbox/payload     the container
 *
 * Under systemd the controller first moves itself into a transient
 * scope with Delegate=yes (vsb-ctl-machined.h) and the scope is the
 * domain cgroup wherever systemd put it (cfg->delegated_unit):
 *
 *   <root>/<partition>.slice/<partition>-<name>.scope/{supervisor,payload}
 *
 * systemd made that cgroup and removes it once the scope is empty; we
 * make and remove only the two leaves.  Hierarchies where systemd did
 * not put the scope (v1 controllers it does not manage) keep the layout
 * above.
 *
 * Limits go on "payload", so limiting or freezing the container never
 * touches its supervisor, and v2's no-internal-processes rule holds
 * (the domain cgroup itself holds no process).  Each controller is
 * driven through whichever version owns it on this host: on a hybrid
 * host memory is v1 and hugetlb v2; on a pure v2 host all are v2.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

G_BEGIN_DECLS

typedef enum {
    VSB_CGROUP_VERSION_1,
    VSB_CGROUP_VERSION_2,
} VsbCgroupVersion;

/* One mounted hierarchy, as read from mountinfo. */
typedef struct {
    VsbCgroupVersion version;
    char *mount_point;     /* e.g. /sys/fs/cgroup/memory, /sys/fs/cgroup/unified, /sys/fs/cgroup */
    char *mount_options;   /* v1 super options: "memory", "cpu,cpuacct", "name=systemd"; v2: "" */
    char **controllers;    /* controllers this hierarchy owns (v2: from cgroup.controllers);
                            * v1 named hierarchies list "name=systemd" too */
    char *own_path;        /* this process's cgroup in it, from /proc/self/cgroup ("/" ...) */
    char *mount_root;      /* the hierarchy's cgroup shown at mount_point (mountinfo
                            * field 4), "/" unless only a subtree is mounted */
} VsbCgroupHierarchy;

/* Pure parsers, tested with fixtures (tests/cgroupdata/). */
/* Parse mountinfo text into hierarchies (no controllers for v2, no own_path). */
GPtrArray *vsb_cgroup_parse_mountinfo(const char *mountinfo, GError **error);
/* Fill own_path of each hierarchy from /proc/PID/cgroup text. */
bool vsb_cgroup_parse_proc_cgroup(GPtrArray *hierarchies, const char *proc_cgroup, GError **error);
/* cpu.shares (2..262144) to cpu.weight (1..10000), as the kernel's docs and systemd convert. */
unsigned long long vsb_cgroup_shares_to_weight(unsigned long long shares);
/* libvirt's blkio weight (CFQ's scale 10..1000, default 500) to v2
 * io.weight (1..10000, default 100): proportional, so default maps to
 * default and ratios between domains hold: round(weight / 5), giving
 * 2..200.  Out of range input is clamped first. */
unsigned long long vsb_cgroup_blkio_weight_to_io_weight(unsigned long long weight);

/* systemd's names for the domain under systemd: the slice of @partition
 * ("machine" -> "machine.slice") and the domain's scope
 * ("machine-NAME.scope"), each part escaped as systemd escapes unit
 * names ("a-b" -> "a\x2db"), so that any domain name gives one unit. */
char *vsb_cgroup_slice_name(const char *partition);
char *vsb_cgroup_scope_name(const char *partition, const char *name);
/* The domain cgroup's paths relative to a hierarchy's root, in the
 * order to look for them: our own layout, then systemd's scope. */
GStrv vsb_cgroup_domain_rel_paths(const char *partition, const char *name);

void vsb_cgroup_hierarchy_free(VsbCgroupHierarchy *h);

/* An allowed device node for the device controller; minor (or major)
 * VSB_CGROUP_DEVICE_ANY stands for every minor ("c 136:* rwm"). */
#define VSB_CGROUP_DEVICE_ANY ((unsigned int)-1)
typedef struct {
    char type;             /* 'c' or 'b' */
    unsigned int major;
    unsigned int minor;
    const char *access;    /* "rwm" subset */
} VsbCgroupDevice;

/* Per block device I/O settings (<blkiotune><device>), the device
 * already resolved to its numbers by the caller.  0 = leave as is. */
typedef struct {
    unsigned int major;
    unsigned int minor;
    unsigned int weight;        /* v1 blkio.weight_device / blkio.bfq.weight_device,
                                 * v2 io.weight / io.bfq.weight "MAJ:MIN W" */
    guint64 read_bps;           /* v1 blkio.throttle.*, v2 io.max rbps= wbps= riops= wiops= */
    guint64 write_bps;
    guint64 read_iops;
    guint64 write_iops;
} VsbCgroupBlkioDevice;

typedef struct {
    const char *name;                      /* domain name */
    const char *partition;                 /* "machine" when NULL */
    const char *delegated_unit;            /* NULL, or the systemd scope (with Delegate=yes)
                                            * the calling process was moved into: where its
                                            * cgroup is that unit's, it is the domain cgroup */
    unsigned long long memory_limit_bytes; /* 0 = none */
    unsigned long long cpu_shares;         /* 0 = none */
    unsigned long long memory_soft_bytes;  /* 0 = none: v1 soft_limit_in_bytes, v2 memory.high */
    unsigned long long memory_swap_bytes;  /* 0 = none: v1 memsw (memory + swap), v2 swap.max */
    unsigned long long cpu_period_us;      /* 0 = default: CFS period */
    long long cpu_quota_us;                /* 0 = none, < 0 = none: CFS quota per period */
    const char *cpuset;                    /* NULL = inherit */
    const char *mems;                      /* NULL = inherit: cpuset.mems (<numatune> strict) */
    unsigned int blkio_weight;             /* 0 = none: v1 blkio.weight (or bfq), v2 io.weight
                                            * (converted from libvirt's 10..1000 scale) */
    const VsbCgroupBlkioDevice *blkio_devices;
    size_t nblkio_devices;
    unsigned long long pids_max;           /* 0 = none: pids.max */
    bool restrict_devices;                 /* deny all but @devices */
    const VsbCgroupDevice *devices;
    size_t ndevices;
} VsbCgroupConfig;

typedef struct _VsbCgroup VsbCgroup;

/* Read this host's hierarchies (from /proc/self/mountinfo and
 * /proc/self/cgroup) and create the domain's cgroups with the limits
 * of @cfg applied to payload.  Fails (and removes what it made) if the
 * domain's cgroup already exists and holds processes, or if no
 * hierarchy is mounted. */
VsbCgroup *vsb_cgroup_create(const VsbCgroupConfig *cfg, GError **error);

/* Move @pid into supervisor / payload in every hierarchy. */
bool vsb_cgroup_enter_supervisor(VsbCgroup *cg, pid_t pid, GError **error);
bool vsb_cgroup_enter_payload(VsbCgroup *cg, pid_t pid, GError **error);

/* The hierarchies, for mounting /sys/fs/cgroup inside the container
 * (owned by @cg). */
GPtrArray *vsb_cgroup_get_hierarchies(VsbCgroup *cg);

/* Path of payload in the hierarchy owning @controller ("memory"), or NULL.
 * On v2 a controller's files exist in payload only where it is enabled:
 * memory and pids always (when available), cpu and cpuset when used. */
const char *vsb_cgroup_payload_path(VsbCgroup *cg, const char *controller);

/* Path of payload in @h, one of vsb_cgroup_get_hierarchies(), or NULL:
 * reaches hierarchies without controllers (a hybrid host's cgroup2). */
const char *vsb_cgroup_hierarchy_payload_path(VsbCgroup *cg, const VsbCgroupHierarchy *h);

/* SIGKILL every process of payload and wait (bounded) until it is
 * empty: v2 cgroup.kill where present, else freeze, kill, thaw loop. */
bool vsb_cgroup_kill_payload(VsbCgroup *cg, GError **error);

/* Move the calling process back to where it started (the cgroups of the
 * process that called vsb_cgroup_create()), then remove payload (and
 * cgroups the container made below it), supervisor, the domain cgroup
 * and the partition if empty.  Fails (EBUSY, naming the pids) if
 * processes are left: kill payload first.  Idempotent. */
bool vsb_cgroup_destroy(VsbCgroup *cg, GError **error);

/* Frees memory only: the cgroups stay (see vsb_cgroup_destroy()). */
void vsb_cgroup_free(VsbCgroup *cg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbCgroup, vsb_cgroup_free)

G_END_DECLS
