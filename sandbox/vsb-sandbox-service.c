/*
 * vsb-sandbox-service.c: service sandboxes: their directories, their
 * persistent domains (create, clone, start, stop, upgrade, delete,
 * list).  Running things inside them: vsb-sandbox-service-run.c.
 */
#include <config.h>

#include "vsb-sandbox-service.h"
#include "vsb-sandbox-service-private.h"
#include "vsb-sandbox-builder.h"
#include "vsb-sandbox-context.h"
#include "vsb-sandbox-image.h"
#include "vsb-init-config.h"
#include "vsb-sandbox-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const kind_names[VSB_SERVICE_KIND_LAST] = {
    [VSB_SERVICE_KIND_GENERIC] = "generic",
    [VSB_SERVICE_KIND_SYSTEMD] = "systemd",
};

const char *
vsb_service_kind_to_string(VsbServiceKind k)
{
    return k < VSB_SERVICE_KIND_LAST ? kind_names[k] : NULL;
}

int
vsb_service_kind_from_string(const char *s)
{
    for (int i = 0; i < VSB_SERVICE_KIND_LAST; i++)
        if (s && g_str_equal(s, kind_names[i]))
            return i;
    return -1;
}

void
vsb_service_info_free(VsbServiceInfo *i)
{
    if (!i)
        return;
    g_free(i->name);
    g_free(i->state);
    g_free(i);
}

/* libvirt prints every error by default; ours are returned instead. */
static void
quiet_virt_error(void *opaque, virErrorPtr err)
{
}

VsbServiceStore *
vsb_service_store_new(const char *uri, const char *basedir)
{
    VsbServiceStore *s = g_new0(VsbServiceStore, 1);

    virSetErrorFunc(NULL, quiet_virt_error);

    s->uri = g_strdup(uri ? uri : VSB_SANDBOX_DEFAULT_URI);
    s->basedir = g_strdup(basedir ? basedir : VSB_SERVICE_DEFAULT_DIR);
    return s;
}

void
vsb_service_store_free(VsbServiceStore *s)
{
    if (!s)
        return;
    if (s->conn)
        virConnectClose(s->conn);
    g_free(s->uri);
    g_free(s->basedir);
    g_free(s->init_path);
    g_free(s);
}

void
vsb_service_store_set_init_path(VsbServiceStore *s, const char *path)
{
    g_free(s->init_path);
    s->init_path = g_strdup(path);
}

const char *
vsb_service_store_get_uri(VsbServiceStore *s)
{
    return s->uri;
}

char *
vsb_service_store_dir(VsbServiceStore *s, const char *name)
{
    return g_build_filename(s->basedir, name, NULL);
}

bool
vsb_service_set_virt_error(GError **error, const char *fmt, ...)
{
    g_autofree char *what = NULL;
    va_list ap;

    va_start(ap, fmt);
    what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_FAILED, "%s: %s", what,
                virGetLastErrorMessage());
    return false;
}

static bool
set_errno_error(GError **error, int errsv, const char *what, const char *path)
{
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errsv), "%s %s: %s", what, path,
                g_strerror(errsv));
    return false;
}

virConnectPtr
vsb_service_connect(VsbServiceStore *s, GError **error)
{
    if (s->conn)
        return s->conn;
    if (!(s->conn = virConnectOpen(s->uri))) {
        vsb_service_set_virt_error(error, "Cannot connect to %s", s->uri);
        return NULL;
    }
    return s->conn;
}

bool
vsb_service_check_name(const char *name, GError **error)
{
    size_t len = name ? strlen(name) : 0;
    bool ok = len > 0 && len <= 64 && g_ascii_isalnum(name[0]);

    for (size_t i = 0; ok && i < len; i++)
        ok = g_ascii_isalnum(name[i]) || strchr("_.-", name[i]);
    if (!ok)
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "invalid service name '%s': 1 to 64 of A-Z a-z 0-9 _ . -, starting with "
                    "a letter or digit", name ? name : "");
    return ok;
}

bool
vsb_service_exists(VsbServiceStore *s, const char *name, GError **error)
{
    g_autofree char *dir = NULL;
    g_autofree char *cfg = NULL;

    if (!vsb_service_check_name(name, error))
        return false;
    dir = vsb_service_store_dir(s, name);
    cfg = g_build_filename(dir, "sandbox.cfg", NULL);
    if (!g_file_test(cfg, G_FILE_TEST_IS_REGULAR)) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "no service '%s' (no %s)", name, cfg);
        return false;
    }
    return true;
}

/* The service's domain; NULL with an error naming the service. */
virDomainPtr
vsb_service_lookup(VsbServiceStore *s, const char *name, GError **error)
{
    virConnectPtr conn;
    virDomainPtr dom;

    if (!vsb_service_exists(s, name, error) || !(conn = vsb_service_connect(s, error)))
        return NULL;
    if (!(dom = virDomainLookupByName(conn, name)))
        vsb_service_set_virt_error(error, "Service '%s' has no domain on %s (virt-sandbox-service "
                                   "upgrade %s defines it again)", name, s->uri, name);
    return dom;
}

/* ------------------------------------------------------------------ */
/* Files                                                               */

/* Run a host tool (cp, rm, mkfs.ext4, truncate); its stderr in the error. */
static bool
run_tool(const char *const *argv, GError **error)
{
    g_autofree char *err = NULL;
    g_autofree char *cmd = g_strjoinv(" ", (char **)argv);
    int status;

    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH |
                      G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err, &status, error)) {
        g_prefix_error(error, "Cannot run %s: ", argv[0]);
        return false;
    }
    if (!g_spawn_check_wait_status(status, NULL)) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_FAILED, "%s failed: %s", cmd,
                    err && err[0] ? g_strstrip(err) : "(no message)");
        return false;
    }
    return true;
}

static bool
remove_tree(const char *dir, GError **error)
{
    const char *argv[] = { "rm", "-rf", "--one-file-system", "--", dir, NULL };

    return run_tool(argv, error);
}

/* /var as a skeleton: the host's directories (modes and owners) and
 * symlinks of the first level, none of its files: a service's /var
 * starts empty, as after a fresh installation. */
static bool
make_var_skeleton(const char *dst, GError **error)
{
    g_autoptr(GDir) d = NULL;
    const char *n;

    if (mkdir(dst, 0755) < 0)
        return set_errno_error(error, errno, "Cannot create", dst);
    if (!(d = g_dir_open("/var", 0, error)))
        return false;
    while ((n = g_dir_read_name(d))) {
        g_autofree char *src = g_build_filename("/var", n, NULL);
        g_autofree char *to = g_build_filename(dst, n, NULL);
        struct stat st;

        if (lstat(src, &st) < 0)
            continue;
        if (S_ISLNK(st.st_mode)) {
            g_autofree char *target = g_file_read_link(src, NULL);
            if (target && symlink(target, to) < 0)
                return set_errno_error(error, errno, "Cannot create", to);
        } else if (S_ISDIR(st.st_mode)) {
            if (mkdir(to, st.st_mode & 07777) < 0 || chmod(to, st.st_mode & 07777) < 0 ||
                lchown(to, st.st_uid, st.st_gid) < 0)
                return set_errno_error(error, errno, "Cannot create", to);
        }
    }
    return true;
}

static bool
make_image(const char *path, guint64 size, const char *from, GError **error)
{
    g_autofree char *sz = g_strdup_printf("%" G_GUINT64_FORMAT, size);
    const char *truncate_argv[] = { "truncate", "-s", sz, path, NULL };
    const char *mkfs_argv[] = { "mkfs.ext4", "-q", "-F", "-d", from, path, NULL };

    return run_tool(truncate_argv, error) && run_tool(mkfs_argv, error);
}

static bool
add_mount(VsbSandboxConfig *c, const char *type, const char *target, const char *source,
          GError **error)
{
    g_autofree char *spec = g_strdup_printf("%s:%s=%s", type, target, source);
    VsbSandboxMount *m = vsb_sandbox_parse_mount(spec, error);

    return m && vsb_sandbox_config_add_mount(c, m, error);
}

/* ------------------------------------------------------------------ */
/* systemd services                                                    */

/* Where a unit named by -u is looked for, the service's /etc first
 * (after the copy: the host's). */
static const char *const unit_dirs[] = { "/lib/systemd/system", "/usr/lib/systemd/system", NULL };
static const char *const unit_suffixes[] = {
    ".service", ".socket", ".timer", ".path", ".target", ".mount", NULL
};

/* A unit name systemd would accept as a file name of ours: no path,
 * a known suffix. */
static bool
check_unit_name(const char *unit, GError **error)
{
    bool ok = unit[0] && unit[0] != '.' && strlen(unit) <= 255;

    for (const char *p = unit; ok && *p; p++)
        ok = g_ascii_isalnum(*p) || strchr(":-_.@\\", *p);
    if (ok) {
        ok = false;
        for (size_t i = 0; unit_suffixes[i] && !ok; i++)
            ok = g_str_has_suffix(unit, unit_suffixes[i]) &&
                strlen(unit) > strlen(unit_suffixes[i]);
    }
    if (!ok)
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "'%s' is not a unit name (NAME.service, .socket, .timer, .path, .target "
                    "or .mount) nor the path of a unit file", unit);
    return ok;
}

/* The unit name that -u @arg gives. */
static char *
unit_name_of(const char *arg)
{
    return strchr(arg, '/') ? g_path_get_basename(arg) : g_strdup(arg);
}

/* The file of unit @name in the service's /etc (@etc) or the host's
 * unit directories, as a path inside the service; an instance
 * (a@b.service) is found by its template (a@.service). */
static char *
find_unit(const char *etc, const char *name, GError **error)
{
    const char *at = strchr(name, '@');
    const char *dot = strrchr(name, '.');
    g_autofree char *template = at && dot > at + 1 ? g_strndup(name, at + 1 - name) : NULL;
    g_autofree char *file = template ? g_strconcat(template, dot, NULL) : g_strdup(name);
    g_autofree char *local = NULL;

    local = g_build_filename(etc, "systemd", "system", file, NULL);
    if (g_file_test(local, G_FILE_TEST_EXISTS))
        return g_build_filename("/etc/systemd/system", file, NULL);
    for (size_t i = 0; unit_dirs[i]; i++) {
        g_autofree char *p = g_build_filename(unit_dirs[i], file, NULL);
        if (g_file_test(p, G_FILE_TEST_EXISTS))
            return g_steal_pointer(&p);
    }
    g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                "unit %s: no %s in /etc/systemd/system, %s or %s (give a unit file's path "
                "to copy it in)", name, file, unit_dirs[0], unit_dirs[1]);
    return NULL;
}

/* The host's enabled units (the .wants and .requires directories and
 * aliases of its /etc/systemd/system) are the host's services: a copy
 * would start them in the service too. */
static bool
drop_host_units(const char *sysdir, GError **error)
{
    g_autoptr(GDir) d = g_dir_open(sysdir, 0, error);
    const char *n;

    if (!d)
        return false;
    while ((n = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(sysdir, n, NULL);
        if (g_str_has_suffix(n, ".wants") || g_str_has_suffix(n, ".requires")) {
            if (!remove_tree(p, error))
                return false;
        } else if (g_file_test(p, G_FILE_TEST_IS_SYMLINK) && unlink(p) < 0) {
            return set_errno_error(error, errno, "Cannot remove", p);
        }
    }
    return true;
}

static bool
symlink_at(const char *target, const char *path, GError **error)
{
    if (unlink(path) < 0 && errno != ENOENT)
        return set_errno_error(error, errno, "Cannot remove", path);
    if (symlink(target, path) < 0)
        return set_errno_error(error, errno, "Cannot create", path);
    return true;
}

/* The machine ID (machine-id(5)) of a systemd service: the domain's
 * @uuid, what systemd would take from $container_uuid (machined's Id
 * of the machine, the CONTAINER_ID_FULL of its forwarded syslog
 * records).  journald names the journal's directory after it, and two
 * services must not share one. */
static bool
write_machine_id(const char *etc, const char *uuid, GError **error)
{
    g_autofree char *path = g_build_filename(etc, "machine-id", NULL);
    g_autoptr(GString) id = g_string_new(NULL);

    for (const char *p = uuid; *p; p++)
        if (*p != '-')
            g_string_append_c(id, *p);
    g_string_append_c(id, '\n');
    return g_file_set_contents_full(path, id->str, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0444,
                                    error);
}

/* The private /etc (@etc, a copy of the host's) and /var of a systemd
 * service named @name: only its units enabled, its own identity, no
 * getty, a persistent journal. */
static bool
prepare_systemd(const char *name, const char *etc, const char *var,
                const VsbServiceOptions *opts, GError **error)
{
    g_autofree char *sysdir = g_build_filename(etc, "systemd", "system", NULL);
    g_autofree char *wants = g_build_filename(sysdir, "multi-user.target.wants", NULL);
    g_autofree char *hostname = g_build_filename(etc, "hostname", NULL);
    g_autofree char *journal = g_build_filename(var, "log", "journal", NULL);
    g_autofree char *line = g_strconcat(name, "\n", NULL);
    /* The console is the tool's (connect, start --foreground): no
     * login prompt on it, nor on ttys a container does not have. */
    const char *const masked[] = { "getty.target", "console-getty.service", NULL };

    if (g_mkdir_with_parents(sysdir, 0755) < 0)
        return set_errno_error(error, errno, "Cannot create", sysdir);
    if (!drop_host_units(sysdir, error))
        return false;
    if (mkdir(wants, 0755) < 0)
        return set_errno_error(error, errno, "Cannot create", wants);
    for (size_t i = 0; opts->units[i]; i++) {
        const char *arg = opts->units[i];
        g_autofree char *unit = unit_name_of(arg);
        g_autofree char *file = NULL;
        g_autofree char *link = g_build_filename(wants, unit, NULL);

        if (strchr(arg, '/')) {
            g_autofree char *to = g_build_filename(sysdir, unit, NULL);
            const char *cp_argv[] = { "cp", "--", arg, to, NULL };
            if (!g_file_test(arg, G_FILE_TEST_IS_REGULAR)) {
                g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                            "unit file %s: not a regular file", arg);
                return false;
            }
            if (!run_tool(cp_argv, error))
                return false;
        }
        if (!(file = find_unit(etc, unit, error)) || !symlink_at(file, link, error))
            return false;
    }
    for (size_t i = 0; masked[i]; i++) {
        g_autofree char *p = g_build_filename(sysdir, masked[i], NULL);
        if (!symlink_at("/dev/null", p, error))
            return false;
    }
    {
        g_autofree char *p = g_build_filename(sysdir, "default.target", NULL);
        if (!symlink_at("/lib/systemd/system/multi-user.target", p, error))
            return false;
    }
    if (!g_file_set_contents_full(hostname, line, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644,
                                  error))
        return false;
    /* journald's Storage=auto keeps the journal when this exists. */
    if (g_mkdir_with_parents(journal, 02755) < 0)
        return set_errno_error(error, errno, "Cannot create", journal);
    return true;
}

/* The private /etc and /var of @opts in @dir, and their mounts; a
 * systemd service's machine ID is @uuid, its domain's. */
static bool
make_private_dirs(VsbSandboxConfig *c, const char *dir, const VsbServiceOptions *opts,
                  const char *uuid, GError **error)
{
    g_autofree char *etc = g_build_filename(dir, "etc", NULL);
    g_autofree char *var = g_build_filename(dir, "var", NULL);
    const char *cp_argv[] = { "cp", "-a", "--one-file-system", "/etc", etc, NULL };

    if (!opts->private_dirs)
        return true;
    if (!run_tool(cp_argv, error) || !make_var_skeleton(var, error))
        return false;
    if (opts->kind == VSB_SERVICE_KIND_SYSTEMD &&
        (!prepare_systemd(vsb_sandbox_config_get_name(c), etc, var, opts, error) ||
         !write_machine_id(etc, uuid, error)))
        return false;
    if (opts->image_size) {
        g_autofree char *etc_img = g_build_filename(dir, "etc.img", NULL);
        g_autofree char *var_img = g_build_filename(dir, "var.img", NULL);

        if (!make_image(etc_img, opts->image_size, etc, error) ||
            !make_image(var_img, opts->image_size, var, error) ||
            !remove_tree(etc, error) || !remove_tree(var, error))
            return false;
        return add_mount(c, "host-image", "/etc", etc_img, error) &&
            add_mount(c, "host-image", "/var", var_img, error);
    }
    return add_mount(c, "host-bind", "/etc", etc, error) &&
        add_mount(c, "host-bind", "/var", var, error);
}

static bool
save_options(const char *dir, const VsbServiceOptions *opts, GError **error)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autofree char *path = g_build_filename(dir, "service.conf", NULL);
    g_autofree char *data = NULL;

    g_key_file_set_string(kf, "service", "kind", vsb_service_kind_to_string(opts->kind));
    g_key_file_set_boolean(kf, "service", "private", opts->private_dirs);
    g_key_file_set_uint64(kf, "service", "image-size", opts->image_size);
    if (opts->units)
        g_key_file_set_string_list(kf, "service", "units", (const char *const *)opts->units,
                                   g_strv_length(opts->units));
    data = g_key_file_to_data(kf, NULL, NULL);
    return g_file_set_contents_full(path, data, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

static bool
load_options(const char *dir, VsbServiceOptions *opts, GError **error)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autofree char *path = g_build_filename(dir, "service.conf", NULL);
    g_autofree char *kind = NULL;
    g_autoptr(GError) err = NULL;
    int k;

    if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, error)) {
        g_prefix_error(error, "%s: ", path);
        return false;
    }
    kind = g_key_file_get_string(kf, "service", "kind", NULL);
    if ((k = vsb_service_kind_from_string(kind)) < 0) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "%s: unknown kind '%s' (generic or systemd)", path, kind ? kind : "");
        return false;
    }
    opts->kind = k;
    opts->private_dirs = g_key_file_get_boolean(kf, "service", "private", NULL);
    opts->image_size = g_key_file_get_uint64(kf, "service", "image-size", NULL);
    opts->units = g_key_file_get_string_list(kf, "service", "units", NULL, NULL);
    return true;
}

/* ------------------------------------------------------------------ */
/* The domain                                                          */

/* What the builder cannot give a persistent domain. */
static bool
check_config(VsbSandboxConfig *c, GError **error)
{
    GPtrArray *mounts = vsb_sandbox_config_get_mounts(c);

    for (guint i = 0; i < mounts->len; i++) {
        VsbSandboxMount *m = g_ptr_array_index(mounts, i);
        /* The raw view of a qcow2 image is a process of the tool's run
         * (vsb-sandbox-image.h): nothing would serve it to a service. */
        if (vsb_sandbox_image_needs_export(m)) {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_UNSUPPORTED,
                        "mount on %s: qcow2 images are not supported in services yet (use a "
                        "raw image)", m->target);
            return false;
        }
    }
    return vsb_sandbox_config_validate(c, error);
}

/* state/ from @c (removed first), and the domain defined from it; a
 * new domain gets @new_uuid (NULL: the builder's). */
static bool
define_domain(VsbServiceStore *s, VsbSandboxConfig *c, const char *dir, const char *new_uuid,
              GError **error)
{
    g_autoptr(VsbSandboxBuilder) b = NULL;
    g_autoptr(GVirConfigDomain) conf = NULL;
    g_autofree char *statedir = g_build_filename(dir, "state", NULL);
    g_autofree char *initconf = NULL;
    g_autofree char *xml = NULL;
    g_auto(VsbServiceOptions) opts = { 0 };
    virConnectPtr conn;
    virDomainPtr dom;
    FILE *f;

    if (!check_config(c, error) || !(conn = vsb_service_connect(s, error)) ||
        !(b = vsb_sandbox_builder_for_uri(s->uri, error)))
        return false;
    if (!VSB_IS_SANDBOX_BUILDER_CONTAINER(b)) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_UNSUPPORTED,
                    "services are LXC containers: %s is not an lxc:// URI", s->uri);
        return false;
    }
    if (s->init_path)
        vsb_sandbox_builder_set_init_path(b, s->init_path);
    if (g_file_test(statedir, G_FILE_TEST_EXISTS) &&
        !vsb_sandbox_builder_cleanup(b, statedir, error))
        return false;
    if (!load_options(dir, &opts, error) || !vsb_sandbox_builder_prepare(b, c, statedir, error))
        return false;
    /* Nobody answers init's READY in a service: vsb-init-service.c. */
    initconf = g_build_filename(statedir, "config", VSB_INIT_CONFIG_FILE, NULL);
    if (!(f = fopen(initconf, "ae")))
        return set_errno_error(error, errno, "Cannot write", initconf);
    if (fputs("service 1\n", f) < 0) {
        int errsv = errno;
        fclose(f);
        return set_errno_error(error, errsv, "Cannot write", initconf);
    }
    if (fclose(f) != 0)
        return set_errno_error(error, errno, "Cannot write", initconf);
    if (!(conf = vsb_sandbox_builder_construct(b, c, statedir, error)))
        return false;
    if (opts.kind == VSB_SERVICE_KIND_SYSTEMD) {
        /* The builder's domain, with systemd for virt-sandbox-init:
         * the same root, tmpfs on /run and /tmp, console, private
         * /etc and /var.  (The <os> object is a view of the domain's
         * node: setting it back would free the node twice.) */
        g_autoptr(GVirConfigDomainOs) os = gvir_config_domain_get_os(conf);
        gvir_config_domain_os_set_init(os, VSB_SERVICE_SYSTEMD);
    }
    /* upgrade, clone over nothing: the same domain keeps its UUID. */
    if ((dom = virDomainLookupByName(conn, vsb_sandbox_config_get_name(c)))) {
        char uuid[VIR_UUID_STRING_BUFLEN];
        int rc = virDomainGetUUIDString(dom, uuid);
        virDomainFree(dom);
        if (rc < 0)
            return vsb_service_set_virt_error(error, "Cannot read the UUID of service '%s'",
                                              vsb_sandbox_config_get_name(c));
        gvir_config_domain_set_uuid(conf, uuid);
    } else if (new_uuid) {
        gvir_config_domain_set_uuid(conf, new_uuid);
    }
    xml = gvir_config_object_to_xml(GVIR_CONFIG_OBJECT(conf));
    if (!(dom = virDomainDefineXML(conn, xml)))
        return vsb_service_set_virt_error(error, "Cannot define the domain of service '%s'",
                                          vsb_sandbox_config_get_name(c));
    virDomainFree(dom);
    return true;
}

bool
vsb_service_create(VsbServiceStore *s, VsbSandboxConfig *config, const VsbServiceOptions *opts,
                   GError **error)
{
    const char *name = vsb_sandbox_config_get_name(config);
    g_autofree char *dir = NULL;
    g_autofree char *cfgpath = NULL;
    /* the domain's, chosen here: a systemd service's machine ID too */
    g_autofree char *uuid = g_uuid_string_random();
    g_autoptr(GPtrArray) names = NULL;
    VsbServiceOptions saved = *opts;    /* units by name, as found inside */
    virConnectPtr conn;
    virDomainPtr dom;

    if (!vsb_service_check_name(name, error))
        return false;
    if (opts->kind == VSB_SERVICE_KIND_SYSTEMD) {
        if (!opts->units || !opts->units[0] || !opts->private_dirs) {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                        "a systemd service needs units and a private /etc and /var");
            return false;
        }
        names = g_ptr_array_new_with_free_func(g_free);
        for (size_t i = 0; opts->units[i]; i++) {
            g_autofree char *unit = unit_name_of(opts->units[i]);
            if (!check_unit_name(unit, error)) {
                g_prefix_error(error, "-u %s: ", opts->units[i]);
                return false;
            }
            g_ptr_array_add(names, g_steal_pointer(&unit));
        }
        g_ptr_array_add(names, NULL);
        saved.units = (char **)names->pdata;
    }
    dir = vsb_service_store_dir(s, name);
    if (g_file_test(dir, G_FILE_TEST_EXISTS)) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "service '%s' exists already (%s)", name, dir);
        return false;
    }
    if (!check_config(config, error) || !(conn = vsb_service_connect(s, error)))
        return false;
    if ((dom = virDomainLookupByName(conn, name))) {
        virDomainFree(dom);
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "a domain named '%s' exists already on %s", name, s->uri);
        return false;
    }
    if (g_mkdir_with_parents(s->basedir, 0755) < 0)
        return set_errno_error(error, errno, "Cannot create", s->basedir);
    if (mkdir(dir, 0700) < 0) {
        if (errno == EEXIST) {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                        "service '%s' exists already (%s)", name, dir);
            return false;
        }
        return set_errno_error(error, errno, "Cannot create", dir);
    }
    cfgpath = g_build_filename(dir, "sandbox.cfg", NULL);
    if (!make_private_dirs(config, dir, opts, uuid, error) ||
        !save_options(dir, &saved, error) || !vsb_sandbox_config_save(config, cfgpath, error) ||
        !define_domain(s, config, dir, uuid, error)) {
        /* Nothing half-made stays: the directory was ours. */
        remove_tree(dir, NULL);
        return false;
    }
    return true;
}

/* A clone of a systemd service in directories is another machine
 * named @name, whose machine ID (hence journal) is @uuid, the new
 * domain's.  (In images, it keeps the original's.) */
static bool
clone_identity(const char *name, const char *dir, const char *uuid, GError **error)
{
    g_auto(VsbServiceOptions) opts = { 0 };
    g_autofree char *etc = g_build_filename(dir, "etc", NULL);
    g_autofree char *hostname = g_build_filename(etc, "hostname", NULL);
    g_autofree char *line = g_strconcat(name, "\n", NULL);

    if (!load_options(dir, &opts, error))
        return false;
    if (opts.kind != VSB_SERVICE_KIND_SYSTEMD || !g_file_test(etc, G_FILE_TEST_IS_DIR))
        return true;
    return write_machine_id(etc, uuid, error) &&
        g_file_set_contents_full(hostname, line, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644,
                                 error);
}

/* @c's mounts whose sources are in @from, moved to @to. */
static void
remap_mounts(VsbSandboxConfig *c, const char *from, const char *to)
{
    GPtrArray *mounts = vsb_sandbox_config_get_mounts(c);

    for (guint i = 0; i < mounts->len; i++) {
        VsbSandboxMount *m = g_ptr_array_index(mounts, i);
        if (m->type != VSB_SANDBOX_MOUNT_HOST_BIND && m->type != VSB_SANDBOX_MOUNT_HOST_IMAGE)
            continue;
        if (m->source && m->source[0] && vsb_sandbox_path_is_under(m->source, from)) {
            char *moved = g_strconcat(to, m->source + strlen(from), NULL);
            g_free(m->source);
            m->source = moved;
        }
    }
}

static VsbSandboxConfig *
load_config(const char *dir, GError **error)
{
    g_autofree char *path = g_build_filename(dir, "sandbox.cfg", NULL);
    VsbSandboxConfig *c = vsb_sandbox_config_load(path, error);

    if (!c)
        g_prefix_error(error, "%s: ", path);
    return c;
}

static bool
require_shut_off(VsbServiceStore *s, const char *name, const char *what, GError **error)
{
    virDomainPtr dom;
    int active;

    if (!vsb_service_connect(s, error))
        return false;
    if (!(dom = virDomainLookupByName(s->conn, name)))
        return true;
    active = virDomainIsActive(dom);
    virDomainFree(dom);
    if (active != 0) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "service '%s' is running: stop it before %s", name, what);
        return false;
    }
    return true;
}

bool
vsb_service_clone(VsbServiceStore *s, const char *src, const char *dst, GError **error)
{
    g_autofree char *sdir = NULL, *ddir = NULL, *cfgpath = NULL;
    g_autofree char *uuid = g_uuid_string_random();
    g_autoptr(VsbSandboxConfig) c = NULL;
    g_autoptr(GDir) d = NULL;
    virDomainPtr dom;
    const char *n;

    if (!vsb_service_exists(s, src, error) || !vsb_service_check_name(dst, error) ||
        !require_shut_off(s, src, "cloning it", error))
        return false;
    if ((dom = virDomainLookupByName(s->conn, dst))) {
        virDomainFree(dom);
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "a domain named '%s' exists already on %s", dst, s->uri);
        return false;
    }
    sdir = vsb_service_store_dir(s, src);
    ddir = vsb_service_store_dir(s, dst);
    if (!(c = load_config(sdir, error)) || !vsb_sandbox_config_set_name(c, dst, error))
        return false;
    if (mkdir(ddir, 0700) < 0) {
        if (errno == EEXIST) {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                        "service '%s' exists already (%s)", dst, ddir);
            return false;
        }
        return set_errno_error(error, errno, "Cannot create", ddir);
    }
    if (!(d = g_dir_open(sdir, 0, error)))
        goto fail;
    /* Everything but what is regenerated for the new name. */
    while ((n = g_dir_read_name(d))) {
        g_autofree char *from = g_build_filename(sdir, n, NULL);
        const char *cp_argv[] = { "cp", "-a", "--one-file-system", from, ddir, NULL };
        if (g_str_equal(n, "state") || g_str_equal(n, "sandbox.cfg"))
            continue;
        if (!run_tool(cp_argv, error))
            goto fail;
    }
    remap_mounts(c, sdir, ddir);
    if (!clone_identity(dst, ddir, uuid, error))
        goto fail;
    cfgpath = g_build_filename(ddir, "sandbox.cfg", NULL);
    if (!vsb_sandbox_config_save(c, cfgpath, error) || !define_domain(s, c, ddir, uuid, error))
        goto fail;
    return true;

 fail:
    remove_tree(ddir, NULL);
    return false;
}

bool
vsb_service_upgrade(VsbServiceStore *s, const char *name, GError **error)
{
    g_autofree char *dir = NULL;
    g_autoptr(VsbSandboxConfig) c = NULL;

    if (!vsb_service_exists(s, name, error) || !require_shut_off(s, name, "upgrading it", error))
        return false;
    dir = vsb_service_store_dir(s, name);
    return (c = load_config(dir, error)) && define_domain(s, c, dir, NULL, error);
}

bool
vsb_service_start(VsbServiceStore *s, const char *name, GError **error)
{
    virDomainPtr dom = vsb_service_lookup(s, name, error);
    bool ok = true;

    if (!dom)
        return false;
    if (virDomainIsActive(dom) == 1) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "service '%s' is running already", name);
        ok = false;
    } else if (virDomainCreate(dom) < 0) {
        ok = vsb_service_set_virt_error(error, "Cannot start service '%s'", name);
    }
    virDomainFree(dom);
    return ok;
}

bool
vsb_service_stop(VsbServiceStore *s, const char *name, GError **error)
{
    virDomainPtr dom = vsb_service_lookup(s, name, error);
    gint64 deadline = g_get_monotonic_time() + VSB_SERVICE_STOP_TIMEOUT_S * G_USEC_PER_SEC;
    bool ok = true;

    if (!dom)
        return false;
    if (virDomainIsActive(dom) != 1)
        goto out;
    /* SIGTERM, which init forwards to the program. */
    if (virDomainShutdownFlags(dom, VIR_DOMAIN_SHUTDOWN_SIGNAL) < 0 &&
        virDomainIsActive(dom) == 1) {
        ok = vsb_service_set_virt_error(error, "Cannot stop service '%s'", name);
        goto out;
    }
    while (virDomainIsActive(dom) == 1 && g_get_monotonic_time() < deadline)
        g_usleep(50 * 1000);
    if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom) < 0 && virDomainIsActive(dom) == 1)
        ok = vsb_service_set_virt_error(error, "Cannot destroy service '%s' (it ignored "
                                        "SIGTERM for %d s)", name, VSB_SERVICE_STOP_TIMEOUT_S);
 out:
    virDomainFree(dom);
    return ok;
}

bool
vsb_service_delete(VsbServiceStore *s, const char *name, GError **error)
{
    g_autofree char *dir = NULL;
    virDomainPtr dom;

    if (!vsb_service_exists(s, name, error) || !vsb_service_connect(s, error))
        return false;
    if ((dom = virDomainLookupByName(s->conn, name))) {
        bool ok = true;
        if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom) < 0 &&
            virDomainIsActive(dom) == 1)
            ok = vsb_service_set_virt_error(error, "Cannot destroy service '%s'", name);
        else if (virDomainUndefine(dom) < 0)
            ok = vsb_service_set_virt_error(error, "Cannot undefine service '%s'", name);
        virDomainFree(dom);
        if (!ok)
            return false;
    }
    dir = vsb_service_store_dir(s, name);
    if (!remove_tree(dir, error)) {
        g_prefix_error(error, "Service '%s' is undefined, but: ", name);
        return false;
    }
    return true;
}

static const char *
state_name(int state)
{
    switch (state) {
    case VIR_DOMAIN_RUNNING: return "running";
    case VIR_DOMAIN_BLOCKED: return "idle";
    case VIR_DOMAIN_PAUSED: return "paused";
    case VIR_DOMAIN_SHUTDOWN: return "in shutdown";
    case VIR_DOMAIN_SHUTOFF: return "shut off";
    case VIR_DOMAIN_CRASHED: return "crashed";
    case VIR_DOMAIN_PMSUSPENDED: return "pmsuspended";
    default: return "unknown";
    }
}

static gint
info_cmp(gconstpointer a, gconstpointer b)
{
    const VsbServiceInfo *x = *(VsbServiceInfo *const *)a, *y = *(VsbServiceInfo *const *)b;

    return strcmp(x->name, y->name);
}

GPtrArray *
vsb_service_list(VsbServiceStore *s, GError **error)
{
    g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify)vsb_service_info_free);
    g_autoptr(GDir) d = NULL;
    g_autoptr(GError) err = NULL;
    const char *n;

    if (!vsb_service_connect(s, error))
        return NULL;
    if (!(d = g_dir_open(s->basedir, 0, &err))) {
        if (g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            return g_steal_pointer(&out);   /* no service created yet */
        g_propagate_error(error, g_steal_pointer(&err));
        return NULL;
    }
    while ((n = g_dir_read_name(d))) {
        g_autofree char *dir = vsb_service_store_dir(s, n);
        g_auto(VsbServiceOptions) opts = { 0 };
        VsbServiceInfo *info;
        virDomainPtr dom;
        int state, reason;

        if (!vsb_service_exists(s, n, NULL))
            continue;
        info = g_new0(VsbServiceInfo, 1);
        info->name = g_strdup(n);
        info->kind = load_options(dir, &opts, NULL) ? opts.kind : VSB_SERVICE_KIND_GENERIC;
        if (!(dom = virDomainLookupByName(s->conn, n)))
            info->state = g_strdup("undefined");
        else if (virDomainGetState(dom, &state, &reason, 0) < 0)
            info->state = g_strdup("unknown");
        else
            info->state = g_strdup(state_name(state));
        if (dom)
            virDomainFree(dom);
        g_ptr_array_add(out, info);
    }
    g_ptr_array_sort(out, info_cmp);
    return g_steal_pointer(&out);
}

void
vsb_service_options_clear(VsbServiceOptions *opts)
{
    g_clear_pointer(&opts->units, g_strfreev);
}

bool
vsb_service_load_options(VsbServiceStore *s, const char *name, VsbServiceOptions *opts,
                         GError **error)
{
    g_autofree char *dir = vsb_service_store_dir(s, name);

    return load_options(dir, opts, error);
}
