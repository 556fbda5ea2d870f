/*
 * vsb-domain-tune.h: resource tuning in the domain XML (<memory>,
 * <currentMemory>, <blkiotune>, <memtune>, <vcpu>, <cputune>,
 * <numatune>), private to the conf layer.  The parsers are entries of
 * vsb-domain-conf.c's table of <domain> children.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <libxml/tree.h>

#include "vsb-domain-conf.h"

bool vsb_domain_tune_parse_memory(xmlNode *node, VsbDomainDef *def, GError **error);
bool vsb_domain_tune_parse_current_memory(xmlNode *node, VsbDomainDef *def, GError **error);
bool vsb_domain_tune_parse_blkiotune(xmlNode *node, VsbDomainDef *def, GError **error);
bool vsb_domain_tune_parse_memtune(xmlNode *node, VsbDomainDef *def, GError **error);
bool vsb_domain_tune_parse_vcpu(xmlNode *node, VsbDomainDef *def, GError **error);
bool vsb_domain_tune_parse_cputune(xmlNode *node, VsbDomainDef *def, GError **error);
bool vsb_domain_tune_parse_numatune(xmlNode *node, VsbDomainDef *def, GError **error);

/* Checks across elements, once the whole <domain> is parsed. */
bool vsb_domain_tune_check(const VsbDomainDef *def, GError **error);

/* Append <memory> to <numatune> as libvirt writes them: <memory>,
 * <currentMemory>, <blkiotune>, <memtune>, <vcpu>, <cputune>,
 * <numatune>. */
void vsb_domain_tune_format(GString *buf, const VsbDomainDef *def);
