"""ops.health_check renders from pillar, and is the last step of a production host's highstate."""

import salt.utils.yaml


def test_gate_keeps_evidence_in_the_pillar_directory(render_sls):
    states = render_sls("ops.health_check", "health_check:\n  evidence_dir: /srv/evidence\n")
    directory = states["ops-health-check-evidence-directory"]["file"]
    assert {"name": "/srv/evidence"} in directory and {"mode": "0755"} in directory
    gate = states["ops-health-check-gate"]["health"]
    assert "passing" in gate and {"evidence_dir": "/srv/evidence"} in gate
    assert {"order": "last"} in gate or states["ops-health-check-gate"].get("order") == "last"


def _top_states(caller, profile):
    pillar = {"deploy": {"profile": profile}} if profile else {}
    client = caller(salt.utils.yaml.safe_dump(pillar))
    return client.cmd("state.show_top")["base"]


def test_production_highstate_ends_with_the_health_gate(caller):
    assert _top_states(caller, "production")[-1] == "ops.health_check"


def test_other_profiles_have_no_gate(caller):
    for profile in ("dev", "ephemeral", None):
        assert "ops.health_check" not in _top_states(caller, profile)
