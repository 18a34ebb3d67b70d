"""`dsu deploy` of a fleet from first contact (issue 14): three roster targets at once.

- ``good``: a VPS-like host that takes only root's password at first contact (its key removed):
  bootstrapped (deploy user with sudo on 2222, root and port 22 closed), preflight, highstate,
  zero changes on the recheck, health gate, smoke; the password is in no command line, file or
  output;
- ``sick``: a VPS-like host whose pillar demands a unit it does not have: it stops at the health
  gate, reported with the reason;
- ``ghost``: a lab address with no host behind it: it stops at the lock, reported.

The deploy exits 1, with evidence for all three. Afterwards on ``good``: the deploy user on 2222
with sudo, root and port 22 refused, names resolve through the host's resolver, chrony has
reachable sources; `dsu bootstrap` again changes nothing; a second deploy while one runs is
refused by the lock on the host, and the one that runs re-applies with zero changes.
"""

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
import yaml

from dsu.lab import hosts as lab
from dsu.lab import network, vps
from dsu.lab.roster import known_hosts_path
from dsu.targets import read_roster
from tests.conftest import REPO
from tests.integration.conftest import booted_host, on_host
from tests.integration.test_lab_vps_like import ArgvWatch
from tests.support.dsucli import run_dsu

PASSWORD = "canary-" + secrets.token_urlsafe(15)
MISSING_UNIT = "dsu-test-missing.service"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """Two VPS-like hosts (one with root's password and no key for root), a roster of its own
    with a third target nobody answers at, and a Salt config whose pillar makes one host sick."""
    base = tmp_path_factory.mktemp("fleet")
    pid = os.getpid()
    with booted_host(f"dg{pid}", like="vps", root_password=vps.Password(PASSWORD)) as good, \
            booted_host(f"ds{pid}", like="vps") as sick:
        on_host(good, "rm /root/.ssh/authorized_keys")  # first contact: the password only
        # A known_hosts of the fleet's own: the lab rewrites its own whenever hosts come and go.
        known = base / "known_hosts"
        shutil.copy(known_hosts_path(lab.lab_dir()), known)
        entries = {name: {**entry, "ssh_options": [f"UserKnownHostsFile={known}",
                                                   "StrictHostKeyChecking=yes"]}
                   for name, entry in yaml.safe_load(lab.roster_file().read_text()).items()}
        roster = {good.name: entries[good.name], sick.name: entries[sick.name],
                  # inside the lab's subnet, past the addresses hosts get: nothing answers
                  f"dx{pid}": {**entries[sick.name], "host": str(network.subnet()[-2])}}
        (base / "roster").write_text(yaml.safe_dump(roster))
        yield good, sick, f"dx{pid}", base


def _config(base: Path, sick: str) -> Path:
    """etc/salt with a pillar tree that adds a mandatory health check *sick* cannot pass."""
    config = base / "salt"
    shutil.copytree(REPO / "etc" / "salt", config, dirs_exist_ok=True)
    pillar = base / "pillar"
    shutil.copytree(REPO / "pillar", pillar, dirs_exist_ok=True)
    (pillar / "sick.sls").write_text(yaml.safe_dump(
        {"health_check": {"units": {MISSING_UNIT: {"mandatory": True}}}}))
    with (pillar / "top.sls").open("a") as top:
        top.write(f"\n  {sick}:\n    - sick\n")
    master = yaml.safe_load((config / "master").read_text())
    master["pillar_roots"] = {"base": [str(pillar)]}
    (config / "master").write_text(yaml.safe_dump(master))
    return config


@pytest.fixture(scope="module")
def deployed(fleet):
    good, sick, ghost, base = fleet
    password_file = base / "root-password"
    password_file.write_text(PASSWORD + "\n")
    password_file.chmod(0o600)
    out = base / "out"
    started = time.monotonic()
    with ArgvWatch(PASSWORD) as watch:
        run = run_dsu("deploy", good.name, sick.name, ghost, "--roster", str(base / "roster"),
                      "--config-dir", str(_config(base, sick.name)), "--root-password-file",
                      str(password_file), "--guard-seconds", "180", "--out", str(out),
                      timeout=900)
    took = time.monotonic() - started
    password_file.unlink()
    print(f"three-host first-contact deploy: {took:.0f}s")
    (evidence,) = [p for p in out.iterdir() if p.is_dir()]
    return run, evidence, watch


def _record(evidence: Path, host: str) -> dict:
    return json.loads((evidence / f"{host}.json").read_text())


def test_each_host_is_reported_where_it_stopped(fleet, deployed, schema):
    good, sick, ghost, _ = fleet
    run, evidence, _ = deployed
    assert run.returncode == 1, run.stderr
    assert f"deploy FAILED on {sick.name}, {ghost}" in run.stdout, run.stdout
    for host in (good.name, sick.name, ghost):
        jsonschema.validate(_record(evidence, host), schema("deploy-run.v2.json"))
    record = _record(evidence, good.name)
    assert record["ok"] and [p["phase"] for p in record["phases"]] == [
        "lock", "bootstrap", "preflight", "highstate", "recheck", "health", "smoke"], record
    phases = {p["phase"]: p for p in record["phases"]}
    assert [s["step"] for s in phases["bootstrap"]["steps"]] == ["open", "proof", "close",
                                                                 "final proof"]
    assert phases["recheck"]["counts"]["changed"] == 0
    assert (record["target"]["user"], record["target"]["port"]) == ("deploy", 2222)
    jsonschema.validate(json.loads((evidence / "smoke" / f"{good.name}.json").read_text()),
                        schema("smoke-run.v1.json"))

    record = _record(evidence, sick.name)
    assert record["failed_phase"] == "health" and MISSING_UNIT in record["reason"]
    assert {p["phase"] for p in record["phases"]} >= {"bootstrap", "highstate", "health"}
    record = _record(evidence, ghost)
    assert record["failed_phase"] == "lock" and record["reason"], record
    summary = (evidence / "summary.md").read_text()
    assert f"**{sick.name}** stopped at health" in summary and f"**{ghost}** stopped at lock" in summary
    assert (evidence.parent / "LATEST_RUN.txt").read_text().strip() == evidence.name


def test_the_root_password_is_in_no_command_line_file_or_output(fleet, deployed):
    _, _, _, base = fleet
    run, evidence, watch = deployed
    assert watch.scans > 10 and watch.hits == []
    assert PASSWORD not in run.stdout + run.stderr
    places = [evidence, base / "roster", lab.lab_dir(), REPO / ".salt-root"]
    for place in places:
        files = [place] if place.is_file() else [p for p in place.rglob("*") if p.is_file()]
        for path in files:
            try:
                assert PASSWORD.encode() not in path.read_bytes(), path
            except OSError:
                continue


def _target(base: Path, name: str):
    return read_roster(base / "roster")[name]


def _ssh(target, command: str, **how) -> subprocess.CompletedProcess:
    return subprocess.run(target.ssh_argv(command, connect_timeout=5, **how),
                          capture_output=True, text=True, timeout=60)


def test_the_bootstrapped_host_is_reached_only_as_its_deploy_user(fleet, deployed):
    good, _, _, base = fleet
    target = _target(base, good.name)
    assert (target.user, target.port, target.sudo, target.bootstrap) == ("deploy", 2222, True, None)
    assert _ssh(target, "sudo -n true").returncode == 0
    assert _ssh(target, "true", user="root").returncode != 0
    assert _ssh(target, "true", user="root", port=22).returncode != 0
    known = target.known_hosts().read_text()
    assert f"[{good.address}]:2222 " in known
    # Names still resolve through the host's own resolver, and chrony reaches its sources.
    assert _ssh(target, "getent hosts deb.debian.org").returncode == 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        sources = _ssh(target, "sudo -n chronyc -n sources").stdout
        if any(line.startswith(("^*", "^+")) for line in sources.splitlines()):
            break
        time.sleep(2)
    else:
        pytest.fail(f"chrony has no reachable source:\n{sources}")


def test_bootstrap_again_changes_nothing(fleet, deployed, tmp_path):
    good, _, _, base = fleet
    run = run_dsu("bootstrap", good.name, "--roster", str(base / "roster"), "--out",
                  str(tmp_path), timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    (record,) = [json.loads(p.read_text()) for p in tmp_path.glob("*/*.json")]
    (phase,) = [p for p in record["phases"] if p["phase"] == "bootstrap"]
    assert [s["step"] for s in phase["steps"]] == ["verify"] and phase["changed"] == 0


def test_a_second_deploy_is_refused_and_a_killed_one_leaves_no_lock(fleet, deployed, tmp_path):
    """While a deploy of the host runs, a second one is refused by the lock on the host; the
    first, killed with SIGKILL in its highstate, leaves the lock to go with its session, and the
    next deploy waits for the run it left on the host, then converges with zero changes."""
    good, _, _, base = fleet
    args = [good.name, "--roster", str(base / "roster"), "--config-dir", str(base / "salt")]
    first = subprocess.Popen([sys.executable, "-m", "dsu", "deploy", *args, "--out",
                              str(tmp_path / "first")], cwd=REPO, text=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    lines = []
    try:
        for line in first.stderr:
            lines.append(line)
            if "highstate: state.apply" in line:
                break
        second = run_dsu("deploy", *args, "--out", str(tmp_path / "second"), timeout=120)
    finally:
        first.kill()  # SIGKILL: no cleanup of its own
        first.wait(60)
    assert second.returncode == 1, "".join(lines) + second.stdout + second.stderr
    assert f"another deploy holds {good.name}" in second.stdout and "run " in second.stdout

    third = run_dsu("deploy", *args, "--out", str(tmp_path / "third"), timeout=600)
    assert third.returncode == 0, third.stdout + third.stderr
    (record,) = [json.loads(p.read_text()) for p in (tmp_path / "third").glob("*/*.json")]
    highstate = next(p for p in record["phases"] if p["phase"] == "highstate")
    assert highstate["counts"]["changed"] == 0, highstate
