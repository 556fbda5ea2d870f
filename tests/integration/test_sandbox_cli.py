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

import os
import signal
import subprocess
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
