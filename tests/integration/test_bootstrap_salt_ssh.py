"""core.bootstrap over salt-ssh: converges, has its effect on the host, then changes nothing."""

import json

from tests.integration.conftest import apply_and_summarize, on_host


def test_bootstrap_converges_then_reapplies_with_zero_changes(lab_hosts, roster):
    host = lab_hosts[0]
    first = apply_and_summarize(host, roster, "core.bootstrap")
    assert first.success, (first.errors, first.failed_states)
    assert first.changed > 0

    packages = on_host(host, "dpkg-query -W -f='${Package} ${Status}\\n' curl git sudo python3-apt")
    assert packages.count("install ok installed") == 4, packages
    assert on_host(host, "stat -c %a /var/log/deploy-system").strip() == "750"
    facts = json.loads(on_host(host, "cat /etc/deploy-system/host-facts.json"))
    assert facts["init"] == "systemd" and facts["container"] == "systemd-nspawn"

    check = apply_and_summarize(host, roster, "core.bootstrap", "test=True")
    assert check.success and check.changed == 0, check.changed_states
    again = apply_and_summarize(host, roster, "core.bootstrap")
    assert again.success and again.changed == 0, again.changed_states
