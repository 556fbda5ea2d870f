/*
 * vsb-ctl-net.h: the container's network interfaces (<interface> in
 * the domain XML), made with rtnetlink directly (no iproute2 needed).
 *
 * One veth pair per interface.  The host end is named by <target dev>
 * (or "vsb" and eight hex digits, made up here and written into the
 * definition so that the live XML shows it), gets the container's MAC
 * with its first byte fe (a bridge takes its ports' lowest MAC as its
 * own; fe:... never wins, as with libvirt's tap devices), is attached
 * to the bridge (type='bridge'; type='network': the bridge of libvirt's
 * active network, from its status file /run/libvirt/network/NAME.xml)
 * or left alone (type='ethernet'), and brought up.  The container end
 * is created directly in the container's network namespace under its
 * guest name (no clash with the host's eth0), with the MAC and MTU,
 * its <ip> addresses, up (unless <link state='down'/>), then its
 * <route>s.  An interface without <ip> is only brought up (the
 * sandbox's init may run DHCP on it).
 *
 * Runs in the controller, in the host's namespaces, after clone() and
 * before the child is told to go on: init never runs before its
 * interfaces exist.  Teardown deletes the host ends this process made
 * (which takes their peers with them) at once, rather than leaving it
 * to the kernel's asynchronous cleanup of the dead namespace: after a
 * destroy or a failed start, no veth of the container is left.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

#include "vsb-domain-conf.h"

typedef struct VsbCtlNet VsbCtlNet;

/* Nothing is done yet; @def must outlive the result. */
VsbCtlNet *vsb_ctl_net_new(VsbDomainDef *def);

/* Make every interface of the definition for the container whose
 * first process is @pid (its network namespace).  Generated host-side
 * names are stored in @def.  On failure, what was made so far is
 * recorded for vsb_ctl_net_teardown(). */
bool vsb_ctl_net_setup(VsbCtlNet *net, pid_t pid, GError **error);

/* Delete the host ends made by vsb_ctl_net_setup() (all of them, even
 * after a failure, which sets @error); idempotent. */
bool vsb_ctl_net_teardown(VsbCtlNet *net, GError **error);

void vsb_ctl_net_free(VsbCtlNet *net);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbCtlNet, vsb_ctl_net_free)

/* The bridge of libvirt's active network @name, read from its status
 * file in @status_dir (NULL: /run/libvirt/network). */
char *vsb_ctl_net_network_bridge(const char *status_dir, const char *name, GError **error);
