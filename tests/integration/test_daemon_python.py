"""virt-sandboxd driven by python3-libvirt (Debian 12's, libvirt 9.0):
the lifecycle with its events, streams, read-only enforcement by the
daemon itself, auto-destroy, many connections at once.
"""

import gc
import threading
import time

import libvirt
import pytest

from vsbdaemon import (TRAPPING_INIT, busybox_domain, daemon, event_loop,  # noqa: F401
                       wait_term_trapped)

def wait_for(pred, timeout=20, what="condition"):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def error_code(fn, *args):
    # libvirtError reads the thread's last libvirt error after the call.
    # Connections of earlier tests that only the cyclic garbage collector
    # frees close when it runs, which may be right then; their daemons
    # are gone, so that close fails and replaces the last error
    # ("internal error", code 1).  Collect them first.
    gc.collect()
    with pytest.raises(libvirt.libvirtError) as e:
        fn(*args)
    return e.value.get_error_code()


def test_lifecycle_and_events(daemon, root_fs):
    event_loop()
    conn = libvirt.open(daemon.uri)
    events = []
    lock = threading.Lock()

    def on_lifecycle(c, dom, event, detail, opaque):
        with lock:
            events.append((dom.name(), event, detail))

    cb = conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, on_lifecycle,
                                     None)
    try:
        assert conn.getType() == "LXC"
        assert conn.getLibVersion() >= 9000000
        assert conn.getInfo()[1] > 0

        dom = conn.defineXML(busybox_domain("py", root_fs, args=TRAPPING_INIT))
        assert dom.name() == "py"
        assert dom.ID() == -1
        assert dom.state() == [libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_UNKNOWN]
        assert not dom.isActive() and dom.isPersistent()
        assert dom.OSType() == "exe"
        assert [d.name() for d in conn.listAllDomains()] == ["py"]
        assert conn.listDefinedDomains() == ["py"]
        assert conn.numOfDomains() == 0

        dom.create()
        dom = conn.lookupByName("py")
        assert dom.isActive()
        assert dom.ID() > 0
        assert conn.lookupByID(dom.ID()).name() == "py"
        assert conn.lookupByUUIDString(dom.UUIDString()).name() == "py"
        assert conn.listDomainsID() == [dom.ID()]
        state, maxmem, mem, ncpu, cputime = dom.info()
        assert state == libvirt.VIR_DOMAIN_RUNNING and maxmem > 0 and ncpu >= 1
        assert "<domain type='lxc' id='%d'>" % dom.ID() in dom.XMLDesc(0)
        stats = dom.memoryStats()
        assert stats["actual"] > 0 and "rss" in stats
        (rec_dom, rec), = conn.getAllDomainStats()
        assert rec_dom.name() == "py" and rec["state.state"] == libvirt.VIR_DOMAIN_RUNNING

        wait_term_trapped(dom.ID())
        dom.shutdown()
        wait_for(lambda: not dom.isActive(), what="shutdown")
        dom.create()
        dom.destroy()
        dom.undefine()
        assert conn.listAllDomains() == []

        tr = conn.createXML(busybox_domain("pytr", root_fs), 0)
        assert tr.isActive() and not tr.isPersistent()
        tr.destroy()
        assert conn.listAllDomains() == []

        S, E = libvirt, libvirt
        want = [
            ("py", S.VIR_DOMAIN_EVENT_DEFINED, S.VIR_DOMAIN_EVENT_DEFINED_ADDED),
            ("py", S.VIR_DOMAIN_EVENT_STARTED, S.VIR_DOMAIN_EVENT_STARTED_BOOTED),
            ("py", S.VIR_DOMAIN_EVENT_STOPPED, S.VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN),
            ("py", S.VIR_DOMAIN_EVENT_STARTED, S.VIR_DOMAIN_EVENT_STARTED_BOOTED),
            ("py", S.VIR_DOMAIN_EVENT_STOPPED, S.VIR_DOMAIN_EVENT_STOPPED_DESTROYED),
            ("py", S.VIR_DOMAIN_EVENT_UNDEFINED, S.VIR_DOMAIN_EVENT_UNDEFINED_REMOVED),
            ("pytr", E.VIR_DOMAIN_EVENT_STARTED, E.VIR_DOMAIN_EVENT_STARTED_BOOTED),
            ("pytr", E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_DESTROYED),
        ]
        wait_for(lambda: len(events) >= len(want), what=f"events (got {events})")
        assert events == want
    finally:
        conn.domainEventDeregisterAny(cb)
        conn.close()


def test_event_domain_filter(daemon, root_fs):
    event_loop()
    conn = libvirt.open(daemon.uri)
    a = conn.defineXML(busybox_domain("a", root_fs))
    conn.defineXML(busybox_domain("b", root_fs))
    seen = []
    cb = conn.domainEventRegisterAny(a, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                     lambda c, d, e, det, o: seen.append(d.name()), None)
    # event ids that never fire for a container are accepted all the same
    others = [conn.domainEventRegisterAny(None, i, lambda *args: None, None)
              for i in (libvirt.VIR_DOMAIN_EVENT_ID_REBOOT, libvirt.VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE,
                        libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED)]
    try:
        conn.lookupByName("b").create()
        conn.lookupByName("a").create()
        wait_for(lambda: seen, what="an event of a")
        conn.lookupByName("b").destroy()
        conn.lookupByName("a").destroy()
        wait_for(lambda: len(seen) >= 2, what="the events of a")
        time.sleep(0.2)
        assert seen == ["a", "a"]
    finally:
        for o in others:
            conn.domainEventDeregisterAny(o)
        conn.domainEventDeregisterAny(cb)
        assert error_code(conn.domainEventDeregisterAny, cb) == libvirt.VIR_ERR_INVALID_ARG
        conn.close()


def test_console_stream(daemon, root_fs):
    """The console as virt-manager uses it: a stream, both ways."""
    conn = libvirt.open(daemon.uri)
    try:
        dom = conn.createXML(busybox_domain("pycon", root_fs), 0)
        for attempt in range(2):   # finish, then attach again and abort
            st = conn.newStream(0)
            dom.openConsole("console0", st, 0)
            st.send(b"echo py-$((3*4))\n")
            got = b""
            deadline = time.monotonic() + 10
            while b"py-12" not in got:
                assert time.monotonic() < deadline, got
                got += st.recv(4096)
            if attempt == 0:
                st.finish()
            else:
                st.abort()
        # a device that does not exist
        st = conn.newStream(0)
        assert error_code(dom.openConsole, "serial7", st, 0) == libvirt.VIR_ERR_INTERNAL_ERROR
        # the domain ending is the end of the stream
        st = conn.newStream(0)
        dom.openConsole(None, st, 0)
        st.send(b"exit\n")
        deadline = time.monotonic() + 20
        while True:
            assert time.monotonic() < deadline
            data = st.recv(4096)
            if data == b"":
                break
        st.finish()
        wait_for(lambda: conn.listAllDomains() == [], what="the domain to go")
    finally:
        conn.close()


def test_errors(daemon, root_fs):
    conn = libvirt.open(daemon.uri)
    try:
        dom = conn.createXML(busybox_domain("err", root_fs), 0)
        assert error_code(conn.lookupByName, "nope") == libvirt.VIR_ERR_NO_DOMAIN
        assert error_code(dom.managedSave) == libvirt.VIR_ERR_NO_SUPPORT
        assert error_code(dom.shutdownFlags, 64) == libvirt.VIR_ERR_INVALID_ARG
        assert error_code(dom.create) == libvirt.VIR_ERR_OPERATION_INVALID
        assert error_code(conn.defineXML, "<domain type='lxc'><name>x") == libvirt.VIR_ERR_XML_ERROR
        assert error_code(conn.listAllNetworks) == libvirt.VIR_ERR_NO_SUPPORT
        # the connection still works after all of them
        assert dom.isActive()
        dom.destroy()
    finally:
        conn.close()


def test_read_only_enforced_by_daemon(daemon, root_fs):
    """Opened read-write on the read-only socket: the client library
    does not know, the daemon refuses all the same."""
    rw = libvirt.open(daemon.uri)
    rw.defineXML(busybox_domain("rod", root_fs))
    try:
        for uri, opener in ((daemon.uri_ro, libvirt.open), (daemon.uri, libvirt.openReadOnly)):
            c = opener(uri)
            try:
                assert [d.name() for d in c.listAllDomains()] == ["rod"]
                dom = c.lookupByName("rod")
                assert dom.info()[0] == libvirt.VIR_DOMAIN_SHUTOFF
                deny = libvirt.VIR_ERR_OPERATION_DENIED
                assert error_code(dom.create) == deny
                assert error_code(dom.undefine) == deny
                assert error_code(c.defineXML, busybox_domain("rod2", root_fs)) == deny
                assert error_code(c.createXML, busybox_domain("rod3", root_fs), 0) == deny
                assert error_code(dom.setAutostart, 1) == deny
            finally:
                c.close()
        assert [d.name() for d in rw.listAllDomains()] == ["rod"]
    finally:
        rw.close()


def test_autodestroy(daemon, root_fs):
    c = libvirt.open(daemon.uri)
    c.createXML(busybox_domain("auto", root_fs), libvirt.VIR_DOMAIN_START_AUTODESTROY)
    other = libvirt.open(daemon.uri)
    try:
        assert [d.name() for d in other.listAllDomains()] == ["auto"]
        c.close()
        wait_for(lambda: other.listAllDomains() == [], what="auto-destroy")
    finally:
        other.close()


def test_many_connections(daemon, root_fs):
    """100 connections open at once, all served, in parallel."""
    conns = [libvirt.open(daemon.uri) for _ in range(100)]
    conns[0].defineXML(busybox_domain("many", root_fs))
    errors = []

    def work(c):
        try:
            for _ in range(5):
                assert [d.name() for d in c.listAllDomains()] == ["many"]
                assert c.getHostname()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(c,)) for c in conns]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for c in conns:
        c.close()
    assert errors == []
    assert daemon.alive()
    assert daemon.virsh("list", "--all", "--name").stdout.split() == ["many"]


GVIR_SCRIPT = r"""
import sys
import gi
gi.require_version('LibvirtGObject', '1.0')
from gi.repository import LibvirtGObject as GVir
GVir.init_object_check(None)
c = GVir.Connection.new(sys.argv[1])
c.open(None)
c.fetch_domains(None)
print("domains", sorted(d.get_name() for d in c.get_domains()))
d = c.find_domain_by_name("gvir")
print("persistent", d.get_persistent())
print("before", d.get_info().state.value_nick)
d.start(0)
print("after", d.get_info().state.value_nick, d.get_id() > 0)
d.stop(0)
print("stopped", d.get_info().state.value_nick)
c.close()
"""


def test_libvirt_gobject(daemon, root_fs):
    """libvirt-gobject (GVir) lists and starts a domain (in a process of
    its own: it brings its own event loop implementation)."""
    import subprocess
    import sys
    path = daemon.tmp / "gvir.xml"
    path.write_text(busybox_domain("gvir", root_fs))
    daemon.virsh("define", path)
    r = subprocess.run([sys.executable, "-c", GVIR_SCRIPT, daemon.uri], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines() == ["domains ['gvir']", "persistent True", "before shutoff",
                                     "after running True", "stopped shutoff"], r.stdout + r.stderr


def test_metadata(daemon, root_fs):
    conn = libvirt.open(daemon.uri)
    try:
        xml = busybox_domain("meta", root_fs).replace(
            "<name>meta</name>", "<name>meta</name>\n  <title>A title</title>\n"
            "  <description>What it is for</description>")
        dom = conn.defineXML(xml)
        assert dom.metadata(libvirt.VIR_DOMAIN_METADATA_TITLE, None) == "A title"
        assert dom.metadata(libvirt.VIR_DOMAIN_METADATA_DESCRIPTION, None,
                            libvirt.VIR_DOMAIN_AFFECT_CONFIG) == "What it is for"
        plain = conn.defineXML(busybox_domain("plain", root_fs))
        assert error_code(plain.metadata, libvirt.VIR_DOMAIN_METADATA_TITLE, None) == \
            libvirt.VIR_ERR_NO_DOMAIN_METADATA
        assert daemon.virsh("desc", "meta", "--title").stdout.strip() == "A title"
    finally:
        conn.close()
