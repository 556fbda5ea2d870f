"""virt-sandboxd's own life: killed with -9 while containers run,
stopped and restarted, idle exit, sockets it must not take, libvirt's
paths.
"""

import os
import stat
import subprocess
import time

import libvirt

from vsbdaemon import Console, Daemon, busybox_domain, daemon  # noqa: F401


def domain_ids(daemon):
    ids = {}
    for line in daemon.virsh("list", "--all").stdout.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3:
            ids[parts[1]] = (parts[0], parts[2].strip())
    return ids


def test_kill9_with_ten_running(daemon, root_fs):
    names = [f"k{i}" for i in range(10)]
    for n in names:
        path = daemon.tmp / f"{n}.xml"
        path.write_text(busybox_domain(n, root_fs))
        daemon.virsh("define", path)
        daemon.virsh("start", n)
    before = domain_ids(daemon)
    assert sorted(before) == names
    assert all(state == "running" for _, state in before.values())

    daemon.kill()
    # the containers live on without the daemon
    for n, (pid, _) in before.items():
        assert os.path.exists(f"/proc/{pid}"), n
    # kill -9 leaves its socket behind: a stale one, replaced at start
    assert daemon.sock.exists()

    daemon.start()
    assert domain_ids(daemon) == before

    con = Console(daemon, "k3")
    con.expect(rb"Escape character is")
    con.send(b"echo back-$((4*4))\r")
    con.expect(rb"back-16")
    assert con.detach() == 0
    r = daemon.virsh("lxc-enter-namespace", "k7", "--", "/bin/hostname")
    assert r.stdout.strip() == "k7"

    for n in names:
        daemon.virsh("destroy", n)
    assert all(state == "shut off" for _, state in domain_ids(daemon).values())
    for n, (pid, _) in before.items():
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split(
            ")")[1].split()[0] == "Z", n


def test_sigterm_leaves_domains_running(daemon, root_fs):
    c = libvirt.open(daemon.uri)
    dom = c.defineXML(busybox_domain("term", root_fs))
    dom.create()
    pid = dom.ID()
    c.close()
    daemon.stop()
    assert not daemon.sock.exists() and not daemon.sock_ro.exists()
    assert os.path.exists(f"/proc/{pid}")
    daemon.start()
    assert domain_ids(daemon) == {"term": (str(pid), "running")}


def test_socket_served_is_left_alone(daemon, session_tmp):
    second = Daemon(daemon.tmp / "second", start=False)
    second.sock = daemon.sock
    r = subprocess.run(second.argv, capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert f"{daemon.sock} is served by another process (pid {daemon.proc.pid})" in r.stderr, \
        r.stderr
    # nothing of the first was disturbed
    assert daemon.sock.exists()
    assert daemon.virsh("hostname").returncode == 0


def test_one_daemon_per_run_dir(daemon):
    second = Daemon(daemon.tmp / "second", start=False)
    second.run_dir = daemon.run_dir
    r = subprocess.run(second.argv, capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert f"another virt-sandboxd (pid {daemon.proc.pid}) manages" in r.stderr, r.stderr
    # it removed its own sockets on the way out, not ours
    assert not second.sock.exists()
    assert daemon.virsh("hostname").returncode == 0


def test_idle_timeout(session_tmp, root_fs, leak_check, controller):
    d = Daemon(session_tmp / "d-idle", extra=["--timeout", "1"])
    try:
        d.proc.wait(timeout=10)
        assert d.proc.returncode == 0, d
        assert not d.sock.exists()

        # a running domain keeps it up; its end lets it go
        d.start()
        path = d.tmp / "idle.xml"
        path.write_text(busybox_domain("idle", root_fs))
        d.virsh("create", path)
        time.sleep(2.5)
        assert d.alive(), d
        d.virsh("destroy", "idle")
        d.proc.wait(timeout=10)
        assert d.proc.returncode == 0, d
    finally:
        d.destroy_all()
        d.stop()


def test_libvirt_paths(session_tmp, leak_check, controller):
    libvirt_dir = session_tmp / "d-libvirt-paths" / "libvirt"
    d = Daemon(session_tmp / "d-libvirt-paths", libvirt_dir=libvirt_dir)
    other = None
    try:
        rw = libvirt_dir / "virtlxcd-sock"
        ro = libvirt_dir / "virtlxcd-sock-ro"
        assert stat.S_IMODE(os.stat(rw).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(ro).st_mode) == 0o666
        assert stat.S_IMODE(os.stat(d.sock).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(d.sock_ro).st_mode) == 0o666
        r = subprocess.run(["virsh", "-c", f"lxc:///system?socket={rw}", "hostname"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        r = subprocess.run(["virsh", "-r", "-c", f"lxc:///system?socket={ro}", "list"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr

        # a second daemon leaves libvirt's paths to the first one, says
        # so, and serves its own sockets
        other = Daemon(session_tmp / "d-libvirt-paths-2", libvirt_dir=libvirt_dir)
        assert other.alive()
        assert "not answering at libvirt's path" in other.log
        assert "served by another process" in other.log
        other.stop()
        assert rw.exists() and ro.exists()
    finally:
        if other:
            other.stop()
        d.stop()
    assert not rw.exists() and not ro.exists()
