"""A private virt-sandboxd for the integration tests, and what talks to it.

Every daemon listens on its own sockets under the test's directory,
keeps its definitions, run state and logs there, runs its containers in
the session's cgroup partition, and never answers at libvirt's paths
(--no-libvirt-paths): an installed daemon is never touched.

Clients are the real ones: virsh (lxc:///system?socket=PATH),
python3-libvirt, and raw sockets for what no client would send.
"""

import os
import re
import select
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

import conftest

DAEMON = conftest.BUILDDIR / "driver" / "daemon" / "virt-sandboxd"

PROG_REMOTE = 0x20008086
PROG_LXC = 0x00068000
PROG_KEEPALIVE = 0x6B656570
CALL, REPLY, MESSAGE, STREAM, CALL_WITH_FDS, REPLY_WITH_FDS = 0, 1, 2, 3, 4, 5
OK, ERROR, CONTINUE = 0, 1, 2


class Daemon:
    """virt-sandboxd started on private paths; stop() or kill() it."""

    def __init__(self, tmp, extra=(), start=True, libvirt_dir=None):
        self.tmp = Path(tmp)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.sock = self.tmp / "sock"
        self.sock_ro = self.tmp / "sock-ro"
        self.run_dir = self.tmp / "run"
        self.config_dir = self.tmp / "config"
        self.log_dir = self.tmp / "log"
        self.log_path = self.tmp / "daemon.log"
        self.extra = list(extra)
        # libvirt's paths only where the test says (never /run/libvirt)
        self.libvirt_dir = libvirt_dir
        self.proc = None
        if start:
            self.start()

    @property
    def argv(self):
        return [str(DAEMON), "--listen", str(self.sock), "--listen", f"{self.sock_ro},ro",
                "--run-dir", str(self.run_dir), "--config-dir", str(self.config_dir),
                "--log-dir", str(self.log_dir), "--controller", str(conftest.CONTROLLER),
                "--cgroup-partition", conftest.PARTITION, "--trace",
                *(["--libvirt-socket-dir", str(self.libvirt_dir)] if self.libvirt_dir
                  else ["--no-libvirt-paths"]),
                *self.extra]

    def start(self, timeout=10):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"virt-sandboxd exited with {self.proc.returncode}{self}")
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.connect(str(self.sock))
                return self
            except OSError:
                time.sleep(0.02)
        raise AssertionError(f"virt-sandboxd does not answer{self}")

    @property
    def uri(self):
        return f"lxc:///system?socket={self.sock}"

    @property
    def uri_ro(self):
        return f"lxc:///system?socket={self.sock_ro}"

    @property
    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def __str__(self):
        return f"\n$ {' '.join(self.argv)}\n--- daemon log (tail) ---\n{self.log[-6000:]}"

    __repr__ = __str__

    def fd_count(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def settled_fd_count(self):
        """The fd count once connections that just ended are closed."""
        last = self.fd_count()
        while True:
            time.sleep(0.1)
            now = self.fd_count()
            if now == last:
                return now
            last = now

    def wait_fd_count(self, n, timeout=5):
        """Until the daemon holds @n fds again (connections it dropped
        are closed from its main loop, a moment later)."""
        deadline = time.monotonic() + timeout
        while self.fd_count() != n:
            if time.monotonic() > deadline:
                fds = {f: os.readlink(f"/proc/{self.proc.pid}/fd/{f}")
                       for f in os.listdir(f"/proc/{self.proc.pid}/fd")}
                raise AssertionError(f"daemon holds {len(fds)} fds, not {n}: {fds}{self}")
            time.sleep(0.05)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def virsh(self, *args, ro=False, check=True, timeout=60, input=None):
        argv = ["virsh", "-q", "-c", self.uri_ro if ro else self.uri]
        if ro:
            argv.insert(1, "-r")
        argv += [str(a) for a in args]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input)
        if check and r.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} -> {r.returncode}\nstdout: {r.stdout}\n"
                                 f"stderr: {r.stderr}{self}")
        return r

    def domains(self):
        """{name: state} of `virsh list --all`."""
        out = {}
        for line in self.virsh("list", "--all").stdout.splitlines():
            parts = line.split(None, 2)
            if len(parts) == 3:
                out[parts[1]] = parts[2].strip()
        return out

    def wait_state(self, name, state, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.domains().get(name)
            if got == state:
                return
            time.sleep(0.1)
        raise AssertionError(f"{name} is {self.domains().get(name)!r}, not {state!r}{self}")

    def stop(self, timeout=15):
        """SIGTERM: sockets removed, containers left running."""
        if not self.alive():
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"virt-sandboxd ignored SIGTERM{self}")
        # 0, or the sanitizers (an --enable-asan build) found something
        if self.proc.returncode != 0:
            raise AssertionError(f"virt-sandboxd exited with {self.proc.returncode}{self}")

    def kill(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()

    def destroy_all(self):
        """Destroy every running domain (teardown), through the daemon."""
        if not self.alive():
            return
        for name, state in self.domains().items():
            if state != "shut off":
                self.virsh("destroy", name, check=False)


_loop_started = False


def event_loop():
    """libvirt's default event loop in a thread (once per process):
    python3-libvirt needs one for events and keepalive."""
    global _loop_started
    if _loop_started:
        return
    import threading

    import libvirt
    libvirt.virEventRegisterDefaultImpl()

    def run():
        while True:
            libvirt.virEventRunDefaultImpl()

    threading.Thread(target=run, daemon=True, name="libvirt-events").start()
    _loop_started = True


# --------------------------------------------------------------------
# Raw protocol, for what the real clients never send
# --------------------------------------------------------------------

def xdr_string(s):
    b = s.encode()
    return struct.pack(">I", len(b)) + b + b"\0" * ((4 - len(b) % 4) % 4)


def frame(proc, serial, payload=b"", prog=PROG_REMOTE, vers=1, type_=CALL, status=OK):
    body = struct.pack(">IIiiIi", prog, vers, proc, type_, serial, status) + payload
    return struct.pack(">I", 4 + len(body)) + body


class RawClient:
    """A unix socket speaking frames by hand."""

    def __init__(self, path, timeout=10):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(str(path))
        self.serial = 0

    def close(self):
        self.s.close()

    def send(self, data):
        self.s.sendall(data)

    def _recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            if not chunk:
                raise EOFError(f"end of file after {len(buf)} of {n} bytes")
            buf += chunk
        return buf

    def recv_frame(self):
        """(prog, vers, proc, type, serial, status, payload)"""
        length = struct.unpack(">I", self._recv_exact(4))[0]
        data = self._recv_exact(length - 4)
        return struct.unpack(">IIiiIi", data[:24]) + (data[24:],)

    def call(self, proc, payload=b"", prog=PROG_REMOTE):
        serial = self.serial
        self.serial += 1
        self.send(frame(proc, serial, payload, prog=prog))
        while True:
            f = self.recv_frame()
            if f[3] in (REPLY, REPLY_WITH_FDS) and f[4] == serial:
                return f

    def open(self, name="lxc:///system", flags=0):
        self.call(66)
        f = self.call(1, struct.pack(">I", 1) + xdr_string(name) + struct.pack(">I", flags))
        assert f[5] == OK, f
        return f

    def closed_by_peer(self, timeout=10):
        """True once the daemon has closed this connection."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.s], [], [], 0.1)
            if r:
                try:
                    if not self.s.recv(65536):
                        return True
                except (ConnectionResetError, BrokenPipeError):
                    return True
        return False


def error_of(payload):
    """(code, domain, message) of a remote_error payload."""
    code, domain, has_msg = struct.unpack(">iiI", payload[:12])
    msg = None
    if has_msg:
        n = struct.unpack(">I", payload[12:16])[0]
        msg = payload[16:16 + n].decode()
    return code, domain, msg


# --------------------------------------------------------------------
# virsh console through a pty
# --------------------------------------------------------------------

class Console:
    """`virsh console NAME` on a pty: send lines, expect output, detach."""

    def __init__(self, daemon, name, force=False):
        import pty
        argv = ["virsh", "-c", daemon.uri, "console", name] + (["--force"] if force else [])
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.execvp("virsh", argv)
            finally:
                os._exit(127)
        self.buf = b""

    def expect(self, pattern, timeout=10):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while not rx.search(self.buf):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"console: no {pattern!r} in {self.buf!r}")
            r, _, _ = select.select([self.fd], [], [], min(left, 0.2))
            if r:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"console: EOF waiting for {pattern!r}; got {self.buf!r}")
                self.buf += chunk
        return self.buf

    def wait_raw(self, timeout=10):
        """Until virsh has put the terminal in raw mode: what is typed
        before is flushed away by that switch."""
        import termios
        deadline = time.monotonic() + timeout
        while termios.tcgetattr(self.fd)[3] & termios.ICANON:
            if time.monotonic() > deadline:
                raise AssertionError(f"virsh console never made the tty raw; got {self.buf!r}")
            time.sleep(0.01)

    def send(self, data):
        self.wait_raw()
        os.write(self.fd, data)

    def detach(self, timeout=10):
        """Ctrl-] and wait for virsh to exit; returns its status."""
        self.send(b"\x1d")
        return self.wait(timeout)

    def wait(self, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
            r, _, _ = select.select([self.fd], [], [], 0.1)
            if r:
                try:
                    self.buf += os.read(self.fd, 4096)
                except OSError:
                    pass
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        os.close(self.fd)
        raise AssertionError(f"virsh console did not exit; output {self.buf!r}")


# --------------------------------------------------------------------
# Fixtures (import them into a test module to use them)
# --------------------------------------------------------------------

import pytest  # noqa: E402


def _test_dir(request, session_tmp):
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)[:40]
    return session_tmp / f"d-{name}"


@pytest.fixture
def daemon(request, leak_check, session_tmp, controller):
    """A private virt-sandboxd; its domains are destroyed and it is
    stopped at the end (before the leak check), its sockets gone."""
    if not os.access(DAEMON, os.X_OK):
        pytest.fail(f"virt-sandboxd not built: {DAEMON} does not exist")
    d = Daemon(_test_dir(request, session_tmp))
    try:
        yield d
    finally:
        try:
            d.destroy_all()
        finally:
            d.stop()
        for p in (d.sock, d.sock_ro):
            assert not p.exists(), f"{p} left behind{d}"


def busybox_domain(name, root_fs, init="/bin/sh", args=(), **kw):
    """A domain on the busybox root; a shell on the console by default."""
    return conftest.domain_xml(name, init=init, args=args, filesystems=[root_fs], **kw)


# A shell as init ignores SIGTERM (libvirt's shutdown signal for it)
# unless it traps it: this one powers off on SIGTERM.
TRAPPING_INIT = ("-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done")


def wait_term_trapped(pid, timeout=20):
    """Until TRAPPING_INIT (host pid @pid) has its SIGTERM handler: a
    shutdown sent before the shell ran `trap` would be ignored (a
    namespace's init ignores signals it does not handle), which a loaded
    machine makes likely right after the start."""
    bit = 1 << (signal.SIGTERM - 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/status") as f:
            caught = next(int(line.split()[1], 16) for line in f if line.startswith("SigCgt:"))
        if caught & bit:
            return
        time.sleep(0.02)
    raise AssertionError(f"init {pid} never trapped SIGTERM")
