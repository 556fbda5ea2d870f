"""Tests that need a kernel of their own: each profile of tests/guest/run
boots one guest (Debian's 6.1 kernel under QEMU) that runs a whole
group of tests, and the tests here check what came out.

  cgroup2   tests/guest/suite: test-cgroup and the integration tests of
            the controller, the driver and the /proc views on pure
            cgroup v2
  selinux   tests/guest/selinux-mcs: MCS categories enforced;
            tests/guest/selinux-policy: our policy module loaded, the
            daemon, controllers and two virt-sandbox runs under it
  kernel61  the host's cgroup layout on the 6.1 kernel: test-cgroup
  systemd   systemd as PID 1: tests/guest/systemd-suite, our units under
            it, socket activation, machined registration, the domain's
            cgroups in its delegated scope; then systemd-service-suite:
            virt-sandbox-service@.service driving service sandboxes,
            containers' syslog records in the journal

Run as root (tools/run-tests does, after building):
    VSB_BUILDDIR=... /usr/bin/python3 -m pytest tests/guest

Skipped, saying why, only where QEMU itself cannot run; everything else
(no kernel installed, a guest that does not boot) fails.
"""

import hashlib
import os
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SRCDIR = HERE.parents[1]
BUILDDIR = Path(os.environ.get("VSB_BUILDDIR") or SRCDIR / "build").resolve()
RUN = HERE / "run"

# Exit statuses of tests/guest/run besides the command's.
RUN_TIMEOUT, RUN_FAILED, RUN_SKIP = 124, 125, 77

# Whole-boot budgets (TCG on 2 cores; KVM is many times faster).
CGROUP2_TIMEOUT = 1500
SMALL_TIMEOUT = 300


@dataclass
class Boot:
    profile: str
    argv: list
    status: int
    stdout: str
    stderr: str
    seconds: float
    left_on_host: list

    @property
    def kv(self):
        out = {}
        for line in self.stdout.splitlines():
            k, sep, v = line.partition("=")
            if sep and re.fullmatch(r"[A-Za-z0-9_]+", k):
                out[k] = v
        return out

    def tail(self, n=60):
        return "\n".join(self.stdout.splitlines()[-n:])

    def __str__(self):
        return (f"\n$ {' '.join(map(str, self.argv))}\n-> status {self.status} "
                f"after {self.seconds:.0f} s\n--- stdout (last lines) ---\n{self.tail()}\n"
                f"--- stderr ---\n{self.stderr[-4000:]}")

    __repr__ = __str__


# This session's guests make their run dirs here (tests/guest/run's
# VSB_GUEST_TMPDIR), so guests run beside ours (another test run) are not
# taken for our leftovers.
GUEST_TMP = Path(f"/tmp/vsb-guest-test-{os.getpid()}")


def _guest_leftovers():
    """QEMU processes of our tests/guest/run calls and their run dirs."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "qemu-system" in cmd and f"vsb.run={GUEST_TMP}/" in cmd:
            found.append(f"process {entry}: {cmd[:120]}")
    found += [f"run dir {p}" for p in sorted(GUEST_TMP.glob("vsb-guest.*"))]
    return found


def boot(profile, command, timeout):
    """tests/guest/run PROFILE -- COMMAND, with the build tree writable."""
    before = set(_guest_leftovers())
    argv = [str(RUN), "--timeout", str(timeout), "--rw", str(BUILDDIR), profile, "--", *command]
    GUEST_TMP.mkdir(exist_ok=True)
    env = dict(os.environ, VSB_BUILDDIR=str(BUILDDIR), PYTHONDONTWRITEBYTECODE="1",
               VSB_GUEST_TMPDIR=str(GUEST_TMP))
    t0 = time.monotonic()
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, env=env,
                       timeout=timeout + 120)
    seconds = time.monotonic() - t0
    left = sorted(set(_guest_leftovers()) - before)
    return Boot(profile, argv, p.returncode, p.stdout.decode(errors="replace"),
                p.stderr.decode(errors="replace"), seconds, left)


def assert_booted(b):
    """The guest ran the command to its end (whatever its status)."""
    assert b.status not in (RUN_TIMEOUT, RUN_FAILED), f"the {b.profile} guest did not run{b}"


@pytest.fixture(scope="session", autouse=True)
def guest_tmp():
    yield GUEST_TMP
    # empty unless a guest left its run dir, which the tests report
    if GUEST_TMP.is_dir() and not any(GUEST_TMP.iterdir()):
        GUEST_TMP.rmdir()


@pytest.fixture(scope="session")
def qemu():
    if os.geteuid() != 0:
        pytest.fail("the guest tests must run as root")
    p = subprocess.run([str(RUN), "--check"], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=180)
    if p.returncode == RUN_SKIP:
        pytest.skip(f"QEMU cannot run here, no guest test: {p.stderr.strip()}")
    assert p.returncode == 0, f"tests/guest/run --check: {p.returncode}\n{p.stdout}{p.stderr}"


# --------------------------------------------------------------------
# cgroup2: the controller's tests on pure cgroup v2
# --------------------------------------------------------------------

def _parse_junit(path):
    """{test id: "passed" | "failed" | "skipped"} of a pytest junit file."""
    out = {}
    for tc in ET.parse(path).getroot().iter("testcase"):
        tags = {child.tag for child in tc}
        name = f"{tc.get('classname')}::{tc.get('name')}"
        if "failure" in tags or "error" in tags:
            out[name] = "failed"
        elif "skipped" in tags:
            out[name] = "skipped"
        else:
            out[name] = "passed"
    return out


def _parse_tap(path):
    """{test name: "passed" | "failed" | "skipped"} of a TAP file."""
    out = {}
    for line in Path(path).read_text(errors="replace").splitlines():
        m = re.match(r"(not )?ok \d+ (\S+)(.*)", line)
        if m:
            out[m.group(2)] = ("failed" if m.group(1) else
                               "skipped" if "# SKIP" in m.group(3) else "passed")
    return out


@pytest.fixture(scope="module")
def cgroup2(qemu):
    results = BUILDDIR / "guest" / "cgroup2"
    shutil.rmtree(results, ignore_errors=True)
    b = boot("cgroup2", [str(HERE / "suite"), str(results)], CGROUP2_TIMEOUT)
    b.results = results
    junit = results / "integration-junit.xml"
    b.integration = _parse_junit(junit) if junit.exists() else None
    tap = results / "test-cgroup.tap"
    b.unit = _parse_tap(tap) if tap.exists() else None
    return b


def _counts(results):
    c = {"passed": 0, "failed": 0, "skipped": 0}
    for v in results.values():
        c[v] += 1
    return c


def test_cgroup2_guest_is_pure_v2(cgroup2):
    assert_booted(cgroup2)
    line = [ln for ln in cgroup2.stdout.splitlines() if ln.startswith("== cgroups:")]
    assert line and line[0].split() == ["==", "cgroups:", "/sys/fs/cgroup(cgroup2)"], \
        f"the guest's cgroup mounts are not cgroup2 alone{cgroup2}"


def test_cgroup2_test_cgroup_passes(cgroup2):
    """The C cgroup tests, their "host" half on the guest's pure v2."""
    assert_booted(cgroup2)
    assert cgroup2.unit, f"no TAP from test-cgroup{cgroup2}"
    failed = [t for t, r in cgroup2.unit.items() if r == "failed"]
    assert not failed, f"test-cgroup failed in the guest: {failed} ({_counts(cgroup2.unit)}){cgroup2}"
    assert cgroup2.unit.get("/cgroup/host/lifecycle-v2-only") == "passed", cgroup2.unit


def test_cgroup2_integration_tests_pass(cgroup2):
    """The controller's integration tests (tests/guest/suite names the
    files) in one boot: the guest's pytest summary, its failures named
    here."""
    assert_booted(cgroup2)
    res = cgroup2.integration
    assert res, f"the guest's pytest wrote no report{cgroup2}"
    failed = sorted(t for t, r in res.items() if r == "failed")
    summary = [ln for ln in cgroup2.stdout.splitlines()
               if re.search(r"\d+ (passed|failed)", ln) and " in " in ln]
    assert not failed, (f"in the cgroup2 guest: {_counts(res)}; pytest said "
                        f"{summary[-1] if summary else '?'}; failed:\n  " + "\n  ".join(failed)
                        + f"\n(report: {cgroup2.results}/integration-junit.xml){cgroup2}")
    assert _counts(res)["passed"] >= 50, _counts(res)


def test_cgroup2_memory_limit_holds(cgroup2):
    """The OOM test ran (not skipped) and passed: the memory limit holds
    inside, the guest's test process saw no OOM kill in its own cgroup."""
    assert_booted(cgroup2)
    res = cgroup2.integration or {}
    hog = [t for t in res if t.endswith("::test_memory_hog_is_oom_killed_inside")]
    assert hog, f"no test_memory_hog_is_oom_killed_inside in the guest's run{cgroup2}"
    assert res[hog[0]] == "passed", f"{hog[0]}: {res[hog[0]]}{cgroup2}"


def test_cgroup2_nothing_left_in_guest(cgroup2):
    assert_booted(cgroup2)
    assert "nothing left behind" in cgroup2.stdout, \
        f"the guest's leak check found something{cgroup2}"


# --------------------------------------------------------------------
# selinux: MCS enforcement
# --------------------------------------------------------------------

def selinux_store():
    """Our module and tests/guest/selinux-testbed.cil built into a copy
    of the host's policy store (semodule -p, without loading: the host
    runs without SELinux), for tests/guest/selinux-policy to load in the
    guest: semodule there takes half a minute under TCG.  Its stamp is
    the checksum the guest script checks.  Nothing to do (the guest
    builds it, or says the module is missing) without the module."""
    pp = BUILDDIR / "selinux-policy" / "virt_sandbox.pp"
    cil = HERE / "selinux-testbed.cil"
    store = BUILDDIR / "guest" / "selinux-store"
    if not pp.exists() or not shutil.which("semodule"):
        return
    stamp = hashlib.sha256(pp.read_bytes() + cil.read_bytes()).hexdigest()
    if (store / "stamp").exists() and (store / "stamp").read_text().strip() == stamp:
        return
    shutil.rmtree(store, ignore_errors=True)
    (store / "etc").mkdir(parents=True)
    (store / "var" / "lib").mkdir(parents=True)
    shutil.copytree("/etc/selinux", store / "etc" / "selinux", symlinks=True)
    shutil.copytree("/var/lib/selinux", store / "var" / "lib" / "selinux", symlinks=True)
    p = subprocess.run(["semodule", "-p", str(store), "-n", "-i", str(pp), str(cil)],
                       capture_output=True, text=True)
    assert p.returncode == 0, f"semodule -p {store}: {p.stderr}"
    (store / "stamp").write_text(stamp + "\n")


@pytest.fixture(scope="module")
def selinux(qemu):
    selinux_store()
    # One boot for both: selinux-mcs on the reference policy alone, then
    # selinux-policy loads our module (its keys start with policy_ or
    # a_/b_, so the two scripts' outputs do not clash).
    return boot("selinux", ["sh", "-c", '"$0"; s=$?; "$1" || exit; exit $s',
                            str(HERE / "selinux-mcs"), str(HERE / "selinux-policy")],
                SMALL_TIMEOUT)


def test_selinux_enforcing(selinux):
    assert_booted(selinux)
    assert selinux.kv.get("enforce") == "1", str(selinux)
    assert selinux.kv.get("setup") == "yes", str(selinux)


def test_selinux_mcs_own_categories_readable(selinux):
    assert_booted(selinux)
    assert selinux.kv.get("c1c2_reads_own") == "0", \
        f"svirt_t:s0:c1,c2 could not read its own svirt_image_t:s0:c1,c2 file{selinux}"
    assert selinux.kv.get("c3c4_reads_other") == "0", \
        f"svirt_t:s0:c3,c4 could not read svirt_image_t:s0:c3,c4{selinux}"


def test_selinux_mcs_other_categories_refused(selinux):
    assert_booted(selinux)
    assert selinux.kv.get("c1c2_reads_other") not in (None, "0"), \
        f"svirt_t:s0:c1,c2 read a file of categories c3,c4{selinux}"
    assert "avc:  denied  { read }" in selinux.kv.get("avc", ""), \
        f"no AVC for the refused read in the kernel log{selinux}"


def test_selinux_dynamic_labels(selinux):
    """virt-sandbox -s dynamic's allocation and relabelling (through
    tests/sandbox-label): distinct categories, each sandbox's label
    reads its own files and not the other's, old labels restored."""
    assert_booted(selinux)
    kv = selinux.kv
    assert "mcs_tool" not in kv, f"tests/sandbox-label not run: {kv['mcs_tool']}{selinux}"
    la, lb = kv.get("mcs_label_a", ""), kv.get("mcs_label_b", "")
    pat = r"system_u:system_r:svirt_t:s0:c(\d+),c(\d+)"
    ma, mb = re.fullmatch(pat, la), re.fullmatch(pat, lb)
    assert ma and mb, f"labels {la!r} {lb!r}{selinux}"
    assert ma.groups() != mb.groups(), f"two sandboxes share {la}{selinux}"
    assert kv.get("mcs_file_a") == \
        f"system_u:object_r:svirt_image_t:s0:c{ma.group(1)},c{ma.group(2)}", str(selinux)
    assert kv.get("mcs_a_reads_a") == "0", f"a could not read its own file{selinux}"
    assert kv.get("mcs_b_reads_b") == "0", f"b could not read its own file{selinux}"
    assert kv.get("mcs_a_reads_b") not in (None, "0"), f"a read b's file{selinux}"
    assert kv.get("mcs_done_a") == "1 mcs_done_b=1", str(selinux)
    assert kv.get("mcs_restored") == "yes", f"old labels not restored{selinux}"
    assert kv.get("mcs_leases_after", "x").strip() == "", f"leases left{selinux}"


def test_selinux_policy_module_loads(selinux):
    """selinux-policy/virt_sandbox.pp links into Debian's reference
    policy and the guest stays enforcing with it."""
    assert_booted(selinux)
    kv = selinux.kv
    assert "policy_module" not in kv, f"{kv['policy_module']}{selinux}"
    assert "policy_setup" not in kv, f"set-up failed at {kv['policy_setup']}{selinux}"
    assert kv.get("policy_module_loaded") == "1", f"module not loaded{selinux}"
    assert kv.get("policy_enforce") == "1", str(selinux)


def test_selinux_policy_domains(selinux):
    """Under our module, enforcing: the daemon runs as virt_sandboxd_t,
    each sandbox's controller as virt_sandbox_controller_t, and the
    processes of two concurrent `virt-sandbox -s dynamic` runs (one with
    label=...virt_sandbox_lxc_t, one with the default base label, which
    comes from the module) as virt_sandbox_lxc_t with distinct category
    pairs, init included."""
    assert_booted(selinux)
    kv = selinux.kv
    assert kv.get("policy_daemon_socket") == "yes", f"the daemon did not start{selinux}"
    assert kv.get("policy_daemon_context") == "system_u:system_r:virt_sandboxd_t:s0", str(selinux)
    assert kv.get("policy_controllers", "").split() == \
        ["2", "system_u:system_r:virt_sandbox_controller_t:s0"], str(selinux)
    pat = r"system_u:system_r:virt_sandbox_lxc_t:s0:c(\d+),c(\d+)"
    ma = re.fullmatch(pat, kv.get("a_label", ""))
    mb = re.fullmatch(pat, kv.get("b_label", ""))
    assert ma and mb, f"sandbox labels {kv.get('a_label')!r} {kv.get('b_label')!r}{selinux}"
    assert ma.groups() != mb.groups(), f"two sandboxes share {kv['a_label']}{selinux}"
    assert kv.get("a_init") == kv["a_label"] and kv.get("b_init") == kv["b_label"], str(selinux)
    assert kv.get("policy_status_a") == "0" and kv.get("policy_status_b") == "0", str(selinux)


def test_selinux_policy_shares_separated(selinux):
    """Each sandbox's host-bind share is relabelled virt_sandbox_file_t
    with its categories: it reads its own; a process of one sandbox is
    refused the other's share (DAC would allow it: MCS refuses, with an
    AVC); the old labels and no lease are left afterwards."""
    assert_booted(selinux)
    kv = selinux.kv
    for s in ("a", "b"):
        level = kv.get(f"{s}_label", "x:x:x:?").split(":", 3)[3]
        assert kv.get(f"{s}_share") == f"system_u:object_r:virt_sandbox_file_t:{level}", \
            str(selinux)
        assert kv.get(f"{s}_reads_own") == f"secret-{s}", f"{s} could not read its share{selinux}"
        assert kv.get(f"{s}_reads_other") not in (None, "0"), \
            f"{s} read the other sandbox's share{selinux}"
    avc = kv.get("policy_avc", "")
    assert "avc:  denied" in avc and "permissive=0" in avc, \
        f"no AVC for the refused cross-sandbox access{selinux}"
    assert kv.get("policy_restored_a") == "yes", f"share label not restored{selinux}"
    assert kv.get("policy_leases_after", "x").strip() == "", f"leases left{selinux}"


# --------------------------------------------------------------------
# kernel61: Debian's kernel with the host's cgroup layout
# --------------------------------------------------------------------

KERNEL61_SCRIPT = r"""
echo "kernel=$(uname -r)"
echo "cgroup_mounts=$(awk '$3 ~ /^cgroup/ { printf "%s:%s ", $2, $3 }' /proc/self/mounts)"
"$VSB_BUILDDIR/tests/test-cgroup" > /tmp/test-cgroup.tap 2>&1
echo "test_cgroup_status=$?"
grep -E '^(not )?ok ' /tmp/test-cgroup.tap
"""


@pytest.fixture(scope="module")
def kernel61(qemu):
    return boot("kernel61", ["/bin/sh", "-c", KERNEL61_SCRIPT], SMALL_TIMEOUT)


def _host_cgroup_mounts():
    with open("/proc/self/mounts") as f:
        return sorted(f"{ln.split()[1]}:{ln.split()[2]}" for ln in f
                      if ln.split()[2] in ("cgroup", "cgroup2"))


def test_kernel61_boots_debian_61(kernel61):
    assert_booted(kernel61)
    assert kernel61.status == 0, str(kernel61)
    assert kernel61.kv.get("kernel", "").startswith("6.1."), str(kernel61)


def test_kernel61_has_the_hosts_cgroup_layout(kernel61):
    assert_booted(kernel61)
    assert sorted(kernel61.kv.get("cgroup_mounts", "").split()) == _host_cgroup_mounts(), \
        str(kernel61)


def test_kernel61_test_cgroup_passes(kernel61):
    assert_booted(kernel61)
    assert kernel61.kv.get("test_cgroup_status") == "0", str(kernel61)
    assert "not ok" not in kernel61.stdout, str(kernel61)


# --------------------------------------------------------------------
# systemd: the daemon and its containers under a real systemd
# --------------------------------------------------------------------

@pytest.fixture(scope="module")
def systemd(qemu):
    return boot("systemd", [str(HERE / "systemd-suite")], SMALL_TIMEOUT)


def _expect(b, **want):
    """systemd-suite's key=value lines say what each step found."""
    assert_booted(b)
    got = b.kv
    wrong = {k: (v, got.get(k)) for k, v in want.items() if got.get(k) != v}
    assert not wrong, "expected (wanted, got): " + \
        ", ".join(f"{k}={w!r} got {g!r}" for k, (w, g) in wrong.items()) + str(b)


def test_systemd_boots_pid1_pure_v2(systemd):
    assert_booted(systemd)
    assert "PID 1 /usr/lib/systemd/systemd" in systemd.stdout or \
        "PID 1 /lib/systemd/systemd" in systemd.stdout, str(systemd)
    line = [ln for ln in systemd.stdout.splitlines() if ln.startswith("== cgroups:")]
    assert line and line[0].split() == ["==", "cgroups:", "/sys/fs/cgroup(cgroup2)"], str(systemd)
    _expect(systemd, system_state="running")


def test_systemd_units_verify(systemd):
    """systemd-analyze verify under the systemd that runs them."""
    _expect(systemd, verify_rc="0", verify_output="")


def test_systemd_socket_activation_and_readiness(systemd):
    """The first virsh call starts the daemon; Type=notify makes it
    active once it said READY=1."""
    _expect(systemd, socket_active="active", service_before_call="inactive",
            service_after_call="active")
    assert systemd.kv.get("first_call"), str(systemd)
    assert not systemd.kv["first_call"].startswith("error"), str(systemd)


def test_systemd_domain_is_a_machine_in_its_scope(systemd):
    """machined lists the domain; its init and controller live in the
    delegated scope's payload and supervisor; the daemon's service holds
    the daemon alone."""
    scope = "machine-vsb\\x2dsd1.scope"
    _expect(systemd, start_rc="0", domstate="running", machine_listed="yes",
            machine_class="container", machine_service="virt-sandbox", machine_unit=scope,
            leader_cgroup=f"0::/machine.slice/{scope}/payload",
            controller_cgroup=f"0::/machine.slice/{scope}/supervisor",
            scope_active="active", scope_delegate="yes")
    assert systemd.kv.get("service_procs", "").isdigit(), str(systemd)


def test_systemd_tuning_stats_freezer_in_scope(systemd):
    _expect(systemd, memtune_rc="0", memory_max=str(200000 * 1024), memtune_read="200000",
            stats_state="1", stats_cpu_time_nonzero="yes", stats_rss_nonzero="yes",
            suspended="paused", frozen="1", resumed="running", thawed="0")


def test_systemd_daemon_restart_keeps_container(systemd):
    _expect(systemd, restart_rc="0", service_after_restart="active", new_daemon="yes",
            leader_alive="yes", domstate_after_restart="running",
            memtune_after_restart="200000", suspend_resume_after_restart="0 running")


def test_systemd_destroy_removes_machine_and_scope(systemd):
    _expect(systemd, destroy_rc="0", domstate_after_destroy="shut off", machine_gone="yes",
            scope_cgroup_gone="yes", scope_after_destroy="inactive", controller_gone="yes")


def test_systemd_machinectl_terminate_stops_domain(systemd):
    _expect(systemd, restart_domain="running", terminate_rc="0",
            domstate_after_terminate="shut off", scope_gone_after_terminate="yes",
            machine_gone_after_terminate="yes")


# tests/guest/systemd-service-suite, in the same boot

def test_systemd_template_unit_verifies(systemd):
    """virt-sandbox-service@.service, rendered as make does, passes
    systemd-analyze verify."""
    _expect(systemd, svc_verify_rc="0", svc_verify_output="")


PAGE = "<h1>served from the host</h1>"


def test_systemd_unit_runs_httpd_service(systemd):
    """systemctl start virt-sandbox-service@vsbweb returns once the
    domain runs (Type=notify; a service that does not exist fails the
    start): the unit is active, its main process is the tool's
    foreground start, the domain runs
    (virsh, the tool's list, machined), the host-bind share and the
    httpd inside serve the page; reload keeps the program (SIGHUP);
    systemctl stop shuts the domain off and the unit ends inactive
    (the program died of the stop's SIGTERM: 143, a success)."""
    _expect(systemd, svc_create_rc="0", svc_start_rc="0", svc_unit_active="active",
            svc_domstate="running", svc_virsh_list="vsbweb",
            svc_list="vsbweb generic running", svc_machine_listed="yes",
            svc_cat=PAGE, svc_http=PAGE,
            svc_reload_rc="0", svc_httpd_pid_numeric="yes", svc_after_reload="active",
            svc_stop_rc="0", svc_after_stop="inactive", svc_stop_program_killed="yes",
            svc_stop_result="success", svc_domstate_after_stop="shut off",
            svc_list_after_stop="vsbweb generic shut off",
            svc_start_nosuch_rc="1", svc_nosuch_state="failed", svc_nosuch_said="yes")
    assert systemd.kv["svc_main_is_tool"].endswith("/sandbox/virt-sandbox-service"), str(systemd)
    assert systemd.kv.get("svc_httpd_same_after_reload"), str(systemd)


def test_systemd_unit_ends_with_destroyed_container(systemd):
    """virsh destroy from outside: the unit fails (no program status)."""
    _expect(systemd, svc_restart_domstate="running", svc_destroy_rc="0",
            svc_after_destroy="failed", svc_destroy_result="exit-code", svc_destroy_status="1")


def test_systemd_unit_reports_program_status(systemd):
    """A program that exits 3: the unit fails with ExecMainStatus=3;
    systemctl reload reached its HUP trap."""
    _expect(systemd, svc_create_code_rc="0", svc_code_reload_rc="0", svc_code_hup="hup",
            svc_code_after_exit="failed", svc_code_result="exit-code", svc_code_status="3",
            svc_code_domstate="shut off")


def test_systemd_services_deleted(systemd):
    _expect(systemd, svc_delete_rc="0", svc_domains_left="", svc_dirs_left="",
            svc_machines_left="", service_suite_rc="0")


def test_systemd_container_syslog_in_journal(systemd):
    """logger inside a container: the host's journald has the record
    with docker's container fields (CONTAINER_ID_FULL is the domain's
    UUID, machined's Id of the machine), the record's identifier,
    priority (user.warning) and the container's pid number; its
    _MACHINE_ID is journald's (the host's: a client cannot set it)."""
    _expect(systemd, log_logger_rc="0", log_message="hello from vsbweb", log_priority="4",
            log_facility="1", log_identifier="vsbtest", log_container_name="vsbweb",
            log_syslog_pid_numeric="yes", log_by_name_found="yes")
    kv = systemd.kv
    full = kv.get("log_container_id_full", "")
    assert len(full) == 32 and all(c in "0123456789abcdef" for c in full), str(systemd)
    assert kv.get("log_container_id") == full[:12], str(systemd)
    assert kv.get("log_id_is_machine_id") == full, str(systemd)
    assert len(kv.get("log_machine_id_host", "")) == 32, str(systemd)


def test_systemd_unit_runs_systemd_service(systemd):
    """A systemd service sandbox (create -u) through the unit: systemd
    boots inside with its unit active; its machine ID is the domain's
    UUID (machined's Id), its /dev/log journald's; a logger record inside
    is in its own journal, which `journalctl -M NAME` reads, with the
    container's _MACHINE_ID (not the host's) and hostname; systemctl stop
    powers it off and the unit ends inactive."""
    _expect(systemd, sd_create_rc="0", sd_system_state="running", sd_unit_active="active",
            sd_web_active="active", sd_dev_log="/run/systemd/journal/dev-log",
            sd_logger_rc="0", sd_journal_m_found="yes", sd_journal_hostname="vsbsd",
            sd_stop_rc="0", sd_after_stop="inactive",
            sd_domstate_after_stop="shut off (shutdown)", sd_delete_rc="0")
    kv = systemd.kv
    assert len(kv.get("sd_machine_id", "")) == 32, str(systemd)
    assert kv["sd_machined_id"] == kv["sd_machine_id"], str(systemd)
    assert kv["sd_journal_machine_id"] == kv["sd_machine_id"], str(systemd)
    assert kv["sd_journal_machine_id"] != kv["log_machine_id_host"], str(systemd)


def test_systemd_suite_passes(systemd):
    assert_booted(systemd)
    assert systemd.status == 0 and "systemd-suite: 0 failed" in systemd.stdout, str(systemd)


# --------------------------------------------------------------------
# Every boot: nothing left on the host
# --------------------------------------------------------------------

@pytest.mark.parametrize("profile", ["cgroup2", "selinux", "kernel61", "systemd"])
def test_guest_left_nothing_on_host(request, profile):
    b = request.getfixturevalue(profile)
    assert b.left_on_host == [], f"left on the host by the {profile} guest: {b.left_on_host}"
