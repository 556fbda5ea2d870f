/*
 * vsb-ctl-logfmt.h: parsing what a container sends to /dev/log, and
 * the lines of its log file.  Pure code, tested by tests/test-logs.c;
 * vsb-ctl-syslog.c does the I/O.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

G_BEGIN_DECLS

typedef struct {
    int pri;              /* facility * 8 + level; user.notice when absent */
    char *tag;            /* NULL when the message has none */
    pid_t claimed_pid;    /* the "[PID]" after the tag (or RFC 5424 PROCID), 0 if none */
    char *message;        /* control characters escaped as #NNN (octal) */
} VsbSyslogMsg;

/* Parse one datagram; never fails (unparsable text is all message). */
void vsb_syslog_parse(const char *buf, gsize len, VsbSyslogMsg *out);
void vsb_syslog_msg_clear(VsbSyslogMsg *m);

/* "user", "local3", ... and "notice", "err", ...; the syslog(3) names. */
const char *vsb_syslog_facility_name(int facility);
const char *vsb_syslog_level_name(int level);

/* One log line, newline included.  @pid as written ("12", "host:345",
 * or NULL when unknown). */
char *vsb_syslog_format_line(gint64 realtime_usec, int pri, const char *pid,
                             const char *tag, const char *message);

G_END_DECLS
