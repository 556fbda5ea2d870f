/*
 * vsb-launch.c: the launcher's pure decisions (see vsb-launch.h).
 *
 * Plain C without GLib: the launcher links nothing but libc, so that it
 * reaches its fork within a fraction of a millisecond.
 */
#include <config.h>

#include "vsb-launch.h"

#include <stdio.h>
#include <string.h>

static bool
is_lxc_uri(const char *uri)
{
    return strncmp(uri, "lxc:", 4) == 0;
}

bool
vsb_launch_wants_warm(int argc, char *const *argv, bool is_root)
{
    if (!is_root)
        return false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        /* Without "--", the command's own options cannot be told from
         * ours; a wrong guess only costs or saves one warm-up. */
        if (strcmp(a, "--") == 0)
            break;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 ||
            strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0)
            return false;
        if (strcmp(a, "-c") == 0 || strcmp(a, "--connect") == 0) {
            if (i + 1 < argc && !is_lxc_uri(argv[i + 1]))
                return false;
            i++;
        } else if (strncmp(a, "--connect=", 10) == 0) {
            if (!is_lxc_uri(a + 10))
                return false;
        } else if (a[0] == '-' && a[1] == 'c' && a[2] != '\0') {
            if (!is_lxc_uri(a + 2))
                return false;
        }
    }
    return true;
}

/* Field @n (0-based, space-separated) of @line, copied to @buf. */
static bool
field(const char *line, int n, char *buf, size_t len)
{
    const char *p = line;

    for (int i = 0; i < n; i++) {
        p = strchr(p, ' ');
        if (!p)
            return false;
        p++;
    }
    size_t l = strcspn(p, " \n");
    if (l == 0 || l >= len)
        return false;
    memcpy(buf, p, l);
    buf[l] = '\0';
    return true;
}

bool
vsb_launch_cgroup_file(const char *mountinfo, const char *proc_cgroup, char *buf, size_t len)
{
    char root[512], point[512], own[512];
    const char *line, *rel;
    size_t rootlen;

    /* mountinfo: "ID PARENT MAJ:MIN ROOT POINT OPTS [TAGS...] - FSTYPE ..."
     * Escaped names (\040) are not worth decoding here: skipped. */
    for (line = mountinfo; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        const char *sep = strstr(line, " - ");
        const char *eol = strchr(line, '\n');

        if (!sep || (eol && sep > eol) || strncmp(sep + 3, "cgroup2 ", 8) != 0)
            continue;
        if (field(line, 3, root, sizeof(root)) && field(line, 4, point, sizeof(point)) &&
            !strchr(root, '\\') && !strchr(point, '\\'))
            break;
    }
    if (!line || !*line)
        return false;

    for (line = proc_cgroup; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        if (strncmp(line, "0::", 3) == 0)
            break;
    }
    if (!line || !*line)
        return false;
    size_t l = strcspn(line + 3, "\n");
    if (l == 0 || l >= sizeof(own))
        return false;
    memcpy(own, line + 3, l);
    own[l] = '\0';

    /* A mount of a subtree (a container's view) shows paths below its
     * root only. */
    rel = own;
    rootlen = strlen(root);
    if (strcmp(root, "/") != 0) {
        if (strncmp(own, root, rootlen) != 0 || (own[rootlen] != '/' && own[rootlen] != '\0'))
            return false;
        rel = own + rootlen;
    }
    if (strcmp(rel, "/") == 0)
        rel = "";
    int n = snprintf(buf, len, "%s%s/cgroup.threads", point, rel);
    return n > 0 && (size_t)n < len;
}
