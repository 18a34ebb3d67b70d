"""ops.health_check renders from pillar, and is the last step of a production or hardened host's
highstate."""

import pytest
import salt.utils.yaml


def test_gate_keeps_evidence_in_the_pillar_directory(render_sls):
    states = render_sls("ops.health_check", "health_check:\n  evidence_dir: /srv/evidence\n")
    directory = states["ops-health-check-evidence-directory"]["file"]
    assert {"name": "/srv/evidence"} in directory and {"mode": "0755"} in directory
    gate = states["ops-health-check-gate"]["health"]
    assert "passing" in gate and {"evidence_dir": "/srv/evidence"} in gate
    assert {"order": "last"} in gate or states["ops-health-check-gate"].get("order") == "last"


MODULE_CONFIGURATION = """\
health_check:
  evidence_dir: /srv/evidence
  evidence_dir_mode: '0750'
  run_id: 20261124T101500Z
  fail_on_mandatory: true
  timeout_s: 5
  units:
    caddy.service: {mandatory: true}
    smartd.service: {enabled: false}
  failed_units: {enabled: true, ignore: ['*.scope']}
  runtimes: {podman: {containers: {web: {}}}, docker: null}
  disks:
    /: {warn: 80, critical: 90, mandatory: true, inode_warn: 85, inode_critical: 95}
  endpoints:
    app: {url: 'https://127.0.0.1:8443/health', status: [200], body_match: 'ok',
          verify_tls: false, cert_warn_days: 21, cert_critical_days: 7}
    db: {tcp: '10.0.0.5:5432', mandatory: false, timeout_s: 2}
  time: {enabled: true, mandatory: false}
"""


def test_gate_renders_with_the_health_modules_whole_configuration(render_sls):
    states = render_sls("ops.health_check", MODULE_CONFIGURATION)
    directory = states["ops-health-check-evidence-directory"]["file"]
    assert {"name": "/srv/evidence"} in directory and {"mode": "0750"} in directory


@pytest.mark.parametrize("pillar, problems", [
    ("disks: {/: {warn: 95, critical: 90}}", ["health_check:disks:/: warn (95) is above critical (90)"]),
    ("endpoints: {app: {url: \"http://127.0.0.1/\\r\\nHost: evil\", timeout: 3}}",
     ["health_check:endpoints:app:url: is a string of",
      "health_check:endpoints:app:timeout: is not a known key"]),
    # an integer, not the string '0755' (Salt's YAML reads it as 755, PyYAML as 493)
    ("evidence_dir_mode: 0755", ["health_check:evidence_dir_mode: is 755, must be a quoted octal file mode"]),
    ("units: {caddy: {}}\n  run_id: ../x", ["health_check:units:caddy: the key is 'caddy'",
                                          "health_check:run_id: is '../x'"]),
])
def test_bad_health_check_pillar_refuses_to_render(refused_render, pillar, problems):
    text = refused_render("ops.health_check", f"health_check:\n  {pillar}\n", contract="ops/health_check")
    assert f"{len(problems)} parameter(s) break" in text, text
    for problem in problems:
        assert problem in text, (problem, text)


def _top_states(caller, profile):
    pillar = {"deploy": {"profile": profile}} if profile else {}
    client = caller(salt.utils.yaml.safe_dump(pillar))
    return client.cmd("state.show_top")["base"]


@pytest.mark.parametrize("profile", ["production", "hardened"])
def test_production_and_hardened_highstates_end_with_the_health_gate(caller, profile):
    assert _top_states(caller, profile)[-1] == "ops.health_check"


def test_other_profiles_have_no_gate(caller):
    for profile in ("dev", "ephemeral", None):
        assert "ops.health_check" not in _top_states(caller, profile)
