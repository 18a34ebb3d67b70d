"""The whole highstate, all twelve core roles together, on fresh Debian 12 and Debian 13 hosts:
converges with zero failed states, then a test=True rerun and a real re-apply change nothing.
Proving the roles together matters: two roles can each be idempotent alone and fight together."""

import pytest

from tests.integration.conftest import converge, on_host

ROLES = ["bootstrap", "entropy", "grub", "hardware_support", "identity", "logging", "memory",
         "repositories", "secrets", "systemd", "time", "updates"]


@pytest.mark.parametrize("release", ["bookworm", "trixie"])
def test_highstate_converges_and_is_idempotent(fresh_host, release):
    host = fresh_host(release)
    result = converge(host, "")
    assert result.first.failed == 0
    assert {f"core.{role}" for role in ROLES} <= result.first.sls, result.first.sls
    # Spot checks that the roles acted together on this host (each role's own test goes deeper).
    assert on_host(host, "systemctl is-active rsyslog unattended-upgrades").split() == \
        ["active", "active"]
    assert on_host(host, "stat -c %a /var/log/journal").strip() == "2755"
