/*
 * vsb-driver.c: the driver's domain list, persistent definitions,
 * autostart, lookups and events.  Controllers (start, stop, watching,
 * reattaching) are in vsb-driver-process.c, host facts in
 * vsb-driver-host.c.
 *
 * On disk: config_dir/NAME.xml per persistent domain, written by
 * temp file + fsync + rename + fsync of the directory, so a crash
 * leaves the old or the new definition, never none; autostart is a
 * symlink autostart_dir/NAME.xml -> config_dir/NAME.xml, as libvirt.
 */
#include <config.h>

#include "vsb-driver-priv.h"
#include "vsb-util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* In run_dir (a tmpfs, emptied at boot): present once this boot's
 * autostart was done, so that a restarted daemon (after a crash, or
 * started on demand after an idle exit) does not start again domains
 * someone stopped since, as libvirt does with its "autostarted" file.
 * A leading dot: no domain's file can have one. */
#define AUTOSTARTED_MARKER ".autostarted"

G_DEFINE_QUARK(vsb-driver-error-quark, vsb_driver_error)

typedef struct {
    guint id;
    VsbDriverEventFunc func;
    gpointer opaque;
} VsbDriverListener;

/* ------------------------------------------------------------------ */
/* Errors                                                              */

static const char *
error_prefix(VsbDriverErrorCode code)
{
    switch (code) {
    case VSB_DRIVER_ERROR_INTERNAL:
        return "internal error";
    case VSB_DRIVER_ERROR_NO_DOMAIN:
        return "Domain not found";
    case VSB_DRIVER_ERROR_OPERATION_INVALID:
        return "Requested operation is not valid";
    case VSB_DRIVER_ERROR_OPERATION_FAILED:
    case VSB_DRIVER_ERROR_EXISTS:
        return "operation failed";
    case VSB_DRIVER_ERROR_INVALID_ARG:
    case VSB_DRIVER_ERROR_UNSUPPORTED_FLAGS:
        return "invalid argument";
    case VSB_DRIVER_ERROR_NO_SUPPORT:
        return "this function is not supported by the connection driver";
    case VSB_DRIVER_ERROR_OPERATION_UNSUPPORTED:
        return "Operation not supported";
    }
    return "error";
}

void
vsb_driver_error(GError **error, VsbDriverErrorCode code, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, VSB_DRIVER_ERROR, code, "%s: %s", error_prefix(code), msg);
}

/* An error of a lower layer (file I/O) as a driver error. */
static void
driver_error_from(GError **error, VsbDriverErrorCode code, GError *cause)
{
    vsb_driver_error(error, code, "%s", cause->message);
    g_error_free(cause);
}

/* ------------------------------------------------------------------ */
/* Domains                                                             */

static void
domain_free(VsbDomain *dom)
{
    if (!dom)
        return;
    g_free(dom->name);
    vsb_domain_def_free(dom->config);
    vsb_domain_def_free(dom->live);
    g_clear_error(&dom->restart_error);
    g_free(dom);
}

VsbDomainDef *
vsb_domain_def_copy(const VsbDomainDef *def, GError **error)
{
    /* What the controller gets is this very text, so the round trip is
     * exact by construction. */
    g_autofree char *xml = vsb_domain_def_format(def, -1);

    return vsb_domain_def_parse_string(xml, error);
}

char *
vsb_driver_run_file(VsbDriver *drv, const char *name, const char *ext)
{
    g_autofree char *base = g_strdup_printf("%s.%s", name, ext);

    return g_build_filename(drv->run_dir, base, NULL);
}

static char *
config_file(VsbDriver *drv, const char *dir, const char *name)
{
    g_autofree char *base = g_strdup_printf("%s.xml", name);

    return g_build_filename(dir, base, NULL);
}

VsbDomain *
vsb_driver_add_domain(VsbDriver *drv, const VsbDomainDef *ident, VsbDomainDef *config)
{
    VsbDomain *dom = g_new0(VsbDomain, 1);

    dom->drv = drv;
    dom->name = g_strdup(ident->name);
    memcpy(dom->uuid, ident->uuid, sizeof(dom->uuid));
    dom->config = config;
    g_hash_table_insert(drv->domains, dom->name, dom);
    return dom;
}

static gboolean
graveyard_empty(gpointer opaque)
{
    VsbDriver *drv = opaque;

    drv->graveyard_idle = 0;
    g_ptr_array_set_size(drv->graveyard, 0);
    return G_SOURCE_REMOVE;
}

void
vsb_driver_remove_domain(VsbDriver *drv, VsbDomain *dom)
{
    if (dom->removed)
        return;
    /* Callers may hold the pointer until they return to the main loop
     * (see vsb_driver_lookup_by_name()). */
    g_hash_table_steal(drv->domains, dom->name);
    dom->removed = true;
    g_ptr_array_add(drv->graveyard, dom);
    if (!drv->graveyard_idle)
        drv->graveyard_idle = g_idle_add(graveyard_empty, drv);
}

static VsbDomain *
find_by_uuid(VsbDriver *drv, const unsigned char uuid[16])
{
    GHashTableIter it;
    gpointer value;

    g_hash_table_iter_init(&it, drv->domains);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        VsbDomain *dom = value;
        if (memcmp(dom->uuid, uuid, 16) == 0)
            return dom;
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Events                                                              */

void
vsb_domain_ref_clear(VsbDomainRef *ref)
{
    g_clear_pointer(&ref->name, g_free);
}

void
vsb_domain_get_ref(VsbDomain *dom, VsbDomainRef *ref)
{
    ref->name = g_strdup(dom->name);
    memcpy(ref->uuid, dom->uuid, sizeof(ref->uuid));
    ref->id = vsb_domain_get_id(dom);
}

guint
vsb_driver_add_event_listener(VsbDriver *drv, VsbDriverEventFunc func, gpointer opaque)
{
    VsbDriverListener l = { .id = ++drv->next_listener_id, .func = func, .opaque = opaque };

    g_array_append_val(drv->listeners, l);
    return l.id;
}

void
vsb_driver_remove_event_listener(VsbDriver *drv, guint id)
{
    for (guint i = 0; i < drv->listeners->len; i++) {
        if (g_array_index(drv->listeners, VsbDriverListener, i).id == id) {
            g_array_remove_index(drv->listeners, i);
            return;
        }
    }
}

static bool
listener_registered(VsbDriver *drv, guint id)
{
    for (guint i = 0; i < drv->listeners->len; i++) {
        if (g_array_index(drv->listeners, VsbDriverListener, i).id == id)
            return true;
    }
    return false;
}

void
vsb_driver_emit(VsbDriver *drv, const VsbDomainRef *ref, VsbEventType event, int detail)
{
    /* A callback may add or remove listeners: walk a copy, and skip
     * those removed meanwhile (their opaque may be gone). */
    g_autoptr(GArray) copy = g_array_copy(drv->listeners);

    for (guint i = 0; i < copy->len; i++) {
        VsbDriverListener *l = &g_array_index(copy, VsbDriverListener, i);
        if (listener_registered(drv, l->id))
            l->func(ref, event, detail, l->opaque);
    }
}

void
vsb_domain_emit(VsbDomain *dom, VsbEventType event, int detail)
{
    VsbDomainRef ref;

    vsb_domain_get_ref(dom, &ref);
    vsb_driver_emit(dom->drv, &ref, event, detail);
    vsb_domain_ref_clear(&ref);
}

/* ------------------------------------------------------------------ */
/* Getters                                                             */

const char *
vsb_domain_get_name(VsbDomain *dom)
{
    return dom->name;
}

int
vsb_domain_get_id(VsbDomain *dom)
{
    return dom->live && dom->init_pid > 0 ? dom->init_pid : -1;
}

bool
vsb_domain_is_active(VsbDomain *dom)
{
    return dom->live != NULL;
}

bool
vsb_domain_is_persistent(VsbDomain *dom)
{
    return dom->config != NULL;
}

bool
vsb_domain_get_autostart(VsbDomain *dom)
{
    return dom->autostart;
}

VsbDomainState
vsb_domain_get_state(VsbDomain *dom, int *reason)
{
    if (reason)
        *reason = dom->reason;
    if (!dom->live)
        return VSB_DOMAIN_STATE_SHUTOFF;
    return dom->paused ? VSB_DOMAIN_STATE_PAUSED : VSB_DOMAIN_STATE_RUNNING;
}

const VsbDomainDef *
vsb_domain_get_def(VsbDomain *dom, bool inactive)
{
    if (dom->live && !inactive)
        return dom->live;
    return dom->config ? dom->config : dom->live;
}

char *
vsb_domain_get_xml(VsbDomain *dom, bool inactive)
{
    if (dom->live && !inactive)
        return vsb_domain_def_format(dom->live, vsb_domain_get_id(dom));
    return vsb_domain_def_format(vsb_domain_get_def(dom, true), -1);
}

void
vsb_domain_get_info(VsbDomain *dom, VsbDomainInfo *info)
{
    const VsbDomainDef *def = vsb_domain_get_def(dom, false);

    memset(info, 0, sizeof(*info));
    info->state = vsb_domain_get_state(dom, NULL);
    /* No <memory>: no limit, the host's memory is the bound. */
    info->max_mem_kib = def->memory_kib ? def->memory_kib : vsb_driver_host_memory_kib();
    info->nr_virt_cpu = def->vcpus ? def->vcpus : 1;
    if (dom->live) {
        VsbDomainStats st;
        /* Unreadable (the container just ended): zeros, as the state
         * will say in a moment. */
        if (vsb_driver_get_stats(dom->drv, dom, &st, NULL)) {
            info->memory_kib = st.used_kib;
            info->cpu_time_ns = st.cpu_time_ns;
        }
    } else {
        info->memory_kib = def->current_memory_kib ? def->current_memory_kib : info->max_mem_kib;
    }
}

bool
vsb_driver_has_active(VsbDriver *drv)
{
    GHashTableIter it;
    gpointer value;

    g_hash_table_iter_init(&it, drv->domains);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        if (((VsbDomain *)value)->live)
            return true;
    }
    return false;
}

/* ------------------------------------------------------------------ */
/* Lookups and listing                                                 */

VsbDomain *
vsb_driver_lookup_by_name(VsbDriver *drv, const char *name, GError **error)
{
    VsbDomain *dom = g_hash_table_lookup(drv->domains, name);

    if (!dom)
        vsb_driver_error(error, VSB_DRIVER_ERROR_NO_DOMAIN,
                         "no domain with matching name '%s'", name);
    return dom;
}

VsbDomain *
vsb_driver_lookup_by_uuid(VsbDriver *drv, const unsigned char uuid[16], GError **error)
{
    VsbDomain *dom = find_by_uuid(drv, uuid);

    if (!dom) {
        char s[37];
        vsb_domain_uuid_format(uuid, s);
        vsb_driver_error(error, VSB_DRIVER_ERROR_NO_DOMAIN, "no domain with matching uuid '%s'", s);
    }
    return dom;
}

VsbDomain *
vsb_driver_lookup_by_id(VsbDriver *drv, int id, GError **error)
{
    GHashTableIter it;
    gpointer value;

    g_hash_table_iter_init(&it, drv->domains);
    while (id > 0 && g_hash_table_iter_next(&it, NULL, &value)) {
        VsbDomain *dom = value;
        if (vsb_domain_get_id(dom) == id)
            return dom;
    }
    vsb_driver_error(error, VSB_DRIVER_ERROR_NO_DOMAIN, "no domain with matching id %d", id);
    return NULL;
}

VsbDomain *
vsb_driver_lookup_ref(VsbDriver *drv, const VsbDomainRef *ref, GError **error)
{
    VsbDomain *dom = find_by_uuid(drv, ref->uuid);

    if (!dom) {
        char s[37];
        vsb_domain_uuid_format(ref->uuid, s);
        vsb_driver_error(error, VSB_DRIVER_ERROR_NO_DOMAIN,
                         "no domain with matching uuid '%s' (%s)", s, ref->name ? ref->name : "");
    }
    return dom;
}

static gint
compare_names(gconstpointer a, gconstpointer b)
{
    const VsbDomain *da = *(VsbDomain *const *)a, *db = *(VsbDomain *const *)b;

    return strcmp(da->name, db->name);
}

GPtrArray *
vsb_driver_list(VsbDriver *drv, unsigned int flags)
{
    GPtrArray *out = g_ptr_array_new();
    GHashTableIter it;
    gpointer value;

    g_hash_table_iter_init(&it, drv->domains);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        VsbDomain *dom = value;
        VsbDomainFacts facts = {
            .active = dom->live != NULL,
            .persistent = dom->config != NULL,
            .autostart = dom->autostart,
            .state = vsb_domain_get_state(dom, NULL),
        };
        if (vsb_driver_list_match(flags, &facts))
            g_ptr_array_add(out, dom);
    }
    g_ptr_array_sort(out, compare_names);
    return out;
}

/* ------------------------------------------------------------------ */
/* Persistent definitions                                              */

/* Make a rename or unlink in @dir durable. */
static bool
sync_dir(const char *dir, GError **error)
{
    g_auto(VsbFd) fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0 || fsync(fd) < 0)
        return vsb_error_set_errno(error, errno, "Cannot sync directory %s", dir);
    return true;
}

static bool
unlink_durably(const char *path, GError **error)
{
    g_autofree char *dir = g_path_get_dirname(path);

    if (unlink(path) < 0) {
        if (errno == ENOENT)
            return true;
        return vsb_error_set_errno(error, errno, "Cannot remove %s", path);
    }
    return sync_dir(dir, error);
}

static bool
save_config(VsbDriver *drv, const VsbDomainDef *def, GError **error)
{
    g_autofree char *path = config_file(drv, drv->config_dir, def->name);
    g_autofree char *xml = vsb_domain_def_format(def, -1);

    return vsb_mkdir_p(drv->config_dir, 0700, error) &&
        vsb_file_write_atomic(path, xml, strlen(xml), 0600, error) &&
        sync_dir(drv->config_dir, error);
}

bool
vsb_domain_save_config(VsbDomain *dom, const VsbDomainDef *def, GError **error)
{
    g_autoptr(GError) local = NULL;

    if (!save_config(dom->drv, def, &local)) {
        vsb_driver_error(error, VSB_DRIVER_ERROR_OPERATION_FAILED,
                         "cannot save the definition of domain '%s': %s", dom->name,
                         local->message);
        return false;
    }
    return true;
}

/* libvirt's rules for a new definition against the existing domains;
 * *@same gets the domain with this uuid (and name), if any. */
static bool
check_unique(VsbDriver *drv, const VsbDomainDef *def, bool start, VsbDomain **same,
             GError **error)
{
    VsbDomain *dom = find_by_uuid(drv, def->uuid);
    char s[37];

    *same = NULL;
    if (dom) {
        vsb_domain_uuid_format(dom->uuid, s);
        if (!g_str_equal(dom->name, def->name)) {
            vsb_driver_error(error, VSB_DRIVER_ERROR_EXISTS,
                             "domain '%s' is already defined with uuid %s", dom->name, s);
            return false;
        }
        if (start && dom->live) {
            vsb_driver_error(error, VSB_DRIVER_ERROR_OPERATION_INVALID,
                             "domain '%s' is already active", dom->name);
            return false;
        }
        *same = dom;
        return true;
    }
    dom = g_hash_table_lookup(drv->domains, def->name);
    if (dom) {
        vsb_domain_uuid_format(dom->uuid, s);
        vsb_driver_error(error, VSB_DRIVER_ERROR_EXISTS, "domain '%s' already exists with uuid %s",
                         def->name, s);
        return false;
    }
    return true;
}

VsbDomain *
vsb_driver_define_xml(VsbDriver *drv, const char *xml, GError **error)
{
    g_autoptr(VsbDomainDef) def = vsb_domain_def_parse_string(xml, error);
    g_autoptr(GError) err = NULL;
    VsbDomain *dom;
    bool added;

    if (!def || !check_unique(drv, def, false, &dom, error))
        return NULL;
    if (!save_config(drv, def, &err)) {
        driver_error_from(error, VSB_DRIVER_ERROR_OPERATION_FAILED, g_steal_pointer(&err));
        return NULL;
    }
    /* A running domain keeps its live definition until it stops. */
    added = !dom || !dom->config;
    if (dom) {
        vsb_domain_def_free(dom->config);
        dom->config = g_steal_pointer(&def);
    } else {
        dom = vsb_driver_add_domain(drv, def, NULL);
        dom->config = g_steal_pointer(&def);
    }
    vsb_domain_emit(dom, VSB_EVENT_DEFINED,
                    added ? VSB_EVENT_DEFINED_ADDED : VSB_EVENT_DEFINED_UPDATED);
    return dom;
}

bool
vsb_driver_undefine(VsbDriver *drv, VsbDomain *dom, GError **error)
{
    g_autofree char *link = config_file(drv, drv->autostart_dir, dom->name);
    g_autofree char *path = config_file(drv, drv->config_dir, dom->name);
    g_autoptr(GError) err = NULL;
    VsbDomainRef ref;

    if (!dom->config) {
        vsb_driver_error(error, VSB_DRIVER_ERROR_OPERATION_INVALID,
                         "Cannot undefine transient domain");
        return false;
    }
    /* The link first: a crash in between leaves a defined domain
     * without autostart rather than a dangling link. */
    if (!unlink_durably(link, &err) || !unlink_durably(path, &err)) {
        driver_error_from(error, VSB_DRIVER_ERROR_OPERATION_FAILED, g_steal_pointer(&err));
        return false;
    }
    dom->autostart = false;
    g_clear_pointer(&dom->config, vsb_domain_def_free);
    vsb_domain_get_ref(dom, &ref);
    if (!dom->live)
        vsb_driver_remove_domain(drv, dom);
    vsb_driver_emit(drv, &ref, VSB_EVENT_UNDEFINED, VSB_EVENT_UNDEFINED_REMOVED);
    vsb_domain_ref_clear(&ref);
    return true;
}

bool
vsb_driver_set_autostart(VsbDriver *drv, VsbDomain *dom, bool autostart, GError **error)
{
    g_autofree char *link = config_file(drv, drv->autostart_dir, dom->name);
    g_autofree char *target = config_file(drv, drv->config_dir, dom->name);
    g_autoptr(GError) err = NULL;

    if (!dom->config) {
        vsb_driver_error(error, VSB_DRIVER_ERROR_OPERATION_INVALID,
                         "Cannot set autostart for transient domain");
        return false;
    }
    if (autostart == dom->autostart)
        return true;
    if (autostart) {
        g_autofree char *tmp = g_strdup_printf("%s.tmp%d", link, (int)getpid());

        if (!vsb_mkdir_p(drv->autostart_dir, 0700, &err))
            goto fail;
        unlink(tmp);
        if (symlink(target, tmp) < 0) {
            vsb_error_set_errno(&err, errno, "Cannot create symlink %s", tmp);
            goto fail;
        }
        if (rename(tmp, link) < 0) {
            vsb_error_set_errno(&err, errno, "Cannot rename %s to %s", tmp, link);
            unlink(tmp);
            goto fail;
        }
        if (!sync_dir(drv->autostart_dir, &err))
            goto fail;
    } else if (!unlink_durably(link, &err)) {
        goto fail;
    }
    dom->autostart = autostart;
    return true;

 fail:
    driver_error_from(error, VSB_DRIVER_ERROR_OPERATION_FAILED, g_steal_pointer(&err));
    return false;
}

/* ------------------------------------------------------------------ */
/* Starting                                                            */

bool
vsb_driver_start(VsbDriver *drv, VsbDomain *dom, GError **error)
{
    g_autoptr(GError) err = NULL;
    VsbDomainDef *def;

    if (dom->live) {
        vsb_driver_error(error, VSB_DRIVER_ERROR_OPERATION_INVALID, "domain is already running");
        return false;
    }
    /* The live definition is a copy: a define while it runs changes
     * the persistent one only. */
    def = vsb_domain_def_copy(dom->config, &err);
    if (!def) {
        driver_error_from(error, VSB_DRIVER_ERROR_INTERNAL, g_steal_pointer(&err));
        return false;
    }
    return vsb_domain_launch(dom, def, error);
}

VsbDomain *
vsb_driver_create_xml(VsbDriver *drv, const char *xml, GError **error)
{
    g_autoptr(VsbDomainDef) def = vsb_domain_def_parse_string(xml, error);
    VsbDomain *dom;
    bool created = false;

    if (!def || !check_unique(drv, def, true, &dom, error))
        return NULL;
    /* The same uuid and name as an inactive persistent domain: runs
     * this definition, the persistent one stays (as libvirt). */
    if (!dom) {
        dom = vsb_driver_add_domain(drv, def, NULL);
        created = true;
    }
    if (!vsb_domain_launch(dom, g_steal_pointer(&def), error)) {
        if (created)
            vsb_driver_remove_domain(drv, dom);
        return NULL;
    }
    return dom;
}

/* ------------------------------------------------------------------ */
/* Driver                                                              */

static void
load_configs(VsbDriver *drv)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GDir) dir = g_dir_open(drv->config_dir, 0, &err);
    const char *entry;

    if (!dir) {
        g_warning("%s, ignoring", err->message);
        return;
    }
    while ((entry = g_dir_read_name(dir))) {
        g_autofree char *path = NULL;
        g_autofree char *link = NULL;
        g_autofree char *expected = NULL;
        g_autoptr(VsbDomainDef) def = NULL;
        struct stat st;
        VsbDomain *dom;

        if (!g_str_has_suffix(entry, ".xml") || entry[0] == '.')
            continue;
        path = g_build_filename(drv->config_dir, entry, NULL);
        def = vsb_domain_def_parse_file(path, &err);
        if (!def) {
            g_warning("Cannot load domain definition: %s, ignoring", err->message);
            g_clear_error(&err);
            continue;
        }
        expected = g_strndup(entry, strlen(entry) - strlen(".xml"));
        if (!g_str_equal(expected, def->name)) {
            g_warning("Domain definition %s names domain '%s', ignoring", path, def->name);
            continue;
        }
        if ((dom = find_by_uuid(drv, def->uuid))) {
            g_warning("Domain definition %s has the uuid of domain '%s', ignoring",
                      path, dom->name);
            continue;
        }
        dom = vsb_driver_add_domain(drv, def, NULL);
        dom->config = g_steal_pointer(&def);
        link = config_file(drv, drv->autostart_dir, dom->name);
        dom->autostart = lstat(link, &st) == 0;
    }
}

static void
autostart_domains(VsbDriver *drv)
{
    g_autofree char *marker = g_build_filename(drv->run_dir, AUTOSTARTED_MARKER, NULL);
    g_autoptr(GPtrArray) doms = NULL;
    g_autoptr(GError) err = NULL;

    if (g_file_test(marker, G_FILE_TEST_EXISTS))
        return;
    if (!vsb_file_write_atomic(marker, "", 0, 0600, &err)) {
        /* Without it the next daemon would autostart again: better
         * none than twice. */
        g_warning("%s, not starting autostart domains", err->message);
        return;
    }
    doms = vsb_driver_list(drv, VSB_LIST_INACTIVE | VSB_LIST_AUTOSTART);
    for (guint i = 0; i < doms->len; i++) {
        VsbDomain *dom = doms->pdata[i];
        if (!vsb_driver_start(drv, dom, &err)) {
            g_warning("Cannot autostart domain '%s': %s, ignoring", dom->name, err->message);
            g_clear_error(&err);
        }
    }
}

VsbDriver *
vsb_driver_new(const VsbDriverConfig *cfg, GError **error)
{
    g_autoptr(VsbDriver) drv = g_new0(VsbDriver, 1);
    g_autoptr(GError) err = NULL;
    const char *partition = cfg->cgroup_partition ? cfg->cgroup_partition : "machine";

    drv->inotify_fd = -1;
    drv->config_dir = g_strdup(cfg->config_dir ? cfg->config_dir : SYSCONFDIR "/virt-sandbox/lxc");
    drv->autostart_dir = cfg->autostart_dir ? g_strdup(cfg->autostart_dir)
                                            : g_build_filename(drv->config_dir, "autostart", NULL);
    drv->run_dir = g_strdup(cfg->run_dir ? cfg->run_dir : RUNSTATEDIR "/virt-sandbox/lxc");
    drv->log_dir = g_strdup(cfg->log_dir ? cfg->log_dir : LOCALSTATEDIR "/log/virt-sandbox");
    drv->controller = g_strdup(cfg->controller ? cfg->controller
                                               : LIBEXECDIR "/virt-sandbox-controller");
    /* libvirt spells partitions "/machine"; the controller takes both. */
    drv->cgroup_partition = g_strdup(partition[0] == '/' ? partition + 1 : partition);
    drv->domains = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                         (GDestroyNotify)domain_free);
    drv->graveyard = g_ptr_array_new_with_free_func((GDestroyNotify)domain_free);
    drv->listeners = g_array_new(FALSE, FALSE, sizeof(VsbDriverListener));

    if (!vsb_mkdir_p(drv->config_dir, 0700, &err) || !vsb_mkdir_p(drv->run_dir, 0700, &err)) {
        driver_error_from(error, VSB_DRIVER_ERROR_OPERATION_FAILED, g_steal_pointer(&err));
        return NULL;
    }
    load_configs(drv);
    /* Watch before looking: a controller ending in between is seen. */
    if (!vsb_driver_watch_start(drv, &err)) {
        driver_error_from(error, VSB_DRIVER_ERROR_OPERATION_FAILED, g_steal_pointer(&err));
        return NULL;
    }
    vsb_driver_scan_run_dir(drv);
    if (cfg->autostart)
        autostart_domains(drv);
    return g_steal_pointer(&drv);
}

void
vsb_driver_free(VsbDriver *drv)
{
    if (!drv)
        return;
    /* The controllers, and so the containers, live on. */
    vsb_driver_watch_stop(drv);
    g_clear_handle_id(&drv->graveyard_idle, g_source_remove);
    g_clear_pointer(&drv->graveyard, g_ptr_array_unref);
    g_clear_pointer(&drv->domains, g_hash_table_unref);
    g_clear_pointer(&drv->listeners, g_array_unref);
    g_free(drv->config_dir);
    g_free(drv->autostart_dir);
    g_free(drv->run_dir);
    g_free(drv->log_dir);
    g_free(drv->controller);
    g_free(drv->cgroup_partition);
    g_free(drv);
}
