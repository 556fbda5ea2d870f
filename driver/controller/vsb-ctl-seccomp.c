/*
 * vsb-ctl-seccomp.c: the container's seccomp filter (see
 * vsb-ctl-seccomp.h).
 */
#include <config.h>

#include "vsb-ctl-seccomp.h"
#include "vsb-util.h"

#include <errno.h>
#include <seccomp.h>

G_DEFINE_AUTO_CLEANUP_FREE_FUNC(scmp_filter_ctx, seccomp_release, NULL)

/* The architectures whose binaries the native kernel runs: a 32-bit
 * syslog(2) must be refused too. */
static const uint32_t secondary_arches[] = {
#if defined(__x86_64__)
    SCMP_ARCH_X86, SCMP_ARCH_X32,
#elif defined(__aarch64__)
    SCMP_ARCH_ARM,
#endif
    0
};

bool
vsb_ctl_seccomp_apply(int *sysinfo_fd, GError **error)
{
    g_auto(scmp_filter_ctx) ctx = seccomp_init(SCMP_ACT_ALLOW);
    /* API level 5: SCMP_ACT_NOTIFY (kernel 5.0) */
    bool notify = seccomp_api_get() >= 5;
    int rc;

    *sysinfo_fd = -1;

    if (!ctx) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_FAILED, "Cannot create a seccomp filter");
        return false;
    }
    /* libseccomp sets no_new_privs by default; we have CAP_SYS_ADMIN. */
    rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
    /* Other architectures' system calls are not ours to judge (the
     * default would kill the process). */
    if (rc == 0)
        rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ALLOW);
    for (size_t i = 0; rc == 0 && secondary_arches[i]; i++) {
        rc = seccomp_arch_add(ctx, secondary_arches[i]);
        if (rc == -EEXIST)
            rc = 0;
    }
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(syslog), 0);
    if (rc == 0 && notify)
        rc = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(sysinfo), 0);
    if (rc != 0)
        return vsb_error_set_errno(error, -rc, "Cannot build the container's seccomp filter");
    rc = seccomp_load(ctx);
    if (rc != 0)
        return vsb_error_set_errno(error, -rc, "Cannot load the container's seccomp filter");
    if (notify) {
        /* the listener made by seccomp_load(), close-on-exec */
        *sysinfo_fd = seccomp_notify_fd(ctx);
        if (*sysinfo_fd < 0)
            return vsb_error_set_errno(error, -*sysinfo_fd,
                                       "Cannot get the container's seccomp listener");
    }
    return true;
}
