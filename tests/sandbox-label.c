/*
 * sandbox-label: what virt-sandbox -s dynamic does about labels, alone,
 * for tests/guest/selinux-mcs (an enforcing guest where the daemon and
 * a container policy are not needed to see MCS at work):
 *
 *   sandbox-label LEASE-DIR NAME PROCESS-BASE FILE-BASE [PATH...]
 *
 * takes an MCS lease in LEASE-DIR, prints "label=" and "imagelabel=",
 * labels each PATH tree with the image label (where SELinux is
 * enabled), prints "relabelled=yes", then holds everything until its
 * stdin ends, restores the old labels, gives the lease back and prints
 * "restored=yes".  Exit 0, or 1 with a message.
 */
#include <config.h>

#include "vsb-sandbox-seclabel.h"

#include <selinux/selinux.h>
#include <stdio.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GRand) rng = g_rand_new();
    g_autoptr(VsbMcsLease) lease = NULL;
    g_autoptr(VsbRelabel) relabel = vsb_relabel_new();
    g_autofree char *label = NULL, *imagelabel = NULL;
    char buf[256];

    if (argc < 5) {
        fprintf(stderr, "usage: sandbox-label LEASE-DIR NAME PROCESS-BASE FILE-BASE [PATH...]\n");
        return 1;
    }
    if (!(lease = vsb_mcs_lease_take(argv[1], argv[2], rng, &error)) ||
        !(label = vsb_seclabel_with_pair(argv[3], vsb_mcs_lease_get_pair(lease), &error)) ||
        !(imagelabel = vsb_seclabel_with_pair(argv[4], vsb_mcs_lease_get_pair(lease), &error)))
        goto fail;
    printf("label=%s\nimagelabel=%s\n", label, imagelabel);
    for (int i = 5; i < argc && is_selinux_enabled() > 0; i++)
        if (!vsb_relabel_tree(relabel, argv[i], imagelabel, &error))
            goto fail;
    printf("relabelled=yes\n");
    fflush(stdout);
    while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
        ;
    if (!vsb_relabel_restore(relabel, &error))
        goto fail;
    printf("restored=yes\n");
    return 0;

fail:
    fprintf(stderr, "sandbox-label: %s\n", error->message);
    return 1;
}
