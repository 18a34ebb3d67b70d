"""The operator's path end to end, in a lab of its own: dsu lab up, status, salt-ssh with the
generated roster, the canonical deploy (twice: the second changes nothing), and down --all
leaving nothing behind."""

import json
import subprocess
from pathlib import Path

import jsonschema

from dsu.saltssh import salt_bin


def _salt_ssh(roster, fun, *args):
    proc = subprocess.run([salt_bin("salt-ssh"), f"--roster-file={roster}", "--out=json",
                           "--static", "*", fun, *args],
                          cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _leftovers(env):
    bridge = env["DSU_LAB_BRIDGE"]
    found = []
    nspawn = subprocess.run(["pgrep", "-af", "systemd-nspawn"], capture_output=True, text=True)
    found += [line for line in nspawn.stdout.splitlines() if "--machine=cli" in line]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    found += [line for line in links.splitlines() if f" {bridge}:" in line or " vb-cli" in line]
    mounts = Path("/proc/mounts").read_text()
    found += [line for line in mounts.splitlines() if env["DSU_STATE_DIR"] in line]
    proxy = subprocess.run(["pgrep", "-af", "dsu lab proxy"], capture_output=True, text=True)
    found += [line for line in proxy.stdout.splitlines() if env["DSU_LAB_SUBNET"][:-5] in line]
    return found


def test_operator_path_and_clean_teardown(isolated_lab, schema):
    up = isolated_lab("lab", "up", "cli", "--count", "2")
    assert "2 host(s) up" in up.stdout

    status = isolated_lab("lab", "status").stdout.splitlines()
    rows = [line.split() for line in status[1:]]
    assert [r[0] for r in rows] == ["cli-1", "cli-2"]
    for row in rows:
        assert row[3] in {"running", "degraded"} and row[4] == "systemd", status

    roster = Path(isolated_lab.env["DSU_STATE_DIR"]) / "lab" / "roster"
    assert _salt_ssh(roster, "test.ping") == {"cli-1": True, "cli-2": True}
    facts = _salt_ssh(roster, "hostfacts.summary")
    assert {f["init"] for f in facts.values()} == {"systemd"}

    # Plain lab hosts are reached as root: everything converges, and the smoke check says what
    # a production host must not be (root lets in, no deploy user, no firewall).
    first = isolated_lab("deploy", "--lab", "cli", "--count", "2", check=False)
    assert first.returncode == 1 and "deploy FAILED on cli-1, cli-2" in first.stdout, first.stderr
    second = isolated_lab("deploy", "--lab", "cli", "--count", "2", check=False)
    runs = sorted(Path(isolated_lab.env["DSU_ARTIFACTS_DIR"], "deploy").glob("*/"))
    assert len(runs) == 2 and (runs[0].parent / "LATEST_RUN.txt").read_text() == f"{runs[1].name}\n"
    for run in runs:
        assert "| cli-1 | ok | - | ok | ok | ok | ok | FAILED | FAILED at smoke |" in \
            (run / "summary.md").read_text()
        for path in run.glob("*.json"):
            record = json.loads(path.read_text())
            jsonschema.validate(record, schema("deploy-run.v2.json"))
            assert record["failed_phase"] == "smoke" and "root_refused" in record["reason"]
            phases = {p["phase"]: p for p in record["phases"]}
            assert phases["recheck"]["counts"]["changed"] == 0 and phases["health"]["ok"]
    again = [json.loads(p.read_text()) for p in runs[1].glob("*.json")]
    assert all(p["counts"]["changed"] == 0 for r in again for p in r["phases"]
               if p["phase"] == "highstate"), second.stderr

    down = isolated_lab("lab", "down", "--all")
    assert "stopped 2 host(s)" in down.stdout
    assert _leftovers(isolated_lab.env) == []
    assert isolated_lab("lab", "status").stdout.strip() == "no lab hosts"


def test_clear_errors(isolated_lab):
    bad = isolated_lab("lab", "up", "Bad_Name", check=False)
    assert bad.returncode == 2 and "invalid lab host name" in bad.stderr and "fix:" in bad.stderr
    missing = isolated_lab("lab", "down", "nosuchhost", check=False)
    assert missing.returncode == 2 and "no lab host named nosuchhost" in missing.stderr
