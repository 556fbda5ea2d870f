/*
 * vsb-xml-util.h: g_autoptr() support for libxml2 types, and small
 * helpers shared by the domain XML parser and formatter.
 *
 * Header-only on purpose: every helper is static inline so that a
 * translation unit pays only for what it uses and -Wmissing-prototypes
 * stays quiet.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <string.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xmlsave.h>

#include "vsb-domain-conf.h"

G_BEGIN_DECLS

/* xmlFree is a variable (a function pointer), not a function, so it
 * cannot be handed to the cleanup macros directly. */
static inline void
vsb_xml_char_free(xmlChar *s)
{
    xmlFree(s);
}

typedef xmlChar VsbXmlChar;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbXmlChar, vsb_xml_char_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlDoc, xmlFreeDoc)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlNode, xmlFreeNode)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlParserCtxt, xmlFreeParserCtxt)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathContext, xmlXPathFreeContext)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathObject, xmlXPathFreeObject)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlBuffer, xmlBufferFree)

/* libxml2 hands out unsigned char strings; ours are char. */
#define VSB_XC(s) ((const xmlChar *)(s))
#define VSB_CC(s) ((const char *)(s))

static inline bool
vsb_xml_name_is(const xmlNode *node, const char *name)
{
    return node->type == XML_ELEMENT_NODE && node->ns == NULL &&
           strcmp(VSB_CC(node->name), name) == 0;
}

/* g_set_error() in VSB_DOMAIN_CONF_ERROR with a short code name. */
#define VSB_CONF_ERROR(error, code, ...) \
    g_set_error(error, VSB_DOMAIN_CONF_ERROR, VSB_DOMAIN_CONF_ERROR_ ## code, __VA_ARGS__)

/* Parse @xml without network access or entity substitution, refusing a
 * DOCTYPE; libxml2's own messages are captured (first error, with its
 * line) instead of printed.  Error code VSB_DOMAIN_CONF_ERROR_XML. */
xmlDoc *vsb_xml_read(const char *xml, GError **error);

/* @s is in the NULL-terminated @list (which may be NULL). */
bool vsb_str_in(const char *const *list, const char *s);

/* "<name>" or "<prefix:name>", for messages. */
char *vsb_xml_elem_label(const xmlNode *node);
long vsb_xml_elem_line(const xmlNode *node);

/* Attribute without namespace as a g_malloc()ed string, NULL if absent. */
char *vsb_xml_prop(xmlNode *node, const char *name);
bool vsb_xml_prop_required(xmlNode *node, const char *name, char **out, GError **error);

/* Every attribute of @node must be in @allowed; those in @unsupported
 * (libvirt's, not implemented here) fail with ERROR_UNSUPPORTED, the
 * rest with ERROR_INVALID.  Both lists NULL-terminated or NULL. */
bool vsb_xml_check_attrs(xmlNode *node, const char *const *allowed,
                         const char *const *unsupported, GError **error);

bool vsb_xml_is_blank(const xmlChar *s);

/* For children of element-only content: 1 = element to handle,
 * 0 = skip (comment, processing instruction, white space),
 * -1 = error (text or other content). */
int vsb_xml_next_element(xmlNode *c, GError **error);

/* Fail on child @c: ERROR_UNSUPPORTED when its name is in @known
 * (libvirt defines it), ERROR_INVALID (unknown) otherwise.  Returns false. */
bool vsb_xml_reject_child(xmlNode *c, const char *const *known, GError **error);
bool vsb_xml_reject_duplicate(xmlNode *c, GError **error);

/* @node has no element or text children. */
bool vsb_xml_check_empty(xmlNode *node, GError **error);

/* Text and CDATA children concatenated (comments skipped, elements
 * refused); the _stripped variant trims white space around it. */
bool vsb_xml_get_text(xmlNode *node, char **out, GError **error);
bool vsb_xml_get_text_stripped(xmlNode *node, char **out, GError **error);

/* Remove white-space-only text between elements, so that xmlNodeDump()
 * can indent; elements with real text (mixed content) are untouched. */
void vsb_xml_strip_blank_text(xmlNode *node);

/* Numbers and paths, shared by the conf layer's parsers. */
typedef enum {
    VSB_PARSE_NUM_OK,
    VSB_PARSE_NUM_INVALID,
    VSB_PARSE_NUM_OVERFLOW,
} VsbParseNumResult;

/* Decimal digits only (no sign, no base prefix), at most @max;
 * surrounding white space allowed as XML Schema's integer types do. */
VsbParseNumResult vsb_parse_ull_full(const char *s, unsigned long long max,
                                     unsigned long long *out);
bool vsb_parse_ull(const char *s, unsigned long long max, unsigned long long *out);

/* ERROR_INVALID "WHAT 'PATH' must be an absolute path" unless it is. */
bool vsb_check_abs_path(const char *what, const char *path, GError **error);
/* Canonical form for comparing paths: no empty or "." components, no
 * trailing slash ("..", when allowed, is kept as written). */
char *vsb_normalize_path(const char *path);

/* Escape @s for use in element content or an attribute value, as
 * libvirt does (both quote characters too, so the same function
 * serves both).  Tab, newline and carriage return are written as
 * character references so that they survive attribute-value
 * normalisation and end-of-line handling on re-parse. */
static inline void
vsb_xml_escape_append(GString *buf, const char *s, bool attribute)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': g_string_append(buf, "&amp;"); break;
        case '<': g_string_append(buf, "&lt;"); break;
        case '>': g_string_append(buf, "&gt;"); break;
        case '\'': g_string_append(buf, "&apos;"); break;
        case '"': g_string_append(buf, "&quot;"); break;
        case '\r': g_string_append(buf, "&#13;"); break;
        case '\n':
            if (attribute)
                g_string_append(buf, "&#10;");
            else
                g_string_append_c(buf, '\n');
            break;
        case '\t':
            if (attribute)
                g_string_append(buf, "&#9;");
            else
                g_string_append_c(buf, '\t');
            break;
        default:
            g_string_append_c(buf, *s);
        }
    }
}

G_END_DECLS
