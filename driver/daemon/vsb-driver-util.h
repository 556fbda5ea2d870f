/*
 * vsb-driver-util.h: the driver's pure decisions and parsers (no
 * syscalls), kept apart so that unit tests reach them directly.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vsb-domain-conf.h"
#include "vsb-driver.h"

G_BEGIN_DECLS

/* virDomainRunningReason / virDomainShutoffReason values we use */
#define VSB_RUNNING_UNKNOWN 0
#define VSB_RUNNING_BOOTED 1
#define VSB_SHUTOFF_UNKNOWN 0
#define VSB_SHUTOFF_SHUTDOWN 1
#define VSB_SHUTOFF_DESTROYED 2
#define VSB_SHUTOFF_CRASHED 3
#define VSB_SHUTOFF_FAILED 6

/* virDomainEventStartedDetailType / virDomainEventStoppedDetailType /
 * virDomainEventDefinedDetailType / virDomainEventUndefinedDetailType */
#define VSB_EVENT_STARTED_BOOTED 0
#define VSB_EVENT_STOPPED_SHUTDOWN 0
#define VSB_EVENT_STOPPED_DESTROYED 1
#define VSB_EVENT_STOPPED_CRASHED 2
#define VSB_EVENT_STOPPED_FAILED 5
#define VSB_EVENT_DEFINED_ADDED 0
#define VSB_EVENT_DEFINED_UPDATED 1
#define VSB_EVENT_UNDEFINED_REMOVED 0

/* The remaining virConnectListAllDomainsFlags (see vsb_driver_list()). */
#define VSB_LIST_PERSISTENT     (1 << 2)
#define VSB_LIST_TRANSIENT      (1 << 3)
#define VSB_LIST_RUNNING        (1 << 4)
#define VSB_LIST_PAUSED         (1 << 5)
#define VSB_LIST_SHUTOFF        (1 << 6)
#define VSB_LIST_OTHER          (1 << 7)
#define VSB_LIST_MANAGEDSAVE    (1 << 8)
#define VSB_LIST_NO_MANAGEDSAVE (1 << 9)
#define VSB_LIST_AUTOSTART      (1 << 10)
#define VSB_LIST_NO_AUTOSTART   (1 << 11)
#define VSB_LIST_HAS_SNAPSHOT   (1 << 12)
#define VSB_LIST_NO_SNAPSHOT    (1 << 13)
#define VSB_LIST_HAS_CHECKPOINT (1 << 14)
#define VSB_LIST_NO_CHECKPOINT  (1 << 15)

/* What a domain is, for list filtering. */
typedef struct {
    bool active;
    bool persistent;
    bool autostart;
    VsbDomainState state;
} VsbDomainFacts;

/* libvirt's filter semantics: within each group (active/inactive,
 * persistent/transient, state, managed save, autostart, snapshot,
 * checkpoint) a domain passes when the group has no bit set or its own
 * bit is set.  We never have managed saves, snapshots or checkpoints. */
bool vsb_driver_list_match(unsigned int flags, const VsbDomainFacts *facts);

/* NAME.state of a controller. */
typedef struct {
    pid_t controller_pid;
    pid_t init_pid;
    gint64 started_us;  /* CLOCK_REALTIME, 0 if absent */
} VsbControllerState;
bool vsb_driver_parse_state(const char *text, VsbControllerState *st, GError **error);

/* NAME.exit of a controller. */
typedef enum {
    VSB_EXIT_EXITED,
    VSB_EXIT_SIGNALED,
    VSB_EXIT_DESTROYED,
    VSB_EXIT_ERROR,
} VsbExitReason;

typedef struct {
    int status;          /* 128+N when signaled */
    VsbExitReason reason;
} VsbControllerExit;
bool vsb_driver_parse_exit(const char *text, VsbControllerExit *ex, GError **error);

/* What the driver asked of a running domain, which colours how its end
 * is reported. */
typedef enum {
    VSB_DOMAIN_REQUEST_NONE,
    VSB_DOMAIN_REQUEST_SHUTDOWN,    /* shutdown(): init was asked to power off */
    VSB_DOMAIN_REQUEST_REBOOT,      /* reboot() with a mode: init was asked to reboot */
    VSB_DOMAIN_REQUEST_DESTROY,     /* destroy() */
    VSB_DOMAIN_REQUEST_RESTART,     /* reboot() without a mode: destroy, then start again */
} VsbDomainRequest;

typedef struct {
    int event_detail;    /* VSB_EVENT_STOPPED_* */
    int shutoff_reason;  /* VSB_SHUTOFF_* */
    bool restart;        /* start it again (reboot, <on_*>restart) */
} VsbStopOutcome;

/* How a domain's end is reported and whether it starts again.  @ex is
 * NULL when the controller vanished without writing NAME.exit. */
void vsb_driver_stop_outcome(const VsbControllerExit *ex, VsbDomainRequest request,
                             const VsbDomainDef *def, VsbStopOutcome *out);

/* The signal asking init to power off (or reboot), from what
 * /proc/PID/comm and the target of /proc/PID/exe say it is; both may be
 * NULL. */
int vsb_driver_init_signal(const char *comm, const char *exe, bool reboot);

/* The request sysvinit reads from its initctl fifo: change to
 * @runlevel ('0' power off, '6' reboot). */
#define VSB_INITCTL_REQUEST_SIZE 384
void vsb_driver_initctl_request(char runlevel, unsigned char buf[VSB_INITCTL_REQUEST_SIZE]);

/* A kernel cpu list ("0-3,8,10-11") as a sorted array of guint. */
GArray *vsb_driver_parse_cpulist(const char *text, GError **error);

/* A ready-fd line of the controller: "ok PID" or "error MESSAGE".
 * Returns the init pid, or 0 with @error set to the message (or to a
 * description of a garbled line). */
pid_t vsb_driver_parse_ready(const char *line, GError **error);

G_END_DECLS
