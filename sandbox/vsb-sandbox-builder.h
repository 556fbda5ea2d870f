/*
 * vsb-sandbox-builder.h: from a sandbox config to a libvirt domain.
 *
 * A builder knows one kind of sandbox: VsbSandboxBuilderContainer
 * makes <domain type='lxc'> for our driver; a machine builder (KVM,
 * issue 8) implements the same class.  The work has three steps, all
 * driven by the context (vsb-sandbox-context.h):
 *
 *   prepare    on the host, in the sandbox's private state directory:
 *              init's config (config/init.conf, see vsb-init-config.h),
 *              copies of the included files (config/include/N), the
 *              temporary directories of empty host-binds (mounts/N);
 *   construct  the domain definition, which refers to that directory;
 *   cleanup    after the domain is gone: remove the state directory.
 *
 * construct is pure (no file system access) so that tests compare its
 * output with expected XML.
 */
#pragma once

#include <glib-object.h>
#include <libvirt-gconfig/libvirt-gconfig.h>
#include <libvirt-gobject/libvirt-gobject.h>
#include <stdbool.h>

#include "vsb-sandbox-config.h"
#include "vsb-sandbox-netspec.h"

G_BEGIN_DECLS

#define VSB_SANDBOX_TYPE_BUILDER (vsb_sandbox_builder_get_type())
G_DECLARE_DERIVABLE_TYPE(VsbSandboxBuilder, vsb_sandbox_builder, VSB, SANDBOX_BUILDER, GObject)

struct _VsbSandboxBuilderClass {
    GObjectClass parent_class;

    /* The domain for @config, with its state in @statedir. */
    GVirConfigDomain *(*construct)(VsbSandboxBuilder *b, VsbSandboxConfig *config,
                                   const char *statedir, GError **error);
    /* Append what init must do in this kind of sandbox on top of the
     * common directives (mounts of its own, its channel, poweroff). */
    void (*init_directives)(VsbSandboxBuilder *b, VsbSandboxConfig *config, GString *out);
    /* Where the config directory appears inside the sandbox. */
    const char *(*guest_config_dir)(VsbSandboxBuilder *b);
    /* Optional, at the end of prepare: host-side work of this kind of
     * sandbox (KVM: kernel, initrd, accelerator). */
    bool (*prepare_host)(VsbSandboxBuilder *b, VsbSandboxConfig *config, const char *statedir,
                         GError **error);
    /* Optional: attach @stream to the domain's stdio channel (default:
     * its first console). */
    bool (*open_stream)(VsbSandboxBuilder *b, GVirDomain *dom, GVirStream *stream,
                        GError **error);
    /* Optional: the run is over (@interrupted: by a signal), before
     * the domain (NULL: none) is destroyed and @stream freed.  True:
     * the domain ends by itself, do not destroy it. */
    bool (*close_stream)(VsbSandboxBuilder *b, GVirDomain *dom, GVirStream *stream,
                         bool interrupted);

    gpointer padding[5];
};

/* The builder for a connection URI: lxc (any transport) gives the
 * container builder; qemu is issue 8; anything else is an error. */
VsbSandboxBuilder *vsb_sandbox_builder_for_uri(const char *uri, GError **error);

/* virt-sandbox-init on the host (default LIBEXECDIR/virt-sandbox-init). */
const char *vsb_sandbox_builder_get_init_path(VsbSandboxBuilder *b);
void vsb_sandbox_builder_set_init_path(VsbSandboxBuilder *b, const char *path);

/* The label "inherit" stands for; NULL (default) asks SELinux for the
 * caller's own label when construct runs ("" = the caller has none). */
void vsb_sandbox_builder_set_inherit_label(VsbSandboxBuilder *b, const char *label);

/* -s dynamic: the labels allocated for this run (vsb-sandbox-seclabel.h),
 * which the <seclabel> then carries; NULL (default): a dynamic
 * <seclabel> with no label, for the driver to allocate. */
void vsb_sandbox_builder_set_dynamic_label(VsbSandboxBuilder *b, const char *label,
                                           const char *imagelabel);

/* init's config file for @config, as text. */
char *vsb_sandbox_builder_init_config(VsbSandboxBuilder *b, VsbSandboxConfig *config);

/* Create @statedir (0700; it must not exist) and fill it. */
bool vsb_sandbox_builder_prepare(VsbSandboxBuilder *b, VsbSandboxConfig *config,
                                 const char *statedir, GError **error);
GVirConfigDomain *vsb_sandbox_builder_construct(VsbSandboxBuilder *b, VsbSandboxConfig *config,
                                                const char *statedir, GError **error);
/* Remove @statedir; never crosses into another file system (a share
 * still mounted is left alone).  Errors are returned, not logged. */
bool vsb_sandbox_builder_cleanup(VsbSandboxBuilder *b, const char *statedir, GError **error);

/* For subclasses: where prepare puts the directory of the @index'th
 * mount when it is an empty host-bind. */
char *vsb_sandbox_builder_temp_mount_dir(const char *statedir, guint index);

/* For subclasses: the <seclabel> for @config (inherit resolved). */
GVirConfigDomainSeclabel *vsb_sandbox_builder_seclabel(VsbSandboxBuilder *b,
                                                       VsbSandboxConfig *config,
                                                       GError **error);

/* Attach @stream to the started domain's stdio channel. */
bool vsb_sandbox_builder_open_stream(VsbSandboxBuilder *b, GVirDomain *dom, GVirStream *stream,
                                     GError **error);

/* The run is over (call before destroying the domain); true when the
 * domain ends by itself and needs no destroy. */
bool vsb_sandbox_builder_close_stream(VsbSandboxBuilder *b, GVirDomain *dom, GVirStream *stream,
                                      bool interrupted);

/* What prepare found worth telling the user (e.g. KVM unusable), for
 * the top-level code to print; NULL-terminated, owned by @b. */
const char *const *vsb_sandbox_builder_get_warnings(VsbSandboxBuilder *b);
/* For subclasses. */
void vsb_sandbox_builder_add_warning(VsbSandboxBuilder *b, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);
/* For subclasses' init_directives: "KEY FIELD..." with init's escaping
 * (@fields NULL-terminated, none empty). */
void vsb_sandbox_builder_append_directive(GString *out, const char *key,
                                          const char *const *fields);

/* -N interfaces (vsb-sandbox-builder-net.c), for subclasses. */
/* The config's specs parsed (VsbNetspec*); NULL naming a bad one. */
GPtrArray *vsb_sandbox_builder_netspecs(VsbSandboxConfig *config, GError **error);
/* The source kind of interface @index: what prepare found on the host,
 * else the spec's own (a bare name then is a network). */
VsbNetspecSourceKind vsb_sandbox_builder_net_kind(VsbSandboxBuilder *b, guint index,
                                                  const VsbNetspec *n);
/* <interface> of interface @index (ethN): for LXC with @pci_slot -1
 * (<guest dev>, <ip>, <route>), for KVM a virtio NIC in @pci_slot. */
char *vsb_sandbox_builder_net_xml(const VsbNetspec *n, VsbNetspecSourceKind kind, guint index,
                                  int pci_slot);
/* That <interface> added to @dom; false naming what libvirt-gconfig
 * refused. */
bool vsb_sandbox_builder_add_net_device(VsbSandboxBuilder *b, GVirConfigDomain *dom,
                                        const VsbNetspec *n, guint index, int pci_slot,
                                        GError **error);
/* init's net directives: the DHCP ones (LXC: the controller does the
 * rest), or with @with_static every interface's whole setup (KVM). */
void vsb_sandbox_builder_net_directives(VsbSandboxConfig *config, bool with_static,
                                        GString *out);

#define VSB_SANDBOX_TYPE_BUILDER_CONTAINER (vsb_sandbox_builder_container_get_type())
G_DECLARE_FINAL_TYPE(VsbSandboxBuilderContainer, vsb_sandbox_builder_container,
                     VSB, SANDBOX_BUILDER_CONTAINER, VsbSandboxBuilder)
VsbSandboxBuilder *vsb_sandbox_builder_container_new(void);

/* A guest of libvirt's QEMU driver (vsb-sandbox-builder-kvm.c). */
#define VSB_SANDBOX_TYPE_BUILDER_KVM (vsb_sandbox_builder_kvm_get_type())
G_DECLARE_FINAL_TYPE(VsbSandboxBuilderKvm, vsb_sandbox_builder_kvm, VSB, SANDBOX_BUILDER_KVM,
                     VsbSandboxBuilder)
VsbSandboxBuilder *vsb_sandbox_builder_kvm_new(void);
/* Default vsb_kvm_default_cachedir(). */
void vsb_sandbox_builder_kvm_set_cachedir(VsbSandboxBuilderKvm *b, const char *dir);
/* Default: the running kernel if its modules are there, else the newest. */
void vsb_sandbox_builder_kvm_set_kernel_version(VsbSandboxBuilderKvm *b, const char *version);
/* Instead of prepare's choice (tests of construct). */
void vsb_sandbox_builder_kvm_set_boot(VsbSandboxBuilderKvm *b, const char *kernel,
                                      const char *initrd, bool use_kvm);
/* A session daemon's guest (qemu:///session): QEMU runs as the user,
 * with no DAC label to give. */
void vsb_sandbox_builder_kvm_set_session(VsbSandboxBuilderKvm *b, bool session);
/* Instead of prepare's look at the host (tests of construct): whether
 * SELinux is enabled, and the base label of our policy's KVM type when
 * the loaded policy has it (NULL: libvirt's default). */
void vsb_sandbox_builder_kvm_set_selinux(VsbSandboxBuilderKvm *b, bool enabled,
                                         const char *policy_base);

G_END_DECLS
