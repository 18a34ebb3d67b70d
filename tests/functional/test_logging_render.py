"""core.logging renders from its defaults; pillar turns forwarding on, and bad pillar refuses the
render (the role's parameter contract names every bad key)."""

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


@pytest.mark.parametrize(("logging", "problems"), [
    ("{forwarding: {enabled: true}}",
     ["core:logging:forwarding:target: is missing or empty, must be set when enabled is true"]),
    ("{forwarding: {enabled: true, target: x, protocol: tls}}",
     ["core:logging:forwarding:protocol: is 'tls', must be one of 'udp', 'tcp'"]),
    # a target breaking out of the rsyslog rule, a journald value adding a line to the drop-in
    ("{forwarding: {enabled: true, target: 'x\" port=\"1'}, journald: {settings: {Storage: \"auto\\nA=1\"}}}",
     ["core:logging:forwarding:target: is 'x\" port=\"1'",
      "core:logging:journald:settings:Storage: is a string of 8 characters, must be one line"]),
    ("{logrotate: {frequency: hourly, rotate: '14'}}",
     ["core:logging:logrotate:frequency: is 'hourly'", "core:logging:logrotate:rotate: is '14'"]),
])
def test_bad_pillar_refuses_to_render_naming_the_key(refused_render, logging, problems):
    message = refused_render("core.logging", f"core:\n  logging: {logging}\n", contract="core/logging")
    assert f"{len(problems)} parameter(s) break" in message, message
    for problem in problems:
        assert problem in message, (problem, message)


def test_application_logs_get_a_copytruncate_policy_each(render_sls):
    states = render_sls("core.logging", "core:\n  logging:\n    logrotate:\n      applications:\n"
                        "        api: {paths: [/srv/api/logs/*.log], rotate: 30}\n")
    policy = state_arg(states["core-logging-logrotate-applications"], "file", "contents")
    assert "# api\n/srv/api/logs/*.log {\n    daily\n    rotate 30\n    maxsize 100M\n" in policy
    assert "# apps\n/var/log/apps/*.log /var/log/apps/*/*.log {" in policy
    assert policy.count("copytruncate") == 2
