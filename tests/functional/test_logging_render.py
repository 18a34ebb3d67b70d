"""core.logging renders from its defaults; pillar turns forwarding on and is validated."""

import pytest


def _states(caller, pillar="{}\n"):
    rendered = caller(pillar).cmd("state.show_sls", "core.logging")
    return rendered


def _arg(state, fun, key):
    return next(a[key] for a in state[fun] if isinstance(a, dict) and key in a)


def test_defaults_forwarding_off_and_one_journal_directory_state(caller):
    states = _states(caller)
    assert isinstance(states, dict), states
    assert "absent" in states["core-logging-rsyslog-forwarding"]["file"]
    journal = states["core-logging-journal-directory"]["file"]
    assert _arg(states["core-logging-journal-directory"], "file", "mode") == "2755", journal
    dropin = _arg(states["core-logging-journald-dropin"], "file", "contents")
    assert "Storage=persistent" in dropin and "Compress=yes" in dropin, dropin


def test_pillar_forwarding_tcp(caller):
    states = _states(caller, "core:\n  logging:\n    forwarding:\n      enabled: true\n"
                             "      target: logs.example.org\n      protocol: tcp\n")
    rule = _arg(states["core-logging-rsyslog-forwarding"], "file", "contents")
    assert 'target="logs.example.org" port="514" protocol="tcp"' in rule, rule


@pytest.mark.parametrize("forwarding", ["{enabled: true}", "{enabled: true, target: x, protocol: tls}"])
def test_pillar_forwarding_invalid_refuses_to_render(caller, forwarding):
    rendered = _states(caller, f"core:\n  logging:\n    forwarding: {forwarding}\n")
    assert isinstance(rendered, list) and "core:logging:forwarding" in str(rendered), rendered
