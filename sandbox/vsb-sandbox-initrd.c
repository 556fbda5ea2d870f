/*
 * vsb-sandbox-initrd.c: the initrd of a KVM sandbox: a cpio "newc"
 * archive with virt-sandbox-init as /init and the modules it loads.
 *
 * The modules go in decompressed: init loads them with finit_module(),
 * and the kernel decompresses a module itself only when built with
 * CONFIG_MODULE_DECOMPRESS, which not every distribution kernel is.
 * Nothing else is compressed either: under TCG, inflating an initrd
 * costs more than reading a few more MiB.
 */
#include <config.h>

#include "vsb-sandbox-kvm.h"
#include "vsb-sandbox-config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* PCI virtio, the 9p file system over virtio, the virtio-serial port
 * of the stdio protocol. */
const char *const vsb_kvm_initrd_modules[] = {
    "virtio_pci", "9pnet_virtio", "9p", "virtio_console", NULL
};

/* The groups init loads only when the command line asks
 * (VSB_KVM_ENV_LOAD): a KVM sandbox without disks should not pay for
 * loading ext4 under TCG. */
static const struct {
    const char *name;
    const char *const *modules;
} optional_groups[] = {
    { VSB_KVM_MODULES_DISK, (const char *const[]){ "virtio_blk", "ext4", NULL } },
    { VSB_KVM_MODULES_OVERLAY, (const char *const[]){ "overlay", NULL } },
    { VSB_KVM_MODULES_VIRTIOFS, (const char *const[]){ "virtiofs", NULL } },
    { VSB_KVM_MODULES_NET, (const char *const[]){ "virtio_net", NULL } },
};

/* Bump when the initrd's layout changes: old cached ones are unusable. */
#define INITRD_FORMAT "virt-sandbox-initrd 2"

/* ------------------------------------------------------------------ */
/* cpio newc                                                           */

struct _VsbCpio {
    GByteArray *data;
    guint ino;
};

VsbCpio *
vsb_cpio_new(void)
{
    VsbCpio *c = g_new0(VsbCpio, 1);

    c->data = g_byte_array_new();
    c->ino = 1;
    return c;
}

static void
pad4(GByteArray *a)
{
    static const guint8 zeros[4];

    if (a->len % 4)
        g_byte_array_append(a, zeros, 4 - a->len % 4);
}

static void
entry(VsbCpio *c, const char *name, guint mode, guint nlink, guint rmajor, guint rminor,
      const void *data, gsize len)
{
    g_autofree char *hdr = NULL;

    /* magic, then 13 fields of 8 hex digits: ino mode uid gid nlink
     * mtime filesize devmajor devminor rdevmajor rdevminor namesize
     * check; the name (with its NUL) and the data each padded to 4. */
    hdr = g_strdup_printf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08zX%08X",
                          c->ino++, mode, 0, 0, nlink, 0, (guint)len, 0, 0, rmajor, rminor,
                          strlen(name) + 1, 0);
    g_byte_array_append(c->data, (const guint8 *)hdr, strlen(hdr));
    g_byte_array_append(c->data, (const guint8 *)name, strlen(name) + 1);
    pad4(c->data);
    if (len) {
        g_byte_array_append(c->data, data, len);
        pad4(c->data);
    }
}

void
vsb_cpio_add_dir(VsbCpio *c, const char *name, guint mode)
{
    entry(c, name, S_IFDIR | (mode & 07777), 2, 0, 0, NULL, 0);
}

void
vsb_cpio_add_file(VsbCpio *c, const char *name, guint mode, const void *data, gsize len)
{
    entry(c, name, S_IFREG | (mode & 07777), 1, 0, 0, data, len);
}

void
vsb_cpio_add_symlink(VsbCpio *c, const char *name, const char *target)
{
    entry(c, name, S_IFLNK | 0777, 1, 0, 0, target, strlen(target));
}

void
vsb_cpio_add_chardev(VsbCpio *c, const char *name, guint mode, guint major, guint minor)
{
    entry(c, name, S_IFCHR | (mode & 07777), 1, major, minor, NULL, 0);
}

GBytes *
vsb_cpio_finish(VsbCpio *c)
{
    GByteArray *data;

    entry(c, "TRAILER!!!", 0, 1, 0, 0, NULL, 0);
    data = c->data;
    g_free(c);
    return g_byte_array_free_to_bytes(data);
}

/* ------------------------------------------------------------------ */
/* modules.dep                                                         */

/* "kernel/fs/9p/9p.ko.xz" -> "9p"; '-' and '_' are the same to modprobe. */
static char *
module_name(const char *path)
{
    const char *base = strrchr(path, '/');
    char *name = g_strdup(base ? base + 1 : path);
    char *ko = strstr(name, ".ko");

    if (ko)
        *ko = '\0';
    g_strdelimit(name, "-", '_');
    return name;
}

typedef struct {
    GHashTable *deps;       /* name -> GStrv: path first, then its deps' paths */
    GHashTable *by_path;    /* path -> name */
    GHashTable *done;       /* names added to order */
    GPtrArray *order;
} Resolver;

static bool
visit(Resolver *r, const char *name, const char *wanted_by, int depth, GError **error)
{
    char **entry;
    guint n;

    if (g_hash_table_contains(r->done, name))
        return true;
    if (depth > 64 || !(entry = g_hash_table_lookup(r->deps, name))) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    depth > 64 ? "module %s: dependency loop in modules.dep"
                               : "module %s (needed by %s) is not in modules.dep", name,
                    wanted_by);
        return false;
    }
    /* modules.dep lists every dependency, transitively, the first to
     * load last (modprobe loads them from the end). */
    n = g_strv_length(entry);
    for (guint i = n - 1; i >= 1; i--) {
        const char *dep = g_hash_table_lookup(r->by_path, entry[i]);
        if (!dep) {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                        "module %s depends on %s, which modules.dep does not list", name,
                        entry[i]);
            return false;
        }
        if (!visit(r, dep, name, depth + 1, error))
            return false;
    }
    g_hash_table_add(r->done, g_strdup(name));
    g_ptr_array_add(r->order, g_strdup(entry[0]));
    return true;
}

GPtrArray *
vsb_kvm_modules_resolve(const char *modules_dep, const char *modules_builtin,
                        const char *const *wanted, GError **error)
{
    g_autoptr(GHashTable) deps = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                                       (GDestroyNotify)g_strfreev);
    g_autoptr(GHashTable) by_path = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                                          g_free);
    g_autoptr(GHashTable) builtin = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GHashTable) done = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GPtrArray) order = g_ptr_array_new_with_free_func(g_free);
    g_auto(GStrv) lines = g_strsplit(modules_dep, "\n", -1);
    Resolver r = { deps, by_path, done, order };

    for (size_t i = 0; lines[i]; i++) {
        char *colon = strchr(lines[i], ':');
        g_autoptr(GPtrArray) fields = g_ptr_array_new();
        g_auto(GStrv) after = NULL;

        if (!lines[i][0])
            continue;
        if (!colon) {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                        "modules.dep line %zu: no ':' in '%s'", i + 1, lines[i]);
            return NULL;
        }
        *colon = '\0';
        after = g_strsplit_set(colon + 1, " \t", -1);
        g_ptr_array_add(fields, g_strdup(lines[i]));
        for (size_t j = 0; after[j]; j++)
            if (after[j][0])
                g_ptr_array_add(fields, g_strdup(after[j]));
        g_ptr_array_add(fields, NULL);
        g_hash_table_replace(by_path, g_strdup(lines[i]), module_name(lines[i]));
        g_hash_table_replace(deps, module_name(lines[i]), g_ptr_array_free(g_steal_pointer(&fields),
                                                                           FALSE));
    }
    if (modules_builtin) {
        g_auto(GStrv) b = g_strsplit(modules_builtin, "\n", -1);
        for (size_t i = 0; b[i]; i++)
            if (b[i][0])
                g_hash_table_add(builtin, module_name(b[i]));
    }
    for (size_t i = 0; wanted[i]; i++) {
        g_autofree char *name = module_name(wanted[i]);
        if (!g_hash_table_contains(deps, name) && g_hash_table_contains(builtin, name))
            continue;
        if (!visit(&r, name, "virt-sandbox", 0, error))
            return NULL;
    }
    return g_steal_pointer(&order);
}

/* ------------------------------------------------------------------ */
/* The cached initrd                                                   */

static GBytes *
read_module(const char *path, GError **error)
{
    g_autofree char *data = NULL;
    gsize len;

    if (!g_file_get_contents(path, &data, &len, error))
        return NULL;
    if (g_str_has_suffix(path, ".ko"))
        return g_bytes_new_take(g_steal_pointer(&data), len);
    return vsb_kvm_decompress((const guint8 *)data, len, path, error);
}

/* Another init binary or kernel makes another initrd: the old ones go
 * once a day old, since a run that chose one may still be booting it.
 * Best effort: a cache that cannot be cleaned still works. */
#define INITRD_MAX_AGE_S (24 * 3600)

static void
prune_initrds(const char *cachedir, const char *keep)
{
    g_autoptr(GDir) dir = g_dir_open(cachedir, 0, NULL);
    const char *name;
    time_t now = time(NULL);

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *p = g_build_filename(cachedir, name, NULL);
        struct stat st;

        if (!g_str_has_prefix(name, "initrd-") || !g_str_has_suffix(name, ".cpio") ||
            g_str_equal(p, keep) || stat(p, &st) < 0 || now - st.st_mtime < INITRD_MAX_AGE_S)
            continue;
        unlink(p);
    }
}

char *
vsb_kvm_initrd_cached(const char *cachedir, const VsbKvmKernel *k, const char *init_path,
                      GError **error)
{
    g_autofree char *dep_path = g_build_filename(k->moddir, "modules.dep", NULL);
    g_autofree char *builtin_path = g_build_filename(k->moddir, "modules.builtin", NULL);
    g_autofree char *dep = NULL, *builtin = NULL, *init = NULL, *path = NULL;
    g_autoptr(GPtrArray) mods = NULL;
    /* optional_groups' modules, one GPtrArray each */
    g_autoptr(GPtrArray) group_mods = g_ptr_array_new_with_free_func(
        (GDestroyNotify)g_ptr_array_unref);
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
    g_autoptr(GPtrArray) contents = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GString) order = g_string_new(NULL);
    g_autoptr(GBytes) cpio = NULL;
    g_autofree char *digest = NULL;
    gsize init_len;
    guint nbase;
    VsbCpio *c;

    if (!g_file_get_contents(dep_path, &dep, NULL, error) ||
        !g_file_get_contents(init_path, &init, &init_len, error))
        return NULL;
    /* Missing: an old kernel; every module is then in modules.dep. */
    g_file_get_contents(builtin_path, &builtin, NULL, NULL);
    if (!(mods = vsb_kvm_modules_resolve(dep, builtin, vsb_kvm_initrd_modules, error))) {
        g_prefix_error(error, "%s: ", dep_path);
        return NULL;
    }
    /* Every group's modules in the order it loads them (a module that
     * an earlier one loaded is then EEXIST, which init ignores); each
     * file once in the archive. */
    for (gsize g = 0; g < G_N_ELEMENTS(optional_groups); g++) {
        GPtrArray *gm = vsb_kvm_modules_resolve(dep, builtin, optional_groups[g].modules, error);
        if (!gm) {
            g_prefix_error(error, "%s: ", dep_path);
            return NULL;
        }
        g_ptr_array_add(group_mods, gm);
    }
    nbase = mods->len;
    for (guint i = 0; i < mods->len; i++)
        g_hash_table_add(seen, g_ptr_array_index(mods, i));
    for (gsize g = 0; g < G_N_ELEMENTS(optional_groups); g++) {
        GPtrArray *gm = g_ptr_array_index(group_mods, g);
        for (guint i = 0; i < gm->len; i++) {
            char *m = g_ptr_array_index(gm, i);
            if (!g_hash_table_contains(seen, m)) {
                g_hash_table_add(seen, m);
                g_ptr_array_add(mods, g_strdup(m));
            }
        }
    }

    /* The key: what goes in, before the work of putting it in. */
    g_checksum_update(sum, (const guchar *)INITRD_FORMAT, -1);
    g_checksum_update(sum, (const guchar *)k->version, -1);
    g_checksum_update(sum, (const guchar *)init, init_len);
    for (guint i = 0; i < mods->len; i++) {
        g_autofree char *mp = g_build_filename(k->moddir, g_ptr_array_index(mods, i), NULL);
        g_autofree char *raw = NULL;
        gsize len;
        if (!g_file_get_contents(mp, &raw, &len, error))
            return NULL;
        g_checksum_update(sum, (const guchar *)mp, strlen(mp) + 1);
        g_checksum_update(sum, (const guchar *)raw, len);
        g_ptr_array_add(contents, g_steal_pointer(&mp));
    }
    digest = g_strndup(g_checksum_get_string(sum), 16);
    path = g_strdup_printf("%s/initrd-%s-%s.cpio", cachedir, k->version, digest);
    if (access(path, R_OK) == 0)
        return g_steal_pointer(&path);

    if (g_mkdir_with_parents(cachedir, 0755) < 0) {
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno), "Cannot create %s: %s",
                    cachedir, g_strerror(errno));
        return NULL;
    }
    c = vsb_cpio_new();
    for (const char *const *d = (const char *const[]){ "dev", "proc", "sys", "run", "sysroot",
                                                       VSB_KVM_INITRD_MODULES_DIR, NULL };
         *d; d++)
        vsb_cpio_add_dir(c, *d, 0755);
    /* The kernel opens it for init's stdio before anything is mounted. */
    vsb_cpio_add_chardev(c, "dev/console", 0600, 5, 1);
    vsb_cpio_add_file(c, "init", 0755, init, init_len);
    for (guint i = 0; i < contents->len; i++) {
        const char *mp = g_ptr_array_index(contents, i);
        g_autofree char *name = module_name(mp);
        g_autofree char *dest = g_strdup_printf(VSB_KVM_INITRD_MODULES_DIR "/%s.ko", name);
        g_autoptr(GBytes) ko = read_module(mp, error);
        if (!ko) {
            g_bytes_unref(vsb_cpio_finish(c));
            return NULL;
        }
        vsb_cpio_add_file(c, dest, 0644, g_bytes_get_data(ko, NULL), g_bytes_get_size(ko));
        if (i < nbase)
            g_string_append_printf(order, "%s.ko\n", name);
    }
    vsb_cpio_add_file(c, VSB_KVM_INITRD_MODULES_ORDER, 0644, order->str, order->len);
    for (gsize g = 0; g < G_N_ELEMENTS(optional_groups); g++) {
        g_autoptr(GString) gorder = g_string_new(NULL);
        g_autofree char *dest = g_strdup_printf(VSB_KVM_INITRD_MODULES_DIR "/%s.order",
                                                optional_groups[g].name);
        GPtrArray *gm = g_ptr_array_index(group_mods, g);
        for (guint i = 0; i < gm->len; i++) {
            g_autofree char *name = module_name(g_ptr_array_index(gm, i));
            g_string_append_printf(gorder, "%s.ko\n", name);
        }
        vsb_cpio_add_file(c, dest, 0644, gorder->str, gorder->len);
    }
    cpio = vsb_cpio_finish(c);
    if (!vsb_kvm_write_atomic(path, g_bytes_get_data(cpio, NULL), g_bytes_get_size(cpio), error))
        return NULL;
    prune_initrds(cachedir, path);
    return g_steal_pointer(&path);
}
