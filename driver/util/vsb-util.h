/*
 * vsb-util.h: small helpers shared by every component.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

G_BEGIN_DECLS

#define VSB_ERROR (vsb_error_quark())
GQuark vsb_error_quark(void);

/* Codes of VSB_ERROR.  errno-based failures use G_FILE_ERROR /
 * G_IO_ERROR through vsb_error_set_errno(). */
typedef enum {
    VSB_ERROR_FAILED,
    VSB_ERROR_INVALID,      /* bad input from the user */
    VSB_ERROR_UNSUPPORTED,  /* the host cannot do it */
    VSB_ERROR_NOT_FOUND,
    VSB_ERROR_EXISTS,
} VsbErrorCode;

/* Set @error (domain G_FILE_ERROR, code from @errsv) to the formatted
 * message followed by ": " and strerror(@errsv).  Returns false so
 * callers can `return vsb_error_set_errno(...)`. */
bool vsb_error_set_errno(GError **error, int errsv, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* Write @data to an existing file (cgroup, /proc knobs): open O_WRONLY,
 * one write(), close.  The error names @path and errno. */
bool vsb_file_write_str(const char *path, const char *data, GError **error);

/* Same as above with a path built from @dir and @name. */
bool vsb_file_write_str_at(const char *dir, const char *name, const char *data, GError **error);

/* Read a whole small file (kernel pseudo-files report size 0, so this
 * reads until EOF).  Returns NULL with @error set on failure. */
char *vsb_file_read_all(const char *path, gsize *len, GError **error);

/* Create or replace @path atomically (temp file in the same directory,
 * fsync, rename).  A crash leaves either the old or the new content. */
bool vsb_file_write_atomic(const char *path, const char *data, gsize len,
                           mode_t mode, GError **error);
/* The same without the fsync(): readers never see a partial file, but a
 * machine crash may lose it.  For files no reboot leaves a reader for
 * (run-dir state), where the fsync costs up to tens of ms on a busy disk. */
bool vsb_file_replace(const char *path, const char *data, gsize len, mode_t mode,
                      GError **error);

/* mkdir -p with @mode; existing directories are fine. */
bool vsb_mkdir_p(const char *path, mode_t mode, GError **error);

/* Close an fd, keeping errno; for g_auto(VsbFd). */
typedef int VsbFd;
void vsb_fd_close(VsbFd fd);
G_DEFINE_AUTO_CLEANUP_FREE_FUNC(VsbFd, vsb_fd_close, -1)

/* write() all of @buf, retrying on EINTR/short writes. */
bool vsb_write_all(int fd, const void *buf, size_t len);

G_END_DECLS
