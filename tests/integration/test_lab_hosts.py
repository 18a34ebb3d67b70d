"""Lab hosts are real Debian machines with systemd as PID 1, reached over SSH."""

import pytest

from tests.integration.conftest import on_host


def test_pid1_is_systemd_and_the_system_runs(lab_hosts):
    for host in lab_hosts:
        assert on_host(host, "ps -p 1 -o comm=").strip() == "systemd"
        state = on_host(host, "systemctl is-system-running --wait || true").strip()
        assert state in {"running", "degraded"}, f"{host.name}: {state}"
        assert on_host(host, ". /etc/os-release; echo $VERSION_CODENAME").strip() == "bookworm"


def test_each_host_has_its_own_network_namespace(lab_hosts):
    first, second = lab_hosts[:2]
    # Each host sees only its own lab address, and reaches the other over the bridge.
    assert first.address in on_host(first, "ip -4 -o addr show host0")
    assert second.address not in on_host(first, "ip -4 -o addr show")
    on_host(first, f"exec 3<>/dev/tcp/{second.address}/22")


@pytest.mark.parametrize("fun", ["test.ping", "hostfacts.summary"])
def test_salt_ssh_reaches_hosts_with_custom_modules(lab_hosts, roster, fun):
    from dsu.saltssh import salt_ssh

    run = salt_ssh([h.name for h in lab_hosts], fun, roster=roster)
    assert run.returncode == 0, run.stderr
    for host in lab_hosts:
        ret = run.returns[host.name]
        if fun == "test.ping":
            assert ret is True
        else:
            # The module ran on the host: it found nspawn and systemd there, not this machine.
            assert ret["container"] == "systemd-nspawn" and ret["init"] == "systemd"
