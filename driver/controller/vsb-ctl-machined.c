/*
 * vsb-ctl-machined.c: the delegated scope and the machined registration
 * (see vsb-ctl-machined.h).
 */
#include <config.h>

#include "vsb-ctl-machined.h"
#include "vsb-cgroup.h"
#include "vsb-util.h"

#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

/* How long systemd may take to run the scope's start job (it moves us
 * when the job runs, after StartTransientUnit returned). */
#define SCOPE_WAIT_USEC (30 * G_USEC_PER_SEC)

#define SYSTEMD_DEST "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_IFACE "org.freedesktop.systemd1.Manager"
#define MACHINED_DEST "org.freedesktop.machine1"
#define MACHINED_PATH "/org/freedesktop/machine1"
#define MACHINED_IFACE "org.freedesktop.machine1.Manager"

/* The libsystemd functions we use, resolved at run time. */
typedef struct {
    void *lib;
    __typeof__(sd_bus_open_system) *open_system;
    __typeof__(sd_bus_flush_close_unref) *close_unref;
    __typeof__(sd_bus_message_new_method_call) *new_call;
    __typeof__(sd_bus_message_append) *append;
    __typeof__(sd_bus_message_append_array) *append_array;
    __typeof__(sd_bus_message_open_container) *open_container;
    __typeof__(sd_bus_message_close_container) *close_container;
    __typeof__(sd_bus_call) *call;
    __typeof__(sd_bus_message_unref) *message_unref;
    __typeof__(sd_bus_error_free) *error_free;
} SdApi;

struct _VsbCtlMachined {
    SdApi sd;
    sd_bus *bus;
    char *name;
    char *unit;
    bool registered;
};

static bool
sd_api_load(SdApi *sd, GError **error)
{
    const struct {
        const char *symbol;
        void **fn;
    } syms[] = {
        { "sd_bus_open_system", (void **)&sd->open_system },
        { "sd_bus_flush_close_unref", (void **)&sd->close_unref },
        { "sd_bus_message_new_method_call", (void **)&sd->new_call },
        { "sd_bus_message_append", (void **)&sd->append },
        { "sd_bus_message_append_array", (void **)&sd->append_array },
        { "sd_bus_message_open_container", (void **)&sd->open_container },
        { "sd_bus_message_close_container", (void **)&sd->close_container },
        { "sd_bus_call", (void **)&sd->call },
        { "sd_bus_message_unref", (void **)&sd->message_unref },
        { "sd_bus_error_free", (void **)&sd->error_free },
    };

    sd->lib = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!sd->lib) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
                    "Cannot load libsystemd.so.0: %s", dlerror());
        return false;
    }
    for (guint i = 0; i < G_N_ELEMENTS(syms); i++) {
        *syms[i].fn = dlsym(sd->lib, syms[i].symbol);
        if (!*syms[i].fn) {
            g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
                        "libsystemd.so.0 has no %s", syms[i].symbol);
            return false;
        }
    }
    return true;
}

void
vsb_ctl_machined_free(VsbCtlMachined *m)
{
    if (!m)
        return;
    if (m->bus)
        m->sd.close_unref(m->bus);
    if (m->sd.lib)
        dlclose(m->sd.lib);
    g_free(m->name);
    g_free(m->unit);
    g_free(m);
}

/* A failed call's error as ours: sd-bus gives a D-Bus error name and
 * message (or only a negative errno). */
static bool
set_bus_error(VsbCtlMachined *m, GError **error, int r, sd_bus_error *e, const char *what)
{
    if (e && e->message)
        g_set_error(error, VSB_ERROR, VSB_ERROR_FAILED, "%s: %s (%s)", what, e->message,
                    e->name ? e->name : "?");
    else
        vsb_error_set_errno(error, -r, "%s", what);
    if (e)
        m->sd.error_free(e);
    return false;
}

/* Is the calling process's cgroup @unit's (in any hierarchy)? */
static bool
in_unit(const char *unit)
{
    g_autofree char *text = vsb_file_read_all("/proc/self/cgroup", NULL, NULL);
    g_auto(GStrv) lines = text ? g_strsplit(text, "\n", -1) : NULL;

    for (guint i = 0; lines && lines[i]; i++) {
        /* "ID:CONTROLLERS:PATH": the path may hold ':' of its own */
        const char *c1 = strchr(lines[i], ':');
        const char *path = c1 ? strchr(c1 + 1, ':') : NULL;
        const char *base = path ? strrchr(path, '/') : NULL;
        if (base && g_str_equal(base + 1, unit))
            return true;
    }
    return false;
}

/* StartTransientUnit(name, mode, properties a(sv), aux a(sa(sv))). */
static bool
start_scope(VsbCtlMachined *m, const char *slice, GError **error)
{
    sd_bus_message *msg = NULL;
    sd_bus_message *reply = NULL;
    sd_bus_error e = SD_BUS_ERROR_NULL;
    g_autofree char *desc = g_strdup_printf("virt-sandbox domain %s", m->name);
    int r;

    r = m->sd.new_call(m->bus, &msg, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_IFACE,
                       "StartTransientUnit");
    if (r >= 0)
        r = m->sd.append(msg, "ss", m->unit, "fail");
    if (r >= 0)
        r = m->sd.open_container(msg, 'a', "(sv)");
    /* Delegate: the cgroups below the scope are ours.  CollectMode: a
     * scope whose processes were killed ends "failed", and a failed
     * unit left loaded would keep the name from the next start. */
    if (r >= 0)
        r = m->sd.append(msg, "(sv)(sv)(sv)(sv)(sv)",
                         "Description", "s", desc,
                         "Slice", "s", slice,
                         "Delegate", "b", 1,
                         "CollectMode", "s", "inactive-or-failed",
                         "PIDs", "au", 1, (uint32_t)getpid());
    if (r >= 0)
        r = m->sd.close_container(msg);
    if (r >= 0)
        r = m->sd.append(msg, "a(sa(sv))", 0);
    if (r < 0) {
        m->sd.message_unref(msg);
        return vsb_error_set_errno(error, -r, "Cannot build the StartTransientUnit call");
    }
    r = m->sd.call(m->bus, msg, 0, &e, &reply);
    m->sd.message_unref(msg);
    m->sd.message_unref(reply);
    if (r < 0) {
        g_autofree char *what = g_strdup_printf("systemd did not start scope %s", m->unit);
        return set_bus_error(m, error, r, &e, what);
    }

    /* The reply names the job; systemd moves us when it runs. */
    for (gint64 deadline = g_get_monotonic_time() + SCOPE_WAIT_USEC;;) {
        if (in_unit(m->unit))
            return true;
        if (g_get_monotonic_time() >= deadline)
            break;
        g_usleep(5 * 1000);
    }
    g_set_error(error, VSB_ERROR, VSB_ERROR_FAILED,
                "systemd did not move us into scope %s (see systemctl status %s)", m->unit,
                m->unit);
    return false;
}

VsbCtlMachined *
vsb_ctl_machined_start(const char *partition, const char *name, GError **error)
{
    g_autoptr(VsbCtlMachined) m = g_new0(VsbCtlMachined, 1);
    g_autofree char *slice = NULL;
    int r;

    /* What sd_booted() checks, without loading anything where systemd
     * is not PID 1 (as on most of our test hosts). */
    if (access("/run/systemd/system", F_OK) < 0)
        return NULL;
    if (!sd_api_load(&m->sd, error))
        return NULL;
    r = m->sd.open_system(&m->bus);
    if (r < 0) {
        vsb_error_set_errno(error, -r, "Cannot connect to the system bus");
        return NULL;
    }
    m->name = g_strdup(name);
    m->unit = vsb_cgroup_scope_name(partition, name);
    slice = vsb_cgroup_slice_name(partition);
    if (!start_scope(m, slice, error))
        return NULL;
    return g_steal_pointer(&m);
}

const char *
vsb_ctl_machined_unit(VsbCtlMachined *m)
{
    return m->unit;
}

bool
vsb_ctl_machined_register(VsbCtlMachined *m, pid_t leader, const unsigned char uuid[16],
                          const char *root_dir, GError **error)
{
    sd_bus_message *msg = NULL;
    sd_bus_message *reply = NULL;
    sd_bus_error e = SD_BUS_ERROR_NULL;
    int r;

    /* RegisterMachine(name, id ay, service, class, leader, root_directory) */
    r = m->sd.new_call(m->bus, &msg, MACHINED_DEST, MACHINED_PATH, MACHINED_IFACE,
                       "RegisterMachine");
    if (r >= 0)
        r = m->sd.append(msg, "s", m->name);
    if (r >= 0)
        r = m->sd.append_array(msg, 'y', uuid, 16);
    if (r >= 0)
        r = m->sd.append(msg, "ssus", "virt-sandbox", "container", (uint32_t)leader, root_dir);
    if (r < 0) {
        m->sd.message_unref(msg);
        return vsb_error_set_errno(error, -r, "Cannot build the RegisterMachine call");
    }
    r = m->sd.call(m->bus, msg, 0, &e, &reply);
    m->sd.message_unref(msg);
    m->sd.message_unref(reply);
    if (r < 0) {
        g_autofree char *what = g_strdup_printf("systemd-machined did not register %s", m->name);
        return set_bus_error(m, error, r, &e, what);
    }
    m->registered = true;
    return true;
}

bool
vsb_ctl_machined_unregister(VsbCtlMachined *m, GError **error)
{
    sd_bus_message *msg = NULL;
    sd_bus_message *reply = NULL;
    sd_bus_error e = SD_BUS_ERROR_NULL;
    int r;

    if (!m->registered)
        return true;
    m->registered = false;
    r = m->sd.new_call(m->bus, &msg, MACHINED_DEST, MACHINED_PATH, MACHINED_IFACE,
                       "UnregisterMachine");
    if (r >= 0)
        r = m->sd.append(msg, "s", m->name);
    if (r < 0) {
        m->sd.message_unref(msg);
        return vsb_error_set_errno(error, -r, "Cannot build the UnregisterMachine call");
    }
    r = m->sd.call(m->bus, msg, 0, &e, &reply);
    m->sd.message_unref(msg);
    m->sd.message_unref(reply);
    if (r < 0) {
        g_autofree char *what = g_strdup_printf("systemd-machined did not unregister %s",
                                                m->name);
        return set_bus_error(m, error, r, &e, what);
    }
    return true;
}
