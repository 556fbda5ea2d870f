/*
 * vsb-init-dhcp.c: DHCPv4 messages (vsb-init-dhcp.h).
 *
 * The fixed BOOTP header (RFC 2131 section 2), then the magic cookie
 * and options (RFC 2132).  Options in sname/file (overload, option 52)
 * are not read: servers use them only when the options field is full,
 * which the few options a sandbox asks for never make it.
 */
#include <config.h>

#include "vsb-init-dhcp.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Offsets in the BOOTP header. */
enum {
    OFF_OP = 0, OFF_HTYPE = 1, OFF_HLEN = 2, OFF_HOPS = 3, OFF_XID = 4, OFF_SECS = 8,
    OFF_FLAGS = 10, OFF_CIADDR = 12, OFF_YIADDR = 16, OFF_SIADDR = 20, OFF_GIADDR = 24,
    OFF_CHADDR = 28, OFF_SNAME = 44, OFF_FILE = 108, OFF_MAGIC = 236, OFF_OPTIONS = 240,
};
#define BOOTREQUEST 1
#define BOOTREPLY 2
#define HTYPE_ETHER 1
#define FLAG_BROADCAST 0x8000
/* BOOTP's minimum message: some servers and relays drop shorter ones. */
#define MIN_PACKET 300

enum {
    OPT_PAD = 0, OPT_SUBNET = 1, OPT_ROUTER = 3, OPT_DNS = 6, OPT_BROADCAST = 28,
    OPT_REQUESTED = 50, OPT_LEASE = 51, OPT_MSGTYPE = 53, OPT_SERVER = 54, OPT_PARAMS = 55,
    OPT_MAXSIZE = 57, OPT_RENEWAL = 58, OPT_REBINDING = 59, OPT_CLIENTID = 61, OPT_END = 255,
};

static const uint8_t magic[4] = { 99, 130, 83, 99 };

static void __attribute__((format(printf, 3, 4)))
set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static void
put32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

static uint32_t
get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* What a client message carries besides the constant parts. */
typedef struct {
    VsbDhcpType type;
    uint32_t xid;
    const uint8_t *mac;
    const uint8_t *ciaddr;      /* renewing: the bound address; else NULL */
    const uint8_t *requested;   /* option 50, or NULL */
    const uint8_t *server;      /* option 54, or NULL */
} Message;

static size_t
build_message(uint8_t *buf, const Message *m)
{
    static const uint8_t params[] = { OPT_SUBNET, OPT_ROUTER, OPT_DNS, OPT_BROADCAST };
    size_t o = OFF_OPTIONS;

    memset(buf, 0, VSB_DHCP_MAX_PACKET);
    buf[OFF_OP] = BOOTREQUEST;
    buf[OFF_HTYPE] = HTYPE_ETHER;
    buf[OFF_HLEN] = 6;
    put32(buf + OFF_XID, m->xid);
    /* Without an address the client cannot take a unicast reply; with
     * one (ciaddr) the server answers to it. */
    if (m->ciaddr)
        memcpy(buf + OFF_CIADDR, m->ciaddr, 4);
    else
        buf[OFF_FLAGS] = FLAG_BROADCAST >> 8;
    memcpy(buf + OFF_CHADDR, m->mac, 6);
    memcpy(buf + OFF_MAGIC, magic, 4);

    buf[o++] = OPT_MSGTYPE;
    buf[o++] = 1;
    buf[o++] = m->type;
    buf[o++] = OPT_CLIENTID;
    buf[o++] = 7;
    buf[o++] = HTYPE_ETHER;
    memcpy(buf + o, m->mac, 6);
    o += 6;
    if (m->requested) {
        buf[o++] = OPT_REQUESTED;
        buf[o++] = 4;
        memcpy(buf + o, m->requested, 4);
        o += 4;
    }
    if (m->server) {
        buf[o++] = OPT_SERVER;
        buf[o++] = 4;
        memcpy(buf + o, m->server, 4);
        o += 4;
    }
    buf[o++] = OPT_PARAMS;
    buf[o++] = sizeof(params);
    memcpy(buf + o, params, sizeof(params));
    o += sizeof(params);
    /* The largest reply we read (RFC 2132: at least 576). */
    buf[o++] = OPT_MAXSIZE;
    buf[o++] = 2;
    buf[o++] = VSB_DHCP_MAX_PACKET >> 8;
    buf[o++] = VSB_DHCP_MAX_PACKET & 0xff;
    buf[o++] = OPT_END;
    return o < MIN_PACKET ? MIN_PACKET : o;
}

size_t
vsb_dhcp_build(uint8_t *buf, VsbDhcpType type, uint32_t xid, const uint8_t mac[6],
               const uint8_t *requested, const uint8_t *server)
{
    Message m = { .type = type, .xid = xid, .mac = mac, .requested = requested,
                  .server = server };

    return build_message(buf, &m);
}

size_t
vsb_dhcp_build_renew(uint8_t *buf, uint32_t xid, const uint8_t mac[6], const uint8_t ciaddr[4])
{
    /* RFC 2131 4.3.2: options 50 and 54 MUST NOT be in a renewing or
     * rebinding REQUEST (that is how the server tells it from one in
     * the selecting or init-reboot state). */
    Message m = { .type = VSB_DHCP_REQUEST, .xid = xid, .mac = mac, .ciaddr = ciaddr };

    return build_message(buf, &m);
}

bool
vsb_dhcp_lease_times(const VsbDhcpReply *ack, VsbDhcpTimes *t)
{
    uint32_t lease = ack->lease;

    memset(t, 0, sizeof(*t));
    if (lease == 0 || lease == VSB_DHCP_LEASE_INFINITE)
        return false;
    t->expiry = lease;
    /* 64 bits: seven eighths of a lease near 2^32 s. */
    t->t2 = ack->t2 && ack->t2 < lease ? ack->t2 : (uint32_t)((uint64_t)lease * 7 / 8);
    if (ack->t1 && ack->t1 < t->t2)
        t->t1 = ack->t1;
    else
        t->t1 = lease / 2 < t->t2 ? lease / 2 : t->t2;
    return true;
}

/* Option @code of length @len at @v: whether it is well formed. */
static bool
take_option(VsbDhcpReply *r, uint8_t code, const uint8_t *v, size_t len)
{
    switch (code) {
    case OPT_MSGTYPE:
        if (len != 1)
            return false;
        r->type = v[0];
        break;
    case OPT_SUBNET:
    case OPT_SERVER:
    case OPT_BROADCAST:
        if (len != 4)
            return false;
        memcpy(code == OPT_SUBNET ? r->subnet : code == OPT_SERVER ? r->server : r->broadcast,
               v, 4);
        *(code == OPT_SUBNET ? &r->has_subnet : code == OPT_SERVER ? &r->has_server
                                                                   : &r->has_broadcast) = true;
        break;
    case OPT_ROUTER:
        if (len < 4 || len % 4)
            return false;
        memcpy(r->router, v, 4);
        r->has_router = true;
        break;
    case OPT_DNS:
        if (len < 4 || len % 4)
            return false;
        for (size_t i = 0; i < len / 4 && r->ndns < VSB_DHCP_MAX_DNS; i++)
            memcpy(r->dns[r->ndns++], v + 4 * i, 4);
        break;
    case OPT_LEASE:
    case OPT_RENEWAL:
    case OPT_REBINDING:
        if (len != 4)
            return false;
        *(code == OPT_LEASE ? &r->lease : code == OPT_RENEWAL ? &r->t1 : &r->t2) = get32(v);
        break;
    default:
        break;
    }
    return true;
}

bool
vsb_dhcp_parse(const uint8_t *buf, size_t len, uint32_t xid, const uint8_t mac[6],
               VsbDhcpReply *r, char *err, size_t errlen)
{
    size_t o = OFF_OPTIONS;
    bool ended = false;

    memset(r, 0, sizeof(*r));
    if (len < OFF_OPTIONS) {
        set_err(err, errlen, "%zu bytes: shorter than a DHCP header", len);
        return false;
    }
    if (buf[OFF_OP] != BOOTREPLY) {
        set_err(err, errlen, "not a reply (op %u)", buf[OFF_OP]);
        return false;
    }
    if (buf[OFF_HTYPE] != HTYPE_ETHER || buf[OFF_HLEN] != 6 ||
        memcmp(buf + OFF_CHADDR, mac, 6) != 0) {
        set_err(err, errlen, "for another client (chaddr)");
        return false;
    }
    r->xid = get32(buf + OFF_XID);
    if (r->xid != xid) {
        set_err(err, errlen, "for another transaction (xid %08x, ours %08x)", r->xid, xid);
        return false;
    }
    if (memcmp(buf + OFF_MAGIC, magic, 4) != 0) {
        set_err(err, errlen, "no DHCP magic cookie (a BOOTP reply)");
        return false;
    }
    memcpy(r->yiaddr, buf + OFF_YIADDR, 4);
    while (o < len && !ended) {
        uint8_t code = buf[o++], olen;

        if (code == OPT_PAD)
            continue;
        if (code == OPT_END) {
            ended = true;
            break;
        }
        if (o >= len) {
            set_err(err, errlen, "option %u: truncated", code);
            return false;
        }
        olen = buf[o++];
        if (o + olen > len) {
            set_err(err, errlen, "option %u: %u bytes past the end", code, olen);
            return false;
        }
        if (!take_option(r, code, buf + o, olen)) {
            set_err(err, errlen, "option %u: bad length %u", code, olen);
            return false;
        }
        o += olen;
    }
    if (!ended) {
        set_err(err, errlen, "options without an end (option 255)");
        return false;
    }
    if (!r->type) {
        set_err(err, errlen, "no DHCP message type (option 53)");
        return false;
    }
    /* A client's message (another client's DISCOVER seen by broadcast,
     * or a made-up type) is not an answer. */
    if (r->type != VSB_DHCP_OFFER && r->type != VSB_DHCP_ACK && r->type != VSB_DHCP_NAK) {
        set_err(err, errlen, "not a server's reply (message type %u)", r->type);
        return false;
    }
    return true;
}

int
vsb_dhcp_mask_prefix(const uint8_t mask[4])
{
    uint32_t m = get32(mask);
    int prefix = 0;

    while (prefix < 32 && (m & (0x80000000u >> prefix)))
        prefix++;
    /* Contiguous: nothing set past the leading ones. */
    if (prefix < 32 && (m << prefix) != 0)
        return -1;
    return prefix;
}
