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
/* Where the initrd keeps its modules and their load order: the base
 * set always, each further group (NAME.order) when the command line's
 * VSB_KVM_ENV_LOAD lists it (comma-separated): disks (virtio-blk,
 * ext4), overlay (for mount targets missing from the read-only /),
 * virtiofs (host-bind shares with driver=virtiofs), net (virtio-net,
 * with -N). */
#define VSB_KVM_INITRD_MODULES_DIR "modules"
#define VSB_KVM_INITRD_MODULES_ORDER "modules/order"
#define VSB_KVM_ENV_LOAD "vsb_load"
#define VSB_KVM_MODULES_DISK "disk"
#define VSB_KVM_MODULES_OVERLAY "overlay"
#define VSB_KVM_MODULES_VIRTIOFS "virtiofs"
#define VSB_KVM_MODULES_NET "net"
/* Where init links virtio disks by serial (host-image mounts: the tag
 * VSB_KVM_TAG_MOUNT N; --disk: the disk's tag), as udev would. */
#define VSB_KVM_DISK_BY_TAG "/dev/disk/by-tag"
