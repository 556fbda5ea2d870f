/*
 * vsb-ctl-cgwarm.c: starting the kernel's wait of a cgroup move early
 * (see vsb-ctl-cgwarm.h).
 */
#include <config.h>

#include "vsb-ctl-cgwarm.h"
#include "vsb-cgroup.h"
#include "vsb-util.h"

#include <stdbool.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static gpointer
cgwarm_thread(gpointer unused)
{
    g_autofree char *mountinfo = vsb_file_read_all("/proc/self/mountinfo", NULL, NULL);
    g_autofree char *own = vsb_file_read_all("/proc/thread-self/cgroup", NULL, NULL);
    g_autoptr(GPtrArray) hs = mountinfo ? vsb_cgroup_parse_mountinfo(mountinfo, NULL) : NULL;
    g_autofree char *tid = g_strdup_printf("%ld", (long)syscall(SYS_gettid));

    if (!hs || !own || !vsb_cgroup_parse_proc_cgroup(hs, own, NULL))
        return NULL;
    for (guint i = 0; i < hs->len; i++) {
        const VsbCgroupHierarchy *h = g_ptr_array_index(hs, i);
        bool v2 = h->version == VSB_CGROUP_VERSION_2;
        const char *rel = h->own_path;
        g_autofree char *path = NULL;

        if (!g_str_equal(h->mount_root, "/")) {
            if (!g_str_has_prefix(rel, h->mount_root))
                continue;
            rel += strlen(h->mount_root);
        }
        path = g_build_filename(h->mount_point, rel, v2 ? "cgroup.threads" : "tasks", NULL);
        if (vsb_file_write_str(path, tid, NULL))
            return NULL;   /* one move is enough */
    }
    return NULL;
}

GThread *
vsb_ctl_cgwarm_start(void)
{
    return g_thread_try_new("vsb-cgroup-warm", cgwarm_thread, NULL, NULL);
}

void
vsb_ctl_cgwarm_join(GThread **thread)
{
    if (*thread)
        g_thread_join(g_steal_pointer(thread));
}
