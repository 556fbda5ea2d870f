/*
 * vsb-domain-format.c: write a VsbDomainDef back as libvirt 9.0 would
 * (virsh dumpxml of an LXC domain): two-space indentation, single
 * quotes, libvirt's element order, sizes always in KiB.
 *
 * Matching libvirt byte for byte matters: tools diff our XML against
 * libvirt's, and a parse/format round trip must be the identity on
 * canonical documents.
 */
#include <config.h>

#include "vsb-domain-conf.h"
#include "vsb-domain-net.h"
#include "vsb-domain-ns.h"
#include "vsb-domain-seclabel.h"
#include "vsb-domain-tune.h"
#include "vsb-xml-util.h"

static void
indent(GString *buf, int level)
{
    for (int i = 0; i < level; i++)
        g_string_append(buf, "  ");
}

static void
escaped(GString *buf, const char *s)
{
    vsb_xml_escape_append(buf, s, false);
}

static void
attr(GString *buf, const char *name, const char *value)
{
    g_string_append_printf(buf, " %s='", name);
    vsb_xml_escape_append(buf, value, true);
    g_string_append_c(buf, '\'');
}

/* <name>text</name> on its own line; nothing when @text is NULL. */
static void
text_elem(GString *buf, int level, const char *name, const char *text)
{
    if (!text)
        return;
    indent(buf, level);
    g_string_append_printf(buf, "<%s>", name);
    escaped(buf, text);
    g_string_append_printf(buf, "</%s>\n", name);
}

static void
format_os(GString *buf, const VsbDomainDef *def)
{
    g_string_append(buf, "  <os>\n    <type");
    if (def->os_arch)
        attr(buf, "arch", def->os_arch);
    g_string_append(buf, ">exe</type>\n");
    text_elem(buf, 2, "init", def->init);
    for (guint i = 0; i < def->initargs->len; i++)
        text_elem(buf, 2, "initarg", def->initargs->pdata[i]);
    for (guint i = 0; i < def->initenv->len; i++) {
        const VsbDomainEnv *env = def->initenv->pdata[i];

        g_string_append(buf, "    <initenv");
        attr(buf, "name", env->name);
        g_string_append_c(buf, '>');
        escaped(buf, env->value ? env->value : "");
        g_string_append(buf, "</initenv>\n");
    }
    text_elem(buf, 2, "initdir", def->initdir);
    text_elem(buf, 2, "inituser", def->inituser);
    text_elem(buf, 2, "initgroup", def->initgroup);
    g_string_append(buf, "  </os>\n");
}

static void
format_idmap(GString *buf, const VsbDomainDef *def)
{
    static const char *const kinds[] = { "uid", "gid" };
    const GArray *maps[] = { def->uidmap, def->gidmap };

    if (def->uidmap->len == 0 && def->gidmap->len == 0)
        return;
    g_string_append(buf, "  <idmap>\n");
    for (int k = 0; k < 2; k++) {
        for (guint i = 0; i < maps[k]->len; i++) {
            const VsbDomainIdMap *m = &g_array_index(maps[k], VsbDomainIdMap, i);

            g_string_append_printf(buf, "    <%s start='%u' target='%u' count='%u'/>\n",
                                   kinds[k], m->start, m->target, m->count);
        }
    }
    g_string_append(buf, "  </idmap>\n");
}

/* libvirt leaves out <capabilities policy='default'/> when it changes
 * nothing, and <features> when it would be empty. */
static void
format_features(GString *buf, const VsbDomainDef *def)
{
    g_autoptr(GString) caps = g_string_new(NULL);
    bool emit_caps;

    for (int i = 0; i < VSB_DOMAIN_CAP_COUNT; i++) {
        if (def->caps[i] == VSB_DOMAIN_TRISTATE_ABSENT)
            continue;
        g_string_append_printf(caps, "      <%s state='%s'/>\n",
                               vsb_domain_cap_to_string(i),
                               def->caps[i] == VSB_DOMAIN_TRISTATE_ON ? "on" : "off");
    }
    emit_caps = caps->len > 0 || def->caps_policy != VSB_DOMAIN_CAPS_POLICY_DEFAULT;
    if (!def->privnet && !emit_caps)
        return;

    g_string_append(buf, "  <features>\n");
    if (def->privnet)
        g_string_append(buf, "    <privnet/>\n");
    if (emit_caps) {
        const char *policy = vsb_domain_caps_policy_to_string(def->caps_policy);

        g_string_append_printf(buf, "    <capabilities policy='%s'", policy ? policy : "default");
        if (caps->len) {
            g_string_append(buf, ">\n");
            g_string_append_len(buf, caps->str, (gssize)caps->len);
            g_string_append(buf, "    </capabilities>\n");
        } else {
            g_string_append(buf, "/>\n");
        }
    }
    g_string_append(buf, "  </features>\n");
}

static void
format_lifecycle(GString *buf, const char *name, VsbDomainLifecycleAction a)
{
    const char *s = vsb_domain_lifecycle_to_string(a);

    g_string_append_printf(buf, "  <%s>%s</%s>\n", name, s ? s : "destroy", name);
}

static void
format_filesystem(GString *buf, const VsbDomainFS *fs)
{
    const char *type = vsb_domain_fs_type_to_string(fs->type);

    /* libvirt always spells out the access mode. */
    g_string_append_printf(buf, "    <filesystem type='%s' accessmode='passthrough'>\n",
                           type ? type : "mount");
    switch (fs->type) {
    case VSB_DOMAIN_FS_FILE:
        g_string_append(buf, "      <driver type='loop' format='raw'/>\n");
        g_string_append(buf, "      <source");
        attr(buf, "file", fs->source ? fs->source : "");
        g_string_append(buf, "/>\n");
        break;
    case VSB_DOMAIN_FS_RAM:
        /* Always KiB, whatever unit was written, as libvirt does. */
        g_string_append_printf(buf, "      <source usage='%llu' units='KiB'/>\n",
                               fs->usage_kib);
        break;
    case VSB_DOMAIN_FS_MOUNT:
    case VSB_DOMAIN_FS_BIND:
    case VSB_DOMAIN_FS_LAST:
    default:
        g_string_append(buf, "      <source");
        attr(buf, "dir", fs->source ? fs->source : "");
        g_string_append(buf, "/>\n");
        break;
    }
    g_string_append(buf, "      <target");
    attr(buf, "dir", fs->target ? fs->target : "");
    g_string_append(buf, "/>\n");
    if (fs->readonly)
        g_string_append(buf, "      <readonly/>\n");
    g_string_append(buf, "    </filesystem>\n");
}

static void
format_devices(GString *buf, const VsbDomainDef *def)
{
    g_string_append(buf, "  <devices>\n");
    text_elem(buf, 2, "emulator", def->emulator);
    for (guint i = 0; i < def->filesystems->len; i++)
        format_filesystem(buf, def->filesystems->pdata[i]);
    for (guint i = 0; i < def->interfaces->len; i++)
        vsb_domain_net_format(buf, def->interfaces->pdata[i]);
    if (def->has_console) {
        g_string_append(buf,
                        "    <console type='pty'>\n"
                        "      <target type='lxc' port='0'/>\n"
                        "    </console>\n");
    }
    g_string_append(buf, "  </devices>\n");
}

/* The foreign children kept verbatim, then ours, written from the
 * definition. */
static void
format_metadata(GString *buf, const VsbDomainDef *def)
{
    g_autoptr(GString) ours = g_string_new(NULL);
    const char *m = def->metadata_xml;
    const char *close;

    vsb_domain_ns_format(ours, def, 2);
    if (!ours->len) {
        /* Stored already indented for this depth, first line aside. */
        if (m)
            g_string_append_printf(buf, "  %s\n", m);
        return;
    }
    if (!m) {
        g_string_append_printf(buf, "  <metadata>\n%s  </metadata>\n", ours->str);
        return;
    }
    if (g_str_has_suffix(m, "/>")) {
        /* <metadata/>, maybe with namespace declarations */
        g_string_append_printf(buf, "  %.*s>\n%s  </metadata>\n", (int)(strlen(m) - 2), m,
                               ours->str);
        return;
    }
    /* "...\n  </metadata>": ours goes before the closing line */
    close = g_strrstr(m, "</metadata>");
    while (close && close > m && close[-1] == ' ')
        close--;
    if (!close) {
        g_string_append_printf(buf, "  %s\n", m);
        return;
    }
    g_string_append_printf(buf, "  %.*s%s  </metadata>\n", (int)(close - m), m, ours->str);
}

char *
vsb_domain_def_format(const VsbDomainDef *def, int id)
{
    GString *buf = g_string_sized_new(2048);
    char uuid[37];

    g_string_append(buf, "<domain type='lxc'");
    if (id >= 0)
        g_string_append_printf(buf, " id='%d'", id);
    g_string_append(buf, ">\n");

    text_elem(buf, 1, "name", def->name);
    vsb_domain_uuid_format(def->uuid, uuid);
    text_elem(buf, 1, "uuid", uuid);
    text_elem(buf, 1, "title", def->title);
    text_elem(buf, 1, "description", def->description);
    format_metadata(buf, def);

    vsb_domain_tune_format(buf, def);
    format_os(buf, def);
    format_idmap(buf, def);
    format_features(buf, def);
    /* libvirt writes a clock for every LXC domain. */
    if (def->timezone) {
        g_string_append(buf, "  <clock offset='timezone'");
        attr(buf, "timezone", def->timezone);
        g_string_append(buf, "/>\n");
    } else {
        g_string_append(buf, "  <clock offset='utc'/>\n");
    }
    format_lifecycle(buf, "on_poweroff", def->on_poweroff);
    format_lifecycle(buf, "on_reboot", def->on_reboot);
    format_lifecycle(buf, "on_crash", def->on_crash);
    format_devices(buf, def);
    vsb_domain_seclabel_format(buf, def);
    g_string_append(buf, "</domain>\n");
    return g_string_free(buf, FALSE);
}
