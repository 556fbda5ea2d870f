/*
 * vsb-ctl-state.h: the controller's files in the run directory (see
 * vsb-controller.h for the contract).
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

typedef struct _VsbCtlState VsbCtlState;

/* Create the run directory, take the lock on NAME.pid (failing when a
 * live controller holds it), write our pid, drop a stale NAME.exit and
 * create the staging directory NAME.root. */
VsbCtlState *vsb_ctl_state_acquire(const char *run_dir, const char *name, GError **error);

const char *vsb_ctl_state_staging(VsbCtlState *st);

/* NAME.xml and NAME.state, once init runs. */
bool vsb_ctl_state_publish(VsbCtlState *st, const char *live_xml, pid_t init_pid,
                           GError **error);

/* Bind and listen on NAME.sock (0600); returns the fd. */
int vsb_ctl_state_listen(VsbCtlState *st, GError **error);

/* Remove every file but NAME.exit, which gets @status and @reason.
 * @status < 0: no container ran (setup failed): no NAME.exit either. */
void vsb_ctl_state_finish(VsbCtlState *st, int status, const char *reason);

void vsb_ctl_state_free(VsbCtlState *st);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbCtlState, vsb_ctl_state_free)
