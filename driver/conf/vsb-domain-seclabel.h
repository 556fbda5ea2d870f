/*
 * vsb-domain-seclabel.h: <seclabel> (sVirt), private to the conf layer.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <libxml/tree.h>

#include "vsb-domain-conf.h"

bool vsb_domain_seclabel_parse(xmlNode *node, VsbDomainDef *def, GError **error);
/* Append the <seclabel> element (after </devices>, as libvirt does). */
void vsb_domain_seclabel_format(GString *buf, const VsbDomainDef *def);
