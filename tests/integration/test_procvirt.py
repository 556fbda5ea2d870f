"""Integration tests of issue 6: what top, free, uptime, dmesg and logger
see inside a container is the container, not the host.

The /proc views (vsb-ctl-fuse.c), the time namespace (vsb-ctl-time.c),
/dev/log (vsb-ctl-syslog.c), /dev/kmsg and the seccomp filter, in real
containers.  Two kinds of root: the busybox root of conftest.py, and the
host's own / (no root <filesystem>), for the tools of procps and
util-linux (busybox's free and uptime use sysinfo(2), which the
controller answers through a seccomp listener, and its dmesg only knows
syslog(2)).

Run as root: /usr/bin/python3 -m pytest tests/integration/test_procvirt.py
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

import conftest
from conftest import SESSION_ID, Runner, domain_xml, fs_mount, kv
from vsbdaemon import daemon  # noqa: F401

MIB = 1024 * 1024
VSB_NS = "http://virt-sandbox.org/xmlns/domain/1.0"


class LogRunner(Runner):
    """A Runner whose controllers keep their logs under its directory."""

    def __init__(self, tmp):
        super().__init__(tmp)
        self.log_dir = self.tmp / "log"

    def argv(self, xml_path, foreground=True, extra=()):
        return super().argv(xml_path, foreground, list(extra) + ["--log-dir", str(self.log_dir)])

    def log(self, name):
        try:
            return (self.log_dir / f"{name}.log").read_text(errors="replace")
        except OSError:
            return ""


@pytest.fixture
def lrun(request, leak_check, session_tmp, controller):
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)[:48]
    r = LogRunner(session_tmp / name)
    try:
        yield r
    finally:
        r.close()


def sh(script):
    return ["-c", script]


def host_domain(name, script, memory_kib=256 * 1024, extra=""):
    """A container whose root is the host's / (read-only): procps and
    util-linux tools, python3."""
    return domain_xml(name, args=sh(script), memory_kib=memory_kib, extra=extra)


def busybox_domain(name, root_fs, script, memory_kib=256 * 1024, extra=""):
    return domain_xml(name, args=sh(script), filesystems=[root_fs], memory_kib=memory_kib,
                      extra=extra)


def metadata_time(inner):
    return (f"<metadata><vsb:sandbox xmlns:vsb='{VSB_NS}'><vsb:time>{inner}</vsb:time>"
            f"</vsb:sandbox></metadata>")


def host_uptime():
    with open("/proc/uptime") as f:
        return float(f.read().split()[0])


def host_allowed_cpus():
    with open("/sys/devices/system/cpu/online") as f:
        text = f.read().strip()
    cpus = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        cpus += list(range(int(lo), int(hi or lo) + 1))
    return cpus


# --------------------------------------------------------------------
# /proc/meminfo, free
# --------------------------------------------------------------------

def test_meminfo_total_is_memory_limit(lrun, root_fs):
    """busybox cat (sendfile()), head (read()) and grep all see the limit."""
    script = """
echo "cat=$(cat /proc/meminfo | head -n 1)"
echo "head=$(head -n 1 /proc/meminfo)"
awk '$1 == "MemFree:" { print "free_kb=" $2 } $1 == "MemAvailable:" { print "avail_kb=" $2 }' \
    /proc/meminfo
"""
    r = lrun.run(busybox_domain("vsbt-meminfo", root_fs, script, memory_kib=96 * 1024))
    assert r.status == 0, str(r)
    assert re.fullmatch(r"MemTotal:\s+98304 kB", r.kv["cat"]), str(r)
    assert r.kv["head"] == r.kv["cat"], str(r)
    assert 0 < int(r.kv["free_kb"]) <= 98304, str(r)
    assert int(r.kv["free_kb"]) <= int(r.kv["avail_kb"]) <= 98304, str(r)


def test_free_total_is_memory_limit(lrun):
    """procps free reads /proc/meminfo: its total is <memory>, its used
    grows with what the container allocates."""
    script = """
/usr/bin/free -m | awk '$1 == "Mem:" { print "total=" $2; print "used=" $3 }'
/usr/bin/python3 -c '
import subprocess
x = bytearray(80 << 20)
for i in range(0, len(x), 4096): x[i] = 1
out = subprocess.run(["/usr/bin/free", "-m"], capture_output=True, text=True).stdout
print("used_big=" + [l for l in out.splitlines() if l.startswith("Mem:")][0].split()[2])
'
"""
    r = lrun.run(host_domain("vsbt-free", script, memory_kib=256 * 1024))
    assert r.status == 0, str(r)
    assert r.kv["total"] == "256", str(r)
    assert int(r.kv["used_big"]) >= int(r.kv["used"]) + 70, str(r)


def test_busybox_free_total_is_memory_limit(lrun, root_fs):
    """busybox free asks sysinfo(2), which the controller answers."""
    script = "free | awk '$1 == \"Mem:\" { print \"total=\" $2; print \"free=\" $4 }'"
    r = lrun.run(busybox_domain("vsbt-bbfree", root_fs, script, memory_kib=96 * 1024))
    assert r.status == 0, str(r)
    assert r.kv["total"] == "98304", str(r)
    assert 0 < int(r.kv["free"]) < 98304, str(r)


def test_sysinfo_from_every_thread_and_after_fork(lrun):
    """Python's os.sysconf(SC_PHYS_PAGES) is glibc's sysinfo(2): in a
    forked child and in threads too, and a call with a bad pointer fails
    with EFAULT instead of writing anywhere."""
    script = """/usr/bin/python3 -c '
import ctypes, os, threading
libc = ctypes.CDLL(None, use_errno=True)
def total():
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
print("main=%d" % total())
res = []
ts = [threading.Thread(target=lambda: res.append(total())) for _ in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
print("threads=%s" % ",".join(str(x) for x in sorted(set(res))))
pid = os.fork()
if pid == 0:
    print("child=%d" % total(), flush=True); os._exit(0)
os.waitpid(pid, 0)
rc = libc.sysinfo(ctypes.c_void_p(16))
print("bad=%d,%d" % (rc, ctypes.get_errno()))
class SI(ctypes.Structure):
    _fields_ = [("uptime", ctypes.c_long), ("loads", ctypes.c_ulong * 3),
                ("totalram", ctypes.c_ulong), ("freeram", ctypes.c_ulong),
                ("sharedram", ctypes.c_ulong), ("bufferram", ctypes.c_ulong),
                ("totalswap", ctypes.c_ulong), ("freeswap", ctypes.c_ulong),
                ("procs", ctypes.c_ushort), ("pad", ctypes.c_ushort),
                ("totalhigh", ctypes.c_ulong), ("freehigh", ctypes.c_ulong),
                ("mem_unit", ctypes.c_uint), ("f", ctypes.c_char * 8)]
si = SI()
assert libc.sysinfo(ctypes.byref(si)) == 0
print("uptime=%d" % si.uptime); print("procs=%d" % si.procs)
print("unit=%d" % si.mem_unit); print("free=%d" % si.freeram)
'
"""
    r = lrun.run(host_domain("vsbt-sysinfo", script, memory_kib=200 * 1024))
    assert r.status == 0, str(r)
    limit = 200 * MIB
    assert int(r.kv["main"]) == limit, str(r)
    assert r.kv["threads"] == str(limit), str(r)
    assert int(r.kv["child"]) == limit, str(r)
    assert r.kv["bad"] == "-1,14", str(r)
    # the container's clock, its threads (sh, python3 and its
    # leftovers: the host runs hundreds), bytes
    assert 1 <= int(r.kv["uptime"]) < 30, str(r)
    assert 1 <= int(r.kv["procs"]) < 20, str(r)
    assert r.kv["unit"] == "1" and 0 < int(r.kv["free"]) < limit, str(r)


# init writes what /proc/meminfo and busybox free (sysinfo(2)) say, ten
# times a second, to a tmpfs the host reads through /proc/PID/root
MEM_WATCH_INIT = ("-c", "while :; do { head -n 1 /proc/meminfo; free | grep Mem:; } > /run/m.t; "
                  "mv /run/m.t /run/m; sleep 0.1; done")


def mem_totals(daemon, name):
    """(MemTotal in KiB, busybox free's total in KiB) inside, or None."""
    dom_id = daemon.virsh("domid", name).stdout.strip()
    try:
        text = Path(f"/proc/{dom_id}/root/run/m").read_text()
    except OSError:
        return None
    m1 = re.search(r"^MemTotal:\s+(\d+) kB$", text, re.M)
    m2 = re.search(r"^Mem:\s+(\d+)\s", text, re.M)
    return (int(m1.group(1)), int(m2.group(1))) if m1 and m2 else None


def wait_totals(daemon, name, kib):
    deadline = time.monotonic() + 20
    while mem_totals(daemon, name) != (kib, kib):
        if time.monotonic() > deadline:
            raise AssertionError(f"MemTotal/free total {mem_totals(daemon, name)}, not {kib}"
                                 f"{daemon}")
        time.sleep(0.05)


@pytest.mark.parametrize("how", ["memtune", "setmem"])
def test_free_follows_a_live_limit_change(daemon, root_fs, how):
    """virsh memtune --hard-limit and virsh setmem change the cgroup's
    limit of a running container: its /proc/meminfo and busybox free
    (sysinfo(2)) follow at once."""
    name = f"vsbt-live-{how}"
    xml = conftest.domain_xml(name, init="/bin/sh", args=MEM_WATCH_INIT,
                              filesystems=[root_fs, conftest.fs_ram("/run", 1024)],
                              memory_kib=256 * 1024)
    path = daemon.tmp / f"{name}.xml"
    path.write_text(xml)
    daemon.virsh("define", str(path))
    daemon.virsh("start", name)
    wait_totals(daemon, name, 256 * 1024)
    if how == "memtune":
        daemon.virsh("memtune", name, "--hard-limit", "200000", "--live")
    else:
        daemon.virsh("setmem", name, "200000", "--live")
    wait_totals(daemon, name, 200000)


def test_swaps_header_only_without_swap_accounting(lrun, root_fs):
    r = lrun.run(busybox_domain("vsbt-swaps", root_fs, "cat /proc/swaps; echo end=1"))
    assert r.status == 0, str(r)
    lines = [ln for ln in r.stdout.splitlines() if ln.strip() and not ln.startswith("end=")]
    assert lines[0].split() == ["Filename", "Type", "Size", "Used", "Priority"], str(r)
    with open("/proc/meminfo") as f:
        host_swap = int(kv(f.read().replace(":", "=")).get("SwapTotal", "0 kB").split()[0])
    if host_swap == 0:
        assert len(lines) == 1, str(r)


# --------------------------------------------------------------------
# CPUs: nproc, /sys/devices/system/cpu/online, /proc/stat, /proc/cpuinfo
# --------------------------------------------------------------------

CPU_SCRIPT = """
echo "nproc=$(nproc)"
echo "online=$(cat /sys/devices/system/cpu/online)"
echo "cpuinfo=$(grep -c '^processor' /proc/cpuinfo)"
echo "statcpus=$(grep -c '^cpu[0-9]' /proc/stat)"
echo "statlines=$(grep '^cpu' /proc/stat | cut -d' ' -f1 | tr '\\n' ' ')"
i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done
echo "cpu=$(grep '^cpu ' /proc/stat)"
"""


@pytest.mark.parametrize("cpuset", ["0", "all"])
def test_cpus_are_the_cpuset(lrun, root_fs, cpuset):
    cpus = host_allowed_cpus()
    if cpuset == "all":
        if len(cpus) < 2:
            pytest.skip("the host has one cpu")
        cpuset = f"{cpus[0]}-{cpus[1]}"
        n = 2
    else:
        n = 1
    extra = f"<vcpu placement='static' cpuset='{cpuset}'>{n}</vcpu>"
    r = lrun.run(busybox_domain("vsbt-cpus", root_fs, CPU_SCRIPT, extra=extra))
    assert r.status == 0, str(r)
    assert r.kv["nproc"] == str(n), str(r)
    assert r.kv["online"] == ("0" if n == 1 else f"0-{n - 1}"), str(r)
    assert r.kv["cpuinfo"] == str(n), str(r)
    assert r.kv["statcpus"] == str(n), str(r)
    assert r.kv["statlines"].split() == ["cpu"] + [f"cpu{i}" for i in range(n)], str(r)
    fields = [int(x) for x in r.kv["cpu"].split()[1:]]
    # user + system: the busy loop; idle: the container's short uptime
    assert len(fields) == 10 and fields[0] + fields[2] >= 1, str(r)
    assert fields[3] < 100 * 10 * n, f"idle beyond 10 s of uptime per cpu{r}"


def test_top_shows_the_container(lrun):
    extra = "<vcpu placement='static' cpuset='0'>1</vcpu>"
    r = lrun.run(host_domain("vsbt-top", "/usr/bin/top -bn1 | head -n 5", memory_kib=128 * 1024,
                             extra=extra))
    assert r.status == 0, str(r)
    assert re.search(r"MiB Mem :\s+128\.0 total", r.stdout), str(r)
    assert re.search(r"up 0 min", r.stdout), str(r)
    assert re.search(r"Tasks:\s+\d total", r.stdout), f"more than 9 tasks?{r}"


def test_loadavg_counts_the_container(lrun, root_fs):
    script = "sleep 100 & a=$!; sleep 100 & b=$!; cat /proc/loadavg; kill $a $b"
    r = lrun.run(busybox_domain("vsbt-load", root_fs, script))
    assert r.status == 0, str(r)
    m = re.search(r"^(\d+\.\d\d) (\d+\.\d\d) (\d+\.\d\d) (\d+)/(\d+) (\d+)$", r.stdout, re.M)
    assert m, str(r)
    running, total, last = int(m.group(4)), int(m.group(5)), int(m.group(6))
    # sh, two sleeps and cat: the host runs hundreds
    assert 1 <= running <= 4 and 3 <= total <= 6, str(r)
    assert 2 <= last < 20, str(r)


def test_load_is_sampled_from_the_start(lrun, root_fs):
    """Nobody reads the load for 8 s while a task spins: the first look
    (busybox uptime: sysinfo(2); /proc/loadavg) already shows it."""
    script = ("(while :; do :; done) & a=$!; sleep 8; up=$(uptime); "
              "echo load=$(cut -d' ' -f1 /proc/loadavg); echo up=$up; kill $a")
    r = lrun.run(busybox_domain("vsbt-loadstart", root_fs, script), timeout=60)
    assert r.status == 0, str(r)
    assert float(r.kv["load"]) > 0, str(r)
    m = re.search(r"load average: (\d+\.\d\d), (\d+\.\d\d), (\d+\.\d\d)", r.kv["up"])
    assert m, str(r)
    # a sample every 5 s: the two looks, a moment apart, see the same
    # figure or the next one
    assert 0 < float(m.group(1)) <= 1.0, str(r)


def test_busybox_uptime_is_the_containers(lrun, root_fs):
    """busybox uptime (sysinfo(2)): the container's uptime and its load,
    0.00 in a container that has run nothing for its first seconds,
    whatever the host's is."""
    r = lrun.run(busybox_domain("vsbt-bbuptime", root_fs, "uptime"))
    assert r.status == 0, str(r)
    assert "up 0 min" in r.stdout, str(r)
    assert "load average: 0.00, 0.00, 0.00" in r.stdout, str(r)


def test_pressure_is_the_containers(lrun, root_fs):
    if not os.path.exists("/proc/pressure/cpu"):
        pytest.skip("the host has no PSI (/proc/pressure)")
    r = lrun.run(busybox_domain("vsbt-psi", root_fs,
                                "grep fuse /proc/self/mountinfo | grep -c pressure; "
                                "cat /proc/pressure/cpu"))
    assert r.status == 0, str(r)
    if not Path("/sys/fs/cgroup/cgroup.controllers").exists() and \
            not Path("/sys/fs/cgroup/unified").is_dir():
        pytest.skip("no cgroup2 hierarchy: the host's pressure files are shown")
    assert int(r.stdout.split()[0]) >= 3, str(r)
    assert re.search(r"^some avg10=\d+\.\d\d avg60=", r.stdout, re.M), str(r)


# --------------------------------------------------------------------
# Time
# --------------------------------------------------------------------

def test_uptime_is_the_containers(lrun, root_fs):
    if host_uptime() < 60:
        pytest.skip("the host itself is up for less than a minute")
    script = "echo uptime=$(cut -d' ' -f1 /proc/uptime); echo up=$(uptime)"
    r = lrun.run(busybox_domain("vsbt-uptime", root_fs, script))
    assert r.status == 0, str(r)
    assert float(r.kv["uptime"]) < 5, str(r)
    # busybox uptime: sysinfo(2), which follows the time namespace too
    assert "up 0 min" in r.kv["up"], str(r)


def test_procps_uptime(lrun):
    r = lrun.run(host_domain("vsbt-uptime2", "/usr/bin/uptime"))
    assert r.status == 0, str(r)
    assert "up 0 min" in r.stdout, str(r)


def test_explicit_clock_start_values(lrun):
    script = """/usr/bin/python3 -c '
import time
print("mono=%f" % time.clock_gettime(time.CLOCK_MONOTONIC))
print("boot=%f" % time.clock_gettime(time.CLOCK_BOOTTIME))
print("uptime=" + open("/proc/uptime").read().split()[0])
'"""
    extra = metadata_time("<vsb:monotonic start='1000'/><vsb:boottime start='86400.5'/>")
    r = lrun.run(host_domain("vsbt-clocks", script, extra=extra))
    assert r.status == 0, str(r)
    assert 1000 <= float(r.kv["mono"]) < 1005, str(r)
    assert 86400.5 <= float(r.kv["boot"]) < 86406, str(r)
    assert 86400 <= float(r.kv["uptime"]) < 86406, str(r)


def test_clock_offset_from_host(lrun):
    """offset='0': the host's own boottime."""
    extra = metadata_time("<vsb:boottime offset='0'/>")
    r = lrun.run(host_domain("vsbt-offset", "cut -d' ' -f1 /proc/uptime", extra=extra))
    assert r.status == 0, str(r)
    assert abs(float(r.stdout.split()[0]) - host_uptime()) < 5, str(r)


def test_clock_offset_below_zero_is_an_error(lrun):
    extra = metadata_time("<vsb:boottime offset='-4000000000'/>")
    r = lrun.run(host_domain("vsbt-offset-neg", "true", extra=extra))
    assert r.status == 125, str(r)
    assert "Cannot set the container's clock offsets" in r.stderr, str(r)


@pytest.mark.parametrize("clock,why", [
    ("<clock offset='variable' adjustment='3600' basis='utc'/>",
     "a realtime clock offset cannot be honoured for a container"),
    ("<clock offset='utc' adjustment='60'/>",
     "a realtime clock offset cannot be honoured for a container"),
    ("<clock offset='localtime'/>", "a container shares the host's realtime clock"),
])
def test_realtime_offset_is_refused(lrun, clock, why):
    r = lrun.run(host_domain("vsbt-rtc", "true", extra=clock))
    assert r.status == 125, str(r)
    assert why in r.stderr, str(r)
    assert r.stdout == "", str(r)


def test_realtime_in_our_namespace_is_refused(lrun):
    extra = metadata_time("<vsb:realtime offset='10'/>")
    r = lrun.run(host_domain("vsbt-rtc2", "true", extra=extra))
    assert r.status == 125, str(r)
    assert "unsupported realtime clock offset" in r.stderr, str(r)
    assert "CLOCK_MONOTONIC and CLOCK_BOOTTIME" in r.stderr, str(r)


def test_timezone_sets_tz(lrun, root_fs):
    extra = "<clock offset='timezone' timezone='Europe/Paris'/>"
    r = lrun.run(busybox_domain("vsbt-tz", root_fs, "echo tz=$TZ", extra=extra))
    assert r.status == 0, str(r)
    assert r.kv["tz"] == "Europe/Paris", str(r)


# --------------------------------------------------------------------
# /dev/log
# --------------------------------------------------------------------

def test_logger_reaches_the_domains_log_only(lrun, root_fs):
    ra = lrun.run(busybox_domain("vsbt-log-a", root_fs,
                                 "logger -t app hello-a; logger -t db -p local3.err boom-a; "
                                 "echo pid=$$"))
    rb = lrun.run(busybox_domain("vsbt-log-b", root_fs, "logger -t app hello-b"))
    assert ra.status == 0 and rb.status == 0, str(ra) + str(rb)
    a, b = lrun.log("vsbt-log-a"), lrun.log("vsbt-log-b")
    line = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z "
    pid = r"\[(host:)?\d+\]"
    assert re.search(line + r"user\.notice app" + pid + ": hello-a$", a, re.M), a
    assert re.search(line + r"local3\.err db" + pid + ": boom-a$", a, re.M), a
    assert re.search(line + r"user\.notice app" + pid + ": hello-b$", b, re.M), b
    assert "hello-b" not in a and "hello-a" not in b and "boom-a" not in b, a + b
    # the sender's pid as the container numbers it (logger is a child of init)
    # the sender's pid, as the container numbers it if it is still
    # there when the message is read (a logger has usually exited)
    pid = re.search(r"app\[(host:)?(\d+)\]: hello-a", a)
    assert pid.group(1) or 1 < int(pid.group(2)) < 50, a
    mode = (lrun.log_dir / "vsbt-log-a.log").stat().st_mode & 0o777
    assert mode == 0o640, oct(mode)


def test_dev_log_is_a_datagram_socket_for_everyone(lrun, root_fs):
    script = "ls -l /dev/log; echo done=1"
    r = lrun.run(busybox_domain("vsbt-devlog", root_fs, script))
    assert r.status == 0, str(r)
    assert re.search(r"^srw-rw-rw- .* /dev/log$", r.stdout, re.M), str(r)


def flood_domain(name, seconds):
    """Sends 8 KiB datagrams to /dev/log as fast as it can for
    @seconds, then reports how many it sent."""
    script = f"""/usr/bin/python3 -c '
import socket, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect("/dev/log")
msg = b"<13>flood: " + b"x" * 8000
n, end = 0, time.monotonic() + {seconds}
while time.monotonic() < end:
    s.send(msg)
    n += 1
print("sent=%d" % n)
'"""
    return host_domain(name, script)


def controller_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_flood_is_bounded_and_slows_no_other(lrun, root_fs):
    # the other container, alone: how long it takes and that it logs
    quiet = busybox_domain("vsbt-quiet", root_fs, "logger -t q quiet-message")
    t0 = time.monotonic()
    r = lrun.run(quiet)
    alone = time.monotonic() - t0
    assert r.status == 0, str(r)

    flooder = lrun.start(flood_domain("vsbt-flood", 12))
    assert flooder.ready.startswith("ok"), str(flooder)
    ctl_pid = flooder.read_pid_file()
    cpu0 = controller_cpu_seconds(ctl_pid)
    time.sleep(3)
    slowest = 0.0
    for _ in range(3):
        t0 = time.monotonic()
        r = lrun.run(quiet)
        slowest = max(slowest, time.monotonic() - t0)
        assert r.status == 0, str(r)
    cpu1 = controller_cpu_seconds(ctl_pid)
    assert flooder.wait_exit(30), str(flooder)

    # the others: not slowed (beyond noise) and their messages all there
    assert slowest < alone * 3 + 0.5, f"{slowest:.3f} s with a flood, {alone:.3f} s alone"
    assert lrun.log("vsbt-quiet").count("quiet-message") == 4
    # the flooder's controller: bounded work, bounded log
    assert cpu1 - cpu0 < 0.5 * 3.5, f"the flooded controller used {cpu1 - cpu0:.2f} s of cpu"
    total = sum(p.stat().st_size for p in lrun.log_dir.glob("vsbt-flood.log*"))
    assert total <= 2 * MIB + 16 * 1024, f"{total} bytes of log"
    text = lrun.log("vsbt-flood") + (lrun.log_dir / "vsbt-flood.log.1").read_text(errors="replace")
    assert re.search(r"syslog\.warning virt-sandbox: \d+ messages from the container were "
                     r"dropped", text), text[-2000:]


# --------------------------------------------------------------------
# /dev/kmsg, dmesg, syslog(2)
# --------------------------------------------------------------------

def host_kernel_messages():
    """A few texts of the host's kernel ring (as root)."""
    out = subprocess.run(["/usr/bin/dmesg", "--notime"], capture_output=True, text=True).stdout
    return [ln.strip() for ln in out.splitlines() if len(ln.strip()) > 20][-20:]


def test_busybox_dmesg_gets_no_host_message(lrun, root_fs):
    host = host_kernel_messages()
    r = lrun.run(busybox_domain("vsbt-bbdmesg", root_fs, "dmesg; echo rc=$?"))
    assert r.status == 0, str(r)
    assert r.kv["rc"] != "0", str(r)
    assert "Operation not permitted" in r.stdout, str(r)
    for line in host:
        assert line not in r.stdout, str(r)


def test_dmesg_shows_the_containers_kmsg_only(lrun):
    host = host_kernel_messages()
    marker = f"vsbkmsg{SESSION_ID}"
    script = f"echo '<3>{marker}-a' > /dev/kmsg; /usr/bin/dmesg --color=never; echo rc=$?"
    other = lrun.start(host_domain("vsbt-kmsg-b", "sleep 30"))
    assert other.ready.startswith("ok"), str(other)
    r = lrun.run(host_domain("vsbt-kmsg-a", script))
    rb = lrun.run(host_domain("vsbt-kmsg-c", "/usr/bin/dmesg --color=never"))
    assert r.status == 0 and rb.status == 0, str(r) + str(rb)
    assert r.kv["rc"] == "0", str(r)
    assert "virt-sandbox: container vsbt-kmsg-a starting" in r.stdout, str(r)
    assert f"{marker}-a" in r.stdout, str(r)
    assert f"{marker}-a" not in rb.stdout, str(rb)
    for line in host:
        assert line not in r.stdout, str(r)
    # and the container's log has what it wrote, with its level
    assert re.search(rf"user\.err kernel\[\d+\]: {marker}-a$", lrun.log("vsbt-kmsg-a"), re.M)


def test_kmsg_record_format_and_blocking_read(lrun):
    script = r"""/usr/bin/python3 -c '
import errno, os, signal, time
fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
recs = []
while True:
    try:
        recs.append(os.read(fd, 8192).decode())
    except BlockingIOError:
        break
print("n=%d" % len(recs))
print("first=" + recs[0].strip())
w = os.open("/dev/kmsg", os.O_WRONLY)
os.write(w, b"<14>one\\two")
print("next=" + os.read(fd, 8192).decode().strip())
os.write(w, b"a record longer than ten bytes")
try:
    os.read(fd, 10)
except OSError as e:
    print("small=" + errno.errorcode.get(e.errno, "?"))
os.read(fd, 8192)
# a blocking reader waits for the next record, and a signal ends the wait
fl = os.open("/dev/kmsg", os.O_RDONLY)
for _ in range(3):
    os.read(fl, 8192)
pid = os.fork()
if pid == 0:
    time.sleep(0.3)
    os.write(w, b"late")
    os._exit(0)
print("woken=" + os.read(fl, 8192).decode().strip().split(";", 1)[1])
os.waitpid(pid, 0)
# (Python retries a read that EINTR ended unless the handler raises)
def alarm(*args):
    raise TimeoutError
signal.signal(signal.SIGALRM, alarm)
signal.setitimer(signal.ITIMER_REAL, 0.3)
try:
    os.read(fl, 8192)
    print("intr=no")
except TimeoutError:
    print("intr=EINTR")
# a reader still waiting when the container is destroyed does not hold it
os.read(fl, 8192)
'"""
    t0 = time.monotonic()
    r = lrun.run(host_domain("vsbt-kmsgfmt", script), timeout=4)
    assert r.timed_out and time.monotonic() - t0 < 8, str(r)
    assert r.kv["n"] == "1", str(r)
    assert re.fullmatch(r"5,0,\d+,-;virt-sandbox: container vsbt-kmsgfmt starting",
                        r.kv["first"]), str(r)
    # escaped as the kernel escapes; facility user, level info
    assert re.fullmatch(r"14,1,\d+,-;one\\x5ctwo", r.kv["next"]), str(r)
    assert r.kv["small"] == "EINVAL", str(r)
    assert r.kv["woken"] == "late", str(r)
    assert r.kv["intr"] == "EINTR", str(r)


def test_oom_kill_is_noted_in_dmesg(lrun):
    script = """
/usr/bin/python3 -c 'x = bytearray(96 << 20)'
echo "hog=$?"
for i in 1 2 3 4 5 6 7 8 9 10; do
    /usr/bin/dmesg | grep -q "out of memory" && break
    sleep 0.3
done
/usr/bin/dmesg | grep "out of memory"
"""
    r = lrun.run(host_domain("vsbt-oomnote", script, memory_kib=48 * 1024), timeout=60)
    assert r.status == 0, str(r)
    assert r.kv["hog"] == "137", str(r)
    assert re.search(r"Memory cgroup out of memory: Killed process (python3 \(host pid \d+\)|of "
                     r"the container), memory limit 49152 kB", r.stdout), str(r)
    assert "out of memory" in lrun.log("vsbt-oomnote")


def test_views_with_a_user_namespace(lrun, busybox_root, session_tmp):
    root = session_tmp / "rootfs-userns-views"
    if not root.exists():
        shutil.copytree(busybox_root, root, symlinks=True)
        subprocess.run(["chown", "-R", "100000:100000", str(root)], check=True)
    script = ("head -n 1 /proc/meminfo; ls -ln /dev/kmsg; echo hi > /dev/kmsg && echo w=ok; "
              "echo up=$(cut -d' ' -f1 /proc/uptime); logger -t u userns-log; "
              "free | awk '$1 == \"Mem:\" { print \"free_total=\" $2 }'")
    xml = domain_xml("vsbt-userns-views", args=sh(script), filesystems=[fs_mount(root, "/")],
                     memory_kib=64 * 1024,
                     extra="<idmap><uid start='0' target='100000' count='65536'/>"
                           "<gid start='0' target='100000' count='65536'/></idmap>")
    r = lrun.run(xml)
    assert r.status == 0, str(r)
    assert re.search(r"MemTotal:\s+65536 kB", r.stdout), str(r)
    assert re.search(r"^-rw-r--r-- +1 0 +0 ", r.stdout, re.M), str(r)
    assert r.kv["w"] == "ok" and float(r.kv["up"]) < 5, str(r)
    # sysinfo(2) answered across the user namespace too
    assert r.kv["free_total"] == "65536", str(r)
    assert "userns-log" in lrun.log("vsbt-userns-views")


# --------------------------------------------------------------------
# journald
# --------------------------------------------------------------------

FAKE_JOURNALD = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/run/systemd/journal/socket")
open(sys.argv[2], "w").close()
with open(sys.argv[1], "ab", buffering=0) as out:
    while True:
        data = s.recv(1 << 20)
        out.write(data.replace(b"\n", b"\x1f") + b"\n")
"""


def test_journald_forwarding(lrun, root_fs):
    """With journald: journalctl CONTAINER_NAME=... finds the messages.
    Without it here, against a stand-in bound on journald's socket in a
    mount namespace of the controller's own (sd_journal_sendv() writes
    to that path)."""
    name = "vsbt-journal"
    xml = lrun.write_xml(busybox_domain(name, root_fs, "logger -t jrn -p daemon.err to-journal"))
    if os.path.exists("/run/systemd/journal/socket"):
        r = lrun.run(xml)
        assert r.status == 0, str(r)
        time.sleep(1)
        out = subprocess.run(["journalctl", "-o", "export", f"CONTAINER_NAME={name}"],
                             capture_output=True, text=True).stdout
        assert "MESSAGE=to-journal" in out and "SYSLOG_IDENTIFIER=jrn" in out, out
        return
    if not shutil.which("unshare"):
        pytest.skip("journald is not running and unshare(1) is missing: nothing to check")
    got = lrun.tmp / "journal.txt"
    ready = lrun.tmp / "journal.ready"
    fake = lrun.tmp / "fake-journald.py"
    fake.write_text(FAKE_JOURNALD)
    argv = " ".join(f"'{a}'" for a in lrun.argv(xml))
    wrapper = (f"mount -t tmpfs none /run/systemd && mkdir -p /run/systemd/journal && "
               f"(/usr/bin/python3 {fake} {got} {ready} & echo $! > {lrun.tmp}/fake.pid) && "
               f"while [ ! -e {ready} ]; do sleep 0.05; done && {argv}; rc=$?; "
               f"kill $(cat {lrun.tmp}/fake.pid); exit $rc")
    p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", wrapper],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    fields = [dict(f.split("=", 1) for f in line.split("\x1f") if "=" in f)
              for line in got.read_text().splitlines()]
    mine = [f for f in fields if f.get("CONTAINER_NAME") == name]
    assert any(f.get("MESSAGE") == "to-journal" and f.get("SYSLOG_IDENTIFIER") == "jrn" and
               f.get("PRIORITY") == "3" and f.get("SYSLOG_FACILITY") == "3" and
               f.get("OBJECT_PID", "").isdigit() for f in mine), fields
    # docker's container fields: the domain's UUID (32 hex digits, the
    # container's machine ID) and its first 12.
    for f in mine:
        full = f.get("CONTAINER_ID_FULL", "")
        assert re.fullmatch(r"[0-9a-f]{32}", full) and f.get("CONTAINER_ID") == full[:12], f
