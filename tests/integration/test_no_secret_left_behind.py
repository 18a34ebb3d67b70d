"""No decrypted pillar left behind by a state run that failed or was killed, on a real lab host and
on this side (docs/secrets.md, "No leaks"); a wipe never pulls salt-ssh's directory from under a
run still going there.

salt-ssh ships a target's whole compiled pillar (a canary from a GPG and a SOPS secrets file here)
in its state bundle, and packs that bundle in this machine's temp directory first:

- a failed state run, wiping when done as dsu's state runs do, leaves nothing on either side;
- a salt-ssh SIGKILLed mid-run leaves its bundle in the temp directory: the command's private one
  (privatetmp.private_tmpdir) goes with it; the run on the host goes on and wipes when done;
- salt-ssh 3008 on its own: a --wipe run while an earlier run is still going on the host (its
  salt-ssh killed) removes the directory the earlier one runs from, which then fails half-way;
  preflight, as every dsu state run, first waits for it.
"""

import json
import os
import signal
import subprocess
import tarfile
import time
import uuid

import pytest

from dsu import preflight
from dsu.lab import hosts as lab
from dsu.lab.roster import roster_path
from dsu.privatetmp import private_tmpdir
from dsu.runs import apply_states
from dsu.saltssh import salt_bin, salt_ssh
from tests.conftest import REPO
from tests.integration.conftest import booted_host, on_host, wait_for
from tests.support.leaks import canary_config, host_leaks, operator_leaks, stamp
from tests.support.sopskeys import gnupg_home_at

CANARIES = {"gpg": f"canary-gpg-{uuid.uuid4().hex}", "sops": f"canary-sops-{uuid.uuid4().hex}"}
NEEDLES = list(CANARIES.values())
STATES = {
    "leakcheck/fails.sls": "leakcheck-fails:\n  cmd.run:\n    - name: exit 3\n",
    # Sleeps, then leaves a marker: only a run that went on to its end writes it. file.managed is
    # loaded from salt-ssh's directory on the host when it is reached, after the sleep.
    "leakcheck/slow.sls": (
        "leakcheck-sleeps:\n  cmd.run:\n    - name: sleep {{ pillar['leakcheck']['sleep'] }}\n"
        "leakcheck-marker:\n  file.managed:\n"
        "    - name: /root/leakcheck-{{ pillar['leakcheck']['run'] }}\n"
        "    - contents: done\n    - require:\n      - cmd: leakcheck-sleeps\n"),
}
THIN_DIRS = "/var/tmp/.root_*_salt"


@pytest.fixture(scope="module")
def host():
    with booted_host(f"n{os.getpid()}") as booted:
        yield booted


@pytest.fixture(scope="module")
def operator(tmp_path_factory):
    root = tmp_path_factory.mktemp("left-behind")
    with gnupg_home_at(root / "gnupg") as home:
        yield root, canary_config(root, home.path, CANARIES, STATES)


def _roster():
    return roster_path(lab.lab_dir())


def _remote_state_runs(host):
    """pids of salt-ssh state runs (salt-call … state.pkg) going on *host*."""
    proc = subprocess.run(lab.ssh_argv(host, "pgrep -f 'salt-call.* state[.]pkg '"),
                          capture_output=True, text=True)
    return proc.stdout.split()


def _slow_run(host, config, run, sleep=20):
    """salt-ssh applying leakcheck.slow on *host*, as a session of its own; returns once the
    state run is going on the host."""
    pillar = json.dumps({"leakcheck": {"run": run, "sleep": sleep}})
    argv = [salt_bin("salt-ssh"), f"--config-dir={config}", f"--roster-file={_roster()}", "--wipe",
            "--out=json", "-L", host.name, "state.apply", "leakcheck.slow", f"pillar={pillar}"]
    proc = subprocess.Popen(argv, cwd=REPO, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_for("the state run on the host", lambda: _remote_state_runs(host) or proc.poll() is not None,
             lambda: "")
    assert proc.poll() is None, f"salt-ssh ended early ({proc.returncode})"
    return proc


def _kill_session(proc):
    """What is left of salt-ssh on this side: its per-host processes and their ssh sessions."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _marker(host, run):
    return on_host(host, f"cat /root/leakcheck-{run} 2>/dev/null; true").strip()


def _bundled_pillar(tmp):
    """Whether a finished state bundle in *tmp* carries the canary in its pillar.json."""
    for bundle in tmp.glob("__salt.tmp.*"):
        try:
            with tarfile.open(bundle) as tar:
                if CANARIES["sops"].encode() in tar.extractfile("pillar.json").read():
                    return True
        except (OSError, tarfile.TarError, KeyError, EOFError):
            continue  # still being written
    return False


def _after_remote_runs(host):
    wait_for("the state runs on the host to end", lambda: not _remote_state_runs(host),
             lambda: f"still going: {_remote_state_runs(host)}", timeout=180)


def test_a_failed_state_run_leaves_no_pillar_on_either_side(host, operator, tmp_path):
    root, config = operator
    since = stamp(host)
    with private_tmpdir(tmp_path / "tmp") as tmp:
        done = apply_states([host.name], "leakcheck.fails", roster=_roster(), config_dir=config,
                            wipe=True)
        summary = done.summaries[host.name]
        assert not summary.success and [p.id for p in summary.failed_states] == ["leakcheck-fails"]
        leaks = operator_leaks(NEEDLES, tmp, root / "salt-root", root / "artifacts")
    assert not tmp.exists()
    leaks += host_leaks(host, NEEDLES, since)
    assert on_host(host, f"ls -d {THIN_DIRS} 2>/dev/null; true") == ""
    assert leaks == [], f"the decrypted pillar was left in: {leaks}"


def test_a_killed_salt_ssh_leaves_no_bundle_here_and_its_run_none_there(host, operator, tmp_path):
    root, config = operator
    since = stamp(host)
    base = tmp_path / "tmp"
    with private_tmpdir(base) as tmp:
        proc = _slow_run(host, config, "killed", sleep=10)
        try:
            wait_for("salt-ssh's state bundle, the pillar in it, in the temp directory",
                     lambda: _bundled_pillar(tmp), lambda: str(list(tmp.iterdir())))
            proc.send_signal(signal.SIGKILL)  # the operator's salt-ssh, mid-run
            proc.wait()
        except BaseException:
            _kill_session(proc)
            raise
    try:
        # dsu's cleanup: the command's temp directory is gone, the bundle with it
        assert not tmp.exists() and list(base.rglob("__salt.tmp.*")) == []
        # salt-ssh's per-host process goes on without it; on the host, the run ends and wipes
        _after_remote_runs(host)
        assert _marker(host, "killed") == "done"
    finally:
        _kill_session(proc)
    leaks = host_leaks(host, NEEDLES, since) + operator_leaks(NEEDLES, root / "salt-root")
    assert leaks == [], f"the decrypted pillar was left in: {leaks}"


def test_a_wiping_run_waits_for_an_earlier_run_still_going(host, operator, tmp_path):
    root, config = operator
    # The race, with salt-ssh 3008 alone: the earlier run's operator side is killed, its run on
    # the host goes on; a --wipe run now removes the directory it runs from, so it breaks when it
    # next loads a module from there (file.managed, after the sleep) and never writes its marker.
    raced = _slow_run(host, config, "raced")
    _kill_session(raced)
    ping = salt_ssh([host.name], "test.ping", roster=_roster(), config_dir=config, wipe=True)
    assert ping.returns.get(host.name) is True, ping.stderr[-2000:]
    _after_remote_runs(host)
    assert _marker(host, "raced") == "", "the wipe did not break the run: the race is not shown"

    # preflight, like every dsu state run, waits for the earlier run first; both end whole.
    since = stamp(host)
    waited_for = _slow_run(host, config, "waited")
    _kill_session(waited_for)
    started = time.monotonic()
    found = preflight.check([host.name], _roster(), config_dir=config)
    assert found == [], [p.line() for p in found]
    assert _marker(host, "waited") == "done", "preflight's wipe broke the earlier run"
    assert time.monotonic() - started > 10, "preflight did not wait for the earlier run"
    assert on_host(host, f"ls -d {THIN_DIRS} 2>/dev/null; true") == ""
    leaks = host_leaks(host, NEEDLES, since) + operator_leaks(NEEDLES, root / "salt-root")
    assert leaks == [], f"the decrypted pillar was left in: {leaks}"
