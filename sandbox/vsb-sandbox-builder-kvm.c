/*
 * vsb-sandbox-builder-kvm.c: a sandbox as a libvirt QEMU domain
 * (issue 8): a lightweight guest booting the host's kernel straight
 * into virt-sandbox-init, with the host's / (or -r DIR) shared
 * read-only.
 *
 *   <os>        q35, direct PVH boot of the cached vmlinux with the
 *               cached initrd (vsb-sandbox-kvm.h); the command line
 *               carries VSB_KVM_CMDLINE_FLAG so that init knows it is
 *               a VM's PID 1 (sandbox/init/vsb-init-vm.c)
 *   <features>  <acpi/>: without it the guest cannot power off
 *   <cpu>       host-passthrough under KVM; "maximum" under TCG;
 *               --vcpus of them (default 1)
 *   <clock>     --clock-offset: offset 'variable', the guest's RTC (and
 *               so its realtime clock) that many seconds off the host's
 *   <seclabel>  DAC +0:+0 without relabelling: QEMU reads the host's /
 *               or -r DIR (9p passthrough) and the root-only state
 *               directory; none for qemu:///session, whose QEMU runs
 *               as the user.  With SELinux on, a second one for
 *               libvirt's sVirt (kvm_selinux_seclabel): -s dynamic
 *               on our policy's virt_sandbox_kvm_t where loaded
 *               (libvirt picks the categories), static as given
 *   <devices>   9p shares VSB_KVM_TAG_ROOT (/ or -r DIR, read-only),
 *               VSB_KVM_TAG_CONFIG (init's config directory) and one
 *               writable VSB_KVM_TAG_MOUNT<N> per host-bind mount
 *               (virtio-fs through virtiofsd with ,driver=virtiofs: the
 *               guest's RAM then shared memory, memfd), a
 *               virtio disk per host-image mount (serial
 *               VSB_KVM_TAG_MOUNT<N>, raw or qcow2 through QEMU's own
 *               driver) and per --disk (serial: its tag), the
 *               stdio protocol's virtio-serial port
 *               (VSB_KVM_STDIO_PORT: a UNIX socket that libvirt names
 *               and connects us to through virDomainOpenChannel, which
 *               takes nothing else for QEMU), the serial console into
 *               STATEDIR/console.log (with --debug, a log file that
 *               stays: LOCALSTATEDIR/log/virt-sandbox/NAME.console.log),
 *               no memory balloon, no USB
 *
 * ram, guest-bind and host-image mounts are init's work (mount
 * directives; a host-image is mounted as ext4 from
 * /dev/disk/by-tag/SERIAL, links that init makes, as udev would); a
 * mount on / is refused for now.  Each -N is a virtio NIC
 * (<interface type='network'|'bridge'>, vsb-sandbox-builder-net.c)
 * that init configures (DHCP or static, over rtnetlink).  --shell
 * needs nothing here: its terminal travels in the stdio protocol, over
 * the virtio-serial port as over an LXC sandbox's console.  A target
 * missing from the read-only root is made by init on an overlay of
 * its nearest parent (sandbox/init/vsb-init-setup.c).
 *
 * -r DIR replaces the host's / as the shared root, as DIR is an LXC
 * sandbox's read-only root: the program and its libraries come from
 * DIR, init and its modules from the initrd, so DIR needs neither;
 * init's /dev, /proc, /sys, /run, the private /tmp and /var/tmp and
 * the mounts go on top, their targets (and the home and working
 * directories, which init falls back from as in an LXC sandbox)
 * resolved in DIR.  prepare_host checks DIR (check_root) before
 * anything boots.
 *
 * Modules beyond the base set are loaded only when used: the command
 * line's VSB_KVM_ENV_LOAD lists the groups (disks, overlay, virtiofs,
 * net).
 *
 * prepare_host (before construct) picks the kernel, makes or finds the
 * cached vmlinux and initrd and chooses the accelerator; construct
 * stays pure, so tests can set those and compare XML.
 */
#include <config.h>

#include "vsb-sandbox-builder.h"
#include "vsb-sandbox-kvm.h"
#include "vsb-init-config.h"
#include "vsb-sandbox-private.h"
#include "vsb-sandbox-seclabel.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <selinux/selinux.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(GVirConfigObject, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GVirConfigDomainCpu, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GVirConfigDomainClock, g_object_unref)

/* Memory when the config says nothing: enough for the kernel, init and
 * a shell's worth of program; the guest's page cache needs no more. */
#define DEFAULT_MEMORY_KIB (512 * 1024)
/* Below this, Debian's kernel and its initrd do not come up. */
#define MIN_MEMORY_KIB (128 * 1024)
/* A virtio disk's serial: at most 20 bytes (virtio-blk's ID). */
#define SERIAL_MAX 20
/* Writable shares (host-bind). */
#define SHARE_RW_OPTS "trans=virtio,version=9p2000.L,msize=262144,cache=mmap"
/* What the kernel's hostname= takes as is (__NEW_UTS_LEN). */
#define HOSTNAME_MAX 64
#define HOSTNAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_"
/* How long the guest may take to power off after the program's end. */
#define POWEROFF_WAIT_MS 3000

struct _VsbSandboxBuilderKvm {
    VsbSandboxBuilder parent;

    char *cachedir;
    char *kernel_version;   /* NULL: the default choice */
    char *kernel;           /* the vmlinux QEMU boots */
    char *initrd;
    bool use_kvm;
    char *console_log;      /* NULL: STATEDIR/console.log, removed with it */
    bool load_overlay;      /* a mount target is missing from the host's / */
    bool session;           /* qemu:///session: QEMU runs as the user */
    bool selinux;           /* SELinux enabled: libvirt's sVirt labels QEMU */
    char *selinux_base;     /* our policy's KVM type where loaded, else NULL */
};

G_DEFINE_TYPE(VsbSandboxBuilderKvm, vsb_sandbox_builder_kvm, VSB_SANDBOX_TYPE_BUILDER)

static void
vsb_sandbox_builder_kvm_finalize(GObject *obj)
{
    VsbSandboxBuilderKvm *b = VSB_SANDBOX_BUILDER_KVM(obj);

    g_free(b->cachedir);
    g_free(b->kernel_version);
    g_free(b->kernel);
    g_free(b->initrd);
    g_free(b->console_log);
    g_free(b->selinux_base);
    G_OBJECT_CLASS(vsb_sandbox_builder_kvm_parent_class)->finalize(obj);
}

void
vsb_sandbox_builder_kvm_set_cachedir(VsbSandboxBuilderKvm *b, const char *dir)
{
    g_free(b->cachedir);
    b->cachedir = g_strdup(dir);
}

void
vsb_sandbox_builder_kvm_set_kernel_version(VsbSandboxBuilderKvm *b, const char *version)
{
    g_free(b->kernel_version);
    b->kernel_version = g_strdup(version);
}

void
vsb_sandbox_builder_kvm_set_boot(VsbSandboxBuilderKvm *b, const char *kernel, const char *initrd,
                                 bool use_kvm)
{
    g_free(b->kernel);
    g_free(b->initrd);
    b->kernel = g_strdup(kernel);
    b->initrd = g_strdup(initrd);
    b->use_kvm = use_kvm;
}

void
vsb_sandbox_builder_kvm_set_session(VsbSandboxBuilderKvm *b, bool session)
{
    b->session = session;
}

void
vsb_sandbox_builder_kvm_set_selinux(VsbSandboxBuilderKvm *b, bool enabled,
                                    const char *policy_base)
{
    b->selinux = enabled;
    g_free(b->selinux_base);
    b->selinux_base = g_strdup(policy_base);
}

/* The SELinux <seclabel> of the guest, for libvirt's sVirt (its QEMU
 * driver labels QEMU and the disk images; it allocates the categories
 * of a dynamic label itself, unique among its guests, so the MCS leases
 * of LXC sandboxes play no part here).  NULL with @error for a mode
 * that has no meaning for a guest. */
static char *
kvm_selinux_seclabel(VsbSandboxBuilderKvm *b, VsbSandboxConfig *c, GError **error)
{
    const char *label = vsb_sandbox_config_get_security_label(c);

    switch (vsb_sandbox_config_get_security_mode(c)) {
    case VSB_SANDBOX_SECURITY_DYNAMIC:
        /* The user's base, else our policy's type, else libvirt's
         * default (svirt_t). */
        if (!label)
            label = b->selinux_base;
        if (!label)
            return g_strdup("<seclabel type='dynamic' model='selinux' relabel='yes'/>");
        return g_markup_printf_escaped("<seclabel type='dynamic' model='selinux' relabel='yes'>"
                                       "<baselabel>%s</baselabel></seclabel>", label);
    case VSB_SANDBOX_SECURITY_STATIC:
        return g_markup_printf_escaped("<seclabel type='static' model='selinux' relabel='no'>"
                                       "<label>%s</label></seclabel>", label);
    case VSB_SANDBOX_SECURITY_NONE:
        return g_strdup("<seclabel type='none' model='selinux'/>");
    case VSB_SANDBOX_SECURITY_INHERIT:
    default:
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_UNSUPPORTED,
                    "-s inherit: a KVM sandbox's QEMU is started by libvirtd, not by "
                    "virt-sandbox, so it has no label of ours to inherit (use -s dynamic "
                    "or -s static,label=LABEL)");
        return NULL;
    }
}

static bool mount_replaces(VsbSandboxConfig *c, const char *target);

/* What the guest's init mounts on before it makes the shared root its
 * root (sandbox/init/vsb-init-vm.c): real directories of that
 * read-only root (init would follow a symbolic link in the initrd, not
 * in the root). */
static const char *const guest_mount_points[] = { "dev", "proc", "sys", "run", NULL };

/* Whether @path exists in the tree of @rootfd, resolved as the guest
 * resolves it: symbolic links and .. stay in that tree. */
static bool
exists_in_root(int rootfd, const char *path)
{
    struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT };
    int fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));

    if (fd < 0)
        return false;
    close(fd);
    return true;
}

/* Whether init can make the missing @target: it puts an overlay on the
 * nearest parent that exists (vsb-init-setup.c), never on /. */
static bool
parent_below_slash_exists(int rootfd, const char *target)
{
    g_autofree char *p = g_strdup(target);
    char *slash;

    while ((slash = strrchr(p, '/')) && slash != p) {
        *slash = '\0';
        if (exists_in_root(rootfd, p))
            return true;
    }
    return false;
}

/* The guest's root: the host's /, or -r DIR, which must be a directory
 * (as an LXC sandbox's controller checks it) holding
 * guest_mount_points.  What init mounts later (/tmp, /var/tmp, the
 * config's mounts) goes on its target in the root, or on one made on
 * an overlay of a parent (whose module is then loaded).  Checked
 * before anything boots: from the guest, an error would reach only
 * the console log.  The host's / has all these (a target right below
 * it that does not exist: init says so). */
static bool
check_root(VsbSandboxBuilderKvm *b, VsbSandboxConfig *c, GError **error)
{
    const char *dir = vsb_sandbox_config_get_root(c);
    GPtrArray *mounts = vsb_sandbox_config_get_mounts(c);
    g_autoptr(GPtrArray) targets = g_ptr_array_new();
    int rootfd = open(dir ? dir : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    bool ok = false;

    if (rootfd < 0) {
        int errsv = errno;
        if (errsv == ENOTDIR)
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                        "Root directory %s (-r) is not a directory", dir);
        else
            g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errsv),
                        "Root directory %s (-r): %s", dir ? dir : "/", g_strerror(errsv));
        return false;
    }
    for (size_t i = 0; dir && guest_mount_points[i]; i++) {
        struct stat st;
        if (fstatat(rootfd, guest_mount_points[i], &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            !S_ISDIR(st.st_mode)) {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                        "Root directory %s (-r) has no directory /%s: a KVM sandbox mounts "
                        "its own /dev, /proc, /sys and /run on its read-only root", dir,
                        guest_mount_points[i]);
            goto out;
        }
    }
    for (size_t i = 0; vsb_sandbox_default_tmpfs[i]; i++)
        if (!g_str_equal(vsb_sandbox_default_tmpfs[i], "/run") &&
            !mount_replaces(c, vsb_sandbox_default_tmpfs[i]))
            g_ptr_array_add(targets, (char *)vsb_sandbox_default_tmpfs[i]);
    for (guint i = 0; i < mounts->len; i++)
        g_ptr_array_add(targets, ((VsbSandboxMount *)g_ptr_array_index(mounts, i))->target);
    for (guint i = 0; i < targets->len; i++) {
        const char *t = g_ptr_array_index(targets, i);
        if (exists_in_root(rootfd, t))
            continue;
        if (dir && !parent_below_slash_exists(rootfd, t)) {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                        "Root directory %s (-r) has no %s, and nothing can be made right "
                        "below its / (read-only): create it there, or mount below a "
                        "directory that exists", dir, t);
            goto out;
        }
        b->load_overlay = true;
    }
    ok = true;
out:
    close(rootfd);
    return ok;
}

static bool
kvm_prepare_host(VsbSandboxBuilder *builder, VsbSandboxConfig *c, const char *statedir,
                 GError **error)
{
    VsbSandboxBuilderKvm *b = VSB_SANDBOX_BUILDER_KVM(builder);
    g_auto(VsbKvmKernel) k = { 0 };
    g_autofree char *why = NULL;

    if (!check_root(b, c, error))
        return false;
    b->selinux = is_selinux_enabled() > 0;
    g_clear_pointer(&b->selinux_base, g_free);
    if (b->selinux && security_check_context(VSB_SECLABEL_POLICY_KVM_PROCESS) == 0)
        b->selinux_base = g_strdup(VSB_SECLABEL_POLICY_KVM_PROCESS);
    if (b->kernel)
        return true;
    if (!b->cachedir)
        b->cachedir = vsb_kvm_default_cachedir();
    if (!vsb_kvm_kernel_choose(vsb_sandbox_config_get_kernel_path(c),
                               vsb_sandbox_config_get_kmod_path(c),
                               vsb_sandbox_config_get_kernel_version(c)
                                   ? vsb_sandbox_config_get_kernel_version(c)
                                   : b->kernel_version, &k, error))
        return false;
    if (!(b->kernel = vsb_kvm_vmlinux_cached(b->cachedir, &k, error)))
        return false;
    if (!(b->initrd = vsb_kvm_initrd_cached(b->cachedir, &k,
                                            vsb_sandbox_builder_get_init_path(builder), error))) {
        g_prefix_error(error, "Cannot make the initrd for kernel %s: ", k.version);
        return false;
    }
    /* --debug: the kernel's messages are wanted, and the state
     * directory goes at the end: the console log goes elsewhere. */
    if (vsb_sandbox_config_get_debug(c)) {
        g_autofree char *logdir = geteuid() == 0
            ? g_build_filename(LOCALSTATEDIR, "log", "virt-sandbox", NULL)
            : g_build_filename(g_get_user_cache_dir(), "virt-sandbox", "log", NULL);
        g_autofree char *name = g_strdup_printf("%s.console.log",
                                                vsb_sandbox_config_get_name(c));
        if (g_mkdir_with_parents(logdir, 0700) < 0) {
            g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
                        "Cannot create %s: %s", logdir, g_strerror(errno));
            return false;
        }
        b->console_log = g_build_filename(logdir, name, NULL);
        /* QEMU appends: one run's log per file. */
        if (unlink(b->console_log) < 0 && errno != ENOENT) {
            g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
                        "Cannot remove %s: %s", b->console_log, g_strerror(errno));
            return false;
        }
        vsb_sandbox_builder_add_warning(builder, "the guest's console (kernel messages) goes "
                                        "to %s", b->console_log);
    }
    b->use_kvm = vsb_kvm_accel_probe(b->cachedir, b->kernel, &why);
    if (!b->use_kvm)
        vsb_sandbox_builder_add_warning(builder, "KVM is not usable (%s): the sandbox runs "
                                        "under TCG emulation, much slower", why);
    return true;
}

static bool
mount_replaces(VsbSandboxConfig *c, const char *target)
{
    GPtrArray *mounts = vsb_sandbox_config_get_mounts(c);

    for (guint i = 0; i < mounts->len; i++)
        if (g_str_equal(((VsbSandboxMount *)g_ptr_array_index(mounts, i))->target, target))
            return true;
    return false;
}

/* What init mounts in a VM: /tmp and /var/tmp (init mounts /run, which
 * holds the config share, /dev/pts and /dev/shm itself), then the
 * config's mounts in order: ram as tmpfs, host-bind as 9p share
 * VSB_KVM_TAG_MOUNT N, guest-bind as a bind mount. */
static void
kvm_init_directives(VsbSandboxBuilder *b, VsbSandboxConfig *c, GString *out)
{
    GPtrArray *mounts = vsb_sandbox_config_get_mounts(c);

    for (size_t i = 0; vsb_sandbox_default_tmpfs[i]; i++) {
        const char *t = vsb_sandbox_default_tmpfs[i];
        if (g_str_equal(t, "/run") || mount_replaces(c, t))
            continue;
        vsb_sandbox_builder_append_directive(out, "mount",
                                             (const char *const[]){ "tmpfs", "tmpfs", t,
                                                                    "nosuid,nodev", "mode=1777",
                                                                    NULL });
    }
    for (guint i = 0; i < mounts->len; i++) {
        VsbSandboxMount *m = g_ptr_array_index(mounts, i);
        g_autofree char *tag = g_strdup_printf(VSB_KVM_TAG_MOUNT "%u", i);
        g_autofree char *size = g_strdup_printf("size=%" G_GUINT64_FORMAT, m->size);

        switch (m->type) {
        case VSB_SANDBOX_MOUNT_RAM:
            vsb_sandbox_builder_append_directive(out, "mount",
                                                 (const char *const[]){ "tmpfs", "tmpfs",
                                                                        m->target, "nosuid,nodev",
                                                                        size, NULL });
            break;
        case VSB_SANDBOX_MOUNT_HOST_BIND:
            /* cache=mmap: no caching in the guest, so the host sees
             * writes at once, and mmap still works.  virtiofs: the
             * device's cache mode (virtiofsd's) decides. */
            if (m->driver == VSB_SANDBOX_SHARE_VIRTIOFS)
                vsb_sandbox_builder_append_directive(out, "mount",
                                                     (const char *const[]){ "virtiofs", tag,
                                                                            m->target, "-", "-",
                                                                            NULL });
            else
                vsb_sandbox_builder_append_directive(out, "mount",
                                                     (const char *const[]){ "9p", tag, m->target,
                                                                            "-", SHARE_RW_OPTS,
                                                                            NULL });
            break;
        case VSB_SANDBOX_MOUNT_GUEST_BIND:
            vsb_sandbox_builder_append_directive(out, "mount",
                                                 (const char *const[]){ "none", m->source,
                                                                        m->target, "bind", "-",
                                                                        NULL });
            break;
        case VSB_SANDBOX_MOUNT_HOST_IMAGE: {
            g_autofree char *dev = g_strdup_printf(VSB_KVM_DISK_BY_TAG "/%s", tag);
            vsb_sandbox_builder_append_directive(out, "mount",
                                                 (const char *const[]){ "ext4", dev, m->target,
                                                                        "-", "-", NULL });
            break;
        }
        case VSB_SANDBOX_MOUNT_LAST:
        default:
            break;
        }
    }
    vsb_sandbox_builder_append_directive(out, "channel",
                                         (const char *const[]){ "/dev/virtio-ports/"
                                                                VSB_KVM_STDIO_PORT, NULL });
    vsb_sandbox_builder_append_directive(out, "poweroff", (const char *const[]){ "1", NULL });
    /* No controller in a VM: init sets up every interface itself. */
    vsb_sandbox_builder_net_directives(c, true, out);
}

static bool
check_config(VsbSandboxConfig *c, GError **error)
{
    GPtrArray *mounts = vsb_sandbox_config_get_mounts(c);
    const char *what = NULL;

    for (guint i = 0; i < mounts->len; i++) {
        VsbSandboxMount *m = g_ptr_array_index(mounts, i);
        if (g_str_equal(m->target, "/")) {
            what = "a mount on / (the root is the host's / or -r DIR)";
        } else if (g_str_equal(m->target, "/run") ||
                   vsb_sandbox_path_is_under(m->target, VSB_INIT_GUEST_DIR)) {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                        "mount on %s: /run holds virt-sandbox's own files in a KVM sandbox",
                        m->target);
            return false;
        }
        if (what) {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_UNSUPPORTED,
                        "mount on %s: KVM sandboxes do not support %s yet", m->target, what);
            return false;
        }
    }
    for (guint i = 0; i < vsb_sandbox_config_get_disks(c)->len; i++) {
        VsbSandboxDisk *d = g_ptr_array_index(vsb_sandbox_config_get_disks(c), i);
        /* The tag travels as the disk's serial; host-image mounts use
         * VSB_KVM_TAG_MOUNT N. */
        if (strlen(d->tag) > SERIAL_MAX || g_str_has_prefix(d->tag, VSB_KVM_TAG_MOUNT)) {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                        "disk '%s': a KVM sandbox's disk tag has at most %d characters and "
                        "does not start with '%s'", d->tag, SERIAL_MAX, VSB_KVM_TAG_MOUNT);
            return false;
        }
    }
    if (vsb_sandbox_config_get_memory_kib(c) &&
        vsb_sandbox_config_get_memory_kib(c) < MIN_MEMORY_KIB) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "--memory %.1f MiB: a KVM sandbox needs at least %d MiB",
                    vsb_sandbox_config_get_memory_kib(c) / 1024.0, MIN_MEMORY_KIB / 1024);
        return false;
    }
    return true;
}

static bool
add_xml_device(GVirConfigDomain *dom, GType type, const char *xml, GError **error)
{
    g_autoptr(GVirConfigObject) dev = NULL;

    if (type == GVIR_CONFIG_TYPE_DOMAIN_FILESYS)
        dev = GVIR_CONFIG_OBJECT(gvir_config_domain_filesys_new_from_xml(xml, error));
    else if (type == GVIR_CONFIG_TYPE_DOMAIN_CHANNEL)
        dev = GVIR_CONFIG_OBJECT(gvir_config_domain_channel_new_from_xml(xml, error));
    else if (type == GVIR_CONFIG_TYPE_DOMAIN_SERIAL)
        dev = GVIR_CONFIG_OBJECT(gvir_config_domain_serial_new_from_xml(xml, error));
    else if (type == GVIR_CONFIG_TYPE_DOMAIN_DISK)
        dev = GVIR_CONFIG_OBJECT(gvir_config_domain_disk_new_from_xml(xml, error));
    else
        dev = GVIR_CONFIG_OBJECT(gvir_config_domain_memballoon_new_from_xml(xml, error));
    if (!dev)
        return false;
    gvir_config_domain_add_device(dom, GVIR_CONFIG_DOMAIN_DEVICE(dev));
    return true;
}

/* Devices sit on the root bus as integrated endpoints: libvirt would
 * otherwise add a PCIe root port per device, each one more bridge for
 * the firmware and the kernel to walk (slowly, under TCG). */
#define PCI_ADDRESS "<address type='pci' domain='0' bus='0' slot='%u' function='0'/>"
enum { SLOT_ROOT = 2, SLOT_CONFIG, SLOT_SERIAL, SLOT_FIRST_MOUNT,
       /* 0x1f is the chipset's (LPC, SATA, SMBus) */
       SLOT_LAST = 0x1e };

/* No USB controller (libvirt adds one by default); the virtio-serial
 * controller on the root bus.  libvirt-gconfig has classes for USB
 * controllers only, and its constructor refuses other types: the
 * generic one wraps any <controller> (the class is no more than the
 * GType of a device node here). */
static bool
add_xml_controller(GVirConfigDomain *dom, const char *xml, GError **error)
{
    g_autoptr(GVirConfigObject) dev = gvir_config_object_new_from_xml(
        GVIR_CONFIG_TYPE_DOMAIN_CONTROLLER_USB, "controller", NULL, xml, error);

    if (!dev)
        return false;
    gvir_config_domain_add_device(dom, GVIR_CONFIG_DOMAIN_DEVICE(dev));
    return true;
}

/* 9p, passthrough (files keep their owners); multidevs=remap: the
 * host's / spans many file systems, whose inode numbers would clash. */
static char *
share_xml(const char *dir, const char *tag, bool readonly, guint slot)
{
    g_autofree char *d = g_markup_escape_text(dir, -1);

    return g_strdup_printf("<filesystem type='mount' accessmode='passthrough' multidevs='remap'>"
                           "<driver type='path'/><source dir='%s'/><target dir='%s'/>%s"
                           PCI_ADDRESS "</filesystem>", d, tag, readonly ? "<readonly/>" : "",
                           slot);
}

/* virtio-fs through QEMU's virtiofsd, which libvirt starts (and finds
 * through QEMU's vhost-user descriptors).  sandbox=chroot: the default
 * (namespace) needs namespaces that a containerized host may not give
 * (QEMU 7.2's virtiofsd then fails to start).  cache=none: as 9p's
 * cache=mmap, the host sees the guest's writes at once.  Writable
 * only: libvirt refuses <readonly/> for virtiofs. */
static char *
virtiofs_xml(const char *dir, const char *tag, guint slot)
{
    g_autofree char *d = g_markup_escape_text(dir, -1);

    return g_strdup_printf("<filesystem type='mount' accessmode='passthrough'>"
                           "<driver type='virtiofs' queue='1024'/>"
                           "<binary><cache mode='none'/><sandbox mode='chroot'/></binary>"
                           "<source dir='%s'/><target dir='%s'/>" PCI_ADDRESS "</filesystem>",
                           d, tag, slot);
}

/* A virtio disk whose serial the guest finds it by; its own PCI slot,
 * its name vdX in order (libvirt wants one, the guest ignores it). */
static char *
disk_xml(const char *source, VsbSandboxFormat format, const char *serial, guint index,
         guint slot)
{
    g_autofree char *src = g_markup_escape_text(source, -1);

    return g_strdup_printf("<disk type='file' device='disk'>"
                           "<driver name='qemu' type='%s'/><source file='%s'/>"
                           "<target dev='vd%c' bus='virtio'/><serial>%s</serial>"
                           PCI_ADDRESS "</disk>", vsb_sandbox_format_to_string(format), src,
                           'a' + index, serial, slot);
}

static bool
next_slot(guint *slot, const char *what, GError **error)
{
    if (*slot > SLOT_LAST) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_UNSUPPORTED,
                    "%s: at most %d host-bind or host-image mounts, disks and networks in a "
                    "KVM sandbox",
                    what, SLOT_LAST - SLOT_FIRST_MOUNT + 1);
        return false;
    }
    (*slot)++;
    return true;
}

/* After the fixed devices: one writable 9p share per host-bind, one
 * disk per host-image, then the --disk ones. */
static bool
add_mount_devices(GVirConfigDomain *dom, VsbSandboxConfig *c, const char *statedir,
                  guint *next, GError **error)
{
    GPtrArray *mounts = vsb_sandbox_config_get_mounts(c);
    GPtrArray *disks = vsb_sandbox_config_get_disks(c);
    guint slot = SLOT_FIRST_MOUNT, ndisks = 0;

    for (guint i = 0; i < mounts->len; i++) {
        VsbSandboxMount *m = g_ptr_array_index(mounts, i);
        g_autofree char *tmp = NULL, *tag = NULL, *xml = NULL, *what = NULL;
        GType type = GVIR_CONFIG_TYPE_DOMAIN_FILESYS;

        if (m->type != VSB_SANDBOX_MOUNT_HOST_BIND && m->type != VSB_SANDBOX_MOUNT_HOST_IMAGE)
            continue;
        what = g_strdup_printf("mount on %s", m->target);
        if (!next_slot(&slot, what, error))
            return false;
        tag = g_strdup_printf(VSB_KVM_TAG_MOUNT "%u", i);
        if (m->type == VSB_SANDBOX_MOUNT_HOST_IMAGE) {
            xml = disk_xml(m->source, m->format, tag, ndisks++, slot - 1);
            type = GVIR_CONFIG_TYPE_DOMAIN_DISK;
        } else {
            if (!m->source[0])
                tmp = vsb_sandbox_builder_temp_mount_dir(statedir, i);
            xml = m->driver == VSB_SANDBOX_SHARE_VIRTIOFS
                ? virtiofs_xml(tmp ? tmp : m->source, tag, slot - 1)
                : share_xml(tmp ? tmp : m->source, tag, false, slot - 1);
        }
        if (!add_xml_device(dom, type, xml, error))
            return false;
    }
    for (guint i = 0; i < disks->len; i++) {
        VsbSandboxDisk *d = g_ptr_array_index(disks, i);
        g_autofree char *xml = NULL, *what = g_strdup_printf("disk '%s'", d->tag);

        if (!next_slot(&slot, what, error))
            return false;
        xml = disk_xml(d->source, d->format, d->tag, ndisks++, slot - 1);
        if (!add_xml_device(dom, GVIR_CONFIG_TYPE_DOMAIN_DISK, xml, error))
            return false;
    }
    *next = slot;
    return true;
}

/* One virtio NIC per -N after the mounts and disks, in increasing
 * slots: the guest's kernel probes them in that order and names them
 * eth0, eth1, ..., the names init's directives use. */
static bool
add_net_devices(VsbSandboxBuilder *b, GVirConfigDomain *dom, VsbSandboxConfig *c, guint slot,
                GError **error)
{
    g_autoptr(GPtrArray) specs = vsb_sandbox_builder_netspecs(c, error);

    if (!specs)
        return false;
    for (guint i = 0; i < specs->len; i++) {
        VsbNetspec *n = g_ptr_array_index(specs, i);
        g_autofree char *what = g_strdup_printf("network '%s'",
            (const char *)g_ptr_array_index(vsb_sandbox_config_get_networks(c), i));

        if (!next_slot(&slot, what, error) ||
            !vsb_sandbox_builder_add_net_device(b, dom, n, i, (int)slot - 1, error))
            return false;
    }
    return true;
}

/* Whether the guest needs the disk modules (virtio-blk, ext4). */
static bool
has_disks(VsbSandboxConfig *c)
{
    GPtrArray *mounts = vsb_sandbox_config_get_mounts(c);

    for (guint i = 0; i < mounts->len; i++)
        if (((VsbSandboxMount *)g_ptr_array_index(mounts, i))->type ==
            VSB_SANDBOX_MOUNT_HOST_IMAGE)
            return true;
    return vsb_sandbox_config_get_disks(c)->len > 0;
}

static bool
has_virtiofs(VsbSandboxConfig *c)
{
    GPtrArray *mounts = vsb_sandbox_config_get_mounts(c);

    for (guint i = 0; i < mounts->len; i++)
        if (((VsbSandboxMount *)g_ptr_array_index(mounts, i))->driver ==
            VSB_SANDBOX_SHARE_VIRTIOFS)
            return true;
    return false;
}

/* What libvirt-gconfig has no setter for (<memoryBacking>, a second
 * <seclabel>): the domain parses back from its XML with @fragment added
 * at its end.  Takes @dom; NULL with @error. */
static GVirConfigDomain *
with_xml_appended(GVirConfigDomain *dom_in, const char *fragment, GError **error)
{
    g_autoptr(GVirConfigDomain) dom = dom_in;
    g_autofree char *xml = gvir_config_object_to_xml(GVIR_CONFIG_OBJECT(dom));
    g_autofree char *head = NULL, *joined = NULL;
    const char *end = g_strrstr(xml, "</domain>");

    if (!end) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_FAILED,
                    "no </domain> in the domain's XML");
        return NULL;
    }
    head = g_strndup(xml, end - xml);
    joined = g_strconcat(head, fragment, end, NULL);
    return gvir_config_domain_new_from_xml(joined, error);
}

/* The module groups init loads (VSB_KVM_ENV_LOAD), or NULL for none. */
static char *
module_groups(VsbSandboxConfig *c, bool load_overlay)
{
    g_autoptr(GPtrArray) groups = g_ptr_array_new_null_terminated(4, NULL, TRUE);

    if (has_disks(c))
        g_ptr_array_add(groups, (char *)VSB_KVM_MODULES_DISK);
    if (load_overlay)
        g_ptr_array_add(groups, (char *)VSB_KVM_MODULES_OVERLAY);
    if (has_virtiofs(c))
        g_ptr_array_add(groups, (char *)VSB_KVM_MODULES_VIRTIOFS);
    if (vsb_sandbox_config_get_networks(c)->len)
        g_ptr_array_add(groups, (char *)VSB_KVM_MODULES_NET);
    return groups->len ? g_strjoinv(",", (char **)groups->pdata) : NULL;
}

static GVirConfigDomain *
kvm_construct(VsbSandboxBuilder *builder, VsbSandboxConfig *c, const char *statedir,
              GError **error)
{
    VsbSandboxBuilderKvm *b = VSB_SANDBOX_BUILDER_KVM(builder);
    g_autoptr(GVirConfigDomain) dom = gvir_config_domain_new();
    g_autoptr(GVirConfigDomainOs) os = gvir_config_domain_os_new();
    g_autoptr(GVirConfigDomainSeclabel) sl = NULL;
    g_autoptr(GVirConfigDomainCpu) cpu = NULL;
    g_autofree char *config_dir = g_build_filename(statedir, "config", NULL);
    g_autofree char *console_log = b->console_log ? g_strdup(b->console_log)
                                                  : g_build_filename(statedir, "console.log",
                                                                     NULL);
    g_autofree char *console_xml = NULL, *root_xml = NULL, *config_xml = NULL;
    g_autofree char *selinux_xml = NULL;
    g_autofree char *serial_xml = NULL;
    g_autoptr(GString) cmdline = g_string_new(NULL);
    g_autofree char *groups = NULL;
    const char *features[] = { "acpi", NULL };
    guint64 mem = vsb_sandbox_config_get_memory_kib(c);
    gint64 offset;
    guint slot;

    if (!check_config(c, error))
        return NULL;
    if (!b->kernel || !b->initrd) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_FAILED,
                    "no kernel and initrd chosen (prepare the sandbox first)");
        return NULL;
    }
    /* With SELinux off on the host, libvirt has no selinux model to
     * label with: as for LXC sandboxes, the label is moot then. */
    if (b->selinux && !(selinux_xml = kvm_selinux_seclabel(b, c, error)))
        return NULL;
    /* A session daemon has no DAC driver (its QEMU is the user's own
     * process): no label at all there. */
    if (!b->session &&
        !(sl = gvir_config_domain_seclabel_new_from_xml(
              "<seclabel type='static' model='dac' relabel='no'><label>+0:+0</label></seclabel>",
              error)))
        return NULL;

    gvir_config_domain_set_virt_type(dom, b->use_kvm ? GVIR_CONFIG_DOMAIN_VIRT_KVM
                                                     : GVIR_CONFIG_DOMAIN_VIRT_QEMU);
    gvir_config_domain_set_name(dom, vsb_sandbox_config_get_name(c));
    gvir_config_domain_set_memory(dom, mem ? mem : DEFAULT_MEMORY_KIB);
    gvir_config_domain_set_vcpus(dom, vsb_sandbox_config_get_vcpus(c)
                                          ? vsb_sandbox_config_get_vcpus(c) : 1);
    if (vsb_sandbox_config_get_clock_offset(c, &offset)) {
        /* basis utc: the offset is from the host's UTC, whatever the
         * host's timezone. */
        g_autofree char *xml = g_strdup_printf("<clock offset='variable' basis='utc' "
                                               "adjustment='%" G_GINT64_FORMAT "'/>", offset);
        g_autoptr(GVirConfigDomainClock) clock = gvir_config_domain_clock_new_from_xml(xml,
                                                                                     error);
        if (!clock)
            return NULL;
        gvir_config_domain_set_clock(dom, clock);
    }
    gvir_config_domain_set_lifecycle(dom, GVIR_CONFIG_DOMAIN_LIFECYCLE_ON_POWEROFF,
                                     GVIR_CONFIG_DOMAIN_LIFECYCLE_DESTROY);
    gvir_config_domain_set_lifecycle(dom, GVIR_CONFIG_DOMAIN_LIFECYCLE_ON_REBOOT,
                                     GVIR_CONFIG_DOMAIN_LIFECYCLE_DESTROY);
    gvir_config_domain_set_lifecycle(dom, GVIR_CONFIG_DOMAIN_LIFECYCLE_ON_CRASH,
                                     GVIR_CONFIG_DOMAIN_LIFECYCLE_DESTROY);

    /* panic=-1: a panic reboots, which ends the domain; mitigations
     * cost much under TCG and protect nothing inside a throw-away
     * guest; random.trust_cpu: getrandom() would wait for entropy. */
    g_string_append(cmdline, "console=ttyS0 panic=-1 rdinit=/init mitigations=off "
                             "random.trust_cpu=on 8250.nr_uarts=1 i8042.noaux i8042.nokbd "
                             VSB_KVM_CMDLINE_FLAG);
    g_string_append(cmdline, vsb_sandbox_config_get_debug(c) ? " loglevel=7" : " quiet loglevel=1");
    /* The sandbox's name as its hostname, as in an LXC sandbox (the
     * kernel's hostname= parameter, Linux 5.19+): only a name that is
     * one word of a host name's characters goes on the command line. */
    if (strlen(vsb_sandbox_config_get_name(c)) <= HOSTNAME_MAX &&
        strspn(vsb_sandbox_config_get_name(c), HOSTNAME_CHARS) ==
            strlen(vsb_sandbox_config_get_name(c)))
        g_string_append_printf(cmdline, " hostname=%s", vsb_sandbox_config_get_name(c));
    if ((groups = module_groups(c, b->load_overlay)))
        g_string_append_printf(cmdline, " " VSB_KVM_ENV_LOAD "=%s", groups);
    gvir_config_domain_os_set_os_type(os, GVIR_CONFIG_DOMAIN_OS_TYPE_HVM);
    gvir_config_domain_os_set_arch(os, "x86_64");
    gvir_config_domain_os_set_machine(os, "q35");
    gvir_config_domain_os_set_kernel(os, b->kernel);
    gvir_config_domain_os_set_ramdisk(os, b->initrd);
    gvir_config_domain_os_set_cmdline(os, cmdline->str);
    gvir_config_domain_set_os(dom, os);
    gvir_config_domain_set_features(dom, (GStrv)features);
    if (!(cpu = gvir_config_domain_cpu_new_from_xml(b->use_kvm ? "<cpu mode='host-passthrough'/>"
                                                                : "<cpu mode='maximum'/>",
                                                    error)))
        return NULL;
    gvir_config_domain_set_cpu(dom, cpu);
    if (sl)
        gvir_config_domain_set_seclabel(dom, sl);

    /* -r DIR as the root in place of the host's /, read-only: the
     * program's files come from there, init's from the initrd. */
    root_xml = share_xml(vsb_sandbox_config_get_root(c) ? vsb_sandbox_config_get_root(c) : "/",
                         VSB_KVM_TAG_ROOT, true, SLOT_ROOT);
    config_xml = share_xml(config_dir, VSB_KVM_TAG_CONFIG, true, SLOT_CONFIG);
    {
        g_autofree char *log = g_markup_escape_text(console_log, -1);
        console_xml = g_strdup_printf("<serial type='file'><source path='%s'/></serial>", log);
    }
    serial_xml = g_strdup_printf("<controller type='virtio-serial' index='0'>" PCI_ADDRESS
                                 "</controller>", SLOT_SERIAL);
    if (!add_xml_device(dom, GVIR_CONFIG_TYPE_DOMAIN_FILESYS, root_xml, error) ||
        !add_xml_device(dom, GVIR_CONFIG_TYPE_DOMAIN_FILESYS, config_xml, error) ||
        !add_xml_device(dom, GVIR_CONFIG_TYPE_DOMAIN_CHANNEL,
                        "<channel type='unix'><source mode='bind'/><target type='virtio' name='"
                        VSB_KVM_STDIO_PORT "'/></channel>", error) ||
        !add_xml_device(dom, GVIR_CONFIG_TYPE_DOMAIN_SERIAL, console_xml, error) ||
        !add_mount_devices(dom, c, statedir, &slot, error) ||
        !add_net_devices(builder, dom, c, slot, error) ||
        !add_xml_device(dom, GVIR_CONFIG_TYPE_DOMAIN_MEMBALLOON, "<memballoon model='none'/>",
                        error) ||
        !add_xml_controller(dom, "<controller type='usb' model='none'/>", error) ||
        !add_xml_controller(dom, serial_xml, error))
        return NULL;
    /* (indented as gvir_config_object_to_xml() does the rest) */
    if (has_virtiofs(c) &&
        !(dom = with_xml_appended(g_steal_pointer(&dom),
                                  "  <memoryBacking>\n    <source type='memfd'/>\n"
                                  "    <access mode='shared'/>\n  </memoryBacking>\n", error)))
        return NULL;
    /* libvirt takes one <seclabel> per model: DAC's above, SELinux's. */
    if (selinux_xml) {
        g_autofree char *indented = g_strdup_printf("  %s\n", selinux_xml);
        if (!(dom = with_xml_appended(g_steal_pointer(&dom), indented, error)))
            return NULL;
    }
    return g_steal_pointer(&dom);
}

/* The stdio protocol runs over the virtio-serial port, not a console
 * (the console is the kernel's serial log). */
static bool
kvm_open_stream(VsbSandboxBuilder *builder, GVirDomain *dom, GVirStream *stream, GError **error)
{
    virDomainPtr d = NULL;
    virStreamPtr s = NULL;
    int r;

    g_object_get(dom, "handle", &d, NULL);
    g_object_get(stream, "handle", &s, NULL);
    r = virDomainOpenChannel(d, VSB_KVM_STDIO_PORT, s, 0);
    if (r < 0)
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_FAILED,
                    "Cannot open the channel %s: %s", VSB_KVM_STDIO_PORT,
                    virGetLastErrorMessage());
    virDomainFree(d);
    virStreamFree(s);
    return r == 0;
}

/* After EXIT_ACK the guest powers itself off at once.  Let it, rather
 * than destroy it: a destroy (SIGTERM to QEMU) with the port's socket
 * open resets the socket, and libvirt-gobject, which finishes a stream
 * when it is freed, then complains (g_critical) on our stderr.  Once
 * the guest is off, libvirt ends the domain by itself (on_poweroff
 * destroy); waiting for that too would add libvirt's reaping of QEMU
 * (polled every 200 ms) to every run for nothing.  Bounded: a guest
 * that failed otherwise may never power off, and is destroyed. */
static bool
kvm_close_stream(VsbSandboxBuilder *builder, GVirDomain *dom, GVirStream *stream,
                 bool interrupted)
{
    virDomainPtr d = NULL;
    gint64 deadline = g_get_monotonic_time() + POWEROFF_WAIT_MS * 1000;
    bool off = false;

    /* Interrupted, the program still runs: no poweroff to wait for. */
    if (!dom || interrupted)
        return false;
    g_object_get(dom, "handle", &d, NULL);
    for (;;) {
        int state, reason;
        /* An error: the domain is gone already. */
        if (virDomainGetState(d, &state, &reason, 0) < 0 || state == VIR_DOMAIN_SHUTOFF ||
            state == VIR_DOMAIN_SHUTDOWN || state == VIR_DOMAIN_CRASHED ||
            (state == VIR_DOMAIN_PAUSED && reason == VIR_DOMAIN_PAUSED_SHUTTING_DOWN)) {
            off = true;
            break;
        }
        if (g_get_monotonic_time() > deadline)
            break;
        g_usleep(10 * 1000);
    }
    virDomainFree(d);
    return off;
}

static void
vsb_sandbox_builder_kvm_class_init(VsbSandboxBuilderKvmClass *klass)
{
    VsbSandboxBuilderClass *bk = VSB_SANDBOX_BUILDER_CLASS(klass);

    G_OBJECT_CLASS(klass)->finalize = vsb_sandbox_builder_kvm_finalize;
    bk->construct = kvm_construct;
    bk->init_directives = kvm_init_directives;
    bk->prepare_host = kvm_prepare_host;
    bk->open_stream = kvm_open_stream;
    bk->close_stream = kvm_close_stream;
}

static void
vsb_sandbox_builder_kvm_init(VsbSandboxBuilderKvm *b)
{
}

VsbSandboxBuilder *
vsb_sandbox_builder_kvm_new(void)
{
    return g_object_new(VSB_SANDBOX_TYPE_BUILDER_KVM, NULL);
}
