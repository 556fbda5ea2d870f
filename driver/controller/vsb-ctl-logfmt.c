/*
 * vsb-ctl-logfmt.c: syslog messages in, log lines out (see
 * vsb-ctl-logfmt.h).
 *
 * What arrives on /dev/log, in practice:
 *   glibc/musl syslog(3), busybox logger:  "<13>Jan  2 03:04:05 app[12]: text"
 *   util-linux logger --rfc5424:          "<13>1 2025-01-02T03:04:05.1+01:00 host app 12 - - text"
 *   anything else:                        text, with or without "<PRI>"
 * The sender's clock and host name are not trusted (the controller
 * stamps the time of receipt); its tag, level and facility are kept.
 */
#include <config.h>

#include "vsb-ctl-logfmt.h"

#include <string.h>
#include <syslog.h>
#include <time.h>

#define DEFAULT_PRI (LOG_USER | LOG_NOTICE)
#define TAG_MAX 64

static const char *const facility_names[] = {
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
    "uucp", "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
};
static const char *const level_names[] = {
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

const char *
vsb_syslog_facility_name(int facility)
{
    if (facility < 0 || facility >= (int)G_N_ELEMENTS(facility_names))
        return "unknown";
    return facility_names[facility];
}

const char *
vsb_syslog_level_name(int level)
{
    return level_names[level & 7];
}

void
vsb_syslog_msg_clear(VsbSyslogMsg *m)
{
    g_clear_pointer(&m->tag, g_free);
    g_clear_pointer(&m->message, g_free);
}

/* Control characters (and DEL) as #NNN, as rsyslog writes them: one
 * message stays one line of the log, and a container cannot forge
 * lines or terminal escapes in it. */
static char *
escape(const char *s, gsize len)
{
    GString *out = g_string_sized_new(len + 1);

    for (gsize i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < ' ' || c == 0x7f)
            g_string_append_printf(out, "#%03o", c);
        else
            g_string_append_c(out, (char)c);
    }
    return g_string_free(out, FALSE);
}

/* "<N>" with 0 <= N <= 191 */
static bool
parse_pri(const char **p, const char *end, int *pri)
{
    const char *q = *p;
    int v = 0, digits = 0;

    if (q >= end || *q != '<')
        return false;
    for (q++; q < end && g_ascii_isdigit(*q) && digits < 3; q++, digits++)
        v = v * 10 + (*q - '0');
    if (!digits || q >= end || *q != '>' || v > 191)
        return false;
    *pri = v;
    *p = q + 1;
    return true;
}

/* RFC 3164's "Mmm dd hh:mm:ss " */
static bool
skip_bsd_timestamp(const char **p, const char *end)
{
    static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    const char *q = *p;
    bool month = false;

    if (end - q < 16)
        return false;
    for (size_t i = 0; i < G_N_ELEMENTS(months); i++)
        if (memcmp(q, months[i], 3) == 0)
            month = true;
    if (!month || q[3] != ' ' || (q[4] != ' ' && !g_ascii_isdigit(q[4])) ||
        !g_ascii_isdigit(q[5]) || q[6] != ' ' || q[9] != ':' || q[12] != ':' || q[15] != ' ')
        return false;
    *p = q + 16;
    return true;
}

static const char *
next_field(const char **p, const char *end, gsize *len)
{
    const char *start = *p;
    const char *sp = memchr(start, ' ', end - start);

    if (!sp)
        return NULL;
    *len = sp - start;
    *p = sp + 1;
    return start;
}

static pid_t
parse_pid(const char *s, gsize len)
{
    guint64 v = 0;

    if (!len || len > 10)
        return 0;
    for (gsize i = 0; i < len; i++) {
        if (!g_ascii_isdigit(s[i]))
            return 0;
        v = v * 10 + (guint64)(s[i] - '0');
    }
    return v > 0 && v <= G_MAXINT32 ? (pid_t)v : 0;
}

/* RFC 5424 after "<PRI>": "1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG" */
static bool
parse_5424(const char *p, const char *end, VsbSyslogMsg *out)
{
    const char *f[5];
    gsize l[5];

    if (end - p < 2 || p[0] != '1' || p[1] != ' ')
        return false;
    p += 2;
    for (int i = 0; i < 5; i++) {
        if (!(f[i] = next_field(&p, end, &l[i])))
            return false;
    }
    /* structured data: "-" or one or more [...] (with quoted values) */
    if (p < end && *p == '-') {
        p++;
    } else {
        bool quoted = false;
        while (p < end && *p == '[') {
            for (p++; p < end; p++) {
                if (*p == '\\' && quoted && p + 1 < end)
                    p++;
                else if (*p == '"')
                    quoted = !quoted;
                else if (*p == ']' && !quoted)
                    break;
            }
            if (p < end)
                p++;
        }
    }
    if (p < end && *p == ' ')
        p++;
    /* a UTF-8 byte order mark may start MSG */
    if (end - p >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
        p += 3;
    if (!(l[2] == 1 && f[2][0] == '-'))
        out->tag = escape(f[2], MIN(l[2], (gsize)TAG_MAX));
    out->claimed_pid = parse_pid(f[3], l[3]);
    out->message = escape(p, end - p);
    return true;
}

void
vsb_syslog_parse(const char *buf, gsize len, VsbSyslogMsg *out)
{
    const char *p = buf, *end = buf + len;
    const char *t;

    memset(out, 0, sizeof(*out));
    out->pri = DEFAULT_PRI;
    /* what syslog(3) and friends append */
    while (end > p && (end[-1] == '\n' || end[-1] == '\0'))
        end--;
    if (parse_pri(&p, end, &out->pri)) {
        if (parse_5424(p, end, out))
            return;
    } else if (p < end && *p == '<') {
        /* a broken priority: not syslog's format, all text */
        out->message = escape(p, end - p);
        return;
    }
    skip_bsd_timestamp(&p, end);

    /* TAG[PID]: or TAG: (a tag has no blank, control character, ':'
     * or '[') */
    for (t = p; t < end && t - p <= TAG_MAX; t++) {
        if (*t == ':' || *t == '[' || (unsigned char)*t <= ' ' || *t == 0x7f)
            break;
    }
    if (t > p && t < end && t - p <= TAG_MAX && (*t == ':' || *t == '[')) {
        const char *q = t;
        pid_t pid = 0;

        if (*q == '[') {
            const char *close = memchr(q, ']', end - q);
            if (close) {
                pid = parse_pid(q + 1, close - q - 1);
                q = close + 1;
            }
        }
        if (q < end && *q == ':') {
            out->tag = escape(p, t - p);
            out->claimed_pid = pid;
            p = q + 1;
            if (p < end && *p == ' ')
                p++;
        }
    }
    out->message = escape(p, end - p);
}

char *
vsb_syslog_format_line(gint64 realtime_usec, int pri, const char *pid, const char *tag,
                       const char *message)
{
    time_t sec = (time_t)(realtime_usec / G_USEC_PER_SEC);
    struct tm tm;
    char stamp[32];

    gmtime_r(&sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    return g_strdup_printf("%s.%06dZ %s.%s %s%s%s%s: %s\n", stamp,
                           (int)(realtime_usec % G_USEC_PER_SEC),
                           vsb_syslog_facility_name(pri >> 3), vsb_syslog_level_name(pri & 7),
                           tag ? tag : "-", pid ? "[" : "", pid ? pid : "", pid ? "]" : "",
                           message);
}
