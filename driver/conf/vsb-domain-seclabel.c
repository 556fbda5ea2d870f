/*
 * vsb-domain-seclabel.c: <seclabel> (sVirt).
 *
 * One label per domain (libvirt allows one per security model; we have
 * at most one model, SELinux).  The three forms of libvirt's schema:
 *   type='dynamic' [relabel='yes'] with optional <baselabel>; <label>
 *     and <imagelabel> are what was allocated (output of a running
 *     domain, accepted back on input);
 *   type='static' [relabel='yes|no'] with a required <label>;
 *   type='none' [relabel='no'].
 */
#include <config.h>

#include "vsb-domain-seclabel.h"
#include "vsb-xml-util.h"

#include <string.h>

static const char *const seclabel_types[] = { "dynamic", "static", "none" };
G_STATIC_ASSERT(G_N_ELEMENTS(seclabel_types) == VSB_DOMAIN_SECLABEL_LAST);

const char *
vsb_domain_seclabel_type_to_string(VsbDomainSeclabelType t)
{
    return (unsigned)t < VSB_DOMAIN_SECLABEL_LAST ? seclabel_types[t] : NULL;
}

int
vsb_domain_seclabel_type_from_string(const char *s)
{
    for (int i = 0; s && i < VSB_DOMAIN_SECLABEL_LAST; i++)
        if (strcmp(seclabel_types[i], s) == 0)
            return i;
    return -1;
}

void
vsb_domain_seclabel_free(VsbDomainSeclabel *sl)
{
    if (!sl)
        return;
    g_free(sl->model);
    g_free(sl->label);
    g_free(sl->imagelabel);
    g_free(sl->baselabel);
    g_free(sl);
}

/* A security context: printable, no white space inside, bounded. */
static bool
check_context(const char *what, const char *value, GError **error)
{
    if (!*value || strlen(value) > 4096) {
        VSB_CONF_ERROR(error, INVALID, "invalid <seclabel><%s>: empty or longer than 4096 bytes",
                       what);
        return false;
    }
    for (const char *p = value; *p; p++) {
        if (!g_ascii_isgraph(*p)) {
            VSB_CONF_ERROR(error, INVALID, "invalid <seclabel><%s>%s</%s>: a security context "
                           "has no spaces or control characters", what, value, what);
            return false;
        }
    }
    return true;
}

bool
vsb_domain_seclabel_parse(xmlNode *node, VsbDomainDef *def, GError **error)
{
    static const char *const allowed[] = { "type", "model", "relabel", NULL };
    g_autoptr(VsbDomainSeclabel) sl = g_new0(VsbDomainSeclabel, 1);
    g_autofree char *type = vsb_xml_prop(node, "type");
    g_autofree char *relabel = vsb_xml_prop(node, "relabel");
    int t;

    if (def->seclabel) {
        VSB_CONF_ERROR(error, UNSUPPORTED, "unsupported second <seclabel>: one security "
                       "model (selinux) is supported");
        return false;
    }
    if (!vsb_xml_check_attrs(node, allowed, NULL, error))
        return false;
    t = type ? vsb_domain_seclabel_type_from_string(type) : VSB_DOMAIN_SECLABEL_DYNAMIC;
    if (t < 0) {
        VSB_CONF_ERROR(error, INVALID, "invalid <seclabel type='%s'>: expected dynamic, static "
                       "or none", type);
        return false;
    }
    sl->type = t;
    sl->model = vsb_xml_prop(node, "model");
    if (sl->model && strcmp(sl->model, "selinux") != 0 && strcmp(sl->model, "none") != 0) {
        VSB_CONF_ERROR(error, UNSUPPORTED, "unsupported <seclabel model='%s'>: expected "
                       "'selinux' or 'none'", sl->model);
        return false;
    }
    if (relabel && strcmp(relabel, "yes") != 0 && strcmp(relabel, "no") != 0) {
        VSB_CONF_ERROR(error, INVALID, "invalid <seclabel relabel='%s'>: expected yes or no",
                       relabel);
        return false;
    }
    /* libvirt's defaults: dynamic relabels, static does not. */
    sl->relabel = relabel ? strcmp(relabel, "yes") == 0 : sl->type == VSB_DOMAIN_SECLABEL_DYNAMIC;
    if ((sl->type == VSB_DOMAIN_SECLABEL_DYNAMIC && !sl->relabel) ||
        (sl->type == VSB_DOMAIN_SECLABEL_NONE && sl->relabel)) {
        VSB_CONF_ERROR(error, INVALID, "invalid <seclabel type='%s' relabel='%s'>: a %s label "
                       "must %s relabel", type ? type : "dynamic", relabel,
                       type ? type : "dynamic",
                       sl->type == VSB_DOMAIN_SECLABEL_NONE ? "not" : "always");
        return false;
    }

    for (xmlNode *c = node->children; c; c = c->next) {
        static const char *const children[] = { "label", "imagelabel", "baselabel", NULL };
        char **slot = NULL;
        int r = vsb_xml_next_element(c, error);

        if (r < 0)
            return false;
        if (r == 0)
            continue;
        if (vsb_xml_name_is(c, "label"))
            slot = &sl->label;
        else if (vsb_xml_name_is(c, "imagelabel"))
            slot = &sl->imagelabel;
        else if (vsb_xml_name_is(c, "baselabel"))
            slot = &sl->baselabel;
        if (!slot || sl->type == VSB_DOMAIN_SECLABEL_NONE ||
            (slot == &sl->baselabel && sl->type != VSB_DOMAIN_SECLABEL_DYNAMIC)) {
            if (slot || vsb_str_in(children, VSB_CC(c->name))) {
                VSB_CONF_ERROR(error, INVALID, "<%s> is not allowed in <seclabel type='%s'>",
                               VSB_CC(c->name), vsb_domain_seclabel_type_to_string(sl->type));
                return false;
            }
            return vsb_xml_reject_child(c, NULL, error);
        }
        if (*slot)
            return vsb_xml_reject_duplicate(c, error);
        if (!vsb_xml_get_text_stripped(c, slot, error) ||
            !check_context(VSB_CC(c->name), *slot, error))
            return false;
    }
    if (sl->type == VSB_DOMAIN_SECLABEL_STATIC && !sl->label) {
        VSB_CONF_ERROR(error, INVALID, "<seclabel type='static'> needs a <label>");
        return false;
    }
    def->seclabel = g_steal_pointer(&sl);
    return true;
}

static void
format_text(GString *buf, const char *name, const char *value)
{
    if (!value)
        return;
    g_string_append_printf(buf, "    <%s>", name);
    vsb_xml_escape_append(buf, value, false);
    g_string_append_printf(buf, "</%s>\n", name);
}

void
vsb_domain_seclabel_format(GString *buf, const VsbDomainDef *def)
{
    const VsbDomainSeclabel *sl = def->seclabel;

    if (!sl)
        return;
    g_string_append_printf(buf, "  <seclabel type='%s'", vsb_domain_seclabel_type_to_string(sl->type));
    if (sl->model) {
        g_string_append(buf, " model='");
        vsb_xml_escape_append(buf, sl->model, true);
        g_string_append_c(buf, '\'');
    }
    if (sl->type == VSB_DOMAIN_SECLABEL_NONE) {
        g_string_append(buf, "/>\n");
        return;
    }
    g_string_append_printf(buf, " relabel='%s'", sl->relabel ? "yes" : "no");
    if (!sl->label && !sl->imagelabel && !sl->baselabel) {
        g_string_append(buf, "/>\n");
        return;
    }
    g_string_append(buf, ">\n");
    format_text(buf, "label", sl->label);
    format_text(buf, "imagelabel", sl->imagelabel);
    format_text(buf, "baselabel", sl->baselabel);
    g_string_append(buf, "  </seclabel>\n");
}
