/*
 * vsb-driver-util.c: the driver's pure decisions and parsers.
 */
#include <config.h>

#include "vsb-driver-util.h"
#include "vsb-util.h"

#include <signal.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Listing                                                             */

/* A group of two opposite flags filters only when exactly one is set. */
static bool
group_passes(unsigned int flags, unsigned int yes, unsigned int no, bool value)
{
    bool want_yes = flags & yes, want_no = flags & no;

    if (want_yes == want_no)
        return true;
    return want_yes ? value : !value;
}

bool
vsb_driver_list_match(unsigned int flags, const VsbDomainFacts *facts)
{
    const unsigned int states = VSB_LIST_RUNNING | VSB_LIST_PAUSED | VSB_LIST_SHUTOFF |
                                VSB_LIST_OTHER;

    if (!group_passes(flags, VSB_LIST_ACTIVE, VSB_LIST_INACTIVE, facts->active) ||
        !group_passes(flags, VSB_LIST_PERSISTENT, VSB_LIST_TRANSIENT, facts->persistent) ||
        !group_passes(flags, VSB_LIST_AUTOSTART, VSB_LIST_NO_AUTOSTART, facts->autostart) ||
        !group_passes(flags, VSB_LIST_MANAGEDSAVE, VSB_LIST_NO_MANAGEDSAVE, false) ||
        !group_passes(flags, VSB_LIST_HAS_SNAPSHOT, VSB_LIST_NO_SNAPSHOT, false) ||
        !group_passes(flags, VSB_LIST_HAS_CHECKPOINT, VSB_LIST_NO_CHECKPOINT, false))
        return false;
    if (flags & states) {
        switch (facts->state) {
        case VSB_DOMAIN_STATE_RUNNING:
            return flags & VSB_LIST_RUNNING;
        case VSB_DOMAIN_STATE_PAUSED:
            return flags & VSB_LIST_PAUSED;
        case VSB_DOMAIN_STATE_SHUTOFF:
            return flags & VSB_LIST_SHUTOFF;
        default:
            return flags & VSB_LIST_OTHER;
        }
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* Controller files                                                    */

/* Calls @func for each "key=value" line; false (with @error) on a line
 * without '='. */
static bool
parse_kv(const char *text, const char *what,
         bool (*func)(const char *key, const char *value, gpointer opaque, GError **error),
         gpointer opaque, GError **error)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

    for (char **l = lines; *l; l++) {
        char *eq;

        if (!**l)
            continue;
        eq = strchr(*l, '=');
        if (!eq) {
            g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "Malformed line '%s' in %s",
                        *l, what);
            return false;
        }
        *eq = '\0';
        if (!func(*l, eq + 1, opaque, error))
            return false;
    }
    return true;
}

static bool
parse_pid(const char *key, const char *value, pid_t *pid, GError **error)
{
    guint64 n;

    if (!g_ascii_string_to_unsigned(value, 10, 1, G_MAXINT32, &n, NULL)) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "Invalid %s '%s'", key, value);
        return false;
    }
    *pid = (pid_t)n;
    return true;
}

static bool
state_kv(const char *key, const char *value, gpointer opaque, GError **error)
{
    VsbControllerState *st = opaque;

    if (g_str_equal(key, "controller_pid"))
        return parse_pid(key, value, &st->controller_pid, error);
    if (g_str_equal(key, "init_pid"))
        return parse_pid(key, value, &st->init_pid, error);
    if (g_str_equal(key, "started")) {
        gint64 n;
        if (!g_ascii_string_to_signed(value, 10, 0, G_MAXINT64, &n, NULL)) {
            g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "Invalid started '%s'", value);
            return false;
        }
        st->started_us = n;
    }
    /* Other keys (console, future ones) are not ours to judge. */
    return true;
}

bool
vsb_driver_parse_state(const char *text, VsbControllerState *st, GError **error)
{
    memset(st, 0, sizeof(*st));
    if (!parse_kv(text, "the state file", state_kv, st, error))
        return false;
    if (!st->init_pid || !st->controller_pid) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                    "The state file lacks %s", !st->init_pid ? "init_pid" : "controller_pid");
        return false;
    }
    return true;
}

typedef struct {
    VsbControllerExit *ex;
    bool has_status;
    bool has_reason;
} ExitParse;

static bool
exit_kv(const char *key, const char *value, gpointer opaque, GError **error)
{
    ExitParse *p = opaque;

    if (g_str_equal(key, "status")) {
        gint64 n;
        if (!g_ascii_string_to_signed(value, 10, 0, 255, &n, NULL)) {
            g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "Invalid status '%s'", value);
            return false;
        }
        p->ex->status = (int)n;
        p->has_status = true;
    } else if (g_str_equal(key, "reason")) {
        static const char *const names[] = {
            [VSB_EXIT_EXITED] = "exited",
            [VSB_EXIT_SIGNALED] = "signaled",
            [VSB_EXIT_DESTROYED] = "destroyed",
            [VSB_EXIT_ERROR] = "error",
        };
        for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
            if (g_str_equal(value, names[i])) {
                p->ex->reason = i;
                p->has_reason = true;
                return true;
            }
        }
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "Unknown reason '%s'", value);
        return false;
    }
    return true;
}

bool
vsb_driver_parse_exit(const char *text, VsbControllerExit *ex, GError **error)
{
    ExitParse p = { .ex = ex };

    memset(ex, 0, sizeof(*ex));
    if (!parse_kv(text, "the exit file", exit_kv, &p, error))
        return false;
    if (!p.has_status || !p.has_reason) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "The exit file lacks %s",
                    !p.has_status ? "status" : "reason");
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* How a domain ends                                                   */

static bool
action_restarts(VsbDomainLifecycleAction a)
{
    return a == VSB_DOMAIN_LIFECYCLE_RESTART || a == VSB_DOMAIN_LIFECYCLE_RENAME_RESTART;
}

void
vsb_driver_stop_outcome(const VsbControllerExit *ex, VsbDomainRequest request,
                        const VsbDomainDef *def, VsbStopOutcome *out)
{
    out->event_detail = VSB_EVENT_STOPPED_SHUTDOWN;
    out->shutoff_reason = VSB_SHUTOFF_SHUTDOWN;
    out->restart = false;

    if (request == VSB_DOMAIN_REQUEST_DESTROY) {
        out->event_detail = VSB_EVENT_STOPPED_DESTROYED;
        out->shutoff_reason = VSB_SHUTOFF_DESTROYED;
        return;
    }
    if (request == VSB_DOMAIN_REQUEST_RESTART) {
        /* A reboot, done the hard way: reported as libvirt reports a
         * reboot's stop (shutdown), restarted as <on_reboot> says. */
        out->restart = action_restarts(def->on_reboot);
        return;
    }
    if (!ex || ex->reason == VSB_EXIT_ERROR) {
        /* The controller died without saying how the container ended,
         * or could not tear it down. */
        out->event_detail = VSB_EVENT_STOPPED_FAILED;
        out->shutoff_reason = VSB_SHUTOFF_FAILED;
        return;
    }
    if (ex->reason == VSB_EXIT_DESTROYED) {
        out->event_detail = VSB_EVENT_STOPPED_DESTROYED;
        out->shutoff_reason = VSB_SHUTOFF_DESTROYED;
        return;
    }
    /* As libvirt's LXC driver: whatever way init ended is a shutdown.
     * reboot(2) in the container makes the kernel kill init with SIGHUP,
     * halt and power off with SIGINT (kernel/pid_namespace.c); an init
     * without handlers cannot die of those otherwise, as the kernel
     * drops such signals sent to a namespace's init. */
    if (request == VSB_DOMAIN_REQUEST_SHUTDOWN)
        return;   /* asked for: final, whatever <on_poweroff> says */
    if (request == VSB_DOMAIN_REQUEST_REBOOT ||
        (ex->reason == VSB_EXIT_SIGNALED && ex->status == 128 + SIGHUP))
        out->restart = action_restarts(def->on_reboot);
    else if (ex->reason == VSB_EXIT_EXITED ||
             (ex->reason == VSB_EXIT_SIGNALED && ex->status == 128 + SIGINT))
        out->restart = action_restarts(def->on_poweroff);
    else
        out->restart = action_restarts(def->on_crash);
}

/* ------------------------------------------------------------------ */
/* Asking init                                                         */

int
vsb_driver_init_signal(const char *comm, const char *exe, bool reboot)
{
    g_autofree char *exe_base = exe ? g_path_get_basename(exe) : NULL;

    /* /proc/PID/exe of a deleted file ends with " (deleted)". */
    if (exe_base && g_str_has_suffix(exe_base, " (deleted)"))
        exe_base[strlen(exe_base) - strlen(" (deleted)")] = '\0';

    /* systemd(1), "Signals": SIGRTMIN+4 powers off, SIGRTMIN+5 reboots
     * (SIGTERM only makes it re-execute itself). */
    if ((comm && g_str_equal(comm, "systemd")) || (exe_base && g_str_equal(exe_base, "systemd")))
        return reboot ? SIGRTMIN + 5 : SIGRTMIN + 4;
    /* busybox init: SIGUSR2 powers off, SIGTERM reboots (SIGUSR1 halts).
     * Only busybox running as init: busybox sh is the same binary. */
    if (exe_base && g_str_equal(exe_base, "busybox") && comm &&
        (g_str_equal(comm, "init") || g_str_equal(comm, "linuxrc")))
        return reboot ? SIGTERM : SIGUSR2;
    /* libvirt's choice for everything else; a shell ignores it unless
     * it traps it, as with libvirt. */
    return reboot ? SIGHUP : SIGTERM;
}

/* The layout of sysvinit's struct init_request (initreq.h), 384 bytes:
 * int magic, cmd, runlevel, sleeptime, then 368 bytes of data. */
#define INITCTL_MAGIC 0x03091969
#define INITCTL_CMD_RUNLVL 1

void
vsb_driver_initctl_request(char runlevel, unsigned char buf[VSB_INITCTL_REQUEST_SIZE])
{
    const int32_t words[4] = { INITCTL_MAGIC, INITCTL_CMD_RUNLVL, runlevel, 0 };

    memset(buf, 0, VSB_INITCTL_REQUEST_SIZE);
    /* Host byte order: init reads the struct as it is in memory. */
    memcpy(buf, words, sizeof(words));
}

/* ------------------------------------------------------------------ */
/* Host files                                                          */

GArray *
vsb_driver_parse_cpulist(const char *text, GError **error)
{
    g_autoptr(GArray) cpus = g_array_new(FALSE, FALSE, sizeof(guint));
    g_autofree char *copy = g_strstrip(g_strdup(text));
    g_auto(GStrv) parts = g_strsplit(copy, ",", -1);

    for (char **p = parts; *p; p++) {
        char *dash = strchr(*p, '-');
        guint64 lo, hi;

        if (!**p && !p[1] && p == parts)
            break;  /* empty list */
        if (dash)
            *dash = '\0';
        if (!g_ascii_string_to_unsigned(*p, 10, 0, 1 << 20, &lo, NULL) ||
            (dash && !g_ascii_string_to_unsigned(dash + 1, 10, lo, 1 << 20, &hi, NULL))) {
            g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "Malformed CPU list '%s'", copy);
            return NULL;
        }
        if (!dash)
            hi = lo;
        for (guint64 c = lo; c <= hi; c++) {
            guint v = (guint)c;
            if (cpus->len && g_array_index(cpus, guint, cpus->len - 1) >= v) {
                g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                            "CPU list '%s' is not in ascending order", copy);
                return NULL;
            }
            g_array_append_val(cpus, v);
        }
    }
    return g_steal_pointer(&cpus);
}

pid_t
vsb_driver_parse_ready(const char *line, GError **error)
{
    guint64 pid;

    if (g_str_has_prefix(line, "ok ") &&
        g_ascii_string_to_unsigned(line + 3, 10, 1, G_MAXINT32, &pid, NULL))
        return (pid_t)pid;
    if (g_str_has_prefix(line, "error ")) {
        g_set_error_literal(error, VSB_ERROR, VSB_ERROR_FAILED, line + strlen("error "));
        return 0;
    }
    g_set_error(error, VSB_ERROR, VSB_ERROR_FAILED,
                "the controller answered '%s' instead of 'ok PID'", line);
    return 0;
}
