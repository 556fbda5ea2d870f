/*
 * vsb-sandbox-image.h: image files that need a raw view on the host.
 *
 * Our controller puts host-image mounts on loop devices, which read
 * raw bytes only.  A qcow2 image is therefore shown as a raw file by
 * qemu-storage-daemon's FUSE export (these kernels have no nbd), and
 * the domain's <filesystem type='file'> names that file.  The export
 * must outlive the domain: start it before the domain is created,
 * stop it after the domain is gone (and its loop device with it).
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "vsb-sandbox-config.h"

G_BEGIN_DECLS

typedef struct _VsbSandboxImageExport VsbSandboxImageExport;

/* Whether the @index'th mount needs an export (a qcow2 host-image). */
bool vsb_sandbox_image_needs_export(const VsbSandboxMount *m);
/* Where the raw view of the @index'th mount appears: STATEDIR/images/N. */
char *vsb_sandbox_image_export_path(const char *statedir, guint index);

/* Export @image (of @format) as the raw file @path (created, with its
 * directory, if missing); returns once the file serves the image. */
VsbSandboxImageExport *vsb_sandbox_image_export_start(const char *image,
                                                      VsbSandboxFormat format,
                                                      const char *path, GError **error);
/* End the export and remove its file; then free @e.  Idempotent in
 * effect: whatever fails is reported, the rest is still done. */
bool vsb_sandbox_image_export_stop(VsbSandboxImageExport *e, GError **error);

G_END_DECLS
