/*
 * vsb-ctl-syslog.h: the container's /dev/log.
 *
 * A datagram unix socket, created by the controller before clone() and
 * bound by the child on the container's /dev/log (so it is the
 * container's file, in the container's /dev, and no host path is
 * involved); not when the container's init is systemd, whose journald
 * serves /dev/log inside and keeps the container's journal, with its
 * own _MACHINE_ID (`journalctl -M NAME` reads it).  The controller reads it from its main loop: each message
 * is parsed (RFC 3164 "<PRI>TIMESTAMP TAG[PID]: MSG" as syslog(3)
 * writes it, RFC 5424, or bare text), and stored as one line of
 *
 *   LOG_DIR/NAME.log       (LOG_DIR: --log-dir, default
 *                           LOCALSTATEDIR/log/virt-sandbox)
 *
 *   2025-01-02T03:04:05.123456Z user.notice app[12]: hello
 *
 * (UTC time of receipt, facility.level, tag ("-" when none), the
 * sender's pid as the container numbers it (from SO_PASSCRED; when the
 * sender is gone before we could translate it, the pid it claimed, or
 * "host:PID")).  The file is rotated at VSB_SYSLOG_FILE_MAX to NAME.log.1,
 * so a domain never has more than twice that on disk, and nothing is
 * written while the file system has less than VSB_SYSLOG_MIN_FREE free.
 * Messages are also sent to journald, when it runs, as docker's
 * journald driver writes a container's records: CONTAINER_NAME=NAME,
 * CONTAINER_ID_FULL=the domain's UUID as 32 lower-case hex digits
 * (which is the container's machine ID: machined's Id, and a systemd
 * service sandbox's /etc/machine-id), CONTAINER_ID=its first 12, with
 * the record's PRIORITY, SYSLOG_FACILITY, SYSLOG_IDENTIFIER, SYSLOG_PID
 * (the container's number) and OBJECT_PID (the host's, so journald adds
 * the sender's OBJECT_ fields).  journalctl CONTAINER_NAME=NAME finds
 * them.  _MACHINE_ID, like every trusted field, is journald's own: the
 * host's.
 *
 * Flood control: at most VSB_SYSLOG_RATE messages a second are kept
 * (bursts of VSB_SYSLOG_BURST); the rest are read and counted as
 * dropped, and past VSB_SYSLOG_DROP_MAX dropped in a second the socket
 * is not read until the next second: the flooding senders then block
 * in their own send(), and the controller's work stays bounded.  A
 * line in the log says how many were dropped.  Each container has its
 * own controller and socket, so a flood slows no other container.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

#include "vsb-ctl-logfmt.h"

G_BEGIN_DECLS

#define VSB_SYSLOG_FILE_MAX (1024 * 1024)
#define VSB_SYSLOG_MIN_FREE (64ULL * 1024 * 1024)
#define VSB_SYSLOG_RATE 200
#define VSB_SYSLOG_BURST 1000
#define VSB_SYSLOG_DROP_MAX 2000
/* Longest datagram read; longer ones are cut. */
#define VSB_SYSLOG_MAX_MSG 8192

typedef struct _VsbCtlSyslog VsbCtlSyslog;

/* The socket (not yet bound) and the log's place; the log file is made
 * at the first message. */
/* @uuid: the domain's, for the records' CONTAINER_ID fields. */
VsbCtlSyslog *vsb_ctl_syslog_new(const char *name, const unsigned char uuid[16],
                                 const char *log_dir, GError **error);

/* The socket, for the child to bind. */
int vsb_ctl_syslog_socket(VsbCtlSyslog *sl);

/* Start reading it from the default main context. */
void vsb_ctl_syslog_attach(VsbCtlSyslog *sl);

/* Store a message that did not come through the socket (/dev/kmsg
 * writes, our own notes); @pid as in vsb_syslog_format_line(). */
void vsb_ctl_syslog_store(VsbCtlSyslog *sl, int pri, const char *pid, const char *tag,
                          const char *message);

/* The log file's path. */
const char *vsb_ctl_syslog_path(VsbCtlSyslog *sl);

void vsb_ctl_syslog_free(VsbCtlSyslog *sl);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbCtlSyslog, vsb_ctl_syslog_free)

/* Child side: bind @sock on /dev/log of the container root @rootfd,
 * writable by every user of the container. */
bool vsb_ctl_syslog_bind(int sock, int rootfd, GError **error);

G_END_DECLS
