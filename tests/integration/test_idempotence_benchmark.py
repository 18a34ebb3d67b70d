"""dsu idempotence on real lab hosts: it catches and classifies a deliberately non-idempotent
fixture role (exit 1), shows the fix against that run as baseline, and gates all twelve roles."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema

from dsu.paths import REPO_ROOT
from tests.integration.conftest import REPORTS

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "salt"


def _benchmark(out, *args):
    proc = subprocess.run([sys.executable, "-m", "dsu", "idempotence", "--out", str(out), *args],
                          cwd=REPO_ROOT, env=dict(os.environ), capture_output=True, text=True,
                          timeout=1800)
    runs = sorted(p for p in Path(out).iterdir() if p.is_dir())
    assert runs and (runs[-1] / "summary.json").exists(), f"no summary; dsu said:\n{proc.stderr}"
    return proc, runs[-1]


def _artifacts(run_dir, schema):
    summary = json.loads((run_dir / "summary.json").read_text())
    jsonschema.validate(summary, schema("idempotence-summary.v1.json"))
    return summary, (run_dir / "summary.md").read_text()


def test_fixture_is_caught_then_fixed_against_its_baseline(tmp_path, schema):
    caught, first = _benchmark(tmp_path, "--roles", "fixture_unguarded,identity",
                               "--extra-root", str(FIXTURES))
    assert caught.returncode == 1, caught.stderr
    summary, text = _artifacts(first, schema)
    verdicts = {r["role"]: r for r in summary["roles"]}
    assert summary["headline"] == "1/2 idempotent"
    assert verdicts["fixture_unguarded"]["verdict"] == "not_idempotent"
    assert {p["cluster"] for p in verdicts["fixture_unguarded"]["problems"]} == {"unguarded_command"}
    assert "| fixture_unguarded | not_idempotent | 1 / 1 / 1 |" in text
    assert "unguarded_command" in text

    fixed, second = _benchmark(tmp_path, "--roles", "fixture_unguarded,identity",
                               "--extra-root", str(FIXTURES), "--baseline", str(first),
                               "--pillar", '{"fixture": {"guarded": true}}')
    assert fixed.returncode == 0, fixed.stderr
    summary, text = _artifacts(second, schema)
    assert summary["baseline"]["fixed"] == ["fixture_unguarded"]
    assert summary["baseline"]["baseline_run_id"] == first.name
    assert "- fixed: fixture_unguarded" in text


def test_all_twelve_roles_are_idempotent(tmp_path, schema):
    proc, run_dir = _benchmark(tmp_path, "--jobs", "2")
    summary, text = _artifacts(run_dir, schema)
    REPORTS.append(text)
    assert proc.returncode == 0, text
    assert summary["headline"] == "12/12 idempotent"


def test_per_role_gate_script_fails_a_non_idempotent_role(tmp_path):
    script = REPO_ROOT / "scripts" / "verify_idempotence.sh"
    env = {**os.environ, "DSU_ARTIFACTS_DIR": str(tmp_path),
           "DSU": str(Path(sys.executable).parent / "dsu")}
    proc = subprocess.run([str(script), "fixture_unguarded", "--extra-root", str(FIXTURES)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "0/1 idempotent" in proc.stdout
