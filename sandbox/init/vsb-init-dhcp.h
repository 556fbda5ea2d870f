/*
 * vsb-init-dhcp.h: DHCPv4 messages (RFC 2131, options RFC 2132), built
 * and parsed without I/O; the exchange itself is vsb-init-net.c's.
 *
 * What the client sends: DISCOVER, then REQUEST of the offered address
 * (selecting state: options 50 and 54), both with the broadcast flag
 * (the client has no address to receive unicast on), its MAC as
 * chaddr and client identifier (61), and a parameter request list
 * (subnet mask, router, DNS servers, broadcast address).
 *
 * Renewing a lease (RENEWING and REBINDING states, RFC 2131 4.4.5): a
 * REQUEST with the bound address as ciaddr and neither option 50 nor
 * 54, without the broadcast flag (the client can take unicast now, and
 * the server answers to ciaddr anyway), at the times
 * vsb_dhcp_lease_times() derives from the ACK.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VSB_DHCP_SERVER_PORT 67
#define VSB_DHCP_CLIENT_PORT 68
/* What a reply may be: 576 bytes is the minimum every host takes,
 * servers may send up to an Ethernet frame. */
#define VSB_DHCP_MAX_PACKET 1500
#define VSB_DHCP_MAX_DNS 3

typedef enum {
    VSB_DHCP_DISCOVER = 1,
    VSB_DHCP_OFFER = 2,
    VSB_DHCP_REQUEST = 3,
    VSB_DHCP_DECLINE = 4,
    VSB_DHCP_ACK = 5,
    VSB_DHCP_NAK = 6,
} VsbDhcpType;

/* Addresses in network byte order, as on the wire. */
typedef struct {
    uint8_t type;           /* VsbDhcpType */
    uint32_t xid;
    uint8_t yiaddr[4];      /* the address offered / acknowledged */
    bool has_server;
    uint8_t server[4];      /* option 54 */
    bool has_subnet;
    uint8_t subnet[4];      /* option 1 */
    bool has_router;
    uint8_t router[4];      /* option 3, the first */
    bool has_broadcast;
    uint8_t broadcast[4];   /* option 28 */
    uint32_t lease;         /* option 51, seconds; 0: not given */
    uint32_t t1;            /* option 58 (renewal time), seconds; 0: not given */
    uint32_t t2;            /* option 59 (rebinding time), seconds; 0: not given */
    size_t ndns;
    uint8_t dns[VSB_DHCP_MAX_DNS][4];   /* option 6, the first ones */
} VsbDhcpReply;

/* A DISCOVER (@requested and @server NULL) or a REQUEST of @requested
 * from @server into @buf (at least VSB_DHCP_MAX_PACKET bytes); returns
 * its length. */
size_t vsb_dhcp_build(uint8_t *buf, VsbDhcpType type, uint32_t xid, const uint8_t mac[6],
                      const uint8_t *requested, const uint8_t *server);

/* A REQUEST renewing (or rebinding) the lease of @ciaddr into @buf (at
 * least VSB_DHCP_MAX_PACKET bytes); returns its length. */
size_t vsb_dhcp_build_renew(uint8_t *buf, uint32_t xid, const uint8_t mac[6],
                            const uint8_t ciaddr[4]);

/* A lease's times, in seconds from when the REQUEST it answers was sent. */
typedef struct {
    uint32_t t1;            /* start renewing (unicast to the server) */
    uint32_t t2;            /* start rebinding (broadcast to any server) */
    uint32_t expiry;        /* the address is no longer ours */
} VsbDhcpTimes;

#define VSB_DHCP_LEASE_INFINITE 0xffffffffu

/* The times of the lease @ack gives: T1 and T2 as the server said when
 * they make sense (0 < T1 < T2 < lease), else RFC 2131's defaults
 * (half and seven eighths of the lease).  False when the lease needs no
 * renewal: infinite, or no lease time given (0, which no server
 * answering a REQUEST should do: taken as "forever" rather than as
 * "already expired"). */
bool vsb_dhcp_lease_times(const VsbDhcpReply *ack, VsbDhcpTimes *times);

/* A server's reply to transaction @xid of the client @mac.  False with
 * a reason in @err when it is not one (wrong op, xid, chaddr, magic,
 * truncated or malformed options, no message type). */
bool vsb_dhcp_parse(const uint8_t *buf, size_t len, uint32_t xid, const uint8_t mac[6],
                    VsbDhcpReply *reply, char *err, size_t errlen);

/* The prefix length of a netmask, -1 if it is not contiguous. */
int vsb_dhcp_mask_prefix(const uint8_t mask[4]);
