/*
 * fuzz-init-dhcp.c: libFuzzer target for the DHCP reply parser of the
 * sandbox's init (sandbox/init/vsb-init-dhcp.h).
 *
 * Any host on the sandbox's network can answer its DISCOVER: a reply
 * is untrusted bytes.  Nothing may crash or read past the packet; a
 * refusal always says why; an accepted reply is of a type the client
 * asked about, names at most VSB_DHCP_MAX_DNS servers, and a parse of
 * the same bytes gives the same result, and the renewal times taken
 * from it are in order (T1 <= T2 <= expiry).  The fuzzer's first 4 bytes
 * are the transaction id, the next 6 the client's MAC, as the parser
 * must check both against the packet.
 *
 *   fuzz-init-dhcp -max_total_time=60 CORPUS_DIR
 */
#include <config.h>

#include "vsb-init-dhcp.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    VsbDhcpReply a, b;
    VsbDhcpTimes t;
    uint8_t mac[6];
    uint32_t xid;
    char err[256] = "";
    bool ok;

    if (size < 10)
        return 0;
    memcpy(&xid, data, 4);
    memcpy(mac, data + 4, 6);
    data += 10;
    size -= 10;
    /* A copy of exactly the packet's length: ASan sees a read past it. */
    uint8_t *pkt = malloc(size ? size : 1);
    if (!pkt)
        return 0;
    memcpy(pkt, data, size);

    memset(&a, 0, sizeof(a));
    ok = vsb_dhcp_parse(pkt, size, xid, mac, &a, err, sizeof(err));
    if (!ok && err[0] == '\0')
        abort();   /* a refusal must say why */
    if (ok) {
        if (a.ndns > VSB_DHCP_MAX_DNS)
            abort();
        if (a.type < VSB_DHCP_DISCOVER || a.type > VSB_DHCP_NAK)
            abort();
        if (a.has_subnet)
            (void)vsb_dhcp_mask_prefix(a.subnet);
        if (vsb_dhcp_lease_times(&a, &t) &&
            (t.t1 > t.t2 || t.t2 > t.expiry || t.expiry != a.lease))
            abort();
    }
    memset(&b, 0, sizeof(b));
    if (vsb_dhcp_parse(pkt, size, xid, mac, &b, err, sizeof(err)) != ok)
        abort();
    if (ok && memcmp(&a, &b, sizeof(a)) != 0)
        abort();
    free(pkt);
    return 0;
}
