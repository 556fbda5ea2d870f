/*
 * test-sandbox-kvm.c: the pure parts of what a KVM sandbox boots:
 * modules.dep resolution (tests/kvmdata/resolve.txt), the cpio writer
 * (read back by a reader written here), bzImage payloads with each
 * compression, the PVH note check, the kernel version in a bzImage's
 * header and the kernel chosen from --kernpath/--kmodpath/--kernver;
 * the KVM builder's domain and init config from
 * tests/kvmdata/builder/NAME.cfg (expected NAME.xml and NAME.init;
 * VSB_TEST_REGENERATE=1 rewrites them, then review the diff); the
 * configs of tests/kvmdata/refuse/ must be refused with the error their
 * first line ("# expect: TEXT") gives; -r DIR checked before a boot
 * against the trees tests/kvmdata/roots.txt describes.
 */
#include <config.h>

#include "vsb-init.h"
#include "vsb-sandbox-builder.h"
#include "vsb-sandbox-config.h"
#include "vsb-sandbox-kvm.h"
#include "vsb-sandbox-private.h"
#include "vsb-test-util.h"

#include <glib/gstdio.h>
#include <lzma.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

/* ------------------------------------------------------------------ */
/* modules.dep                                                         */

static void
test_resolve(void)
{
    g_autofree char *dir = vsb_test_data_dir("kvmdata");
    g_autofree char *dep_path = g_build_filename(dir, "modules.dep", NULL);
    g_autofree char *builtin_path = g_build_filename(dir, "modules.builtin", NULL);
    g_autofree char *cases_path = g_build_filename(dir, "resolve.txt", NULL);
    g_autofree char *dep = vsb_test_read_file(dep_path);
    g_autofree char *builtin = vsb_test_read_file(builtin_path);
    g_autofree char *cases = vsb_test_read_file(cases_path);
    g_auto(GStrv) lines = g_strsplit(cases, "\n", -1);
    guint n = 0;

    for (size_t i = 0; lines[i]; i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GPtrArray) order = NULL;
        g_auto(GStrv) parts = NULL;
        g_auto(GStrv) wanted = NULL;
        g_autofree char *expect = NULL;

        if (!lines[i][0] || lines[i][0] == '#')
            continue;
        parts = g_strsplit(lines[i], "=>", 2);
        g_assert_cmpuint(g_strv_length(parts), ==, 2);
        wanted = g_strsplit(g_strstrip(parts[0]), " ", -1);
        expect = g_strdup(g_strstrip(parts[1]));
        order = vsb_kvm_modules_resolve(dep, builtin, (const char *const *)wanted, &error);
        g_test_message("%s", lines[i]);
        if (g_str_has_prefix(expect, "error:")) {
            g_assert_null(order);
            g_assert_nonnull(error);
            g_assert_nonnull(strstr(error->message, expect + strlen("error: ")));
        } else {
            g_autofree char *got = NULL;
            g_assert_no_error(error);
            g_ptr_array_add(order, NULL);
            got = g_strjoinv(" ", (char **)order->pdata);
            g_assert_cmpstr(got, ==, expect);
        }
        n++;
    }
    g_assert_cmpuint(n, >=, 6);
}

static void
test_resolve_bad_line(void)
{
    g_autoptr(GError) error = NULL;
    const char *wanted[] = { "a", NULL };
    g_autoptr(GPtrArray) order = vsb_kvm_modules_resolve("kernel/a.ko:\nno colon here\n", NULL,
                                                         wanted, &error);

    g_assert_null(order);
    g_assert_nonnull(strstr(error->message, "modules.dep line 2"));
}

/* ------------------------------------------------------------------ */
/* cpio                                                                */

typedef struct {
    char *name;
    guint mode, rmajor, rminor, nlink;
    GBytes *data;
} CpioEntry;

static void
cpio_entry_free(gpointer p)
{
    CpioEntry *e = p;

    g_free(e->name);
    g_bytes_unref(e->data);
    g_free(e);
}

static guint
hex8(const guint8 *p)
{
    char buf[9];

    memcpy(buf, p, 8);
    buf[8] = '\0';
    return (guint)g_ascii_strtoull(buf, NULL, 16);
}

/* What the kernel's initramfs unpacker reads: entries until TRAILER!!!,
 * each header, name and data aligned to 4. */
static GPtrArray *
cpio_read(GBytes *bytes)
{
    gsize len;
    const guint8 *d = g_bytes_get_data(bytes, &len);
    GPtrArray *out = g_ptr_array_new_with_free_func(cpio_entry_free);
    gsize pos = 0;

    for (;;) {
        CpioEntry *e;
        guint namesize, filesize;

        g_assert_cmpuint(pos % 4, ==, 0);
        g_assert_cmpuint(pos + 110, <=, len);
        g_assert_cmpmem(d + pos, 6, "070701", 6);
        e = g_new0(CpioEntry, 1);
        e->mode = hex8(d + pos + 14);
        e->nlink = hex8(d + pos + 38);
        g_assert_cmpuint(hex8(d + pos + 46), ==, 0);        /* mtime */
        filesize = hex8(d + pos + 54);
        e->rmajor = hex8(d + pos + 78);
        e->rminor = hex8(d + pos + 86);
        namesize = hex8(d + pos + 94);
        pos += 110;
        g_assert_cmpuint(d[pos + namesize - 1], ==, 0);
        e->name = g_strndup((const char *)d + pos, namesize - 1);
        pos = (pos + namesize + 3) & ~(gsize)3;
        e->data = g_bytes_new(d + pos, filesize);
        pos = (pos + filesize + 3) & ~(gsize)3;
        if (g_str_equal(e->name, "TRAILER!!!")) {
            cpio_entry_free(e);
            break;
        }
        g_ptr_array_add(out, e);
    }
    g_assert_cmpuint(pos, ==, len);
    return out;
}

static void
test_cpio(void)
{
    VsbCpio *c = vsb_cpio_new();
    g_autoptr(GBytes) archive = NULL;
    g_autoptr(GPtrArray) entries = NULL;
    CpioEntry *e;

    vsb_cpio_add_dir(c, "dev", 0755);
    vsb_cpio_add_chardev(c, "dev/console", 0600, 5, 1);
    vsb_cpio_add_file(c, "init", 0755, "#!x\n", 4);
    vsb_cpio_add_file(c, "odd", 0644, "12345", 5);
    vsb_cpio_add_file(c, "empty", 0644, NULL, 0);
    vsb_cpio_add_symlink(c, "bin/sh", "busybox");
    archive = vsb_cpio_finish(c);
    entries = cpio_read(archive);

    g_assert_cmpuint(entries->len, ==, 6);
    e = g_ptr_array_index(entries, 0);
    g_assert_cmpstr(e->name, ==, "dev");
    g_assert_cmpuint(e->mode, ==, S_IFDIR | 0755);
    g_assert_cmpuint(e->nlink, ==, 2);
    e = g_ptr_array_index(entries, 1);
    g_assert_cmpuint(e->mode, ==, S_IFCHR | 0600);
    g_assert_cmpuint(e->rmajor, ==, 5);
    g_assert_cmpuint(e->rminor, ==, 1);
    e = g_ptr_array_index(entries, 2);
    g_assert_cmpuint(e->mode, ==, S_IFREG | 0755);
    g_assert_cmpmem(g_bytes_get_data(e->data, NULL), g_bytes_get_size(e->data), "#!x\n", 4);
    e = g_ptr_array_index(entries, 3);
    g_assert_cmpmem(g_bytes_get_data(e->data, NULL), g_bytes_get_size(e->data), "12345", 5);
    e = g_ptr_array_index(entries, 4);
    g_assert_cmpuint(g_bytes_get_size(e->data), ==, 0);
    e = g_ptr_array_index(entries, 5);
    g_assert_cmpuint(e->mode, ==, S_IFLNK | 0777);
    g_assert_cmpmem(g_bytes_get_data(e->data, NULL), g_bytes_get_size(e->data), "busybox", 7);
}

/* ------------------------------------------------------------------ */
/* bzImage, compression, PVH                                           */

/* A 64-bit ELF with one PT_NOTE segment holding @note_type ("Xen"). */
static GBytes *
make_elf(guint32 note_type)
{
    guint8 elf[64 + 56 + 24] = { 0 };
    guint8 *ph = elf + 64, *note = elf + 64 + 56;
    guint64 off = 64 + 56, size = 24;

    memcpy(elf, "\x7f" "ELF\x02\x01\x01", 7);
    elf[0x20] = 64;                         /* e_phoff */
    elf[0x36] = 56;                         /* e_phentsize */
    elf[0x38] = 1;                          /* e_phnum */
    ph[0] = 4;                              /* PT_NOTE */
    memcpy(ph + 8, &off, 8);
    memcpy(ph + 32, &size, 8);
    note[0] = 4;                            /* namesz */
    note[4] = 8;                            /* descsz */
    memcpy(note + 8, &note_type, 4);
    memcpy(note + 12, "Xen", 4);
    return g_bytes_new(elf, sizeof(elf));
}

static GBytes *
compress_with(const char *how, GBytes *in)
{
    gsize len;
    const guint8 *d = g_bytes_get_data(in, &len);
    guint8 *out = g_malloc(len + 1024);
    gsize outlen = 0;

    if (g_str_equal(how, "xz")) {
        g_assert_cmpint(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, NULL, d, len, out, &outlen,
                                                len + 1024), ==, LZMA_OK);
    } else if (g_str_equal(how, "gzip")) {
        z_stream z = { 0 };
        g_assert_cmpint(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
                        ==, Z_OK);
        z.next_in = (Bytef *)d;
        z.avail_in = len;
        z.next_out = out;
        z.avail_out = len + 1024;
        g_assert_cmpint(deflate(&z, Z_FINISH), ==, Z_STREAM_END);
        outlen = z.total_out;
        deflateEnd(&z);
    } else {
        outlen = ZSTD_compress(out, len + 1024, d, len, 3);
        g_assert_false(ZSTD_isError(outlen));
    }
    return g_bytes_new_take(out, outlen);
}

/* A bzImage as the boot protocol describes it: @setup_sects sectors
 * of setup after the boot sector, then the payload at payload_offset,
 * followed (as in Linux) by the 4-byte uncompressed size. */
static GBytes *
make_bzimage(GBytes *payload, guint setup_sects, guint16 version)
{
    gsize plen = g_bytes_get_size(payload);
    guint32 poff = 0x100, plen32 = plen;
    gsize start = (setup_sects + 1) * 512 + poff;
    guint8 *img = g_malloc0(start + plen + 4);

    img[0x1f1] = setup_sects;
    memcpy(img + 0x202, "HdrS", 4);
    img[0x206] = version & 0xff;
    img[0x207] = version >> 8;
    memcpy(img + 0x248, &poff, 4);
    memcpy(img + 0x24c, &plen32, 4);
    memcpy(img + start, g_bytes_get_data(payload, NULL), plen);
    memcpy(img + start + plen, "\x90\x00\x00\x00", 4);
    return g_bytes_new_take(img, start + plen + 4);
}

static void
test_bzimage(gconstpointer data)
{
    const char *how = data;
    g_autoptr(GBytes) elf = make_elf(18);
    g_autoptr(GBytes) payload = compress_with(how, elf);
    g_autoptr(GBytes) img = make_bzimage(payload, 27, 0x20f);
    g_autoptr(GBytes) out = NULL;
    g_autoptr(GError) error = NULL;
    const guint8 *d;
    gsize len, off, plen;

    d = g_bytes_get_data(img, &len);
    g_assert_true(vsb_kvm_bzimage_payload(d, len, &off, &plen, &error));
    g_assert_cmpuint(off, ==, 28 * 512 + 0x100);
    g_assert_cmpuint(plen, ==, g_bytes_get_size(payload));
    out = vsb_kvm_decompress(d + off, plen, "test", &error);
    g_assert_no_error(error);
    g_assert_true(g_bytes_equal(out, elf));
    g_assert_true(vsb_kvm_elf_check_pvh(g_bytes_get_data(out, NULL), g_bytes_get_size(out),
                                        &error));
}

static void
test_bzimage_bad(void)
{
    g_autoptr(GBytes) elf = make_elf(18);
    g_autoptr(GBytes) old = make_bzimage(elf, 4, 0x207);
    g_autoptr(GBytes) nopvh = make_elf(17);
    g_autoptr(GError) error = NULL;
    guint8 zeros[1024] = { 0 };
    gsize off, len;

    g_assert_false(vsb_kvm_bzimage_payload(zeros, sizeof(zeros), &off, &len, &error));
    g_assert_nonnull(strstr(error->message, "not a bzImage"));
    g_clear_error(&error);
    g_assert_false(vsb_kvm_bzimage_payload(g_bytes_get_data(old, NULL), g_bytes_get_size(old),
                                           &off, &len, &error));
    g_assert_nonnull(strstr(error->message, "boot protocol 2.07"));
    g_clear_error(&error);
    g_assert_false(vsb_kvm_elf_check_pvh(g_bytes_get_data(nopvh, NULL), g_bytes_get_size(nopvh),
                                         &error));
    g_assert_nonnull(strstr(error->message, "PVH"));
    g_clear_error(&error);
    g_assert_null(vsb_kvm_decompress((const guint8 *)"BZh91AY", 7, "kernel", &error));
    g_assert_nonnull(strstr(error->message, "kernel: unknown compression"));
    g_clear_error(&error);
    g_assert_null(vsb_kvm_decompress((const guint8 *)"\xfd" "7zXZ\0garbage", 13, "m.ko.xz",
                                     &error));
    g_assert_nonnull(strstr(error->message, "m.ko.xz: xz data"));
}

/* ------------------------------------------------------------------ */
/* The builder                                                         */

#define TEST_INIT "/usr/libexec/virt-sandbox-init"
#define TEST_STATEDIR "/run/virt-sandbox/sandbox/test"

static VsbSandboxBuilder *
kvm_builder(void)
{
    VsbSandboxBuilder *b = vsb_sandbox_builder_kvm_new();

    vsb_sandbox_builder_set_init_path(b, TEST_INIT);
    vsb_sandbox_builder_kvm_set_boot(VSB_SANDBOX_BUILDER_KVM(b),
                                     "/var/cache/virt-sandbox/vmlinux-6.1.0-56-amd64-0123",
                                     "/var/cache/virt-sandbox/initrd-6.1.0-56-amd64-4567.cpio",
                                     false);
    return b;
}

static void
check_expected(const char *path, const char *actual)
{
    g_autofree char *expected = NULL;

    if (g_getenv("VSB_TEST_REGENERATE")) {
        g_autoptr(GError) error = NULL;
        g_file_set_contents(path, actual, -1, &error);
        g_assert_no_error(error);
        return;
    }
    expected = vsb_test_read_file(path);
    if (!g_str_equal(expected, actual))
        g_error("%s differs; got:\n%s", path, actual);
}

static void
test_builder(gconstpointer data)
{
    const char *name = data;
    g_autofree char *dir = vsb_test_data_dir("kvmdata");
    g_autofree char *cfg = g_strdup_printf("%s/builder/%s.cfg", dir, name);
    g_autofree char *xml_path = g_strdup_printf("%s/builder/%s.xml", dir, name);
    g_autofree char *init_path = g_strdup_printf("%s/builder/%s.init", dir, name);
    g_autoptr(GError) error = NULL;
    g_autoptr(VsbSandboxConfig) config = vsb_sandbox_config_load(cfg, &error);
    g_autoptr(VsbSandboxBuilder) b = kvm_builder();
    g_autoptr(GVirConfigDomain) dom = NULL;
    g_autofree char *raw = NULL, *xml = NULL, *init = NULL;
    VsbInitConfig ic;
    char err[512];

    g_assert_no_error(error);
    dom = vsb_sandbox_builder_construct(b, config, TEST_STATEDIR, &error);
    g_assert_no_error(error);
    raw = gvir_config_object_to_xml(GVIR_CONFIG_OBJECT(dom));
    xml = g_strconcat(raw, "\n", NULL);
    check_expected(xml_path, xml);

    /* init must take its config, and run in the VM as told. */
    init = vsb_sandbox_builder_init_config(b, config);
    check_expected(init_path, init);
    if (!vsb_init_config_parse(init, strlen(init), &ic, err, sizeof(err)))
        g_error("%s: init refuses its config: %s\n%s", name, err, init);
    g_assert_true(ic.poweroff);
    g_assert_cmpstr(ic.channel, ==, "/dev/virtio-ports/" VSB_KVM_STDIO_PORT);
    vsb_init_config_clear(&ic);
}

static void
test_builder_refuses(gconstpointer data)
{
    const char *cfg = data;
    g_autofree char *text = vsb_test_read_file(cfg);
    g_autofree char *expect = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(VsbSandboxConfig) config = vsb_sandbox_config_load(cfg, &error);
    g_autoptr(VsbSandboxBuilder) b = kvm_builder();
    g_autoptr(GVirConfigDomain) dom = NULL;

    g_assert_true(g_str_has_prefix(text, "# expect: "));
    expect = g_strndup(text + strlen("# expect: "), strcspn(text, "\n") - strlen("# expect: "));
    g_assert_no_error(error);
    dom = vsb_sandbox_builder_construct(b, config, TEST_STATEDIR, &error);
    g_assert_null(dom);
    g_assert_nonnull(error);
    if (!strstr(error->message, expect))
        g_error("%s: expected an error containing '%s', got '%s'", cfg, expect, error->message);
}

/* Removes @path and, a directory, all below it (symbolic links are
 * removed, not followed). */
static void
remove_tree(const char *path)
{
    struct stat st;

    if (lstat(path, &st) < 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
        const char *e;
        while (d && (e = g_dir_read_name(d))) {
            g_autofree char *p = g_build_filename(path, e, NULL);
            remove_tree(p);
        }
    }
    g_assert_cmpint(remove(path), ==, 0);
}

/* Makes in @dir what one line of roots.txt lists (see there). */
static void
make_root(const char *dir, const char *layout)
{
    g_auto(GStrv) entries = g_strsplit(layout, " ", -1);

    if (g_str_equal(layout, "-"))
        return;
    if (g_str_equal(layout, "=")) {
        g_assert_true(g_file_set_contents(dir, "", 0, NULL));
        return;
    }
    g_assert_cmpint(g_mkdir(dir, 0755), ==, 0);
    for (size_t i = 0; entries[i]; i++) {
        const char *e = entries[i];
        const char *arrow = strchr(e, '>');
        g_autofree char *name = g_strndup(e, arrow ? (size_t)(arrow - e) : strcspn(e, "="));
        g_autofree char *path = g_build_filename(dir, name, NULL);

        if (arrow) {
            g_assert_cmpint(symlink(arrow + 1, path), ==, 0);
        } else if (g_str_has_suffix(e, "=")) {
            g_assert_true(g_file_set_contents(path, "", 0, NULL));
        } else {
            g_assert_cmpint(g_mkdir_with_parents(path, 0755), ==, 0);
        }
    }
}

/* tests/kvmdata/roots.txt: -r DIR checked by prepare (which, with the
 * kernel set, does nothing else), before anything boots; whether init
 * is to load overlayfs shows on the constructed domain's command
 * line. */
static void
test_builder_roots(void)
{
    g_autofree char *dir = vsb_test_data_dir("kvmdata");
    g_autofree char *data = g_build_filename(dir, "roots.txt", NULL);
    g_autofree char *minimal = g_build_filename(dir, "builder", "minimal.cfg", NULL);
    g_autofree char *text = vsb_test_read_file(data);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    g_autoptr(GError) tmp_error = NULL;
    g_autofree char *tmp = g_dir_make_tmp("vsb-kvm-roots-XXXXXX", &tmp_error);
    guint n = 0;

    g_assert_no_error(tmp_error);
    for (size_t i = 0; lines[i]; i++) {
        g_auto(GStrv) f = NULL;
        g_autofree char *root = NULL, *statedir = NULL, *expect = NULL, *xml = NULL;
        g_autoptr(VsbSandboxBuilder) b = kvm_builder();
        g_autoptr(VsbSandboxConfig) config = NULL;
        g_autoptr(GVirConfigDomain) dom = NULL;
        g_autoptr(GError) error = NULL;
        bool ok;

        if (!lines[i][0] || lines[i][0] == '#')
            continue;
        g_test_message("%s", lines[i]);
        f = g_strsplit(lines[i], "|", 3);
        g_assert_cmpuint(g_strv_length(f), ==, 3);
        for (guint j = 0; j < 3; j++)
            g_strstrip(f[j]);
        root = g_strdup_printf("%s/root%u", tmp, n);
        statedir = g_strdup_printf("%s/state%u", tmp, n++);
        make_root(root, f[0]);
        config = vsb_sandbox_config_load(minimal, &error);
        g_assert_no_error(error);
        g_assert_true(vsb_sandbox_config_set_root(config, root, &error));
        if (!g_str_equal(f[1], "-")) {
            g_autofree char *spec = g_strdup_printf("ram:%s=1M", f[1]);
            VsbSandboxMount *m = vsb_sandbox_parse_mount(spec, &error);
            g_assert_no_error(error);
            g_assert_true(vsb_sandbox_config_add_mount(config, m, &error));
        }
        ok = vsb_sandbox_builder_prepare(b, config, statedir, &error);
        if (g_str_has_prefix(f[2], "error: ")) {
            g_autofree char *want = NULL;
            g_auto(GStrv) parts = g_strsplit(f[2] + strlen("error: "), "ROOT", -1);
            want = g_strjoinv(root, parts);
            g_assert_false(ok);
            g_assert_nonnull(error);
            if (!strstr(error->message, want))
                g_error("%s: expected an error containing '%s', got '%s'", lines[i], want,
                        error->message);
        } else {
            g_assert_no_error(error);
            g_assert_true(ok);
            dom = vsb_sandbox_builder_construct(b, config, statedir, &error);
            g_assert_no_error(error);
            xml = gvir_config_object_to_xml(GVIR_CONFIG_OBJECT(dom));
            g_assert_true(g_str_equal(f[2], "ok") || g_str_equal(f[2], "ok overlay"));
            if ((strstr(xml, " " VSB_KVM_ENV_LOAD "=" VSB_KVM_MODULES_OVERLAY) != NULL) !=
                g_str_equal(f[2], "ok overlay"))
                g_error("%s: the overlay module %s, the command line:\n%s", lines[i],
                        g_str_equal(f[2], "ok") ? "loaded" : "not loaded", xml);
        }
    }
    g_assert_cmpuint(n, >, 0);
    remove_tree(tmp);
}

/* A bzImage header naming @version (NULL: none), nothing else. */
static GBytes *
version_header(const char *version)
{
    guint8 *img = g_malloc0(0x400);

    memcpy(img + 0x202, "HdrS", 4);
    img[0x206] = 0x0f;
    img[0x207] = 0x02;
    if (version) {
        /* kernel_version: the string's offset, less 0x200 */
        img[0x20e] = 0x00;
        img[0x20f] = 0x01;
        g_strlcpy((char *)img + 0x300, version, 0x100);
    }
    return g_bytes_new_take(img, 0x400);
}

static void
test_bzimage_version(void)
{
    g_autoptr(GBytes) good = version_header("6.1.0-56-amd64 (debian-kernel@lists.debian.org) #1");
    g_autoptr(GBytes) bare = version_header("6.9.1");
    g_autoptr(GBytes) none = version_header(NULL);
    g_autoptr(GBytes) slash = version_header("../../etc #1");
    g_autoptr(GError) error = NULL;
    g_autofree char *v = NULL, *v2 = NULL;

    v = vsb_kvm_bzimage_version(g_bytes_get_data(good, NULL), g_bytes_get_size(good), &error);
    g_assert_no_error(error);
    g_assert_cmpstr(v, ==, "6.1.0-56-amd64");
    v2 = vsb_kvm_bzimage_version(g_bytes_get_data(bare, NULL), g_bytes_get_size(bare), &error);
    g_assert_cmpstr(v2, ==, "6.9.1");
    g_assert_null(vsb_kvm_bzimage_version(g_bytes_get_data(none, NULL), g_bytes_get_size(none),
                                          &error));
    g_assert_nonnull(strstr(error->message, "names no kernel version"));
    g_clear_error(&error);
    g_assert_null(vsb_kvm_bzimage_version(g_bytes_get_data(slash, NULL),
                                          g_bytes_get_size(slash), &error));
    g_assert_nonnull(strstr(error->message, "malformed"));
    g_clear_error(&error);
    g_assert_null(vsb_kvm_bzimage_version((const guint8 *)"MZ", 2, &error));
    g_assert_nonnull(strstr(error->message, "not a bzImage"));
}

/* --kernpath (version from the image), --kmodpath, --kernver. */
static void
test_kernel_choose(void)
{
    g_autofree char *dir = g_dir_make_tmp("vsb-kvm-XXXXXX", NULL);
    g_autofree char *image = g_build_filename(dir, "my-kernel", NULL);
    g_autofree char *mods = g_build_filename(dir, "mods", NULL);
    g_autofree char *moddir = g_build_filename(mods, "6.9.1-test", NULL);
    g_autofree char *dep = g_build_filename(moddir, "modules.dep", NULL);
    g_autoptr(GBytes) hdr = version_header("6.9.1-test #2 SMP");
    g_autoptr(GError) error = NULL;
    g_auto(VsbKvmKernel) k = { 0 };

    g_assert_nonnull(dir);
    g_assert_true(g_file_set_contents(image, g_bytes_get_data(hdr, NULL),
                                      g_bytes_get_size(hdr), NULL));
    g_assert_false(vsb_kvm_kernel_choose(image, mods, NULL, &k, &error));
    g_assert_nonnull(strstr(error->message, "(version 6.9.1-test) has no modules"));
    g_clear_error(&error);

    g_assert_cmpint(g_mkdir_with_parents(moddir, 0755), ==, 0);
    g_assert_true(g_file_set_contents(dep, "", 0, NULL));
    g_assert_true(vsb_kvm_kernel_choose(image, mods, NULL, &k, &error));
    g_assert_no_error(error);
    g_assert_cmpstr(k.version, ==, "6.9.1-test");
    g_assert_cmpstr(k.image, ==, image);
    g_assert_cmpstr(k.moddir, ==, moddir);
    vsb_kvm_kernel_clear(&k);

    g_assert_true(vsb_kvm_kernel_choose(image, mods, "6.9.1-test", &k, &error));
    vsb_kvm_kernel_clear(&k);
    g_assert_false(vsb_kvm_kernel_choose(image, mods, "6.1.0-56-amd64", &k, &error));
    g_assert_nonnull(strstr(error->message, "is version 6.9.1-test, not 6.1.0-56-amd64"));
    g_clear_error(&error);
    g_assert_false(vsb_kvm_kernel_choose(dep, mods, NULL, &k, &error));
    g_assert_nonnull(strstr(error->message, "not a bzImage"));
    g_clear_error(&error);

    g_assert_cmpint(unlink(dep), ==, 0);
    g_assert_cmpint(rmdir(moddir), ==, 0);
    g_assert_cmpint(rmdir(mods), ==, 0);
    g_assert_cmpint(unlink(image), ==, 0);
    g_assert_cmpint(rmdir(dir), ==, 0);
}

/* Without prepare (no kernel chosen) construct says so. */
static void
test_builder_unprepared(void)
{
    g_autofree char *dir = vsb_test_data_dir("kvmdata");
    g_autofree char *cfg = g_strdup_printf("%s/builder/minimal.cfg", dir);
    g_autoptr(GError) error = NULL;
    g_autoptr(VsbSandboxConfig) config = vsb_sandbox_config_load(cfg, &error);
    g_autoptr(VsbSandboxBuilder) b = vsb_sandbox_builder_kvm_new();
    g_autoptr(GVirConfigDomain) dom = NULL;

    g_assert_no_error(error);
    dom = vsb_sandbox_builder_construct(b, config, TEST_STATEDIR, &error);
    g_assert_null(dom);
    g_assert_nonnull(strstr(error->message, "no kernel and initrd chosen"));
}

/* The builder a URI gives: qemu:///system labels QEMU root (DAC
 * +0:+0), a session's QEMU is the user's own and takes no label (a
 * session daemon has no DAC driver and refuses one). */
static void
test_builder_session(void)
{
    static const struct {
        const char *uri;
        bool labelled;
    } cases[] = {
        { "qemu:///system", true },
        { "qemu:///session", false },
        { "qemu+ssh://host/session", false },
        { "qemu+ssh://host/system", true },
    };
    g_autofree char *dir = vsb_test_data_dir("kvmdata");
    g_autofree char *cfg = g_strdup_printf("%s/builder/minimal.cfg", dir);

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(VsbSandboxConfig) config = vsb_sandbox_config_load(cfg, &error);
        g_autoptr(VsbSandboxBuilder) b = vsb_sandbox_builder_for_uri(cases[i].uri, &error);
        g_autoptr(GVirConfigDomain) dom = NULL;
        g_autofree char *xml = NULL;

        g_assert_no_error(error);
        vsb_sandbox_builder_set_init_path(b, TEST_INIT);
        vsb_sandbox_builder_kvm_set_boot(VSB_SANDBOX_BUILDER_KVM(b), "/vmlinux", "/initrd",
                                         false);
        dom = vsb_sandbox_builder_construct(b, config, TEST_STATEDIR, &error);
        g_assert_no_error(error);
        xml = gvir_config_object_to_xml(GVIR_CONFIG_OBJECT(dom));
        if ((strstr(xml, "<seclabel") != NULL) != cases[i].labelled ||
            (strstr(xml, "+0:+0") != NULL) != cases[i].labelled)
            g_error("%s: expected %s DAC label, got:\n%s", cases[i].uri,
                    cases[i].labelled ? "the +0:+0" : "no", xml);
    }
}

/* sVirt on an SELinux host: tests/kvmdata/selinux.txt, one case a line. */
static void
test_builder_selinux(void)
{
    g_autofree char *dir = vsb_test_data_dir("kvmdata");
    g_autofree char *cfg = g_strdup_printf("%s/builder/minimal.cfg", dir);
    g_autofree char *table = g_strdup_printf("%s/selinux.txt", dir);
    g_autofree char *text = vsb_test_read_file(table);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    guint n = 0;

    for (guint i = 0; lines[i]; i++) {
        g_auto(GStrv) f = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(VsbSandboxConfig) config = NULL;
        g_autoptr(VsbSandboxBuilder) b = kvm_builder();
        g_autoptr(GVirConfigDomain) dom = NULL;
        g_autofree char *xml = NULL, *label = NULL;
        VsbSandboxSecurityMode mode;

        if (!lines[i][0] || lines[i][0] == '#')
            continue;
        f = g_strsplit(lines[i], "\t", 3);
        g_assert_cmpuint(g_strv_length(f), ==, 3);
        g_test_message("%s", f[0]);
        config = vsb_sandbox_config_load(cfg, &error);
        g_assert_no_error(error);
        g_assert_true(vsb_sandbox_parse_security(f[0], &mode, &label, &error));
        g_assert_true(vsb_sandbox_config_set_security(config, mode, label, &error));
        vsb_sandbox_builder_kvm_set_selinux(VSB_SANDBOX_BUILDER_KVM(b), true,
                                            g_str_equal(f[1], "-") ? NULL : f[1]);
        dom = vsb_sandbox_builder_construct(b, config, TEST_STATEDIR, &error);
        n++;
        if (g_str_has_prefix(f[2], "error: ")) {
            g_assert_null(dom);
            g_assert_nonnull(error);
            if (!strstr(error->message, f[2] + strlen("error: ")))
                g_error("%s: expected '%s', got '%s'", f[0], f[2], error->message);
            continue;
        }
        g_assert_no_error(error);
        xml = gvir_config_object_to_xml(GVIR_CONFIG_OBJECT(dom));
        if (!strstr(xml, f[2]) || !strstr(xml, "<label>+0:+0</label>"))
            g_error("%s: expected %s and the DAC label, got:\n%s", f[0], f[2], xml);
    }
    g_assert_cmpuint(n, >, 5);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/kvm/modules/resolve", test_resolve);
    g_test_add_func("/kvm/modules/bad-line", test_resolve_bad_line);
    g_test_add_func("/kvm/cpio", test_cpio);
    g_test_add_data_func("/kvm/bzimage/xz", "xz", test_bzimage);
    g_test_add_data_func("/kvm/bzimage/gzip", "gzip", test_bzimage);
    g_test_add_data_func("/kvm/bzimage/zstd", "zstd", test_bzimage);
    g_test_add_func("/kvm/bzimage/bad", test_bzimage_bad);
    g_test_add_data_func("/kvm/builder/minimal", "minimal", test_builder);
    g_test_add_data_func("/kvm/builder/memory-debug", "memory-debug", test_builder);
    g_test_add_data_func("/kvm/builder/mounts", "mounts", test_builder);
    g_test_add_data_func("/kvm/builder/images", "images", test_builder);
    g_test_add_data_func("/kvm/builder/vm-options", "vm-options", test_builder);
    g_test_add_data_func("/kvm/builder/virtiofs", "virtiofs", test_builder);
    g_test_add_data_func("/kvm/builder/network", "network", test_builder);
    g_test_add_data_func("/kvm/builder/root-dir", "root-dir", test_builder);
    g_test_add_func("/kvm/builder/roots", test_builder_roots);
    g_test_add_func("/kvm/builder/session", test_builder_session);
    g_test_add_func("/kvm/builder/selinux", test_builder_selinux);
    g_test_add_func("/kvm/bzimage/version", test_bzimage_version);
    g_test_add_func("/kvm/kernel/choose", test_kernel_choose);
    {
        g_autofree char *dir = vsb_test_data_dir("kvmdata");
        g_autofree char *refuse = g_build_filename(dir, "refuse", NULL);
        g_autoptr(GDir) d = g_dir_open(refuse, 0, NULL);
        const char *name;

        g_assert_nonnull(d);
        while ((name = g_dir_read_name(d))) {
            g_autofree char *tpath = NULL;
            if (!g_str_has_suffix(name, ".cfg"))
                continue;
            tpath = g_strdup_printf("/kvm/builder/refuses/%.*s", (int)(strlen(name) - 4), name);
            /* Leaked on purpose: the test data lives as long as the run. */
            g_test_add_data_func(tpath, g_build_filename(refuse, name, NULL),
                                 test_builder_refuses);
        }
    }
    g_test_add_func("/kvm/builder/unprepared", test_builder_unprepared);
    return g_test_run();
}
