"""Each lab failure the operator can meet is one line that says what to do."""

import time

import pytest

from dsu.errors import DsuError
from dsu.lab import hosts, network, system


def test_not_root(monkeypatch):
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    with pytest.raises(DsuError, match="needs root") as err:
        system.require_root()
    assert "as root" in err.value.fix


@pytest.mark.parametrize("tool,package", [("debootstrap", "debootstrap"),
                                          ("systemd-nspawn", "systemd-container")])
def test_missing_tool_names_the_package(monkeypatch, tool, package):
    monkeypatch.setattr("shutil.which", lambda name: None if name == tool else f"/usr/bin/{name}")
    with pytest.raises(DsuError, match=f"{tool} is not installed") as err:
        system.require_tools()
    assert err.value.fix == f"apt-get install {package}"


def test_proxy_port_in_use(monkeypatch, tmp_path):
    monkeypatch.setattr(network, "_port_open", lambda host, port: True)
    with pytest.raises(DsuError, match="port 3142 on 10.248.0.1 is in use") as err:
        network.ensure_proxy(tmp_path)
    assert "DSU_LAB_PROXY_PORT" in err.value.fix


def test_host_not_answering_ssh_in_time(monkeypatch, tmp_path):
    monkeypatch.setenv("DSU_STATE_DIR", str(tmp_path))
    host = hosts.LabHost("quiet", "bookworm", 1, "127.0.0.1", 0, 0.0, "ssh-ed25519 AAAA")
    monkeypatch.setattr(hosts.LabHost, "alive", lambda self: True)
    # Nothing listens for SSH there in a way that accepts this key: the wait must end, not hang.
    with pytest.raises(DsuError, match="did not answer SSH") as err:
        hosts._wait_for_ssh(host, time.monotonic() + 1)
    assert "console" in err.value.fix


def test_error_one_line_carries_the_fix():
    assert DsuError("broke", "do this").one_line() == "broke (fix: do this)"
