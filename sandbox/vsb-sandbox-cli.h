/*
 * vsb-sandbox-cli.h: virt-sandbox's command line, as libvirt-sandbox
 * 0.8 had it (so its users feel at home), into a sandbox config.
 *
 *   virt-sandbox [OPTIONS] [--] COMMAND [ARGS...]
 *
 * Options stop at the command (POSIX style): in "virt-sandbox ls -l",
 * -l is ls's.  An error names the option as it was typed and its value.
 * Kept apart from main() so that tests feed it argument vectors.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "vsb-sandbox-config.h"

G_BEGIN_DECLS

typedef struct {
    char *uri;                  /* -c; NULL: VSB_SANDBOX_DEFAULT_URI */
    VsbSandboxConfig *config;   /* NULL with -h or -V */
    bool verbose;               /* -v */
    bool debug;                 /* -d (also set in the config) */
    bool version;               /* -V: print the version, do nothing else */
    char *help;                 /* -h: print this, do nothing else */
} VsbSandboxCli;

void vsb_sandbox_cli_free(VsbSandboxCli *cli);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbSandboxCli, vsb_sandbox_cli_free)

/* Parse @argv (argv[0] is the program).  The sandbox runs the caller's
 * identity (SUDO_UID/SUDO_GID through sudo), root with -p, USER with
 * -S; the name is generated unless -n. */
VsbSandboxCli *vsb_sandbox_cli_parse(int argc, const char *const *argv, GError **error);

/* With a terminal on @fd, the program's terminal speaks its language:
 * $TERM passes into the sandbox unless --env set it. */
void vsb_sandbox_cli_inherit_term(VsbSandboxConfig *config, int fd);

G_END_DECLS
