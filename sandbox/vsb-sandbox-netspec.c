/*
 * vsb-sandbox-netspec.c: the -N spec (vsb-sandbox-netspec.h).
 */
#include <config.h>

#include "vsb-sandbox-netspec.h"
#include "vsb-sandbox-config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>

static const char *const source_kind_names[] = { "name", "network", "bridge" };
G_STATIC_ASSERT(G_N_ELEMENTS(source_kind_names) == VSB_NETSPEC_SOURCE_LAST);

const char *
vsb_netspec_source_kind_to_string(VsbNetspecSourceKind k)
{
    return k < VSB_NETSPEC_SOURCE_LAST ? source_kind_names[k] : NULL;
}

int
vsb_netspec_source_kind_from_string(const char *s)
{
    for (int i = 0; i < VSB_NETSPEC_SOURCE_LAST; i++)
        if (g_str_equal(s, source_kind_names[i]))
            return i;
    return -1;
}

static void
address_free(VsbNetspecAddress *a)
{
    g_free(a->address);
    g_free(a->broadcast);
    g_free(a);
}

static void
route_free(VsbNetspecRoute *r)
{
    g_free(r->network);
    g_free(r->gateway);
    g_free(r);
}

void
vsb_netspec_free(VsbNetspec *n)
{
    if (!n)
        return;
    g_free(n->source);
    g_free(n->mac);
    g_ptr_array_unref(n->addresses);
    g_ptr_array_unref(n->routes);
    g_free(n);
}

/* "ITEM: message" in VSB_SANDBOX_ERROR_INVALID; returns false. */
static bool G_GNUC_PRINTF(3, 4)
item_error(GError **error, const char *item, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID, "%s: %s", item, msg);
    return false;
}

/* An IPv4 or IPv6 address in @bin (16 bytes), its family in @family. */
static bool
parse_ip(const char *s, int *family, guint8 *bin)
{
    if (inet_pton(AF_INET, s, bin) == 1) {
        *family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, s, bin) == 1) {
        *family = AF_INET6;
        return true;
    }
    return false;
}

static char *
ip_to_string(int family, const guint8 *bin)
{
    char buf[INET6_ADDRSTRLEN];

    return g_strdup(inet_ntop(family, bin, buf, sizeof(buf)));
}

static guint
family_bits(int family)
{
    return family == AF_INET ? 32 : 128;
}

/* "IP/PREFIX" into its parts; the prefix within the family's bits. */
static bool
parse_cidr(const char *item, const char *s, int *family, guint8 *bin, guint *prefix,
           GError **error)
{
    const char *slash = strchr(s, '/');
    g_autofree char *ip = NULL;
    guint64 p;

    if (!slash)
        return item_error(error, item, "expected IP/PREFIX, e.g. 10.0.0.2/24");
    ip = g_strndup(s, slash - s);
    if (!parse_ip(ip, family, bin))
        return item_error(error, item, "'%s' is not an IPv4 or IPv6 address", ip);
    if (!g_ascii_isdigit(slash[1]) ||
        !g_ascii_string_to_unsigned(slash + 1, 10, 0, family_bits(*family), &p, NULL))
        return item_error(error, item, "prefix '%s' is not a number from 0 to %u", slash + 1,
                          family_bits(*family));
    *prefix = p;
    return true;
}

static bool
parse_address(VsbNetspec *n, const char *item, const char *value, GError **error)
{
    g_autofree char *cidr = NULL;
    const char *pct = strchr(value, '%');
    guint8 bin[16], bbin[16];
    int family, bfamily;
    guint prefix;
    VsbNetspecAddress *a;

    cidr = pct ? g_strndup(value, pct - value) : g_strdup(value);
    if (!parse_cidr(item, cidr, &family, bin, &prefix, error))
        return false;
    if (pct && (!parse_ip(pct + 1, &bfamily, bbin) || bfamily != AF_INET))
        return item_error(error, item, "broadcast '%s' is not an IPv4 address", pct + 1);
    if (pct && family != AF_INET)
        return item_error(error, item, "IPv6 has no broadcast address");
    a = g_new0(VsbNetspecAddress, 1);
    a->family = family;
    a->address = ip_to_string(family, bin);
    a->prefix = prefix;
    a->broadcast = pct ? ip_to_string(AF_INET, bbin) : NULL;
    g_ptr_array_add(n->addresses, a);
    return true;
}

static bool
parse_route(VsbNetspec *n, const char *item, const char *value, GError **error)
{
    g_autofree char *cidr = NULL;
    const char *pct = strchr(value, '%');
    guint8 bin[16], gbin[16];
    int family, gfamily;
    guint prefix;
    VsbNetspecRoute *r;

    if (!pct)
        return item_error(error, item, "expected NETWORK/PREFIX%%GATEWAY, e.g. "
                          "0.0.0.0/0%%10.0.0.1");
    cidr = g_strndup(value, pct - value);
    if (!parse_cidr(item, cidr, &family, bin, &prefix, error))
        return false;
    for (guint bit = prefix; bit < family_bits(family); bit++)
        if (bin[bit / 8] & (0x80 >> (bit % 8)))
            return item_error(error, item, "'%s' has bits set past the prefix (the network "
                              "address has its host part zero)", cidr);
    if (!parse_ip(pct + 1, &gfamily, gbin))
        return item_error(error, item, "gateway '%s' is not an IPv4 or IPv6 address", pct + 1);
    if (gfamily != family)
        return item_error(error, item, "the gateway and the network are not of the same "
                          "family");
    r = g_new0(VsbNetspecRoute, 1);
    r->family = family;
    r->network = ip_to_string(family, bin);
    r->prefix = prefix;
    r->gateway = ip_to_string(family, gbin);
    g_ptr_array_add(n->routes, r);
    return true;
}

static bool
parse_mac(VsbNetspec *n, const char *item, const char *value, GError **error)
{
    g_auto(GStrv) parts = g_strsplit(value, ":", -1);
    guint8 b[6];

    if (g_strv_length(parts) != 6)
        return item_error(error, item, "expected a MAC address of six hex bytes, "
                          "e.g. 52:54:00:12:34:56");
    for (int i = 0; i < 6; i++) {
        if (strlen(parts[i]) != 2 || !g_ascii_isxdigit(parts[i][0]) ||
            !g_ascii_isxdigit(parts[i][1]))
            return item_error(error, item, "'%s' is not a hex byte", parts[i]);
        b[i] = g_ascii_xdigit_value(parts[i][0]) << 4 | g_ascii_xdigit_value(parts[i][1]);
    }
    if (b[0] & 1)
        return item_error(error, item, "a multicast address cannot be an interface's");
    if (!(b[0] | b[1] | b[2] | b[3] | b[4] | b[5]))
        return item_error(error, item, "the all-zero address cannot be an interface's");
    n->mac = g_strdup_printf("%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4],
                             b[5]);
    return true;
}

/* Interface and bridge names: what the kernel takes (IFNAMSIZ - 1,
 * no '/', ':' or space); network names: libvirt's (no '/'). */
static bool
parse_source(VsbNetspec *n, const char *item, const char *value, GError **error)
{
    const char *name = value;

    n->kind = VSB_NETSPEC_SOURCE_NAME;
    if (g_str_has_prefix(value, "bridge:")) {
        n->kind = VSB_NETSPEC_SOURCE_BRIDGE;
        name = value + strlen("bridge:");
    } else if (g_str_has_prefix(value, "network:")) {
        n->kind = VSB_NETSPEC_SOURCE_NETWORK;
        name = value + strlen("network:");
    }
    if (!name[0])
        return item_error(error, item, "empty name");
    if (strchr(name, '/') || g_str_equal(name, ".") || g_str_equal(name, ".."))
        return item_error(error, item, "'%s' is not a network or bridge name", name);
    if (n->kind == VSB_NETSPEC_SOURCE_BRIDGE &&
        (strlen(name) > 15 || strpbrk(name, ": \t\n")))
        return item_error(error, item, "'%s' is not an interface name (at most 15 "
                          "characters, no ':' or spaces)", name);
    n->source = g_strdup(name);
    return true;
}

VsbNetspec *
vsb_netspec_parse(const char *spec, GError **error)
{
    g_autoptr(VsbNetspec) n = g_new0(VsbNetspec, 1);
    g_auto(GStrv) items = NULL;

    n->addresses = g_ptr_array_new_with_free_func((GDestroyNotify)address_free);
    n->routes = g_ptr_array_new_with_free_func((GDestroyNotify)route_free);
    if (!spec[0]) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "empty network spec (e.g. dhcp,source=default)");
        return NULL;
    }
    items = g_strsplit(spec, ",", -1);
    for (size_t i = 0; items[i]; i++) {
        const char *item = items[i];
        const char *eq = strchr(item, '=');
        g_autofree char *key = eq ? g_strndup(item, eq - item) : g_strdup(item);
        const char *value = eq ? eq + 1 : NULL;
        bool ok;

        if (!item[0]) {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                        "empty item (two commas, or one at an end)");
            return NULL;
        }
        if (g_str_equal(key, "dhcp")) {
            if (value) {
                item_error(error, item, "dhcp takes no value");
                return NULL;
            }
            if (n->dhcp) {
                item_error(error, item, "given twice");
                return NULL;
            }
            n->dhcp = true;
            continue;
        }
        if (!value) {
            item_error(error, item, "unknown item (expected dhcp, source=, address=, route= "
                       "or mac=)");
            return NULL;
        }
        if (g_str_equal(key, "source")) {
            if (n->source) {
                item_error(error, item, "only one source");
                return NULL;
            }
            ok = parse_source(n, item, value, error);
        } else if (g_str_equal(key, "mac")) {
            if (n->mac) {
                item_error(error, item, "only one mac");
                return NULL;
            }
            ok = parse_mac(n, item, value, error);
        } else if (g_str_equal(key, "address")) {
            ok = parse_address(n, item, value, error);
        } else if (g_str_equal(key, "route")) {
            ok = parse_route(n, item, value, error);
        } else {
            item_error(error, item, "unknown key '%s' (expected source, address, route or mac)",
                       key);
            return NULL;
        }
        if (!ok)
            return NULL;
    }
    if (n->dhcp && n->addresses->len) {
        VsbNetspecAddress *a = g_ptr_array_index(n->addresses, 0);
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "address=%s/%u: dhcp and static addresses exclude each other", a->address,
                    a->prefix);
        return NULL;
    }
    if (n->routes->len && !n->addresses->len) {
        VsbNetspecRoute *r = g_ptr_array_index(n->routes, 0);
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "route=%s/%u%%%s: a route needs a static address (with dhcp the "
                    "server gives the router)", r->network, r->prefix, r->gateway);
        return NULL;
    }
    if (!n->source)
        n->source = g_strdup(VSB_NETSPEC_DEFAULT_SOURCE);
    return g_steal_pointer(&n);
}

VsbNetspecSourceKind
vsb_netspec_resolve(const VsbNetspec *n)
{
    g_autofree char *status = NULL, *defined = NULL, *bridge = NULL;

    if (n->kind != VSB_NETSPEC_SOURCE_NAME)
        return n->kind;
    status = g_strdup_printf("/run/libvirt/network/%s.xml", n->source);
    /* libvirt's own paths, whatever our prefix. */
    defined = g_strdup_printf("/etc/libvirt/qemu/networks/%s.xml", n->source);
    bridge = g_strdup_printf("/sys/class/net/%s/bridge", n->source);
    if (!g_file_test(status, G_FILE_TEST_EXISTS) && !g_file_test(defined, G_FILE_TEST_EXISTS) &&
        strlen(n->source) <= 15 && g_file_test(bridge, G_FILE_TEST_IS_DIR))
        return VSB_NETSPEC_SOURCE_BRIDGE;
    return VSB_NETSPEC_SOURCE_NETWORK;
}

char *
vsb_netspec_to_string(const VsbNetspec *n)
{
    GString *s = g_string_new(NULL);

    g_string_append_printf(s, "%s=%s", vsb_netspec_source_kind_to_string(n->kind), n->source);
    if (n->dhcp)
        g_string_append(s, " dhcp");
    for (guint i = 0; i < n->addresses->len; i++) {
        VsbNetspecAddress *a = g_ptr_array_index(n->addresses, i);
        g_string_append_printf(s, " address=%s/%u", a->address, a->prefix);
        if (a->broadcast)
            g_string_append_printf(s, "%%%s", a->broadcast);
    }
    for (guint i = 0; i < n->routes->len; i++) {
        VsbNetspecRoute *r = g_ptr_array_index(n->routes, i);
        g_string_append_printf(s, " route=%s/%u%%%s", r->network, r->prefix, r->gateway);
    }
    if (n->mac)
        g_string_append_printf(s, " mac=%s", n->mac);
    return g_string_free(s, FALSE);
}
