/*
 * vsb-ctl-console.h: the container's console.
 *
 * The console is a pty of the container's own devpts: the child opens
 * it, binds the slave on /dev/console and makes it init's stdio; the
 * master comes to the controller, which relays it to its own stdio
 * (--foreground) or to one client of the control socket at a time.
 * The controller always reads the master, attached or not, so init
 * never blocks on a console nobody watches; the last 64 KiB are kept
 * and replayed to the next client.  Its own stdout (--foreground) is
 * lossless: when it lags, the controller stops reading the pty rather
 * than block its main loop or drop output.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "vsb-ctl-child.h"

/* Child side: create the console pty, bind it on /dev/console and
 * return master and slave fds (close-on-exec). */
bool vsb_ctl_console_setup(const VsbCtlChildConfig *cfg, int rootfd,
                           int *master, int *slave, GError **error);

typedef struct _VsbCtlConsole VsbCtlConsole;

/* Controller side: takes ownership of @master. */
VsbCtlConsole *vsb_ctl_console_new(int master);

/* Relay to the controller's stdin/stdout (foreground).  When stdin is
 * a terminal it is put in raw mode (restored by _free) and its window
 * size follows. */
void vsb_ctl_console_attach_stdio(VsbCtlConsole *con, int in_fd, int out_fd);

/* Copy the size of the terminal on @tty_fd to the console. */
void vsb_ctl_console_sync_winsize(VsbCtlConsole *con, int tty_fd);

/* Hand the console to a connected client socket (takes ownership of
 * @fd).  Fails if a client is attached and @force is false. */
bool vsb_ctl_console_attach_client(VsbCtlConsole *con, int fd, bool force, GError **error);

/* After the container died: read what is left in the pty (a client
 * gets it if its socket takes it at once). */
void vsb_ctl_console_drain(VsbCtlConsole *con);

/* Last of all: write what stdout has not taken yet, blocking. */
void vsb_ctl_console_flush(VsbCtlConsole *con);

void vsb_ctl_console_free(VsbCtlConsole *con);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbCtlConsole, vsb_ctl_console_free)
