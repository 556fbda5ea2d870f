"""virt-sandbox's behaviour, without the daemon: tests/sandbox-run is
virt-sandbox with the libvirt calls replaced by running the controller
directly (same command line, config, builder, state directory, init
and stdio relay).  These are the acceptance tests of issue 7 that do
not need virt-sandboxd; test_sandbox_cli.py (to come with the daemon)
runs the same through libvirt.
"""

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import time
from pathlib import Path

import pytest

from conftest import BUILDDIR, PARTITION, CONTROLLER

SANDBOX_RUN = BUILDDIR / "tests" / "sandbox-run"
INIT = BUILDDIR / "sandbox" / "init" / "virt-sandbox-init"


@pytest.fixture(autouse=True)
def need_binaries():
    for p in (SANDBOX_RUN, INIT):
        if not os.access(p, os.X_OK):
            pytest.fail(f"{p} not built")


class Sandbox:
    """Runs tests/sandbox-run with its files under the test's directory."""

    def __init__(self, runner):
        self.runner = runner
        self.n = 0

    def argv(self, args, statedir=None):
        self.n += 1
        self.statedir = statedir or self.runner.tmp / f"state-{self.n}"
        return [str(SANDBOX_RUN), "--controller", str(CONTROLLER), "--init", str(INIT),
                "--statedir", str(self.statedir), "--run-dir", str(self.runner.run_dir),
                "--cgroup-partition", PARTITION, "--"] + [str(a) for a in args]

    def run(self, *args, stdin=b"", timeout=60, env=None):
        argv = self.argv(args)
        p = subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout,
                           env=env, cwd="/")
        # Whatever happened, the state directory is gone.
        assert not self.statedir.exists(), f"{self.statedir} left behind"
        return p

    def popen(self, *args, **kw):
        return subprocess.Popen(self.argv(args), cwd="/", **kw)


@pytest.fixture
def sbx(vsb):
    return Sandbox(vsb)


def stderr_of(p):
    """stderr without the harness's note about <seclabel>."""
    return b"".join(ln for ln in p.stderr.splitlines(True) if b"sandbox-run: note:" not in ln)


def test_stdout_stderr_status(sbx):
    p = sbx.run("--", "/bin/sh", "-c", "echo out; echo err >&2; exit 3")
    assert p.stdout == b"out\n"
    assert stderr_of(p) == b"err\n"
    assert p.returncode == 3


def test_killed_by_signal(sbx):
    p = sbx.run("--", "/bin/sh", "-c", "kill -9 $$")
    assert p.returncode == 137, p


def test_stdin(sbx):
    p = sbx.run("--", "sort", "-r", stdin=b"a\nb\n")
    assert p.stdout == b"b\na\n", p
    assert p.returncode == 0


def test_no_stdin(sbx):
    p = subprocess.run(sbx.argv(["--", "cat"]), stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=60, cwd="/")
    assert p.returncode == 0 and p.stdout == b"", p


def test_parallel_runs_have_distinct_names(sbx):
    procs = [sbx.popen("--", "hostname", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(10)]
    names = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        names.append(out.strip())
    assert len(set(names)) == 10, names
    assert all(n.startswith(b"sandbox-") for n in names), names


def test_root_is_read_only_tmp_private(sbx):
    marker = f"vsb-sbx-{os.getpid()}"
    script = (f"touch /etc/{marker} 2>/dev/null && echo etc-writable; "
              f"touch /tmp/{marker} && echo tmp-ok; ls /tmp; touch /var/tmp/x && echo vartmp-ok")
    p = sbx.run("--", "/bin/sh", "-c", script)
    assert p.stdout.split() == [b"tmp-ok", marker.encode(), b"vartmp-ok"], p
    assert not Path(f"/tmp/{marker}").exists()
    assert not Path(f"/etc/{marker}").exists()
    # The next sandbox starts with an empty /tmp again.
    p = sbx.run("--", "/bin/ls", "-A", "/tmp")
    assert p.stdout == b"", p


def test_caller_identity_and_privileged(sbx):
    script = "id -u; id -g; grep CapEff /proc/self/status"
    env = dict(os.environ, SUDO_UID="65534", SUDO_GID="65534")
    p = sbx.run("--", "/bin/sh", "-c", script, env=env)
    uid, gid, caps = p.stdout.decode().splitlines()
    assert (uid, gid) == ("65534", "65534"), p
    assert int(caps.split()[1], 16) == 0
    p = sbx.run("-p", "--", "/bin/sh", "-c", script, env=env)
    uid, gid, caps = p.stdout.decode().splitlines()
    assert (uid, gid) == ("0", "0"), p
    assert int(caps.split()[1], 16) != 0
    p = sbx.run("-S", "nobody", "--", "id", "-un")
    assert p.stdout == b"nobody\n", p


def test_mount_kinds(sbx, vsb):
    host = vsb.tmp / "shared"
    host.mkdir()
    (host / "in.txt").write_text("from-host\n")
    os.chown(host, 65534, 65534)
    image = vsb.tmp / "disk.img"
    content = vsb.tmp / "imgsrc"
    content.mkdir()
    (content / "img.txt").write_text("from-image\n")
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(content), str(image), "8M"], check=True)
    # The controller mounts in the order of the targets: a guest-bind's
    # source must sort before its target.
    script = ("cat /media/in.txt && echo out > /media/out.txt && echo bind-ok; "
              "ls -A /home; touch /home/t && echo temp-ok; "
              "df -k /srv | awk 'NR==2 { print $2 }'; touch /srv/x && echo ram-ok; "
              "cat /opt/img.txt; "
              "ls /mnt")
    p = sbx.run("-S", "nobody",
                "-m", f"host-bind:/media={host}",
                "-m", "host-bind:/home=",
                "-m", "ram:/srv=10M",
                "-m", f"host-image:/opt={image}",
                "-m", "guest-bind:/mnt=/media",
                "--", "/bin/sh", "-c", script)
    lines = p.stdout.decode().splitlines()
    assert lines[0:2] == ["from-host", "bind-ok"], p
    assert (host / "out.txt").read_text() == "out\n"
    assert lines[2] == "temp-ok", p          # the temporary dir starts empty
    assert lines[3] == "10240", p
    assert lines[4] == "ram-ok", p
    assert lines[5] == "from-image", p
    assert sorted(lines[6:]) == ["in.txt", "out.txt"], p
    assert p.returncode == 0, p


def test_include(sbx, vsb):
    src = vsb.tmp / "inc"
    (src / "dir").mkdir(parents=True)
    (src / "a.txt").write_text("A\n")
    (src / "dir" / "b.txt").write_text("B\n")
    listing = vsb.tmp / "list"
    listing.write_text(f"# comment\n/tmp/l/a.txt={src}/a.txt\n\n")
    p = sbx.run("-S", "nobody", "-m", "host-bind:/srv=",
                "-i", f"/srv/a.txt={src}/a.txt", "-i", f"/tmp/tree={src}/dir",
                "-I", str(listing),
                "--", "/bin/sh", "-c",
                "cat /srv/a.txt /tmp/tree/b.txt /tmp/l/a.txt; stat -c %U /srv/a.txt; "
                "echo more >> /srv/a.txt && echo owned")
    assert p.stdout.decode().splitlines() == ["A", "B", "A", "nobody", "owned"], p
    assert (src / "a.txt").read_text() == "A\n"   # a copy, not the file


def test_bad_options_name_option_and_value(sbx):
    p = sbx.run("-m", "nfs:/x=y", "--", "true")
    assert p.returncode == 125
    assert b"-m 'nfs:/x=y': unknown mount type 'nfs'" in p.stderr, p
    p = sbx.run("--mount", "ram:/x=12Q", "--", "true")
    assert b"--mount 'ram:/x=12Q': invalid size '12Q'" in p.stderr, p


def test_mount_point_missing_on_read_only_root(sbx):
    p = sbx.run("-m", "ram:/no-such-dir-vsb=1M", "--", "true")
    assert p.returncode == 125, p
    assert b"/no-such-dir-vsb" in p.stderr, p


def test_closed_stdout_ends_the_run(sbx):
    """virt-sandbox -- yes | head -1: ends, as yes would with SIGPIPE."""
    r, w = os.pipe()
    p = sbx.popen("--", "yes", stdout=w, stderr=subprocess.PIPE)
    os.close(w)
    assert os.read(r, 2) == b"y\n"
    os.close(r)
    p.wait(timeout=30)
    assert p.returncode == 128 + signal.SIGPIPE, p.stderr.read()
    assert not sbx.statedir.exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signal_destroys_the_sandbox(sbx, sig):
    p = sbx.popen("--", "/bin/sh", "-c", "echo started; exec sleep 1000",
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout.readline() == b"started\n"
    t0 = time.monotonic()
    p.send_signal(sig)
    p.wait(timeout=30)
    assert p.returncode == 128 + sig, p.stderr.read()
    assert time.monotonic() - t0 < 20
    assert not sbx.statedir.exists()
    # The leak check (conftest) then finds no controller, mount or cgroup.


# --------------------------------------------------------------------
# With a terminal
# --------------------------------------------------------------------

class Tty:
    """sandbox-run on a pty of ours, as in a terminal."""

    def __init__(self, argv, rows=24, cols=80):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.chdir("/")
                os.environ["TERM"] = "xterm"
                os.execv(argv[0], argv)
            finally:
                os._exit(127)
        self.resize(rows, cols)
        self.out = b""

    def resize(self, rows, cols):
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def write(self, data):
        os.write(self.fd, data)

    def expect(self, needle, timeout=20):
        deadline = time.monotonic() + timeout
        while needle not in self.out:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {needle!r}; got {self.out!r}")
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                try:
                    data = os.read(self.fd, 4096)
                except OSError:
                    data = b""
                if not data:
                    raise AssertionError(f"EOF waiting for {needle!r}; got {self.out!r}")
                self.out += data
        return self.out

    def wait(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = os.read(self.fd, 4096)
                self.out += data
            except OSError:
                pass
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.05)
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        raise AssertionError(f"did not end; output {self.out!r}")


def test_tty_prompt_and_status(sbx):
    t = Tty(sbx.argv(["--", "/bin/sh", "-i"]))
    t.expect(b"# ")
    t.write(b"tty; echo term=$TERM; exit 5\r")
    t.expect(b"term=xterm")
    assert t.wait() == 5
    assert b"/dev/pts/" in t.out


def test_tty_window_size_follows(sbx):
    script = ("stty size; trap 'stty size; exit 0' WINCH; echo waiting; "
              "i=0; while [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done; exit 1")
    t = Tty(sbx.argv(["--", "/bin/sh", "-c", script]), rows=33, cols=101)
    t.expect(b"33 101")
    t.expect(b"waiting")
    t.resize(50, 132)
    t.expect(b"50 132")
    assert t.wait() == 0


def test_tty_ctrl_bracket_detaches(sbx):
    t = Tty(sbx.argv(["--", "/bin/sh", "-c", "echo started; exec sleep 1000"]))
    t.expect(b"started")
    t.write(b"\x1d")
    assert t.wait() == 128 + signal.SIGHUP
    assert b"Detached" in t.out
    assert not sbx.statedir.exists()
