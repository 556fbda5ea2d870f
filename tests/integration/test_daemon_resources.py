"""Resource isolation through virt-sandboxd (issue 5), driven by the real
virsh and python3-libvirt against a private daemon, checking the
payload cgroup's files on the host too.
"""

import os
import pathlib
import subprocess
import threading
import time

import libvirt
import pytest

import conftest
from vsbdaemon import busybox_domain, daemon, event_loop  # noqa: F401

PARTITION = conftest.PARTITION

# init counts in a tmpfs the host reads through /proc/PID/root
COUNTER_INIT = ("-c", "i=0; while :; do i=$((i+1)); echo $i > /run/c; sleep 0.05; done")


def wait_for(pred, timeout=20, what="condition"):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def payload_dir(name, controller):
    """The payload cgroup owning @controller: v1 first, else v2."""
    v1 = pathlib.Path("/sys/fs/cgroup") / controller / PARTITION / f"{name}.virt-sandbox" / "payload"
    if v1.is_dir():
        return v1
    for root in (pathlib.Path("/sys/fs/cgroup/unified"), pathlib.Path("/sys/fs/cgroup")):
        d = root / PARTITION / f"{name}.virt-sandbox" / "payload"
        if (d / "cgroup.controllers").exists():
            return d
    raise AssertionError(f"no payload cgroup for {name} / {controller}")


def counter(daemon, name):
    dom_id = daemon.virsh("domid", name).stdout.strip()
    text = pathlib.Path(f"/proc/{dom_id}/root/run/c").read_text().strip()
    return int(text) if text else 0


def counter_domain(daemon, name, root_fs, **kw):
    xml = conftest.domain_xml(name, init="/bin/sh", args=COUNTER_INIT,
                              filesystems=[root_fs, conftest.fs_ram("/run", 1024)], **kw)
    path = daemon.tmp / f"{name}.xml"
    path.write_text(xml)
    daemon.virsh("define", str(path))
    daemon.virsh("start", name)
    wait_for(lambda: counter(daemon, name) > 0, what="the counter to start")


def test_suspend_resume(daemon, root_fs):
    event_loop()
    conn = libvirt.open(daemon.uri)
    events = []
    lock = threading.Lock()

    def on_lifecycle(c, dom, event, detail, opaque):
        with lock:
            events.append((event, detail))

    cb = conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, on_lifecycle,
                                     None)
    try:
        counter_domain(daemon, "pz", root_fs)
        daemon.virsh("suspend", "pz")
        assert daemon.virsh("domstate", "--reason", "pz").stdout.strip() == "paused (user)"
        assert daemon.virsh("list", "--state-paused", "--name").stdout.split() == ["pz"]
        fz = payload_dir("pz", "freezer")
        if (fz / "freezer.state").exists():
            assert (fz / "freezer.state").read_text().strip() == "FROZEN"
        else:
            assert "frozen 1" in (fz / "cgroup.events").read_text()
        stopped = counter(daemon, "pz")
        time.sleep(0.5)
        assert counter(daemon, "pz") == stopped
        # suspending again is accepted; resuming a running one is not
        daemon.virsh("suspend", "pz")

        daemon.virsh("resume", "pz")
        assert daemon.virsh("domstate", "--reason", "pz").stdout.strip() == "running (unpaused)"
        wait_for(lambda: counter(daemon, "pz") > stopped + 3, what="the counter to go on")
        r = daemon.virsh("resume", "pz", check=False)
        assert r.returncode != 0 and "not paused" in r.stderr

        want = [(libvirt.VIR_DOMAIN_EVENT_STARTED, 0),
                (libvirt.VIR_DOMAIN_EVENT_SUSPENDED, libvirt.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED),
                (libvirt.VIR_DOMAIN_EVENT_RESUMED, libvirt.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED)]
        wait_for(lambda: len(events) >= len(want), what=f"events (got {events})")
        assert [e for e in events if e[0] != libvirt.VIR_DOMAIN_EVENT_DEFINED] == want

        # a paused domain can be destroyed at once
        daemon.virsh("suspend", "pz")
        t = time.monotonic()
        daemon.virsh("destroy", "pz")
        assert time.monotonic() - t < 5
        assert daemon.virsh("domstate", "pz").stdout.strip() == "shut off"
        # and starts again running, not paused
        daemon.virsh("start", "pz")
        assert daemon.virsh("domstate", "pz").stdout.strip() == "running"
    finally:
        conn.domainEventDeregisterAny(cb)
        conn.close()


def test_suspend_inactive(daemon, root_fs):
    r = daemon.virsh("suspend", "nosuch", check=False)
    assert r.returncode != 0
    xml = busybox_domain("off", root_fs)
    (daemon.tmp / "off.xml").write_text(xml)
    daemon.virsh("define", str(daemon.tmp / "off.xml"))
    r = daemon.virsh("suspend", "off", check=False)
    assert r.returncode != 0 and "not running" in r.stderr


def colon_kv(text):
    """virsh's "name : value" lines (memtune, schedinfo)."""
    out = {}
    for line in text.splitlines():
        k, sep, v = line.partition(":")
        if sep:
            out[k.strip()] = v.strip()
    return out


def memtune(daemon, name, *flags):
    return colon_kv(daemon.virsh("memtune", name, *flags).stdout)


def test_memtune_live_and_config(daemon, root_fs):
    counter_domain(daemon, "mt", root_fs, memory_kib=262144)
    mem = payload_dir("mt", "memory")
    v2 = (mem / "memory.max").exists()
    hard_f = mem / ("memory.max" if v2 else "memory.limit_in_bytes")
    soft_f = mem / ("memory.high" if v2 else "memory.soft_limit_in_bytes")
    swap_f = mem / ("memory.swap.max" if v2 else "memory.memsw.limit_in_bytes")
    assert int(hard_f.read_text()) == 262144 * 1024

    # live: the cgroup and the live XML change, the config does not
    daemon.virsh("memtune", "mt", "--hard-limit", "200000", "--soft-limit", "100000",
                 "--swap-hard-limit", "300000", "--live")
    live = memtune(daemon, "mt", "--live")
    assert (live["hard_limit"], live["soft_limit"], live["swap_hard_limit"]) == \
        ("200000", "100000", "300000")
    assert int(hard_f.read_text()) == 200000 * 1024
    assert int(soft_f.read_text()) == 100000 * 1024
    if swap_f.exists():
        assert int(swap_f.read_text()) == 300000 * 1024
    assert "<hard_limit unit='KiB'>200000</hard_limit>" in daemon.virsh("dumpxml", "mt").stdout
    assert "<memtune>" not in daemon.virsh("dumpxml", "--inactive", "mt").stdout
    assert memtune(daemon, "mt", "--config")["hard_limit"] == "262144"

    # config: persisted, the cgroup untouched; applied at the next start
    daemon.virsh("memtune", "mt", "--hard-limit", "150000", "--config")
    assert memtune(daemon, "mt", "--config")["hard_limit"] == "150000"
    assert int(hard_f.read_text()) == 200000 * 1024
    path = pathlib.Path(daemon.tmp) / "config"
    assert any("<hard_limit unit='KiB'>150000</hard_limit>" in p.read_text()
               for p in path.rglob("mt.xml")), "not saved"
    daemon.virsh("destroy", "mt")
    daemon.virsh("start", "mt")
    assert memtune(daemon, "mt")["hard_limit"] == "150000"
    assert int(hard_f.read_text()) == 150000 * 1024

    # raising the limit above the swap limit is refused, as libvirt does
    r = daemon.virsh("memtune", "mt", "--hard-limit", "400000", "--swap-hard-limit", "350000",
                     check=False)
    assert r.returncode != 0 and "swap_hard_limit" in r.stderr
    # min_guarantee is refused clearly
    r = daemon.virsh("memtune", "mt", "--min-guarantee", "1000", check=False)
    assert r.returncode != 0 and "min_guarantee" in r.stderr
    # unlimited
    daemon.virsh("memtune", "mt", "--soft-limit", "-1")
    assert memtune(daemon, "mt")["soft_limit"] == "unlimited"
    assert soft_f.read_text().strip() in ("max", str(2**63 - 4096))


def dominfo(daemon, name):
    return colon_kv(daemon.virsh("dominfo", name).stdout)


def config_xml(daemon, name):
    """The saved persistent definition, as on disk."""
    (path,) = [p for p in (pathlib.Path(daemon.tmp) / "config").rglob(f"{name}.xml")]
    return path.read_text()


def test_setmem_live_and_config(daemon, root_fs):
    counter_domain(daemon, "sm", root_fs, memory_kib=262144)
    hard_f = payload_dir("sm", "memory") / "memory.limit_in_bytes"
    if not hard_f.exists():
        hard_f = payload_dir("sm", "memory") / "memory.max"
    assert int(hard_f.read_text()) == 262144 * 1024

    # live: the balloon is the cgroup's hard limit; the config keeps its own
    daemon.virsh("setmem", "sm", "200000", "--live")
    assert int(hard_f.read_text()) == 200000 * 1024
    assert dominfo(daemon, "sm")["Max memory"] == "262144 KiB"
    assert "<currentMemory unit='KiB'>200000</currentMemory>" in \
        daemon.virsh("dumpxml", "sm").stdout
    assert "<currentMemory unit='KiB'>262144</currentMemory>" in \
        daemon.virsh("dumpxml", "--inactive", "sm").stdout
    # the live definition survives a daemon restart
    daemon.stop()
    daemon.start()
    assert "<currentMemory unit='KiB'>200000</currentMemory>" in \
        daemon.virsh("dumpxml", "sm").stdout

    # memtune's hard limit below the balloon wins; above it, the balloon does
    daemon.virsh("memtune", "sm", "--hard-limit", "150000", "--live")
    assert int(hard_f.read_text()) == 150000 * 1024
    daemon.virsh("setmem", "sm", "180000", "--live")
    assert int(hard_f.read_text()) == 150000 * 1024
    daemon.virsh("memtune", "sm", "--hard-limit", "250000", "--live")
    assert int(hard_f.read_text()) == 180000 * 1024

    # above the maximum: refused as libvirt does, nothing changes
    r = daemon.virsh("setmem", "sm", "300000", "--live", check=False)
    assert r.returncode != 0 and "Cannot set memory higher than max memory" in r.stderr
    assert int(hard_f.read_text()) == 180000 * 1024
    # the maximum cannot change on a running domain, only in its config
    r = daemon.virsh("setmaxmem", "sm", "300000", "--live", check=False)
    assert r.returncode != 0 and "max memory on an active domain" in r.stderr
    daemon.virsh("setmaxmem", "sm", "300000", "--config")
    daemon.virsh("setmem", "sm", "120000", "--config")
    assert "<memory unit='KiB'>300000</memory>" in config_xml(daemon, "sm")
    assert "<currentMemory unit='KiB'>120000</currentMemory>" in config_xml(daemon, "sm")
    assert int(hard_f.read_text()) == 180000 * 1024
    # ... applied at the next start
    daemon.virsh("destroy", "sm")
    daemon.virsh("start", "sm")
    info = dominfo(daemon, "sm")
    assert info["Max memory"] == "300000 KiB"
    # setmaxmem leaves the balloon where it was, below it pulls it down
    daemon.virsh("setmaxmem", "sm", "400000", "--config")
    assert "<currentMemory unit='KiB'>120000</currentMemory>" in config_xml(daemon, "sm")
    daemon.virsh("setmaxmem", "sm", "100000", "--config")
    assert "<currentMemory unit='KiB'>100000</currentMemory>" in config_xml(daemon, "sm")
    assert daemon.alive()


def test_schedinfo_live_and_config(daemon, root_fs):
    counter_domain(daemon, "si", root_fs)
    cpu = payload_dir("si", "cpu")
    v2 = (cpu / "cpu.max").exists()
    out = colon_kv(daemon.virsh("schedinfo", "si").stdout)
    assert out["Scheduler"] == "posix"
    assert set(out) >= {"cpu_shares", "vcpu_period", "vcpu_quota"}

    daemon.virsh("schedinfo", "si", "--live", "--set", "cpu_shares=512")
    daemon.virsh("schedinfo", "si", "--live", "--set", "vcpu_period=50000")
    daemon.virsh("schedinfo", "si", "--live", "--set", "vcpu_quota=25000")
    out = colon_kv(daemon.virsh("schedinfo", "si", "--live").stdout)
    assert (out["cpu_shares"], out["vcpu_period"], out["vcpu_quota"]) == \
        ("512", "50000", "25000")
    if v2:
        assert (cpu / "cpu.max").read_text().split() == ["25000", "50000"]
    else:
        assert int((cpu / "cpu.shares").read_text()) == 512
        assert int((cpu / "cpu.cfs_period_us").read_text()) == 50000
        assert int((cpu / "cpu.cfs_quota_us").read_text()) == 25000
    assert "<shares>512</shares>" in daemon.virsh("dumpxml", "si").stdout
    assert "<shares>" not in config_xml(daemon, "si")

    # config only: persisted, the cgroup keeps the live values
    daemon.virsh("schedinfo", "si", "--config", "--set", "cpu_shares=2048")
    daemon.virsh("schedinfo", "si", "--config", "--set", "vcpu_quota=-1")
    out = colon_kv(daemon.virsh("schedinfo", "si", "--config").stdout)
    assert out["cpu_shares"] == "2048"
    assert "<shares>2048</shares>" in config_xml(daemon, "si")
    if not v2:
        assert int((cpu / "cpu.shares").read_text()) == 512
    # no quota any more, live
    daemon.virsh("schedinfo", "si", "--live", "--set", "vcpu_quota=-1")
    if v2:
        assert (cpu / "cpu.max").read_text().split()[0] == "max"
    else:
        assert int((cpu / "cpu.cfs_quota_us").read_text()) == -1

    # out of range values: clear errors, nothing changes, the daemon serves on
    for bad, word in (("vcpu_period=999", "vcpu_period"), ("vcpu_period=1000001", "vcpu_period"),
                      ("vcpu_quota=999", "vcpu_quota"), ("cpu_shares=1", "cpu_shares")):
        r = daemon.virsh("schedinfo", "si", "--live", "--set", bad, check=False)
        assert r.returncode != 0 and word in r.stderr and "range" in r.stderr, r.stderr
    assert colon_kv(daemon.virsh("schedinfo", "si").stdout)["vcpu_period"] == "50000"
    # the live values survive a daemon restart
    daemon.stop()
    daemon.start()
    out = colon_kv(daemon.virsh("schedinfo", "si", "--live").stdout)
    assert (out["cpu_shares"], out["vcpu_period"]) == ("512", "50000")
    # python: the flag-less calls, and a wrong type
    conn = libvirt.open(daemon.uri)
    try:
        dom = conn.lookupByName("si")
        assert conn.lookupByName("si").schedulerType() == ("posix", 3)
        dom.setSchedulerParameters({"cpu_shares": 300})
        assert dom.schedulerParameters()["cpu_shares"] == 300
        with pytest.raises(libvirt.libvirtError, match="cpu_shares"):
            dom.setSchedulerParameters({"cpu_shares": 0})
    finally:
        conn.close()


class LoopDevice:
    """A loop device over a small file; detached by close()."""

    def __init__(self, tmp):
        self.backing = pathlib.Path(tmp) / "loop.img"
        self.backing.write_bytes(b"\0" * (1 << 20))
        self.path = subprocess.run(["losetup", "-f", "--show", str(self.backing)],
                                   check=True, capture_output=True,
                                   text=True).stdout.strip()
        st = os.stat(self.path)
        self.majmin = f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"

    def close(self):
        subprocess.run(["losetup", "-d", self.path], check=False)


def throttle_file(name, which):
    blk = payload_dir(name, "blkio")
    v1 = blk / f"blkio.throttle.{which}"
    if v1.exists() or (blk / "blkio.throttle.read_bps_device").exists():
        return v1, False
    return payload_dir(name, "io") / "io.max", True


def test_blkiotune_live_and_config(daemon, root_fs):
    counter_domain(daemon, "bt", root_fs)
    loop = LoopDevice(daemon.tmp)
    try:
        rbps, v2 = throttle_file("bt", "read_bps_device")
        daemon.virsh("blkiotune", "bt", "--live", "--device-read-bytes-sec",
                     f"{loop.path},1048576", "--device-write-iops-sec", f"{loop.path},300")
        out = colon_kv(daemon.virsh("blkiotune", "bt", "--live").stdout)
        assert out["device_read_bytes_sec"] == f"{loop.path},1048576"
        assert out["device_write_iops_sec"] == f"{loop.path},300"
        assert out["device_read_iops_sec"] == ""
        if v2:
            line = [ln for ln in rbps.read_text().splitlines() if ln.startswith(loop.majmin)][0]
            assert "rbps=1048576" in line and "wiops=300" in line
        else:
            assert f"{loop.majmin} 1048576" in rbps.read_text()
            wiops, _ = throttle_file("bt", "write_iops_device")
            assert f"{loop.majmin} 300" in wiops.read_text()
        assert "<blkiotune>" not in config_xml(daemon, "bt")

        # config: saved, the cgroup untouched
        daemon.virsh("blkiotune", "bt", "--config", "--device-write-bytes-sec",
                     f"{loop.path},2097152")
        out = colon_kv(daemon.virsh("blkiotune", "bt", "--config").stdout)
        assert out["device_write_bytes_sec"] == f"{loop.path},2097152"
        assert "2097152" in config_xml(daemon, "bt")
        assert "2097152" not in (rbps if v2 else throttle_file("bt", "write_bps_device")[0]) \
            .read_text()

        # the live settings are in the live XML and survive a daemon restart
        daemon.stop()
        daemon.start()
        out = colon_kv(daemon.virsh("blkiotune", "bt", "--live").stdout)
        assert out["device_write_iops_sec"] == f"{loop.path},300"
        assert loop.path in daemon.virsh("dumpxml", "bt").stdout

        # 0 removes a throttle
        daemon.virsh("blkiotune", "bt", "--live", "--device-read-bytes-sec", f"{loop.path},0")
        out = colon_kv(daemon.virsh("blkiotune", "bt", "--live").stdout)
        assert out["device_read_bytes_sec"] == ""
        assert out["device_write_iops_sec"] == f"{loop.path},300"
        if not v2:
            assert loop.majmin not in rbps.read_text()

        # bad input: named clearly; the daemon keeps serving
        r = daemon.virsh("blkiotune", "bt", "--live", "--device-read-iops-sec",
                         "/nonexistent,10", check=False)
        assert r.returncode != 0 and "/nonexistent" in r.stderr
        r = daemon.virsh("blkiotune", "bt", "--live", "--device-read-iops-sec",
                         f"{daemon.tmp / 'loop.img'},10", check=False)
        assert r.returncode != 0 and "not a block device" in r.stderr
        r = daemon.virsh("blkiotune", "bt", "--live", "--device-read-iops-sec",
                         f"{loop.path},x", check=False)
        assert r.returncode != 0 and "invalid value 'x'" in r.stderr
        conn = libvirt.open(daemon.uri)
        try:
            dom = conn.lookupByName("bt")
            with pytest.raises(libvirt.libvirtError, match="unable to parse blkio device"):
                dom.setBlkioParameters({"device_read_iops_sec": loop.path},
                                       libvirt.VIR_DOMAIN_AFFECT_LIVE)
            params = dom.blkioParameters(libvirt.VIR_DOMAIN_AFFECT_LIVE)
            assert params["device_write_iops_sec"] == f"{loop.path},300"
        finally:
            conn.close()
        # the weight: in the cgroup where the host has a weight policy
        # (BFQ here), else a clear refusal
        blk = payload_dir("bt", "blkio" if not v2 else "io")
        weight_f = [blk / f for f in ("blkio.bfq.weight", "blkio.weight", "io.bfq.weight")
                    if (blk / f).exists()]
        r = daemon.virsh("blkiotune", "bt", "--live", "--weight", "700", check=False)
        if weight_f:
            assert r.returncode == 0, r.stderr
            assert "700" in weight_f[0].read_text()
            assert colon_kv(daemon.virsh("blkiotune", "bt").stdout)["weight"] == "700"
        else:
            assert r.returncode != 0 and "weight" in r.stderr and "not available" in r.stderr
        # a device weight needs the device to run a weight-aware scheduler:
        # a loop device runs none, the refusal says so
        r = daemon.virsh("blkiotune", "bt", "--live", "--device-weights", f"{loop.path},500",
                         check=False)
        assert r.returncode != 0 and loop.path in r.stderr, r.stderr
        assert colon_kv(daemon.virsh("blkiotune", "bt", "--live").stdout)["device_weight"] == ""
        r = daemon.virsh("blkiotune", "bt", "--config", "--weight", "5", check=False)
        assert r.returncode != 0 and "range" in r.stderr
        daemon.virsh("blkiotune", "bt", "--config", "--weight", "500")
        assert colon_kv(daemon.virsh("blkiotune", "bt", "--config").stdout)["weight"] == "500"
        assert daemon.alive()
    finally:
        daemon.virsh("destroy", "bt", check=False)
        loop.close()


def domstats(daemon, name):
    out = {}
    for line in daemon.virsh("domstats", name).stdout.splitlines():
        k, sep, v = line.strip().partition("=")
        if sep:
            out[k] = v
    return out


def test_statistics(daemon, root_fs):
    counter_domain(daemon, "st", root_fs, memory_kib=262144)
    daemon.virsh("setmem", "st", "200000", "--live")
    mem = dict(line.split() for line in daemon.virsh("dommemstat", "st").stdout.splitlines()
               if line.strip())
    assert int(mem["actual"]) == 200000
    assert int(mem["available"]) == 200000
    assert 0 < int(mem["rss"]) < 200000
    assert 0 < int(mem["unused"]) < 200000
    assert int(mem["unused"]) <= int(mem["usable"]) <= 200000

    s = domstats(daemon, "st")
    assert s["state.state"] == "1"
    assert int(s["cpu.time"]) > 0
    assert int(s["cpu.time"]) >= int(s["cpu.user"]) // 2   # ticks vs ns rounding aside
    assert "cpu.system" in s
    assert int(s["balloon.current"]) == 200000
    assert int(s["balloon.maximum"]) == 262144
    for k in ("balloon.rss", "balloon.usable", "balloon.unused"):
        assert int(s[k]) > 0, k
    assert int(s["sandbox.memory.kernel"]) > 0
    assert "sandbox.memory.kernel.slab" in s and "sandbox.memory.kernel.sock" in s
    assert int(s["sandbox.memory.oom_kill"]) == 0
    assert "sandbox.memory.failcnt" in s
    assert int(s["sandbox.pids.current"]) >= 1
    assert s["vcpu.current"] == "1"
    conn = libvirt.open(daemon.uri)
    try:
        dom = conn.lookupByName("st")
        state, max_kib, used_kib, ncpu, cpu_ns = dom.info()
        ms = dom.memoryStats()
        assert ms["actual"] == 200000 and ms["rss"] > 0 and "swap_in" not in ms
        # only the groups asked for
        ((d, rec),) = conn.domainListGetStats([dom], libvirt.VIR_DOMAIN_STATS_BALLOON)
        assert d.name() == "st" and rec["balloon.current"] == 200000
        assert "state.state" not in rec and "cpu.time" not in rec
        assert rec["sandbox.pids.current"] >= 1
        ((d, rec),) = conn.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_CPU_TOTAL,
                                             libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE)
        assert set(rec) == {"cpu.time", "cpu.user", "cpu.system"}
    finally:
        conn.close()
    assert (state, max_kib, ncpu) == (libvirt.VIR_DOMAIN_RUNNING, 262144, 1)
    assert 0 < used_kib <= 200000 and cpu_ns > 0

    # inactive: what the definition says, nothing else
    daemon.virsh("destroy", "st")
    s = domstats(daemon, "st")
    assert s["state.state"] == "5" and "cpu.time" not in s
    assert int(s["balloon.maximum"]) == 262144
    r = daemon.virsh("dommemstat", "st", check=False)
    assert r.returncode != 0 and "not running" in r.stderr


def test_tuning_inactive_transient_readonly(daemon, root_fs):
    xml = busybox_domain("ti", root_fs)
    (daemon.tmp / "ti.xml").write_text(xml)
    daemon.virsh("define", str(daemon.tmp / "ti.xml"))
    # inactive: live is refused; virDomainSetMemory (virsh setmem without
    # flags) is live, as libvirt's LXC driver has it; "current" is the config
    for flags in (("--live",), ()):
        r = daemon.virsh("setmem", "ti", "100000", *flags, check=False)
        assert r.returncode != 0 and "not running" in r.stderr
    conn = libvirt.open(daemon.uri)
    try:
        conn.lookupByName("ti").setMemoryFlags(100000, libvirt.VIR_DOMAIN_AFFECT_CURRENT)
    finally:
        conn.close()
    assert "<currentMemory unit='KiB'>100000</currentMemory>" in config_xml(daemon, "ti")
    daemon.virsh("schedinfo", "ti", "--set", "cpu_shares=600")
    assert colon_kv(daemon.virsh("schedinfo", "ti").stdout)["cpu_shares"] == "600"
    # read-only connections read, never write
    assert colon_kv(daemon.virsh("schedinfo", "ti", ro=True).stdout)["cpu_shares"] == "600"
    r = daemon.virsh("setmem", "ti", "90000", ro=True, check=False)
    assert r.returncode != 0 and "read only" in r.stderr.lower()
    r = daemon.virsh("blkiotune", "ti", "--weight", "500", ro=True, check=False)
    assert r.returncode != 0

    # transient: no config to change
    xml = busybox_domain("tt", root_fs)
    (daemon.tmp / "tt.xml").write_text(xml)
    daemon.virsh("create", str(daemon.tmp / "tt.xml"))
    try:
        for args in (("setmem", "tt", "100000", "--config"),
                     ("schedinfo", "tt", "--config", "--set", "cpu_shares=600"),
                     ("memtune", "tt", "--config", "--hard-limit", "100000")):
            r = daemon.virsh(*args, check=False)
            assert r.returncode != 0 and "transient" in r.stderr, (args, r.stderr)
        daemon.virsh("setmem", "tt", "100000", "--live")
        assert dominfo(daemon, "tt")["State"] == "running"
    finally:
        daemon.virsh("destroy", "tt", check=False)


def test_io_statistics(daemon, root_fs):
    """What the container reads and writes through the block layer shows
    in domstats --block (sandbox.io.*).  The disk is an ext4 image on a
    loop device the controller attaches; the throttle (set live, far
    above what the test does) makes cgroup v1 account the device, which
    it does only for devices with a throttle rule or under BFQ."""
    image = daemon.tmp / "io.img"
    with open(image, "wb") as f:
        f.truncate(32 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True, capture_output=True)
    script = ("while [ ! -e /data/go ]; do sleep 0.05; done; "
              "dd if=/dev/zero of=/data/f bs=64k count=64 oflag=direct 2>/dev/null && "
              "dd if=/data/f of=/dev/null bs=64k iflag=direct 2>/dev/null && "
              "touch /data/done; exec sleep 600")
    xml = conftest.domain_xml("io", args=("-c", script),
                              filesystems=[root_fs, conftest.fs_file(image, "/data")])
    (daemon.tmp / "io.xml").write_text(xml)
    daemon.virsh("create", str(daemon.tmp / "io.xml"))
    dom_id = daemon.virsh("domid", "io").stdout.strip()
    loops = subprocess.run(["losetup", "-j", str(image)], capture_output=True, text=True,
                           check=True).stdout.split(":")
    assert loops[0].startswith("/dev/loop"), loops
    loop = loops[0]
    daemon.virsh("blkiotune", "io", "--live", "--device-read-bytes-sec", f"{loop},1073741824",
                 "--device-write-bytes-sec", f"{loop},1073741824")
    before = {k: int(v) for k, v in domstats(daemon, "io").items() if k.startswith("sandbox.io.")}
    assert set(before) == {"sandbox.io.read_bytes", "sandbox.io.write_bytes",
                           "sandbox.io.read_ops", "sandbox.io.write_ops"}, before
    root = pathlib.Path(f"/proc/{dom_id}/root")
    (root / "data/go").touch()
    wait_for(lambda: (root / "data/done").exists(), what="the container's I/O")
    r = daemon.virsh("domstats", "--block", "io").stdout
    after = {k.strip(): int(v) for k, _, v in (line.partition("=") for line in r.splitlines())
             if k.strip().startswith("sandbox.io.")}
    # 4 MiB each way, in 64 KiB requests (the kernel may split them)
    assert after["sandbox.io.write_bytes"] - before["sandbox.io.write_bytes"] >= 4 << 20, after
    assert after["sandbox.io.read_bytes"] - before["sandbox.io.read_bytes"] >= 4 << 20, after
    assert after["sandbox.io.write_ops"] - before["sandbox.io.write_ops"] >= 64, after
    assert after["sandbox.io.read_ops"] - before["sandbox.io.read_ops"] >= 64, after
    # only the block group was asked for
    assert "balloon.current" not in r and "cpu.time" not in r
    daemon.virsh("destroy", "io")
