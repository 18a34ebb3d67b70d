"""The health reactor end to end: a salt-master started here with reactor/master.d/health.conf
and a salt-minion inside a fresh lab host that nobody syncs by hand. Its first start, a restart,
and a deploy-complete event sent by the host or by the master each end in a health.check whose
health_json returner files the summary on the host; a tag that names no single host starts no
job at all."""

import json
import os
import subprocess
import time

import jsonschema
import pytest
import salt.utils.yaml

from dsu.lab import hosts as lab
from dsu.lab import minion, network
from tests.integration.conftest import boot_host, on_host, wait_for

HEALTH = "/var/lib/deploy-system/health"
# The module's defaults check caddy and podman, which a bare lab host lacks: check what it has.
PILLAR = {"health_check": {"use_defaults": False, "units": {"ssh.service": {}}, "disks": {"/": {}}}}


@pytest.fixture(scope="module")
def master(salt_factories, repo, tmp_path_factory):
    pillar = tmp_path_factory.mktemp("reactor-pillar")
    (pillar / "top.sls").write_text("base:\n  '*':\n    - health\n")
    (pillar / "health.sls").write_text(json.dumps(PILLAR))
    # The fragment as shipped: its salt:// reactor path resolves in the repo's file_roots.
    fragment = salt.utils.yaml.safe_load((repo / "reactor/master.d/health.conf").read_text())
    factory = salt_factories.salt_master_daemon(
        "dsu-reactor-master",
        overrides={"interface": "0.0.0.0", "file_roots": {"base": [str(repo / "salt")]},
                   "pillar_roots": {"base": [str(pillar)]}, **fragment},
    )
    with factory.started():
        yield factory


def _explain(host, master):
    with open(master.config["log_file"], errors="replace") as log:
        lines = [line.rstrip() for line in log if "reactor" in line.lower() or "health" in line]
    journal = subprocess.run(lab.ssh_argv(host, "journalctl -u salt-minion --no-pager -n 25"),
                             capture_output=True, text=True).stdout
    return "\nmaster log (reactor/health lines):\n" + "\n".join(lines[-25:]) + \
        f"\nminion journal:\n{journal}"


def _until(what, probe, host, master, timeout=60):
    return wait_for(what, probe, lambda: _explain(host, master), timeout)


def _read(host, path):
    proc = subprocess.run(lab.ssh_argv(host, f"cat {path}"), capture_output=True, text=True)
    return proc.stdout if proc.returncode == 0 else None


@pytest.fixture(scope="module")
def lab_minion(master):
    host = boot_host(f"r{os.getpid()}")
    try:
        minion.install_minion(host, network.gateway(), master.config["ret_port"],
                              master.config["publish_port"])
        # The factory accepts the pending key itself; a short timeout per probe, since a job
        # published before the minion subscribed is never seen.
        ping = master.salt_cli(timeout=10)
        _until("the minion to answer",
               lambda: ping.run("test.ping", minion_tgt=host.name).data is True, host, master)
        # Nobody syncs this minion: its first start event alone leads (through the orchestration
        # salt/orch/health_after_start.sls) to synced modules and a filed health run.
        runs = f"find {HEALTH} -mindepth 2 -maxdepth 2 -name {host.name}.json"
        _until("the first start's health run",
               lambda: on_host(host, f"{runs} 2>/dev/null || true").split(), host, master,
               timeout=180)
        yield host, master
    finally:
        lab.down([host.name])


def _fire(sender, host, master, tag, run_id):
    data = json.dumps({"run_id": run_id})
    if sender == "host":
        on_host(host, f"/opt/salt/bin/salt-call -l quiet event.send {tag} '{data}'")
    else:
        ret = master.salt_run_cli(timeout=30).run("event.send", tag, data)
        assert ret.returncode == 0 and ret.data is True, ret


def _artifact(host, master, run_id, schema):
    """The summary the returner filed for *run_id* on the host, checked against the schema."""
    path = f"{HEALTH}/{run_id}/{host.name}.json"
    text = _until(f"{path} on {host.name}", lambda: _read(host, path), host, master)
    summary = json.loads(text)
    jsonschema.validate(summary, schema("health-check.v1.json"))
    assert (summary["host"], summary["run_id"]) == (host.name, run_id)
    assert summary["overall_status"] == "pass", summary
    assert {"unit:ssh.service", "disk:/"} <= {c["name"] for c in summary["checks"]}
    return summary


@pytest.mark.parametrize("sender", ["host", "master"])
def test_deploy_complete_files_the_hosts_health_summary(lab_minion, schema, sender):
    host, master = lab_minion
    run_id = f"deploy-{sender}-{os.getpid()}"
    _fire(sender, host, master, f"dsu/deploy/{host.name}/complete", run_id)
    summary = _artifact(host, master, run_id, schema)
    assert _read(host, f"{HEALTH}/LATEST_RUN.txt").strip() == run_id
    assert f"**{host.name}**: PASS" in _read(host, f"{HEALTH}/{run_id}/summary.md")
    host_copy = json.loads(_read(host, f"{HEALTH}/{host.name}.json"))
    jsonschema.validate(host_copy, schema("health-check.v1.json"))
    assert host_copy["started"] == summary["started"]


def test_minion_start_files_a_new_run(lab_minion, schema):
    host, master = lab_minion
    runs = f"find {HEALTH} -mindepth 2 -maxdepth 2 -name {host.name}.json"
    before = set(on_host(host, runs).split())
    on_host(host, "systemctl restart salt-minion")
    new = _until("a health run after the minion restarted",
                 lambda: set(on_host(host, runs).split()) - before, host, master)
    run_id = new.pop().split("/")[-2]  # named by health.check: the UTC start time
    _artifact(host, master, run_id, schema)


def test_a_tag_naming_no_single_host_starts_no_job(lab_minion, schema, salt_factories):
    host, master = lab_minion
    since = time.time()
    for tag in ("dsu/deploy/*/complete", f"dsu/deploy/{host.name},*/complete",
                f"dsu/deploy/x/{host.name}/complete"):
        _fire("master", host, master, tag, f"refused-{os.getpid()}")
    # The reactor takes events in order: once this one's artifact exists, the others were seen.
    fence = f"fence-{os.getpid()}"
    _fire("master", host, master, f"dsu/deploy/{host.name}/complete", fence)
    _artifact(host, master, fence, schema)

    def jobs():
        found = salt_factories.event_listener.get_events([(master.id, "salt/job/*/new")], since)
        return [(e.data["tgt"], e.data["tgt_type"], e.data["arg"])
                for e in sorted(found, key=lambda e: e.stamp) if e.data["fun"] == "health.check"]

    # The master forwards its events to the test a little late, in order: all earlier jobs are
    # in by the time the fence's job is.
    _until("the fence job's event", lambda: any(fence in json.dumps(j) for j in jobs()),
           host, master, timeout=30)
    assert jobs() == [([host.name], "list", [{"run_id": fence, "__kwarg__": True}])]
    assert _read(host, f"{HEALTH}/refused-{os.getpid()}/{host.name}.json") is None
    with open(master.config["log_file"], errors="replace") as log:
        assert "no health check for event dsu/deploy/*/complete" in log.read()
