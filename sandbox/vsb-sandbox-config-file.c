/*
 * vsb-sandbox-config-file.c: a sandbox config as a file (GKeyFile).
 *
 *   [sandbox]        name, root, command (a string list), privileged,
 *                    shell, debug, memory (KiB)
 *   [identity]       uid, gid, groups (integer list), username, home, cwd
 *   [security]       mode (dynamic|static|inherit|none), label
 *   [vm]             kernver, kernpath, kmodpath, vcpus, clock-offset
 *                    (seconds): KVM sandboxes only
 *   [env]            NAME=VALUE, in order
 *   [mount.N]        type, target, source, size (bytes), format, driver
 *   [include.N]      guest, host
 *   [disk.N]         type, tag, source, format
 *   [network.N]      spec
 *
 * Numbered groups are read in the order they appear in the file, not
 * by number.  Missing keys keep the defaults of vsb_sandbox_config_new()
 * (the caller's identity, dynamic security).  Unknown groups and keys
 * are errors: a typo must not silently weaken a sandbox.
 */
#include <config.h>

#include "vsb-sandbox-config.h"

#include <string.h>

static const char *const sandbox_keys[] = {
    "name", "root", "command", "privileged", "shell", "debug", "memory", NULL
};
static const char *const identity_keys[] = {
    "uid", "gid", "groups", "username", "home", "cwd", NULL
};
static const char *const security_keys[] = { "mode", "label", NULL };
static const char *const vm_keys[] = {
    "kernver", "kernpath", "kmodpath", "vcpus", "clock-offset", NULL
};
static const char *const mount_keys[] = { "type", "target", "source", "size", "format", "driver",
                                          NULL };
static const char *const include_keys[] = { "guest", "host", NULL };
static const char *const disk_keys[] = { "type", "tag", "source", "format", NULL };
static const char *const network_keys[] = { "spec", NULL };

static void
save_vm(VsbSandboxConfig *c, GKeyFile *kf)
{
    gint64 offset;

    if (vsb_sandbox_config_get_kernel_version(c))
        g_key_file_set_string(kf, "vm", "kernver", vsb_sandbox_config_get_kernel_version(c));
    if (vsb_sandbox_config_get_kernel_path(c))
        g_key_file_set_string(kf, "vm", "kernpath", vsb_sandbox_config_get_kernel_path(c));
    if (vsb_sandbox_config_get_kmod_path(c))
        g_key_file_set_string(kf, "vm", "kmodpath", vsb_sandbox_config_get_kmod_path(c));
    if (vsb_sandbox_config_get_vcpus(c))
        g_key_file_set_uint64(kf, "vm", "vcpus", vsb_sandbox_config_get_vcpus(c));
    if (vsb_sandbox_config_get_clock_offset(c, &offset))
        g_key_file_set_int64(kf, "vm", "clock-offset", offset);
}

char *
vsb_sandbox_config_to_data(VsbSandboxConfig *c)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    const char *const *cmd = vsb_sandbox_config_get_command(c);
    GPtrArray *arr;
    GArray *groups = vsb_sandbox_config_get_groups(c);

    g_key_file_set_string(kf, "sandbox", "name", vsb_sandbox_config_get_name(c));
    if (vsb_sandbox_config_get_root(c))
        g_key_file_set_string(kf, "sandbox", "root", vsb_sandbox_config_get_root(c));
    if (cmd)
        g_key_file_set_string_list(kf, "sandbox", "command", cmd, g_strv_length((char **)cmd));
    g_key_file_set_boolean(kf, "sandbox", "privileged", vsb_sandbox_config_get_privileged(c));
    g_key_file_set_boolean(kf, "sandbox", "shell", vsb_sandbox_config_get_shell(c));
    g_key_file_set_boolean(kf, "sandbox", "debug", vsb_sandbox_config_get_debug(c));
    if (vsb_sandbox_config_get_memory_kib(c))
        g_key_file_set_uint64(kf, "sandbox", "memory", vsb_sandbox_config_get_memory_kib(c));

    g_key_file_set_uint64(kf, "identity", "uid", vsb_sandbox_config_get_uid(c));
    g_key_file_set_uint64(kf, "identity", "gid", vsb_sandbox_config_get_gid(c));
    if (groups->len) {
        g_autoptr(GString) s = g_string_new("");
        for (guint i = 0; i < groups->len; i++)
            g_string_append_printf(s, "%u;", g_array_index(groups, guint32, i));
        g_key_file_set_value(kf, "identity", "groups", s->str);
    }
    g_key_file_set_string(kf, "identity", "username", vsb_sandbox_config_get_username(c));
    g_key_file_set_string(kf, "identity", "home", vsb_sandbox_config_get_homedir(c));
    g_key_file_set_string(kf, "identity", "cwd", vsb_sandbox_config_get_cwd(c));

    g_key_file_set_string(kf, "security", "mode",
                          vsb_sandbox_security_mode_to_string(vsb_sandbox_config_get_security_mode(c)));
    if (vsb_sandbox_config_get_security_label(c))
        g_key_file_set_string(kf, "security", "label", vsb_sandbox_config_get_security_label(c));

    save_vm(c, kf);

    arr = vsb_sandbox_config_get_env(c);
    for (guint i = 0; i < arr->len; i++) {
        VsbSandboxEnv *e = g_ptr_array_index(arr, i);
        g_key_file_set_string(kf, "env", e->name, e->value);
    }
    arr = vsb_sandbox_config_get_mounts(c);
    for (guint i = 0; i < arr->len; i++) {
        VsbSandboxMount *m = g_ptr_array_index(arr, i);
        g_autofree char *grp = g_strdup_printf("mount.%u", i);
        g_key_file_set_string(kf, grp, "type", vsb_sandbox_mount_type_to_string(m->type));
        g_key_file_set_string(kf, grp, "target", m->target);
        if (m->source)
            g_key_file_set_string(kf, grp, "source", m->source);
        if (m->type == VSB_SANDBOX_MOUNT_RAM)
            g_key_file_set_uint64(kf, grp, "size", m->size);
        if (m->type == VSB_SANDBOX_MOUNT_HOST_IMAGE)
            g_key_file_set_string(kf, grp, "format", vsb_sandbox_format_to_string(m->format));
        if (m->driver != VSB_SANDBOX_SHARE_9P)
            g_key_file_set_string(kf, grp, "driver", vsb_sandbox_share_driver_to_string(m->driver));
    }
    arr = vsb_sandbox_config_get_includes(c);
    for (guint i = 0; i < arr->len; i++) {
        VsbSandboxInclude *inc = g_ptr_array_index(arr, i);
        g_autofree char *grp = g_strdup_printf("include.%u", i);
        g_key_file_set_string(kf, grp, "guest", inc->guest);
        g_key_file_set_string(kf, grp, "host", inc->host);
    }
    arr = vsb_sandbox_config_get_disks(c);
    for (guint i = 0; i < arr->len; i++) {
        VsbSandboxDisk *d = g_ptr_array_index(arr, i);
        g_autofree char *grp = g_strdup_printf("disk.%u", i);
        g_key_file_set_string(kf, grp, "type", d->type);
        g_key_file_set_string(kf, grp, "tag", d->tag);
        g_key_file_set_string(kf, grp, "source", d->source);
        g_key_file_set_string(kf, grp, "format", vsb_sandbox_format_to_string(d->format));
    }
    arr = vsb_sandbox_config_get_networks(c);
    for (guint i = 0; i < arr->len; i++) {
        g_autofree char *grp = g_strdup_printf("network.%u", i);
        g_key_file_set_string(kf, grp, "spec", g_ptr_array_index(arr, i));
    }
    return g_key_file_to_data(kf, NULL, NULL);
}

bool
vsb_sandbox_config_save(VsbSandboxConfig *c, const char *path, GError **error)
{
    g_autofree char *data = vsb_sandbox_config_to_data(c);

    return g_file_set_contents_full(path, data, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

/* ------------------------------------------------------------------ */

static bool
check_keys(GKeyFile *kf, const char *group, const char *const *allowed, GError **error)
{
    g_auto(GStrv) keys = g_key_file_get_keys(kf, group, NULL, NULL);

    for (size_t i = 0; keys && keys[i]; i++) {
        if (!g_strv_contains(allowed, keys[i])) {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                        "unknown key '%s' in [%s]", keys[i], group);
            return false;
        }
    }
    return true;
}

/* Optional string: NULL when absent, false on a real error. */
static bool
get_opt_string(GKeyFile *kf, const char *group, const char *key, char **out, GError **error)
{
    g_autoptr(GError) err = NULL;

    *out = g_key_file_get_string(kf, group, key, &err);
    if (!*out && !g_error_matches(err, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND) &&
        !g_error_matches(err, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_GROUP_NOT_FOUND)) {
        g_propagate_prefixed_error(error, g_steal_pointer(&err), "[%s] %s: ", group, key);
        return false;
    }
    return true;
}

static bool
get_opt_bool(GKeyFile *kf, const char *group, const char *key, bool *out, GError **error)
{
    g_autoptr(GError) err = NULL;
    gboolean v;

    if (!g_key_file_has_key(kf, group, key, NULL))
        return true;
    v = g_key_file_get_boolean(kf, group, key, &err);
    if (err) {
        g_propagate_prefixed_error(error, g_steal_pointer(&err), "[%s] %s: ", group, key);
        return false;
    }
    *out = v;
    return true;
}

static bool
get_u64(GKeyFile *kf, const char *group, const char *key, guint64 max, guint64 *out,
        GError **error)
{
    g_autofree char *s = g_key_file_get_value(kf, group, key, NULL);
    g_autoptr(GError) err = NULL;

    if (!s)
        return true;
    if (!g_ascii_string_to_unsigned(g_strstrip(s), 10, 0, max, out, &err)) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "[%s] %s: %s", group, key, err->message);
        return false;
    }
    return true;
}

static bool
load_sandbox(VsbSandboxConfig *c, GKeyFile *kf, GError **error)
{
    g_autofree char *root = NULL;
    g_auto(GStrv) cmd = NULL;
    bool b;
    guint64 mem = 0;

    if (!check_keys(kf, "sandbox", sandbox_keys, error) ||
        !get_opt_string(kf, "sandbox", "root", &root, error))
        return false;
    if (root && !vsb_sandbox_config_set_root(c, root, error))
        return false;
    if (g_key_file_has_key(kf, "sandbox", "command", NULL)) {
        cmd = g_key_file_get_string_list(kf, "sandbox", "command", NULL, error);
        if (!cmd || !vsb_sandbox_config_set_command(c, (const char *const *)cmd, error)) {
            g_prefix_error(error, "[sandbox] command: ");
            return false;
        }
    }
    b = vsb_sandbox_config_get_privileged(c);
    if (!get_opt_bool(kf, "sandbox", "privileged", &b, error))
        return false;
    vsb_sandbox_config_set_privileged(c, b);
    b = vsb_sandbox_config_get_shell(c);
    if (!get_opt_bool(kf, "sandbox", "shell", &b, error))
        return false;
    vsb_sandbox_config_set_shell(c, b);
    b = vsb_sandbox_config_get_debug(c);
    if (!get_opt_bool(kf, "sandbox", "debug", &b, error))
        return false;
    vsb_sandbox_config_set_debug(c, b);
    if (!get_u64(kf, "sandbox", "memory", G_MAXUINT64 / 1024, &mem, error))
        return false;
    vsb_sandbox_config_set_memory_kib(c, mem);
    return true;
}

static bool
load_identity(VsbSandboxConfig *c, GKeyFile *kf, GError **error)
{
    guint64 uid = vsb_sandbox_config_get_uid(c);
    guint64 gid = vsb_sandbox_config_get_gid(c);
    g_autofree char *user = NULL;
    g_autofree char *home = NULL;
    g_autofree char *cwd = NULL;
    g_autofree char *groups = NULL;

    if (!g_key_file_has_group(kf, "identity"))
        return true;
    if (!check_keys(kf, "identity", identity_keys, error) ||
        !get_u64(kf, "identity", "uid", G_MAXUINT32 - 1, &uid, error) ||
        !get_u64(kf, "identity", "gid", G_MAXUINT32 - 1, &gid, error) ||
        !get_opt_string(kf, "identity", "username", &user, error) ||
        !get_opt_string(kf, "identity", "home", &home, error) ||
        !get_opt_string(kf, "identity", "cwd", &cwd, error))
        return false;
    if (!vsb_sandbox_config_set_identity(c, uid, gid,
                                         user ? user : vsb_sandbox_config_get_username(c),
                                         home ? home : vsb_sandbox_config_get_homedir(c),
                                         error) ||
        (cwd && !vsb_sandbox_config_set_cwd(c, cwd, error))) {
        g_prefix_error(error, "[identity]: ");
        return false;
    }
    groups = g_key_file_get_value(kf, "identity", "groups", NULL);
    if (groups) {
        g_auto(GStrv) parts = g_strsplit(groups, ";", -1);
        g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(guint32));
        for (size_t i = 0; parts[i]; i++) {
            guint64 v;
            char *p = g_strstrip(parts[i]);
            if (!p[0])
                continue;
            if (!g_ascii_string_to_unsigned(p, 10, 0, G_MAXUINT32 - 1, &v, NULL)) {
                g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                            "[identity] groups: invalid group id '%s'", p);
                return false;
            }
            guint32 v32 = (guint32)v;
            g_array_append_val(ids, v32);
        }
        vsb_sandbox_config_set_groups(c, (guint32 *)(void *)ids->data, ids->len);
    }
    return true;
}

static bool
load_vm(VsbSandboxConfig *c, GKeyFile *kf, GError **error)
{
    g_autofree char *kernver = NULL, *kernpath = NULL, *kmodpath = NULL, *offset = NULL;
    guint64 vcpus = 0;
    gint64 secs;

    if (!g_key_file_has_group(kf, "vm"))
        return true;
    if (!check_keys(kf, "vm", vm_keys, error) ||
        !get_opt_string(kf, "vm", "kernver", &kernver, error) ||
        !get_opt_string(kf, "vm", "kernpath", &kernpath, error) ||
        !get_opt_string(kf, "vm", "kmodpath", &kmodpath, error) ||
        !get_opt_string(kf, "vm", "clock-offset", &offset, error) ||
        !get_u64(kf, "vm", "vcpus", VSB_SANDBOX_MAX_VCPUS, &vcpus, error))
        return false;
    if ((kernver && !vsb_sandbox_config_set_kernel_version(c, kernver, error)) ||
        (kernpath && !vsb_sandbox_config_set_kernel_path(c, kernpath, error)) ||
        (kmodpath && !vsb_sandbox_config_set_kmod_path(c, kmodpath, error)) ||
        !vsb_sandbox_config_set_vcpus(c, vcpus, error) ||
        (offset && (!vsb_sandbox_parse_clock_offset(offset, &secs, error) ||
                    !vsb_sandbox_config_set_clock_offset(c, secs, error)))) {
        g_prefix_error(error, "[vm]: ");
        return false;
    }
    return true;
}

static bool
load_security(VsbSandboxConfig *c, GKeyFile *kf, GError **error)
{
    g_autofree char *mode = NULL;
    g_autofree char *label = NULL;
    int m;

    if (!g_key_file_has_group(kf, "security"))
        return true;
    if (!check_keys(kf, "security", security_keys, error) ||
        !get_opt_string(kf, "security", "mode", &mode, error) ||
        !get_opt_string(kf, "security", "label", &label, error))
        return false;
    m = mode ? vsb_sandbox_security_mode_from_string(mode) : VSB_SANDBOX_SECURITY_DYNAMIC;
    if (m < 0) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "[security] mode: unknown mode '%s' (expected dynamic, static, inherit "
                    "or none)", mode);
        return false;
    }
    if (!vsb_sandbox_config_set_security(c, m, label, error)) {
        g_prefix_error(error, "[security]: ");
        return false;
    }
    return true;
}

static bool
load_env(VsbSandboxConfig *c, GKeyFile *kf, GError **error)
{
    g_auto(GStrv) keys = g_key_file_get_keys(kf, "env", NULL, NULL);

    for (size_t i = 0; keys && keys[i]; i++) {
        g_autofree char *v = NULL;
        if (!get_opt_string(kf, "env", keys[i], &v, error))
            return false;
        if (!vsb_sandbox_config_set_env(c, keys[i], v, error)) {
            g_prefix_error(error, "[env]: ");
            return false;
        }
    }
    return true;
}

static bool
load_mount(VsbSandboxConfig *c, GKeyFile *kf, const char *grp, GError **error)
{
    g_autoptr(VsbSandboxMount) m = g_new0(VsbSandboxMount, 1);
    g_autofree char *type = NULL;
    g_autofree char *format = NULL;
    g_autofree char *driver = NULL;
    int t;

    if (!check_keys(kf, grp, mount_keys, error) ||
        !get_opt_string(kf, grp, "driver", &driver, error) ||
        !get_opt_string(kf, grp, "type", &type, error) ||
        !get_opt_string(kf, grp, "target", &m->target, error) ||
        !get_opt_string(kf, grp, "source", &m->source, error) ||
        !get_opt_string(kf, grp, "format", &format, error) ||
        !get_u64(kf, grp, "size", G_MAXUINT64, &m->size, error))
        return false;
    if ((t = vsb_sandbox_mount_type_from_string(type)) < 0) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "[%s] type: unknown mount type '%s'", grp, type ? type : "");
        return false;
    }
    m->type = t;
    if (format) {
        int f = vsb_sandbox_format_from_string(format);
        if (f < 0) {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                        "[%s] format: unknown format '%s'", grp, format);
            return false;
        }
        m->format = f;
    }
    if (driver) {
        int d = vsb_sandbox_share_driver_from_string(driver);
        if (d < 0) {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                        "[%s] driver: unknown share driver '%s'", grp, driver);
            return false;
        }
        m->driver = d;
    }
    if (!vsb_sandbox_config_add_mount(c, g_steal_pointer(&m), error)) {
        g_prefix_error(error, "[%s]: ", grp);
        return false;
    }
    return true;
}

static bool
load_include(VsbSandboxConfig *c, GKeyFile *kf, const char *grp, GError **error)
{
    g_autofree char *guest = NULL;
    g_autofree char *host = NULL;

    if (!check_keys(kf, grp, include_keys, error) ||
        !get_opt_string(kf, grp, "guest", &guest, error) ||
        !get_opt_string(kf, grp, "host", &host, error))
        return false;
    if (!vsb_sandbox_config_add_include(c, guest, host ? host : guest, error)) {
        g_prefix_error(error, "[%s]: ", grp);
        return false;
    }
    return true;
}

static bool
load_disk(VsbSandboxConfig *c, GKeyFile *kf, const char *grp, GError **error)
{
    g_autofree char *type = NULL;
    g_autofree char *tag = NULL;
    g_autofree char *source = NULL;
    g_autofree char *format = NULL;
    int f = VSB_SANDBOX_FORMAT_RAW;

    if (!check_keys(kf, grp, disk_keys, error) ||
        !get_opt_string(kf, grp, "type", &type, error) ||
        !get_opt_string(kf, grp, "tag", &tag, error) ||
        !get_opt_string(kf, grp, "source", &source, error) ||
        !get_opt_string(kf, grp, "format", &format, error))
        return false;
    if (format && (f = vsb_sandbox_format_from_string(format)) < 0) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "[%s] format: unknown format '%s'", grp, format);
        return false;
    }
    if (!vsb_sandbox_config_add_disk(c, type ? type : "file", tag ? tag : "", source, f, error)) {
        g_prefix_error(error, "[%s]: ", grp);
        return false;
    }
    return true;
}

static bool
load_network(VsbSandboxConfig *c, GKeyFile *kf, const char *grp, GError **error)
{
    g_autofree char *spec = NULL;

    if (!check_keys(kf, grp, network_keys, error) ||
        !get_opt_string(kf, grp, "spec", &spec, error))
        return false;
    if (!spec) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "[%s]: no spec", grp);
        return false;
    }
    vsb_sandbox_config_add_network(c, spec);
    return true;
}

static bool
numbered(const char *grp, const char *prefix)
{
    size_t n = strlen(prefix);

    if (strncmp(grp, prefix, n) != 0 || grp[n] != '.' || !grp[n + 1])
        return false;
    for (const char *p = grp + n + 1; *p; p++)
        if (!g_ascii_isdigit(*p))
            return false;
    return true;
}

VsbSandboxConfig *
vsb_sandbox_config_load_data(const char *data, GError **error)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(VsbSandboxConfig) c = NULL;
    g_autofree char *name = NULL;
    g_auto(GStrv) groups = NULL;

    if (!g_key_file_load_from_data(kf, data, -1, G_KEY_FILE_NONE, error))
        return NULL;
    if (!get_opt_string(kf, "sandbox", "name", &name, error))
        return NULL;
    if (!name) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "[sandbox] name: missing");
        return NULL;
    }
    if (!(c = vsb_sandbox_config_new(name, error)))
        return NULL;
    if (!load_sandbox(c, kf, error) || !load_identity(c, kf, error) ||
        !load_security(c, kf, error) || !load_vm(c, kf, error) || !load_env(c, kf, error))
        return NULL;
    groups = g_key_file_get_groups(kf, NULL);
    for (size_t i = 0; groups[i]; i++) {
        const char *g = groups[i];
        bool ok;

        if (g_str_equal(g, "sandbox") || g_str_equal(g, "identity") ||
            g_str_equal(g, "security") || g_str_equal(g, "vm") || g_str_equal(g, "env"))
            continue;
        if (numbered(g, "mount"))
            ok = load_mount(c, kf, g, error);
        else if (numbered(g, "include"))
            ok = load_include(c, kf, g, error);
        else if (numbered(g, "disk"))
            ok = load_disk(c, kf, g, error);
        else if (numbered(g, "network"))
            ok = load_network(c, kf, g, error);
        else {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                        "unknown group [%s]", g);
            ok = false;
        }
        if (!ok)
            return NULL;
    }
    return g_steal_pointer(&c);
}

VsbSandboxConfig *
vsb_sandbox_config_load(const char *path, GError **error)
{
    g_autofree char *data = NULL;
    VsbSandboxConfig *c;

    if (!g_file_get_contents(path, &data, NULL, error))
        return NULL;
    if (!(c = vsb_sandbox_config_load_data(data, error)))
        g_prefix_error(error, "%s: ", path);
    return c;
}
