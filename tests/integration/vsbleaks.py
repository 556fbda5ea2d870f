"""What a container run can leave behind on the host, and how to clear it.

Used by conftest.py (after every test and at the end of the session,
with the session's own marker) and by tools/run-tests (around the whole
run, by difference with a snapshot taken before):

    /usr/bin/python3 vsbleaks.py snapshot > FILE
    /usr/bin/python3 vsbleaks.py check FILE [--cleanup]

Items are strings "kind: detail", so snapshots compare as sets:
  mount:   a mount in this (the host's) mount namespace naming a marker
  loop:    a loop device (with its backing file)
  cgroup:  a cgroup directory whose name contains a marker
  process: a virt-sandbox-controller process, or one naming a marker
  netns:   an entry of `ip netns list`
  netdev:  a network device named vsb* (a container's veth, a test's bridge)
"""

import os
import signal
import subprocess
import sys
import time

CGROUP_ROOT = "/sys/fs/cgroup"
CONTROLLER = "virt-sandbox-controller"
DEFAULT_MARKERS = ("virt-sandbox", "vsb-test")
# processes are matched on their command line: "virt-sandbox" would also
# match an editor or make run in a checkout called virt-sandbox
PROCESS_MARKERS = ("vsb-test",)


def _unescape(s):
    # mountinfo escapes space, tab, newline and backslash as \ooo
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and len(s[i + 1:i + 4]) == 3 and s[i + 1:i + 4].isdigit():
            out.append(chr(int(s[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def mounts(markers):
    """Mount points (deepest last) of mounts whose point or source names a marker."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            point = _unescape(fields[4])
            fstype, source = fields[sep + 1], _unescape(fields[sep + 2])
            if any(m in point or m in source for m in markers):
                found.append((point, fstype, source))
    return found


def loops(markers=None):
    """(device, backing file) of attached loop devices; all when markers is None."""
    found = []
    try:
        names = os.listdir("/sys/block")
    except OSError:
        return found
    for name in sorted(names):
        if not name.startswith("loop"):
            continue
        try:
            with open(f"/sys/block/{name}/loop/backing_file") as f:
                backing = f.read().strip()
        except OSError:
            continue  # not attached
        if markers is None or any(m in backing for m in markers):
            found.append((f"/dev/{name}", backing))
    return found


def cgroups(markers):
    """Cgroup directories whose name contains a marker, deepest first."""
    found = []
    for top, dirs, _files in os.walk(CGROUP_ROOT):
        for d in dirs:
            if any(m in d for m in markers):
                found.append(os.path.join(top, d))
    found.sort(key=lambda p: p.count("/"), reverse=True)
    return found


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return None


def _is_zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _ancestors():
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            break
    return pids


def processes(markers, any_controller=True):
    """(pid, cmdline) of live controller processes and of processes naming a marker."""
    found, mine = [], _ancestors()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in mine:
            continue
        pid = int(entry)
        cmd = _cmdline(pid)
        if not cmd or _is_zombie(pid):
            continue  # kernel thread, gone, or waiting for its parent
        argv0 = os.path.basename(cmd.split(" ", 1)[0])
        try:
            exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
        except OSError:
            exe = ""
        is_ctl = argv0 == CONTROLLER or exe.startswith(CONTROLLER)
        if (any_controller and is_ctl) or any(m in cmd for m in markers):
            found.append((pid, cmd))
    return found


def cgroup_processes(paths):
    """Processes in the cgroups @paths and their descendants."""
    pids = set()
    for top in paths:
        for d, _dirs, _files in os.walk(top):
            try:
                with open(os.path.join(d, "cgroup.procs")) as f:
                    pids.update(int(x) for x in f.read().split())
            except (OSError, ValueError):
                pass
    return pids


def netns():
    try:
        out = subprocess.run(["ip", "netns", "list"], capture_output=True,
                             text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def netdevs():
    """Network devices named vsb*: the host ends of containers' veth
    pairs that the controller names, and the tests' bridges.  Their
    names (15 characters at most) cannot hold a session's marker, so
    they are known by difference only."""
    try:
        return sorted(n for n in os.listdir("/sys/class/net") if n.startswith("vsb"))
    except OSError:
        return []


def snapshot(markers=DEFAULT_MARKERS, any_controller=True, all_loops=True):
    items = set()
    for point, fstype, source in mounts(markers):
        items.add(f"mount: {point} ({fstype} from {source})")
    for dev, backing in loops(None if all_loops else markers):
        items.add(f"loop: {dev} -> {backing}")
    for path in cgroups(markers):
        items.add(f"cgroup: {path}")
    pmarkers = PROCESS_MARKERS if markers == DEFAULT_MARKERS else markers
    for pid, cmd in processes(pmarkers, any_controller):
        items.add(f"process: {pid} {cmd}")
    for ns in netns():
        items.add(f"netns: {ns}")
    # by difference only (see netdevs()): with the whole run's markers
    if markers == DEFAULT_MARKERS:
        for dev in netdevs():
            items.add(f"netdev: {dev}")
    return items


def leaks(before, markers=DEFAULT_MARKERS, any_controller=True, all_loops=True, settle=3.0):
    """Items present now and not in @before.  Waits up to @settle seconds
    for them to go: a detached mount namespace and an autoclear loop
    device are released by the kernel shortly after the last process."""
    deadline = time.monotonic() + settle
    while True:
        new = snapshot(markers, any_controller, all_loops) - set(before)
        if not new or time.monotonic() >= deadline:
            return sorted(new)
        time.sleep(0.1)


def cleanup(items):
    """Best effort removal of leaked items (as returned by leaks())."""
    done = []
    pids = set()
    cgs = []
    for it in items:
        kind, detail = it.split(": ", 1)
        if kind == "process":
            pids.add(int(detail.split()[0]))
        elif kind == "cgroup":
            cgs.append(detail)
    pids |= cgroup_processes(cgs)
    pids -= _ancestors()
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
            done.append(f"killed {pid}")
        except OSError:
            pass
    if pids:
        time.sleep(0.3)
    for it in items:
        kind, detail = it.split(": ", 1)
        if kind == "mount":
            point = detail.rsplit(" (", 1)[0]
            subprocess.run(["umount", "-l", point], capture_output=True)
            done.append(f"umount -l {point}")
    for it in items:
        kind, detail = it.split(": ", 1)
        if kind == "loop":
            dev = detail.split(" -> ")[0]
            subprocess.run(["losetup", "-d", dev], capture_output=True)
            done.append(f"losetup -d {dev}")
    for it in items:
        kind, detail = it.split(": ", 1)
        if kind == "netdev":
            # known only by difference too: another run's, maybe
            done.append(f"left network device {detail} alone (ip link del {detail})")
    for it in items:
        kind, detail = it.split(": ", 1)
        if kind == "netns":
            # known only by difference: it may be someone else's, keep it
            done.append(f"left network namespace {detail} alone")
    for path in sorted(cgs, key=lambda p: p.count("/"), reverse=True):
        for _ in range(20):
            # children first (those without a marker in their name)
            for top, dirs, _f in os.walk(path, topdown=False):
                for d in dirs:
                    try:
                        os.rmdir(os.path.join(top, d))
                    except OSError:
                        pass
            try:
                os.rmdir(path)
                done.append(f"rmdir {path}")
                break
            except FileNotFoundError:
                break
            except OSError:
                for pid in cgroup_processes([path]):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                time.sleep(0.1)
    return done


def main(argv):
    if len(argv) >= 2 and argv[1] == "snapshot":
        for it in sorted(snapshot()):
            print(it)
        return 0
    if len(argv) >= 3 and argv[1] == "check":
        with open(argv[2]) as f:
            before = {line.rstrip("\n") for line in f if line.strip()}
        new = leaks(before)
        for it in new:
            print(f"left behind: {it}")
        if new and "--cleanup" in argv[3:]:
            for action in cleanup(new):
                print(f"  cleanup: {action}")
        return 1 if new else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
