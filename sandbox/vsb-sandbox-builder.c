/*
 * vsb-sandbox-builder.c: what every kind of sandbox has in common:
 * init's config, the state directory, the security label.
 */
#include <config.h>

#include "vsb-sandbox-builder.h"
#include "vsb-init-config.h"
#include "vsb-sandbox-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <selinux/selinux.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char *init_path;
    char *inherit_label;
    bool inherit_label_set;
    char *dynamic_label;    /* allocated for -s dynamic (vsb-sandbox-seclabel.h) */
    char *dynamic_imagelabel;
    GPtrArray *warnings;    /* NULL-terminated */
    GArray *net_kinds;      /* VsbNetspecSourceKind per -N, found by prepare; NULL before */
} VsbSandboxBuilderPrivate;

/* "@what @path: strerror(errno)" in G_FILE_ERROR; returns false. */
static bool
set_errno_error(GError **error, const char *what, const char *path)
{
    int errsv = errno;

    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errsv), "%s %s: %s", what, path,
                g_strerror(errsv));
    return false;
}

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE(VsbSandboxBuilder, vsb_sandbox_builder, G_TYPE_OBJECT)

static void
vsb_sandbox_builder_finalize(GObject *obj)
{
    VsbSandboxBuilderPrivate *priv =
        vsb_sandbox_builder_get_instance_private(VSB_SANDBOX_BUILDER(obj));

    g_free(priv->init_path);
    g_free(priv->inherit_label);
    g_free(priv->dynamic_label);
    g_free(priv->dynamic_imagelabel);
    g_ptr_array_unref(priv->warnings);
    if (priv->net_kinds)
        g_array_unref(priv->net_kinds);
    G_OBJECT_CLASS(vsb_sandbox_builder_parent_class)->finalize(obj);
}

static const char *
default_guest_config_dir(VsbSandboxBuilder *b)
{
    return VSB_INIT_GUEST_CONFIG_DIR;
}

static void
vsb_sandbox_builder_class_init(VsbSandboxBuilderClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = vsb_sandbox_builder_finalize;
    klass->guest_config_dir = default_guest_config_dir;
}

static void
vsb_sandbox_builder_init(VsbSandboxBuilder *b)
{
    VsbSandboxBuilderPrivate *priv = vsb_sandbox_builder_get_instance_private(b);

    priv->init_path = g_strdup(LIBEXECDIR "/virt-sandbox-init");
    priv->warnings = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(priv->warnings, NULL);
}

bool
vsb_sandbox_builder_close_stream(VsbSandboxBuilder *b, GVirDomain *dom, GVirStream *stream,
                                 bool interrupted)
{
    VsbSandboxBuilderClass *klass = VSB_SANDBOX_BUILDER_GET_CLASS(b);

    return klass->close_stream ? klass->close_stream(b, dom, stream, interrupted) : false;
}

const char *const *
vsb_sandbox_builder_get_warnings(VsbSandboxBuilder *b)
{
    VsbSandboxBuilderPrivate *priv = vsb_sandbox_builder_get_instance_private(b);

    return (const char *const *)priv->warnings->pdata;
}

void
vsb_sandbox_builder_add_warning(VsbSandboxBuilder *b, const char *fmt, ...)
{
    VsbSandboxBuilderPrivate *priv = vsb_sandbox_builder_get_instance_private(b);
    va_list ap;

    va_start(ap, fmt);
    g_ptr_array_insert(priv->warnings, priv->warnings->len - 1, g_strdup_vprintf(fmt, ap));
    va_end(ap);
}

bool
vsb_sandbox_builder_open_stream(VsbSandboxBuilder *b, GVirDomain *dom, GVirStream *stream,
                                GError **error)
{
    VsbSandboxBuilderClass *klass = VSB_SANDBOX_BUILDER_GET_CLASS(b);

    if (klass->open_stream)
        return klass->open_stream(b, dom, stream, error);
    return gvir_domain_open_console(dom, stream, NULL, 0, error);
}

VsbSandboxBuilder *
vsb_sandbox_builder_for_uri(const char *uri, GError **error)
{
    g_autofree char *scheme = g_uri_parse_scheme(uri ? uri : "");
    char *plus;

    if (!scheme) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "invalid connection URI '%s'", uri ? uri : "");
        return NULL;
    }
    /* "lxc+ssh" and friends: the driver is before the transport. */
    if ((plus = strchr(scheme, '+')))
        *plus = '\0';
    if (g_ascii_strcasecmp(scheme, "lxc") == 0)
        return vsb_sandbox_builder_container_new();
    if (g_ascii_strcasecmp(scheme, "qemu") == 0) {
        g_autoptr(GUri) u = g_uri_parse(uri, G_URI_FLAGS_NONE, NULL);
        VsbSandboxBuilder *b = vsb_sandbox_builder_kvm_new();
        vsb_sandbox_builder_kvm_set_session(VSB_SANDBOX_BUILDER_KVM(b),
                                            u && g_str_equal(g_uri_get_path(u), "/session"));
        return b;
    }
    g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_UNSUPPORTED,
                "cannot run sandboxes through '%s': only lxc and qemu URIs", uri);
    return NULL;
}

const char *
vsb_sandbox_builder_get_init_path(VsbSandboxBuilder *b)
{
    VsbSandboxBuilderPrivate *priv = vsb_sandbox_builder_get_instance_private(b);

    return priv->init_path;
}

void
vsb_sandbox_builder_set_init_path(VsbSandboxBuilder *b, const char *path)
{
    VsbSandboxBuilderPrivate *priv = vsb_sandbox_builder_get_instance_private(b);

    g_free(priv->init_path);
    priv->init_path = g_strdup(path);
}

void
vsb_sandbox_builder_set_inherit_label(VsbSandboxBuilder *b, const char *label)
{
    VsbSandboxBuilderPrivate *priv = vsb_sandbox_builder_get_instance_private(b);

    g_free(priv->inherit_label);
    priv->inherit_label = g_strdup(label);
    priv->inherit_label_set = label != NULL;
}

void
vsb_sandbox_builder_set_dynamic_label(VsbSandboxBuilder *b, const char *label,
                                      const char *imagelabel)
{
    VsbSandboxBuilderPrivate *priv = vsb_sandbox_builder_get_instance_private(b);

    g_free(priv->dynamic_label);
    g_free(priv->dynamic_imagelabel);
    priv->dynamic_label = g_strdup(label);
    priv->dynamic_imagelabel = g_strdup(imagelabel);
}

char *
vsb_sandbox_builder_temp_mount_dir(const char *statedir, guint index)
{
    g_autofree char *n = g_strdup_printf("%u", index);

    return g_build_filename(statedir, "mounts", n, NULL);
}

/* ------------------------------------------------------------------ */
/* init's config                                                       */

static void
append_field(GString *out, const char *s)
{
    g_string_append_c(out, ' ');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p > ' ' && *p < 0x7f && *p != '\\')
            g_string_append_c(out, *p);
        else
            g_string_append_printf(out, "\\x%02x", *p);
    }
}

static void G_GNUC_NULL_TERMINATED
directive(GString *out, const char *key, ...)
{
    va_list ap;
    const char *f;

    g_string_append(out, key);
    va_start(ap, key);
    while ((f = va_arg(ap, const char *)))
        append_field(out, f);
    va_end(ap);
    g_string_append_c(out, '\n');
}

void
vsb_sandbox_builder_append_directive(GString *out, const char *key, const char *const *fields)
{
    g_string_append(out, key);
    for (size_t i = 0; fields[i]; i++)
        append_field(out, fields[i]);
    g_string_append_c(out, '\n');
}

static bool
mount_replaces(VsbSandboxConfig *c, const char *target, VsbSandboxMountType *type)
{
    GPtrArray *mounts = vsb_sandbox_config_get_mounts(c);

    for (guint i = 0; i < mounts->len; i++) {
        VsbSandboxMount *m = g_ptr_array_index(mounts, i);
        if (g_str_equal(m->target, target)) {
            *type = m->type;
            return true;
        }
    }
    return false;
}

char *
vsb_sandbox_builder_init_config(VsbSandboxBuilder *b, VsbSandboxConfig *c)
{
    VsbSandboxBuilderClass *klass = VSB_SANDBOX_BUILDER_GET_CLASS(b);
    g_autoptr(GString) out = g_string_new(VSB_INIT_CONFIG_MAGIC " ");
    g_autofree char *uid = g_strdup_printf("%u", vsb_sandbox_config_get_uid(c));
    g_autofree char *gid = g_strdup_printf("%u", vsb_sandbox_config_get_gid(c));
    const char *guest_dir = klass->guest_config_dir(b);
    GArray *groups = vsb_sandbox_config_get_groups(c);
    GPtrArray *arr;
    const char *const *cmd = vsb_sandbox_config_get_command(c);

    g_string_append_printf(out, "%d\n", VSB_INIT_CONFIG_VERSION);
    directive(out, "debug", vsb_sandbox_config_get_debug(c) ? "1" : "0", NULL);
    directive(out, "uid", uid, NULL);
    directive(out, "gid", gid, NULL);
    g_string_append(out, "groups");
    for (guint i = 0; i < groups->len; i++)
        g_string_append_printf(out, " %u", g_array_index(groups, guint32, i));
    g_string_append_c(out, '\n');
    directive(out, "user", vsb_sandbox_config_get_username(c), NULL);
    directive(out, "home", vsb_sandbox_config_get_homedir(c), NULL);
    directive(out, "cwd", vsb_sandbox_config_get_cwd(c), NULL);
    directive(out, "privileged", vsb_sandbox_config_get_privileged(c) ? "1" : "0", NULL);

    arr = vsb_sandbox_config_get_env(c);
    for (guint i = 0; i < arr->len; i++) {
        VsbSandboxEnv *e = g_ptr_array_index(arr, i);
        g_autofree char *kv = g_strdup_printf("%s=%s", e->name, e->value);
        directive(out, "env", kv, NULL);
    }
    for (size_t i = 0; cmd && cmd[i]; i++) {
        /* Fields are never empty: an empty argument is "arg" alone. */
        if (cmd[i][0])
            directive(out, "arg", cmd[i], NULL);
        else
            g_string_append(out, "arg\n");
    }

    /* The kernel makes a tmpfs root-only (0755); /tmp and /var/tmp are
     * everyone's, other ram mounts the sandbox user's. */
    for (size_t i = 0; vsb_sandbox_default_tmpfs[i]; i++) {
        const char *t = vsb_sandbox_default_tmpfs[i];
        VsbSandboxMountType type;
        if (g_str_equal(t, "/run"))
            continue;
        if (!mount_replaces(c, t, &type) || type == VSB_SANDBOX_MOUNT_RAM)
            directive(out, "setattr", t, "1777", "0", "0", NULL);
    }
    arr = vsb_sandbox_config_get_mounts(c);
    for (guint i = 0; i < arr->len; i++) {
        VsbSandboxMount *m = g_ptr_array_index(arr, i);
        if (m->type == VSB_SANDBOX_MOUNT_RAM && !g_strv_contains(vsb_sandbox_default_tmpfs, m->target))
            directive(out, "setattr", m->target, "0755", uid, gid, NULL);
    }
    arr = vsb_sandbox_config_get_includes(c);
    for (guint i = 0; i < arr->len; i++) {
        VsbSandboxInclude *inc = g_ptr_array_index(arr, i);
        g_autofree char *n = g_strdup_printf("%u", i);
        g_autofree char *src = g_build_filename(guest_dir, VSB_INIT_INCLUDE_DIR, n, NULL);
        directive(out, "include", src, inc->guest, NULL);
    }
    if (klass->init_directives)
        klass->init_directives(b, c, out);
    return g_string_free(g_steal_pointer(&out), FALSE);
}

/* ------------------------------------------------------------------ */
/* The state directory                                                 */

static bool
copy_tree(const char *src, const char *dst, GError **error)
{
    struct stat st;

    if (lstat(src, &st) < 0) {
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
                    "Cannot read %s: %s", src, g_strerror(errno));
        return false;
    }
    if (S_ISLNK(st.st_mode)) {
        g_autofree char *target = g_file_read_link(src, error);
        if (!target)
            return false;
        if (symlink(target, dst) < 0) {
            g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
                        "Cannot create %s: %s", dst, g_strerror(errno));
            return false;
        }
        return true;
    }
    if (S_ISREG(st.st_mode)) {
        g_autoptr(GFile) from = g_file_new_for_path(src);
        g_autoptr(GFile) to = g_file_new_for_path(dst);
        return g_file_copy(from, to, G_FILE_COPY_NOFOLLOW_SYMLINKS, NULL, NULL, NULL, error);
    }
    if (S_ISDIR(st.st_mode)) {
        g_autoptr(GDir) dir = NULL;
        const char *name;

        if (g_mkdir(dst, st.st_mode & 07777) < 0) {
            g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
                        "Cannot create %s: %s", dst, g_strerror(errno));
            return false;
        }
        if (!(dir = g_dir_open(src, 0, error)))
            return false;
        while ((name = g_dir_read_name(dir))) {
            g_autofree char *s = g_build_filename(src, name, NULL);
            g_autofree char *d = g_build_filename(dst, name, NULL);
            if (!copy_tree(s, d, error))
                return false;
        }
        return true;
    }
    g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                "Cannot include %s: not a file, directory or symbolic link", src);
    return false;
}

static bool
make_dir(const char *path, mode_t mode, GError **error)
{
    if (g_mkdir(path, mode) < 0) {
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
                    "Cannot create %s: %s", path, g_strerror(errno));
        return false;
    }
    /* The umask must not narrow what the sandbox is meant to see. */
    if (chmod(path, mode) < 0) {
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
                    "Cannot set the mode of %s: %s", path, g_strerror(errno));
        return false;
    }
    return true;
}

/* Whether each -N source is a libvirt network or a host bridge, as
 * this host has them (construct is pure: it asks the builder). */
static bool
resolve_networks(VsbSandboxBuilder *b, VsbSandboxConfig *c, GError **error)
{
    VsbSandboxBuilderPrivate *priv = vsb_sandbox_builder_get_instance_private(b);
    g_autoptr(GPtrArray) specs = vsb_sandbox_builder_netspecs(c, error);

    if (!specs)
        return false;
    if (priv->net_kinds)
        g_array_unref(priv->net_kinds);
    priv->net_kinds = g_array_new(FALSE, FALSE, sizeof(VsbNetspecSourceKind));
    for (guint i = 0; i < specs->len; i++) {
        VsbNetspecSourceKind k = vsb_netspec_resolve(g_ptr_array_index(specs, i));
        g_array_append_val(priv->net_kinds, k);
    }
    return true;
}

bool
vsb_sandbox_builder_prepare(VsbSandboxBuilder *b, VsbSandboxConfig *c, const char *statedir,
                            GError **error)
{
    g_autofree char *parent = g_path_get_dirname(statedir);
    g_autofree char *config_dir = g_build_filename(statedir, "config", NULL);
    g_autofree char *include_dir = g_build_filename(config_dir, VSB_INIT_INCLUDE_DIR, NULL);
    g_autofree char *init_conf = g_build_filename(config_dir, VSB_INIT_CONFIG_FILE, NULL);
    g_autofree char *mounts_dir = g_build_filename(statedir, "mounts", NULL);
    g_autofree char *text = NULL;
    VsbSandboxBuilderClass *klass = VSB_SANDBOX_BUILDER_GET_CLASS(b);
    GPtrArray *arr;

    if (g_mkdir_with_parents(parent, 0755) < 0) {
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
                    "Cannot create %s: %s", parent, g_strerror(errno));
        return false;
    }
    if (g_mkdir(statedir, 0700) < 0) {
        int errsv = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errsv),
                    "Cannot create the state directory %s: %s%s", statedir, g_strerror(errsv),
                    errsv == EEXIST ? " (is a sandbox of that name running?)" : "");
        return false;
    }
    if (!make_dir(config_dir, 0755, error) || !make_dir(include_dir, 0755, error))
        return false;
    text = vsb_sandbox_builder_init_config(b, c);
    if (!g_file_set_contents_full(init_conf, text, -1, G_FILE_SET_CONTENTS_NONE, 0644, error))
        return false;

    arr = vsb_sandbox_config_get_includes(c);
    for (guint i = 0; i < arr->len; i++) {
        VsbSandboxInclude *inc = g_ptr_array_index(arr, i);
        g_autofree char *n = g_strdup_printf("%u", i);
        g_autofree char *dst = g_build_filename(include_dir, n, NULL);
        if (!copy_tree(inc->host, dst, error)) {
            g_prefix_error(error, "Include %s: ", inc->guest);
            return false;
        }
    }

    arr = vsb_sandbox_config_get_mounts(c);
    for (guint i = 0; i < arr->len; i++) {
        VsbSandboxMount *m = g_ptr_array_index(arr, i);
        g_autofree char *dir = NULL;

        if (m->type != VSB_SANDBOX_MOUNT_HOST_BIND || m->source[0])
            continue;
        dir = vsb_sandbox_builder_temp_mount_dir(statedir, i);
        if ((!g_file_test(mounts_dir, G_FILE_TEST_IS_DIR) && !make_dir(mounts_dir, 0755, error)) ||
            !make_dir(dir, 0755, error))
            return false;
        if (chown(dir, vsb_sandbox_config_get_uid(c), vsb_sandbox_config_get_gid(c)) < 0) {
            g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
                        "Cannot give %s to uid %u: %s", dir, vsb_sandbox_config_get_uid(c),
                        g_strerror(errno));
            return false;
        }
    }
    if (!resolve_networks(b, c, error) ||
        (klass->prepare_host && !klass->prepare_host(b, c, statedir, error)))
        return false;
    return true;
}

VsbNetspecSourceKind
vsb_sandbox_builder_net_kind(VsbSandboxBuilder *b, guint index, const VsbNetspec *n)
{
    VsbSandboxBuilderPrivate *priv = vsb_sandbox_builder_get_instance_private(b);

    if (priv->net_kinds && index < priv->net_kinds->len)
        return g_array_index(priv->net_kinds, VsbNetspecSourceKind, index);
    return n->kind == VSB_NETSPEC_SOURCE_NAME ? VSB_NETSPEC_SOURCE_NETWORK : n->kind;
}

GVirConfigDomain *
vsb_sandbox_builder_construct(VsbSandboxBuilder *b, VsbSandboxConfig *config,
                              const char *statedir, GError **error)
{
    VsbSandboxBuilderClass *klass = VSB_SANDBOX_BUILDER_GET_CLASS(b);
    GVirConfigDomain *dom;

    if (!vsb_sandbox_config_validate(config, error))
        return NULL;
    dom = klass->construct(b, config, statedir, error);
    if (!dom)
        g_prefix_error(error, "Sandbox %s: ", vsb_sandbox_config_get_name(config));
    return dom;
}

/* libvirt-gconfig has no setter for type='none'. */
static GVirConfigDomainSeclabel *
seclabel_none(GError **error)
{
    return gvir_config_domain_seclabel_new_from_xml("<seclabel type='none'/>", error);
}

GVirConfigDomainSeclabel *
vsb_sandbox_builder_seclabel(VsbSandboxBuilder *b, VsbSandboxConfig *config, GError **error)
{
    VsbSandboxBuilderPrivate *priv = vsb_sandbox_builder_get_instance_private(b);
    g_autoptr(GVirConfigDomainSeclabel) sl = NULL;
    const char *label = vsb_sandbox_config_get_security_label(config);
    g_autofree char *inherited = NULL;

    switch (vsb_sandbox_config_get_security_mode(config)) {
    case VSB_SANDBOX_SECURITY_DYNAMIC:
        if (priv->dynamic_label) {
            /* As libvirt shows a running dynamic domain; the driver
             * runs init with <label>.  libvirt-gconfig has no setter
             * for <imagelabel>. */
            g_autofree char *base = label ? g_markup_printf_escaped("<baselabel>%s</baselabel>",
                                                                    label)
                                          : g_strdup("");
            g_autofree char *labels = g_markup_printf_escaped(
                "<label>%s</label><imagelabel>%s</imagelabel>", priv->dynamic_label,
                priv->dynamic_imagelabel ? priv->dynamic_imagelabel : priv->dynamic_label);
            g_autofree char *xml = g_strdup_printf(
                "<seclabel type='dynamic' model='selinux' relabel='yes'>%s%s</seclabel>", base,
                labels);
            sl = gvir_config_domain_seclabel_new_from_xml(xml, error);
            break;
        }
        sl = gvir_config_domain_seclabel_new();
        gvir_config_domain_seclabel_set_type(sl, GVIR_CONFIG_DOMAIN_SECLABEL_DYNAMIC);
        gvir_config_domain_seclabel_set_model(sl, "selinux");
        /* Without a base label the driver picks its own default. */
        if (label)
            gvir_config_domain_seclabel_set_baselabel(sl, label);
        break;
    case VSB_SANDBOX_SECURITY_STATIC:
        sl = gvir_config_domain_seclabel_new();
        gvir_config_domain_seclabel_set_type(sl, GVIR_CONFIG_DOMAIN_SECLABEL_STATIC);
        gvir_config_domain_seclabel_set_model(sl, "selinux");
        gvir_config_domain_seclabel_set_label(sl, label);
        break;
    case VSB_SANDBOX_SECURITY_INHERIT:
        if (priv->inherit_label_set) {
            inherited = g_strdup(priv->inherit_label);
        } else if (is_selinux_enabled() > 0) {
            char *con = NULL;
            if (getcon(&con) < 0) {
                g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
                            "Cannot get the current SELinux label to inherit: %s",
                            g_strerror(errno));
                return NULL;
            }
            inherited = g_strdup(con);
            freecon(con);
        }
        /* No SELinux: nothing to inherit, the sandbox runs unlabelled
         * just as its parent does. */
        if (inherited && inherited[0]) {
            sl = gvir_config_domain_seclabel_new();
            gvir_config_domain_seclabel_set_type(sl, GVIR_CONFIG_DOMAIN_SECLABEL_STATIC);
            gvir_config_domain_seclabel_set_model(sl, "selinux");
            gvir_config_domain_seclabel_set_label(sl, inherited);
        } else {
            sl = seclabel_none(error);
        }
        break;
    case VSB_SANDBOX_SECURITY_NONE:
        sl = seclabel_none(error);
        break;
    case VSB_SANDBOX_SECURITY_LAST:
    default:
        g_assert_not_reached();
    }
    return g_steal_pointer(&sl);
}

/* rm -rf that stays on @dev: a share that is still mounted (its
 * domain not quite gone) keeps its contents.  @path is for messages. */
static bool
remove_at(int parent, const char *name, const char *path, dev_t dev, GError **error)
{
    struct stat st;

    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT)
            return true;
        return set_errno_error(error, "Cannot stat", path);
    }
    if (S_ISDIR(st.st_mode)) {
        int fd;
        DIR *d;
        struct dirent *de;
        bool ok = true;

        if (st.st_dev != dev) {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_FAILED,
                        "Cannot remove %s: another file system is mounted on it", path);
            return false;
        }
        fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || !(d = fdopendir(fd))) {
            int errsv = errno;
            if (fd >= 0)
                close(fd);
            errno = errsv;
            return set_errno_error(error, "Cannot open", path);
        }
        while (ok && (de = readdir(d))) {
            g_autofree char *sub = NULL;
            if (g_str_equal(de->d_name, ".") || g_str_equal(de->d_name, ".."))
                continue;
            sub = g_build_filename(path, de->d_name, NULL);
            ok = remove_at(dirfd(d), de->d_name, sub, dev, error);
        }
        closedir(d);
        if (!ok)
            return false;
        if (unlinkat(parent, name, AT_REMOVEDIR) < 0)
            return set_errno_error(error, "Cannot remove", path);
        return true;
    }
    if (unlinkat(parent, name, 0) < 0 && errno != ENOENT)
        return set_errno_error(error, "Cannot remove", path);
    return true;
}

bool
vsb_sandbox_builder_cleanup(VsbSandboxBuilder *b, const char *statedir, GError **error)
{
    g_autofree char *parent = g_path_get_dirname(statedir);
    g_autofree char *base = g_path_get_basename(statedir);
    struct stat st;
    int fd;
    bool ok;

    if (lstat(statedir, &st) < 0) {
        if (errno == ENOENT)
            return true;
        return set_errno_error(error, "Cannot stat", statedir);
    }
    fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return set_errno_error(error, "Cannot open", parent);
    ok = remove_at(fd, base, statedir, st.st_dev, error);
    close(fd);
    return ok;
}
