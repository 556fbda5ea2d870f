/*
 * vsb-sandbox-builder-container.c: a sandbox as <domain type='lxc'>
 * for virt-sandbox's own LXC driver (libvirt-xml/README.md lists what
 * it accepts).
 *
 *   <os><init>        virt-sandbox-init, bound in from the host
 *                     (VSB_INIT_GUEST_BINARY), so any root works
 *   <features>        <privnet/>: a network namespace of its own
 *                     (loopback, and the -N interfaces)
 *   <seclabel>        from the security mode
 *   <devices>         the root (read-only host dir, or the config's
 *                     mount on /; none = the host's / read-only),
 *                     tmpfs on /tmp, /var/tmp, /run unless the config
 *                     mounts something there, init's config directory
 *                     and binary (read-only, below /run), the config's
 *                     mounts, one console for the stdio protocol,
 *                     one <interface> per -N (vsb-sandbox-builder-net.c)
 */
#include <config.h>

#include "vsb-sandbox-builder.h"
#include "vsb-init-config.h"
#include "vsb-sandbox-image.h"
#include "vsb-sandbox-private.h"

struct _VsbSandboxBuilderContainer {
    VsbSandboxBuilder parent;
};

G_DEFINE_TYPE(VsbSandboxBuilderContainer, vsb_sandbox_builder_container, VSB_SANDBOX_TYPE_BUILDER)

static GVirConfigDomainFilesys *
fs_new(GVirConfigDomainFilesysType type, const char *source, const char *target, bool readonly)
{
    GVirConfigDomainFilesys *fs = gvir_config_domain_filesys_new();

    gvir_config_domain_filesys_set_type(fs, type);
    gvir_config_domain_filesys_set_access_type(fs, GVIR_CONFIG_DOMAIN_FILESYS_ACCESS_PASSTHROUGH);
    if (type == GVIR_CONFIG_DOMAIN_FILESYS_FILE) {
        gvir_config_domain_filesys_set_driver_type(fs, GVIR_CONFIG_DOMAIN_FILESYS_DRIVER_LOOP);
        gvir_config_domain_filesys_set_driver_format(fs, GVIR_CONFIG_DOMAIN_DISK_FORMAT_RAW);
    }
    if (source)
        gvir_config_domain_filesys_set_source(fs, source);
    gvir_config_domain_filesys_set_target(fs, target);
    if (readonly)
        gvir_config_domain_filesys_set_readonly(fs, TRUE);
    return fs;
}

static void
add_fs(GVirConfigDomain *dom, GVirConfigDomainFilesys *fs)
{
    gvir_config_domain_add_device(dom, GVIR_CONFIG_DOMAIN_DEVICE(fs));
    g_object_unref(fs);
}

static GVirConfigDomainFilesys *
mount_fs(const VsbSandboxMount *m, const char *statedir, guint index, GError **error)
{
    GVirConfigDomainFilesys *fs = NULL;

    switch (m->type) {
    case VSB_SANDBOX_MOUNT_HOST_BIND: {
        g_autofree char *tmp = NULL;
        if (!m->source[0])
            tmp = vsb_sandbox_builder_temp_mount_dir(statedir, index);
        fs = fs_new(GVIR_CONFIG_DOMAIN_FILESYS_MOUNT, tmp ? tmp : m->source, m->target, false);
        break;
    }
    case VSB_SANDBOX_MOUNT_HOST_IMAGE: {
        /* The controller reads raw images only: a qcow2 one is the raw
         * view the context exports in the state directory. */
        g_autofree char *view = NULL;
        if (vsb_sandbox_image_needs_export(m))
            view = vsb_sandbox_image_export_path(statedir, index);
        fs = fs_new(GVIR_CONFIG_DOMAIN_FILESYS_FILE, view ? view : m->source, m->target, false);
        break;
    }
    case VSB_SANDBOX_MOUNT_GUEST_BIND:
        fs = fs_new(GVIR_CONFIG_DOMAIN_FILESYS_BIND, m->source, m->target, false);
        break;
    case VSB_SANDBOX_MOUNT_RAM:
        fs = fs_new(GVIR_CONFIG_DOMAIN_FILESYS_RAM, NULL, m->target, false);
        /* In bytes: the XML layer rounds up to KiB, the size stays exact
         * up to 2^64-1. */
        gvir_config_domain_filesys_set_ram_usage(fs, m->size);
        break;
    case VSB_SANDBOX_MOUNT_LAST:
    default:
        g_assert_not_reached();
    }
    return fs;
}

static bool
check_config(VsbSandboxConfig *c, GError **error)
{
    GPtrArray *mounts = vsb_sandbox_config_get_mounts(c);
    const char *vm_option = vsb_sandbox_config_vm_option_set(c);

    /* A container runs on the host's kernel, and its realtime clock is
     * the host's (time namespaces offset only the monotonic and boot
     * clocks). */
    if (vm_option) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_UNSUPPORTED,
                    "%s applies to KVM sandboxes only (-c qemu:///system or qemu:///session): "
                    "an LXC sandbox shares the host's kernel and realtime clock", vm_option);
        return false;
    }
    if (vsb_sandbox_config_get_disks(c)->len) {
        VsbSandboxDisk *d = g_ptr_array_index(vsb_sandbox_config_get_disks(c), 0);
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_UNSUPPORTED,
                    "disk '%s': LXC sandboxes take no disks (use -m host-image:DIR=IMAGE)",
                    d->tag);
        return false;
    }
    for (guint i = 0; i < mounts->len; i++) {
        VsbSandboxMount *m = g_ptr_array_index(mounts, i);
        /* init and its config live below /run: a share there would
         * make the controller create their mount points in it. */
        if (vsb_sandbox_path_is_under(m->target, VSB_INIT_GUEST_DIR) ||
            (g_str_equal(m->target, "/run") && m->type != VSB_SANDBOX_MOUNT_RAM)) {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                        "mount on %s: %s is reserved for virt-sandbox (/run can only be a "
                        "ram mount)", m->target, g_str_equal(m->target, "/run") ? "/run"
                        : VSB_INIT_GUEST_DIR);
            return false;
        }
    }
    return true;
}

/* One veth per -N: the controller sets its addresses and routes from
 * <ip>/<route>; init runs DHCP on those that have none and want it. */
static bool
add_interfaces(VsbSandboxBuilder *b, GVirConfigDomain *dom, VsbSandboxConfig *c,
               GError **error)
{
    g_autoptr(GPtrArray) specs = vsb_sandbox_builder_netspecs(c, error);

    if (!specs)
        return false;
    for (guint i = 0; i < specs->len; i++) {
        VsbNetspec *n = g_ptr_array_index(specs, i);

        for (guint j = 0; j < n->addresses->len; j++) {
            VsbNetspecAddress *a = g_ptr_array_index(n->addresses, j);
            /* libvirt's <ip> has no broadcast: the kernel's default it is. */
            if (a->broadcast) {
                g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_UNSUPPORTED,
                            "network '%s': address=%s/%u%%%s: an LXC sandbox's addresses "
                            "take no broadcast (drop %%%s)",
                            (const char *)g_ptr_array_index(vsb_sandbox_config_get_networks(c),
                                                            i),
                            a->address, a->prefix, a->broadcast, a->broadcast);
                return false;
            }
        }
        if (!vsb_sandbox_builder_add_net_device(b, dom, n, i, -1, error))
            return false;
    }
    return true;
}

static GVirConfigDomain *
container_construct(VsbSandboxBuilder *b, VsbSandboxConfig *c, const char *statedir,
                    GError **error)
{
    g_autoptr(GVirConfigDomain) dom = gvir_config_domain_new();
    g_autoptr(GVirConfigDomainOs) os = gvir_config_domain_os_new();
    g_autoptr(GVirConfigDomainSeclabel) sl = NULL;
    g_autoptr(GVirConfigDomainConsole) con = gvir_config_domain_console_new();
    g_autoptr(GVirConfigDomainChardevSourcePty) pty = gvir_config_domain_chardev_source_pty_new();
    g_autofree char *config_dir = g_build_filename(statedir, "config", NULL);
    const char *features[] = { "privnet", NULL };
    const VsbSandboxMount *root_mount = vsb_sandbox_config_get_root_mount(c);
    GPtrArray *mounts = vsb_sandbox_config_get_mounts(c);

    if (!check_config(c, error) || !(sl = vsb_sandbox_builder_seclabel(b, c, error)))
        return NULL;

    gvir_config_domain_set_virt_type(dom, GVIR_CONFIG_DOMAIN_VIRT_LXC);
    gvir_config_domain_set_name(dom, vsb_sandbox_config_get_name(c));
    if (vsb_sandbox_config_get_memory_kib(c))
        gvir_config_domain_set_memory(dom, vsb_sandbox_config_get_memory_kib(c));
    gvir_config_domain_os_set_os_type(os, GVIR_CONFIG_DOMAIN_OS_TYPE_EXE);
    gvir_config_domain_os_set_init(os, VSB_INIT_GUEST_BINARY);
    gvir_config_domain_set_os(dom, os);
    gvir_config_domain_set_features(dom, (GStrv)features);
    gvir_config_domain_set_seclabel(dom, sl);

    /* The root first: libvirt lists it first, people read it first. */
    if (root_mount) {
        guint idx = 0;
        while (g_ptr_array_index(mounts, idx) != root_mount)
            idx++;
        GVirConfigDomainFilesys *fs = mount_fs(root_mount, statedir, idx, error);
        if (!fs)
            return NULL;
        add_fs(dom, fs);
    } else if (vsb_sandbox_config_get_root(c)) {
        add_fs(dom, fs_new(GVIR_CONFIG_DOMAIN_FILESYS_MOUNT, vsb_sandbox_config_get_root(c),
                           "/", true));
    }
    for (size_t i = 0; vsb_sandbox_default_tmpfs[i]; i++) {
        const char *t = vsb_sandbox_default_tmpfs[i];
        bool replaced = false;
        for (guint j = 0; j < mounts->len && !replaced; j++)
            replaced = g_str_equal(((VsbSandboxMount *)g_ptr_array_index(mounts, j))->target, t);
        if (!replaced)
            add_fs(dom, fs_new(GVIR_CONFIG_DOMAIN_FILESYS_RAM, NULL, t, false));
    }
    add_fs(dom, fs_new(GVIR_CONFIG_DOMAIN_FILESYS_MOUNT, config_dir, VSB_INIT_GUEST_CONFIG_DIR,
                       true));
    add_fs(dom, fs_new(GVIR_CONFIG_DOMAIN_FILESYS_MOUNT, vsb_sandbox_builder_get_init_path(b),
                       VSB_INIT_GUEST_BINARY, true));
    for (guint i = 0; i < mounts->len; i++) {
        VsbSandboxMount *m = g_ptr_array_index(mounts, i);
        GVirConfigDomainFilesys *fs;
        if (m == root_mount)
            continue;
        if (!(fs = mount_fs(m, statedir, i, error)))
            return NULL;
        add_fs(dom, fs);
    }

    if (!add_interfaces(b, dom, c, error))
        return NULL;

    gvir_config_domain_chardev_set_source(GVIR_CONFIG_DOMAIN_CHARDEV(con),
                                          GVIR_CONFIG_DOMAIN_CHARDEV_SOURCE(pty));
    gvir_config_domain_add_device(dom, GVIR_CONFIG_DOMAIN_DEVICE(con));
    return g_steal_pointer(&dom);
}

/* DHCP only: the controller configures the rest (it has <ip>/<route>). */
static void
container_init_directives(VsbSandboxBuilder *b, VsbSandboxConfig *c, GString *out)
{
    vsb_sandbox_builder_net_directives(c, false, out);
}

static void
vsb_sandbox_builder_container_class_init(VsbSandboxBuilderContainerClass *klass)
{
    VSB_SANDBOX_BUILDER_CLASS(klass)->construct = container_construct;
    VSB_SANDBOX_BUILDER_CLASS(klass)->init_directives = container_init_directives;
}

static void
vsb_sandbox_builder_container_init(VsbSandboxBuilderContainer *b)
{
}

VsbSandboxBuilder *
vsb_sandbox_builder_container_new(void)
{
    return g_object_new(VSB_SANDBOX_TYPE_BUILDER_CONTAINER, NULL);
}
