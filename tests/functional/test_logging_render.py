"""core.logging renders from its defaults; pillar turns forwarding on and is validated."""

import pytest

from tests.support.states import state_arg


def test_defaults_forwarding_off_and_one_journal_directory_state(render_sls):
    states = render_sls("core.logging")
    assert isinstance(states, dict), states
    assert "absent" in states["core-logging-rsyslog-forwarding"]["file"]
    journal = states["core-logging-journal-directory"]["file"]
    assert state_arg(states["core-logging-journal-directory"], "file", "mode") == "2755", journal
    dropin = state_arg(states["core-logging-journald-dropin"], "file", "contents")
    assert "Storage=persistent" in dropin and "Compress=yes" in dropin, dropin


def test_pillar_forwarding_tcp(render_sls):
    states = render_sls("core.logging", "core:\n  logging:\n    forwarding:\n      enabled: true\n"
                        "      target: logs.example.org\n      protocol: tcp\n")
    rule = state_arg(states["core-logging-rsyslog-forwarding"], "file", "contents")
    assert 'target="logs.example.org" port="514" protocol="tcp"' in rule, rule


@pytest.mark.parametrize("forwarding", ["{enabled: true}", "{enabled: true, target: x, protocol: tls}"])
def test_pillar_forwarding_invalid_refuses_to_render(show_sls, forwarding):
    rendered = show_sls("core.logging", f"core:\n  logging:\n    forwarding: {forwarding}\n")
    assert isinstance(rendered, list) and "core:logging:forwarding" in str(rendered), rendered
