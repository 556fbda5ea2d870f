"""Network interfaces of containers (<interface type='bridge|network|ethernet'>),
through the real virsh against a private virt-sandboxd.

The tests make a host bridge, vsbtbr0 with 10.213.0.1/24, and remove it
at the end whatever happens.  Inside the container, busybox's ip and
ping run through `virsh lxc-enter-namespace`.  type='network' is checked
against a real libvirt network (libvirtd's qemu:///system, started when
it is not running; an isolated network with a bridge and no <ip> needs
no dnsmasq).
"""

import os
import shutil
import socket
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import SRCDIR, domain_xml, fs_mount
from vsbdaemon import busybox_domain, daemon  # noqa: F401

BRIDGE = "vsbtbr0"
HOST_IP = "10.213.0.1"
GUEST_IP = "10.213.0.2"
NETWORK = "vsbtnet0"
NETWORK_BRIDGE = "vsbtnbr0"
LIBVIRT_SOCK = "/run/libvirt/libvirt-sock"
SUBREAPER = SRCDIR / "tools" / "subreaper"


def ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def exists(dev):
    """@dev is a network device of the host.  (Tests name the devices
    they look for: other runs may make vsb* devices meanwhile.)"""
    return os.path.exists(f"/sys/class/net/{dev}")


def make_bridge(name, address=None):
    ip("link", "del", name, check=False)   # a leftover of an interrupted run
    ip("link", "add", name, "type", "bridge")
    if address:
        ip("addr", "add", address, "dev", name)
    ip("link", "set", name, "up")


@pytest.fixture
def bridge(leak_check):
    """vsbtbr0 with the host's 10.213.0.1/24; removed at the end (before
    the leak check, which it precedes)."""
    try:
        make_bridge(BRIDGE, f"{HOST_IP}/24")
        yield BRIDGE
    finally:
        ip("link", "del", BRIDGE, check=False)


def iface_bridge(extra=""):
    return (f"<interface type='bridge'><source bridge='{BRIDGE}'/>"
            f"<ip address='{GUEST_IP}' prefix='24'/>"
            f"<route address='0.0.0.0' prefix='0' gateway='{HOST_IP}'/>{extra}</interface>")


def start(daemon, name, root_fs, devices):
    path = daemon.tmp / f"{name}.xml"
    path.write_text(busybox_domain(name, root_fs, extra_devices=devices))
    daemon.virsh("define", path)
    return daemon.virsh("start", name, check=False)


def enter(daemon, name, *argv, check=True):
    return daemon.virsh("lxc-enter-namespace", name, "--", *argv, check=check)


def interfaces(daemon, name, inactive=False):
    args = ["dumpxml", name] + (["--inactive"] if inactive else [])
    return ET.fromstring(daemon.virsh(*args).stdout).findall("devices/interface")


def domifstat(daemon, name, dev):
    out = {}
    for line in daemon.virsh("domifstat", name, dev).stdout.splitlines():
        parts = line.split()
        if len(parts) == 3:
            out[parts[1]] = int(parts[2])
    return out


def domstats_net(daemon, name):
    out = {}
    for line in daemon.virsh("domstats", "--interface", name).stdout.splitlines():
        line = line.strip()
        if line.startswith("net.") and "=" in line:
            k, v = line.split("=", 1)
            out[k] = v
    return out


def test_bridge(daemon, root_fs, bridge):
    r = start(daemon, "br", root_fs, iface_bridge())
    assert r.returncode == 0, r.stderr + str(daemon)

    # the definition got a MAC, the live XML the host end's name
    (live,) = interfaces(daemon, "br")
    mac = live.find("mac").get("address")
    dev = live.find("target").get("dev")
    assert mac.startswith("52:54:00:"), ET.tostring(live)
    assert dev.startswith("vsb") and len(dev) <= 15, dev
    (inactive,) = interfaces(daemon, "br", inactive=True)
    assert inactive.find("mac").get("address") == mac
    assert inactive.find("target") is None
    assert exists(dev)
    # the host end is a port of the bridge, up, with a MAC that never
    # becomes the bridge's own
    assert os.path.exists(f"/sys/class/net/{BRIDGE}/brif/{dev}")
    assert Path(f"/sys/class/net/{dev}/address").read_text().startswith("fe:")
    assert int(Path(f"/sys/class/net/{dev}/flags").read_text(), 16) & 1

    # inside: eth0 with the address, the MAC and the default route
    out = enter(daemon, "br", "/bin/ip", "addr", "show", "eth0").stdout
    assert f"inet {GUEST_IP}/24" in out, out
    assert mac in out, out
    assert "UP" in out.split("\n")[0], out
    out = enter(daemon, "br", "/bin/ip", "route").stdout
    assert f"default via {HOST_IP} dev eth0" in out, out
    out = enter(daemon, "br", "/bin/ip", "link").stdout
    assert "lo:" in out and "eth0" in out, out

    # domiflist, from the XML
    out = daemon.virsh("domiflist", "br").stdout
    assert any(line.split()[:3] == [dev, "bridge", BRIDGE] and mac in line
               for line in out.splitlines()), out

    stats0 = domifstat(daemon, "br", dev)
    # the container pings the host, the host pings the container
    r = enter(daemon, "br", "/bin/ping", "-c1", "-W2", HOST_IP, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run(["ping", "-c1", "-W2", GUEST_IP], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    stats1 = domifstat(daemon, "br", dev)
    # the guest sent its echo request and its echo reply at least, and
    # received the host's reply and request (the guest's view: rx/tx of
    # the host end swapped)
    assert stats1["tx_packets"] >= stats0["tx_packets"] + 2, (stats0, stats1)
    assert stats1["rx_packets"] >= stats0["rx_packets"] + 2, (stats0, stats1)
    assert stats1["tx_bytes"] > stats0["tx_bytes"], (stats0, stats1)
    # the guest's tx is what the host end received
    host_rx = int(Path(f"/sys/class/net/{dev}/statistics/rx_packets").read_text())
    assert host_rx >= stats1["tx_packets"]
    # by MAC address too, as libvirt takes it
    assert domifstat(daemon, "br", mac)["tx_packets"] >= stats1["tx_packets"]
    r = daemon.virsh("domifstat", "br", "nosuchdev", check=False)
    assert r.returncode != 0 and "nosuchdev" in r.stderr, r.stderr

    net = domstats_net(daemon, "br")
    assert net["net.count"] == "1", net
    assert net["net.0.name"] == dev, net
    assert int(net["net.0.tx.pkts"]) >= stats1["tx_packets"], net
    assert int(net["net.0.rx.bytes"]) >= stats1["rx_bytes"], net

    daemon.virsh("destroy", "br")
    assert not exists(dev)
    assert os.listdir(f"/sys/class/net/{BRIDGE}/brif") == []
    # a second start gets a veth again
    daemon.virsh("start", "br")
    (live,) = interfaces(daemon, "br")
    dev = live.find("target").get("dev")
    assert exists(dev) and os.listdir(f"/sys/class/net/{BRIDGE}/brif") == [dev]
    daemon.virsh("destroy", "br")
    assert not exists(dev)


def test_ethernet_names_mtu_and_link(daemon, root_fs):
    devices = ("<interface type='ethernet'><mac address='52:54:00:21:3a:01'/>"
               "<target dev='vsbt-eth0'/><guest dev='net1'/><mtu size='1400'/></interface>"
               "<interface type='ethernet'><target dev='vsbt-eth1'/>"
               "<ip address='fd00:213::5' prefix='64'/><link state='down'/></interface>")
    r = start(daemon, "eth", root_fs, devices)
    assert r.returncode == 0, r.stderr + str(daemon)
    assert exists("vsbt-eth0") and exists("vsbt-eth1")
    # not attached to anything, up
    for dev in ("vsbt-eth0", "vsbt-eth1"):
        assert not os.path.exists(f"/sys/class/net/{dev}/master")
        assert int(Path(f"/sys/class/net/{dev}/flags").read_text(), 16) & 1
    assert Path("/sys/class/net/vsbt-eth0/mtu").read_text().strip() == "1400"

    out = enter(daemon, "eth", "/bin/ip", "addr").stdout
    # net1 (its <guest dev>): up, MAC and MTU, no address; eth1 (the
    # second interface's default name): its IPv6 address, down
    blocks = {}
    for chunk in ("\n" + out).split("\n")[1:]:
        if chunk and chunk[0].isdigit():
            name = chunk.split(":")[1].strip().split("@")[0]
            blocks[name] = chunk
        elif blocks:
            blocks[name] += "\n" + chunk
    assert set(blocks) == {"lo", "net1", "eth1"}, out
    assert "52:54:00:21:3a:01" in blocks["net1"] and "mtu 1400" in blocks["net1"], out
    assert "UP" in blocks["net1"].split("\n")[0] and "inet " not in blocks["net1"], out
    assert "fd00:213::5/64" in blocks["eth1"], out
    assert ",UP" not in blocks["eth1"].split("\n")[0], out

    # the given names stay in the live and the inactive XML
    assert [i.find("target").get("dev") for i in interfaces(daemon, "eth", inactive=True)] == \
        ["vsbt-eth0", "vsbt-eth1"]
    daemon.virsh("destroy", "eth")
    assert not exists("vsbt-eth0") and not exists("vsbt-eth1")


def test_setup_failure_leaves_nothing(daemon, root_fs, bridge):
    # the first interfaces are made before the last one fails
    ok = ("<interface type='ethernet'><target dev='vsbt-ok0'/></interface>"
          f"<interface type='bridge'><source bridge='{BRIDGE}'/><target dev='vsbt-ok1'/>"
          "</interface>")
    devices = ok + ("<interface type='bridge'><source bridge='vsbtnosuch0'/>"
                    "<target dev='vsbt-bad0'/></interface>")
    r = start(daemon, "badbr", root_fs, devices)
    assert r.returncode != 0
    assert "bridge 'vsbtnosuch0' does not exist" in r.stderr, r.stderr
    assert not any(exists(d) for d in ("vsbt-ok0", "vsbt-ok1", "vsbt-bad0"))
    assert os.listdir(f"/sys/class/net/{BRIDGE}/brif") == []
    assert daemon.domains()["badbr"] == "shut off"

    # not a bridge
    devices = ok + "<interface type='bridge'><source bridge='lo'/></interface>"
    r = start(daemon, "notbr", root_fs, devices)
    assert r.returncode != 0 and "'lo' is not a bridge" in r.stderr, r.stderr
    assert not exists("vsbt-ok0") and not exists("vsbt-ok1")

    # a host end name that is taken: the bridge itself
    devices = ok + (f"<interface type='bridge'><source bridge='{BRIDGE}'/>"
                    f"<target dev='{BRIDGE}'/></interface>")
    r = start(daemon, "taken", root_fs, devices)
    assert r.returncode != 0 and f"host interface '{BRIDGE}'" in r.stderr and \
        "exists already" in r.stderr, r.stderr
    assert not exists("vsbt-ok0") and not exists("vsbt-ok1")
    assert os.path.exists(f"/sys/class/net/{BRIDGE}/bridge")

    # an inactive (unknown) libvirt network
    devices = ok + "<interface type='network'><source network='vsbtnonet'/></interface>"
    r = start(daemon, "nonet", root_fs, devices)
    assert r.returncode != 0
    assert "libvirt network 'vsbtnonet' is not active" in r.stderr, r.stderr
    assert not exists("vsbt-ok0") and not exists("vsbt-ok1")
    assert os.listdir(f"/sys/class/net/{BRIDGE}/brif") == []


def test_controller_user_namespace(vsb, busybox_root, session_tmp, bridge):
    """The controller alone (no daemon), in a user namespace: root inside
    is uid 100000 outside and still owns its interface."""
    root = session_tmp / "rootfs-userns-net"
    if not root.exists():
        subprocess.run(["cp", "-a", str(busybox_root), str(root)], check=True)
        subprocess.run(["chown", "-R", "-h", "100000:100000", str(root)], check=True)
    script = (f"ip addr show eth0; ip route; ping -c1 -W2 {HOST_IP} >/dev/null && echo ping=ok; "
              "cat /proc/self/uid_map")
    r = vsb.run(domain_xml("vsbt-userns-net", args=["-c", script],
                           filesystems=[fs_mount(root, "/")],
                           extra_devices=iface_bridge("<target dev='vsbt-uns0'/>"),
                           extra="<idmap><uid start='0' target='100000' count='65536'/>"
                                 "<gid start='0' target='100000' count='65536'/></idmap>"))
    assert r.status == 0, str(r)
    assert f"inet {GUEST_IP}/24" in r.stdout, str(r)
    assert f"default via {HOST_IP} dev eth0" in r.stdout, str(r)
    assert "ping=ok" in r.stdout, str(r)
    assert "100000" in r.stdout, str(r)
    assert not exists("vsbt-uns0")


def test_unsupported_type_refused(daemon):
    xml = ("<domain type='lxc'><name>usr</name><os><type>exe</type></os><devices>"
           "<interface type='user'/></devices></domain>")
    path = daemon.tmp / "usr.xml"
    path.write_text(xml)
    r = daemon.virsh("define", path, check=False)
    assert r.returncode != 0
    assert "unsupported <interface type='user'>" in r.stderr, r.stderr


def _answers(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


@pytest.fixture
def libvirt_network(leak_check):
    """An isolated libvirt network (qemu:///system) on bridge vsbtnbr0;
    libvirtd is started for it when not running, and stopped after."""
    if not shutil.which("libvirtd", path="/usr/sbin:/usr/bin"):
        pytest.skip("libvirtd is not installed (apt-get install libvirt-daemon-system)")
    started = None
    if not _answers(LIBVIRT_SOCK):
        started = subprocess.Popen([str(SUBREAPER), "libvirtd"], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   start_new_session=True)
        deadline = time.monotonic() + 30
        while not _answers(LIBVIRT_SOCK):
            assert started.poll() is None, started.stderr.read().decode()
            assert time.monotonic() < deadline, "libvirtd did not answer within 30 s"
            time.sleep(0.1)
    xml = Path(f"/tmp/{NETWORK}.xml")
    xml.write_text(f"<network><name>{NETWORK}</name>"
                   f"<bridge name='{NETWORK_BRIDGE}' stp='off'/></network>")
    virsh = ["virsh", "-c", "qemu:///system"]
    try:
        subprocess.run(virsh + ["net-destroy", NETWORK], capture_output=True)
        r = subprocess.run(virsh + ["net-create", str(xml)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        yield NETWORK
    finally:
        subprocess.run(virsh + ["net-destroy", NETWORK], capture_output=True)
        xml.unlink(missing_ok=True)
        if started:
            started.terminate()
            try:
                started.wait(timeout=30)
            except subprocess.TimeoutExpired:
                started.kill()
                started.wait()
            started.stderr.close()


def test_network(daemon, root_fs, libvirt_network):
    devices = (f"<interface type='network'><source network='{NETWORK}'/>"
               f"<ip address='10.214.0.2' prefix='24'/></interface>")
    r = start(daemon, "lnet", root_fs, devices)
    assert r.returncode == 0, r.stderr + str(daemon)
    (live,) = interfaces(daemon, "lnet")
    dev = live.find("target").get("dev")
    assert os.path.exists(f"/sys/class/net/{NETWORK_BRIDGE}/brif/{dev}")
    out = enter(daemon, "lnet", "/bin/ip", "addr", "show", "eth0").stdout
    assert "inet 10.214.0.2/24" in out, out
    daemon.virsh("destroy", "lnet")
    assert not exists(dev)
    assert os.listdir(f"/sys/class/net/{NETWORK_BRIDGE}/brif") == []
