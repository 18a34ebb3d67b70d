"""The deploy path as a master runs it: `salt-run state.orchestrate orch.production_deploy` on a
salt-master started here (pytest-salt-factories, with reactor/master.d/health.conf as shipped)
over two salt-minions, each inside a fresh lab host, one orchestration for both.

- `good`: synced, preflight passed, the highstate applied (its roles' effects on the host), the
  health gate filed its summary under the deploy's run id, `dsu/deploy/<good>/complete` fired,
  and the reactor answered it: a health.check job with that run id, and the deploy's record in
  the master's cache (reactor/deploy_record.sls);
- `bad`: its pillar breaks core.time's contract, so preflight fails and nothing else reaches the
  host: no highstate or gate job, `dsu/deploy/<bad>/failed` instead of complete, no record, and
  nothing changed on it but Salt's own cache and logs;
- the orchestration as a whole fails (one chain did), and a pillar naming no plain list of
  minion ids refuses every target before any job.
"""

import json
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor

import jsonschema
import pytest
import salt.utils.yaml

from dsu.lab import minion, network
from tests.integration.conftest import booted_hosts, on_host, wait_for
from tests.support.hostsnapshot import SNAPSHOT, STAMP

HEALTH = "/var/lib/deploy-system/health"
# The module's defaults check caddy and podman, which a bare lab host lacks: check what it has.
HEALTH_PILLAR = {"health_check": {"use_defaults": False, "units": {"ssh.service": {}},
                                  "disks": {"/": {}}}}
BROKEN_PILLAR = {"core": {"time": {"servers": ["ntp.example; reboot"]}}}
# What a minion's own jobs touch on its host (its cache, its log) and every SSH login (journal).
SALTS_OWN = re.compile(r"^(/var/cache/salt|/var/log/salt|/var/log/journal)(/.*)?$")


@pytest.fixture(scope="module")
def hosts():
    """Two fresh Debian 12 hosts: (good, bad)."""
    with booted_hosts(f"o{os.getpid()}", 2) as booted:
        yield booted


@pytest.fixture(scope="module")
def master(salt_factories, repo, tmp_path_factory, hosts):
    good, bad = hosts
    pillar = tmp_path_factory.mktemp("deploy-pillar")
    # The repo's pillar (second root) under a top file of our own: health checks a bare host
    # passes, and a contract only the bad host's pillar breaks.
    (pillar / "top.sls").write_text(salt.utils.yaml.safe_dump({"base": {
        "*": ["deploy", "defaults", "secrets.provider", "test_health"],
        bad.name: ["test_broken"]}}))
    (pillar / "test_health.sls").write_text(json.dumps(HEALTH_PILLAR))
    (pillar / "test_broken.sls").write_text(json.dumps(BROKEN_PILLAR))
    fragment = salt.utils.yaml.safe_load((repo / "reactor/master.d/health.conf").read_text())
    factory = salt_factories.salt_master_daemon(
        "dsu-deploy-master",
        overrides={"interface": "0.0.0.0", "file_roots": {"base": [str(repo / "salt")]},
                   "pillar_roots": {"base": [str(pillar), str(repo / "pillar")]}, **fragment},
    )
    with factory.started():
        yield factory


def _explain(master, hosts):
    with open(master.config["log_file"], errors="replace") as log:
        lines = [line.rstrip() for line in log if "reactor" in line.lower() or "ERROR" in line]
    journals = [f"{h.name}:\n" + on_host(h, "journalctl -u salt-minion --no-pager -n 15")
                for h in hosts]
    return "\nmaster log:\n" + "\n".join(lines[-25:]) + "\nminion journals:\n" + "\n".join(journals)


@pytest.fixture(scope="module")
def minions(master, hosts):
    """Minions in both hosts, answering, their first start's health run (the start reactor)
    filed; then the stamp the bad host is later compared against."""
    with ThreadPoolExecutor(len(hosts)) as pool:
        list(pool.map(lambda h: minion.install_minion(h, network.gateway(), master.config["ret_port"],
                                                      master.config["publish_port"]), hosts))
    ping = master.salt_cli(timeout=10)  # a job published before a minion subscribed is lost
    for host in hosts:
        wait_for(f"{host.name} to answer",
                 lambda h=host: ping.run("test.ping", minion_tgt=h.name).data is True,
                 lambda: _explain(master, hosts))
        runs = f"find {HEALTH} -mindepth 2 -maxdepth 2 -name {host.name}.json 2>/dev/null || true"
        wait_for(f"{host.name}'s first start's health run", lambda h=host, r=runs: on_host(h, r).split(),
                 lambda: _explain(master, hosts), timeout=180)
    _, bad = hosts
    on_host(bad, f"touch {STAMP}")
    return hosts


def _snapshot(host):
    changed, _, rest = on_host(host, SNAPSHOT).partition("--- packages\n")
    return [p for p in changed.splitlines() if not SALTS_OWN.match(p)], rest


def _orchestrate(master, deploy, timeout=900):
    ret = master.salt_run_cli(timeout=timeout).run(
        "state.orchestrate", "orch.production_deploy", f"pillar={json.dumps({'dsu_deploy': deploy})}")
    # {"data": {<the master's own minion id>: {state key: result}}, ...}
    assert isinstance(ret.data, dict) and len(ret.data.get("data") or {}) == 1, ret
    (states,) = ret.data["data"].values()
    return ret, {s["__id__"]: s for s in states.values()}


@pytest.fixture(scope="module")
def deployed(master, minions, salt_factories):
    good, bad = minions
    before = _snapshot(bad)
    since = time.time()
    run_id = f"deploy-test-{os.getpid()}"
    ret, states = _orchestrate(master, {"targets": [bad.name, good.name], "run_id": run_id})

    def events(pattern, after=since):
        return salt_factories.event_listener.get_events([(master.id, pattern)], after)

    # Reactions run after the orchestration returns: wait for both to be in.
    record = master.salt_run_cli(timeout=30)
    wait_for("the reactor's deploy record",
             lambda: record.run("cache.fetch", "dsu/deploys", good.name).data,
             lambda: _explain(master, minions), timeout=60)
    wait_for("the reactor's health.check job",
             lambda: [e for e in events("salt/job/*/new") if e.data["fun"] == "health.check"],
             lambda: _explain(master, minions), timeout=60)
    return {"good": good, "bad": bad, "ret": ret, "states": states, "run_id": run_id,
            "events": events, "before": before}


def _step(deployed, host, step):
    return deployed["states"][f"production-deploy-{host.name}-{step}"]


def test_the_orchestration_fails_as_a_whole_when_one_target_fails(deployed):
    assert deployed["ret"].returncode != 0


def test_the_good_target_is_deployed_and_its_health_gated(deployed, schema):
    good, run_id = deployed["good"], deployed["run_id"]
    for step in ("modules-synced", "preflight-passed", "highstate-applied", "health-gate-passed",
                 "complete-announced"):
        assert _step(deployed, good, step)["result"] is True, _step(deployed, good, step)
    highstate = _step(deployed, good, "highstate-applied")["changes"]["ret"][good.name]
    assert sum(1 for s in highstate.values() if s["changes"]) > 0
    assert on_host(good, "dpkg-query -W -f='${Status}' sudo") == "install ok installed"
    assert "systemd-nspawn" in on_host(good, "cat /etc/deploy-system/host-facts.json")
    assert _step(deployed, good, "failure-announced")["result"] is True  # its onfail not met
    assert not deployed["events"](f"dsu/deploy/{good.name}/failed")
    # The gate: ops.health_check's health.passing, with the deploy's run id, passed.
    (job,) = [e for e in deployed["events"]("salt/job/*/new")
              if e.data["fun"] == "state.sls" and e.data["arg"][0] == "ops.health_check"]
    assert job.data["tgt"] == [good.name]
    (answer,) = deployed["events"](f"salt/job/{job.data['jid']}/ret/{good.name}")
    gate = next(s for s in answer.data["return"].values() if "health" in s)
    assert gate["result"] is True, gate
    assert (gate["health"]["run_id"], gate["health"]["overall_ok"]) == (run_id, True)
    assert {"unit:ssh.service", "disk:/"} <= {c["name"] for c in gate["health"]["checks"]}
    # health_json filed the run on the host (the reactor's check refreshes the same file).
    summary = json.loads(on_host(good, f"cat {HEALTH}/{run_id}/{good.name}.json"))
    jsonschema.validate(summary, schema("health-check.v1.json"))
    assert (summary["host"], summary["run_id"]) == (good.name, run_id)


def test_complete_is_announced_and_the_reactor_answers(deployed, master):
    good, run_id = deployed["good"], deployed["run_id"]
    (complete,) = deployed["events"](f"dsu/deploy/{good.name}/complete")
    assert {k: complete.data[k] for k in ("host", "result", "run_id")} == \
        {"host": good.name, "result": "success", "run_id": run_id}
    # reactor/health_check.sls: a health.check of that one host, filed under the deploy's run.
    checks = [(e.data["tgt"], e.data["arg"]) for e in deployed["events"]("salt/job/*/new")
              if e.data["fun"] == "health.check"]
    assert checks == [([good.name], [{"run_id": run_id, "__kwarg__": True}])]
    # reactor/deploy_record.sls: the deploy's record in the master's cache.
    record = master.salt_run_cli(timeout=30).run("cache.fetch", "dsu/deploys", good.name).data
    assert {k: record[k] for k in ("host", "run_id", "result", "announced_by")} == \
        {"host": good.name, "run_id": run_id, "result": "success", "announced_by": "master"}


def test_a_target_failing_preflight_is_never_changed(deployed, master):
    bad = deployed["bad"]
    preflight = _step(deployed, bad, "preflight-passed")
    assert preflight["result"] is False
    assert "core:time:servers" in json.dumps(preflight["changes"]), preflight
    for step in ("highstate-applied", "health-gate-passed", "complete-announced"):
        assert _step(deployed, bad, step)["result"] is False
        assert "requisite failed" in _step(deployed, bad, step)["comment"]
    (failed,) = deployed["events"](f"dsu/deploy/{bad.name}/failed")
    assert (failed.data["host"], failed.data["result"]) == (bad.name, "failure")
    assert not deployed["events"](f"dsu/deploy/{bad.name}/complete")
    # Only the sync and the test=True preflight ever reached it (besides saltutil.find_job, Salt's
    # own read-only question whether a slow job is still running).
    jobs = [e.data["fun"] for e in deployed["events"]("salt/job/*/new")
            if bad.name in e.data["tgt"] and e.data["fun"] != "saltutil.find_job"]
    assert sorted(jobs) == ["saltutil.sync_all", "state.sls"], jobs
    assert not master.salt_run_cli(timeout=30).run("cache.fetch", "dsu/deploys", bad.name).data
    changed, rest = _snapshot(bad)
    assert changed == [], f"the refused deploy changed {bad.name}: {changed}"
    assert rest == deployed["before"][1], "the refused deploy changed the packages or mounts"


def test_a_pillar_without_plain_targets_refuses_every_target(deployed, master):
    since = time.time()
    ret, states = _orchestrate(master, {"targets": ["o*"]}, timeout=60)
    assert ret.returncode != 0
    assert list(states) == ["production-deploy-pillar-invalid"]
    assert "o* is not a plain minion id" in states["production-deploy-pillar-invalid"]["comment"]
    time.sleep(2)  # the master forwards its events to the test a little late
    assert not deployed["events"]("salt/job/*/new", since)
