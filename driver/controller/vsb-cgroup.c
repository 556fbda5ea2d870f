/*
 * vsb-cgroup.c: the domain's cgroups, on cgroup v1, v2 or both (hybrid).
 *
 * See vsb-cgroup.h for the layout.  Kernel rules this file is built
 * around (Documentation/admin-guide/cgroup-v2.rst and cgroup-v1/):
 *
 * - v2: a controller can be enabled in a cgroup's cgroup.subtree_control
 *   only when its parent enabled it in its own subtree_control, so every
 *   controller used on payload is enabled from the hierarchy root down
 *   to the domain cgroup.  Non-root cgroups with processes cannot enable
 *   domain controllers (no internal processes): the partition and the
 *   domain cgroup never hold a process, only the leaves do.
 * - v1 cpuset: a new cgroup starts with empty cpuset.cpus/cpuset.mems
 *   (unless the parent has cgroup.clone_children) and a task cannot join
 *   it (ENOSPC) until both are set, so they are copied from the parent
 *   down every level we create.
 * - A cgroup can only be removed once it has no process and no child
 *   cgroup (EBUSY); children first.  Exited (even unreaped) tasks are no
 *   longer listed in cgroup.procs.
 */
#include <config.h>

#include "vsb-cgroup.h"
#include "vsb-cgroup-bpf.h"
#include "vsb-cgroup-limits.h"
#include "vsb-util.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VSB_CGROUP_DOMAIN_SUFFIX ".virt-sandbox"
#define VSB_CGROUP_DEFAULT_PARTITION "machine"

/* How long kill_payload waits for payload to empty. */
#define VSB_CGROUP_KILL_TIMEOUT_US (10 * G_USEC_PER_SEC)
/* How long a v1 freezer may stay FREEZING before we kill anyway: tasks in
 * uninterruptible sleep (NFS, FUSE) can keep it there for ever. */
#define VSB_CGROUP_FREEZE_TIMEOUT_US (1 * G_USEC_PER_SEC)
/* How long destroy waits for supervisor/payload to empty and retries an
 * rmdir that says EBUSY: a task that just left is unlinked from its
 * cgroup asynchronously with respect to other CPUs. */
#define VSB_CGROUP_DESTROY_TIMEOUT_US (1 * G_USEC_PER_SEC)
/* How often create retries when a concurrent destroy removes the
 * partition between our mkdir of it and our mkdir of the domain. */
#define VSB_CGROUP_MKDIR_ATTEMPTS 10

/* The cgroups of the domain in one hierarchy. */
typedef struct {
    VsbCgroupHierarchy *h;   /* owned by VsbCgroup.hierarchies */
    char *partition_dir;
    char *domain_dir;
    char *supervisor_dir;
    char *payload_dir;
    char *own_dir;           /* where the creating process was; NULL if outside the mount */
    bool created;            /* we made domain_dir, so destroy removes it */
    bool touched;            /* we made (or found) partition_dir */
    bool delegated;          /* domain_dir is systemd's scope (own_dir): only the
                              * leaves are ours */
} VsbCgroupNode;

struct _VsbCgroup {
    char *name;
    char *partition;
    char *delegated_unit;    /* VsbCgroupConfig.delegated_unit */
    GPtrArray *hierarchies;  /* VsbCgroupHierarchy */
    GPtrArray *nodes;        /* VsbCgroupNode, same order */
    int bpf_fd;              /* v2 device program, attached to payload */
};

/* ------------------------------------------------------------------ */
/* Pure parsers                                                        */

/* systemd's unit name escaping: '/' becomes '-', a leading '.' and every
 * byte outside [A-Za-z0-9:_.] (so '-' and '\\' too) becomes \xXX. */
static void
append_unit_escaped(GString *out, const char *s)
{
    for (const char *c = s; *c; c++) {
        if (*c == '/')
            g_string_append_c(out, '-');
        else if ((*c == '.' && c == s) || !(g_ascii_isalnum(*c) || strchr(":_.", *c)))
            g_string_append_printf(out, "\\x%02x", (unsigned char)*c);
        else
            g_string_append_c(out, *c);
    }
}

static const char *
partition_or_default(const char *partition)
{
    if (!partition)
        return VSB_CGROUP_DEFAULT_PARTITION;
    return partition[0] == '/' ? partition + 1 : partition;
}

char *
vsb_cgroup_slice_name(const char *partition)
{
    GString *out = g_string_new(NULL);

    append_unit_escaped(out, partition_or_default(partition));
    g_string_append(out, ".slice");
    return g_string_free(out, FALSE);
}

char *
vsb_cgroup_scope_name(const char *partition, const char *name)
{
    GString *out = g_string_new(NULL);

    append_unit_escaped(out, partition_or_default(partition));
    g_string_append_c(out, '-');
    append_unit_escaped(out, name);
    g_string_append(out, ".scope");
    return g_string_free(out, FALSE);
}

GStrv
vsb_cgroup_domain_rel_paths(const char *partition, const char *name)
{
    g_autofree char *slice = vsb_cgroup_slice_name(partition);
    g_autofree char *scope = vsb_cgroup_scope_name(partition, name);
    char **out = g_new0(char *, 3);

    out[0] = g_strdup_printf("%s/%s" VSB_CGROUP_DOMAIN_SUFFIX, partition_or_default(partition),
                             name);
    out[1] = g_strdup_printf("%s/%s", slice, scope);
    return out;
}

void
vsb_cgroup_hierarchy_free(VsbCgroupHierarchy *h)
{
    if (!h)
        return;
    g_free(h->mount_point);
    g_free(h->mount_root);
    g_free(h->mount_options);
    g_strfreev(h->controllers);
    g_free(h->own_path);
    g_free(h);
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static char *
unescape_octal(const char *s)
{
    GString *out = g_string_sized_new(strlen(s));

    while (*s) {
        if (s[0] == '\\' &&
            s[1] >= '0' && s[1] <= '3' &&
            s[2] >= '0' && s[2] <= '7' &&
            s[3] >= '0' && s[3] <= '7') {
            g_string_append_c(out, (char)(((s[1] - '0') << 6) | ((s[2] - '0') << 3) | (s[3] - '0')));
            s += 4;
        } else {
            g_string_append_c(out, *s++);
        }
    }
    return g_string_free(out, FALSE);
}

/* Super options of a v1 cgroup mount that are not controllers or names:
 * cgroup1_show_options() in kernel/cgroup/cgroup-v1.c, the generic ones
 * of show_sb_opts() and SELinux's (seclabel, *context=). */
static bool
is_v1_flag_option(const char *opt)
{
    static const char *const flags[] = {
        "rw", "ro", "sync", "dirsync", "mand", "lazytime", "seclabel",
        "none", "noprefix", "xattr", "clone_children", "cpuset_v2_mode",
        "favordynmods", NULL,
    };

    return g_strv_contains(flags, opt) || g_str_has_prefix(opt, "release_agent=") ||
           strstr(opt, "context=") != NULL;
}

static VsbCgroupHierarchy *
find_same_hierarchy(GPtrArray *hs, VsbCgroupVersion version, const char *options)
{
    for (guint i = 0; i < hs->len; i++) {
        VsbCgroupHierarchy *h = g_ptr_array_index(hs, i);
        /* There is one v2 hierarchy; a v1 one is named by its
         * controllers and name=, which the kernel prints in a fixed order. */
        if (h->version == version &&
            (version == VSB_CGROUP_VERSION_2 || g_str_equal(h->mount_options, options)))
            return h;
    }
    return NULL;
}

GPtrArray *
vsb_cgroup_parse_mountinfo(const char *mountinfo, GError **error)
{
    g_autoptr(GPtrArray) hs =
        g_ptr_array_new_with_free_func((GDestroyNotify)vsb_cgroup_hierarchy_free);
    g_auto(GStrv) lines = g_strsplit(mountinfo, "\n", -1);

    for (guint ln = 0; lines[ln]; ln++) {
        g_auto(GStrv) f = NULL;
        guint nf;
        guint sep = 0;
        const char *fstype;
        VsbCgroupVersion version;
        g_autoptr(GPtrArray) ctrls = NULL;
        VsbCgroupHierarchy *h;
        VsbCgroupHierarchy *old;

        if (!lines[ln][0])
            continue;
        /* ID PARENT MAJ:MIN ROOT MOUNT-POINT MOUNT-OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER-OPTIONS */
        f = g_strsplit(lines[ln], " ", -1);
        nf = g_strv_length(f);
        for (guint i = 6; i < nf; i++) {
            if (g_str_equal(f[i], "-")) {
                sep = i;
                break;
            }
        }
        if (sep == 0 || nf < sep + 4) {
            g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                        "Malformed mountinfo line %u: '%s'", ln + 1, lines[ln]);
            return NULL;
        }
        fstype = f[sep + 1];
        if (g_str_equal(fstype, "cgroup"))
            version = VSB_CGROUP_VERSION_1;
        else if (g_str_equal(fstype, "cgroup2"))
            version = VSB_CGROUP_VERSION_2;
        else
            continue;

        ctrls = g_ptr_array_new_with_free_func(g_free);
        if (version == VSB_CGROUP_VERSION_1) {
            g_auto(GStrv) opts = g_strsplit(f[sep + 3], ",", -1);
            for (guint i = 0; opts[i]; i++) {
                /* Split first: a ',' inside a name is escaped as \054. */
                g_autofree char *opt = unescape_octal(opts[i]);
                if (opt[0] && !is_v1_flag_option(opt))
                    g_ptr_array_add(ctrls, g_steal_pointer(&opt));
            }
            if (ctrls->len == 0) {
                g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                            "Malformed mountinfo line %u: cgroup mount without controllers: '%s'",
                            ln + 1, lines[ln]);
                return NULL;
            }
        }
        g_ptr_array_add(ctrls, NULL);

        h = g_new0(VsbCgroupHierarchy, 1);
        h->version = version;
        h->mount_root = unescape_octal(f[3]);
        h->mount_point = unescape_octal(f[4]);
        h->controllers = (char **)g_ptr_array_free(g_steal_pointer(&ctrls), FALSE);
        h->mount_options = g_strjoinv(",", h->controllers);

        /* The same hierarchy mounted again (bind mounts, or a subtree of
         * it) counts once; the mount of its root shows every cgroup. */
        old = find_same_hierarchy(hs, version, h->mount_options);
        if (!old) {
            g_ptr_array_add(hs, h);
        } else if (!g_str_equal(old->mount_root, "/") && g_str_equal(h->mount_root, "/")) {
            guint idx = 0;
            g_ptr_array_find(hs, old, &idx);
            vsb_cgroup_hierarchy_free(old);
            hs->pdata[idx] = h;
        } else {
            vsb_cgroup_hierarchy_free(h);
        }
    }
    return g_steal_pointer(&hs);
}

/* Does the controller list of a /proc/PID/cgroup line name @h?  Each
 * controller (or name=) belongs to one hierarchy, so one common entry
 * is enough; matching on a common entry rather than on equal sets also
 * keeps working if a kernel adds a mount flag we do not filter. */
static bool
proc_line_matches(const VsbCgroupHierarchy *h, const char *ctrl_list)
{
    g_auto(GStrv) ctrls = NULL;

    if (h->version == VSB_CGROUP_VERSION_2)
        return ctrl_list[0] == '\0';
    if (ctrl_list[0] == '\0')
        return false;
    ctrls = g_strsplit(ctrl_list, ",", -1);
    for (guint i = 0; ctrls[i]; i++) {
        if (g_strv_contains((const char *const *)h->controllers, ctrls[i]))
            return true;
    }
    return false;
}

bool
vsb_cgroup_parse_proc_cgroup(GPtrArray *hierarchies, const char *proc_cgroup, GError **error)
{
    g_auto(GStrv) lines = g_strsplit(proc_cgroup, "\n", -1);
    g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);

    for (guint ln = 0; lines[ln]; ln++) {
        /* ID:CONTROLLERS:PATH; the path may itself hold ':'. */
        char **f;

        if (!lines[ln][0])
            continue;
        f = g_strsplit(lines[ln], ":", 3);
        if (g_strv_length(f) != 3 || f[2][0] != '/') {
            g_strfreev(f);
            g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                        "Malformed /proc/PID/cgroup line %u: '%s'", ln + 1, lines[ln]);
            return false;
        }
        g_ptr_array_add(entries, f);
    }

    for (guint i = 0; i < hierarchies->len; i++) {
        VsbCgroupHierarchy *h = g_ptr_array_index(hierarchies, i);
        char **match = NULL;

        for (guint j = 0; j < entries->len && !match; j++) {
            char **f = g_ptr_array_index(entries, j);
            if ((h->version == VSB_CGROUP_VERSION_2) == g_str_equal(f[0], "0") &&
                proc_line_matches(h, f[1]))
                match = f;
        }
        if (!match) {
            g_set_error(error, VSB_ERROR, VSB_ERROR_NOT_FOUND,
                        "The cgroup hierarchy mounted on %s (%s) is not in /proc/PID/cgroup",
                        h->mount_point,
                        h->version == VSB_CGROUP_VERSION_2 ? "cgroup2" : h->mount_options);
            return false;
        }
        g_free(h->own_path);
        h->own_path = g_strdup(match[2]);
    }
    return true;
}

unsigned long long
vsb_cgroup_shares_to_weight(unsigned long long shares)
{
    unsigned long long weight;

    /* Both are linear in the scheduler's group weight: shares 1024 and
     * weight 100 are each the default (nice 0).  The kernel reports the
     * cpu.weight of a group as round(shares * 100 / 1024) clamped to
     * [1, 10000] (sched_weight_to_cgroup()); systemd converts the same
     * way.  Clamp shares to their v1 range first so no overflow. */
    shares = CLAMP(shares, 2ULL, 262144ULL);
    weight = (shares * 100 + 512) / 1024;
    return CLAMP(weight, 1ULL, 10000ULL);
}

unsigned long long
vsb_cgroup_blkio_weight_to_io_weight(unsigned long long weight)
{
    /* Not an affine map onto all of 1..10000: weights are relative, and
     * only a proportional map keeps both the default (500 -> 100, so a
     * domain without <blkiotune> and one with weight 500 get the same
     * share) and the ratio of any two domains' weights. */
    weight = CLAMP(weight, 10ULL, 1000ULL);
    return (weight * 100 + 250) / 500;
}

/* ------------------------------------------------------------------ */
/* Small file-system helpers                                           */

static bool
node_is_v2(const VsbCgroupNode *n)
{
    return n->h->version == VSB_CGROUP_VERSION_2;
}

static bool
node_has(const VsbCgroupNode *n, const char *controller)
{
    return g_strv_contains((const char *const *)n->h->controllers, controller);
}

static VsbCgroupNode *
find_node(VsbCgroup *cg, const char *controller)
{
    for (guint i = 0; i < cg->nodes->len; i++) {
        VsbCgroupNode *n = g_ptr_array_index(cg->nodes, i);
        if (node_has(n, controller))
            return n;
    }
    return NULL;
}

static VsbCgroupNode *
find_v2_node(VsbCgroup *cg)
{
    for (guint i = 0; i < cg->nodes->len; i++) {
        VsbCgroupNode *n = g_ptr_array_index(cg->nodes, i);
        if (node_is_v2(n))
            return n;
    }
    return NULL;
}

static bool
file_exists_at(const char *dir, const char *name)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);

    return access(path, F_OK) == 0;
}

static char *
read_at(const char *dir, const char *name, GError **error)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);

    return vsb_file_read_all(path, NULL, error);
}

/* Value of KEY in a "key value" lines file such as cgroup.events. */
static bool
read_key_at(const char *dir, const char *name, const char *key, long long *value, GError **error)
{
    g_autofree char *text = read_at(dir, name, error);
    g_auto(GStrv) lines = NULL;

    if (!text)
        return false;
    lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        g_auto(GStrv) kv = g_strsplit(lines[i], " ", 2);
        if (g_strv_length(kv) == 2 && g_str_equal(kv[0], key)) {
            *value = g_ascii_strtoll(kv[1], NULL, 10);
            return true;
        }
    }
    g_set_error(error, VSB_ERROR, VSB_ERROR_NOT_FOUND,
                "No '%s' in %s/%s", key, dir, name);
    return false;
}

static bool
is_subdir(const char *dir, struct dirent *de)
{
    g_autofree char *sub = NULL;
    struct stat st;

    if (g_str_equal(de->d_name, ".") || g_str_equal(de->d_name, ".."))
        return false;
    if (de->d_type != DT_UNKNOWN)
        return de->d_type == DT_DIR;
    sub = g_build_filename(dir, de->d_name, NULL);
    return lstat(sub, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Append the pids of @dir and of every cgroup below it.  A cgroup that
 * vanishes while we walk (the payload's own nested cgroups) is not an
 * error. */
static bool
collect_pids(const char *dir, GArray *pids, GError **error)
{
    g_autofree char *path = g_build_filename(dir, "cgroup.procs", NULL);
    g_autofree char *text = NULL;
    g_autoptr(GError) local = NULL;
    g_auto(GStrv) lines = NULL;
    DIR *d;
    struct dirent *de;

    text = vsb_file_read_all(path, NULL, &local);
    if (!text) {
        if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            return true;
        g_propagate_error(error, g_steal_pointer(&local));
        return false;
    }
    lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        gint64 pid;
        if (!lines[i][0])
            continue;
        pid = g_ascii_strtoll(lines[i], NULL, 10);
        if (pid > 0) {
            pid_t p = (pid_t)pid;
            g_array_append_val(pids, p);
        }
    }

    d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return true;
        return vsb_error_set_errno(error, errno, "Cannot open directory %s", dir);
    }
    while ((de = readdir(d))) {
        g_autofree char *sub = NULL;

        if (!is_subdir(dir, de))
            continue;
        sub = g_build_filename(dir, de->d_name, NULL);
        if (!collect_pids(sub, pids, error)) {
            closedir(d);
            return false;
        }
    }
    closedir(d);
    return true;
}

static char *
format_pids(GArray *pids)
{
    GString *s = g_string_new(NULL);

    for (guint i = 0; i < pids->len; i++)
        g_string_append_printf(s, "%s%d", i ? " " : "", (int)g_array_index(pids, pid_t, i));
    return g_string_free(s, FALSE);
}

/* Does @dir or a cgroup below it hold a process?  On v2 the kernel
 * keeps the answer in cgroup.events ("populated"); v1 has to walk. */
static bool
dir_populated(const VsbCgroupNode *n, const char *dir, bool *populated, GError **error)
{
    g_autoptr(GArray) pids = NULL;

    if (node_is_v2(n)) {
        g_autoptr(GError) local = NULL;
        long long v = 0;

        if (read_key_at(dir, "cgroup.events", "populated", &v, &local)) {
            *populated = v != 0;
            return true;
        }
        if (!g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
            g_propagate_error(error, g_steal_pointer(&local));
            return false;
        }
        if (access(dir, F_OK) < 0) {
            *populated = false;
            return true;
        }
        /* cgroup.events is missing below Linux 4.11: walk. */
    }
    pids = g_array_new(FALSE, FALSE, sizeof(pid_t));
    if (!collect_pids(dir, pids, error))
        return false;
    *populated = pids->len > 0;
    return true;
}

/* rmdir @dir after every cgroup below it (children first).  ENOENT is
 * success: idempotent.  EBUSY is retried until @deadline: see
 * VSB_CGROUP_DESTROY_TIMEOUT_US. */
static bool
rmdir_tree(const char *dir, gint64 deadline, GError **error)
{
    DIR *d = opendir(dir);
    struct dirent *de;

    if (!d) {
        if (errno == ENOENT)
            return true;
        return vsb_error_set_errno(error, errno, "Cannot open directory %s", dir);
    }
    while ((de = readdir(d))) {
        g_autofree char *sub = NULL;

        if (!is_subdir(dir, de))
            continue;
        sub = g_build_filename(dir, de->d_name, NULL);
        if (!rmdir_tree(sub, deadline, error)) {
            closedir(d);
            return false;
        }
    }
    closedir(d);

    for (;;) {
        if (rmdir(dir) == 0 || errno == ENOENT)
            return true;
        if (errno != EBUSY || g_get_monotonic_time() >= deadline)
            break;
        g_usleep(10 * 1000);
    }
    if (errno == EBUSY) {
        g_autoptr(GArray) pids = g_array_new(FALSE, FALSE, sizeof(pid_t));
        g_autofree char *list = NULL;

        (void)collect_pids(dir, pids, NULL);
        list = format_pids(pids);
        return vsb_error_set_errno(error, EBUSY, "Cannot remove cgroup %s%s%s", dir,
                                   pids->len ? ", which still holds processes " : "",
                                   list);
    }
    return vsb_error_set_errno(error, errno, "Cannot remove cgroup %s", dir);
}

/* ------------------------------------------------------------------ */
/* Creation                                                            */

static void
node_free(VsbCgroupNode *n)
{
    if (!n)
        return;
    g_free(n->partition_dir);
    g_free(n->domain_dir);
    g_free(n->supervisor_dir);
    g_free(n->payload_dir);
    g_free(n->own_dir);
    g_free(n);
}

void
vsb_cgroup_free(VsbCgroup *cg)
{
    if (!cg)
        return;
    if (cg->bpf_fd >= 0)
        close(cg->bpf_fd);
    g_clear_pointer(&cg->nodes, g_ptr_array_unref);
    g_clear_pointer(&cg->hierarchies, g_ptr_array_unref);
    g_free(cg->name);
    g_free(cg->partition);
    g_free(cg->delegated_unit);
    g_free(cg);
}

/* Names end up as directory names and in /proc/PID/cgroup lines. */
static bool
check_name(const char *what, const char *value, GError **error)
{
    if (!value || !value[0] || g_str_equal(value, ".") || g_str_equal(value, "..") ||
        strchr(value, '/') || strpbrk(value, "\n\r\t:") ) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                    "Invalid cgroup %s '%s': it must be a non-empty file name "
                    "without '/', ':' or control characters", what, value ? value : "");
        return false;
    }
    return true;
}

/* Where the creating process is, as a directory of this mount: the
 * mount may show only a subtree (mountinfo root field) of the hierarchy. */
static char *
own_dir_of(const VsbCgroupHierarchy *h)
{
    const char *rest;
    size_t rootlen = strlen(h->mount_root);

    if (!h->own_path)
        return NULL;
    if (g_str_equal(h->mount_root, "/"))
        return g_build_filename(h->mount_point, h->own_path, NULL);
    if (strncmp(h->own_path, h->mount_root, rootlen) != 0)
        return NULL;
    rest = h->own_path + rootlen;
    if (*rest != '\0' && *rest != '/')
        return NULL;
    return g_build_filename(h->mount_point, rest, NULL);
}

/* Did systemd put us in the delegated unit in this hierarchy?  (A v1
 * controller it does not manage leaves us where we were.) */
static bool
in_delegated_unit(const VsbCgroup *cg, const VsbCgroupNode *n)
{
    g_autofree char *base = NULL;

    if (!cg->delegated_unit || !n->own_dir || !n->h->own_path)
        return false;
    base = g_path_get_basename(n->h->own_path);
    return g_str_equal(base, cg->delegated_unit);
}

static bool
load_hierarchies(VsbCgroup *cg, GError **error)
{
    g_autofree char *mountinfo = NULL;
    g_autofree char *proc_cgroup = NULL;

    mountinfo = vsb_file_read_all("/proc/self/mountinfo", NULL, error);
    if (!mountinfo)
        return false;
    cg->hierarchies = vsb_cgroup_parse_mountinfo(mountinfo, error);
    if (!cg->hierarchies)
        return false;
    if (cg->hierarchies->len == 0) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
                    "No cgroup file system is mounted (see /proc/self/mountinfo)");
        return false;
    }
    proc_cgroup = vsb_file_read_all("/proc/self/cgroup", NULL, error);
    if (!proc_cgroup)
        return false;
    if (!vsb_cgroup_parse_proc_cgroup(cg->hierarchies, proc_cgroup, error))
        return false;

    cg->nodes = g_ptr_array_new_with_free_func((GDestroyNotify)node_free);
    for (guint i = 0; i < cg->hierarchies->len; i++) {
        VsbCgroupHierarchy *h = g_ptr_array_index(cg->hierarchies, i);
        VsbCgroupNode *n = g_new0(VsbCgroupNode, 1);

        n->h = h;
        n->own_dir = own_dir_of(h);
        if (in_delegated_unit(cg, n)) {
            n->delegated = true;
            n->domain_dir = g_strdup(n->own_dir);
            n->partition_dir = g_path_get_dirname(n->own_dir);
        } else {
            n->partition_dir = g_build_filename(h->mount_point, cg->partition, NULL);
            n->domain_dir = g_strdup_printf("%s/%s" VSB_CGROUP_DOMAIN_SUFFIX,
                                            n->partition_dir, cg->name);
        }
        n->supervisor_dir = g_build_filename(n->domain_dir, "supervisor", NULL);
        n->payload_dir = g_build_filename(n->domain_dir, "payload", NULL);
        g_ptr_array_add(cg->nodes, n);

        if (h->version == VSB_CGROUP_VERSION_2) {
            /* The controllers this host gives to v2 (on a hybrid host
             * only those no v1 hierarchy took). */
            g_autofree char *text = read_at(h->mount_point, "cgroup.controllers", error);
            if (!text)
                return false;
            g_strfreev(h->controllers);
            h->controllers = g_strsplit_set(g_strstrip(text), " ", -1);
            if (!h->controllers[0] || !h->controllers[0][0]) {
                g_strfreev(h->controllers);
                h->controllers = g_new0(char *, 1);
            }
        }
    }
    return true;
}

/* A domain cgroup left by a controller that died is removed; one with
 * processes means the domain runs.  Every hierarchy is checked before
 * anything is removed. */
static bool
remove_stale(VsbCgroup *cg, GError **error)
{
    gint64 deadline = g_get_monotonic_time() + VSB_CGROUP_DESTROY_TIMEOUT_US;

    for (guint i = 0; i < cg->nodes->len; i++) {
        VsbCgroupNode *n = g_ptr_array_index(cg->nodes, i);
        bool populated = false;

        /* (a fresh scope, holding us) */
        if (n->delegated || access(n->domain_dir, F_OK) < 0)
            continue;
        if (!dir_populated(n, n->domain_dir, &populated, error))
            return false;
        if (populated) {
            g_set_error(error, VSB_ERROR, VSB_ERROR_EXISTS,
                        "cgroup %s is in use: domain %s is already running?",
                        n->domain_dir, cg->name);
            return false;
        }
    }
    for (guint i = 0; i < cg->nodes->len; i++) {
        VsbCgroupNode *n = g_ptr_array_index(cg->nodes, i);
        if (!n->delegated && !rmdir_tree(n->domain_dir, deadline, error))
            return false;
    }
    return true;
}

static bool
make_dir(const char *dir, GError **error)
{
    if (mkdir(dir, 0755) < 0)
        return vsb_error_set_errno(error, errno, "Cannot create cgroup %s", dir);
    return true;
}

static bool
node_make_dirs(VsbCgroup *cg, VsbCgroupNode *n, GError **error)
{
    if (n->delegated) {
        g_autofree char *self = g_strdup_printf("%d", (int)getpid());

        /* systemd made the scope; "created": the leaves are ours.  We
         * leave the scope's own cgroup at once: v2 enables controllers
         * for its children only once it holds no process. */
        n->created = true;
        return make_dir(n->supervisor_dir, error) && make_dir(n->payload_dir, error) &&
               vsb_file_write_str_at(n->supervisor_dir, "cgroup.procs", self, error);
    }
    n->touched = true;
    for (int attempt = 1;; attempt++) {
        if (mkdir(n->partition_dir, 0755) < 0 && errno != EEXIST)
            return vsb_error_set_errno(error, errno, "Cannot create cgroup %s", n->partition_dir);
        if (mkdir(n->domain_dir, 0755) == 0)
            break;
        /* Another domain's destroy removed the (empty) partition between
         * our two mkdir: make it again.  Once our domain cgroup is in it
         * the partition cannot go away. */
        if (errno == ENOENT && attempt < VSB_CGROUP_MKDIR_ATTEMPTS)
            continue;
        if (errno == EEXIST) {
            /* remove_stale() just removed it: someone else is starting
             * the same domain right now. */
            g_set_error(error, VSB_ERROR, VSB_ERROR_EXISTS,
                        "cgroup %s is in use: domain %s is already running?",
                        n->domain_dir, cg->name);
            return false;
        }
        return vsb_error_set_errno(error, errno, "Cannot create cgroup %s", n->domain_dir);
    }
    n->created = true;
    return make_dir(n->supervisor_dir, error) && make_dir(n->payload_dir, error);
}

/* v1 cpuset: give @dir its parent's cpus and mems when it has none. */
static bool
cpuset_inherit(const char *dir, GError **error)
{
    static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
    g_autofree char *parent = g_path_get_dirname(dir);

    for (guint i = 0; i < G_N_ELEMENTS(files); i++) {
        g_autofree char *mine = read_at(dir, files[i], error);
        g_autofree char *theirs = NULL;

        if (!mine)
            return false;
        if (g_strstrip(mine)[0])
            continue;
        theirs = read_at(parent, files[i], error);
        if (!theirs)
            return false;
        if (!g_strstrip(theirs)[0]) {
            g_set_error(error, VSB_ERROR, VSB_ERROR_FAILED,
                        "Cannot set %s/%s: %s/%s is empty too", dir, files[i], parent, files[i]);
            return false;
        }
        if (!vsb_file_write_str_at(dir, files[i], theirs, error))
            return false;
    }
    return true;
}

/* v2: make @controller available in @dir's children. */
static bool
subtree_enable(const char *dir, const char *controller, GError **error)
{
    g_autofree char *text = read_at(dir, "cgroup.subtree_control", error);
    g_auto(GStrv) enabled = NULL;
    g_autofree char *cmd = NULL;

    if (!text)
        return false;
    enabled = g_strsplit_set(g_strstrip(text), " ", -1);
    /* Already on: do not write, which would need the no-internal-process
     * rule to hold even where someone else already set it up. */
    if (g_strv_contains((const char *const *)enabled, controller))
        return true;
    cmd = g_strdup_printf("+%s", controller);
    return vsb_file_write_str_at(dir, "cgroup.subtree_control", cmd, error);
}

/* v2: enable no controller in @dir's children, so that a process may
 * join @dir itself. */
static bool
subtree_disable_all(const char *dir, GError **error)
{
    g_autofree char *text = read_at(dir, "cgroup.subtree_control", error);
    g_auto(GStrv) enabled = NULL;
    g_autoptr(GString) cmd = g_string_new(NULL);

    if (!text)
        return false;
    enabled = g_strsplit_set(g_strstrip(text), " ", -1);
    for (guint i = 0; enabled[i]; i++) {
        if (enabled[i][0])
            g_string_append_printf(cmd, "%s-%s", cmd->len ? " " : "", enabled[i]);
    }
    return cmd->len == 0 || vsb_file_write_str_at(dir, "cgroup.subtree_control", cmd->str, error);
}

static bool
v2_enable_controllers(VsbCgroupNode *n, const VsbCgroupConfig *cfg, GError **error)
{
    const char *const dirs[] = { n->h->mount_point, n->partition_dir, n->domain_dir };
    /* What the limits need; and memory and pids for their accounting
     * files (memory.current, pids.current), which are optional: at the
     * root of a cgroup namespace (nested in a container) holding
     * processes, the no-internal-process rule forbids enabling them. */
    const struct {
        const char *name;
        bool wanted;
        bool required;
    } want[] = {
        { "memory", true, cfg->memory_limit_bytes != 0 },
        { "pids", true, cfg->pids_max != 0 },
        /* cpu wanted anyway: the daemon may set shares or a quota live */
        { "cpu", true, cfg->cpu_shares != 0 || cfg->cpu_quota_us > 0 || cfg->cpu_period_us },
        { "cpuset", cfg->cpuset || cfg->mems, cfg->cpuset || cfg->mems },
        /* wanted anyway: the daemon may set blkiotune live */
        { "io", true, cfg->blkio_weight != 0 || cfg->nblkio_devices != 0 },
    };

    for (guint i = 0; i < G_N_ELEMENTS(want); i++) {
        /* Not on this hierarchy: owned by a v1 one (hybrid host). */
        if (!want[i].wanted || !node_has(n, want[i].name))
            continue;
        for (guint j = 0; j < G_N_ELEMENTS(dirs); j++) {
            g_autoptr(GError) local = NULL;

            if (subtree_enable(dirs[j], want[i].name, &local))
                continue;
            if (want[i].required) {
                g_propagate_error(error, g_steal_pointer(&local));
                return false;
            }
            g_printerr("warning: %s, ignoring\n", local->message);
            break;
        }
    }
    return true;
}

static bool
node_setup(VsbCgroupNode *n, const VsbCgroupConfig *cfg, GError **error)
{
    if (node_is_v2(n))
        return v2_enable_controllers(n, cfg, error);
    if (node_has(n, "cpuset")) {
        const char *const dirs[] = {
            n->partition_dir, n->domain_dir, n->supervisor_dir, n->payload_dir,
        };
        for (guint j = 0; j < G_N_ELEMENTS(dirs); j++) {
            if (!cpuset_inherit(dirs[j], error))
                return false;
        }
        /* So that cgroups the container makes below payload get its cpus
         * and mems at mkdir and can take tasks at once. */
        if (!vsb_file_write_str_at(n->payload_dir, "cgroup.clone_children", "1", error))
            return false;
    }
    return true;
}

static VsbCgroupNode *
require_controller(VsbCgroup *cg, const char *controller, const char *why, GError **error)
{
    VsbCgroupNode *n = find_node(cg, controller);

    if (!n)
        g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
                    "Cannot set %s: no mounted cgroup hierarchy has the %s controller",
                    why, controller);
    return n;
}

static bool
apply_devices(VsbCgroup *cg, const VsbCgroupConfig *cfg, GError **error)
{
    VsbCgroupNode *n = find_node(cg, "devices");

    if (n && !node_is_v2(n)) {
        /* v1: deny all first; then each allow is a hole in it.  Only a
         * cgroup without children accepts "a" in devices.deny. */
        if (!vsb_file_write_str_at(n->payload_dir, "devices.deny", "a", error))
            return false;
        for (size_t i = 0; i < cfg->ndevices; i++) {
            const VsbCgroupDevice *d = &cfg->devices[i];
            g_autofree char *major = d->major == VSB_CGROUP_DEVICE_ANY
                ? g_strdup("*") : g_strdup_printf("%u", d->major);
            g_autofree char *minor = d->minor == VSB_CGROUP_DEVICE_ANY
                ? g_strdup("*") : g_strdup_printf("%u", d->minor);
            g_autofree char *rule = g_strdup_printf("%c %s:%s %s", d->type, major, minor,
                                                    d->access);
            if (!vsb_file_write_str_at(n->payload_dir, "devices.allow", rule, error))
                return false;
        }
        return true;
    }

    n = find_v2_node(cg);
    if (!n) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
                    "Cannot restrict devices: no cgroup v1 devices hierarchy and no cgroup2 is mounted");
        return false;
    }
    /* v2 (also a hybrid host whose devices controller is not mounted):
     * BPF works on any cgroup2 hierarchy, it is not a controller. */
    cg->bpf_fd = vsb_cgroup_bpf_devices_load(cfg->devices, cfg->ndevices, error);
    if (cg->bpf_fd < 0)
        return false;
    return vsb_cgroup_bpf_attach(cg->bpf_fd, n->payload_dir, error);
}

/* The block I/O controller: v1 blkio, else v2 io. */
static VsbCgroupNode *
find_blkio(VsbCgroup *cg)
{
    VsbCgroupNode *n = find_node(cg, "blkio");

    return n ? n : find_node(cg, "io");
}

static bool
require_blkio(VsbCgroup *cg, GError **error)
{
    if (find_blkio(cg))
        return true;
    g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
                "Cannot apply <blkiotune>: no mounted cgroup hierarchy has the "
                "blkio (v1) or io (v2) controller");
    return false;
}

/* What vsb-cgroup-limits.c writes the same way live. */
static bool
apply_limits_more(VsbCgroup *cg, const VsbCgroupConfig *cfg, GError **error)
{
    VsbCgroupNode *n;

    /* v1 charges TCP buffers apart from memory.limit_in_bytes. */
    if (cfg->memory_limit_bytes && (n = find_node(cg, "memory")) && !node_is_v2(n) &&
        !vsb_cgroup_dir_set_kmem_tcp(n->payload_dir, cfg->memory_limit_bytes, error))
        return false;
    if (cfg->pids_max) {
        if (!(n = require_controller(cg, "pids", "the pids limit", error)) ||
            !vsb_cgroup_dir_set_pids_max(n->payload_dir, cfg->pids_max, error))
            return false;
    }
    if (!cfg->blkio_weight && !cfg->nblkio_devices)
        return true;
    if (!require_blkio(cg, error))
        return false;
    n = find_blkio(cg);
    if (cfg->blkio_weight &&
        !vsb_cgroup_dir_set_blkio_weight(n->payload_dir, node_is_v2(n), cfg->blkio_weight, error))
        return false;
    for (size_t i = 0; i < cfg->nblkio_devices; i++) {
        if (!vsb_cgroup_dir_set_blkio_device(n->payload_dir, node_is_v2(n),
                                             &cfg->blkio_devices[i], error))
            return false;
    }
    return true;
}

static bool
apply_limits(VsbCgroup *cg, const VsbCgroupConfig *cfg, GError **error)
{
    VsbCgroupNode *n;

    if (cfg->memory_limit_bytes) {
        g_autofree char *v = g_strdup_printf("%llu", cfg->memory_limit_bytes);
        if (!(n = require_controller(cg, "memory", "the memory limit", error)) ||
            !vsb_file_write_str_at(n->payload_dir,
                                   node_is_v2(n) ? "memory.max" : "memory.limit_in_bytes",
                                   v, error))
            return false;
    }
    if (cfg->cpu_shares) {
        g_autofree char *v = NULL;
        if (!(n = require_controller(cg, "cpu", "CPU shares", error)))
            return false;
        v = g_strdup_printf("%llu", node_is_v2(n) ? vsb_cgroup_shares_to_weight(cfg->cpu_shares)
                                                  : cfg->cpu_shares);
        if (!vsb_file_write_str_at(n->payload_dir, node_is_v2(n) ? "cpu.weight" : "cpu.shares",
                                   v, error))
            return false;
    }
    if (cfg->memory_soft_bytes) {
        g_autofree char *v = g_strdup_printf("%llu", cfg->memory_soft_bytes);
        if (!(n = require_controller(cg, "memory", "the memory limits", error)) ||
            !vsb_file_write_str_at(n->payload_dir, node_is_v2(n) ? "memory.high"
                                   : "memory.soft_limit_in_bytes", v, error))
            return false;
    }
    /* After the hard limit: v1 wants memsw >= limit_in_bytes. */
    if (cfg->memory_swap_bytes) {
        g_autofree char *v = g_strdup_printf("%llu", cfg->memory_swap_bytes);
        if (!(n = require_controller(cg, "memory", "the memory limits", error)) ||
            !vsb_file_write_str_at(n->payload_dir, node_is_v2(n) ? "memory.swap.max"
                                   : "memory.memsw.limit_in_bytes", v, error))
            return false;
    }
    if (cfg->cpu_period_us || cfg->cpu_quota_us > 0) {
        if (!(n = require_controller(cg, "cpu", "the CPU quota", error)))
            return false;
        if (node_is_v2(n)) {
            g_autofree char *quota = cfg->cpu_quota_us > 0
                ? g_strdup_printf("%lld", cfg->cpu_quota_us) : g_strdup("max");
            g_autofree char *v = g_strdup_printf("%s %llu", quota, cfg->cpu_period_us
                                                 ? cfg->cpu_period_us : 100000ULL);
            if (!vsb_file_write_str_at(n->payload_dir, "cpu.max", v, error))
                return false;
        } else {
            g_autofree char *period = g_strdup_printf("%llu", cfg->cpu_period_us);
            g_autofree char *quota = g_strdup_printf("%lld", cfg->cpu_quota_us);
            if ((cfg->cpu_period_us &&
                 !vsb_file_write_str_at(n->payload_dir, "cpu.cfs_period_us", period, error)) ||
                (cfg->cpu_quota_us > 0 &&
                 !vsb_file_write_str_at(n->payload_dir, "cpu.cfs_quota_us", quota, error)))
                return false;
        }
    }
    if (cfg->cpuset) {
        if (!(n = require_controller(cg, "cpuset", "the CPU set", error)) ||
            !vsb_file_write_str_at(n->payload_dir, "cpuset.cpus", cfg->cpuset, error))
            return false;
    }
    if (cfg->mems) {
        if (!(n = require_controller(cg, "cpuset", "the memory nodes", error)) ||
            !vsb_file_write_str_at(n->payload_dir, "cpuset.mems", cfg->mems, error))
            return false;
    }
    if (cfg->restrict_devices && !apply_devices(cg, cfg, error))
        return false;
    return apply_limits_more(cg, cfg, error);
}

static bool
check_config(const VsbCgroupConfig *cfg, GError **error)
{
    if (!check_name("name", cfg->name, error))
        return false;
    if (cfg->partition) {
        const char *p = cfg->partition;
        /* libvirt spells partitions "/machine". */
        if (p[0] == '/')
            p++;
        if (!check_name("partition", p, error))
            return false;
    }
    if (cfg->delegated_unit && !check_name("unit", cfg->delegated_unit, error))
        return false;
    if (cfg->cpu_shares && (cfg->cpu_shares < 2 || cfg->cpu_shares > 262144)) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                    "Invalid CPU shares %llu: expected 2 to 262144", cfg->cpu_shares);
        return false;
    }
    if (cfg->cpuset && (!cfg->cpuset[0] || strspn(cfg->cpuset, "0123456789,-") != strlen(cfg->cpuset))) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                    "Invalid CPU set '%s': expected a list such as 0-3,6", cfg->cpuset);
        return false;
    }
    if (cfg->mems && (!cfg->mems[0] || strspn(cfg->mems, "0123456789,-") != strlen(cfg->mems))) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                    "Invalid memory node set '%s': expected a list such as 0-1,3", cfg->mems);
        return false;
    }
    if (cfg->blkio_weight && (cfg->blkio_weight < VSB_CGROUP_BLKIO_WEIGHT_MIN ||
                              cfg->blkio_weight > VSB_CGROUP_BLKIO_WEIGHT_MAX)) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                    "Invalid I/O weight %u: expected %u to %u", cfg->blkio_weight,
                    VSB_CGROUP_BLKIO_WEIGHT_MIN, VSB_CGROUP_BLKIO_WEIGHT_MAX);
        return false;
    }
    for (size_t i = 0; i < cfg->nblkio_devices; i++) {
        unsigned int w = cfg->blkio_devices[i].weight;
        if (w && (w < VSB_CGROUP_BLKIO_WEIGHT_MIN || w > VSB_CGROUP_BLKIO_WEIGHT_MAX)) {
            g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                        "Invalid I/O weight %u for block device %u:%u: expected %u to %u", w,
                        cfg->blkio_devices[i].major, cfg->blkio_devices[i].minor,
                        VSB_CGROUP_BLKIO_WEIGHT_MIN, VSB_CGROUP_BLKIO_WEIGHT_MAX);
            return false;
        }
    }
    for (size_t i = 0; cfg->restrict_devices && i < cfg->ndevices; i++) {
        if (!vsb_cgroup_device_check(&cfg->devices[i], error))
            return false;
    }
    return true;
}

VsbCgroup *
vsb_cgroup_create(const VsbCgroupConfig *cfg, GError **error)
{
    g_autoptr(VsbCgroup) cg = NULL;
    const char *partition = cfg->partition ? cfg->partition : VSB_CGROUP_DEFAULT_PARTITION;
    bool ok = false;

    if (!check_config(cfg, error))
        return NULL;
    cg = g_new0(VsbCgroup, 1);
    cg->bpf_fd = -1;
    cg->name = g_strdup(cfg->name);
    cg->partition = g_strdup(partition[0] == '/' ? partition + 1 : partition);
    cg->delegated_unit = g_strdup(cfg->delegated_unit);

    if (!load_hierarchies(cg, error))
        return NULL;
    /* Fail early, before touching anything, when a limit cannot be had. */
    if ((cfg->memory_limit_bytes && !require_controller(cg, "memory", "the memory limit", error)) ||
        (cfg->cpu_shares && !require_controller(cg, "cpu", "CPU shares", error)) ||
        (cfg->cpuset && !require_controller(cg, "cpuset", "the CPU set", error)) ||
        (cfg->mems && !require_controller(cg, "cpuset", "the memory nodes", error)) ||
        (cfg->pids_max && !require_controller(cg, "pids", "the pids limit", error)) ||
        ((cfg->blkio_weight || cfg->nblkio_devices) && !require_blkio(cg, error)))
        return NULL;
    if (!remove_stale(cg, error))
        return NULL;

    for (guint i = 0; i < cg->nodes->len; i++) {
        VsbCgroupNode *n = g_ptr_array_index(cg->nodes, i);
        if (!node_make_dirs(cg, n, error) || !node_setup(n, cfg, error))
            goto out;
    }
    if (!apply_limits(cg, cfg, error))
        goto out;
    ok = true;

 out:
    if (!ok) {
        g_autoptr(GError) cleanup = NULL;
        if (!vsb_cgroup_destroy(cg, &cleanup))
            g_printerr("warning: cannot remove the cgroups of failed domain %s: %s, ignoring\n",
                       cg->name, cleanup->message);
        return NULL;
    }
    return g_steal_pointer(&cg);
}

/* ------------------------------------------------------------------ */
/* Use                                                                 */

GPtrArray *
vsb_cgroup_get_hierarchies(VsbCgroup *cg)
{
    return cg->hierarchies;
}

const char *
vsb_cgroup_payload_path(VsbCgroup *cg, const char *controller)
{
    VsbCgroupNode *n = find_node(cg, controller);

    return n ? n->payload_dir : NULL;
}

const char *
vsb_cgroup_hierarchy_payload_path(VsbCgroup *cg, const VsbCgroupHierarchy *h)
{
    for (guint i = 0; i < cg->nodes->len; i++) {
        VsbCgroupNode *n = g_ptr_array_index(cg->nodes, i);
        if (n->h == h)
            return n->payload_dir;
    }
    return NULL;
}

static bool
enter(VsbCgroup *cg, bool payload, pid_t pid, GError **error)
{
    g_autofree char *v = g_strdup_printf("%d", (int)pid);

    for (guint i = 0; i < cg->nodes->len; i++) {
        VsbCgroupNode *n = g_ptr_array_index(cg->nodes, i);
        /* cgroup.procs moves the whole thread group, in v1 as in v2. */
        if (!vsb_file_write_str_at(payload ? n->payload_dir : n->supervisor_dir,
                                   "cgroup.procs", v, error))
            return false;
    }
    return true;
}

bool
vsb_cgroup_enter_supervisor(VsbCgroup *cg, pid_t pid, GError **error)
{
    return enter(cg, false, pid, error);
}

bool
vsb_cgroup_enter_payload(VsbCgroup *cg, pid_t pid, GError **error)
{
    return enter(cg, true, pid, error);
}

/* All pids of payload, in every hierarchy, without duplicates. */
static bool
payload_pids(VsbCgroup *cg, GArray *out, GError **error)
{
    g_autoptr(GHashTable) seen = g_hash_table_new(g_direct_hash, g_direct_equal);

    for (guint i = 0; i < cg->nodes->len; i++) {
        VsbCgroupNode *n = g_ptr_array_index(cg->nodes, i);
        g_autoptr(GArray) pids = g_array_new(FALSE, FALSE, sizeof(pid_t));

        if (!collect_pids(n->payload_dir, pids, error))
            return false;
        for (guint j = 0; j < pids->len; j++) {
            pid_t p = g_array_index(pids, pid_t, j);
            if (g_hash_table_add(seen, GINT_TO_POINTER(p)))
                g_array_append_val(out, p);
        }
    }
    return true;
}

/* The freezer to stop payload with while we kill it by pid, so that
 * none forks behind our back and no pid we read can be reused: the v1
 * freezer controller, or cgroup.freeze on v2 (Linux 5.2). */
static VsbCgroupNode *
find_freezer(VsbCgroup *cg)
{
    VsbCgroupNode *n = find_node(cg, "freezer");

    if (n && !node_is_v2(n))
        return n;
    n = find_v2_node(cg);
    if (n && file_exists_at(n->payload_dir, "cgroup.freeze"))
        return n;
    return NULL;
}

/* Write @value to @name in @dir and in every cgroup below it. */
static bool
write_tree(const char *dir, const char *name, const char *value, GError **error)
{
    g_autoptr(GError) local = NULL;
    DIR *d;
    struct dirent *de;
    bool ok = true;

    if (!vsb_file_write_str_at(dir, name, value, &local)) {
        if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            return true;    /* a nested cgroup went away meanwhile */
        g_propagate_error(error, g_steal_pointer(&local));
        return false;
    }
    d = opendir(dir);
    if (!d)
        return true;
    while (ok && (de = readdir(d))) {
        g_autofree char *sub = NULL;

        if (!is_subdir(dir, de))
            continue;
        sub = g_build_filename(dir, de->d_name, NULL);
        ok = write_tree(sub, name, value, error);
    }
    closedir(d);
    return ok;
}

static bool
freeze(VsbCgroupNode *fz, bool on, GError **error)
{
    const char *file = node_is_v2(fz) ? "cgroup.freeze" : "freezer.state";
    const char *value = node_is_v2(fz) ? (on ? "1" : "0") : (on ? "FROZEN" : "THAWED");

    if (on)
        return vsb_file_write_str_at(fz->payload_dir, file, value, error);
    /* Thaw the nested cgroups too: the container may have frozen one of
     * its own, and a frozen task does not die of SIGKILL until thawed. */
    return write_tree(fz->payload_dir, file, value, error);
}

static bool
is_frozen(VsbCgroupNode *fz, bool *frozen, GError **error)
{
    if (node_is_v2(fz)) {
        long long v = 0;
        if (!read_key_at(fz->payload_dir, "cgroup.events", "frozen", &v, error))
            return false;
        *frozen = v != 0;
    } else {
        g_autofree char *state = read_at(fz->payload_dir, "freezer.state", error);
        if (!state)
            return false;
        *frozen = g_str_equal(g_strstrip(state), "FROZEN");
    }
    return true;
}

/* Freeze payload, SIGKILL what it holds, thaw: the killed tasks only die
 * once thawed. */
static bool
freeze_and_kill(VsbCgroup *cg, gint64 deadline, GError **error)
{
    VsbCgroupNode *fz = find_freezer(cg);
    g_autoptr(GArray) pids = g_array_new(FALSE, FALSE, sizeof(pid_t));
    g_autoptr(GError) thaw_error = NULL;
    bool ok = true;

    if (fz) {
        gint64 give_up = MIN(deadline, g_get_monotonic_time() + VSB_CGROUP_FREEZE_TIMEOUT_US);
        bool frozen = false;

        if (!freeze(fz, true, error))
            return false;
        for (;;) {
            if (!is_frozen(fz, &frozen, error)) {
                ok = false;
                break;
            }
            if (frozen || g_get_monotonic_time() >= give_up)
                break;
            g_usleep(5 * 1000);
        }
        /* Only the frozen hierarchy's tasks are safe to kill by pid. */
        if (ok)
            ok = collect_pids(fz->payload_dir, pids, error);
    } else {
        /* No freezer anywhere: a task may exit and its pid be reused
         * between our read and our kill().  Nothing better exists. */
        ok = payload_pids(cg, pids, error);
    }
    for (guint i = 0; ok && i < pids->len; i++) {
        pid_t p = g_array_index(pids, pid_t, i);
        if (kill(p, SIGKILL) < 0 && errno != ESRCH)
            ok = vsb_error_set_errno(error, errno, "Cannot kill process %d of cgroup %s",
                                     (int)p, fz ? fz->payload_dir : "payload");
    }
    /* Thaw even after an error: a frozen payload would hang for ever. */
    if (fz && !freeze(fz, false, ok ? error : &thaw_error))
        return false;
    return ok;
}

bool
vsb_cgroup_kill_payload(VsbCgroup *cg, GError **error)
{
    gint64 deadline = g_get_monotonic_time() + VSB_CGROUP_KILL_TIMEOUT_US;
    VsbCgroupNode *v2 = find_v2_node(cg);
    bool has_kill = v2 && file_exists_at(v2->payload_dir, "cgroup.kill");

    for (guint iter = 0;; iter++) {
        g_autoptr(GArray) pids = g_array_new(FALSE, FALSE, sizeof(pid_t));
        bool v2_populated = false;

        if (!payload_pids(cg, pids, error))
            return false;
        if (pids->len == 0)
            return true;
        if (g_get_monotonic_time() >= deadline) {
            g_autofree char *list = format_pids(pids);
            g_set_error(error, VSB_ERROR, VSB_ERROR_FAILED,
                        "Processes of domain %s survive SIGKILL after %d s: %s",
                        cg->name, (int)(VSB_CGROUP_KILL_TIMEOUT_US / G_USEC_PER_SEC), list);
            return false;
        }
        if (has_kill && !dir_populated(v2, v2->payload_dir, &v2_populated, error))
            return false;
        if (v2_populated) {
            VsbCgroupNode *fz = find_freezer(cg);

            /* Linux 5.14: kills the whole subtree at once, including
             * tasks forked meanwhile, and no pid is involved. */
            if (!vsb_file_write_str_at(v2->payload_dir, "cgroup.kill", "1", error))
                return false;
            /* A task frozen by a v1 freezer (a hybrid host; the container
             * may freeze cgroups of its own) dies only once thawed. */
            if (fz && !node_is_v2(fz) && !freeze(fz, false, error))
                return false;
        } else if (!freeze_and_kill(cg, deadline, error)) {
            /* No cgroup.kill, or tasks left in v1 hierarchies only
             * (they moved out of the v2 payload). */
            return false;
        }
        g_usleep(MIN(iter + 1, 10) * 10 * 1000);
    }
}

bool
vsb_cgroup_destroy(VsbCgroup *cg, GError **error)
{
    g_autoptr(GError) first = NULL;
    g_autofree char *self = g_strdup_printf("%d", (int)getpid());
    gint64 deadline = g_get_monotonic_time() + VSB_CGROUP_DESTROY_TIMEOUT_US;

    if (!cg->nodes)
        return true;   /* create failed before reading the hierarchies */

    /* Leave supervisor first, or it could never be removed. */
    for (guint i = 0; i < cg->nodes->len; i++) {
        VsbCgroupNode *n = g_ptr_array_index(cg->nodes, i);
        g_autoptr(GError) local = NULL;

        if (!n->created)
            continue;
        /* Back to the scope's own cgroup: on v2 only once it enables no
         * controller for children (no internal processes), which needs
         * payload gone first. */
        if (n->delegated && node_is_v2(n) &&
            (!rmdir_tree(n->payload_dir, deadline, &local) ||
             !subtree_disable_all(n->domain_dir, &local))) {
            if (!first)
                first = g_steal_pointer(&local);
            continue;
        }
        if (!n->own_dir) {
            if (!first)
                g_set_error(&first, VSB_ERROR, VSB_ERROR_NOT_FOUND,
                            "Cannot leave cgroup %s: the original cgroup %s is not under %s",
                            n->domain_dir, n->h->own_path, n->h->mount_point);
            continue;
        }
        if (!vsb_file_write_str_at(n->own_dir, "cgroup.procs", self, &local) && !first)
            first = g_steal_pointer(&local);
    }

    /* Wait (briefly) for what was just killed or moved out.  (A
     * delegated domain cgroup holds us: its leaves are what must empty.) */
    for (guint i = 0; i < cg->nodes->len; i++) {
        VsbCgroupNode *n = g_ptr_array_index(cg->nodes, i);
        const char *const dirs[] = {
            n->delegated ? n->supervisor_dir : n->domain_dir,
            n->delegated ? n->payload_dir : NULL,
        };

        for (guint j = 0; n->created && j < G_N_ELEMENTS(dirs) && dirs[j]; j++) {
            bool populated = true;

            while (g_get_monotonic_time() < deadline &&
                   dir_populated(n, dirs[j], &populated, NULL) && populated)
                g_usleep(10 * 1000);
        }
    }

    for (guint i = 0; i < cg->nodes->len; i++) {
        VsbCgroupNode *n = g_ptr_array_index(cg->nodes, i);
        g_autoptr(GError) local = NULL;
        bool ok;

        if (!n->created)
            continue;
        /* The scope itself is systemd's: it goes once empty. */
        if (n->delegated)
            ok = rmdir_tree(n->payload_dir, deadline, &local) &&
                 rmdir_tree(n->supervisor_dir, deadline, &local);
        else
            ok = rmdir_tree(n->domain_dir, deadline, &local);
        if (ok)
            n->created = false;
        else if (!first)
            first = g_steal_pointer(&local);
    }

    /* The partition goes when no other domain uses it.  ENOENT: another
     * destroy removed it first; EBUSY/ENOTEMPTY: it holds other domains
     * (or another controller just created its domain in it). */
    for (guint i = 0; i < cg->nodes->len; i++) {
        VsbCgroupNode *n = g_ptr_array_index(cg->nodes, i);

        if (n->created || !n->touched)
            continue;    /* our domain is still there, or we never came */
        if (rmdir(n->partition_dir) < 0 &&
            errno != ENOENT && errno != EBUSY && errno != ENOTEMPTY && !first)
            vsb_error_set_errno(&first, errno, "Cannot remove cgroup %s", n->partition_dir);
    }

    /* The program stays attached as long as payload exists. */
    if (cg->bpf_fd >= 0) {
        close(cg->bpf_fd);
        cg->bpf_fd = -1;
    }
    if (first) {
        g_propagate_error(error, g_steal_pointer(&first));
        return false;
    }
    return true;
}
