/*
 * vsb-xml-util.c: libxml2 helpers for the domain XML parser: reading a
 * document safely and walking elements strictly (every attribute and
 * child accounted for); number and path checks its parsers share.
 */
#include <config.h>

#include "vsb-xml-util.h"

#include <string.h>
#include <libxml/SAX2.h>

/* Largest document we accept; a domain is a few KiB. */
#define VSB_XML_MAX (10 * 1024 * 1024)

bool
vsb_str_in(const char *const *list, const char *s)
{
    for (; list && *list; list++) {
        if (strcmp(*list, s) == 0)
            return true;
    }
    return false;
}

/* ------------------------------------------------------------------ */
/* DOM helpers                                                        */

/* "<name>" or "<prefix:name>" for messages. */
char *
vsb_xml_elem_label(const xmlNode *node)
{
    if (node->ns && node->ns->prefix)
        return g_strdup_printf("<%s:%s>", VSB_CC(node->ns->prefix), VSB_CC(node->name));
    return g_strdup_printf("<%s>", VSB_CC(node->name));
}

long
vsb_xml_elem_line(const xmlNode *node)
{
    return xmlGetLineNo(node);
}

/* An attribute as a g_malloc()ed string, or NULL when absent. */
char *
vsb_xml_prop(xmlNode *node, const char *name)
{
    g_autoptr(VsbXmlChar) v = xmlGetNoNsProp(node, VSB_XC(name));

    return v ? g_strdup(VSB_CC(v)) : NULL;
}

bool
vsb_xml_prop_required(xmlNode *node, const char *name, char **out, GError **error)
{
    if (!(*out = vsb_xml_prop(node, name))) {
        g_autofree char *label = vsb_xml_elem_label(node);

        VSB_CONF_ERROR(error, INVALID, "missing attribute '%s' on %s (line %ld)",
                       name, label, vsb_xml_elem_line(node));
        return false;
    }
    return true;
}

/* Every attribute of @node must be in @allowed; those in @unsupported
 * are libvirt's and get a clearer error. */
bool
vsb_xml_check_attrs(xmlNode *node, const char *const *allowed,
            const char *const *unsupported, GError **error)
{
    for (xmlAttr *a = node->properties; a; a = a->next) {
        g_autofree char *label = NULL;
        const char *name = VSB_CC(a->name);

        if (!a->ns && vsb_str_in(allowed, name))
            continue;
        label = vsb_xml_elem_label(node);
        if (!a->ns && vsb_str_in(unsupported, name)) {
            VSB_CONF_ERROR(error, UNSUPPORTED, "unsupported attribute '%s' on %s (line %ld)",
                           name, label, vsb_xml_elem_line(node));
        } else if (a->ns && a->ns->prefix) {
            VSB_CONF_ERROR(error, INVALID, "unknown attribute '%s:%s' on %s (line %ld)",
                           VSB_CC(a->ns->prefix), name, label, vsb_xml_elem_line(node));
        } else {
            VSB_CONF_ERROR(error, INVALID, "unknown attribute '%s' on %s (line %ld)",
                           name, label, vsb_xml_elem_line(node));
        }
        return false;
    }
    return true;
}

bool
vsb_xml_is_blank(const xmlChar *s)
{
    for (; s && *s; s++) {
        if (!g_ascii_isspace(*s))
            return false;
    }
    return true;
}

/* Classify a child of an element whose content is elements only:
 * 1 = an element to handle, 0 = skip (comment, blank text), -1 = error. */
int
vsb_xml_next_element(xmlNode *c, GError **error)
{
    g_autofree char *label = NULL;
    g_autofree char *text = NULL;

    switch (c->type) {
    case XML_ELEMENT_NODE:
        return 1;
    case XML_COMMENT_NODE:
    case XML_PI_NODE:
        return 0;
    case XML_TEXT_NODE:
        if (vsb_xml_is_blank(c->content))
            return 0;
        label = vsb_xml_elem_label(c->parent);
        /* Quote the start of it only: it may be a whole misplaced document. */
        text = g_strstrip(g_utf8_substring(VSB_CC(c->content), 0,
                                           MIN(g_utf8_strlen(VSB_CC(c->content), -1), 40)));
        VSB_CONF_ERROR(error, INVALID, "unexpected text '%s' in %s (line %ld)",
                       text, label, vsb_xml_elem_line(c));
        return -1;
    default:
        label = vsb_xml_elem_label(c->parent);
        VSB_CONF_ERROR(error, INVALID, "unexpected content in %s (line %ld)",
                       label, vsb_xml_elem_line(c->parent));
        return -1;
    }
}

bool
vsb_xml_reject_child(xmlNode *c, const char *const *known, GError **error)
{
    g_autofree char *label = vsb_xml_elem_label(c);
    g_autofree char *plabel = vsb_xml_elem_label(c->parent);

    if (!c->ns && vsb_str_in(known, VSB_CC(c->name)))
        VSB_CONF_ERROR(error, UNSUPPORTED, "unsupported element %s in %s (line %ld)",
                       label, plabel, vsb_xml_elem_line(c));
    else
        VSB_CONF_ERROR(error, INVALID, "unknown element %s in %s (line %ld)",
                       label, plabel, vsb_xml_elem_line(c));
    return false;
}

bool
vsb_xml_reject_duplicate(xmlNode *c, GError **error)
{
    g_autofree char *label = vsb_xml_elem_label(c);
    g_autofree char *plabel = vsb_xml_elem_label(c->parent);

    VSB_CONF_ERROR(error, INVALID, "duplicate element %s in %s (line %ld)",
                   label, plabel, vsb_xml_elem_line(c));
    return false;
}

/* Element without children (comments and white space aside). */
bool
vsb_xml_check_empty(xmlNode *node, GError **error)
{
    for (xmlNode *c = node->children; c; c = c->next) {
        int r = vsb_xml_next_element(c, error);

        if (r < 0)
            return false;
        if (r > 0)
            return vsb_xml_reject_child(c, NULL, error);
    }
    return true;
}

/* Text content: text and CDATA concatenated, comments skipped,
 * elements refused. */
bool
vsb_xml_get_text(xmlNode *node, char **out, GError **error)
{
    g_autoptr(GString) s = g_string_new(NULL);

    for (xmlNode *c = node->children; c; c = c->next) {
        if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
            g_string_append(s, VSB_CC(c->content));
        } else if (c->type == XML_ELEMENT_NODE) {
            return vsb_xml_reject_child(c, NULL, error);
        } else if (c->type != XML_COMMENT_NODE && c->type != XML_PI_NODE) {
            g_autofree char *label = vsb_xml_elem_label(node);

            VSB_CONF_ERROR(error, INVALID, "unexpected content in %s (line %ld)",
                           label, vsb_xml_elem_line(node));
            return false;
        }
    }
    *out = g_string_free(g_steal_pointer(&s), FALSE);
    return true;
}

/* Text with surrounding white space removed, for values (numbers,
 * keywords) where it cannot matter. */
bool
vsb_xml_get_text_stripped(xmlNode *node, char **out, GError **error)
{
    if (!vsb_xml_get_text(node, out, error))
        return false;
    g_strstrip(*out);
    return true;
}

/* ------------------------------------------------------------------ */
/* XML reading                                                        */

typedef struct {
    char *msg;
    int line;
    bool doctype;
} XmlErrorCapture;

static void
xml_capture_error(void *data, xmlErrorPtr err)
{
    xmlParserCtxtPtr ctxt = data;
    XmlErrorCapture *cap = ctxt ? ctxt->_private : NULL;

    /* Keep the first error: later ones are usually consequences. */
    if (!cap || cap->msg || !err || err->level < XML_ERR_ERROR)
        return;
    cap->msg = g_strchomp(g_strdup(err->message ? err->message : "unknown error"));
    cap->line = err->line;
}

/* Internal subsets declare entities (billion laughs) and external ones
 * point at files; libvirt never writes either.  Stop at the DOCTYPE
 * itself, before the parser reads any declaration. */
static void
xml_refuse_doctype(void *data, const xmlChar *name,
                   const xmlChar *external_id, const xmlChar *system_id)
{
    xmlParserCtxtPtr ctxt = data;
    XmlErrorCapture *cap = ctxt->_private;

    cap->doctype = true;
    cap->line = xmlSAX2GetLineNumber(ctxt);
    xmlStopParser(ctxt);
}

static void G_GNUC_PRINTF(2, 3)
xml_quiet(void *ctx, const char *msg, ...)
{
}

xmlDoc *
vsb_xml_read(const char *xml, GError **error)
{
    g_autoptr(xmlParserCtxt) ctxt = NULL;
    g_autoptr(xmlDoc) doc = NULL;
    XmlErrorCapture cap = { NULL, 0, false };
    xmlGenericErrorFunc old_func = xmlGenericError;
    void *old_ctx = xmlGenericErrorContext;
    size_t len = strlen(xml);

    if (len > VSB_XML_MAX) {
        VSB_CONF_ERROR(error, XML, "document is too large (%zu bytes)", len);
        return NULL;
    }
    if (!(ctxt = xmlNewParserCtxt())) {
        VSB_CONF_ERROR(error, XML, "cannot allocate an XML parser");
        return NULL;
    }
    /* Errors reach us through the structured handler (with a line
     * number) instead of being printed on stderr. */
    ctxt->_private = &cap;
    ctxt->sax->serror = xml_capture_error;
    ctxt->sax->internalSubset = xml_refuse_doctype;
    xmlSetGenericErrorFunc(NULL, xml_quiet);
    /* NONET: no fetching of external resources; no NOENT: entities
     * are not substituted (a DOCTYPE is refused below anyway). */
    doc = xmlCtxtReadMemory(ctxt, xml, (int)len, NULL, NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR |
                            XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
    xmlSetGenericErrorFunc(old_ctx, old_func);

    if (cap.doctype) {
        VSB_CONF_ERROR(error, XML, "a <!DOCTYPE> is not allowed in domain XML (line %d)",
                       cap.line);
        g_free(cap.msg);
        return NULL;
    }
    if (cap.msg || !doc || !ctxt->wellFormed) {
        VSB_CONF_ERROR(error, XML, "malformed XML at line %d: %s",
                       cap.msg ? cap.line : ctxt->input ? ctxt->input->line : 0,
                       cap.msg ? cap.msg : "document is not well-formed");
        g_free(cap.msg);
        return NULL;
    }
    /* Belt and braces: xml_refuse_doctype() has stopped the parser. */
    if (doc->intSubset || doc->extSubset) {
        VSB_CONF_ERROR(error, XML, "a <!DOCTYPE> is not allowed in domain XML");
        return NULL;
    }
    if (!xmlDocGetRootElement(doc)) {
        VSB_CONF_ERROR(error, XML, "malformed XML: no root element");
        return NULL;
    }
    return g_steal_pointer(&doc);
}

/* Drop white space between elements so that xmlNodeDump() can indent
 * the tree itself.  Elements holding real text (mixed content) are
 * left alone, white space included. */
void
vsb_xml_strip_blank_text(xmlNode *node)
{
    bool has_elem = false;
    xmlNode *c, *next;

    for (c = node->children; c; c = c->next) {
        if ((c->type == XML_TEXT_NODE && !vsb_xml_is_blank(c->content)) ||
            c->type == XML_CDATA_SECTION_NODE || c->type == XML_ENTITY_REF_NODE)
            return;
        if (c->type == XML_ELEMENT_NODE)
            has_elem = true;
    }
    if (!has_elem)
        return;
    for (c = node->children; c; c = next) {
        next = c->next;
        if (c->type == XML_TEXT_NODE) {
            xmlUnlinkNode(c);
            xmlFreeNode(c);
        } else if (c->type == XML_ELEMENT_NODE) {
            vsb_xml_strip_blank_text(c);
        }
    }
}

/* ------------------------------------------------------------------ */
/* numbers and paths                                                  */

/* Decimal digits only (no sign, no base prefix), surrounding white
 * space allowed as XML Schema's integer types do. */
VsbParseNumResult
vsb_parse_ull_full(const char *s, unsigned long long max, unsigned long long *out)
{
    unsigned long long v = 0;
    const char *p = s;
    bool overflow = false;

    if (!s)
        return VSB_PARSE_NUM_INVALID;
    while (g_ascii_isspace(*p))
        p++;
    if (!g_ascii_isdigit(*p))
        return VSB_PARSE_NUM_INVALID;
    for (; g_ascii_isdigit(*p); p++) {
        unsigned int d = (unsigned int)(*p - '0');

        if (v > (max - d) / 10)
            overflow = true;
        else
            v = v * 10 + d;
    }
    while (g_ascii_isspace(*p))
        p++;
    if (*p)
        return VSB_PARSE_NUM_INVALID;
    if (overflow)
        return VSB_PARSE_NUM_OVERFLOW;
    *out = v;
    return VSB_PARSE_NUM_OK;
}

bool
vsb_parse_ull(const char *s, unsigned long long max, unsigned long long *out)
{
    return vsb_parse_ull_full(s, max, out) == VSB_PARSE_NUM_OK;
}

bool
vsb_check_abs_path(const char *what, const char *path, GError **error)
{
    if (!path || path[0] != '/') {
        VSB_CONF_ERROR(error, INVALID, "%s '%s' must be an absolute path",
                       what, path ? path : "");
        return false;
    }
    return true;
}

char *
vsb_normalize_path(const char *path)
{
    g_auto(GStrv) parts = g_strsplit(path, "/", -1);
    g_autoptr(GString) s = g_string_new(NULL);

    for (char **p = parts; *p; p++) {
        if (!**p || strcmp(*p, ".") == 0)
            continue;
        g_string_append_c(s, '/');
        g_string_append(s, *p);
    }
    if (s->len == 0)
        g_string_append_c(s, '/');
    return g_string_free(g_steal_pointer(&s), FALSE);
}
