/*
 * vsb-ctl-caps.c: the container's capability set.
 */
#include <config.h>

#include "vsb-ctl-caps.h"
#include "vsb-util.h"

#include <cap-ng.h>
#include <errno.h>
#include <linux/capability.h>
#include <sys/prctl.h>

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

bool
vsb_ctl_caps_apply(const VsbDomainDef *def, GError **error)
{
    /* Our table knows what libvirt knows; newer kernels may know more,
     * and what we do not know is not kept. */
    int last = MIN(CAP_LAST_CAP, VSB_DOMAIN_CAP_COUNT - 1);
    int rc;

    capng_clear(CAPNG_SELECT_BOTH);
    for (int cap = 0; cap <= last; cap++) {
        if (!vsb_ctl_caps_allowed(def, cap))
            continue;
        if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET,
                         cap) < 0) {
            g_set_error(error, VSB_ERROR, VSB_ERROR_FAILED,
                        "Cannot keep capability %d", cap);
            return false;
        }
    }
    rc = capng_apply(CAPNG_SELECT_BOTH);
    if (rc < 0) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_FAILED,
                    "Cannot apply the container's capability set (libcap-ng error %d)", rc);
        return false;
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return vsb_error_set_errno(error, errno, "Cannot clear ambient capabilities");
    return true;
}
