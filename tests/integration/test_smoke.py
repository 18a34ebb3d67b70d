"""`dsu smoke` against a real lab host, a vps-like one as delivered: first as it is (root on 22,
no deploy user, no firewall), which must fail; then prepared by hand as a bootstrap leaves a host
(a deploy user with the lab key and passwordless sudo, sshd on 2222 only refusing root, nftables
dropping all but 2222, chrony tracking the lab's time server, a green health run on file), which
must pass. Evidence in the test's own directories; the host is gone afterwards."""

import json
import os
import subprocess
import time
from datetime import UTC, datetime

import jsonschema
import pytest
import yaml

from dsu.lab import hosts as lab
from tests.integration.conftest import booted_host, on_host
from tests.support.dsucli import run_dsu
from tests.support.healthdata import summary as health_summary

PORT = 2222
CHECKS = ["ssh_login", "root_refused", "sudo", "units", "firewall", "health", "time_sync"]
NFTABLES_CONF = f"""\
#!/usr/sbin/nft -f
flush ruleset
table inet filter {{
    chain input {{
        type filter hook input priority filter; policy drop;
        ct state established,related accept
        iif "lo" accept
        tcp dport {PORT} accept
    }}
}}
"""


@pytest.fixture(scope="module")
def host():
    with booted_host(f"smoke{os.getpid()}", like="vps") as booted:
        yield booted


@pytest.fixture
def artifacts(tmp_path):
    return tmp_path / "artifacts"


def _smoke(artifacts, *args):
    env = {**os.environ, "DSU_ARTIFACTS_DIR": str(artifacts)}
    started = time.monotonic()
    proc = run_dsu("smoke", *args, env=env, timeout=120)
    return proc, time.monotonic() - started


def _evidence(artifacts, host, schema):
    (run,) = (artifacts / "smoke").iterdir()
    document = json.loads((run / f"{host.name}.json").read_text())
    jsonschema.Draft202012Validator(schema("smoke-run.v1.json")).validate(document)
    assert [c["name"] for c in document["checks"]] == CHECKS
    return document, (run / "summary.md").read_text()


def test_a_host_as_delivered_fails(host, artifacts, schema):
    proc, took = _smoke(artifacts, host.name, "--roster", str(lab.roster_file()))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    document, summary = _evidence(artifacts, host, schema)
    verdicts = {c["name"]: c for c in document["checks"]}
    assert verdicts["ssh_login"]["ok"]  # root on 22, as the roster says
    assert {"root_refused", "sudo", "units", "firewall", "health"} <= set(document["failed"])
    assert verdicts["root_refused"]["observed"] == {"root@22": "accepted"}
    assert verdicts["units"]["observed"]["nftables.service"] != "active"
    assert f"- **{host.name}** (root@{host.address}:22): FAIL (" in summary
    for name in ("root_refused", "sudo", "units", "firewall", "health"):
        assert f"- **{name}**: " in summary
    assert "FAILED" in proc.stdout and took < 60


def _prepare(host):
    """What a bootstrap does, by hand: deploy user, sudo, chrony, nftables, sshd on 2222 only."""
    on_host(host, "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "
                  "sudo nftables chrony >/dev/null")
    on_host(host, "useradd -m -s /bin/bash deploy && install -d -m 700 -o deploy -g deploy "
                  "/home/deploy/.ssh && install -m 600 -o deploy -g deploy "
                  "/root/.ssh/authorized_keys /home/deploy/.ssh/authorized_keys && "
                  "echo 'deploy ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/deploy && "
                  "chmod 440 /etc/sudoers.d/deploy")
    # As core.time does in a container: chronyd tracks its sources (-x), never sets the clock.
    on_host(host, "mkdir -p /etc/systemd/system/chrony.service.d && "
                  "printf '[Unit]\\nConditionCapability=\\n' > "
                  "/etc/systemd/system/chrony.service.d/lab.conf && "
                  "echo 'DAEMON_OPTS=\"-F 1 -x\"' > /etc/default/chrony && "
                  "systemctl daemon-reload && systemctl restart chrony")
    subprocess.run(lab.ssh_argv(host, "cat > /etc/nftables.conf"), input=NFTABLES_CONF,
                   text=True, check=True)
    # Last: from here on root's way in (port 22) is gone, the session in use survives the reload.
    on_host(host, f"printf 'Port {PORT}\\nPermitRootLogin no\\n' > /etc/ssh/sshd_config.d/"
                  "10-smoke.conf && sshd -t && systemctl enable -q --now nftables && "
                  "systemctl reload ssh")


def _deploy_roster(host, tmp_path):
    """The roster entry a bootstrap leaves, with a known_hosts of its own."""
    entry = dict(yaml.safe_load(lab.roster_file().read_text())[host.name])
    known = tmp_path / "known_hosts"
    known.write_text(f"{host.address} {host.host_key}\n[{host.address}]:{PORT} {host.host_key}\n")
    entry.pop("dsu_bootstrap", None)
    entry.update({"user": "deploy", "port": PORT, "sudo": True,
                  "ssh_options": [f"UserKnownHostsFile={known}", "StrictHostKeyChecking=yes"]})
    roster = tmp_path / "roster"
    roster.write_text(yaml.safe_dump({host.name: entry}))
    return roster


def _green_health(host, artifacts):
    run_id = "20260101T000000Z"
    summary = health_summary(host.name, run_id)
    summary["finished"] = datetime.now(UTC).isoformat(timespec="milliseconds")
    (artifacts / "health" / run_id).mkdir(parents=True)
    (artifacts / "health" / run_id / f"{host.name}.json").write_text(json.dumps(summary))


def test_a_host_as_bootstrapped_passes(host, artifacts, schema, tmp_path):
    _prepare(host)
    roster = _deploy_roster(host, tmp_path)
    _green_health(host, artifacts)
    proc, took = _smoke(artifacts, host.name, "--roster", str(roster))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    document, summary = _evidence(artifacts, host, schema)
    assert document["ok"] and document["failed"] == []
    verdicts = {c["name"]: c for c in document["checks"]}
    assert verdicts["root_refused"]["observed"] == {f"root@{PORT}": "auth_refused",
                                                    "root@22": "no_answer"}  # dropped
    assert verdicts["firewall"]["observed"]["input_chains"] == [
        {"chain": "inet filter input", "policy": "drop", "accepts_port": True}]
    assert f"- **{host.name}** (deploy@{host.address}:{PORT}): PASS" in summary
    assert took < 40
