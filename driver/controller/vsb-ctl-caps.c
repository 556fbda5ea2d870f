/*
 * vsb-ctl-caps.c: the container's capability set.
 */
#include <config.h>

#include "vsb-ctl-caps.h"
#include "vsb-util.h"

#include <errno.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Dropped by default: each of these reaches the host itself through
 * the shared kernel (modules, raw I/O, the clock, the audit and MAC
 * configuration, the kernel log, wake-up alarms, BPF and perf). */
static const int baseline_dropped[] = {
    CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_SYS_TIME, CAP_MAC_ADMIN, CAP_MAC_OVERRIDE,
    CAP_AUDIT_CONTROL, CAP_SYSLOG, CAP_WAKE_ALARM, CAP_BLOCK_SUSPEND, CAP_BPF,
    CAP_PERFMON,
};

bool
vsb_ctl_caps_allowed(const VsbDomainDef *def, int cap)
{
    bool allowed;

    switch (def->caps_policy) {
    case VSB_DOMAIN_CAPS_POLICY_ALLOW:
        allowed = true;
        break;
    case VSB_DOMAIN_CAPS_POLICY_DENY:
        allowed = false;
        break;
    case VSB_DOMAIN_CAPS_POLICY_DEFAULT:
    case VSB_DOMAIN_CAPS_POLICY_LAST:
    default:
        allowed = true;
        for (size_t i = 0; i < G_N_ELEMENTS(baseline_dropped); i++)
            if (baseline_dropped[i] == cap)
                allowed = false;
        break;
    }
    if (cap < VSB_DOMAIN_CAP_COUNT) {
        if (def->caps[cap] == VSB_DOMAIN_TRISTATE_ON)
            allowed = true;
        else if (def->caps[cap] == VSB_DOMAIN_TRISTATE_OFF)
            allowed = false;
    }
    return allowed;
}

/* Kernels know caps up to /proc/sys/kernel/cap_last_cap; our table
 * knows what libvirt knows.  A cap we cannot name is never kept. */
static int
kernel_last_cap(void)
{
    g_autofree char *text = NULL;
    guint64 v;

    if (g_file_get_contents("/proc/sys/kernel/cap_last_cap", &text, NULL, NULL) &&
        g_ascii_string_to_unsigned(g_strstrip(text), 10, 0, 63, &v, NULL))
        return (int)v;
    return CAP_LAST_CAP;
}

bool
vsb_ctl_caps_apply(const VsbDomainDef *def, GError **error)
{
    struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = { { 0 } };
    int last = kernel_last_cap();

    /* Bounding set first: dropping needs CAP_SETPCAP, which capset()
     * below may remove. */
    for (int cap = 0; cap <= last; cap++) {
        if (cap < VSB_DOMAIN_CAP_COUNT && vsb_ctl_caps_allowed(def, cap))
            continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
            return vsb_error_set_errno(error, errno, "Cannot drop capability %s from the bounding set",
                                       cap < VSB_DOMAIN_CAP_COUNT ? vsb_domain_cap_to_string(cap) : "?");
    }
    for (int cap = 0; cap <= last && cap < VSB_DOMAIN_CAP_COUNT; cap++) {
        if (!vsb_ctl_caps_allowed(def, cap))
            continue;
        data[cap / 32].effective |= 1U << (cap % 32);
        data[cap / 32].permitted |= 1U << (cap % 32);
    }
    /* Never more than we have: a controller may itself run with a
     * reduced set (inside another container, say). */
    {
        struct __user_cap_data_struct cur[_LINUX_CAPABILITY_U32S_3] = { { 0 } };
        if (syscall(SYS_capget, &hdr, cur) < 0)
            return vsb_error_set_errno(error, errno, "Cannot read our own capabilities");
        for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
            data[i].permitted &= cur[i].permitted;
            data[i].effective &= cur[i].permitted;
        }
    }
    if (syscall(SYS_capset, &hdr, data) < 0)
        return vsb_error_set_errno(error, errno, "Cannot set the container's capabilities");
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return vsb_error_set_errno(error, errno, "Cannot clear ambient capabilities");
    return true;
}
