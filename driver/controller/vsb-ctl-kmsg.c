/*
 * vsb-ctl-kmsg.c: the container's kernel log ring (see vsb-ctl-kmsg.h).
 */
#include <config.h>

#include "vsb-ctl-kmsg.h"

#include <string.h>
#include <syslog.h>

typedef struct {
    guint64 seq;
    guint64 ts_usec;
    int pri;
    gsize len;
    char text[];
} Record;

struct _VsbKmsg {
    /* of Record*, oldest first from index head: records leave from the
     * front in O(1) and the array is compacted now and then, so that
     * finding a record by its sequence number stays O(1) too */
    GPtrArray *records;
    guint head;
    gsize bytes;             /* text bytes held */
    gsize max_bytes;
    guint64 next_seq;
    void (*notify)(gpointer);
    gpointer opaque;
};

VsbKmsg *
vsb_kmsg_new(gsize max_bytes, void (*notify)(gpointer), gpointer opaque)
{
    VsbKmsg *k = g_new0(VsbKmsg, 1);

    k->records = g_ptr_array_new_with_free_func(g_free);
    k->max_bytes = max_bytes;
    k->notify = notify;
    k->opaque = opaque;
    return k;
}

void
vsb_kmsg_free(VsbKmsg *k)
{
    if (!k)
        return;
    g_ptr_array_unref(k->records);
    g_free(k);
}

guint64
vsb_kmsg_append(VsbKmsg *k, int pri, guint64 ts_usec, const char *text, gsize len)
{
    Record *r;

    len = MIN(len, VSB_KMSG_MAX_TEXT);
    r = g_malloc(sizeof(Record) + len + 1);
    r->seq = k->next_seq++;
    r->ts_usec = ts_usec;
    r->pri = pri;
    r->len = len;
    memcpy(r->text, text, len);
    r->text[len] = '\0';
    g_ptr_array_add(k->records, r);
    k->bytes += len;
    /* Oldest first out, but never the record just written. */
    while (k->bytes > k->max_bytes && k->records->len - k->head > 1) {
        Record *old = g_ptr_array_index(k->records, k->head);
        k->bytes -= old->len;
        g_free(old);
        k->records->pdata[k->head++] = NULL;
    }
    if (k->head > 64 && k->head > k->records->len / 2) {
        g_ptr_array_remove_range(k->records, 0, k->head);
        k->head = 0;
    }
    if (k->notify)
        k->notify(k->opaque);
    return r->seq;
}

guint64
vsb_kmsg_first_seq(const VsbKmsg *k)
{
    const Record *r;

    if (k->head >= k->records->len)
        return k->next_seq;
    r = g_ptr_array_index(k->records, k->head);
    return r->seq;
}

guint64
vsb_kmsg_next_seq(const VsbKmsg *k)
{
    return k->next_seq;
}

char *
vsb_kmsg_format(const VsbKmsg *k, guint64 seq, gsize *len)
{
    guint64 first = vsb_kmsg_first_seq(k);
    const Record *r;
    GString *out;

    if (seq < first || seq >= k->next_seq)
        return NULL;
    /* Sequence numbers are dense: the record's place is its offset. */
    r = g_ptr_array_index(k->records, k->head + (guint)(seq - first));
    out = g_string_sized_new(r->len + 48);
    g_string_append_printf(out, "%d,%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT ",-;", r->pri,
                           r->seq, r->ts_usec);
    for (gsize i = 0; i < r->len; i++) {
        unsigned char c = (unsigned char)r->text[i];
        if (c < ' ' || c >= 127 || c == '\\')
            g_string_append_printf(out, "\\x%02x", c);
        else
            g_string_append_c(out, (char)c);
    }
    g_string_append_c(out, '\n');
    *len = out->len;
    return g_string_free(out, FALSE);
}

int
vsb_kmsg_parse_write(const char *buf, gsize len, const char **text, gsize *text_len)
{
    int facility = LOG_USER >> 3;
    int level = LOG_WARNING;

    if (len >= 3 && buf[0] == '<') {
        gsize i = 1;
        unsigned int v = 0;

        while (i < len && i < 5 && g_ascii_isdigit(buf[i]))
            v = v * 10 + (unsigned int)(buf[i++] - '0');
        if (i > 1 && i < len && buf[i] == '>') {
            level = v & 7;
            if (v >> 3)
                facility = (int)(v >> 3) & 0x7f;
            buf += i + 1;
            len -= i + 1;
        }
    }
    if (len && buf[len - 1] == '\n')
        len--;
    *text = buf;
    *text_len = len;
    return facility << 3 | level;
}
