/*
 * vsb-ctl-devices.h: the container's /dev (child side) and the list of
 * devices the device cgroup lets it use (controller side).
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "vsb-cgroup.h"
#include "vsb-ctl-child.h"

/* The character devices created in /dev, plus the console and the
 * container's ptys: exactly what the device cgroup allows. */
const VsbCgroupDevice *vsb_ctl_devices_allowed(size_t *n);

/* A tmpfs /dev with the basic nodes, a private devpts, /dev/shm,
 * /dev/mqueue and the /dev/fd links.  Needs /proc of the host still
 * reachable only for nothing: all of it is made inside @rootfd. */
bool vsb_ctl_devices_setup(const VsbCtlChildConfig *cfg, int rootfd, GError **error);
