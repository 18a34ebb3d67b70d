"""vps-like lab hosts (`dsu lab up --like vps`): the seed that makes them look like a freshly
delivered VPS, the root password read from a file without ever showing it, and what the lab's
registry, roster and plain hosts make of them."""

import argparse
import json

import pytest
import yaml

from dsu.errors import DsuError
from dsu.lab import hosts, image, roster, vps

SECRET = "correct horse: battery staple"


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("DSU_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DSU_LAB_SUBNET", "10.248.0.0/24")
    return tmp_path / "state"


def _host(like="", name="h1"):
    return hosts.LabHost(name, "bookworm", 1, "10.248.0.11", 0, 0.0, "ssh-ed25519 AAAA", like)


def _seed_files(seed):
    return {str(p.relative_to(seed)): p.read_text() for p in sorted(seed.rglob("*")) if p.is_file()}


# --- the seed -----------------------------------------------------------------------------------


def test_a_plain_host_is_seeded_as_before(state):
    files = _seed_files(hosts._seed(_host()))
    assert sorted(files) == ["etc/apt/apt.conf.d/01dsu-lab-proxy", "etc/hosts", "etc/resolv.conf",
                             "etc/systemd/network/10-dsu-lab.network", "root/.ssh/authorized_keys"]
    assert files["etc/resolv.conf"] == "# dsu lab host: no DNS server is reachable\nnameserver 127.0.0.1\n"
    assert "Address=10.248.0.11/24\nGateway=10.248.0.1\n" in files["etc/systemd/network/10-dsu-lab.network"]


def test_a_vps_host_is_addressed_by_ifupdown_with_the_providers_settings(state):
    files = _seed_files(hosts._seed(_host("vps")))
    assert "etc/systemd/network/10-dsu-lab.network" not in files
    assert files["etc/network/interfaces"].endswith(
        "auto host0\niface host0 inet static\n    address 10.248.0.11/24\n"
        "    gateway 10.248.0.1\n    mtu 1450\n")
    assert "auto lo\niface lo inet loopback\n" in files["etc/network/interfaces"]
    assert files["etc/resolv.conf"].splitlines()[1:] == ["nameserver 10.248.0.1"]
    sysctl = files["etc/sysctl.d/30-provider.conf"].splitlines()
    assert {"net.ipv4.conf.default.rp_filter = 1", "net.ipv4.conf.all.rp_filter = 1"} <= set(sysctl)
    # The lab's own pieces stay: packages through the proxy, root's key.
    assert "etc/apt/apt.conf.d/01dsu-lab-proxy" in files and "root/.ssh/authorized_keys" in files
    # Key only unless a password is given: Debian's own sshd default.
    assert not any(name.startswith("etc/ssh/") for name in files)


def test_a_password_lets_sshd_take_root_passwords_and_is_not_in_the_seed(state):
    seed = hosts._seed(_host("vps"), password_login=True)
    files = _seed_files(seed)
    conf = files["etc/ssh/sshd_config.d/50-provider-root-login.conf"].splitlines()
    assert "PermitRootLogin yes" in conf and "PasswordAuthentication yes" in conf
    assert all(SECRET not in text for text in files.values())


def test_the_image_switches_the_network_by_the_seed():
    switch = f"/etc/dsu-lab/seed/{vps.INTERFACES}"
    assert image.NETWORK_SWITCH == switch
    assert image.NETWORK_DROP_INS["networking.service"] == f"ConditionPathExists={switch}"
    for unit in ("systemd-networkd.service", "systemd-networkd.socket",
                 "systemd-networkd-wait-online.service"):
        assert image.NETWORK_DROP_INS[unit] == f"ConditionPathExists=!{switch}"
    before = next(line for line in image.SEED_UNIT.splitlines() if line.startswith("Before="))
    assert {"systemd-sysctl.service", "networking.service", "ssh.service"} <= set(before[7:].split())
    assert "ifupdown" in image.PACKAGES


# --- the password -------------------------------------------------------------------------------


def test_the_password_is_the_files_one_line(tmp_path):
    path = tmp_path / "pw"
    for content in (SECRET, SECRET + "\n"):
        path.write_text(content)
        assert vps.password_file(str(path)).reveal() == SECRET


def test_the_password_never_shows(tmp_path):
    password = vps.Password(SECRET)
    assert SECRET not in repr(password) and SECRET not in str(password)
    assert SECRET not in repr([password]) and SECRET not in f"{password!r}"
    assert vps.chpasswd_input(password) == f"root:{SECRET}\n".encode()


@pytest.mark.parametrize("content,says", [
    (b"", "is empty"),
    (b"\n", "is empty"),
    (b"one\ntwo\n", "more than one line"),
    (b"tab\there", "control character"),
    (b"cr\r\n", "control character"),
    (b"\xff\xfe", "is not UTF-8 text"),
    (b"x" * 257, "longer than 256"),
])
def test_bad_password_files_are_refused_without_showing_the_content(tmp_path, content, says):
    path = tmp_path / "pw"
    path.write_bytes(content)
    with pytest.raises(argparse.ArgumentTypeError, match=says) as err:
        vps.password_file(str(path))
    text = content.decode(errors="replace").strip()
    assert not text or text not in str(err.value)


def test_missing_or_directory_password_files(tmp_path):
    with pytest.raises(argparse.ArgumentTypeError, match="no such file"):
        vps.password_file(str(tmp_path / "missing"))
    with pytest.raises(argparse.ArgumentTypeError, match="is a directory"):
        vps.password_file(str(tmp_path))


def test_up_refuses_a_password_without_vps_and_unknown_kinds(state):
    with pytest.raises(DsuError, match="vps-like hosts only"):
        hosts.up("demo", root_password=vps.Password(SECRET))
    with pytest.raises(DsuError, match="unknown host kind 'cloud'"):
        hosts.up("demo", like="cloud")


# --- registry, roster, status ------------------------------------------------------------------


def test_the_registry_keeps_the_kind_and_reads_entries_of_other_versions(state):
    hosts._register(_host("vps", "new"))
    old = {"name": "old", "release": "bookworm", "index": 2, "address": "10.248.0.12", "pid": 0,
           "started": 0.0, "host_key": "k"}
    (hosts._registry() / "old.json").write_text(json.dumps(old))
    later = {**old, "name": "later", "index": 3, "future_field": True}
    (hosts._registry() / "later.json").write_text(json.dumps(later))
    found = {h.name: h.like for h in hosts.registered()}
    assert found == {"new": "vps", "old": "", "later": ""}
    assert SECRET not in (hosts._registry() / "new.json").read_text()


def test_the_roster_says_which_hosts_are_vps_like_in_a_comment(tmp_path):
    path = roster.write(tmp_path, [_host("vps", "v1"), _host("", "p1")], tmp_path / "key")
    text = path.read_text()
    assert "# v1: vps-like (dsu lab up --like vps)\n" in text and "p1: " not in text.split("\n\n")[0]
    entries = yaml.safe_load(text)
    assert set(entries) == {"v1", "p1"} and "like" not in entries["v1"]  # salt-ssh sees no new key


def test_status_shows_the_kind(state, monkeypatch):
    hosts._register(_host("vps", "v1"))
    hosts._register(_host("", "p1"))
    monkeypatch.setattr(hosts.LabHost, "alive", lambda self: False)
    assert {row["name"]: row["like"] for row in hosts.status()} == {"p1": "-", "v1": "vps"}
