"""Real lab hosts for the integration layer. If the lab cannot start, the run fails with the reason.

Hosts booted here die with the test process (PR_SET_PDEATHSIG) and are stopped in teardown,
also when a test fails or the run is interrupted.
"""

import os
import subprocess
import sys

import pytest

from dsu.errors import DsuError
from dsu.lab import hosts as lab
from dsu.lab.roster import roster_path
from dsu.saltrun import salt_ssh, summarize_states


def _require_lab():
    if os.geteuid() != 0:
        pytest.fail("integration tests need root: lab hosts are systemd-nspawn machines")


@pytest.fixture(scope="session")
def lab_hosts():
    """Fresh Debian 12 hosts: [0] for salt-ssh, [1] for a minion, [2] for salt-call --local."""
    _require_lab()
    try:
        booted = lab.up(f"t{os.getpid()}", count=3, tie_to_parent=True)
    except DsuError as exc:
        pytest.fail(f"the lab could not start: {exc.one_line()}")
    try:
        yield booted
    finally:
        lab.down([h.name for h in booted])


@pytest.fixture(scope="session")
def roster(lab_hosts):
    return roster_path(lab.lab_dir())


def on_host(host, command):
    """Run a shell command on a lab host; return stdout, failing the test on a non-zero exit."""
    proc = subprocess.run(lab.ssh_argv(host, command), capture_output=True, text=True)
    assert proc.returncode == 0, f"{command!r} on {host.name}: {proc.stderr}"
    return proc.stdout


def apply_and_summarize(host, roster, *args):
    run = salt_ssh([host.name], "state.apply", *args, roster=roster)
    return summarize_states(run.returns.get(host.name, [run.stderr]))


@pytest.fixture
def isolated_lab(tmp_path, monkeypatch):
    """Environment for a second, independent lab (own bridge, subnet, state): its teardown can be
    checked for leftovers without touching the session's hosts. Stopped in teardown regardless."""
    suffix = os.getpid() % 200
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
