/*
 * vsb-sandbox-console.h: the tool's end of the stdio protocol
 * (vsb-stdio-proto.h): relays the tool's stdin, stdout and stderr to
 * and from virt-sandbox-init and returns the program's exit status.
 *
 * The bytes to init travel over a VsbSandboxChannel: the domain's
 * console stream from libvirt, or a pair of file descriptors (a
 * controller run directly, tests).
 *
 * With a terminal on stdin, the terminal is put in raw mode for the
 * run (restored afterwards, also on errors), its size follows SIGWINCH,
 * and Ctrl-] detaches.  Nothing is read from stdin before init said
 * READY, and nothing the program wrote is dropped: the relay ends
 * after EXIT, when every frame before it has been written out.  init's
 * own messages (LOG frames) go to stderr.
 */
#pragma once

#include <glib-object.h>
#include <libvirt-gobject/libvirt-gobject.h>
#include <stdbool.h>

G_BEGIN_DECLS

typedef struct _VsbSandboxChannel VsbSandboxChannel;

/* Called from the default main context when @cond (G_IO_IN or
 * G_IO_OUT, or G_IO_HUP/G_IO_ERR) holds; return FALSE to remove. */
typedef gboolean (*VsbSandboxChannelFunc)(VsbSandboxChannel *ch, GIOCondition cond,
                                          gpointer data);

struct _VsbSandboxChannel {
    /* Non-blocking: -1 with G_IO_ERROR_WOULD_BLOCK when nothing can be
     * done now; 0 from recv at the end. */
    gssize (*recv)(VsbSandboxChannel *ch, void *buf, gsize len, GError **error);
    gssize (*send)(VsbSandboxChannel *ch, const void *buf, gsize len, GError **error);
    /* A GSource id on the default main context. */
    guint (*add_watch)(VsbSandboxChannel *ch, GIOCondition cond, VsbSandboxChannelFunc func,
                       gpointer data);
    void (*free)(VsbSandboxChannel *ch);
};

/* Reads @in_fd, writes @out_fd (both made non-blocking; not closed). */
VsbSandboxChannel *vsb_sandbox_channel_new_fds(int in_fd, int out_fd);
/* A non-blocking libvirt stream (a reference is taken). */
VsbSandboxChannel *vsb_sandbox_channel_new_stream(GVirStream *stream);
void vsb_sandbox_channel_free(VsbSandboxChannel *ch);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbSandboxChannel, vsb_sandbox_channel_free)

#define VSB_SANDBOX_TYPE_CONSOLE (vsb_sandbox_console_get_type())
G_DECLARE_FINAL_TYPE(VsbSandboxConsole, vsb_sandbox_console, VSB, SANDBOX_CONSOLE, GObject)

/* Takes @ch.  The local side is the tool's own stdin/stdout/stderr
 * (@in_fd, @out_fd, @err_fd; not closed). */
VsbSandboxConsole *vsb_sandbox_console_new(VsbSandboxChannel *ch, int in_fd, int out_fd,
                                           int err_fd);

/* Whether the program gets a terminal: default isatty(@in_fd). */
void vsb_sandbox_console_set_tty(VsbSandboxConsole *con, bool tty);

/* --shell: also start a shell in the sandbox and relay its terminal
 * to the pty master @fd (vsb-sandbox-shell.h; not closed). */
void vsb_sandbox_console_set_shell(VsbSandboxConsole *con, int fd);

/* Relay until the end, iterating the default main context.  True with
 * *@status the program's exit status (code, or 128+N for signal N).
 * False with @error when the channel ends first, or with
 * VSB_SANDBOX_ERROR_INTERRUPTED after _interrupt(), Ctrl-] (counts as
 * SIGHUP) or when @out_fd is a closed pipe (SIGPIPE, as the program
 * would have died of it). */
bool vsb_sandbox_console_run(VsbSandboxConsole *con, int *status, GError **error);

/* Make _run() return (from a signal handler source): @signum says
 * why, reported by _get_interrupt(). */
void vsb_sandbox_console_interrupt(VsbSandboxConsole *con, int signum);
int vsb_sandbox_console_get_interrupt(VsbSandboxConsole *con);

/* Bytes on the channel that were not part of a valid frame. */
guint64 vsb_sandbox_console_get_noise(VsbSandboxConsole *con);

G_END_DECLS
