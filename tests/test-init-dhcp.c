/*
 * test-init-dhcp.c: virt-sandbox-init's DHCP messages
 * (sandbox/init/vsb-init-dhcp.c) against byte fixtures, data-driven
 * from tests/dhcpdata/cases.txt (its header says how to read it).
 */
#include <config.h>

#include "vsb-init-dhcp.h"

#include <arpa/inet.h>
#include <string.h>

#include "vsb-test-util.h"

static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
#define XID 0x12345678u

static char *data_dir;

/* The bytes of a .hex fixture. */
static GByteArray *
load_hex(const char *name)
{
    g_autofree char *path = g_build_filename(data_dir, name, NULL);
    g_autofree char *text = vsb_test_read_file(path);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    GByteArray *out = g_byte_array_new();

    for (size_t i = 0; lines[i]; i++) {
        g_auto(GStrv) words = NULL;
        if (lines[i][0] == '#')
            continue;
        words = g_strsplit_set(lines[i], " \t", -1);
        for (size_t j = 0; words[j]; j++) {
            guint8 b;
            if (!words[j][0])
                continue;
            if (strlen(words[j]) != 2 || !g_ascii_isxdigit(words[j][0]) ||
                !g_ascii_isxdigit(words[j][1]))
                g_error("%s line %zu: '%s' is not a hex byte", name, i + 1, words[j]);
            b = g_ascii_xdigit_value(words[j][0]) << 4 | g_ascii_xdigit_value(words[j][1]);
            g_byte_array_append(out, &b, 1);
        }
    }
    return out;
}

static void
ip_in(const char *s, uint8_t *out)
{
    if (inet_pton(AF_INET, s, out) != 1)
        g_error("bad address '%s' in cases.txt", s);
}

static void
append_ip(GString *s, const char *name, const uint8_t *a)
{
    char buf[INET_ADDRSTRLEN];

    g_string_append_printf(s, " %s=%s", name, inet_ntop(AF_INET, a, buf, sizeof(buf)));
}

static char *
describe(const VsbDhcpReply *r)
{
    GString *s = g_string_new(NULL);

    g_string_append_printf(s, "type=%u", r->type);
    append_ip(s, "yiaddr", r->yiaddr);
    if (r->has_server)
        append_ip(s, "server", r->server);
    if (r->has_subnet)
        append_ip(s, "subnet", r->subnet);
    if (r->has_router)
        append_ip(s, "router", r->router);
    if (r->has_broadcast)
        append_ip(s, "broadcast", r->broadcast);
    if (r->lease)
        g_string_append_printf(s, " lease=%u", r->lease);
    if (r->t1)
        g_string_append_printf(s, " t1=%u", r->t1);
    if (r->t2)
        g_string_append_printf(s, " t2=%u", r->t2);
    for (size_t i = 0; i < r->ndns; i++) {
        char buf[INET_ADDRSTRLEN];
        g_string_append_printf(s, "%s%s", i ? "," : " dns=",
                               inet_ntop(AF_INET, r->dns[i], buf, sizeof(buf)));
    }
    return g_string_free(s, FALSE);
}

static void
test_build(const char *file, const char *what)
{
    g_autoptr(GByteArray) want = load_hex(file);
    uint8_t buf[VSB_DHCP_MAX_PACKET];
    size_t len;

    if (g_str_equal(what, "discover")) {
        len = vsb_dhcp_build(buf, VSB_DHCP_DISCOVER, XID, mac, NULL, NULL);
    } else if (g_str_has_prefix(what, "renew ")) {
        uint8_t ci[4];
        ip_in(what + 6, ci);
        len = vsb_dhcp_build_renew(buf, XID, mac, ci);
    } else {
        g_auto(GStrv) w = g_strsplit(what, " ", -1);
        uint8_t yi[4], server[4];
        g_assert_cmpstr(w[0], ==, "request");
        ip_in(w[1], yi);
        ip_in(w[2], server);
        len = vsb_dhcp_build(buf, VSB_DHCP_REQUEST, XID, mac, yi, server);
    }
    g_assert_cmpmem(buf, len, want->data, want->len);
}

static void
test_parse(const char *file, guint32 xid, const char *expect)
{
    g_autoptr(GByteArray) pkt = load_hex(file);
    VsbDhcpReply r;
    char err[256] = "";
    bool ok = vsb_dhcp_parse(pkt->data, pkt->len, xid, mac, &r, err, sizeof(err));

    if (g_str_has_prefix(expect, "error: ")) {
        if (ok)
            g_error("%s: expected an error containing '%s', parsed it", file, expect + 7);
        if (!strstr(err, expect + 7))
            g_error("%s: expected an error containing '%s', got '%s'", file, expect + 7, err);
        return;
    }
    if (!ok)
        g_error("%s: unexpected error: %s", file, err);
    {
        g_autofree char *got = describe(&r);
        g_assert_cmpstr(got, ==, expect);
    }
}

/* "lease=N t1=N t2=N" (0: the option is absent) into @r. */
static void
reply_in(const char *spec, VsbDhcpReply *r)
{
    g_auto(GStrv) w = g_strsplit(spec, " ", -1);

    memset(r, 0, sizeof(*r));
    r->type = VSB_DHCP_ACK;
    for (size_t i = 0; w[i]; i++) {
        guint64 v;
        char *end = NULL;
        const char *eq = strchr(w[i], '=');

        if (!eq || !g_ascii_isdigit(eq[1]) ||
            (v = g_ascii_strtoull(eq + 1, &end, 10)) > G_MAXUINT32 || *end)
            g_error("cases.txt: bad times input '%s'", w[i]);
        if (g_str_has_prefix(w[i], "lease="))
            r->lease = v;
        else if (g_str_has_prefix(w[i], "t1="))
            r->t1 = v;
        else if (g_str_has_prefix(w[i], "t2="))
            r->t2 = v;
        else
            g_error("cases.txt: unknown times input '%s'", w[i]);
    }
}

static void
test_times(const char *input, const char *expect)
{
    VsbDhcpReply r;
    VsbDhcpTimes t;
    g_autofree char *got = NULL;

    if (g_str_has_suffix(input, ".hex")) {
        g_autoptr(GByteArray) pkt = load_hex(input);
        char err[256] = "";
        if (!vsb_dhcp_parse(pkt->data, pkt->len, XID, mac, &r, err, sizeof(err)))
            g_error("%s: unexpected error: %s", input, err);
    } else {
        reply_in(input, &r);
    }
    if (vsb_dhcp_lease_times(&r, &t)) {
        g_assert_cmpuint(t.t1, <=, t.t2);
        g_assert_cmpuint(t.t2, <=, t.expiry);
        got = g_strdup_printf("t1=%u t2=%u expiry=%u", t.t1, t.t2, t.expiry);
    } else {
        got = g_strdup("none");
    }
    g_assert_cmpstr(got, ==, expect);
}

static void
test_line(gconstpointer data)
{
    g_auto(GStrv) parts = g_strsplit(data, "\t", -1);
    guint n = g_strv_length(parts);

    if (g_str_has_prefix(parts[0], "build ")) {
        g_assert_cmpuint(n, ==, 2);
        test_build(parts[0] + 6, parts[1]);
    } else if (g_str_has_prefix(parts[0], "parse ")) {
        guint32 xid = XID;
        g_assert_true(n == 2 || n == 3);
        if (n == 3) {
            g_assert_true(g_str_has_prefix(parts[1], "xid="));
            xid = g_ascii_strtoull(parts[1] + 4, NULL, 16);
        }
        test_parse(parts[0] + 6, xid, parts[n - 1]);
    } else if (g_str_has_prefix(parts[0], "times ")) {
        g_assert_cmpuint(n, ==, 2);
        test_times(parts[0] + 6, parts[1]);
    } else {
        g_error("cases.txt: unknown case '%s'", parts[0]);
    }
}

static void
test_mask_prefix(void)
{
    static const struct { const char *mask; int prefix; } cases[] = {
        { "255.255.255.0", 24 }, { "255.255.255.255", 32 }, { "0.0.0.0", 0 },
        { "255.128.0.0", 9 }, { "255.0.255.0", -1 }, { "0.255.255.255", -1 },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        uint8_t m[4];
        ip_in(cases[i].mask, m);
        g_assert_cmpint(vsb_dhcp_mask_prefix(m), ==, cases[i].prefix);
    }
}

int
main(int argc, char **argv)
{
    g_autofree char *path = NULL, *text = NULL;
    g_auto(GStrv) lines = NULL;

    g_test_init(&argc, &argv, NULL);
    data_dir = vsb_test_data_dir("dhcpdata");
    path = g_build_filename(data_dir, "cases.txt", NULL);
    text = vsb_test_read_file(path);
    lines = g_strsplit(text, "\n", -1);
    for (size_t i = 0; lines[i]; i++) {
        g_autofree char *tpath = NULL;
        if (!lines[i][0] || lines[i][0] == '#')
            continue;
        tpath = g_strdup_printf("/init/dhcp/line%zu", i + 1);
        g_test_add_data_func(tpath, lines[i], test_line);
    }
    g_test_add_func("/init/dhcp/mask-prefix", test_mask_prefix);
    return g_test_run();
}
