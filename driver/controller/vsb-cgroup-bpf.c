/*
 * vsb-cgroup-bpf.c: device access control on cgroup v2.
 *
 * cgroup v2 has no "devices" controller file: the kernel instead runs
 * every BPF_PROG_TYPE_CGROUP_DEVICE program attached to the cgroup of
 * the process and to its ancestors on each open()/mknod() of a device
 * node; the access is granted only if all of them return 1.
 *
 * The program built here reads struct bpf_cgroup_dev_ctx:
 *
 *   access_type  (BPF_DEVCG_ACC_* << 16) | BPF_DEVCG_DEV_*
 *   major, minor
 *
 * and is a chain of blocks, one per allowed device:
 *
 *   if (type != T)  goto next;
 *   if (major != M) goto next;            (omitted for any major)
 *   if (minor != N) goto next;            (omitted for any minor)
 *   if (access & ~ALLOWED) goto next;     (omitted when ALLOWED is rwm)
 *   return 1;
 * next:
 *   ...
 *   return 0;
 */
#include <config.h>

#include "vsb-cgroup-bpf.h"
#include "vsb-util.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/bpf.h>

/* dev_t as the kernel stores it: 12 bits of major, 20 of minor.  Keeping
 * within these also keeps the values positive as the s32 immediates of
 * the comparisons. */
#define VSB_DEV_MAJOR_MAX 0xfffu
#define VSB_DEV_MINOR_MAX 0xfffffu

#define VSB_BPF_ACC_ALL (BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD)

/* Longest verifier log we ask for when a load fails. */
#define VSB_BPF_LOG_SIZE (64 * 1024)

static int
vsb_bpf(int cmd, union bpf_attr *attr)
{
    return (int)syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static struct bpf_insn
insn(guint8 code, guint8 dst, guint8 src, gint16 off, gint32 imm)
{
    struct bpf_insn i = {
        .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm,
    };
    return i;
}

static void
emit(GArray *prog, struct bpf_insn i)
{
    g_array_append_val(prog, i);
}

/* Load a u32 field of the context (in r1) into @dst, zero-extended. */
static void
emit_ctx_load(GArray *prog, guint8 dst, gint16 off)
{
    emit(prog, insn(BPF_LDX | BPF_W | BPF_MEM, dst, BPF_REG_1, off, 0));
}

static void
emit_jne_imm(GArray *prog, guint8 reg, gint32 imm, gint16 skip)
{
    emit(prog, insn(BPF_JMP | BPF_JNE | BPF_K, reg, 0, skip, imm));
}

static void
emit_return(GArray *prog, gint32 value)
{
    emit(prog, insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, value));
    emit(prog, insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
}

static int
access_bits(const char *access)
{
    int bits = 0;

    for (const char *p = access; *p; p++) {
        switch (*p) {
        case 'r': bits |= BPF_DEVCG_ACC_READ; break;
        case 'w': bits |= BPF_DEVCG_ACC_WRITE; break;
        case 'm': bits |= BPF_DEVCG_ACC_MKNOD; break;
        default: return -1;
        }
    }
    return bits;
}

bool
vsb_cgroup_device_check(const VsbCgroupDevice *dev, GError **error)
{
    if (dev->type != 'c' && dev->type != 'b') {
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                    "Invalid device type '%c' for %u:%u: expected 'c' or 'b'",
                    dev->type ? dev->type : '?', dev->major, dev->minor);
        return false;
    }
    if ((dev->major > VSB_DEV_MAJOR_MAX && dev->major != VSB_CGROUP_DEVICE_ANY) ||
        (dev->minor > VSB_DEV_MINOR_MAX && dev->minor != VSB_CGROUP_DEVICE_ANY)) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                    "Invalid device number %c %u:%u: out of range",
                    dev->type, dev->major, dev->minor);
        return false;
    }
    if (!dev->access || !dev->access[0] || access_bits(dev->access) < 0) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                    "Invalid access '%s' for device %c %u:%u: expected a subset of \"rwm\"",
                    dev->access ? dev->access : "", dev->type, dev->major, dev->minor);
        return false;
    }
    return true;
}

static GArray *
build_program(const VsbCgroupDevice *devices, size_t ndevices, GError **error)
{
    g_autoptr(GArray) prog = g_array_new(FALSE, FALSE, sizeof(struct bpf_insn));

    /* r2 = access, r3 = type, r4 = major, r5 = minor.  The 32-bit ALU
     * ops zero the upper halves, so 64-bit compares with the (positive)
     * immediates below are exact. */
    emit_ctx_load(prog, BPF_REG_2, offsetof(struct bpf_cgroup_dev_ctx, access_type));
    emit(prog, insn(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_2, 0, 0));
    emit(prog, insn(BPF_ALU | BPF_AND | BPF_K, BPF_REG_3, 0, 0, 0xffff));
    emit(prog, insn(BPF_ALU | BPF_RSH | BPF_K, BPF_REG_2, 0, 0, 16));
    emit_ctx_load(prog, BPF_REG_4, offsetof(struct bpf_cgroup_dev_ctx, major));
    emit_ctx_load(prog, BPF_REG_5, offsetof(struct bpf_cgroup_dev_ctx, minor));

    for (size_t i = 0; i < ndevices; i++) {
        const VsbCgroupDevice *dev = &devices[i];
        guint jumps[4];
        guint njumps = 0;
        int allowed;

        if (!vsb_cgroup_device_check(dev, error))
            return NULL;
        allowed = access_bits(dev->access);

        jumps[njumps++] = prog->len;
        emit_jne_imm(prog, BPF_REG_3,
                     dev->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, 0);
        if (dev->major != VSB_CGROUP_DEVICE_ANY) {
            jumps[njumps++] = prog->len;
            emit_jne_imm(prog, BPF_REG_4, (gint32)dev->major, 0);
        }
        if (dev->minor != VSB_CGROUP_DEVICE_ANY) {
            jumps[njumps++] = prog->len;
            emit_jne_imm(prog, BPF_REG_5, (gint32)dev->minor, 0);
        }
        if (allowed != VSB_BPF_ACC_ALL) {
            emit(prog, insn(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_0, BPF_REG_2, 0, 0));
            emit(prog, insn(BPF_ALU | BPF_AND | BPF_K, BPF_REG_0, 0, 0,
                            VSB_BPF_ACC_ALL & ~allowed));
            jumps[njumps++] = prog->len;
            emit_jne_imm(prog, BPF_REG_0, 0, 0);
        }
        emit_return(prog, 1);
        /* Every failed test goes to the next block, i.e. here; a jump's
         * offset counts from the instruction after it. */
        for (guint j = 0; j < njumps; j++)
            g_array_index(prog, struct bpf_insn, jumps[j]).off =
                (gint16)(prog->len - jumps[j] - 1);
    }
    emit_return(prog, 0);
    return g_steal_pointer(&prog);
}

static int
prog_load(GArray *prog, char *log, size_t log_size)
{
    union bpf_attr attr;

    memset(&attr, 0, sizeof(attr));
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = (guint64)(uintptr_t)prog->data;
    attr.insn_cnt = prog->len;
    attr.license = (guint64)(uintptr_t)"GPL";
    /* Shows up in bpftool prog list: tells an admin whose program it is. */
    g_strlcpy(attr.prog_name, "vsb_devices", sizeof(attr.prog_name));
    if (log) {
        log[0] = '\0';
        attr.log_level = 1;
        attr.log_buf = (guint64)(uintptr_t)log;
        attr.log_size = log_size;
    }
    return vsb_bpf(BPF_PROG_LOAD, &attr);
}

int
vsb_cgroup_bpf_devices_load(const VsbCgroupDevice *devices, size_t ndevices,
                            GError **error)
{
    g_autoptr(GArray) prog = build_program(devices, ndevices, error);
    g_autofree char *log = NULL;
    int fd;
    int errsv;

    if (!prog)
        return -1;
    fd = prog_load(prog, NULL, 0);
    if (fd >= 0)
        return fd;
    errsv = errno;
    if (errsv == EPERM) {
        /* Before Linux 5.11 BPF programs were charged to RLIMIT_MEMLOCK,
         * whose default (64 KiB or 8 MiB) may be used up: raise it as far
         * as we may and retry. */
        struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };

        if (setrlimit(RLIMIT_MEMLOCK, &rl) < 0 && getrlimit(RLIMIT_MEMLOCK, &rl) == 0) {
            rl.rlim_cur = rl.rlim_max;
            (void)setrlimit(RLIMIT_MEMLOCK, &rl);
        }
        fd = prog_load(prog, NULL, 0);
        if (fd >= 0)
            return fd;
        errsv = errno;
    }
    if (errsv == EINVAL || errsv == EACCES) {
        /* The verifier refused it: load again with a log to say why. */
        log = g_malloc(VSB_BPF_LOG_SIZE);
        fd = prog_load(prog, log, VSB_BPF_LOG_SIZE);
        if (fd >= 0)
            return fd;
        errsv = errno;
        g_strstrip(log);
    }
    vsb_error_set_errno(error, errsv,
                        "Cannot load the cgroup device BPF program (%u instructions)%s%s",
                        prog->len, log && log[0] ? ": " : "", log ? log : "");
    return -1;
}

static bool
prog_attach_cmd(int cmd, int prog_fd, const char *cgroup_dir, GError **error)
{
    g_auto(VsbFd) dirfd = open(cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    union bpf_attr attr;

    if (dirfd < 0)
        return vsb_error_set_errno(error, errno, "Cannot open %s", cgroup_dir);
    memset(&attr, 0, sizeof(attr));
    attr.target_fd = dirfd;
    attr.attach_bpf_fd = prog_fd;
    attr.attach_type = BPF_CGROUP_DEVICE;
    if (cmd == BPF_PROG_ATTACH)
        attr.attach_flags = BPF_F_ALLOW_MULTI;
    if (vsb_bpf(cmd, &attr) < 0)
        return vsb_error_set_errno(error, errno, "Cannot %s the device BPF program %s %s",
                                   cmd == BPF_PROG_ATTACH ? "attach" : "detach",
                                   cmd == BPF_PROG_ATTACH ? "to" : "from", cgroup_dir);
    return true;
}

bool
vsb_cgroup_bpf_attach(int prog_fd, const char *cgroup_dir, GError **error)
{
    return prog_attach_cmd(BPF_PROG_ATTACH, prog_fd, cgroup_dir, error);
}

bool
vsb_cgroup_bpf_detach(int prog_fd, const char *cgroup_dir, GError **error)
{
    return prog_attach_cmd(BPF_PROG_DETACH, prog_fd, cgroup_dir, error);
}
