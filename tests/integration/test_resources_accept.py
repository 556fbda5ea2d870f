"""Acceptance of issue 5 (resource isolation) through real containers,
the real virsh and python3-libvirt against a private virt-sandboxd.

Every test here must pass on this host's hybrid cgroups (v1 controllers)
and on pure cgroup v2 (tests/guest/suite runs this file in the cgroup2
guest), so each cgroup file is read from whichever version owns its
controller.  Limits are small (tens of MiB, 64 tasks) so that nothing can
hurt the host, and the dangerous payloads (memory hog, kernel-memory hog,
fork bomb, busy loops) wait for a go file on a host directory: the test
checks the limit is in force on the host before it lets them loose.

Ceilings only (CPU, process counts): the machines running this are noisy,
so a lower bound on what a container gets would fail for reasons that are
not ours.
"""

import os
import pathlib
import re
import threading
import time

import libvirt
import pytest

import conftest
from conftest import fs_mount, fs_ram, host_oom_kills
from vsbdaemon import daemon, event_loop  # noqa: F401

PARTITION = conftest.PARTITION
CG = pathlib.Path("/sys/fs/cgroup")
VSB_NS = "http://virt-sandbox.org/xmlns/domain/1.0"

# Waits until the test creates /out/go (a directory of the host).
WAIT_GO = "while [ ! -e /out/go ]; do sleep 0.05; done"
# After its work: a heartbeat the host reads, forever (SIGTERM ends it).
HEARTBEAT = ("i=0; while :; do i=$((i+1)); echo $i > /out/beat.new; mv /out/beat.new /out/beat; "
             "sleep 0.05; done")


# --------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------

def wait_for(pred, timeout=30, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def out_dir(daemon, name):
    """A host directory the container sees at /out (writable by any uid
    the container's root may map to)."""
    d = daemon.tmp / f"out-{name}"
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o777)
    return d


def start(daemon, name, root_fs, script, memory_kib=64 * 1024, extra="", filesystems=()):
    """Define and start a busybox container running @script as init, with
    a host directory at /out; returns that directory."""
    out = out_dir(daemon, name)
    xml = conftest.domain_xml(name, init="/bin/sh", args=("-c", "trap 'exit 0' TERM; " + script),
                              memory_kib=memory_kib, extra=extra,
                              filesystems=[root_fs, fs_mount(out, "/out"), *filesystems])
    path = daemon.tmp / f"{name}.xml"
    path.write_text(xml)
    daemon.virsh("define", str(path))
    daemon.virsh("start", name)
    return out


def go(out):
    (out / "go").write_text("")


def read_int(path):
    try:
        text = pathlib.Path(path).read_text().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


def heartbeat(out):
    return read_int(out / "beat")


def wait_heartbeat_moves(out, what):
    """The heartbeat of /out/beat goes on (the writer is alive)."""
    first = wait_for(lambda: heartbeat(out), what=f"{what}: a first heartbeat")
    wait_for(lambda: (heartbeat(out) or 0) > first + 2, what=f"{what}: the heartbeat to go on")


def domain_cgroup(root, name):
    return root / PARTITION / f"{name}.virt-sandbox"


def payload_dir(name, controller):
    """The payload cgroup owning @controller: its v1 hierarchy if mounted,
    else cgroup2 (at /sys/fs/cgroup/unified on a hybrid host)."""
    v1 = domain_cgroup(CG / controller, name) / "payload"
    if (CG / controller).is_dir() and not (CG / controller / "cgroup.controllers").exists():
        assert v1.is_dir(), f"no {controller} cgroup {v1}"
        return v1
    for root in (CG / "unified", CG):
        d = domain_cgroup(root, name) / "payload"
        if (d / "cgroup.controllers").exists():
            return d
    raise AssertionError(f"no payload cgroup for {name} / {controller}")


def is_v2(d):
    return (d / "cgroup.controllers").exists()


def flat_kv(text):
    """'key value' lines (memory.stat, memory.events, cpu.stat, ...)."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            out[parts[0]] = int(parts[1])
    return out


def cg_kv(d, file):
    return flat_kv((d / file).read_text())


def cg_int(d, file):
    return int((d / file).read_text().split()[0])


def oom_kills(name):
    """Tasks OOM-killed in the payload, from the cgroup files."""
    mem = payload_dir(name, "memory")
    if is_v2(mem):
        return cg_kv(mem, "memory.events")["oom_kill"]
    return cg_kv(mem, "memory.oom_control")["oom_kill"]


def kernel_memory(name):
    """Kernel memory charged to the payload, bytes."""
    mem = payload_dir(name, "memory")
    if is_v2(mem):
        return cg_kv(mem, "memory.stat")["kernel"]
    return cg_int(mem, "memory.kmem.usage_in_bytes")


def memory_limit(name):
    mem = payload_dir(name, "memory")
    return cg_int(mem, "memory.max" if is_v2(mem) else "memory.limit_in_bytes")


def memory_peak(name):
    """The most the payload ever used, bytes (v2's memory.peak is 5.19+:
    None where the kernel has no such file)."""
    mem = payload_dir(name, "memory")
    f = mem / ("memory.peak" if is_v2(mem) else "memory.max_usage_in_bytes")
    return cg_int(mem, f.name) if f.exists() else None


def cpu_usage_ns(name, whole=False):
    """CPU time the payload (@whole: the domain, the supervisor with it)
    used, ns: v1 cpuacct.usage, v2 cpu.stat."""
    d = payload_dir(name, "cpuacct") if (CG / "cpuacct").is_dir() else payload_dir(name, "cpu")
    if whole:
        d = d.parent
    if is_v2(d):
        return cg_kv(d, "cpu.stat")["usage_usec"] * 1000
    return cg_int(d, "cpuacct.usage")


def cpu_share(name, seconds=3.0):
    """The payload's CPU time over @seconds of wall time, in CPUs."""
    c0, t0 = cpu_usage_ns(name), time.monotonic()
    time.sleep(seconds)
    c1, t1 = cpu_usage_ns(name), time.monotonic()
    return (c1 - c0) / 1e9 / (t1 - t0)


def domstats(daemon, name, *flags):
    """virsh domstats NAME as {field: str}."""
    out = {}
    for line in daemon.virsh("domstats", *flags, name).stdout.splitlines():
        k, sep, v = line.strip().partition("=")
        if sep:
            out[k] = v
    return out


def dommemstat(daemon, name):
    out = {}
    for line in daemon.virsh("dommemstat", name).stdout.splitlines():
        parts = line.split()
        if len(parts) == 2:
            out[parts[0]] = int(parts[1])
    return out


def host_process_count():
    return sum(1 for e in os.listdir("/proc") if e.isdigit())


def pid_ns(pid):
    return os.readlink(f"/proc/{pid}/ns/pid")


def pids_in_ns(ns):
    """Host pids of the processes in pid namespace @ns (a pid_ns())."""
    found = []
    for e in os.listdir("/proc"):
        if e.isdigit():
            try:
                if pid_ns(e) == ns:
                    found.append(int(e))
            except OSError:
                pass
    return found


@pytest.fixture
def conn(daemon):
    """python3-libvirt on the test's daemon (for states and events: one
    connection instead of a virsh run per question, which costs seconds
    in the TCG guest)."""
    event_loop()
    c = libvirt.open(daemon.uri)
    yield c
    c.close()


def domid(conn, name):
    """The container's init as a host pid (libvirt LXC's domain id)."""
    return conn.lookupByName(name).ID()


def state(conn, name):
    return conn.lookupByName(name).state()


RUNNING = [libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_RUNNING_BOOTED]


def payload_tasks(name):
    d = payload_dir(name, "memory")
    return [int(p) for p in (d / "cgroup.procs").read_text().split()]


# --------------------------------------------------------------------
# Memory
# --------------------------------------------------------------------

HOG_MIB = 32


def test_memory_hog_oom_killed_inside_others_go_on(daemon, conn, root_fs):
    """A hog beyond <memtune><hard_limit> is OOM-killed by the container's
    own cgroup: init goes on, a second container goes on, the host's OOM
    count does not move; the kill is counted in the cgroup and in
    `virsh domstats` (sandbox.memory.oom_kill)."""
    bystander = start(daemon, "bystander", root_fs, HEARTBEAT)
    # The hog raises its own OOM score so that the kernel picks it, not init.
    script = (f"{WAIT_GO}; sh -c 'echo 1000 > /proc/self/oom_score_adj; "
              f"exec awk \"BEGIN {{ s = \\\"x\\\"; while (1) s = s s }}\"'; "
              f"echo $? > /out/hog.new; mv /out/hog.new /out/hog; {HEARTBEAT}")
    out = start(daemon, "hog", root_fs, script, memory_kib=256 * 1024,
                extra=f"<memtune><hard_limit unit='MiB'>{HOG_MIB}</hard_limit></memtune>")
    assert memory_limit("hog") == HOG_MIB << 20
    assert oom_kills("hog") == 0
    assert int(domstats(daemon, "hog").get("sandbox.memory.oom_kill", "0")) == 0
    host_before = host_oom_kills()
    init = domid(conn, "hog")

    go(out)
    status = wait_for(lambda: read_int(out / "hog"), what="the hog to end")
    assert status == 128 + 9, f"the hog ended with {status}, not SIGKILL"
    # init goes on after the kill, in the same container
    wait_heartbeat_moves(out, "the hog's init")
    assert domid(conn, "hog") == init
    assert state(conn, "hog") == RUNNING
    # the other container, and the host
    wait_heartbeat_moves(bystander, "the bystander")
    assert state(conn, "bystander") == RUNNING
    assert oom_kills("bystander") == 0
    assert host_oom_kills() == host_before
    assert daemon.alive()
    # the limit held and the kill is counted
    peak = memory_peak("hog")
    assert peak is None or peak <= HOG_MIB << 20
    assert oom_kills("hog") >= 1
    stats = domstats(daemon, "hog")
    assert "sandbox.memory.oom_kill" in stats, \
        f"virsh domstats has no sandbox.memory.oom_kill: {sorted(stats)}"
    assert int(stats["sandbox.memory.oom_kill"]) == oom_kills("hog")


KMEM_MIB = 32


def test_kernel_memory_hog_stays_within_limit(daemon, conn, root_fs):
    """Empty files in a tmpfs cost only kernel memory (inodes, dentries,
    long names): a container making them without end is stopped by its
    own limit (ENOMEM or the cgroup's OOM killer), never goes above it,
    and the kernel memory is reported, by the cgroup and by `virsh
    domstats` (sandbox.memory.kernel)."""
    # 200-character names: each file also costs an external dentry name.
    stem = "k" * 200
    hog = (f"echo 1000 > /proc/self/oom_score_adj; i=0; "
           f"while : > /t/{stem}$i; do i=$((i+1)); done")
    # After the hog the cgroup is full of what cannot be reclaimed: init
    # must not need memory any more, so it waits without forking.
    script = f"{WAIT_GO}; sh -c '{hog}'; echo $? > /out/hog; exec sleep 1000000"
    out = start(daemon, "kmem", root_fs, script, memory_kib=KMEM_MIB * 1024,
                filesystems=[fs_ram("/t", 1024 * 1024)])
    limit = memory_limit("kmem")
    assert limit == KMEM_MIB << 20
    init = domid(conn, "kmem")
    host_before = host_oom_kills()
    kmem_before = kernel_memory("kmem")
    stats_before = domstats(daemon, "kmem")
    tdir = pathlib.Path(f"/proc/{init}/root/t")

    go(out)
    # The hog ends (killed, or its files refused); init alone remains.
    wait_for(lambda: read_int(out / "hog") is not None or
             (len(payload_tasks("kmem")) == 1 and len(os.listdir(tdir)) > 0),
             timeout=120, what="the kernel-memory hog to be stopped")
    wait_for(lambda: payload_tasks("kmem") == [init], what="the hog to be gone")
    files = len(os.listdir(tdir))
    kmem_after = kernel_memory("kmem")
    peak = memory_peak("kmem")

    why = (f"{files} files, kernel memory {kmem_before} -> {kmem_after}, peak {peak}, "
           f"limit {limit}, hog status {read_int(out / 'hog')}")
    assert files > 1000, f"the hog did not run: {why}"
    assert peak is None or peak <= limit, why
    # each file holds an inode, a dentry and its name (over 1 KiB together)
    assert kmem_after - kmem_before >= files * 512, why
    assert kmem_after <= limit, why
    # the host and the container's init are unaffected
    assert host_oom_kills() == host_before
    assert state(conn, "kmem") == RUNNING
    assert daemon.alive()
    stats = domstats(daemon, "kmem")
    assert "sandbox.memory.kernel" in stats, \
        f"virsh domstats has no sandbox.memory.kernel: {sorted(stats)}"
    # in KiB: the files' share at least
    assert int(stats["sandbox.memory.kernel"]) > int(stats_before["sandbox.memory.kernel"])
    assert int(stats["sandbox.memory.kernel"]) * 1024 >= files * 512, (stats, why)


# --------------------------------------------------------------------
# Tasks
# --------------------------------------------------------------------

PIDS_MAX = 64
# Every task starts copies of itself without end, each doing the same,
# and keeps trying when refused (awk's system() returns -1; a shell would
# exit at its first failed fork and the bomb die out by itself).
FORK_BOMB_AWK = 'BEGIN { while (1) system("awk -f /out/bomb.awk &") }\n'


def test_fork_bomb_stops_at_pids_limit(daemon, conn, root_fs):
    """<vsb:pids max='64'/> bounds a fork bomb: the payload never holds
    more than 64 tasks, forks are refused (pids.events), the host's count
    of processes moves by about that much; `virsh destroy` ends it at once
    (nothing left in its pid namespace, its cgroups removed)."""
    meta = (f"<metadata><vsb:sandbox xmlns:vsb='{VSB_NS}'><vsb:pids max='{PIDS_MAX}'/>"
            f"</vsb:sandbox></metadata>")
    # A CPU quota too, so that 64 spinning tasks leave the host its CPUs.
    tune = "<cputune><period>100000</period><quota>30000</quota></cputune>"
    out = start(daemon, "bomb", root_fs, f"{WAIT_GO}; awk -f /out/bomb.awk", extra=meta + tune)
    (out / "bomb.awk").write_text(FORK_BOMB_AWK)
    pids = payload_dir("bomb", "pids")
    # Never let the bomb loose without its limit.
    assert (pids / "pids.max").read_text().strip() == str(PIDS_MAX), \
        "pids.max is not in force: the fork bomb is not started"
    assert re.search(rf"<\w+:pids max=['\"]{PIDS_MAX}['\"]\s*/>",
                     conn.lookupByName("bomb").XMLDesc()), "<vsb:pids> not kept"
    ns = pid_ns(domid(conn, "bomb"))
    host_before = host_process_count()

    go(out)
    wait_for(lambda: cg_kv(pids, "pids.events").get("max", 0) > 0,
             what="a fork refused at pids.max")
    most_in_ns, most_on_host = 0, 0
    for _ in range(10):
        assert cg_int(pids, "pids.current") <= PIDS_MAX
        most_in_ns = max(most_in_ns, len(pids_in_ns(ns)))
        most_on_host = max(most_on_host, host_process_count())
        time.sleep(0.05)
    assert most_in_ns <= PIDS_MAX
    stats = domstats(daemon, "bomb")
    assert int(stats["sandbox.pids.max"]) == PIDS_MAX, stats
    assert 0 < int(stats["sandbox.pids.current"]) <= PIDS_MAX, stats
    # Other work on the host comes and goes meanwhile: the bound tells a
    # limited bomb from an unlimited one (thousands within a second).
    assert most_on_host - host_before <= PIDS_MAX + 100, (host_before, most_on_host)

    daemon.virsh("destroy", "bomb")
    assert state(conn, "bomb") == [libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_DESTROYED]
    assert pids_in_ns(ns) == []
    # v1 hierarchies and cgroup2 (hybrid: at unified; pure: at the top)
    roots = [CG] + [d for d in CG.iterdir() if d.is_dir()]
    left = [str(domain_cgroup(r, "bomb")) for r in roots if domain_cgroup(r, "bomb").exists()]
    assert left == [], f"cgroups left after destroy: {left}"


# --------------------------------------------------------------------
# CPU
# --------------------------------------------------------------------

# Two busy loops: without a quota they would take both CPUs.
BUSY = "(while :; do :; done) & while :; do :; done"
CEILING_SLACK = 0.05


def cpu_max(name):
    """(quota_us or None, period_us) in force on the payload."""
    d = payload_dir(name, "cpu")
    if is_v2(d):
        q, p = (d / "cpu.max").read_text().split()
        return (None if q == "max" else int(q)), int(p)
    q = cg_int(d, "cpu.cfs_quota_us")
    return (None if q < 0 else q), cg_int(d, "cpu.cfs_period_us")


def test_cpu_quota_is_a_ceiling_changed_live(daemon, root_fs):
    """<cputune> period 100000, quota 50000: busy loops get at most about
    half a CPU, measured from the cgroup's own CPU time; `virsh schedinfo
    --set vcpu_quota=` lowers the ceiling of the running container (read
    back, in the cgroup, and in force)."""
    tune = "<cputune><period>100000</period><quota>50000</quota></cputune>"
    out = start(daemon, "busy", root_fs, f"{WAIT_GO}; {BUSY}", extra=tune)
    assert cpu_max("busy") == (50000, 100000)
    go(out)
    wait_for(lambda: len(payload_tasks("busy")) >= 2, what="the busy loops")
    share = cpu_share("busy")
    assert 0 < share <= 0.5 + CEILING_SLACK, f"{share:.2f} CPUs under a 50% quota"

    daemon.virsh("schedinfo", "busy", "--live", "--set", "vcpu_quota=20000")
    info = {}
    for line in daemon.virsh("schedinfo", "busy", "--live").stdout.splitlines():
        k, sep, v = line.partition(":")
        if sep:
            info[k.strip()] = v.strip()
    assert info.get("vcpu_quota") == "20000", info
    assert info.get("vcpu_period") == "100000", info
    assert cpu_max("busy") == (20000, 100000)
    share = cpu_share("busy")
    assert 0 < share <= 0.2 + CEILING_SLACK, f"{share:.2f} CPUs under a 20% quota"


# --------------------------------------------------------------------
# Suspend and resume
# --------------------------------------------------------------------

def test_suspend_stops_counter_resume_continues(daemon, conn, root_fs):
    """`virsh suspend` freezes a counter loop (its file on a host directory
    stops changing), `virsh resume` lets it go on; python3-libvirt receives
    the lifecycle events."""
    events = []
    lock = threading.Lock()

    def on_lifecycle(_conn, dom, event, detail, _opaque):
        with lock:
            events.append((dom.name(), event, detail))

    cb = conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, on_lifecycle,
                                     None)
    try:
        out = start(daemon, "count", root_fs, HEARTBEAT)
        wait_heartbeat_moves(out, "the counter")
        daemon.virsh("suspend", "count")
        assert state(conn, "count") == [libvirt.VIR_DOMAIN_PAUSED, libvirt.VIR_DOMAIN_PAUSED_USER]
        frozen = heartbeat(out)
        time.sleep(0.5)
        assert heartbeat(out) == frozen, "the counter went on while suspended"
        daemon.virsh("resume", "count")
        assert state(conn, "count") == [libvirt.VIR_DOMAIN_RUNNING,
                                        libvirt.VIR_DOMAIN_RUNNING_UNPAUSED]
        wait_for(lambda: (heartbeat(out) or 0) > frozen + 2, what="the counter to go on")

        want = [("count", libvirt.VIR_DOMAIN_EVENT_SUSPENDED,
                 libvirt.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED),
                ("count", libvirt.VIR_DOMAIN_EVENT_RESUMED,
                 libvirt.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED)]

        def got():
            with lock:
                return [e for e in events if e[1] in (libvirt.VIR_DOMAIN_EVENT_SUSPENDED,
                                                      libvirt.VIR_DOMAIN_EVENT_RESUMED)]
        wait_for(lambda: len(got()) >= 2, what=f"suspend and resume events (got {events})")
        assert got() == want
        with lock:
            assert ("count", libvirt.VIR_DOMAIN_EVENT_STARTED,
                    libvirt.VIR_DOMAIN_EVENT_STARTED_BOOTED) in events, events
    finally:
        conn.domainEventDeregisterAny(cb)


# --------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------

def test_domstats_and_dommemstat_consistent(daemon, root_fs):
    """A running container's figures: non-zero, within their bounds, and
    agreeing with each other and with the cgroup."""
    out = start(daemon, "stats", root_fs, HEARTBEAT, memory_kib=64 * 1024)
    wait_heartbeat_moves(out, "the counter")
    limit_kib = memory_limit("stats") // 1024
    assert limit_kib == 64 * 1024

    s = domstats(daemon, "stats")
    assert int(s["state.state"]) == libvirt.VIR_DOMAIN_RUNNING, s
    cur, mx = int(s["balloon.current"]), int(s["balloon.maximum"])
    assert 0 < cur <= mx, s
    assert mx == limit_kib, s
    cpu = int(s["cpu.time"])
    assert cpu > 0, s
    # cpu time only grows, and is the cgroup's (libvirt counts the
    # whole domain: the payload at least, the supervisor at most)
    assert cpu <= cpu_usage_ns("stats", whole=True)

    m = dommemstat(daemon, "stats")
    assert 0 < m["actual"] <= limit_kib, m
    assert 0 < m["rss"] <= m["actual"], m
    if "usable" in m:
        assert m["usable"] <= m["actual"], m
    if "unused" in m:
        assert m["unused"] <= m["actual"], m

    # dominfo says the same
    info = {}
    for line in daemon.virsh("dominfo", "stats").stdout.splitlines():
        k, sep, v = line.partition(":")
        if sep:
            info[k.strip()] = v.strip()
    assert info["Max memory"] == f"{mx} KiB", info
    assert info["State"] == "running", info
    used = int(info["Used memory"].split()[0])
    assert 0 < used <= mx, info

    # The rest of issue 5's figures
    missing = [k for k in ("balloon.rss", "cpu.user", "cpu.system", "sandbox.memory.kernel",
                           "sandbox.memory.oom_kill") if k not in s]
    assert not missing, f"virsh domstats lacks {missing}: {s}"
    assert 0 < int(s["balloon.rss"]) <= cur, s
    # user + system is the same time split (v1 in ticks of 10 ms, v2 in µs)
    assert int(s["cpu.user"]) + int(s["cpu.system"]) <= cpu * 1.02 + 50_000_000, s
    assert int(s["sandbox.memory.kernel"]) > 0, s
    assert int(s["sandbox.memory.oom_kill"]) == 0, s
    # init at least
    assert int(s.get("sandbox.pids.current", 0)) >= 1, s
