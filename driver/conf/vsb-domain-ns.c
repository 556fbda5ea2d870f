/*
 * vsb-domain-ns.c: <vsb:sandbox>, the virt-sandbox extensions that
 * libvirt's domain XML has no element for.  It lives in <metadata> so
 * that documents still validate against libvirt's schema; inside it we
 * are as strict as with libvirt's elements: an unknown element or
 * attribute is an error, never skipped.
 *
 *   <vsb:sandbox xmlns:vsb="http://virt-sandbox.org/xmlns/domain/1.0">
 *     <vsb:time>
 *       <vsb:monotonic start='SECONDS'/>     or offset='SECONDS'
 *       <vsb:boottime start='SECONDS'/>      or offset='SECONDS'
 *     </vsb:time>
 *     <vsb:pids max='N'/>                    the cgroup's pids.max
 *   </vsb:sandbox>
 */
#include <config.h>

#include "vsb-domain-ns.h"
#include "vsb-xml-util.h"

#define NSEC_PER_SEC 1000000000LL
/* The most pids.max takes: the kernel's PID_MAX_LIMIT on 64-bit
 * (4 Mi); it refuses anything larger. */
#define VSB_PIDS_MAX_LIMIT 4194304ULL

bool
vsb_domain_ns_is_ours(const xmlNode *node)
{
    return node->type == XML_ELEMENT_NODE && node->ns && node->ns->href &&
           xmlStrEqual(node->ns->href, VSB_XC(VSB_DOMAIN_XMLNS));
}

static bool
ours_named(const xmlNode *node, const char *name)
{
    return vsb_domain_ns_is_ours(node) && xmlStrEqual(node->name, VSB_XC(name));
}

static bool
reject_unknown(xmlNode *c, const char *why, GError **error)
{
    g_autofree char *label = vsb_xml_elem_label(c);
    g_autofree char *parent = vsb_xml_elem_label(c->parent);

    VSB_CONF_ERROR(error, INVALID, "unknown element %s in %s (line %ld)%s", label, parent,
                   vsb_xml_elem_line(c), why ? why : "");
    return false;
}

/* "[-]DIGITS[.DIGITS]" seconds (at most 9 decimals: nanoseconds) into
 * nanoseconds, within VSB_DOMAIN_TIMENS_MAX_SEC either way. */
static bool
parse_seconds(const char *s, bool allow_negative, gint64 *out)
{
    const char *p = s;
    bool neg = false;
    gint64 sec = 0, nsec = 0;
    int digits = 0;

    if (*p == '-' && allow_negative) {
        neg = true;
        p++;
    }
    if (!g_ascii_isdigit(*p))
        return false;
    for (; g_ascii_isdigit(*p); p++) {
        sec = sec * 10 + (*p - '0');
        if (sec > VSB_DOMAIN_TIMENS_MAX_SEC)
            return false;
    }
    if (*p == '.') {
        p++;
        if (!g_ascii_isdigit(*p))
            return false;
        for (; g_ascii_isdigit(*p); p++) {
            if (++digits > 9)
                return false;
            nsec = nsec * 10 + (*p - '0');
        }
        for (; digits < 9; digits++)
            nsec *= 10;
    }
    if (*p)
        return false;
    *out = (sec * NSEC_PER_SEC + nsec) * (neg ? -1 : 1);
    return true;
}

static bool
parse_clock(xmlNode *node, VsbDomainTimensClock *clk, GError **error)
{
    static const char *const allowed[] = { "start", "offset", NULL };
    g_autofree char *label = vsb_xml_elem_label(node);
    g_autofree char *start = NULL;
    g_autofree char *offset = NULL;

    if (!vsb_xml_check_attrs(node, allowed, NULL, error) || !vsb_xml_check_empty(node, error))
        return false;
    start = vsb_xml_prop(node, "start");
    offset = vsb_xml_prop(node, "offset");
    if (!start == !offset) {
        VSB_CONF_ERROR(error, INVALID, "%s needs exactly one of start= and offset= (line %ld)",
                       label, vsb_xml_elem_line(node));
        return false;
    }
    if (start) {
        clk->mode = VSB_DOMAIN_TIMENS_START;
        if (!parse_seconds(start, false, &clk->ns)) {
            VSB_CONF_ERROR(error, INVALID,
                           "%s start='%s': expected seconds, 0 to %lld, at most 9 decimals",
                           label, start, VSB_DOMAIN_TIMENS_MAX_SEC);
            return false;
        }
    } else {
        clk->mode = VSB_DOMAIN_TIMENS_OFFSET;
        if (!parse_seconds(offset, true, &clk->ns)) {
            VSB_CONF_ERROR(error, INVALID,
                           "%s offset='%s': expected seconds, -%lld to %lld, at most 9 decimals",
                           label, offset, VSB_DOMAIN_TIMENS_MAX_SEC, VSB_DOMAIN_TIMENS_MAX_SEC);
            return false;
        }
    }
    return true;
}

static bool
parse_time(xmlNode *node, VsbDomainDef *def, GError **error)
{
    bool seen_mono = false, seen_boot = false;

    if (!vsb_xml_check_attrs(node, NULL, NULL, error))
        return false;
    for (xmlNode *c = node->children; c; c = c->next) {
        int r = vsb_xml_next_element(c, error);
        bool *seen;
        VsbDomainTimensClock *clk;

        if (r < 0)
            return false;
        if (r == 0)
            continue;
        if (ours_named(c, "monotonic")) {
            seen = &seen_mono;
            clk = &def->timens_monotonic;
        } else if (ours_named(c, "boottime")) {
            seen = &seen_boot;
            clk = &def->timens_boottime;
        } else if (ours_named(c, "realtime")) {
            VSB_CONF_ERROR(error, UNSUPPORTED,
                           "unsupported realtime clock offset (line %ld): the kernel's time "
                           "namespace offsets only CLOCK_MONOTONIC and CLOCK_BOOTTIME, a "
                           "container shares the host's realtime clock (the KVM sandbox can "
                           "offset it)", vsb_xml_elem_line(c));
            return false;
        } else {
            return reject_unknown(c, ": expected <vsb:monotonic> or <vsb:boottime>", error);
        }
        if (*seen)
            return vsb_xml_reject_duplicate(c, error);
        *seen = true;
        if (!parse_clock(c, clk, error))
            return false;
    }
    return true;
}

/* <vsb:pids max='N'/>: how many tasks (processes and threads) the
 * container may hold at once. */
static bool
parse_pids(xmlNode *node, VsbDomainDef *def, GError **error)
{
    static const char *const allowed[] = { "max", NULL };
    g_autofree char *label = vsb_xml_elem_label(node);
    g_autofree char *max = NULL;

    if (!vsb_xml_check_attrs(node, allowed, NULL, error) || !vsb_xml_check_empty(node, error))
        return false;
    if (!(max = vsb_xml_prop(node, "max"))) {
        VSB_CONF_ERROR(error, INVALID, "%s needs max='N' (line %ld)", label,
                       vsb_xml_elem_line(node));
        return false;
    }
    if (!vsb_parse_ull(max, VSB_PIDS_MAX_LIMIT, &def->pids_max) || def->pids_max == 0) {
        def->pids_max = 0;
        VSB_CONF_ERROR(error, INVALID, "%s max='%s' (line %ld): expected a number of tasks, "
                       "1 to %llu", label, max, vsb_xml_elem_line(node), VSB_PIDS_MAX_LIMIT);
        return false;
    }
    return true;
}

bool
vsb_domain_ns_parse(xmlNode *node, VsbDomainDef *def, GError **error)
{
    bool seen_time = false, seen_pids = false;

    if (!ours_named(node, "sandbox"))
        return reject_unknown(node, ": the virt-sandbox namespace has only <vsb:sandbox> there",
                              error);
    if (!vsb_xml_check_attrs(node, NULL, NULL, error))
        return false;
    for (xmlNode *c = node->children; c; c = c->next) {
        int r = vsb_xml_next_element(c, error);

        if (r < 0)
            return false;
        if (r == 0)
            continue;
        if (ours_named(c, "pids")) {
            if (seen_pids)
                return vsb_xml_reject_duplicate(c, error);
            seen_pids = true;
            if (!parse_pids(c, def, error))
                return false;
            continue;
        }
        if (!ours_named(c, "time"))
            return reject_unknown(c, NULL, error);
        if (seen_time)
            return vsb_xml_reject_duplicate(c, error);
        seen_time = true;
        if (!parse_time(c, def, error))
            return false;
    }
    return true;
}

/* Seconds with as many decimals as needed (none for whole seconds):
 * the canonical form of what parse_seconds() reads. */
static void
format_seconds(GString *buf, gint64 ns)
{
    guint64 a = ns < 0 ? (guint64)-(ns + 1) + 1 : (guint64)ns;
    guint64 frac = a % (guint64)NSEC_PER_SEC;
    char digits[10];
    int n = 9;

    g_string_append_printf(buf, "%s%" G_GUINT64_FORMAT, ns < 0 ? "-" : "", a / (guint64)NSEC_PER_SEC);
    if (!frac)
        return;
    g_snprintf(digits, sizeof(digits), "%09" G_GUINT64_FORMAT, frac);
    while (n > 1 && digits[n - 1] == '0')
        n--;
    digits[n] = '\0';
    g_string_append_printf(buf, ".%s", digits);
}

static void
format_clock(GString *buf, const char *name, const VsbDomainTimensClock *clk, int level)
{
    if (clk->mode == VSB_DOMAIN_TIMENS_DEFAULT)
        return;
    for (int i = 0; i < level; i++)
        g_string_append(buf, "  ");
    /* Double quotes, as xmlNodeDump() writes them: libvirt keeps
     * <metadata> children through libxml2 and would write this so. */
    g_string_append_printf(buf, "<" VSB_DOMAIN_XMLNS_PREFIX ":%s %s=\"", name,
                           clk->mode == VSB_DOMAIN_TIMENS_START ? "start" : "offset");
    format_seconds(buf, clk->ns);
    g_string_append(buf, "\"/>\n");
}

void
vsb_domain_ns_format(GString *buf, const VsbDomainDef *def, int level)
{
    g_autofree char *pad = g_strnfill(level * 2, ' ');
    bool time = def->timens_monotonic.mode != VSB_DOMAIN_TIMENS_DEFAULT ||
                def->timens_boottime.mode != VSB_DOMAIN_TIMENS_DEFAULT;

    if (!time && !def->pids_max)
        return;
    g_string_append_printf(buf, "%s<" VSB_DOMAIN_XMLNS_PREFIX ":sandbox xmlns:"
                           VSB_DOMAIN_XMLNS_PREFIX "=\"" VSB_DOMAIN_XMLNS "\">\n", pad);
    if (time) {
        g_string_append_printf(buf, "%s  <" VSB_DOMAIN_XMLNS_PREFIX ":time>\n", pad);
        format_clock(buf, "monotonic", &def->timens_monotonic, level + 2);
        format_clock(buf, "boottime", &def->timens_boottime, level + 2);
        g_string_append_printf(buf, "%s  </" VSB_DOMAIN_XMLNS_PREFIX ":time>\n", pad);
    }
    if (def->pids_max)
        g_string_append_printf(buf, "%s  <" VSB_DOMAIN_XMLNS_PREFIX ":pids max=\"%llu\"/>\n",
                               pad, def->pids_max);
    g_string_append_printf(buf, "%s</" VSB_DOMAIN_XMLNS_PREFIX ":sandbox>\n", pad);
}
