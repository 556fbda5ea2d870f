/*
 * test-logs.c: what a container sends to /dev/log and /dev/kmsg, and
 * what its log file and its dmesg show: the syslog parser, the log
 * line, the kernel log ring and its record format.
 */
#include <config.h>

#include "vsb-ctl-kmsg.h"
#include "vsb-ctl-logfmt.h"

#include <string.h>
#include <syslog.h>

static void
test_syslog_parse(void)
{
    static const struct {
        const char *in;
        int pri;
        const char *tag;       /* NULL: none */
        pid_t pid;
        const char *message;
    } cases[] = {
        /* glibc syslog(3), busybox logger */
        { "<13>Jan  2 03:04:05 app: hello", 13, "app", 0, "hello" },
        { "<30>Dec 31 23:59:59 sshd[123]: Accepted key", 30, "sshd", 123, "Accepted key" },
        { "<13>Jan 12 03:04:05 app[7]: two  spaces ", 13, "app", 7, "two  spaces " },
        { "<13>Jan  2 03:04:05 app: hello\n", 13, "app", 0, "hello" },
        { "<13>Jan  2 03:04:05 app: hello\n\0", 13, "app", 0, "hello" },
        /* no timestamp */
        { "<11>myd[9]: failed", 11, "myd", 9, "failed" },
        { "<165>tag:no space", 165, "tag", 0, "no space" },
        /* no tag: "word word: x" is not a tag */
        { "<13>Jan  2 03:04:05 just some text: here", 13, NULL, 0, "just some text: here" },
        { "plain text", LOG_USER | LOG_NOTICE, NULL, 0, "plain text" },
        { "", LOG_USER | LOG_NOTICE, NULL, 0, "" },
        /* a bad priority is text */
        { "<192>x: y", LOG_USER | LOG_NOTICE, NULL, 0, "<192>x: y" },
        { "<1a>x", LOG_USER | LOG_NOTICE, NULL, 0, "<1a>x" },
        { "<>x", LOG_USER | LOG_NOTICE, NULL, 0, "<>x" },
        { "<0>kern: k", 0, "kern", 0, "k" },
        /* claimed pid not a number: kept in no field, tag still read */
        { "<13>app[x]: m", 13, "app", 0, "m" },
        /* control characters cannot make lines or escapes */
        { "<13>app: a\nb\033[31mc\x7f", 13, "app", 0, "a#012b#033[31mc#177" },
        { "<13>a\tb: c", 13, NULL, 0, "a#011b: c" },
        /* RFC 5424 (util-linux logger --rfc5424) */
        { "<14>1 2025-01-02T03:04:05.000001+01:00 host app 42 ID47 - hello 5424", 14, "app", 42,
          "hello 5424" },
        { "<14>1 2025-01-02T03:04:05Z host - - - [a b=\"c] d\"][e] \xef\xbb\xbfmsg", 14, NULL, 0,
          "msg" },
        { "<14>1 - - app - - -", 14, "app", 0, "" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        VsbSyslogMsg m;
        gsize len = strlen(cases[i].in);

        if (i == 4)
            len += 1;   /* with the NUL byte some senders add */
        vsb_syslog_parse(cases[i].in, len, &m);
        if (m.pri != cases[i].pri || g_strcmp0(m.tag, cases[i].tag) != 0 ||
            m.claimed_pid != cases[i].pid || g_strcmp0(m.message, cases[i].message) != 0)
            g_error("case %zu '%s': got pri %d tag '%s' pid %d message '%s'", i, cases[i].in,
                    m.pri, m.tag, (int)m.claimed_pid, m.message);
        vsb_syslog_msg_clear(&m);
    }
}

static void
test_syslog_line(void)
{
    /* 2025-01-02T03:04:05.000042Z */
    gint64 t = 1735787045LL * G_USEC_PER_SEC + 42;
    g_autofree char *a = vsb_syslog_format_line(t, LOG_USER | LOG_NOTICE, "12", "app", "hello");
    g_autofree char *b = vsb_syslog_format_line(t, LOG_LOCAL7 | LOG_DEBUG, NULL, NULL, "x");
    g_autofree char *c = vsb_syslog_format_line(t, LOG_AUTHPRIV | LOG_EMERG, "host:99", "su", "");

    g_assert_cmpstr(a, ==, "2025-01-02T03:04:05.000042Z user.notice app[12]: hello\n");
    g_assert_cmpstr(b, ==, "2025-01-02T03:04:05.000042Z local7.debug -: x\n");
    g_assert_cmpstr(c, ==, "2025-01-02T03:04:05.000042Z authpriv.emerg su[host:99]: \n");
    g_assert_cmpstr(vsb_syslog_facility_name(24), ==, "unknown");
    g_assert_cmpstr(vsb_syslog_level_name(LOG_WARNING), ==, "warning");
}

static void
test_kmsg_format(void)
{
    g_autoptr(VsbKmsg) k = vsb_kmsg_new(VSB_KMSG_RING_BYTES, NULL, NULL);
    g_autofree char *r0 = NULL;
    g_autofree char *r1 = NULL;
    gsize len;

    g_assert_cmpuint(vsb_kmsg_first_seq(k), ==, 0);
    g_assert_cmpuint(vsb_kmsg_next_seq(k), ==, 0);
    g_assert_null(vsb_kmsg_format(k, 0, &len));
    g_assert_cmpuint(vsb_kmsg_append(k, 6, 1500000, "hello", 5), ==, 0);
    g_assert_cmpuint(vsb_kmsg_append(k, 12, 2, "a\\b\nc\x01\xc3\xa9", 8), ==, 1);
    r0 = vsb_kmsg_format(k, 0, &len);
    g_assert_cmpstr(r0, ==, "6,0,1500000,-;hello\n");
    g_assert_cmpuint(len, ==, strlen(r0));
    /* as the kernel escapes: backslash, control and non-ASCII bytes */
    r1 = vsb_kmsg_format(k, 1, &len);
    g_assert_cmpstr(r1, ==, "12,1,2,-;a\\x5cb\\x0ac\\x01\\xc3\\xa9\n");
    g_assert_null(vsb_kmsg_format(k, 2, &len));
}

static void
test_kmsg_ring_bounded(void)
{
    g_autoptr(VsbKmsg) k = vsb_kmsg_new(100, NULL, NULL);
    char text[40];
    gsize len;

    memset(text, 'x', sizeof(text));
    for (int i = 0; i < 1000; i++)
        vsb_kmsg_append(k, 6, (guint64)i, text, sizeof(text));
    /* 100 bytes: the last two records of 40 */
    g_assert_cmpuint(vsb_kmsg_next_seq(k), ==, 1000);
    g_assert_cmpuint(vsb_kmsg_first_seq(k), ==, 998);
    g_assert_null(vsb_kmsg_format(k, 997, &len));
    {
        g_autofree char *r = vsb_kmsg_format(k, 998, &len);
        g_assert_nonnull(strstr(r, ",998,"));
    }
    /* a record larger than the ring stays (alone) */
    {
        char big[VSB_KMSG_MAX_TEXT + 100];
        g_autofree char *r = NULL;
        memset(big, 'y', sizeof(big));
        vsb_kmsg_append(k, 6, 0, big, sizeof(big));
        g_assert_cmpuint(vsb_kmsg_first_seq(k), ==, 1000);
        r = vsb_kmsg_format(k, 1000, &len);
        /* cut at VSB_KMSG_MAX_TEXT */
        g_assert_cmpuint(len, ==, strlen("6,1000,0,-;") + VSB_KMSG_MAX_TEXT + 1);
    }
}

static int notified;

static void
count_notify(gpointer opaque)
{
    notified += GPOINTER_TO_INT(opaque);
}

static void
test_kmsg_notify(void)
{
    g_autoptr(VsbKmsg) k = vsb_kmsg_new(1024, count_notify, GINT_TO_POINTER(1));

    notified = 0;
    vsb_kmsg_append(k, 6, 0, "a", 1);
    vsb_kmsg_append(k, 6, 0, "b", 1);
    g_assert_cmpint(notified, ==, 2);
}

static void
test_kmsg_parse_write(void)
{
    static const struct {
        const char *in;
        int pri;
        const char *text;
    } cases[] = {
        { "x\n", LOG_USER | LOG_WARNING, "x" },
        { "x", LOG_USER | LOG_WARNING, "x" },
        { "two\nlines\n", LOG_USER | LOG_WARNING, "two\nlines" },
        { "<3>err", LOG_USER | LOG_ERR, "err" },
        { "<0>kernel's own", LOG_USER | LOG_EMERG, "kernel's own" },
        { "<30>daemon.info", LOG_DAEMON | LOG_INFO, "daemon.info" },
        { "<191>local7", LOG_LOCAL7 | LOG_DEBUG, "local7" },
        { "<x>y", LOG_USER | LOG_WARNING, "<x>y" },
        { "<12", LOG_USER | LOG_WARNING, "<12" },
        { "", LOG_USER | LOG_WARNING, "" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const char *text;
        gsize len;
        int pri = vsb_kmsg_parse_write(cases[i].in, strlen(cases[i].in), &text, &len);
        g_autofree char *t = g_strndup(text, len);

        if (pri != cases[i].pri || !g_str_equal(t, cases[i].text))
            g_error("'%s': got %d '%s'", cases[i].in, pri, t);
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/logs/syslog-parse", test_syslog_parse);
    g_test_add_func("/logs/syslog-line", test_syslog_line);
    g_test_add_func("/logs/kmsg-format", test_kmsg_format);
    g_test_add_func("/logs/kmsg-ring-bounded", test_kmsg_ring_bounded);
    g_test_add_func("/logs/kmsg-notify", test_kmsg_notify);
    g_test_add_func("/logs/kmsg-parse-write", test_kmsg_parse_write);
    return g_test_run();
}
