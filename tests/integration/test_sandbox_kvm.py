"""virt-sandbox -c qemu:///system: a KVM sandbox through libvirt's own
QEMU driver (Debian's libvirtd and virtlogd), end to end (issue 8).

The real tool boots the host's kernel package (the newest installed
with its modules) with the initrd it builds and caches, the host's /
shared read-only over 9p, and relays stdio over a virtio-serial port.
On these machines KVM is unusable (PVM): the tool must say so and use
TCG, so each boot takes several seconds; the tests therefore boot only
nine guests, each checking several things (stdio and exit status, a
signal, the 9p mounts, the clock offset with the guest's cgroup v2,
disks, another root with -r, a virtiofs share with --shell,
qemu:///session as an ordinary user), one of them running issue 5's
resource tests inside the guest (about three minutes under TCG).

The fixture starts virtlogd and libvirtd when they are not running (no
systemd here starts them) and stops what it started.  After each test
no domain of ours, no QEMU process of ours and no state directory may
remain.
"""

import os
import pwd
import re
import secrets
import select
import shutil
import socket
import subprocess
import time
import xml.etree.ElementTree as ET
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

    def run(*args, stdin=b"", timeout=BOOT_TIMEOUT, cwd="/"):
        env = dict(os.environ, VSB_SANDBOX_INIT=str(INIT))
        return subprocess.run([str(VIRT_SANDBOX), "-c", URI, "-n", name, *args], input=stdin,
                              capture_output=True, timeout=timeout, env=env, cwd=cwd)

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


def _installed_kernel():
    """(version, image) of the newest /boot/vmlinuz-* with its modules."""
    found = [p.name[len("vmlinuz-"):] for p in Path("/boot").glob("vmlinuz-*")
             if Path(f"/lib/modules/{p.name[len('vmlinuz-'):]}/modules.dep").exists()]
    if not found:
        pytest.skip("no kernel package with its modules (apt-get install linux-image-amd64)")
    version = max(found, key=lambda v: [(0, int(x), "") if x.isdigit() else (1, 0, x)
                                        for x in v.replace("-", ".").split(".")])
    return version, f"/boot/vmlinuz-{version}"


def test_guest_is_a_vm_with_its_mounts(sandbox, tmp_path):
    """The program runs in the guest (its own kernel, init as PID 1), the
    root over 9p read-only, with a ram mount of the size asked for as
    its /tmp (not the host's) and a host directory shared writable (on
    /mnt: a mount point must exist on the read-only root).  The kernel
    is the one --kernpath names (its version read from the image, its
    modules from --kmodpath), with --vcpus CPUs and --memory of RAM."""
    version, image = _installed_kernel()
    share = tmp_path / "share"
    share.mkdir()
    (share / "in").write_text("from the host\n")
    marker = f"/tmp/vsb-kvm-{secrets.token_hex(4)}"
    script = (f"touch {marker} && echo tmp-ok; grep ' / ' /proc/mounts; "
              "cat /proc/1/cmdline | tr '\\0' ' '; echo; cat /proc/cmdline; "
              "grep ' /tmp ' /proc/mounts; cat /mnt/in; echo from the guest >/mnt/out; "
              "uname -r; nproc; grep MemTotal /proc/meminfo")
    r = sandbox("-m", f"host-bind:/mnt={share}", "-m", "ram:/tmp=8M", "--kernpath", image,
                "--kmodpath", "/lib/modules", "--vcpus", "2", "--memory", "384M",
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
    assert out[6:8] == [version, "2"], out
    # The kernel keeps some of the 384 MiB for itself.
    mem_kib = int(out[8].split()[1])
    assert 300 * 1024 < mem_kib <= 384 * 1024, out


def test_clock_offset_and_cgroup2(sandbox):
    """One boot: --clock-offset moves the guest's realtime clock by that
    many seconds from the host's (libvirt's variable clock), and the
    guest has its own cgroup v2 hierarchy with every controller: a child
    group whose memory.max is set takes effect (a program above it is
    OOM-killed, memory.events counts it), as the resource tests expect
    of a pure cgroup v2 host."""
    offset = 86400 * 3 + 1234
    cg = "/sys/fs/cgroup/vsb-test"
    script = (f"date +%s; cat /sys/fs/cgroup/cgroup.controllers; grep ' /sys/fs/cgroup ' /proc/mounts; "
              f"mkdir {cg} && echo +memory +pids > /sys/fs/cgroup/cgroup.subtree_control && "
              f"echo 16777216 > {cg}/memory.max && echo 0 > {cg}/memory.swap.max; "
              f"cat {cg}/memory.max; "
              # a shell in the group reads a 64 MiB line: tail keeps it all
              f"sh -c 'echo $$ > {cg}/cgroup.procs; head -c 67108864 /dev/zero | tail -n 1 >/dev/null'; "
              f"echo hog=$?; grep oom_kill {cg}/memory.events")
    before = time.time()
    r = sandbox("-p", f"--clock-offset={offset}", "--", "/bin/sh", "-c", script)
    after = time.time()
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode().splitlines()
    guest = int(out[0])
    # The guest read its clock between our two readings (plus boot).
    assert before + offset - 2 <= guest <= after + offset + 2, (before, guest, after)
    assert {"memory", "pids", "cpu", "io"} <= set(out[1].split()), out
    assert out[2].split()[2] == "cgroup2", out
    assert out[3] == "16777216", out
    assert out[4] == "hog=137", out
    assert int(out[5].split()[1]) >= 1, out


def _mkfs(path, files):
    """An ext4 image of 16 MiB holding @files (name -> text)."""
    src = path.parent / (path.name + ".d")
    src.mkdir()
    for name, text in files.items():
        (src / name).write_text(text)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(src), str(path), "16M"], check=True,
                   capture_output=True)
    shutil.rmtree(src)


def test_host_images_disk_and_missing_targets(sandbox, tmp_path):
    """One boot: a raw and a qcow2 ext4 image mounted as virtio disks
    (libvirt's driver type each), writable (the raw image holds the
    guest's file afterwards), on targets that do not exist on the
    read-only / (made on an overlay of /opt, whose contents stay
    visible, the host's /opt untouched), and a --disk reachable by its
    tag."""
    raw = tmp_path / "raw.img"
    qcow = tmp_path / "img.qcow2"
    scratch = tmp_path / "scratch.img"
    _mkfs(raw, {"hello": "raw image\n"})
    _mkfs(tmp_path / "q.raw", {"hello": "qcow2 image\n"})
    subprocess.run(["qemu-img", "convert", "-O", "qcow2", str(tmp_path / "q.raw"), str(qcow)],
                   check=True, capture_output=True)
    scratch.write_bytes(b"\0" * (1 << 20))
    top = f"/opt/vsb-kvm-{secrets.token_hex(4)}"
    opt_entries = sorted(os.listdir("/opt"))
    script = (f"cat {top}/raw/hello {top}/q/hello; grep ' {top}/' /proc/mounts | cut -d' ' -f3; "
              f"echo from the guest > {top}/raw/out; ls /opt | grep -v vsb-kvm-; "
              "readlink /dev/disk/by-tag/scratch; "
              "blockdev --getsize64 /dev/disk/by-tag/scratch")
    r = sandbox("-p", "-m", f"host-image:{top}/raw={raw}", "-m", f"host-image:{top}/q={qcow}",
                "--disk", f"file:scratch={scratch},format=raw", "--", "/bin/sh", "-c", script)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode().splitlines()
    assert out[:4] == ["raw image", "qcow2 image", "ext4", "ext4"], out
    n = len(opt_entries)
    assert out[4:4 + n] == opt_entries, out
    assert out[4 + n].startswith("../../vd"), out
    assert out[5 + n] == str(1 << 20), out
    assert not Path(top).exists(), "the guest created its mount target on the host"
    dump = subprocess.run(["debugfs", "-R", "cat /out", str(raw)], capture_output=True,
                          text=True, check=True)
    assert dump.stdout == "from the guest\n", dump


def _root_dir(busybox_root, path):
    """A copy of the busybox root with what a KVM sandbox mounts on
    (/dev, /proc, /sys, /run, /tmp, /var/tmp: the root is read-only)."""
    shutil.copytree(busybox_root, path, symlinks=True)
    for d in ("run", "var/tmp"):
        (path / d).mkdir(parents=True, exist_ok=True)
    return path


def test_root_dir(sandbox, busybox_root, tmp_path):
    """One boot with -r DIR: a busybox root made here is the guest's /
    (9p, read-only) in place of the host's, so its marker is there and
    the host's files are not; /tmp is private and writable; the caller's
    working directory, missing from DIR, falls back to the home
    directory found there (as in an LXC sandbox); the exit status comes
    back."""
    root = _root_dir(busybox_root, tmp_path / "root")
    # The sandbox's identity is the caller's (sudo's caller's, under sudo).
    home = pwd.getpwuid(int(os.environ.get("SUDO_UID", os.getuid()))).pw_dir
    (root / home.lstrip("/")).mkdir(parents=True, exist_ok=True)
    marker = f"vsb-kvm-root-{secrets.token_hex(4)}"
    (root / "etc" / "os-release").write_text(f"ID={marker}\n")
    host_only = tmp_path / "host-only"
    host_only.write_text("on the host only\n")
    script = ("cat /etc/os-release; grep ' / ' /proc/mounts | cut -d' ' -f1,3,4; "
              f"if test -e {host_only} || test -e /usr/bin; then echo host-visible; fi; "
              "if touch /etc/written 2>/dev/null; then echo root-writable; fi; "
              "echo private >/tmp/t && cat /tmp/t; pwd; exit 5")
    r = sandbox("-r", str(root), "--", "/bin/sh", "-c", script, cwd=str(tmp_path))
    assert r.returncode == 5, r.stderr
    out = r.stdout.decode().splitlines()
    assert out[0] == f"ID={marker}", out
    _, fstype, opts = out[1].split()
    assert fstype == "9p" and "ro" in opts.split(","), out
    assert out[2:] == ["private", home], out
    assert not (root / "etc" / "written").exists() and not (root / "tmp" / "t").exists()


def test_root_dir_refused(sandbox, busybox_root, tmp_path):
    """-r DIR that is missing, not a directory, or without a mount point
    the guest needs (its root being read-only): refused before anything
    boots (no kernel chosen, so no word about KVM), naming -r and the
    path."""
    (tmp_path / "file").write_text("")
    no_run = tmp_path / "no-run"
    shutil.copytree(busybox_root, no_run, symlinks=True)
    # the shared busybox root may have gained a /run from the
    # containers that ran on it earlier in the session
    if (no_run / "run").is_symlink() or (no_run / "run").is_file():
        (no_run / "run").unlink()
    shutil.rmtree(no_run / "run", ignore_errors=True)
    (no_run / "var" / "tmp").mkdir(parents=True, exist_ok=True)
    for path, why in ((tmp_path / "missing", "(-r): No such file or directory"),
                      (tmp_path / "file", "(-r) is not a directory"),
                      (no_run, "(-r) has no directory /run")):
        r = sandbox("-r", str(path), "--", "/bin/true")
        err = r.stderr.decode()
        assert r.returncode == 125, err
        assert f"Root directory {path} {why}" in err, err
        assert "warning" not in err, err


def _virtiofsd_pids(source):
    """virtiofsd processes serving @source (libvirt passes -o source=DIR)."""
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmd and cmd[0].endswith(b"virtiofsd") and any(f"source={source}".encode() in a
                                                         for a in cmd):
            pids.append(int(d.name))
    return pids


SHELL_NOTE = re.compile(rb"a shell in the sandbox is on (/dev/pts/\d+)")


def _pty_expect(fd, needle, seen, timeout=60):
    """Read the host pty @fd until @needle arrived; returns all read."""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out waiting for {needle!r}; got {seen!r}")
        if select.select([fd], [], [], left)[0]:
            try:
                data = os.read(fd, 4096)
            except OSError:     # EIO: the other side is closed
                data = b""
            if not data:
                raise AssertionError(f"EOF waiting for {needle!r}; got {seen!r}")
            seen += data
    return seen


def test_virtiofs_share_and_shell(libvirtd, tmp_path):
    """One boot: a host-bind share with driver=virtiofs is a virtio-fs
    mount in the guest (libvirt's virtiofsd, the guest's RAM shared);
    the host's file is read, and what the guest writes, makes and
    removes there is so on the host at once.  Alongside the program,
    --shell gives a shell in the same guest on a host pty (its terminal
    in the stdio protocol over the virtio-serial port): the program
    shows what the shell wrote, the guest's hostname is the sandbox's
    name, the shell's end is said on its terminal and does not end the
    run.  virtiofsd goes with the domain."""
    name = f"vsb-kvm-test-{secrets.token_hex(4)}"
    share = tmp_path / "share"
    share.mkdir()
    (share / "in").write_text("from the host\n")
    script = ("grep ' /mnt ' /proc/mounts | cut -d' ' -f1,3; cat /mnt/in; "
              "echo from the guest > /mnt/out && mkdir /mnt/dir && echo deep > /mnt/dir/f && "
              "rm /mnt/in && echo written; read x; cat /mnt/mark; exit 4")
    p = subprocess.Popen([str(VIRT_SANDBOX), "-c", URI, "-n", name, "-l",
                          "-m", f"host-bind:/mnt={share},driver=virtiofs",
                          "--", "/bin/sh", "-c", script],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=dict(os.environ, VSB_SANDBOX_INIT=str(INIT)), cwd="/")
    fd = None
    try:
        note = b""
        while not SHELL_NOTE.search(note):
            line = p.stderr.readline()
            assert line, note
            note += line
        path = SHELL_NOTE.search(note).group(1).decode()
        out = [p.stdout.readline() for _ in range(3)]
        assert out == [b"vsb-mount0 virtiofs\n", b"from the host\n", b"written\n"], out
        assert (share / "out").read_text() == "from the guest\n"
        assert (share / "dir" / "f").read_text() == "deep\n"
        assert not (share / "in").exists()
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        # The guest's pty echoes and turns the Enter key's \r into \n.
        os.write(fd, b"echo $((6*7)) >/mnt/mark; echo shell-$((6*7)) in $(hostname)\r")
        seen = _pty_expect(fd, f"shell-42 in {name}".encode(), b"")
        os.write(fd, b"exit 7\r")
        _pty_expect(fd, b"[virt-sandbox: the shell ended with status 7]", seen)
        p.stdin.write(b"go\n")
        p.stdin.close()
        assert p.stdout.read() == b"42\n"
        assert p.wait(timeout=BOOT_TIMEOUT) == 4, p.stderr.read()
    finally:
        if fd is not None:
            os.close(fd)
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdout.close()
        p.stderr.close()
        deadline = time.monotonic() + 30
        while (name in _domains() or _qemu_pids(name) or _virtiofsd_pids(share)) and \
                time.monotonic() < deadline:
            time.sleep(0.2)
        left = _qemu_pids(name) + _virtiofsd_pids(share)
        for pid in left:
            os.kill(pid, 9)
        if name in _domains():
            subprocess.run(["virsh", "-c", URI, "destroy", name], capture_output=True, timeout=30)
    assert not left, f"QEMU or virtiofsd of {name} left behind: {left}"
    assert not os.path.exists(path)
    for run in ("/run", "/var/run", "/usr/local/var/run"):
        assert not Path(f"{run}/virt-sandbox/sandbox/{name}").exists(), \
            "state directory left behind"


def _uid_pids(uid):
    """Processes whose real uid is @uid."""
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            status = (d / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("Uid:") and int(line.split()[1]) == uid:
                pids.append(int(d.name))
    return pids


def test_session_uri_as_an_ordinary_user():
    """qemu:///session for a user who is not root: a temporary user runs
    the real tool, libvirt starts that user's session daemon (and its
    virtlogd) by itself, QEMU runs as the user (no DAC label: a session
    daemon has no DAC driver and refuses one) and the program in the
    guest runs with the user's uid.  Afterwards no domain remains in the
    session; the user, its daemons and its home are removed."""
    if os.geteuid() != 0:
        pytest.skip("creating a user needs root")
    for tool, pkg in (("useradd", "passwd"), ("runuser", "util-linux"),
                      ("libvirtd", "libvirt-daemon"), ("qemu-system-x86_64", "qemu-system-x86")):
        if not shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin"):
            pytest.skip(f"{tool} is not installed (apt-get install {pkg})")
    user = f"vsbk{secrets.token_hex(3)}"
    # Short: libvirt puts the channel's socket below
    # $XDG_CONFIG_HOME/libvirt/qemu/channel/target/domain-N-NAME/, and a
    # UNIX socket's path has at most 107 bytes.
    home = Path(f"/tmp/{user}")
    subprocess.run(["useradd", "-m", "-d", str(home), "-s", "/bin/sh", user], check=True,
                   capture_output=True)
    uid = None
    try:
        uid = int(subprocess.run(["id", "-u", user], check=True, capture_output=True,
                                 text=True).stdout)
        env = ["env", "-i", f"HOME={home}", f"USER={user}", f"LOGNAME={user}",
               "PATH=/usr/local/bin:/usr/bin:/bin", f"XDG_RUNTIME_DIR={home}/run",
               f"XDG_CACHE_HOME={home}/.cache", f"XDG_CONFIG_HOME={home}/.config",
               f"VSB_SANDBOX_INIT={INIT}"]
        subprocess.run(["runuser", "-u", user, "--", "mkdir", "-m", "0700", f"{home}/run"],
                       check=True, capture_output=True)
        r = subprocess.run(["runuser", "-u", user, "--", *env, str(VIRT_SANDBOX), "-c",
                            "qemu:///session", "-n", user, "--", "id", "-u"],
                           capture_output=True, text=True, timeout=BOOT_TIMEOUT, cwd="/")
        assert r.returncode == 0, r.stderr
        assert r.stdout == f"{uid}\n", (r.stdout, r.stderr)
        # Only warnings (KVM unusable for this user, say) on stderr.
        assert all(line.startswith("virt-sandbox: warning: ")
                   for line in r.stderr.splitlines()), r.stderr
        deadline = time.monotonic() + 30
        while True:
            left = subprocess.run(["runuser", "-u", user, "--", *env, "virsh", "-c",
                                   "qemu:///session", "list", "--all", "--name"],
                                  capture_output=True, text=True, timeout=30)
            assert left.returncode == 0, left.stderr
            if not left.stdout.split() or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert not left.stdout.split(), f"domains left in the session: {left.stdout}"
    finally:
        # The session's libvirtd and virtlogd (they would linger for
        # their idle timeout) and anything else of the user's.
        if uid is not None:
            for pid in _uid_pids(uid):
                try:
                    os.kill(pid, 15)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 30
            while _uid_pids(uid) and time.monotonic() < deadline:
                time.sleep(0.1)
            for pid in _uid_pids(uid):
                os.kill(pid, 9)
        subprocess.run(["userdel", "-r", user], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)
    assert not _uid_pids(uid), "processes of the session's user left behind"


# The resource tests under TCG take about two minutes here (2 vCPUs).
SUITE_TIMEOUT = 900
RESOURCE_TESTS = "tests/integration/test_resources_accept.py"


def test_resource_acceptance_inside_a_kvm_sandbox(sandbox, tmp_path):
    """Issue 5's acceptance tests (our daemon, controller and real virsh
    on pure cgroup v2) run for real inside a KVM sandbox: one boot of
    the real tool running tests/guest/suite (test-cgroup, then the
    resource tests, then a leak check) on the guest's own cgroup2
    hierarchy, with the build tree read through the read-only / and
    the results written to a host-bind share.  Passes only when the
    suite's summary shows nothing failed, and every resource test ran
    and passed."""
    if not os.access(BUILDDIR / "tests" / "test-cgroup", os.X_OK):
        pytest.fail(f"{BUILDDIR}/tests/test-cgroup not built (make check builds it)")
    results = tmp_path / "results"
    results.mkdir()
    # The sandbox's /tmp and /var/tmp are its own: a tree there (CI's
    # clean clone in /tmp) is shared in at the same path.
    trees = []
    for tree in (SRCDIR, BUILDDIR):
        if tree.is_relative_to("/tmp") or tree.is_relative_to("/var/tmp"):
            if not any(tree.is_relative_to(t) for t in trees):
                trees.append(tree)
    shares = [a for t in trees for a in ("-m", f"host-bind:{t}={t}")]
    r = sandbox("-p", "--memory", "2G", "--vcpus", "2", "-m", f"host-bind:/mnt={results}",
                *shares,
                "-e", "VSB_GUEST_PROFILE=kvm-sandbox", "-e", f"VSB_BUILDDIR={BUILDDIR}",
                "--", str(SRCDIR / "tests" / "guest" / "suite"), "/mnt", RESOURCE_TESTS,
                timeout=SUITE_TIMEOUT)
    out = r.stdout.decode()
    report = f"stdout:\n{out}\nstderr:\n{r.stderr.decode()}"
    summary = [line for line in out.splitlines() if line.startswith("guest: ")]
    assert summary, report
    m = re.fullmatch(r"guest: (\d+) passed, (\d+) failed, (\d+) skipped", summary[-1])
    assert m, report
    passed, failed = int(m.group(1)), int(m.group(2))
    assert failed == 0 and passed > 0, report
    assert r.returncode == 0, report
    assert "cgroup2" in out and "profile kvm-sandbox" in out, report
    # Every test of the resource file passed in the guest (none skipped).
    cases = ET.parse(results / "integration-junit.xml").getroot().iter("testcase")
    outcome = {tc.get("name"): sorted(child.tag for child in tc) for tc in cases}
    assert outcome and all(tags in ([], ["system-out"], ["system-err"],
                                    ["system-err", "system-out"])
                           for tags in outcome.values()), outcome
    names = re.findall(r"^def (test_\w+)", (SRCDIR / RESOURCE_TESTS).read_text(), re.M)
    assert sorted(outcome) == sorted(names), outcome
