/*
 * vsb-sandbox-shell.h: the host end of virt-sandbox --shell.
 *
 * libvirt-sandbox put its --shell shell on a second console device
 * that users attached to from another terminal.  Our sandboxes have one
 * console, carrying the stdio protocol, so the shell's terminal travels
 * in that protocol (SHELL_* frames, vsb-stdio-proto.h) and the tool
 * gives it a device again: a pty on the host, whose slave the user
 * opens with any serial terminal program (screen, picocom, minicom, or
 * socat -,raw,echo=0 /dev/pts/N) while the program keeps the tool's
 * own stdio.
 *
 * The tool holds the slave open itself, so the pty lives from start to
 * end whether or not anyone is attached, and clients may come and go;
 * the slave is raw, so the shell's own terminal in the sandbox does all
 * echoing and line editing.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

typedef struct _VsbSandboxShell VsbSandboxShell;

/* A new host pty; its slave is owned by @uid:@gid (-1: unchanged), so
 * the user who asked through sudo can open it. */
VsbSandboxShell *vsb_sandbox_shell_new(uid_t uid, gid_t gid, GError **error);
/* The slave's path, e.g. /dev/pts/7. */
const char *vsb_sandbox_shell_get_path(VsbSandboxShell *sh);
/* The master (non-blocking), which the console relays. */
int vsb_sandbox_shell_get_fd(VsbSandboxShell *sh);
void vsb_sandbox_shell_free(VsbSandboxShell *sh);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbSandboxShell, vsb_sandbox_shell_free)
