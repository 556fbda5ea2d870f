"""virt-sandbox end to end: the real tool, through libvirt's client
library, to a private virt-sandboxd (tests/integration/vsbdaemon.py).

test_sandbox_run.py covers the sandbox's behaviour in depth without the
daemon; these tests check that the same holds through libvirt, and
what only the daemon path has: the transient domain, the console
stream, destroy on interruption, starting the daemon when its socket
is absent.

Skipped while the daemon refuses <seclabel> (driver/conf does not
take it yet: libvirt-xml/README.md); they run as soon as it does.
"""

import fcntl
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import termios
import time
from pathlib import Path

import pytest

from conftest import BUILDDIR, CONTROLLER, PARTITION
from vsbdaemon import DAEMON, daemon  # noqa: F401  (fixture)

VIRT_SANDBOX = BUILDDIR / "sandbox" / "virt-sandbox"
INIT = BUILDDIR / "sandbox" / "init" / "virt-sandbox-init"


def env_for(extra=None):
    env = dict(os.environ, VSB_SANDBOX_INIT=str(INIT))
    env.pop("SUDO_UID", None)
    env.pop("SUDO_GID", None)
    env.update(extra or {})
    return env


def vs(uri, *args, stdin=b"", timeout=60, env=None):
    return subprocess.run([str(VIRT_SANDBOX), "-c", uri, *map(str, args)], input=stdin,
                          capture_output=True, timeout=timeout, env=env_for(env), cwd="/")


@pytest.fixture
def uri(daemon):  # noqa: F811
    for p in (VIRT_SANDBOX, INIT):
        if not os.access(p, os.X_OK):
            pytest.fail(f"{p} not built")
    probe = vs(daemon.uri, "--", "/bin/true")
    if b"<seclabel>" in probe.stderr:
        pytest.skip("the driver takes no <seclabel> yet (driver/conf)")
    assert probe.returncode == 0, probe
    return daemon.uri


def test_stdout_stderr_status(uri):
    p = vs(uri, "--", "/bin/sh", "-c", "echo out; echo err >&2; exit 3")
    assert (p.stdout, p.stderr, p.returncode) == (b"out\n", b"err\n", 3), p


def test_killed_by_signal(uri):
    assert vs(uri, "--", "/bin/sh", "-c", "kill -9 $$").returncode == 137


def test_stdin(uri):
    p = vs(uri, "--", "sort", "-r", stdin=b"a\nb\n")
    assert p.stdout == b"b\na\n" and p.returncode == 0, p


def test_parallel(uri):
    procs = [subprocess.Popen([str(VIRT_SANDBOX), "-c", uri, "--", "hostname"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_for(),
                              cwd="/") for _ in range(10)]
    names = set()
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        names.add(out.strip())
    assert len(names) == 10, names


def test_read_only_root_private_tmp(uri):
    p = vs(uri, "--", "/bin/sh", "-c",
           "touch /etc/vsb-x 2>/dev/null || echo ro; touch /tmp/x && echo tmp")
    assert p.stdout == b"ro\ntmp\n", p


def test_interrupt_destroys(uri, daemon):  # noqa: F811
    p = subprocess.Popen([str(VIRT_SANDBOX), "-c", uri, "-n", "vsbt-interrupted", "--",
                          "/bin/sh", "-c", "echo started; exec sleep 1000"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_for(), cwd="/")
    assert p.stdout.readline() == b"started\n"
    assert "vsbt-interrupted" in daemon.domains()
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=30)
    assert p.returncode == 128 + signal.SIGTERM
    assert "vsbt-interrupted" not in daemon.domains()


def test_launcher_leaves_no_child_beside_a_sandbox(uri):
    """The launcher (sandbox/vsb-launch.h) forks a cgroup warm-up child
    and execs the tool, which reaps it once the sandbox has started: a
    long-running sandbox has no zombie beside it."""
    p = subprocess.Popen([str(VIRT_SANDBOX), "-c", uri, "--", "/bin/sh", "-c",
                          "echo started; exec sleep 1000"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_for(), cwd="/")
    try:
        assert p.stdout.readline() == b"started\n"
        exe = os.readlink(f"/proc/{p.pid}/exe")
        assert exe.endswith("/virt-sandbox-tool"), exe
        children = Path(f"/proc/{p.pid}/task/{p.pid}/children").read_text().split()
        states = {c: Path(f"/proc/{c}/stat").read_text().split(")")[-1].split()[0]
                  for c in children if Path(f"/proc/{c}/stat").exists()}
        assert "Z" not in states.values(), states
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)
    assert p.returncode == 128 + signal.SIGTERM


def test_launcher_names_a_missing_tool(daemon):  # noqa: F811
    p = vs(daemon.uri, "--", "true", env={"VSB_SANDBOX_TOOL": "/nonexistent/vsb-tool"})
    assert p.returncode == 125, p
    assert b"cannot run /nonexistent/vsb-tool: No such file or directory" in p.stderr, p


def test_starts_the_daemon(request, session_tmp, controller):
    """No daemon at the socket: virt-sandbox starts one (with --timeout)."""
    d = session_tmp / f"auto-{os.getpid()}"
    sock = d / "sock" / "virt-sandboxd-sock"
    daemon_cmd = (f"{DAEMON} --run-dir {d}/run --config-dir {d}/config --log-dir {d}/log "
                  f"--controller {CONTROLLER} --cgroup-partition {PARTITION} "
                  f"--no-libvirt-paths")
    uri = f"lxc:///system?socket={sock}"
    try:
        p = vs(uri, "--", "/bin/sh", "-c", "echo hello", env={"VSB_SANDBOXD": daemon_cmd})
        assert sock.exists()
        if b"<seclabel>" in p.stderr:
            pytest.skip("the driver takes no <seclabel> yet (driver/conf)")
        assert p.stdout == b"hello\n" and p.returncode == 0, p
    finally:
        # The daemon is detached from us: find it by its private socket dir.
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if str(d).encode() in cmd and b"virt-sandboxd" in cmd:
                os.kill(int(pid), signal.SIGTERM)
        deadline = time.monotonic() + 15
        while sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)


def test_bad_option(daemon):  # noqa: F811
    p = vs(daemon.uri, "-s", "static", "--", "true")
    assert p.returncode == 125
    assert b"-s 'static': security mode static needs a label" in p.stderr, p


def test_lxc_needs_a_command(daemon):  # noqa: F811
    p = vs(daemon.uri)
    assert p.returncode == 125 and b"No command given" in p.stderr, p


def loop_backing_files():
    return {p.read_text().strip() for p in Path("/sys/block").glob("loop*/loop/backing_file")}


def test_host_image_qcow2(uri, tmp_path):
    """A qcow2 image through qemu-storage-daemon's FUSE export on a loop
    device; afterwards no FUSE mount, daemon or loop device is left."""
    if not (shutil.which("qemu-img") and shutil.which("qemu-storage-daemon")):
        pytest.skip("qemu-img and qemu-storage-daemon needed (qemu-utils, qemu-system-common)")
    content = tmp_path / "content"
    content.mkdir()
    (content / "hello.txt").write_text("hello from qcow2\n")
    raw, image = tmp_path / "img.raw", tmp_path / "img,with comma.qcow2"
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(content), str(raw), "8M"], check=True)
    subprocess.run(["qemu-img", "convert", "-O", "qcow2", str(raw), str(image)], check=True)
    loops = loop_backing_files()
    p = vs(uri, "-m", f"host-image:/mnt={image},format=qcow2", "--", "/bin/sh", "-c",
           "cat /mnt/hello.txt; echo new >/mnt/new.txt")
    assert (p.stdout, p.returncode) == (b"hello from qcow2\n", 0), p
    assert str(image) not in Path("/proc/self/mounts").read_text()
    assert "img.qcow2" not in subprocess.run(["ps", "-eo", "args"], capture_output=True,
                                             text=True).stdout
    assert not [f for f in loop_backing_files() - loops if "images" in f], loop_backing_files()
    assert subprocess.run(["pgrep", "-f", f"filename={tmp_path}"]).returncode == 1
    # Written through the export into the qcow2 image.
    p = vs(uri, "-m", f"host-image:/mnt={image}", "--", "cat", "/mnt/new.txt")
    assert (p.stdout, p.returncode) == (b"new\n", 0), p


def test_host_image_qcow2_errors_and_interrupt(uri, daemon, tmp_path):  # noqa: F811
    """A file that is no qcow2: qemu-storage-daemon's error, nothing left.
    Interrupted while running: the export ends with the domain."""
    if not (shutil.which("qemu-img") and shutil.which("qemu-storage-daemon")):
        pytest.skip("qemu-img and qemu-storage-daemon needed (qemu-utils, qemu-system-common)")
    bogus = tmp_path / "bogus.qcow2"
    bogus.write_bytes(b"not an image" * 100)
    p = vs(uri, "-m", f"host-image:/mnt={bogus}", "--", "/bin/true")
    assert p.returncode != 0 and b"qemu-storage-daemon failed" in p.stderr, p
    assert b"/mnt" in p.stderr, p

    raw, image = tmp_path / "img.raw", tmp_path / "img.qcow2"
    subprocess.run(["mkfs.ext4", "-q", "-F", str(raw), "8M"], check=True)
    subprocess.run(["qemu-img", "convert", "-O", "qcow2", str(raw), str(image)], check=True)
    p = subprocess.Popen([str(VIRT_SANDBOX), "-c", uri, "-n", "vsbt-qcow2-int",
                          "-m", f"host-image:/mnt={image}", "--",
                          "/bin/sh", "-c", "echo started; exec sleep 1000"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_for(), cwd="/")
    assert p.stdout.readline() == b"started\n"
    assert subprocess.run(["pgrep", "-f", f"filename={image}"]).returncode == 0
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=30)
    assert p.returncode == 128 + signal.SIGTERM
    assert "vsbt-qcow2-int" not in daemon.domains()
    assert subprocess.run(["pgrep", "-f", f"filename={image}"]).returncode == 1
    assert "images/" not in Path("/proc/self/mounts").read_text()
    assert not [f for f in loop_backing_files() if "vsbt-qcow2-int" in f]


# --shell: a shell on a host pty, alongside the program
# --------------------------------------------------------------------

SHELL_NOTE = re.compile(rb"a shell in the sandbox is on (/dev/pts/\d+)")


class ShellPty:
    """A client of the host pty virt-sandbox -l prints, as screen would be."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        self.out = b""

    def write(self, data):
        os.write(self.fd, data)

    def expect(self, needle, timeout=20):
        deadline = time.monotonic() + timeout
        while needle not in self.out:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {needle!r}; got {self.out!r}")
            if select.select([self.fd], [], [], left)[0]:
                try:
                    data = os.read(self.fd, 4096)
                except OSError:     # EIO: the other side is closed
                    data = b""
                if not data:
                    raise AssertionError(f"EOF waiting for {needle!r}; got {self.out!r}")
                self.out += data
        return self.out

    def close(self):
        os.close(self.fd)


# The program waits for a line, then shows a file only the shell wrote:
# both run at once, in the same sandbox.
SHELL_PROGRAM = ["/bin/sh", "-c", "echo started; read x; cat /tmp/mark; exit 4"]


def test_shell_alongside_a_piped_program(uri, daemon):  # noqa: F811
    p = subprocess.Popen([str(VIRT_SANDBOX), "-c", uri, "-l", "-n", "vsbt-shell", "--",
                          *SHELL_PROGRAM], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env_for(), cwd="/")
    try:
        note = p.stderr.readline()
        m = SHELL_NOTE.search(note)
        assert m, note
        path = m.group(1).decode()
        assert p.stdout.readline() == b"started\n"
        sh = ShellPty(path)
        # The sandbox's pty echoes and turns the Enter key's \r into \n.
        sh.write(b"echo $((6*7)) >/tmp/mark; echo shell-$((6*7)) in $(hostname)\r")
        sh.expect(b"shell-42 in vsbt-shell")
        # The shell ending is said on its terminal and does not end the run.
        sh.write(b"exit 7\r")
        sh.expect(b"[virt-sandbox: the shell ended with status 7]")
        p.stdin.write(b"go\n")
        p.stdin.close()
        assert p.stdout.read() == b"42\n"
        assert p.wait(timeout=30) == 4
        sh.close()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert not os.path.exists(path)
    assert "vsbt-shell" not in daemon.domains()


def test_shell_with_a_terminal(uri, daemon):  # noqa: F811
    """The program on a terminal (pty.fork, as a user's), the shell on
    another, with its own window size."""
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.chdir("/")
            os.environ.update(env_for(), TERM="xterm")
            os.execv(str(VIRT_SANDBOX), [str(VIRT_SANDBOX), "-c", uri, "--shell", "--",
                                         *SHELL_PROGRAM])
        finally:
            os._exit(127)
    prog = ShellPty.__new__(ShellPty)
    prog.fd, prog.out = fd, b""
    try:
        prog.expect(b"started")
        path = SHELL_NOTE.search(prog.out).group(1).decode()
        sh = ShellPty(path)
        fcntl.ioctl(sh.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 31, 97, 0, 0))
        sh.write(b"tty; stty size; echo x >/tmp/mark; echo mark-$((1+1))\r")
        sh.expect(b"mark-2")
        assert b"31 97" in sh.out
        assert b"/dev/pts/" in sh.out
        prog.write(b"go\r")
        prog.expect(b"x\r\n")
        sh.close()
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 4
        pid = 0
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    assert not os.path.exists(path)


# -s dynamic: MCS categories unique among running sandboxes
# --------------------------------------------------------------------

@pytest.fixture
def mcs(tmp_path, monkeypatch):
    """The tests' own MCS lease directory (VSB_SANDBOX_MCS_DIR)."""
    d = tmp_path / "mcs"
    monkeypatch.setenv("VSB_SANDBOX_MCS_DIR", str(d))
    return d

LABEL_RE = re.compile(r"<label>([^<]+)</label>")
IMAGELABEL_RE = re.compile(r"<imagelabel>([^<]+)</imagelabel>")


def categories(label):
    """'u:r:t:s0:c1,c2' -> ('s0', 'c1,c2')"""
    parts = label.split(":", 3)
    level = parts[3].split(":", 1)
    return level[0], level[1]


def test_dynamic_labels_are_distinct(uri, daemon, mcs):  # noqa: F811
    """Sandboxes running at once each get their own pair of categories,
    on the base label asked for (-s dynamic,label=) or the default, in
    the running domain's XML as libvirt shows a dynamic label; the
    leases go with the runs (this host has SELinux off: nothing else)."""
    procs, names = [], [f"vsbt-mcs-{i}" for i in range(4)]
    for i, name in enumerate(names):
        sec = ["-s", "dynamic,label=system_u:system_r:svirt_t:s0-s0:c0.c1023"] if i == 0 else []
        procs.append(subprocess.Popen(
            [str(VIRT_SANDBOX), "-c", uri, "-n", name, *sec, "--", "/bin/sh", "-c",
             "echo started; read x; exit 0"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=env_for(), cwd="/"))
    try:
        for p in procs:
            line = p.stdout.readline()
            assert line == b"started\n", (line, p.stderr.read() if p.poll() is not None else "")
        pairs = set()
        for i, name in enumerate(names):
            xml = daemon.virsh("dumpxml", name).stdout
            assert "<seclabel type='dynamic' model='selinux' relabel='yes'>" in xml, xml
            label = LABEL_RE.search(xml).group(1)
            image = IMAGELABEL_RE.search(xml).group(1)
            base = "system_u:system_r:svirt_t" if i == 0 else \
                "system_u:system_r:svirt_lxc_net_t"
            assert label.startswith(base + ":s0:c"), xml
            assert image.startswith("system_u:object_r:svirt_sandbox_file_t:s0:c"), xml
            sens, cats = categories(label)
            assert categories(image) == (sens, cats)
            c1, c2 = (int(c[1:]) for c in cats.split(","))
            assert 0 <= c1 < c2 <= 1023, label
            pairs.add(cats)
            lease = (mcs / cats).read_text().split()
            assert (int(lease[0]), lease[2]) == (procs[i].pid, name), lease
        assert len(pairs) == len(names), pairs
        for p in procs:
            p.stdin.close()
            assert p.wait(timeout=30) == 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()   # destroys its sandbox, removes its files
                p.wait()
    for cats in pairs:
        assert not (mcs / cats).exists()


def test_dynamic_lease_of_a_dead_tool_is_reclaimed(uri, mcs):
    """A lease whose virt-sandbox is gone (killed: its sandbox went with
    its connection) is taken back by the next run."""
    dead = subprocess.Popen(["/bin/true"])
    dead.wait()
    mcs.mkdir()
    stale = mcs / "c1,c2"
    stale.write_text(f"{dead.pid} 1 vsbt-gone\n")
    p = vs(uri, "--", "/bin/true")
    assert p.returncode == 0, p
    assert not stale.exists()
    assert [f.name for f in mcs.iterdir()] == ["lock"]


def test_dynamic_bad_base_label(uri, mcs):
    """A base whose level is no MCS level: an error naming it, and the
    lease taken for it goes back."""
    p = vs(uri, "-s", "dynamic,label=u:r:t:x0", "--", "/bin/true")
    assert p.returncode == 125, p
    assert b"-s dynamic: MCS level 'x0'" in p.stderr, p
    assert [f.name for f in mcs.iterdir()] == ["lock"]   # the lease went back
