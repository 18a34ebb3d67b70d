"""smoke() and `dsu smoke` end to end over a fake ssh: the script runs in this machine's sh against
stub commands, probes get the answer a test chooses. The evidence validates against its schema,
summary.md lists the failures, the exit code says whether any check failed."""

import argparse
import json
import subprocess
import time
from datetime import UTC, datetime, timedelta

import jsonschema
import pytest

from dsu.errors import DsuError
from dsu.progress import Progress
from dsu.smoke import checks, cli, report, smoke
from dsu.smoke.checks import Session
from dsu.targets import read_roster
from tests.support.healthdata import summary as health_summary

GREEN_STUBS = {
    "sudo": '[ "$1" = -n ] && shift; exec "$@"',
    "systemctl": "echo active",
    "nft": "echo '" + json.dumps({"nftables": [
        {"chain": {"family": "inet", "table": "filter", "name": "input", "hook": "input",
                   "policy": "drop"}},
        {"rule": {"family": "inet", "table": "filter", "chain": "input", "expr": [
            {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}},
                       "right": 2222}}, {"accept": None}]}}]}) + "'",
    "timedatectl": "echo yes",
    "chronyc": "exit 1",
}
REFUSED = Session(255, "", "root@h: Permission denied (publickey).\n")
CLOSED = Session(255, "", "ssh: connect to host h port 22: Connection refused\n")


@pytest.fixture
def fake_ssh(tmp_path, monkeypatch):
    """checks._ssh replaced: the script session runs locally, probes answer from *answers*."""
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    answers = {"stubs": dict(GREEN_STUBS), "root": {2222: REFUSED, 22: CLOSED}, "login": True}

    def fake(argv, timeout, script=""):
        if argv[-2:] != ["sh", "-s"]:
            return answers["root"][int(argv[argv.index("-p") + 1])]
        if not answers["login"]:
            return Session(255, "", "deploy@h: Permission denied (publickey).\n")
        for name, body in answers["stubs"].items():
            (stubs / name).write_text(f"#!/bin/sh\n{body}\n")
            (stubs / name).chmod(0o755)
        proc = subprocess.run(["sh", "-s"], input=script, capture_output=True, text=True,
                              env={"PATH": f"{stubs}:/usr/bin:/bin"}, timeout=timeout)
        return Session(proc.returncode, proc.stdout, proc.stderr)

    monkeypatch.setattr(checks, "_ssh", fake)
    monkeypatch.setattr(checks, "TIME_SYNC_WAIT", 1)
    return answers


@pytest.fixture
def artifacts(tmp_path, monkeypatch):
    monkeypatch.setenv("DSU_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    return tmp_path / "artifacts"


def _green_health(artifacts, host, run_id="20260101T000000Z"):
    summary = health_summary(host, run_id)
    summary["finished"] = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    (artifacts / "health" / run_id).mkdir(parents=True, exist_ok=True)
    (artifacts / "health" / run_id / f"{host}.json").write_text(json.dumps(summary))


@pytest.fixture
def roster(tmp_path):
    path = tmp_path / "roster"
    path.write_text("web1: {host: 10.0.0.5, user: deploy, port: 2222, sudo: true}\n"
                    "web2: {host: 10.0.0.6, user: deploy, port: 2222, sudo: true}\n")
    return path


def test_smoke_writes_one_valid_document_per_host(fake_ssh, artifacts, roster, tmp_path, schema):
    _green_health(artifacts, "web1")
    targets = list(read_roster(roster).values())
    results = smoke(targets, health_run=None, out=tmp_path / "out", progress=Progress(),
                    run_id="run1")
    assert list(results) == ["web1", "web2"]
    assert results["web1"].ok, results["web1"].checks
    assert results["web2"].failed == ["health"]  # no health summary for web2
    for host in results:
        document = json.loads((tmp_path / "out" / f"{host}.json").read_text())
        jsonschema.validate(document, schema("smoke-run.v1.json"))
        assert document["run_id"] == "run1"
        assert [c["name"] for c in document["checks"]] == [
            "ssh_login", "root_refused", "sudo", "units", "firewall", "health", "time_sync"]
    assert not (tmp_path / "out" / "summary.md").exists()  # the caller's choice


def test_a_dead_host_fails_every_check_within_its_bound(fake_ssh, artifacts, tmp_path, schema):
    silent = Session(None, "", "")
    fake_ssh["root"] = {2222: silent, 22: silent}
    fake_ssh["login"] = False
    roster = tmp_path / "roster"
    roster.write_text("dead: {host: 10.0.0.9, user: deploy, port: 2222}\n")
    result = smoke(list(read_roster(roster).values()), health_run=None, out=tmp_path / "out",
                   progress=Progress())["dead"]
    assert result.failed == ["ssh_login", "sudo", "units", "firewall", "health", "time_sync"]
    assert all(c.message.startswith("not checked") for c in result.checks
               if c.name in ("sudo", "units", "firewall", "time_sync"))
    document = json.loads((tmp_path / "out" / "dead.json").read_text())
    jsonschema.validate(document, schema("smoke-run.v1.json"))
    assert document["run_id"] == "out"


def test_smoke_refuses_a_bad_unit_or_run_id(tmp_path):
    with pytest.raises(DsuError, match="not a systemd unit name"):
        smoke([], health_run=None, out=tmp_path, progress=Progress(), units=["a;reboot"])
    with pytest.raises(DsuError, match="not a run directory name"):
        smoke([], health_run="../x", out=tmp_path, progress=Progress())


def _dsu_smoke(*argv):
    parser = argparse.ArgumentParser(prog="dsu")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["smoke", *argv])
    return args.func(args)


def test_the_command_exits_1_on_a_failure_and_lists_it(fake_ssh, artifacts, roster, capsys):
    _green_health(artifacts, "web1")
    fake_ssh["stubs"]["systemctl"] = 'case "$2" in nftables.service) echo failed;; ' \
                                     '*) echo active;; esac'
    assert _dsu_smoke("web*", "--roster", str(roster), "--unit", "cron") == 1
    out = capsys.readouterr().out
    (evidence,) = (artifacts / "smoke").iterdir()
    assert f"evidence: {evidence}" in out
    assert "web1                 FAILED" in out and "units: not active: nftables.service failed" in out
    summary = (evidence / "summary.md").read_text()
    assert "- **web1** (deploy@10.0.0.5:2222): FAIL (units)" in summary
    assert "- **web2** (deploy@10.0.0.6:2222): FAIL (units, health)" in summary
    assert "**units**: not active: nftables.service failed" in summary
    document = json.loads((evidence / "web1.json").read_text())
    assert "cron.service" in document["checks"][3]["observed"]


def test_the_command_exits_0_when_all_pass(fake_ssh, artifacts, roster, capsys):
    _green_health(artifacts, "web1", "20260101T000000Z")
    assert _dsu_smoke("web1", "--roster", str(roster), "--health-run", "20260101T000000Z") == 0
    assert "smoke passed" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    (["web1", "--health-run", "../etc"], "is not a run id"),
    (["web1", "--unit", "a;b"], "is not a systemd unit name"),
    ([], "the following arguments are required: TARGET"),
])
def test_bad_arguments_are_refused(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        _dsu_smoke(*argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_an_unknown_target_is_a_dsu_error(roster):
    with pytest.raises(DsuError, match="no target 'web9'"):
        _dsu_smoke("web9", "--roster", str(roster))


def test_hosts_run_in_parallel(fake_ssh, artifacts, tmp_path, monkeypatch):
    def slow(target, units, base, run):
        time.sleep(0.5)
        now = datetime.now(UTC)
        return checks.HostResult(target.name, target.host, target.user, target.port, now, now)

    monkeypatch.setattr("dsu.smoke.check_host", slow)
    roster = tmp_path / "roster"
    roster.write_text("".join(f"h{i}: {{host: 10.0.0.{i}}}\n" for i in range(8)))
    started = time.monotonic()
    smoke(list(read_roster(roster).values()), health_run=None, out=tmp_path / "o",
          progress=Progress())
    assert time.monotonic() - started < 2


def test_summary_is_stable_and_puts_failures_first():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    good = checks.HostResult("a", "10.0.0.1", "deploy", 2222, now, now,
                             [checks.Check("sudo", True, "exit 0", "exit 0", "fine")])
    bad = checks.HostResult("b", "10.0.0.2", "deploy", 2222, now, now,
                            [checks.Check("sudo", False, "exit 1 | x", "exit 0", "no `sudo`")])
    text = report.render_summary([good, bad], "r1")
    assert text == report.render_summary([bad, good], "r1")
    assert text.index("**b**") < text.index("**a**")
    assert "| sudo | **FAIL** | ok |" in text
    assert "- **sudo**: no 'sudo' — observed `exit 1 \\| x`, expected `exit 0`" in text
