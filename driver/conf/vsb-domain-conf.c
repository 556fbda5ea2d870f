/*
 * vsb-domain-conf.c: parse and validate libvirt LXC domain XML.
 *
 * The parser walks the DOM by hand rather than with XPath so that every
 * element and attribute is accounted for: what we implement is parsed,
 * what libvirt defines but we do not implement is rejected as
 * unsupported, and anything else is rejected as unknown.  Nothing is
 * ignored silently, because a container that silently lost its
 * <interface> or <memtune> would be a security or resource surprise.
 *
 * Resource tuning (<memory> to <numatune>) is parsed and formatted in
 * vsb-domain-tune.c; the rest is formatted in vsb-domain-format.c.
 */
#include <config.h>

#include "vsb-domain-conf.h"
#include "vsb-domain-net.h"
#include "vsb-domain-ns.h"
#include "vsb-domain-seclabel.h"
#include "vsb-domain-tune.h"
#include "vsb-util.h"
#include "vsb-xml-util.h"

#include <limits.h>
#include <string.h>

G_DEFINE_QUARK(vsb-domain-conf-error-quark, vsb_domain_conf_error)

/* Names become file names (state, logs, cgroups): keep them well under
 * NAME_MAX once prefixes and suffixes are added. */
#define VSB_DOMAIN_NAME_MAX 200
/* Kernel limit on lines in /proc/PID/{uid,gid}_map (since 4.15). */
#define VSB_IDMAP_MAX 340

/* ------------------------------------------------------------------ */
/* enum tables                                                        */

static const char *const fs_type_names[] = {
    [VSB_DOMAIN_FS_MOUNT] = "mount",
    [VSB_DOMAIN_FS_BIND] = "bind",
    [VSB_DOMAIN_FS_FILE] = "file",
    [VSB_DOMAIN_FS_RAM] = "ram",
};
G_STATIC_ASSERT(G_N_ELEMENTS(fs_type_names) == VSB_DOMAIN_FS_LAST);

static const char *const lifecycle_names[] = {
    [VSB_DOMAIN_LIFECYCLE_DESTROY] = "destroy",
    [VSB_DOMAIN_LIFECYCLE_RESTART] = "restart",
    [VSB_DOMAIN_LIFECYCLE_PRESERVE] = "preserve",
    [VSB_DOMAIN_LIFECYCLE_RENAME_RESTART] = "rename-restart",
};
G_STATIC_ASSERT(G_N_ELEMENTS(lifecycle_names) == VSB_DOMAIN_LIFECYCLE_LAST);

static const char *const caps_policy_names[] = {
    [VSB_DOMAIN_CAPS_POLICY_DEFAULT] = "default",
    [VSB_DOMAIN_CAPS_POLICY_ALLOW] = "allow",
    [VSB_DOMAIN_CAPS_POLICY_DENY] = "deny",
};
G_STATIC_ASSERT(G_N_ELEMENTS(caps_policy_names) == VSB_DOMAIN_CAPS_POLICY_LAST);

/* Indexed by the kernel's capability number (linux/capability.h), so
 * the controller can hand the index straight to capng. */
static const char *const cap_names[] = {
    "chown", "dac_override", "dac_read_search", "fowner", "fsetid",
    "kill", "setgid", "setuid", "setpcap", "linux_immutable",
    "net_bind_service", "net_broadcast", "net_admin", "net_raw",
    "ipc_lock", "ipc_owner", "sys_module", "sys_rawio", "sys_chroot",
    "sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice",
    "sys_resource", "sys_time", "sys_tty_config", "mknod", "lease",
    "audit_write", "audit_control", "setfcap", "mac_override",
    "mac_admin", "syslog", "wake_alarm", "block_suspend", "audit_read",
    "perfmon", "bpf", "checkpoint_restore",
};
G_STATIC_ASSERT(G_N_ELEMENTS(cap_names) == VSB_DOMAIN_CAP_COUNT);

static int
enum_from_string(const char *const *names, int n, const char *s)
{
    if (!s)
        return -1;
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i], s) == 0)
            return i;
    }
    return -1;
}

static const char *
enum_to_string(const char *const *names, int n, int v)
{
    if (v < 0 || v >= n)
        return NULL;
    return names[v];
}

const char *
vsb_domain_fs_type_to_string(VsbDomainFSType t)
{
    return enum_to_string(fs_type_names, VSB_DOMAIN_FS_LAST, t);
}

int
vsb_domain_fs_type_from_string(const char *s)
{
    return enum_from_string(fs_type_names, VSB_DOMAIN_FS_LAST, s);
}

const char *
vsb_domain_lifecycle_to_string(VsbDomainLifecycleAction a)
{
    return enum_to_string(lifecycle_names, VSB_DOMAIN_LIFECYCLE_LAST, a);
}

int
vsb_domain_lifecycle_from_string(const char *s)
{
    return enum_from_string(lifecycle_names, VSB_DOMAIN_LIFECYCLE_LAST, s);
}

const char *
vsb_domain_caps_policy_to_string(VsbDomainCapsPolicy p)
{
    return enum_to_string(caps_policy_names, VSB_DOMAIN_CAPS_POLICY_LAST, p);
}

int
vsb_domain_caps_policy_from_string(const char *s)
{
    return enum_from_string(caps_policy_names, VSB_DOMAIN_CAPS_POLICY_LAST, s);
}

const char *
vsb_domain_cap_to_string(int cap)
{
    return enum_to_string(cap_names, VSB_DOMAIN_CAP_COUNT, cap);
}

int
vsb_domain_cap_from_string(const char *s)
{
    return enum_from_string(cap_names, VSB_DOMAIN_CAP_COUNT, s);
}

/* ------------------------------------------------------------------ */
/* lifetime                                                           */

static void
vsb_domain_fs_free(VsbDomainFS *fs)
{
    if (!fs)
        return;
    g_free(fs->source);
    g_free(fs->target);
    g_free(fs->usage_unit);
    g_free(fs->accessmode);
    g_free(fs);
}

static void
vsb_domain_env_free(VsbDomainEnv *env)
{
    if (!env)
        return;
    g_free(env->name);
    g_free(env->value);
    g_free(env);
}

static void
vsb_domain_uuid_generate(unsigned char uuid[16])
{
    g_autofree char *s = g_uuid_string_random();

    /* g_uuid_string_random() always returns a valid v4 string. */
    if (!vsb_domain_uuid_parse(s, uuid))
        g_assert_not_reached();
}

VsbDomainDef *
vsb_domain_def_new(void)
{
    VsbDomainDef *def = g_new0(VsbDomainDef, 1);

    /* A programmatic definition is usable as is: it gets an identity
     * and libvirt's default lifecycle actions. */
    vsb_domain_uuid_generate(def->uuid);
    def->initargs = g_ptr_array_new_with_free_func(g_free);
    def->initenv = g_ptr_array_new_with_free_func((GDestroyNotify)vsb_domain_env_free);
    def->uidmap = g_array_new(FALSE, TRUE, sizeof(VsbDomainIdMap));
    def->gidmap = g_array_new(FALSE, TRUE, sizeof(VsbDomainIdMap));
    def->filesystems = g_ptr_array_new_with_free_func((GDestroyNotify)vsb_domain_fs_free);
    def->interfaces = g_ptr_array_new_with_free_func((GDestroyNotify)vsb_domain_net_free);
    def->blkio_devices =
        g_ptr_array_new_with_free_func((GDestroyNotify)vsb_domain_blkio_device_free);
    def->caps_policy = VSB_DOMAIN_CAPS_POLICY_DEFAULT;
    def->on_poweroff = VSB_DOMAIN_LIFECYCLE_DESTROY;
    def->on_reboot = VSB_DOMAIN_LIFECYCLE_RESTART;
    def->on_crash = VSB_DOMAIN_LIFECYCLE_DESTROY;
    return def;
}

void
vsb_domain_def_free(VsbDomainDef *def)
{
    if (!def)
        return;
    g_free(def->name);
    g_free(def->title);
    g_free(def->description);
    g_free(def->metadata_xml);
    g_free(def->timezone);
    vsb_domain_seclabel_free(def->seclabel);
    g_free(def->cpuset);
    g_ptr_array_unref(def->blkio_devices);
    g_free(def->numa_nodeset);
    g_free(def->os_arch);
    g_free(def->init);
    g_ptr_array_unref(def->initargs);
    g_ptr_array_unref(def->initenv);
    g_free(def->initdir);
    g_free(def->inituser);
    g_free(def->initgroup);
    g_array_unref(def->uidmap);
    g_array_unref(def->gidmap);
    g_free(def->emulator);
    g_ptr_array_unref(def->filesystems);
    g_ptr_array_unref(def->interfaces);
    g_free(def);
}

/* ------------------------------------------------------------------ */
/* uuid                                                               */

void
vsb_domain_uuid_format(const unsigned char uuid[16], char out[37])
{
    static const char hex[] = "0123456789abcdef";
    int o = 0;

    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[uuid[i] >> 4];
        out[o++] = hex[uuid[i] & 0xf];
    }
    out[o] = '\0';
}

/* The two forms libvirt's schema allows: 32 hex digits, or the usual
 * 8-4-4-4-12 grouping; either case. */
bool
vsb_domain_uuid_parse(const char *s, unsigned char uuid[16])
{
    size_t len;
    bool dashed;
    int n = 0;

    if (!s)
        return false;
    len = strlen(s);
    if (len == 36)
        dashed = true;
    else if (len == 32)
        dashed = false;
    else
        return false;

    for (size_t i = 0; i < len;) {
        int hi, lo;

        if (dashed && (i == 8 || i == 13 || i == 18 || i == 23)) {
            if (s[i] != '-')
                return false;
            i++;
            continue;
        }
        hi = g_ascii_xdigit_value(s[i]);
        lo = g_ascii_xdigit_value(s[i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        uuid[n++] = (unsigned char)(hi << 4 | lo);
        i += 2;
    }
    return n == 16;
}

/* ------------------------------------------------------------------ */
/* paths                                                              */

static bool
has_dotdot(const char *path)
{
    g_auto(GStrv) parts = g_strsplit(path, "/", -1);

    for (char **p = parts; *p; p++) {
        if (strcmp(*p, "..") == 0)
            return true;
    }
    return false;
}

/* A path inside the container: absolute and without "..", so that the
 * controller can join it under the root without escaping it. */
static bool
check_guest_path(const char *what, const char *path, GError **error)
{
    if (!vsb_check_abs_path(what, path, error))
        return false;
    if (has_dotdot(path)) {
        VSB_CONF_ERROR(error, INVALID, "%s '%s' must not contain '..'", what, path);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* <domain> children                                                  */

typedef bool (*ElemParser)(xmlNode *node, VsbDomainDef *def, GError **error);

static bool
parse_name(xmlNode *node, VsbDomainDef *def, GError **error)
{
    g_autofree char *name = NULL;

    if (!vsb_xml_check_attrs(node, NULL, NULL, error) || !vsb_xml_get_text(node, &name, error))
        return false;
    if (!*name) {
        VSB_CONF_ERROR(error, INVALID, "domain <name> must not be empty");
        return false;
    }
    if (strlen(name) > VSB_DOMAIN_NAME_MAX) {
        g_autofree char *start = g_utf8_substring(name, 0, 40);

        VSB_CONF_ERROR(error, INVALID, "domain name '%s...' is longer than %d bytes",
                       start, VSB_DOMAIN_NAME_MAX);
        return false;
    }
    if (name[0] == '.') {
        VSB_CONF_ERROR(error, INVALID, "domain name '%s' must not start with '.'", name);
        return false;
    }
    if (strchr(name, '/')) {
        VSB_CONF_ERROR(error, INVALID, "domain name '%s' must not contain '/'", name);
        return false;
    }
    for (const char *p = name; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            g_autofree char *esc = g_strescape(name, NULL);

            VSB_CONF_ERROR(error, INVALID,
                           "domain name '%s' must not contain control characters", esc);
            return false;
        }
    }
    def->name = g_steal_pointer(&name);
    return true;
}

static bool
parse_uuid(xmlNode *node, VsbDomainDef *def, GError **error)
{
    g_autofree char *s = NULL;
    static const unsigned char nil[16];

    if (!vsb_xml_check_attrs(node, NULL, NULL, error) ||
        !vsb_xml_get_text_stripped(node, &s, error))
        return false;
    if (!vsb_domain_uuid_parse(s, def->uuid)) {
        VSB_CONF_ERROR(error, INVALID, "malformed <uuid> '%s'", s);
        return false;
    }
    if (memcmp(def->uuid, nil, sizeof(nil)) == 0) {
        VSB_CONF_ERROR(error, INVALID, "<uuid> '%s' is the nil UUID", s);
        return false;
    }
    return true;
}

static bool
parse_title(xmlNode *node, VsbDomainDef *def, GError **error)
{
    g_autofree char *s = NULL;

    if (!vsb_xml_check_attrs(node, NULL, NULL, error) || !vsb_xml_get_text(node, &s, error))
        return false;
    if (strchr(s, '\n')) {
        VSB_CONF_ERROR(error, INVALID, "<title> must not contain a newline");
        return false;
    }
    /* Empty means absent, as in libvirt. */
    if (*s)
        def->title = g_steal_pointer(&s);
    return true;
}

static bool
parse_description(xmlNode *node, VsbDomainDef *def, GError **error)
{
    g_autofree char *s = NULL;

    if (!vsb_xml_check_attrs(node, NULL, NULL, error) || !vsb_xml_get_text(node, &s, error))
        return false;
    if (*s)
        def->description = g_steal_pointer(&s);
    return true;
}

static bool
parse_metadata(xmlNode *node, VsbDomainDef *def, GError **error)
{
    g_autoptr(GPtrArray) hrefs = g_ptr_array_new();
    g_autoptr(xmlDoc) doc = NULL;
    g_autoptr(xmlBuffer) buf = NULL;
    xmlNode *copy;
    int old_indent, r;
    bool ours = false, foreign = false;

    if (!vsb_xml_check_attrs(node, NULL, NULL, error))
        return false;
    for (xmlNode *c = node->children; c; c = c->next) {
        int n = vsb_xml_next_element(c, error);

        if (n < 0)
            return false;
        if (n == 0)
            continue;
        /* libvirt keys metadata by namespace and throws away what has
         * none, or repeats one: refuse instead of losing data. */
        if (!c->ns || !c->ns->href || !*c->ns->href) {
            VSB_CONF_ERROR(error, INVALID,
                           "<metadata> child <%s> must be in an XML namespace (line %ld)",
                           VSB_CC(c->name), vsb_xml_elem_line(c));
            return false;
        }
        for (guint i = 0; i < hrefs->len; i++) {
            if (xmlStrEqual(hrefs->pdata[i], c->ns->href)) {
                VSB_CONF_ERROR(error, INVALID,
                               "<metadata> has two children in namespace '%s' (line %ld)",
                               VSB_CC(c->ns->href), vsb_xml_elem_line(c));
                return false;
            }
        }
        g_ptr_array_add(hrefs, (gpointer)c->ns->href);
        if (vsb_domain_ns_is_ours(c)) {
            if (!vsb_domain_ns_parse(c, def, error))
                return false;
            ours = true;
        } else {
            foreign = true;
        }
    }
    /* Ours is parsed into the definition and written back from it. */
    if (ours && !foreign)
        return true;

    /* A copy in its own document: namespaces declared on ancestors are
     * re-declared on the copied <metadata>, so the dump stands alone. */
    doc = xmlNewDoc(VSB_XC("1.0"));
    if (!doc || !(copy = xmlDocCopyNode(node, doc, 1))) {
        VSB_CONF_ERROR(error, XML, "cannot copy <metadata>");
        return false;
    }
    xmlDocSetRootElement(doc, copy);
    if (ours) {
        for (xmlNode *c = copy->children, *next; c; c = next) {
            next = c->next;
            if (vsb_domain_ns_is_ours(c)) {
                xmlUnlinkNode(c);
                xmlFreeNode(c);
            }
        }
        /* A declaration of our namespace re-declared on the copy would
         * now declare it for nothing. */
        for (xmlNs **nsp = &copy->nsDef; *nsp;) {
            xmlNs *ns = *nsp;
            if (ns->href && xmlStrEqual(ns->href, VSB_XC(VSB_DOMAIN_XMLNS))) {
                *nsp = ns->next;
                ns->next = NULL;
                xmlFreeNs(ns);
            } else {
                nsp = &ns->next;
            }
        }
    }
    vsb_xml_strip_blank_text(copy);

    /* Level 1: indented for its place as a child of <domain>; the
     * formatter adds the indentation of the first line. */
    buf = xmlBufferCreate();
    old_indent = xmlIndentTreeOutput;
    xmlIndentTreeOutput = 1;
    r = xmlNodeDump(buf, doc, copy, 1, 1);
    xmlIndentTreeOutput = old_indent;
    if (r < 0) {
        VSB_CONF_ERROR(error, XML, "cannot serialize <metadata>");
        return false;
    }
    def->metadata_xml = g_strdup(VSB_CC(xmlBufferContent(buf)));
    return true;
}

/* ---- <os> ---- */

static const char *const arch_names[] = {
    "aarch64", "alpha", "armv6l", "armv7l", "armv7b", "cris", "i686", "ia64",
    "lm32", "loongarch64", "m68k", "microblaze", "microblazeel", "mips",
    "mipsel", "mips64", "mips64el", "openrisc", "parisc", "parisc64", "ppc",
    "ppc64", "ppc64le", "ppcemb", "riscv32", "riscv64", "s390", "s390x",
    "sh4", "sh4eb", "sparc", "sparc64", "unicore32", "x86_64", "xtensa",
    "xtensaeb", NULL
};

static bool
parse_os_type(xmlNode *node, VsbDomainDef *def, GError **error)
{
    static const char *const allowed[] = { "arch", NULL };
    static const char *const unsupported[] = { "machine", NULL };
    static const char *const other_types[] = { "hvm", "xen", "linux", "xenpvh", NULL };
    g_autofree char *value = NULL;
    g_autofree char *arch = NULL;

    if (!vsb_xml_check_attrs(node, allowed, unsupported, error) ||
        !vsb_xml_get_text_stripped(node, &value, error))
        return false;
    if (strcmp(value, "exe") != 0) {
        if (vsb_str_in(other_types, value))
            VSB_CONF_ERROR(error, UNSUPPORTED,
                           "os type '%s' is not supported: LXC domains use 'exe'", value);
        else
            VSB_CONF_ERROR(error, INVALID, "unknown os type '%s': expected 'exe'", value);
        return false;
    }
    if ((arch = vsb_xml_prop(node, "arch")) && !vsb_str_in(arch_names, arch)) {
        VSB_CONF_ERROR(error, INVALID, "unknown architecture '%s' in <type arch=...>", arch);
        return false;
    }
    def->os_arch = g_steal_pointer(&arch);
    return true;
}

/* libvirt's pattern for environment variable names. */
static bool
env_name_valid(const char *s)
{
    if (!s || !(g_ascii_isalpha(*s) || *s == '_'))
        return false;
    for (; *s; s++) {
        if (!(g_ascii_isalnum(*s) || *s == '_'))
            return false;
    }
    return true;
}

/* libvirt's "genericName": user and group names or numbers. */
static bool
generic_name_valid(const char *s)
{
    return s && *s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                "0123456789_+-") == strlen(s);
}

static bool
parse_os(xmlNode *node, VsbDomainDef *def, GError **error)
{
    static const char *const unsupported_attrs[] = { "firmware", NULL };
    static const char *const known[] = {
        "loader", "nvram", "kernel", "initrd", "cmdline", "dtb", "root",
        "boot", "bootmenu", "smbios", "bios", "acpi", "firmware", "shim",
        "bootloader", "bootloader_args", NULL
    };
    bool seen_type = false, seen_init = false, seen_initdir = false;
    bool seen_user = false, seen_group = false;

    if (!vsb_xml_check_attrs(node, NULL, unsupported_attrs, error))
        return false;
    for (xmlNode *c = node->children; c; c = c->next) {
        g_autofree char *value = NULL;
        int r = vsb_xml_next_element(c, error);

        if (r < 0)
            return false;
        if (r == 0)
            continue;

        if (vsb_xml_name_is(c, "type")) {
            if (seen_type)
                return vsb_xml_reject_duplicate(c, error);
            seen_type = true;
            if (!parse_os_type(c, def, error))
                return false;
        } else if (vsb_xml_name_is(c, "init")) {
            if (seen_init)
                return vsb_xml_reject_duplicate(c, error);
            seen_init = true;
            if (!vsb_xml_check_attrs(c, NULL, NULL, error) || !vsb_xml_get_text(c, &value, error) ||
                !vsb_check_abs_path("<init>", value, error))
                return false;
            def->init = g_steal_pointer(&value);
        } else if (vsb_xml_name_is(c, "initarg")) {
            if (!vsb_xml_check_attrs(c, NULL, NULL, error) || !vsb_xml_get_text(c, &value, error))
                return false;
            g_ptr_array_add(def->initargs, g_steal_pointer(&value));
        } else if (vsb_xml_name_is(c, "initenv")) {
            static const char *const allowed[] = { "name", NULL };
            g_autofree char *name = NULL;
            VsbDomainEnv *env;

            if (!vsb_xml_check_attrs(c, allowed, NULL, error) ||
                !vsb_xml_prop_required(c, "name", &name, error) ||
                !vsb_xml_get_text(c, &value, error))
                return false;
            if (!env_name_valid(name)) {
                VSB_CONF_ERROR(error, INVALID, "invalid <initenv> name '%s'", name);
                return false;
            }
            for (guint i = 0; i < def->initenv->len; i++) {
                const VsbDomainEnv *e = def->initenv->pdata[i];

                if (strcmp(e->name, name) == 0) {
                    VSB_CONF_ERROR(error, INVALID, "duplicate <initenv name='%s'>", name);
                    return false;
                }
            }
            env = g_new0(VsbDomainEnv, 1);
            env->name = g_steal_pointer(&name);
            env->value = g_steal_pointer(&value);
            g_ptr_array_add(def->initenv, env);
        } else if (vsb_xml_name_is(c, "initdir")) {
            if (seen_initdir)
                return vsb_xml_reject_duplicate(c, error);
            seen_initdir = true;
            if (!vsb_xml_check_attrs(c, NULL, NULL, error) || !vsb_xml_get_text(c, &value, error) ||
                !vsb_check_abs_path("<initdir>", value, error))
                return false;
            def->initdir = g_steal_pointer(&value);
        } else if (vsb_xml_name_is(c, "inituser") || vsb_xml_name_is(c, "initgroup")) {
            bool user = vsb_xml_name_is(c, "inituser");

            if (user ? seen_user : seen_group)
                return vsb_xml_reject_duplicate(c, error);
            *(user ? &seen_user : &seen_group) = true;
            if (!vsb_xml_check_attrs(c, NULL, NULL, error) ||
                !vsb_xml_get_text_stripped(c, &value, error))
                return false;
            if (!generic_name_valid(value)) {
                VSB_CONF_ERROR(error, INVALID, "invalid <%s> '%s'", VSB_CC(c->name), value);
                return false;
            }
            *(user ? &def->inituser : &def->initgroup) = g_steal_pointer(&value);
        } else {
            return vsb_xml_reject_child(c, known, error);
        }
    }
    if (!seen_type) {
        VSB_CONF_ERROR(error, INVALID, "<os> has no <type>: expected <type>exe</type>");
        return false;
    }
    /* libvirt's schema takes both or neither. */
    if (seen_user != seen_group) {
        VSB_CONF_ERROR(error, INVALID, "<%s> requires <%s>",
                       seen_user ? "inituser" : "initgroup",
                       seen_user ? "initgroup" : "inituser");
        return false;
    }
    return true;
}

/* ---- <idmap> ---- */

static int
idmap_cmp_start(gconstpointer a, gconstpointer b)
{
    const VsbDomainIdMap *x = a, *y = b;

    return x->start < y->start ? -1 : x->start > y->start;
}

static int
idmap_cmp_target(gconstpointer a, gconstpointer b)
{
    const VsbDomainIdMap *x = a, *y = b;

    return x->target < y->target ? -1 : x->target > y->target;
}

/* Overlap on either side makes the kernel refuse the map. */
static bool
idmap_check(const char *kind, GArray *map, GError **error)
{
    g_autoptr(GArray) by_target = NULL;

    if (map->len > VSB_IDMAP_MAX) {
        VSB_CONF_ERROR(error, INVALID, "too many <%s> entries in <idmap>: %u, at most %d",
                       kind, map->len, VSB_IDMAP_MAX);
        return false;
    }
    /* libvirt keeps the map sorted by container id. */
    g_array_sort(map, idmap_cmp_start);
    if (g_array_index(map, VsbDomainIdMap, 0).start != 0) {
        VSB_CONF_ERROR(error, INVALID,
                       "<idmap> must map id 0 (the container's root) in <%s>", kind);
        return false;
    }
    by_target = g_array_copy(map);
    g_array_sort(by_target, idmap_cmp_target);
    for (guint i = 1; i < map->len; i++) {
        const VsbDomainIdMap *p = &g_array_index(map, VsbDomainIdMap, i - 1);
        const VsbDomainIdMap *q = &g_array_index(map, VsbDomainIdMap, i);
        const VsbDomainIdMap *pt = &g_array_index(by_target, VsbDomainIdMap, i - 1);
        const VsbDomainIdMap *qt = &g_array_index(by_target, VsbDomainIdMap, i);

        if ((guint64)p->start + p->count > q->start) {
            VSB_CONF_ERROR(error, INVALID,
                           "overlapping <%s> ranges in <idmap>: start %u count %u and start %u",
                           kind, p->start, p->count, q->start);
            return false;
        }
        if ((guint64)pt->target + pt->count > qt->target) {
            VSB_CONF_ERROR(error, INVALID,
                           "overlapping <%s> ranges in <idmap>: target %u count %u and target %u",
                           kind, pt->target, pt->count, qt->target);
            return false;
        }
    }
    return true;
}

static bool
parse_idmap_entry(xmlNode *node, GArray *map, GError **error)
{
    static const char *const allowed[] = { "start", "target", "count", NULL };
    static const char *const names[] = { "start", "target", "count" };
    unsigned long long v[3];
    VsbDomainIdMap m;

    if (!vsb_xml_check_attrs(node, allowed, NULL, error) || !vsb_xml_check_empty(node, error))
        return false;
    for (int i = 0; i < 3; i++) {
        g_autofree char *s = NULL;

        if (!vsb_xml_prop_required(node, names[i], &s, error))
            return false;
        if (!vsb_parse_ull(s, G_MAXUINT32, &v[i])) {
            VSB_CONF_ERROR(error, INVALID, "invalid <%s %s='%s'> in <idmap>",
                           VSB_CC(node->name), names[i], s);
            return false;
        }
    }
    if (v[2] == 0) {
        VSB_CONF_ERROR(error, INVALID, "<%s start='%llu'> in <idmap> has count 0",
                       VSB_CC(node->name), v[0]);
        return false;
    }
    if (v[0] + v[2] > (guint64)G_MAXUINT32 + 1 || v[1] + v[2] > (guint64)G_MAXUINT32 + 1) {
        VSB_CONF_ERROR(error, INVALID,
                       "<%s start='%llu' target='%llu' count='%llu'> in <idmap> goes past id %u",
                       VSB_CC(node->name), v[0], v[1], v[2], G_MAXUINT32);
        return false;
    }
    m.start = (unsigned int)v[0];
    m.target = (unsigned int)v[1];
    m.count = (unsigned int)v[2];
    g_array_append_val(map, m);
    return true;
}

static bool
parse_idmap(xmlNode *node, VsbDomainDef *def, GError **error)
{
    if (!vsb_xml_check_attrs(node, NULL, NULL, error))
        return false;
    for (xmlNode *c = node->children; c; c = c->next) {
        int r = vsb_xml_next_element(c, error);

        if (r < 0)
            return false;
        if (r == 0)
            continue;
        if (vsb_xml_name_is(c, "uid")) {
            if (!parse_idmap_entry(c, def->uidmap, error))
                return false;
        } else if (vsb_xml_name_is(c, "gid")) {
            if (!parse_idmap_entry(c, def->gidmap, error))
                return false;
        } else {
            return vsb_xml_reject_child(c, NULL, error);
        }
    }
    /* A user namespace needs both maps; one alone is a mistake. */
    if (def->uidmap->len == 0 && def->gidmap->len == 0)
        return true;
    if (def->uidmap->len == 0 || def->gidmap->len == 0) {
        VSB_CONF_ERROR(error, INVALID, "<idmap> has <%s> entries but no <%s> entries",
                       def->uidmap->len ? "uid" : "gid", def->uidmap->len ? "gid" : "uid");
        return false;
    }
    return idmap_check("uid", def->uidmap, error) &&
           idmap_check("gid", def->gidmap, error);
}

/* ---- <features> ---- */

static bool
parse_capabilities(xmlNode *node, VsbDomainDef *def, GError **error)
{
    static const char *const allowed[] = { "policy", NULL };
    static const char *const state_allowed[] = { "state", NULL };
    g_autofree char *policy = NULL;
    int p = VSB_DOMAIN_CAPS_POLICY_DEFAULT;

    if (!vsb_xml_check_attrs(node, allowed, NULL, error))
        return false;
    if ((policy = vsb_xml_prop(node, "policy")) &&
        (p = vsb_domain_caps_policy_from_string(policy)) < 0) {
        VSB_CONF_ERROR(error, INVALID, "unknown <capabilities> policy '%s'", policy);
        return false;
    }
    def->has_caps_feature = true;
    def->caps_policy = (VsbDomainCapsPolicy)p;

    for (xmlNode *c = node->children; c; c = c->next) {
        g_autofree char *state = NULL;
        int r = vsb_xml_next_element(c, error);
        int cap;

        if (r < 0)
            return false;
        if (r == 0)
            continue;
        if (c->ns || (cap = vsb_domain_cap_from_string(VSB_CC(c->name))) < 0) {
            g_autofree char *label = vsb_xml_elem_label(c);

            VSB_CONF_ERROR(error, INVALID, "unknown capability %s in <capabilities> (line %ld)",
                           label, vsb_xml_elem_line(c));
            return false;
        }
        if (def->caps[cap] != VSB_DOMAIN_TRISTATE_ABSENT)
            return vsb_xml_reject_duplicate(c, error);
        if (!vsb_xml_check_attrs(c, state_allowed, NULL, error) || !vsb_xml_check_empty(c, error))
            return false;
        /* A capability named without a state is one being asked for. */
        state = vsb_xml_prop(c, "state");
        if (!state || strcmp(state, "on") == 0) {
            def->caps[cap] = VSB_DOMAIN_TRISTATE_ON;
        } else if (strcmp(state, "off") == 0) {
            def->caps[cap] = VSB_DOMAIN_TRISTATE_OFF;
        } else {
            VSB_CONF_ERROR(error, INVALID,
                           "invalid state '%s' for capability <%s>: expected on or off",
                           state, VSB_CC(c->name));
            return false;
        }
    }
    return true;
}

static bool
parse_features(xmlNode *node, VsbDomainDef *def, GError **error)
{
    static const char *const known[] = {
        "pae", "apic", "acpi", "hap", "hyperv", "viridian", "kvm", "xen",
        "pvspinlock", "pmu", "vmport", "gic", "smm", "ioapic", "hpt",
        "vmcoreinfo", "htm", "nested-hv", "msrs", "ccf-assist", "cfpc",
        "sbbc", "ibs", "tcg", "async-teardown", NULL
    };
    bool seen_privnet = false, seen_caps = false;

    if (!vsb_xml_check_attrs(node, NULL, NULL, error))
        return false;
    for (xmlNode *c = node->children; c; c = c->next) {
        int r = vsb_xml_next_element(c, error);

        if (r < 0)
            return false;
        if (r == 0)
            continue;
        if (vsb_xml_name_is(c, "privnet")) {
            if (seen_privnet)
                return vsb_xml_reject_duplicate(c, error);
            seen_privnet = true;
            if (!vsb_xml_check_attrs(c, NULL, NULL, error) || !vsb_xml_check_empty(c, error))
                return false;
            def->privnet = true;
        } else if (vsb_xml_name_is(c, "capabilities")) {
            if (seen_caps)
                return vsb_xml_reject_duplicate(c, error);
            seen_caps = true;
            if (!parse_capabilities(c, def, error))
                return false;
        } else {
            return vsb_xml_reject_child(c, known, error);
        }
    }
    return true;
}

/* A container shares the host's realtime clock: the kernel's time
 * namespace offsets CLOCK_MONOTONIC and CLOCK_BOOTTIME only (those are
 * in <vsb:time>).  So offset='utc' (libvirt's default for LXC) or
 * offset='timezone', which only sets TZ for init; every realtime
 * offset is refused, saying why, never ignored. */
static bool
parse_clock(xmlNode *node, VsbDomainDef *def, GError **error)
{
    static const char *const allowed[] = { "offset", "timezone", NULL };
    static const char *const unsupported[] = { "adjustment", "basis", "start", NULL };
    static const char *const known[] = { "timer", NULL };
    g_autofree char *offset = vsb_xml_prop(node, "offset");
    g_autofree char *tz = NULL;
    g_autofree char *adjustment = vsb_xml_prop(node, "adjustment");

    if (!offset) {
        VSB_CONF_ERROR(error, INVALID, "missing attribute 'offset' on <clock> (line %ld)",
                       vsb_xml_elem_line(node));
        return false;
    }
    if (strcmp(offset, "variable") == 0 || strcmp(offset, "absolute") == 0 ||
        (adjustment && strcmp(offset, "localtime") != 0)) {
        VSB_CONF_ERROR(error, UNSUPPORTED,
                       "unsupported <clock offset='%s'%s%s%s>: a realtime clock offset cannot "
                       "be honoured for a container (the kernel's time namespace offsets only "
                       "CLOCK_MONOTONIC and CLOCK_BOOTTIME; the KVM sandbox can offset the "
                       "realtime clock)", offset, adjustment ? " adjustment='" : "",
                       adjustment ? adjustment : "", adjustment ? "'" : "");
        return false;
    }
    if (strcmp(offset, "localtime") == 0) {
        VSB_CONF_ERROR(error, UNSUPPORTED,
                       "unsupported <clock offset='localtime'>: a container shares the host's "
                       "realtime clock; set its time zone with "
                       "<clock offset='timezone' timezone='Area/City'>");
        return false;
    }
    if (strcmp(offset, "utc") != 0 && strcmp(offset, "timezone") != 0) {
        VSB_CONF_ERROR(error, INVALID, "unknown <clock offset='%s'>: expected 'utc' or 'timezone'",
                       offset);
        return false;
    }
    if (!vsb_xml_check_attrs(node, allowed, unsupported, error))
        return false;
    for (xmlNode *c = node->children; c; c = c->next) {
        int r = vsb_xml_next_element(c, error);

        if (r < 0)
            return false;
        if (r > 0)
            return vsb_xml_reject_child(c, known, error);
    }
    tz = vsb_xml_prop(node, "timezone");
    if (strcmp(offset, "utc") == 0) {
        if (tz) {
            VSB_CONF_ERROR(error, INVALID, "<clock offset='utc'> takes no timezone= "
                           "(use offset='timezone')");
            return false;
        }
        return true;
    }
    if (!tz) {
        VSB_CONF_ERROR(error, INVALID, "<clock offset='timezone'> needs timezone=");
        return false;
    }
    /* libvirt's schema: [a-zA-Z0-9_.+-/]+ (a zoneinfo name or a POSIX
     * TZ string without spaces). */
    if (!*tz || strlen(tz) > 255 || strspn(tz, "abcdefghijklmnopqrstuvwxyz"
                                           "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.+-/")
                                    != strlen(tz)) {
        VSB_CONF_ERROR(error, INVALID, "invalid <clock timezone='%s'>: expected a name such as "
                       "'Europe/Paris' (letters, digits and _.+-/)", tz);
        return false;
    }
    def->timezone = g_steal_pointer(&tz);
    return true;
}

static bool
parse_lifecycle(xmlNode *node, VsbDomainLifecycleAction *action, GError **error)
{
    g_autofree char *value = NULL;
    const char *name = VSB_CC(node->name);
    int a;

    if (!vsb_xml_check_attrs(node, NULL, NULL, error) ||
        !vsb_xml_get_text_stripped(node, &value, error))
        return false;
    if ((a = vsb_domain_lifecycle_from_string(value)) < 0) {
        if (strcmp(name, "on_crash") == 0 &&
            (strcmp(value, "coredump-destroy") == 0 || strcmp(value, "coredump-restart") == 0))
            VSB_CONF_ERROR(error, UNSUPPORTED,
                           "<on_crash> action '%s' is not supported: "
                           "containers have no core to dump",
                           value);
        else
            VSB_CONF_ERROR(error, INVALID, "unknown <%s> action '%s'", name, value);
        return false;
    }
    *action = (VsbDomainLifecycleAction)a;
    return true;
}

static bool
parse_on_poweroff(xmlNode *node, VsbDomainDef *def, GError **error)
{
    return parse_lifecycle(node, &def->on_poweroff, error);
}

static bool
parse_on_reboot(xmlNode *node, VsbDomainDef *def, GError **error)
{
    return parse_lifecycle(node, &def->on_reboot, error);
}

static bool
parse_on_crash(xmlNode *node, VsbDomainDef *def, GError **error)
{
    return parse_lifecycle(node, &def->on_crash, error);
}

/* ---- <devices> ---- */

static bool
parse_fs_driver(xmlNode *node, VsbDomainFS *fs, GError **error)
{
    static const char *const allowed[] = { "type", "format", NULL };
    static const char *const unsupported[] = {
        "wrpolicy", "queue", "iommu", "ats", "packed", "page_per_vq", NULL
    };
    static const char *const other_drivers[] = {
        "path", "handle", "nbd", "ploop", "virtiofs", NULL
    };
    g_autofree char *type = NULL;
    g_autofree char *format = NULL;

    if (fs->type != VSB_DOMAIN_FS_FILE) {
        VSB_CONF_ERROR(error, UNSUPPORTED, "unsupported <driver> in <filesystem type='%s'>",
                       vsb_domain_fs_type_to_string(fs->type));
        return false;
    }
    if (!vsb_xml_check_attrs(node, allowed, unsupported, error) ||
        !vsb_xml_check_empty(node, error))
        return false;
    type = vsb_xml_prop(node, "type");
    if (type && strcmp(type, "loop") != 0) {
        if (vsb_str_in(other_drivers, type))
            VSB_CONF_ERROR(error, UNSUPPORTED,
                           "unsupported filesystem <driver type='%s'>: only 'loop'", type);
        else
            VSB_CONF_ERROR(error, INVALID, "unknown filesystem <driver type='%s'>", type);
        return false;
    }
    format = vsb_xml_prop(node, "format");
    if (format && strcmp(format, "raw") != 0) {
        VSB_CONF_ERROR(error, UNSUPPORTED,
                       "unsupported filesystem <driver format='%s'>: "
                       "a loop device takes 'raw' only",
                       format);
        return false;
    }
    fs->format = VSB_DOMAIN_FS_FORMAT_RAW;
    return true;
}

static bool
parse_fs_source(xmlNode *node, VsbDomainFS *fs, GError **error)
{
    static const char *const dir_attrs[] = { "dir", NULL };
    static const char *const file_attrs[] = { "file", NULL };
    static const char *const ram_attrs[] = { "usage", "units", NULL };
    static const char *const mount_unsupported[] = { "socket", NULL };
    const char *const *allowed = NULL;
    const char *const *unsupported = NULL;
    const char *attr = NULL;

    switch (fs->type) {
    case VSB_DOMAIN_FS_MOUNT:
        unsupported = mount_unsupported;
        G_GNUC_FALLTHROUGH;
    case VSB_DOMAIN_FS_BIND:
        allowed = dir_attrs;
        attr = "dir";
        break;
    case VSB_DOMAIN_FS_FILE:
        allowed = file_attrs;
        attr = "file";
        break;
    case VSB_DOMAIN_FS_RAM:
        allowed = ram_attrs;
        break;
    case VSB_DOMAIN_FS_LAST:
    default:
        g_assert_not_reached();
    }
    if (!vsb_xml_check_attrs(node, allowed, unsupported, error) ||
        !vsb_xml_check_empty(node, error))
        return false;

    if (fs->type == VSB_DOMAIN_FS_RAM) {
        g_autofree char *usage = vsb_xml_prop(node, "usage");

        fs->usage_unit = vsb_xml_prop(node, "units");
        if (usage &&
            !vsb_domain_parse_scaled_kib(usage, fs->usage_unit, &fs->usage_kib, error)) {
            g_prefix_error(error, "<filesystem type='ram'> usage: ");
            return false;
        }
        if (!fs->usage_unit)
            fs->usage_unit = g_strdup("KiB");
        return true;
    }

    if (!vsb_xml_prop_required(node, attr, &fs->source, error))
        return false;
    if (fs->type == VSB_DOMAIN_FS_BIND) {
        if (!check_guest_path("<filesystem type='bind'> source dir", fs->source, error))
            return false;
    } else {
        g_autofree char *what = g_strdup_printf("<filesystem type='%s'> source %s",
                                                vsb_domain_fs_type_to_string(fs->type), attr);

        if (!vsb_check_abs_path(what, fs->source, error))
            return false;
    }
    return true;
}

static bool
parse_filesystem(xmlNode *node, VsbDomainDef *def, GError **error)
{
    static const char *const allowed[] = { "type", "accessmode", NULL };
    static const char *const unsupported[] = { "model", "multidevs", "fmode", "dmode", NULL };
    static const char *const other_types[] = { "block", "template", "volume", NULL };
    static const char *const known[] = {
        "binary", "boot", "alias", "acpi", "address", "space_hard_limit",
        "space_soft_limit", "idmap", NULL
    };
    static const char *const target_attrs[] = { "dir", NULL };
    g_autoptr(GString) label = g_string_new("<filesystem");
    g_autofree char *type = NULL;
    VsbDomainFS *fs;
    bool seen_driver = false, seen_source = false, seen_readonly = false;
    int t = VSB_DOMAIN_FS_MOUNT;

    if (!vsb_xml_check_attrs(node, allowed, unsupported, error))
        return false;
    if ((type = vsb_xml_prop(node, "type")) && (t = vsb_domain_fs_type_from_string(type)) < 0) {
        if (vsb_str_in(other_types, type))
            VSB_CONF_ERROR(error, UNSUPPORTED, "unsupported <filesystem type='%s'>", type);
        else
            VSB_CONF_ERROR(error, INVALID, "unknown <filesystem type='%s'>", type);
        return false;
    }
    g_string_append_printf(label, " type='%s'>", fs_type_names[t]);

    fs = g_new0(VsbDomainFS, 1);
    fs->type = (VsbDomainFSType)t;
    fs->format = VSB_DOMAIN_FS_FORMAT_RAW;
    /* Owned by the definition from here on, so that early returns free it. */
    g_ptr_array_add(def->filesystems, fs);

    if ((fs->accessmode = vsb_xml_prop(node, "accessmode")) &&
        strcmp(fs->accessmode, "passthrough") != 0) {
        if (strcmp(fs->accessmode, "mapped") == 0 || strcmp(fs->accessmode, "squash") == 0)
            VSB_CONF_ERROR(error, UNSUPPORTED,
                           "unsupported <filesystem accessmode='%s'>: only 'passthrough'",
                           fs->accessmode);
        else
            VSB_CONF_ERROR(error, INVALID, "unknown <filesystem accessmode='%s'>", fs->accessmode);
        return false;
    }

    for (xmlNode *c = node->children; c; c = c->next) {
        int r = vsb_xml_next_element(c, error);

        if (r < 0)
            return false;
        if (r == 0)
            continue;
        if (vsb_xml_name_is(c, "driver")) {
            if (seen_driver)
                return vsb_xml_reject_duplicate(c, error);
            seen_driver = true;
            if (!parse_fs_driver(c, fs, error))
                return false;
        } else if (vsb_xml_name_is(c, "source")) {
            if (seen_source)
                return vsb_xml_reject_duplicate(c, error);
            seen_source = true;
            if (!parse_fs_source(c, fs, error))
                return false;
        } else if (vsb_xml_name_is(c, "target")) {
            g_autofree char *what = NULL;

            if (fs->target)
                return vsb_xml_reject_duplicate(c, error);
            if (!vsb_xml_check_attrs(c, target_attrs, NULL, error) ||
                !vsb_xml_check_empty(c, error) ||
                !vsb_xml_prop_required(c, "dir", &fs->target, error))
                return false;
            what = g_strdup_printf("%s target dir", label->str);
            if (!check_guest_path(what, fs->target, error))
                return false;
        } else if (vsb_xml_name_is(c, "readonly")) {
            if (seen_readonly)
                return vsb_xml_reject_duplicate(c, error);
            seen_readonly = true;
            if (!vsb_xml_check_attrs(c, NULL, NULL, error) || !vsb_xml_check_empty(c, error))
                return false;
            fs->readonly = true;
        } else {
            return vsb_xml_reject_child(c, known, error);
        }
    }

    if (!fs->target) {
        VSB_CONF_ERROR(error, INVALID, "%s has no <target dir=...> (line %ld)",
                       label->str, vsb_xml_elem_line(node));
        return false;
    }
    if (!seen_source && fs->type != VSB_DOMAIN_FS_RAM) {
        VSB_CONF_ERROR(error, INVALID, "%s for '%s' has no <source %s=...>",
                       label->str, fs->target, fs->type == VSB_DOMAIN_FS_FILE ? "file" : "dir");
        return false;
    }
    if (fs->type == VSB_DOMAIN_FS_RAM && fs->readonly) {
        VSB_CONF_ERROR(error, INVALID,
                       "<filesystem type='ram'> for '%s' cannot be <readonly/>: "
                       "an empty read-only tmpfs is useless",
                       fs->target);
        return false;
    }
    if (fs->type == VSB_DOMAIN_FS_RAM && !fs->usage_unit)
        fs->usage_unit = g_strdup("KiB");
    return true;
}

static bool
parse_console(xmlNode *node, VsbDomainDef *def, GError **error)
{
    static const char *const allowed[] = { "type", NULL };
    static const char *const unsupported[] = { "tty", NULL };
    static const char *const target_attrs[] = { "type", "port", NULL };
    static const char *const known[] = {
        "source", "alias", "log", "protocol", "address", "acpi", NULL
    };
    g_autofree char *type = NULL;
    bool seen_target = false;

    if (def->has_console) {
        VSB_CONF_ERROR(error, UNSUPPORTED,
                       "unsupported second <console> (line %ld): at most one is supported",
                       vsb_xml_elem_line(node));
        return false;
    }
    if (!vsb_xml_check_attrs(node, allowed, unsupported, error))
        return false;
    type = vsb_xml_prop(node, "type");
    if (type && strcmp(type, "pty") != 0) {
        VSB_CONF_ERROR(error, UNSUPPORTED, "unsupported <console type='%s'>: only 'pty'", type);
        return false;
    }
    for (xmlNode *c = node->children; c; c = c->next) {
        g_autofree char *ttype = NULL;
        g_autofree char *port = NULL;
        int r = vsb_xml_next_element(c, error);

        if (r < 0)
            return false;
        if (r == 0)
            continue;
        if (!vsb_xml_name_is(c, "target"))
            return vsb_xml_reject_child(c, known, error);
        if (seen_target)
            return vsb_xml_reject_duplicate(c, error);
        seen_target = true;
        if (!vsb_xml_check_attrs(c, target_attrs, NULL, error) || !vsb_xml_check_empty(c, error))
            return false;
        ttype = vsb_xml_prop(c, "type");
        if (ttype && strcmp(ttype, "lxc") != 0) {
            VSB_CONF_ERROR(error, INVALID, "invalid <console> <target type='%s'>: expected 'lxc'",
                           ttype);
            return false;
        }
        port = vsb_xml_prop(c, "port");
        if (port && strcmp(g_strstrip(port), "0") != 0) {
            VSB_CONF_ERROR(error, INVALID, "invalid <console> <target port='%s'>: expected '0'",
                           port);
            return false;
        }
    }
    def->has_console = true;
    return true;
}

/* libvirt's LXC driver passes host block, character and network
 * devices (mode='capabilities') into containers; we do not, and
 * "unsupported element" alone would leave the user guessing whether
 * another mode or type would do.  None would. */
static bool
reject_hostdev(xmlNode *node, GError **error)
{
    g_autofree char *mode = vsb_xml_prop(node, "mode");
    g_autofree char *type = vsb_xml_prop(node, "type");

    VSB_CONF_ERROR(error, UNSUPPORTED,
                   "unsupported <hostdev%s%s%s%s%s%s> (line %ld): containers here support no "
                   "host devices (no block, character, network, PCI or USB device is passed "
                   "in, in any mode)",
                   mode ? " mode='" : "", mode ? mode : "", mode ? "'" : "",
                   type ? " type='" : "", type ? type : "", type ? "'" : "",
                   vsb_xml_elem_line(node));
    return false;
}

static bool
parse_devices(xmlNode *node, VsbDomainDef *def, GError **error)
{
    static const char *const known[] = {
        "disk", "controller", "lease", "input", "sound", "audio",
        "hostdev", "graphics", "video", "parallel", "serial", "channel",
        "smartcard", "hub", "redirdev", "redirfilter", "rng", "tpm", "shmem",
        "memory", "watchdog", "memballoon", "nvram", "panic", "iommu", "vsock",
        "crypto", NULL
    };
    bool seen_emulator = false;

    if (!vsb_xml_check_attrs(node, NULL, NULL, error))
        return false;
    for (xmlNode *c = node->children; c; c = c->next) {
        int r = vsb_xml_next_element(c, error);

        if (r < 0)
            return false;
        if (r == 0)
            continue;
        if (vsb_xml_name_is(c, "emulator")) {
            g_autofree char *value = NULL;

            if (seen_emulator)
                return vsb_xml_reject_duplicate(c, error);
            seen_emulator = true;
            if (!vsb_xml_check_attrs(c, NULL, NULL, error) || !vsb_xml_get_text(c, &value, error) ||
                !vsb_check_abs_path("<emulator>", value, error))
                return false;
            def->emulator = g_steal_pointer(&value);
        } else if (vsb_xml_name_is(c, "filesystem")) {
            if (!parse_filesystem(c, def, error))
                return false;
        } else if (vsb_xml_name_is(c, "console")) {
            if (!parse_console(c, def, error))
                return false;
        } else if (vsb_xml_name_is(c, "interface")) {
            if (!vsb_domain_net_parse(c, def, error))
                return false;
        } else if (vsb_xml_name_is(c, "hostdev")) {
            return reject_hostdev(c, error);
        } else {
            return vsb_xml_reject_child(c, known, error);
        }
    }
    return vsb_domain_net_check(def, error);
}

/* Filesystems against each other: one per target, one root. */
static bool
check_filesystems(VsbDomainDef *def, GError **error)
{
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

    for (guint i = 0; i < def->filesystems->len; i++) {
        const VsbDomainFS *fs = def->filesystems->pdata[i];
        g_autofree char *norm = vsb_normalize_path(fs->target);

        if (strcmp(norm, "/") == 0 && fs->type == VSB_DOMAIN_FS_BIND) {
            VSB_CONF_ERROR(error, INVALID,
                           "<filesystem type='bind'> cannot be the root: "
                           "its source is inside the root");
            return false;
        }
        if (g_hash_table_contains(seen, norm)) {
            if (strcmp(norm, "/") == 0)
                VSB_CONF_ERROR(error, INVALID, "two root filesystems (target dir '/')");
            else
                VSB_CONF_ERROR(error, INVALID, "duplicate filesystem target dir '%s'", fs->target);
            return false;
        }
        g_hash_table_add(seen, g_steal_pointer(&norm));
    }
    return true;
}

/* ---- <domain> ---- */

typedef struct {
    const char *name;
    ElemParser parse;
} DomainChild;

static const DomainChild domain_children[] = {
    { "name", parse_name },
    { "uuid", parse_uuid },
    { "title", parse_title },
    { "description", parse_description },
    { "metadata", parse_metadata },
    { "memory", vsb_domain_tune_parse_memory },
    { "currentMemory", vsb_domain_tune_parse_current_memory },
    { "blkiotune", vsb_domain_tune_parse_blkiotune },
    { "memtune", vsb_domain_tune_parse_memtune },
    { "vcpu", vsb_domain_tune_parse_vcpu },
    { "cputune", vsb_domain_tune_parse_cputune },
    { "numatune", vsb_domain_tune_parse_numatune },
    { "os", parse_os },
    { "idmap", parse_idmap },
    { "features", parse_features },
    { "clock", parse_clock },
    { "on_poweroff", parse_on_poweroff },
    { "on_reboot", parse_on_reboot },
    { "on_crash", parse_on_crash },
    { "devices", parse_devices },
    { "seclabel", vsb_domain_seclabel_parse },
};

static bool
seen_child(const bool *seen, const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(domain_children); i++) {
        if (strcmp(domain_children[i].name, name) == 0)
            return seen[i];
    }
    g_assert_not_reached();
}

#define LIBVIRT_LXC_NS "http://libvirt.org/schemas/domain/lxc/1.0"

static bool
parse_domain(xmlNode *root, VsbDomainDef *def, GError **error)
{
    static const char *const allowed[] = { "type", "id", NULL };
    static const char *const other_types[] = {
        "qemu", "kqemu", "kvm", "xen", "uml", "openvz", "test", "vmware",
        "hyperv", "vbox", "phyp", "vz", "bhyve", "hvf", NULL
    };
    static const char *const known[] = {
        "genid", "cpu", "sysinfo", "maxMemory", "memoryBacking", "vcpus",
        "iothreads", "iothreadids", "defaultiothread", "resource",
        "on_lockfailure", "pm", "perf",
        "keywrap", "launchSecurity", "bootloader", "bootloader_args", NULL
    };
    bool seen[G_N_ELEMENTS(domain_children)] = { false };
    g_autofree char *type = NULL;
    g_autofree char *id = NULL;
    unsigned long long idv;

    if (root->ns || !xmlStrEqual(root->name, VSB_XC("domain"))) {
        g_autofree char *label = vsb_xml_elem_label(root);

        VSB_CONF_ERROR(error, INVALID, "root element is %s, expected <domain>", label);
        return false;
    }
    if (!vsb_xml_check_attrs(root, allowed, NULL, error) ||
        !vsb_xml_prop_required(root, "type", &type, error))
        return false;
    if (strcmp(type, "lxc") != 0) {
        if (vsb_str_in(other_types, type))
            VSB_CONF_ERROR(error, UNSUPPORTED,
                           "unsupported domain type '%s': only 'lxc'", type);
        else
            VSB_CONF_ERROR(error, INVALID, "unknown domain type '%s': expected 'lxc'", type);
        return false;
    }
    /* The id of a running domain is state, not configuration: it is
     * accepted (so live XML parses) and the formatter takes it as an
     * argument. */
    if ((id = vsb_xml_prop(root, "id")) && !vsb_parse_ull(id, G_MAXINT, &idv)) {
        VSB_CONF_ERROR(error, INVALID, "invalid domain id '%s'", id);
        return false;
    }

    for (xmlNode *c = root->children; c; c = c->next) {
        size_t i;
        int r = vsb_xml_next_element(c, error);

        if (r < 0)
            return false;
        if (r == 0)
            continue;
        if (c->ns) {
            g_autofree char *label = vsb_xml_elem_label(c);

            if (c->ns->href && xmlStrEqual(c->ns->href, VSB_XC(LIBVIRT_LXC_NS)))
                VSB_CONF_ERROR(error, UNSUPPORTED, "unsupported element %s in <domain> (line %ld)",
                               label, vsb_xml_elem_line(c));
            else
                VSB_CONF_ERROR(error, INVALID, "unknown element %s in <domain> (line %ld)",
                               label, vsb_xml_elem_line(c));
            return false;
        }
        for (i = 0; i < G_N_ELEMENTS(domain_children); i++) {
            if (xmlStrEqual(c->name, VSB_XC(domain_children[i].name)))
                break;
        }
        if (i == G_N_ELEMENTS(domain_children))
            return vsb_xml_reject_child(c, known, error);
        if (seen[i])
            return vsb_xml_reject_duplicate(c, error);
        seen[i] = true;
        if (!domain_children[i].parse(c, def, error))
            return false;
    }

    if (!def->name) {
        VSB_CONF_ERROR(error, INVALID, "missing <name> in <domain>");
        return false;
    }
    if (!seen_child(seen, "os")) {
        VSB_CONF_ERROR(error, INVALID,
                       "missing <os> in <domain>: expected <os><type>exe</type></os>");
        return false;
    }
    return vsb_domain_tune_check(def, error) && check_filesystems(def, error);
}

VsbDomainDef *
vsb_domain_def_parse_string(const char *xml, GError **error)
{
    g_autoptr(xmlDoc) doc = NULL;
    g_autoptr(VsbDomainDef) def = NULL;

    g_return_val_if_fail(xml != NULL, NULL);

    if (!(doc = vsb_xml_read(xml, error)))
        return NULL;
    def = vsb_domain_def_new();
    if (!parse_domain(xmlDocGetRootElement(doc), def, error))
        return NULL;
    return g_steal_pointer(&def);
}

VsbDomainDef *
vsb_domain_def_parse_file(const char *path, GError **error)
{
    g_autofree char *xml = NULL;
    gsize len;

    VsbDomainDef *def;

    /* Every error names the file: callers print it as it is. */
    if (!(xml = vsb_file_read_all(path, &len, error)))
        return NULL;
    if (memchr(xml, '\0', len)) {
        VSB_CONF_ERROR(error, XML, "%s: file contains a NUL byte", path);
        return NULL;
    }
    if (!(def = vsb_domain_def_parse_string(xml, error)))
        g_prefix_error(error, "%s: ", path);
    return def;
}

const VsbDomainFS *
vsb_domain_def_get_root(const VsbDomainDef *def)
{
    for (guint i = 0; i < def->filesystems->len; i++) {
        const VsbDomainFS *fs = def->filesystems->pdata[i];
        g_autofree char *norm = vsb_normalize_path(fs->target);

        if (strcmp(norm, "/") == 0)
            return fs;
    }
    return NULL;
}
