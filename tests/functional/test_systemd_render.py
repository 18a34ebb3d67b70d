"""core.systemd renders the full role under systemd and a reasoned skip on any other init system;
bad pillar refuses the render."""

import pytest

from tests.support.states import state_arg


def test_systemd_host_gets_dropins_reload_and_resolved(render_sls):
    states = render_sls("core.systemd",
                        "core:\n  systemd:\n    manager:\n      settings: {DefaultTimeoutStopSec: 42s}",
                        facts={"init": "systemd"})
    dropin = state_arg(states["core-systemd-manager-dropin"], "file", "contents")
    assert "[Manager]\nDefaultLimitNOFILE=1024:524288\nDefaultTimeoutStopSec=42s\n" in dropin
    reload = states["core-systemd-daemon-reloaded"]["module"]
    assert {"onchanges": [{"file": "core-systemd-manager-dropin"}]} in reload
    resolved = state_arg(states["core-systemd-resolved-dropin"], "file", "contents")
    assert "LLMNR=no" in resolved and "MulticastDNS=no" in resolved
    assert "core-systemd-resolved-running" in states


def test_upstream_dns_is_kept_before_the_package_transaction(render_sls):
    states = render_sls("core.systemd", "core:\n  systemd:\n    resolved: {dns: [192.0.2.53]}",
                        facts={"init": "systemd"})
    kept = states["core-systemd-upstream-dns-kept"]["upstream_dns"]
    assert {"servers": ["192.0.2.53"]} in kept and {"order": 1} in kept
    assert {"upstream_dns": "core-systemd-upstream-dns-kept"} in \
        state_arg(states["core-systemd-resolved-running"], "service", "watch")


def test_non_systemd_host_skips_with_reason(render_sls):
    states = render_sls("core.systemd", facts={"init": "init"})
    assert list(states) == ["core-systemd-skipped"], states
    assert "init system (PID 1) is init, not systemd" in \
        state_arg(states["core-systemd-skipped"], "test", "comment")


def test_resolved_can_be_disabled_with_a_visible_skip(render_sls):
    states = render_sls("core.systemd",
                        "core:\n  systemd:\n    resolved: {enabled: false}", facts={"init": "systemd"})
    assert "core-systemd-resolved-running" not in states
    assert "core-systemd-resolved-skipped" in states


@pytest.mark.parametrize(("systemd", "problems"), [
    # a value adding a section to the drop-in
    ('{manager: {settings: {DefaultTimeoutStopSec: "30s\\n[Service]"}}}',
     ["core:systemd:manager:settings:DefaultTimeoutStopSec: is a string of 13 characters, must be one line"]),
    ("{resolved: {enabled: true, service: ''}, journald: {Storage: auto}}",
     ["core:systemd:resolved:service: is missing or empty, must be set when enabled is true",
      "core:systemd:resolved:service: is '', must be a name",
      "core:systemd:journald: is not a known key here"]),
    ("{manager: {settings: {'Default Timeout': 30s}}}",
     ["core:systemd:manager:settings:Default Timeout: the key is 'Default Timeout'"]),
])
def test_bad_pillar_refuses_the_render_naming_the_key(refused_render, systemd, problems):
    message = refused_render("core.systemd", f"core: {{systemd: {systemd}}}", facts={"init": "systemd"},
                             contract="core/systemd")
    assert f"{len(problems)} parameter(s) break" in message
    for problem in problems:
        assert problem in message, (problem, message)
