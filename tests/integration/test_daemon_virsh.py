"""virt-sandboxd driven by the real virsh (Debian 12's, libvirt 9.0).

Each test starts a private daemon (vsbdaemon.Daemon) and talks to it
through lxc:///system?socket=PATH, exactly as an administrator would.
"""

import os
import select
import signal
import socket
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

import vsbdaemon
from vsbdaemon import (TRAPPING_INIT, Console, busybox_domain, daemon,  # noqa: F401
                       wait_term_trapped)


def define(daemon, xml, name):
    path = daemon.tmp / f"{name}.xml"
    path.write_text(xml)
    daemon.virsh("define", path)
    return path


def dominfo(daemon, name, ro=False):
    out = {}
    for line in daemon.virsh("dominfo", name, ro=ro).stdout.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k.strip()] = v.strip()
    return out


def test_host_facts(daemon):
    v = daemon.virsh("version").stdout
    assert "Using API: LXC 9.0.0" in v
    assert "Running hypervisor: LXC " in v
    release = os.uname().release.split("-")[0]
    assert f"Running hypervisor: LXC {'.'.join(release.split('.')[:3])}" in v, v

    assert daemon.virsh("hostname").stdout.strip() == socket.gethostname()

    info = {}
    for line in daemon.virsh("nodeinfo").stdout.splitlines():
        k, v = line.split(":", 1)
        info[k.strip()] = v.strip()
    assert int(info["CPU(s)"]) == os.cpu_count()
    assert int(info["Memory size"].split()[0]) > 0
    assert info["CPU model"] == os.uname().machine

    caps = ET.fromstring(daemon.virsh("capabilities").stdout)
    assert caps.tag == "capabilities"
    assert caps.find("host/cpu/arch").text == os.uname().machine
    assert [g.find("os_type").text for g in caps.findall("guest")] == ["exe"] * len(
        caps.findall("guest"))
    assert caps.findall("guest"), "no guest in the capabilities"

    assert daemon.virsh("uri").stdout.strip().startswith("lxc:///system")


def test_lifecycle(daemon, root_fs):
    name = "life"
    define(daemon, busybox_domain(name, root_fs, args=TRAPPING_INIT), name)
    assert daemon.domains() == {name: "shut off"}
    info = dominfo(daemon, name)
    assert info["State"] == "shut off"
    assert info["Persistent"] == "yes"
    assert info["Autostart"] == "disable"
    assert info["OS Type"] == "exe"
    assert info["Security model"] == "none"
    assert (daemon.config_dir / f"{name}.xml").exists()

    dump = daemon.tmp / "dump.xml"
    dump.write_text(daemon.virsh("dumpxml", name).stdout)
    r = subprocess.run(["virt-xml-validate", str(dump), "domain"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr + dump.read_text()

    daemon.virsh("start", name)
    assert daemon.domains() == {name: "running"}
    info = dominfo(daemon, name)
    assert info["State"] == "running"
    pid = int(info["Id"])
    # the id is a host pid inside the container's cgroup
    assert os.path.exists(f"/proc/{pid}")
    dump.write_text(daemon.virsh("dumpxml", name).stdout)
    assert ET.parse(dump).getroot().get("id") == str(pid)
    r = subprocess.run(["virt-xml-validate", str(dump), "domain"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    # starting it again is refused, the domain unharmed
    r = daemon.virsh("start", name, check=False)
    assert r.returncode != 0 and "already" in r.stderr, r.stderr

    daemon.virsh("autostart", name)
    assert dominfo(daemon, name)["Autostart"] == "enable"
    assert (daemon.config_dir / "autostart" / f"{name}.xml").exists()
    daemon.virsh("autostart", "--disable", name)
    assert dominfo(daemon, name)["Autostart"] == "disable"
    assert not (daemon.config_dir / "autostart" / f"{name}.xml").exists()

    wait_term_trapped(int(daemon.virsh("domid", name).stdout))
    daemon.virsh("shutdown", name)
    daemon.wait_state(name, "shut off")
    assert dominfo(daemon, name)["Id"] == "-"

    daemon.virsh("start", name)
    daemon.virsh("destroy", name)
    assert daemon.domains() == {name: "shut off"}

    daemon.virsh("undefine", name)
    assert daemon.domains() == {}
    assert not (daemon.config_dir / f"{name}.xml").exists()
    r = daemon.virsh("dominfo", name, check=False)
    assert r.returncode != 0 and "failed to get domain" in r.stderr, r.stderr


def test_create_transient(daemon, root_fs):
    name = "transient"
    path = daemon.tmp / "t.xml"
    path.write_text(busybox_domain(name, root_fs))
    daemon.virsh("create", path)
    assert daemon.domains() == {name: "running"}
    assert dominfo(daemon, name)["Persistent"] == "no"
    assert not (daemon.config_dir / f"{name}.xml").exists()
    daemon.virsh("destroy", name)
    assert daemon.domains() == {}


def test_console(daemon, root_fs):
    name = "con"
    define(daemon, busybox_domain(name, root_fs), name)
    daemon.virsh("start", name)
    con = Console(daemon, name)
    con.expect(rb"Escape character is")
    con.send(b"echo marker-$((6*7))\r")
    con.expect(rb"marker-42")
    assert con.detach() == 0
    assert daemon.domains()[name] == "running"

    # attach again: the console was given back at detach
    con = Console(daemon, name)
    con.expect(rb"Escape character is")
    con.send(b"echo again-$((2*3))\r")
    con.expect(rb"again-6")
    assert con.detach() == 0

    # one console at a time; --force takes it over, ending the other
    con = Console(daemon, name)
    con.expect(rb"Escape character is")
    con.send(b"echo first\r")
    con.expect(rb"first")
    second = Console(daemon, name)
    assert second.wait(10) != 0
    assert b"Active console session" in second.buf, second.buf
    forced = Console(daemon, name, force=True)
    forced.expect(rb"Escape character is")
    con.wait(10)
    forced.send(b"echo forced-$((7*7))\r")
    forced.expect(rb"forced-49")
    assert forced.detach() == 0

    # the domain ending ends the console session
    con = Console(daemon, name)
    con.expect(rb"Escape character is")
    con.send(b"exit\r")
    assert con.wait(20) == 0
    daemon.wait_state(name, "shut off")


def test_lxc_enter_namespace(daemon, root_fs):
    name = "ns"
    define(daemon, busybox_domain(name, root_fs), name)
    daemon.virsh("start", name)
    r = daemon.virsh("lxc-enter-namespace", name, "--", "/bin/hostname")
    assert r.stdout.strip() == name
    # the container's root and pid namespace
    r = daemon.virsh("lxc-enter-namespace", name, "--", "/bin/cat", "/srv/data/data.txt")
    assert r.stdout.strip() == "guest-data"
    r = daemon.virsh("lxc-enter-namespace", name, "--", "/bin/sh", "-c", "cat /proc/1/comm")
    assert r.stdout.strip() == "sh"


def test_events(daemon, root_fs):
    name = "ev"
    path = daemon.tmp / "ev.xml"
    path.write_text(busybox_domain(name, root_fs))
    # line-buffered, to see each event as virsh prints it
    ev = subprocess.Popen(["stdbuf", "-oL", "virsh", "-c", daemon.uri, "event", "--all", "--loop",
                           "--timeout", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines = []
    try:
        # registered once the daemon has seen its callback registration
        deadline = time.monotonic() + 10
        while "virConnectDomainEventRegisterAny" not in daemon.log:
            assert time.monotonic() < deadline, daemon
            time.sleep(0.05)
        daemon.virsh("define", path)
        daemon.virsh("start", name)
        daemon.virsh("destroy", name)
        daemon.virsh("undefine", name)
        buf = b""
        deadline = time.monotonic() + 20
        while buf.count(b"\nevent") + buf.startswith(b"event") < 4 and time.monotonic() < deadline:
            r, _, _ = select.select([ev.stdout], [], [], 0.2)
            if r:
                chunk = os.read(ev.stdout.fileno(), 4096)
                if not chunk:
                    break
                buf += chunk
        lines = [ln for ln in buf.decode().splitlines() if ln.startswith("event")]
    finally:
        ev.send_signal(signal.SIGINT)
        try:
            ev.wait(timeout=10)
        except subprocess.TimeoutExpired:
            ev.kill()
            ev.wait()
    assert lines == [
        f"event 'lifecycle' for domain '{name}': Defined Added",
        f"event 'lifecycle' for domain '{name}': Started Booted",
        f"event 'lifecycle' for domain '{name}': Stopped Destroyed",
        f"event 'lifecycle' for domain '{name}': Undefined Removed",
    ], lines


def test_read_only(daemon, root_fs):
    name = "ro"
    path = define(daemon, busybox_domain(name, root_fs), name)
    # what read-only may do
    assert daemon.virsh("list", "--all", ro=True).stdout.split()[1:] == [name, "shut", "off"]
    assert dominfo(daemon, name, ro=True)["State"] == "shut off"
    daemon.virsh("dumpxml", name, ro=True)
    # what it may not
    for args in (("start", name), ("define", path), ("undefine", name)):
        r = daemon.virsh(*args, ro=True, check=False)
        assert r.returncode != 0, args
        assert "read only access prevents" in r.stderr, r.stderr
    daemon.virsh("start", name)
    for args in (("destroy", name), ("shutdown", name), ("lxc-enter-namespace", name, "--",
                                                         "/bin/true")):
        r = daemon.virsh(*args, ro=True, check=False)
        assert r.returncode != 0, args
        assert "read only access prevents" in r.stderr, r.stderr
    assert daemon.domains() == {name: "running"}


def test_unsupported(daemon, root_fs):
    name = "unsup"
    define(daemon, busybox_domain(name, root_fs), name)
    daemon.virsh("start", name)
    r = daemon.virsh("managedsave", name, check=False)
    assert r.returncode != 0 and "not supported" in r.stderr, r.stderr
    r = daemon.virsh("net-list", check=False)
    assert r.returncode != 0 and "not supported" in r.stderr, r.stderr
    r = daemon.virsh("destroy", "--graceful", name, check=False)
    assert r.returncode != 0 and "unsupported flags" in r.stderr, r.stderr
    # none of it disturbed the domain or the connection
    assert daemon.domains() == {name: "running"}
