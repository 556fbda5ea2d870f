/*
 * vsb-ctl-kmsg.h: the container's own kernel log ring, what its
 * /dev/kmsg shows (served by vsb-ctl-fuse.c) instead of the host's.
 *
 * Records are what the container wrote to /dev/kmsg and our own notes
 * about it (its start, OOM kills of its tasks).  Pure code: the caller
 * supplies timestamps; the ring is bounded in bytes and drops its
 * oldest records, as the kernel's does.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

/* Bytes of message text the ring keeps (the kernel's default ring is
 * 128 KiB or more for a whole machine; a container's own messages are
 * few). */
#define VSB_KMSG_RING_BYTES (64 * 1024)
/* Longest record text kept; longer writes are cut, as the kernel cuts
 * at its line limit. */
#define VSB_KMSG_MAX_TEXT 1024

typedef struct _VsbKmsg VsbKmsg;

/* @notify (may be NULL) is called after each append. */
VsbKmsg *vsb_kmsg_new(gsize max_bytes, void (*notify)(gpointer), gpointer opaque);
void vsb_kmsg_free(VsbKmsg *k);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbKmsg, vsb_kmsg_free)

/* Append a record: @pri is facility * 8 + level, @ts_usec the
 * container's CLOCK_MONOTONIC in microseconds.  Returns its sequence
 * number. */
guint64 vsb_kmsg_append(VsbKmsg *k, int pri, guint64 ts_usec, const char *text, gsize len);

/* Sequence numbers: the oldest record kept, and the one the next
 * append gets (first == next: empty). */
guint64 vsb_kmsg_first_seq(const VsbKmsg *k);
guint64 vsb_kmsg_next_seq(const VsbKmsg *k);

/* Record @seq in /dev/kmsg's format, "PRI,SEQ,USEC,-;TEXT\n" (TEXT
 * with bytes below 0x20, 0x7f and above, and '\\' escaped as \xNN), or
 * NULL when @seq is no longer (or not yet) in the ring. */
char *vsb_kmsg_format(const VsbKmsg *k, guint64 seq, gsize *len);

/* A write to /dev/kmsg as the kernel takes it (devkmsg_write()): an
 * optional "<N>" prefix sets facility and level; without one, or with
 * facility 0 (the kernel's own, which user space may not claim), the
 * facility is LOG_USER; the default level is LOG_WARNING (the kernel's
 * default message level).  One trailing newline is dropped.  Returns
 * the priority and points @text into @buf. */
int vsb_kmsg_parse_write(const char *buf, gsize len, const char **text, gsize *text_len);

G_END_DECLS
