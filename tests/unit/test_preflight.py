"""Preflight: reading salt-ssh's answer, the roster, the command's usage errors. The whole checks over
real encrypted trees: tests/functional/test_preflight.py."""

import pytest

from dsu import preflight
from dsu.errors import DsuError
from dsu.saltssh import SaltRun

# --- salt-ssh's answer ---------------------------------------------------------------------------

STATE = "preflight_|-preflight-pillar_|-pillar preflight_|-passed"


def test_pillar_that_does_not_compile_is_a_problem_per_message():
    gone = "Specified SLS 'secrets.gpg.gone' in environment 'base' is not available"
    run = SaltRun(20, {"web1": ["Pillar failed to render with the following messages:",
                                "Rendering SLS 'secrets.sops.db' failed: SOPS: MAC mismatch\n---\nexcerpt",
                                gone]}, "")
    assert [p.line() for p in preflight.target_problems("web1", run)] == [
        "web1: pillar does not compile: Rendering SLS 'secrets.sops.db' failed: SOPS: MAC mismatch",
        f"web1: pillar does not compile: {gone}"]


def test_state_problems_other_failures_and_transport_errors():
    missing = "secrets:values:a is missing (listed in secrets:required, declared in secrets/provider.yaml)"
    ret = {STATE: {"result": False, "comment": "2 preflight problem(s)", "__id__": "preflight-pillar",
                   "problems": [missing, "deploy:profile …"]},
           "file_|-other_|-/x_|-managed": {"result": False, "comment": "boom\ndetail", "__id__": "other"}}
    assert [p.what for p in preflight.target_problems("h", SaltRun(1, {"h": ret}, ""))] == [
        missing, "deploy:profile …", "other: boom"]
    passed = {STATE: {"result": True, "comment": "preflight passed", "problems": []}}
    assert preflight.target_problems("h", SaltRun(0, {"h": passed}, "")) == []
    assert [p.what for p in preflight.target_problems("h", SaltRun(0, {"h": {}}, ""))] == \
        ["the preflight state did not run"]
    ssh = {"retcode": 255, "stderr": "ssh: connect to host 10.0.0.9 port 22: No route to host", "stdout": ""}
    assert [p.what for p in preflight.target_problems("h", SaltRun(10, {"h": ssh}, ""))] == \
        ["salt-ssh failed (retcode 255): ssh: connect to host 10.0.0.9 port 22: No route to host"]
    assert [p.what for p in preflight.target_problems("h", SaltRun(1, {"h": {"x": 1}}, ""))] == \
        ['salt-ssh: {"x": 1}']
    assert [p.what for p in preflight.target_problems("h", SaltRun(2, {}, "Traceback\nboom"))] == \
        ["no answer from salt-ssh (exit 2): Traceback"]


def test_parameter_problems_name_the_file_that_sets_the_key(tmp_path):
    (tmp_path / "web1.sls").write_text("core:\n  time:\n    servers: ntp.example.org\n")
    bad = "core:time:servers: is 'ntp.example.org', must be a list (each item a host name or IP address)"
    gone = "core:time:service: is missing or empty, must be a name"
    ret = {STATE: {"result": False, "problems": [bad, gone, "secrets:values:a is missing"],
                   "parameter_problems": [bad, gone]}}
    assert [p.what for p in preflight.target_problems("h", SaltRun(1, {"h": ret}, ""), [tmp_path])] == [
        f"{bad} (set in {tmp_path}/web1.sls)", f"{gone} (set in {tmp_path}/web1.sls)",
        "secrets:values:a is missing"]


def test_profile_problems_name_the_file_that_sets_the_key(tmp_path):
    (tmp_path / "web1.sls").write_text("deploy:\n  profile: production\n"
                                       "health_check:\n  fail_on_mandatory: false\n")
    rule = "deploy:profile production: health_check:fail_on_mandatory: is false, must be one of true"
    absent = "deploy:profile production: security:firewall:enabled: is false, must be one of true"
    two = ("deploy:profile is 'production': h is in two profiles: dev (pillar deploy/profiles.yaml), "
           "production (its own deploy:profile), must be in exactly one")
    ret = {STATE: {"result": False, "problems": [rule, absent, two], "parameter_problems": [],
                   "profile_problems": [rule, absent]}}
    assert [p.line() for p in preflight.target_problems("h", SaltRun(1, {"h": ret}, ""), [tmp_path])] == [
        f"h: {rule} (set in {tmp_path}/web1.sls)", f"h: {absent}", f"h: {two} (set in {tmp_path}/web1.sls)"]


def test_a_pillar_render_error_names_the_file_with_salts_line_and_column(tmp_path):
    (tmp_path / "web1.sls").write_text("core:\n  time: [\n")
    log = ("[CRITICAL] Rendering SLS 'web1' failed, render error:\nwhile parsing a flow sequence\n"
           '  in "<unicode string>", line 2, column 9\nTraceback (most recent call last):\n')
    ret = ["Pillar failed to render with the following messages:",
           "Rendering SLS 'web1' failed. Please see master log for details."]
    [problem] = preflight.target_problems("h", SaltRun(1, {"h": ret}, log), [tmp_path])
    assert problem.line() == (f"{tmp_path}/web1.sls: pillar SLS 'web1' does not compile for h: "
                              "while parsing a flow sequence at line 2, column 9")


def test_usage_errors(tmp_path, monkeypatch):
    roster = tmp_path / "roster"
    roster.write_text("web1:\n  host: 192.0.2.1\n")
    with pytest.raises(DsuError, match="web2 is not in the roster"):
        preflight.roster_for("web2", roster)
    assert preflight.roster_for("web1", roster) == roster
    from dsu.lab import hosts

    monkeypatch.setattr(hosts, "registered", lambda: [])
    with pytest.raises(DsuError, match="not a running lab host"):
        preflight.roster_for("web1", None)


def test_cli_exit_code_2_on_usage_errors(tmp_path, capsys):
    from dsu.cli import main

    assert main(["preflight", "web1", "--roster-file", str(tmp_path / "absent")]) == 2
    assert "cannot read" in capsys.readouterr().err
