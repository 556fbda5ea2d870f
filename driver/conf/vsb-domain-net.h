/*
 * vsb-domain-net.h: <interface> elements of an LXC domain (libvirt's
 * own syntax, see libvirt-xml/README.md): one veth pair each, the host end on a
 * bridge (type='bridge'), on the bridge of a libvirt network
 * (type='network') or left alone (type='ethernet').
 *
 * Pure code like the rest of driver/conf: whether a bridge or network
 * exists is the controller's business at start time.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <libxml/tree.h>

#include "vsb-domain-conf.h"

G_BEGIN_DECLS

typedef enum {
    VSB_DOMAIN_NET_BRIDGE,     /* <source bridge=...>: a host bridge */
    VSB_DOMAIN_NET_NETWORK,    /* <source network=...>: libvirt's active network's bridge */
    VSB_DOMAIN_NET_ETHERNET,   /* no source: the host end is left unattached */
    VSB_DOMAIN_NET_LAST
} VsbDomainNetType;
const char *vsb_domain_net_type_to_string(VsbDomainNetType t);
int vsb_domain_net_type_from_string(const char *s);  /* -1 if unknown */

/* Longest network device name the kernel takes (IFNAMSIZ - 1). */
#define VSB_DOMAIN_NET_IFNAME_MAX 15

typedef struct {
    int family;              /* AF_INET or AF_INET6 */
    guint8 address[16];      /* network byte order; 4 bytes used for AF_INET */
    int prefix;              /* -1: not given (see vsb_domain_net_prefix()) */
} VsbDomainNetIP;

/* libvirt's interface route: <route [family] address [prefix] gateway [metric]/>. */
typedef struct {
    int family;
    bool family_given;       /* family= written (libvirt writes it back only then) */
    guint8 address[16];
    int prefix;              /* -1: not given */
    guint8 gateway[16];
    unsigned int metric;     /* 0: not given */
} VsbDomainNetRoute;

typedef struct {
    VsbDomainNetType type;
    char *source;            /* bridge name (BRIDGE), network name (NETWORK), NULL (ETHERNET) */
    guint8 mac[6];           /* generated (52:54:00:xx:xx:xx) when not given */
    char *target_dev;        /* host end's name; NULL: the controller makes one up and the
                              * live XML shows it */
    char *guest_dev;         /* container end's name; NULL: ethN, N its index */
    GArray *ips;             /* of VsbDomainNetIP, never NULL */
    GArray *routes;          /* of VsbDomainNetRoute, never NULL */
    unsigned int mtu;        /* 0: not given (the kernel's default) */
    VsbDomainTristate link;  /* <link state=...>: ON up, OFF down, ABSENT (up) */
} VsbDomainNet;

void vsb_domain_net_free(VsbDomainNet *net);

/* Parse one <interface> of <devices> and append it to def->interfaces. */
bool vsb_domain_net_parse(xmlNode *node, VsbDomainDef *def, GError **error);

/* The interfaces against each other (names, MACs); after parsing <devices>. */
bool vsb_domain_net_check(const VsbDomainDef *def, GError **error);

/* Append @net as libvirt formats it, at <devices>' child depth. */
void vsb_domain_net_format(GString *buf, const VsbDomainNet *net);

/* The name of interface @i inside the container: <guest dev> or ethI. */
char *vsb_domain_net_guest_dev(const VsbDomainDef *def, guint i);

/* The prefix length in force: the given one, else libvirt's default
 * (IPv4: the address class's, 0 for 0.0.0.0; IPv6: 64, 0 for ::). */
unsigned int vsb_domain_net_prefix(int family, const guint8 *address, int prefix);

/* "52:54:00:12:34:56" */
void vsb_domain_net_mac_format(const guint8 mac[6], char out[18]);

G_END_DECLS
