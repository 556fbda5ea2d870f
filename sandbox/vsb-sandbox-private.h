/*
 * vsb-sandbox-private.h: what the sandbox library's files share and
 * nobody else needs.
 */
#pragma once

#include <libvirt-gconfig/libvirt-gconfig.h>
#include <libvirt-gobject/libvirt-gobject.h>

/* libvirt-glib 4.0 declares no g_autoptr() cleanups for its types. */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GVirConfigDomain, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GVirConfigDomainOs, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GVirConfigDomainSeclabel, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GVirConfigDomainConsole, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GVirConfigDomainChardevSourcePty, g_object_unref)
