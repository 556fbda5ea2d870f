/*
 * vsb-domain-conf.h: libvirt LXC domain XML, in memory.
 *
 * Pure code: parsing, validation and formatting never touch the host
 * (no stat(), no syscalls beyond memory allocation).  Whether a path
 * exists is the controller's business, at start time.
 *
 * What libvirt 9.0 defines for <domain type='lxc'> and we do not
 * implement yet is rejected with an error naming the element; nothing
 * is dropped silently.  Foreign <metadata> children are kept verbatim.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

G_BEGIN_DECLS

#define VSB_DOMAIN_CONF_ERROR (vsb_domain_conf_error_quark())
GQuark vsb_domain_conf_error_quark(void);

typedef enum {
    VSB_DOMAIN_CONF_ERROR_XML,          /* not well-formed XML */
    VSB_DOMAIN_CONF_ERROR_INVALID,      /* a value is wrong */
    VSB_DOMAIN_CONF_ERROR_UNSUPPORTED,  /* valid libvirt XML we do not support */
} VsbDomainConfError;

/* Our own XML namespace, for what libvirt has no element for.  Lives
 * inside <metadata> so documents still validate against libvirt's
 * schema. */
#define VSB_DOMAIN_XMLNS "http://virt-sandbox.org/xmlns/domain/1.0"
#define VSB_DOMAIN_XMLNS_PREFIX "vsb"

typedef enum {
    VSB_DOMAIN_FS_MOUNT,   /* <filesystem type='mount'>: host directory bind */
    VSB_DOMAIN_FS_BIND,    /* <filesystem type='bind'>: a directory of the guest */
    VSB_DOMAIN_FS_FILE,    /* <filesystem type='file'>: image file on a loop device */
    VSB_DOMAIN_FS_RAM,     /* <filesystem type='ram'>: tmpfs */
    VSB_DOMAIN_FS_LAST
} VsbDomainFSType;
const char *vsb_domain_fs_type_to_string(VsbDomainFSType t);
int vsb_domain_fs_type_from_string(const char *s);  /* -1 if unknown */

typedef enum {
    VSB_DOMAIN_FS_FORMAT_RAW,  /* the only format a loop device can take */
    VSB_DOMAIN_FS_FORMAT_LAST
} VsbDomainFSFormat;

typedef struct {
    VsbDomainFSType type;
    char *source;          /* host dir (MOUNT), guest dir (BIND), image path (FILE); NULL for RAM */
    char *target;          /* absolute path in the container */
    bool readonly;
    unsigned long long usage_kib;  /* RAM only: tmpfs size in KiB; 0 = kernel default */
    char *usage_unit;      /* RAM only: unit as written ("KiB" default); the formatter
                            * always writes usage in KiB, as libvirt does */
    char *accessmode;      /* as written ("passthrough" default, others rejected); may be NULL */
    VsbDomainFSFormat format;      /* FILE only */
} VsbDomainFS;

typedef enum {
    VSB_DOMAIN_LIFECYCLE_DESTROY,
    VSB_DOMAIN_LIFECYCLE_RESTART,
    VSB_DOMAIN_LIFECYCLE_PRESERVE,
    VSB_DOMAIN_LIFECYCLE_RENAME_RESTART,
    VSB_DOMAIN_LIFECYCLE_LAST
} VsbDomainLifecycleAction;
const char *vsb_domain_lifecycle_to_string(VsbDomainLifecycleAction a);
int vsb_domain_lifecycle_from_string(const char *s);

typedef enum {
    VSB_DOMAIN_CAPS_POLICY_DEFAULT,  /* our baseline: a bounded set */
    VSB_DOMAIN_CAPS_POLICY_ALLOW,    /* everything, minus caps turned off */
    VSB_DOMAIN_CAPS_POLICY_DENY,     /* nothing, plus caps turned on */
    VSB_DOMAIN_CAPS_POLICY_LAST
} VsbDomainCapsPolicy;
const char *vsb_domain_caps_policy_to_string(VsbDomainCapsPolicy p);
int vsb_domain_caps_policy_from_string(const char *s);

typedef enum {
    VSB_DOMAIN_TRISTATE_ABSENT,
    VSB_DOMAIN_TRISTATE_ON,
    VSB_DOMAIN_TRISTATE_OFF,
} VsbDomainTristate;

/* Number of Linux capabilities libvirt knows (CAP_CHOWN .. CAP_CHECKPOINT_RESTORE). */
#define VSB_DOMAIN_CAP_COUNT 41
/* libvirt's element names for capabilities, indexed by the kernel's
 * capability number ("chown", "dac_override", ... ). */
const char *vsb_domain_cap_to_string(int cap);
int vsb_domain_cap_from_string(const char *s);

typedef struct {
    unsigned int start;    /* first id inside the container */
    unsigned int target;   /* first id on the host */
    unsigned int count;
} VsbDomainIdMap;

typedef struct {
    char *name;
    char *value;
} VsbDomainEnv;

/* One clock of the container's time namespace (<vsb:time> in our
 * <metadata> element; see libvirt-xml/README.md).  Only the clocks the
 * kernel can offset per namespace exist here: CLOCK_MONOTONIC and
 * CLOCK_BOOTTIME. */
typedef enum {
    VSB_DOMAIN_TIMENS_DEFAULT,   /* not given: the clock reads 0 when the container starts */
    VSB_DOMAIN_TIMENS_START,     /* start=: the clock's value when the container starts */
    VSB_DOMAIN_TIMENS_OFFSET,    /* offset=: a fixed offset from the host's clock */
} VsbDomainTimensMode;

typedef struct {
    VsbDomainTimensMode mode;
    gint64 ns;                   /* START: >= 0; OFFSET: either sign; DEFAULT: 0 */
} VsbDomainTimensClock;

/* Seconds a start= or offset= may be, either way: the kernel refuses a
 * namespace clock beyond KTIME_SEC_MAX / 2 (about 146 years). */
#define VSB_DOMAIN_TIMENS_MAX_SEC 4611686017LL

/* <seclabel> (sVirt): how the container's processes are labelled
 * where SELinux is enabled. */
typedef enum {
    VSB_DOMAIN_SECLABEL_DYNAMIC,  /* a unique MCS label allocated at start */
    VSB_DOMAIN_SECLABEL_STATIC,   /* exactly <label> */
    VSB_DOMAIN_SECLABEL_NONE,     /* unconfined */
    VSB_DOMAIN_SECLABEL_LAST
} VsbDomainSeclabelType;
const char *vsb_domain_seclabel_type_to_string(VsbDomainSeclabelType t);
int vsb_domain_seclabel_type_from_string(const char *s);

typedef struct {
    VsbDomainSeclabelType type;
    char *model;          /* "selinux", "none" or NULL (the host's) */
    bool relabel;         /* relabel shared files and images */
    char *label;          /* static: the label; dynamic: what was allocated (live) */
    char *imagelabel;     /* dynamic: the files' label (live) */
    char *baselabel;      /* dynamic: type and range to derive the label from */
} VsbDomainSeclabel;
void vsb_domain_seclabel_free(VsbDomainSeclabel *sl);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbDomainSeclabel, vsb_domain_seclabel_free)

/* <blkiotune><device>: per host block device (libvirt's order of
 * children: path, weight, read_iops_sec, write_iops_sec,
 * read_bytes_sec, write_bytes_sec). */
typedef struct {
    char *path;                         /* absolute host path, e.g. /dev/sda */
    unsigned int weight;                /* 0 = not given, else 100..1000 */
    unsigned long long read_iops_sec;   /* 0 = not given / unlimited */
    unsigned long long write_iops_sec;
    unsigned long long read_bytes_sec;
    unsigned long long write_bytes_sec;
} VsbDomainBlkioDevice;
void vsb_domain_blkio_device_free(VsbDomainBlkioDevice *d);

/* <numatune><memory mode=...>: strict and restrictive are enforced by
 * the cpuset controller (cpuset.mems); preferred and interleave by the
 * memory policy of init (set_mempolicy(2), inherited by its children). */
typedef enum {
    VSB_DOMAIN_NUMATUNE_STRICT,
    VSB_DOMAIN_NUMATUNE_PREFERRED,
    VSB_DOMAIN_NUMATUNE_INTERLEAVE,
    VSB_DOMAIN_NUMATUNE_RESTRICTIVE,
    VSB_DOMAIN_NUMATUNE_LAST
} VsbDomainNumatuneMode;
const char *vsb_domain_numatune_mode_to_string(VsbDomainNumatuneMode m);
int vsb_domain_numatune_mode_from_string(const char *s);

typedef struct {
    char *name;
    unsigned char uuid[16];
    char *title;
    char *description;
    char *metadata_xml;            /* <metadata> verbatim (foreign namespaces), or NULL:
                                    * the element as xmlNodeDump() writes it at depth 1
                                    * (inner lines indented for a child of <domain>,
                                    * first line not), namespaces declared on ancestors
                                    * re-declared on it.  Our own <vsb:sandbox> is not
                                    * in it: it is parsed into the fields below and the
                                    * formatter writes it back (after the foreign ones);
                                    * NULL when <metadata> held nothing else */
    VsbDomainTimensClock timens_monotonic;  /* <vsb:time><vsb:monotonic> */
    VsbDomainTimensClock timens_boottime;   /* <vsb:time><vsb:boottime> */

    unsigned long long memory_kib;         /* <memory>: the hard limit; 0 = none given */
    unsigned long long current_memory_kib; /* <currentMemory>; 0 = same as memory */
    unsigned int vcpus;                    /* <vcpu>; 0 = not given */
    char *cpuset;                          /* <vcpu cpuset=...>, normalised the way libvirt
                                            * writes it ("0-3,^2,5" -> "0-1,3,5"):
                                            * digits, ',' and '-' only; NULL = not given */
    unsigned long long cpu_shares;         /* <cputune><shares>; 0 = not given */
    unsigned long long cpu_period_us;      /* <cputune><period>; 0 = not given */
    long long cpu_quota_us;                /* <cputune><quota>; 0 = not given, < 0 = none */
    unsigned long long mem_hard_kib;       /* <memtune><hard_limit>; 0 = not given */
    unsigned long long mem_soft_kib;       /* <memtune><soft_limit>; 0 = not given */
    unsigned long long mem_swap_kib;       /* <memtune><swap_hard_limit>; 0 = not given */
    unsigned int blkio_weight;             /* <blkiotune><weight>; 0 = not given, else 100..1000 */
    GPtrArray *blkio_devices;              /* of VsbDomainBlkioDevice*, never NULL, document order,
                                            * one entry per path */
    char *numa_nodeset;                    /* <numatune><memory nodeset=...>, normalised like
                                            * cpuset; NULL = no <numatune> */
    VsbDomainNumatuneMode numa_mode;       /* <numatune><memory mode=...>, default strict */
    unsigned long long pids_max;           /* <vsb:pids max=...> (our namespace): most tasks
                                            * the container may hold; 0 = not given */

    char *os_arch;                 /* <type arch=...>, may be NULL */
    char *init;                    /* <init>, absolute path; NULL = /sbin/init */
    GPtrArray *initargs;           /* of char*, never NULL */
    GPtrArray *initenv;            /* of VsbDomainEnv*, never NULL */
    char *initdir;                 /* may be NULL */
    char *inituser;                /* name or number, may be NULL */
    char *initgroup;               /* name or number, may be NULL */

    GArray *uidmap;                /* of VsbDomainIdMap, never NULL; empty = no user namespace */
    GArray *gidmap;

    bool privnet;                  /* <features><privnet/> */
    bool has_caps_feature;         /* <features><capabilities> present */
    VsbDomainCapsPolicy caps_policy;
    VsbDomainTristate caps[VSB_DOMAIN_CAP_COUNT];

    char *timezone;                /* <clock offset='timezone' timezone=...>: TZ of init;
                                    * NULL for offset='utc' (the only other offset a
                                    * container can honour: it shares the host's
                                    * realtime clock) */

    VsbDomainLifecycleAction on_poweroff;  /* default destroy */
    VsbDomainLifecycleAction on_reboot;    /* default restart */
    VsbDomainLifecycleAction on_crash;     /* default destroy */

    char *emulator;                /* <devices><emulator>, kept for round trip; may be NULL */
    GPtrArray *filesystems;        /* of VsbDomainFS*, never NULL, document order */
    GPtrArray *interfaces;         /* of VsbDomainNet* (vsb-domain-net.h), never NULL,
                                    * document order */
    VsbDomainSeclabel *seclabel;   /* <seclabel>, or NULL */
    bool has_console;              /* <console type='pty'> present (one at most) */
} VsbDomainDef;

VsbDomainDef *vsb_domain_def_new(void);
void vsb_domain_def_free(VsbDomainDef *def);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbDomainDef, vsb_domain_def_free)

/* Parse and validate.  On failure sets @error with a message naming
 * the element or attribute and the offending value. */
VsbDomainDef *vsb_domain_def_parse_string(const char *xml, GError **error);
VsbDomainDef *vsb_domain_def_parse_file(const char *path, GError **error);

/* Format as libvirt would (2-space indent, libvirt's element order).
 * @id is the running domain's id to put in <domain id=...>, or -1. */
char *vsb_domain_def_format(const VsbDomainDef *def, int id);

/* The memory hard limit (KiB) @def puts in force, 0 for none:
 * <currentMemory> (the container's "balloon", else <memory>), lowered
 * to <memtune><hard_limit> when that is smaller.  The controller
 * applies it at start, the daemon on setmem and memtune. */
unsigned long long vsb_domain_def_hard_limit_kib(const VsbDomainDef *def);

/* The filesystem whose target is "/", or NULL when the host's / is the root. */
const VsbDomainFS *vsb_domain_def_get_root(const VsbDomainDef *def);

/* uuid helpers */
void vsb_domain_uuid_format(const unsigned char uuid[16], char out[37]);
bool vsb_domain_uuid_parse(const char *s, unsigned char uuid[16]);

/* Parse a libvirt scaled integer ("b", "bytes", "KB", "KiB", "k", "M",
 * "MiB", ... up to "EiB") into KiB, rounding up; @unit NULL means KiB
 * (libvirt's default).  Fails on unknown units and
 * overflow (result must fit in unsigned long long bytes). */
bool vsb_domain_parse_scaled_kib(const char *value, const char *unit,
                                 unsigned long long *kib, GError **error);

G_END_DECLS
