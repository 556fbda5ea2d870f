/*
 * vsb-ctl-net.c: veth pairs for the container's <interface>s (see
 * vsb-ctl-net.h), through rtnetlink.
 *
 * Two netlink sockets: one in the host's network namespace, one made
 * in the container's (a socket stays in the namespace it was created
 * in, so after a brief setns() there and back every request for the
 * container goes through it without touching our own namespace again).
 */
#include <config.h>

#include "vsb-ctl-net.h"
#include "vsb-domain-net.h"
#include "vsb-util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#define NETWORK_STATUS_DIR "/run/libvirt/network"
/* Made-up host names that are taken already: try this many others. */
#define GENERATED_NAME_TRIES 8

struct VsbCtlNet {
    VsbDomainDef *def;
    GArray *host_ifindex;      /* int: host ends we made, to delete */
};

/* ------------------------------------------------------------------ */
/* rtnetlink                                                          */

typedef struct {
    union {
        struct nlmsghdr hdr;
        char buf[4096];
    };
} NlMsg;

/* A netlink socket and the sequence number of its last request. */
typedef struct {
    int fd;
    guint32 seq;
} NlSock;

static void
nl_sock_clear(NlSock *nl)
{
    if (nl->fd >= 0)
        close(nl->fd);
    nl->fd = -1;
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(NlSock, nl_sock_clear)

static void
nl_msg_init(NlMsg *m, int type, int flags)
{
    memset(m, 0, sizeof(*m));
    m->hdr.nlmsg_len = NLMSG_LENGTH(0);
    m->hdr.nlmsg_type = type;
    m->hdr.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
}

/* Room for @len bytes at the end of the message (zeroed). */
static void *
nl_msg_put(NlMsg *m, size_t len)
{
    char *p = m->buf + NLMSG_ALIGN(m->hdr.nlmsg_len);

    /* our messages are a few hundred bytes: overflowing is a bug */
    g_assert(NLMSG_ALIGN(m->hdr.nlmsg_len) + RTA_ALIGN(len) <= sizeof(m->buf));
    m->hdr.nlmsg_len = NLMSG_ALIGN(m->hdr.nlmsg_len) + RTA_ALIGN(len);
    return p;
}

static struct rtattr *
nl_attr(NlMsg *m, int type, const void *data, size_t len)
{
    struct rtattr *a = nl_msg_put(m, RTA_LENGTH(len));

    a->rta_type = type;
    a->rta_len = RTA_LENGTH(len);
    if (len)
        memcpy(RTA_DATA(a), data, len);
    return a;
}

static void
nl_attr_str(NlMsg *m, int type, const char *s)
{
    nl_attr(m, type, s, strlen(s) + 1);
}

static void
nl_attr_u32(NlMsg *m, int type, guint32 v)
{
    nl_attr(m, type, &v, sizeof(v));
}

static void
nl_nest_end(NlMsg *m, struct rtattr *nest)
{
    nest->rta_len = (unsigned short)(m->buf + m->hdr.nlmsg_len - (char *)nest);
}

static bool
nl_open(NlSock *nl, GError **error)
{
    struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

    nl->seq = 0;
    nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (nl->fd < 0)
        return vsb_error_set_errno(error, errno, "Cannot open a netlink socket");
    if (bind(nl->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        vsb_error_set_errno(error, errno, "Cannot bind a netlink socket");
        nl_sock_clear(nl);
        return false;
    }
    return true;
}

/* Send @m, wait for its acknowledgement: 0 or -errno.  With @reply_ifindex,
 * the index of the link the kernel answered with (RTM_GETLINK). */
static int
nl_transact(NlSock *nl, NlMsg *m, int *reply_ifindex)
{
    struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
    g_autofree char *buf = g_malloc(65536);

    m->hdr.nlmsg_seq = ++nl->seq;
    if (sendto(nl->fd, m, m->hdr.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
        return -errno;
    for (;;) {
        ssize_t n = recv(nl->fd, buf, 65536, 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
             h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_seq != m->hdr.nlmsg_seq)
                continue;
            if (h->nlmsg_type == NLMSG_ERROR) {
                struct nlmsgerr *e = NLMSG_DATA(h);

                return e->error;
            }
            if (h->nlmsg_type == RTM_NEWLINK && reply_ifindex)
                *reply_ifindex = ((struct ifinfomsg *)NLMSG_DATA(h))->ifi_index;
        }
    }
}

/* The index of link @name, or -errno. */
static int
nl_ifindex(NlSock *nl, const char *name)
{
    NlMsg m;
    struct ifinfomsg *ifi;
    int index = 0;
    int rc;

    nl_msg_init(&m, RTM_GETLINK, 0);
    ifi = nl_msg_put(&m, sizeof(*ifi));
    ifi->ifi_family = AF_UNSPEC;
    nl_attr_str(&m, IFLA_IFNAME, name);
    /* no statistics: a smaller answer */
    nl_attr_u32(&m, IFLA_EXT_MASK, 0);
    if ((rc = nl_transact(nl, &m, &index)) < 0)
        return rc;
    return index > 0 ? index : -ENODEV;
}

typedef struct {
    const char *host;
    guint8 host_mac[6];
    const char *guest;
    const guint8 *guest_mac;
    unsigned int mtu;
    int netns_fd;              /* the container's network namespace */
} VethSpec;

/* One request: the host end here, its peer created straight in the
 * container's namespace under its final name. */
static int
nl_create_veth(NlSock *nl, const VethSpec *v)
{
    NlMsg m;
    struct ifinfomsg *ifi;
    struct rtattr *linkinfo, *data, *peer;

    nl_msg_init(&m, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    ifi = nl_msg_put(&m, sizeof(*ifi));
    ifi->ifi_family = AF_UNSPEC;
    nl_attr_str(&m, IFLA_IFNAME, v->host);
    nl_attr(&m, IFLA_ADDRESS, v->host_mac, 6);
    if (v->mtu)
        nl_attr_u32(&m, IFLA_MTU, v->mtu);
    linkinfo = nl_attr(&m, IFLA_LINKINFO, NULL, 0);
    nl_attr_str(&m, IFLA_INFO_KIND, "veth");
    data = nl_attr(&m, IFLA_INFO_DATA, NULL, 0);
    peer = nl_attr(&m, VETH_INFO_PEER, NULL, 0);
    ifi = nl_msg_put(&m, sizeof(*ifi));
    ifi->ifi_family = AF_UNSPEC;
    nl_attr_str(&m, IFLA_IFNAME, v->guest);
    nl_attr(&m, IFLA_ADDRESS, v->guest_mac, 6);
    if (v->mtu)
        nl_attr_u32(&m, IFLA_MTU, v->mtu);
    nl_attr_u32(&m, IFLA_NET_NS_FD, (guint32)v->netns_fd);
    nl_nest_end(&m, peer);
    nl_nest_end(&m, data);
    nl_nest_end(&m, linkinfo);
    return nl_transact(nl, &m, NULL);
}

/* @master >= 0: enslave to it; @up: bring up. */
static int
nl_link_set(NlSock *nl, int ifindex, int master, bool up)
{
    NlMsg m;
    struct ifinfomsg *ifi;

    nl_msg_init(&m, RTM_NEWLINK, 0);
    ifi = nl_msg_put(&m, sizeof(*ifi));
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = ifindex;
    ifi->ifi_flags = up ? IFF_UP : 0;
    ifi->ifi_change = up ? IFF_UP : 0;
    if (master >= 0)
        nl_attr_u32(&m, IFLA_MASTER, (guint32)master);
    return nl_transact(nl, &m, NULL);
}

static int
nl_link_del(NlSock *nl, int ifindex)
{
    NlMsg m;
    struct ifinfomsg *ifi;

    nl_msg_init(&m, RTM_DELLINK, 0);
    ifi = nl_msg_put(&m, sizeof(*ifi));
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = ifindex;
    return nl_transact(nl, &m, NULL);
}

static size_t
addr_len(int family)
{
    return family == AF_INET ? 4 : 16;
}

static int
nl_addr_add(NlSock *nl, int ifindex, const VsbDomainNetIP *ip)
{
    NlMsg m;
    struct ifaddrmsg *ifa;
    unsigned int prefix = vsb_domain_net_prefix(ip->family, ip->address, ip->prefix);

    nl_msg_init(&m, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
    ifa = nl_msg_put(&m, sizeof(*ifa));
    ifa->ifa_family = ip->family;
    ifa->ifa_prefixlen = prefix;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = ifindex;
    nl_attr(&m, IFA_LOCAL, ip->address, addr_len(ip->family));
    nl_attr(&m, IFA_ADDRESS, ip->address, addr_len(ip->family));
    /* what `ip addr add A/P broadcast +` gives, as libvirt sets it */
    if (ip->family == AF_INET && prefix < 31) {
        guint32 brd;

        memcpy(&brd, ip->address, 4);
        brd |= htonl(~0u >> prefix);
        nl_attr(&m, IFA_BROADCAST, &brd, 4);
    }
    return nl_transact(nl, &m, NULL);
}

static int
nl_route_add(NlSock *nl, int ifindex, const VsbDomainNetRoute *rt)
{
    NlMsg m;
    struct rtmsg *r;
    unsigned int prefix = vsb_domain_net_prefix(rt->family, rt->address, rt->prefix);

    nl_msg_init(&m, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
    r = nl_msg_put(&m, sizeof(*r));
    r->rtm_family = rt->family;
    r->rtm_dst_len = prefix;
    r->rtm_table = RT_TABLE_MAIN;
    r->rtm_protocol = RTPROT_BOOT;
    r->rtm_scope = RT_SCOPE_UNIVERSE;
    r->rtm_type = RTN_UNICAST;
    if (prefix)
        nl_attr(&m, RTA_DST, rt->address, addr_len(rt->family));
    nl_attr(&m, RTA_GATEWAY, rt->gateway, addr_len(rt->family));
    nl_attr_u32(&m, RTA_OIF, (guint32)ifindex);
    if (rt->metric)
        nl_attr_u32(&m, RTA_PRIORITY, rt->metric);
    return nl_transact(nl, &m, NULL);
}

/* A netlink socket living in the namespace @netns_fd. */
static bool
nl_open_in(NlSock *nl, int netns_fd, GError **error)
{
    g_auto(VsbFd) self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    bool ok;

    if (self < 0)
        return vsb_error_set_errno(error, errno, "Cannot open /proc/thread-self/ns/net");
    if (setns(netns_fd, CLONE_NEWNET) < 0)
        return vsb_error_set_errno(error, errno,
                                   "Cannot enter the container's network namespace");
    ok = nl_open(nl, error);
    /* Staying in the container's namespace would put every later
     * socket of the controller there: no way to go on. */
    if (setns(self, CLONE_NEWNET) < 0)
        g_error("Cannot return to the host's network namespace: %s", g_strerror(errno));
    return ok;
}

/* ------------------------------------------------------------------ */
/* bridges and libvirt's networks                                      */

static xmlNode *
xml_child(xmlNode *node, const char *name)
{
    for (xmlNode *c = node ? node->children : NULL; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, BAD_CAST name))
            return c;
    }
    return NULL;
}

char *
vsb_ctl_net_network_bridge(const char *status_dir, const char *name, GError **error)
{
    g_autofree char *base = g_strdup_printf("%s.xml", name);
    g_autofree char *path = g_build_filename(status_dir ? status_dir : NETWORK_STATUS_DIR,
                                             base, NULL);
    g_autofree char *text = NULL;
    xmlDoc *doc;
    xmlNode *root, *network, *bridge;
    xmlChar *br;
    char *result = NULL;
    gsize len;

    /* libvirt writes the file when the network starts and removes it
     * when it stops: no file, no active network. */
    if (!(text = vsb_file_read_all(path, &len, NULL))) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_NOT_FOUND,
                    "libvirt network '%s' is not active (no %s): start it with "
                    "virsh net-start %s", name, path, name);
        return NULL;
    }
    doc = xmlReadMemory(text, (int)len, path, NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_FAILED,
                    "libvirt network '%s': cannot parse %s", name, path);
        return NULL;
    }
    root = xmlDocGetRootElement(doc);
    /* <networkstatus><network>...; older libvirt: <network> alone */
    network = root && xmlStrEqual(root->name, BAD_CAST "network") ? root
                                                                   : xml_child(root, "network");
    bridge = xml_child(network, "bridge");
    br = bridge ? xmlGetNoNsProp(bridge, BAD_CAST "name") : NULL;
    if (br && *br)
        result = g_strdup((const char *)br);
    else
        g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
                    "libvirt network '%s' has no bridge (%s has no <bridge name=...>): "
                    "a container attaches to a network through its bridge", name, path);
    xmlFree(br);
    xmlFreeDoc(doc);
    return result;
}

static bool
check_bridge(const char *bridge, GError **error)
{
    g_autofree char *dev = g_build_filename("/sys/class/net", bridge, NULL);
    g_autofree char *br = g_build_filename(dev, "bridge", NULL);

    if (access(dev, F_OK) < 0) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_NOT_FOUND,
                    "bridge '%s' does not exist on the host", bridge);
        return false;
    }
    if (access(br, F_OK) < 0) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                    "host interface '%s' is not a bridge (no %s)", bridge, br);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */

VsbCtlNet *
vsb_ctl_net_new(VsbDomainDef *def)
{
    VsbCtlNet *net = g_new0(VsbCtlNet, 1);

    net->def = def;
    net->host_ifindex = g_array_new(FALSE, FALSE, sizeof(int));
    return net;
}

void
vsb_ctl_net_free(VsbCtlNet *net)
{
    if (!net)
        return;
    g_array_unref(net->host_ifindex);
    g_free(net);
}

/* "vsb" and 8 hex digits, from the domain's uuid and the interface's
 * index: the same domain tends to get the same names; a clash (taken
 * by another domain or anything else) moves on to the next @attempt. */
static char *
generated_name(const VsbDomainDef *def, guint i, guint attempt)
{
    char uuid[37];
    g_autofree char *key = NULL;
    g_autofree char *sum = NULL;

    vsb_domain_uuid_format(def->uuid, uuid);
    key = g_strdup_printf("%s/%u/%u", uuid, i, attempt);
    sum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, key, -1);
    return g_strdup_printf("vsb%.8s", sum);
}

/* The host end and its peer; the host end's name ends up in
 * iface->target_dev and its index in @host_index. */
static bool
create_pair(VsbCtlNet *net, guint i, NlSock *host, VethSpec *v, int *host_index,
            GError **error)
{
    VsbDomainNet *iface = net->def->interfaces->pdata[i];
    g_autofree char *name = NULL;
    int rc;

    if (iface->target_dev) {
        v->host = iface->target_dev;
        rc = nl_create_veth(host, v);
        if (rc == -EEXIST) {
            g_set_error(error, VSB_ERROR, VSB_ERROR_EXISTS,
                        "host interface '%s' (<target dev>) exists already", v->host);
            return false;
        }
    } else {
        for (guint attempt = 0;; attempt++) {
            g_free(name);
            name = generated_name(net->def, i, attempt);
            v->host = name;
            rc = nl_create_veth(host, v);
            if (rc != -EEXIST || attempt + 1 == GENERATED_NAME_TRIES)
                break;
        }
    }
    if (rc < 0)
        return vsb_error_set_errno(error, -rc, "Cannot create the veth pair %s (host) - %s "
                                   "(container)", v->host, v->guest);
    rc = nl_ifindex(host, v->host);
    if (rc < 0)
        return vsb_error_set_errno(error, -rc, "Cannot find the new host interface %s",
                                   v->host);
    *host_index = rc;
    g_array_append_val(net->host_ifindex, rc);
    if (name)
        iface->target_dev = g_steal_pointer(&name);
    return true;
}

/* The container's end: addresses, up, routes (which need it up). */
static bool
setup_guest_end(const VsbDomainNet *iface, NlSock *ct, const char *guest, GError **error)
{
    int idx = nl_ifindex(ct, guest);
    int rc;

    if (idx < 0)
        return vsb_error_set_errno(error, -idx, "Cannot find %s in the container", guest);
    for (guint k = 0; k < iface->ips->len; k++) {
        const VsbDomainNetIP *ip = &g_array_index(iface->ips, VsbDomainNetIP, k);

        if ((rc = nl_addr_add(ct, idx, ip)) < 0) {
            char a[INET6_ADDRSTRLEN] = "?";

            inet_ntop(ip->family, ip->address, a, sizeof(a));
            return vsb_error_set_errno(error, -rc, "Cannot add address %s/%u to %s", a,
                                       vsb_domain_net_prefix(ip->family, ip->address,
                                                             ip->prefix), guest);
        }
    }
    if (iface->link != VSB_DOMAIN_TRISTATE_OFF && (rc = nl_link_set(ct, idx, -1, true)) < 0)
        return vsb_error_set_errno(error, -rc, "Cannot bring %s up in the container", guest);
    for (guint k = 0; k < iface->routes->len; k++) {
        const VsbDomainNetRoute *rt = &g_array_index(iface->routes, VsbDomainNetRoute, k);

        if ((rc = nl_route_add(ct, idx, rt)) < 0) {
            char a[INET6_ADDRSTRLEN] = "?", g[INET6_ADDRSTRLEN] = "?";

            inet_ntop(rt->family, rt->address, a, sizeof(a));
            inet_ntop(rt->family, rt->gateway, g, sizeof(g));
            return vsb_error_set_errno(error, -rc, "Cannot add route %s/%u via %s on %s%s", a,
                                       vsb_domain_net_prefix(rt->family, rt->address,
                                                             rt->prefix), g, guest,
                                       iface->link == VSB_DOMAIN_TRISTATE_OFF
                                           ? " (its link state is down)" : "");
        }
    }
    return true;
}

static bool
setup_one(VsbCtlNet *net, guint i, NlSock *host, NlSock *ct, int netns_fd, GError **error)
{
    VsbDomainNet *iface = net->def->interfaces->pdata[i];
    g_autofree char *guest = vsb_domain_net_guest_dev(net->def, i);
    g_autofree char *network_bridge = NULL;
    const char *bridge = NULL;
    VethSpec v = { .guest = guest, .guest_mac = iface->mac, .mtu = iface->mtu,
                   .netns_fd = netns_fd };
    int host_index = -1, bridge_index = -1, rc;

    if (iface->type == VSB_DOMAIN_NET_BRIDGE) {
        bridge = iface->source;
    } else if (iface->type == VSB_DOMAIN_NET_NETWORK) {
        if (!(network_bridge = vsb_ctl_net_network_bridge(NULL, iface->source, error)))
            return false;
        bridge = network_bridge;
    }
    if (bridge) {
        if (!check_bridge(bridge, error))
            return false;
        if ((bridge_index = nl_ifindex(host, bridge)) < 0)
            return vsb_error_set_errno(error, -bridge_index, "Cannot find bridge %s", bridge);
    }
    memcpy(v.host_mac, iface->mac, 6);
    v.host_mac[0] = 0xfe;
    if (!create_pair(net, i, host, &v, &host_index, error))
        return false;
    if (bridge && (rc = nl_link_set(host, host_index, bridge_index, false)) < 0)
        return vsb_error_set_errno(error, -rc, "Cannot attach %s to bridge %s",
                                   iface->target_dev, bridge);
    if ((rc = nl_link_set(host, host_index, -1, true)) < 0)
        return vsb_error_set_errno(error, -rc, "Cannot bring %s up", iface->target_dev);
    return setup_guest_end(iface, ct, guest, error);
}

bool
vsb_ctl_net_setup(VsbCtlNet *net, pid_t pid, GError **error)
{
    g_autofree char *ns_path = NULL;
    g_auto(VsbFd) netns_fd = -1;
    g_auto(NlSock) host = { .fd = -1 };
    g_auto(NlSock) ct = { .fd = -1 };

    if (net->def->interfaces->len == 0)
        return true;
    ns_path = g_strdup_printf("/proc/%d/ns/net", (int)pid);
    if ((netns_fd = open(ns_path, O_RDONLY | O_CLOEXEC)) < 0)
        return vsb_error_set_errno(error, errno, "Cannot open %s", ns_path);
    if (!nl_open(&host, error) || !nl_open_in(&ct, netns_fd, error))
        return false;
    for (guint i = 0; i < net->def->interfaces->len; i++) {
        if (!setup_one(net, i, &host, &ct, netns_fd, error)) {
            const VsbDomainNet *iface = net->def->interfaces->pdata[i];

            g_prefix_error(error, "Interface %u (type '%s'%s%s%s): ", i,
                           vsb_domain_net_type_to_string(iface->type),
                           iface->source ? ", source '" : "",
                           iface->source ? iface->source : "", iface->source ? "'" : "");
            return false;
        }
    }
    return true;
}

bool
vsb_ctl_net_teardown(VsbCtlNet *net, GError **error)
{
    g_auto(NlSock) nl = { .fd = -1 };
    bool ok = true;

    if (!net || net->host_ifindex->len == 0)
        return true;
    if (!nl_open(&nl, error)) {
        g_prefix_error(error, "Cannot delete the host ends of the veth pairs (they go with "
                       "the container's network namespace): ");
        return false;
    }
    for (guint i = 0; i < net->host_ifindex->len; i++) {
        int index = g_array_index(net->host_ifindex, int, i);
        int rc = nl_link_del(&nl, index);

        /* ENODEV: gone with the namespace already */
        if (rc < 0 && rc != -ENODEV && ok)
            ok = vsb_error_set_errno(error, -rc, "Cannot delete host interface %d", index);
    }
    g_array_set_size(net->host_ifindex, 0);
    return ok;
}
