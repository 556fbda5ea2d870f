/*
 * vsb-sandbox-context.h: one run of a sandbox through libvirt.
 *
 *   start   (the daemon started when its socket is absent), connect,
 *           prepare the state directory, export qcow2 images as raw
 *           files (vsb-sandbox-image.h), start a transient domain
 *           (destroyed by the driver too if our connection drops),
 *           open its console;
 *   run     relay stdio with init until the program's exit status
 *           (vsb-sandbox-console.h);
 *   stop    destroy the domain if it still runs, end the image
 *           exports, remove the state directory.  Call it on every path, errors included; it is
 *           idempotent.
 */
#pragma once

#include <glib-object.h>
#include <stdbool.h>

#include "vsb-sandbox-builder.h"
#include "vsb-sandbox-config.h"

G_BEGIN_DECLS

/* Our daemon's socket: never a libvirtd that happens to answer lxc:///. */
#define VSB_SANDBOX_DAEMON_SOCKET RUNSTATEDIR "/virt-sandbox/virt-sandboxd-sock"
#define VSB_SANDBOX_DEFAULT_URI "lxc:///system?socket=" VSB_SANDBOX_DAEMON_SOCKET
/* An auto-started daemon stops after this long without work. */
#define VSB_SANDBOX_DAEMON_TIMEOUT 30

#define VSB_SANDBOX_TYPE_CONTEXT (vsb_sandbox_context_get_type())
G_DECLARE_FINAL_TYPE(VsbSandboxContext, vsb_sandbox_context, VSB, SANDBOX_CONTEXT, GObject)

/* The builder is chosen from @uri (NULL: VSB_SANDBOX_DEFAULT_URI). */
VsbSandboxContext *vsb_sandbox_context_new(const char *uri, VsbSandboxConfig *config,
                                           GError **error);
VsbSandboxBuilder *vsb_sandbox_context_get_builder(VsbSandboxContext *ctx);

/* Where the sandbox's host-side files live; default
 * RUNSTATEDIR/virt-sandbox/sandbox/NAME for root, else
 * $XDG_RUNTIME_DIR/virt-sandbox/NAME. */
void vsb_sandbox_context_set_statedir(VsbSandboxContext *ctx, const char *dir);
/* The daemon to start when the URI names a virt-sandboxd-sock that
 * nothing answers at: @argv (--timeout and --socket-dir are appended);
 * NULL never starts one.  Default { SBINDIR/virt-sandboxd }. */
void vsb_sandbox_context_set_daemon(VsbSandboxContext *ctx, const char *const *argv);

/* Where -s dynamic takes its MCS lease (vsb-sandbox-seclabel.h);
 * default VSB_MCS_LEASE_DIR for root, else
 * $XDG_RUNTIME_DIR/virt-sandbox/mcs.  Every tool sharing categories
 * must use the same one. */
void vsb_sandbox_context_set_lease_dir(VsbSandboxContext *ctx, const char *dir);

bool vsb_sandbox_context_start(VsbSandboxContext *ctx, GError **error);
/* After start() with --shell: the host pty the sandbox's shell is on
 * (vsb-sandbox-shell.h), else NULL. */
const char *vsb_sandbox_context_get_shell_path(VsbSandboxContext *ctx);
/* Relay the tool's stdio (@in_fd may be -1: no stdin). */
bool vsb_sandbox_context_run(VsbSandboxContext *ctx, int in_fd, int out_fd, int err_fd,
                             int *status, GError **error);
/* From a signal source: makes run() return (or not start). */
void vsb_sandbox_context_interrupt(VsbSandboxContext *ctx, int signum);
/* The signal that ended the run (Ctrl-] counts as SIGHUP), or 0. */
int vsb_sandbox_context_get_interrupt(VsbSandboxContext *ctx);
bool vsb_sandbox_context_stop(VsbSandboxContext *ctx, GError **error);

G_END_DECLS
