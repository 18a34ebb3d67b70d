"""The health reactor SLS rendered the way the master's reactor renders it (salt.state.Compiler
with the event's tag and data): which events become a health.check job, on which target."""

import pytest
import salt.loader
import salt.state


@pytest.fixture
def react(repo, minion_opts, loaders):
    compiler = salt.state.Compiler(minion_opts, salt.loader.render(minion_opts, loaders))
    sls = str(repo / "reactor" / "health_check.sls")

    def render(tag, data):
        return compiler.render_template(sls, tag=tag, data=data)

    return render


def _from_minion(sender, sent):
    # What the master puts on its bus for `salt-call event.send` / a minion's own events.
    return {"id": sender, "cmd": "_minion_event", "tag": "ignored", "data": sent, "_stamp": "x"}


def _job(host, run_id=None):
    args = [{"args": [{"run_id": run_id}]}] if run_id else []
    return {f"health-check-{host}": {"local": [{"tgt": [host]}, {"tgt_type": "list"},
                                              {"ret": "health_json"}, *args, "health.check"]}}


@pytest.mark.parametrize("data", [{"run_id": "r-1", "_stamp": "x"},
                                  _from_minion("web1", {"run_id": "r-1"})],
                         ids=["from-master", "from-the-host"])
def test_deploy_complete_checks_the_tagged_host_with_the_events_run_id(react, data):
    assert react("dsu/deploy/web1/complete", data) == _job("web1", "r-1")


def test_names_stay_strings_in_yaml(react):
    # A host or run id that YAML would read as a number must still reach the job as text.
    assert react("dsu/deploy/1e3/complete", {"run_id": "20261124"}) == _job("1e3", "20261124")


@pytest.mark.parametrize("data", [{}, {"run_id": "../etc"}, {"run_id": "r\n"}, {"run_id": 5},
                                  _from_minion("web1", "not a mapping")])
def test_without_a_valid_run_id_health_check_names_the_run(react, data):
    assert react("dsu/deploy/web1/complete", data) == _job("web1")


@pytest.mark.parametrize("tag", ["dsu/deploy/*/complete", "dsu/deploy/web*/complete",
                                 "dsu/deploy/a,b/complete", "dsu/deploy/web1\n/complete",
                                 "dsu/deploy//complete", "dsu/deploy/a/b/complete",
                                 "dsu/deploy/-x/complete", "dsu/deploy/web1/started"])
def test_anything_but_a_plain_host_name_runs_nothing(react, tag, caplog):
    assert react(tag, {"run_id": "r-1"}) == {}
    assert f"no health check for event {tag}" in caplog.text  # refused, but not silently


def test_a_minion_cannot_ask_for_another_hosts_check(react):
    assert react("dsu/deploy/web2/complete", _from_minion("web1", {"run_id": "r-1"})) == {}


def _orchestration(host):
    return {f"health-check-{host}": {"runner": [
        {"args": [{"mods": "orch.health_after_start"}, {"pillar": {"dsu_health_host": host}}]},
        "state.orchestrate"]}}


def test_minion_start_syncs_then_checks_the_minion_that_started(react):
    started = _from_minion("web1", "Minion web1 started at Mon Nov 24 10:00:00 2026")
    assert react("salt/minion/web1/start", started) == _orchestration("web1")
    assert react("salt/minion/web2/start", started) == {}
    assert react("salt/minion/web1/start", {"id": "web1"}) == {}  # not sent by a minion


@pytest.mark.parametrize("host", ["web1", "*", "a b", ""])
def test_the_orchestration_syncs_before_it_checks_and_only_one_minion(caller, host):
    states = caller(f"dsu_health_host: {host!r}\n").cmd("state.show_sls", "orch.health_after_start")
    if host != "web1":
        assert list(states) == ["health-after-start-host-invalid"]
        return
    check = states["health-after-start-checked"]["salt"]
    assert {"tgt": ["web1"]} in check and {"tgt_type": "list"} in check
    assert {"ret": "health_json"} in check
    assert {"require": [{"salt": "health-after-start-modules-synced"}]} in check
    assert {"name": "saltutil.sync_all"} in states["health-after-start-modules-synced"]["salt"]
