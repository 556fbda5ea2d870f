"""virt-sandbox-service end to end: the real tool, through libvirt's
client library, to a private virt-sandboxd (tests/integration/vsbdaemon.py),
its services' directories under the test's directory (-p).

Issue 9's acceptance for generic services: a busybox httpd with a
host-bind share of its content; create, start, list, execute inside,
stop, delete; and what the systemd template unit relies on: start
--foreground lasting as long as the service and exiting with its
status, reload reaching the program as SIGHUP.  For systemd services
(create -u): systemd boots inside, reaches its target with the unit
active and serving, reload -u restarts it, stop powers it off and the
host reads the service's journal.
"""

import os
import pty
import signal
import socket
import subprocess
import time

import pytest

from conftest import BUILDDIR
from vsbdaemon import Console, daemon  # noqa: F401  (fixture)

SERVICE = BUILDDIR / "sandbox" / "virt-sandbox-service"
INIT = BUILDDIR / "sandbox" / "init" / "virt-sandbox-init"

HTTPD = ["busybox", "httpd", "-f", "-p", "127.0.0.1:8080", "-h", "/srv"]


class Tool:
    def __init__(self, daemon, base):  # noqa: F811
        self.daemon = daemon
        self.base = base
        self.env = dict(os.environ, VSB_SANDBOX_INIT=str(INIT))

    def argv(self, *args):
        return [str(SERVICE), "-c", self.daemon.uri, "-p", str(self.base), *map(str, args)]

    def run(self, *args, timeout=60):
        return subprocess.run(self.argv(*args), capture_output=True, text=True,
                              timeout=timeout, env=self.env, cwd="/")

    def ok(self, *args):
        r = self.run(*args)
        assert r.returncode == 0, f"{args} -> {r.returncode}\n{r.stdout}{r.stderr}{self.daemon}"
        return r

    def popen(self, *args):
        return subprocess.Popen(self.argv(*args), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self.env, cwd="/")

    def states(self):
        """{name: state} of `list`."""
        lines = self.ok("list").stdout.splitlines()
        assert lines[0].split() == ["Name", "Kind", "State"]
        return {ln.split(None, 2)[0]: ln.split(None, 2)[2] for ln in lines[1:]}


@pytest.fixture
def svc(daemon, request):  # noqa: F811
    for p in (SERVICE, INIT):
        if not os.access(p, os.X_OK):
            pytest.fail(f"{p} not built")
    t = Tool(daemon, daemon.tmp / "services")
    yield t
    # Whatever the test left: stopped and deleted through the tool.
    if t.base.exists():
        for name in os.listdir(t.base):
            t.run("delete", name)


@pytest.fixture
def content(daemon):  # noqa: F811
    d = daemon.tmp / "www"
    d.mkdir()
    (d / "index.html").write_text("<h1>served from the host</h1>\n")
    return d


def wait_until(cond, what, timeout=30):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_httpd_service_lifecycle(svc, daemon, content):  # noqa: F811
    svc.ok("create", "-m", f"host-bind:/srv={content}", "web", "--", *HTTPD)
    assert svc.states() == {"web": "shut off"}
    assert daemon.domains() == {"web": "shut off"}
    assert (svc.base / "web" / "sandbox.cfg").is_file()

    svc.ok("start", "web")
    assert svc.states() == {"web": "running"}
    r = svc.ok("execute", "web", "--", "cat", "/srv/index.html")
    assert r.stdout == "<h1>served from the host</h1>\n"
    # The service itself answers, inside the container (loopback only).
    wait_until(lambda: svc.run("execute", "web", "--", "busybox", "wget", "-qO-",
                               "http://127.0.0.1:8080/").returncode == 0, "httpd to listen")
    r = svc.ok("execute", "web", "--", "busybox", "wget", "-qO-",
               "http://127.0.0.1:8080/index.html")
    assert r.stdout == "<h1>served from the host</h1>\n"
    # stdio and the status pass through; the command runs inside (pid
    # namespace: init is pid 1, the service's httpd its child).
    r = subprocess.run(svc.argv("execute", "web", "--", "sh", "-c",
                                'read x; echo got $x >&2; [ "$(cat /proc/1/comm)" = init ] '
                                '&& exit 3'),
                       input="line\n", capture_output=True, text=True, env=svc.env, timeout=60)
    assert (r.returncode, r.stderr) == (3, "got line\n"), r
    r = svc.run("execute", "web", "--", "/no/such/program")
    assert r.returncode == 127 and "cannot run /no/such/program" in r.stderr, r

    svc.ok("stop", "web")
    assert svc.states() == {"web": "shut off"}
    r = svc.run("execute", "web", "--", "true")
    assert r.returncode == 1 and "service 'web' is not running" in r.stderr, r
    # Stopping what is stopped is not an error (the unit's ExecStop
    # runs after the service ended by itself too).
    svc.ok("stop", "web")

    svc.ok("delete", "web")
    assert svc.states() == {}
    assert "web" not in daemon.domains()
    assert not (svc.base / "web").exists()
    # The host's content is the host's: untouched.
    assert (content / "index.html").read_text() == "<h1>served from the host</h1>\n"


def test_foreground_lasts_as_long_as_the_service(svc, daemon, content):  # noqa: F811
    script = "echo ready; while [ ! -e /srv/go ]; do sleep 0.1; done; echo bye; exit 7"
    svc.ok("create", "-m", f"host-bind:/srv={content}", "fg", "--", "sh", "-c", script)
    p = svc.popen("start", "--foreground", "fg")
    try:
        assert p.stdout.readline() == "ready\n"
        assert svc.states() == {"fg": "running"}
        (content / "go").touch()
        out, err = p.communicate(timeout=60)
    finally:
        p.kill()
        p.wait()
    assert p.returncode == 7, (out, err)
    assert out.startswith("bye\n") and "virt-sandbox-init: service exited 7" in out, out
    assert svc.states() == {"fg": "shut off"}

    # A SIGTERM to the foreground tool (systemd's stop) stops the
    # service: the program dies of the SIGTERM init forwards.
    (content / "go").unlink()
    p = svc.popen("start", "--foreground", "fg")
    try:
        assert p.stdout.readline() == "ready\n"
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=60)
    finally:
        p.kill()
        p.wait()
    assert p.returncode == 128 + signal.SIGTERM, (out, err)
    assert svc.states() == {"fg": "shut off"}
    svc.ok("delete", "fg")


def test_foreground_notifies_ready(svc, daemon):  # noqa: F811
    """Type=notify's side: start --foreground says READY=1 on
    $NOTIFY_SOCKET (a path, or '@' for an abstract one, as systemd
    gives) once the service runs; a start that fails says nothing."""
    svc.ok("create", "nt", "--", "sleep", "1000")
    for addr in (str(daemon.tmp / "notify"), f"@vsb-test-notify-{os.getpid()}"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
        s.settimeout(60)
        p = subprocess.Popen(svc.argv("start", "--foreground", "nt"), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             env=dict(svc.env, NOTIFY_SOCKET=addr), cwd="/")
        try:
            assert s.recv(4096) == b"READY=1"
            assert svc.states() == {"nt": "running"}
            p.send_signal(signal.SIGTERM)
            out, err = p.communicate(timeout=60)
        finally:
            p.kill()
            p.wait()
            s.close()
        assert p.returncode == 128 + signal.SIGTERM, (out, err)
        assert svc.states() == {"nt": "shut off"}
    # No such service: status 1, and no READY=1.
    path = daemon.tmp / "notify2"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind(str(path))
        s.setblocking(False)
        r = subprocess.run(svc.argv("start", "--foreground", "nosuch"), capture_output=True,
                           text=True, env=dict(svc.env, NOTIFY_SOCKET=str(path)), timeout=60)
        assert r.returncode == 1 and "no service 'nosuch'" in r.stderr, r
        with pytest.raises(BlockingIOError):
            s.recv(4096)
    svc.ok("delete", "nt")


class ServiceConsole(Console):
    """`virt-sandbox-service connect NAME` on a pty (it runs virsh console)."""

    def __init__(self, svc, name):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.execve(str(SERVICE), svc.argv("connect", name), svc.env)
            finally:
                os._exit(127)
        self.buf = b""


def test_connect_is_the_console(svc, daemon):  # noqa: F811
    script = "echo hello-console; while read line; do echo got-$line; done; sleep 1000"
    svc.ok("create", "con", "--", "sh", "-c", script)
    svc.ok("start", "con")
    c = ServiceConsole(svc, "con")
    c.expect(rb"hello-console")
    # The service's stdin is /dev/null: its loop ended; what is typed
    # reaches nobody, and Ctrl-] detaches.
    assert b"got-" not in c.buf
    assert c.detach() == 0
    assert svc.states() == {"con": "running"}
    svc.ok("delete", "con")
    assert daemon.domains() == {}


def test_reload_is_sighup_to_the_program(svc, daemon, content):  # noqa: F811
    script = "trap 'echo hup >> /srv/log' HUP; while :; do sleep 0.1; done"
    svc.ok("create", "-m", f"host-bind:/srv={content}", "rl", "--", "sh", "-c", script)
    svc.ok("start", "rl")
    # The trap is set once the shell runs its loop.
    wait_until(lambda: svc.run("execute", "rl", "--", "pidof", "sleep").returncode == 0,
               "the service's loop")
    svc.ok("reload", "rl")
    wait_until(lambda: (content / "log").exists() and
               (content / "log").read_text() == "hup\n", "the program's HUP trap")
    assert svc.states() == {"rl": "running"}
    svc.ok("stop", "rl")
    svc.ok("delete", "rl")


def test_private_etc_var_clone_upgrade(svc, daemon):  # noqa: F811
    svc.ok("create", "--private", "p1", "--", "sleep", "1000")
    assert (svc.base / "p1" / "etc" / "passwd").read_bytes() == open("/etc/passwd", "rb").read()
    assert (svc.base / "p1" / "var" / "lib").is_dir()
    svc.ok("clone", "p1", "p2")
    for name in ("p1", "p2"):
        svc.ok("start", name)
        svc.ok("execute", name, "--", "sh", "-c", f"echo {name} > /etc/vsb-mark; touch /var/lib/x")
    # Each its own, none the host's.
    assert (svc.base / "p1" / "etc" / "vsb-mark").read_text() == "p1\n"
    assert (svc.base / "p2" / "etc" / "vsb-mark").read_text() == "p2\n"
    assert not os.path.exists("/etc/vsb-mark")
    r = svc.run("upgrade", "p1")
    assert r.returncode == 1 and "service 'p1' is running: stop it before upgrading" in r.stderr
    uuid = daemon.virsh("domuuid", "p1").stdout.strip()
    svc.ok("stop", "p1")
    svc.ok("upgrade", "p1")
    assert daemon.virsh("domuuid", "p1").stdout.strip() == uuid
    svc.ok("start", "p1")
    assert svc.ok("execute", "p1", "--", "cat", "/etc/vsb-mark").stdout == "p1\n"
    for name in ("p1", "p2"):
        svc.ok("delete", name)
    assert svc.states() == {} and not {"p1", "p2"} & set(daemon.domains())


def test_private_dirs_in_images(svc, daemon):  # noqa: F811
    svc.ok("create", "-i", "32M", "img", "--", "sleep", "1000")
    assert (svc.base / "img" / "etc.img").stat().st_size == 32 << 20
    svc.ok("start", "img")
    r = svc.ok("execute", "img", "--", "sh", "-c",
               "grep -E ' /(etc|var) ' /proc/mounts | cut -d' ' -f2,3; cat /etc/hostname")
    assert r.stdout.splitlines()[:2] == ["/etc ext4", "/var ext4"], r.stdout
    assert r.stdout.splitlines()[2] == open("/etc/hostname").read().strip()
    svc.ok("delete", "img")
    assert not (svc.base / "img").exists()


# A unit of the test's own: busybox httpd, no ExecReload= (reload -u
# then restarts it: a new main PID shows that it happened).
WEB_UNIT = """[Unit]
Description=busybox httpd of the test

[Service]
ExecStart=/bin/busybox httpd -f -p 127.0.0.1:8080 -h /srv
"""


def systemd_running(svc, name):
    """The system state once systemctl inside answers (the service runs,
    systemd made its socket) and the boot is over ("running": nothing
    failed); None before.  "offline" is systemctl's word for a manager
    it could not reach yet (no /run/systemd/private so early): None too."""
    r = svc.run("execute", name, "--", "systemctl", "is-system-running", "--wait")
    state = r.stdout.strip()
    return None if state in ("", "offline") else state


def main_pid(svc, name, unit):
    r = svc.ok("execute", name, "--", "systemctl", "show", "-P", "MainPID", unit)
    return int(r.stdout)


def test_systemd_service(svc, daemon, content):  # noqa: F811
    unit = daemon.tmp / "web.service"
    unit.write_text(WEB_UNIT)
    svc.ok("create", "-u", unit, "-m", f"host-bind:/srv={content}", "sd")
    lines = svc.ok("list").stdout.splitlines()[1:]
    assert [ln.split(None, 2) for ln in lines] == [["sd", "systemd", "shut off"]]
    assert "<init>/lib/systemd/systemd</init>" in daemon.virsh("dumpxml", "sd").stdout
    etc = svc.base / "sd" / "etc"
    # Its units only, none of the host's; its own identity.
    sysdir = etc / "systemd" / "system"
    assert sorted(p.name for p in sysdir.glob("*.wants")) == ["multi-user.target.wants"]
    assert os.listdir(sysdir / "multi-user.target.wants") == ["web.service"]
    assert (sysdir / "web.service").read_text() == WEB_UNIT
    assert (etc / "machine-id").read_text() != open("/etc/machine-id").read()
    # Its machine ID is the domain's UUID (what systemd takes from
    # $container_uuid; machined's Id; the syslog records' CONTAINER_ID_FULL).
    uuid = daemon.virsh("domuuid", "sd").stdout.strip()
    assert (etc / "machine-id").read_text() == uuid.replace("-", "") + "\n"
    assert (etc / "hostname").read_text() == "sd\n"

    svc.ok("start", "sd")
    wait_until(lambda: systemd_running(svc, "sd") is not None, "systemctl to answer")
    assert systemd_running(svc, "sd") == "running"
    assert svc.ok("execute", "sd", "--", "cat", "/proc/1/comm").stdout == "systemd\n"
    r = svc.ok("execute", "sd", "--", "systemctl", "is-active", "web.service",
               "multi-user.target")
    assert r.stdout == "active\nactive\n"
    r = svc.ok("execute", "sd", "--", "busybox", "wget", "-qO-",
               "http://127.0.0.1:8080/index.html")
    assert r.stdout == "<h1>served from the host</h1>\n"
    # systemd tracks its units in the container's own cgroup subtree,
    # writable; the controllers' hierarchies stay read-only.
    r = svc.ok("execute", "sd", "--", "systemctl", "show", "-P", "ControlGroup", "web.service")
    assert r.stdout == "/system.slice/web.service\n"
    r = svc.ok("execute", "sd", "--", "cat", "/sys/fs/cgroup/systemd/system.slice/web.service/"
               "cgroup.procs")
    assert int(r.stdout.split()[0]) == main_pid(svc, "sd", "web.service")
    r = svc.run("execute", "sd", "--", "mkdir", "/sys/fs/cgroup/memory/x")
    assert r.returncode != 0 and "Read-only file system" in r.stderr, r

    # reload -u: reload-or-restart inside (a restart here); without -u,
    # the units it was created with.
    pid = main_pid(svc, "sd", "web.service")
    svc.ok("reload", "-u", "web.service", "sd")
    pid2 = main_pid(svc, "sd", "web.service")
    assert pid2 not in (0, pid)
    svc.ok("reload", "sd")
    assert main_pid(svc, "sd", "web.service") not in (0, pid2)
    r = svc.run("reload", "-u", "nosuch.service", "sd")
    assert r.returncode == 1 and "Cannot reload nosuch.service in service 'sd'" in r.stderr, r

    # stop powers systemd off: its units stop, the domain shuts down.
    svc.ok("stop", "sd")
    assert svc.states() == {"sd": "shut off"}
    assert daemon.virsh("domstate", "--reason", "sd").stdout.strip() == "shut off (shutdown)"
    # The host reads the service's journal.
    machine_id = (etc / "machine-id").read_text().strip()
    journal = svc.base / "sd" / "var" / "log" / "journal"
    assert (journal / machine_id / "system.journal").is_file()
    r = subprocess.run(["journalctl", "-D", str(journal), "--no-pager", "-o", "cat",
                        "-u", "web.service"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r
    assert r.stdout.count("Started web.service - busybox httpd of the test.") == 3, r.stdout
    assert "Stopped web.service - busybox httpd of the test." in r.stdout, r.stdout
    # Its records carry its own machine ID (journald's trusted field).
    r = subprocess.run(["journalctl", "-D", str(journal), "--no-pager", "-o", "export",
                        "--output-fields=_MACHINE_ID", "-u", "web.service"],
                       capture_output=True, text=True, timeout=60)
    ids = {ln for ln in r.stdout.splitlines() if ln.startswith("_MACHINE_ID=")}
    assert ids == {"_MACHINE_ID=" + machine_id}, (ids, r.stderr)
    assert machine_id == uuid.replace("-", "")

    # The template unit's way: start --foreground lasts until systemd
    # powers off, with status 0.
    p = svc.popen("start", "--foreground", "sd")
    try:
        wait_until(lambda: systemd_running(svc, "sd") is not None, "systemctl to answer")
        svc.ok("execute", "sd", "--", "systemctl", "poweroff")
        out, err = p.communicate(timeout=60)
    finally:
        p.kill()
        p.wait()
    assert p.returncode == 0, (out, err)
    assert svc.states() == {"sd": "shut off"}
    svc.ok("delete", "sd")
    assert daemon.domains() == {}


def test_systemd_clone_and_image(svc, daemon):  # noqa: F811
    # A Debian unit of the host, by name; the private dirs in images.
    svc.ok("create", "-u", "systemd-journald.service", "-i", "64M", "si")
    svc.ok("start", "si")
    wait_until(lambda: systemd_running(svc, "si") is not None, "systemctl to answer")
    assert systemd_running(svc, "si") == "running"
    r = svc.ok("execute", "si", "--", "sh", "-c",
               "grep -E ' /(etc|var) ' /proc/mounts | cut -d' ' -f2,3; hostname")
    assert r.stdout.splitlines() == ["/etc ext4", "/var ext4", "si"], r.stdout
    svc.ok("stop", "si")
    svc.ok("delete", "si")

    # A clone in directories is another machine.
    svc.ok("create", "-u", "systemd-journald.service", "s1")
    svc.ok("clone", "s1", "s2")
    ids = {n: (svc.base / n / "etc" / "machine-id").read_text() for n in ("s1", "s2")}
    assert ids["s1"] != ids["s2"]
    for n in ("s1", "s2"):
        assert ids[n] == daemon.virsh("domuuid", n).stdout.strip().replace("-", "") + "\n"
    assert (svc.base / "s2" / "etc" / "hostname").read_text() == "s2\n"
    svc.ok("start", "s2")
    wait_until(lambda: systemd_running(svc, "s2") is not None, "systemctl to answer")
    r = svc.ok("execute", "s2", "--", "cat", "/etc/machine-id", "/proc/sys/kernel/hostname")
    assert r.stdout == ids["s2"] + "s2\n"
    for n in ("s1", "s2"):
        svc.ok("delete", n)
    assert daemon.domains() == {}


def test_generic_service_cgroups_stay_read_only(svc, daemon):  # noqa: F811
    """The writable cgroup subtree is for a systemd init only."""
    svc.ok("create", "gen", "--", "sleep", "1000")
    svc.ok("start", "gen")
    r = svc.run("execute", "gen", "--", "mkdir", "/sys/fs/cgroup/systemd/x")
    assert r.returncode != 0 and "Read-only file system" in r.stderr, r
    r = svc.run("reload", "-u", "web.service", "gen")
    assert r.returncode == 1 and "service 'gen' is a generic one" in r.stderr, r
    svc.ok("delete", "gen")


@pytest.mark.parametrize("args,message", [
    (("create", "bad/name", "--", "true"), "invalid service name 'bad/name'"),
    (("create", ".hidden", "--", "true"), "invalid service name '.hidden'"),
    (("create", "x" * 65, "--", "true"), "invalid service name"),
    (("create", "nocmd"), "create needs -- COMMAND"),
    (("create", "-u", "nosuch.service", "sd"), "unit nosuch.service: no nosuch.service in "
                                               "/etc/systemd/system"),
    (("create", "-u", "web", "sd"), "-u web: 'web' is not a unit name"),
    (("create", "-u", "/no/such/web.service", "sd"), "unit file /no/such/web.service: not a "
                                                     "regular file"),
    (("create", "-u", "a.service", "-e", "A=1", "sd"), "-e A=1: a systemd service's "
                                                        "environment is its units'"),
    (("create", "-u", "a.service", "sd", "--", "true"), "not both"),
    (("create", "-N", "dhcp,bogus=1", "net", "--", "true"),
     "-N 'dhcp,bogus=1': bogus=1: unknown key 'bogus'"),
    (("create", "-i", "1M", "tiny", "--", "true"), "-i 1M: an image of less than 16 MiB"),
    (("create", "-m", "bogus:/x=/y", "m", "--", "true"), "-m bogus:/x=/y:"),
    (("start", "nosuch"), "no service 'nosuch'"),
    (("stop", "nosuch"), "no service 'nosuch'"),
    (("execute", "nosuch", "--", "true"), "no service 'nosuch'"),
    (("delete", "nosuch"), "no service 'nosuch'"),
    (("clone", "nosuch", "other"), "no service 'nosuch'"),
    (("connect", "nosuch"), "no service 'nosuch'"),
    (("list", "extra"), "list wants no argument, got 1 argument"),
    (("execute", "nosuch"), "execute needs a command"),
    (("reload", "-u", "a.service", "x"), "no service 'x'"),
    (("frobnicate",), "unknown command 'frobnicate'"),
    (("start",), "start wants one NAME, got 0 arguments"),
])
def test_errors(svc, daemon, args, message):  # noqa: F811
    r = svc.run(*args)
    assert r.returncode == 1 and message in r.stderr, r
    assert r.stderr.startswith("virt-sandbox-service: ")
    # Nothing was made.
    assert not svc.base.exists() or os.listdir(svc.base) == []
    assert daemon.domains() == {}


def test_create_twice(svc, daemon):  # noqa: F811
    svc.ok("create", "dup", "--", "sleep", "1000")
    r = svc.run("create", "dup", "--", "true")
    assert r.returncode == 1 and "service 'dup' exists already" in r.stderr, r
    # A domain of that name that is not a service is not taken over.
    r = svc.run("clone", "dup", "dup")
    assert r.returncode == 1 and "a domain named 'dup' exists already" in r.stderr, r
    svc.ok("delete", "dup")
