/*
 * vsb-init.h: virt-sandbox-init's parts (plain C, linked statically).
 *
 * The config file's format is documented in ../vsb-init-config.h.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct {
    char *type, *source, *target, *flags, *data;
} VsbInitMount;

typedef struct {
    char *path;
    mode_t mode;
    uid_t uid;
    gid_t gid;
} VsbInitSetattr;

typedef struct {
    char *source, *target;
} VsbInitInclude;

/* "net DEV dhcp|static", "ipaddr DEV ADDRESS PREFIX BROADCAST|-",
 * "iproute DEV NETWORK PREFIX GATEWAY" (vsb-init-net.c). */
typedef struct {
    char *dev;
    bool dhcp;
} VsbInitNet;

typedef struct {
    char *dev;
    int family;             /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    unsigned prefix;
    bool has_broadcast;
    unsigned char broadcast[4];
} VsbInitAddr;

typedef struct {
    char *dev;
    int family;
    unsigned char dst[16];
    unsigned prefix;
    unsigned char gateway[16];
} VsbInitRoute;

typedef struct {
    bool debug;
    uid_t uid;
    gid_t gid;
    gid_t *groups;
    size_t ngroups;
    char *user;
    char *home;
    char *cwd;
    bool privileged;
    char **env;             /* NAME=VALUE, NULL-terminated */
    size_t nenv;
    char **argv;            /* NULL-terminated */
    size_t nargv;
    VsbInitMount *mounts;
    size_t nmounts;
    VsbInitSetattr *setattrs;
    size_t nsetattrs;
    VsbInitInclude *includes;
    size_t nincludes;
    char *channel;          /* NULL: stdin/stdout */
    bool poweroff;
    bool service;           /* no stdio protocol (vsb-init-service.c) */
    VsbInitNet *nets;
    size_t nnets;
    VsbInitAddr *addrs;
    size_t naddrs;
    VsbInitRoute *routes;
    size_t nroutes;
} VsbInitConfig;

/* CLOCK_MONOTONIC in milliseconds: init's deadlines and timeouts. */
int64_t vsb_init_now_ms(void);
/* printf into @err (@errlen bytes): how every step of init reports. */
void vsb_init_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Parse the config file at @path.  On failure returns false with a
 * message naming the file and line in @err. */
bool vsb_init_config_load(const char *path, VsbInitConfig *cfg, char *err, size_t errlen);
/* Same, from memory (for tests). */
bool vsb_init_config_parse(const char *text, size_t len, VsbInitConfig *cfg,
                           char *err, size_t errlen);
/* Free what a parse filled in (init itself never needs to). */
void vsb_init_config_clear(VsbInitConfig *cfg);

/* Setup steps, in this order; each returns false with a message. */
bool vsb_init_do_mounts(const VsbInitConfig *cfg, char *err, size_t errlen);
bool vsb_init_do_setattrs(const VsbInitConfig *cfg, char *err, size_t errlen);
bool vsb_init_do_includes(const VsbInitConfig *cfg, char *err, size_t errlen);

/* The DHCP leases init took, kept (renewed) from init's main loop. */
typedef struct VsbInitLeases VsbInitLeases;
struct pollfd;

/* After the mounts: loopback and every "net" interface up, their
 * static addresses and routes, DHCP where asked, /etc/resolv.conf from
 * DHCP's DNS servers (vsb-init-net.c).  Nothing without "net".  The
 * leases in @leases (NULL without DHCP). */
bool vsb_init_do_network(const VsbInitConfig *cfg, VsbInitLeases **leases, char *err,
                         size_t errlen);

/* How the leases report, for the main loop to log: @debug for what
 * only the config's "debug" shows. */
typedef void (*VsbInitLogFn)(bool debug, const char *msg, void *opaque);

/* The main loop's part (all take NULL for no leases): poll
 * vsb_init_leases_nfds() more entries filled by
 * vsb_init_leases_pollfds(), with a timeout no longer than
 * vsb_init_leases_timeout() (ms, -1: none), then call
 * vsb_init_leases_run() with those entries, whatever poll returned.
 * Each run takes a few ms at most: it sends or reads a datagram, or
 * removes an address. */
size_t vsb_init_leases_nfds(const VsbInitLeases *leases);
void vsb_init_leases_pollfds(const VsbInitLeases *leases, struct pollfd *pfd);
int vsb_init_leases_timeout(const VsbInitLeases *leases);
void vsb_init_leases_run(VsbInitLeases *leases, const struct pollfd *pfd, VsbInitLogFn log,
                         void *opaque);

/* In the child, before exec: groups, gid, uid, capabilities, cwd.
 * Returns 0 or an errno value; @what says which step failed. */
int vsb_init_drop_identity(const VsbInitConfig *cfg, const char **what);

/* The program's environment: defaults, then the config's. */
char **vsb_init_build_env(const VsbInitConfig *cfg, bool tty);

/* "service 1": set up, run the program with init's own stdio (the
 * console) and no protocol, forward stop signals, reap; never returns
 * (vsb-init-service.c).  @sigfd: the signalfd of init's blocked signals. */
void vsb_init_run_service(const VsbInitConfig *cfg, int sigfd) __attribute__((noreturn));

/* As PID 1 of a KVM sandbox (VSB_KVM_ENV_FLAG set by the kernel):
 * modules, the host's / and the config share, then chroot; returns
 * with the guest set up like an LXC sandbox, or powers off on failure.
 * Does nothing elsewhere (vsb-init-vm.c). */
void vsb_init_vm_setup(void);
