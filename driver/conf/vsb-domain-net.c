/*
 * vsb-domain-net.c: parse, check and format <interface> (see
 * vsb-domain-net.h).
 *
 * Accepted: type='bridge', 'network' and 'ethernet' with <source>,
 * <mac>, <target dev>, <guest dev>, <ip>, <route>, <mtu> and <link>.
 * Every other type and child libvirt defines is refused as
 * unsupported, naming it: a container must never start with less
 * network (or different network) than its XML says.
 */
#include <config.h>

#include "vsb-domain-net.h"
#include "vsb-xml-util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

static const char *const net_type_names[] = {
    [VSB_DOMAIN_NET_BRIDGE] = "bridge",
    [VSB_DOMAIN_NET_NETWORK] = "network",
    [VSB_DOMAIN_NET_ETHERNET] = "ethernet",
};
G_STATIC_ASSERT(G_N_ELEMENTS(net_type_names) == VSB_DOMAIN_NET_LAST);

const char *
vsb_domain_net_type_to_string(VsbDomainNetType t)
{
    return (unsigned)t < VSB_DOMAIN_NET_LAST ? net_type_names[t] : NULL;
}

int
vsb_domain_net_type_from_string(const char *s)
{
    for (int i = 0; s && i < VSB_DOMAIN_NET_LAST; i++) {
        if (strcmp(net_type_names[i], s) == 0)
            return i;
    }
    return -1;
}

void
vsb_domain_net_free(VsbDomainNet *net)
{
    if (!net)
        return;
    g_free(net->source);
    g_free(net->target_dev);
    g_free(net->guest_dev);
    g_array_unref(net->ips);
    g_array_unref(net->routes);
    g_free(net);
}

void
vsb_domain_net_mac_format(const guint8 mac[6], char out[18])
{
    g_snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x",
               mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

static bool
mac_parse(const char *s, guint8 mac[6])
{
    for (int i = 0; i < 6; i++) {
        int hi, lo;

        /* libvirt takes one or two hex digits per byte */
        if ((hi = g_ascii_xdigit_value(*s)) < 0)
            return false;
        s++;
        if ((lo = g_ascii_xdigit_value(*s)) >= 0) {
            hi = hi << 4 | lo;
            s++;
        }
        mac[i] = (guint8)hi;
        if (i < 5 && *s++ != ':')
            return false;
    }
    return *s == '\0';
}

/* What the kernel takes as a network device name (dev_valid_name()). */
static bool
ifname_valid(const char *s)
{
    if (!s || !*s || strlen(s) > VSB_DOMAIN_NET_IFNAME_MAX ||
        strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (; *s; s++) {
        if (*s == '/' || *s == ':' || g_ascii_isspace(*s) || !g_ascii_isprint(*s))
            return false;
    }
    return true;
}

static bool
check_ifname(xmlNode *node, const char *attr, const char *value, GError **error)
{
    if (ifname_valid(value))
        return true;
    VSB_CONF_ERROR(error, INVALID,
                   "invalid <%s %s='%s'> in <interface> (line %ld): a network device name has "
                   "1 to %d characters, no '/', ':' or white space, and is not '.' or '..'",
                   VSB_CC(node->name), attr, value, vsb_xml_elem_line(node),
                   VSB_DOMAIN_NET_IFNAME_MAX);
    return false;
}

/* An address, in @family when that is given (not AF_UNSPEC), else
 * whichever parses; returns the family, or AF_UNSPEC on error. */
static int
addr_parse(const char *s, int family, guint8 out[16])
{
    memset(out, 0, 16);
    if (family != AF_INET6 && inet_pton(AF_INET, s, out) == 1)
        return AF_INET;
    if (family != AF_INET && inet_pton(AF_INET6, s, out) == 1)
        return AF_INET6;
    return AF_UNSPEC;
}

static void
addr_append(GString *buf, int family, const guint8 *addr)
{
    char s[INET6_ADDRSTRLEN];

    if (!inet_ntop(family, addr, s, sizeof(s)))
        g_assert_not_reached();
    g_string_append(buf, s);
}

/* family='ipv4|ipv6', AF_UNSPEC when absent; -1 on error. */
static int
parse_family(xmlNode *node, GError **error)
{
    g_autofree char *family = vsb_xml_prop(node, "family");

    if (!family)
        return AF_UNSPEC;
    if (strcmp(family, "ipv4") == 0)
        return AF_INET;
    if (strcmp(family, "ipv6") == 0)
        return AF_INET6;
    VSB_CONF_ERROR(error, INVALID, "invalid <%s family='%s'> in <interface> (line %ld): "
                   "expected ipv4 or ipv6", VSB_CC(node->name), family, vsb_xml_elem_line(node));
    return -1;
}

static bool
parse_addr_attr(xmlNode *node, const char *attr, int *family, guint8 out[16], GError **error)
{
    g_autofree char *s = NULL;
    int f;

    if (!vsb_xml_prop_required(node, attr, &s, error))
        return false;
    g_strstrip(s);
    if ((f = addr_parse(s, *family, out)) == AF_UNSPEC) {
        VSB_CONF_ERROR(error, INVALID, "invalid <%s %s='%s'> in <interface> (line %ld): "
                       "not an %s address", VSB_CC(node->name), attr, s, vsb_xml_elem_line(node),
                       *family == AF_INET ? "IPv4" : *family == AF_INET6 ? "IPv6" : "IP");
        return false;
    }
    *family = f;
    return true;
}

static bool
parse_prefix(xmlNode *node, int family, int *prefix, GError **error)
{
    g_autofree char *s = vsb_xml_prop(node, "prefix");
    unsigned int max = family == AF_INET ? 32 : 128;
    unsigned long long v;

    *prefix = -1;
    if (!s)
        return true;
    if (!vsb_parse_ull(s, max, &v)) {
        VSB_CONF_ERROR(error, INVALID, "invalid <%s prefix='%s'> in <interface> (line %ld): "
                       "expected 0 to %u", VSB_CC(node->name), s, vsb_xml_elem_line(node), max);
        return false;
    }
    *prefix = (int)v;
    return true;
}

unsigned int
vsb_domain_net_prefix(int family, const guint8 *address, int prefix)
{
    static const guint8 zero[16];

    if (prefix >= 0)
        return (unsigned int)prefix;
    if (family == AF_INET6)
        return memcmp(address, zero, 16) == 0 ? 0 : 64;
    if (memcmp(address, zero, 4) == 0)
        return 0;
    /* the classful default libvirt applies */
    if (address[0] < 128)
        return 8;
    if (address[0] < 192)
        return 16;
    if (address[0] < 224)
        return 24;
    return 32;
}

static bool
parse_ip(xmlNode *node, VsbDomainNet *net, GError **error)
{
    static const char *const allowed[] = { "address", "family", "prefix", NULL };
    static const char *const unsupported[] = { "peer", NULL };
    VsbDomainNetIP ip = { 0 };

    if (!vsb_xml_check_attrs(node, allowed, unsupported, error) ||
        !vsb_xml_check_empty(node, error) ||
        (ip.family = parse_family(node, error)) < 0 ||
        !parse_addr_attr(node, "address", &ip.family, ip.address, error) ||
        !parse_prefix(node, ip.family, &ip.prefix, error))
        return false;
    /* libvirt's <ip prefix='0'> means no prefix given */
    if (ip.prefix == 0)
        ip.prefix = -1;
    g_array_append_val(net->ips, ip);
    return true;
}

/* The address of a route is a network: no bit set past its prefix. */
static bool
host_bits_clear(const guint8 *addr, int family, unsigned int prefix)
{
    unsigned int bits = family == AF_INET ? 32 : 128;

    for (unsigned int b = prefix; b < bits; b++) {
        if (addr[b / 8] & (0x80 >> (b % 8)))
            return false;
    }
    return true;
}

static bool
parse_route(xmlNode *node, VsbDomainNet *net, GError **error)
{
    static const char *const allowed[] = {
        "family", "address", "prefix", "gateway", "metric", NULL
    };
    static const char *const unsupported[] = { "netmask", NULL };
    VsbDomainNetRoute rt = { 0 };
    g_autofree char *metric = NULL;
    unsigned long long v;

    if (!vsb_xml_check_attrs(node, allowed, unsupported, error) ||
        !vsb_xml_check_empty(node, error) ||
        (rt.family = parse_family(node, error)) < 0)
        return false;
    rt.family_given = rt.family != AF_UNSPEC;
    if (!parse_addr_attr(node, "address", &rt.family, rt.address, error) ||
        !parse_addr_attr(node, "gateway", &rt.family, rt.gateway, error) ||
        !parse_prefix(node, rt.family, &rt.prefix, error))
        return false;
    if (!host_bits_clear(rt.address, rt.family,
                         vsb_domain_net_prefix(rt.family, rt.address, rt.prefix))) {
        g_autoptr(GString) a = g_string_new(NULL);

        addr_append(a, rt.family, rt.address);
        VSB_CONF_ERROR(error, INVALID, "invalid <route address='%s'> in <interface> (line %ld): "
                       "not a network address for prefix %u", a->str, vsb_xml_elem_line(node),
                       vsb_domain_net_prefix(rt.family, rt.address, rt.prefix));
        return false;
    }
    if ((metric = vsb_xml_prop(node, "metric")) && !vsb_parse_ull(metric, G_MAXUINT32, &v)) {
        VSB_CONF_ERROR(error, INVALID, "invalid <route metric='%s'> in <interface> (line %ld)",
                       metric, vsb_xml_elem_line(node));
        return false;
    }
    rt.metric = metric ? (unsigned int)v : 0;
    g_array_append_val(net->routes, rt);
    return true;
}

static bool
parse_source(xmlNode *node, VsbDomainNet *net, GError **error)
{
    static const char *const bridge_attrs[] = { "bridge", NULL };
    static const char *const network_attrs[] = { "network", NULL };
    static const char *const network_unsupported[] = { "portgroup", "portid", "bridge", NULL };
    const char *attr = net->type == VSB_DOMAIN_NET_BRIDGE ? "bridge" : "network";

    if (net->type == VSB_DOMAIN_NET_ETHERNET) {
        VSB_CONF_ERROR(error, UNSUPPORTED, "unsupported <source> in <interface type='ethernet'> "
                       "(line %ld): the host end of its veth pair is left unattached",
                       vsb_xml_elem_line(node));
        return false;
    }
    if (!vsb_xml_check_attrs(node, net->type == VSB_DOMAIN_NET_BRIDGE ? bridge_attrs
                                                                       : network_attrs,
                             net->type == VSB_DOMAIN_NET_BRIDGE ? NULL : network_unsupported,
                             error) ||
        !vsb_xml_check_empty(node, error) ||
        !vsb_xml_prop_required(node, attr, &net->source, error))
        return false;
    if (net->type == VSB_DOMAIN_NET_BRIDGE)
        return check_ifname(node, attr, net->source, error);
    /* It names a file of libvirt's: /run/libvirt/network/NAME.xml */
    if (!*net->source || strchr(net->source, '/') || net->source[0] == '.') {
        VSB_CONF_ERROR(error, INVALID, "invalid <source network='%s'> in <interface> (line %ld): "
                       "a network name is not empty, has no '/' and does not start with '.'",
                       net->source, vsb_xml_elem_line(node));
        return false;
    }
    return true;
}

static bool
parse_mac(xmlNode *node, VsbDomainNet *net, GError **error)
{
    static const char *const allowed[] = { "address", NULL };
    static const char *const unsupported[] = { "type", "check", NULL };
    g_autofree char *s = NULL;

    if (!vsb_xml_check_attrs(node, allowed, unsupported, error) ||
        !vsb_xml_check_empty(node, error) ||
        !vsb_xml_prop_required(node, "address", &s, error))
        return false;
    if (!mac_parse(s, net->mac)) {
        VSB_CONF_ERROR(error, INVALID, "invalid <mac address='%s'> in <interface> (line %ld): "
                       "expected six hex bytes such as 52:54:00:12:34:56",
                       s, vsb_xml_elem_line(node));
        return false;
    }
    if (net->mac[0] & 1) {
        VSB_CONF_ERROR(error, INVALID, "invalid <mac address='%s'> in <interface> (line %ld): "
                       "a multicast address (expected a unicast one)",
                       s, vsb_xml_elem_line(node));
        return false;
    }
    return true;
}

/* <target dev=...>, <guest dev=...> */
static bool
parse_dev(xmlNode *node, const char *const *unsupported, char **out, GError **error)
{
    static const char *const allowed[] = { "dev", NULL };

    if (!vsb_xml_check_attrs(node, allowed, unsupported, error) ||
        !vsb_xml_check_empty(node, error) ||
        !vsb_xml_prop_required(node, "dev", out, error))
        return false;
    return check_ifname(node, "dev", *out, error);
}

static bool
parse_mtu(xmlNode *node, VsbDomainNet *net, GError **error)
{
    static const char *const allowed[] = { "size", NULL };
    g_autofree char *s = NULL;
    unsigned long long v;

    if (!vsb_xml_check_attrs(node, allowed, NULL, error) ||
        !vsb_xml_check_empty(node, error) ||
        !vsb_xml_prop_required(node, "size", &s, error))
        return false;
    /* 68: the least IPv4 takes; 65535: the most a veth takes */
    if (!vsb_parse_ull(s, 65535, &v) || v < 68) {
        VSB_CONF_ERROR(error, INVALID, "invalid <mtu size='%s'> in <interface> (line %ld): "
                       "expected 68 to 65535", s, vsb_xml_elem_line(node));
        return false;
    }
    net->mtu = (unsigned int)v;
    return true;
}

static bool
parse_link(xmlNode *node, VsbDomainNet *net, GError **error)
{
    static const char *const allowed[] = { "state", NULL };
    g_autofree char *s = NULL;

    if (!vsb_xml_check_attrs(node, allowed, NULL, error) ||
        !vsb_xml_check_empty(node, error) ||
        !vsb_xml_prop_required(node, "state", &s, error))
        return false;
    if (strcmp(s, "up") == 0) {
        net->link = VSB_DOMAIN_TRISTATE_ON;
    } else if (strcmp(s, "down") == 0) {
        net->link = VSB_DOMAIN_TRISTATE_OFF;
    } else {
        VSB_CONF_ERROR(error, INVALID, "invalid <link state='%s'> in <interface> (line %ld): "
                       "expected up or down", s, vsb_xml_elem_line(node));
        return false;
    }
    return true;
}

static void
mac_generate(guint8 mac[6])
{
    guint32 r = g_random_int();

    /* libvirt's prefix for its guests, locally administered by QEMU/KVM convention */
    mac[0] = 0x52;
    mac[1] = 0x54;
    mac[2] = 0x00;
    mac[3] = (guint8)(r >> 16);
    mac[4] = (guint8)(r >> 8);
    mac[5] = (guint8)r;
}

bool
vsb_domain_net_parse(xmlNode *node, VsbDomainDef *def, GError **error)
{
    static const char *const allowed[] = { "type", NULL };
    static const char *const unsupported_attrs[] = { "managed", "trustGuestRxFilters", NULL };
    static const char *const other_types[] = {
        "user", "vhostuser", "server", "client", "mcast", "udp", "internal", "direct",
        "hostdev", "vdpa", "null", "vds", NULL
    };
    static const char *const known[] = {
        "model", "driver", "backend", "filterref", "tune", "teaming", "bandwidth",
        "virtualport", "vlan", "port", "coalesce", "boot", "rom", "alias", "address", "acpi",
        "script", "downscript", "backenddomain", "portForward", "actual", NULL
    };
    static const char *const target_unsupported[] = { "managed", NULL };
    static const char *const guest_unsupported[] = { "actual", NULL };
    g_autofree char *type = NULL;
    bool seen_source = false, seen_mac = false, seen_mtu = false, seen_link = false;
    VsbDomainNet *net;
    int t;

    if (!vsb_xml_check_attrs(node, allowed, unsupported_attrs, error) ||
        !vsb_xml_prop_required(node, "type", &type, error))
        return false;
    if ((t = vsb_domain_net_type_from_string(type)) < 0) {
        if (vsb_str_in(other_types, type))
            VSB_CONF_ERROR(error, UNSUPPORTED, "unsupported <interface type='%s'> (line %ld): "
                           "containers take 'bridge', 'network' or 'ethernet' (a veth pair)",
                           type, vsb_xml_elem_line(node));
        else
            VSB_CONF_ERROR(error, INVALID, "unknown <interface type='%s'> (line %ld)",
                           type, vsb_xml_elem_line(node));
        return false;
    }

    net = g_new0(VsbDomainNet, 1);
    net->type = (VsbDomainNetType)t;
    net->ips = g_array_new(FALSE, TRUE, sizeof(VsbDomainNetIP));
    net->routes = g_array_new(FALSE, TRUE, sizeof(VsbDomainNetRoute));
    /* Owned by the definition from here on, so that early returns free it. */
    g_ptr_array_add(def->interfaces, net);

    for (xmlNode *c = node->children; c; c = c->next) {
        int r = vsb_xml_next_element(c, error);
        bool ok;

        if (r < 0)
            return false;
        if (r == 0)
            continue;
        if (vsb_xml_name_is(c, "source")) {
            if (seen_source)
                return vsb_xml_reject_duplicate(c, error);
            seen_source = true;
            ok = parse_source(c, net, error);
        } else if (vsb_xml_name_is(c, "mac")) {
            if (seen_mac)
                return vsb_xml_reject_duplicate(c, error);
            seen_mac = true;
            ok = parse_mac(c, net, error);
        } else if (vsb_xml_name_is(c, "target")) {
            if (net->target_dev)
                return vsb_xml_reject_duplicate(c, error);
            ok = parse_dev(c, target_unsupported, &net->target_dev, error);
        } else if (vsb_xml_name_is(c, "guest")) {
            if (net->guest_dev)
                return vsb_xml_reject_duplicate(c, error);
            ok = parse_dev(c, guest_unsupported, &net->guest_dev, error);
        } else if (vsb_xml_name_is(c, "ip")) {
            ok = parse_ip(c, net, error);
        } else if (vsb_xml_name_is(c, "route")) {
            ok = parse_route(c, net, error);
        } else if (vsb_xml_name_is(c, "mtu")) {
            if (seen_mtu)
                return vsb_xml_reject_duplicate(c, error);
            seen_mtu = true;
            ok = parse_mtu(c, net, error);
        } else if (vsb_xml_name_is(c, "link")) {
            if (seen_link)
                return vsb_xml_reject_duplicate(c, error);
            seen_link = true;
            ok = parse_link(c, net, error);
        } else {
            return vsb_xml_reject_child(c, known, error);
        }
        if (!ok)
            return false;
    }
    if (!seen_source && net->type != VSB_DOMAIN_NET_ETHERNET) {
        VSB_CONF_ERROR(error, INVALID, "<interface type='%s'> (line %ld) has no <source %s=...>",
                       type, vsb_xml_elem_line(node),
                       net->type == VSB_DOMAIN_NET_BRIDGE ? "bridge" : "network");
        return false;
    }
    /* Generated once and kept: the definition then always has it. */
    if (!seen_mac)
        mac_generate(net->mac);
    return true;
}

char *
vsb_domain_net_guest_dev(const VsbDomainDef *def, guint i)
{
    const VsbDomainNet *net = def->interfaces->pdata[i];

    return net->guest_dev ? g_strdup(net->guest_dev) : g_strdup_printf("eth%u", i);
}

bool
vsb_domain_net_check(const VsbDomainDef *def, GError **error)
{
    g_autoptr(GHashTable) guests = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GHashTable) targets = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GHashTable) macs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

    for (guint i = 0; i < def->interfaces->len; i++) {
        const VsbDomainNet *net = def->interfaces->pdata[i];
        g_autofree char *guest = vsb_domain_net_guest_dev(def, i);
        char mac[18];

        /* the container has its own loopback already */
        if (strcmp(guest, "lo") == 0) {
            VSB_CONF_ERROR(error, INVALID, "<interface> %u: guest dev 'lo' is the container's "
                           "loopback", i + 1);
            return false;
        }
        if (g_hash_table_contains(guests, guest)) {
            VSB_CONF_ERROR(error, INVALID, "two <interface>s have the guest dev '%s'%s",
                           guest, net->guest_dev ? "" : " (interface N's default is ethN, "
                           "counting from 0)");
            return false;
        }
        g_hash_table_add(guests, g_steal_pointer(&guest));
        if (net->target_dev && !g_hash_table_add(targets, net->target_dev)) {
            VSB_CONF_ERROR(error, INVALID, "two <interface>s have <target dev='%s'>",
                           net->target_dev);
            return false;
        }
        vsb_domain_net_mac_format(net->mac, mac);
        if (!g_hash_table_add(macs, g_strdup(mac))) {
            VSB_CONF_ERROR(error, INVALID, "two <interface>s have <mac address='%s'>", mac);
            return false;
        }
    }
    return true;
}

void
vsb_domain_net_format(GString *buf, const VsbDomainNet *net)
{
    char mac[18];

    vsb_domain_net_mac_format(net->mac, mac);
    g_string_append_printf(buf, "    <interface type='%s'>\n      <mac address='%s'/>\n",
                           vsb_domain_net_type_to_string(net->type), mac);
    if (net->source) {
        g_string_append_printf(buf, "      <source %s='",
                               net->type == VSB_DOMAIN_NET_BRIDGE ? "bridge" : "network");
        vsb_xml_escape_append(buf, net->source, true);
        g_string_append(buf, "'/>\n");
    }
    for (guint i = 0; i < net->ips->len; i++) {
        const VsbDomainNetIP *ip = &g_array_index(net->ips, VsbDomainNetIP, i);

        g_string_append(buf, "      <ip address='");
        addr_append(buf, ip->family, ip->address);
        g_string_append_printf(buf, "' family='%s'", ip->family == AF_INET ? "ipv4" : "ipv6");
        if (ip->prefix >= 0)
            g_string_append_printf(buf, " prefix='%d'", ip->prefix);
        g_string_append(buf, "/>\n");
    }
    for (guint i = 0; i < net->routes->len; i++) {
        const VsbDomainNetRoute *rt = &g_array_index(net->routes, VsbDomainNetRoute, i);

        g_string_append(buf, "      <route");
        if (rt->family_given)
            g_string_append_printf(buf, " family='%s'", rt->family == AF_INET ? "ipv4" : "ipv6");
        g_string_append(buf, " address='");
        addr_append(buf, rt->family, rt->address);
        g_string_append_c(buf, '\'');
        if (rt->prefix >= 0)
            g_string_append_printf(buf, " prefix='%d'", rt->prefix);
        g_string_append(buf, " gateway='");
        addr_append(buf, rt->family, rt->gateway);
        g_string_append_c(buf, '\'');
        if (rt->metric)
            g_string_append_printf(buf, " metric='%u'", rt->metric);
        g_string_append(buf, "/>\n");
    }
    if (net->target_dev) {
        g_string_append(buf, "      <target dev='");
        vsb_xml_escape_append(buf, net->target_dev, true);
        g_string_append(buf, "'/>\n");
    }
    if (net->guest_dev) {
        g_string_append(buf, "      <guest dev='");
        vsb_xml_escape_append(buf, net->guest_dev, true);
        g_string_append(buf, "'/>\n");
    }
    if (net->link != VSB_DOMAIN_TRISTATE_ABSENT)
        g_string_append_printf(buf, "      <link state='%s'/>\n",
                               net->link == VSB_DOMAIN_TRISTATE_ON ? "up" : "down");
    if (net->mtu)
        g_string_append_printf(buf, "      <mtu size='%u'/>\n", net->mtu);
    g_string_append(buf, "    </interface>\n");
}
