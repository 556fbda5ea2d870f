/*
 * vsb-ctl-sysinfo.h: sysinfo(2) answered for the container.
 *
 * busybox's free and uptime, and sysconf(_SC_PHYS_PAGES) and friends
 * in glibc, ask the kernel through sysinfo(2), which no file system
 * can change.  The container's seccomp filter (vsb-ctl-seccomp.h)
 * hands each sysinfo(2) of its processes to the controller over a
 * seccomp user notification listener; the controller fills the struct
 * from the container's cgroup, the same figures as its /proc/meminfo
 * and /proc/loadavg views, writes it into the caller's memory and lets
 * the call return 0.
 *
 *   totalram   the memory limit (the host's memory when there is none)
 *   freeram    the limit less the cgroup's usage (page cache included,
 *              as MemFree of the view: busybox adds Cached back)
 *   sharedram  its shmem; bufferram 0 (its buffers are in Cached)
 *   totalswap, freeswap  as the view's SwapTotal/SwapFree
 *   procs      the container's threads; loads its load average;
 *   uptime     its CLOCK_BOOTTIME (its time namespace); mem_unit 1
 *
 * 32-bit x86 callers get the kernel's compat layout (mem_unit scaled
 * up until the figures fit 32 bits, as the kernel does).
 *
 * When nobody answers: a notified call waits for the controller, in
 * an interruptible sleep (a signal, SIGKILL included, ends it; the
 * call is then restarted or the task dies).  The controller answers
 * from its main loop, also while it waits for the container's setup.
 * The container cannot outlive its controller (PR_SET_PDEATHSIG), and
 * there is no other server to restart: when the listener is closed (a
 * controller that exits or is killed), every waiting and later call
 * fails at once with ENOSYS, never hangs.  A daemon restart changes
 * nothing (the daemon has no part in it).  Processes that entered the
 * container from outside (virsh lxc-enter-namespace) do not carry the
 * filter and see the host's figures.
 *
 * The price: the kernel allows one notification listener per chain of
 * filters (checked on 6.18: a second SECCOMP_FILTER_FLAG_NEW_LISTENER
 * below ours fails with EBUSY), so a payload that wants a listener of
 * its own (a nested container manager using seccomp notifications)
 * cannot have one in our containers.  Plain filters (systemd's,
 * Docker's default profile) are unaffected.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/sysinfo.h>

#include "vsb-ctl-procviews.h"

/* Pure: the container's sysinfo from the inputs of its /proc views
 * (the memory files, tasks.threads, load, uptime_ns).  False when the
 * host's meminfo is missing. */
bool vsb_sysinfo_fill(const VsbProcInputs *in, struct sysinfo *si);

/* The i386 layout of struct sysinfo (the kernel's compat_sysinfo). */
typedef struct {
    gint32 uptime;
    guint32 loads[3];
    guint32 totalram, freeram, sharedram, bufferram, totalswap, freeswap;
    guint16 procs;
    guint16 pad;
    guint32 totalhigh, freehigh;
    guint32 mem_unit;
    char _f[8];
} VsbSysinfo32;

/* Pure: @si in the compat layout, scaled as the kernel scales it. */
void vsb_sysinfo_to_compat(const struct sysinfo *si, VsbSysinfo32 *out);

/* Controller side: the listener's answers.  @fill gathers the figures
 * (false: the call fails with EIO). */
typedef bool (*VsbCtlSysinfoFillFn)(gpointer opaque, struct sysinfo *si);
typedef struct _VsbCtlSysinfo VsbCtlSysinfo;

/* Takes @listener_fd (a seccomp notification listener). */
VsbCtlSysinfo *vsb_ctl_sysinfo_new(int listener_fd, VsbCtlSysinfoFillFn fill, gpointer opaque);

/* The listener, for poll() before the main loop runs. */
int vsb_ctl_sysinfo_fd(VsbCtlSysinfo *s);

/* Answer one pending call (never blocks once poll() said readable). */
void vsb_ctl_sysinfo_process(VsbCtlSysinfo *s);

/* Answer from the GLib main loop from now on. */
void vsb_ctl_sysinfo_attach(VsbCtlSysinfo *s);

/* Closes the listener: waiting calls fail with ENOSYS. */
void vsb_ctl_sysinfo_free(VsbCtlSysinfo *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbCtlSysinfo, vsb_ctl_sysinfo_free)
