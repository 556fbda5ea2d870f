/*
 * vsb-sandbox-kvm.h: what a KVM sandbox boots (issue 8).
 *
 *   kernel   the host's kernel package: the running kernel when its
 *            modules are installed, else the newest /boot/vmlinuz-*
 *            that has /lib/modules/VERSION/modules.dep.  QEMU boots an
 *            ELF kernel with a PVH entry note straight into 32-bit
 *            code, skipping the bzImage's self-decompression (most of
 *            a TCG boot), so the ELF is taken out of the bzImage once
 *            and cached, keyed by the bzImage's content hash
 *            (vsb-sandbox-kernel.c).
 *   initrd   a cpio "newc" archive: virt-sandbox-init as /init, the
 *            modules that reach the host (virtio PCI, 9p over virtio,
 *            virtio-serial) with their dependencies from modules.dep in
 *            load order, decompressed (.ko.xz, .ko.zst, .ko.gz), and
 *            /modules/order.  Cached, keyed by the hash of its inputs
 *            (kernel version, module files, init binary), so it is
 *            built once, not on every run (vsb-sandbox-initrd.c).
 *   accel    KVM when it can run a stock kernel, else TCG: a /dev/kvm
 *            that exists proves nothing (a PVM host's cannot boot a
 *            stock kernel), see vsb_kvm_accel_probe(): a probe boot of
 *            the kernel, its answer cached per kernel and host boot.
 *
 * The pure parts (bzImage header, decompression, ELF notes, cpio,
 * modules.dep) take memory and are unit-tested (tests/test-sandbox-kvm.c).
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "vsb-kvm-guest.h"

G_BEGIN_DECLS

typedef struct {
    char *version;          /* 6.1.0-56-amd64 */
    char *image;            /* /boot/vmlinuz-VERSION */
    char *moddir;           /* /lib/modules/VERSION */
} VsbKvmKernel;

void vsb_kvm_kernel_clear(VsbKvmKernel *k);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VsbKvmKernel, vsb_kvm_kernel_clear)

/* The kernel to boot: @version (NULL: the running one if its modules
 * are installed, else the newest installed one with modules).
 * @bootdir and @modroot are /boot and /lib/modules (tests pass others). */
bool vsb_kvm_kernel_find(const char *bootdir, const char *modroot, const char *version,
                         VsbKvmKernel *k, GError **error);

/* The kernel from the options: @image (NULL: vsb_kvm_kernel_find() in
 * /boot), whose version is read from its header (and must match
 * @version when given); @modroot (NULL: /lib/modules) holds VERSION/. */
bool vsb_kvm_kernel_choose(const char *image, const char *modroot, const char *version,
                           VsbKvmKernel *k, GError **error);
/* The version a bzImage names in its header (the boot protocol's
 * kernel_version string, up to its first space). */
char *vsb_kvm_bzimage_version(const guint8 *img, gsize len, GError **error);

/* Where the compressed kernel sits in a bzImage (boot protocol 2.08+:
 * setup_sects and payload_offset/payload_length). */
bool vsb_kvm_bzimage_payload(const guint8 *img, gsize len, gsize *offset, gsize *length,
                             GError **error);
/* Decompress one stream by its magic number: xz, gzip, zstd.  Trailing
 * bytes after the stream (a bzImage payload ends with the size) are
 * ignored.  @what names the data in errors. */
GBytes *vsb_kvm_decompress(const guint8 *data, gsize len, const char *what, GError **error);
/* Whether @elf is a 64-bit ELF with a PVH entry note (false + error). */
bool vsb_kvm_elf_check_pvh(const guint8 *elf, gsize len, GError **error);
/* The uncompressed PVH vmlinux of @k, from @cachedir (created) or made
 * there now.  Returns its path. */
char *vsb_kvm_vmlinux_cached(const char *cachedir, const VsbKvmKernel *k, GError **error);

/* cpio "newc" archive, in memory; entries get mtime 0, uid/gid 0. */
typedef struct _VsbCpio VsbCpio;
VsbCpio *vsb_cpio_new(void);
void vsb_cpio_add_dir(VsbCpio *c, const char *name, guint mode);
void vsb_cpio_add_file(VsbCpio *c, const char *name, guint mode, const void *data, gsize len);
void vsb_cpio_add_symlink(VsbCpio *c, const char *name, const char *target);
void vsb_cpio_add_chardev(VsbCpio *c, const char *name, guint mode, guint major, guint minor);
/* Adds the trailer; @c is freed. */
GBytes *vsb_cpio_finish(VsbCpio *c);

/* The modules to load for @wanted (names, '-' and '_' alike), from
 * modules.dep's text (paths relative to the modules dir) and
 * modules.builtin's (may be NULL): paths in load order, dependencies
 * first, each once; built-in modules are left out.  A name in neither
 * is an error. */
GPtrArray *vsb_kvm_modules_resolve(const char *modules_dep, const char *modules_builtin,
                                   const char *const *wanted, GError **error);
/* The modules a KVM sandbox needs. */
extern const char *const vsb_kvm_initrd_modules[];

/* The initrd for @k with @init_path as /init, from @cachedir or made
 * there now.  Returns its path. */
char *vsb_kvm_initrd_cached(const char *cachedir, const VsbKvmKernel *k, const char *init_path,
                            GError **error);

/* The default cache: LOCALSTATEDIR/cache/virt-sandbox for root, else
 * $XDG_CACHE_HOME/virt-sandbox. */
char *vsb_kvm_default_cachedir(void);

/* Whether KVM can run @kernel (the vmlinux to boot) here; false with
 * *@why saying why not (the caller warns and uses TCG).  Cheap tests
 * first (/dev/kvm, vmx/svm), then a probe boot of @kernel under KVM,
 * whose answer is kept in @cachedir until the host reboots. */
bool vsb_kvm_accel_probe(const char *cachedir, const char *kernel, char **why);

/* Write @data to @path through a temporary file and rename. */
bool vsb_kvm_write_atomic(const char *path, const void *data, gsize len, GError **error);

G_END_DECLS
