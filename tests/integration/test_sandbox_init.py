"""virt-sandbox-init under the real controller, driven through the stdio
protocol (sandbox/vsb-stdio-proto.h) by an independent implementation
in Python: the controller's stdin and stdout are the container's
console, init's channel.

Each test writes init's config (sandbox/vsb-init-config.h) into a
directory shared read-only at /run/virt-sandbox/config, binds the
built init at /run/virt-sandbox/init, and runs the container with the
host's / as its read-only root and tmpfs on /tmp and /run, as the
builder's domains have.
"""

import os
import queue
import select
import shutil
import signal
import struct
import subprocess
import threading
import time
import zlib
from dataclasses import dataclass, field
import pytest

from conftest import BUILDDIR, domain_xml, fs_mount, fs_ram

INIT = BUILDDIR / "sandbox" / "init" / "virt-sandbox-init"

# --------------------------------------------------------------------
# The protocol, written from its header, not from the C code
# --------------------------------------------------------------------

MAGIC = b"\xf9VSB"
READY, STDOUT, STDERR, EXIT, LOG = 1, 2, 3, 4, 5
START, STDIN, STDIN_EOF, WINSIZE, EXIT_ACK = 16, 17, 18, 19, 20
KEEPALIVE = 32
MAX_PAYLOAD = 16384


def frame(ftype, payload=b""):
    head = MAGIC + struct.pack(">BBH", ftype, 0, len(payload))
    return (head + struct.pack(">I", zlib.crc32(head)) + payload
            + struct.pack(">I", zlib.crc32(payload)))


def start_frame(tty=False, rows=0, cols=0):
    return frame(START, struct.pack(">IHH", 1 if tty else 0, rows, cols))


class Decoder:
    """Frames out of a byte stream; anything else is counted as noise."""

    def __init__(self):
        self.buf = b""
        self.noise = 0

    def feed(self, data):
        self.buf += data
        out = []
        while self.buf:
            i = self.buf.find(MAGIC[:1])
            if i < 0:
                self.noise += len(self.buf)
                self.buf = b""
                break
            self.noise += i
            self.buf = self.buf[i:]
            if len(self.buf) < 12:
                if not MAGIC.startswith(self.buf[:4]):
                    self._skip()
                    continue
                break
            ftype, _flags, n = struct.unpack(">BBH", self.buf[4:8])
            if (self.buf[:4] != MAGIC or n > MAX_PAYLOAD
                    or struct.unpack(">I", self.buf[8:12])[0] != zlib.crc32(self.buf[:8])):
                self._skip()
                continue
            if len(self.buf) < 16 + n:
                break
            payload = self.buf[12:12 + n]
            if struct.unpack(">I", self.buf[12 + n:16 + n])[0] != zlib.crc32(payload):
                self._skip()
                continue
            out.append((ftype, payload))
            self.buf = self.buf[16 + n:]
        return out

    def _skip(self):
        self.buf = self.buf[1:]
        self.noise += 1


def escape(value):
    """A field of init's config: bytes outside '!'..'~' and '\\' as \\xHH."""
    out = []
    for b in value.encode() if isinstance(value, str) else value:
        out.append(chr(b) if 0x21 <= b <= 0x7e and b != 0x5c else f"\\x{b:02x}")
    return "".join(out)


def init_config(argv, uid=0, gid=0, user="root", home="/root", cwd="/", privileged=True,
                env=(), groups=(), extra=()):
    lines = ["virt-sandbox-init 1", "debug 0", f"uid {uid}", f"gid {gid}",
             "groups" + "".join(f" {g}" for g in groups), f"user {escape(user)}",
             f"home {escape(home)}", f"cwd {escape(cwd)}", f"privileged {int(privileged)}"]
    lines += [f"env {escape(e)}" for e in env]
    lines += [f"arg {escape(a)}" if a else "arg" for a in argv]
    lines += list(extra)
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------
# A session: the controller running init, and us speaking to it
# --------------------------------------------------------------------

@dataclass
class Session:
    frames: list = field(default_factory=list)
    stdout: bytes = b""
    stderr: bytes = b""
    log: bytes = b""
    exit: tuple = None                # (how, core, value)
    controller_status: int = None
    controller_stderr: str = ""
    noise: int = 0
    readies: int = 0

    @property
    def status(self):
        if self.exit is None:
            return None
        how, _core, value = self.exit
        return 128 + value if how == 2 else value

    def __str__(self):
        return (f"\nexit={self.exit} status={self.status} controller={self.controller_status}"
                f"\n--- stdout ---\n{self.stdout!r}\n--- stderr ---\n{self.stderr!r}"
                f"\n--- log ---\n{self.log!r}\n--- controller stderr ---\n"
                f"{self.controller_stderr}\nnoise={self.noise} readies={self.readies}")

    __repr__ = __str__


def run_init(vsb, config_text, stdin=b"", tty=False, rows=24, cols=80, start_delay=0.0,
             before_start=b"", on_output=None, timeout=30, ack=True, stage=None):
    """Run init in a container; speak the protocol.  @stdin (None: no
    STDIN_EOF either) is sent after START; @on_output(session, send) is
    called on each output frame; @stage(dir) may add files to the config
    directory (seen at /run/virt-sandbox/config).  Returns a Session."""
    name = f"vsbt-init-{len(vsb.containers)}-{os.getpid()}-{time.monotonic_ns() % 100000}"
    confdir = vsb.tmp / f"{name}-config"
    confdir.mkdir(parents=True)
    (confdir / "init.conf").write_text(config_text)
    if stage:
        stage(confdir)
    xml = domain_xml(name, init="/run/virt-sandbox/init",
                     filesystems=[fs_ram("/tmp", 16 * 1024), fs_ram("/run", 16 * 1024),
                                  fs_mount(confdir, "/run/virt-sandbox/config", readonly=True),
                                  fs_mount(INIT, "/run/virt-sandbox/init", readonly=True)])
    path = vsb.write_xml(xml, name)
    argv = vsb.argv(path)
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    s = Session()
    dec = Decoder()
    started = False
    first_ready = None
    out_fd = p.stdout.fileno()
    err_chunks = []
    os.set_blocking(out_fd, False)
    os.set_blocking(p.stderr.fileno(), False)

    # Writes go through a thread: a blocking write must never stop us
    # reading, or init, the program and we would wait on each other.
    outq = queue.Queue()

    def writer():
        while True:
            data = outq.get()
            if data is None:
                break
            try:
                p.stdin.write(data)
                p.stdin.flush()
            except (BrokenPipeError, ValueError):
                pass
        try:
            p.stdin.close()
        except (BrokenPipeError, ValueError):
            pass

    wthread = threading.Thread(target=writer, daemon=True)
    wthread.start()

    def send(data):
        outq.put(data)

    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out{s}")
            if first_ready is not None and not started and \
                    time.monotonic() >= first_ready + start_delay:
                send(before_start + start_frame(tty, rows, cols))
                started = True
                if stdin is not None:
                    for i in range(0, len(stdin), 4096):
                        send(frame(STDIN, stdin[i:i + 4096]))
                    send(frame(STDIN_EOF))
            r, _, _ = select.select([out_fd, p.stderr.fileno()], [], [], min(left, 0.05))
            if p.stderr.fileno() in r:
                chunk = os.read(p.stderr.fileno(), 65536)
                if chunk:
                    err_chunks.append(chunk)
            if out_fd not in r:
                if p.poll() is not None and not select.select([out_fd], [], [], 0)[0]:
                    break
                continue
            data = os.read(out_fd, 65536)
            if not data:
                break
            for ftype, payload in dec.feed(data):
                s.frames.append((ftype, payload))
                if ftype == READY:
                    s.readies += 1
                    if first_ready is None:
                        first_ready = time.monotonic()
                elif ftype == STDOUT:
                    s.stdout += payload
                elif ftype == STDERR:
                    s.stderr += payload
                elif ftype == LOG:
                    s.log += payload
                elif ftype == EXIT:
                    s.exit = struct.unpack(">BBHI", payload)
                    s.exit = (s.exit[0], s.exit[1], s.exit[3])
                    if ack:
                        send(frame(EXIT_ACK))
                if on_output and ftype in (STDOUT, STDERR):
                    on_output(s, send)
        outq.put(None)
        s.controller_status = p.wait(timeout=20)
    finally:
        outq.put(None)
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        rest = p.stderr.read() if p.stderr else b""
        s.controller_stderr = b"".join(err_chunks + [rest or b""]).decode(errors="replace")
    s.noise = dec.noise
    return s


@pytest.fixture(autouse=True)
def need_init():
    if not os.access(INIT, os.X_OK):
        pytest.fail(f"{INIT} not built")


# --------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------

def test_stdout_stderr_status(vsb):
    s = run_init(vsb, init_config(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"]))
    assert s.stdout == b"out\n", s
    assert s.stderr == b"err\n", s
    assert s.status == 3, s
    assert s.controller_status == 3, s
    assert s.noise == 0, s


def test_signal_status(vsb):
    s = run_init(vsb, init_config(["/bin/sh", "-c", "kill -9 $$"]))
    assert s.exit == (2, 0, 9), s
    assert s.status == 137, s
    assert s.controller_status == 137, s


def test_stdin(vsb):
    s = run_init(vsb, init_config(["sort", "-r"]), stdin=b"a\nb\nc\n")
    assert s.stdout == b"c\nb\na\n", s
    assert s.status == 0, s


def test_stdin_large_and_output_large(vsb):
    """1 MiB through stdin and back: nothing lost, nothing reordered."""
    data = bytes(range(256)) * 4096
    s = run_init(vsb, init_config(["cat"]), stdin=data)
    assert len(s.stdout) == len(data), s.status
    assert s.stdout == data
    assert s.status == 0


def test_output_before_exit_not_lost(vsb):
    """Output written just before the program dies reaches the tool."""
    script = "i=0; while [ $i -lt 2000 ]; do echo line$i; i=$((i+1)); done; kill -9 $$"
    s = run_init(vsb, init_config(["/bin/sh", "-c", script]))
    lines = s.stdout.decode().splitlines()
    assert lines == [f"line{i}" for i in range(2000)], s.exit
    assert s.status == 137


def test_ready_repeated_until_start(vsb):
    """A tool attaching late still sees READY; the program has not run."""
    s = run_init(vsb, init_config(["/bin/sh", "-c", "echo ran"]), start_delay=0.6)
    assert s.readies >= 2, s
    assert s.stdout == b"ran\n", s
    # Nothing but READY came before START.
    before = [f for f in s.frames[:s.readies]]
    assert all(t == READY for t, _ in before), s


def test_noise_on_the_channel(vsb):
    """Garbage the console may carry (a ^D, a false magic, a damaged
    frame) is skipped; init goes on with the frames that follow."""
    bad = bytearray(frame(STDIN, b"lost"))
    bad[14] ^= 0xff
    garbage = b"\x04hello\r\n" + MAGIC + b"\x11\x00\x40\x00junk" + bytes(bad)
    s = run_init(vsb, init_config(["cat"]), stdin=b"kept\n", before_start=garbage)
    assert s.stdout == b"kept\n", s
    assert s.status == 0, s


def test_config_error(vsb):
    s = run_init(vsb, "virt-sandbox-init 1\nbogus directive\narg /bin/true\n")
    assert s.status == 125, s
    assert b"unknown directive 'bogus'" in s.log, s
    assert s.stdout == b"" and s.stderr == b"", s


def test_not_found_and_not_executable(vsb):
    s = run_init(vsb, init_config(["/nonexistent/program"]))
    assert s.status == 127, s
    assert b"cannot run /nonexistent/program: No such file or directory" in s.log, s
    s = run_init(vsb, init_config(["/etc/passwd"]))
    assert s.status == 126, s
    assert b"Permission denied" in s.log, s


def test_program_is_not_pid1(vsb):
    """init is PID 1; the program is its child, so a signal from inside
    kills it (a PID 1 would ignore SIGKILL)."""
    s = run_init(vsb, init_config(["/bin/sh", "-c", "echo pid=$$; kill -9 $$; echo survived"]))
    pid = int(s.stdout.decode().split("=")[1])
    assert pid != 1, s
    assert s.status == 137, s


def test_background_child_does_not_hold_exit(vsb):
    t0 = time.monotonic()
    s = run_init(vsb, init_config(["/bin/sh", "-c", "sleep 100 & echo started"]))
    assert s.stdout == b"started\n", s
    assert s.status == 0, s
    assert time.monotonic() - t0 < 15, s


def test_identity_unprivileged(vsb):
    script = ("id -u; id -g; id -G; echo $HOME $USER; pwd; "
              "grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status")
    s = run_init(vsb, init_config(["/bin/sh", "-c", script], uid=65534, gid=65534,
                                  groups=(65533,), user="nobody", home="/nonexistent",
                                  cwd="/tmp", privileged=False, env=["A=b c"]))
    lines = s.stdout.decode().splitlines()
    assert lines[0] == "65534" and lines[1] == "65534", s
    assert set(lines[2].split()) == {"65534", "65533"}, s
    assert lines[3] == "/nonexistent nobody", s
    assert lines[4] == "/tmp", s
    caps = dict(ln.split(":\t") for ln in lines[5:])
    assert int(caps["CapEff"], 16) == 0 and int(caps["CapBnd"], 16) == 0, s
    assert caps["NoNewPrivs"] == "1", s


def test_root_unprivileged_has_no_capabilities(vsb):
    s = run_init(vsb, init_config(["/bin/sh", "-c", "id -u; grep CapEff /proc/self/status"],
                                  privileged=False))
    lines = s.stdout.decode().splitlines()
    assert lines[0] == "0", s
    assert int(lines[1].split()[1], 16) == 0, s


def test_environment(vsb):
    s = run_init(vsb, init_config(["/usr/bin/env"], env=["GREETING=hello world", "HOME=/x",
                                                         "EMPTY="], home="/root"))
    env = dict(ln.split("=", 1) for ln in s.stdout.decode().splitlines())
    assert env["GREETING"] == "hello world", s
    assert env["HOME"] == "/x", s
    assert env["EMPTY"] == "", s
    assert env["USER"] == "root", s
    assert "PATH" in env, s


def test_arguments_carry_any_byte(vsb):
    args = ["a b", "line1\nline2", "back\\slash", "", "é;x", "--"]
    s = run_init(vsb, init_config(["/usr/bin/printf", "[%s]"] + args))
    assert s.stdout.decode() == "".join(f"[{a}]" for a in args), s


def test_setattr_and_include(vsb):
    src = vsb.tmp / "inc-src"
    (src / "sub").mkdir(parents=True)
    (src / "file.txt").write_text("included\n")
    (src / "sub" / "deep.txt").write_text("deep\n")
    os.symlink("file.txt", src / "link")
    os.chmod(src / "file.txt", 0o640)
    extra = ["setattr /tmp 1777 0 0",
             "include /run/virt-sandbox/config/src /tmp/a/b/copy"]
    script = ("stat -c '%a %U' /tmp /tmp/a /tmp/a/b/copy/file.txt; "
              "cat /tmp/a/b/copy/file.txt /tmp/a/b/copy/sub/deep.txt; "
              "readlink /tmp/a/b/copy/link; touch /tmp/mine && echo writable")
    config = init_config(["/bin/sh", "-c", script], uid=65534, gid=65534, user="nobody",
                         privileged=False, extra=extra)
    s = run_init(vsb, config, stage=lambda d: shutil.copytree(src, d / "src", symlinks=True))
    lines = s.stdout.decode().splitlines()
    assert lines[0] == "1777 root", s
    assert lines[1] == "755 nobody", s
    assert lines[2] == "640 nobody", s
    assert lines[3:5] == ["included", "deep"], s
    assert lines[5] == "file.txt", s
    assert lines[6] == "writable", s


def test_tty(vsb):
    script = "test -t 0 && test -t 1 && echo tty; stty size; echo err >&2"
    s = run_init(vsb, init_config(["/bin/sh", "-c", script]), tty=True, rows=33, cols=101)
    out = s.stdout.replace(b"\r\n", b"\n")
    # With a terminal, stdout and stderr are one stream.
    assert out == b"tty\n33 101\nerr\n", s
    assert s.stderr == b"", s
    assert s.status == 0, s


def test_tty_window_size_follows(vsb):
    """WINSIZE resizes the program's terminal, which gets SIGWINCH."""
    script = ("trap 'stty size; touch /tmp/done' WINCH; echo ready; "
              "i=0; while [ $i -lt 100 ] && [ ! -e /tmp/done ]; do sleep 0.1; i=$((i+1)); done")
    sent = []

    def on_output(sess, send):
        if b"ready" in sess.stdout and not sent:
            sent.append(1)
            send(frame(WINSIZE, struct.pack(">HH", 50, 132)))

    s = run_init(vsb, init_config(["/bin/sh", "-c", script]), tty=True, rows=24, cols=80,
                 stdin=None, on_output=on_output)
    out = s.stdout.replace(b"\r\n", b"\n")
    assert b"50 132\n" in out, s
    assert s.status == 0, s


def test_tty_stdin_eof(vsb):
    """STDIN_EOF with a terminal is the terminal's EOF character."""
    s = run_init(vsb, init_config(["cat"]), tty=True, stdin=b"typed\n")
    out = s.stdout.replace(b"\r\n", b"\n")
    assert out == b"typed\ntyped\n", s   # the terminal echoes, cat repeats
    assert s.status == 0, s


def test_no_ack_still_ends(vsb):
    """A tool that never acknowledges EXIT does not keep the sandbox."""
    t0 = time.monotonic()
    s = run_init(vsb, init_config(["/bin/true"]), ack=False)
    assert s.status == 0, s
    assert s.controller_status == 0, s
    assert time.monotonic() - t0 < 15, s
