"""The same state through a salt-master started by pytest-salt-factories on this machine and a
salt-minion running inside a lab host (never on this machine)."""


import pytest

from dsu.lab import minion, network
from dsu.runs import summarize_states
from tests.integration.conftest import on_host, wait_for


@pytest.fixture(scope="module")
def salt_master(salt_factories, repo):
    factory = salt_factories.salt_master_daemon(
        "dsu-master",
        overrides={
            # Lab hosts reach the machine at the bridge address.
            "interface": "0.0.0.0",
            "file_roots": {"base": [str(repo / "salt")]},
            "pillar_roots": {"base": [str(repo / "pillar")]},
        },
    )
    with factory.started():
        yield factory


@pytest.fixture(scope="module")
def lab_minion(salt_master, lab_hosts):
    host = lab_hosts[1]
    minion.install_minion(host, network.gateway(), salt_master.config["ret_port"],
                   salt_master.config["publish_port"])
    keys = salt_master.salt_key_cli()

    def explain():
        journal = on_host(host, "journalctl -u salt-minion --no-pager -n 20")
        return f"salt-key -L: {keys.run('-L').stdout}; minion journal:\n{journal}"

    def key_state():
        listing = keys.run("-L").data or {}
        return next((k for k in ("minions_pre", "minions") if host.name in listing.get(k, [])), None)

    # The factory's master may auto-accept; otherwise accept the pending key like an operator.
    if wait_for("the minion's key", key_state, explain) == "minions_pre":
        assert keys.run("-a", host.name, "-y").returncode == 0
    # Probe with a short timeout: a job published before the minion subscribed is never seen.
    probe = salt_master.salt_cli(timeout=10)
    wait_for("the minion to answer",
          lambda: probe.run("test.ping", minion_tgt=host.name).data is True, explain)
    return host, salt_master.salt_cli(timeout=600)


def test_minion_runs_inside_the_lab_host(lab_minion):
    host, cli = lab_minion
    assert on_host(host, "systemctl is-active salt-minion").strip() == "active"
    grains = cli.run("grains.item", "virtual", "init", minion_tgt=host.name).data
    assert grains["init"] == "systemd"


def test_bootstrap_through_master_is_applied_then_idempotent(lab_minion):
    host, cli = lab_minion
    synced = cli.run("saltutil.sync_all", minion_tgt=host.name)
    assert "modules.hostfacts" in synced.data["modules"]

    first = summarize_states(cli.run("state.apply", "core.bootstrap", minion_tgt=host.name).data)
    assert first.success and first.changed > 0, (first.errors, first.failed_states)
    assert on_host(host, "dpkg-query -W -f='${Status}' sudo") == "install ok installed"
    assert "systemd-nspawn" in on_host(host, "cat /etc/deploy-system/host-facts.json")

    again = summarize_states(cli.run("state.apply", "core.bootstrap", minion_tgt=host.name).data)
    assert again.success and again.changed == 0, again.changed_states
