"""_utils/health_report: finding summaries in job returns, the run directory on disk (atomic,
locked, complete), and the markdown report."""

import fcntl
import json
import multiprocessing
import os
import stat

import jsonschema
import pytest
import yaml

from tests.conftest import REPO
from tests.support.healthdata import check, summary
from tests.support.saltmods import load

report = load("_utils", "health_report")


def _hosts_in_order(markdown):
    """The hosts of the one-line-per-host list at the top of summary.md, in order."""
    return [line.split("**")[1] for line in markdown.splitlines()
            if line.startswith("- **") and "**: " in line]


def test_name_patterns_are_the_schemas(schema):
    props = schema("health-check.v1.json")["properties"]
    assert props["host"]["pattern"] == f"^{report.HOST_PATTERN}$"
    assert props["run_id"]["pattern"] == f"^{report.RUN_ID_PATTERN}$"
    assert props["schema"]["const"] == report.SCHEMA_ID


def test_loader_visible_facts_are_the_constants(schema):
    # What the module, state and returner read through __utils__ (functions only).
    props = schema("health-check.v1.json")["properties"]
    assert report.schema_fields() == {"schema": props["schema"]["const"],
                                      "schema_version": props["schema_version"]["const"]}
    assert report.default_dir() == report.DEFAULT_DIR
    assert report.is_run_id("20261124T101500Z") and report.is_run_id("r-1.a_b")
    for bad in ("", "..", ".x", "x" * 65, "run/1", "r\n", 7, None):
        assert not report.is_run_id(bad), bad


def test_the_state_tree_and_reactor_repeat_the_facts():
    # Jinja cannot read __utils__ without a module call on every render: the state tree and the
    # reactor keep their own copies, held equal here.
    params = yaml.safe_load((REPO / "salt/ops/health_check/parameters/defaults.yaml").read_text())
    assert params["values"]["evidence_dir"] == report.DEFAULT_DIR
    reactor = (REPO / "reactor/health_check.sls").read_text()
    assert f"{{%- set RUN_ID = '^{report.RUN_ID_PATTERN}$' %}}" in reactor
    assert f"{{%- set HOST = '^{report.HOST_PATTERN}$' %}}" in reactor


def test_markdown_puts_failures_first_and_is_deterministic():
    ok = summary("a-ok")
    warned = summary("b-warn", checks=[check("unit:caddy.service"),
                                       check("disk:/srv", "fail", mandatory=False, observed=97.0)])
    failed = summary("c-fail", checks=[check("unit:caddy.service", "fail", observed="inactive",
                                             expected="active", message="caddy is not running"),
                                       check("disk:/", "warn", observed=85.0, expected={"warn": 80})])
    text = report.render_markdown([ok, warned, failed])
    assert text == report.render_markdown([failed, ok, warned])
    assert text.startswith("# Health run 20260101T000000Z\n")
    assert _hosts_in_order(text) == ["c-fail", "b-warn", "a-ok"]
    assert "- **c-fail**: FAIL (0 pass, 1 warn, 1 fail, 0 skip); mandatory failures: unit:caddy.service" \
        in text
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert rows[0] == "| check | c-fail | b-warn | a-ok |"
    # Rows with a failure first, then warnings, then the rest; a missing check shows as "–".
    assert [r.split(" | ")[0][2:] for r in rows[2:]] == ["disk:/srv", "unit:caddy.service", "disk:/"]
    assert rows[2] == "| disk:/srv | – | **fail** | – |"
    assert rows[3] == "| unit:caddy.service | **fail** | pass | pass |"
    details = text.split("## c-fail", 1)[1]
    assert "**unit:caddy.service** (fail, mandatory): caddy is not running — observed `inactive`, " \
           "expected `active`" in details
    assert details.index("unit:caddy.service") < details.index("disk:/")  # fail before warn
    assert "## a-ok" not in text  # nothing but passes: no detail section


def test_write_run_writes_host_file_summary_and_latest(tmp_path, schema):
    validator = jsonschema.Draft202012Validator(schema("health-check.v1.json"))
    base = tmp_path / "health"
    written = report.write_run(str(base), summary("web1", "run1"))
    run = base / "run1"
    assert written == [str(run / "web1.json"), str(run / "summary.md"), str(base / "LATEST_RUN.txt")]
    report.write_run(str(base), summary("web2", "run1", checks=[check("unit:podman.service", "fail")]))
    for host in ("web1", "web2"):
        doc = json.loads((run / f"{host}.json").read_text())
        validator.validate(doc)
        assert (run / f"{host}.json").read_text() == json.dumps(doc, indent=2) + "\n"
        assert stat.S_IMODE((run / f"{host}.json").stat().st_mode) == 0o644
    assert _hosts_in_order((run / "summary.md").read_text()) == ["web2", "web1"]
    assert (base / "LATEST_RUN.txt").read_text() == "run1\n"
    assert sorted(p.name for p in run.iterdir()) == [".lock", "summary.md", "web1.json", "web2.json"]
    report.write_run(str(base), summary("web1", "run2"))
    assert (base / "LATEST_RUN.txt").read_text() == "run2\n"
    assert sorted(p.name for p in base.iterdir()) == ["LATEST_RUN.txt", "run1", "run2"]


def test_host_copy_replaces_the_file(tmp_path):
    path = report.write_host_copy(str(tmp_path / "host"), summary("web1", "a"))
    report.write_host_copy(str(tmp_path / "host"), summary("web1", "b"))
    assert path == str(tmp_path / "host" / "web1.json")
    assert json.loads((tmp_path / "host" / "web1.json").read_text())["run_id"] == "b"
    assert os.listdir(tmp_path / "host") == ["web1.json"]


def _write_many(base, hosts, start):
    start.wait()
    for host in hosts:
        report.write_run(base, summary(host, "shared"))


def test_concurrent_writers_of_one_run_all_land_in_summary(tmp_path):
    # Two processes, interleaved hosts: without the lock one writer's summary.md would miss the
    # other's latest host.
    ctx = multiprocessing.get_context("fork")
    start = ctx.Barrier(2)
    groups = [[f"even{i:02d}" for i in range(15)], [f"odd{i:02d}" for i in range(15)]]
    procs = [ctx.Process(target=_write_many, args=(str(tmp_path), g, start)) for g in groups]
    try:
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(60)
            assert proc.exitcode == 0
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
                proc.join()
    markdown = (tmp_path / "shared" / "summary.md").read_text()
    assert sorted(_hosts_in_order(markdown)) == sorted(groups[0] + groups[1])
    assert len(list((tmp_path / "shared").glob("*.json"))) == 30


def test_a_writer_waits_for_the_run_lock(tmp_path):
    # The deterministic half of the test above: while someone holds <run>/.lock, nothing is written.
    (tmp_path / "shared").mkdir()
    ctx = multiprocessing.get_context("fork")
    start = ctx.Barrier(2)
    proc = ctx.Process(target=_write_many, args=(str(tmp_path), ["web1"], start))
    proc.start()  # before the lock is opened: a forked child would share (and keep) our lock
    try:
        with open(tmp_path / "shared" / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            start.wait()
            proc.join(0.5)
            assert proc.is_alive() and not (tmp_path / "shared" / "web1.json").exists()
        proc.join(30)
        assert proc.exitcode == 0 and (tmp_path / "shared" / "summary.md").exists()
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join()


@pytest.mark.parametrize("field,value", [
    ("host", "../etc"), ("host", "a/b"), ("host", ""), ("host", ".hidden"), ("host", "web1\n"),
    ("host", None), ("run_id", ".."), ("run_id", "x" * 65), ("run_id", "run/1"), ("run_id", 7),
])
def test_bad_host_or_run_id_is_refused_before_any_write(tmp_path, field, value):
    bad = {**summary(), field: value}
    with pytest.raises(ValueError, match=field):
        report.write_run(str(tmp_path / "health"), bad)
    if field == "host":
        with pytest.raises(ValueError, match="host"):
            report.write_host_copy(str(tmp_path / "host"), bad)
    assert list(tmp_path.iterdir()) == []


def test_find_summaries_in_every_return_shape():
    one, two = summary("web1"), summary("web2")
    state_run = {
        "health_|-gate_|-gate_|-passing": {"result": True, "comment": "", "changes": {}, "health": one},
        "file_|-x_|-/x_|-managed": {"result": True, "comment": "", "changes": {}},
        "health_|-again_|-again_|-passing": {"result": False, "comment": "", "changes": {}, "health": two},
    }
    assert report.find_summaries(one) == [one]
    assert report.find_summaries(state_run) == [one, two]
    assert report.find_summaries({"return": one, "retcode": 0}) == [one]  # salt-ssh host payload
    assert report.find_summaries({"return": {"return": state_run, "retcode": 2}}) == [one, two]
    assert report.find_summaries(["Rendering SLS 'base:x' failed: boom"]) == []
    assert report.find_summaries({"stderr": "ssh: connect refused", "retcode": 255}) == []
    assert report.find_summaries({"file_|-x_|-/x_|-managed": {"result": True}}) == []
    assert report.find_summaries(True) == [] and report.find_summaries(None) == []
    assert report.find_summaries({**one, "schema": "other/v1"}) == []
