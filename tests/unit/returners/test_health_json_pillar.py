"""As salt-ssh's job cache, health_json keeps no return that is or may hold pillar data: not only
pillar.*, but config.* (salt-ssh's config.items returns its options, the compiled pillar in them),
the rendered states of state.show_* and slsutil.renderer; a state run's return is kept."""

import pytest

from tests.unit.returners.test_health_json import _job, _returners

CANARY = "hunter2-canary-pillar"


@pytest.mark.parametrize("fun", ["pillar.get", "config.items", "config.get", "state.show_sls",
                                 "state.show_lowstate", "slsutil.renderer"])
def test_returns_holding_pillar_data_are_not_cached(tmp_path, fun):
    rets = _returners(tmp_path, "master", master_job_cache="health_json")
    local = _returners(tmp_path, "master")
    jid = rets["health_json.prep_jid"]()
    rets["health_json.save_load"](jid, {"jid": jid, "fun": fun, "arg": []})
    rets["health_json.returner"](_job({"pillar": {"secrets": {"values": {"db": CANARY}}}},
                                      jid=jid, fun=fun))
    assert local["local_cache.get_jid"](jid)["web1"]["return"] == \
        f"<not cached: {fun} returns pillar data>"
    assert not any(CANARY.encode() in p.read_bytes()
                   for p in (tmp_path / "cache").rglob("*") if p.is_file())


def test_a_state_runs_return_is_cached(tmp_path):
    rets = _returners(tmp_path, "master", master_job_cache="health_json")
    local = _returners(tmp_path, "master")
    jid = rets["health_json.prep_jid"]()
    state = {"file_|-x_|-/x_|-managed": {"result": True, "changes": {}, "comment": "ok"}}
    rets["health_json.returner"](_job(state, jid=jid, fun="state.apply"))
    assert local["local_cache.get_jid"](jid)["web1"]["return"] == state
