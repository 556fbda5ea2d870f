"""virt-sandboxd against clients that break the protocol, vanish in the
middle of things, or never read: the offending connection is dropped
(or answered with an error), every other one keeps being served.
"""

import struct
import time

import libvirt

import vsbdaemon
from vsbdaemon import (CALL, CALL_WITH_FDS, CONTINUE, ERROR, MESSAGE, OK, PROG_KEEPALIVE,
                       PROG_REMOTE, REPLY, STREAM, Console, RawClient, busybox_domain, daemon,  # noqa: F401
                       error_of, event_loop, frame, xdr_string)

VIR_ERR_INTERNAL_ERROR = 1
VIR_ERR_NO_SUPPORT = 3
VIR_ERR_RPC = 39
VIR_FROM_REMOTE = 13


def still_serving(daemon, conn):
    """The daemon answers an established connection and a new one."""
    assert conn.getHostname()
    assert daemon.virsh("hostname").stdout.strip()


def test_malformed_frames(daemon):
    conn = libvirt.open(daemon.uri)
    conn.getHostname()
    fds = daemon.settled_fd_count()
    bad = {
        "length 0": b"\0\0\0\0",
        "length 27": struct.pack(">I", 27) + b"x" * 23,
        "length above 32 MiB + 4": struct.pack(">I", 32 * 1024 * 1024 + 5),
        "length 4 GiB": b"\xff\xff\xff\xff",
        "unknown program": frame(3, 0, prog=0x12345678),
        "qemu program": frame(3, 0, prog=0x20008087),
        "version 2": frame(3, 0, vers=2),
        "a reply from the client": frame(3, 0, type_=REPLY),
        "a message from the client": frame(3, 0, type_=MESSAGE),
        "unknown type": frame(3, 0, type_=9),
        "unknown status": frame(3, 0, status=7),
        "keepalive with a payload": frame(1, 0, b"\0\0\0\0", prog=PROG_KEEPALIVE, type_=MESSAGE),
        "too many fds": frame(3, 0, struct.pack(">I", 33), type_=CALL_WITH_FDS),
        "fd count missing": frame(3, 0, type_=CALL_WITH_FDS),
    }
    for what, data in bad.items():
        c = RawClient(daemon.sock)
        c.send(data)
        assert c.closed_by_peer(), what
        c.close()
        still_serving(daemon, conn)
    # nothing of the dropped connections is left
    daemon.wait_fd_count(fds)
    conn.close()


def test_garbage_payload_is_an_error_reply(daemon):
    c = RawClient(daemon.sock)
    c.call(66)
    # CONNECT_OPEN with a string length beyond the frame
    f = c.call(1, b"\0\0\0\1\x7f\xff\xff\xff" + b"junk")
    assert f[3] == REPLY and f[5] == ERROR
    code, _, msg = error_of(f[6])
    assert code == VIR_ERR_RPC, msg
    # trailing bytes after valid arguments
    f = c.call(1, struct.pack(">II", 0, 0) + b"\0\0\0\0")
    assert f[5] == ERROR and error_of(f[6])[0] == VIR_ERR_RPC
    # the connection is fine: a proper open works
    c.open()
    f = c.call(3)
    assert f[5] == OK and f[6] == xdr_string("LXC")
    c.close()


def test_calls_before_open_and_unknown(daemon):
    c = RawClient(daemon.sock)
    f = c.call(3)   # GET_TYPE before CONNECT_OPEN
    assert f[5] == ERROR
    code, _, msg = error_of(f[6])
    assert code == VIR_ERR_INTERNAL_ERROR and "connection not open" in msg
    c.open()
    f = c.call(9999)
    assert f[5] == ERROR
    code, domain, msg = error_of(f[6])
    assert (code, domain) == (VIR_ERR_NO_SUPPORT, VIR_FROM_REMOTE), msg
    # serials are echoed whatever they are
    c.send(frame(3, 0xdeadbeef))
    f = c.recv_frame()
    assert f[4] == 0xdeadbeef and f[5] == OK
    # a second open is refused, the first stays
    f = c.call(1, struct.pack(">II", 0, 0))
    assert f[5] == ERROR
    assert c.call(3)[5] == OK
    # a wrong URI is refused
    d = RawClient(daemon.sock)
    f = d.call(1, struct.pack(">I", 1) + xdr_string("qemu:///system") + struct.pack(">I", 0))
    assert f[5] == ERROR and "qemu:///system" in error_of(f[6])[2]
    d.close()
    c.close()


def test_keepalive(daemon):
    c = RawClient(daemon.sock)
    c.send(frame(1, 0, prog=PROG_KEEPALIVE, type_=MESSAGE))
    f = c.recv_frame()
    assert f[:6] == (PROG_KEEPALIVE, 1, 2, MESSAGE, 0, OK)
    c.close()


def test_disconnect_mid_frame(daemon):
    conn = libvirt.open(daemon.uri)
    # a large frame announced, a little sent, then gone
    c = RawClient(daemon.sock)
    c.send(struct.pack(">I", 32 * 1024 * 1024) + b"\0" * 100000)
    c.close()
    c = RawClient(daemon.sock)
    c.open()
    c.send(frame(3, 5)[:13])
    c.close()
    time.sleep(0.2)
    still_serving(daemon, conn)
    conn.close()


def test_virt_manager_calls(daemon, root_fs):
    """What virt-manager 4.1 does on connecting and for each domain:
    what it needs works, what it probes answers NO_SUPPORT."""
    event_loop()
    conn = libvirt.open(daemon.uri)
    conn.createXML(busybox_domain("vmm", root_fs), 0)
    try:
        assert conn.getCapabilities().startswith("<capabilities>")
        assert [d.name() for d in conn.listAllDomains(0)] == ["vmm"]
        for probe in (conn.listAllStoragePools, conn.listAllNetworks, conn.listAllDevices):
            try:
                probe(0)
                raise AssertionError(f"{probe} succeeded")
            except libvirt.libvirtError as e:
                assert e.get_error_code() == libvirt.VIR_ERR_NO_SUPPORT, e
        ids = [conn.domainEventRegisterAny(None, i, lambda *a: None, None)
               for i in (0, 13, 10, 15, 19, 18, 23)]
        for register in (conn.networkEventRegisterAny, conn.storagePoolEventRegisterAny,
                         conn.nodeDeviceEventRegisterAny):
            try:
                register(None, 0, lambda *a: None, None)
            except libvirt.libvirtError as e:
                assert e.get_error_code() == libvirt.VIR_ERR_NO_SUPPORT, e
        assert conn.getInfo()[1] > 0
        (d, stats), = conn.getAllDomainStats(0, 0)
        assert stats["state.state"] == libvirt.VIR_DOMAIN_RUNNING
        assert d.hasManagedSaveImage(0) == 0
        assert d.state(0)[0] == libvirt.VIR_DOMAIN_RUNNING
        xml = d.XMLDesc(0)
        assert "<console type='pty'" in xml
        assert d.info()[0] == libvirt.VIR_DOMAIN_RUNNING
        try:
            d.listAllSnapshots(0)
        except libvirt.libvirtError as e:
            assert e.get_error_code() == libvirt.VIR_ERR_NO_SUPPORT
        d.XMLDesc(libvirt.VIR_DOMAIN_XML_SECURE)
        d.XMLDesc(libvirt.VIR_DOMAIN_XML_SECURE | libvirt.VIR_DOMAIN_XML_INACTIVE)
        for i in ids:
            conn.domainEventDeregisterAny(i)
    finally:
        conn.close()


def _lookup(c, name):
    f = c.call(23, xdr_string(name))
    assert f[5] == OK, error_of(f[6])
    return f[6]   # the remote_nonnull_domain, ready to send back


def test_disconnect_mid_stream(daemon, root_fs):
    """A client vanishing with a console open frees the console: the
    next client gets it without --force."""
    conn = libvirt.open(daemon.uri)
    conn.createXML(busybox_domain("midst", root_fs), 0)
    for how in ("close", "garbage"):
        c = RawClient(daemon.sock)
        c.open()
        dom = _lookup(c, "midst")
        serial = c.serial
        f = c.call(201, dom + struct.pack(">II", 0, 0))
        assert f[5] == OK, error_of(f[6])
        c.send(frame(201, serial, b"echo raw-$((5*5))\n", type_=STREAM, status=CONTINUE))
        got = b""
        while b"raw-25" not in got:
            f = c.recv_frame()
            assert f[3] == STREAM and f[4] == serial and f[5] == CONTINUE
            got += f[6]
        if how == "garbage":
            c.send(b"\0\0\0\1")
            assert c.closed_by_peer()
        c.close()
        # the daemon and then the controller notice the console's end
        time.sleep(0.3)
    con = Console(daemon, "midst")
    con.expect(rb"Escape character is")
    con.send(b"echo after-$((1+1))\r")
    con.expect(rb"after-2")
    assert con.detach() == 0
    still_serving(daemon, conn)
    conn.close()


def test_stream_finish_and_abort_confirmed(daemon, root_fs):
    conn = libvirt.open(daemon.uri)
    conn.createXML(busybox_domain("fin", root_fs), 0)
    c = RawClient(daemon.sock)
    c.open()
    dom = _lookup(c, "fin")
    for status in (OK, ERROR):
        serial = c.serial
        f = c.call(201, dom + struct.pack(">II", 0, 0))
        assert f[5] == OK
        c.send(frame(201, serial, type_=STREAM, status=status))
        while True:
            f = c.recv_frame()
            assert f[3] == STREAM and f[4] == serial
            if f[5] == OK:      # the confirmation: empty STREAM/OK
                assert f[6] == b""
                break
            assert f[5] == CONTINUE
    # data for a stream that is gone is ignored, not fatal
    c.send(frame(201, 1, b"late", type_=STREAM, status=CONTINUE))
    assert c.call(3)[5] == OK
    c.close()
    conn.close()


def test_client_that_never_reads(daemon):
    """Calls sent without ever reading the replies: dropped once its
    queue passes the bound; nobody else notices."""
    conn = libvirt.open(daemon.uri)
    c = RawClient(daemon.sock)
    c.open()
    batch = b"".join(frame(7, i) for i in range(1000))   # GET_CAPABILITIES
    dropped = False
    deadline = time.monotonic() + 120
    c.s.settimeout(0.5)
    while not dropped and time.monotonic() < deadline:
        try:
            c.s.sendall(batch)
        except (BrokenPipeError, ConnectionResetError):
            dropped = True
        except TimeoutError:
            # our own send buffer is full: has the daemon let go?
            dropped = c.closed_by_peer(timeout=0.5) or dropped
        still_serving(daemon, conn)
    assert dropped
    assert "does not read" in daemon.log
    c.close()
    still_serving(daemon, conn)
    conn.close()


def test_many_raw_connections(daemon):
    """150 connections at once, opened, used, closed in random order."""
    fds = daemon.settled_fd_count()
    limits = open(f"/proc/{daemon.proc.pid}/limits").read()
    soft, hard = [ln.split()[3:5] for ln in limits.splitlines() if ln.startswith("Max open files")][0]
    assert soft == hard, limits   # raised as far as it goes
    clients = []
    for _ in range(150):
        c = RawClient(daemon.sock)
        c.open()
        clients.append(c)
    for c in clients:
        assert c.call(273, struct.pack(">iI", 1, 0))[5] == OK
    for c in clients[::2] + clients[1::2]:
        c.close()
    assert daemon.virsh("list", "--all").returncode == 0
    daemon.wait_fd_count(fds)
