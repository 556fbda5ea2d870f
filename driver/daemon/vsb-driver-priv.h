/*
 * vsb-driver-priv.h: what the driver's own files share (vsb-driver.c:
 * the domain list, definitions, events; vsb-driver-process.c: the
 * controllers; vsb-driver-host.c: host facts).  Not for the RPC layer.
 */
#pragma once

#include "vsb-driver.h"
#include "vsb-driver-util.h"
#include "vsb-cgroup-tune.h"

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

struct _VsbDomain {
    VsbDriver *drv;
    char *name;
    unsigned char uuid[16];
    VsbDomainDef *config;      /* the persistent definition; NULL when transient */
    VsbDomainDef *live;        /* the running definition; NULL when inactive */
    bool autostart;

    /* while running */
    pid_t init_pid;
    pid_t controller_pid;
    gint64 started_mono;       /* g_get_monotonic_time() at start, for restart loops */
    guint run_id;              /* counts starts: tells one run from the next */
    VsbDomainRequest request;  /* what we asked of it, see vsb_driver_stop_outcome() */

    int reason;                /* of the current state (running or shutoff) */
    guint quick_restarts;      /* consecutive restarts after runs shorter than a second */
    GError *restart_error;     /* why the last automatic restart failed */
    bool removed;              /* out of the list, freed at the next idle */
    bool paused;               /* payload frozen (suspend); reason is then a paused one */
};

struct _VsbDriver {
    char *config_dir;
    char *autostart_dir;
    char *run_dir;
    char *log_dir;
    char *controller;
    char *cgroup_partition;    /* never NULL: "machine" by default, no leading '/' */

    GHashTable *domains;       /* name -> VsbDomain (owned) */
    GPtrArray *graveyard;      /* removed domains, kept until the main loop runs */
    guint graveyard_idle;

    GArray *listeners;         /* VsbDriverListener */
    guint next_listener_id;

    int inotify_fd;
    guint inotify_watch;
    guint check_timer;
    unsigned char host_uuid[16];
    bool host_uuid_set;
};

/* Errors as libvirt words them: the message gets the prefix libvirt's
 * virErrorMsg() gives @code ("Requested operation is not valid: "...). */
void vsb_driver_error(GError **error, VsbDriverErrorCode code, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

/* vsb-driver.c */
/* A new inactive domain named as @ident, with @config (taken, may be NULL). */
VsbDomain *vsb_driver_add_domain(VsbDriver *drv, const VsbDomainDef *ident, VsbDomainDef *config);
void vsb_driver_remove_domain(VsbDriver *drv, VsbDomain *dom);
void vsb_driver_emit(VsbDriver *drv, const VsbDomainRef *ref, VsbEventType event, int detail);
void vsb_domain_emit(VsbDomain *dom, VsbEventType event, int detail);
VsbDomainDef *vsb_domain_def_copy(const VsbDomainDef *def, GError **error);
char *vsb_driver_run_file(VsbDriver *drv, const char *name, const char *ext);
/* Write @def as @dom's persistent definition file (atomic); the caller
 * then makes it dom->config. */
bool vsb_domain_save_config(VsbDomain *dom, const VsbDomainDef *def, GError **error);

/* vsb-driver-process.c */
bool vsb_driver_watch_start(VsbDriver *drv, GError **error);
void vsb_driver_watch_stop(VsbDriver *drv);
/* Look at every controller in run_dir: attach the running, collect the
 * ended. */
void vsb_driver_scan_run_dir(VsbDriver *drv);
/* Spawn the controller for @dom with @def (taken) as its live definition. */
bool vsb_domain_launch(VsbDomain *dom, VsbDomainDef *def, GError **error);

/* vsb-driver-host.c */
/* Best effort: remove the cgroups a controller killed hard left (its
 * container must be dead). */
void vsb_driver_cgroup_remove(VsbDriver *drv, const char *name);
/* MemTotal of /proc/meminfo, 0 if unreadable. */
unsigned long long vsb_driver_host_memory_kib(void);

/* vsb-driver-tune.c */
/* Set paused (and the reason) from the payload's freezer, when
 * attaching to a running controller. */
void vsb_domain_load_paused(VsbDomain *dom);
/* The running domain's payload cgroups (OPERATION_FAILED when gone). */
VsbCgroupPayload *vsb_domain_open_payload(VsbDomain *dom, GError **error);
/* A tuning change: copies of the definitions it edits (@live needs a
 * running domain, @config a persistent one), NULL for the others... */
bool vsb_domain_begin_change(VsbDomain *dom, bool live, bool config, VsbDomainDef **new_live,
                             VsbDomainDef **new_config, GError **error);
/* ... installed (taken; NULL = unchanged) and saved once applied. */
bool vsb_domain_commit_change(VsbDomain *dom, VsbDomainDef *new_live, VsbDomainDef *new_config,
                              GError **error);
/* A cgroup write's failure (@cause, taken) as the API reports it:
 * "@what: why"; OPERATION_UNSUPPORTED when the host lacks the knob. */
bool vsb_driver_cgroup_failed(GError **error, GError *cause, const char *what);
