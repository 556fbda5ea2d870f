/*
 * test-driver.c: the driver daemon's domain logic without containers.
 *
 * The pure decisions (list filters, controller files, how a domain's
 * end is reported, which signal init gets, the initctl request), then
 * the driver itself in a temporary directory: definitions, autostart,
 * events, lookups and errors, and the watching of controllers through a
 * fake one (this process holds NAME.pid's lock and writes the files a
 * controller writes), which needs neither root nor a container.
 */
#include <config.h>

#include "vsb-driver.h"
#include "vsb-driver-util.h"
#include "vsb-test-util.h"
#include "vsb-util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

/* ------------------------------------------------------------------ */
/* Pure parts                                                          */

static void
test_list_match(void)
{
    static const struct {
        unsigned int flags;
        bool active, persistent, autostart;
        bool expect;
    } cases[] = {
        { 0, false, true, false, true },
        { VSB_LIST_ACTIVE, true, true, false, true },
        { VSB_LIST_ACTIVE, false, true, false, false },
        { VSB_LIST_INACTIVE, false, true, false, true },
        { VSB_LIST_ACTIVE | VSB_LIST_INACTIVE, false, false, false, true },
        { VSB_LIST_PERSISTENT, true, false, false, false },
        { VSB_LIST_TRANSIENT, true, false, false, true },
        { VSB_LIST_RUNNING, true, true, false, true },
        { VSB_LIST_RUNNING, false, true, false, false },
        { VSB_LIST_SHUTOFF, false, true, false, true },
        { VSB_LIST_SHUTOFF | VSB_LIST_RUNNING, false, true, false, true },
        { VSB_LIST_PAUSED, true, true, false, false },
        { VSB_LIST_OTHER, true, true, false, false },
        { VSB_LIST_AUTOSTART, false, true, true, true },
        { VSB_LIST_AUTOSTART, false, true, false, false },
        { VSB_LIST_NO_AUTOSTART, false, true, false, true },
        { VSB_LIST_MANAGEDSAVE, false, true, false, false },
        { VSB_LIST_NO_MANAGEDSAVE, false, true, false, true },
        { VSB_LIST_HAS_SNAPSHOT, true, true, false, false },
        { VSB_LIST_NO_SNAPSHOT, true, true, false, true },
        { VSB_LIST_INACTIVE | VSB_LIST_AUTOSTART, false, true, true, true },
        { VSB_LIST_INACTIVE | VSB_LIST_AUTOSTART, true, true, true, false },
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        VsbDomainFacts f = {
            .active = cases[i].active,
            .persistent = cases[i].persistent,
            .autostart = cases[i].autostart,
            .state = cases[i].active ? VSB_DOMAIN_STATE_RUNNING : VSB_DOMAIN_STATE_SHUTOFF,
        };
        if (vsb_driver_list_match(cases[i].flags, &f) != cases[i].expect)
            g_error("case %u: flags 0x%x: expected %d", i, cases[i].flags, cases[i].expect);
    }
}

static void
test_parse_state(void)
{
    VsbControllerState st;
    g_autoptr(GError) error = NULL;

    g_assert_true(vsb_driver_parse_state("controller_pid=12\ninit_pid=34\nstarted=1700000000000000\n"
                                         "console=/run/x.sock\nfuture=1\n", &st, &error));
    g_assert_no_error(error);
    g_assert_cmpint(st.controller_pid, ==, 12);
    g_assert_cmpint(st.init_pid, ==, 34);
    g_assert_cmpint(st.started_us, ==, 1700000000000000);

    g_assert_false(vsb_driver_parse_state("controller_pid=12\n", &st, &error));
    g_assert_nonnull(strstr(error->message, "init_pid"));
    g_clear_error(&error);
    g_assert_false(vsb_driver_parse_state("controller_pid=12\ninit_pid=-4\n", &st, &error));
    g_assert_nonnull(strstr(error->message, "Invalid init_pid '-4'"));
    g_clear_error(&error);
    g_assert_false(vsb_driver_parse_state("garbage\n", &st, &error));
    g_assert_nonnull(strstr(error->message, "Malformed line 'garbage'"));
}

static void
test_parse_exit(void)
{
    VsbControllerExit ex;
    g_autoptr(GError) error = NULL;

    g_assert_true(vsb_driver_parse_exit("status=137\nreason=signaled\n", &ex, &error));
    g_assert_cmpint(ex.status, ==, 137);
    g_assert_cmpint(ex.reason, ==, VSB_EXIT_SIGNALED);
    g_assert_true(vsb_driver_parse_exit("reason=destroyed\nstatus=0", &ex, &error));
    g_assert_cmpint(ex.reason, ==, VSB_EXIT_DESTROYED);
    g_assert_true(vsb_driver_parse_exit("status=0\nreason=exited\n", &ex, &error));
    g_assert_cmpint(ex.reason, ==, VSB_EXIT_EXITED);
    g_assert_true(vsb_driver_parse_exit("status=1\nreason=error\n", &ex, &error));
    g_assert_cmpint(ex.reason, ==, VSB_EXIT_ERROR);
    g_assert_no_error(error);

    g_assert_false(vsb_driver_parse_exit("status=0\n", &ex, &error));
    g_assert_nonnull(strstr(error->message, "lacks reason"));
    g_clear_error(&error);
    g_assert_false(vsb_driver_parse_exit("status=0\nreason=eaten\n", &ex, &error));
    g_assert_nonnull(strstr(error->message, "Unknown reason 'eaten'"));
    g_clear_error(&error);
    g_assert_false(vsb_driver_parse_exit("status=300\nreason=exited\n", &ex, &error));
    g_assert_nonnull(strstr(error->message, "Invalid status '300'"));
}

static void
test_stop_outcome(void)
{
    g_autoptr(VsbDomainDef) def = vsb_domain_def_new();
    static const struct {
        int status;              /* -1: no exit file */
        VsbExitReason reason;
        VsbDomainRequest request;
        VsbDomainLifecycleAction on_reboot, on_poweroff, on_crash;
        int detail;
        int shutoff;
        bool restart;
    } cases[] = {
        /* init exits: shutdown, as libvirt reports it */
        { 0, VSB_EXIT_EXITED, VSB_DOMAIN_REQUEST_NONE, VSB_DOMAIN_LIFECYCLE_RESTART,
          VSB_DOMAIN_LIFECYCLE_DESTROY, VSB_DOMAIN_LIFECYCLE_DESTROY,
          VSB_EVENT_STOPPED_SHUTDOWN, VSB_SHUTOFF_SHUTDOWN, false },
        { 3, VSB_EXIT_EXITED, VSB_DOMAIN_REQUEST_NONE, VSB_DOMAIN_LIFECYCLE_RESTART,
          VSB_DOMAIN_LIFECYCLE_DESTROY, VSB_DOMAIN_LIFECYCLE_DESTROY,
          VSB_EVENT_STOPPED_SHUTDOWN, VSB_SHUTOFF_SHUTDOWN, false },
        /* killed by a signal: still shutdown (libvirt); on_crash decides a restart */
        { 137, VSB_EXIT_SIGNALED, VSB_DOMAIN_REQUEST_NONE, VSB_DOMAIN_LIFECYCLE_RESTART,
          VSB_DOMAIN_LIFECYCLE_DESTROY, VSB_DOMAIN_LIFECYCLE_DESTROY,
          VSB_EVENT_STOPPED_SHUTDOWN, VSB_SHUTOFF_SHUTDOWN, false },
        { 137, VSB_EXIT_SIGNALED, VSB_DOMAIN_REQUEST_NONE, VSB_DOMAIN_LIFECYCLE_DESTROY,
          VSB_DOMAIN_LIFECYCLE_DESTROY, VSB_DOMAIN_LIFECYCLE_RESTART,
          VSB_EVENT_STOPPED_SHUTDOWN, VSB_SHUTOFF_SHUTDOWN, true },
        /* reboot(2) inside: SIGHUP, <on_reboot> */
        { 129, VSB_EXIT_SIGNALED, VSB_DOMAIN_REQUEST_NONE, VSB_DOMAIN_LIFECYCLE_RESTART,
          VSB_DOMAIN_LIFECYCLE_DESTROY, VSB_DOMAIN_LIFECYCLE_DESTROY,
          VSB_EVENT_STOPPED_SHUTDOWN, VSB_SHUTOFF_SHUTDOWN, true },
        { 129, VSB_EXIT_SIGNALED, VSB_DOMAIN_REQUEST_NONE, VSB_DOMAIN_LIFECYCLE_DESTROY,
          VSB_DOMAIN_LIFECYCLE_RESTART, VSB_DOMAIN_LIFECYCLE_DESTROY,
          VSB_EVENT_STOPPED_SHUTDOWN, VSB_SHUTOFF_SHUTDOWN, false },
        /* exit status 129 is not a reboot */
        { 129, VSB_EXIT_EXITED, VSB_DOMAIN_REQUEST_NONE, VSB_DOMAIN_LIFECYCLE_RESTART,
          VSB_DOMAIN_LIFECYCLE_DESTROY, VSB_DOMAIN_LIFECYCLE_DESTROY,
          VSB_EVENT_STOPPED_SHUTDOWN, VSB_SHUTOFF_SHUTDOWN, false },
        /* poweroff inside: SIGINT, <on_poweroff> */
        { 130, VSB_EXIT_SIGNALED, VSB_DOMAIN_REQUEST_NONE, VSB_DOMAIN_LIFECYCLE_RESTART,
          VSB_DOMAIN_LIFECYCLE_DESTROY, VSB_DOMAIN_LIFECYCLE_RESTART,
          VSB_EVENT_STOPPED_SHUTDOWN, VSB_SHUTOFF_SHUTDOWN, false },
        { 130, VSB_EXIT_SIGNALED, VSB_DOMAIN_REQUEST_NONE, VSB_DOMAIN_LIFECYCLE_DESTROY,
          VSB_DOMAIN_LIFECYCLE_RESTART, VSB_DOMAIN_LIFECYCLE_DESTROY,
          VSB_EVENT_STOPPED_SHUTDOWN, VSB_SHUTOFF_SHUTDOWN, true },
        { 0, VSB_EXIT_EXITED, VSB_DOMAIN_REQUEST_NONE, VSB_DOMAIN_LIFECYCLE_DESTROY,
          VSB_DOMAIN_LIFECYCLE_RESTART, VSB_DOMAIN_LIFECYCLE_DESTROY,
          VSB_EVENT_STOPPED_SHUTDOWN, VSB_SHUTOFF_SHUTDOWN, true },
        /* a shutdown we asked for is final */
        { 0, VSB_EXIT_EXITED, VSB_DOMAIN_REQUEST_SHUTDOWN, VSB_DOMAIN_LIFECYCLE_RESTART,
          VSB_DOMAIN_LIFECYCLE_RESTART, VSB_DOMAIN_LIFECYCLE_RESTART,
          VSB_EVENT_STOPPED_SHUTDOWN, VSB_SHUTOFF_SHUTDOWN, false },
        /* a reboot we asked for: whatever way init ends */
        { 0, VSB_EXIT_EXITED, VSB_DOMAIN_REQUEST_REBOOT, VSB_DOMAIN_LIFECYCLE_RESTART,
          VSB_DOMAIN_LIFECYCLE_DESTROY, VSB_DOMAIN_LIFECYCLE_DESTROY,
          VSB_EVENT_STOPPED_SHUTDOWN, VSB_SHUTOFF_SHUTDOWN, true },
        { 0, VSB_EXIT_DESTROYED, VSB_DOMAIN_REQUEST_RESTART, VSB_DOMAIN_LIFECYCLE_RESTART,
          VSB_DOMAIN_LIFECYCLE_DESTROY, VSB_DOMAIN_LIFECYCLE_DESTROY,
          VSB_EVENT_STOPPED_SHUTDOWN, VSB_SHUTOFF_SHUTDOWN, true },
        { 0, VSB_EXIT_DESTROYED, VSB_DOMAIN_REQUEST_RESTART, VSB_DOMAIN_LIFECYCLE_DESTROY,
          VSB_DOMAIN_LIFECYCLE_DESTROY, VSB_DOMAIN_LIFECYCLE_DESTROY,
          VSB_EVENT_STOPPED_SHUTDOWN, VSB_SHUTOFF_SHUTDOWN, false },
        /* destroyed: by us or by someone on the control socket */
        { 137, VSB_EXIT_DESTROYED, VSB_DOMAIN_REQUEST_DESTROY, VSB_DOMAIN_LIFECYCLE_RESTART,
          VSB_DOMAIN_LIFECYCLE_RESTART, VSB_DOMAIN_LIFECYCLE_RESTART,
          VSB_EVENT_STOPPED_DESTROYED, VSB_SHUTOFF_DESTROYED, false },
        { 137, VSB_EXIT_DESTROYED, VSB_DOMAIN_REQUEST_NONE, VSB_DOMAIN_LIFECYCLE_RESTART,
          VSB_DOMAIN_LIFECYCLE_RESTART, VSB_DOMAIN_LIFECYCLE_RESTART,
          VSB_EVENT_STOPPED_DESTROYED, VSB_SHUTOFF_DESTROYED, false },
        { -1, 0, VSB_DOMAIN_REQUEST_DESTROY, VSB_DOMAIN_LIFECYCLE_RESTART,
          VSB_DOMAIN_LIFECYCLE_DESTROY, VSB_DOMAIN_LIFECYCLE_DESTROY,
          VSB_EVENT_STOPPED_DESTROYED, VSB_SHUTOFF_DESTROYED, false },
        /* the controller failed, or vanished */
        { 1, VSB_EXIT_ERROR, VSB_DOMAIN_REQUEST_NONE, VSB_DOMAIN_LIFECYCLE_RESTART,
          VSB_DOMAIN_LIFECYCLE_RESTART, VSB_DOMAIN_LIFECYCLE_RESTART,
          VSB_EVENT_STOPPED_FAILED, VSB_SHUTOFF_FAILED, false },
        { -1, 0, VSB_DOMAIN_REQUEST_NONE, VSB_DOMAIN_LIFECYCLE_RESTART,
          VSB_DOMAIN_LIFECYCLE_RESTART, VSB_DOMAIN_LIFECYCLE_RESTART,
          VSB_EVENT_STOPPED_FAILED, VSB_SHUTOFF_FAILED, false },
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        VsbControllerExit ex = { .status = cases[i].status, .reason = cases[i].reason };
        VsbStopOutcome out;

        def->on_reboot = cases[i].on_reboot;
        def->on_poweroff = cases[i].on_poweroff;
        def->on_crash = cases[i].on_crash;
        vsb_driver_stop_outcome(cases[i].status < 0 ? NULL : &ex, cases[i].request, def, &out);
        if (out.event_detail != cases[i].detail || out.shutoff_reason != cases[i].shutoff ||
            out.restart != cases[i].restart)
            g_error("case %u: got detail %d shutoff %d restart %d", i, out.event_detail,
                    out.shutoff_reason, out.restart);
    }
}

static void
test_init_signal(void)
{
    g_assert_cmpint(vsb_driver_init_signal("systemd", "/usr/lib/systemd/systemd", false), ==,
                    SIGRTMIN + 4);
    g_assert_cmpint(vsb_driver_init_signal("systemd", "/usr/lib/systemd/systemd", true), ==,
                    SIGRTMIN + 5);
    g_assert_cmpint(vsb_driver_init_signal(NULL, "/lib/systemd/systemd (deleted)", false), ==,
                    SIGRTMIN + 4);
    g_assert_cmpint(vsb_driver_init_signal("init", "/bin/busybox", false), ==, SIGUSR2);
    g_assert_cmpint(vsb_driver_init_signal("init", "/bin/busybox", true), ==, SIGTERM);
    /* busybox's shell is the same binary: not busybox init */
    g_assert_cmpint(vsb_driver_init_signal("sh", "/bin/busybox", false), ==, SIGTERM);
    g_assert_cmpint(vsb_driver_init_signal("init", "/sbin/init", false), ==, SIGTERM);
    g_assert_cmpint(vsb_driver_init_signal("bash", "/usr/bin/bash", true), ==, SIGHUP);
    g_assert_cmpint(vsb_driver_init_signal(NULL, NULL, false), ==, SIGTERM);
}

static void
test_initctl_request(void)
{
    unsigned char buf[VSB_INITCTL_REQUEST_SIZE];
    int32_t words[4];

    memset(buf, 0xaa, sizeof(buf));
    vsb_driver_initctl_request('0', buf);
    memcpy(words, buf, sizeof(words));
    g_assert_cmphex(words[0], ==, 0x03091969);
    g_assert_cmpint(words[1], ==, 1);
    g_assert_cmpint(words[2], ==, '0');
    g_assert_cmpint(words[3], ==, 0);
    for (guint i = sizeof(words); i < sizeof(buf); i++)
        g_assert_cmpint(buf[i], ==, 0);
    vsb_driver_initctl_request('6', buf);
    memcpy(words, buf, sizeof(words));
    g_assert_cmpint(words[2], ==, '6');
}

static void
test_parsers(void)
{
    g_autoptr(GArray) cpus = NULL;
    g_autoptr(GError) error = NULL;

    cpus = vsb_driver_parse_cpulist("0-3,8,10-11\n", &error);
    g_assert_no_error(error);
    g_assert_cmpuint(cpus->len, ==, 7);
    g_assert_cmpuint(g_array_index(cpus, guint, 4), ==, 8);
    g_assert_cmpuint(g_array_index(cpus, guint, 6), ==, 11);
    g_clear_pointer(&cpus, g_array_unref);
    cpus = vsb_driver_parse_cpulist("", &error);
    g_assert_no_error(error);
    g_assert_cmpuint(cpus->len, ==, 0);
    g_clear_pointer(&cpus, g_array_unref);
    g_assert_null(vsb_driver_parse_cpulist("3-1", &error));
    g_clear_error(&error);
    g_assert_null(vsb_driver_parse_cpulist("0,x", &error));
    g_clear_error(&error);
    g_assert_null(vsb_driver_parse_cpulist("2,1", &error));
    g_clear_error(&error);

    g_assert_cmpint(vsb_driver_parse_ready("ok 4242", &error), ==, 4242);
    g_assert_no_error(error);
    g_assert_cmpint(vsb_driver_parse_ready("error /x: No such file or directory", &error), ==, 0);
    g_assert_cmpstr(error->message, ==, "/x: No such file or directory");
    g_clear_error(&error);
    g_assert_cmpint(vsb_driver_parse_ready("ok", &error), ==, 0);
    g_assert_nonnull(strstr(error->message, "instead of 'ok PID'"));
}

/* ------------------------------------------------------------------ */
/* The driver in a temporary directory                                 */

typedef struct {
    char *tmp;
    char *config_dir;
    char *run_dir;
    VsbDriverConfig cfg;
    VsbDriver *drv;
    GString *events;
} Fixture;

#define UUID_A "c7a5fdbd-edaf-9455-926a-d65c16db1809"
#define UUID_B "0b3e1c52-8f0c-4a51-9d0a-6c2a5e1f7d11"

static char *
domain_xml(const char *name, const char *uuid)
{
    return g_strdup_printf("<domain type='lxc'>\n  <name>%s</name>\n  <uuid>%s</uuid>\n"
                           "  <memory unit='KiB'>65536</memory>\n"
                           "  <os>\n    <type>exe</type>\n    <init>/bin/sh</init>\n  </os>\n"
                           "</domain>\n", name, uuid);
}

static void
on_event(const VsbDomainRef *ref, VsbEventType event, int detail, gpointer opaque)
{
    Fixture *f = opaque;

    g_string_append_printf(f->events, "%s:%d:%d:%d;", ref->name, event, detail, ref->id);
}

static void
driver_open(Fixture *f)
{
    g_autoptr(GError) error = NULL;

    f->drv = vsb_driver_new(&f->cfg, &error);
    g_assert_no_error(error);
    vsb_driver_add_event_listener(f->drv, on_event, f);
    g_string_truncate(f->events, 0);
}

static void
fixture_setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    f->tmp = g_dir_make_tmp("vsb-test-driver-XXXXXX", &error);
    g_assert_no_error(error);
    f->config_dir = g_build_filename(f->tmp, "etc", NULL);
    f->run_dir = g_build_filename(f->tmp, "run", NULL);
    f->cfg.config_dir = f->config_dir;
    f->cfg.run_dir = f->run_dir;
    f->cfg.log_dir = f->tmp;
    f->cfg.controller = "/nonexistent/virt-sandbox-controller";
    f->events = g_string_new(NULL);
    driver_open(f);
}

static void
rm_rf(const char *path)
{
    g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
    const char *e;

    while (dir && (e = g_dir_read_name(dir))) {
        g_autofree char *p = g_build_filename(path, e, NULL);
        if (g_file_test(p, G_FILE_TEST_IS_DIR) && !g_file_test(p, G_FILE_TEST_IS_SYMLINK))
            rm_rf(p);
        else
            g_unlink(p);
    }
    g_rmdir(path);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
    g_clear_pointer(&f->drv, vsb_driver_free);
    rm_rf(f->tmp);
    g_free(f->tmp);
    g_free(f->config_dir);
    g_free(f->run_dir);
    g_string_free(f->events, TRUE);
}

static VsbDomain *
define(Fixture *f, const char *name, const char *uuid)
{
    g_autofree char *xml = domain_xml(name, uuid);
    g_autoptr(GError) error = NULL;
    VsbDomain *dom = vsb_driver_define_xml(f->drv, xml, &error);

    g_assert_no_error(error);
    g_assert_nonnull(dom);
    return dom;
}

static void
test_define_undefine(Fixture *f, gconstpointer data)
{
    g_autofree char *path = g_build_filename(f->config_dir, "alpha.xml", NULL);
    g_autofree char *xml = domain_xml("alpha", UUID_B);
    g_autofree char *xml2 = domain_xml("beta", UUID_A);
    g_autofree char *saved = NULL;
    g_autoptr(GError) error = NULL;
    VsbDomain *dom = define(f, "alpha", UUID_A);

    g_assert_cmpstr(f->events->str, ==, "alpha:0:0:-1;");
    g_assert_true(g_file_get_contents(path, &saved, NULL, NULL));
    g_assert_nonnull(strstr(saved, "<uuid>" UUID_A "</uuid>"));
    g_assert_true(vsb_domain_is_persistent(dom));
    g_assert_false(vsb_domain_is_active(dom));
    g_assert_cmpint(vsb_domain_get_id(dom), ==, -1);
    g_assert_cmpint(vsb_domain_get_state(dom, NULL), ==, VSB_DOMAIN_STATE_SHUTOFF);

    /* again: updated */
    define(f, "alpha", UUID_A);
    g_assert_cmpstr(f->events->str, ==, "alpha:0:0:-1;alpha:0:1:-1;");

    /* the name with another uuid, the uuid with another name */
    g_assert_null(vsb_driver_define_xml(f->drv, xml, &error));
    g_assert_error(error, VSB_DRIVER_ERROR, VSB_DRIVER_ERROR_EXISTS);
    g_assert_cmpstr(error->message, ==, "operation failed: domain 'alpha' already exists with "
                    "uuid " UUID_A);
    g_clear_error(&error);
    g_assert_null(vsb_driver_define_xml(f->drv, xml2, &error));
    g_assert_error(error, VSB_DRIVER_ERROR, VSB_DRIVER_ERROR_EXISTS);
    g_assert_cmpstr(error->message, ==, "operation failed: domain 'alpha' is already defined "
                    "with uuid " UUID_A);
    g_clear_error(&error);
    /* bad XML: the conf layer's error */
    g_assert_null(vsb_driver_define_xml(f->drv, "<domain type='lxc'>", &error));
    g_assert_true(error->domain == VSB_DOMAIN_CONF_ERROR);
    g_clear_error(&error);

    /* no temporary file left behind */
    {
        g_autoptr(GDir) dir = g_dir_open(f->config_dir, 0, NULL);
        const char *e;
        while ((e = g_dir_read_name(dir)))
            g_assert_true(g_str_equal(e, "alpha.xml"));
    }

    g_string_truncate(f->events, 0);
    g_assert_true(vsb_driver_undefine(f->drv, dom, &error));
    g_assert_no_error(error);
    g_assert_cmpstr(f->events->str, ==, "alpha:1:0:-1;");
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    g_assert_null(vsb_driver_lookup_by_name(f->drv, "alpha", &error));
    g_assert_error(error, VSB_DRIVER_ERROR, VSB_DRIVER_ERROR_NO_DOMAIN);
    g_assert_cmpstr(error->message, ==, "Domain not found: no domain with matching name 'alpha'");
}

static void
test_persistence_and_autostart(Fixture *f, gconstpointer data)
{
    g_autofree char *link = g_build_filename(f->config_dir, "autostart", "alpha.xml", NULL);
    g_autofree char *target = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) all = NULL;
    g_autoptr(GPtrArray) auto_ = NULL;
    g_autoptr(GPtrArray) active = NULL;
    VsbDomain *dom = define(f, "alpha", UUID_A);

    define(f, "beta", UUID_B);
    g_assert_true(vsb_driver_set_autostart(f->drv, dom, true, &error));
    g_assert_no_error(error);
    target = g_file_read_link(link, NULL);
    g_assert_nonnull(target);
    g_assert_true(g_str_has_suffix(target, "/etc/alpha.xml"));

    /* a new driver (a daemon restart) finds both, and the autostart */
    vsb_driver_free(f->drv);
    driver_open(f);
    all = vsb_driver_list(f->drv, 0);
    g_assert_cmpuint(all->len, ==, 2);
    g_assert_cmpstr(vsb_domain_get_name(all->pdata[0]), ==, "alpha");
    g_assert_cmpstr(vsb_domain_get_name(all->pdata[1]), ==, "beta");
    auto_ = vsb_driver_list(f->drv, VSB_LIST_AUTOSTART);
    g_assert_cmpuint(auto_->len, ==, 1);
    dom = auto_->pdata[0];
    g_assert_true(vsb_domain_get_autostart(dom));
    active = vsb_driver_list(f->drv, VSB_LIST_ACTIVE);
    g_assert_cmpuint(active->len, ==, 0);
    g_assert_false(vsb_driver_has_active(f->drv));

    /* lookups */
    {
        unsigned char uuid[16];
        VsbDomainRef ref = { 0 };
        g_assert_true(vsb_domain_uuid_parse(UUID_B, uuid));
        g_assert_cmpstr(vsb_domain_get_name(vsb_driver_lookup_by_uuid(f->drv, uuid, &error)), ==,
                        "beta");
        memcpy(ref.uuid, uuid, 16);
        g_assert_cmpstr(vsb_domain_get_name(vsb_driver_lookup_ref(f->drv, &ref, &error)), ==,
                        "beta");
        g_assert_no_error(error);
        uuid[0] ^= 1;
        memcpy(ref.uuid, uuid, 16);
        ref.name = (char *)"beta";
        g_assert_null(vsb_driver_lookup_ref(f->drv, &ref, &error));
        g_assert_nonnull(strstr(error->message, "no domain with matching uuid '"));
        g_assert_true(g_str_has_suffix(error->message, "' (beta)"));
        g_clear_error(&error);
        g_assert_null(vsb_driver_lookup_by_id(f->drv, 1, &error));
        g_assert_cmpstr(error->message, ==, "Domain not found: no domain with matching id 1");
        g_clear_error(&error);
    }

    /* not running: these are refused with libvirt's words */
    g_assert_false(vsb_driver_destroy(f->drv, dom, &error));
    g_assert_error(error, VSB_DRIVER_ERROR, VSB_DRIVER_ERROR_OPERATION_INVALID);
    g_assert_cmpstr(error->message, ==, "Requested operation is not valid: domain is not running");
    g_clear_error(&error);
    g_assert_false(vsb_driver_shutdown(f->drv, dom, 0, &error));
    g_assert_error(error, VSB_DRIVER_ERROR, VSB_DRIVER_ERROR_OPERATION_INVALID);
    g_clear_error(&error);
    g_assert_false(vsb_driver_shutdown(f->drv, dom, 1 << 9, &error));
    g_assert_error(error, VSB_DRIVER_ERROR, VSB_DRIVER_ERROR_UNSUPPORTED_FLAGS);
    g_assert_cmpstr(error->message, ==, "invalid argument: unsupported flags (0x200) in function "
                    "vsb_driver_shutdown");
    g_clear_error(&error);
    g_assert_cmpint(vsb_driver_open_console(f->drv, dom, false, &error), ==, -1);
    g_assert_error(error, VSB_DRIVER_ERROR, VSB_DRIVER_ERROR_OPERATION_INVALID);
    g_clear_error(&error);
    g_assert_null(vsb_driver_open_namespaces(f->drv, dom, &error));
    g_assert_error(error, VSB_DRIVER_ERROR, VSB_DRIVER_ERROR_OPERATION_INVALID);
    g_clear_error(&error);

    /* autostart off: the link goes */
    g_assert_true(vsb_driver_set_autostart(f->drv, dom, false, &error));
    g_assert_false(g_file_test(link, G_FILE_TEST_EXISTS));

    /* undefine takes the link too */
    g_assert_true(vsb_driver_set_autostart(f->drv, dom, true, &error));
    g_assert_true(vsb_driver_undefine(f->drv, dom, &error));
    g_assert_no_error(error);
    g_assert_false(g_file_test(link, G_FILE_TEST_IS_SYMLINK));
}

static void
test_start_failure(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *xml = domain_xml("gamma", UUID_B);
    VsbDomain *dom = define(f, "alpha", UUID_A);

    g_string_truncate(f->events, 0);
    g_assert_false(vsb_driver_start(f->drv, dom, &error));
    g_assert_error(error, VSB_DRIVER_ERROR, VSB_DRIVER_ERROR_OPERATION_FAILED);
    g_assert_cmpstr(error->message, ==, "operation failed: guest failed to start: Cannot execute "
                    "/nonexistent/virt-sandbox-controller: No such file or directory");
    g_clear_error(&error);
    g_assert_false(vsb_domain_is_active(dom));
    g_assert_cmpstr(f->events->str, ==, "");

    /* a transient domain that cannot start is not kept */
    g_assert_null(vsb_driver_create_xml(f->drv, xml, &error));
    g_assert_error(error, VSB_DRIVER_ERROR, VSB_DRIVER_ERROR_OPERATION_FAILED);
    g_clear_error(&error);
    g_assert_null(vsb_driver_lookup_by_name(f->drv, "gamma", NULL));
    /* nor the start request */
    {
        g_autoptr(GDir) dir = g_dir_open(f->run_dir, 0, NULL);
        g_assert_null(g_dir_read_name(dir));
    }
}

static void
test_bad_configs_skipped(Fixture *f, gconstpointer data)
{
    g_autofree char *bad = g_build_filename(f->config_dir, "broken.xml", NULL);
    g_autofree char *misnamed = g_build_filename(f->config_dir, "other.xml", NULL);
    g_autofree char *xml = domain_xml("alpha", UUID_A);
    g_autoptr(GPtrArray) all = NULL;

    define(f, "alpha", UUID_A);
    g_assert_true(g_file_set_contents(bad, "<domain", -1, NULL));
    g_assert_true(g_file_set_contents(misnamed, xml, -1, NULL));
    vsb_driver_free(f->drv);
    g_test_expect_message(NULL, G_LOG_LEVEL_WARNING, "Cannot load domain definition*broken.xml*");
    g_test_expect_message(NULL, G_LOG_LEVEL_WARNING, "*other.xml names domain 'alpha', ignoring");
    driver_open(f);
    g_test_assert_expected_messages();
    all = vsb_driver_list(f->drv, 0);
    g_assert_cmpuint(all->len, ==, 1);
}

static void
test_capabilities_nodeinfo(Fixture *f, gconstpointer data)
{
    g_autofree char *caps = vsb_driver_get_capabilities(f->drv);
    g_autoptr(GError) error = NULL;
    VsbNodeInfo ni;

    g_assert_nonnull(strstr(caps, "<capabilities>"));
    g_assert_nonnull(strstr(caps, "<os_type>exe</os_type>"));
    g_assert_nonnull(strstr(caps, "<domain type='lxc'/>"));
    g_assert_nonnull(strstr(caps, "<emulator>/nonexistent/virt-sandbox-controller</emulator>"));
    g_assert_nonnull(strstr(caps, "<cells num='"));

    g_assert_true(vsb_driver_get_node_info(f->drv, &ni, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(ni.cpus, ==, (guint)sysconf(_SC_NPROCESSORS_ONLN));
    g_assert_cmpuint(ni.nodes * ni.sockets * ni.cores * ni.threads, ==, ni.cpus);
    g_assert_cmpuint(ni.memory_kib, >, 0);
    g_assert_cmpstr(ni.model, !=, "");
}

/* ---- a fake controller: the files, and the lock held by us ---- */

static int
fake_controller(Fixture *f, const char *name, const char *uuid, pid_t init_pid)
{
    g_autofree char *pid_path = g_strdup_printf("%s/%s.pid", f->run_dir, name);
    g_autofree char *state_path = g_strdup_printf("%s/%s.state", f->run_dir, name);
    g_autofree char *xml_path = g_strdup_printf("%s/%s.xml", f->run_dir, name);
    g_autofree char *xml = domain_xml(name, uuid);
    g_autofree char *state = g_strdup_printf("controller_pid=%d\ninit_pid=%d\nstarted=%"
                                             G_GINT64_FORMAT "\n", (int)getpid(), (int)init_pid,
                                             g_get_real_time());
    g_autofree char *pid = g_strdup_printf("%d\n", (int)getpid());
    int fd = open(pid_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(flock(fd, LOCK_EX | LOCK_NB), ==, 0);
    g_assert_cmpint(write(fd, pid, strlen(pid)), ==, (ssize_t)strlen(pid));
    g_assert_true(vsb_file_write_atomic(xml_path, xml, strlen(xml), 0600, NULL));
    g_assert_true(vsb_file_write_atomic(state_path, state, strlen(state), 0644, NULL));
    return fd;
}

/* What the controller does at its end. */
static void
fake_controller_exit(Fixture *f, const char *name, int lock_fd, const char *exit_text)
{
    static const char *const exts[] = { "xml", "state" };

    for (guint i = 0; i < G_N_ELEMENTS(exts); i++) {
        g_autofree char *p = g_strdup_printf("%s/%s.%s", f->run_dir, name, exts[i]);
        g_unlink(p);
    }
    if (exit_text) {
        g_autofree char *p = g_strdup_printf("%s/%s.exit", f->run_dir, name);
        g_assert_true(vsb_file_write_atomic(p, exit_text, strlen(exit_text), 0644, NULL));
        g_autofree char *pid_path = g_strdup_printf("%s/%s.pid", f->run_dir, name);
        g_unlink(pid_path);
    }
    close(lock_fd);
}

static bool
wait_for(Fixture *f, const char *what)
{
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    while (!strstr(f->events->str, what)) {
        if (g_get_monotonic_time() > deadline)
            return false;
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
    return true;
}

static void
test_reattach_and_watch(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *exit_b = g_strdup_printf("%s/beta.exit", f->run_dir);
    g_autofree char *stale_pid = g_strdup_printf("%s/gamma.pid", f->run_dir);
    g_autofree char *stale_state = g_strdup_printf("%s/gamma.state", f->run_dir);
    g_autofree char *expect = NULL;
    /* A pid that is no container's init: nobody is killed. */
    pid_t init_pid = getppid();
    int lock_a, lock_t;
    VsbDomain *dom;

    define(f, "alpha", UUID_A);
    define(f, "beta", UUID_B);
    vsb_driver_free(f->drv);
    f->drv = NULL;

    /* While "the daemon" is down: alpha runs, a transient one runs,
     * beta ended, gamma's controller was killed hard. */
    lock_a = fake_controller(f, "alpha", UUID_A, init_pid);
    lock_t = fake_controller(f, "trans", "5e0a52d6-7c1f-4bd2-8a8e-1d0f9c7b6a55", init_pid);
    g_assert_true(g_file_set_contents(exit_b, "status=0\nreason=destroyed\n", -1, NULL));
    g_assert_true(g_file_set_contents(stale_pid, "1\n", -1, NULL));
    g_assert_true(g_file_set_contents(stale_state, "controller_pid=1\ninit_pid=1\n", -1, NULL));

    driver_open(f);
    dom = vsb_driver_lookup_by_name(f->drv, "alpha", &error);
    g_assert_no_error(error);
    g_assert_true(vsb_domain_is_active(dom));
    g_assert_true(vsb_domain_is_persistent(dom));
    g_assert_cmpint(vsb_domain_get_id(dom), ==, init_pid);
    g_assert_true(vsb_driver_lookup_by_id(f->drv, init_pid, NULL) != NULL);
    dom = vsb_driver_lookup_by_name(f->drv, "trans", &error);
    g_assert_no_error(error);
    g_assert_true(vsb_domain_is_active(dom));
    g_assert_false(vsb_domain_is_persistent(dom));
    g_assert_true(vsb_driver_has_active(f->drv));
    /* beta: collected, shut off as destroyed; gamma's leftovers gone */
    dom = vsb_driver_lookup_by_name(f->drv, "beta", &error);
    g_assert_false(vsb_domain_is_active(dom));
    {
        int reason;
        g_assert_cmpint(vsb_domain_get_state(dom, &reason), ==, VSB_DOMAIN_STATE_SHUTOFF);
        g_assert_cmpint(reason, ==, VSB_SHUTOFF_DESTROYED);
    }
    g_assert_false(g_file_test(exit_b, G_FILE_TEST_EXISTS));
    g_assert_false(g_file_test(stale_pid, G_FILE_TEST_EXISTS));
    g_assert_false(g_file_test(stale_state, G_FILE_TEST_EXISTS));

    /* the live XML has the id; the inactive one not */
    {
        g_autofree char *live = vsb_domain_get_xml(vsb_driver_lookup_by_name(f->drv, "alpha", NULL),
                                                   false);
        g_autofree char *inactive = vsb_domain_get_xml(vsb_driver_lookup_by_name(f->drv, "alpha",
                                                                                 NULL), true);
        g_autofree char *id = g_strdup_printf("<domain type='lxc' id='%d'>", (int)init_pid);
        g_assert_nonnull(strstr(live, id));
        g_assert_null(strstr(inactive, " id="));
    }

    /* A define while it runs: the live definition stays. */
    {
        g_autofree char *xml = domain_xml("alpha", UUID_A);
        char *p = strstr(xml, "65536");
        memcpy(p, "32768", 5);
        g_assert_nonnull(vsb_driver_define_xml(f->drv, xml, &error));
        g_assert_no_error(error);
        dom = vsb_driver_lookup_by_name(f->drv, "alpha", NULL);
        g_assert_cmpuint(vsb_domain_get_def(dom, false)->memory_kib, ==, 65536);
        g_assert_cmpuint(vsb_domain_get_def(dom, true)->memory_kib, ==, 32768);
    }

    /* alpha's init exits: the controller writes NAME.exit */
    g_string_truncate(f->events, 0);
    fake_controller_exit(f, "alpha", lock_a, "status=0\nreason=exited\n");
    expect = g_strdup_printf("alpha:5:0:%d;", (int)init_pid);
    g_assert_true(wait_for(f, expect));
    dom = vsb_driver_lookup_by_name(f->drv, "alpha", NULL);
    g_assert_false(vsb_domain_is_active(dom));
    g_assert_cmpint(vsb_domain_get_id(dom), ==, -1);
    g_assert_cmpuint(vsb_domain_get_def(dom, false)->memory_kib, ==, 32768);

    /* the transient one's controller dies without a word: found by the
     * lock check, reported failed, and the domain vanishes */
    g_clear_pointer(&expect, g_free);
    fake_controller_exit(f, "trans", lock_t, NULL);
    expect = g_strdup_printf("trans:5:5:%d;", (int)init_pid);
    g_assert_true(wait_for(f, expect));
    g_assert_null(vsb_driver_lookup_by_name(f->drv, "trans", NULL));
    g_assert_false(vsb_driver_has_active(f->drv));
    {
        g_autofree char *pid_path = g_strdup_printf("%s/trans.pid", f->run_dir);
        g_assert_false(g_file_test(pid_path, G_FILE_TEST_EXISTS));
    }
}

/* ------------------------------------------------------------------ */
/* Tuning: pure parts                                                  */

/* tests/driverdata/blkio-lists.txt: "FIELD | INPUT | ok PAIRS... /
 * error FRAGMENT". */
static void
test_blkio_lists(void)
{
    g_autofree char *dir = vsb_test_data_dir("driverdata");
    g_autofree char *path = g_build_filename(dir, "blkio-lists.txt", NULL);
    g_autofree char *text = vsb_test_read_file(path);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    guint cases = 0;

    for (guint i = 0; lines[i]; i++) {
        g_auto(GStrv) cols = NULL;
        g_autoptr(GPtrArray) out =
            g_ptr_array_new_with_free_func((GDestroyNotify)vsb_blkio_setting_free);
        g_autoptr(GError) error = NULL;
        g_autoptr(GString) got = g_string_new(NULL);
        const char *expect;
        int field;
        bool ok;

        if (!*g_strstrip(lines[i]) || lines[i][0] == '#')
            continue;
        cols = g_strsplit(lines[i], "|", 3);
        g_assert_cmpuint(g_strv_length(cols), ==, 3);
        field = vsb_blkio_field_from_string(g_strstrip(cols[0]));
        g_assert_cmpint(field, >=, 0);
        g_assert_cmpstr(vsb_blkio_field_to_string(field), ==, cols[0]);
        expect = g_strstrip(cols[2]);
        ok = vsb_blkio_parse_list(g_strstrip(cols[1]), field, out, &error);
        if (g_str_has_prefix(expect, "error ")) {
            g_assert_false(ok);
            if (!strstr(error->message, expect + 6))
                g_error("line %u: '%s' lacks '%s'", i + 1, error->message, expect + 6);
        } else {
            g_assert_no_error(error);
            g_assert_true(ok);
            g_string_append(got, "ok");
            for (guint j = 0; j < out->len; j++) {
                const VsbBlkioSetting *bs = out->pdata[j];

                g_assert_cmpint(bs->field, ==, field);
                g_string_append_printf(got, " %s=%llu", bs->path, bs->value);
            }
            g_assert_cmpstr(got->str, ==, expect);
        }
        cases++;
    }
    g_assert_cmpuint(cases, >=, 15);
    g_assert_cmpint(vsb_blkio_field_from_string("weight"), ==, -1);
    g_assert_null(vsb_blkio_field_to_string(VSB_BLKIO_DEVICE_LAST));
}

static void
add_blkio_device(VsbDomainDef *def, const char *path, unsigned int weight,
                 unsigned long long riops, unsigned long long rbps)
{
    VsbDomainBlkioDevice *d = g_new0(VsbDomainBlkioDevice, 1);

    d->path = g_strdup(path);
    d->weight = weight;
    d->read_iops_sec = riops;
    d->read_bytes_sec = rbps;
    g_ptr_array_add(def->blkio_devices, d);
}

static void
test_blkio_format(void)
{
    g_autoptr(VsbDomainDef) def = vsb_domain_def_new();
    g_autofree char *w = NULL, *ri = NULL, *rb = NULL, *wb = NULL;

    add_blkio_device(def, "/dev/sda", 500, 0, 1048576);
    add_blkio_device(def, "/dev/vda", 0, 30, 2048);
    w = vsb_blkio_format_list(def, VSB_BLKIO_DEVICE_WEIGHT);
    ri = vsb_blkio_format_list(def, VSB_BLKIO_DEVICE_READ_IOPS);
    rb = vsb_blkio_format_list(def, VSB_BLKIO_DEVICE_READ_BYTES);
    wb = vsb_blkio_format_list(def, VSB_BLKIO_DEVICE_WRITE_BYTES);
    g_assert_cmpstr(w, ==, "/dev/sda,500");
    g_assert_cmpstr(ri, ==, "/dev/vda,30");
    g_assert_cmpstr(rb, ==, "/dev/sda,1048576,/dev/vda,2048");
    g_assert_cmpstr(wb, ==, "");
}

static void
test_memory_and_sched(void)
{
    g_autoptr(VsbDomainDef) def = vsb_domain_def_new();
    VsbSchedParams sp;

    /* the balloon, capped by memtune's hard limit */
    g_assert_cmpuint(vsb_domain_def_hard_limit_kib(def), ==, 0);
    def->memory_kib = 262144;
    g_assert_cmpuint(vsb_domain_def_hard_limit_kib(def), ==, 262144);
    def->current_memory_kib = 200000;
    g_assert_cmpuint(vsb_domain_def_hard_limit_kib(def), ==, 200000);
    def->mem_hard_kib = 250000;
    g_assert_cmpuint(vsb_domain_def_hard_limit_kib(def), ==, 200000);
    def->mem_hard_kib = 150000;
    g_assert_cmpuint(vsb_domain_def_hard_limit_kib(def), ==, 150000);
    def->memory_kib = def->current_memory_kib = 0;
    g_assert_cmpuint(vsb_domain_def_hard_limit_kib(def), ==, 150000);

    /* schedinfo: the kernel's defaults live, the definition's values
     * as they are for the config */
    vsb_domain_def_get_sched(def, true, &sp);
    g_assert_cmpuint(sp.shares, ==, 1024);
    g_assert_cmpuint(sp.period_us, ==, 100000);
    g_assert_cmpint(sp.quota_us, ==, -1);
    vsb_domain_def_get_sched(def, false, &sp);
    g_assert_cmpuint(sp.shares, ==, 0);
    g_assert_cmpuint(sp.period_us, ==, 0);
    g_assert_cmpint(sp.quota_us, ==, 0);
    def->cpu_shares = 512;
    def->cpu_period_us = 50000;
    def->cpu_quota_us = 25000;
    vsb_domain_def_get_sched(def, true, &sp);
    g_assert_cmpuint(sp.shares, ==, 512);
    g_assert_cmpuint(sp.period_us, ==, 50000);
    g_assert_cmpint(sp.quota_us, ==, 25000);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/driver/list-match", test_list_match);
    g_test_add_func("/driver/parse-state", test_parse_state);
    g_test_add_func("/driver/parse-exit", test_parse_exit);
    g_test_add_func("/driver/stop-outcome", test_stop_outcome);
    g_test_add_func("/driver/init-signal", test_init_signal);
    g_test_add_func("/driver/initctl-request", test_initctl_request);
    g_test_add_func("/driver/parsers", test_parsers);
    g_test_add_func("/driver/blkio-lists", test_blkio_lists);
    g_test_add_func("/driver/blkio-format", test_blkio_format);
    g_test_add_func("/driver/memory-and-sched", test_memory_and_sched);
    g_test_add("/driver/define-undefine", Fixture, NULL, fixture_setup, test_define_undefine,
               fixture_teardown);
    g_test_add("/driver/persistence-autostart", Fixture, NULL, fixture_setup,
               test_persistence_and_autostart, fixture_teardown);
    g_test_add("/driver/start-failure", Fixture, NULL, fixture_setup, test_start_failure,
               fixture_teardown);
    g_test_add("/driver/bad-configs", Fixture, NULL, fixture_setup, test_bad_configs_skipped,
               fixture_teardown);
    g_test_add("/driver/capabilities-nodeinfo", Fixture, NULL, fixture_setup,
               test_capabilities_nodeinfo, fixture_teardown);
    g_test_add("/driver/reattach-and-watch", Fixture, NULL, fixture_setup,
               test_reattach_and_watch, fixture_teardown);
    return g_test_run();
}
