"""The health_json returner, loaded by Salt's own loader: artifacts per run, the host copy only on
the host, loud failure with a kept summary, and the job-cache duty handed to local_cache."""

import copy
import json
import logging

import jsonschema
import pytest
import salt._logging
import salt.config
import salt.loader
from salt.exceptions import CommandExecutionError

from tests.conftest import REPO
from tests.support.healthdata import check, summary


@pytest.fixture(autouse=True, scope="module")
def _salt_logs_to_pytest():
    # Until Salt's logging is set up, it holds WARNING+ records back and prints them at exit into
    # the stderr it saw at import, by then pytest's closed capture: route them normally instead.
    salt._logging.shutdown_temp_handler()


def _returners(tmp_path, role, **extra):
    defaults = salt.config.DEFAULT_MINION_OPTS if role == "minion" else salt.config.DEFAULT_MASTER_OPTS
    opts = copy.deepcopy(defaults)
    opts.update({
        "__role": role, "id": "op", "cachedir": str(tmp_path / "cache"),
        "extension_modules": str(tmp_path / "ext"),
        "returner_dirs": [str(REPO / "_returners")], "utils_dirs": [str(REPO / "_utils")],
        "health_json.base": str(tmp_path / "base"), "health_json.host_dir": str(tmp_path / "host"),
        **extra,
    })
    return salt.loader.returners(opts, {}, context={})


@pytest.fixture
def valid(schema):
    validator = jsonschema.Draft202012Validator(schema("health-check.v1.json"))

    def load_and_validate(path):
        doc = json.loads(path.read_text())
        validator.validate(doc)
        return doc

    return load_and_validate


def _job(ret, jid="20260101000000000001", host="web1", fun="health.check"):
    return {"jid": jid, "id": host, "fun": fun, "return": ret, "retcode": 0, "success": True}


def test_writes_the_run_artifacts_and_on_a_master_no_host_copy(tmp_path, valid):
    rets = _returners(tmp_path, "master")
    failing = summary("web1", "run7", checks=[check("unit:caddy.service", "fail")])
    state_run = {"health_|-gate_|-gate_|-passing": {"result": False, "comment": "", "changes": {},
                                                    "health": failing}}
    rets["health_json.returner"](_job(state_run, fun="state.apply"))
    rets["health_json.returner"](_job(summary("web2", "run7"), host="web2"))
    run = tmp_path / "base" / "run7"
    assert valid(run / "web1.json") == failing
    assert valid(run / "web2.json")["host"] == "web2"
    assert "- **web1**: FAIL" in (run / "summary.md").read_text()
    assert (tmp_path / "base" / "LATEST_RUN.txt").read_text() == "run7\n"
    assert not (tmp_path / "host").exists()
    assert not (tmp_path / "cache" / "jobs").exists()  # not the job cache here: local_cache untouched


def test_on_the_host_it_also_keeps_the_host_copy(tmp_path, valid):
    rets = _returners(tmp_path, "minion")
    rets["health_json.returner"](_job(summary("web1", "run8")))
    assert valid(tmp_path / "host" / "web1.json")["run_id"] == "run8"
    assert valid(tmp_path / "base" / "run8" / "web1.json")["run_id"] == "run8"


def test_a_return_without_summary_is_ignored_quietly(tmp_path, caplog):
    rets = _returners(tmp_path, "minion")
    with caplog.at_level(logging.DEBUG):
        rets["health_json.returner"](_job(True, fun="test.ping"))
        rets["health_json.returner"](_job(["Rendering SLS 'base:x' failed"], fun="state.apply"))
    assert not (tmp_path / "base").exists() and not (tmp_path / "host").exists()
    assert "returned no health summary" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_unwritable_base_is_loud_and_keeps_the_summary(tmp_path, caplog, valid):
    (tmp_path / "base").write_text("a file where the directory should be")
    rets = _returners(tmp_path, "minion")
    job = _job(summary("web1", "run9"))
    with caplog.at_level(logging.ERROR), pytest.raises(CommandExecutionError, match="base"):
        rets["health_json.returner"](job)
    kept = tmp_path / "cache" / "health_json-undelivered" / "run9" / "web1.json"
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert str(tmp_path / "base") in errors[0] and "Not a directory" in errors[0] and str(kept) in errors[0]
    assert valid(kept)["host"] == "web1"
    assert valid(tmp_path / "host" / "web1.json")  # what could be written was written
    assert job["retcode"] == 1  # how salt-call, which swallows returner exceptions, still exits non-zero


def test_a_bad_run_id_is_kept_without_becoming_a_path(tmp_path):
    rets = _returners(tmp_path, "master")
    with pytest.raises(CommandExecutionError, match="run_id"):
        rets["health_json.returner"](_job({**summary("web1"), "run_id": "../../escape"}))
    kept = tmp_path / "cache" / "health_json-undelivered" / "invalid-run-id" / "web1.json"
    assert json.loads(kept.read_text())["run_id"] == "../../escape"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]


def test_salt_ssh_is_told_by_log_not_by_exception(tmp_path, caplog, valid):
    # salt-ssh's loop over hosts does not guard its job cache: raising there would lose the
    # other hosts' returns.
    (tmp_path / "base").write_text("")
    rets = _returners(tmp_path, "master", master_job_cache="health_json", __cli="salt-ssh")
    jid = rets["health_json.prep_jid"]()
    with caplog.at_level(logging.ERROR):
        rets["health_json.returner"]({"jid": jid, "id": "web1", "fun": "health.check",
                                      "return": {"return": summary("web1", "r"), "retcode": 0}})
    assert "could not write" in caplog.text
    assert valid(tmp_path / "cache" / "health_json-undelivered" / "r" / "web1.json")
    assert rets["health_json.get_jid"](jid)["web1"]["return"]["return"]["host"] == "web1"


def test_as_master_job_cache_it_hands_the_job_to_local_cache(tmp_path, valid):
    rets = _returners(tmp_path, "master", master_job_cache="health_json")
    local = _returners(tmp_path, "master")
    offered = {name.split(".", 1)[1] for name in local if name.startswith("local_cache.")}
    assert offered <= {name.split(".", 1)[1] for name in rets if name.startswith("health_json.")}

    # salt-ssh's sequence: prep_jid, save_load without minions, one returner call per host.
    jid = rets["health_json.prep_jid"]()
    load = {"jid": jid, "fun": "health.check", "arg": [], "tgt": "web1,web2", "tgt_type": "list",
            "user": "root"}
    rets["health_json.save_load"](jid, load)
    for host in ("web1", "web2"):
        rets["health_json.returner"]({"jid": jid, "id": host, "fun": "health.check",
                                      "return": {"return": summary(host, "r1"), "retcode": 0}})
    # A master saves the load again with each return; the published one must stay.
    rets["health_json.save_load"](jid, {"jid": jid, "id": "web1", "fun": "health.check", "return": 1})
    rets["health_json.update_endtime"](jid, "2026-01-01 00:00:02")

    assert valid(tmp_path / "base" / "r1" / "web2.json")["host"] == "web2"
    assert local["local_cache.get_load"](jid) == {**load, "Minions": ["web1", "web2"]}
    assert sorted(local["local_cache.get_jid"](jid)) == ["web1", "web2"]
    assert rets["health_json.get_jid"](jid)["web1"]["return"]["return"]["run_id"] == "r1"
    assert jid in rets["health_json.get_jids"]()
    assert rets["health_json.get_endtime"](jid) == "2026-01-01 00:00:02"
    assert list((tmp_path / "cache" / "jobs").rglob("return.p"))


def test_as_job_cache_it_keeps_no_pillar_data(tmp_path):
    rets = _returners(tmp_path, "master", master_job_cache="health_json")
    local = _returners(tmp_path, "master")
    jid = rets["health_json.prep_jid"]()
    rets["health_json.save_load"](jid, {"jid": jid, "fun": "pillar.items", "arg": []})
    rets["health_json.returner"](_job({"secrets": {"values": {"db": "hunter2-canary"}}}, jid=jid,
                                      fun="pillar.items"))
    stored = local["local_cache.get_jid"](jid)["web1"]["return"]
    assert stored == "<not cached: pillar.items returns pillar data>"
    assert not any(b"hunter2-canary" in p.read_bytes()
                   for p in (tmp_path / "cache").rglob("*") if p.is_file())
