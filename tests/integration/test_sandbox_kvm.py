"""virt-sandbox -c qemu:///system: a KVM sandbox through libvirt's own
QEMU driver (Debian's libvirtd and virtlogd), end to end (issue 8).

The real tool boots the host's kernel package (the newest installed
with its modules) with the initrd it builds and caches, the host's /
shared read-only over 9p, and relays stdio over a virtio-serial port.
On these machines KVM is unusable (PVM): the tool must say so and use
TCG, so each boot takes several seconds; the tests therefore boot only
three guests, each checking several things.

The fixture starts virtlogd and libvirtd when they are not running (no
systemd here starts them) and stops what it started.  After each test
no domain of ours, no QEMU process of ours and no state directory may
remain.
"""

import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BUILDDIR, SRCDIR

VIRT_SANDBOX = BUILDDIR / "sandbox" / "virt-sandbox"
INIT = BUILDDIR / "sandbox" / "init" / "virt-sandbox-init"
SUBREAPER = SRCDIR / "tools" / "subreaper"
URI = "qemu:///system"
LIBVIRT_SOCK = "/run/libvirt/libvirt-sock"
VIRTLOGD_SOCK = "/run/libvirt/virtlogd-sock"
# A TCG boot takes 6-10 s here; a first run also extracts the kernel.
BOOT_TIMEOUT = 180


def _answers(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def _start(argv, sock):
    """Start a daemon in the foreground (its pid is ours to stop) and
    wait until its socket answers."""
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 30
    while not _answers(sock):
        if p.poll() is not None:
            pytest.fail(f"{argv[0]} exited with {p.returncode}: {p.stderr.read().decode()}")
        if time.monotonic() > deadline:
            p.kill()
            p.wait()
            pytest.fail(f"{argv[0]} did not answer at {sock} within 30 s")
        time.sleep(0.1)
    return p


def _stop(p):
    p.terminate()
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    p.stderr.close()


@pytest.fixture(scope="module")
def libvirtd():
    if os.geteuid() != 0:
        pytest.skip("qemu:///system needs root")
    for tool, pkg in (("libvirtd", "libvirt-daemon-system"), ("virtlogd", "libvirt-daemon-system"),
                      ("qemu-system-x86_64", "qemu-system-x86")):
        if not shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin"):
            pytest.skip(f"{tool} is not installed (apt-get install {pkg})")
    for p in (VIRT_SANDBOX, INIT):
        if not os.access(p, os.X_OK):
            pytest.fail(f"{p} not built")
    started = []
    try:
        if not _answers(VIRTLOGD_SOCK):
            started.append(_start(["virtlogd"], VIRTLOGD_SOCK))
        if not _answers(LIBVIRT_SOCK):
            # tools/subreaper: QEMU's zombies reaped at once, as by a
            # real init (see there).
            started.append(_start([str(SUBREAPER), "libvirtd"], LIBVIRT_SOCK))
        yield
    finally:
        for p in reversed(started):
            _stop(p)


def _qemu_pids(name):
    """QEMU processes running the domain @name (libvirt passes guest=NAME)."""
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmd and b"qemu-system" in cmd[0] and any(f"guest={name},".encode() in a or
                                                    a == f"guest={name}".encode() for a in cmd):
            pids.append(int(d.name))
    return pids


def _domains():
    out = subprocess.run(["virsh", "-c", URI, "list", "--all", "--name"], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return set(out.stdout.split())


@pytest.fixture
def sandbox(libvirtd):
    """Run virt-sandbox -c qemu:///system with a fresh name; afterwards
    neither the domain nor its QEMU may remain."""
    name = f"vsb-kvm-test-{secrets.token_hex(4)}"

    def run(*args, stdin=b""):
        env = dict(os.environ, VSB_SANDBOX_INIT=str(INIT))
        return subprocess.run([str(VIRT_SANDBOX), "-c", URI, "-n", name, *args], input=stdin,
                              capture_output=True, timeout=BOOT_TIMEOUT, env=env, cwd="/")

    yield run
    # Once the guest powered off, the tool returns without waiting for
    # libvirtd to reap QEMU and drop the domain (libvirt does it on its
    # own, polling every 200 ms; here PID 1 reaps slowly too): allow
    # for that, then nothing may remain.
    deadline = time.monotonic() + 30
    while (name in _domains() or _qemu_pids(name)) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [d for d in _domains() if d == name]
    pids = _qemu_pids(name)
    for pid in pids:
        os.kill(pid, 9)
    for d in left:
        subprocess.run(["virsh", "-c", URI, "destroy", d], capture_output=True, timeout=30)
    assert not left, f"domain {name} left behind"
    assert not pids, f"QEMU of {name} left behind: {pids}"
    # The state directory is below the build's runstatedir.
    for run in ("/run", "/var/run", "/usr/local/var/run"):
        assert not Path(f"{run}/virt-sandbox/sandbox/{name}").exists(), \
            "state directory left behind"


def _kvm_warning_ok(stderr):
    """Where KVM is unusable the tool says so, once, and why."""
    warnings = [line for line in stderr.splitlines() if "KVM is not usable" in line]
    if os.access("/dev/kvm", os.R_OK | os.W_OK):
        with open("/proc/cpuinfo") as f:
            hw = any(w in f.read().split() for w in ("vmx", "svm"))
        if hw:
            return not warnings
    return len(warnings) == 1 and "TCG" in warnings[0]


def test_stdio_apart_exit_status_stdin_and_readonly_root(sandbox):
    """One boot: stdout and stderr arrive apart, stdin is relayed (EOF
    included), the host's / is read-only, the exit status comes back,
    and the kernel is one of the host's kernel packages."""
    script = ("read line; echo \"got:$line\"; echo err >&2; "
              "if touch /vsb-kvm-must-not-exist 2>/dev/null; then echo writable; exit 9; fi; "
              "cat >/dev/null; echo eof; uname -r; exit 4")
    r = sandbox("--", "/bin/sh", "-c", script, stdin=b"hello kvm\nmore\n")
    err = r.stderr.decode()
    assert r.returncode == 4, err
    lines = r.stdout.decode().splitlines()
    assert lines[:2] == ["got:hello kvm", "eof"], r.stdout
    assert Path(f"/lib/modules/{lines[2]}/modules.dep").exists(), lines
    assert [line for line in err.splitlines() if not line.startswith("virt-sandbox: warning:")] \
        == ["err"], err
    assert _kvm_warning_ok(err), err
    assert not Path("/vsb-kvm-must-not-exist").exists()


def test_killed_by_signal(sandbox):
    r = sandbox("--", "/bin/sh", "-c", "echo before; kill -9 $$; echo after")
    assert r.returncode == 137, r.stderr
    assert r.stdout == b"before\n"


def test_guest_is_a_vm_with_its_mounts(sandbox, tmp_path):
    """The program runs in the guest (its own kernel, init as PID 1), the
    root over 9p read-only, with a ram mount of the size asked for as
    its /tmp (not the host's) and a host directory shared writable (on
    /mnt: a mount point must exist on the read-only root)."""
    share = tmp_path / "share"
    share.mkdir()
    (share / "in").write_text("from the host\n")
    marker = f"/tmp/vsb-kvm-{secrets.token_hex(4)}"
    script = (f"touch {marker} && echo tmp-ok; grep ' / ' /proc/mounts; "
              "cat /proc/1/cmdline | tr '\\0' ' '; echo; cat /proc/cmdline; "
              "grep ' /tmp ' /proc/mounts; cat /mnt/in; echo from the guest >/mnt/out")
    r = sandbox("-m", f"host-bind:/mnt={share}", "-m", "ram:/tmp=8M",
                "--", "/bin/sh", "-c", script)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode().splitlines()
    assert out[0] == "tmp-ok"
    root = out[1].split()
    assert root[2] == "9p" and "ro" in root[3].split(","), out
    assert out[2].strip() == "/init", out
    assert "vsb_vm=1" in out[3].split(), out
    tmp = out[4].split()
    assert tmp[2] == "tmpfs" and "size=8192k" in tmp[3].split(","), out
    assert out[5] == "from the host", out
    assert (share / "out").read_text() == "from the guest\n"
    assert not Path(marker).exists(), "the guest's /tmp is the host's"
