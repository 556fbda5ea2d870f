/*
 * vsb-ctl-machined.h: the controller as a good citizen under systemd.
 *
 * When systemd is PID 1 the controller does not make cgroups of its own
 * beside systemd's tree: it asks systemd (org.freedesktop.systemd1
 * StartTransientUnit) for a scope <partition>-<name>.scope in
 * <partition>.slice, with itself as the only process and Delegate=yes,
 * so the cgroups below the scope are ours (vsb-cgroup.h puts supervisor
 * and payload there).  Once the container's init exists it registers
 * the machine with systemd-machined (RegisterMachine: class
 * "container", service "virt-sandbox", init as leader), which finds the
 * scope from the leader's cgroup, so `machinectl list` shows the
 * domain.  At the end the machine is unregistered; the
 * scope goes once the controller, its last process, exits.
 *
 * Why not machined's CreateMachine, which makes a delegated scope too:
 * it wants the leader before the scope exists, and puts the leader (the
 * container's init) in the scope's own cgroup; our cgroups, with their
 * limits, must exist before init is created (it is cloned straight into
 * payload's limits), and v2's no-internal-processes rule wants the
 * scope's own cgroup empty once supervisor and payload are made.
 *
 * libsystemd is dlopen()ed (as in vsb-ctl-syslog.c): the controller
 * runs where it is not installed.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

G_BEGIN_DECLS

typedef struct _VsbCtlMachined VsbCtlMachined;

/* Under systemd (sd_booted()), move the calling process into a new
 * delegated scope for domain @name of @partition ("machine" if NULL)
 * and wait until it is there.  Not under systemd: NULL and no error.
 * An error (no system bus, systemd refused the scope) sets @error. */
VsbCtlMachined *vsb_ctl_machined_start(const char *partition, const char *name,
                                       GError **error);

/* The scope's unit name ("machine-NAME.scope"). */
const char *vsb_ctl_machined_unit(VsbCtlMachined *m);

/* Register the machine with systemd-machined: @leader is the container's
 * init, @uuid the domain's, @root_dir its root directory on the host
 * ("" if it has none there).  Fails when machined does not answer (it
 * is not installed) or refuses (an invalid machine name). */
bool vsb_ctl_machined_register(VsbCtlMachined *m, pid_t leader, const unsigned char uuid[16],
                               const char *root_dir, GError **error);

/* UnregisterMachine, if registered.  Idempotent. */
bool vsb_ctl_machined_unregister(VsbCtlMachined *m, GError **error);

/* Closes the bus; the scope stays until its processes are gone. */
void vsb_ctl_machined_free(VsbCtlMachined *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbCtlMachined, vsb_ctl_machined_free)

G_END_DECLS
