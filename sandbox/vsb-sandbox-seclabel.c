/*
 * vsb-sandbox-seclabel.c: MCS label allocation, leases, relabelling.
 */
#include <config.h>

#include "vsb-sandbox-seclabel.h"
#include "vsb-sandbox-config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <selinux/selinux.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Random tries before the scan: with a few hundred sandboxes among
 * 523776 pairs a collision is rare; the scan bounds the worst case. */
#define PICK_TRIES 32

/* ------------------------------------------------------------------ */
/* Pure logic                                                          */

static bool
invalid(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static bool
invalid(GError **error, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error_literal(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID, msg);
    return false;
}

bool
vsb_seclabel_split(const char *context, char **prefix, char **level, GError **error)
{
    const char *p = context;

    for (int i = 0; i < 3; i++) {
        p = strchr(p, ':');
        if (!p || p == context)
            return invalid(error, "SELinux label '%s': expected USER:ROLE:TYPE:LEVEL", context);
        p++;
    }
    if (!*p)
        return invalid(error, "SELinux label '%s': empty level", context);
    *prefix = g_strndup(context, p - 1 - context);
    *level = g_strdup(p);
    return true;
}

static bool
parse_category(const char *s, int *c)
{
    char *end;
    long v;

    if (s[0] != 'c' || !g_ascii_isdigit(s[1]))
        return false;
    errno = 0;
    v = strtol(s + 1, &end, 10);
    if (errno || *end || v < 0 || v >= VSB_MCS_CATEGORIES)
        return false;
    *c = v;
    return true;
}

bool
vsb_mcs_parse_categories(const char *spec, VsbMcsSet *set, GError **error)
{
    g_auto(GStrv) items = g_strsplit(spec, ",", -1);

    memset(set, 0, sizeof(*set));
    if (!items[0])
        return invalid(error, "empty MCS category list");
    for (size_t i = 0; items[i]; i++) {
        g_auto(GStrv) ends = g_strsplit(items[i], ".", 3);
        int lo, hi;

        if (!ends[0] || !parse_category(ends[0], &lo) ||
            (ends[1] && (ends[2] || !parse_category(ends[1], &hi))))
            return invalid(error, "MCS categories '%s': '%s' is not cN or cN.cM with N, M "
                           "below %d", spec, items[i], VSB_MCS_CATEGORIES);
        if (!ends[1])
            hi = lo;
        if (hi < lo)
            return invalid(error, "MCS categories '%s': range '%s' goes backwards", spec,
                           items[i]);
        for (int c = lo; c <= hi; c++)
            set->bits[c / 8] |= 1u << (c % 8);
    }
    return true;
}

bool
vsb_mcs_set_has(const VsbMcsSet *set, int c)
{
    return c >= 0 && c < VSB_MCS_CATEGORIES && (set->bits[c / 8] & (1u << (c % 8)));
}

bool
vsb_mcs_parse_level(const char *level, char **sensitivity, VsbMcsSet *set, GError **error)
{
    g_autofree char *low = NULL;
    const char *dash = strchr(level, '-');
    const char *colon;

    low = dash ? g_strndup(level, dash - level) : g_strdup(level);
    colon = strchr(low, ':');
    {
        g_autofree char *sens = colon ? g_strndup(low, colon - low) : g_strdup(low);
        char *end;

        if (sens[0] != 's' || !g_ascii_isdigit(sens[1]) || (strtol(sens + 1, &end, 10), *end))
            return invalid(error, "MCS level '%s': '%s' is not a sensitivity sN", level, sens);
        if (colon) {
            if (!vsb_mcs_parse_categories(colon + 1, set, error)) {
                g_prefix_error(error, "MCS level '%s': ", level);
                return false;
            }
        } else {
            memset(set, 0, sizeof(*set));
        }
        *sensitivity = g_steal_pointer(&sens);
    }
    return true;
}

char *
vsb_seclabel_with_pair(const char *base, VsbMcsPair pair, GError **error)
{
    g_autofree char *prefix = NULL, *level = NULL, *sens = NULL;
    VsbMcsSet set;

    if (pair.c1 < 0 || pair.c1 >= pair.c2 || pair.c2 >= VSB_MCS_CATEGORIES) {
        invalid(error, "invalid MCS category pair c%d,c%d", pair.c1, pair.c2);
        return NULL;
    }
    /* A base without a level ("u:r:t", which -s label= accepts) gets
     * the lowest sensitivity, s0, as libvirt's MCS allocator gives. */
    g_auto(GStrv) fields = g_strsplit(base, ":", -1);

    if (g_strv_length(fields) == 3 && *fields[0] && *fields[1] && *fields[2]) {
        prefix = g_strdup(base);
        sens = g_strdup("s0");
    } else if (!vsb_seclabel_split(base, &prefix, &level, error) ||
               !vsb_mcs_parse_level(level, &sens, &set, error)) {
        return NULL;
    }
    return g_strdup_printf("%s:%s:c%d,c%d", prefix, sens, pair.c1, pair.c2);
}

bool
vsb_mcs_pair_from_label(const char *label, VsbMcsPair *pair)
{
    g_autofree char *prefix = NULL, *level = NULL, *sens = NULL;
    VsbMcsSet set;
    int found = 0, c[2] = { -1, -1 };

    if (!vsb_seclabel_split(label, &prefix, &level, NULL) ||
        !vsb_mcs_parse_level(level, &sens, &set, NULL))
        return false;
    for (int i = 0; i < VSB_MCS_CATEGORIES; i++) {
        if (vsb_mcs_set_has(&set, i)) {
            if (found == 2)
                return false;
            c[found++] = i;
        }
    }
    if (found != 2)
        return false;
    pair->c1 = c[0];
    pair->c2 = c[1];
    return true;
}

char *
vsb_mcs_pair_to_string(VsbMcsPair pair)
{
    return g_strdup_printf("c%d,c%d", pair.c1, pair.c2);
}

bool
vsb_mcs_pair_from_string(const char *s, VsbMcsPair *pair)
{
    const char *comma = strchr(s, ',');
    g_autofree char *first = NULL;
    int a, b;

    if (!comma)
        return false;
    first = g_strndup(s, comma - s);
    if (!parse_category(first, &a) || !parse_category(comma + 1, &b) || a >= b)
        return false;
    pair->c1 = a;
    pair->c2 = b;
    return true;
}

/* Pairs in order (0,1) (0,2) .. (0,1023) (1,2) ..: row c1 holds
 * N-1-c1 pairs and starts at c1*N - c1*(c1+1)/2. */
guint
vsb_mcs_pair_index(VsbMcsPair pair)
{
    guint n = VSB_MCS_CATEGORIES, a = pair.c1;

    return a * n - a * (a + 1) / 2 + (pair.c2 - pair.c1 - 1);
}

VsbMcsPair
vsb_mcs_pair_at(guint index)
{
    guint n = VSB_MCS_CATEGORIES;
    VsbMcsPair p = { 0, 0 };

    for (guint a = 0; a < n - 1; a++) {
        guint row = n - 1 - a;
        if (index < row) {
            p.c1 = a;
            p.c2 = a + 1 + index;
            return p;
        }
        index -= row;
    }
    return p;
}

static bool
pair_used(GHashTable *used, guint index)
{
    return used && g_hash_table_contains(used, GUINT_TO_POINTER(index + 1));
}

bool
vsb_mcs_pick(GHashTable *used, GRand *rng, VsbMcsPair *pair)
{
    guint start;

    for (int i = 0; i < PICK_TRIES; i++) {
        guint idx = g_rand_int_range(rng, 0, VSB_MCS_PAIRS);
        if (!pair_used(used, idx)) {
            *pair = vsb_mcs_pair_at(idx);
            return true;
        }
    }
    start = g_rand_int_range(rng, 0, VSB_MCS_PAIRS);
    for (guint i = 0; i < VSB_MCS_PAIRS; i++) {
        guint idx = (start + i) % VSB_MCS_PAIRS;
        if (!pair_used(used, idx)) {
            *pair = vsb_mcs_pair_at(idx);
            return true;
        }
    }
    return false;
}

void
vsb_seclabel_parse_lxc_contexts(const char *text, char **process, char **file)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

    *process = *file = NULL;
    for (size_t i = 0; lines[i]; i++) {
        g_auto(GStrv) kv = NULL;
        char *line = g_strstrip(lines[i]);
        char **slot;
        char *v;
        size_t len;

        if (!*line || *line == '#' || !strchr(line, '='))
            continue;
        kv = g_strsplit(line, "=", 2);
        g_strstrip(kv[0]);
        if (g_str_equal(kv[0], "process"))
            slot = process;
        else if (g_str_equal(kv[0], "file"))
            slot = file;
        else
            continue;
        v = g_strstrip(kv[1]);
        len = strlen(v);
        if (len >= 2 && v[0] == '"' && v[len - 1] == '"') {
            v[len - 1] = '\0';
            v++;
        }
        if (*v && !*slot)
            *slot = g_strdup(v);
    }
}

/* "u:r:t:level" -> "t" (empty when malformed). */
static char *
seclabel_type(const char *context)
{
    g_auto(GStrv) parts = g_strsplit(context, ":", 4);

    return g_strdup(g_strv_length(parts) >= 3 ? parts[2] : "");
}

void
vsb_seclabel_dynamic_bases(const char *label, const char *lxc_text,
                           VsbSeclabelValidFunc valid, char **process, char **file)
{
    g_autofree char *lxc_process = NULL, *lxc_file = NULL, *want = NULL;
    const char *pairs[3][2] = {
        { VSB_SECLABEL_POLICY_PROCESS, VSB_SECLABEL_POLICY_FILE },
        { NULL, NULL },
        { VSB_SECLABEL_DEFAULT_PROCESS, VSB_SECLABEL_DEFAULT_FILE },
    };
    int first = -1, match = -1;

    if (lxc_text)
        vsb_seclabel_parse_lxc_contexts(lxc_text, &lxc_process, &lxc_file);
    pairs[1][0] = lxc_process;
    pairs[1][1] = lxc_file;
    want = label ? seclabel_type(label) : NULL;
    for (int i = 0; valid && i < 3 && match < 0; i++) {
        g_autofree char *type = NULL;

        if (!pairs[i][0] || !pairs[i][1] || !valid(pairs[i][0]) || !valid(pairs[i][1]))
            continue;
        if (first < 0)
            first = i;
        type = seclabel_type(pairs[i][0]);
        if (!want || g_str_equal(type, want))
            match = i;
    }
    if (match < 0)
        match = first >= 0 ? first : 2;
    *process = g_strdup(label ? label : pairs[match][0]);
    *file = g_strdup(pairs[match][1]);
}

/* ------------------------------------------------------------------ */
/* Leases                                                              */

struct _VsbMcsLease {
    char *path;
    VsbMcsPair pair;
};

/* Field 22 of /proc/PID/stat: tells a reused pid from the holder. */
static guint64
proc_starttime(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int)pid);
    g_autofree char *text = NULL;
    const char *p;
    guint64 v = 0;

    if (!g_file_get_contents(path, &text, NULL, NULL) || !(p = strrchr(text, ')')))
        return 0;
    /* after ") ": field 3 is the state; 22 is 19 further on */
    for (int field = 2; field < 22 && p; field++)
        p = strchr(p + 1, ' ');
    if (p)
        v = g_ascii_strtoull(p + 1, NULL, 10);
    return v;
}

static bool
lease_alive(const char *path)
{
    g_autofree char *text = NULL;
    long pid = 0;
    unsigned long long start = 0;

    /* Unreadable or malformed: a tool writing it right now holds the
     * lock, so this is garbage from a crash; reclaim it. */
    if (!g_file_get_contents(path, &text, NULL, NULL) ||
        sscanf(text, "%ld %llu", &pid, &start) != 2 || pid <= 0)
        return false;
    if (kill(pid, 0) < 0 && errno == ESRCH)
        return false;
    return proc_starttime(pid) == start;
}

VsbMcsLease *
vsb_mcs_lease_take(const char *dir, const char *owner, GRand *rng, GError **error)
{
    g_autofree char *lockpath = g_build_filename(dir, "lock", NULL);
    g_autoptr(GHashTable) used = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_autofree char *name = NULL, *content = NULL;
    VsbMcsLease *lease;
    VsbMcsPair pair;
    DIR *d;
    struct dirent *de;
    int lockfd, fd;

    if (g_mkdir_with_parents(dir, 0700) < 0) {
        int errsv = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errsv),
                    "Cannot create the MCS lease directory %s: %s", dir, g_strerror(errsv));
        return NULL;
    }
    if ((lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 ||
        flock(lockfd, LOCK_EX) < 0) {
        int errsv = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errsv),
                    "Cannot lock %s: %s", lockpath, g_strerror(errsv));
        if (lockfd >= 0)
            close(lockfd);
        return NULL;
    }
    if (!(d = opendir(dir))) {
        int errsv = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errsv),
                    "Cannot read %s: %s", dir, g_strerror(errsv));
        close(lockfd);
        return NULL;
    }
    while ((de = readdir(d))) {
        g_autofree char *path = NULL;
        VsbMcsPair p;

        if (!vsb_mcs_pair_from_string(de->d_name, &p))
            continue;
        path = g_build_filename(dir, de->d_name, NULL);
        if (lease_alive(path))
            g_hash_table_add(used, GUINT_TO_POINTER(vsb_mcs_pair_index(p) + 1));
        else
            unlink(path);
    }
    closedir(d);

    if (!vsb_mcs_pick(used, rng, &pair)) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_FAILED,
                    "No free MCS category pair: %u sandboxes hold them all (%s)",
                    g_hash_table_size(used), dir);
        close(lockfd);
        return NULL;
    }
    name = vsb_mcs_pair_to_string(pair);
    lease = g_new0(VsbMcsLease, 1);
    lease->pair = pair;
    lease->path = g_build_filename(dir, name, NULL);
    content = g_strdup_printf("%d %" G_GUINT64_FORMAT " %s\n", (int)getpid(),
                              proc_starttime(getpid()), owner);
    fd = open(lease->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, content, strlen(content)) != (ssize_t)strlen(content)) {
        int errsv = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errsv),
                    "Cannot write the MCS lease %s: %s", lease->path, g_strerror(errsv));
        if (fd >= 0) {
            close(fd);
            unlink(lease->path);
        }
        g_free(lease->path);
        g_free(lease);
        close(lockfd);
        return NULL;
    }
    close(fd);
    /* The lease is complete before the lock goes: others see it whole. */
    close(lockfd);
    return lease;
}

VsbMcsPair
vsb_mcs_lease_get_pair(VsbMcsLease *lease)
{
    return lease->pair;
}

void
vsb_mcs_lease_release(VsbMcsLease *lease)
{
    if (!lease)
        return;
    unlink(lease->path);
    g_free(lease->path);
    g_free(lease);
}

/* ------------------------------------------------------------------ */
/* Relabelling                                                         */

typedef struct {
    char *path;
    char *old;               /* NULL: had none; left as we set it */
} Saved;

struct _VsbRelabel {
    GArray *saved;           /* Saved, in the order set */
};

static void
saved_clear(gpointer p)
{
    Saved *s = p;

    g_free(s->path);
    g_free(s->old);
}

VsbRelabel *
vsb_relabel_new(void)
{
    VsbRelabel *r = g_new0(VsbRelabel, 1);

    r->saved = g_array_new(FALSE, TRUE, sizeof(Saved));
    g_array_set_clear_func(r->saved, saved_clear);
    return r;
}

void
vsb_relabel_free(VsbRelabel *r)
{
    if (!r)
        return;
    g_array_unref(r->saved);
    g_free(r);
}

static bool
relabel_one(VsbRelabel *r, const char *path, const char *label, GError **error)
{
    char *old = NULL;
    Saved s = { 0 };

    if (lgetfilecon(path, &old) < 0 && errno != ENODATA && errno != ENOTSUP) {
        int errsv = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errsv),
                    "Cannot read the SELinux label of %s: %s", path, g_strerror(errsv));
        return false;
    }
    if (lsetfilecon(path, label) < 0) {
        int errsv = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errsv),
                    "Cannot label %s %s: %s", path, label, g_strerror(errsv));
        freecon(old);
        return false;
    }
    s.path = g_strdup(path);
    s.old = g_strdup(old);
    freecon(old);
    g_array_append_val(r->saved, s);
    return true;
}

static bool
relabel_walk(VsbRelabel *r, const char *path, dev_t dev, const char *label, GError **error)
{
    struct stat st;
    g_autoptr(GDir) d = NULL;
    const char *name;

    if (lstat(path, &st) < 0) {
        int errsv = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errsv),
                    "Cannot stat %s: %s", path, g_strerror(errsv));
        return false;
    }
    /* Another file system mounted below is not part of the share. */
    if (st.st_dev != dev)
        return true;
    if (!relabel_one(r, path, label, error))
        return false;
    if (!S_ISDIR(st.st_mode))
        return true;
    if (!(d = g_dir_open(path, 0, error)))
        return false;
    while ((name = g_dir_read_name(d))) {
        g_autofree char *child = g_build_filename(path, name, NULL);
        if (!relabel_walk(r, child, dev, label, error))
            return false;
    }
    return true;
}

bool
vsb_relabel_tree(VsbRelabel *r, const char *path, const char *label, GError **error)
{
    struct stat st;

    if (stat(path, &st) < 0) {
        int errsv = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errsv),
                    "Cannot stat %s: %s", path, g_strerror(errsv));
        return false;
    }
    return relabel_walk(r, path, st.st_dev, label, error);
}

bool
vsb_relabel_restore(VsbRelabel *r, GError **error)
{
    bool ok = true;

    for (guint i = r->saved->len; i-- > 0;) {
        Saved *s = &g_array_index(r->saved, Saved, i);
        if (s->old && lsetfilecon(s->path, s->old) < 0 && errno != ENOENT && ok) {
            int errsv = errno;
            g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errsv),
                        "Cannot restore the SELinux label %s of %s: %s", s->old, s->path,
                        g_strerror(errsv));
            ok = false;
        }
    }
    g_array_set_size(r->saved, 0);
    return ok;
}
