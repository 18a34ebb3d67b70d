"""A deploy's evidence: phases recorded in order, a failure stops the host there, the table and
the host record (validated against docs/schemas/deploy-run.v2.json), LATEST_RUN.txt."""

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import jsonschema

from dsu.deploy import record
from dsu.deploy.hostrun import HostRun, state_detail
from dsu.runs import summarize_states
from dsu.targets import Target

SCHEMA = json.loads((Path(__file__).resolve().parents[3] / "docs/schemas/deploy-run.v2.json")
                    .read_text())


def _runs() -> list[HostRun]:
    good, bad = HostRun(Target("web1", "10.0.0.1", 2222, "deploy", True)), \
        HostRun(Target("web2", "10.0.0.2"))
    now = time.monotonic()
    for run in (good, bad):
        run.record("lock", True, now)
    good.record("highstate", True, now, **state_detail(summarize_states({})))
    bad.record("preflight", False, now, "web2: deploy:profile: in two profiles")
    bad.record("highstate", False, now, "never reached")  # a later failure keeps the first
    return [good, bad]


def test_a_failure_stops_the_host_at_its_first_failed_phase():
    good, bad = _runs()
    assert good.going and (bad.failed, bad.reason) == ("preflight",
                                                       "web2: deploy:profile: in two profiles")
    assert [good.outcome(p) for p in ("lock", "preflight", "highstate")] == ["ok", "-", "ok"]


def test_records_validate_and_the_summary_tells_who_stopped_where(tmp_path):
    runs = _runs()
    evidence = tmp_path / "deploy" / "20261201T080000Z"
    evidence.mkdir(parents=True)
    deploy = SimpleNamespace(run_id=evidence.name, started_at=datetime.now(UTC),
                             evidence=evidence, runs=runs)
    record.write(deploy)
    for run in runs:
        document = json.loads((evidence / f"{run.name}.json").read_text())
        jsonschema.validate(document, SCHEMA)
    assert json.loads((evidence / "web2.json").read_text())["failed_phase"] == "preflight"
    summary = (evidence / "summary.md").read_text()
    assert "1 of 2 host(s) deployed" in summary
    assert "| web2 | ok | - | FAILED | FAILED | - | - | - | FAILED at preflight |" in summary
    assert "**web2** stopped at preflight" in summary
    assert (tmp_path / "deploy" / "LATEST_RUN.txt").read_text() == "20261201T080000Z\n"
