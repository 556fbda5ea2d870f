/*
 * vsb-init-setup.c: virt-sandbox-init's config file, and what it does
 * before the program runs (mounts, attributes, included files,
 * identity, environment).
 */
#include <config.h>

#include "vsb-init.h"
#include "vsb-init-config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_CONFIG_SIZE (4 * 1024 * 1024)

int64_t
vsb_init_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
vsb_init_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static void *
xrealloc(void *p, size_t n)
{
    void *r = realloc(p, n ? n : 1);

    if (!r)
        abort();  /* init has nothing sensible left to do */
    return r;
}

static char *
xstrdup(const char *s)
{
    char *r = strdup(s);

    if (!r)
        abort();
    return r;
}

/* ------------------------------------------------------------------ */
/* The config file                                                     */

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode one field in place; false on a bad escape or a NUL. */
static bool
unescape(char *s)
{
    char *out = s;

    for (char *p = s; *p; p++) {
        if (*p == '\\') {
            int hi, lo;
            if (p[1] != 'x' || (hi = hexval(p[2])) < 0 || (lo = hexval(p[3])) < 0 ||
                (hi == 0 && lo == 0))
                return false;
            *out++ = (char)(hi << 4 | lo);
            p += 3;
        } else {
            *out++ = *p;
        }
    }
    *out = '\0';
    return true;
}

static bool
parse_num(const char *s, unsigned long max, int base, unsigned long *out)
{
    char *end;
    unsigned long v;

    if (!s || !*s || *s == '-' || *s == '+')
        return false;
    errno = 0;
    v = strtoul(s, &end, base);
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

static bool
parse_bool(const char *s, bool *out)
{
    if (s && strcmp(s, "0") == 0)
        *out = false;
    else if (s && strcmp(s, "1") == 0)
        *out = true;
    else
        return false;
    return true;
}

static void
push_str(char ***arr, size_t *n, const char *s)
{
    *arr = xrealloc(*arr, (*n + 2) * sizeof(char *));
    (*arr)[(*n)++] = xstrdup(s);
    (*arr)[*n] = NULL;
}

#define MAX_FIELDS 8

/* A network device's name as the kernel takes it (IFNAMSIZ - 1). */
static bool
valid_ifname(const char *s)
{
    size_t len = strlen(s);

    return len > 0 && len < IFNAMSIZ && !strchr(s, '/') && !strchr(s, ':') &&
           strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

static bool
parse_ip(const char *s, int *family, unsigned char *bin)
{
    if (inet_pton(AF_INET, s, bin) == 1) {
        *family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, s, bin) == 1) {
        *family = AF_INET6;
        return true;
    }
    return false;
}

static bool
parse_line(VsbInitConfig *cfg, char **f, size_t nf, char *err, size_t errlen)
{
    const char *key = f[0];
    unsigned long v;

#define WANT(n) do { if (nf != (n) + 1) goto bad_count; } while (0)
    if (strcmp(key, "debug") == 0) {
        WANT(1);
        if (!parse_bool(f[1], &cfg->debug))
            goto bad_value;
    } else if (strcmp(key, "uid") == 0 || strcmp(key, "gid") == 0) {
        WANT(1);
        if (!parse_num(f[1], UINT_MAX - 1, 10, &v))
            goto bad_value;
        if (key[0] == 'u')
            cfg->uid = (uid_t)v;
        else
            cfg->gid = (gid_t)v;
    } else if (strcmp(key, "groups") == 0) {
        cfg->groups = xrealloc(cfg->groups, nf * sizeof(gid_t));
        cfg->ngroups = 0;
        for (size_t i = 1; i < nf; i++) {
            if (!parse_num(f[i], UINT_MAX - 1, 10, &v))
                goto bad_value;
            cfg->groups[cfg->ngroups++] = (gid_t)v;
        }
    } else if (strcmp(key, "user") == 0 || strcmp(key, "home") == 0 ||
               strcmp(key, "cwd") == 0 || strcmp(key, "channel") == 0) {
        char **dst = key[0] == 'u' ? &cfg->user : key[0] == 'h' ? &cfg->home :
                     key[1] == 'w' ? &cfg->cwd : &cfg->channel;
        WANT(1);
        if (key[0] != 'u' && f[1][0] != '/')
            goto bad_value;
        free(*dst);
        *dst = xstrdup(f[1]);
    } else if (strcmp(key, "privileged") == 0) {
        WANT(1);
        if (!parse_bool(f[1], &cfg->privileged))
            goto bad_value;
    } else if (strcmp(key, "poweroff") == 0) {
        WANT(1);
        if (!parse_bool(f[1], &cfg->poweroff))
            goto bad_value;
    } else if (strcmp(key, "service") == 0) {
        WANT(1);
        if (!parse_bool(f[1], &cfg->service))
            goto bad_value;
    } else if (strcmp(key, "env") == 0) {
        const char *eq;
        WANT(1);
        if (!(eq = strchr(f[1], '=')) || eq == f[1])
            goto bad_value;
        push_str(&cfg->env, &cfg->nenv, f[1]);
    } else if (strcmp(key, "arg") == 0) {
        /* "arg" alone is an empty argument. */
        if (nf > 2)
            goto bad_count;
        push_str(&cfg->argv, &cfg->nargv, nf == 2 ? f[1] : "");
    } else if (strcmp(key, "mount") == 0) {
        VsbInitMount *m;
        WANT(5);
        if (f[3][0] != '/')
            goto bad_value;
        cfg->mounts = xrealloc(cfg->mounts, (cfg->nmounts + 1) * sizeof(*m));
        m = &cfg->mounts[cfg->nmounts++];
        m->type = xstrdup(f[1]);
        m->source = xstrdup(f[2]);
        m->target = xstrdup(f[3]);
        m->flags = xstrdup(f[4]);
        m->data = xstrdup(f[5]);
    } else if (strcmp(key, "setattr") == 0) {
        VsbInitSetattr *s;
        unsigned long mode, uid, gid;
        WANT(4);
        if (f[1][0] != '/' || !parse_num(f[2], 07777, 8, &mode) ||
            !parse_num(f[3], UINT_MAX - 1, 10, &uid) || !parse_num(f[4], UINT_MAX - 1, 10, &gid))
            goto bad_value;
        cfg->setattrs = xrealloc(cfg->setattrs, (cfg->nsetattrs + 1) * sizeof(*s));
        s = &cfg->setattrs[cfg->nsetattrs++];
        s->path = xstrdup(f[1]);
        s->mode = (mode_t)mode;
        s->uid = (uid_t)uid;
        s->gid = (gid_t)gid;
    } else if (strcmp(key, "include") == 0) {
        VsbInitInclude *inc;
        WANT(2);
        if (f[1][0] != '/' || f[2][0] != '/')
            goto bad_value;
        cfg->includes = xrealloc(cfg->includes, (cfg->nincludes + 1) * sizeof(*inc));
        inc = &cfg->includes[cfg->nincludes++];
        inc->source = xstrdup(f[1]);
        inc->target = xstrdup(f[2]);
    } else if (strcmp(key, "net") == 0) {
        VsbInitNet *n;
        WANT(2);
        if (!valid_ifname(f[1]) || (strcmp(f[2], "dhcp") != 0 && strcmp(f[2], "static") != 0))
            goto bad_value;
        cfg->nets = xrealloc(cfg->nets, (cfg->nnets + 1) * sizeof(*n));
        n = &cfg->nets[cfg->nnets++];
        n->dev = xstrdup(f[1]);
        n->dhcp = f[2][0] == 'd';
    } else if (strcmp(key, "ipaddr") == 0) {
        VsbInitAddr a = { 0 };
        unsigned long prefix;
        WANT(4);
        if (!valid_ifname(f[1]) || !parse_ip(f[2], &a.family, a.addr) ||
            !parse_num(f[3], a.family == AF_INET ? 32 : 128, 10, &prefix))
            goto bad_value;
        if (strcmp(f[4], "-") != 0) {
            int bfamily;
            unsigned char b16[16];
            if (a.family != AF_INET || !parse_ip(f[4], &bfamily, b16) || bfamily != AF_INET)
                goto bad_value;
            memcpy(a.broadcast, b16, 4);
            a.has_broadcast = true;
        }
        a.prefix = prefix;
        a.dev = xstrdup(f[1]);
        cfg->addrs = xrealloc(cfg->addrs, (cfg->naddrs + 1) * sizeof(a));
        cfg->addrs[cfg->naddrs++] = a;
    } else if (strcmp(key, "iproute") == 0) {
        VsbInitRoute r = { 0 };
        unsigned long prefix;
        int gfamily;
        WANT(4);
        if (!valid_ifname(f[1]) || !parse_ip(f[2], &r.family, r.dst) ||
            !parse_num(f[3], r.family == AF_INET ? 32 : 128, 10, &prefix) ||
            !parse_ip(f[4], &gfamily, r.gateway) || gfamily != r.family)
            goto bad_value;
        r.prefix = prefix;
        r.dev = xstrdup(f[1]);
        cfg->routes = xrealloc(cfg->routes, (cfg->nroutes + 1) * sizeof(r));
        cfg->routes[cfg->nroutes++] = r;
    } else {
        vsb_init_set_err(err, errlen, "unknown directive '%s'", key);
        return false;
    }
    return true;
#undef WANT

 bad_count:
    vsb_init_set_err(err, errlen, "wrong number of fields for '%s'", key);
    return false;
 bad_value:
    vsb_init_set_err(err, errlen, "invalid value for '%s'", key);
    return false;
}

static void
free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void
vsb_init_config_clear(VsbInitConfig *cfg)
{
    free(cfg->groups);
    free(cfg->user);
    free(cfg->home);
    free(cfg->cwd);
    free(cfg->channel);
    free_strv(cfg->env, cfg->nenv);
    free_strv(cfg->argv, cfg->nargv);
    for (size_t i = 0; i < cfg->nmounts; i++) {
        VsbInitMount *m = &cfg->mounts[i];
        free(m->type);
        free(m->source);
        free(m->target);
        free(m->flags);
        free(m->data);
    }
    free(cfg->mounts);
    for (size_t i = 0; i < cfg->nsetattrs; i++)
        free(cfg->setattrs[i].path);
    free(cfg->setattrs);
    for (size_t i = 0; i < cfg->nincludes; i++) {
        free(cfg->includes[i].source);
        free(cfg->includes[i].target);
    }
    free(cfg->includes);
    for (size_t i = 0; i < cfg->nnets; i++)
        free(cfg->nets[i].dev);
    free(cfg->nets);
    for (size_t i = 0; i < cfg->naddrs; i++)
        free(cfg->addrs[i].dev);
    free(cfg->addrs);
    for (size_t i = 0; i < cfg->nroutes; i++)
        free(cfg->routes[i].dev);
    free(cfg->routes);
    memset(cfg, 0, sizeof(*cfg));
}

bool
vsb_init_config_parse(const char *text, size_t len, VsbInitConfig *cfg, char *err, size_t errlen)
{
    char *buf;
    char *line, *next;
    size_t lineno = 0;
    bool seen_magic = false;
    char lerr[256];

    memset(cfg, 0, sizeof(*cfg));
    cfg->uid = cfg->gid = 0;
    if (memchr(text, '\0', len)) {
        vsb_init_set_err(err, errlen, "NUL byte in config");
        return false;
    }
    buf = xrealloc(NULL, len + 1);
    memcpy(buf, text, len);
    buf[len] = '\0';
    for (line = buf; line; line = next) {
        char *f[MAX_FIELDS + 1];
        size_t nf = 0;
        char *p;

        lineno++;
        if ((next = strchr(line, '\n')))
            *next++ = '\0';
        if (!line[0] || line[0] == '#')
            continue;
        for (p = line; p && nf <= MAX_FIELDS; ) {
            f[nf++] = p;
            if ((p = strchr(p, ' ')))
                *p++ = '\0';
        }
        if (p) {
            vsb_init_set_err(err, errlen, "line %zu: too many fields", lineno);
            goto fail;
        }
        for (size_t i = 0; i < nf; i++) {
            if (!f[i][0] || !unescape(f[i])) {
                vsb_init_set_err(err, errlen, "line %zu: bad field %zu", lineno, i + 1);
                goto fail;
            }
        }
        if (!seen_magic) {
            unsigned long version;
            if (nf != 2 || strcmp(f[0], VSB_INIT_CONFIG_MAGIC) != 0 ||
                !parse_num(f[1], 1000, 10, &version)) {
                vsb_init_set_err(err, errlen, "line %zu: not a virt-sandbox-init config", lineno);
                goto fail;
            }
            if (version != VSB_INIT_CONFIG_VERSION) {
                vsb_init_set_err(err, errlen, "config version %lu, this init reads version %d",
                                 version, VSB_INIT_CONFIG_VERSION);
                goto fail;
            }
            seen_magic = true;
            continue;
        }
        if (!parse_line(cfg, f, nf, lerr, sizeof(lerr))) {
            vsb_init_set_err(err, errlen, "line %zu: %s", lineno, lerr);
            goto fail;
        }
    }
    free(buf);
    if (!seen_magic) {
        vsb_init_set_err(err, errlen, "empty config");
        vsb_init_config_clear(cfg);
        return false;
    }
    if (!cfg->nargv) {
        vsb_init_set_err(err, errlen, "no command (arg) given");
        vsb_init_config_clear(cfg);
        return false;
    }
    return true;

 fail:
    free(buf);
    vsb_init_config_clear(cfg);
    return false;
}

bool
vsb_init_config_load(const char *path, VsbInitConfig *cfg, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *data = NULL;
    size_t len = 0;
    bool ok;
    char perr[256];

    if (fd < 0) {
        vsb_init_set_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return false;
    }
    for (;;) {
        ssize_t n;
        data = xrealloc(data, len + 65536);
        n = read(fd, data + len, 65536);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            vsb_init_set_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
            close(fd);
            free(data);
            return false;
        }
        if (n == 0)
            break;
        len += n;
        if (len > MAX_CONFIG_SIZE) {
            vsb_init_set_err(err, errlen, "%s: larger than %d bytes", path, MAX_CONFIG_SIZE);
            close(fd);
            free(data);
            return false;
        }
    }
    close(fd);
    ok = vsb_init_config_parse(data, len, cfg, perr, sizeof(perr));
    free(data);
    if (!ok)
        vsb_init_set_err(err, errlen, "%s: %s", path, perr);
    return ok;
}

/* ------------------------------------------------------------------ */
/* Setup                                                               */

/* mkdir -p; the directories it makes get @uid:@gid (-1: leave). */
static int
mkdir_p(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
    char *copy = xstrdup(path);
    int rc = 0;

    for (char *p = copy + 1; ; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(copy, mode) == 0) {
            if (uid != (uid_t)-1 && chown(copy, uid, gid) < 0) {
                rc = errno;
                break;
            }
        } else if (errno != EEXIST) {
            rc = errno;
            break;
        }
        *p = c;
        if (!c)
            break;
    }
    free(copy);
    return rc;
}

static bool
parse_mount_flags(const char *s, unsigned long *flags)
{
    static const struct { const char *name; unsigned long flag; } names[] = {
        { "ro", MS_RDONLY }, { "nosuid", MS_NOSUID }, { "nodev", MS_NODEV },
        { "noexec", MS_NOEXEC }, { "bind", MS_BIND }, { "rec", MS_REC },
    };
    char *copy, *tok, *save = NULL;

    *flags = 0;
    if (strcmp(s, "-") == 0)
        return true;
    copy = xstrdup(s);
    for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        size_t i;
        for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            if (strcmp(tok, names[i].name) == 0)
                break;
        if (i == sizeof(names) / sizeof(names[0])) {
            free(copy);
            return false;
        }
        *flags |= names[i].flag;
    }
    free(copy);
    return true;
}

/* Whether a mount point lies strictly below @dir (/proc/self/mountinfo's
 * fifth field; octal escapes matter not: @dir has none of the escaped
 * characters, see make_parent_writable()). */
static bool
has_mounts_below(const char *dir)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    char line[4096];
    size_t len = strlen(dir);
    bool found = false;

    if (!f)
        return true;  /* unknown: assume the worst */
    while (!found && fgets(line, sizeof(line), f)) {
        char *save = NULL, *tok = strtok_r(line, " ", &save);
        for (int i = 1; tok && i < 5; i++)
            tok = strtok_r(NULL, " ", &save);
        found = tok && strncmp(tok, dir, len) == 0 && tok[len] == '/';
    }
    fclose(f);
    return found;
}

/* @target cannot be created: its nearest existing parent is on a
 * read-only file system (the host's / of a KVM guest).  An overlay on
 * that parent, its upper layer in VSB_INIT_GUEST_DIR (a tmpfs), keeps
 * the parent's contents and lets the target be created.  Not on / (it
 * would hide every mount below), nor on a directory with mounts below
 * it, for the same reason. */
static bool
make_parent_writable(const char *target, size_t index, char *err, size_t errlen)
{
    char *parent = xstrdup(target);
    char upper[PATH_MAX], work[PATH_MAX], data[3 * PATH_MAX + 64];
    struct stat st;
    bool ok = false;
    int rc;

    do {
        char *slash = strrchr(parent, '/');
        if (slash == parent)
            slash[1] = '\0';
        else
            *slash = '\0';
    } while (strcmp(parent, "/") != 0 && stat(parent, &st) < 0);
    if (strcmp(parent, "/") == 0) {
        vsb_init_set_err(err, errlen, "cannot create %s: / is read-only (the host's); mount on a "
                         "directory that exists, or below one", target);
    } else if (strpbrk(parent, ",:\\ \t\n")) {
        vsb_init_set_err(err, errlen,
                         "cannot create %s: %s is read-only and its name cannot be given "
                         "to overlayfs", target, parent);
    } else if (has_mounts_below(parent)) {
        vsb_init_set_err(err, errlen, "cannot create %s: %s is read-only and has mounts below it, "
                         "which an overlay would hide", target, parent);
    } else {
        snprintf(upper, sizeof(upper), VSB_INIT_GUEST_DIR "/overlay/%zu/upper", index);
        snprintf(work, sizeof(work), VSB_INIT_GUEST_DIR "/overlay/%zu/work", index);
        snprintf(data, sizeof(data), "lowerdir=%s,upperdir=%s,workdir=%s", parent, upper, work);
        if ((rc = mkdir_p(upper, 0755, (uid_t)-1, (gid_t)-1)) ||
            (rc = mkdir_p(work, 0700, (uid_t)-1, (gid_t)-1)))
            vsb_init_set_err(err, errlen, "cannot create %s: %s", upper, strerror(rc));
        else if (mount("overlay", parent, "overlay", 0, data) < 0)
            vsb_init_set_err(err, errlen,
                             "cannot create %s: cannot put an overlay on the read-only "
                             "%s: %s", target, parent, strerror(errno));
        else
            ok = true;
    }
    free(parent);
    return ok;
}

bool
vsb_init_do_mounts(const VsbInitConfig *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < cfg->nmounts; i++) {
        const VsbInitMount *m = &cfg->mounts[i];
        unsigned long flags;
        int rc;

        if (!parse_mount_flags(m->flags, &flags)) {
            vsb_init_set_err(err, errlen, "mount on %s: unknown flags '%s'", m->target, m->flags);
            return false;
        }
        rc = mkdir_p(m->target, 0755, (uid_t)-1, (gid_t)-1);
        if (rc == EROFS) {
            if (!make_parent_writable(m->target, i, err, errlen))
                return false;
            rc = mkdir_p(m->target, 0755, (uid_t)-1, (gid_t)-1);
        }
        if (rc) {
            vsb_init_set_err(err, errlen, "cannot create %s: %s", m->target, strerror(rc));
            return false;
        }
        if (mount(m->source, m->target, m->type, flags,
                  strcmp(m->data, "-") ? m->data : NULL) < 0) {
            vsb_init_set_err(err, errlen, "cannot mount %s (%s) on %s: %s", m->source, m->type,
                             m->target, strerror(errno));
            return false;
        }
        /* A bind mount ignores MS_RDONLY and friends until remounted. */
        if ((flags & MS_BIND) && (flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)) &&
            mount(NULL, m->target, NULL, MS_REMOUNT | flags, NULL) < 0) {
            vsb_init_set_err(err, errlen,
                             "cannot make %s read-only: %s", m->target, strerror(errno));
            return false;
        }
    }
    return true;
}

bool
vsb_init_do_setattrs(const VsbInitConfig *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < cfg->nsetattrs; i++) {
        const VsbInitSetattr *s = &cfg->setattrs[i];

        if (chown(s->path, s->uid, s->gid) < 0 || chmod(s->path, s->mode) < 0) {
            vsb_init_set_err(err, errlen, "cannot set owner and mode of %s: %s", s->path,
                             strerror(errno));
            return false;
        }
    }
    return true;
}

static bool
copy_file(const char *src, const char *dst, const struct stat *st, uid_t uid, gid_t gid,
          char *err, size_t errlen)
{
    int in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    int out = -1;
    char buf[65536];
    ssize_t n;

    if (in < 0) {
        vsb_init_set_err(err, errlen, "cannot open %s: %s", src, strerror(errno));
        return false;
    }
    out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, st->st_mode & 0777);
    if (out < 0) {
        vsb_init_set_err(err, errlen, "cannot create %s: %s", dst, strerror(errno));
        close(in);
        return false;
    }
    while ((n = read(in, buf, sizeof(buf))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            vsb_init_set_err(err, errlen, "cannot read %s: %s", src, strerror(errno));
            goto fail;
        }
        for (ssize_t off = 0; off < n; ) {
            ssize_t w = write(out, buf + off, n - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                vsb_init_set_err(err, errlen, "cannot write %s: %s", dst, strerror(errno));
                goto fail;
            }
            off += w;
        }
    }
    /* Owner first: chown clears the set-id bits fchmod then restores. */
    if (fchown(out, uid, gid) < 0 || fchmod(out, st->st_mode & 07777) < 0) {
        vsb_init_set_err(err, errlen, "cannot set owner and mode of %s: %s", dst, strerror(errno));
        goto fail;
    }
    close(in);
    if (close(out) < 0) {
        vsb_init_set_err(err, errlen, "cannot write %s: %s", dst, strerror(errno));
        return false;
    }
    return true;

 fail:
    close(in);
    close(out);
    return false;
}

static bool
copy_tree(const char *src, const char *dst, uid_t uid, gid_t gid, char *err, size_t errlen)
{
    struct stat st;

    if (lstat(src, &st) < 0) {
        vsb_init_set_err(err, errlen, "cannot read %s: %s", src, strerror(errno));
        return false;
    }
    if (S_ISREG(st.st_mode))
        return copy_file(src, dst, &st, uid, gid, err, errlen);
    if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX];
        ssize_t n = readlink(src, target, sizeof(target) - 1);
        if (n < 0) {
            vsb_init_set_err(err, errlen, "cannot read %s: %s", src, strerror(errno));
            return false;
        }
        target[n] = '\0';
        if (symlink(target, dst) < 0 || lchown(dst, uid, gid) < 0) {
            vsb_init_set_err(err, errlen, "cannot create %s: %s", dst, strerror(errno));
            return false;
        }
        return true;
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *d;
        struct dirent *de;
        bool ok = true;

        if ((mkdir(dst, 0700) < 0 && errno != EEXIST) || chown(dst, uid, gid) < 0 ||
            chmod(dst, st.st_mode & 07777) < 0) {
            vsb_init_set_err(err, errlen, "cannot create %s: %s", dst, strerror(errno));
            return false;
        }
        if (!(d = opendir(src))) {
            vsb_init_set_err(err, errlen, "cannot read %s: %s", src, strerror(errno));
            return false;
        }
        while (ok && (de = readdir(d))) {
            char *s, *t;
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            if (asprintf(&s, "%s/%s", src, de->d_name) < 0 ||
                asprintf(&t, "%s/%s", dst, de->d_name) < 0)
                abort();
            ok = copy_tree(s, t, uid, gid, err, errlen);
            free(s);
            free(t);
        }
        closedir(d);
        return ok;
    }
    vsb_init_set_err(err, errlen, "cannot include %s: not a file, directory or symbolic link", src);
    return false;
}

bool
vsb_init_do_includes(const VsbInitConfig *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < cfg->nincludes; i++) {
        const VsbInitInclude *inc = &cfg->includes[i];
        char *parent = xstrdup(inc->target);
        char *slash = strrchr(parent, '/');
        int rc = 0;

        if (slash && slash != parent) {
            *slash = '\0';
            rc = mkdir_p(parent, 0755, cfg->uid, cfg->gid);
        }
        if (rc) {
            vsb_init_set_err(err, errlen, "cannot create %s: %s", parent, strerror(rc));
            free(parent);
            return false;
        }
        free(parent);
        if (!copy_tree(inc->source, inc->target, cfg->uid, cfg->gid, err, errlen))
            return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* The program's identity and environment                              */

static int
drop_all_caps(void)
{
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];

    memset(data, 0, sizeof(data));
    return syscall(SYS_capset, &hdr, data) < 0 ? errno : 0;
}

int
vsb_init_drop_identity(const VsbInitConfig *cfg, const char **what)
{
    if (!cfg->privileged) {
        /* The bounding set first, while CAP_SETPCAP is still ours:
         * afterwards nothing (setuid binaries, file capabilities) can
         * bring a capability back. */
        for (int cap = 0; cap <= 63; cap++) {
            if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) {
                *what = "drop the capability bounding set";
                return errno;
            }
        }
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
            *what = "clear the ambient capabilities";
            return errno;
        }
    }
    if (setgroups(cfg->ngroups, cfg->groups) < 0) {
        *what = "set the supplementary groups";
        return errno;
    }
    if (setresgid(cfg->gid, cfg->gid, cfg->gid) < 0) {
        *what = "set the group id";
        return errno;
    }
    if (setresuid(cfg->uid, cfg->uid, cfg->uid) < 0) {
        *what = "set the user id";
        return errno;
    }
    if (!cfg->privileged) {
        int rc;
        /* setresuid() to a non-zero uid emptied the sets already; uid 0
         * keeps them unless told. */
        if ((rc = drop_all_caps())) {
            *what = "drop capabilities";
            return rc;
        }
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
            *what = "set no_new_privs";
            return errno;
        }
    }
    if ((!cfg->cwd || chdir(cfg->cwd) < 0) && (!cfg->home || chdir(cfg->home) < 0) &&
        chdir("/") < 0) {
        *what = "change to any working directory";
        return errno;
    }
    return 0;
}

static void
env_set(char ***env, size_t *n, const char *kv)
{
    size_t namelen = strcspn(kv, "=");

    for (size_t i = 0; i < *n; i++) {
        if (strncmp((*env)[i], kv, namelen + 1) == 0) {
            free((*env)[i]);
            (*env)[i] = xstrdup(kv);
            return;
        }
    }
    push_str(env, n, kv);
}

static void
env_setf(char ***env, size_t *n, const char *name, const char *value)
{
    char *kv;

    if (asprintf(&kv, "%s=%s", name, value) < 0)
        abort();
    env_set(env, n, kv);
    free(kv);
}

char **
vsb_init_build_env(const VsbInitConfig *cfg, bool tty)
{
    char **env = NULL;
    size_t n = 0;
    const char *container = getenv("container");

    env_setf(&env, &n, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    env_setf(&env, &n, "HOME", cfg->home ? cfg->home : "/");
    if (cfg->user) {
        env_setf(&env, &n, "USER", cfg->user);
        env_setf(&env, &n, "LOGNAME", cfg->user);
    }
    /* What systemd and friends look at to know they are contained. */
    if (container)
        env_setf(&env, &n, "container", container);
    if (tty)
        env_setf(&env, &n, "TERM", "linux");
    for (size_t i = 0; i < cfg->nenv; i++)
        env_set(&env, &n, cfg->env[i]);
    if (!env)
        push_str(&env, &n, "PATH=/usr/bin:/bin");
    return env;
}
