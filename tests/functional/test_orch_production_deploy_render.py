"""The master's deploy path rendered, nothing run: salt/orch/production_deploy.sls as
state.show_sls renders it for the orchestration's pillar (one chain of steps per target,
requisites only inside a chain, the whole run refused for a bad pillar), and
reactor/deploy_record.sls as the master's reactor renders it for a deploy-complete event."""

import json
import re

import pytest
import salt.loader
import salt.state

ORCH = "orch.production_deploy"
STEPS = ["modules-synced", "preflight-passed", "highstate-applied", "health-gate-passed",
         "complete-announced", "failure-announced"]


def _orch(caller, deploy):
    return caller(json.dumps({"dsu_deploy": deploy}) + "\n").cmd("state.show_sls", ORCH)


def _args(state):
    """{argument: value} of a rendered salt.* state ("salt" list of one-key dicts)."""
    return {k: v for item in state["salt"] if isinstance(item, dict) for k, v in item.items()}


def _requisites(args):
    return [ref["salt"] for kind in ("require", "onfail") for ref in args.get(kind, [])]


def test_one_chain_per_target_in_order(caller):
    states = _orch(caller, {"targets": ["web1", "db.example"], "run_id": "r-7"})
    assert list(states) == [f"production-deploy-{h}-{s}" for h in ("web1", "db.example") for s in STEPS]
    for host in ("web1", "db.example"):
        chain = {s: _args(states[f"production-deploy-{host}-{s}"]) for s in STEPS}
        # Requisites never cross to another target's chain: one failing target stops only itself.
        for step, args in chain.items():
            assert all(ref.startswith(f"production-deploy-{host}-") for ref in _requisites(args)), step
        for step, before in zip(STEPS[1:5], STEPS[:4], strict=True):
            assert chain[step]["require"] == [{"salt": f"production-deploy-{host}-{before}"}]
        for step in STEPS[:4]:  # minion steps: exactly this minion, which must answer
            assert (chain[step]["tgt"], chain[step]["tgt_type"]) == ([host], "list")
            assert chain[step]["expect_minions"] is True
        assert chain["modules-synced"]["name"] == "saltutil.sync_all"
        assert (chain["preflight-passed"]["sls"], chain["preflight-passed"]["test"]) == ("preflight", True)
        assert chain["highstate-applied"]["highstate"] is True
        gate = chain["health-gate-passed"]
        assert (gate["sls"], gate["ret"]) == ("ops.health_check", "health_json")
        assert gate["pillar"] == {"health_check": {"run_id": "r-7", "fail_on_mandatory": True}}
        done, failed = chain["complete-announced"], chain["failure-announced"]
        assert (done["name"], done["tag"]) == ("event.send", f"dsu/deploy/{host}/complete")
        assert done["data"] == {"host": host, "result": "success", "run_id": "r-7",
                                "orchestration": ORCH}
        assert failed["tag"] == f"dsu/deploy/{host}/failed"
        assert failed["data"]["result"] == "failure"
        assert _requisites(failed) == [f"production-deploy-{host}-{s}" for s in STEPS[:4]]
        assert "require" not in failed


def test_the_run_id_defaults_to_the_masters_utc_time(caller):
    states = _orch(caller, {"targets": ["web1"]})
    gate = _args(states["production-deploy-web1-health-gate-passed"])
    assert re.fullmatch(r"deploy-\d{8}T\d{6}Z", gate["pillar"]["health_check"]["run_id"])


def test_names_stay_strings_in_yaml(caller):
    # A host YAML reads as a number, and a run id given as one (unquoted on the command line).
    states = _orch(caller, {"targets": ["1e3"], "run_id": 20261201})
    done = _args(states["production-deploy-1e3-complete-announced"])
    assert done["data"]["host"] == "1e3" and done["data"]["run_id"] == "20261201"
    assert _args(states["production-deploy-1e3-modules-synced"])["tgt"] == ["1e3"]


@pytest.mark.parametrize("deploy", [
    None, {}, {"targets": []}, {"targets": "web1"}, {"targets": {"web1": True}},
    {"targets": ["web*"]}, {"targets": ["web1", "a,b"]}, {"targets": ["web1\n"]},
    {"targets": [5]}, {"targets": ["web1", "web2", "web1"]},
    {"targets": ["web1"], "run_id": "../x"}, {"targets": ["web1"], "run_id": -5},
    {"targets": ["web1"], "run_id": True},
], ids=repr)
def test_a_bad_pillar_refuses_every_target(caller, deploy):
    states = _orch(caller, deploy)
    assert list(states) == ["production-deploy-pillar-invalid"]
    refusal = states["production-deploy-pillar-invalid"]["test"]
    assert "fail_without_changes" in refusal
    comment = next(arg["comment"] for arg in refusal if isinstance(arg, dict) and "comment" in arg)
    assert comment.startswith("nothing deployed: ")


# --- the deploy record reactor -------------------------------------------------------------------


@pytest.fixture
def react(repo, minion_opts, loaders):
    compiler = salt.state.Compiler(minion_opts, salt.loader.render(minion_opts, loaders))
    sls = str(repo / "reactor" / "deploy_record.sls")
    return lambda tag, data: compiler.render_template(sls, tag=tag, data=data)


def _from_minion(sender, sent):
    return {"id": sender, "cmd": "_minion_event", "tag": "ignored", "data": sent, "_stamp": "t1"}


def _stored(host, record):
    return {f"deploy-record-{host}": {"runner": [
        {"args": [{"bank": "dsu/deploys"}, {"key": host}, {"data": record}]}, "cache.store"]}}


def test_a_deploy_complete_from_the_master_is_recorded(react):
    data = {"host": "web1", "result": "success", "run_id": "r-7", "orchestration": ORCH,
            "_stamp": "t1"}
    assert react("dsu/deploy/web1/complete", data) == _stored("web1", {
        "host": "web1", "completed": "t1", "announced_by": "master", "run_id": "r-7",
        "result": "success"})


def test_a_minion_records_only_its_own_deploy_and_only_checked_values(react):
    sent = {"run_id": "../etc", "result": "x\n", "extra": "not kept"}
    assert react("dsu/deploy/web1/complete", _from_minion("web1", sent)) == _stored("web1", {
        "host": "web1", "completed": "t1", "announced_by": "web1", "run_id": None, "result": None})
    assert react("dsu/deploy/web2/complete", _from_minion("web1", sent)) == {}


@pytest.mark.parametrize("tag", ["dsu/deploy/*/complete", "dsu/deploy/a,b/complete",
                                 "dsu/deploy//complete", "dsu/deploy/web1/failed",
                                 "dsu/deploy/a/b/complete"])
def test_anything_but_one_plain_host_records_nothing(react, tag, caplog):
    assert react(tag, {"run_id": "r-1"}) == {}
    assert f"nothing recorded for event {tag}" in caplog.text
