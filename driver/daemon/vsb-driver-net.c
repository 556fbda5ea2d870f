/*
 * vsb-driver-net.c: statistics of a running domain's interfaces
 * (domifstat, the net.* group of domstats).
 *
 * Read from the host end of each veth pair, /sys/class/net/DEV/
 * statistics, with receive and transmit swapped: what the host end
 * receives, the container sent (libvirt does the same for its LXC
 * veths and QEMU's taps).
 */
#include <config.h>

#include "vsb-domain-net.h"
#include "vsb-driver-priv.h"
#include "vsb-util.h"

#include <string.h>

static bool
read_counter(const char *dev, const char *name, long long *out, GError **error)
{
    g_autofree char *path = g_strdup_printf("/sys/class/net/%s/statistics/%s", dev, name);
    g_autofree char *text = NULL;
    guint64 v;

    if (!(text = vsb_file_read_all(path, NULL, error)))
        return false;
    if (!g_ascii_string_to_unsigned(g_strstrip(text), 10, 0, G_MAXINT64, &v, NULL)) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_FAILED, "%s: not a counter: '%s'", path, text);
        return false;
    }
    *out = (long long)v;
    return true;
}

/* The figures of host interface @dev, from the guest's side. */
static bool
read_stats(const char *dev, VsbInterfaceStats *st, GError **error)
{
    return read_counter(dev, "tx_bytes", &st->rx_bytes, error) &&
           read_counter(dev, "tx_packets", &st->rx_packets, error) &&
           read_counter(dev, "tx_errors", &st->rx_errs, error) &&
           read_counter(dev, "tx_dropped", &st->rx_drop, error) &&
           read_counter(dev, "rx_bytes", &st->tx_bytes, error) &&
           read_counter(dev, "rx_packets", &st->tx_packets, error) &&
           read_counter(dev, "rx_errors", &st->tx_errs, error) &&
           read_counter(dev, "rx_dropped", &st->tx_drop, error);
}

bool
vsb_driver_interface_stats(VsbDomain *dom, const char *device, VsbInterfaceStats *st,
                           GError **error)
{
    const VsbDomainDef *def;
    g_autoptr(GError) local = NULL;
    const VsbDomainNet *found = NULL;

    memset(st, 0, sizeof(*st));
    if (!vsb_domain_is_active(dom)) {
        vsb_driver_error(error, VSB_DRIVER_ERROR_OPERATION_INVALID, "domain is not running");
        return false;
    }
    def = vsb_domain_get_def(dom, false);
    /* as libvirt: the host-side name or the MAC address */
    for (guint i = 0; i < def->interfaces->len && !found; i++) {
        const VsbDomainNet *net = def->interfaces->pdata[i];
        char mac[18];

        vsb_domain_net_mac_format(net->mac, mac);
        if ((net->target_dev && strcmp(net->target_dev, device) == 0) ||
            g_ascii_strcasecmp(mac, device) == 0)
            found = net;
    }
    if (!found || !found->target_dev) {
        vsb_driver_error(error, VSB_DRIVER_ERROR_INVALID_ARG,
                         "invalid path, '%s' is not a known interface", device);
        return false;
    }
    if (!read_stats(found->target_dev, st, &local)) {
        vsb_driver_error(error, VSB_DRIVER_ERROR_OPERATION_FAILED,
                         "cannot read the statistics of interface '%s' of domain '%s': %s",
                         found->target_dev, dom->name, local->message);
        return false;
    }
    return true;
}

GArray *
vsb_driver_all_interface_stats(VsbDomain *dom)
{
    GArray *all = g_array_new(FALSE, TRUE, sizeof(VsbInterfaceStats));
    const VsbDomainDef *def;

    if (!vsb_domain_is_active(dom))
        return all;
    def = vsb_domain_get_def(dom, false);
    for (guint i = 0; i < def->interfaces->len; i++) {
        const VsbDomainNet *net = def->interfaces->pdata[i];
        VsbInterfaceStats st = { 0 };

        /* gone meanwhile (the domain is ending): left out, as libvirt does */
        if (!net->target_dev || !read_stats(net->target_dev, &st, NULL))
            continue;
        g_strlcpy(st.name, net->target_dev, sizeof(st.name));
        g_array_append_val(all, st);
    }
    return all;
}
