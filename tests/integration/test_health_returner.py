"""A plain salt-ssh health.check (no --return) leaves the operator-side artifacts: etc/salt/master
makes health_json the job cache, which salt-ssh hands every host's return to."""

import json
import os

import jsonschema
import yaml

from dsu.saltssh import salt_ssh


def test_salt_ssh_health_check_writes_operator_artifacts(lab_hosts, roster, repo, schema,
                                                        tmp_path):
    host = lab_hosts[0]
    master = yaml.safe_load((repo / "etc" / "salt" / "master").read_text())
    assert master["master_job_cache"] == "health_json"
    # The repo's config, with artifacts in a base of this test's own: other tests' health runs
    # (in the checkout's ci-artifacts/health) must not move LATEST_RUN.txt under it.
    base = tmp_path / "health"
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "master").write_text(yaml.safe_dump({**master, "health_json.base": str(base)}))
    run_id = f"it-returner-{os.getpid()}"

    run = salt_ssh([host.name], "health.check", f"run_id={run_id}", roster=roster, timeout=300,
                   config_dir=tmp_path / "etc")

    returned = run.returns[host.name]
    assert isinstance(returned, dict) and returned.get("run_id") == run_id, (returned, run.stderr)
    artifact = base / run_id / f"{host.name}.json"
    written = json.loads(artifact.read_text())
    jsonschema.Draft202012Validator(schema("health-check.v1.json")).validate(written)
    assert written == returned
    assert (base / "LATEST_RUN.txt").read_text() == f"{run_id}\n"
    markdown = (base / run_id / "summary.md").read_text()
    assert f"- **{host.name}**: {returned['overall_status'].upper()}" in markdown
    assert "health_json" not in run.stderr  # no delivery error logged
