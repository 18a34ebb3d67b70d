"""health.passing keeps its evidence where it is told, else in health_report's default directory."""

import json

import pytest

from tests.support.healthdata import check, summary
from tests.support.saltmods import load, utils


def _gate(tmp_path, result, test=False):
    # The real health_report, with its default directory moved under tmp_path.
    report = {**utils("health_report"), "health_report.default_dir": lambda: str(tmp_path / "default")}
    return load("_states", "health", opts={"test": test}, utils=report,
                salt={"health.check": lambda run_id=None, checks=None, profile=False: result})


@pytest.mark.parametrize("evidence_dir", [None, "given"])
def test_evidence_goes_to_the_given_or_the_default_directory(tmp_path, evidence_dir):
    gate = _gate(tmp_path, summary("web1"))
    ret = gate.passing("gate", evidence_dir=evidence_dir and str(tmp_path / evidence_dir))
    path = tmp_path / (evidence_dir or "default") / "web1.json"
    assert ret["result"] is True and f"evidence: {path}" in ret["comment"]
    assert json.loads(path.read_text()) == ret["health"]


def test_a_mandatory_failure_fails_the_gate_and_test_mode_writes_nothing(tmp_path):
    failing = summary("web1", checks=[check("unit:caddy.service", "fail")])
    ret = _gate(tmp_path, failing, test=True).passing("gate")
    assert ret["result"] is False and "would fail: unit:caddy.service" in ret["comment"]
    assert not (tmp_path / "default").exists()
