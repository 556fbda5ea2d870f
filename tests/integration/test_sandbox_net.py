"""virt-sandbox -N and virt-sandbox-service create -N end to end, with
libvirt's own network driver as the network: Debian's libvirtd (started
as for test_sandbox_kvm.py when it is not running) makes a transient
isolated network, its bridge vsbtnet0 with 10.214.0.1/24, and runs
dnsmasq on it as the DHCP (and DNS) server our sandboxes talk to.

LXC sandboxes run through a private virt-sandboxd (the controller makes
the veth pair on the network's bridge, init runs our DHCP client);
one KVM sandbox through libvirt's QEMU driver (a virtio NIC on the same
bridge, the guest's init does DHCP itself): that test needs no part of
our driver.  Under TCG a boot takes several seconds: one boot only.

The bridge has STP off: with it on (libvirt's default) a new port
listens and learns for the kernel's minimum forward delay (2 s each)
before it forwards, and a static sandbox's first ping would fail.
DHCP rides that out by itself (its retries).

-p (privileged) where the program pings: ping needs CAP_NET_RAW, which
an unprivileged sandbox drops (and no_new_privs keeps ping's file
capability from giving it back).

The network is destroyed at the end (its bridge and dnsmasq go with
it), libvirtd stopped if the fixture started it; no domain, no veth on
the bridge and no state directory may remain after each test.

Lease renewal (init's, RFC 2131's T1) has a network of its own,
vsbtnet1, made for that test alone: its leases last dnsmasq's minimum,
2 minutes, so T1 comes after 60 s.  libvirt's dnsmasq reports every
lease change to libvirt's leases helper, which keeps them with their
expiry in /var/lib/libvirt/dnsmasq/BRIDGE.status: what the test reads.
"""

import ipaddress
import json
import os
import re
import select
import shutil
import subprocess
import time

import pytest

from conftest import BUILDDIR
from test_sandbox_cli import INIT, VIRT_SANDBOX, env_for, uri, vs  # noqa: F401  (fixture)
from test_sandbox_kvm import URI as QEMU_URI, _domains, _qemu_pids, libvirtd  # noqa: F401
from vsbdaemon import daemon  # noqa: F401  (fixture)

SERVICE = BUILDDIR / "sandbox" / "virt-sandbox-service"
NET = "vsbtnet"
BRIDGE = "vsbtnet0"
GATEWAY = "10.214.0.1"
SUBNET = ipaddress.ip_network("10.214.0.0/24")
DHCP_RANGE = (ipaddress.ip_address("10.214.0.100"), ipaddress.ip_address("10.214.0.199"))
NET_XML = f"""<network>
  <name>{NET}</name>
  <bridge name='{BRIDGE}' stp='off'/>
  <ip address='{GATEWAY}' prefix='24'>
    <dhcp><range start='{DHCP_RANGE[0]}' end='{DHCP_RANGE[1]}'/></dhcp>
  </ip>
</network>
"""
KVM_BOOT_TIMEOUT = 180
LEASE_NET = "vsbtnet1"
LEASE_BRIDGE = "vsbtnet1"
LEASE_GATEWAY = "10.214.1.1"
LEASE_MAC = "52:54:00:d6:01:07"
LEASE_NET_XML = f"""<network>
  <name>{LEASE_NET}</name>
  <bridge name='{LEASE_BRIDGE}' stp='off'/>
  <ip address='{LEASE_GATEWAY}' prefix='24'>
    <dhcp>
      <range start='10.214.1.100' end='10.214.1.199'><lease expiry='2' unit='minutes'/></range>
    </dhcp>
  </ip>
</network>
"""
LEASE_STATUS = f"/var/lib/libvirt/dnsmasq/{LEASE_BRIDGE}.status"


def _virsh(*args, check=True):
    r = subprocess.run(["virsh", "-q", "-c", QEMU_URI, *args], capture_output=True, text=True,
                       timeout=60)
    if check:
        assert r.returncode == 0, f"virsh {' '.join(args)}: {r.stderr}"
    return r


def _bridge_ports(bridge=BRIDGE):
    """The interfaces attached to the network's bridge (veths, taps)."""
    d = f"/sys/class/net/{bridge}/brif"
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def _wait_no_ports(timeout=10, bridge=BRIDGE):
    deadline = time.monotonic() + timeout
    while _bridge_ports(bridge) and time.monotonic() < deadline:
        time.sleep(0.1)
    return _bridge_ports(bridge)


def _transient_network(name, bridge, xml):
    """Make the transient network @name from @xml; yields its name,
    destroys it (bridge and dnsmasq with it)."""
    for tool, pkg in (("dnsmasq", "dnsmasq-base"), ("ping", "iputils-ping")):
        if not shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin"):
            pytest.skip(f"{tool} is not installed (apt-get install {pkg})")
    # A network of ours left by a run that died: gone first.
    if _virsh("net-info", name, check=False).returncode == 0:
        _virsh("net-destroy", name)
    path = BUILDDIR / "tests" / f"{name}.xml"
    path.write_text(xml)
    try:
        _virsh("net-create", str(path))
    finally:
        path.unlink()
    try:
        yield name
    finally:
        _virsh("net-destroy", name)
        assert not os.path.exists(f"/sys/class/net/{bridge}"), f"{bridge} left behind"


@pytest.fixture(scope="module")
def network(libvirtd):  # noqa: F811
    yield from _transient_network(NET, BRIDGE, NET_XML)


@pytest.fixture
def short_lease_network(libvirtd):  # noqa: F811
    """A network whose leases last 2 minutes (dnsmasq's minimum)."""
    yield from _transient_network(LEASE_NET, LEASE_BRIDGE, LEASE_NET_XML)


def _eth0_address(out):
    m = re.search(r"inet (10\.214\.0\.\d+)/(\d+)", out)
    assert m, f"no 10.214.0.x address on eth0:\n{out}"
    return ipaddress.ip_address(m.group(1)), int(m.group(2))


def _logs(daemon):  # noqa: F811
    """The daemon's log and its domains' (console, controller)."""
    text = str(daemon)
    for p in sorted(daemon.log_dir.glob("*")) if daemon.log_dir.exists() else []:
        text += f"\n--- {p.name} ---\n" + p.read_text(errors="replace")[-3000:]
    return text


def _check_clean(daemon):  # noqa: F811
    assert not daemon.domains(), f"domains left: {daemon.domains()}"
    assert not _wait_no_ports(), f"ports left on {BRIDGE}: {_bridge_ports()}"


PROBE = ("ip -4 -o addr show dev eth0; ip -4 route; echo ---; cat /etc/resolv.conf; echo ---; "
         f"ping -c 1 -w 10 {GATEWAY}")


def test_lxc_dhcp(uri, daemon, network):  # noqa: F811
    """DHCP from libvirt's dnsmasq: an address of its range with the
    subnet's prefix on eth0, the server's DNS in /etc/resolv.conf (only
    the sandbox's: the host's file is untouched), the gateway answers."""
    with open("/etc/resolv.conf", "rb") as f:
        host_resolv = f.read()
    r = vs(uri, "-p", "-N", f"dhcp,source={network}", "--", "/bin/sh", "-c", PROBE, timeout=90)
    out = r.stdout.decode()
    assert r.returncode == 0, f"{r.stderr.decode()}\n{out}{daemon}"
    addr, prefix = _eth0_address(out.split("---")[0])
    assert DHCP_RANGE[0] <= addr <= DHCP_RANGE[1] and prefix == 24, out
    assert f"nameserver {GATEWAY}" in out.split("---")[1], out
    assert "1 received" in out, out
    with open("/etc/resolv.conf", "rb") as f:
        assert f.read() == host_resolv
    _check_clean(daemon)


def test_lxc_static(uri, daemon, network):  # noqa: F811
    """A static address and a default route (set by the controller from
    the domain's <ip>/<route>): no DHCP, the gateway answers."""
    r = vs(uri, "-p", "-N", f"address=10.214.0.50/24,route=0.0.0.0/0%{GATEWAY},source={network}",
           "--", "/bin/sh", "-c", PROBE, timeout=90)
    out = r.stdout.decode()
    assert r.returncode == 0, f"{r.stderr.decode()}\n{out}{daemon}"
    assert _eth0_address(out.split("---")[0]) == (ipaddress.ip_address("10.214.0.50"), 24)
    assert f"default via {GATEWAY} dev eth0" in out, out
    assert "1 received" in out, out
    _check_clean(daemon)


def _lease_expiry(mac):
    """The expiry (epoch seconds) of @mac's lease in libvirt's record of
    the short-lease network's leases; None while it has none."""
    try:
        with open(LEASE_STATUS) as f:
            text = f.read()
    except FileNotFoundError:
        return None
    for lease in json.loads(text) if text.strip() else []:
        if lease.get("mac-address") == mac:
            return int(lease["expiry-time"])
    return None


def test_lxc_dhcp_lease_renewed(uri, daemon, short_lease_network):  # noqa: F811
    """Init renews its lease at T1 while the program runs: past T1 (60 s
    into a 2-minute lease) the server's record of the lease expires
    later than the first lease did, the program still has its address,
    and init said it renewed (-d: LOG frames on stderr)."""
    cmd = [str(VIRT_SANDBOX), "-c", uri, "-d", "-N",
           f"dhcp,source={short_lease_network},mac={LEASE_MAC}", "--", "/bin/sh", "-c",
           "ip -4 -o addr show dev eth0; sleep 75; echo ---; ip -4 -o addr show dev eth0"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_for(),
                         cwd="/")
    head = b""
    try:
        # The program's first line: it has its lease.  Then the lease as
        # the server recorded it (its helper runs right after the ACK).
        deadline = time.monotonic() + 60
        while b"\n" not in head and time.monotonic() < deadline:
            if select.select([p.stdout], [], [], 1)[0]:
                chunk = os.read(p.stdout.fileno(), 4096)
                if not chunk:
                    break
                head += chunk
        first = None
        deadline = time.monotonic() + 10
        while first is None and b"\n" in head and time.monotonic() < deadline:
            first = _lease_expiry(LEASE_MAC)
            time.sleep(0.2)
        out, err = p.communicate(timeout=150)
        out = head + out
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    out, err = out.decode(), err.decode()
    assert p.returncode == 0, f"{err}\n{out}{daemon}"
    # -d also shows libvirt's debug log: init's lines only.
    init = "\n".join(line for line in err.splitlines() if "virt-sandbox-init:" in line)
    assert first is not None, f"no lease for {LEASE_MAC} in {LEASE_STATUS}\n{init}"
    before, after = out.split("---")
    m = re.search(r"inet (10\.214\.1\.\d+)/24", before)
    assert m, out
    assert m.group(0) in after, f"the address is gone after T1:\n{out}\n{init}"
    later = _lease_expiry(LEASE_MAC)
    assert later is not None and later > first, \
        f"lease of {LEASE_MAC} not extended: {first} then {later}\n{init}"
    assert re.search(rf"DHCP on eth0: renewed {re.escape(m.group(1))} for 120 s", init), init
    assert not daemon.domains(), f"domains left: {daemon.domains()}"
    assert not _wait_no_ports(bridge=LEASE_BRIDGE), \
        f"ports left on {LEASE_BRIDGE}: {_bridge_ports(LEASE_BRIDGE)}"


def test_bad_specs_fail_before_anything_starts(daemon, network):  # noqa: F811
    """A bad -N fails with a message naming the option and its bad part;
    no domain, no state, nothing on the bridge."""
    cases = [
        ("address=10.0.0.300/24",
         "-N 'address=10.0.0.300/24': address=10.0.0.300/24: '10.0.0.300' is not an IPv4 or "
         "IPv6 address"),
        (f"dhcp,source={network},mac=01:00:5e:00:00:01",
         "mac=01:00:5e:00:00:01: a multicast address cannot be an interface's"),
        ("dhcp,address=10.214.0.5/24", "dhcp and static addresses exclude each other"),
    ]
    for spec, message in cases:
        r = vs(daemon.uri, "-N", spec, "--", "/bin/true")
        assert r.returncode != 0
        assert message in r.stderr.decode(), r.stderr.decode()
    _check_clean(daemon)


def test_lxc_unknown_network(uri, daemon, network):  # noqa: F811
    """A network libvirt does not have running: the start fails naming
    it, and nothing is left."""
    r = vs(uri, "-N", "dhcp,source=vsb-no-such-net", "--", "/bin/true", timeout=60)
    assert r.returncode != 0
    assert "vsb-no-such-net" in r.stderr.decode(), r.stderr.decode()
    _check_clean(daemon)


@pytest.fixture
def host_bridge():
    """A host bridge that is no libvirt network, no DHCP server on it."""
    name = "vsbtnbr9"
    subprocess.run(["ip", "link", "del", name], capture_output=True)
    subprocess.run(["ip", "link", "add", name, "type", "bridge"], check=True)
    subprocess.run(["ip", "link", "set", name, "up"], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "link", "del", name], check=True)


def test_lxc_bridge_by_name_and_dhcp_timeout(uri, daemon, host_bridge):  # noqa: F811
    """source=NAME of a host bridge (no libvirt network of that name)
    attaches to it (type='bridge'); with no DHCP server there, init
    gives up after its bounded time with a clear error, and the sandbox
    fails with nothing left.  (Taken as a libvirt network, the start
    would fail at once: no such network is active.)"""
    r = vs(uri, "-N", f"dhcp,source={host_bridge}", "--", "/bin/true", timeout=120)
    err = r.stderr.decode()
    assert r.returncode != 0
    assert "DHCP on eth0: no answer from a DHCP server within 30 s" in err, err
    _check_clean(daemon)
    assert not os.listdir(f"/sys/class/net/{host_bridge}/brif")


def test_service_create_with_network(daemon, network, tmp_path):  # noqa: F811
    """create -N: the spec saved with the service, its domain carrying
    the interface; started, its program sees the DHCP address."""
    base = tmp_path / "services"
    env = dict(os.environ, VSB_SANDBOX_INIT=str(INIT))

    def tool(*args, check=True):
        r = subprocess.run([str(SERVICE), "-c", daemon.uri, "-p", str(base), *args],
                           capture_output=True, text=True, timeout=90, env=env, cwd="/")
        assert not check or r.returncode == 0, f"{args}: {r.stdout}{r.stderr}{daemon}"
        return r

    bad = tool("create", "-N", "route=0.0.0.0/0%10.0.0.1", "netsvc-bad", "--", "/bin/true",
               check=False)
    assert bad.returncode != 0 and "a route needs a static address" in bad.stderr, bad.stderr
    assert not (base / "netsvc-bad").exists()
    tool("create", "-N", f"dhcp,source={network}", "netsvc", "--", "/bin/sh", "-c",
         "while :; do sleep 1; done")
    try:
        assert f"spec=dhcp,source={network}" in (base / "netsvc" / "sandbox.cfg").read_text()
        xml = daemon.virsh("dumpxml", "netsvc").stdout
        assert re.search(r"<interface type=.network.>.*<source network=.vsbtnet.\s*/>.*"
                         r"<guest dev=.eth0.\s*/>.*</interface>", xml, re.S), xml
        tool("start", "netsvc")
        deadline = time.monotonic() + 40
        while True:
            r = tool("execute", "netsvc", "--", "ip", "-4", "-o", "addr", "show", "dev", "eth0",
                     check=False)
            if "inet 10.214.0." in r.stdout:
                break
            assert time.monotonic() < deadline, f"{r.stdout}{r.stderr}{_logs(daemon)}"
            time.sleep(0.5)
        addr, prefix = _eth0_address(r.stdout)
        assert DHCP_RANGE[0] <= addr <= DHCP_RANGE[1] and prefix == 24
        tool("stop", "netsvc")
    finally:
        tool("delete", "netsvc", check=False)
    _check_clean(daemon)


def test_kvm_dhcp(libvirtd, network):  # noqa: F811
    """One KVM guest: a virtio NIC on the network, DHCP by the guest's
    init, the gateway answers; nothing of the guest remains."""
    name = "vsb-net-kvm-test"
    r = subprocess.run([str(VIRT_SANDBOX), "-c", QEMU_URI, "-n", name, "-p", "-N",
                        f"dhcp,source={network}", "--", "/bin/sh", "-c", PROBE],
                       capture_output=True, timeout=KVM_BOOT_TIMEOUT, env=env_for(), cwd="/")
    out = r.stdout.decode()
    assert r.returncode == 0, f"{r.stderr.decode()}\n{out}"
    addr, prefix = _eth0_address(out.split("---")[0])
    assert DHCP_RANGE[0] <= addr <= DHCP_RANGE[1] and prefix == 24, out
    assert f"nameserver {GATEWAY}" in out.split("---")[1], out
    assert "1 received" in out, out
    deadline = time.monotonic() + 30
    while (name in _domains() or _qemu_pids(name)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert name not in _domains() and not _qemu_pids(name)
    assert not _wait_no_ports(), f"ports left on {BRIDGE}: {_bridge_ports()}"
