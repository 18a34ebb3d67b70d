"""core.time renders servers and pools from pillar, and treats containers explicitly."""

from tests.functional.stubfacts import render

PILLAR = "core:\n  time:\n    servers: [ntp1.example.org]\n    pools: [pool.example.org]"


def _contents(states, state_id):
    return next(a["contents"] for a in states[state_id]["file"]
                if isinstance(a, dict) and "contents" in a)


def test_vm_sets_the_clock_with_pillar_sources_and_secure_defaults(caller, minion_opts, tmp_path):
    states = render(caller, minion_opts, tmp_path, "core.time", PILLAR,
                    facts={"virtual": "kvm", "container": ""})
    sources = _contents(states, "core-time-chrony-sources").splitlines()
    assert "server ntp1.example.org iburst" in sources and "pool pool.example.org iburst" in sources
    settings = _contents(states, "core-time-chrony-settings").splitlines()
    assert {"cmdport 0", "makestep 1 3", "rtcsync"} <= set(settings)
    assert 'DAEMON_OPTS="-F 1"' in _contents(states, "core-time-chrony-daemon-options")
    assert "absent" in states["core-time-chrony-container-dropin"]["file"]
    assert "core-time-clock-control-skipped" not in states
    assert "core-time-synchronisation-verified" in states


def test_container_runs_chronyd_without_setting_the_clock(caller, minion_opts, tmp_path):
    states = render(caller, minion_opts, tmp_path, "core.time", PILLAR,
                    facts={"virtual": "container", "container": "systemd-nspawn"})
    assert 'DAEMON_OPTS="-F 1 -x"' in _contents(states, "core-time-chrony-daemon-options")
    assert "ConditionCapability=\n" in _contents(states, "core-time-chrony-container-dropin")
    skip = states["core-time-clock-control-skipped"]["test"]
    assert any("systemd-nspawn container the clock belongs to the machine" in str(a) for a in skip)
