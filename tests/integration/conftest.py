"""Fixtures for the integration tests of virt-sandbox-controller.

Run as root with Debian's Python:  /usr/bin/python3 -m pytest tests/integration

The controller comes from the build tree, $VSB_BUILDDIR (default
<srcdir>/build), never from an installed copy.  Everything a session
makes lives under /tmp/vsb-test-<id>/ and its containers' cgroups under
the partition vsb-test-<id>; after every test nothing naming that
marker may remain on the host (mounts, loop devices, cgroups,
processes, network namespaces), and what remains is cleared before the
test is failed.
"""

import fcntl
import os
import re
import secrets
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vsbleaks  # noqa: E402

SRCDIR = Path(__file__).resolve().parents[2]
BUILDDIR = Path(os.environ.get("VSB_BUILDDIR") or SRCDIR / "build").resolve()
CONTROLLER = BUILDDIR / "driver" / "controller" / "virt-sandbox-controller"

SESSION_ID = secrets.token_hex(4)
# Names the session's temp dir and cgroup partition: anything on the
# host naming it after a test is a leak.
MARKER = f"vsb-test-{SESSION_ID}"
PARTITION = MARKER

DEFAULT_MEMORY_KIB = 256 * 1024


# --------------------------------------------------------------------
# Domain XML
# --------------------------------------------------------------------

def fs_mount(source, target, readonly=False):
    """<filesystem type='mount'>: a host directory."""
    ro = "<readonly/>" if readonly else ""
    return (f"<filesystem type='mount'><source dir={quoteattr(str(source))}/>"
            f"<target dir={quoteattr(target)}/>{ro}</filesystem>")


def fs_bind(source, target, readonly=False):
    """<filesystem type='bind'>: a directory of the guest."""
    ro = "<readonly/>" if readonly else ""
    return (f"<filesystem type='bind'><source dir={quoteattr(source)}/>"
            f"<target dir={quoteattr(target)}/>{ro}</filesystem>")


def fs_file(image, target="/", readonly=False):
    """<filesystem type='file'>: an image file on a loop device."""
    ro = "<readonly/>" if readonly else ""
    return (f"<filesystem type='file' accessmode='passthrough'>"
            f"<driver type='loop' format='raw'/><source file={quoteattr(str(image))}/>"
            f"<target dir={quoteattr(target)}/>{ro}</filesystem>")


def fs_ram(target, usage_kib):
    """<filesystem type='ram'>: a tmpfs of @usage_kib KiB."""
    return (f"<filesystem type='ram'><source usage='{int(usage_kib)}' units='KiB'/>"
            f"<target dir={quoteattr(target)}/></filesystem>")


def domain_xml(name, init="/bin/sh", args=(), filesystems=(), memory_kib=DEFAULT_MEMORY_KIB,
               env=None, initdir=None, inituser=None, initgroup=None, privnet=True, console=True,
               extra_devices="", extra=""):
    """libvirt LXC domain XML; @extra goes verbatim after <memory>."""
    os_parts = ["    <type>exe</type>", f"    <init>{escape(init)}</init>"]
    os_parts += [f"    <initarg>{escape(a)}</initarg>" for a in args]
    for k, v in (env or {}).items():
        os_parts.append(f"    <initenv name={quoteattr(k)}>{escape(v)}</initenv>")
    if initdir is not None:
        os_parts.append(f"    <initdir>{escape(initdir)}</initdir>")
    # libvirt's schema takes <inituser> and <initgroup> together only
    if inituser is not None:
        os_parts.append(f"    <inituser>{escape(inituser)}</inituser>")
    if initgroup is not None:
        os_parts.append(f"    <initgroup>{escape(initgroup)}</initgroup>")
    devices = ["    " + f for f in filesystems]
    if extra_devices:
        devices.append("    " + extra_devices)
    if console:
        devices.append("    <console type='pty'/>")
    features = "  <features>\n    <privnet/>\n  </features>\n" if privnet else ""
    nl = "\n"
    return (f"<domain type='lxc'>\n"
            f"  <name>{escape(name)}</name>\n"
            f"  <memory unit='KiB'>{int(memory_kib)}</memory>\n"
            f"{('  ' + extra + nl) if extra else ''}"
            f"  <os>\n{nl.join(os_parts)}\n  </os>\n"
            f"{features}"
            f"  <devices>\n{nl.join(devices)}\n  </devices>\n"
            f"</domain>\n")


def kv(text):
    """key=value lines of a container's output, as a dict (last one wins)."""
    out = {}
    for line in text.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out


# --------------------------------------------------------------------
# Running the controller
# --------------------------------------------------------------------

@dataclass
class Result:
    argv: list
    status: int            # the controller's exit status; None on timeout
    stdout: str            # the console (\r\n folded to \n)
    stderr: str
    timed_out: bool = False
    run_dir_after: list = field(default_factory=list)

    def __iter__(self):
        """status, stdout, stderr = runner.run(...)"""
        return iter((self.status, self.stdout, self.stderr))

    @property
    def kv(self):
        return kv(self.stdout)

    def stderr_lines(self):
        return [line for line in self.stderr.splitlines() if line.strip()]

    def __str__(self):
        what = "TIMED OUT" if self.timed_out else f"status {self.status}"
        return (f"\n$ {' '.join(map(str, self.argv))}\n-> {what}\n"
                f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}\n"
                f"--- run dir after: {self.run_dir_after}")

    __repr__ = __str__


def _decode(b):
    return b.decode(errors="replace").replace("\r\n", "\n")


def _pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _read_line_fd(fd, timeout):
    """Read from @fd until a newline or EOF, at most @timeout seconds."""
    buf = b""
    deadline = time.monotonic() + timeout
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        buf += chunk
    return buf.decode(errors="replace")


def _recv_line(sock, timeout):
    """One answer line from a control socket, byte by byte so that
    nothing after the newline (console data) is consumed."""
    sock.settimeout(timeout)
    buf = b""
    while not buf.endswith(b"\n"):
        c = sock.recv(1)
        if not c:
            break
        buf += c
    return buf.decode(errors="replace").rstrip("\r\n")


def recv_until(sock, pattern, timeout=10.0):
    """Read from @sock until @pattern (a bytes regex) matches what was
    read; returns everything read.  Raises AssertionError on timeout/EOF."""
    buf = b""
    deadline = time.monotonic() + timeout
    rx = re.compile(pattern)
    while not rx.search(buf):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out waiting for {pattern!r}; got {buf!r}")
        sock.settimeout(left)
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            continue
        if not chunk:
            raise AssertionError(f"EOF waiting for {pattern!r}; got {buf!r}")
        buf += chunk
    return buf


class Container:
    """A container started without --foreground (so in the background),
    waited for through --ready-fd."""

    def __init__(self, runner, name, xml_path, ready_timeout=20):
        self.runner = runner
        self.name = name
        self.xml_path = xml_path
        rd = runner.run_dir
        self.pid_file = rd / f"{name}.pid"
        self.xml_file = rd / f"{name}.xml"
        self.state_file = rd / f"{name}.state"
        self.sock = rd / f"{name}.sock"
        self.exit_file = rd / f"{name}.exit"
        self.log_path = runner.tmp / f"{name}.log"
        r, w = os.pipe()
        self.argv = runner.argv(xml_path, foreground=False, extra=["--ready-fd", str(w)])
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.argv, pass_fds=(w,), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, start_new_session=True)
        os.close(w)
        try:
            self.ready = _read_line_fd(r, ready_timeout).strip()
        finally:
            os.close(r)
        self._controller_pid = None
        if self.ready.startswith("ok"):
            self._controller_pid = self.read_pid_file()

    @property
    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def __str__(self):
        return (f"\n$ {' '.join(map(str, self.argv))}\nready: {self.ready!r}\n"
                f"--- controller output ---\n{self.log}\n--- run dir: "
                f"{sorted(os.listdir(self.runner.run_dir))}")

    __repr__ = __str__

    def read_pid_file(self):
        try:
            return int(self.pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    @property
    def init_pid(self):
        return int(self.ready.split()[1])

    def controller_pids(self):
        pids = {self.proc.pid}
        if self._controller_pid:
            pids.add(self._controller_pid)
        return pids

    def alive(self):
        self.proc.poll()
        return any(_pid_alive(p) for p in self.controller_pids())

    def request(self, line, timeout=10):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(self.sock))
            s.sendall(line.encode() + b"\n")
            return _recv_line(s, timeout)

    def console(self, force=False, timeout=10):
        """A socket carrying the console, after the "ok" answer."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(str(self.sock))
        s.sendall(b"console force\n" if force else b"console\n")
        answer = _recv_line(s, timeout)
        if answer != "ok":
            s.close()
            raise AssertionError(f"console request answered {answer!r}{self}")
        return s

    def wait_exit(self, timeout=20):
        """Wait until every controller process is gone; True if so."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                try:
                    self.proc.wait(timeout=1)
                except subprocess.TimeoutExpired:
                    pass
                return True
            time.sleep(0.05)
        return False

    def stop(self):
        """Destroy the container however possible (for teardown)."""
        if self.alive() and self.sock.exists():
            try:
                self.request("destroy", timeout=5)
            except OSError:
                pass
            self.wait_exit(15)
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            if not self.alive():
                break
            for pid in self.controller_pids():
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
            self.wait_exit(wait)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Runner:
    """Runs the controller with its run dir and files under @tmp."""

    def __init__(self, tmp):
        self.tmp = Path(tmp)
        self.run_dir = self.tmp / "run"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.containers = []

    def write_xml(self, xml, name=None):
        if name is None:
            m = re.search(r"<name>([^<]*)</name>", xml)
            name = m.group(1) if m else "domain"
        path = self.tmp / f"{name}.domain.xml"
        path.write_text(xml)
        return path

    def argv(self, xml_path, foreground=True, extra=()):
        a = [str(CONTROLLER), "--xml", str(xml_path), "--run-dir", str(self.run_dir),
             "--cgroup-partition", PARTITION]
        if foreground:
            a.append("--foreground")
        return a + list(extra)

    def run(self, xml, timeout=30, stdin=None, extra=()):
        """Run in the foreground: (status, stdout, stderr) as a Result.
        @xml is the XML text or a path to it."""
        path = xml if isinstance(xml, Path) else self.write_xml(xml)
        argv = self.argv(path, extra=extra)
        p = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
        timed_out = False
        try:
            out, err = p.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            # SIGTERM: the controller destroys the container and cleans up;
            # SIGKILL only if that does not work.
            timed_out = True
            p.send_signal(signal.SIGTERM)
            try:
                out, err = p.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
                out, err = p.communicate()
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        return Result(argv=argv, status=None if timed_out else p.returncode,
                      stdout=_decode(out), stderr=_decode(err), timed_out=timed_out,
                      run_dir_after=sorted(os.listdir(self.run_dir)))

    def start(self, xml, ready_timeout=20):
        path = xml if isinstance(xml, Path) else self.write_xml(xml)
        name = re.search(r"<name>([^<]*)</name>", path.read_text()).group(1)
        c = Container(self, name, path, ready_timeout)
        self.containers.append(c)
        return c

    def close(self):
        # Anything else still running is a leak: the leak check reports
        # and clears it.
        for c in self.containers:
            c.stop()


# --------------------------------------------------------------------
# Host state
# --------------------------------------------------------------------

def find_leaks(settle=3.0):
    return vsbleaks.leaks(set(), markers=(MARKER,), any_controller=False,
                          all_loops=False, settle=settle)


def safe_rmtree(top):
    """rm -rf that never crosses into another filesystem (a leaked bind
    mount of a host directory must not have its contents deleted)."""
    top = Path(top)
    if not top.exists():
        return
    for point, _t, _s in sorted(vsbleaks.mounts((str(top),)), key=lambda m: len(m[0]),
                                reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)
    dev = os.lstat(top).st_dev

    def rm(d):
        for e in os.scandir(d):
            st = e.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                if st.st_dev != dev:
                    continue
                rm(e.path)
                try:
                    os.rmdir(e.path)
                except OSError:
                    pass
            else:
                try:
                    os.unlink(e.path)
                except OSError:
                    pass
    rm(top)
    try:
        os.rmdir(top)
    except OSError:
        pass


def host_oom_kills():
    """OOM kills seen so far by this (the test) process's memory cgroup, or None."""
    try:
        with open("/proc/self/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        _h, ctrls, path = line.split(":", 2)
        if "memory" in ctrls.split(","):
            f = f"/sys/fs/cgroup/memory{path}/memory.oom_control"
            break
    else:
        path = [ln for ln in lines if ln.startswith("0::")]
        if not path:
            return None
        base = "/sys/fs/cgroup/unified" if os.path.isdir("/sys/fs/cgroup/unified") else "/sys/fs/cgroup"
        f = f"{base}{path[0][3:]}/memory.events"
    try:
        with open(f) as fh:
            return int(kv(fh.read().replace(" ", "=")).get("oom_kill", 0))
    except (OSError, ValueError):
        return None


# --------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------

@pytest.fixture(scope="session")
def controller():
    if os.geteuid() != 0:
        pytest.fail("the integration tests must run as root")
    if not os.access(CONTROLLER, os.X_OK):
        pytest.fail(f"controller not built: {CONTROLLER} does not exist "
                    f"(build with tools/run-tests, or set VSB_BUILDDIR to a build dir)")
    return CONTROLLER


@pytest.fixture(scope="session")
def builddir():
    return BUILDDIR


@pytest.fixture(scope="session")
def session_tmp():
    d = Path("/tmp") / MARKER
    d.mkdir(mode=0o755)
    yield d
    left = find_leaks()
    actions = vsbleaks.cleanup(left) if left else []
    safe_rmtree(d)
    if left:
        pytest.fail("left behind at the end of the session:\n  " + "\n  ".join(left)
                    + "\ncleanup: " + "; ".join(actions))


@pytest.fixture(scope="session")
def busybox_root(session_tmp):
    """A busybox root: /bin/busybox and its applets, passwd with root and
    nobody (65534), group, empty /proc /sys /dev /tmp, mount points
    /mnt/{rw,ro,ram,bind}, /srv/data/data.txt, a non-executable
    /bin/notexec."""
    bb = Path("/bin/busybox")
    if not bb.exists():
        pytest.fail("/bin/busybox missing: apt-get install busybox-static")
    with open(bb, "rb") as f:
        if b"ld-linux" in f.read(8192):
            pytest.fail("/bin/busybox is dynamically linked: apt-get install busybox-static")
    root = session_tmp / "rootfs"
    for d in ["bin", "etc", "proc", "sys", "dev", "tmp", "root", "mnt/rw", "mnt/ro",
              "mnt/ram", "mnt/bind", "srv/data"]:
        (root / d).mkdir(parents=True, exist_ok=True)
    os.chmod(root / "tmp", 0o1777)
    shutil.copy2(bb, root / "bin" / "busybox")
    # In a chroot so the links point to /bin/busybox, not to this host path.
    subprocess.run(["chroot", str(root), "/bin/busybox", "--install", "-s", "/bin"], check=True)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n"
                                         "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
    (root / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    (root / "srv" / "data" / "data.txt").write_text("guest-data\n")
    notexec = root / "bin" / "notexec"
    notexec.write_text("#!/bin/sh\necho this should not run\n")
    os.chmod(notexec, 0o644)
    return root


@pytest.fixture(scope="session")
def rootfs_image(busybox_root, session_tmp):
    """An ext4 image of busybox_root (mkfs.ext4 -d: no loop device needed)."""
    img = session_tmp / "rootfs.ext4"
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(busybox_root), str(img), "32M"],
                   check=True)
    return img


@pytest.fixture(scope="session")
def root_fs(busybox_root):
    """The <filesystem> element making busybox_root the container's /."""
    return fs_mount(busybox_root, "/")


@pytest.fixture(autouse=True)
def leak_check(session_tmp):
    """After each test: nothing naming the session's marker on the host,
    and no new network namespace."""
    netns_before = set(vsbleaks.netns())
    yield
    left = find_leaks()
    left += [f"netns: {n}" for n in sorted(set(vsbleaks.netns()) - netns_before)]
    if left:
        actions = vsbleaks.cleanup(left)
        pytest.fail("left behind on the host:\n  " + "\n  ".join(left)
                    + "\ncleanup: " + "; ".join(actions))


@pytest.fixture
def vsb(request, leak_check, session_tmp, controller):
    """A Runner in a directory of its own for this test; whatever it
    started is destroyed at the end (before the leak check)."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)[:48]
    r = Runner(session_tmp / name)
    try:
        yield r
    finally:
        r.close()
