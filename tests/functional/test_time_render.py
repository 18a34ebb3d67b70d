"""core.time renders servers and pools from pillar, treats containers explicitly, and refuses to
render bad pillar."""

import pytest

from tests.support.states import state_arg

PILLAR = "core:\n  time:\n    servers: [ntp1.example.org]\n    pools: [pool.example.org]"


def test_vm_sets_the_clock_with_pillar_sources_and_secure_defaults(render_sls):
    states = render_sls("core.time", PILLAR, facts={"virtual": "kvm", "container": ""})
    sources = state_arg(states["core-time-chrony-sources"], "file", "contents").splitlines()
    assert "server ntp1.example.org iburst" in sources and "pool pool.example.org iburst" in sources
    settings = state_arg(states["core-time-chrony-settings"], "file", "contents").splitlines()
    assert {"cmdport 0", "makestep 1 3", "rtcsync"} <= set(settings)
    assert 'DAEMON_OPTS="-F 1"' in state_arg(states["core-time-chrony-daemon-options"], "file", "contents")
    assert "absent" in states["core-time-chrony-container-dropin"]["file"]
    assert "core-time-clock-control-skipped" not in states
    assert "core-time-synchronisation-verified" in states


def test_container_runs_chronyd_without_setting_the_clock(render_sls):
    states = render_sls("core.time", PILLAR, facts={"virtual": "container", "container": "systemd-nspawn"})
    assert 'DAEMON_OPTS="-F 1 -x"' in state_arg(states["core-time-chrony-daemon-options"], "file", "contents")
    dropin = state_arg(states["core-time-chrony-container-dropin"], "file", "contents")
    assert "ConditionCapability=\n" in dropin
    skip = states["core-time-clock-control-skipped"]["test"]
    assert any("systemd-nspawn container the clock belongs to the machine" in str(a) for a in skip)


@pytest.mark.parametrize(("time", "problems"), [
    # a server line that would add a directive to the sources file
    ('{servers: ["ntp.example.org\\nallow all"]}',
     ["core:time:servers:0: is a string of 25 characters, must be a host name or IP address"]),
    ("{source_options: [iburst], daemon_opts: '-F 1; reboot'}",
     ["core:time:source_options: is a list, must be option words",
      "core:time:daemon_opts: is '-F 1; reboot', must be option words"]),
    ("{server: [ntp.example.org]}", ["core:time:server: is not a known key here"]),
])
def test_bad_pillar_refuses_the_render_naming_the_key(refused_render, time, problems):
    message = refused_render("core.time", f"core: {{time: {time}}}",
                             facts={"virtual": "kvm", "container": ""}, contract="core/time")
    assert f"{len(problems)} parameter(s) break" in message
    for problem in problems:
        assert problem in message, (problem, message)
