"""The smoke checks' logic: how a login attempt ended, the check script's output read back, each
verdict from its observation, and the health evidence looked up on this machine."""

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dsu.smoke import checks
from dsu.smoke.checks import Session
from dsu.targets import Target
from tests.support.healthdata import check as health_check
from tests.support.healthdata import summary as health_summary

TARGET = Target(name="web1", host="10.0.0.5", port=2222, user="deploy", sudo=True)


@pytest.mark.parametrize(("returncode", "stderr", "kind"), [
    (0, "", "accepted"),
    (1, "", "accepted"),  # logged in; `true` is not the point
    (255, "root@10.0.0.5: Permission denied (publickey,password).\n", "auth_refused"),
    (255, "ssh: connect to host 10.0.0.5 port 22: Connection refused\n", "tcp_refused"),
    (255, "ssh: connect to host 10.0.0.5 port 22: Connection timed out\n", "no_answer"),
    (255, "ssh: connect to host 10.0.0.5 port 22: No route to host\n", "no_answer"),
    (255, "kex_exchange_identification: Connection closed by remote host\n", "closed"),
    (255, "", "closed"),
    (None, "", "no_answer"),
    (255, "Host key verification failed.\n", "host_key_unverified"),
    (255, "command-line line 0: Bad configuration option: foo\n", "error"),
])
def test_outcome_of_a_login_attempt(returncode, stderr, kind):
    assert checks.outcome(Session(returncode, "", stderr)) == kind


def test_sections_ignore_what_precedes_the_script_and_note_its_end():
    out = f"Welcome!\n@@sudo\nfake\n{checks.BEGIN}\n@@sudo\nrc=0\n@@units\nssh.service active\n" \
          f"{checks.END}\n"
    assert checks.sections(out) == {"begin": [], "sudo": ["rc=0"],
                                    "units": ["ssh.service active"], "end": []}
    assert checks.sections("Permission denied\n") == {}


def test_login_passes_once_the_script_began():
    ok = checks.check_login(TARGET, Session(0, "", ""), {"begin": []})
    assert ok.ok and ok.name == "ssh_login"
    refused = checks.check_login(
        TARGET, Session(255, "", "deploy@10.0.0.5: Permission denied (publickey).\n"), {})
    assert not refused.ok and refused.observed == "auth_refused"
    assert "Permission denied" in refused.message
    nologin = checks.check_login(
        TARGET, Session(1, "", "This account is currently not available.\n"), {})
    assert not nologin.ok and nologin.observed == "script_did_not_run"


def test_root_refused_needs_every_probe_refused():
    refused = Session(255, "", "root@x: Permission denied (publickey).\n")
    closed = Session(255, "", "ssh: connect to host x port 22: Connection refused\n")
    silent = Session(None, "", "")
    accepted = Session(0, "", "")
    assert checks.check_root_refused({2222: refused, 22: closed}).ok
    assert checks.check_root_refused({2222: refused, 22: silent}).ok
    bad = checks.check_root_refused({2222: refused, 22: accepted})
    assert not bad.ok and bad.observed == {"root@2222": "auth_refused", "root@22": "accepted"}
    assert "root@22: accepted" in bad.message
    unverified = checks.check_root_refused(
        {2222: Session(255, "", "Host key verification failed.\n")})
    assert not unverified.ok and "Host key verification failed" in unverified.message


def test_sudo_verdict():
    assert checks.check_sudo(Session(0, "", ""), {"sudo": ["rc=0"]}).ok
    bad = checks.check_sudo(Session(0, "", ""), {"sudo": ["rc=1", "sudo: a password is required"]})
    assert not bad.ok and bad.observed == "exit 1: sudo: a password is required"
    missing = checks.check_sudo(Session(None, "", ""), {"begin": []})
    assert not missing.ok and missing.message == "not checked: the session stopped at its time bound"
    no_login = checks.check_sudo(Session(255, "", ""), {})
    assert no_login.message == "not checked: no ssh login"


def test_units_verdict_names_each_unit_not_active():
    units = ("ssh.service", "nftables.service")
    ok = checks.check_units(units, Session(0, "", ""),
                            {"units": ["ssh.service active", "nftables.service active"]})
    assert ok.ok
    bad = checks.check_units(units, Session(0, "", ""),
                             {"units": ["ssh.service active", "nftables.service inactive"]})
    assert not bad.ok and bad.observed["nftables.service"] == "inactive"
    assert bad.message == "not active: nftables.service inactive"


def _rule(chain, *expr):
    return {"rule": {"family": "inet", "table": "filter", "chain": chain, "handle": 4,
                     "expr": list(expr)}}


def _dport(right, protocol="tcp"):
    return {"match": {"op": "==", "left": {"payload": {"protocol": protocol, "field": "dport"}},
                      "right": right}}


def _ruleset(*items, policy="drop"):
    chain = {"chain": {"family": "inet", "table": "filter", "name": "input", "handle": 1,
                       "type": "filter", "hook": "input", "prio": 0, "policy": policy}}
    return json.dumps({"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
                                    {"table": {"family": "inet", "name": "filter", "handle": 1}},
                                    chain, *items]})


ACCEPT = {"accept": None}


@pytest.mark.parametrize(("ruleset", "ok"), [
    (_ruleset(_rule("input", _dport(2222), ACCEPT)), True),
    (_ruleset(_rule("input", _dport({"set": [22, 2222]}), ACCEPT)), True),
    (_ruleset(_rule("input", _dport({"set": [{"range": [2000, 3000]}]}), ACCEPT)), True),
    (_ruleset(_rule("input", _dport(2222, "th"), ACCEPT)), True),
    (_ruleset(_rule("input", {"jump": {"target": "ssh"}}), _rule("ssh", _dport(2222), ACCEPT)),
     True),
    (_ruleset(_rule("input", _dport(2222), ACCEPT), policy="accept"), False),
    (_ruleset(_rule("input", _dport(22), ACCEPT)), False),
    (_ruleset(_rule("input", _dport(2222), {"drop": None})), False),
    (_ruleset(_rule("input", _dport(2222, "udp"), ACCEPT)), False),
    (json.dumps({"nftables": [{"metainfo": {"version": "1.0.6"}}]}), False),
])
def test_firewall_from_the_json_ruleset(ruleset, ok):
    result = checks.check_firewall(2222, Session(0, "", ""),
                                   {"firewall": ["format=json", *ruleset.splitlines()]})
    assert result.ok is ok, result
    assert result.name == "firewall"


def test_firewall_observation_and_reasons():
    open_door = checks.check_firewall(2222, Session(0, "", ""), {"firewall": [
        "format=json", _ruleset(_rule("input", _dport(2222), ACCEPT), policy="accept")]})
    assert open_door.observed == {"input_chains": [
        {"chain": "inet filter input", "policy": "accept", "accepts_port": True}]}
    assert open_door.message == "no input hook chain has policy drop"
    empty = checks.check_firewall(2222, Session(0, "", ""), {"firewall": ["format=json",
                                                                          '{"nftables": []}']})
    assert empty.message == "no input hook chain (no firewall)"
    unreadable = checks.check_firewall(2222, Session(0, "", ""), {"firewall": [
        "format=error", "sudo: a password is required"]})
    assert not unreadable.ok and unreadable.message.endswith("sudo: a password is required")
    garbled = checks.check_firewall(2222, Session(0, "", ""), {"firewall": ["format=json", "{"]})
    assert not garbled.ok and "could not be parsed" in garbled.message


TEXT_RULESET = """\
table inet filter {
	set admins {
		type ipv4_addr
		elements = { 10.0.0.1 }
	}
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iif "lo" accept
		tcp dport { ssh, 2222 } accept
		jump extra
	}
	chain extra {
		tcp dport 8000-8100 accept
	}
	chain output {
		type filter hook output priority filter; policy accept;
	}
}
"""


@pytest.mark.parametrize(("port", "ok"), [(2222, True), (22, True), (8050, True), (8200, False)])
def test_firewall_from_the_plain_listing(port, ok):
    result = checks.check_firewall(port, Session(0, "", ""),
                                   {"firewall": ["format=text", *TEXT_RULESET.splitlines()]})
    assert result.ok is ok, result
    assert [c["chain"] for c in result.observed["input_chains"]] == ["inet filter input"]


# Real listings (nft 1.0.6) of two tables with an input chain each; a port must pass both.
HERE = Path(__file__).parent


@pytest.mark.parametrize("form", ["json", "text"])
@pytest.mark.parametrize(("port", "ok", "dropping"), [
    (2222, False, "ip t2 inp"), (22, False, "inet filter input"), (5, False, None)])
def test_every_input_chain_must_let_the_port_through(form, port, ok, dropping):
    listing = (HERE / {"json": "ruleset.json", "text": "ruleset.txt"}[form]).read_text()
    result = checks.check_firewall(port, Session(0, "", ""),
                                   {"firewall": [f"format={form}", *listing.splitlines()]})
    assert result.ok is ok
    assert [c["chain"] for c in result.observed["input_chains"]] == ["inet filter input",
                                                                     "ip t2 inp"]
    if dropping:
        assert result.message == f"tcp {port} is not accepted by {dropping} (policy drop)"


def test_both_listings_read_the_same():
    chains = checks.parse_ruleset_json((HERE / "ruleset.json").read_text())
    assert chains == checks.parse_ruleset_text((HERE / "ruleset.txt").read_text())
    assert chains[("ip", "t2", "sub")].accepts == [(22, 22), (3000, 3100)]
    assert chains[("ip", "t2", "inp")].jumps == ["sub"]


TRACKING = """\
Reference ID    : 0AF80001 (10.248.0.1)
Stratum         : 3
Leap status     : Normal
"""


def test_time_sync_by_timedatectl_or_chrony():
    by_timedatectl = checks.check_time(Session(0, "", ""),
                                       {"time": ["waited=0", "ntp=yes", "506 Cannot talk"]})
    assert by_timedatectl.ok and by_timedatectl.message == "clock synchronised (timedatectl)"
    by_chrony = checks.check_time(Session(0, "", ""),
                                  {"time": ["waited=3", "ntp=no", *TRACKING.splitlines()]})
    assert by_chrony.ok and by_chrony.observed["waited_s"] == 3
    assert by_chrony.observed["chrony_reference"] == "0AF80001 (10.248.0.1)"
    unsynced = TRACKING.replace("0AF80001 (10.248.0.1)", "00000000 ()")
    bad = checks.check_time(Session(0, "", ""),
                            {"time": ["waited=20", "ntp=no", *unsynced.splitlines()]})
    assert not bad.ok and bad.message == "clock not synchronised after 20 s"
    no_chrony = checks.check_time(Session(0, "", ""), {"time": [
        "waited=20", "ntp=", "sudo: chronyc: command not found"]})
    assert not no_chrony.ok and no_chrony.observed["chrony_error"] == \
        "sudo: chronyc: command not found"


NOW = datetime(2026, 1, 1, 1, 0, tzinfo=UTC)


def _write_health(base, run_id, host="web1", failing=False, finished=NOW - timedelta(minutes=5)):
    summary = health_summary(host, run_id, checks=[
        health_check("unit:ssh.service", "fail" if failing else "pass")])
    summary["finished"] = finished.isoformat()
    (base / run_id).mkdir(parents=True, exist_ok=True)
    (base / run_id / f"{host}.json").write_text(json.dumps(summary))


def test_health_takes_the_newest_summary_of_the_host(tmp_path):
    _write_health(tmp_path, "old", failing=True, finished=NOW - timedelta(hours=2))
    _write_health(tmp_path, "new", finished=NOW - timedelta(minutes=5))
    _write_health(tmp_path, "other", host="web2", failing=True, finished=NOW)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "web1.json").write_text("{")
    result = checks.check_health("web1", tmp_path, None, NOW)
    assert result.ok, result
    assert result.observed["run_id"] == "new" and result.observed["age_s"] == 300
    assert result.message == "health run new (5 min old): pass"


def test_health_of_a_given_run_and_its_failures(tmp_path):
    _write_health(tmp_path, "old", failing=True, finished=NOW - timedelta(hours=2))
    _write_health(tmp_path, "new")
    result = checks.check_health("web1", tmp_path, "old", NOW)
    assert not result.ok
    assert result.message == "health run old (2 h old): fail; mandatory failures: unit:ssh.service"
    missing = checks.check_health("web1", tmp_path, "absent", NOW)
    assert not missing.ok and missing.message == "no health summary for web1 in run absent"
    none = checks.check_health("web3", tmp_path, None, NOW)
    assert not none.ok and none.observed is None


# The script itself, run by this machine's sh against stub commands on PATH (as root here, so
# without sudo, as on a host reached as root).

STUBS = {
    "sudo": '[ "$1" = -n ] && shift; exec "$@"',
    "systemctl": 'case "$2" in ssh.service) echo active;; *) echo inactive; exit 3;; esac',
    "nft": "[ \"$1\" = -j ] && exit 1; printf '%s\\n' 'table inet filter {' 'chain input {' "
           "'type filter hook input priority filter; policy drop;' 'tcp dport 2222 accept' '}' '}'",
    "timedatectl": "echo no",
    "chronyc": "echo 'Reference ID    : 0AF80001 (10.248.0.1)'; echo 'Leap status     : Normal'",
}


def test_script_output_reads_back(tmp_path):
    for name, body in STUBS.items():
        (tmp_path / name).write_text(f"#!/bin/sh\n{body}\n")
        (tmp_path / name).chmod(0o755)
    path = f"{tmp_path}:/usr/bin:/bin"
    proc = subprocess.run(["sh", "-s"], input=checks.script(["ssh.service", "a\\x2db@c.service"]),
                          capture_output=True, text=True, env={"PATH": path}, timeout=30)
    found = checks.sections(proc.stdout)
    session = Session(proc.returncode, proc.stdout, proc.stderr)
    assert "end" in found, proc
    assert checks.check_units(["ssh.service", "a\\x2db@c.service"], session, found).observed == {
        "ssh.service": "active", "a\\x2db@c.service": "inactive"}
    assert checks.check_firewall(2222, session, found).ok
    assert checks.check_time(session, found).ok
    assert checks.check_time(session, found).observed["waited_s"] == 0
