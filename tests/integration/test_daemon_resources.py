"""Resource isolation through virt-sandboxd (issue 5), driven by the real
virsh and python3-libvirt against a private daemon, checking the
payload cgroup's files on the host too.
"""

import pathlib
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
