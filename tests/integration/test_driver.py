"""Integration tests of the driver behind virt-sandboxd (driver/daemon/
vsb-driver.h), without the RPC layer, through tests/vsb-driver-cli.

Every CLI invocation is a whole daemon life (vsb_driver_new(), the
commands, vsb_driver_free()), so each one after the first reattaches to
the controllers left running: reattachment is exercised all the time,
and kill -9 of a "daemon" is a kill -9 of the CLI.

Run as root: /usr/bin/python3 -m pytest tests/integration/test_driver.py
"""

import os
import random
import re
import shutil
import signal
import socket
import stat
import subprocess
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import BUILDDIR, PARTITION, SESSION_ID, domain_xml, fs_mount, kv

CLI = BUILDDIR / "tests" / "vsb-driver-cli"


# --------------------------------------------------------------------
# The CLI
# --------------------------------------------------------------------

@dataclass
class Run:
    argv: list
    status: int
    stdout: str
    stderr: str

    @property
    def events(self):
        """(name, type, detail, id) of the "event" lines, in order."""
        out = []
        for line in self.stdout.splitlines():
            if line.startswith("event "):
                _e, name, typ, detail, ident = line.split()
                out.append((name, typ, detail, int(ident)))
        return out

    def lines(self):
        return [ln for ln in self.stdout.splitlines() if not ln.startswith("event ")]

    @property
    def kv(self):
        return kv(self.stdout)

    def __str__(self):
        return (f"\n$ {' '.join(map(str, self.argv))}\n-> status {self.status}\n"
                f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}")

    __repr__ = __str__


def _pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Driver:
    """A private "daemon": its own config, run and log directories."""

    def __init__(self, tmp):
        self.tmp = Path(tmp)
        self.config_dir = self.tmp / "etc"
        self.run_dir = self.tmp / "run"
        self.log_dir = self.tmp / "log"
        self.tmp.mkdir(parents=True, exist_ok=True)

    def argv(self, args, autostart=False):
        a = [str(CLI), "--config-dir", str(self.config_dir), "--run-dir", str(self.run_dir),
             "--log-dir", str(self.log_dir),
             "--controller", str(BUILDDIR / "driver" / "controller" / "virt-sandbox-controller"),
             "--partition", PARTITION]
        if autostart:
            a.append("--autostart")
        return a + [str(x) for x in args]

    def run(self, *args, ok=True, autostart=False, timeout=60):
        """Run commands (separate them with "---"); @ok: assert success."""
        argv = self.argv(args, autostart)
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        r = Run(argv, p.returncode, p.stdout, p.stderr)
        if ok is True:
            assert r.status == 0, str(r)
        elif ok is False:
            assert r.status != 0, str(r)
        return r

    def popen(self, *args, autostart=False):
        return subprocess.Popen(self.argv(args, autostart), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)

    def xml_file(self, xml, name=None):
        if name is None:
            name = re.search(r"<name>([^<]*)</name>", xml).group(1)
        path = self.tmp / f"{name}.input.xml"
        path.write_text(xml)
        return path

    def state(self, name):
        return self.run("info", name).kv

    def listing(self, *flags):
        """{name: (state, id, persistent, autostart)}"""
        out = {}
        for line in self.run("list", *flags).lines():
            name, st, ident, pers, auto = line.split()
            out[name] = (st, int(ident), pers, auto)
        return out

    def controller_pids(self):
        pids = []
        if not self.run_dir.exists():
            return pids
        for f in self.run_dir.glob("*.pid"):
            try:
                pids.append(int(f.read_text().split()[0]))
            except (OSError, ValueError, IndexError):
                pass
        return pids

    def cleanup(self):
        """Destroy whatever still runs, through the controllers' own
        sockets (not trusting the code under test)."""
        if not self.run_dir.exists():
            return
        pids = self.controller_pids()
        for sock in self.run_dir.glob("*.sock"):
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.settimeout(5)
                    s.connect(str(sock))
                    s.sendall(b"destroy\n")
                    s.recv(16)
            except OSError:
                pass
        deadline = time.monotonic() + 15
        while any(_pid_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        for p in pids:
            if _pid_alive(p):
                os.kill(p, signal.SIGKILL)


@pytest.fixture(scope="session")
def cli(controller):
    if not os.access(CLI, os.X_OK):
        pytest.fail(f"{CLI} is not built: it is a check program (make check, or "
                    f"make tests/vsb-driver-cli in {BUILDDIR})")
    return CLI


@pytest.fixture
def drv(request, leak_check, session_tmp, cli):
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)[:48]
    d = Driver(session_tmp / f"drv-{name}")
    try:
        yield d
    finally:
        d.cleanup()


@pytest.fixture(scope="module")
def init_root(session_tmp, busybox_root):
    """A copy of the busybox root of our own, for files init reads:
    busybox init's /etc/inittab, a /run for an initctl fifo."""
    root = session_tmp / "driver-initroot"
    if not root.exists():
        shutil.copytree(busybox_root, root, symlinks=True)
        (root / "run").mkdir(exist_ok=True)
        (root / "etc" / "inittab").write_text(
            "::sysinit:/bin/echo sysinit-done\n"
            "::respawn:/bin/sleep 1000\n"
            "::shutdown:/bin/echo shutdown-actions\n")
    return root


def dom_xml(name, root_fs, script=None, init="/bin/sh", args=None, extra_fs=(), lifecycle=None,
            memory_kib=64 * 1024):
    """A domain running @script with sh -c (or @init @args)."""
    if script is not None:
        args = ["-c", script]
    xml = domain_xml(name, init=init, args=args or (), filesystems=[root_fs, *extra_fs],
                     memory_kib=memory_kib)
    # A stable uuid: redefining a name with another uuid is refused (libvirt's rule).
    xml = xml.replace("</name>\n", f"</name>\n  <uuid>{uuid.uuid5(uuid.NAMESPACE_DNS, name)}</uuid>\n", 1)
    if lifecycle:
        elems = "".join(f"  <{k}>{v}</{k}>\n" for k, v in lifecycle.items())
        xml = xml.replace("  <devices>", elems + "  <devices>", 1)
    return xml


def is_container_init(pid):
    """@pid is pid 1 of its own pid namespace."""
    with open(f"/proc/{pid}/status") as f:
        nspid = [ln for ln in f if ln.startswith("NSpid:")][0].split()
    return nspid[-1] == "1" and len(nspid) >= 3


def run_dir_files(d, name):
    return sorted(f.name for f in d.run_dir.iterdir()
                  if f.name.startswith(name + ".") or f.name == f".{name}.xml")


# --------------------------------------------------------------------
# Lifecycle
# --------------------------------------------------------------------

def test_define_start_reattach_destroy(drv, root_fs):
    name = "vsbd-life"
    path = drv.xml_file(dom_xml(name, root_fs, "echo hello; sleep 300"))
    r = drv.run("define", path, "---", "start", name)
    assert ("vsbd-life", "defined", "added", -1) in r.events, str(r)
    started = [e for e in r.events if e[1] == "started"]
    assert len(started) == 1 and started[0][2] == "booted", str(r)
    init_pid = started[0][3]
    # the id is the host pid of the container's init
    assert is_container_init(init_pid)
    assert (drv.config_dir / f"{name}.xml").exists()

    # a new "daemon" finds it running, with the same id
    assert drv.listing() == {name: ("running", init_pid, "persistent", "-")}
    assert drv.run("lookup-id", init_pid).lines() == [f"{name} running {init_pid} persistent -"]
    info = drv.state(name)
    assert info["state"] == "running" and info["reason"] == "1", info
    assert int(info["memory_kib"]) > 0 and int(info["cpu_time_ns"]) > 0, info
    assert info["max_mem_kib"] == str(64 * 1024), info
    live = ET.fromstring(drv.run("dumpxml", name).stdout)
    assert live.get("id") == str(init_pid)
    assert ET.fromstring(drv.run("dumpxml", name, "inactive").stdout).get("id") is None

    # destroy: at once, no waiting on init
    t0 = time.monotonic()
    r = drv.run("destroy", name, "---", "info", name)
    assert time.monotonic() - t0 < 3, str(r)
    assert r.events == [(name, "stopped", "destroyed", init_pid)], str(r)
    assert not _pid_alive(init_pid)
    info = r.kv
    assert info["state"] == "shutoff" and info["reason"] == "2" and info["id"] == "-1", info
    assert info["memory_kib"] == str(64 * 1024), info
    # nothing left of the run: NAME.exit was collected
    assert run_dir_files(drv, name) == [], sorted(os.listdir(drv.run_dir))
    # a later daemon did not see how it ended: "unknown", as libvirt
    assert drv.state(name)["reason"] == "0"

    r = drv.run("undefine", name)
    assert r.events == [(name, "undefined", "removed", -1)], str(r)
    assert not (drv.config_dir / f"{name}.xml").exists()
    assert drv.listing() == {}


def test_init_exit_seen_in_process(drv, root_fs):
    """The driver notices the end by itself (inotify on NAME.exit)."""
    name = "vsbd-exit"
    path = drv.xml_file(dom_xml(name, root_fs, "sleep 0.3; exit 3"))
    r = drv.run("define", path, "---", "start", name, "---", "wait", name, "shutoff", "10",
                "---", "info", name)
    init_pid = [e for e in r.events if e[1] == "started"][0][3]
    assert r.events[-1] == (name, "stopped", "shutdown", init_pid), str(r)
    assert r.kv["reason"] == "1", str(r)
    assert run_dir_files(drv, name) == []


def test_stopped_while_no_daemon(drv, root_fs):
    """A domain that ended while no daemon ran is shut off at the next
    start, its NAME.exit collected; a transient one is gone."""
    pers, trans = "vsbd-gone-p", "vsbd-gone-t"
    drv.run("define", drv.xml_file(dom_xml(pers, root_fs, "sleep 0.5")), "---", "start", pers,
            "---", "create", drv.xml_file(dom_xml(trans, root_fs, "sleep 0.5")))
    deadline = time.monotonic() + 10
    while (drv.run_dir / f"{pers}.pid").exists() or (drv.run_dir / f"{trans}.pid").exists():
        assert time.monotonic() < deadline, sorted(os.listdir(drv.run_dir))
        time.sleep(0.05)
    assert (drv.run_dir / f"{pers}.exit").exists()
    listing = drv.listing()
    assert listing == {pers: ("shutoff", -1, "persistent", "-")}, listing
    assert run_dir_files(drv, pers) == [] and run_dir_files(drv, trans) == []


def test_transient_vanishes(drv, root_fs):
    name = "vsbd-trans"
    path = drv.xml_file(dom_xml(name, root_fs, "sleep 300"))
    r = drv.run("create", path)
    init_pid = r.events[0][3]
    assert r.events == [(name, "started", "booted", init_pid)], str(r)
    assert drv.listing("transient") == {name: ("running", init_pid, "transient", "-")}
    assert drv.listing("persistent") == {}
    # refused for a transient domain, as libvirt
    r = drv.run("undefine", name, ok=False)
    assert "Requested operation is not valid: Cannot undefine transient domain" in r.stderr
    r = drv.run("autostart", name, "on", ok=False)
    assert "Cannot set autostart for transient domain" in r.stderr
    r = drv.run("destroy", name, "---", "list")
    assert r.events == [(name, "stopped", "destroyed", init_pid)], str(r)
    assert r.lines()[1:] == [], str(r)
    assert drv.listing() == {}
    assert not list(drv.config_dir.glob("*.xml"))


def test_undefine_running_then_define_while_running(drv, root_fs):
    name = "vsbd-undef"
    path = drv.xml_file(dom_xml(name, root_fs, "sleep 300"))
    drv.run("define", path, "---", "start", name)
    # define while it runs: the persistent definition changes, the live one not
    path2 = drv.xml_file(dom_xml(name, root_fs, "sleep 300", memory_kib=32 * 1024),
                         name=f"{name}-2")
    r = drv.run("define", path2)
    assert r.events == [(name, "defined", "updated", r.events[0][3])], str(r)
    assert "65536" in drv.run("dumpxml", name).stdout
    assert "32768" in drv.run("dumpxml", name, "inactive").stdout
    # undefine while running: it becomes transient, and goes when it stops
    r = drv.run("undefine", name, "---", "list")
    assert r.events[0][:3] == (name, "undefined", "removed"), str(r)
    assert r.lines()[-1].split()[1:4:2] == ["running", "transient"], str(r)
    drv.run("destroy", name)
    assert drv.listing() == {}


def test_errors_as_libvirt(drv, root_fs, session_tmp):
    name = "vsbd-err"
    path = drv.xml_file(dom_xml(name, root_fs, "sleep 300"))
    drv.run("define", path, "---", "start", name)
    r = drv.run("start", name, ok=False)
    assert r.stderr.strip() == ("error: OPERATION_INVALID: Requested operation is not valid: "
                                "domain is already running"), str(r)
    r = drv.run("create", path, ok=False)
    assert f"Requested operation is not valid: domain '{name}' is already active" in r.stderr
    r = drv.run("info", "nope", ok=False)
    assert r.stderr.strip() == ("error: NO_DOMAIN: Domain not found: no domain with matching "
                                "name 'nope'"), str(r)
    r = drv.run("lookup-id", "1", ok=False)
    assert "no domain with matching id 1" in r.stderr
    other = drv.xml_file(re.sub(r"<uuid>[^<]*</uuid>", "<uuid>3a1f7c7e-1111-4a51-9d0a-6c2a5e1f7d11</uuid>",
                                dom_xml(name, root_fs, "sleep 1")), name="other")
    r = drv.run("define", other, ok=False)
    assert re.search(r"EXISTS: operation failed: domain 'vsbd-err' already exists with uuid "
                     r"[0-9a-f-]{36}$", r.stderr.strip()), str(r)
    r = drv.run("shutdown", name, "bogus", ok=False)
    assert "UNSUPPORTED_FLAGS: invalid argument: unsupported flags (0x40000000)" in r.stderr
    r = drv.run("shutdown", name, "initctl", ok=False)
    assert "NO_SUPPORT" in r.stderr and "Container does not provide an initctl pipe" in r.stderr
    drv.run("destroy", name)
    r = drv.run("destroy", name, ok=False)
    assert "Requested operation is not valid: domain is not running" in r.stderr
    r = drv.run("console", name, ok=False)
    assert "domain is not running" in r.stderr
    # the controller's own message, naming the path
    missing = session_tmp / "no-such-root"
    bad = drv.xml_file(dom_xml("vsbd-badroot", fs_mount(missing, "/"), "true"))
    r = drv.run("create", bad, ok=False)
    assert r.stderr.startswith("error: OPERATION_FAILED: operation failed: guest failed to "
                               "start: "), str(r)
    assert str(missing) in r.stderr, str(r)
    assert drv.listing() == {name: ("shutoff", -1, "persistent", "-")}
    assert run_dir_files(drv, "vsbd-badroot") == []
    # its log says it too
    assert str(missing) in (drv.log_dir / "vsbd-badroot.log").read_text()
    r = drv.run("define", drv.xml_file("<domain type='lxc'><name>x</name>", name="bad"),
                ok=False)
    assert r.stderr.startswith("error: XML: "), str(r)


# --------------------------------------------------------------------
# The daemon dies, the containers live on
# --------------------------------------------------------------------

def test_kill9_daemon_with_ten_running(drv, root_fs):
    names = [f"vsbd-k{i}" for i in range(10)]
    args = []
    for i, n in enumerate(names):
        path = drv.xml_file(dom_xml(n, root_fs, None, init="/bin/sh"))
        args += ["define" if i % 2 else "create", path, "---"]
        if i % 2:
            args += ["start", n, "---"]
    # a "daemon" that starts them all, then idles until killed
    p = drv.popen(*args, "sleep", "60")
    deadline = time.monotonic() + 30
    while len(list(drv.run_dir.glob("*.state"))) < 10 if drv.run_dir.exists() else True:
        assert p.poll() is None, p.communicate()
        assert time.monotonic() < deadline, "the ten containers did not start"
        time.sleep(0.05)
    time.sleep(0.2)
    p.kill()
    out, _err = p.communicate()
    ids = {e.split()[1]: int(e.split()[4]) for e in out.splitlines()
           if e.startswith("event ") and e.split()[2] == "started"}
    assert sorted(ids) == sorted(names), out
    for pid in ids.values():
        assert _pid_alive(pid)

    # the next daemon lists all ten running, with the same ids
    listing = drv.listing()
    assert {n: (v[0], v[1]) for n, v in listing.items()} == \
        {n: ("running", ids[n]) for n in names}, listing
    assert {n: v[2] for n, v in listing.items()} == \
        {n: "persistent" if i % 2 else "transient" for i, n in enumerate(names)}
    # console and destroy work on reattached domains
    r = drv.run("console", names[3], "send", "echo vsb-$((6*7))\\n", "expect", "vsb-42")
    assert "vsb-42" in r.stdout
    r = drv.run("destroy", names[3], "---", "destroy", names[4])
    assert [e[:3] for e in r.events] == [(names[3], "stopped", "destroyed"),
                                         (names[4], "stopped", "destroyed")], str(r)
    # kill -9 in the middle of a destroy loop: whatever happened, the
    # next daemon is consistent with what runs
    args = []
    for n in names[5:]:
        args += ["destroy", n, "---"]
    p = drv.popen(*args, "sleep", "1")
    time.sleep(0.05)
    p.kill()
    p.communicate()
    time.sleep(0.5)   # a destroy the controller got is done by now
    listing = drv.listing()
    for n in names:
        running = (drv.run_dir / f"{n}.pid").exists()
        if n in listing:
            assert (listing[n][0] == "running") == running, (n, listing)
        else:
            assert not running and names.index(n) % 2 == 0, (n, listing)
    # and the rest goes
    for n, v in drv.listing("active").items():
        drv.run("destroy", n)
    assert drv.listing("active") == {}
    assert drv.listing("transient") == {}


def test_controller_killed_hard(drv, root_fs):
    """A controller that dies without its teardown (SIGKILL): the domain
    is shut off (failed), its container and cgroups go."""
    name = "vsbd-ctlkill"
    r = drv.run("define", drv.xml_file(dom_xml(name, root_fs, "sleep 300")), "---",
                "start", name)
    init_pid = r.events[-1][3]
    ctl = drv.controller_pids()[0]
    # The kill must come while this driver watches the domain: once its
    # first "info" says the domain is active (on a slow machine, such as
    # a TCG guest, starting it takes longer than any fixed pause).
    p = drv.popen("info", name, "---", "wait", name, "shutoff", "15", "---", "info", name)
    first = ""
    while "active=" not in first:
        line = p.stdout.readline()
        assert line, f"the driver ended early: {first}{p.stderr.read()}"
        first += line
    assert "active=1" in first, first
    os.kill(ctl, signal.SIGKILL)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, out + err
    assert f"event {name} stopped failed {init_pid}" in out, out
    deadline = time.monotonic() + 5
    while _pid_alive(init_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _pid_alive(init_pid)
    assert "reason=6" in out, out
    assert run_dir_files(drv, name) == [], sorted(os.listdir(drv.run_dir))
    # it starts again
    drv.run("start", name, "---", "destroy", name)


def test_controller_killed_while_no_daemon(drv, root_fs):
    """The controller's death takes init with it (PR_SET_PDEATHSIG), but
    its cgroups and files stay: the next daemon removes them (the leak
    check after the test says it did)."""
    name = "vsbd-ctlkill2"
    r = drv.run("create", drv.xml_file(dom_xml(name, root_fs, "sleep 300")))
    init_pid = r.events[-1][3]
    os.kill(drv.controller_pids()[0], signal.SIGKILL)
    deadline = time.monotonic() + 5
    while _pid_alive(init_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _pid_alive(init_pid)
    assert f"{name}.state" in run_dir_files(drv, name)
    # per-controller hierarchies (v1, hybrid: /sys/fs/cgroup/memory/...)
    # or cgroup2 alone at /sys/fs/cgroup
    cgroups = [c for pattern in (f"*/{PARTITION}/{name}.virt-sandbox",
                                 f"{PARTITION}/{name}.virt-sandbox")
               for c in Path("/sys/fs/cgroup").glob(pattern)]
    assert cgroups, "the killed controller's cgroups are expected to stay"
    assert drv.listing() == {}
    assert run_dir_files(drv, name) == []
    assert not [c for c in cgroups if c.exists()]


# --------------------------------------------------------------------
# Persistent definitions
# --------------------------------------------------------------------

def test_config_writes_are_atomic(drv, root_fs):
    """kill -9 at random points of a stream of defines: the definition
    on disk is always one whole version, never none or half."""
    name = "vsbd-atomic"
    v1 = drv.xml_file(dom_xml(name, root_fs, "true", memory_kib=16 * 1024), name="v1")
    v2 = drv.xml_file(dom_xml(name, root_fs, "true", memory_kib=32 * 1024), name="v2")
    drv.run("define", v1)
    config = drv.config_dir / f"{name}.xml"
    rng = random.Random(SESSION_ID)
    args = []
    for i in range(300):
        args += ["define", v1 if i % 2 else v2, "---"]
    for _ in range(15):
        p = drv.popen(*args[:-1])
        time.sleep(rng.uniform(0.002, 0.05))
        p.kill()
        p.communicate()
        text = config.read_text()
        root = ET.fromstring(text)
        assert root.findtext("name") == name
        assert root.findtext("memory") in ("16384", "32768"), text
    # the next daemon loads it (temporary files of killed writes ignored)
    listing = drv.listing()
    assert listing == {name: ("shutoff", -1, "persistent", "-")}, listing
    for f in drv.config_dir.iterdir():
        assert f.name == f"{name}.xml" or ".tmp" in f.name or f.name == "autostart", f


def test_autostart(drv, root_fs):
    a, b = "vsbd-auto-a", "vsbd-auto-b"
    drv.run("define", drv.xml_file(dom_xml(a, root_fs, "sleep 300")), "---",
            "define", drv.xml_file(dom_xml(b, root_fs, "sleep 300")), "---",
            "autostart", a, "on")
    link = drv.config_dir / "autostart" / f"{a}.xml"
    assert link.is_symlink() and os.readlink(link) == str(drv.config_dir / f"{a}.xml")
    assert drv.listing("autostart") == {a: ("shutoff", -1, "persistent", "autostart")}

    # the first daemon of this boot (no marker in run_dir) starts it
    # (inside vsb_driver_new(): before any listener, so no event here)
    r = drv.run("list", "active", autostart=True)
    assert [ln.split()[:2] for ln in r.lines()] == [[a, "running"]], str(r)
    drv.run("destroy", a)
    # later daemons of the same boot do not start again what was stopped
    r = drv.run("list", "active", autostart=True)
    assert r.lines() == [], str(r)
    # a new boot (run_dir emptied) does
    (drv.run_dir / ".autostarted").unlink()
    r = drv.run("list", "active", autostart=True)
    assert [ln.split()[:2] for ln in r.lines()] == [[a, "running"]], str(r)
    drv.run("autostart", a, "off", "---", "destroy", a)
    assert not link.exists()


# --------------------------------------------------------------------
# Shutdown and reboot
# --------------------------------------------------------------------

def test_shutdown_signal_shell(drv, root_fs):
    """libvirt sends SIGTERM: a shell as init ignores it unless it traps it."""
    trapping, plain = "vsbd-sd-trap", "vsbd-sd-plain"
    drv.run("create", drv.xml_file(dom_xml(trapping, root_fs,
                                           "trap 'exit 0' TERM; while :; do sleep 0.1; done")),
            "---", "create", drv.xml_file(dom_xml(plain, root_fs, "sleep 300")))
    time.sleep(0.3)   # the trap is set
    r = drv.run("shutdown", trapping, "signal", "---", "shutdown", plain, "signal", "---",
                "wait", trapping, "gone", "10", "---", "sleep", "0.5", "---", "list")
    assert (trapping, "stopped", "shutdown") in [e[:3] for e in r.events], str(r)
    assert [ln.split()[:2] for ln in r.lines() if ln.startswith("vsbd")] == \
        [[plain, "running"]], str(r)
    drv.run("destroy", plain)


def test_shutdown_and_reboot_busybox_init(drv, init_root):
    """busybox init powers off on SIGUSR2 and reboots on SIGTERM; the
    kernel then kills it with SIGINT / SIGHUP (reboot(2) in a pid
    namespace): power off stops the domain, reboot starts it again."""
    name = "vsbd-bbinit"
    path = drv.xml_file(dom_xml(name, fs_mount(init_root, "/"), init="/sbin/init"
                                if (init_root / "sbin" / "init").exists() else "/bin/init"))
    r = drv.run("define", path, "---", "start", name, "---", "sleep", "0.5", "---",
                "reboot", name, "signal", "---", "events", "4", "15")
    ev = [e[:3] for e in r.events]
    assert ev == [(name, "defined", "added"), (name, "started", "booted"),
                  (name, "stopped", "shutdown"), (name, "started", "booted")], str(r)
    assert r.events[1][3] != r.events[3][3]
    r = drv.run("sleep", "0.5", "---", "shutdown", name, "signal", "---", "wait", name,
                "shutoff", "15", "---", "info", name)
    assert [e[:3] for e in r.events] == [(name, "stopped", "shutdown")], str(r)
    assert r.kv["reason"] == "1", str(r)


def test_shutdown_initctl(drv, init_root, session_tmp):
    """--mode initctl: a runlevel 0 request in the container's own
    /run/initctl, as sysvinit reads it."""
    name = "vsbd-initctl"
    out = session_tmp / f"initctl-out-{SESSION_ID}"
    out.mkdir(exist_ok=True)
    script = ("rm -f /run/initctl; mkfifo /run/initctl; "
              "head -c 384 /run/initctl > /mnt/rw/req; exit 0")
    path = drv.xml_file(dom_xml(name, fs_mount(init_root, "/"), script,
                                extra_fs=[fs_mount(out, "/mnt/rw")]))
    drv.run("create", path)
    deadline = time.monotonic() + 5
    while not stat.S_ISFIFO(os.stat(init_root / "run" / "initctl").st_mode) \
            if (init_root / "run" / "initctl").exists() else True:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.2)
    r = drv.run("shutdown", name, "initctl", "---", "wait", name, "gone", "10")
    assert [e[:3] for e in r.events] == [(name, "stopped", "shutdown")], str(r)
    req = (out / "req").read_bytes()
    assert len(req) == 384
    assert int.from_bytes(req[0:4], "little") == 0x03091969
    assert int.from_bytes(req[4:8], "little") == 1
    assert int.from_bytes(req[8:12], "little") == ord("0")
    (init_root / "run" / "initctl").unlink()


def test_reboot_default_is_a_fresh_container(drv, root_fs):
    name = "vsbd-reboot"
    r = drv.run("create", drv.xml_file(dom_xml(name, root_fs, "sleep 300")))
    first = r.events[0][3]
    r = drv.run("reboot", name, "---", "list")
    assert [e[:3] for e in r.events] == [(name, "stopped", "shutdown"),
                                         (name, "started", "booted")], str(r)
    assert r.events[0][3] == first
    second = r.events[1][3]
    assert second != first and not _pid_alive(first) and is_container_init(second)
    assert r.lines()[-1].split()[:3] == [name, "running", str(second)], str(r)
    drv.run("destroy", name)


def test_reboot_inside_follows_on_reboot(drv, root_fs, session_tmp):
    """reboot -f in the container: SIGHUP kills init; <on_reboot>restart
    (the default) starts it again, destroy stops it."""
    out = session_tmp / f"reboot-out-{SESSION_ID}"
    out.mkdir(exist_ok=True)
    for action, name in (("restart", "vsbd-rb-restart"), ("destroy", "vsbd-rb-destroy")):
        marker = out / name
        script = (f"if [ -e /mnt/rw/{name} ]; then exec sleep 300; fi; "
                  f"touch /mnt/rw/{name}; reboot -f")
        path = drv.xml_file(dom_xml(name, root_fs, script, extra_fs=[fs_mount(out, "/mnt/rw")],
                                    lifecycle={"on_reboot": action}))
        nevents = 3 if action == "restart" else 2
        r = drv.run("create", path, "---", "events", nevents, "15")
        ev = [e[:3] for e in r.events]
        if action == "restart":
            assert ev == [(name, "started", "booted"), (name, "stopped", "shutdown"),
                          (name, "started", "booted")], str(r)
            assert drv.listing()[name][0] == "running"
            drv.run("destroy", name)
        else:
            assert ev == [(name, "started", "booted"), (name, "stopped", "shutdown")], str(r)
            assert name not in drv.listing()
        assert marker.exists()


def test_poweroff_inside_follows_on_poweroff(drv, root_fs, session_tmp):
    out = session_tmp / f"poweroff-out-{SESSION_ID}"
    out.mkdir(exist_ok=True)
    name = "vsbd-po"
    script = "if [ -e /mnt/rw/po ]; then exec sleep 300; fi; touch /mnt/rw/po; poweroff -f"
    path = drv.xml_file(dom_xml(name, root_fs, script, extra_fs=[fs_mount(out, "/mnt/rw")],
                                lifecycle={"on_poweroff": "restart"}))
    r = drv.run("define", path, "---", "start", name, "---", "events", 4, "15")
    assert [e[:3] for e in r.events][1:] == [(name, "started", "booted"),
                                             (name, "stopped", "shutdown"),
                                             (name, "started", "booted")], str(r)
    # the default: a power off stops it
    (out / "po").unlink()
    drv.run("destroy", name)
    path = drv.xml_file(dom_xml(name, root_fs, script, extra_fs=[fs_mount(out, "/mnt/rw")]),
                        name="po2")
    r = drv.run("define", path, "---", "start", name, "---", "wait", name, "shutoff", "15")
    assert [e[:3] for e in r.events][-1] == (name, "stopped", "shutdown"), str(r)


def test_restart_loop_is_bounded(drv, root_fs):
    """<on_poweroff>restart</on_poweroff> on an init that exits at once:
    restarted a few times, then left stopped."""
    name = "vsbd-loop"
    path = drv.xml_file(dom_xml(name, root_fs, "exit 0", lifecycle={"on_poweroff": "restart"}))
    r = drv.run("define", path, "---", "start", name, "---", "wait", name, "shutoff", "20")
    starts = [e for e in r.events if e[1] == "started"]
    assert 2 <= len(starts) <= 8, str(r)
    assert "not restarting it" in r.stderr, str(r)


# --------------------------------------------------------------------
# Console and namespaces
# --------------------------------------------------------------------

def test_console_busy_and_force(drv, root_fs):
    name = "vsbd-console"
    drv.run("create", drv.xml_file(dom_xml(name, root_fs, None, init="/bin/sh")))
    holder = drv.popen("console", name, "send", "echo first-$((1+1))\\n", "expect", "first-2",
                       "hold", "3")
    time.sleep(1)
    r = drv.run("console", name, ok=False)
    assert ("OPERATION_FAILED: operation failed: Active console session exists for this "
            "domain") in r.stderr, str(r)
    r = drv.run("console", name, "force", "send", "echo second-$((2+2))\\n", "expect", "second-4")
    out, _err = holder.communicate(timeout=20)
    assert "first-2" in out
    drv.run("destroy", name)


def test_enter_namespaces(drv, root_fs):
    name = "vsbd-enter"
    drv.run("create", drv.xml_file(dom_xml(name, root_fs, "sleep 300")))
    r = drv.run("enter", name, "/bin/hostname")
    assert r.lines() == ["namespaces 6", name], str(r)
    r = drv.run("enter", name, "/bin/sh", "-c", "echo pid=$$; ls /sys/class/net")
    assert r.lines()[1].startswith("pid=") and int(r.lines()[1][4:]) > 1, str(r)
    assert r.lines()[2:] == ["lo"], str(r)
    drv.run("destroy", name)


def test_controller_inherits_nothing(drv, root_fs):
    """The controller gets stdin /dev/null, its log as stdout/stderr, and
    none of the daemon's descriptors; it is no child of the daemon."""
    name = "vsbd-fds"
    drv.run("create", drv.xml_file(dom_xml(name, root_fs, "sleep 300")))
    ctl = drv.controller_pids()[0]
    fds = {int(fd): os.readlink(f"/proc/{ctl}/fd/{fd}") for fd in os.listdir(f"/proc/{ctl}/fd")}
    assert fds[0] == "/dev/null", fds
    assert fds[1] == fds[2] == str(drv.log_dir / f"{name}.log"), fds
    # The daemon's inotify watches its run dir; the controller may have
    # one of its own (on cgroup v2 it watches memory.events for OOM
    # kills: vsb-ctl-oomwatch.c), which must watch something else.
    run_dir = os.stat(drv.run_dir)
    run_dir_watch = (run_dir.st_ino, (os.major(run_dir.st_dev) << 20) | os.minor(run_dir.st_dev))
    for fd, target in fds.items():
        if "inotify" not in target:
            continue
        with open(f"/proc/{ctl}/fdinfo/{fd}") as f:
            watched = {(int(m.group(1), 16), int(m.group(2), 16))
                       for m in re.finditer(r"inotify wd:\S+ ino:(\S+) sdev:(\S+)", f.read())}
        assert run_dir_watch not in watched, f"fd {fd}: the daemon's inotify {fds}"
    with open(f"/proc/{ctl}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ppid, sid = int(fields[1]), int(fields[3])
    assert sid not in (os.getsid(0), ctl), "a session of its own, and no session leader"
    assert ppid == 1 or not [ln for ln in open(f"/proc/{ppid}/cmdline")
                             if "vsb-driver-cli" in ln], ppid
    drv.run("destroy", name)


# --------------------------------------------------------------------
# Host facts
# --------------------------------------------------------------------

def _validate(tmp, text, schema):
    if not shutil.which("virt-xml-validate"):
        pytest.skip("virt-xml-validate not installed (libvirt-clients)")
    f = tmp / f"validate-{schema}.xml"
    f.write_text(text)
    p = subprocess.run(["virt-xml-validate", str(f), schema], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr + text


def test_capabilities_and_nodeinfo(drv):
    caps = drv.run("capabilities").stdout
    _validate(drv.tmp, caps, "capability")
    root = ET.fromstring(caps)
    assert root.findtext("host/cpu/arch") == os.uname().machine
    assert root.findtext("guest/os_type") == "exe"
    assert root.find("guest/arch/domain").get("type") == "lxc"
    assert root.findtext("guest/arch/emulator").endswith("virt-sandbox-controller")
    ncpus = len([c for c in root.iter("cpu") if c.get("id") is not None])
    assert ncpus == os.cpu_count()
    info = drv.run("nodeinfo").kv
    assert info["model"] == os.uname().machine
    assert int(info["cpus"]) == os.cpu_count()
    memtotal = int(kv(open("/proc/meminfo").read().replace(":", "=").replace(" kB", ""))["MemTotal"])
    assert int(info["memory_kib"]) == memtotal
    assert (int(info["nodes"]) * int(info["sockets"]) * int(info["cores"]) *
            int(info["threads"])) == int(info["cpus"])
    cells = root.find("host/topology/cells")
    assert int(cells.get("num")) == int(info["nodes"])


def test_dumpxml_validates(drv, root_fs):
    name = "vsbd-valid"
    drv.run("create", drv.xml_file(dom_xml(name, root_fs, "sleep 300")))
    _validate(drv.tmp, drv.run("dumpxml", name).stdout, "domain")
    drv.run("destroy", name)
