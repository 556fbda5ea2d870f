/*
 * vsb-sandbox-config.c: the sandbox config object and the command-line
 * syntaxes of its parts.
 */
#include <config.h>

#include "vsb-sandbox-config.h"
#include "vsb-sandbox-netspec.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

G_DEFINE_QUARK(vsb-sandbox-error-quark, vsb_sandbox_error)

const char *const vsb_sandbox_default_tmpfs[] = { "/tmp", "/var/tmp", "/run", NULL };

static const char *const mount_type_names[] = { "host-bind", "host-image", "guest-bind", "ram" };
G_STATIC_ASSERT(G_N_ELEMENTS(mount_type_names) == VSB_SANDBOX_MOUNT_LAST);
static const char *const format_names[] = { "raw", "qcow2" };
G_STATIC_ASSERT(G_N_ELEMENTS(format_names) == VSB_SANDBOX_FORMAT_LAST);
static const char *const share_driver_names[] = { "9p", "virtiofs" };
G_STATIC_ASSERT(G_N_ELEMENTS(share_driver_names) == VSB_SANDBOX_SHARE_LAST);
static const char *const security_names[] = { "dynamic", "static", "inherit", "none" };
G_STATIC_ASSERT(G_N_ELEMENTS(security_names) == VSB_SANDBOX_SECURITY_LAST);

static int
lookup_name(const char *const *names, int n, const char *s)
{
    for (int i = 0; s && i < n; i++)
        if (g_str_equal(names[i], s))
            return i;
    return -1;
}

const char *
vsb_sandbox_mount_type_to_string(VsbSandboxMountType t)
{
    return t < VSB_SANDBOX_MOUNT_LAST ? mount_type_names[t] : NULL;
}

int
vsb_sandbox_mount_type_from_string(const char *s)
{
    return lookup_name(mount_type_names, VSB_SANDBOX_MOUNT_LAST, s);
}

const char *
vsb_sandbox_format_to_string(VsbSandboxFormat f)
{
    return f < VSB_SANDBOX_FORMAT_LAST ? format_names[f] : NULL;
}

int
vsb_sandbox_format_from_string(const char *s)
{
    return lookup_name(format_names, VSB_SANDBOX_FORMAT_LAST, s);
}

const char *
vsb_sandbox_share_driver_to_string(VsbSandboxShareDriver d)
{
    return d < VSB_SANDBOX_SHARE_LAST ? share_driver_names[d] : NULL;
}

int
vsb_sandbox_share_driver_from_string(const char *s)
{
    return lookup_name(share_driver_names, VSB_SANDBOX_SHARE_LAST, s);
}

const char *
vsb_sandbox_security_mode_to_string(VsbSandboxSecurityMode m)
{
    return m < VSB_SANDBOX_SECURITY_LAST ? security_names[m] : NULL;
}

int
vsb_sandbox_security_mode_from_string(const char *s)
{
    return lookup_name(security_names, VSB_SANDBOX_SECURITY_LAST, s);
}

void
vsb_sandbox_mount_free(VsbSandboxMount *m)
{
    if (!m)
        return;
    g_free(m->target);
    g_free(m->source);
    g_free(m);
}

static void
include_free(VsbSandboxInclude *inc)
{
    g_free(inc->guest);
    g_free(inc->host);
    g_free(inc);
}

static void
disk_free(VsbSandboxDisk *d)
{
    g_free(d->type);
    g_free(d->tag);
    g_free(d->source);
    g_free(d);
}

static void
env_free(VsbSandboxEnv *e)
{
    g_free(e->name);
    g_free(e->value);
    g_free(e);
}

struct _VsbSandboxConfig {
    GObject parent;

    char *name;
    char *root;
    GStrv command;
    GPtrArray *env;        /* VsbSandboxEnv* */
    GPtrArray *mounts;     /* VsbSandboxMount* */
    GPtrArray *includes;   /* VsbSandboxInclude* */
    GPtrArray *disks;      /* VsbSandboxDisk* */
    GPtrArray *networks;   /* char* */

    guint32 uid;
    guint32 gid;
    GArray *groups;
    char *username;
    char *homedir;
    char *cwd;

    VsbSandboxSecurityMode security_mode;
    char *security_label;

    bool privileged;
    bool shell;
    bool debug;
    guint64 memory_kib;

    /* KVM */
    char *kernel_version;
    char *kernel_path;
    char *kmod_path;
    guint vcpus;
    bool has_clock_offset;
    gint64 clock_offset;
};

G_DEFINE_TYPE(VsbSandboxConfig, vsb_sandbox_config, G_TYPE_OBJECT)

static void
vsb_sandbox_config_finalize(GObject *obj)
{
    VsbSandboxConfig *c = VSB_SANDBOX_CONFIG(obj);

    g_free(c->name);
    g_free(c->root);
    g_strfreev(c->command);
    g_ptr_array_unref(c->env);
    g_ptr_array_unref(c->mounts);
    g_ptr_array_unref(c->includes);
    g_ptr_array_unref(c->disks);
    g_ptr_array_unref(c->networks);
    g_array_unref(c->groups);
    g_free(c->username);
    g_free(c->homedir);
    g_free(c->cwd);
    g_free(c->security_label);
    g_free(c->kernel_version);
    g_free(c->kernel_path);
    g_free(c->kmod_path);
    G_OBJECT_CLASS(vsb_sandbox_config_parent_class)->finalize(obj);
}

static void
vsb_sandbox_config_class_init(VsbSandboxConfigClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = vsb_sandbox_config_finalize;
}

static void
vsb_sandbox_config_init(VsbSandboxConfig *c)
{
    c->env = g_ptr_array_new_with_free_func((GDestroyNotify)env_free);
    c->mounts = g_ptr_array_new_with_free_func((GDestroyNotify)vsb_sandbox_mount_free);
    c->includes = g_ptr_array_new_with_free_func((GDestroyNotify)include_free);
    c->disks = g_ptr_array_new_with_free_func((GDestroyNotify)disk_free);
    c->networks = g_ptr_array_new_with_free_func(g_free);
    c->groups = g_array_new(FALSE, FALSE, sizeof(guint32));
    c->security_mode = VSB_SANDBOX_SECURITY_DYNAMIC;
}

/* ------------------------------------------------------------------ */
/* Paths and names                                                     */

char *
vsb_sandbox_normalize_path(const char *path, const char *what, GError **error)
{
    g_auto(GStrv) parts = NULL;
    g_autoptr(GString) out = g_string_new("");

    if (!path || path[0] != '/') {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "%s '%s' is not an absolute path", what, path ? path : "");
        return NULL;
    }
    parts = g_strsplit(path, "/", -1);
    for (size_t i = 0; parts[i]; i++) {
        if (parts[i][0] == '\0')
            continue;
        if (g_str_equal(parts[i], ".") || g_str_equal(parts[i], "..")) {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                        "%s '%s' must not contain '.' or '..' components", what, path);
            return NULL;
        }
        g_string_append_printf(out, "/%s", parts[i]);
    }
    if (out->len == 0)
        g_string_append_c(out, '/');
    return g_string_free(g_steal_pointer(&out), FALSE);
}

bool
vsb_sandbox_path_is_under(const char *path, const char *dir)
{
    size_t n = strlen(dir);

    if (g_str_equal(dir, "/"))
        return path[0] == '/';
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static bool
has_control_chars(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return true;
    return false;
}

static bool
check_name(const char *name, GError **error)
{
    /* The name becomes file names (state dir, the driver's run dir):
     * the domain layer's rules, checked here to fail before staging. */
    if (!name || !name[0] || strlen(name) > 200 || strchr(name, '/') || name[0] == '.' ||
        has_control_chars(name) || !g_utf8_validate(name, -1, NULL)) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "invalid sandbox name '%s': 1 to 200 bytes of UTF-8, no '/', no control "
                    "characters, not starting with '.'", name ? name : "");
        return false;
    }
    return true;
}

static bool
check_label(const char *label, GError **error)
{
    if (!label[0] || has_control_chars(label) || strchr(label, ' ') ||
        !strchr(label, ':') || strchr(label, ':') == strrchr(label, ':')) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "invalid security label '%s': expected USER:ROLE:TYPE[:LEVEL]", label);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* The object                                                          */

char *
vsb_sandbox_config_generate_name(void)
{
    g_autofree char *uuid = g_uuid_string_random();
    g_autoptr(GString) s = g_string_new("sandbox-");

    for (const char *p = uuid; *p && s->len < 8 + 12; p++)
        if (*p != '-')
            g_string_append_c(s, *p);
    return g_string_free(g_steal_pointer(&s), FALSE);
}

VsbSandboxConfig *
vsb_sandbox_config_new(const char *name, GError **error)
{
    g_autoptr(VsbSandboxConfig) c = NULL;
    struct passwd *pw;

    if (!check_name(name, error))
        return NULL;
    c = g_object_new(VSB_SANDBOX_TYPE_CONFIG, NULL);
    c->name = g_strdup(name);
    c->uid = getuid();
    c->gid = getgid();
    pw = getpwuid(c->uid);
    c->username = g_strdup(pw ? pw->pw_name : g_get_user_name());
    c->homedir = g_strdup(pw && pw->pw_dir[0] == '/' ? pw->pw_dir : "/");
    c->cwd = g_get_current_dir();
    return g_steal_pointer(&c);
}

const char *
vsb_sandbox_config_get_name(VsbSandboxConfig *c)
{
    return c->name;
}

bool
vsb_sandbox_config_set_name(VsbSandboxConfig *c, const char *name, GError **error)
{
    if (!check_name(name, error))
        return false;
    g_free(c->name);
    c->name = g_strdup(name);
    return true;
}

const char *
vsb_sandbox_config_get_root(VsbSandboxConfig *c)
{
    return c->root;
}

bool
vsb_sandbox_config_set_root(VsbSandboxConfig *c, const char *dir, GError **error)
{
    g_autofree char *norm = NULL;

    if (dir && !(norm = vsb_sandbox_normalize_path(dir, "root directory", error)))
        return false;
    g_free(c->root);
    /* "/" is the default: keep one spelling of it. */
    c->root = norm && !g_str_equal(norm, "/") ? g_steal_pointer(&norm) : NULL;
    return true;
}

const char *const *
vsb_sandbox_config_get_command(VsbSandboxConfig *c)
{
    return (const char *const *)c->command;
}

bool
vsb_sandbox_config_set_command(VsbSandboxConfig *c, const char *const *argv, GError **error)
{
    if (!argv || !argv[0] || !argv[0][0]) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "no command to run");
        return false;
    }
    g_strfreev(c->command);
    c->command = g_strdupv((char **)argv);
    return true;
}

GPtrArray *
vsb_sandbox_config_get_env(VsbSandboxConfig *c)
{
    return c->env;
}

static bool
check_env_name(const char *name, GError **error)
{
    bool ok = name && (g_ascii_isalpha(name[0]) || name[0] == '_');

    for (const char *p = name; ok && *p; p++)
        ok = g_ascii_isalnum(*p) || *p == '_';
    if (!ok)
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "invalid environment variable name '%s'", name ? name : "");
    return ok;
}

bool
vsb_sandbox_config_set_env(VsbSandboxConfig *c, const char *name, const char *value,
                           GError **error)
{
    VsbSandboxEnv *e;

    if (!check_env_name(name, error))
        return false;
    for (guint i = 0; i < c->env->len; i++) {
        e = g_ptr_array_index(c->env, i);
        if (g_str_equal(e->name, name)) {
            g_free(e->value);
            e->value = g_strdup(value);
            return true;
        }
    }
    e = g_new0(VsbSandboxEnv, 1);
    e->name = g_strdup(name);
    e->value = g_strdup(value);
    g_ptr_array_add(c->env, e);
    return true;
}

GPtrArray *
vsb_sandbox_config_get_mounts(VsbSandboxConfig *c)
{
    return c->mounts;
}

static bool
check_mount(VsbSandboxConfig *c, VsbSandboxMount *m, GError **error)
{
    g_autofree char *target = NULL;
    const char *type = vsb_sandbox_mount_type_to_string(m->type);

    if (!type) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "unknown mount type %d", m->type);
        return false;
    }
    if (!(target = vsb_sandbox_normalize_path(m->target, "mount target", error)))
        return false;
    g_free(m->target);
    m->target = g_steal_pointer(&target);
    if (g_str_equal(m->target, "/") &&
        m->type != VSB_SANDBOX_MOUNT_HOST_BIND && m->type != VSB_SANDBOX_MOUNT_HOST_IMAGE) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "a %s mount cannot be the root (/)", type);
        return false;
    }
    if (m->driver >= VSB_SANDBOX_SHARE_LAST ||
        (m->type != VSB_SANDBOX_MOUNT_HOST_BIND && m->driver != VSB_SANDBOX_SHARE_9P)) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "mount on %s: a share driver applies to host-bind mounts only", m->target);
        return false;
    }
    switch (m->type) {
    case VSB_SANDBOX_MOUNT_HOST_BIND:
        if (!m->source)
            m->source = g_strdup("");
        if (!m->source[0] && g_str_equal(m->target, "/")) {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                        "the root (/) cannot be a temporary directory");
            return false;
        }
        G_GNUC_FALLTHROUGH;
    case VSB_SANDBOX_MOUNT_HOST_IMAGE:
    case VSB_SANDBOX_MOUNT_GUEST_BIND: {
        g_autofree char *src = NULL;
        if (m->type == VSB_SANDBOX_MOUNT_HOST_BIND && !m->source[0])
            break;
        if (!(src = vsb_sandbox_normalize_path(m->source, "mount source", error)))
            return false;
        g_free(m->source);
        m->source = g_steal_pointer(&src);
        if (m->type == VSB_SANDBOX_MOUNT_GUEST_BIND && g_str_equal(m->source, m->target)) {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                        "guest-bind of %s onto itself", m->source);
            return false;
        }
        if (m->type == VSB_SANDBOX_MOUNT_HOST_IMAGE && m->format >= VSB_SANDBOX_FORMAT_LAST) {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                        "unknown image format %d", m->format);
            return false;
        }
        break;
    }
    case VSB_SANDBOX_MOUNT_RAM:
        g_clear_pointer(&m->source, g_free);
        if (m->size == 0) {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                        "a ram mount needs a size above 0");
            return false;
        }
        break;
    case VSB_SANDBOX_MOUNT_LAST:
    default:
        g_assert_not_reached();
    }
    for (guint i = 0; i < c->mounts->len; i++) {
        VsbSandboxMount *o = g_ptr_array_index(c->mounts, i);
        if (g_str_equal(o->target, m->target)) {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                        "two mounts on %s", m->target);
            return false;
        }
    }
    return true;
}

bool
vsb_sandbox_config_add_mount(VsbSandboxConfig *c, VsbSandboxMount *m, GError **error)
{
    g_autoptr(VsbSandboxMount) owned = m;

    if (!check_mount(c, m, error))
        return false;
    g_ptr_array_add(c->mounts, g_steal_pointer(&owned));
    return true;
}

const VsbSandboxMount *
vsb_sandbox_config_get_root_mount(VsbSandboxConfig *c)
{
    for (guint i = 0; i < c->mounts->len; i++) {
        VsbSandboxMount *m = g_ptr_array_index(c->mounts, i);
        if (g_str_equal(m->target, "/"))
            return m;
    }
    return NULL;
}

GPtrArray *
vsb_sandbox_config_get_includes(VsbSandboxConfig *c)
{
    return c->includes;
}

bool
vsb_sandbox_config_add_include(VsbSandboxConfig *c, const char *guest, const char *host,
                               GError **error)
{
    g_autofree char *g = vsb_sandbox_normalize_path(guest, "include destination", error);
    g_autofree char *h = NULL;
    VsbSandboxInclude *inc;

    if (!g || !(h = vsb_sandbox_normalize_path(host, "include source", error)))
        return false;
    if (g_str_equal(g, "/")) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "cannot include a file as the root (/)");
        return false;
    }
    inc = g_new0(VsbSandboxInclude, 1);
    inc->guest = g_steal_pointer(&g);
    inc->host = g_steal_pointer(&h);
    g_ptr_array_add(c->includes, inc);
    return true;
}

GPtrArray *
vsb_sandbox_config_get_disks(VsbSandboxConfig *c)
{
    return c->disks;
}

bool
vsb_sandbox_config_add_disk(VsbSandboxConfig *c, const char *type, const char *tag,
                            const char *source, VsbSandboxFormat format, GError **error)
{
    g_autofree char *src = NULL;
    VsbSandboxDisk *d;
    bool ok = tag && tag[0];

    if (!g_str_equal(type, "file")) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "unknown disk type '%s' (expected file)", type);
        return false;
    }
    for (const char *p = tag; ok && *p; p++)
        ok = g_ascii_isalnum(*p) || *p == '_' || *p == '-' || *p == '.';
    if (!ok || tag[0] == '.') {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "invalid disk tag '%s': letters, digits, '_', '-' and '.' only", tag);
        return false;
    }
    if (format >= VSB_SANDBOX_FORMAT_LAST) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "unknown disk format %d", format);
        return false;
    }
    if (!(src = vsb_sandbox_normalize_path(source, "disk source", error)))
        return false;
    for (guint i = 0; i < c->disks->len; i++) {
        VsbSandboxDisk *o = g_ptr_array_index(c->disks, i);
        if (g_str_equal(o->tag, tag)) {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                        "two disks tagged '%s'", tag);
            return false;
        }
    }
    d = g_new0(VsbSandboxDisk, 1);
    d->type = g_strdup(type);
    d->tag = g_strdup(tag);
    d->source = g_steal_pointer(&src);
    d->format = format;
    g_ptr_array_add(c->disks, d);
    return true;
}

GPtrArray *
vsb_sandbox_config_get_networks(VsbSandboxConfig *c)
{
    return c->networks;
}

void
vsb_sandbox_config_add_network(VsbSandboxConfig *c, const char *spec)
{
    g_ptr_array_add(c->networks, g_strdup(spec));
}

guint32 vsb_sandbox_config_get_uid(VsbSandboxConfig *c) { return c->uid; }
guint32 vsb_sandbox_config_get_gid(VsbSandboxConfig *c) { return c->gid; }
GArray *vsb_sandbox_config_get_groups(VsbSandboxConfig *c) { return c->groups; }
const char *vsb_sandbox_config_get_username(VsbSandboxConfig *c) { return c->username; }
const char *vsb_sandbox_config_get_homedir(VsbSandboxConfig *c) { return c->homedir; }
const char *vsb_sandbox_config_get_cwd(VsbSandboxConfig *c) { return c->cwd; }

bool
vsb_sandbox_config_set_identity(VsbSandboxConfig *c, guint32 uid, guint32 gid,
                                const char *username, const char *homedir, GError **error)
{
    g_autofree char *home = NULL;

    /* (uid_t)-1 means "unchanged" to setresuid(): never a real identity. */
    if (uid == G_MAXUINT32 || gid == G_MAXUINT32) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "invalid uid/gid %u/%u", uid, gid);
        return false;
    }
    if (!username || !username[0] || strchr(username, '/') || strchr(username, ':') ||
        has_control_chars(username)) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "invalid user name '%s'", username ? username : "");
        return false;
    }
    if (!(home = vsb_sandbox_normalize_path(homedir, "home directory", error)))
        return false;
    c->uid = uid;
    c->gid = gid;
    g_free(c->username);
    c->username = g_strdup(username);
    g_free(c->homedir);
    c->homedir = g_steal_pointer(&home);
    return true;
}

void
vsb_sandbox_config_set_groups(VsbSandboxConfig *c, const guint32 *groups, guint n)
{
    g_array_set_size(c->groups, 0);
    for (guint i = 0; i < n; i++) {
        bool dup = groups[i] == c->gid;
        for (guint j = 0; !dup && j < c->groups->len; j++)
            dup = g_array_index(c->groups, guint32, j) == groups[i];
        if (!dup)
            g_array_append_val(c->groups, groups[i]);
    }
}

bool
vsb_sandbox_config_set_cwd(VsbSandboxConfig *c, const char *cwd, GError **error)
{
    g_autofree char *norm = vsb_sandbox_normalize_path(cwd, "working directory", error);

    if (!norm)
        return false;
    g_free(c->cwd);
    c->cwd = g_steal_pointer(&norm);
    return true;
}

static bool
parse_id(const char *s, guint32 *id)
{
    guint64 v;

    if (!s || !g_ascii_string_to_unsigned(s, 10, 0, G_MAXUINT32 - 1, &v, NULL))
        return false;
    *id = (guint32)v;
    return true;
}

bool
vsb_sandbox_config_set_identity_from_host(VsbSandboxConfig *c, const char *user,
                                          GError **error)
{
    struct passwd *pw = NULL;
    guint32 uid, gid;
    g_autofree char *name = NULL;
    const char *home = "/";

    if (user) {
        guint32 id;
        errno = 0;
        pw = parse_id(user, &id) ? getpwuid(id) : getpwnam(user);
        if (!pw) {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                        "unknown user '%s'", user);
            return false;
        }
        uid = pw->pw_uid;
        gid = pw->pw_gid;
    } else {
        uid = getuid();
        gid = getgid();
        /* sudo runs us as root: the sandbox is still for the person
         * who typed the command. */
        if (uid == 0 && parse_id(g_getenv("SUDO_UID"), &uid)) {
            pw = getpwuid(uid);
            if (!parse_id(g_getenv("SUDO_GID"), &gid))
                gid = pw ? pw->pw_gid : uid;
        } else {
            pw = getpwuid(uid);
        }
    }
    if (pw) {
        name = g_strdup(pw->pw_name);
        if (pw->pw_dir && pw->pw_dir[0] == '/')
            home = pw->pw_dir;
    } else {
        name = g_strdup_printf("%u", uid);
    }
    if (!vsb_sandbox_config_set_identity(c, uid, gid, name, home, error))
        return false;
    g_array_set_size(c->groups, 0);
    if (pw) {
        int n = 64;
        g_autofree gid_t *list = g_new(gid_t, n);
        g_autofree guint32 *g32 = NULL;

        if (getgrouplist(name, gid, list, &n) < 0) {
            list = g_renew(gid_t, list, n);
            if (getgrouplist(name, gid, list, &n) < 0)
                n = 0;
        }
        g32 = g_new(guint32, MAX(n, 1));
        for (int i = 0; i < n; i++)
            g32[i] = list[i];
        vsb_sandbox_config_set_groups(c, g32, n);
    }
    return true;
}

VsbSandboxSecurityMode
vsb_sandbox_config_get_security_mode(VsbSandboxConfig *c)
{
    return c->security_mode;
}

const char *
vsb_sandbox_config_get_security_label(VsbSandboxConfig *c)
{
    return c->security_label;
}

bool
vsb_sandbox_config_set_security(VsbSandboxConfig *c, VsbSandboxSecurityMode mode,
                                const char *label, GError **error)
{
    const char *name = vsb_sandbox_security_mode_to_string(mode);

    if (!name) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "unknown security mode %d", mode);
        return false;
    }
    if (mode == VSB_SANDBOX_SECURITY_STATIC && !label) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "security mode static needs a label (static,label=USER:ROLE:TYPE:LEVEL)");
        return false;
    }
    if (label && (mode == VSB_SANDBOX_SECURITY_INHERIT || mode == VSB_SANDBOX_SECURITY_NONE)) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "security mode %s takes no label", name);
        return false;
    }
    if (label && !check_label(label, error))
        return false;
    c->security_mode = mode;
    g_free(c->security_label);
    c->security_label = g_strdup(label);
    return true;
}

bool vsb_sandbox_config_get_privileged(VsbSandboxConfig *c) { return c->privileged; }
void vsb_sandbox_config_set_privileged(VsbSandboxConfig *c, bool v) { c->privileged = v; }
bool vsb_sandbox_config_get_shell(VsbSandboxConfig *c) { return c->shell; }
void vsb_sandbox_config_set_shell(VsbSandboxConfig *c, bool v) { c->shell = v; }
bool vsb_sandbox_config_get_debug(VsbSandboxConfig *c) { return c->debug; }
void vsb_sandbox_config_set_debug(VsbSandboxConfig *c, bool v) { c->debug = v; }
guint64 vsb_sandbox_config_get_memory_kib(VsbSandboxConfig *c) { return c->memory_kib; }
void vsb_sandbox_config_set_memory_kib(VsbSandboxConfig *c, guint64 kib) { c->memory_kib = kib; }

const char *vsb_sandbox_config_get_kernel_version(VsbSandboxConfig *c) { return c->kernel_version; }
const char *vsb_sandbox_config_get_kernel_path(VsbSandboxConfig *c) { return c->kernel_path; }
const char *vsb_sandbox_config_get_kmod_path(VsbSandboxConfig *c) { return c->kmod_path; }
guint vsb_sandbox_config_get_vcpus(VsbSandboxConfig *c) { return c->vcpus; }

bool
vsb_sandbox_config_set_kernel_version(VsbSandboxConfig *c, const char *version, GError **error)
{
    /* It names files: /boot/vmlinuz-VERSION, /lib/modules/VERSION. */
    if (version && (!version[0] || strchr(version, '/') || g_str_equal(version, ".") ||
                    g_str_equal(version, ".."))) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "not a kernel version (expected e.g. 6.1.0-56-amd64)");
        return false;
    }
    g_free(c->kernel_version);
    c->kernel_version = g_strdup(version);
    return true;
}

static bool
set_abs_path(char **field, const char *path, GError **error)
{
    if (path && !g_path_is_absolute(path)) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "not an absolute path");
        return false;
    }
    g_free(*field);
    *field = path ? g_canonicalize_filename(path, NULL) : NULL;
    return true;
}

bool
vsb_sandbox_config_set_kernel_path(VsbSandboxConfig *c, const char *path, GError **error)
{
    return set_abs_path(&c->kernel_path, path, error);
}

bool
vsb_sandbox_config_set_kmod_path(VsbSandboxConfig *c, const char *path, GError **error)
{
    return set_abs_path(&c->kmod_path, path, error);
}

bool
vsb_sandbox_config_set_vcpus(VsbSandboxConfig *c, guint vcpus, GError **error)
{
    if (vcpus > VSB_SANDBOX_MAX_VCPUS) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "%u virtual CPUs: at most %d", vcpus, VSB_SANDBOX_MAX_VCPUS);
        return false;
    }
    c->vcpus = vcpus;
    return true;
}

bool
vsb_sandbox_config_get_clock_offset(VsbSandboxConfig *c, gint64 *seconds)
{
    if (seconds)
        *seconds = c->clock_offset;
    return c->has_clock_offset;
}

bool
vsb_sandbox_config_set_clock_offset(VsbSandboxConfig *c, gint64 seconds, GError **error)
{
    if (seconds > VSB_SANDBOX_MAX_CLOCK_OFFSET || seconds < -VSB_SANDBOX_MAX_CLOCK_OFFSET) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "clock offset %" G_GINT64_FORMAT " s: at most %lld s (100 years) either way",
                    seconds, VSB_SANDBOX_MAX_CLOCK_OFFSET);
        return false;
    }
    c->has_clock_offset = true;
    c->clock_offset = seconds;
    return true;
}

const char *
vsb_sandbox_config_vm_option_set(VsbSandboxConfig *c)
{
    if (c->kernel_version)
        return "--kernver";
    if (c->kernel_path)
        return "--kernpath";
    if (c->kmod_path)
        return "--kmodpath";
    if (c->vcpus)
        return "--vcpus";
    if (c->has_clock_offset)
        return "--clock-offset";
    for (guint i = 0; i < c->mounts->len; i++)
        if (((VsbSandboxMount *)g_ptr_array_index(c->mounts, i))->driver ==
            VSB_SANDBOX_SHARE_VIRTIOFS)
            return "a virtiofs share (-m host-bind:...,driver=virtiofs)";
    return NULL;
}

/* Where a file can be copied in: below a mount of the config or a
 * default tmpfs, never the read-only root. */
static bool
include_has_home(VsbSandboxConfig *c, const char *guest)
{
    for (guint i = 0; i < c->mounts->len; i++) {
        VsbSandboxMount *m = g_ptr_array_index(c->mounts, i);
        if (!g_str_equal(m->target, "/") && vsb_sandbox_path_is_under(guest, m->target) &&
            !g_str_equal(guest, m->target))
            return true;
    }
    for (size_t i = 0; vsb_sandbox_default_tmpfs[i]; i++)
        if (vsb_sandbox_path_is_under(guest, vsb_sandbox_default_tmpfs[i]) &&
            !g_str_equal(guest, vsb_sandbox_default_tmpfs[i]))
            return true;
    return false;
}

bool
vsb_sandbox_config_validate(VsbSandboxConfig *c, GError **error)
{
    if (!c->command || !c->command[0]) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID, "no command to run");
        return false;
    }
    if (c->root && vsb_sandbox_config_get_root_mount(c)) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "both a root directory (%s) and a mount on / given", c->root);
        return false;
    }
    for (guint i = 0; i < c->networks->len; i++) {
        const char *spec = g_ptr_array_index(c->networks, i);
        g_autoptr(VsbNetspec) n = vsb_netspec_parse(spec, error);
        if (!n) {
            g_prefix_error(error, "network '%s': ", spec);
            return false;
        }
    }
    for (guint i = 0; i < c->includes->len; i++) {
        VsbSandboxInclude *inc = g_ptr_array_index(c->includes, i);
        if (!include_has_home(c, inc->guest)) {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                        "cannot include %s: %s is not below a mount of the sandbox "
                        "(the root is read-only; /tmp, /var/tmp and /run are writable)",
                        inc->host, inc->guest);
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* Command-line syntaxes                                               */

bool
vsb_sandbox_parse_clock_offset(const char *s, gint64 *seconds, GError **error)
{
    g_autoptr(GError) err = NULL;
    const char *digits = (s[0] == '+' || s[0] == '-') ? s + 1 : s;
    guint64 v;

    /* g_ascii_string_to_unsigned() takes no sign and refuses "". */
    if (!g_ascii_isdigit(digits[0]) ||
        !g_ascii_string_to_unsigned(digits, 10, 0, VSB_SANDBOX_MAX_CLOCK_OFFSET, &v, &err)) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "not a number of seconds within %lld (100 years) either way, e.g. 3600 "
                    "or -86400", VSB_SANDBOX_MAX_CLOCK_OFFSET);
        return false;
    }
    *seconds = s[0] == '-' ? -(gint64)v : (gint64)v;
    return true;
}

bool
vsb_sandbox_parse_size(const char *s, guint64 *bytes, GError **error)
{
    static const struct { const char *suffix; guint shift; } units[] = {
        { "", 0 }, { "B", 0 },
        { "K", 10 }, { "k", 10 }, { "KiB", 10 },
        { "M", 20 }, { "MiB", 20 },
        { "G", 30 }, { "GiB", 30 },
        { "T", 40 }, { "TiB", 40 },
    };
    const char *p = s;
    guint64 v = 0;

    if (!g_ascii_isdigit(*p)) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "invalid size '%s': expected a number with an optional suffix "
                    "K, M, G, T (KiB, MiB, GiB, TiB)", s);
        return false;
    }
    for (; g_ascii_isdigit(*p); p++) {
        guint d = *p - '0';
        if (v > (G_MAXUINT64 - d) / 10)
            goto overflow;
        v = v * 10 + d;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(units); i++) {
        if (!g_str_equal(p, units[i].suffix))
            continue;
        if (units[i].shift && v > (G_MAXUINT64 >> units[i].shift))
            goto overflow;
        *bytes = v << units[i].shift;
        return true;
    }
    g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                "invalid size '%s': unknown suffix '%s' (expected K, M, G, T, KiB, MiB, GiB "
                "or TiB)", s, p);
    return false;

 overflow:
    g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                "invalid size '%s': more than 2^64-1 bytes", s);
    return false;
}

static char *
absolute_host_path(const char *path)
{
    /* Relative host paths are the user's shorthand for below the
     * current directory. */
    return path[0] && path[0] != '/' ? g_canonicalize_filename(path, NULL) : g_strdup(path);
}

VsbSandboxMount *
vsb_sandbox_parse_mount(const char *spec, GError **error)
{
    const char *colon = strchr(spec, ':');
    const char *eq;
    g_autofree char *type = NULL;
    g_autoptr(VsbSandboxMount) m = g_new0(VsbSandboxMount, 1);
    int t;

    if (!colon) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "no mount type: expected TYPE:TARGET=SOURCE");
        return NULL;
    }
    type = g_strndup(spec, colon - spec);
    if ((t = vsb_sandbox_mount_type_from_string(type)) < 0) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "unknown mount type '%s' (expected host-bind, host-image, guest-bind or ram)",
                    type);
        return NULL;
    }
    m->type = t;
    if (!(eq = strchr(colon + 1, '='))) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "no source: expected TYPE:TARGET=SOURCE");
        return NULL;
    }
    m->target = g_strndup(colon + 1, eq - colon - 1);
    if (!m->target[0]) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "no target: expected TYPE:TARGET=SOURCE");
        return NULL;
    }
    switch (m->type) {
    case VSB_SANDBOX_MOUNT_RAM:
        if (!vsb_sandbox_parse_size(eq + 1, &m->size, error))
            return NULL;
        if (m->size == 0) {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                        "a ram mount needs a size above 0");
            return NULL;
        }
        break;
    case VSB_SANDBOX_MOUNT_HOST_IMAGE: {
        /* Only a trailing ",format=WORD" is an option: image paths may
         * contain commas. */
        const char *comma = strrchr(eq + 1, ',');
        g_autofree char *path = NULL;
        if (comma && g_str_has_prefix(comma, ",format=")) {
            int f = vsb_sandbox_format_from_string(comma + strlen(",format="));
            if (f < 0) {
                g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                            "unknown image format '%s' (expected raw or qcow2)",
                            comma + strlen(",format="));
                return NULL;
            }
            m->format = f;
            path = g_strndup(eq + 1, comma - eq - 1);
        } else {
            path = g_strdup(eq + 1);
            m->format = g_str_has_suffix(path, ".qcow2") ? VSB_SANDBOX_FORMAT_QCOW2
                                                         : VSB_SANDBOX_FORMAT_RAW;
        }
        if (!path[0]) {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                        "no image file given");
            return NULL;
        }
        m->source = absolute_host_path(path);
        break;
    }
    case VSB_SANDBOX_MOUNT_HOST_BIND: {
        /* As for images, only a trailing ",driver=WORD" is an option. */
        const char *comma = strrchr(eq + 1, ',');
        g_autofree char *path = NULL;
        if (comma && g_str_has_prefix(comma, ",driver=")) {
            int d = vsb_sandbox_share_driver_from_string(comma + strlen(",driver="));
            if (d < 0) {
                g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                            "unknown share driver '%s' (expected 9p or virtiofs)",
                            comma + strlen(",driver="));
                return NULL;
            }
            m->driver = d;
            path = g_strndup(eq + 1, comma - eq - 1);
        } else {
            path = g_strdup(eq + 1);
        }
        m->source = absolute_host_path(path);
        break;
    }
    case VSB_SANDBOX_MOUNT_GUEST_BIND:
        if (!eq[1]) {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                        "no source directory given");
            return NULL;
        }
        m->source = g_strdup(eq + 1);
        break;
    case VSB_SANDBOX_MOUNT_LAST:
    default:
        g_assert_not_reached();
    }
    return g_steal_pointer(&m);
}

bool
vsb_sandbox_parse_include(const char *spec, char **guest, char **host, GError **error)
{
    const char *eq = strchr(spec, '=');
    g_autofree char *g = eq ? g_strndup(spec, eq - spec) : g_strdup(spec);
    g_autofree char *h = g_strdup(eq ? eq + 1 : spec);

    if (!g[0] || !h[0]) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "expected GUEST-PATH=HOST-PATH or PATH");
        return false;
    }
    *guest = g_steal_pointer(&g);
    *host = absolute_host_path(h);
    return true;
}

bool
vsb_sandbox_parse_env(const char *spec, char **name, char **value, GError **error)
{
    const char *eq = strchr(spec, '=');
    g_autofree char *n = NULL;

    if (!eq) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID, "expected KEY=VALUE");
        return false;
    }
    n = g_strndup(spec, eq - spec);
    if (!check_env_name(n, error))
        return false;
    *name = g_steal_pointer(&n);
    *value = g_strdup(eq + 1);
    return true;
}

bool
vsb_sandbox_parse_security(const char *spec, VsbSandboxSecurityMode *mode, char **label,
                           GError **error)
{
    g_auto(GStrv) parts = g_strsplit(spec, ",", -1);
    g_autofree char *lbl = NULL;
    int m = -1;

    for (size_t i = 0; parts[i]; i++) {
        int this = vsb_sandbox_security_mode_from_string(parts[i]);
        if (this >= 0) {
            if (m >= 0) {
                g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                            "more than one security mode ('%s' and '%s')",
                            vsb_sandbox_security_mode_to_string(m), parts[i]);
                return false;
            }
            m = this;
        } else if (g_str_has_prefix(parts[i], "label=")) {
            g_free(lbl);
            lbl = g_strdup(parts[i] + strlen("label="));
        } else if (lbl && !strchr(parts[i], '=') && parts[i][0] == 'c') {
            /* An MCS category list has commas of its own
             * (label=...:s0:c1,c2): the part continues the label. */
            char *joined = g_strconcat(lbl, ",", parts[i], NULL);
            g_free(lbl);
            lbl = joined;
        } else {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                        "unknown security option '%s' (expected dynamic, static, inherit, none "
                        "or label=LABEL)", parts[i]);
            return false;
        }
    }
    if (m < 0) {
        /* A label alone is what static means. */
        if (!lbl) {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                        "no security mode (expected dynamic, static, inherit or none)");
            return false;
        }
        m = VSB_SANDBOX_SECURITY_STATIC;
    }
    *mode = m;
    *label = g_steal_pointer(&lbl);
    return true;
}

bool
vsb_sandbox_config_add_disk_spec(VsbSandboxConfig *c, const char *spec, GError **error)
{
    const char *colon = strchr(spec, ':');
    const char *eq = colon ? strchr(colon + 1, '=') : NULL;
    const char *comma;
    g_autofree char *type = NULL;
    g_autofree char *tag = NULL;
    g_autofree char *path = NULL;
    g_autofree char *abs = NULL;
    VsbSandboxFormat format;

    if (!colon || !eq) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "expected TYPE:TAG=SOURCE[,format=FORMAT]");
        return false;
    }
    type = g_strndup(spec, colon - spec);
    tag = g_strndup(colon + 1, eq - colon - 1);
    comma = strrchr(eq + 1, ',');
    if (comma && g_str_has_prefix(comma, ",format=")) {
        int f = vsb_sandbox_format_from_string(comma + strlen(",format="));
        if (f < 0) {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                        "unknown disk format '%s' (expected raw or qcow2)",
                        comma + strlen(",format="));
            return false;
        }
        format = f;
        path = g_strndup(eq + 1, comma - eq - 1);
    } else {
        path = g_strdup(eq + 1);
        format = g_str_has_suffix(path, ".qcow2") ? VSB_SANDBOX_FORMAT_QCOW2
                                                  : VSB_SANDBOX_FORMAT_RAW;
    }
    if (!path[0]) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID, "no disk source given");
        return false;
    }
    abs = absolute_host_path(path);
    return vsb_sandbox_config_add_disk(c, type, tag, abs, format, error);
}

bool
vsb_sandbox_config_add_include_file(VsbSandboxConfig *c, const char *path, GError **error)
{
    g_autofree char *data = NULL;
    g_auto(GStrv) lines = NULL;

    if (!g_file_get_contents(path, &data, NULL, error))
        return false;
    lines = g_strsplit(data, "\n", -1);
    for (size_t i = 0; lines[i]; i++) {
        g_autofree char *guest = NULL;
        g_autofree char *host = NULL;
        char *line = g_strstrip(lines[i]);

        if (!line[0] || line[0] == '#')
            continue;
        if (!vsb_sandbox_parse_include(line, &guest, &host, error) ||
            !vsb_sandbox_config_add_include(c, guest, host, error)) {
            g_prefix_error(error, "%s line %zu: ", path, i + 1);
            return false;
        }
    }
    return true;
}
