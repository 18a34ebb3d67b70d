"""Real lab hosts for the integration layer. If the lab cannot start, the run fails with the reason.

Hosts booted here die with the test process (PR_SET_PDEATHSIG) and are stopped in teardown,
also when a test fails or the run is interrupted.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from dsu.errors import DsuError
from dsu.lab import hosts as lab
from dsu.lab.roster import roster_path
from dsu.runs import StateSummary, summarize_states
from dsu.saltssh import salt_ssh


def _require_lab():
    if os.geteuid() != 0:
        pytest.fail("integration tests need root: lab hosts are systemd-nspawn machines")


@contextmanager
def booted_hosts(name, count) -> Iterator:
    """*count* new Debian 12 lab hosts booted at once, tied to this process, for a block; stopped
    however the block ends."""
    _require_lab()
    try:
        booted = lab.up(name, count=count, tie_to_parent=True)
    except DsuError as exc:
        pytest.fail(f"the lab could not start: {exc.one_line()}")
    try:
        yield booted
    finally:
        lab.down([h.name for h in booted])


@pytest.fixture(scope="session")
def lab_hosts():
    """Fresh Debian 12 hosts: [0] for salt-ssh, [1] for a minion, [2] for salt-call --local."""
    with booted_hosts(f"t{os.getpid()}", 3) as booted:
        yield booted


@pytest.fixture(scope="session")
def roster(lab_hosts):
    return roster_path(lab.lab_dir())


def wait_for(what, probe, explain, timeout=120):
    """Poll *probe* once a second until it returns something true; fail with *explain()*."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        time.sleep(1)
    pytest.fail(f"timed out waiting for {what}: {explain()}")


@pytest.fixture(scope="session")
def salt_factories_default_root_dir():
    """Factory daemons' keys, caches and logs: one short directory per run (socket paths have a
    length limit), removed afterwards instead of piling up under /tmp run after run."""
    root = tempfile.mkdtemp(prefix="dsu-sf-")
    try:
        yield pathlib.Path(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def on_host(host, command):
    """Run a shell command on a lab host; return stdout, failing the test on a non-zero exit."""
    proc = subprocess.run(lab.ssh_argv(host, command), capture_output=True, text=True)
    assert proc.returncode == 0, f"{command!r} on {host.name}: {proc.stderr}"
    return proc.stdout


def apply_and_summarize(host, roster, *args, pillar=None):
    if pillar is not None:
        args = (*args, f"pillar={json.dumps(pillar)}")
    run = salt_ssh([host.name], "state.apply", *args, roster=roster)
    return summarize_states(run.returns.get(host.name, [run.stderr]))


def states_by_id(host, sls, pillar):
    """One test=True run: {state id: (result, comment)} for every state, skips included."""
    run = salt_ssh([host.name], "state.apply", sls, "test=True", f"pillar={json.dumps(pillar)}",
                   roster=roster_path(lab.lab_dir()))
    ret = run.returns[host.name]
    assert isinstance(ret, dict), ret
    return {s["__id__"]: (s["result"], s["comment"]) for s in ret.values()}


@dataclass
class Converged:
    first: StateSummary
    check: StateSummary
    again: StateSummary


def converge(host, sls, pillar=None):
    """Apply *sls* (a role, or "" for the highstate), then prove it idempotent: a test=True rerun
    and a real re-apply must both succeed with zero changes. Returns all three summaries."""
    roster = roster_path(lab.lab_dir())
    target = (sls,) if sls else ()
    started = time.monotonic()
    first = apply_and_summarize(host, roster, *target, pillar=pillar)
    first_s = time.monotonic() - started
    assert first.success, f"{sls or 'highstate'} failed on {host.name}: {first.errors} " \
                          f"{[(p.id, p.comment) for p in first.failed_states]}"
    started = time.monotonic()
    check = apply_and_summarize(host, roster, *target, "test=True", pillar=pillar)
    check_s = time.monotonic() - started
    assert check.success and check.changed == 0, \
        f"test=True rerun would change: {[(p.id, p.comment) for p in check.changed_states]}"
    started = time.monotonic()
    again = apply_and_summarize(host, roster, *target, pillar=pillar)
    again_s = time.monotonic() - started
    assert again.success and again.changed == 0, \
        f"re-apply changed: {[(p.id, p.comment) for p in again.changed_states]}"
    TIMINGS.append((sls or "highstate", host.release, "pillar" if pillar else "", first_s,
                    check_s, again_s))
    return Converged(first, check, again)


# (what, release, variant, first converge s, test=True s, re-apply s) of every converge() call.
TIMINGS: list[tuple[str, str, str, float, float, float]] = []


# Markdown reports (the idempotence benchmark's summary.md) to print at the end of the run.
REPORTS: list[str] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach what this test phase timed or reported; tests/conftest.py prints it at the end."""
    report = yield
    report.user_properties += [("dsu_timing", t) for t in TIMINGS]
    report.user_properties += [("dsu_report", r) for r in REPORTS]
    TIMINGS.clear()
    REPORTS.clear()
    return report


def boot_host(name, release="bookworm", like="", root_password=None):
    """Boot one new lab host tied to this process; the caller stops it (lab.down). *like*
    "vps": a host as a fresh VPS is delivered, root's password *root_password* (vps.Password)."""
    _require_lab()
    try:
        (host,) = lab.up(name, 1, release, tie_to_parent=True, like=like,
                         root_password=root_password)
    except DsuError as exc:
        pytest.fail(f"the lab could not start: {exc.one_line()}")
    return host


@contextmanager
def booted_host(name, release="bookworm", like="", root_password=None) -> Iterator:
    """boot_host for a block (a module fixture's host): stopped however the block ends."""
    host = boot_host(name, release, like, root_password)
    try:
        yield host
    finally:
        lab.down([host.name])


@pytest.fixture
def fresh_host():
    """Factory: boot a brand-new lab host (default Debian 12) for one test; gone afterwards."""
    _require_lab()
    booted = []

    def boot(release="bookworm"):
        host = boot_host(f"f{os.getpid()}-{len(booted) + 1}", release)
        booted.append(host)
        return host

    try:
        yield boot
    finally:
        if booted:
            lab.down([h.name for h in booted])


@pytest.fixture
def isolated_lab(tmp_path, monkeypatch):
    """Environment for a second, independent lab (own bridge, subnet, state): its teardown can be
    checked for leftovers without touching the session's hosts. Stopped in teardown regardless."""
    # Distinct per process, and between the (at most two) xdist workers even if pids collide.
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:])
    suffix = (os.getpid() % 100) * 2 + worker % 2
    env = {
        "DSU_STATE_DIR": str(tmp_path / "state"),
        "DSU_LAB_BRIDGE": f"dsut{suffix}",
        "DSU_LAB_SUBNET": f"10.248.{suffix + 20}.0/24",
        "DSU_ARTIFACTS_DIR": str(tmp_path / "artifacts"),
    }
    full = {**os.environ, **env}

    def dsu(*args, check=True):
        proc = subprocess.run([sys.executable, "-m", "dsu", *args], env=full,
                              capture_output=True, text=True, timeout=900)
        if check:
            assert proc.returncode == 0, f"dsu {' '.join(args)}: {proc.stdout}{proc.stderr}"
        return proc

    dsu.env = env
    try:
        yield dsu
    finally:
        dsu("lab", "down", "--all", check=False)


# --- one lab host per module, for the modules that check a whole run against it ----------------
# (preflight, profiles, the bad-input corpus: a module-scoped host, a GnuPG home with the test key,
# and the host's state before any run, to prove a refused run changed nothing). A module that
# defines its own host fixture uses that one.


@pytest.fixture(scope="module")
def host(request):
    """A Debian 12 lab host named after the test module; stopped however the module ends."""
    name = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")[:6].replace("_", "-")
    with booted_host(f"{name}{os.getpid()}") as booted:
        yield booted


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """A GnuPG home with the sops test key, for the module's pillar trees."""
    from tests.support.sopskeys import gnupg_home_at  # noqa: PLC0415 - support imports this file

    with gnupg_home_at(tmp_path_factory.mktemp("module-keys") / "gnupg") as home:
        yield home


@pytest.fixture(scope="module")
def before(host):
    """The module host's state before any run (tests/support/hostsnapshot.py)."""
    from tests.support import hostsnapshot  # noqa: PLC0415 - it imports this file

    return hostsnapshot.baseline(host)
