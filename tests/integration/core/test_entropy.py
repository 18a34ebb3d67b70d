"""core.entropy on fresh Debian 12 lab hosts (containers on a kernel >= 5.6): the auto rule skips
with its reason, haveged and rng-tools are installed and enabled, started where the host may run
them; idempotent."""

import json

from dsu.lab import hosts as lab
from dsu.lab.roster import roster_path
from dsu.saltssh import salt_ssh
from tests.integration.conftest import converge, on_host


def _comments(host, pillar=None):
    """State ID -> comment of a test=True run: where the role's explicit skips show."""
    args = ["core.entropy", "test=True"] + ([f"pillar={json.dumps(pillar)}"] if pillar else [])
    run = salt_ssh([host.name], "state.apply", *args, roster=roster_path(lab.lab_dir()))
    states = run.returns[host.name]
    assert isinstance(states, dict), states
    return {state["__id__"]: state["comment"] for state in states.values()}


def test_entropy_auto_skips_on_a_nonblocking_kernel(fresh_host):
    host = fresh_host()
    runs = converge(host, "core.entropy")
    assert runs.first.changed == 0
    kernel = on_host(host, "uname -r").strip()
    major, minor = (int(part) for part in kernel.split(".")[:2])
    assert (major, minor) >= (5, 6), f"this test expects a kernel >= 5.6, the lab runs {kernel}"
    on_host(host, "! dpkg-query -W -f='${Status}' haveged 2>/dev/null | grep -q 'ok installed'")
    on_host(host, "! dpkg-query -W -f='${Status}' rng-tools5 2>/dev/null | grep -q 'ok installed'")
    assert _comments(host) == {"core-entropy-daemon-skipped": f"skipped: kernel {kernel} is 5.6 or later: "
                               "its CSPRNG never blocks once initialised, so no entropy daemon is needed"}


def test_entropy_haveged_in_a_container_is_enabled_and_its_start_skipped(fresh_host):
    host = fresh_host()
    pillar = {"core": {"entropy": {"mode": "haveged"}}}
    converge(host, "core.entropy", pillar)
    assert "install ok installed" in on_host(host, "dpkg-query -W -f='${Status}' haveged")
    assert on_host(host, "systemctl is-enabled haveged").strip() == "enabled"
    comments = _comments(host, pillar)
    assert "core-entropy-haveged-running" not in comments
    assert comments["core-entropy-haveged-start-skipped"].startswith(
        "skipped: running in a container (systemd-nspawn): the entropy pool is the machine's"), comments


def test_entropy_haveged_started_when_allowed_in_a_container(fresh_host):
    host = fresh_host()
    pillar = {"core": {"entropy": {"mode": "haveged", "start_in_container": True}}}
    converge(host, "core.entropy", pillar)
    assert on_host(host, "systemctl is-enabled haveged").strip() == "enabled"
    on_host(host, "systemctl stop haveged")
    # The role itself starts it again (the package's postinst is not what keeps it running).
    runs = converge(host, "core.entropy", pillar)
    assert [s.id for s in runs.first.changed_states] == ["core-entropy-haveged-running"]
    assert on_host(host, "systemctl is-active haveged").strip() == "active"
    assert "haveged: ver:" in on_host(host, "journalctl -u haveged --no-pager")


def test_entropy_rng_tools(fresh_host):
    host = fresh_host()
    converge(host, "core.entropy", {"core": {"entropy": {"mode": "rng-tools", "start_in_container": True}}})
    assert "install ok installed" in on_host(host, "dpkg-query -W -f='${Status}' rng-tools5")
    assert on_host(host, "systemctl is-enabled rngd").strip() == "enabled"
    assert on_host(host, "systemctl is-active rngd").strip() == "active"
