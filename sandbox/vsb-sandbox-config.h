/*
 * vsb-sandbox-config.h: what a sandbox is, independent of how it runs
 * (LXC container or KVM guest).
 *
 * A VsbSandboxConfig is built from the command line (vsb-sandbox-cli.h)
 * or loaded from a file, validated as it is filled in (every setter that
 * can fail says why, naming the value), and turned into a domain by a
 * builder (vsb-sandbox-builder.h).  It says nothing about the host it
 * runs on: staging directories, init's path, the daemon's URI are the
 * builder's and the context's business.
 *
 * The sandbox always has, whatever the config says: a private /tmp,
 * /var/tmp and /run (tmpfs), private /dev and /proc, loopback and the
 * -N interfaces only.  A mount on one of those targets replaces the default one.
 */
#pragma once

#include <glib-object.h>
#include <stdbool.h>

G_BEGIN_DECLS

#define VSB_SANDBOX_ERROR (vsb_sandbox_error_quark())
GQuark vsb_sandbox_error_quark(void);

typedef enum {
    VSB_SANDBOX_ERROR_INVALID,      /* a bad value from the user */
    VSB_SANDBOX_ERROR_UNSUPPORTED,  /* valid, but not (yet) possible here */
    VSB_SANDBOX_ERROR_FAILED,       /* the host said no */
    VSB_SANDBOX_ERROR_INTERRUPTED,  /* a signal or Ctrl-] ended the run */
} VsbSandboxErrorCode;

/* Private to every sandbox (tmpfs); NULL-terminated. */
extern const char *const vsb_sandbox_default_tmpfs[];

typedef enum {
    VSB_SANDBOX_MOUNT_HOST_BIND,   /* a host directory ("" = a fresh temporary one) */
    VSB_SANDBOX_MOUNT_HOST_IMAGE,  /* a filesystem image file of the host */
    VSB_SANDBOX_MOUNT_GUEST_BIND,  /* another directory of the sandbox */
    VSB_SANDBOX_MOUNT_RAM,         /* a tmpfs */
    VSB_SANDBOX_MOUNT_LAST
} VsbSandboxMountType;
const char *vsb_sandbox_mount_type_to_string(VsbSandboxMountType t);
int vsb_sandbox_mount_type_from_string(const char *s);   /* -1 if unknown */

typedef enum {
    VSB_SANDBOX_FORMAT_RAW,
    VSB_SANDBOX_FORMAT_QCOW2,
    VSB_SANDBOX_FORMAT_LAST
} VsbSandboxFormat;
const char *vsb_sandbox_format_to_string(VsbSandboxFormat f);
int vsb_sandbox_format_from_string(const char *s);       /* -1 if unknown */

/* How a KVM sandbox shares a host-bind directory (an LXC sandbox bind
 * mounts it, and takes the default only). */
typedef enum {
    VSB_SANDBOX_SHARE_9P,          /* virtio-9p, QEMU's own (default) */
    VSB_SANDBOX_SHARE_VIRTIOFS,    /* virtio-fs through virtiofsd */
    VSB_SANDBOX_SHARE_LAST
} VsbSandboxShareDriver;
const char *vsb_sandbox_share_driver_to_string(VsbSandboxShareDriver d);
int vsb_sandbox_share_driver_from_string(const char *s); /* -1 if unknown */

typedef struct {
    VsbSandboxMountType type;
    char *target;                  /* absolute, normalised */
    char *source;                  /* host dir/image, sandbox dir; "" for a temporary
                                    * host-bind; NULL for ram */
    guint64 size;                  /* ram: bytes (> 0) */
    VsbSandboxFormat format;       /* host-image */
    VsbSandboxShareDriver driver;  /* host-bind */
} VsbSandboxMount;
void vsb_sandbox_mount_free(VsbSandboxMount *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbSandboxMount, vsb_sandbox_mount_free)

typedef struct {
    char *guest;                   /* absolute path in the sandbox */
    char *host;                    /* absolute path on the host */
} VsbSandboxInclude;

typedef struct {
    char *type;                    /* "file" */
    char *tag;                     /* [A-Za-z0-9_.-]+ */
    char *source;                  /* absolute host path */
    VsbSandboxFormat format;
} VsbSandboxDisk;

typedef struct {
    char *name;
    char *value;
} VsbSandboxEnv;

typedef enum {
    VSB_SANDBOX_SECURITY_DYNAMIC,  /* a fresh label (optional base label) */
    VSB_SANDBOX_SECURITY_STATIC,   /* exactly this label */
    VSB_SANDBOX_SECURITY_INHERIT,  /* the label of the process starting it */
    VSB_SANDBOX_SECURITY_NONE,     /* no confinement by labels */
    VSB_SANDBOX_SECURITY_LAST
} VsbSandboxSecurityMode;
const char *vsb_sandbox_security_mode_to_string(VsbSandboxSecurityMode m);
int vsb_sandbox_security_mode_from_string(const char *s);

#define VSB_SANDBOX_TYPE_CONFIG (vsb_sandbox_config_get_type())
G_DECLARE_FINAL_TYPE(VsbSandboxConfig, vsb_sandbox_config, VSB, SANDBOX_CONFIG, GObject)

/* A config with @name, running the caller's own identity (uid, gid,
 * groups, user name, home, cwd), dynamic security, no command yet. */
VsbSandboxConfig *vsb_sandbox_config_new(const char *name, GError **error);

const char *vsb_sandbox_config_get_name(VsbSandboxConfig *c);
bool vsb_sandbox_config_set_name(VsbSandboxConfig *c, const char *name, GError **error);
/* "sandbox-XXXXXXXXXXXX": unique enough that parallel runs never clash. */
char *vsb_sandbox_config_generate_name(void);

/* The root directory (read-only); NULL = the host's /. */
const char *vsb_sandbox_config_get_root(VsbSandboxConfig *c);
bool vsb_sandbox_config_set_root(VsbSandboxConfig *c, const char *dir, GError **error);

const char *const *vsb_sandbox_config_get_command(VsbSandboxConfig *c);
bool vsb_sandbox_config_set_command(VsbSandboxConfig *c, const char *const *argv, GError **error);

/* Setting a variable twice keeps the last value, in first position. */
GPtrArray *vsb_sandbox_config_get_env(VsbSandboxConfig *c);   /* of VsbSandboxEnv* */
bool vsb_sandbox_config_set_env(VsbSandboxConfig *c, const char *name, const char *value,
                                GError **error);

/* Takes ownership of @m (also on failure).  Targets must be distinct. */
GPtrArray *vsb_sandbox_config_get_mounts(VsbSandboxConfig *c); /* of VsbSandboxMount* */
bool vsb_sandbox_config_add_mount(VsbSandboxConfig *c, VsbSandboxMount *m, GError **error);
/* The mount on "/" (host-bind or host-image), if any. */
const VsbSandboxMount *vsb_sandbox_config_get_root_mount(VsbSandboxConfig *c);

GPtrArray *vsb_sandbox_config_get_includes(VsbSandboxConfig *c); /* of VsbSandboxInclude* */
bool vsb_sandbox_config_add_include(VsbSandboxConfig *c, const char *guest, const char *host,
                                    GError **error);

GPtrArray *vsb_sandbox_config_get_disks(VsbSandboxConfig *c);    /* of VsbSandboxDisk* */
bool vsb_sandbox_config_add_disk(VsbSandboxConfig *c, const char *type, const char *tag,
                                 const char *source, VsbSandboxFormat format, GError **error);

/* Network interfaces: kept as given (-N syntax, vsb-sandbox-netspec.h,
 * checked by vsb_sandbox_config_validate); eth0, eth1, ... in order. */
GPtrArray *vsb_sandbox_config_get_networks(VsbSandboxConfig *c); /* of char* */
void vsb_sandbox_config_add_network(VsbSandboxConfig *c, const char *spec);

/* Identity of the program in the sandbox. */
guint32 vsb_sandbox_config_get_uid(VsbSandboxConfig *c);
guint32 vsb_sandbox_config_get_gid(VsbSandboxConfig *c);
GArray *vsb_sandbox_config_get_groups(VsbSandboxConfig *c);      /* of guint32, supplementary */
const char *vsb_sandbox_config_get_username(VsbSandboxConfig *c);
const char *vsb_sandbox_config_get_homedir(VsbSandboxConfig *c);
const char *vsb_sandbox_config_get_cwd(VsbSandboxConfig *c);
bool vsb_sandbox_config_set_identity(VsbSandboxConfig *c, guint32 uid, guint32 gid,
                                     const char *username, const char *homedir,
                                     GError **error);
void vsb_sandbox_config_set_groups(VsbSandboxConfig *c, const guint32 *groups, guint n);
bool vsb_sandbox_config_set_cwd(VsbSandboxConfig *c, const char *cwd, GError **error);
/* Identity of the user who asked: SUDO_UID/SUDO_GID (with the user's
 * passwd entry) when run by root through sudo, else the real uid/gid;
 * supplementary groups from the group database.  @user: that user
 * instead (-S); NULL for the caller. */
bool vsb_sandbox_config_set_identity_from_host(VsbSandboxConfig *c, const char *user,
                                               GError **error);

VsbSandboxSecurityMode vsb_sandbox_config_get_security_mode(VsbSandboxConfig *c);
const char *vsb_sandbox_config_get_security_label(VsbSandboxConfig *c);
/* dynamic: @label is an optional base label; static: required;
 * inherit and none: must be NULL. */
bool vsb_sandbox_config_set_security(VsbSandboxConfig *c, VsbSandboxSecurityMode mode,
                                     const char *label, GError **error);

/* Root with the container's capabilities (default: every capability
 * dropped and no way to gain one back, whatever the uid). */
bool vsb_sandbox_config_get_privileged(VsbSandboxConfig *c);
void vsb_sandbox_config_set_privileged(VsbSandboxConfig *c, bool privileged);
bool vsb_sandbox_config_get_shell(VsbSandboxConfig *c);
void vsb_sandbox_config_set_shell(VsbSandboxConfig *c, bool shell);
bool vsb_sandbox_config_get_debug(VsbSandboxConfig *c);
void vsb_sandbox_config_set_debug(VsbSandboxConfig *c, bool debug);

/* Memory limit in KiB; 0 = none (LXC) or the builder's default (KVM). */
guint64 vsb_sandbox_config_get_memory_kib(VsbSandboxConfig *c);
void vsb_sandbox_config_set_memory_kib(VsbSandboxConfig *c, guint64 kib);

/* KVM sandboxes only (a container runs on the host's kernel and clock:
 * the LXC builder refuses them).  The kernel: @version (e.g.
 * 6.1.0-56-amd64), the image's @path (default /boot/vmlinuz-VERSION)
 * and the modules' root directory (default /lib/modules); NULL for the
 * default choice. */
const char *vsb_sandbox_config_get_kernel_version(VsbSandboxConfig *c);
bool vsb_sandbox_config_set_kernel_version(VsbSandboxConfig *c, const char *version,
                                           GError **error);
const char *vsb_sandbox_config_get_kernel_path(VsbSandboxConfig *c);
bool vsb_sandbox_config_set_kernel_path(VsbSandboxConfig *c, const char *path, GError **error);
const char *vsb_sandbox_config_get_kmod_path(VsbSandboxConfig *c);
bool vsb_sandbox_config_set_kmod_path(VsbSandboxConfig *c, const char *path, GError **error);
/* Virtual CPUs; 0 = the builder's default (1). */
#define VSB_SANDBOX_MAX_VCPUS 255
guint vsb_sandbox_config_get_vcpus(VsbSandboxConfig *c);
bool vsb_sandbox_config_set_vcpus(VsbSandboxConfig *c, guint vcpus, GError **error);
/* The guest's realtime clock ahead of the host's by @seconds (negative:
 * behind); false when none was set. */
#define VSB_SANDBOX_MAX_CLOCK_OFFSET (100LL * 366 * 24 * 3600)
bool vsb_sandbox_config_get_clock_offset(VsbSandboxConfig *c, gint64 *seconds);
bool vsb_sandbox_config_set_clock_offset(VsbSandboxConfig *c, gint64 seconds, GError **error);
/* Whether any of the above is set (what the LXC builder refuses). */
const char *vsb_sandbox_config_vm_option_set(VsbSandboxConfig *c);

/* What cannot be checked field by field: a command is set, every
 * include lands on a writable mount, ... */
bool vsb_sandbox_config_validate(VsbSandboxConfig *c, GError **error);

/* Saved as a GKeyFile (see vsb-sandbox-config-file.c for the layout);
 * loading validates every value as the setters do. */
char *vsb_sandbox_config_to_data(VsbSandboxConfig *c);
bool vsb_sandbox_config_save(VsbSandboxConfig *c, const char *path, GError **error);
VsbSandboxConfig *vsb_sandbox_config_load_data(const char *data, GError **error);
VsbSandboxConfig *vsb_sandbox_config_load(const char *path, GError **error);

/* The command-line syntaxes, shared by the tool and the file loader.
 * Errors name the offending part; the caller adds which option. */
bool vsb_sandbox_parse_size(const char *s, guint64 *bytes, GError **error);  /* 500M, 1GiB, 4096 */
bool vsb_sandbox_parse_clock_offset(const char *s, gint64 *seconds, GError **error); /* -3600 */
/* TYPE:DST=SRC; host-image: SRC[,format=F]; host-bind: SRC[,driver=D] */
VsbSandboxMount *vsb_sandbox_parse_mount(const char *spec, GError **error);
bool vsb_sandbox_parse_include(const char *spec, char **guest, char **host,
                               GError **error);                             /* GUEST[=HOST] */
bool vsb_sandbox_parse_env(const char *spec, char **name, char **value,
                           GError **error);                                 /* K=V */
bool vsb_sandbox_parse_security(const char *spec, VsbSandboxSecurityMode *mode,
                                char **label, GError **error);
bool vsb_sandbox_config_add_disk_spec(VsbSandboxConfig *c, const char *spec,
                                      GError **error);                      /* TYPE:TAG=SRC[,format=F] */
/* An include file: one GUEST[=HOST] per line, '#' comments. */
bool vsb_sandbox_config_add_include_file(VsbSandboxConfig *c, const char *path,
                                         GError **error);

/* "/a//b/" -> "/a/b"; NULL (with @error) unless absolute and free of
 * "." and ".." components. */
char *vsb_sandbox_normalize_path(const char *path, const char *what, GError **error);
/* True when @path is @dir or below it (both normalised). */
bool vsb_sandbox_path_is_under(const char *path, const char *dir);

G_END_DECLS
