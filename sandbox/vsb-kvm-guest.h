/*
 * vsb-kvm-guest.h: the names a KVM sandbox's builder (host) and
 * virt-sandbox-init (guest) agree on.  Plain C: init has no GLib.
 */
#pragma once

/* On the kernel command line.  No dot in the name: the kernel hands a
 * "key=value" it does not know, without a dot, to init as an
 * environment variable, so init needs no /proc to see it. */
#define VSB_KVM_CMDLINE_FLAG "vsb_vm=1"
#define VSB_KVM_ENV_FLAG "vsb_vm"
/* The 9p tags: the host's / (read-only), init's config directory. */
#define VSB_KVM_TAG_ROOT "vsb-root"
#define VSB_KVM_TAG_CONFIG "vsb-config"
/* A host-bind mount's share: the prefix and the mount's index. */
#define VSB_KVM_TAG_MOUNT "vsb-mount"
/* The virtio-serial port of the stdio protocol; init links
 * /dev/virtio-ports/NAME to it, as udev would. */
#define VSB_KVM_STDIO_PORT "org.virt-sandbox.stdio"
/* Where the initrd keeps its modules and their load order. */
#define VSB_KVM_INITRD_MODULES_DIR "modules"
#define VSB_KVM_INITRD_MODULES_ORDER "modules/order"
