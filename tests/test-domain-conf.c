/*
 * test-domain-conf.c: domain XML parser and formatter.
 *
 * Data-driven, from tests/domainconfdata/:
 *   NAME.xml           valid input; parse + format must give it back byte
 *                      for byte, or give NAME.out.xml when that exists
 *                      (only where the output legitimately differs).
 *   invalid/FILE.xml   must fail; invalid/cases.txt has one line per file,
 *                      "FILE<TAB>substring of the error message".  The file
 *                      name prefix gives the error code: "malformed-" for
 *                      VSB_DOMAIN_CONF_ERROR_XML, "unsupported-" for
 *                      _UNSUPPORTED, anything else _INVALID.
 * The examples in libvirt-xml/examples/ are checked the same way as
 * valid inputs (and must be canonical).  Every formatted output is also
 * checked with libvirt's own schema (virt-xml-validate) when installed.
 */
#include <config.h>

#include "vsb-domain-conf.h"
#include "vsb-domain-net.h"

#include <glib/gstdio.h>
#include <libxml/parser.h>
#include <libxml/relaxng.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "vsb-test-util.h"

#define VIRT_XML_VALIDATE "/usr/bin/virt-xml-validate"

static char *data_dir;
static char *examples_dir;

/* libvirt's schema is the referee for what libvirt would accept. */
static void
check_schema(const char *xml, const char *name)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *tmp = NULL;
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    int fd, status = 0;
    const char *argv[] = { VIRT_XML_VALIDATE, NULL, "domain", NULL };

    if (!g_file_test(VIRT_XML_VALIDATE, G_FILE_TEST_IS_EXECUTABLE)) {
        g_test_skip("virt-xml-validate is not installed");
        return;
    }
    fd = g_file_open_tmp("vsb-domain-XXXXXX.xml", &tmp, &error);
    g_assert_no_error(error);
    close(fd);
    g_file_set_contents(tmp, xml, -1, &error);
    g_assert_no_error(error);
    argv[1] = tmp;
    g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                 &out, &err, &status, &error);
    g_assert_no_error(error);
    g_unlink(tmp);
    if (!g_spawn_check_wait_status(status, NULL))
        g_error("%s: libvirt's schema rejects our output:\n%s%s\n%s", name, out, err, xml);
}

/* Our <vsb:sandbox> element, when the document has one, must match
 * its documented schema, libvirt-xml/vsb-domain.rng. */
static void
check_vsb_schema(const char *xml, const char *name)
{
    g_autofree char *rng_path = g_build_filename(data_dir, "..", "..", "libvirt-xml",
                                                 "vsb-domain.rng", NULL);
    xmlDoc *doc = xmlReadMemory(xml, strlen(xml), name, NULL, XML_PARSE_NONET);
    xmlNode *found = NULL;
    xmlRelaxNGParserCtxt *pctxt;
    xmlRelaxNG *schema;
    xmlRelaxNGValidCtxt *vctxt;
    xmlDoc *sub;
    int rc;

    g_assert_nonnull(doc);
    for (xmlNode *c = xmlDocGetRootElement(doc)->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || !xmlStrEqual(c->name, BAD_CAST "metadata"))
            continue;
        for (xmlNode *m = c->children; m; m = m->next) {
            if (m->type == XML_ELEMENT_NODE && m->ns &&
                xmlStrEqual(m->ns->href, BAD_CAST VSB_DOMAIN_XMLNS))
                found = m;
        }
    }
    if (!found) {
        xmlFreeDoc(doc);
        return;
    }
    sub = xmlNewDoc(BAD_CAST "1.0");
    xmlDocSetRootElement(sub, xmlDocCopyNode(found, sub, 1));
    pctxt = xmlRelaxNGNewParserCtxt(rng_path);
    schema = xmlRelaxNGParse(pctxt);
    g_assert_nonnull(schema);
    vctxt = xmlRelaxNGNewValidCtxt(schema);
    rc = xmlRelaxNGValidateDoc(vctxt, sub);
    xmlRelaxNGFreeValidCtxt(vctxt);
    xmlRelaxNGFree(schema);
    xmlRelaxNGFreeParserCtxt(pctxt);
    xmlFreeDoc(sub);
    xmlFreeDoc(doc);
    if (rc != 0)
        g_error("%s: <vsb:sandbox> does not match libvirt-xml/vsb-domain.rng", name);
}

static char *
parse_format(const char *path, GError **error)
{
    g_autoptr(VsbDomainDef) def = vsb_domain_def_parse_file(path, error);

    return def ? vsb_domain_def_format(def, -1) : NULL;
}

static void
test_valid(gconstpointer data)
{
    const char *name = data;
    g_autoptr(GError) error = NULL;
    g_autofree char *in_path = g_strdup_printf("%s/%s.xml", data_dir, name);
    g_autofree char *out_path = g_strdup_printf("%s/%s.out.xml", data_dir, name);
    g_autofree char *in = vsb_test_read_file(in_path);
    g_autofree char *expected = NULL;
    g_autofree char *actual = NULL;
    g_autofree char *again = NULL;

    if (g_file_test(out_path, G_FILE_TEST_EXISTS)) {
        expected = vsb_test_read_file(out_path);
        g_assert_cmpstr(expected, !=, in);  /* .out.xml only where it differs */
    } else {
        expected = g_strdup(in);
    }

    actual = parse_format(in_path, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(actual, ==, expected);

    /* Canonical output is a fixed point. */
    if (g_file_test(out_path, G_FILE_TEST_EXISTS)) {
        again = parse_format(out_path, &error);
        g_assert_no_error(error);
        g_assert_cmpstr(again, ==, expected);
    }
    check_schema(actual, name);
    check_vsb_schema(actual, name);
}

/* Documentation examples: canonical, and libvirt's schema accepts them. */
static void
test_example(gconstpointer data)
{
    const char *file = data;
    g_autoptr(GError) error = NULL;
    g_autofree char *path = g_build_filename(examples_dir, file, NULL);
    g_autofree char *in = vsb_test_read_file(path);
    g_autofree char *actual = parse_format(path, &error);

    g_assert_no_error(error);
    g_assert_cmpstr(actual, ==, in);
    check_schema(actual, file);
    check_vsb_schema(actual, file);
}

typedef struct {
    char *file;
    char *substring;
} InvalidCase;

static void
invalid_case_free(gpointer p)
{
    InvalidCase *c = p;

    g_free(c->file);
    g_free(c->substring);
    g_free(c);
}

static void
test_invalid(gconstpointer data)
{
    const InvalidCase *c = data;
    g_autoptr(GError) error = NULL;
    g_autofree char *path = g_build_filename(data_dir, "invalid", c->file, NULL);
    g_autoptr(VsbDomainDef) def = vsb_domain_def_parse_file(path, &error);
    int code = VSB_DOMAIN_CONF_ERROR_INVALID;

    if (g_str_has_prefix(c->file, "malformed-"))
        code = VSB_DOMAIN_CONF_ERROR_XML;
    else if (g_str_has_prefix(c->file, "unsupported-"))
        code = VSB_DOMAIN_CONF_ERROR_UNSUPPORTED;

    g_assert_null(def);
    g_assert_nonnull(error);
    if (!strstr(error->message, c->substring))
        g_error("%s: error '%s' does not contain '%s'", c->file, error->message, c->substring);
    g_assert_error(error, VSB_DOMAIN_CONF_ERROR, code);
}

/* Each invalid/ file has a line in cases.txt and each line a file. */
static void
test_invalid_list_complete(gconstpointer data)
{
    GPtrArray *cases = (GPtrArray *)data;
    g_autofree char *dir_path = g_build_filename(data_dir, "invalid", NULL);
    g_autoptr(GDir) dir = g_dir_open(dir_path, 0, NULL);
    g_autoptr(GHashTable) listed = g_hash_table_new(g_str_hash, g_str_equal);
    const char *ent;

    g_assert_nonnull(dir);
    for (guint i = 0; i < cases->len; i++) {
        const InvalidCase *c = cases->pdata[i];
        g_autofree char *p = g_build_filename(dir_path, c->file, NULL);

        if (!g_file_test(p, G_FILE_TEST_EXISTS))
            g_error("cases.txt lists missing file %s", c->file);
        if (!g_hash_table_add(listed, c->file))
            g_error("cases.txt lists %s twice", c->file);
    }
    while ((ent = g_dir_read_name(dir))) {
        if (g_str_has_suffix(ent, ".xml") && !g_hash_table_contains(listed, ent))
            g_error("invalid/%s is not listed in cases.txt", ent);
    }
}

/* ---- unit tests ---- */

static void
test_scaled(void)
{
    static const struct {
        const char *value;
        const char *unit;
        unsigned long long kib;   /* expected, when err is NULL */
        const char *err;
    } cases[] = {
        { "1024", NULL, 1024, NULL },
        { "1", "KiB", 1, NULL },
        { "1", "k", 1, NULL },
        { "1", "K", 1, NULL },
        { "1", "kib", 1, NULL },
        { "1000", "KB", 977, NULL },          /* 1000000 B = 976.56 KiB, rounded up */
        { "1", "KB", 1, NULL },
        { "1024", "b", 1, NULL },
        { "1025", "bytes", 2, NULL },
        { "1", "byte", 1, NULL },
        { "0", "bytes", 0, NULL },
        { "1", "B", 1, NULL },
        { "2", "MiB", 2048, NULL },
        { "2", "M", 2048, NULL },
        { "1", "MB", 977, NULL },
        { "1", "GiB", 1048576, NULL },
        { "1", "G", 1048576, NULL },
        { "1", "GB", 976563, NULL },
        { "1", "TiB", 1073741824ULL, NULL },
        { "1", "T", 1073741824ULL, NULL },
        { "1", "TB", 976562500ULL, NULL },
        { "1", "PiB", 1099511627776ULL, NULL },
        { "1", "P", 1099511627776ULL, NULL },
        { "1", "PB", 976562500000ULL, NULL },
        { "1", "EiB", 1125899906842624ULL, NULL },
        { "15", "E", 16888498602639360ULL, NULL },
        { "1", "EB", 976562500000000ULL, NULL },
        { " 42 ", NULL, 42, NULL },           /* XML Schema white space */
        { "18014398509481983", "KiB", 18014398509481983ULL, NULL },  /* largest in bytes */
        { "18446744073709551615", "b", 18014398509481984ULL, NULL },
        { "18014398509481984", "KiB", 0, "too large" },
        { "16", "EiB", 0, "too large" },
        { "19", "EB", 0, "too large" },
        { "18446744073709551616", "b", 0, "too large" },
        { "99999999999999999999999", NULL, 0, "too large" },
        { "1", "KIB", 1, NULL },
        { "1", "xB", 0, "unknown unit 'xB'" },
        { "1", "KiBB", 0, "unknown unit 'KiBB'" },
        { "1", "Ki", 0, "unknown unit 'Ki'" },
        { "1", "", 0, "unknown unit ''" },
        { "1", "bits", 0, "unknown unit 'bits'" },
        { "-1", NULL, 0, "invalid value '-1'" },
        { "+1", NULL, 0, "invalid value '+1'" },
        { "0x10", NULL, 0, "invalid value '0x10'" },
        { "1.5", "GiB", 0, "invalid value '1.5'" },
        { "", NULL, 0, "invalid value ''" },
        { "12abc", NULL, 0, "invalid value '12abc'" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        unsigned long long kib = 12345;
        bool ok = vsb_domain_parse_scaled_kib(cases[i].value, cases[i].unit, &kib, &error);

        if (cases[i].err) {
            g_assert_false(ok);
            g_assert_error(error, VSB_DOMAIN_CONF_ERROR, VSB_DOMAIN_CONF_ERROR_INVALID);
            if (!strstr(error->message, cases[i].err))
                g_error("'%s' '%s': error '%s' lacks '%s'", cases[i].value,
                        cases[i].unit, error->message, cases[i].err);
        } else {
            if (!ok || kib != cases[i].kib)
                g_error("'%s' '%s': got %llu (%s), expected %llu", cases[i].value,
                        cases[i].unit, kib, error ? error->message : "ok", cases[i].kib);
        }
    }
}

static void
test_uuid(void)
{
    static const unsigned char ref[16] = {
        0x83, 0x69, 0xf1, 0xac, 0x7e, 0x46, 0xe8, 0x69,
        0x4c, 0xa5, 0x75, 0x9d, 0x51, 0x47, 0x80, 0x66,
    };
    static const char *const good[] = {
        "8369f1ac-7e46-e869-4ca5-759d51478066",
        "8369F1AC-7E46-E869-4CA5-759D51478066",
        "8369f1ac7e46e8694ca5759d51478066",
    };
    static const char *const bad[] = {
        "", "8369f1ac-7e46-e869-4ca5-759d5147806",
        "8369f1ac-7e46-e869-4ca5-759d514780666",
        "8369f1ac7e46-e869-4ca5-759d51478066x",
        "8369f1ac-7e46-e869-4ca5_759d51478066",
        "g369f1ac-7e46-e869-4ca5-759d51478066",
        "8369f1ac7e46e8694ca5759d5147806",
        "-8369f1ac7e46e8694ca5759d5147806",
        "8369f1ac-7e46e869-4ca5-759d514780660",
    };
    unsigned char u[16];
    char s[37];

    for (gsize i = 0; i < G_N_ELEMENTS(good); i++) {
        memset(u, 0, sizeof(u));
        g_assert_true(vsb_domain_uuid_parse(good[i], u));
        g_assert_cmpmem(u, 16, ref, 16);
    }
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++)
        g_assert_false(vsb_domain_uuid_parse(bad[i], u));
    g_assert_false(vsb_domain_uuid_parse(NULL, u));

    vsb_domain_uuid_format(ref, s);
    g_assert_cmpstr(s, ==, good[0]);
}

/* New definitions get distinct random version-4 UUIDs. */
static void
test_uuid_generated(void)
{
    g_autoptr(VsbDomainDef) a = vsb_domain_def_new();
    g_autoptr(VsbDomainDef) b = vsb_domain_def_new();
    g_autoptr(GError) error = NULL;
    g_autoptr(VsbDomainDef) c = NULL;
    char s[37];

    g_assert_true(memcmp(a->uuid, b->uuid, 16) != 0);
    g_assert_cmpint(a->uuid[6] >> 4, ==, 4);
    g_assert_cmpint(a->uuid[8] & 0xc0, ==, 0x80);
    vsb_domain_uuid_format(a->uuid, s);
    g_assert_true(g_uuid_string_is_valid(s));

    c = vsb_domain_def_parse_string("<domain type='lxc'><name>x</name>"
                                    "<os><type>exe</type></os></domain>", &error);
    g_assert_no_error(error);
    g_assert_cmpint(c->uuid[6] >> 4, ==, 4);
}

static void
test_cap_names(void)
{
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

    for (int i = 0; i < VSB_DOMAIN_CAP_COUNT; i++) {
        const char *name = vsb_domain_cap_to_string(i);

        g_assert_nonnull(name);
        g_assert_true(g_hash_table_add(seen, (gpointer)name));
        g_assert_cmpint(vsb_domain_cap_from_string(name), ==, i);
    }
    /* Kernel numbering, which the controller relies on. */
    g_assert_cmpint(vsb_domain_cap_from_string("chown"), ==, 0);
    g_assert_cmpint(vsb_domain_cap_from_string("net_admin"), ==, 12);
    g_assert_cmpint(vsb_domain_cap_from_string("sys_admin"), ==, 21);
    g_assert_cmpint(vsb_domain_cap_from_string("mknod"), ==, 27);
    g_assert_cmpint(vsb_domain_cap_from_string("block_suspend"), ==, 36);
    g_assert_cmpint(vsb_domain_cap_from_string("checkpoint_restore"), ==, 40);
    g_assert_cmpint(vsb_domain_cap_from_string("CHOWN"), ==, -1);
    g_assert_cmpint(vsb_domain_cap_from_string("cap_chown"), ==, -1);
    g_assert_cmpint(vsb_domain_cap_from_string(""), ==, -1);
    g_assert_null(vsb_domain_cap_to_string(-1));
    g_assert_null(vsb_domain_cap_to_string(VSB_DOMAIN_CAP_COUNT));
}

static void
test_enums(void)
{
    for (int i = 0; i < VSB_DOMAIN_FS_LAST; i++)
        g_assert_cmpint(vsb_domain_fs_type_from_string(vsb_domain_fs_type_to_string(i)), ==, i);
    for (int i = 0; i < VSB_DOMAIN_LIFECYCLE_LAST; i++)
        g_assert_cmpint(vsb_domain_lifecycle_from_string(vsb_domain_lifecycle_to_string(i)), ==, i);
    for (int i = 0; i < VSB_DOMAIN_CAPS_POLICY_LAST; i++)
        g_assert_cmpint(vsb_domain_caps_policy_from_string(
                            vsb_domain_caps_policy_to_string(i)), ==, i);
    g_assert_cmpstr(vsb_domain_fs_type_to_string(VSB_DOMAIN_FS_RAM), ==, "ram");
    g_assert_cmpstr(vsb_domain_lifecycle_to_string(VSB_DOMAIN_LIFECYCLE_RENAME_RESTART), ==,
                    "rename-restart");
    g_assert_cmpstr(vsb_domain_caps_policy_to_string(VSB_DOMAIN_CAPS_POLICY_DENY), ==, "deny");
    g_assert_null(vsb_domain_fs_type_to_string(VSB_DOMAIN_FS_LAST));
    g_assert_cmpint(vsb_domain_fs_type_from_string("block"), ==, -1);
    g_assert_cmpint(vsb_domain_lifecycle_from_string("coredump-destroy"), ==, -1);
    g_assert_cmpint(vsb_domain_caps_policy_from_string(NULL), ==, -1);
    for (int i = 0; i < VSB_DOMAIN_NUMATUNE_LAST; i++)
        g_assert_cmpint(vsb_domain_numatune_mode_from_string(
                            vsb_domain_numatune_mode_to_string(i)), ==, i);
    g_assert_cmpstr(vsb_domain_numatune_mode_to_string(VSB_DOMAIN_NUMATUNE_STRICT), ==, "strict");
    g_assert_null(vsb_domain_numatune_mode_to_string(VSB_DOMAIN_NUMATUNE_LAST));
    g_assert_cmpint(vsb_domain_numatune_mode_from_string("bind"), ==, -1);
}

static const char minimal[] =
    "<domain type='lxc'>\n"
    "  <name>m</name>\n"
    "  <uuid>8369f1ac-7e46-e869-4ca5-759d51478066</uuid>\n"
    "  <memory unit='KiB'>1024</memory>\n"
    "  <currentMemory unit='KiB'>1024</currentMemory>\n"
    "  <vcpu placement='static'>1</vcpu>\n"
    "  <os>\n"
    "    <type>exe</type>\n"
    "  </os>\n"
    "  <clock offset='utc'/>\n"
    "  <on_poweroff>destroy</on_poweroff>\n"
    "  <on_reboot>restart</on_reboot>\n"
    "  <on_crash>destroy</on_crash>\n"
    "  <devices>\n"
    "  </devices>\n"
    "</domain>\n";

static void
test_format_id(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VsbDomainDef) def = vsb_domain_def_parse_string(minimal, &error);
    g_autofree char *live = NULL;
    g_autofree char *inactive = NULL;

    g_assert_no_error(error);
    live = vsb_domain_def_format(def, 42);
    inactive = vsb_domain_def_format(def, -1);
    g_assert_true(g_str_has_prefix(live, "<domain type='lxc' id='42'>\n  <name>m</name>\n"));
    g_assert_cmpstr(inactive, ==, minimal);
    g_assert_cmpstr(live + strlen("<domain type='lxc' id='42'>"), ==,
                    inactive + strlen("<domain type='lxc'>"));

    /* The id of live XML is accepted (and is not configuration). */
    g_clear_pointer(&def, vsb_domain_def_free);
    def = vsb_domain_def_parse_string(live, &error);
    g_assert_no_error(error);
    g_clear_pointer(&inactive, g_free);
    inactive = vsb_domain_def_format(def, -1);
    g_assert_cmpstr(inactive, ==, minimal);
}

/* Values full of XML syntax survive a format/parse round trip. */
static void
test_escaping(void)
{
    static const char nasty[] = "a&b<c>d'e\"f]]>g&amp;";
    g_autoptr(VsbDomainDef) def = vsb_domain_def_new();
    g_autoptr(VsbDomainDef) back = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *xml2 = NULL;
    VsbDomainEnv *env = g_new0(VsbDomainEnv, 1);
    VsbDomainFS *fs = g_new0(VsbDomainFS, 1);

    def->name = g_strdup(nasty);
    def->title = g_strdup(nasty);
    def->description = g_strdup("line 1\nline\t2\r\n  <b>&</b>  ");
    def->init = g_strdup("/bin/'sh\"&");
    g_ptr_array_add(def->initargs, g_strdup(nasty));
    g_ptr_array_add(def->initargs, g_strdup(""));
    g_ptr_array_add(def->initargs, g_strdup(" spaced\targ\n"));
    env->name = g_strdup("VAR");
    env->value = g_strdup("x='1' && y=\"2\"");
    g_ptr_array_add(def->initenv, env);
    fs->type = VSB_DOMAIN_FS_MOUNT;
    fs->source = g_strdup("/srv/a'b\"c&d<e>\tf\ng");
    fs->target = g_strdup("/mnt/x y");
    g_ptr_array_add(def->filesystems, fs);

    xml = vsb_domain_def_format(def, -1);
    back = vsb_domain_def_parse_string(xml, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(back->name, ==, nasty);
    g_assert_cmpstr(back->title, ==, nasty);
    g_assert_cmpstr(back->description, ==, def->description);
    g_assert_cmpstr(back->init, ==, def->init);
    g_assert_cmpuint(back->initargs->len, ==, 3);
    g_assert_cmpstr(back->initargs->pdata[0], ==, nasty);
    g_assert_cmpstr(back->initargs->pdata[1], ==, "");
    g_assert_cmpstr(back->initargs->pdata[2], ==, " spaced\targ\n");
    g_assert_cmpstr(((VsbDomainEnv *)back->initenv->pdata[0])->value, ==, env->value);
    g_assert_cmpstr(((VsbDomainFS *)back->filesystems->pdata[0])->source, ==, fs->source);
    g_assert_cmpstr(((VsbDomainFS *)back->filesystems->pdata[0])->target, ==, fs->target);
    g_assert_cmpmem(back->uuid, 16, def->uuid, 16);
    xml2 = vsb_domain_def_format(back, -1);
    g_assert_cmpstr(xml, ==, xml2);
    g_assert_null(strstr(xml, "\r"));
}

static void
test_get_root(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VsbDomainDef) def = NULL;
    const VsbDomainFS *root;

    def = vsb_domain_def_parse_string(
        "<domain type='lxc'><name>r</name><os><type>exe</type></os><devices>"
        "<filesystem type='ram'><target dir='/tmp'/></filesystem>"
        "<filesystem><source dir='/srv/root'/><target dir='//'/></filesystem>"
        "</devices></domain>", &error);
    g_assert_no_error(error);
    root = vsb_domain_def_get_root(def);
    g_assert_nonnull(root);
    g_assert_cmpint(root->type, ==, VSB_DOMAIN_FS_MOUNT);
    g_assert_cmpstr(root->source, ==, "/srv/root");
    g_assert_cmpstr(root->accessmode, ==, NULL);
    g_assert_cmpstr(((VsbDomainFS *)def->filesystems->pdata[0])->usage_unit, ==, "KiB");
    g_assert_cmpuint(((VsbDomainFS *)def->filesystems->pdata[0])->usage_kib, ==, 0);

    g_clear_pointer(&def, vsb_domain_def_free);
    def = vsb_domain_def_parse_string("<domain type='lxc'><name>r</name>"
                                      "<os><type>exe</type></os></domain>", &error);
    g_assert_no_error(error);
    g_assert_null(vsb_domain_def_get_root(def));
    /* Defaults of an absent element. */
    g_assert_cmpint(def->on_poweroff, ==, VSB_DOMAIN_LIFECYCLE_DESTROY);
    g_assert_cmpint(def->on_reboot, ==, VSB_DOMAIN_LIFECYCLE_RESTART);
    g_assert_cmpint(def->on_crash, ==, VSB_DOMAIN_LIFECYCLE_DESTROY);
    g_assert_cmpuint(def->memory_kib, ==, 0);
    g_assert_cmpuint(def->vcpus, ==, 0);
    g_assert_false(def->has_caps_feature);
}

/* What the controller reads, checked field by field on one document. */
static void
test_fields(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *path = g_build_filename(data_dir, "full.xml", NULL);
    g_autoptr(VsbDomainDef) def = vsb_domain_def_parse_file(path, &error);
    const VsbDomainFS *fs;
    const VsbDomainIdMap *m;

    g_assert_no_error(error);
    g_assert_cmpstr(def->name, ==, "full");
    g_assert_cmpuint(def->memory_kib, ==, 1048576);
    g_assert_cmpuint(def->current_memory_kib, ==, 524288);
    g_assert_cmpuint(def->vcpus, ==, 2);
    g_assert_cmpstr(def->cpuset, ==, "0-1");
    g_assert_cmpuint(def->cpu_shares, ==, 2048);
    g_assert_cmpstr(def->os_arch, ==, "x86_64");
    g_assert_cmpstr(def->init, ==, "/sbin/init");
    g_assert_cmpuint(def->initargs->len, ==, 2);
    g_assert_cmpuint(def->initenv->len, ==, 2);
    g_assert_cmpstr(def->initdir, ==, "/root");
    g_assert_cmpstr(def->inituser, ==, "root");
    g_assert_cmpstr(def->initgroup, ==, "0");
    g_assert_cmpuint(def->uidmap->len, ==, 1);
    m = &g_array_index(def->gidmap, VsbDomainIdMap, 0);
    g_assert_cmpuint(m->start, ==, 0);
    g_assert_cmpuint(m->target, ==, 200000);
    g_assert_cmpuint(m->count, ==, 65536);
    g_assert_true(def->privnet);
    g_assert_true(def->has_caps_feature);
    g_assert_cmpint(def->caps_policy, ==, VSB_DOMAIN_CAPS_POLICY_DEFAULT);
    g_assert_cmpint(def->caps[vsb_domain_cap_from_string("mknod")], ==, VSB_DOMAIN_TRISTATE_ON);
    g_assert_cmpint(def->caps[vsb_domain_cap_from_string("sys_admin")], ==,
                    VSB_DOMAIN_TRISTATE_OFF);
    g_assert_cmpint(def->caps[vsb_domain_cap_from_string("chown")], ==, VSB_DOMAIN_TRISTATE_ABSENT);
    g_assert_cmpint(def->on_crash, ==, VSB_DOMAIN_LIFECYCLE_PRESERVE);
    g_assert_cmpstr(def->emulator, ==, "/usr/libexec/virt-sandbox-controller");
    g_assert_true(def->has_console);
    /* ours is parsed out of <metadata>, nothing foreign is left */
    g_assert_null(def->metadata_xml);
    g_assert_cmpint(def->timens_monotonic.mode, ==, VSB_DOMAIN_TIMENS_START);
    g_assert_cmpint(def->timens_monotonic.ns, ==, 0);
    g_assert_cmpint(def->timens_boottime.mode, ==, VSB_DOMAIN_TIMENS_OFFSET);
    g_assert_cmpint(def->timens_boottime.ns, ==, -3600500000000LL);
    g_assert_null(def->timezone);
    g_assert_cmpuint(def->filesystems->len, ==, 4);
    fs = def->filesystems->pdata[0];
    g_assert_cmpint(fs->type, ==, VSB_DOMAIN_FS_FILE);
    g_assert_cmpint(fs->format, ==, VSB_DOMAIN_FS_FORMAT_RAW);
    g_assert_true(fs == vsb_domain_def_get_root(def));
    fs = def->filesystems->pdata[3];
    g_assert_cmpint(fs->type, ==, VSB_DOMAIN_FS_RAM);
    g_assert_cmpuint(fs->usage_kib, ==, 65536);
    g_assert_false(fs->readonly);
}

/* A definition made in code formats our element and the time zone,
 * and parses back to the same values. */
static void
test_time_format(void)
{
    g_autoptr(VsbDomainDef) def = vsb_domain_def_new();
    g_autoptr(VsbDomainDef) back = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *again = NULL;

    def->name = g_strdup("t");
    def->timezone = g_strdup("America/Argentina/Buenos_Aires");
    def->timens_boottime.mode = VSB_DOMAIN_TIMENS_START;
    def->timens_boottime.ns = 1000000000LL * 86400 + 1;
    def->timens_monotonic.mode = VSB_DOMAIN_TIMENS_OFFSET;
    def->timens_monotonic.ns = -VSB_DOMAIN_TIMENS_MAX_SEC * 1000000000LL;
    def->metadata_xml = g_strdup("<metadata/>");
    xml = vsb_domain_def_format(def, -1);
    g_assert_nonnull(strstr(xml, "  <metadata>\n    <vsb:sandbox xmlns:vsb=\""));
    g_assert_nonnull(strstr(xml, "<vsb:boottime start=\"86400.000000001\"/>"));
    g_assert_nonnull(strstr(xml, "<vsb:monotonic offset=\"-4611686017\"/>"));
    g_assert_nonnull(strstr(xml, "<clock offset='timezone' "
                                 "timezone='America/Argentina/Buenos_Aires'/>"));
    back = vsb_domain_def_parse_string(xml, &error);
    g_assert_no_error(error);
    g_assert_cmpint(back->timens_boottime.ns, ==, def->timens_boottime.ns);
    g_assert_cmpint(back->timens_monotonic.ns, ==, def->timens_monotonic.ns);
    g_assert_cmpstr(back->timezone, ==, def->timezone);
    again = vsb_domain_def_format(back, -1);
    /* <metadata/> held nothing foreign: not kept */
    g_assert_cmpstr(again, ==, xml);
    check_vsb_schema(xml, "test_time_format");
}

/* What the controller reads from the tuning elements, checked field by
 * field. */
static void
test_tune_fields(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *all_path = g_build_filename(data_dir, "tune-all.xml", NULL);
    g_autofree char *dev_path = g_build_filename(data_dir, "blkiotune-devices.xml", NULL);
    g_autoptr(VsbDomainDef) all = vsb_domain_def_parse_file(all_path, &error);
    g_autoptr(VsbDomainDef) devs = NULL;
    const VsbDomainBlkioDevice *d;

    g_assert_no_error(error);
    g_assert_cmpuint(all->blkio_weight, ==, 100);
    g_assert_cmpuint(all->blkio_devices->len, ==, 1);
    d = all->blkio_devices->pdata[0];
    g_assert_cmpstr(d->path, ==, "/dev/sda");
    g_assert_cmpuint(d->weight, ==, 0);
    g_assert_cmpuint(d->read_bytes_sec, ==, 1000000);
    g_assert_cmpuint(d->write_bytes_sec + d->read_iops_sec + d->write_iops_sec, ==, 0);
    g_assert_cmpstr(all->numa_nodeset, ==, "0");
    g_assert_cmpint(all->numa_mode, ==, VSB_DOMAIN_NUMATUNE_INTERLEAVE);
    g_assert_cmpuint(all->pids_max, ==, 1);
    g_assert_cmpuint(all->mem_hard_kib, ==, 524288);
    g_assert_cmpint(all->cpu_quota_us, ==, 50000);

    devs = vsb_domain_def_parse_file(dev_path, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(devs->blkio_weight, ==, 500);
    g_assert_cmpuint(devs->blkio_devices->len, ==, 3);
    d = devs->blkio_devices->pdata[1];
    g_assert_cmpstr(d->path, ==, "/dev/disk/by-id/ata-Example_&_Co");
    g_assert_cmpuint(d->weight, ==, 100);
    g_assert_cmpuint(d->read_iops_sec, ==, 20000);
    g_assert_cmpuint(d->write_iops_sec, ==, G_MAXUINT32);
    g_assert_cmpuint(d->read_bytes_sec, ==, 10000);
    g_assert_cmpuint(d->write_bytes_sec, ==, G_MAXUINT64);
    /* not given: no <numatune>, no pids limit */
    g_assert_null(devs->numa_nodeset);
    g_assert_cmpuint(devs->pids_max, ==, 0);
}

/* The weight range's ends, as libvirt's LXC driver takes them: 100
 * accepted and written back, 99 refused naming the range. */
static void
test_blkio_weight_min(void)
{
    static const char xml[] =
        "<domain type='lxc'><name>w</name><os><type>exe</type></os>"
        "<blkiotune><weight>%u</weight>"
        "<device><path>/dev/sda</path><weight>100</weight></device></blkiotune></domain>";
    g_autoptr(GError) error = NULL;
    g_autofree char *ok = g_strdup_printf(xml, 100);
    g_autofree char *low = g_strdup_printf(xml, 99);
    g_autoptr(VsbDomainDef) def = vsb_domain_def_parse_string(ok, &error);
    g_autoptr(VsbDomainDef) bad = NULL;
    g_autofree char *out = NULL;

    g_assert_no_error(error);
    g_assert_cmpuint(def->blkio_weight, ==, 100);
    g_assert_cmpuint(((VsbDomainBlkioDevice *)def->blkio_devices->pdata[0])->weight, ==, 100);
    out = vsb_domain_def_format(def, -1);
    g_assert_nonnull(strstr(out, "  <blkiotune>\n    <weight>100</weight>\n    <device>\n"
                                 "      <path>/dev/sda</path>\n      <weight>100</weight>\n"
                                 "    </device>\n  </blkiotune>\n  <vcpu"));
    bad = vsb_domain_def_parse_string(low, &error);
    g_assert_null(bad);
    g_assert_error(error, VSB_DOMAIN_CONF_ERROR, VSB_DOMAIN_CONF_ERROR_INVALID);
    g_assert_nonnull(strstr(error->message, "100"));
}

/* A definition made in code (as virsh blkiotune/numatune and the
 * daemon's setters do) formats and parses back to the same values. */
static void
test_tune_format(void)
{
    g_autoptr(VsbDomainDef) def = vsb_domain_def_new();
    g_autoptr(VsbDomainDef) back = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *again = NULL;
    VsbDomainBlkioDevice *d = g_new0(VsbDomainBlkioDevice, 1);

    def->name = g_strdup("t");
    d->path = g_strdup("/dev/nvme0n1");
    d->write_iops_sec = 300;
    g_ptr_array_add(def->blkio_devices, d);
    def->numa_nodeset = g_strdup("1-2");
    def->numa_mode = VSB_DOMAIN_NUMATUNE_RESTRICTIVE;
    def->pids_max = 4194304;
    xml = vsb_domain_def_format(def, -1);
    g_assert_nonnull(strstr(xml, "  <metadata>\n    <vsb:sandbox xmlns:vsb=\"" VSB_DOMAIN_XMLNS
                                 "\">\n      <vsb:pids max=\"4194304\"/>\n"
                                 "    </vsb:sandbox>\n  </metadata>\n"));
    g_assert_nonnull(strstr(xml, "  <blkiotune>\n    <device>\n      <path>/dev/nvme0n1</path>\n"
                                 "      <write_iops_sec>300</write_iops_sec>\n    </device>\n"
                                 "  </blkiotune>\n"));
    g_assert_nonnull(strstr(xml, "  <numatune>\n    <memory mode='restrictive' nodeset='1-2'/>\n"
                                 "  </numatune>\n  <os>\n"));
    back = vsb_domain_def_parse_string(xml, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(back->pids_max, ==, def->pids_max);
    g_assert_cmpint(back->numa_mode, ==, VSB_DOMAIN_NUMATUNE_RESTRICTIVE);
    again = vsb_domain_def_format(back, -1);
    g_assert_cmpstr(again, ==, xml);
    check_schema(xml, "test_tune_format");
    check_vsb_schema(xml, "test_tune_format");
}

/* libxml2 must not print anything: errors go to the GError only. */
static void
test_quiet(void)
{
    static const char *const docs[] = {
        "<domain", "<domain type='lxc'><name>&bogus;</name></domain>",
        "<?xml version='1.0' encoding='EBCDIC-XX'?><domain/>",
        "<a:domain/>", "<domain xmlns:a='rel/uri' type='lxc'/>",
        "<domain>\xff\xfe</domain>", "<!DOCTYPE d SYSTEM 'http://example.org/d.dtd'><d/>",
        "<domain type='lxc'><name>x</name></domain></domain>",
    };
    g_autofree char *tmp = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *captured = NULL;
    int fd, saved;

    fd = g_file_open_tmp("vsb-stderr-XXXXXX", &tmp, &error);
    g_assert_no_error(error);
    fflush(stderr);
    saved = dup(STDERR_FILENO);
    g_assert_cmpint(dup2(fd, STDERR_FILENO), ==, STDERR_FILENO);
    for (gsize i = 0; i < G_N_ELEMENTS(docs); i++) {
        g_autoptr(GError) e = NULL;
        g_autoptr(VsbDomainDef) def = vsb_domain_def_parse_string(docs[i], &e);

        g_assert_null(def);
        g_assert_nonnull(e);
    }
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fd);
    g_file_get_contents(tmp, &captured, NULL, &error);
    g_assert_no_error(error);
    g_unlink(tmp);
    g_assert_cmpstr(captured, ==, "");
}

/* Each NAME.out.xml belongs to a NAME.xml. */
static void
test_outputs_have_inputs(void)
{
    g_autoptr(GDir) dir = g_dir_open(data_dir, 0, NULL);
    const char *ent;

    g_assert_nonnull(dir);
    while ((ent = g_dir_read_name(dir))) {
        g_autofree char *base = NULL;
        g_autofree char *in = NULL;

        if (!g_str_has_suffix(ent, ".out.xml"))
            continue;
        base = g_strndup(ent, strlen(ent) - strlen(".out.xml"));
        in = g_strdup_printf("%s/%s.xml", data_dir, base);
        if (!g_file_test(in, G_FILE_TEST_EXISTS))
            g_error("%s has no input %s.xml", ent, base);
    }
}

/* <interface> without <mac>: one is generated (libvirt's 52:54:00
 * prefix), differs between interfaces, and is kept by a round trip;
 * the fields the controller relies on are parsed. */
static void
test_net_fields(void)
{
    static const char xml[] =
        "<domain type='lxc'><name>n</name><os><type>exe</type></os><devices>"
        "<interface type='bridge'><source bridge='br0'/><ip address='10.1.2.3'/>"
        "<ip address='fd00::5'/><route address='0.0.0.0' prefix='0' gateway='10.1.2.1'/>"
        "</interface>"
        "<interface type='ethernet'><guest dev='net7'/><mtu size='1280'/></interface>"
        "</devices></domain>";
    g_autoptr(GError) error = NULL;
    g_autoptr(VsbDomainDef) def = vsb_domain_def_parse_string(xml, &error);
    g_autoptr(VsbDomainDef) again = NULL;
    g_autofree char *out = NULL;
    g_autofree char *out2 = NULL;
    g_autofree char *g0 = NULL;
    g_autofree char *g1 = NULL;
    const VsbDomainNet *a, *b;
    const VsbDomainNetIP *ip;

    g_assert_no_error(error);
    g_assert_cmpuint(def->interfaces->len, ==, 2);
    a = def->interfaces->pdata[0];
    b = def->interfaces->pdata[1];
    g_assert_cmpint(a->type, ==, VSB_DOMAIN_NET_BRIDGE);
    g_assert_cmpstr(a->source, ==, "br0");
    g_assert_cmpint(b->type, ==, VSB_DOMAIN_NET_ETHERNET);
    g_assert_null(b->source);
    g_assert_null(a->target_dev);
    g_assert_cmpuint(b->mtu, ==, 1280);
    g_assert_true(a->mac[0] == 0x52 && a->mac[1] == 0x54 && a->mac[2] == 0x00);
    g_assert_true(b->mac[0] == 0x52 && b->mac[1] == 0x54 && b->mac[2] == 0x00);
    g_assert_true(memcmp(a->mac, b->mac, 6) != 0);
    g0 = vsb_domain_net_guest_dev(def, 0);
    g1 = vsb_domain_net_guest_dev(def, 1);
    g_assert_cmpstr(g0, ==, "eth0");
    g_assert_cmpstr(g1, ==, "net7");
    /* libvirt's default prefixes: classful for IPv4, 64 for IPv6 */
    ip = &g_array_index(a->ips, VsbDomainNetIP, 0);
    g_assert_cmpint(ip->prefix, ==, -1);
    g_assert_cmpuint(vsb_domain_net_prefix(ip->family, ip->address, ip->prefix), ==, 8);
    ip = &g_array_index(a->ips, VsbDomainNetIP, 1);
    g_assert_cmpuint(vsb_domain_net_prefix(ip->family, ip->address, ip->prefix), ==, 64);
    g_assert_cmpuint(a->routes->len, ==, 1);

    out = vsb_domain_def_format(def, -1);
    g_assert_nonnull(strstr(out, "<mac address='52:54:00:"));
    again = vsb_domain_def_parse_string(out, &error);
    g_assert_no_error(error);
    out2 = vsb_domain_def_format(again, -1);
    g_assert_cmpstr(out, ==, out2);
    check_schema(out, "net-fields");
}

static void
test_parse_file_missing(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VsbDomainDef) def = vsb_domain_def_parse_file("/nonexistent/domain.xml", &error);

    g_assert_null(def);
    g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
}

/* ---- registration ---- */

/* g_ptr_array_sort() passes pointers to the elements. */
static int
cmp_str_ptr(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
add_valid_tests(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GDir) dir = g_dir_open(data_dir, 0, &error);
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    const char *ent;

    g_assert_no_error(error);
    while ((ent = g_dir_read_name(dir))) {
        if (g_str_has_suffix(ent, ".xml") && !g_str_has_suffix(ent, ".out.xml"))
            g_ptr_array_add(names, g_strndup(ent, strlen(ent) - 4));
    }
    g_ptr_array_sort(names, cmp_str_ptr);
    for (guint i = 0; i < names->len; i++) {
        g_autofree char *path = g_strdup_printf("/domain-conf/valid/%s", (char *)names->pdata[i]);

        g_test_add_data_func_full(path, names->pdata[i], test_valid, g_free);
    }
}

static void
add_example_tests(void)
{
    g_autoptr(GDir) dir = g_dir_open(examples_dir, 0, NULL);
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    const char *ent;

    if (!dir)
        return;  /* not shipped with this tree */
    while ((ent = g_dir_read_name(dir))) {
        if (g_str_has_suffix(ent, ".xml"))
            g_ptr_array_add(names, g_strdup(ent));
    }
    g_ptr_array_sort(names, cmp_str_ptr);
    for (guint i = 0; i < names->len; i++) {
        g_autofree char *path = g_strdup_printf("/domain-conf/example/%s", (char *)names->pdata[i]);

        g_test_add_data_func_full(path, names->pdata[i], test_example, g_free);
    }
}

static GPtrArray *
add_invalid_tests(void)
{
    g_autofree char *list = g_build_filename(data_dir, "invalid", "cases.txt", NULL);
    g_autofree char *text = vsb_test_read_file(list);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    GPtrArray *cases = g_ptr_array_new_with_free_func(invalid_case_free);

    for (char **l = lines; *l; l++) {
        g_auto(GStrv) f = NULL;
        g_autofree char *path = NULL;
        InvalidCase *c;

        if (!**l || **l == '#')
            continue;
        f = g_strsplit(*l, "\t", 2);
        if (!f[0] || !f[1] || !*f[1])
            g_error("cases.txt: bad line '%s'", *l);
        c = g_new0(InvalidCase, 1);
        c->file = g_strdup(f[0]);
        c->substring = g_strdup(f[1]);
        g_ptr_array_add(cases, c);
        path = g_strdup_printf("/domain-conf/invalid/%s", c->file);
        g_test_add_data_func(path, c, test_invalid);
    }
    g_test_add_data_func("/domain-conf/invalid-list-complete", cases,
                         test_invalid_list_complete);
    return cases;
}

int
main(int argc, char **argv)
{
    g_autoptr(GPtrArray) cases = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    data_dir = vsb_test_data_dir("domainconfdata");
    examples_dir = g_build_filename(data_dir, "..", "..", "libvirt-xml", "examples", NULL);

    g_test_add_func("/domain-conf/scaled-integer", test_scaled);
    g_test_add_func("/domain-conf/uuid", test_uuid);
    g_test_add_func("/domain-conf/uuid-generated", test_uuid_generated);
    g_test_add_func("/domain-conf/cap-names", test_cap_names);
    g_test_add_func("/domain-conf/enums", test_enums);
    g_test_add_func("/domain-conf/format-id", test_format_id);
    g_test_add_func("/domain-conf/escaping", test_escaping);
    g_test_add_func("/domain-conf/get-root", test_get_root);
    g_test_add_func("/domain-conf/fields", test_fields);
    g_test_add_func("/domain-conf/time-format", test_time_format);
    g_test_add_func("/domain-conf/tune-fields", test_tune_fields);
    g_test_add_func("/domain-conf/blkio-weight-min", test_blkio_weight_min);
    g_test_add_func("/domain-conf/tune-format", test_tune_format);
    g_test_add_func("/domain-conf/net-fields", test_net_fields);
    g_test_add_func("/domain-conf/parse-file-missing", test_parse_file_missing);
    g_test_add_func("/domain-conf/quiet", test_quiet);
    g_test_add_func("/domain-conf/outputs-have-inputs", test_outputs_have_inputs);
    add_valid_tests();
    add_example_tests();
    cases = add_invalid_tests();

    ret = g_test_run();
    g_free(data_dir);
    g_free(examples_dir);
    return ret;
}
