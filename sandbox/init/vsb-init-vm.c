/*
 * vsb-init-vm.c: virt-sandbox-init as PID 1 of a KVM sandbox.
 *
 * The kernel starts /init from the initrd that the host built
 * (sandbox/vsb-sandbox-initrd.c) with VSB_KVM_CMDLINE_FLAG on its
 * command line.  Before the common code runs, init makes the guest
 * look like an LXC sandbox to it:
 *
 *   - /proc, /sys, /dev (devtmpfs) in the initrd;
 *   - the modules of /modules/order (dependencies first) loaded with
 *     finit_module(); each returns once its driver probed the devices
 *     present, so 9p then finds its virtio transport; then those of
 *     each group that VSB_KVM_ENV_LOAD names (/modules/GROUP.order);
 *   - /dev/disk/by-tag/SERIAL links to the virtio disks (what udev
 *     would make from their serials), for host-image mounts and
 *     --disk;
 *   - the root, the host's / or -r DIR (9p tag VSB_KVM_TAG_ROOT),
 *     read-only on /sysroot (nothing of it is needed here: init and
 *     its modules are the initrd's), a tmpfs on its /run with init's
 *     config (VSB_KVM_TAG_CONFIG) on VSB_INIT_GUEST_CONFIG_DIR, /dev,
 *     /proc, /sys moved in (the host checked that the root has these
 *     four, being read-only), /dev/pts, /dev/shm and cgroup2 on
 *     /sys/fs/cgroup (nsdelegate), /dev/fd, /dev/stdin, /dev/stdout,
 *     /dev/stderr;
 *   - /dev/virtio-ports/NAME links (what udev would make), so the
 *     config names its channel by the port's name;
 *   - /sysroot made the root: moved onto / and chrooted into, so that
 *     the root is the mount namespace's root (user namespaces need it).
 *
 * The common code then reads its config from the usual place, relays
 * stdio over the port and powers off (config "poweroff 1").  A failure
 * here has no channel to report through: it goes to the console (the
 * serial log in the state directory) and the machine powers off.
 */
#include <config.h>

#include "vsb-init.h"
#include "vsb-init-config.h"
#include "vsb-kvm-guest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SYSROOT "/sysroot"
/* The port's name comes from the host a little after the port. */
#define PORT_WAIT_MS 10000
/* 9p's largest message: far above the 8 KiB default, reading is then
 * several times faster. */
#define ROOT_OPTS "trans=virtio,version=9p2000.L,msize=262144,cache=loose"
#define CONFIG_OPTS "trans=virtio,version=9p2000.L,msize=262144"

static void __attribute__((noreturn, format(printf, 1, 2)))
vm_fail(const char *fmt, ...)
{
    va_list ap;

    fputs("virt-sandbox-init: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    sync();
    reboot(RB_POWER_OFF);
    _exit(1);
}

static void
vm_mount(const char *src, const char *target, const char *type, unsigned long flags,
         const char *data)
{
    mkdir(target, 0755);
    if (mount(src, target, type, flags, data) < 0)
        vm_fail("cannot mount %s (%s) on %s: %s", src, type, target, strerror(errno));
}

/* The kernel opened /dev/console for fds 0-2 if it could; without a
 * console they are closed, and the channel must not become fd 1. */
static void
ensure_stdio(void)
{
    for (int fd = 0; fd < 3; fd++) {
        if (fcntl(fd, F_GETFD) < 0) {
            int n = open("/dev/null", O_RDWR);
            if (n >= 0 && n != fd) {
                dup2(n, fd);
                close(n);
            }
        }
    }
}

static void
load_modules(const char *order)
{
    FILE *f = fopen(order, "re");
    char line[256];

    if (!f)
        vm_fail("cannot open %s: %s", order, strerror(errno));
    while (fgets(line, sizeof(line), f)) {
        char path[320];
        int fd;

        line[strcspn(line, "\n")] = '\0';
        if (!line[0])
            continue;
        snprintf(path, sizeof(path), "/%s/%s", VSB_KVM_INITRD_MODULES_DIR, line);
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
            vm_fail("cannot open %s: %s", path, strerror(errno));
        if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)
            vm_fail("cannot load the module %s: %s", path, strerror(errno));
        close(fd);
    }
    fclose(f);
}

/* The groups of VSB_KVM_ENV_LOAD ("disk,overlay"), each its order file. */
static void
load_module_groups(const char *groups)
{
    char *copy = strdup(groups), *tok, *save = NULL;

    if (!copy)
        vm_fail("out of memory");
    for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char order[320];
        if (strchr(tok, '/'))
            vm_fail("bad module group '%s'", tok);
        snprintf(order, sizeof(order), "/%s/%s.order", VSB_KVM_INITRD_MODULES_DIR, tok);
        load_modules(order);
    }
    free(copy);
}

/* The first line of a small sysfs file, or false. */
static bool
read_line(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return false;
    n = read(fd, buf, len - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    return buf[0] != '\0';
}

/* VSB_KVM_DISK_BY_TAG/SERIAL -> ../../vdX for every virtio disk with a
 * serial (virtio-blk probes synchronously: the disks are there once
 * its module is loaded). */
static void
link_disks(void)
{
    DIR *d = opendir("/sys/block");
    struct dirent *de;

    if (!d)
        return;
    if ((mkdir("/dev/disk", 0755) < 0 && errno != EEXIST) ||
        (mkdir(VSB_KVM_DISK_BY_TAG, 0755) < 0 && errno != EEXIST))
        vm_fail("cannot create %s: %s", VSB_KVM_DISK_BY_TAG, strerror(errno));
    while ((de = readdir(d))) {
        char path[512], serial[64], link[512], target[300];

        if (strncmp(de->d_name, "vd", 2) != 0)
            continue;
        snprintf(path, sizeof(path), "/sys/block/%s/serial", de->d_name);
        if (!read_line(path, serial, sizeof(serial)) || strchr(serial, '/') ||
            serial[0] == '.')
            continue;
        snprintf(link, sizeof(link), VSB_KVM_DISK_BY_TAG "/%s", serial);
        snprintf(target, sizeof(target), "../../%s", de->d_name);
        if (symlink(target, link) < 0 && errno != EEXIST)
            vm_fail("cannot link %s: %s", link, strerror(errno));
    }
    closedir(d);
}

/* Link /dev/virtio-ports/NAME -> ../vportXpY for every named port;
 * true once @want is among them. */
static bool
link_ports(const char *want)
{
    DIR *d = opendir("/sys/class/virtio-ports");
    struct dirent *de;
    bool found = false;

    if (!d)
        return false;
    mkdir("/dev/virtio-ports", 0755);
    while ((de = readdir(d))) {
        char path[512], name[256], link[512], target[300];
        ssize_t n;
        int fd;

        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", de->d_name);
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
            continue;
        n = read(fd, name, sizeof(name) - 1);
        close(fd);
        if (n <= 0)
            continue;
        name[n] = '\0';
        name[strcspn(name, "\n")] = '\0';
        if (!name[0] || strchr(name, '/'))
            continue;
        snprintf(link, sizeof(link), "/dev/virtio-ports/%s", name);
        snprintf(target, sizeof(target), "../%s", de->d_name);
        if (symlink(target, link) == 0 || errno == EEXIST)
            found |= strcmp(name, want) == 0;
    }
    closedir(d);
    return found;
}

/* What udev (or systemd) adds to devtmpfs and programs count on:
 * bash's <(...) opens /dev/fd/N, tools write to /dev/stdout. */
static void
link_stdio_devices(void)
{
    static const char *const links[][2] = {
        { SYSROOT "/dev/fd", "/proc/self/fd" },
        { SYSROOT "/dev/stdin", "/proc/self/fd/0" },
        { SYSROOT "/dev/stdout", "/proc/self/fd/1" },
        { SYSROOT "/dev/stderr", "/proc/self/fd/2" },
    };

    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
        if (symlink(links[i][1], links[i][0]) < 0 && errno != EEXIST)
            vm_fail("cannot link %s: %s", links[i][0], strerror(errno));
}

void
vsb_init_vm_setup(void)
{
    long deadline;
    char *groups;

    if (getpid() != 1 || !getenv(VSB_KVM_ENV_FLAG))
        return;
    groups = getenv(VSB_KVM_ENV_LOAD) ? strdup(getenv(VSB_KVM_ENV_LOAD)) : NULL;
    /* Not for the program's environment. */
    unsetenv(VSB_KVM_ENV_FLAG);
    unsetenv(VSB_KVM_ENV_LOAD);

    vm_mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    vm_mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    vm_mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
    ensure_stdio();
    load_modules("/" VSB_KVM_INITRD_MODULES_ORDER);
    if (groups) {
        load_module_groups(groups);
        free(groups);
    }
    link_disks();

    vm_mount(VSB_KVM_TAG_ROOT, SYSROOT, "9p", MS_RDONLY, ROOT_OPTS);
    vm_mount("tmpfs", SYSROOT "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
    if (mkdir(SYSROOT VSB_INIT_GUEST_DIR, 0755) < 0 ||
        mkdir(SYSROOT VSB_INIT_GUEST_CONFIG_DIR, 0755) < 0)
        vm_fail("cannot create %s: %s", SYSROOT VSB_INIT_GUEST_CONFIG_DIR, strerror(errno));
    vm_mount(VSB_KVM_TAG_CONFIG, SYSROOT VSB_INIT_GUEST_CONFIG_DIR, "9p",
             MS_RDONLY | MS_NOSUID | MS_NODEV, CONFIG_OPTS);

    deadline = vsb_init_now_ms() + PORT_WAIT_MS;
    while (!link_ports(VSB_KVM_STDIO_PORT)) {
        if (vsb_init_now_ms() > deadline)
            vm_fail("the virtio-serial port %s did not appear", VSB_KVM_STDIO_PORT);
        usleep(10 * 1000);
    }

    vm_mount("/dev", SYSROOT "/dev", NULL, MS_MOVE, NULL);
    vm_mount("/proc", SYSROOT "/proc", NULL, MS_MOVE, NULL);
    vm_mount("/sys", SYSROOT "/sys", NULL, MS_MOVE, NULL);
    /* The guest's own cgroup v2 hierarchy, all controllers (nobody else
     * mounts it: no systemd here), for the program to manage;
     * nsdelegate as systemd mounts it, so that a cgroup namespace is a
     * delegation boundary as on the hosts the program expects. */
    vm_mount("cgroup2", SYSROOT "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC,
             "nsdelegate");
    vm_mount("devpts", SYSROOT "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
             "newinstance,ptmxmode=0666,mode=0620");
    vm_mount("tmpfs", SYSROOT "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
    /* The devtmpfs /dev/ptmx would open the initial devpts instance,
     * which nothing mounted: point it at ours. */
    unlink(SYSROOT "/dev/ptmx");
    if (symlink("pts/ptmx", SYSROOT "/dev/ptmx") < 0)
        vm_fail("cannot link /dev/ptmx: %s", strerror(errno));
    link_stdio_devices();

    if (chdir(SYSROOT) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 ||
        chdir("/") < 0)
        vm_fail("cannot make %s the root: %s", SYSROOT, strerror(errno));
}
