"""core.time on a fresh Debian 12 lab host (a container): chrony runs in "do not set the clock"
mode, uses the servers from pillar, and the synchronisation check reports (as a warning) that the
lab has no reachable NTP server; idempotent."""

import json

from dsu.lab import hosts as lab
from dsu.lab.roster import roster_path
from dsu.saltssh import salt_ssh
from tests.integration.conftest import converge, on_host

SERVERS = ["10.248.0.250", "10.248.0.251"]


def test_time_chrony_runs_with_pillar_servers_and_reports_sync_state(fresh_host):
    host = fresh_host()
    pillar = {"core": {"time": {"servers": SERVERS, "pools": ["pool.example.org"]}}}
    converge(host, "core.time", pillar)

    assert on_host(host, "systemctl is-active chrony").strip() == "active"
    assert on_host(host, "systemctl is-enabled chrony").strip() == "enabled"
    sources_file = on_host(host, "cat /etc/chrony/sources.d/50-dsu.sources").splitlines()
    for server in SERVERS:
        assert f"server {server} iburst" in sources_file, sources_file
    assert "pool pool.example.org iburst" in sources_file, sources_file
    sources = on_host(host, "chronyc -n sources")
    for server in SERVERS:
        assert server in sources, sources

    settings = on_host(host, "cat /etc/chrony/conf.d/50-dsu.conf").splitlines()
    assert {"cmdport 0", "makestep 1 3", "rtcsync"} <= set(settings), settings
    # A container: chronyd must not set the machine's clock, and really runs with -x.
    assert 'DAEMON_OPTS="-F 1 -x"' in on_host(host, "cat /etc/default/chrony")
    assert " -x" in on_host(host, "ps -o args= -C chronyd")
    on_host(host, "grep -qx 'ConditionCapability=' "
                  "/etc/systemd/system/chrony.service.d/50-dsu-container.conf")
    # cmdport 0: no remote control port is open.
    assert ":323 " not in on_host(host, "ss -Hlun")

    run = salt_ssh([host.name], "state.apply", "core.time",
                   f"pillar={json.dumps(pillar)}",
                   roster=roster_path(lab.lab_dir()))
    states = run.returns[host.name]
    assert isinstance(states, dict), states
    (verified,) = (v for k, v in states.items() if "core-time-synchronisation-verified" in k)
    assert verified["result"] is True and not verified["changes"], verified
    # No NTP server answers in the lab: unsynchronised is a warning, not a failure.
    assert verified["comment"].startswith("WARNING: not synchronised"), verified
