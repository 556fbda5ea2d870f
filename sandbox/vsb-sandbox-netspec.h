/*
 * vsb-sandbox-netspec.h: the -N option's network spec (libvirt-sandbox
 * 0.8's syntax), parsed into what the builders need.
 *
 *   dhcp,source=NAME[,mac=MAC]
 *   address=IP/PREFIX[%BROADCAST][,address=...][,route=NET/PREFIX%GATEWAY...]
 *       [,source=NAME][,mac=MAC]
 *   source=NAME[,mac=MAC]                  (link up only)
 *
 * source=NAME names a libvirt network (default 'default');
 * source=bridge:BR a host bridge; source=network:NAME forces a libvirt
 * network.  A bare NAME that is no libvirt network but a host bridge is
 * taken as a bridge when the sandbox is prepared
 * (vsb_sandbox_netspec_resolve), not here: parsing is pure.
 *
 * The config keeps the spec string (saved as given); builders and
 * validation parse it again.  Errors name the bad item, e.g.
 * "address=10.0.0.300/24: '10.0.0.300' is not an IPv4 or IPv6 address";
 * callers prefix the option ("-N 'SPEC': ").
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

typedef enum {
    VSB_NETSPEC_SOURCE_NAME,     /* network, or a host bridge (resolve decides) */
    VSB_NETSPEC_SOURCE_NETWORK,  /* a libvirt network: <interface type='network'> */
    VSB_NETSPEC_SOURCE_BRIDGE,   /* a host bridge: <interface type='bridge'> */
    VSB_NETSPEC_SOURCE_LAST
} VsbNetspecSourceKind;
const char *vsb_netspec_source_kind_to_string(VsbNetspecSourceKind k);
int vsb_netspec_source_kind_from_string(const char *s);   /* -1 if unknown */

typedef struct {
    int family;          /* AF_INET or AF_INET6 */
    char *address;       /* canonical text form */
    guint prefix;
    char *broadcast;     /* IPv4 only; NULL: none given */
} VsbNetspecAddress;

typedef struct {
    int family;
    char *network;       /* canonical, host bits zero */
    guint prefix;
    char *gateway;
} VsbNetspecRoute;

typedef struct _VsbNetspec {
    VsbNetspecSourceKind kind;
    char *source;        /* network or bridge name */
    bool dhcp;
    char *mac;           /* lower case aa:bb:cc:dd:ee:ff, NULL: generated */
    GPtrArray *addresses;  /* VsbNetspecAddress* */
    GPtrArray *routes;     /* VsbNetspecRoute* */
} VsbNetspec;

#define VSB_NETSPEC_DEFAULT_SOURCE "default"

/* NULL with VSB_SANDBOX_ERROR_INVALID naming the bad item. */
VsbNetspec *vsb_netspec_parse(const char *spec, GError **error);
void vsb_netspec_free(VsbNetspec *n);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbNetspec, vsb_netspec_free)

/* What kind of source @n's name is on this host (reads the file
 * system: libvirt's network definitions and status files, sysfs):
 * a NAME that is a host bridge and no libvirt network is a bridge,
 * anything else a libvirt network (whose absence the daemon reports). */
VsbNetspecSourceKind vsb_netspec_resolve(const VsbNetspec *n);

/* A one-line description, the canonical form (tests). */
char *vsb_netspec_to_string(const VsbNetspec *n);

G_END_DECLS
