/*
 * vsb-driver.h: the LXC driver behind virt-sandboxd: the domains, their
 * persistent definitions, their controllers, their events.
 *
 * Knows nothing of the RPC protocol: the RPC dispatch layer
 * (driver/rpc/) translates calls into these functions and their
 * results into replies.  Single-threaded: everything runs in the
 * daemon's GLib main loop; no call blocks for long (starting a domain
 * waits for its controller's ready message, ~tens of ms).
 *
 * Numeric values of states, reasons, events and flags are libvirt's
 * (they travel on the wire unchanged).
 */
#pragma once

#include <glib.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vsb-domain-conf.h"

G_BEGIN_DECLS

#define VSB_DRIVER_ERROR (vsb_driver_error_quark())
GQuark vsb_driver_error_quark(void);

/* Codes of VSB_DRIVER_ERROR; the RPC layer maps them to libvirt's
 * virErrorNumber (in brackets).  Errors from the XML layer
 * (VSB_DOMAIN_CONF_ERROR) map to VIR_ERR_XML_ERROR / CONFIG_UNSUPPORTED. */
typedef enum {
    VSB_DRIVER_ERROR_INTERNAL,           /* [1 VIR_ERR_INTERNAL_ERROR] */
    VSB_DRIVER_ERROR_NO_DOMAIN,          /* [42 VIR_ERR_NO_DOMAIN] */
    VSB_DRIVER_ERROR_OPERATION_INVALID,  /* [55 VIR_ERR_OPERATION_INVALID] e.g. start a running domain */
    VSB_DRIVER_ERROR_OPERATION_FAILED,   /* [9 VIR_ERR_OPERATION_FAILED] e.g. the controller failed */
    VSB_DRIVER_ERROR_INVALID_ARG,        /* [8 VIR_ERR_INVALID_ARG] */
    VSB_DRIVER_ERROR_EXISTS,             /* [9 VIR_ERR_OPERATION_FAILED, "domain 'x' already exists with uuid ..."] */
    VSB_DRIVER_ERROR_NO_SUPPORT,         /* [3 VIR_ERR_NO_SUPPORT] */
    VSB_DRIVER_ERROR_UNSUPPORTED_FLAGS,  /* [8 VIR_ERR_INVALID_ARG "unsupported flags (0x..) in function ..."] */
    VSB_DRIVER_ERROR_OPERATION_UNSUPPORTED, /* [84 VIR_ERR_OPERATION_UNSUPPORTED] the host lacks it */
} VsbDriverErrorCode;

/* virDomainState */
typedef enum {
    VSB_DOMAIN_STATE_NOSTATE = 0,
    VSB_DOMAIN_STATE_RUNNING = 1,
    VSB_DOMAIN_STATE_BLOCKED = 2,
    VSB_DOMAIN_STATE_PAUSED = 3,
    VSB_DOMAIN_STATE_SHUTDOWN = 4,
    VSB_DOMAIN_STATE_SHUTOFF = 5,
    VSB_DOMAIN_STATE_CRASHED = 6,
} VsbDomainState;

/* Reasons (virDomainRunningReason / virDomainShutoffReason / ...):
 * running: 1 BOOTED, 0 UNKNOWN; shutoff: 0 UNKNOWN, 1 SHUTDOWN,
 * 2 DESTROYED, 3 CRASHED, 6 FAILED; paused: 1 USER. */

/* virDomainEventType and details */
typedef enum {
    VSB_EVENT_DEFINED = 0,      /* detail 0 ADDED, 1 UPDATED */
    VSB_EVENT_UNDEFINED = 1,    /* detail 0 REMOVED */
    VSB_EVENT_STARTED = 2,      /* detail 0 BOOTED */
    VSB_EVENT_SUSPENDED = 3,
    VSB_EVENT_RESUMED = 4,
    VSB_EVENT_STOPPED = 5,      /* detail 0 SHUTDOWN, 1 DESTROYED, 2 CRASHED, 5 FAILED */
} VsbEventType;

/* virDomainShutdownFlagValues (also used for reboot) */
#define VSB_SHUTDOWN_DEFAULT 0
#define VSB_SHUTDOWN_INITCTL (1 << 2)
#define VSB_SHUTDOWN_SIGNAL  (1 << 3)

/* flags of vsb_driver_list(): libvirt's CONNECT_LIST_DOMAINS_ACTIVE/INACTIVE,
 * PERSISTENT (4), TRANSIENT (8), RUNNING (16), PAUSED (32), SHUTOFF (64),
 * OTHER (128), MANAGEDSAVE (256)/NO_MANAGEDSAVE (512), AUTOSTART (1024)/
 * NO_AUTOSTART (2048), HAS_SNAPSHOT (4096)/NO_SNAPSHOT (8192); 0 = all. */
#define VSB_LIST_ACTIVE   (1 << 0)
#define VSB_LIST_INACTIVE (1 << 1)

typedef struct {
    const char *config_dir;      /* persistent XML: SYSCONFDIR/virt-sandbox/lxc */
    const char *autostart_dir;   /* symlinks: config_dir/autostart */
    const char *run_dir;         /* controllers' state: RUNSTATEDIR/virt-sandbox/lxc */
    const char *log_dir;         /* controllers' stdout/stderr: LOCALSTATEDIR/log/virt-sandbox */
    const char *controller;      /* path of virt-sandbox-controller */
    const char *cgroup_partition;/* NULL = the controller's default */
    bool autostart;              /* start autostart domains in vsb_driver_new() */
} VsbDriverConfig;

typedef struct _VsbDriver VsbDriver;
typedef struct _VsbDomain VsbDomain;

/* What identifies a domain on the wire (remote_nonnull_domain). */
typedef struct {
    char *name;
    unsigned char uuid[16];
    int id;                      /* -1 when inactive */
} VsbDomainRef;
void vsb_domain_ref_clear(VsbDomainRef *ref);

/* Load persistent definitions, reattach to every controller still
 * running in run_dir (the daemon may have been killed), notice those
 * that stopped meanwhile (collect their NAME.exit), then autostart. */
VsbDriver *vsb_driver_new(const VsbDriverConfig *cfg, GError **error);
void vsb_driver_free(VsbDriver *drv);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbDriver, vsb_driver_free)

/* True while at least one domain runs (for the daemon's --timeout). */
bool vsb_driver_has_active(VsbDriver *drv);

/* Lookups return a pointer owned by the driver, valid until the next
 * return to the main loop; NULL with VSB_DRIVER_ERROR_NO_DOMAIN set
 * (message like libvirt's: "Domain not found: no domain with matching name 'x'"). */
VsbDomain *vsb_driver_lookup_by_name(VsbDriver *drv, const char *name, GError **error);
VsbDomain *vsb_driver_lookup_by_uuid(VsbDriver *drv, const unsigned char uuid[16], GError **error);
VsbDomain *vsb_driver_lookup_by_id(VsbDriver *drv, int id, GError **error);
/* Lookup from a wire reference: by uuid (as libvirt's drivers do). */
VsbDomain *vsb_driver_lookup_ref(VsbDriver *drv, const VsbDomainRef *ref, GError **error);

/* Domains matching @flags (VSB_LIST_*; 0 = all), sorted by name; the
 * array holds borrowed VsbDomain pointers. */
GPtrArray *vsb_driver_list(VsbDriver *drv, unsigned int flags);

void vsb_domain_get_ref(VsbDomain *dom, VsbDomainRef *ref);
const char *vsb_domain_get_name(VsbDomain *dom);
int vsb_domain_get_id(VsbDomain *dom);           /* the host pid of init, or -1 */
VsbDomainState vsb_domain_get_state(VsbDomain *dom, int *reason);
bool vsb_domain_is_active(VsbDomain *dom);
bool vsb_domain_is_persistent(VsbDomain *dom);
bool vsb_domain_get_autostart(VsbDomain *dom);
bool vsb_driver_set_autostart(VsbDriver *drv, VsbDomain *dom, bool autostart, GError **error);

/* The live definition when running (unless @inactive), else the
 * persistent one.  Formatted with the id when running. */
char *vsb_domain_get_xml(VsbDomain *dom, bool inactive);
const VsbDomainDef *vsb_domain_get_def(VsbDomain *dom, bool inactive);

typedef struct {
    VsbDomainState state;
    unsigned long long max_mem_kib;
    unsigned long long memory_kib;     /* current usage when running (cgroup), else currentMemory */
    unsigned int nr_virt_cpu;
    unsigned long long cpu_time_ns;    /* from the cgroup when running, else 0 */
} VsbDomainInfo;
void vsb_domain_get_info(VsbDomain *dom, VsbDomainInfo *info);

/* Define (create or replace the persistent definition; atomic write;
 * a running domain keeps its live definition until it stops).  Emits
 * DEFINED (ADDED or UPDATED).  Same name with another uuid, or same
 * uuid with another name: VSB_DRIVER_ERROR_EXISTS. */
VsbDomain *vsb_driver_define_xml(VsbDriver *drv, const char *xml, GError **error);
/* Remove the persistent definition (and autostart link); a running
 * domain becomes transient.  Emits UNDEFINED. */
bool vsb_driver_undefine(VsbDriver *drv, VsbDomain *dom, GError **error);

/* Start a defined domain: spawn its controller (detached: setsid,
 * stdio to log_dir/NAME.log) with --ready-fd, wait for "ok PID".
 * Emits STARTED/BOOTED.  Fails with the controller's own message. */
bool vsb_driver_start(VsbDriver *drv, VsbDomain *dom, GError **error);
/* Start a transient domain (vanishes when it stops). */
VsbDomain *vsb_driver_create_xml(VsbDriver *drv, const char *xml, GError **error);

/* Kill the container at once (controller "destroy") and wait until it
 * is gone (bounded); emits STOPPED/DESTROYED. */
bool vsb_driver_destroy(VsbDriver *drv, VsbDomain *dom, GError **error);
/* Ask init to stop: @flags VSB_SHUTDOWN_SIGNAL sends SIGTERM... to init
 * (SIGRTMIN+4 when init is systemd, SIGPWR... see the .c for the rule),
 * VSB_SHUTDOWN_INITCTL writes to /run/initctl or /dev/initctl in the
 * container when it exists; DEFAULT tries initctl then the signal.
 * Returns at once; the domain stops later (STOPPED/SHUTDOWN). */
bool vsb_driver_shutdown(VsbDriver *drv, VsbDomain *dom, unsigned int flags, GError **error);
/* Restart init in a fresh container; STOPPED then STARTED events. */
bool vsb_driver_reboot(VsbDriver *drv, VsbDomain *dom, unsigned int flags, GError **error);

/* Freeze / thaw the container's processes (the payload cgroup's
 * freezer): state PAUSED (reason USER), events SUSPENDED/PAUSED and
 * RESUMED/UNPAUSED.  Suspending a paused domain does nothing. */
bool vsb_driver_suspend(VsbDriver *drv, VsbDomain *dom, GError **error);
bool vsb_driver_resume(VsbDriver *drv, VsbDomain *dom, GError **error);

/* Memory tunables in KiB (libvirt's "hard_limit", "soft_limit",
 * "swap_hard_limit"); VSB_MEMTUNE_UNLIMITED (libvirt's
 * VIR_DOMAIN_MEMORY_PARAM_UNLIMITED) or above for no limit. */
#define VSB_MEMTUNE_UNLIMITED 9007199254740991ULL
typedef struct {
    bool set_hard, set_soft, set_swap;
    unsigned long long hard_kib, soft_kib, swap_kib;
} VsbMemtune;
/* Change the running domain's payload cgroup (@live) and/or its
 * persistent definition (@config, saved), all or nothing for each. */
bool vsb_driver_set_memtune(VsbDriver *drv, VsbDomain *dom, const VsbMemtune *mt, bool live,
                            bool config, GError **error);


/* setmem / setmaxmem, libvirt's rules: @maximum changes <memory>
 * (config only: not on a running domain), else <currentMemory>, never
 * above the maximum; live, the cgroup's hard limit follows. */
bool vsb_driver_set_memory(VsbDriver *drv, VsbDomain *dom, unsigned long long kib, bool maximum,
                           bool live, bool config, GError **error);

/* schedinfo ("posix"): cpu_shares, vcpu_period (µs, 0 = leave),
 * vcpu_quota (µs, 0 = leave, < 0 = none); ranges as libvirt's. */
#define VSB_SCHED_SHARES_MIN 2ULL
#define VSB_SCHED_SHARES_MAX 262144ULL
#define VSB_SCHED_PERIOD_MIN 1000ULL
#define VSB_SCHED_PERIOD_MAX 1000000ULL
#define VSB_SCHED_QUOTA_MIN 1000LL
#define VSB_SCHED_QUOTA_MAX 17592186044415LL
typedef struct {
    bool set_shares, set_period, set_quota;
    unsigned long long shares;
    unsigned long long period_us;
    long long quota_us;
} VsbSchedParams;
bool vsb_driver_set_sched(VsbDriver *drv, VsbDomain *dom, const VsbSchedParams *sp, bool live,
                          bool config, GError **error);
/* What schedinfo reports for @def: live, the defaults the kernel
 * applies to what the definition leaves out. */
void vsb_domain_def_get_sched(const VsbDomainDef *def, bool live, VsbSchedParams *sp);

/* blkiotune.  The per device fields, as libvirt's typed parameters
 * name them; each travels as a string "path,value,path,value". */
typedef enum {
    VSB_BLKIO_DEVICE_WEIGHT,
    VSB_BLKIO_DEVICE_READ_IOPS,
    VSB_BLKIO_DEVICE_WRITE_IOPS,
    VSB_BLKIO_DEVICE_READ_BYTES,
    VSB_BLKIO_DEVICE_WRITE_BYTES,
    VSB_BLKIO_DEVICE_LAST
} VsbBlkioField;
const char *vsb_blkio_field_to_string(VsbBlkioField f);
int vsb_blkio_field_from_string(const char *s);   /* -1 when unknown */

typedef struct {
    char *path;
    VsbBlkioField field;
    unsigned long long value;    /* 0 removes this setting */
} VsbBlkioSetting;
void vsb_blkio_setting_free(VsbBlkioSetting *s);

/* Parse libvirt's "path,value[,path,value...]" for @field into @out
 * (of VsbBlkioSetting*); "" is an empty list.  Errors name the field
 * and the offending text. */
bool vsb_blkio_parse_list(const char *text, VsbBlkioField field, GPtrArray *out,
                          GError **error);
/* The "path,value,..." string of @def's devices that have @field set. */
char *vsb_blkio_format_list(const VsbDomainDef *def, VsbBlkioField field);

typedef struct {
    bool set_weight;
    unsigned int weight;         /* 100..1000 */
    GPtrArray *devices;          /* of VsbBlkioSetting*, may be NULL */
} VsbBlkiotune;
bool vsb_driver_set_blkiotune(VsbDriver *drv, VsbDomain *dom, const VsbBlkiotune *bt, bool live,
                              bool config, GError **error);

/* Statistics of a domain (vsb-driver-stats.c); sizes in KiB.  The
 * have_* flags say which groups were readable. */
typedef struct {
    bool have_cpu, have_mem, have_kmem, have_pids, have_io;
    unsigned long long cpu_time_ns, cpu_user_ns, cpu_system_ns;
    unsigned long long max_kib;        /* <memory>, else the host's memory */
    unsigned long long balloon_kib;    /* the hard limit in force, else max_kib */
    unsigned long long used_kib;       /* what the cgroup charges (user + kernel) */
    unsigned long long rss_kib;        /* anonymous memory */
    unsigned long long cache_kib;      /* page cache */
    unsigned long long usable_kib;     /* balloon - used + reclaimable, clamped */
    unsigned long long unused_kib;     /* balloon - used, clamped */
    unsigned long long swap_kib;
    unsigned long long oom_kills, failcnt;
    unsigned long long kmem_kib, kmem_slab_kib, kmem_sock_kib;
    unsigned long long pids_current;
    unsigned long long pids_max;       /* 0 = no limit */
    unsigned long long io_read_bytes, io_write_bytes, io_read_ops, io_write_ops;
} VsbDomainStats;
/* A running domain's figures from its payload cgroups; an inactive
 * domain gets max_kib and balloon_kib only (nothing else readable). */
bool vsb_driver_get_stats(VsbDriver *drv, VsbDomain *dom, VsbDomainStats *st, GError **error);

/* Interface statistics (vsb-driver-net.c), from the guest's side: the
 * host end of the veth pair with receive and transmit swapped. */
typedef struct {
    char name[IFNAMSIZ];               /* the host end (<target dev>) */
    long long rx_bytes, rx_packets, rx_errs, rx_drop;
    long long tx_bytes, tx_packets, tx_errs, tx_drop;
} VsbInterfaceStats;
/* @device: the host-side name or the MAC address of one interface of
 * the running @dom. */
bool vsb_driver_interface_stats(VsbDomain *dom, const char *device, VsbInterfaceStats *st,
                                GError **error);
/* Every interface of the running @dom (none when it is not running),
 * in document order, those whose figures are readable. */
GArray *vsb_driver_all_interface_stats(VsbDomain *dom);

/* A socket carrying the domain's console both ways (from the
 * controller's control socket, after its "ok").  Caller owns it. */
int vsb_driver_open_console(VsbDriver *drv, VsbDomain *dom, bool force, GError **error);

/* Open /proc/<init>/ns/{user,ipc,uts,net,pid,mnt} (that order; those
 * that exist); returns the fds (caller closes). */
GArray *vsb_driver_open_namespaces(VsbDriver *drv, VsbDomain *dom, GError **error);

/* Lifecycle events.  The callback gets the domain's reference at the
 * time of the event (id still set for STOPPED, as libvirt does). */
typedef void (*VsbDriverEventFunc)(const VsbDomainRef *dom, VsbEventType event, int detail,
                                   gpointer opaque);
guint vsb_driver_add_event_listener(VsbDriver *drv, VsbDriverEventFunc func, gpointer opaque);
void vsb_driver_remove_event_listener(VsbDriver *drv, guint id);

/* Host facts for CONNECT_GET_CAPABILITIES and NODE_GET_INFO. */
char *vsb_driver_get_capabilities(VsbDriver *drv);
typedef struct {
    char model[32];                  /* e.g. "x86_64" */
    unsigned long long memory_kib;
    unsigned int cpus, mhz, nodes, sockets, cores, threads;
} VsbNodeInfo;
bool vsb_driver_get_node_info(VsbDriver *drv, VsbNodeInfo *info, GError **error);

G_END_DECLS
