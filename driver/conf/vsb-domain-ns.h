/*
 * vsb-domain-ns.h: our own XML namespace (VSB_DOMAIN_XMLNS) inside
 * <metadata>: the <vsb:sandbox> element, private to the conf layer.
 * The schema is libvirt-xml/vsb-domain.rng.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <libxml/tree.h>

#include "vsb-domain-conf.h"

/* @node is in our namespace (whatever its prefix). */
bool vsb_domain_ns_is_ours(const xmlNode *node);

/* Parse <vsb:sandbox> (a child of <metadata>) into @def. */
bool vsb_domain_ns_parse(xmlNode *node, VsbDomainDef *def, GError **error);

/* Append <vsb:sandbox> as lines indented for @level, or nothing when
 * @def sets nothing of ours. */
void vsb_domain_ns_format(GString *buf, const VsbDomainDef *def, int level);
