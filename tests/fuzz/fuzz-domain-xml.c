/*
 * fuzz-domain-xml.c: libFuzzer target for the domain XML parser.
 *
 * Any input may be rejected, but nothing may crash, leak or print.  An
 * accepted input must round-trip: its formatted form parses again and
 * formats to the same bytes (the formatter's output is canonical).
 *
 *   fuzz-domain-xml -max_total_time=60 CORPUS_DIR tests/domainconfdata
 */
#include <config.h>

#include "vsb-domain-conf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *xml = g_strndup((const char *)data, size);
    g_autoptr(VsbDomainDef) def = NULL;
    g_autoptr(VsbDomainDef) again = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *out = NULL;
    g_autofree char *out2 = NULL;

    def = vsb_domain_def_parse_string(xml, &error);
    if (!def) {
        /* Failure must come with a message, in our error domain. */
        if (!error || error->domain != VSB_DOMAIN_CONF_ERROR || !error->message[0])
            abort();
        return 0;
    }
    if (error)
        abort();

    out = vsb_domain_def_format(def, -1);
    again = vsb_domain_def_parse_string(out, &error);
    if (!again) {
        fprintf(stderr, "formatted output does not parse: %s\n%s", error->message, out);
        abort();
    }
    out2 = vsb_domain_def_format(again, -1);
    if (strcmp(out, out2) != 0) {
        fprintf(stderr, "format is not stable:\n%s\n---\n%s", out, out2);
        abort();
    }
    /* The root lookup walks what the parser built. */
    (void)vsb_domain_def_get_root(again);
    return 0;
}
