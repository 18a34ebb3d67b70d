"""access_guard: arm / status / disarm with systemctl faked, and the standalone revert program run
for real against files in a temporary directory, with systemctl, nft and sshd as fakes that log
their arguments."""

import base64
import json
import os
import stat
import subprocess
import sys

import pytest
from salt.exceptions import CommandExecutionError

from tests.conftest import REPO
from tests.support.saltmods import load, utils

FAKE = """#!/bin/sh
echo "$(basename "$0") $*" >> "$FAKE_LOG"
case "$(basename "$0") $1" in
  "systemctl is-enabled") echo "$FAKE_ENABLED" ;;
  "systemctl is-active") echo "$FAKE_ACTIVE" ;;
  "sshd -t") [ -z "$FAKE_SSHD_ERROR" ] || { echo "$FAKE_SSHD_ERROR" >&2; exit 255; } ;;
esac
exit 0
"""


class Systemd:
    """cmd.run_all for the module: systemctl and systemd-run answers; *calls* records argv."""

    def __init__(self):
        self.calls, self.timer_active, self.run_rc = [], False, 0
        self.unit = {"enabled": "enabled", "active": "active"}

    def __call__(self, argv, **kwargs):
        self.calls.append(argv)
        ok = {"retcode": 0, "stdout": "", "stderr": ""}
        if argv[0] == "systemd-run":
            if self.run_rc:
                return {"retcode": self.run_rc, "stdout": "", "stderr": "Unit already exists"}
            self.timer_active = True
            return ok
        verb, unit = argv[1], argv[-1]
        if unit.endswith(".timer") and verb == "is-active":
            return dict(ok, retcode=0 if self.timer_active else 3,
                        stdout="active" if self.timer_active else "inactive")
        if verb == "stop":
            self.timer_active = False
        if verb == "is-failed":
            return dict(ok, retcode=1)
        if verb in ("is-enabled", "is-active"):
            return dict(ok, stdout=self.unit[verb.removeprefix("is-")])
        return ok


@pytest.fixture
def guard(tmp_path):
    systemd = Systemd()
    module = load("_modules", "access_guard", salt={"cmd.run_all": systemd},
                  grains={"kernel": "Linux"}, utils=utils("owned_file"))
    module.GUARD_DIR = str(tmp_path / "guard")
    module.PROGRAM = str(tmp_path / "sbin" / "dsu-access-revert")
    module.systemd = systemd
    return module


@pytest.fixture
def files(tmp_path):
    etc = tmp_path / "etc"
    etc.mkdir()
    dropin, ruleset = etc / "10-dsu-access.conf", etc / "nftables.conf"
    ruleset.write_text("flush ruleset\n")
    ruleset.chmod(0o755)
    return dropin, ruleset


@pytest.fixture
def fakes(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("systemctl", "nft", "sshd"):
        (bin_dir / name).write_text(FAKE)
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "commands.log"
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "FAKE_LOG": str(log), "FAKE_ENABLED": "enabled",
           "FAKE_ACTIVE": "active", "FAKE_SSHD_ERROR": ""}
    return env, log


def revert(guard, env, **overrides):
    proc = subprocess.run([sys.executable, guard.PROGRAM], env={**env, **overrides},
                          capture_output=True, text=True, timeout=30)
    return proc.returncode, proc.stdout


def test_arm_snapshots_writes_the_program_and_starts_the_timer(guard, files):
    dropin, ruleset = files
    armed = guard.arm(30, files=[str(dropin), str(ruleset)])
    assert armed["files"] == {str(dropin): "absent", str(ruleset): "saved"}
    assert armed["nftables"] == {"enabled": "enabled", "active": "active"}
    snapshot_path = os.path.join(guard.GUARD_DIR, "snapshot.json")
    assert stat.S_IMODE(os.stat(snapshot_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(guard.GUARD_DIR).st_mode) == 0o700
    snapshot = json.load(open(snapshot_path))
    assert snapshot["files"][0] == {"path": str(dropin), "content": None}
    assert base64.b64decode(snapshot["files"][1]["content"]) == b"flush ruleset\n"
    assert snapshot["files"][1]["mode"] == 0o755
    program = open(guard.PROGRAM).read()
    assert stat.S_IMODE(os.stat(guard.PROGRAM).st_mode) == 0o700
    assert f'else "{snapshot_path}"' in program and "import salt" not in program
    (run,) = [argv for argv in guard.systemd.calls if argv[0] == "systemd-run"]
    assert "--unit=dsu-access-revert" in run and "--on-active=30s" in run
    assert "--timer-property=AccuracySec=1s" in run and run[-1] == guard.PROGRAM
    assert guard.status()["armed"] is True


def test_arming_again_replaces_the_timer_and_the_snapshot(guard, files):
    dropin, ruleset = files
    guard.arm(300, files=[str(dropin), str(ruleset)])
    dropin.write_text("Port 22\nPort 2222\n")
    guard.arm(300, files=[str(dropin), str(ruleset)])
    assert ["systemctl", "stop", "dsu-access-revert.timer"] in guard.systemd.calls
    snapshot = json.load(open(os.path.join(guard.GUARD_DIR, "snapshot.json")))
    assert base64.b64decode(snapshot["files"][0]["content"]) == b"Port 22\nPort 2222\n"


@pytest.mark.parametrize("seconds", [0, 4, "abc", "30s", True, 86401, None])
def test_a_bad_time_is_refused(guard, seconds):
    with pytest.raises(CommandExecutionError, match="seconds must be a whole number"):
        guard.arm(seconds)
    assert not guard.systemd.calls


def test_a_timer_that_cannot_start_leaves_no_snapshot(guard, files):
    guard.systemd.run_rc = 1
    with pytest.raises(CommandExecutionError, match="Unit already exists"):
        guard.arm(30, files=[str(p) for p in files])
    assert not os.path.exists(os.path.join(guard.GUARD_DIR, "snapshot.json"))


def test_disarm_stops_the_timer_and_removes_the_snapshot_once(guard, files):
    guard.arm(30, files=[str(p) for p in files])
    assert guard.disarm() == {"disarmed": True, "timer": "stopped", "snapshot": "removed"}
    status = guard.status()
    assert status["armed"] is False and status["snapshot"] is None
    with pytest.raises(CommandExecutionError, match="not armed"):
        guard.disarm()


def test_the_program_restores_files_and_reloads_nftables_and_ssh(guard, files, fakes):
    dropin, ruleset = files
    env, log = fakes
    guard.arm(30, files=[str(dropin), str(ruleset)])
    dropin.write_text("Port 22\nPort 2222\n")
    ruleset.write_text("changed\n")
    ruleset.chmod(0o600)
    code, out = revert(guard, env)
    assert code == 0, out
    assert not dropin.exists() and ruleset.read_text() == "flush ruleset\n"
    assert stat.S_IMODE(ruleset.stat().st_mode) == 0o755
    commands = log.read_text().splitlines()
    assert "systemctl reload-or-restart nftables.service" in commands
    assert commands[-2:] == ["sshd -t", "systemctl reload-or-restart ssh.service"]
    assert not os.path.exists(os.path.join(guard.GUARD_DIR, "snapshot.json"))
    last = guard.status()["last_revert"]
    assert last["result"] == "reverted" and any("restored" in line for line in last["log"])
    # idempotent: a second run finds nothing to do
    assert revert(guard, env) == (0, "dsu-access-revert: no snapshot "
                                     f"({guard.GUARD_DIR}/snapshot.json): nothing to revert\n")


def test_nftables_inactive_when_armed_is_flushed_stopped_and_disabled(guard, files, fakes):
    dropin, ruleset = files
    env, log = fakes
    guard.systemd.unit = {"enabled": "not-found", "active": "inactive"}
    ruleset.unlink()
    guard.arm(30, files=[str(dropin), str(ruleset)])
    ruleset.write_text("table inet filter {}\n")
    code, out = revert(guard, env)
    assert code == 0, out
    assert not ruleset.exists()
    commands = log.read_text().splitlines()
    for expected in ("systemctl disable nftables.service", "systemctl stop nftables.service",
                     "nft flush ruleset", "systemctl reload-or-restart ssh.service"):
        assert expected in commands, commands


def test_sshd_refusing_the_restored_files_means_no_reload_and_the_snapshot_kept(guard, files, fakes):
    env, log = fakes
    guard.arm(30, files=[str(p) for p in files])
    code, out = revert(guard, env, FAKE_SSHD_ERROR="line 3: Bad configuration option: Nope")
    assert code == 1 and "Bad configuration option: Nope" in out
    assert "systemctl reload-or-restart ssh.service" not in log.read_text()
    assert os.path.exists(os.path.join(guard.GUARD_DIR, "snapshot.json"))
    assert guard.status()["last_revert"]["result"] == "failed"


def test_revert_now_runs_the_program_and_returns_its_log(guard, files, fakes, monkeypatch):
    env, log = fakes
    guard.arm(30, files=[str(p) for p in files])
    files[0].write_text("Port 2222\n")

    def journal(argv, **kwargs):  # systemd-cat runs the program; its lines go to the journal
        if argv[0] != "systemd-cat":
            return guard.systemd(argv)
        proc = subprocess.run([sys.executable, *argv[2:]], env=env, capture_output=True, text=True)
        return {"retcode": proc.returncode, "stdout": "", "stderr": proc.stderr}

    monkeypatch.setitem(guard.__salt__, "cmd.run_all", journal)
    done = guard.revert()
    assert done["reverted"] is True and f"{files[0]}: removed (absent when armed)" in done["log"]
    assert not files[0].exists()
    assert guard.revert() == {"reverted": False, "log": ["no snapshot: nothing to revert"]}
    guard.arm(30, files=[str(p) for p in files])
    env["FAKE_SSHD_ERROR"] = "Bad configuration option"
    with pytest.raises(CommandExecutionError, match="sshd -t refuses .*Bad configuration option"):
        guard.revert()


def test_the_embedded_program_is_lint_clean_python(guard, tmp_path):
    # ruff does not see inside the string; the tree's rules, bar annotations (as for _modules)
    program = tmp_path / "dsu_access_revert.py"
    program.write_text(guard.REVERT_PROGRAM)
    ruff = os.path.join(os.path.dirname(sys.executable), "ruff")
    proc = subprocess.run([ruff, "check", "--config", str(REPO / "pyproject.toml"), "--ignore", "ANN",
                           str(program)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
