/*
 * vsb-sandbox-builder-net.c: the -N interfaces of a sandbox, for both
 * builders (contract: libvirt's own <interface> elements).
 *
 * Interface N is ethN in the sandbox, in the config's order: the LXC
 * builder says so (<guest dev='ethN'/>, the controller renames the
 * veth's end); in a KVM guest the kernel names the virtio NICs eth0,
 * eth1, ... in PCI order, and the builder gives them increasing slots.
 *
 * Who configures what:
 *   LXC  the controller: link up, static <ip>/<route>, MAC; init only
 *        runs DHCP ("net ethN dhcp")
 *   KVM  init everything: "net ethN dhcp|static", "ipaddr", "iproute"
 *        (no controller there)
 * (init's directives: vsb-init-config.h.)
 *
 * The source's kind (libvirt network or host bridge) is settled by
 * prepare on the host (vsb_netspec_resolve); construct stays pure and
 * takes a bare name as a network when prepare did not run (tests).
 */
#include <config.h>

#include "vsb-sandbox-builder.h"
#include "vsb-sandbox-netspec.h"

GPtrArray *
vsb_sandbox_builder_netspecs(VsbSandboxConfig *c, GError **error)
{
    GPtrArray *specs = vsb_sandbox_config_get_networks(c);
    g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify)vsb_netspec_free);

    for (guint i = 0; i < specs->len; i++) {
        const char *s = g_ptr_array_index(specs, i);
        VsbNetspec *n = vsb_netspec_parse(s, error);
        if (!n) {
            g_prefix_error(error, "network '%s': ", s);
            return NULL;
        }
        g_ptr_array_add(out, n);
    }
    return g_steal_pointer(&out);
}

static const char *
source_attr(VsbNetspecSourceKind kind)
{
    return kind == VSB_NETSPEC_SOURCE_BRIDGE ? "bridge" : "network";
}

char *
vsb_sandbox_builder_net_xml(const VsbNetspec *n, VsbNetspecSourceKind kind, guint index,
                            int pci_slot)
{
    g_autoptr(GString) x = g_string_new(NULL);
    g_autofree char *src = g_markup_escape_text(n->source, -1);
    const char *type = source_attr(kind == VSB_NETSPEC_SOURCE_NAME ? VSB_NETSPEC_SOURCE_NETWORK
                                                                   : kind);

    g_string_append_printf(x, "<interface type='%s'><source %s='%s'/>", type, type, src);
    if (n->mac)
        g_string_append_printf(x, "<mac address='%s'/>", n->mac);
    if (pci_slot >= 0) {
        /* A guest of QEMU: the guest's kernel configures nothing by
         * itself, init does it all from its own directives. */
        g_string_append_printf(x, "<model type='virtio'/><address type='pci' domain='0' "
                               "bus='0' slot='%d' function='0'/></interface>", pci_slot);
        return g_string_free(g_steal_pointer(&x), FALSE);
    }
    g_string_append_printf(x, "<guest dev='eth%u'/>", index);
    for (guint i = 0; i < n->addresses->len; i++) {
        VsbNetspecAddress *a = g_ptr_array_index(n->addresses, i);
        g_string_append_printf(x, "<ip address='%s' prefix='%u'/>", a->address, a->prefix);
    }
    for (guint i = 0; i < n->routes->len; i++) {
        VsbNetspecRoute *r = g_ptr_array_index(n->routes, i);
        g_string_append_printf(x, "<route address='%s' prefix='%u' gateway='%s'/>",
                               r->network, r->prefix, r->gateway);
    }
    g_string_append(x, "</interface>");
    return g_string_free(g_steal_pointer(&x), FALSE);
}

bool
vsb_sandbox_builder_add_net_device(VsbSandboxBuilder *b, GVirConfigDomain *dom,
                                   const VsbNetspec *n, guint index, int pci_slot,
                                   GError **error)
{
    VsbNetspecSourceKind kind = vsb_sandbox_builder_net_kind(b, index, n);
    g_autofree char *xml = vsb_sandbox_builder_net_xml(n, kind, index, pci_slot);
    GVirConfigDomainInterface *iface = kind == VSB_NETSPEC_SOURCE_BRIDGE
        ? GVIR_CONFIG_DOMAIN_INTERFACE(gvir_config_domain_interface_bridge_new_from_xml(xml,
                                                                                        error))
        : GVIR_CONFIG_DOMAIN_INTERFACE(gvir_config_domain_interface_network_new_from_xml(xml,
                                                                                         error));

    if (!iface)
        return false;
    gvir_config_domain_add_device(dom, GVIR_CONFIG_DOMAIN_DEVICE(iface));
    g_object_unref(iface);
    return true;
}

void
vsb_sandbox_builder_net_directives(VsbSandboxConfig *c, bool with_static, GString *out)
{
    g_autoptr(GPtrArray) specs = vsb_sandbox_builder_netspecs(c, NULL);

    /* Invalid specs: construct reports them (it validates the config). */
    for (guint i = 0; specs && i < specs->len; i++) {
        VsbNetspec *n = g_ptr_array_index(specs, i);
        g_autofree char *dev = g_strdup_printf("eth%u", i);

        if (!with_static) {
            if (n->dhcp)
                vsb_sandbox_builder_append_directive(out, "net",
                                                     (const char *const[]){ dev, "dhcp", NULL });
            continue;
        }
        vsb_sandbox_builder_append_directive(out, "net",
                                             (const char *const[]){ dev, n->dhcp ? "dhcp"
                                                                                 : "static",
                                                                    NULL });
        for (guint j = 0; j < n->addresses->len; j++) {
            VsbNetspecAddress *a = g_ptr_array_index(n->addresses, j);
            g_autofree char *prefix = g_strdup_printf("%u", a->prefix);
            vsb_sandbox_builder_append_directive(out, "ipaddr",
                                                 (const char *const[]){ dev, a->address, prefix,
                                                                        a->broadcast
                                                                            ? a->broadcast : "-",
                                                                        NULL });
        }
        for (guint j = 0; j < n->routes->len; j++) {
            VsbNetspecRoute *r = g_ptr_array_index(n->routes, j);
            g_autofree char *prefix = g_strdup_printf("%u", r->prefix);
            vsb_sandbox_builder_append_directive(out, "iproute",
                                                 (const char *const[]){ dev, r->network, prefix,
                                                                        r->gateway, NULL });
        }
    }
}
