/*
 * vsb-util.c: small helpers shared by every component.
 */
#include <config.h>

#include "vsb-util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

G_DEFINE_QUARK(vsb-error-quark, vsb_error)

bool
vsb_error_set_errno(GError **error, int errsv, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errsv),
                "%s: %s", msg, g_strerror(errsv));
    return false;
}

void
vsb_fd_close(VsbFd fd)
{
    int errsv = errno;

    if (fd >= 0)
        close(fd);
    errno = errsv;
}

bool
vsb_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        p += n;
        len -= n;
    }
    return true;
}

bool
vsb_file_write_str(const char *path, const char *data, GError **error)
{
    g_auto(VsbFd) fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
    size_t len = strlen(data);
    ssize_t n;

    if (fd < 0)
        return vsb_error_set_errno(error, errno, "Cannot open %s", path);
    do {
        n = write(fd, data, len);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return vsb_error_set_errno(error, errno, "Cannot write '%s' to %s", data, path);
    if ((size_t)n != len)
        return vsb_error_set_errno(error, EIO, "Short write of '%s' to %s", data, path);
    return true;
}

bool
vsb_file_write_str_at(const char *dir, const char *name, const char *data, GError **error)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);

    return vsb_file_write_str(path, data, error);
}

char *
vsb_file_read_all(const char *path, gsize *len, GError **error)
{
    g_auto(VsbFd) fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    g_autoptr(GString) buf = NULL;
    char chunk[4096];

    if (fd < 0) {
        vsb_error_set_errno(error, errno, "Cannot open %s", path);
        return NULL;
    }
    buf = g_string_new(NULL);
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            vsb_error_set_errno(error, errno, "Cannot read %s", path);
            return NULL;
        }
        if (n == 0)
            break;
        g_string_append_len(buf, chunk, n);
    }
    if (len)
        *len = buf->len;
    return g_string_free(g_steal_pointer(&buf), FALSE);
}

static bool
write_replace(const char *path, const char *data, gsize len, mode_t mode, bool durable,
              GError **error)
{
    g_autofree char *tmp = g_strdup_printf("%s.tmpXXXXXX", path);
    g_auto(VsbFd) fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, mode);

    if (fd < 0)
        return vsb_error_set_errno(error, errno, "Cannot create %s", tmp);
    if (fchmod(fd, mode) < 0 ||
        !vsb_write_all(fd, data, len) ||
        (durable && fsync(fd) < 0)) {
        int errsv = errno;
        unlink(tmp);
        return vsb_error_set_errno(error, errsv, "Cannot write %s", tmp);
    }
    if (rename(tmp, path) < 0) {
        int errsv = errno;
        unlink(tmp);
        return vsb_error_set_errno(error, errsv, "Cannot rename %s to %s", tmp, path);
    }
    return true;
}

bool
vsb_file_write_atomic(const char *path, const char *data, gsize len,
                      mode_t mode, GError **error)
{
    return write_replace(path, data, len, mode, true, error);
}

bool
vsb_file_replace(const char *path, const char *data, gsize len, mode_t mode, GError **error)
{
    return write_replace(path, data, len, mode, false, error);
}

bool
vsb_mkdir_p(const char *path, mode_t mode, GError **error)
{
    if (g_mkdir_with_parents(path, mode) < 0)
        return vsb_error_set_errno(error, errno, "Cannot create directory %s", path);
    return true;
}
