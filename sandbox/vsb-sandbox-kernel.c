/*
 * vsb-sandbox-kernel.c: the kernel a KVM sandbox boots, its PVH ELF
 * taken out of the bzImage and cached, and whether KVM can run it.
 */
#include <config.h>

#include "vsb-sandbox-kvm.h"
#include "vsb-sandbox-config.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <glib/gstdio.h>
#include <linux/kvm.h>
#include <lzma.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

/* Xen's XEN_ELFNOTE_PHYS32_ENTRY: QEMU's PVH boot looks for it. */
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define PT_NOTE_TYPE 4
/* A kernel is a few tens of MiB; refuse to inflate a bomb. */
#define MAX_UNCOMPRESSED (512u * 1024 * 1024)

void
vsb_kvm_kernel_clear(VsbKvmKernel *k)
{
    g_clear_pointer(&k->version, g_free);
    g_clear_pointer(&k->image, g_free);
    g_clear_pointer(&k->moddir, g_free);
}

static bool
kernel_usable(const char *bootdir, const char *modroot, const char *version)
{
    g_autofree char *image = g_strdup_printf("%s/vmlinuz-%s", bootdir, version);
    g_autofree char *dep = g_build_filename(modroot, version, "modules.dep", NULL);

    return access(image, R_OK) == 0 && access(dep, R_OK) == 0;
}

static gint
version_cmp(gconstpointer a, gconstpointer b)
{
    return strverscmp(*(const char *const *)a, *(const char *const *)b);
}

bool
vsb_kvm_kernel_find(const char *bootdir, const char *modroot, const char *version,
                    VsbKvmKernel *k, GError **error)
{
    g_autofree char *chosen = NULL;

    if (version) {
        if (!kernel_usable(bootdir, modroot, version)) {
            g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                        "kernel %s: needs %s/vmlinuz-%s and %s/%s/modules.dep", version,
                        bootdir, version, modroot, version);
            return false;
        }
        chosen = g_strdup(version);
    } else {
        struct utsname u;
        g_autoptr(GDir) dir = NULL;
        g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func(g_free);
        const char *name;

        /* The running kernel is the natural choice, but only with its
         * modules: without 9p and virtio-serial modules nothing works. */
        if (uname(&u) == 0 && kernel_usable(bootdir, modroot, u.release)) {
            chosen = g_strdup(u.release);
        } else {
            if (!(dir = g_dir_open(bootdir, 0, error))) {
                g_prefix_error(error, "Cannot look for kernels: ");
                return false;
            }
            while ((name = g_dir_read_name(dir))) {
                if (g_str_has_prefix(name, "vmlinuz-") &&
                    kernel_usable(bootdir, modroot, name + strlen("vmlinuz-")))
                    g_ptr_array_add(found, g_strdup(name + strlen("vmlinuz-")));
            }
            if (!found->len) {
                g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_UNSUPPORTED,
                            "no kernel to boot: the running kernel (%s) has no %s/%s/modules.dep "
                            "and no %s/vmlinuz-* has its modules installed (apt-get install "
                            "linux-image-amd64)", u.release, modroot, u.release, bootdir);
                return false;
            }
            g_ptr_array_sort(found, version_cmp);
            chosen = g_strdup(g_ptr_array_index(found, found->len - 1));
        }
    }
    k->image = g_strdup_printf("%s/vmlinuz-%s", bootdir, chosen);
    k->moddir = g_build_filename(modroot, chosen, NULL);
    k->version = g_steal_pointer(&chosen);
    return true;
}

bool
vsb_kvm_kernel_choose(const char *image, const char *modroot, const char *version,
                      VsbKvmKernel *k, GError **error)
{
    g_autofree char *data = NULL, *found = NULL, *dep = NULL;
    gsize len;

    if (!modroot)
        modroot = "/lib/modules";
    if (!image)
        return vsb_kvm_kernel_find("/boot", modroot, version, k, error);
    if (!g_file_get_contents(image, &data, &len, error)) {
        g_prefix_error(error, "kernel image: ");
        return false;
    }
    if (!(found = vsb_kvm_bzimage_version((const guint8 *)data, len, error))) {
        g_prefix_error(error, "kernel image %s: ", image);
        return false;
    }
    if (version && !g_str_equal(version, found)) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "kernel image %s is version %s, not %s", image, found, version);
        return false;
    }
    dep = g_build_filename(modroot, found, "modules.dep", NULL);
    if (access(dep, R_OK) < 0) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "kernel image %s (version %s) has no modules: %s: %s", image, found, dep,
                    g_strerror(errno));
        return false;
    }
    k->image = g_strdup(image);
    k->moddir = g_build_filename(modroot, found, NULL);
    k->version = g_steal_pointer(&found);
    return true;
}

/* ------------------------------------------------------------------ */
/* bzImage, decompression, ELF                                         */

char *
vsb_kvm_bzimage_version(const guint8 *img, gsize len, GError **error)
{
    guint16 ptr;
    gsize start, end;

    if (len < 0x210 || memcmp(img + 0x202, "HdrS", 4) != 0) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "not a bzImage (no HdrS header)");
        return NULL;
    }
    /* kernel_version: the string's offset minus 0x200, 0 when absent. */
    ptr = img[0x20e] | img[0x20f] << 8;
    start = (gsize)ptr + 0x200;
    if (!ptr || start >= len) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "the bzImage names no kernel version");
        return NULL;
    }
    /* "6.1.0-56-amd64 (debian-kernel@lists.debian.org) #1 SMP ..." */
    for (end = start; end < len && img[end] && img[end] != ' '; end++)
        if (!g_ascii_isgraph(img[end]) || img[end] == '/')
            break;
    if (end == start || end >= len || (img[end] && img[end] != ' ')) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "the bzImage's kernel version string is malformed");
        return NULL;
    }
    return g_strndup((const char *)img + start, end - start);
}

bool
vsb_kvm_bzimage_payload(const guint8 *img, gsize len, gsize *offset, gsize *length,
                        GError **error)
{
    guint16 version;
    guint32 poff, plen;
    gsize setup_sects, start;

    if (len < 0x250 || memcmp(img + 0x202, "HdrS", 4) != 0) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "not a bzImage (no HdrS header)");
        return false;
    }
    version = img[0x206] | img[0x207] << 8;
    if (version < 0x208) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_UNSUPPORTED,
                    "boot protocol %u.%02u is too old (2.08 gives the payload's place)",
                    version >> 8, version & 0xff);
        return false;
    }
    /* 0 means 4, for very old loaders' sake. */
    setup_sects = img[0x1f1] ? img[0x1f1] : 4;
    memcpy(&poff, img + 0x248, 4);
    memcpy(&plen, img + 0x24c, 4);
    poff = GUINT32_FROM_LE(poff);
    plen = GUINT32_FROM_LE(plen);
    start = (setup_sects + 1) * 512 + poff;
    if (start > len || plen > len - start || plen == 0) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "bzImage payload (offset %zu, %u bytes) is outside the file (%zu bytes)",
                    start, plen, len);
        return false;
    }
    *offset = start;
    *length = plen;
    return true;
}

static GBytes *
decompress_xz(const guint8 *data, gsize len, const char *what, GError **error)
{
    lzma_stream s = LZMA_STREAM_INIT;
    g_autoptr(GByteArray) out = g_byte_array_new();
    lzma_ret r;

    if (lzma_stream_decoder(&s, UINT64_MAX, 0) != LZMA_OK) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_FAILED,
                    "%s: cannot start the xz decoder", what);
        return NULL;
    }
    s.next_in = data;
    s.avail_in = len;
    do {
        gsize have = out->len;
        g_byte_array_set_size(out, have + 1024 * 1024);
        s.next_out = out->data + have;
        s.avail_out = 1024 * 1024;
        r = lzma_code(&s, LZMA_FINISH);
        g_byte_array_set_size(out, out->len - s.avail_out);
    } while (r == LZMA_OK && out->len < MAX_UNCOMPRESSED);
    lzma_end(&s);
    if (r != LZMA_STREAM_END) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "%s: xz data is corrupt or too large (liblzma error %d)", what, r);
        return NULL;
    }
    return g_byte_array_free_to_bytes(g_steal_pointer(&out));
}

static GBytes *
decompress_gzip(const guint8 *data, gsize len, const char *what, GError **error)
{
    z_stream z = { 0 };
    g_autoptr(GByteArray) out = g_byte_array_new();
    int r;

    /* 16 + MAX_WBITS: the gzip wrapper, not zlib's. */
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_FAILED,
                    "%s: cannot start the gzip decoder", what);
        return NULL;
    }
    z.next_in = (Bytef *)data;
    z.avail_in = len;
    do {
        gsize have = out->len;
        g_byte_array_set_size(out, have + 1024 * 1024);
        z.next_out = out->data + have;
        z.avail_out = 1024 * 1024;
        r = inflate(&z, Z_NO_FLUSH);
        g_byte_array_set_size(out, out->len - z.avail_out);
    } while (r == Z_OK && out->len < MAX_UNCOMPRESSED);
    inflateEnd(&z);
    if (r != Z_STREAM_END) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "%s: gzip data is corrupt or too large (zlib error %d)", what, r);
        return NULL;
    }
    return g_byte_array_free_to_bytes(g_steal_pointer(&out));
}

static GBytes *
decompress_zstd(const guint8 *data, gsize len, const char *what, GError **error)
{
    ZSTD_DStream *z = ZSTD_createDStream();
    g_autoptr(GByteArray) out = g_byte_array_new();
    ZSTD_inBuffer in = { data, len, 0 };
    size_t r = 1;

    ZSTD_initDStream(z);
    /* r == 0: a frame ended; the payload's trailing size is not one. */
    while (r != 0 && out->len < MAX_UNCOMPRESSED) {
        gsize have = out->len;
        ZSTD_outBuffer o;
        g_byte_array_set_size(out, have + 1024 * 1024);
        o = (ZSTD_outBuffer){ out->data + have, 1024 * 1024, 0 };
        r = ZSTD_decompressStream(z, &o, &in);
        g_byte_array_set_size(out, have + o.pos);
        if (ZSTD_isError(r) || (in.pos == in.size && o.pos == 0 && r != 0))
            break;
    }
    ZSTD_freeDStream(z);
    if (r != 0) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "%s: zstd data is corrupt, truncated or too large (%s)", what,
                    ZSTD_isError(r) ? ZSTD_getErrorName(r) : "incomplete");
        return NULL;
    }
    return g_byte_array_free_to_bytes(g_steal_pointer(&out));
}

GBytes *
vsb_kvm_decompress(const guint8 *data, gsize len, const char *what, GError **error)
{
    if (len >= 6 && memcmp(data, "\xfd" "7zXZ\0", 6) == 0)
        return decompress_xz(data, len, what, error);
    if (len >= 2 && data[0] == 0x1f && data[1] == 0x8b)
        return decompress_gzip(data, len, what, error);
    if (len >= 4 && memcmp(data, "\x28\xb5\x2f\xfd", 4) == 0)
        return decompress_zstd(data, len, what, error);
    g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_UNSUPPORTED,
                "%s: unknown compression (magic %02x%02x%02x%02x; xz, gzip and zstd are known)",
                what, len > 0 ? data[0] : 0, len > 1 ? data[1] : 0, len > 2 ? data[2] : 0,
                len > 3 ? data[3] : 0);
    return NULL;
}

static guint64
le(const guint8 *p, int n)
{
    guint64 v = 0;

    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

bool
vsb_kvm_elf_check_pvh(const guint8 *elf, gsize len, GError **error)
{
    guint64 phoff;
    guint phentsize, phnum;

    if (len < 64 || memcmp(elf, "\x7f" "ELF", 4) != 0 || elf[4] != 2 || elf[5] != 1) {
        g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_INVALID,
                    "the kernel is not a 64-bit little-endian ELF");
        return false;
    }
    phoff = le(elf + 0x20, 8);
    phentsize = le(elf + 0x36, 2);
    phnum = le(elf + 0x38, 2);
    for (guint i = 0; i < phnum; i++) {
        const guint8 *ph;
        guint64 off, size, pos;

        if (phentsize < 56 || phoff + (guint64)(i + 1) * phentsize > len)
            break;
        ph = elf + phoff + (guint64)i * phentsize;
        if (le(ph, 4) != PT_NOTE_TYPE)
            continue;
        off = le(ph + 8, 8);
        size = le(ph + 32, 8);
        if (off > len || size > len - off)
            continue;
        /* Notes: namesz, descsz, type, name and desc padded to 4. */
        for (pos = off; pos + 12 <= off + size;) {
            guint64 namesz = le(elf + pos, 4), descsz = le(elf + pos + 4, 4);
            guint64 type = le(elf + pos + 8, 4);
            if (type == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 && pos + 16 <= off + size &&
                memcmp(elf + pos + 12, "Xen", 4) == 0)
                return true;
            pos += 12 + ((namesz + 3) & ~3ull) + ((descsz + 3) & ~3ull);
        }
    }
    g_set_error(error, VSB_SANDBOX_ERROR, VSB_SANDBOX_ERROR_UNSUPPORTED,
                "the kernel has no PVH entry note (built without CONFIG_PVH): QEMU cannot boot "
                "its ELF directly");
    return false;
}

bool
vsb_kvm_write_atomic(const char *path, const void *data, gsize len, GError **error)
{
    /* g_file_set_contents writes a temporary file and renames it:
     * concurrent runs never see half a kernel. */
    if (!g_file_set_contents_full(path, data, len, G_FILE_SET_CONTENTS_CONSISTENT, 0644, error)) {
        g_prefix_error(error, "Cannot write %s: ", path);
        return false;
    }
    return true;
}

char *
vsb_kvm_vmlinux_cached(const char *cachedir, const VsbKvmKernel *k, GError **error)
{
    g_autoptr(GMappedFile) map = NULL;
    g_autofree char *digest = NULL;
    g_autofree char *path = NULL;
    g_autoptr(GBytes) elf = NULL;
    const guint8 *img;
    gsize len, off, plen;

    if (!(map = g_mapped_file_new(k->image, FALSE, error))) {
        g_prefix_error(error, "Cannot read the kernel: ");
        return NULL;
    }
    img = (const guint8 *)g_mapped_file_get_contents(map);
    len = g_mapped_file_get_length(map);
    digest = g_compute_checksum_for_data(G_CHECKSUM_SHA256, img, len);
    digest[16] = '\0';
    path = g_strdup_printf("%s/vmlinux-%s-%s", cachedir, k->version, digest);
    if (access(path, R_OK) == 0)
        return g_steal_pointer(&path);

    if (g_mkdir_with_parents(cachedir, 0755) < 0) {
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno), "Cannot create %s: %s",
                    cachedir, g_strerror(errno));
        return NULL;
    }
    if (!vsb_kvm_bzimage_payload(img, len, &off, &plen, error) ||
        !(elf = vsb_kvm_decompress(img + off, plen, k->image, error)) ||
        !vsb_kvm_elf_check_pvh(g_bytes_get_data(elf, NULL), g_bytes_get_size(elf), error)) {
        g_prefix_error(error, "%s: ", k->image);
        return NULL;
    }
    if (!vsb_kvm_write_atomic(path, g_bytes_get_data(elf, NULL), g_bytes_get_size(elf), error))
        return NULL;
    return g_steal_pointer(&path);
}

char *
vsb_kvm_default_cachedir(void)
{
    if (geteuid() == 0)
        return g_build_filename(LOCALSTATEDIR, "cache", "virt-sandbox", NULL);
    return g_build_filename(g_get_user_cache_dir(), "virt-sandbox", NULL);
}

/* ------------------------------------------------------------------ */
/* The accelerator                                                     */

/* The real test: boot @kernel under KVM, as the sandbox will (q35,
 * -cpu host), without an initrd: the kernel then panics at once for
 * want of a root (panic=-1 reboots, -no-reboot makes that QEMU's exit
 * 0).  Working KVM gets there in well under a second; a PVM host's
 * KVM either aborts QEMU ("failed to set MSR") or stops in its
 * instruction emulator and never gets there. */
#define PROBE_TIMEOUT_MS 10000

static bool
boot_probe(const char *kernel, char **why)
{
    g_autofree char *qemu = g_find_program_in_path("qemu-system-x86_64");
    const char *argv[] = { qemu, "-nodefaults", "-no-user-config", "-display", "none",
                           "-M", "q35", "-accel", "kvm", "-cpu", "host", "-m", "256",
                           "-no-reboot", "-serial", "stdio", "-kernel", kernel,
                           "-append", "console=ttyS0 quiet panic=-1", NULL };
    g_autoptr(GError) err = NULL;
    g_autoptr(GSubprocess) p = NULL;
    g_autoptr(GString) out = g_string_new(NULL);
    gint64 deadline = g_get_monotonic_time() + PROBE_TIMEOUT_MS * 1000;
    int fd;
    bool timed_out = false, eof = false;

    if (!qemu) {
        *why = g_strdup("qemu-system-x86_64 is not in $PATH");
        return false;
    }
    if (!(p = g_subprocess_newv(argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                G_SUBPROCESS_FLAGS_STDERR_MERGE, &err))) {
        *why = g_strdup_printf("cannot run %s: %s", qemu, err->message);
        return false;
    }
    fd = g_unix_input_stream_get_fd(G_UNIX_INPUT_STREAM(g_subprocess_get_stdout_pipe(p)));
    for (;;) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;
        char buf[4096];
        ssize_t n;

        if (left <= 0) {
            timed_out = true;
            break;
        }
        if (poll(&pfd, 1, left) < 0 && errno != EINTR)
            break;
        if (!(pfd.revents & (POLLIN | POLLHUP)))
            continue;
        if ((n = read(fd, buf, sizeof(buf))) <= 0) {
            /* QEMU closed its stdout: it is exiting by itself. */
            eof = n == 0;
            break;
        }
        /* Only the end matters: the panic, or QEMU's complaint. */
        g_string_append_len(out, buf, n);
        if (out->len > 65536)
            g_string_erase(out, 0, out->len - 65536);
        if (strstr(out->str, "KVM internal error") || strstr(out->str, "emulation failure"))
            break;
    }
    if (!eof)
        g_subprocess_force_exit(p);
    g_subprocess_wait(p, NULL, NULL);
    if (g_subprocess_get_if_exited(p) && g_subprocess_get_exit_status(p) == 0 &&
        strstr(out->str, "Kernel panic"))
        return true;
    if (timed_out) {
        *why = g_strdup_printf("a probe guest booting the kernel under KVM got nowhere in %d s",
                               PROBE_TIMEOUT_MS / 1000);
    } else {
        g_auto(GStrv) lines = g_strsplit(g_strstrip(out->str), "\n", -1);
        guint n = g_strv_length(lines);
        *why = g_strdup_printf("a probe guest booting the kernel under KVM failed: %s",
                               n ? lines[n - 1] : "no output");
    }
    return false;
}

/* The probe's answer holds for this kernel until the host reboots
 * (boot_id): a file per answer in the cache, "kvm" or "tcg REASON". */
static char *
probe_memo_path(const char *cachedir, const char *kernel)
{
    g_autofree char *boot_id = NULL;
    g_autofree char *base = g_path_get_basename(kernel);

    if (!g_file_get_contents("/proc/sys/kernel/random/boot_id", &boot_id, NULL, NULL))
        return NULL;
    return g_strdup_printf("%s/kvm-probe-%s-%s", cachedir, base, g_strstrip(boot_id));
}

static void
prune_probe_memos(const char *cachedir, const char *keep)
{
    g_autoptr(GDir) dir = g_dir_open(cachedir, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *p = g_build_filename(cachedir, name, NULL);
        if (g_str_has_prefix(name, "kvm-probe-") && !g_str_equal(p, keep))
            unlink(p);
    }
}

bool
vsb_kvm_accel_probe(const char *cachedir, const char *kernel, char **why)
{
    g_autofree char *cpuinfo = NULL, *memo = NULL, *answer = NULL;
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    int api;
    bool ok;

    if (fd < 0) {
        *why = g_strdup_printf("cannot open /dev/kvm: %s", g_strerror(errno));
        return false;
    }
    api = ioctl(fd, KVM_GET_API_VERSION, 0);
    close(fd);
    if (api != KVM_API_VERSION) {
        *why = g_strdup_printf("/dev/kvm speaks KVM API %d, not %d", api, KVM_API_VERSION);
        return false;
    }
    /* The cheap filter first.  A paravirtualized KVM (PVM) offers
     * /dev/kvm without hardware virtualization: it runs small test
     * guests but a stock kernel dies in its instruction emulator (or
     * QEMU aborts on "-cpu host").  Real KVM always has vmx or svm. */
    if (g_file_get_contents("/proc/cpuinfo", &cpuinfo, NULL, NULL)) {
        g_autoptr(GRegex) re = g_regex_new("^flags\\s*:.*\\b(vmx|svm)\\b", G_REGEX_MULTILINE, 0,
                                           NULL);
        if (!g_regex_match(re, cpuinfo, 0, NULL)) {
            *why = g_strdup("/dev/kvm is there but the CPU has no vmx/svm (a paravirtualized "
                            "KVM such as PVM, which cannot boot a stock kernel)");
            return false;
        }
    }
    /* Then the real one, once per kernel and host boot. */
    memo = probe_memo_path(cachedir, kernel);
    if (memo && g_file_get_contents(memo, &answer, NULL, NULL)) {
        if (g_str_has_prefix(answer, "kvm"))
            return true;
        if (g_str_has_prefix(answer, "tcg ")) {
            *why = g_strdup(g_strstrip(answer + 4));
            return false;
        }
    }
    ok = boot_probe(kernel, why);
    if (memo) {
        g_autofree char *text = ok ? g_strdup("kvm\n") : g_strdup_printf("tcg %s\n", *why);
        /* Best effort: without a memo the next run probes again. */
        if (vsb_kvm_write_atomic(memo, text, strlen(text), NULL))
            prune_probe_memos(cachedir, memo);
    }
    return ok;
}
