/*
 * vsb-init-net.c: the sandbox's network interfaces, set up by init
 * after the mounts (config "net", "ipaddr", "iproute"; -N on the host).
 *
 * In an LXC sandbox the controller has made each interface (a veth),
 * named it, and given it its static addresses and routes: init only
 * runs DHCP on those that ask for it.  In a KVM guest nothing else
 * exists: init brings the virtio NICs up and gives them their static
 * addresses and routes too.  Both through rtnetlink (no ip(8) in a
 * static init, and none needed in the sandbox's root).
 *
 * DHCP (RFC 2131, messages in vsb-init-dhcp.c): a UDP socket on port
 * 68 bound to the device (SO_BINDTODEVICE: the device has no address
 * yet, and the kernel then sends the limited broadcast out of it and
 * hands us the broadcast replies that arrive on it).  DISCOVER until
 * an OFFER, REQUEST until an ACK (a NAK starts over), each wait
 * doubling from 1 s, all within DHCP_TOTAL_MS; then the address with
 * the subnet's prefix, the router as default route, and when the
 * server named DNS servers, a resolv.conf: bind-mounted on
 * /etc/resolv.conf (the root is read-only) from VSB_INIT_GUEST_DIR on
 * the sandbox's private /run.
 *
 * The lease is then kept for as long as init runs (a service sandbox
 * outlives libvirt's hour-long leases; once expired the server may
 * give the address to another host).  Init's main loop drives it
 * (vsb_init_leases_*): a poll timeout for the next time, the socket
 * (left open and bound to the device) for the replies, each step a
 * non-blocking send or receive, never a wait.  RFC 2131 4.4.5's states:
 * BOUND until T1, then RENEWING: a REQUEST with ciaddr unicast to the
 * server that gave the lease (as the RFC says: it reaches the one
 * server that knows the lease, and wakes no other host), until T2,
 * then REBINDING: the same REQUEST broadcast, for any server, until
 * the lease expires.  Retransmissions after half the time left, at
 * least 60 s apart (the RFC's floor).  An ACK starts the lease over;
 * a NAK while renewing goes on to rebinding at once (another server
 * may still know the lease), a NAK while rebinding or the expiry loses
 * it.  A lost lease is logged (on the tool's stderr, or a service's
 * console) and its address removed from the device, with the routes
 * through it: RFC 2131 says the client MUST stop using it, and keeping
 * it would clash with the host it is given to next.  Init does not
 * look for a new lease then: the program may have told its peers the
 * old address, and a new one would change under it without notice.
 * Lease times run on CLOCK_BOOTTIME: a suspended host's sandbox must
 * not believe it still holds a lease that ran out while it slept.
 * Infinite leases (and ACKs without a lease time) need nothing.
 */
#include <config.h>

#include "vsb-init.h"
#include "vsb-init-config.h"
#include "vsb-init-dhcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* All of DHCP on one interface, and the first and longest wait. */
#define DHCP_TOTAL_MS 30000
#define DHCP_FIRST_WAIT_MS 1000
#define DHCP_MAX_WAIT_MS 8000
/* RFC 2131 4.4.5: retransmissions while renewing or rebinding wait at
 * least this long. */
#define RENEW_MIN_RETRY_MS 60000
/* A lease so short that its T1 is past when it is acknowledged would
 * have init renew as fast as the server answers. */
#define RENEW_MIN_GAP_MS 1000
/* Replies read per wakeup: the relay loop is not held up by a flood. */
#define RENEW_MAX_READS 8
#define RESOLV_CONF "/etc/resolv.conf"
#define RESOLV_PRIVATE VSB_INIT_GUEST_DIR "/resolv.conf"

/* The lease clock: counts while the host is suspended. */
static int64_t
boot_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ */
/* rtnetlink                                                           */

typedef struct {
    struct nlmsghdr h;
    union {
        struct ifinfomsg ifi;
        struct ifaddrmsg ifa;
        struct rtmsg rt;
    };
    char attrs[256];
} NlReq;

static void
nl_attr(NlReq *req, unsigned short type, const void *data, size_t len)
{
    struct rtattr *rta = (struct rtattr *)((char *)req + NLMSG_ALIGN(req->h.nlmsg_len));

    rta->rta_type = type;
    rta->rta_len = RTA_LENGTH(len);
    memcpy(RTA_DATA(rta), data, len);
    req->h.nlmsg_len = NLMSG_ALIGN(req->h.nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/* Send @req and read the kernel's answer: 0 or a negative errno. */
static int
nl_talk(NlReq *req)
{
    static uint32_t seq;
    struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
    char buf[4096];
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    int rc = -EIO;

    if (fd < 0)
        return -errno;
    req->h.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
    req->h.nlmsg_seq = ++seq;
    if (sendto(fd, req, req->h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
        rc = -errno;
        goto out;
    }
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        struct nlmsghdr *h = (struct nlmsghdr *)buf;

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            goto out;
        }
        for (; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_seq != req->h.nlmsg_seq)
                continue;
            if (h->nlmsg_type == NLMSG_ERROR) {
                rc = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
                goto out;
            }
        }
    }
 out:
    close(fd);
    return rc;
}

static int
link_up(int ifindex)
{
    NlReq req = { .h = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)),
                         .nlmsg_type = RTM_NEWLINK } };

    req.ifi.ifi_family = AF_UNSPEC;
    req.ifi.ifi_index = ifindex;
    req.ifi.ifi_flags = IFF_UP;
    req.ifi.ifi_change = IFF_UP;
    return nl_talk(&req);
}

static int
addr_add(int ifindex, int family, const unsigned char *addr, unsigned prefix,
         const unsigned char *broadcast)
{
    NlReq req = { .h = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg)),
                         .nlmsg_type = RTM_NEWADDR,
                         .nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL } };
    size_t alen = family == AF_INET ? 4 : 16;

    req.ifa.ifa_family = family;
    req.ifa.ifa_prefixlen = prefix;
    req.ifa.ifa_index = ifindex;
    req.ifa.ifa_scope = RT_SCOPE_UNIVERSE;
    nl_attr(&req, IFA_LOCAL, addr, alen);
    nl_attr(&req, IFA_ADDRESS, addr, alen);
    if (broadcast)
        nl_attr(&req, IFA_BROADCAST, broadcast, 4);
    return nl_talk(&req);
}

static int
addr_del(int ifindex, const unsigned char *addr, unsigned prefix)
{
    NlReq req = { .h = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg)),
                         .nlmsg_type = RTM_DELADDR } };

    req.ifa.ifa_family = AF_INET;
    req.ifa.ifa_prefixlen = prefix;
    req.ifa.ifa_index = ifindex;
    nl_attr(&req, IFA_LOCAL, addr, 4);
    nl_attr(&req, IFA_ADDRESS, addr, 4);
    return nl_talk(&req);
}

static int
route_add(int ifindex, int family, const unsigned char *dst, unsigned prefix,
          const unsigned char *gateway, unsigned char protocol)
{
    NlReq req = { .h = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg)),
                         .nlmsg_type = RTM_NEWROUTE,
                         .nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL } };
    size_t alen = family == AF_INET ? 4 : 16;
    uint32_t oif = ifindex;

    req.rt.rtm_family = family;
    req.rt.rtm_dst_len = prefix;
    req.rt.rtm_table = RT_TABLE_MAIN;
    req.rt.rtm_protocol = protocol;
    req.rt.rtm_scope = RT_SCOPE_UNIVERSE;
    req.rt.rtm_type = RTN_UNICAST;
    if (prefix)
        nl_attr(&req, RTA_DST, dst, alen);
    nl_attr(&req, RTA_GATEWAY, gateway, alen);
    nl_attr(&req, RTA_OIF, &oif, sizeof(oif));
    return nl_talk(&req);
}

static const char *
ip_str(int family, const unsigned char *addr, char *buf)
{
    return inet_ntop(family, addr, buf, INET6_ADDRSTRLEN);
}

/* ------------------------------------------------------------------ */
/* DHCP                                                                */

typedef struct {
    const char *dev;
    int fd;
    uint8_t mac[6];
    uint32_t xid;
    long deadline;
    unsigned sent;          /* messages sent, for the timeout's message */
    int64_t requested;      /* boot_ms() of the first REQUEST the ACK answers */
} Dhcp;

static uint32_t
new_xid(void)
{
    uint32_t xid;

    /* Waits only until the kernel's pool is initialised, which a
     * renewal (minutes after boot) never does. */
    if (getrandom(&xid, sizeof(xid), GRND_NONBLOCK) != sizeof(xid))
        xid = (uint32_t)vsb_init_now_ms() ^ (uint32_t)getpid();
    return xid;
}

static bool
dhcp_open(Dhcp *d, char *err, size_t errlen)
{
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(VSB_DHCP_CLIENT_PORT) };
    struct ifreq ifr = { 0 };
    int one = 1;

    if ((d->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) {
        vsb_init_set_err(err, errlen, "socket: %s", strerror(errno));
        return false;
    }
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", d->dev);
    if (ioctl(d->fd, SIOCGIFHWADDR, &ifr) < 0) {
        vsb_init_set_err(err, errlen, "cannot read its MAC address: %s", strerror(errno));
        return false;
    }
    memcpy(d->mac, ifr.ifr_hwaddr.sa_data, 6);
    if (setsockopt(d->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        setsockopt(d->fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) < 0 ||
        setsockopt(d->fd, SOL_SOCKET, SO_BINDTODEVICE, d->dev, strlen(d->dev) + 1) < 0) {
        vsb_init_set_err(err, errlen, "socket options: %s", strerror(errno));
        return false;
    }
    if (bind(d->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        vsb_init_set_err(err, errlen, "cannot bind UDP port %d: %s", VSB_DHCP_CLIENT_PORT,
                         strerror(errno));
        return false;
    }
    d->xid = new_xid();
    return true;
}

static bool
dhcp_send(Dhcp *d, VsbDhcpType type, const uint8_t *requested, const uint8_t *server,
          char *err, size_t errlen)
{
    uint8_t buf[VSB_DHCP_MAX_PACKET];
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(VSB_DHCP_SERVER_PORT),
                              .sin_addr.s_addr = htonl(INADDR_BROADCAST) };
    size_t len = vsb_dhcp_build(buf, type, d->xid, d->mac, requested, server);

    if (sendto(d->fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
        vsb_init_set_err(err, errlen, "cannot send a DHCP message: %s", strerror(errno));
        return false;
    }
    d->sent++;
    return true;
}

/* Wait until @until (or the deadline) for a reply of one of the types
 * @want1/@want2: 1 with it in @r, 0 on time out, -1 on error. */
static int
dhcp_wait(Dhcp *d, long until, uint8_t want1, uint8_t want2, VsbDhcpReply *r, char *err,
          size_t errlen)
{
    if (until > d->deadline)
        until = d->deadline;
    for (;;) {
        struct pollfd p = { .fd = d->fd, .events = POLLIN };
        uint8_t buf[VSB_DHCP_MAX_PACKET];
        char why[128];
        long left = until - vsb_init_now_ms();
        ssize_t n;
        int rc;

        if (left <= 0)
            return 0;
        rc = poll(&p, 1, left);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0) {
            vsb_init_set_err(err, errlen, "poll: %s", strerror(errno));
            return -1;
        }
        if (rc == 0)
            return 0;
        if ((n = recv(d->fd, buf, sizeof(buf), 0)) < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            vsb_init_set_err(err, errlen, "recv: %s", strerror(errno));
            return -1;
        }
        /* Anything else on port 68 (other clients' replies, stray
         * messages) is not ours: wait on. */
        if (vsb_dhcp_parse(buf, n, d->xid, d->mac, r, why, sizeof(why)) &&
            (r->type == want1 || r->type == want2))
            return 1;
    }
}

static long
next_wait(long wait)
{
    return wait * 2 > DHCP_MAX_WAIT_MS ? DHCP_MAX_WAIT_MS : wait * 2;
}

/* DISCOVER/OFFER/REQUEST/ACK until an ACK or the deadline. */
static bool
dhcp_exchange(Dhcp *d, VsbDhcpReply *ack, char *err, size_t errlen)
{
    for (;;) {
        VsbDhcpReply offer;
        long wait = DHCP_FIRST_WAIT_MS;
        int rc;

        do {
            if (vsb_init_now_ms() >= d->deadline)
                goto timeout;
            if (!dhcp_send(d, VSB_DHCP_DISCOVER, NULL, NULL, err, errlen))
                return false;
            rc = dhcp_wait(d, vsb_init_now_ms() + wait, VSB_DHCP_OFFER, VSB_DHCP_OFFER, &offer, err,
                           errlen);
            wait = next_wait(wait);
        } while (rc == 0);
        if (rc < 0)
            return false;
        if (!offer.has_server) {
            /* RFC 2131 makes option 54 a MUST: without it no REQUEST
             * can name the server. */
            vsb_init_set_err(err, errlen, "the DHCP server's offer names no server (option 54)");
            return false;
        }
        wait = DHCP_FIRST_WAIT_MS;
        /* The lease runs from here (RFC 2131 4.4.1): the earliest the
         * server can have started it. */
        d->requested = boot_ms();
        do {
            if (vsb_init_now_ms() >= d->deadline)
                goto timeout;
            if (!dhcp_send(d, VSB_DHCP_REQUEST, offer.yiaddr, offer.server, err, errlen))
                return false;
            rc = dhcp_wait(d, vsb_init_now_ms() + wait, VSB_DHCP_ACK, VSB_DHCP_NAK, ack, err, errlen);
            wait = next_wait(wait);
        } while (rc == 0);
        if (rc < 0)
            return false;
        if (ack->type == VSB_DHCP_ACK)
            return true;
        /* NAK: the offer went to someone else meanwhile; start over. */
    }
 timeout:
    vsb_init_set_err(err, errlen, "no answer from a DHCP server within %d s (%u messages sent)",
                     DHCP_TOTAL_MS / 1000, d->sent);
    return false;
}

/* The classful default when the server gives no subnet mask (RFC 2131
 * leaves it to the client). */
static int
default_prefix(const uint8_t *a)
{
    return a[0] < 128 ? 8 : a[0] < 192 ? 16 : 24;
}

/* The prefix of the address @ack gives, -1 for a bad netmask. */
static int
ack_prefix(const VsbDhcpReply *ack)
{
    return ack->has_subnet ? vsb_dhcp_mask_prefix(ack->subnet) : default_prefix(ack->yiaddr);
}

static bool
dhcp_apply(const char *dev, int ifindex, const VsbDhcpReply *ack, char *err, size_t errlen)
{
    char a[INET6_ADDRSTRLEN];
    int prefix = ack_prefix(ack);
    uint8_t brd[4];
    uint32_t host;
    int rc;

    if (prefix < 0) {
        vsb_init_set_err(err, errlen, "the DHCP server gave a non-contiguous netmask");
        return false;
    }
    if (ack->has_broadcast) {
        memcpy(brd, ack->broadcast, 4);
    } else {
        memcpy(&host, ack->yiaddr, 4);
        host |= prefix == 0 ? 0xffffffffu : htonl((1u << (32 - prefix)) - 1);
        memcpy(brd, &host, 4);
    }
    if ((rc = addr_add(ifindex, AF_INET, ack->yiaddr, prefix, brd)) < 0) {
        vsb_init_set_err(err, errlen, "cannot add %s/%d to %s: %s", ip_str(AF_INET, ack->yiaddr, a),
                         prefix, dev, strerror(-rc));
        return false;
    }
    if (ack->has_router) {
        static const unsigned char any[16];
        if ((rc = route_add(ifindex, AF_INET, any, 0, ack->router, RTPROT_DHCP)) < 0) {
            vsb_init_set_err(err, errlen, "cannot add the default route via %s: %s",
                             ip_str(AF_INET, ack->router, a), strerror(-rc));
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* resolv.conf                                                         */

static bool
write_file(const char *path, const char *text, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    size_t len = strlen(text);

    if (fd < 0 || write(fd, text, len) != (ssize_t)len) {
        vsb_init_set_err(err, errlen, "cannot write %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return false;
    }
    if (close(fd) < 0) {
        vsb_init_set_err(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return false;
    }
    return true;
}

/* mkdir -p, root's (the sandbox's /run is init's). */
static int
make_dirs(const char *path)
{
    char buf[PATH_MAX + 16];

    if (strlen(path) >= sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(buf, path);
    for (char *p = buf + 1; ; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return -1;
        if (!c)
            return 0;
        *p = c;
    }
}

/* The servers' list in place of the host's /etc/resolv.conf, seen
 * only in the sandbox.  A resolv.conf that is a link into /run (as
 * systemd-resolved's is) points into the sandbox's own /run: the
 * file is written there instead. */
static bool
install_resolv_conf(const char *text, char *err, size_t errlen)
{
    char target[PATH_MAX];
    ssize_t n = readlink(RESOLV_CONF, target, sizeof(target) - 1);

    if (n > 0) {
        char path[PATH_MAX + 8];
        target[n] = '\0';
        snprintf(path, sizeof(path), "%s%s", target[0] == '/' ? "" : "/etc/", target);
        if (strncmp(path, "/run/", 5) == 0 || strncmp(path, "/etc/../run/", 12) == 0) {
            char *slash = strrchr(path, '/');
            *slash = '\0';
            if (make_dirs(path) < 0) {
                vsb_init_set_err(err, errlen, "cannot create %s: %s", path, strerror(errno));
                return false;
            }
            *slash = '/';
            return write_file(path, text, err, errlen);
        }
    }
    if (!write_file(RESOLV_PRIVATE, text, err, errlen))
        return false;
    /* A root without /etc/resolv.conf (a minimal -r tree) has nothing to
     * bind on, and is read-only: its programs resolve no names, as they
     * did without the sandbox; the address and routes work all the same,
     * and the servers stay readable in RESOLV_PRIVATE. */
    if (n < 0 && access(RESOLV_CONF, F_OK) < 0 && errno == ENOENT)
        return true;
    if (mount(RESOLV_PRIVATE, RESOLV_CONF, NULL, MS_BIND, NULL) < 0) {
        vsb_init_set_err(err, errlen, "cannot bind %s on %s: %s", RESOLV_PRIVATE, RESOLV_CONF,
                         strerror(errno));
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */

/* ------------------------------------------------------------------ */
/* Keeping the leases (the header comment says how)                    */

typedef enum {
    LEASE_BOUND,            /* until T1 */
    LEASE_RENEWING,         /* T1 to T2: REQUESTs unicast to the server */
    LEASE_REBINDING,        /* T2 to expiry: REQUESTs broadcast */
    LEASE_FOREVER,          /* infinite: nothing to do */
    LEASE_LOST,             /* expired or refused: the address is removed */
    LEASE_LAST
} LeaseState;

static const char *const lease_state_names[LEASE_LAST] = {
    [LEASE_BOUND] = "bound",
    [LEASE_RENEWING] = "renewing",
    [LEASE_REBINDING] = "rebinding",
    [LEASE_FOREVER] = "infinite",
    [LEASE_LOST] = "lost",
};

typedef struct {
    Dhcp d;                 /* its socket stays open while there is a lease to keep */
    int ifindex;
    uint8_t addr[4];
    int prefix;
    bool has_server;
    uint8_t server[4];      /* option 54 of the last ACK: where renewals go */
    LeaseState state;
    /* boot_ms() times */
    int64_t t1, t2, expiry;
    int64_t xid_sent;       /* first send of the current xid: a new lease's start */
    int64_t retry;          /* next retransmission */
} Lease;

struct VsbInitLeases {
    size_t n;
    Lease *v;
};

/* What a step has to say: @debug for what only -d shows. */
typedef struct {
    VsbInitLogFn fn;
    void *opaque;
} LeaseLog;

static void __attribute__((format(printf, 4, 5)))
lease_log(const LeaseLog *log, const Lease *l, bool debug, const char *fmt, ...)
{
    char msg[512];
    int n = snprintf(msg, sizeof(msg), "DHCP on %s: ", l->d.dev);
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
    va_end(ap);
    log->fn(debug, msg, log->opaque);
}

static void
lease_close(Lease *l)
{
    if (l->d.fd >= 0)
        close(l->d.fd);
    l->d.fd = -1;
}

/* The lease @ack gives, for a REQUEST first sent at @sent. */
static void
lease_bind(Lease *l, const VsbDhcpReply *ack, int64_t sent, int64_t now)
{
    VsbDhcpTimes t;

    if (ack->has_server) {
        memcpy(l->server, ack->server, 4);
        l->has_server = true;
    }
    if (!vsb_dhcp_lease_times(ack, &t)) {
        l->state = LEASE_FOREVER;
        lease_close(l);
        return;
    }
    l->state = LEASE_BOUND;
    l->t1 = sent + (int64_t)t.t1 * 1000;
    l->t2 = sent + (int64_t)t.t2 * 1000;
    l->expiry = sent + (int64_t)t.expiry * 1000;
    if (l->t1 < now + RENEW_MIN_GAP_MS)
        l->t1 = now + RENEW_MIN_GAP_MS;
    if (l->t2 < l->t1)
        l->t2 = l->t1;
}

/* Half the time left until @deadline, at least RENEW_MIN_RETRY_MS
 * (lease_next() stops at the deadline). */
static int64_t
retry_at(int64_t now, int64_t deadline)
{
    int64_t wait = (deadline - now) / 2;

    return now + (wait < RENEW_MIN_RETRY_MS ? RENEW_MIN_RETRY_MS : wait);
}

/* The REQUEST of this state: unicast to the server when renewing,
 * broadcast when rebinding (or when the server never said who it is).
 * A failed send is as a lost datagram: the retransmission follows. */
static void
lease_send(Lease *l, const LeaseLog *log)
{
    uint8_t buf[VSB_DHCP_MAX_PACKET];
    bool unicast = l->state == LEASE_RENEWING && l->has_server;
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(VSB_DHCP_SERVER_PORT),
                              .sin_addr.s_addr = htonl(INADDR_BROADCAST) };
    size_t len = vsb_dhcp_build_renew(buf, l->d.xid, l->d.mac, l->addr);
    char a[INET6_ADDRSTRLEN], s[INET6_ADDRSTRLEN];

    if (unicast)
        memcpy(&to.sin_addr.s_addr, l->server, 4);
    if (sendto(l->d.fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof(to)) < 0) {
        lease_log(log, l, true, "cannot send a REQUEST to %s: %s",
                  unicast ? ip_str(AF_INET, l->server, s) : "255.255.255.255", strerror(errno));
        return;
    }
    lease_log(log, l, true, "%s %s: REQUEST to %s", lease_state_names[l->state],
              ip_str(AF_INET, l->addr, a),
              unicast ? ip_str(AF_INET, l->server, s) : "255.255.255.255");
}

static void
lease_enter(Lease *l, LeaseState state, int64_t now, const LeaseLog *log)
{
    l->state = state;
    l->d.xid = new_xid();
    l->xid_sent = now;
    l->retry = retry_at(now, state == LEASE_RENEWING ? l->t2 : l->expiry);
    lease_send(l, log);
}

/* The address is not ours any more: off the device, and say so
 * whatever the debug setting (the program's network just went away). */
static void
lease_lose(Lease *l, const char *why, const LeaseLog *log)
{
    char a[INET6_ADDRSTRLEN];
    int rc = addr_del(l->ifindex, l->addr, l->prefix);

    l->state = LEASE_LOST;
    lease_close(l);
    ip_str(AF_INET, l->addr, a);
    if (rc < 0 && rc != -EADDRNOTAVAIL)
        lease_log(log, l, false, "lost the lease of %s (%s); cannot remove the address: %s",
                  a, why, strerror(-rc));
    else
        lease_log(log, l, false, "lost the lease of %s (%s): address removed, %s has no "
                  "DHCP address now", a, why, l->d.dev);
}

static void
lease_reply(Lease *l, const VsbDhcpReply *r, int64_t now, const LeaseLog *log)
{
    char a[INET6_ADDRSTRLEN], s[INET6_ADDRSTRLEN];

    if (r->type == VSB_DHCP_NAK) {
        const char *from = r->has_server ? ip_str(AF_INET, r->server, s) : "a server";
        if (l->state == LEASE_RENEWING) {
            lease_log(log, l, true, "%s refused to renew %s (NAK): rebinding", from,
                      ip_str(AF_INET, l->addr, a));
            lease_enter(l, LEASE_REBINDING, now, log);
        } else {
            char why[128];
            snprintf(why, sizeof(why), "%s refused to renew it (NAK)", from);
            lease_lose(l, why, log);
        }
        return;
    }
    if (r->type != VSB_DHCP_ACK)
        return;
    if (memcmp(r->yiaddr, l->addr, 4) != 0) {
        /* Not a renewal of this address: the program keeps its own. */
        lease_log(log, l, true, "ignored an ACK of %s (ours is %s)",
                  ip_str(AF_INET, r->yiaddr, s), ip_str(AF_INET, l->addr, a));
        return;
    }
    lease_bind(l, r, l->xid_sent, now);
    if (l->state == LEASE_FOREVER)
        lease_log(log, l, true, "renewed %s for good", ip_str(AF_INET, l->addr, a));
    else
        lease_log(log, l, true, "renewed %s for %u s, next renewal in %lld s",
                  ip_str(AF_INET, l->addr, a), r->lease, (long long)(l->t1 - now) / 1000);
}

/* What the socket has now (bounded: the relay waits meanwhile). */
static void
lease_read(Lease *l, int64_t now, const LeaseLog *log)
{
    for (int i = 0; i < RENEW_MAX_READS && l->d.fd >= 0; i++) {
        uint8_t buf[VSB_DHCP_MAX_PACKET];
        VsbDhcpReply r;
        char why[128];
        ssize_t n = recv(l->d.fd, buf, sizeof(buf), MSG_DONTWAIT);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            if (errno != EAGAIN)
                lease_log(log, l, true, "recv: %s", strerror(errno));
            return;
        }
        /* Between renewals anything on port 68 is someone else's. */
        if ((l->state == LEASE_RENEWING || l->state == LEASE_REBINDING) &&
            vsb_dhcp_parse(buf, n, l->d.xid, l->d.mac, &r, why, sizeof(why)))
            lease_reply(l, &r, now, log);
    }
}

/* The time's events: the latest due one only, so that a lease found
 * long expired (after a suspend) is just lost. */
static void
lease_tick(Lease *l, int64_t now, const LeaseLog *log)
{
    char a[INET6_ADDRSTRLEN], s[INET6_ADDRSTRLEN];

    if (l->state != LEASE_BOUND && l->state != LEASE_RENEWING && l->state != LEASE_REBINDING)
        return;
    if (now >= l->expiry) {
        lease_lose(l, l->state == LEASE_REBINDING ? "it expired with no DHCP server answering"
                                                  : "it expired before init could renew it",
                   log);
    } else if (now >= l->t2 && l->state != LEASE_REBINDING) {
        if (l->state == LEASE_RENEWING)
            lease_log(log, l, true, "no answer from %s about %s: rebinding",
                      ip_str(AF_INET, l->server, s), ip_str(AF_INET, l->addr, a));
        lease_enter(l, LEASE_REBINDING, now, log);
    } else if (now >= l->t1 && l->state == LEASE_BOUND) {
        lease_enter(l, LEASE_RENEWING, now, log);
    } else if (l->state != LEASE_BOUND && now >= l->retry) {
        l->retry = retry_at(now, l->state == LEASE_RENEWING ? l->t2 : l->expiry);
        lease_send(l, log);
    }
}

/* When the lease next needs the loop, -1 for never. */
static int64_t
lease_next(const Lease *l)
{
    switch (l->state) {
    case LEASE_BOUND:
        return l->t1;
    case LEASE_RENEWING:
        return l->retry < l->t2 ? l->retry : l->t2;
    case LEASE_REBINDING:
        return l->retry < l->expiry ? l->retry : l->expiry;
    case LEASE_FOREVER:
    case LEASE_LOST:
    case LEASE_LAST:
        break;
    }
    return -1;
}

size_t
vsb_init_leases_nfds(const VsbInitLeases *leases)
{
    return leases ? leases->n : 0;
}

void
vsb_init_leases_pollfds(const VsbInitLeases *leases, struct pollfd *pfd)
{
    for (size_t i = 0; i < vsb_init_leases_nfds(leases); i++)
        pfd[i] = (struct pollfd){ .fd = leases->v[i].d.fd, .events = POLLIN };
}

int
vsb_init_leases_timeout(const VsbInitLeases *leases)
{
    int64_t now = boot_ms(), next = -1;

    for (size_t i = 0; i < vsb_init_leases_nfds(leases); i++) {
        int64_t t = lease_next(&leases->v[i]);
        if (t >= 0 && (next < 0 || t < next))
            next = t;
    }
    if (next < 0)
        return -1;
    if (next <= now)
        return 0;
    return next - now > INT_MAX ? INT_MAX : (int)(next - now);
}

void
vsb_init_leases_run(VsbInitLeases *leases, const struct pollfd *pfd, VsbInitLogFn fn,
                    void *opaque)
{
    LeaseLog log = { .fn = fn, .opaque = opaque };
    int64_t now = boot_ms();

    for (size_t i = 0; i < vsb_init_leases_nfds(leases); i++) {
        Lease *l = &leases->v[i];

        /* A reply that came in time wins over the timer that ran out
         * meanwhile. */
        if (pfd && pfd[i].fd >= 0 && pfd[i].fd == l->d.fd && pfd[i].revents)
            lease_read(l, now, &log);
        lease_tick(l, now, &log);
    }
}

/* ------------------------------------------------------------------ */

/* DHCP on @dev: its address and routes applied, its DNS servers added
 * to @resolv, the lease in @lease (socket open unless it needs no
 * renewal). */
static bool
dhcp_run(const char *dev, int ifindex, Lease *lease, char *resolv, size_t resolvlen,
         char *err, size_t errlen)
{
    Dhcp d = { .dev = dev, .fd = -1, .deadline = vsb_init_now_ms() + DHCP_TOTAL_MS };
    VsbDhcpReply ack;
    bool ok = dhcp_open(&d, err, errlen) && dhcp_exchange(&d, &ack, err, errlen) &&
              dhcp_apply(dev, ifindex, &ack, err, errlen);

    if (!ok) {
        if (d.fd >= 0)
            close(d.fd);
        return false;
    }
    for (size_t i = 0; i < ack.ndns; i++) {
        char a[INET6_ADDRSTRLEN];
        size_t used = strlen(resolv);
        snprintf(resolv + used, resolvlen - used, "nameserver %s\n",
                 ip_str(AF_INET, ack.dns[i], a));
    }
    *lease = (Lease){ .d = d, .ifindex = ifindex, .prefix = ack_prefix(&ack) };
    memcpy(lease->addr, ack.yiaddr, 4);
    lease_bind(lease, &ack, d.requested, boot_ms());
    return true;
}

static int
ifindex_of(const char *dev, char *err, size_t errlen)
{
    int i = if_nametoindex(dev);

    if (!i)
        vsb_init_set_err(err, errlen,
                         "no network device %s in the sandbox: %s", dev, strerror(errno));
    return i;
}

bool
vsb_init_do_network(const VsbInitConfig *cfg, VsbInitLeases **leasesp, char *err,
                    size_t errlen)
{
    char resolv[1024] = "# virt-sandbox-init: the DNS servers DHCP gave\n";
    size_t header = strlen(resolv);
    char a[INET6_ADDRSTRLEN], lerr[512];
    VsbInitLeases *leases;
    int lo, rc;

    *leasesp = NULL;
    if (!cfg->nnets)
        return true;
    /* A KVM guest's loopback starts down; a container's is up. */
    if ((lo = if_nametoindex("lo")) && (rc = link_up(lo)) < 0) {
        vsb_init_set_err(err, errlen, "cannot bring lo up: %s", strerror(-rc));
        return false;
    }
    for (size_t i = 0; i < cfg->nnets; i++) {
        const VsbInitNet *n = &cfg->nets[i];
        int ifindex = ifindex_of(n->dev, err, errlen);

        if (!ifindex)
            return false;
        if ((rc = link_up(ifindex)) < 0) {
            vsb_init_set_err(err, errlen, "cannot bring %s up: %s", n->dev, strerror(-rc));
            return false;
        }
    }
    for (size_t i = 0; i < cfg->naddrs; i++) {
        const VsbInitAddr *ad = &cfg->addrs[i];
        int ifindex = ifindex_of(ad->dev, err, errlen);

        if (!ifindex)
            return false;
        if ((rc = addr_add(ifindex, ad->family, ad->addr, ad->prefix,
                           ad->has_broadcast ? ad->broadcast : NULL)) < 0) {
            vsb_init_set_err(err, errlen,
                             "cannot add %s/%u to %s: %s", ip_str(ad->family, ad->addr, a),
                             ad->prefix, ad->dev, strerror(-rc));
            return false;
        }
    }
    for (size_t i = 0; i < cfg->nroutes; i++) {
        const VsbInitRoute *r = &cfg->routes[i];
        int ifindex = ifindex_of(r->dev, err, errlen);
        char g[INET6_ADDRSTRLEN];

        if (!ifindex)
            return false;
        if ((rc = route_add(ifindex, r->family, r->dst, r->prefix, r->gateway,
                            RTPROT_BOOT)) < 0) {
            vsb_init_set_err(err, errlen, "cannot add the route %s/%u via %s on %s: %s",
                             ip_str(r->family, r->dst, a), r->prefix,
                             ip_str(r->family, r->gateway, g), r->dev, strerror(-rc));
            return false;
        }
    }
    /* Init never frees it: it lives as long as init (and a failure
     * here ends init). */
    if (!(leases = calloc(1, sizeof(*leases))) ||
        !(leases->v = calloc(cfg->nnets, sizeof(*leases->v)))) {
        vsb_init_set_err(err, errlen, "out of memory");
        return false;
    }
    for (size_t i = 0; i < cfg->nnets; i++) {
        const VsbInitNet *n = &cfg->nets[i];

        if (!n->dhcp)
            continue;
        if (!dhcp_run(n->dev, ifindex_of(n->dev, err, errlen), &leases->v[leases->n],
                      resolv, sizeof(resolv), lerr, sizeof(lerr))) {
            vsb_init_set_err(err, errlen, "DHCP on %s: %s", n->dev, lerr);
            return false;
        }
        leases->n++;
    }
    if (strlen(resolv) > header && !install_resolv_conf(resolv, err, errlen))
        return false;
    *leasesp = leases;
    return true;
}
