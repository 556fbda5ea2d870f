/*
 * vsb-ctl-caps.h: the container's capability set.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "vsb-domain-conf.h"

/* Whether capability @cap is kept for the container, from our baseline
 * and <features><capabilities policy=...>.  Pure. */
bool vsb_ctl_caps_allowed(const VsbDomainDef *def, int cap);

/* Child side, last step before dropping privileges: limit the bounding,
 * effective, permitted and inheritable sets and clear ambient ones. */
bool vsb_ctl_caps_apply(const VsbDomainDef *def, GError **error);
