"""Integration tests of virt-sandbox-controller: real containers, real
assertions about what a process inside sees.  The contract under test
is driver/controller/vsb-controller.h.
"""

import contextlib
import fcntl
import os
import re
import signal
import socket
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

from conftest import (MARKER, PARTITION, SESSION_ID, Runner, domain_xml, find_leaks, fs_bind,
                      fs_file, fs_mount, fs_ram, host_oom_kills, kv, recv_until, vsbleaks)

MIB = 1024 * 1024

# Capabilities a container must never hold (kernel numbers).
FORBIDDEN_CAPS = {
    16: "CAP_SYS_MODULE",
    17: "CAP_SYS_RAWIO",
    25: "CAP_SYS_TIME",
    30: "CAP_AUDIT_CONTROL",
    32: "CAP_MAC_OVERRIDE",
    33: "CAP_MAC_ADMIN",
    34: "CAP_SYSLOG",
}

DEV_NODES = ["null", "zero", "full", "random", "urandom", "tty", "console", "ptmx", "pts",
             "shm", "fd", "stdin", "stdout", "stderr"]


def only_exit_file(result_or_listing, name):
    listing = getattr(result_or_listing, "run_dir_after", result_or_listing)
    return set(listing) <= {f"{name}.exit"}


# --------------------------------------------------------------------
# The basic probe: one container per kind of root, many checks
# --------------------------------------------------------------------

PROBE_MEMORY_KIB = 64 * 1024
PROBE_SCRIPT = r"""
echo "hostname=$(hostname)"
echo "pid=$$"
echo "net=$(ls /sys/class/net | tr '\n' ' ')"
echo "lo_operstate=$(cat /sys/class/net/lo/operstate 2>&1)"
echo "meminfo=$(head -n 1 /proc/meminfo 2>&1)"
for f in /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max; do
    if [ -r "$f" ]; then echo "memlimit=$f $(cat "$f")"; break; fi
done
if touch /sys/vsb-probe 2>/dev/null; then echo "sys_touch=ok"; else echo "sys_touch=fail"; fi
echo "sys_write=$(cat /sys/class/net/lo/mtu 2>&1 > /sys/class/net/lo/mtu 2>&1 && echo ok)"
echo "sys_mount=$(awk '$2 == "/sys" { l = $0 } END { print l }' /proc/mounts)"
echo "root_mount=$(awk '$2 == "/" { l = $0 } END { print l }' /proc/mounts)"
sh -c 'kill -9 $$'
echo "child_kill=$?"
exit 7
"""


@pytest.fixture(scope="module", params=["dir", "image"])
def probe(request, session_tmp, controller, busybox_root):
    """Run PROBE_SCRIPT once with a directory root and once with the
    ext4 image root; the result, plus what was left behind right after."""
    kind = request.param
    if kind == "image":
        image = request.getfixturevalue("rootfs_image")
        root = fs_file(image, "/")
    else:
        root = fs_mount(busybox_root, "/")
    runner = Runner(session_tmp / f"probe-{kind}")
    name = f"vsbt-probe-{kind}"
    xml = domain_xml(name, args=["-c", PROBE_SCRIPT], filesystems=[root],
                     memory_kib=PROBE_MEMORY_KIB)
    try:
        res = runner.run(xml)
    finally:
        runner.close()
    res.leaks = find_leaks()
    if res.leaks:
        vsbleaks.cleanup(res.leaks)
    res.kind = kind
    res.name = name
    return res


def test_probe_exit_status_is_init_status(probe):
    assert probe.status == 7, str(probe)


def test_probe_hostname_is_domain_name(probe):
    assert probe.kv.get("hostname") == probe.name, str(probe)


def test_probe_init_is_pid_1(probe):
    assert probe.kv.get("pid") == "1", str(probe)


def test_probe_only_loopback_up(probe):
    assert probe.kv.get("net", "").split() == ["lo"], str(probe)
    assert probe.kv.get("lo_operstate") == "unknown", probe  # "down" when lo is not up


def test_probe_proc_meminfo_readable(probe):
    assert probe.kv.get("meminfo", "").startswith("MemTotal:"), str(probe)


def test_probe_memory_limit_visible_in_cgroup(probe):
    """<memory> is the payload's limit, seen in the container's own
    /sys/fs/cgroup (v1 memory.limit_in_bytes or v2 memory.max)."""
    line = probe.kv.get("memlimit")
    assert line, f"neither memory.limit_in_bytes nor memory.max readable inside{probe}"
    _path, value = line.split()
    assert int(value) == PROBE_MEMORY_KIB * 1024, str(probe)


def test_probe_sys_read_only(probe):
    assert probe.kv.get("sys_touch") == "fail", str(probe)
    assert "Read-only file system" in probe.kv.get("sys_write", ""), str(probe)
    fields = probe.kv.get("sys_mount", "").split()
    assert len(fields) >= 4 and fields[1] == "/sys", f"no /sys in /proc/mounts{probe}"
    assert "ro" in fields[3].split(","), str(probe)


def test_probe_child_killed_by_signal(probe):
    assert probe.kv.get("child_kill") == "137", str(probe)


def test_probe_root_filesystem(probe):
    fields = probe.kv.get("root_mount", "").split()
    assert len(fields) >= 4, f"no / in /proc/mounts{probe}"
    if probe.kind == "image":
        assert fields[2] == "ext4" and fields[0].startswith("/dev/loop"), str(probe)
    assert "rw" in fields[3].split(","), str(probe)


def test_probe_nothing_left_behind(probe):
    """Run dir: only NAME.exit (status=7, reason=exited); host: no
    mount, loop device, cgroup or process of the run."""
    assert probe.leaks == [], str(probe)
    assert probe.run_dir_after == [f"{probe.name}.exit"], str(probe)


# --------------------------------------------------------------------
# Exit statuses, the run dir of a foreground run
# --------------------------------------------------------------------

@pytest.mark.parametrize("code", [0, 1, 7, 100, 200, 255])
def test_exit_status(vsb, root_fs, code):
    r = vsb.run(domain_xml(f"vsbt-exit{code}", args=["-c", f"exit {code}"],
                           filesystems=[root_fs]))
    assert r.status == code, str(r)


def test_foreground_exit_file(vsb, root_fs):
    name = "vsbt-exitfile"
    r = vsb.run(domain_xml(name, args=["-c", "exit 7"], filesystems=[root_fs]))
    assert r.status == 7, str(r)
    assert r.run_dir_after == [f"{name}.exit"], str(r)
    ex = kv((vsb.run_dir / f"{name}.exit").read_text())
    assert ex.get("status") == "7" and ex.get("reason") == "exited", str(ex)


def test_output_and_input(vsb, root_fs):
    """The console is the controller's stdin/stdout in the foreground."""
    r = vsb.run(domain_xml("vsbt-stdio", args=["-c", "read line; echo \"got=$line\""],
                           filesystems=[root_fs]), stdin=b"hello there\n")
    assert r.status == 0, str(r)
    assert r.kv.get("got") == "hello there", str(r)


# --------------------------------------------------------------------
# Memory
# --------------------------------------------------------------------

def test_memory_hog_is_oom_killed_inside(vsb, root_fs):
    """A process going beyond <memory> is OOM-killed by the container's
    cgroup; init goes on; the host (this process's cgroup) sees no OOM."""
    marker = f"vsbhog{SESSION_ID}"
    script = f"""
awk 'BEGIN {{ m = "{marker}"; s = "x"; while (1) s = s s }}'
echo "status=$?"
for f in /sys/fs/cgroup/memory/memory.oom_control /sys/fs/cgroup/memory.events; do
    [ -r "$f" ] && echo "oom_kill=$(awk '$1 == "oom_kill" {{ print $2 }}' "$f")" && break
done
echo "init_alive=yes"
"""
    host_before = host_oom_kills()
    r = vsb.run(domain_xml("vsbt-hog", args=["-c", script], filesystems=[root_fs],
                           memory_kib=64 * 1024), timeout=120)
    assert r.status == 0, str(r)
    assert r.kv.get("status") == "137", str(r)
    assert r.kv.get("init_alive") == "yes", str(r)
    assert r.kv.get("oom_kill", "0").isdigit() and int(r.kv["oom_kill"]) >= 1, \
        f"the container's memory cgroup recorded no OOM kill{r}"
    # the host: this process is alive and its cgroup saw no OOM; no hog anywhere
    assert host_oom_kills() == host_before
    assert vsbleaks.processes((marker,), any_controller=False) == []


# --------------------------------------------------------------------
# Roots
# --------------------------------------------------------------------

def test_image_root_no_loop_device_left(vsb, rootfs_image):
    r = vsb.run(domain_xml("vsbt-image", args=["-c", "echo \"hostname=$(hostname)\"; "
                                                     "echo data > /tmp/image-write && echo write=ok"],
                           filesystems=[fs_file(rootfs_image)]))
    assert r.status == 0, str(r)
    assert r.kv.get("hostname") == "vsbt-image", str(r)
    assert r.kv.get("write") == "ok", str(r)
    left = vsbleaks.leaks(set(), markers=(str(rootfs_image),), any_controller=False,
                          all_loops=False)
    assert left == [], str(left)


def test_host_root_is_read_only(vsb):
    """No root filesystem: the host's / is the root, read-only."""
    target = f"/etc/{MARKER}-hostroot"
    name = "vsbt-hostroot"
    script = (f"if echo x > {target}; then echo write=ok; else echo write=fail; fi; "
              "echo \"hostname=$(hostname)\"; echo \"pid=$$\"")
    try:
        r = vsb.run(domain_xml(name, args=["-c", script], filesystems=[]))
        created = os.path.exists(target)
    finally:
        if os.path.exists(target):
            os.unlink(target)
    assert not created, f"the container wrote {target} on the host{r}"
    assert r.status == 0, str(r)
    assert r.kv.get("write") == "fail", str(r)
    assert r.kv.get("hostname") == name, str(r)
    assert r.kv.get("pid") == "1", str(r)


# --------------------------------------------------------------------
# Filesystems
# --------------------------------------------------------------------

def mount_opts(script_var, target):
    return f"echo \"{script_var}=$(awk '$2 == \"{target}\" {{ l = $3 \" \" $4 }} END {{ print l }}' /proc/mounts)\""


def test_fs_mount_writable(vsb, root_fs):
    share = vsb.tmp / "share-rw"
    share.mkdir()
    (share / "host.txt").write_text("from-host\n")
    script = ("echo \"read=$(cat /mnt/rw/host.txt)\"; "
              "if echo from-guest > /mnt/rw/guest.txt; then echo write=ok; else echo write=fail; fi")
    r = vsb.run(domain_xml("vsbt-fs-rw", args=["-c", script],
                           filesystems=[root_fs, fs_mount(share, "/mnt/rw")]))
    assert r.status == 0, str(r)
    assert r.kv.get("read") == "from-host", str(r)
    assert r.kv.get("write") == "ok", str(r)
    assert (share / "guest.txt").read_text() == "from-guest\n"


def test_fs_mount_readonly(vsb, root_fs):
    share = vsb.tmp / "share-ro"
    share.mkdir()
    (share / "host.txt").write_text("from-host\n")
    script = ("echo \"read=$(cat /mnt/ro/host.txt)\"; "
              "if echo x > /mnt/ro/guest.txt; then echo write=ok; else echo write=fail; fi; "
              + mount_opts("mnt", "/mnt/ro"))
    r = vsb.run(domain_xml("vsbt-fs-ro", args=["-c", script],
                           filesystems=[root_fs, fs_mount(share, "/mnt/ro", readonly=True)]))
    assert r.status == 0, str(r)
    assert r.kv.get("read") == "from-host", str(r)
    assert r.kv.get("write") == "fail", str(r)
    assert not (share / "guest.txt").exists()
    assert "ro" in r.kv.get("mnt", " ").split()[-1].split(","), str(r)


def test_fs_ram(vsb, root_fs):
    script = (mount_opts("mnt", "/mnt/ram") + "; "
              "echo \"df=$(df -k /mnt/ram | awk 'NR == 2 { print $2 }')\"; "
              "if echo data > /mnt/ram/f; then echo write=ok; else echo write=fail; fi")
    r = vsb.run(domain_xml("vsbt-fs-ram", args=["-c", script],
                           filesystems=[root_fs, fs_ram("/mnt/ram", 2048)]))
    assert r.status == 0, str(r)
    fstype, _, opts = r.kv.get("mnt", "").partition(" ")
    assert fstype == "tmpfs", str(r)
    assert "size=2048k" in opts.split(","), str(r)
    assert r.kv.get("df") == "2048", str(r)
    assert r.kv.get("write") == "ok", str(r)


def test_fs_bind_guest_path(vsb, root_fs, busybox_root):
    fname = f"bind-{SESSION_ID}.txt"
    script = ("echo \"read=$(cat /mnt/bind/data.txt)\"; "
              f"echo through-bind > /mnt/bind/{fname} && echo \"same=$(cat /srv/data/{fname})\"")
    try:
        r = vsb.run(domain_xml("vsbt-fs-bind", args=["-c", script],
                               filesystems=[root_fs, fs_bind("/srv/data", "/mnt/bind")]))
    finally:
        (busybox_root / "srv" / "data" / fname).unlink(missing_ok=True)
    assert r.status == 0, str(r)
    assert r.kv.get("read") == "guest-data", str(r)
    assert r.kv.get("same") == "through-bind", str(r)


# --------------------------------------------------------------------
# /dev, /proc, capabilities
# --------------------------------------------------------------------

def test_dev_contents(vsb, root_fs):
    script = r"""
echo "dev=$(ls -A /dev | tr '\n' ' ')"
if echo x > /dev/null; then echo null=ok; else echo null=fail; fi
echo "zero=$(head -c 8 /dev/zero | wc -c)"
echo "urandom=$(head -c 16 /dev/urandom | wc -c)"
if echo x > /dev/full 2>/dev/null; then echo full=ok; else echo full=fail; fi
if err=$(mknod /dev/vsb-blk b 8 0 2>&1); then
    echo "mknod=ok"
    echo "open=$(head -c 1 /dev/vsb-blk 2>&1 >/dev/null || true)"
else
    echo "mknod=fail $err"
fi
"""
    r = vsb.run(domain_xml("vsbt-dev", args=["-c", script], filesystems=[root_fs]))
    assert r.status == 0, str(r)
    present = set(r.kv.get("dev", "").split())
    missing = [n for n in DEV_NODES if n not in present]
    assert not missing, f"/dev lacks {missing}{r}"
    assert r.kv.get("null") == "ok", str(r)
    assert r.kv.get("zero") == "8" and r.kv.get("urandom") == "16", str(r)
    assert r.kv.get("full") == "fail", str(r)
    if r.kv.get("mknod") == "ok":
        # made, but the device cgroup must refuse to open it
        assert re.search(r"Operation not permitted|Permission denied", r.kv.get("open", "")), str(r)
    else:
        assert r.kv.get("mknod", "").startswith("fail"), str(r)


def test_proc_masked_and_read_only(vsb, root_fs):
    script = r"""
for f in /proc/kcore /proc/sysrq-trigger /proc/kallsyms; do
    echo "$f=$(head -c 64 "$f" 2>/dev/null | wc -c)"
done
if hostname > /proc/sys/kernel/hostname; then echo sys_hostname=ok; else echo sys_hostname=fail; fi
echo "hostname=$(hostname)"
# opening for writing is enough to tell (an empty write triggers nothing)
if ( : > /proc/sysrq-trigger ); then echo sysrq_write=ok; else echo sysrq_write=fail; fi
"""
    r = vsb.run(domain_xml("vsbt-proc", args=["-c", script], filesystems=[root_fs]))
    assert r.status == 0, str(r)
    for f in ("/proc/kcore", "/proc/sysrq-trigger", "/proc/kallsyms"):
        assert r.kv.get(f) == "0", f"{f} is readable and not empty{r}"
    assert r.kv.get("sys_hostname") == "fail", str(r)
    assert r.kv.get("hostname") == "vsbt-proc", str(r)
    assert r.kv.get("sysrq_write") == "fail", f"/proc/sysrq-trigger is writable{r}"


def test_capabilities_bounded(vsb, root_fs):
    script = ("echo \"self=$(awk '$1 == \"CapBnd:\" { print $2 }' /proc/self/status)\"; "
              "echo \"init=$(awk '$1 == \"CapBnd:\" { print $2 }' /proc/1/status)\"; "
              "echo \"init_eff=$(awk '$1 == \"CapEff:\" { print $2 }' /proc/1/status)\"")
    r = vsb.run(domain_xml("vsbt-caps", args=["-c", script], filesystems=[root_fs]))
    assert r.status == 0, str(r)
    for key in ("self", "init", "init_eff"):
        assert re.fullmatch(r"[0-9a-f]{16}", r.kv.get(key, "")), str(r)
        mask = int(r.kv[key], 16)
        held = [n for bit, n in FORBIDDEN_CAPS.items() if mask & (1 << bit)]
        assert not held, f"{key} capability set holds {held}{r}"
    assert int(r.kv["init_eff"], 16) != 0, f"init as root should keep some capabilities{r}"


# --------------------------------------------------------------------
# init's arguments, environment, directory and user
# --------------------------------------------------------------------

def test_init_args_env_dir_user(vsb, root_fs):
    script = ('echo "env=$VSB_TEST"; echo "cwd=$(pwd)"; echo "uid=$(id -u)"; echo "gid=$(id -g)"; '
              'for a in "$@"; do echo "arg=[$a]"; done; echo "argc=$#"')
    r = vsb.run(domain_xml("vsbt-init", args=["-c", script, "argv0", "a b", "c'd\"e"],
                           env={"VSB_TEST": "hello world"}, initdir="/tmp",
                           inituser="nobody", initgroup="nogroup", filesystems=[root_fs]))
    assert r.status == 0, str(r)
    assert r.kv.get("env") == "hello world", str(r)
    assert r.kv.get("cwd") == "/tmp", str(r)
    assert r.kv.get("uid") == "65534", str(r)
    assert r.kv.get("gid") == "65534", str(r)
    assert r.kv.get("argc") == "2", str(r)
    args = [line[4:] for line in r.stdout.splitlines() if line.startswith("arg=")]
    assert args == ["[a b]", "[c'd\"e]"], str(r)


def test_inituser_numeric(vsb, root_fs):
    """Numbers need no passwd entry."""
    r = vsb.run(domain_xml("vsbt-uid", args=["-c", 'echo "uid=$(id -u) gid=$(id -g)"'],
                           inituser="1234", initgroup="4321", filesystems=[root_fs]))
    assert r.status == 0, str(r)
    assert "uid=1234 gid=4321" in r.stdout, str(r)


# --------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------

def assert_one_line_naming(r, *needles):
    lines = r.stderr_lines()
    assert len(lines) == 1, f"expected one line on stderr{r}"
    for n in needles:
        assert str(n) in lines[0], f"stderr does not name {n}{r}"


def test_error_root_dir_missing(vsb):
    missing = vsb.tmp / "no-such-root"
    name = "vsbt-err-root"
    r = vsb.run(domain_xml(name, args=["-c", "exit 0"], filesystems=[fs_mount(missing, "/")]))
    assert r.status == 125, str(r)
    assert_one_line_naming(r, missing)
    assert only_exit_file(r, name), str(r)


def test_error_init_missing(vsb, root_fs):
    name = "vsbt-err-noinit"
    r = vsb.run(domain_xml(name, init="/bin/no-such-init", filesystems=[root_fs]))
    assert r.status == 127, str(r)
    assert_one_line_naming(r, "/bin/no-such-init")
    assert only_exit_file(r, name), str(r)


def test_error_init_not_executable(vsb, root_fs):
    name = "vsbt-err-noexec"
    r = vsb.run(domain_xml(name, init="/bin/notexec", filesystems=[root_fs]))
    assert r.status == 126, str(r)
    assert_one_line_naming(r, "/bin/notexec")
    assert only_exit_file(r, name), str(r)


def test_error_image_not_a_filesystem(vsb):
    img = vsb.tmp / "zeros.img"
    with open(img, "wb") as f:
        f.truncate(4 * 1024 * 1024)
    name = "vsbt-err-image"
    r = vsb.run(domain_xml(name, args=["-c", "exit 0"], filesystems=[fs_file(img)]))
    assert r.status == 125, str(r)
    assert_one_line_naming(r, img)
    assert only_exit_file(r, name), str(r)
    assert vsbleaks.loops((str(img),)) == []


def test_error_malformed_xml(vsb):
    path = vsb.tmp / "broken.xml"
    path.write_text("<domain type='lxc'>\n  <name>vsbt-broken</name>\n  <os>\n")
    r = vsb.run(path)
    assert r.status == 125, str(r)
    assert_one_line_naming(r, path)
    assert r.run_dir_after == [] or only_exit_file(r, "vsbt-broken"), str(r)


def test_error_unsupported_element(vsb, root_fs):
    """Valid libvirt XML we do not implement is refused, naming it."""
    name = "vsbt-err-unsupp"
    xml = domain_xml(name, args=["-c", "exit 0"], filesystems=[root_fs],
                     extra_devices="<hostdev mode='capabilities' type='misc'>"
                                   "<source><char>/dev/null</char></source></hostdev>")
    r = vsb.run(xml)
    assert r.status == 125, str(r)
    assert_one_line_naming(r, "hostdev")
    assert only_exit_file(r, name), str(r)


# --------------------------------------------------------------------
# Background containers: run dir, control socket, console
# --------------------------------------------------------------------

def _locked(path):
    """True if someone holds an flock() on @path."""
    with open(path) as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
        return False


def _host_memory_limit(pid):
    """The memory limit of @pid's cgroup, read on the host, and its path."""
    with open(f"/proc/{pid}/cgroup") as f:
        lines = f.read().splitlines()
    for line in lines:
        _h, ctrls, path = line.split(":", 2)
        if "memory" in ctrls.split(","):
            p = f"/sys/fs/cgroup/memory{path}/memory.limit_in_bytes"
            return path, int(open(p).read())
    path = [ln for ln in lines if ln.startswith("0::")][0][3:]
    base = "/sys/fs/cgroup/unified" if os.path.isdir("/sys/fs/cgroup/unified") else "/sys/fs/cgroup"
    return path, int(open(f"{base}{path}/memory.max").read())


def test_run_dir_and_control_socket(vsb, root_fs):
    name = "vsbt-bg"
    c = vsb.start(domain_xml(name, args=["-c", "sleep 30"], filesystems=[root_fs],
                             memory_kib=64 * 1024))
    assert c.ready.startswith("ok "), str(c)
    init_pid = c.init_pid

    files = set(os.listdir(vsb.run_dir))
    for suffix in ("pid", "xml", "state", "sock"):
        assert f"{name}.{suffix}" in files, str(c)

    ctl_pid = c.read_pid_file()
    assert ctl_pid and os.path.exists(f"/proc/{ctl_pid}"), str(c)
    assert _locked(c.pid_file), f"{c.pid_file} is not flock()ed by the controller{c}"

    state = kv(c.state_file.read_text())
    assert state.get("controller_pid") == str(ctl_pid), str(state)
    assert state.get("init_pid") == str(init_pid), str(state)
    started = int(state.get("started", "0")) / 1e6
    assert time.time() - 120 < started <= time.time() + 1, str(state)
    assert state.get("console"), str(state)

    live = ET.fromstring(c.xml_file.read_text())
    assert live.get("id") == str(init_pid), c.xml_file.read_text()
    assert live.findtext("name") == name

    # init is PID 1 of its own pid namespace
    nspid = [ln for ln in open(f"/proc/{init_pid}/status") if ln.startswith("NSpid:")][0].split()
    assert nspid[-1] == "1" and len(nspid) >= 3, str(nspid)

    # its cgroup, seen from the host: payload under our partition, with the limit
    path, limit = _host_memory_limit(init_pid)
    assert PARTITION in path and path.endswith("/payload"), path
    assert limit == 64 * MIB, (path, limit)

    assert c.request("status") == f"running init={init_pid} controller={ctl_pid}", str(c)
    assert c.request("no-such-request") == "error unknown request", str(c)

    assert c.request("destroy") == "ok", str(c)
    assert c.wait_exit(20), f"controller still running after destroy{c}"
    assert sorted(os.listdir(vsb.run_dir)) == [f"{name}.exit"], str(c)
    ex = kv(c.exit_file.read_text())
    assert ex.get("reason") == "destroyed", str(ex)
    assert ex.get("status", "").isdigit(), str(ex)
    assert not _pid_is_running(init_pid), f"init {init_pid} still runs after destroy"


def _pid_is_running(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_kill_request_sigkill(vsb, root_fs):
    name = "vsbt-kill9"
    c = vsb.start(domain_xml(name, args=["-c", "sleep 30"], filesystems=[root_fs]))
    assert c.ready.startswith("ok "), str(c)
    assert c.request("kill 9") == "ok", str(c)
    assert c.wait_exit(20), str(c)
    ex = kv(c.exit_file.read_text())
    assert ex.get("status") == "137" and ex.get("reason") == "signaled", str(ex)


def test_kill_request_handled_signal(vsb, root_fs):
    """SIGTERM reaches an init that handles it (a pid namespace's init
    only gets signals it has a handler for)."""
    name = "vsbt-kill15"
    c = vsb.start(domain_xml(name, args=["-c", "trap 'exit 3' TERM; echo ready; "
                                               "while :; do sleep 1; done"],
                             filesystems=[root_fs]))
    assert c.ready.startswith("ok "), str(c)
    con = c.console()
    try:
        recv_until(con, rb"ready")  # the trap is installed
    finally:
        con.close()
    assert c.request("kill 15") == "ok", str(c)
    assert c.wait_exit(20), str(c)
    ex = kv(c.exit_file.read_text())
    assert ex.get("status") == "3" and ex.get("reason") == "exited", str(ex)


def test_console_over_socket(vsb, root_fs):
    name = "vsbt-console"
    c = vsb.start(domain_xml(name, init="/bin/sh", filesystems=[root_fs]))
    assert c.ready.startswith("ok "), str(c)
    con = c.console()
    try:
        con.sendall(b"echo hi\n")
        recv_until(con, rb"(^|\n)hi\r?\n")
        # a second client is refused while the first one holds it
        assert c.request("console") == "error console busy", str(c)
        # "force" takes it over: the first connection is closed
        con2 = c.console(force=True)
        try:
            con.settimeout(10)
            try:
                while con.recv(4096):
                    pass
            except socket.timeout:
                raise AssertionError("the first console client was not disconnected "
                                     "by 'console force'")
            con2.sendall(b"echo \"sum=$((40 + 2))\"\n")
            recv_until(con2, rb"sum=42")
        finally:
            con2.close()
    finally:
        con.close()
    assert c.request("destroy") == "ok", str(c)
    assert c.wait_exit(20), str(c)


def test_console_replays_output(vsb, root_fs):
    """Output written before anyone connects is replayed to the console client."""
    name = "vsbt-replay"
    c = vsb.start(domain_xml(name, args=["-c", f"echo early-{SESSION_ID}; sleep 30"],
                             filesystems=[root_fs]))
    assert c.ready.startswith("ok "), str(c)
    time.sleep(0.5)
    con = c.console()
    try:
        recv_until(con, f"early-{SESSION_ID}".encode())
    finally:
        con.close()


# --------------------------------------------------------------------
# More of the contract: teardown, concurrency, the ready fd, the console
# --------------------------------------------------------------------

def test_init_exit_kills_the_rest(vsb, root_fs):
    """When init exits, what it left running in the container dies with
    it: the controller returns at once and nothing is left (the leak
    check would find the processes in the payload cgroup)."""
    start = time.monotonic()
    r = vsb.run(domain_xml("vsbt-orphans", args=["-c", "sleep 1000 & setsid sleep 1000 & "
                                                       "(sleep 1000 &) ; exit 5"],
                           filesystems=[root_fs]), timeout=30)
    assert r.status == 5, str(r)
    assert time.monotonic() - start < 10, f"the controller waited for init's children{r}"


def test_foreground_init_killed_by_signal(vsb, root_fs):
    """Foreground: init killed by signal N gives 128+N, reason=signaled."""
    name = "vsbt-fg-kill"
    path = vsb.write_xml(domain_xml(name, args=["-c", "sleep 30"], filesystems=[root_fs]))
    p = subprocess.Popen(vsb.argv(path), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    try:
        sock = vsb.run_dir / f"{name}.sock"
        deadline = time.monotonic() + 20
        while not sock.exists() and time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.05)
        assert sock.exists(), f"no control socket {sock}"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(str(sock))
            s.sendall(b"kill 9\n")
            assert s.recv(100).strip() == b"ok"
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            p.communicate(timeout=20)
    assert p.returncode == 137, (p.returncode, out, err)
    ex = kv((vsb.run_dir / f"{name}.exit").read_text())
    assert ex.get("status") == "137" and ex.get("reason") == "signaled", ex


def test_sigterm_to_controller_destroys(vsb, root_fs):
    """SIGTERM to a foreground controller tears the container down."""
    name = "vsbt-term"
    path = vsb.write_xml(domain_xml(name, args=["-c", "trap '' TERM; sleep 30"],
                                    filesystems=[root_fs]))
    p = subprocess.Popen(vsb.argv(path), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while (not (vsb.run_dir / f"{name}.sock").exists() and time.monotonic() < deadline
               and p.poll() is None):
            time.sleep(0.05)
        p.send_signal(signal.SIGTERM)
        start = time.monotonic()
        out, err = p.communicate(timeout=20)
        took = time.monotonic() - start
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert sorted(os.listdir(vsb.run_dir)) == [f"{name}.exit"], (out, err)
    ex = kv((vsb.run_dir / f"{name}.exit").read_text())
    assert ex.get("reason") == "destroyed", ex
    assert took < 10, f"destroy took {took:.1f}s"


def test_destroy_many_processes_ignoring_sigterm(vsb, root_fs):
    name = "vsbt-many"
    c = vsb.start(domain_xml(name, args=["-c", "trap '' TERM; i=0; while [ $i -lt 50 ]; do "
                                               "sh -c \"trap '' TERM; sleep 1000\" & i=$((i+1)); "
                                               "done; echo started; wait"],
                             filesystems=[root_fs]))
    assert c.ready.startswith("ok "), str(c)
    con = c.console()
    try:
        recv_until(con, rb"started")
    finally:
        con.close()
    start = time.monotonic()
    assert c.request("destroy") == "ok", str(c)
    assert c.wait_exit(20), str(c)
    assert time.monotonic() - start < 10
    assert kv(c.exit_file.read_text()).get("reason") == "destroyed"


def test_two_containers_at_once(vsb, root_fs):
    a = vsb.start(domain_xml("vsbt-two-a", args=["-c", "sleep 30"], filesystems=[root_fs]))
    b = vsb.start(domain_xml("vsbt-two-b", args=["-c", "sleep 30"], filesystems=[root_fs]))
    assert a.ready.startswith("ok ") and b.ready.startswith("ok "), (str(a), str(b))
    assert a.request("status").startswith("running ")
    assert b.request("status").startswith("running ")
    assert a.request("destroy") == "ok" and a.wait_exit(20)
    # b is untouched by a's teardown
    assert b.request("status") == f"running init={b.init_pid} controller={b.read_pid_file()}"
    assert b.request("destroy") == "ok" and b.wait_exit(20)


def test_same_name_twice_is_refused(vsb, root_fs):
    name = "vsbt-dup"
    xml = domain_xml(name, args=["-c", "sleep 30"], filesystems=[root_fs])
    a = vsb.start(xml)
    assert a.ready.startswith("ok "), str(a)
    r = vsb.run(xml, timeout=30)
    assert r.status == 125, str(r)
    assert len(r.stderr_lines()) == 1 and name in r.stderr, str(r)
    # the running one is untouched, its files too
    assert a.request("status").startswith("running "), str(a)
    for suffix in ("pid", "xml", "state", "sock"):
        assert (vsb.run_dir / f"{name}.{suffix}").exists(), suffix
    assert a.request("destroy") == "ok" and a.wait_exit(20)


def test_stale_run_dir_files_do_not_block(vsb, root_fs):
    """A pid file nobody holds a lock on (a controller that crashed) and
    a stale socket do not prevent a start."""
    name = "vsbt-stale"
    (vsb.run_dir / f"{name}.pid").write_text("999999\n")
    (vsb.run_dir / f"{name}.state").write_text("controller_pid=999999\n")
    (vsb.run_dir / f"{name}.sock").write_text("")
    r = vsb.run(domain_xml(name, args=["-c", "exit 3"], filesystems=[root_fs]))
    assert r.status == 3, str(r)
    assert r.run_dir_after == [f"{name}.exit"], str(r)


def test_ready_fd_reports_error(vsb):
    name = "vsbt-ready-err"
    missing = vsb.tmp / "no-such-root"
    c = vsb.start(domain_xml(name, args=["-c", "exit 0"], filesystems=[fs_mount(missing, "/")]))
    assert c.ready.startswith("error ") and str(missing) in c.ready, str(c)
    assert c.wait_exit(20), str(c)
    assert c.proc.wait(timeout=5) == 125, str(c)


def test_staging_root_is_empty_on_host(vsb, root_fs):
    """NAME.root is an empty directory on the host while the container
    runs: its mounts live only in the container's mount namespace."""
    name = "vsbt-staging"
    c = vsb.start(domain_xml(name, args=["-c", "sleep 30"], filesystems=[root_fs]))
    assert c.ready.startswith("ok "), str(c)
    staging = vsb.run_dir / f"{name}.root"
    if staging.exists():
        assert staging.is_dir() and os.listdir(staging) == [], str(c)
    assert vsbleaks.mounts((str(vsb.run_dir),)) == []
    assert vsbleaks.mounts((str(vsb.tmp),)) == []
    assert c.request("destroy") == "ok" and c.wait_exit(20)


def test_readonly_image_root(vsb, rootfs_image):
    r = vsb.run(domain_xml("vsbt-image-ro", args=["-c", "if echo x > /tmp/ro-test; then echo "
                                                        "write=ok; else echo write=fail; fi"],
                           filesystems=[fs_file(rootfs_image, readonly=True)]))
    assert r.status == 0, str(r)
    assert r.kv.get("write") == "fail", str(r)


def test_large_output_is_complete(vsb, root_fs):
    """Everything init wrote before exiting reaches the controller's stdout."""
    script = "i=0; while [ $i -lt 20000 ]; do echo \"line $i\"; i=$((i+1)); done; echo END"
    r = vsb.run(domain_xml("vsbt-bigout", args=["-c", script], filesystems=[root_fs]))
    assert r.status == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 20001 and lines[-1] == "END" and lines[12345] == "line 12345", \
        f"got {len(lines)} lines, last {lines[-1:]!r}"


def test_stdin_eof_reaches_init(vsb, root_fs):
    """`printf 'abc\\n' | controller --foreground` with init /bin/cat:
    cat sees the data, then end of file, and exits."""
    r = vsb.run(domain_xml("vsbt-eof", init="/bin/cat", filesystems=[root_fs]),
                stdin=b"abc\n", timeout=15)
    assert not r.timed_out, f"init never saw the end of stdin{r}"
    assert r.status == 0, str(r)
    assert "abc" in r.stdout.splitlines(), str(r)


def test_console_backlog_is_bounded(vsb, root_fs):
    """Replay sends at most 64 KiB, the most recent output."""
    name = "vsbt-backlog"
    script = ("i=0; while [ $i -lt 20000 ]; do echo \"line $i\"; i=$((i+1)); done; "
              "echo BACKLOG-END; sleep 30")
    c = vsb.start(domain_xml(name, args=["-c", script], filesystems=[root_fs]))
    assert c.ready.startswith("ok "), str(c)
    deadline = time.monotonic() + 20
    con = None
    try:
        # wait until the loop is done (a slow machine may still be
        # printing when we first connect: that client sees the replay and
        # then the live output), then connect again and read the replay
        while time.monotonic() < deadline:
            time.sleep(0.5)
            con = c.console(force=True)
            try:
                recv_until(con, rb"BACKLOG-END\r?\n", timeout=2)
                break
            except AssertionError:
                pass
            finally:
                con.close()
                con = None
        else:
            raise AssertionError("never saw BACKLOG-END in the replay")
        con = c.console(force=True)   # force: the last client may not be gone yet
        data = recv_until(con, rb"BACKLOG-END\r?\n", timeout=5)
        con.settimeout(1)
        try:
            while True:
                chunk = con.recv(65536)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            pass
    finally:
        if con:
            con.close()
    assert len(data) <= 64 * 1024, len(data)
    assert len(data) > 60 * 1024, len(data)
    assert b"line 19999" in data and b"line 0\n" not in data


def test_control_socket_survives_bad_clients(vsb, root_fs):
    """A client that says nothing, one that sends a huge line and one
    asking nonsense do not stop the controller from answering others."""
    name = "vsbt-badclients"
    c = vsb.start(domain_xml(name, args=["-c", "sleep 30"], filesystems=[root_fs]))
    assert c.ready.startswith("ok "), str(c)
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    silent.connect(str(c.sock))
    huge = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    huge.connect(str(c.sock))
    huge.settimeout(10)
    try:
        try:
            huge.sendall(b"a" * (1024 * 1024))
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            pass  # the controller may hang up on it: fine
        start = time.monotonic()
        assert c.request("status", timeout=5).startswith("running "), str(c)
        assert time.monotonic() - start < 5
        assert c.request("kill notasignal").startswith("error"), str(c)
        assert c.request("").startswith("error"), str(c)
    finally:
        silent.close()
        huge.close()
    assert c.request("status").startswith("running "), str(c)
    assert c.request("destroy") == "ok" and c.wait_exit(20)


def test_destroy_closes_console_client(vsb, root_fs):
    name = "vsbt-con-destroy"
    c = vsb.start(domain_xml(name, init="/bin/sh", filesystems=[root_fs]))
    assert c.ready.startswith("ok "), str(c)
    con = c.console()
    try:
        assert c.request("destroy") == "ok", str(c)
        con.settimeout(10)
        try:
            while con.recv(4096):
                pass
        except socket.timeout:
            raise AssertionError("console client still connected after destroy")
    finally:
        con.close()
    assert c.wait_exit(20), str(c)


def test_run_dir_created(vsb, root_fs):
    """A missing run dir is created (the default one is, under /run)."""
    run_dir = vsb.tmp / "new" / "run-dir"
    r = vsb.run(domain_xml("vsbt-newrun", args=["-c", "exit 0"], filesystems=[root_fs]),
                extra=["--run-dir", str(run_dir)])
    assert r.status == 0, str(r)
    assert sorted(os.listdir(run_dir)) == ["vsbt-newrun.exit"]


def test_cpu_shares_and_cpuset(vsb, root_fs):
    script = r"""
for f in /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu.weight; do
    if [ -r "$f" ]; then echo "cpu=$f $(cat "$f")"; break; fi
done
for f in /sys/fs/cgroup/cpuset/cpuset.cpus /sys/fs/cgroup/cpuset.cpus.effective; do
    if [ -r "$f" ]; then echo "cpuset=$(cat "$f")"; break; fi
done
echo "allowed=$(awk '$1 == "Cpus_allowed_list:" { print $2 }' /proc/self/status)"
"""
    r = vsb.run(domain_xml("vsbt-cpu", args=["-c", script], filesystems=[root_fs],
                           extra="<vcpu placement='static' cpuset='0'>1</vcpu>"
                                 "<cputune><shares>512</shares></cputune>"))
    assert r.status == 0, str(r)
    path, _, value = r.kv.get("cpu", "").partition(" ")
    if path.endswith("cpu.shares"):
        assert value == "512", str(r)
    else:
        # the controller's conversion (vsb_cgroup_shares_to_weight(), as the
        # kernel and systemd do): round(512 * 100 / 1024)
        assert path.endswith("cpu.weight") and value == "50", str(r)
    assert r.kv.get("cpuset") == "0", str(r)
    assert r.kv.get("allowed") == "0", str(r)


def test_user_namespace_idmap(vsb, busybox_root, session_tmp):
    """<idmap>: root inside is uid 100000 outside."""
    root = session_tmp / "rootfs-userns"
    if not root.exists():
        subprocess.run(["cp", "-a", str(busybox_root), str(root)], check=True)
        subprocess.run(["chown", "-R", "-h", "100000:100000", str(root)], check=True)
    script = ('echo "uid=$(id -u)"; echo "map=$(cat /proc/self/uid_map | tr -s \' \' | '
              'sed \'s/^ //\')"; echo "gmap=$(cat /proc/self/gid_map | tr -s \' \' | '
              'sed \'s/^ //\')"; touch /tmp/userns-write && echo write=ok')
    r = vsb.run(domain_xml("vsbt-userns", args=["-c", script], filesystems=[fs_mount(root, "/")],
                           extra="<idmap><uid start='0' target='100000' count='65536'/>"
                                 "<gid start='0' target='100000' count='65536'/></idmap>"))
    assert r.status == 0, str(r)
    assert r.kv.get("uid") == "0", str(r)
    assert r.kv.get("map") == "0 100000 65536", str(r)
    assert r.kv.get("gmap") == "0 100000 65536", str(r)
    assert r.kv.get("write") == "ok", str(r)
    st = os.stat(root / "tmp" / "userns-write")
    assert (st.st_uid, st.st_gid) == (100000, 100000), (st.st_uid, st.st_gid)


def _private_root(busybox_root, dest):
    subprocess.run(["cp", "-a", str(busybox_root), str(dest)], check=True)
    return dest


def test_symlinked_mount_target_stays_in_root(vsb, busybox_root):
    """A mount target that is a symlink in the container's tree pointing
    at a host path (absolute, or climbing with ..) is resolved inside
    the root, never on the host."""
    root = _private_root(busybox_root, vsb.tmp / "root")
    host_abs = vsb.tmp / "host-abs"
    host_rel = vsb.tmp / "host-rel"
    for d in (host_abs, host_rel):
        d.mkdir()
        (d / "host-file").write_text("host\n")
        # the same path inside the root: where the symlinks really lead
        (root / str(d).lstrip("/")).mkdir(parents=True)
    (root / "mnt" / "ram").rmdir()
    os.symlink(str(host_abs), root / "mnt" / "ram")
    os.symlink("../" * 12 + str(host_rel).lstrip("/"), root / "mnt" / "rel")
    share = vsb.tmp / "share"
    share.mkdir()
    (share / "share-file").write_text("share\n")
    script = ("echo x > /mnt/ram/written; echo y > /mnt/rel/written; "
              "echo \"ram=$(ls /mnt/ram | tr '\\n' ' ')\"; "
              "echo \"rel=$(ls /mnt/rel | tr '\\n' ' ')\"")
    r = vsb.run(domain_xml("vsbt-symlink", args=["-c", script],
                           filesystems=[fs_mount(root, "/"), fs_ram("/mnt/ram", 1024),
                                        fs_mount(share, "/mnt/rel")]))
    for d in (host_abs, host_rel):
        assert sorted(os.listdir(d)) == ["host-file"], \
            f"the container wrote into the host directory {d}{r}"
    assert r.status == 0, str(r)
    assert r.kv.get("ram", "").split() == ["written"], str(r)
    assert sorted(r.kv.get("rel", "").split()) == ["share-file", "written"], str(r)


def test_bind_source_cannot_escape_root(vsb, root_fs):
    """<filesystem type='bind'> sources are guest paths: '..' does not
    climb out of the container's root."""
    r = vsb.run(domain_xml("vsbt-bind-escape",
                           args=["-c", "echo \"lines=$(wc -l < /mnt/bind/passwd)\"; "
                                       "echo \"first=$(head -n 1 /mnt/bind/passwd)\""],
                           filesystems=[root_fs, fs_bind("/../../../../../../etc", "/mnt/bind")]))
    if r.status == 125:
        assert len(r.stderr_lines()) == 1, str(r)
        return
    assert r.status == 0, str(r)
    assert r.kv.get("lines") == "2", f"/mnt/bind is not the container's /etc{r}"


@pytest.mark.parametrize("d", ["dev", "proc", "sys"])
def test_symlinked_system_dir_stays_in_root(vsb, busybox_root, d):
    """/dev, /proc, /sys as symlinks to a host directory: the controller
    mounts inside the root or refuses; the host directory is untouched."""
    root = _private_root(busybox_root, vsb.tmp / "root")
    host_dir = vsb.tmp / f"host-{d}"
    host_dir.mkdir()
    (host_dir / "host-file").write_text("host\n")
    (root / d).rmdir()
    os.symlink(str(host_dir), root / d)
    r = vsb.run(domain_xml(f"vsbt-sym-{d}", args=["-c", f"ls /{d} > /dev/null; touch /{d}/x 2>/dev/null; exit 0"],
                           filesystems=[fs_mount(root, "/")]))
    assert sorted(os.listdir(host_dir)) == ["host-file"], \
        f"the container changed the host directory {host_dir}{r}"
    assert r.status in (0, 125), str(r)
    if r.status == 125:
        assert len(r.stderr_lines()) == 1, str(r)


def test_control_socket_root_only(vsb, root_fs):
    """An unprivileged user cannot talk to the control socket."""
    name = "vsbt-sockperm"
    c = vsb.start(domain_xml(name, args=["-c", "sleep 30"], filesystems=[root_fs]))
    assert c.ready.startswith("ok "), str(c)
    probe = ("import socket, sys\n"
             "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
             "s.settimeout(5)\n"
             "try:\n"
             "    s.connect(sys.argv[1]); s.sendall(b'destroy\\n'); print(repr(s.recv(100)))\n"
             "except OSError as e:\n"
             "    print('refused', e)\n")
    out = subprocess.run(["/usr/bin/python3", "-c", probe, str(c.sock)], capture_output=True,
                         text=True, timeout=30, user=65534, group=65534).stdout.strip()
    assert out.startswith("refused") or out in ("b''", "b'error permission denied\\n'") \
        or "error" in out, out
    assert c.request("status").startswith("running "), f"the unprivileged client stopped it{c}"
    assert c.request("destroy") == "ok" and c.wait_exit(20)


def test_stdout_closed_early(vsb, root_fs):
    """`controller --foreground | head -1`: the reader goes away; the
    controller must not die of SIGPIPE leaving the container behind.
    It goes on until init exits (or tears down), and cleans up."""
    name = "vsbt-epipe"
    script = "i=0; while [ $i -lt 50000 ]; do echo \"line $i\"; i=$((i+1)); done; exit 3"
    path = vsb.write_xml(domain_xml(name, args=["-c", script], filesystems=[root_fs]))
    p = subprocess.Popen(vsb.argv(path), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    try:
        first = p.stdout.readline()
        p.stdout.close()
        err = p.stderr.read()
        status = p.wait(timeout=60)
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=20)
    assert first.startswith(b"line 0"), first
    assert status != -signal.SIGPIPE, f"the controller died of SIGPIPE: {err!r}"
    assert sorted(os.listdir(vsb.run_dir)) == [f"{name}.exit"], (status, err)


# --------------------------------------------------------------------
# Resource limits applied at start: <numatune>, <blkiotune>, pids, kmem
# --------------------------------------------------------------------

VSB_NS = "http://virt-sandbox.org/xmlns/domain/1.0"


def _cgroup_mounts():
    """{controller: mount point} of v1 hierarchies, and "" for cgroup2."""
    mounts = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, post = line.split(" - ", 1)
            fstype, _src, opts = post.split()[:3]
            point = pre.split()[4]
            if fstype == "cgroup2":
                mounts.setdefault("", point)
            elif fstype == "cgroup":
                for o in opts.split(","):
                    mounts.setdefault(o, point)
    return mounts


def _cgroup_dir(pid, v1_controller, v2_controller):
    """Host directory of @pid's cgroup for a controller: the v1 hierarchy
    owning it, else cgroup2 where it is enabled; None if neither."""
    mounts = _cgroup_mounts()
    with open(f"/proc/{pid}/cgroup") as f:
        lines = f.read().splitlines()
    for line in lines:
        _h, ctrls, path = line.split(":", 2)
        if v1_controller in ctrls.split(",") and v1_controller in mounts:
            return mounts[v1_controller] + path
    for line in lines:
        if line.startswith("0::") and "" in mounts:
            d = mounts[""] + line[3:]
            with open(os.path.join(d, "cgroup.controllers")) as f:
                if v2_controller in f.read().split():
                    return d
    return None


@contextlib.contextmanager
def _test_disk(tmp):
    """(/dev/NAME, "MAJ:MIN") of a whole disk (throttles take disks, not
    partitions): one of this host's, else a loop device over a sparse
    file, detached afterwards; None if neither can be had."""
    names = sorted(os.listdir("/sys/block"))
    for prefix in ("vd", "sd", "nvme", "xvd", "hd", "mmcblk"):
        for n in names:
            if n.startswith(prefix) and os.path.exists(f"/dev/{n}"):
                yield f"/dev/{n}", open(f"/sys/block/{n}/dev").read().strip()
                return
    backing = tmp / "throttle.img"
    with open(backing, "wb") as f:
        f.truncate(16 * MIB)
    r = subprocess.run(["losetup", "--find", "--show", str(backing)], capture_output=True,
                       text=True)
    if r.returncode != 0:
        yield None
        return
    dev = r.stdout.strip()
    try:
        st = os.stat(dev)
        yield dev, f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
    finally:
        subprocess.run(["losetup", "-d", dev], check=True)


def _read(d, name):
    with open(os.path.join(d, name)) as f:
        return f.read().strip()


def test_resource_limits_applied_at_start(vsb, root_fs):
    """<numatune> strict, <blkiotune> device throttles, <vsb:pids> and
    <memory>: the payload's cgroup files on the host hold them, each in
    the spelling of the hierarchy owning its controller."""
    with _test_disk(vsb.tmp) as disk:
        _limits_applied_at_start(vsb, root_fs, disk)


def _limits_applied_at_start(vsb, root_fs, disk):
    name = "vsbt-limits"
    blkio = ""
    if disk:
        blkio = (f"<blkiotune><device><path>{disk[0]}</path>"
                 f"<write_iops_sec>200</write_iops_sec><read_bytes_sec>10485760</read_bytes_sec>"
                 f"</device></blkiotune>")
    extra = (f"<metadata><vsb:sandbox xmlns:vsb='{VSB_NS}'><vsb:pids max='50'/></vsb:sandbox>"
             f"</metadata>{blkio}<numatune><memory mode='strict' nodeset='0'/></numatune>")
    c = vsb.start(domain_xml(name, args=["-c", "sleep 60"], filesystems=[root_fs],
                             memory_kib=64 * 1024, extra=extra))
    try:
        assert c.ready.startswith("ok "), str(c)
        pid = c.init_pid

        pids = _cgroup_dir(pid, "pids", "pids")
        assert pids and pids.endswith("/payload"), pids
        assert _read(pids, "pids.max") == "50"

        cpuset = _cgroup_dir(pid, "cpuset", "cpuset")
        assert cpuset, "no cpuset controller for the payload"
        assert _read(cpuset, "cpuset.mems") == "0"

        mem = _cgroup_dir(pid, "memory", "memory")
        if os.path.exists(os.path.join(mem, "memory.kmem.tcp.limit_in_bytes")):
            # v1: socket buffers are charged apart, with the same limit
            assert int(_read(mem, "memory.kmem.tcp.limit_in_bytes")) == 64 * MIB
            assert int(_read(mem, "memory.limit_in_bytes")) == 64 * MIB
        else:
            assert int(_read(mem, "memory.max")) == 64 * MIB

        if disk:
            io = _cgroup_dir(pid, "blkio", "io")
            assert io, "no blkio/io controller for the payload"
            if os.path.exists(os.path.join(io, "io.max")):
                assert (f"{disk[1]} rbps=10485760 wbps=max riops=max wiops=200"
                        in _read(io, "io.max").splitlines())
            else:
                assert (f"{disk[1]} 10485760"
                        in _read(io, "blkio.throttle.read_bps_device").splitlines())
                assert (f"{disk[1]} 200"
                        in _read(io, "blkio.throttle.write_iops_device").splitlines())
    finally:
        assert c.request("destroy") == "ok" and c.wait_exit(20), str(c)


def test_pids_limit_stops_forks(vsb, root_fs):
    """<vsb:pids max='8'/>: the container cannot hold more tasks; what
    ran before the limit keeps running."""
    name = "vsbt-pids"
    script = """
( i=0; while [ $i -lt 30 ]; do sleep 60 & i=$((i+1)); done; echo forked=all )
echo sub=$?
read n < /proc/self/stat 2>/dev/null
echo alive=yes
"""
    extra = (f"<metadata><vsb:sandbox xmlns:vsb='{VSB_NS}'><vsb:pids max='8'/></vsb:sandbox>"
             f"</metadata>")
    r = vsb.run(domain_xml(name, args=["-c", script], filesystems=[root_fs], extra=extra),
                timeout=60)
    assert r.status == 0, str(r)
    assert "forked" not in r.kv, f"30 forks under pids.max 8{r}"
    assert r.kv.get("sub") not in (None, "0"), str(r)
    assert r.kv.get("alive") == "yes", str(r)


def test_blkio_weight_at_start(vsb, root_fs):
    """<blkiotune><weight>: written to the weight file the host has
    (v1 BFQ's blkio.bfq.weight as is, v2 io.weight converted to 60 of
    10000), or refused naming the files missing."""
    name = "vsbt-weight"
    extra = "<blkiotune><weight>300</weight></blkiotune>"
    c = vsb.start(domain_xml(name, args=["-c", "sleep 60"], filesystems=[root_fs], extra=extra))
    try:
        if not c.ready.startswith("ok "):
            assert "I/O weight is not available" in c.ready + c.log, str(c)
            return
        io = _cgroup_dir(c.init_pid, "blkio", "io")
        found = {}
        for f, want in (("blkio.weight", "300"), ("blkio.bfq.weight", "300"),
                        ("io.weight", "default 60"), ("io.bfq.weight", "default 300")):
            p = os.path.join(io, f)
            if os.path.exists(p):
                found[f] = _read(io, f).splitlines()[0]
                assert found[f] == want, (f, found[f])
        assert found, f"started, but no weight file in {io}"
    finally:
        if c.ready.startswith("ok "):
            assert c.request("destroy") == "ok" and c.wait_exit(20), str(c)


def test_blkio_device_not_a_block_device(vsb, root_fs):
    name = "vsbt-notblk"
    extra = ("<blkiotune><device><path>/dev/null</path>"
             "<read_bytes_sec>1000</read_bytes_sec></device></blkiotune>")
    r = vsb.run(domain_xml(name, args=["-c", "exit 0"], filesystems=[root_fs], extra=extra))
    assert r.status != 0, str(r)
    assert_one_line_naming(r, "blkiotune device /dev/null: not a block device")
    assert only_exit_file(r, name), str(r)


@pytest.mark.skipif(not os.path.exists("/proc/self/numa_maps"), reason="kernel without NUMA")
@pytest.mark.parametrize("mode,shown", [("interleave", "interleave:0"), ("preferred", "prefer:0")])
def test_numatune_memory_policy(vsb, root_fs, mode, shown):
    """<numatune> preferred / interleave: a memory policy on init,
    inherited by what it starts (numa_maps shows the task's policy on
    mappings without one of their own)."""
    name = f"vsbt-numa-{mode}"
    extra = f"<numatune><memory mode='{mode}' nodeset='0'/></numatune>"
    script = "echo policy=$(awk 'NR == 1 { print $2 }' /proc/self/numa_maps)"
    r = vsb.run(domain_xml(name, args=["-c", script], filesystems=[root_fs], extra=extra))
    assert r.status == 0, str(r)
    assert r.kv.get("policy") == shown, str(r)
