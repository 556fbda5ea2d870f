"""virt-sandboxd under systemd: its unit files, socket activation,
readiness notification; and the SELinux policy module building.

This host has no systemd as PID 1, so socket activation is driven by
systemd's own systemd-socket-activate (the same LISTEN_FDS protocol
PID 1 speaks) and readiness is read from a NOTIFY_SOCKET the test
binds, as PID 1 would.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

import conftest
from vsbdaemon import DAEMON, Daemon, _test_dir, busybox_domain

UNITS = ["virt-sandboxd.service", "virt-sandboxd.socket", "virt-sandboxd-ro.socket",
         "virt-sandbox-service@.service"]


def render_units(dest, sbindir):
    """The units as `make` renders them, naming the build tree's daemon
    and tools (systemd-analyze checks that ExecStart= exists); the
    service template also as an instance (web), as systemd loads it."""
    dest.mkdir(parents=True, exist_ok=True)
    bindir = conftest.BUILDDIR / "sandbox"
    for unit in UNITS:
        text = (conftest.SRCDIR / "systemd-units" / f"{unit}.in").read_text()
        for key, value in (("sbindir", sbindir), ("bindir", bindir), ("runstatedir", "/run")):
            text = text.replace(f"@{key}@", str(value))
        assert not re.search(r"@[a-z]+@", text), f"{unit}: substitution left: {text}"
        (dest / unit).write_text(text)
    (dest / "virt-sandbox-service@web.service").write_text(
        (dest / "virt-sandbox-service@.service").read_text())
    return [dest / u for u in UNITS + ["virt-sandbox-service@web.service"]]


def unit_keys(path):
    keys = {}
    section = None
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line.strip("[]")
        elif "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            keys.setdefault((section, k), []).append(v)
    return keys


def test_units_verify_cleanly(session_tmp):
    if not shutil.which("systemd-analyze"):
        pytest.fail("systemd-analyze is missing (Debian package systemd)")
    paths = render_units(session_tmp / "units", DAEMON.parent)
    env = dict(os.environ, SYSTEMD_LOG_LEVEL="notice", SYSTEMD_PAGER="")
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", *map(str, paths)],
                       capture_output=True, text=True, timeout=60, env=env, cwd=paths[0].parent)
    # Unknown keys and the like are only warnings (exit 0): any output fails.
    assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), \
        f"systemd-analyze verify -> {r.returncode}\n{r.stdout}{r.stderr}"

    service = unit_keys(paths[0])
    # Readiness through sd_notify; a stop signals the daemon alone: the
    # controllers (and so the containers) outlive it.
    assert service[("Service", "Type")] == ["notify"]
    assert service[("Service", "KillMode")] == ["process"]
    rw, ro = unit_keys(paths[1]), unit_keys(paths[2])
    assert rw[("Socket", "ListenStream")] == ["/run/virt-sandbox/virt-sandboxd-sock"]
    assert rw[("Socket", "SocketMode")] == ["0600"]
    assert ro[("Socket", "ListenStream")] == ["/run/virt-sandbox/virt-sandboxd-sock-ro"]
    assert ro[("Socket", "SocketMode")] == ["0666"]

    # A service sandbox's unit lives as long as its container (start
    # --foreground), and a stop by SIGTERM counts as clean.
    tool = conftest.BUILDDIR / "sandbox" / "virt-sandbox-service"
    svc = unit_keys(paths[3])
    assert svc[("Service", "ExecStart")] == [f"{tool} start --foreground %i"]
    assert svc[("Service", "ExecStop")] == [f"{tool} stop %i"]
    assert svc[("Service", "ExecReload")] == [f"{tool} reload %i"]
    assert svc[("Service", "SuccessExitStatus")] == ["143"]
    assert svc[("Unit", "Requires")] == ["virt-sandboxd.socket"]


class Notify:
    """A NOTIFY_SOCKET, as PID 1 binds it."""

    def __init__(self, path):
        self.path = path
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(str(path))
        self.s.settimeout(10)

    def expect(self, word):
        got = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            msg = self.s.recv(4096).decode()
            got.append(msg)
            if word in msg.split("\n"):
                return msg
        raise AssertionError(f"no {word} in notifications {got}")

    def close(self):
        self.s.close()
        self.path.unlink(missing_ok=True)


def test_socket_activation(request, session_tmp, leak_check, controller, root_fs):
    if not shutil.which("systemd-socket-activate"):
        pytest.fail("systemd-socket-activate is missing (Debian package systemd)")
    d = Daemon(_test_dir(request, session_tmp), start=False)
    extra = d.tmp / "extra-sock"
    notify = Notify(d.tmp / "notify")
    # Two sockets the daemon knows by path (--listen), one it does not:
    # it takes that one too, read-only because of its name.
    argv = ["systemd-socket-activate", "-l", str(d.sock), "-l", str(d.sock_ro),
            "-l", str(extra), "--fdname=rw:ro:extra-ro", "-E", f"NOTIFY_SOCKET={notify.path}",
            "--", *d.argv]
    log = open(d.log_path, "ab")
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while not (d.sock.exists() and d.sock_ro.exists() and extra.exists()):
            assert proc.poll() is None and time.monotonic() < deadline, d
            time.sleep(0.02)
        # The first connection starts it; the call is answered.
        r = subprocess.run(["virsh", "-c", d.uri, "hostname"], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0, f"{r.stderr}{d}"
        notify.expect("READY=1")
        # (--trace makes it say where it listens)
        assert f"listening at {d.sock} (from systemd)" in d.log, d
        assert "extra-ro (from systemd) (read-only)" in d.log, d

        xml = d.tmp / "act.xml"
        xml.write_text(busybox_domain("act", root_fs))
        for sock, writable in ((d.sock, True), (d.sock_ro, False), (extra, False)):
            uri = f"lxc:///system?socket={sock}"
            r = subprocess.run(["virsh", "-c", uri, "define", str(xml)], capture_output=True,
                               text=True, timeout=30)
            if writable:
                assert r.returncode == 0, f"{sock}: {r.stderr}{d}"
            else:
                assert r.returncode != 0 and "read only access prevents" in r.stderr, \
                    f"{sock}: {r.returncode} {r.stderr}{d}"
            r = subprocess.run(["virsh", "-r", "-c", uri, "list", "--all", "--name"],
                               capture_output=True, text=True, timeout=30)
            assert r.returncode == 0 and "act" in r.stdout.split(), f"{sock}: {r.stderr}{d}"

        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=15) == 0, d
        notify.expect("STOPPING=1")
        # The socket files are systemd's: left for it to remove.
        assert d.sock.exists() and d.sock_ro.exists() and extra.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        notify.close()
        for p in (d.sock, d.sock_ro, extra):
            p.unlink(missing_ok=True)
        shutil.rmtree(d.config_dir, ignore_errors=True)


def test_selinux_policy_module_builds(session_tmp):
    devel = Path("/usr/share/selinux/devel/Makefile")
    if not devel.exists():
        pytest.fail(f"{devel} is missing (Debian package selinux-policy-dev)")
    work = session_tmp / "policy"
    work.mkdir()
    for ext in ("te", "fc", "if"):
        shutil.copy(conftest.SRCDIR / "selinux-policy" / f"virt_sandbox.{ext}", work)
    r = subprocess.run(["make", "-s", "-f", str(devel), "virt_sandbox.pp"], cwd=work,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "warning" not in (r.stdout + r.stderr).lower(), r.stdout + r.stderr
    pp = work / "virt_sandbox.pp"
    assert pp.stat().st_size > 0
    # The package holds the types the daemon, the controller and the
    # tool rely on (type names are stored as plain strings).
    data = pp.read_bytes()
    for t in ("virt_sandboxd_t", "virt_sandbox_controller_t", "virt_sandbox_lxc_t",
              "virt_sandbox_init_exec_t", "virt_sandbox_file_t", "virt_sandbox_kvm_t"):
        assert t.encode() in data, f"{t} is not in the module"
