import pytest
import yaml

from dsu.errors import DsuError
from dsu.lab import hosts, image, network, roster


def test_host_names_single_and_counted():
    assert hosts.host_names("demo", 1) == ["demo"]
    assert hosts.host_names("demo", 3) == ["demo-1", "demo-2", "demo-3"]


@pytest.mark.parametrize("bad", ["Demo", "1abc", "a_b", "x" * 40, ""])
def test_bad_names_are_refused_with_a_fix(bad):
    with pytest.raises(DsuError) as err:
        hosts.host_names(bad, 1)
    assert err.value.fix


def test_count_must_be_positive():
    with pytest.raises(DsuError, match="--count"):
        hosts.host_names("demo", 0)


def test_addresses_follow_the_subnet(monkeypatch):
    monkeypatch.setenv("DSU_LAB_SUBNET", "10.250.3.0/24")
    assert network.gateway() == "10.250.3.1"
    assert network.host_address(1) == "10.250.3.11"
    assert 'Proxy "http://10.250.3.1:3142"' in network.apt_proxy_conf()


def test_roster_pins_host_keys(tmp_path):
    class Host:
        name, address, host_key = "h1", "10.248.0.11", "ssh-ed25519 AAAA"

    path = roster.write(tmp_path, [Host()], tmp_path / "key")
    entry = yaml.safe_load(path.read_text())["h1"]
    assert entry["host"] == "10.248.0.11" and entry["user"] == "root"
    assert "StrictHostKeyChecking=yes" in entry["ssh_options"]
    assert (tmp_path / "known_hosts").read_text() == "10.248.0.11 ssh-ed25519 AAAA\n"


def test_image_key_changes_with_packages_and_release(monkeypatch):
    base = image.image_key("bookworm", "http://m.test/debian")
    assert base != image.image_key("trixie", "http://m.test/debian")
    monkeypatch.setattr(image, "PACKAGES", (*image.PACKAGES, "vim"))
    assert base != image.image_key("bookworm", "http://m.test/debian")


def test_unknown_release_is_refused():
    with pytest.raises(DsuError, match="unknown release"):
        image.ensure_image("sid")


def test_a_unit_that_failed_at_boot_is_read_from_the_console(tmp_path):
    from dsu.lab.hosts import _failed_unit

    log = tmp_path / "console.log"
    assert _failed_unit(log) is None
    log.write_text("\x1b[0;32m  OK  \x1b[0m] Started \x1b[0;1;39mssh.service\x1b[0m.\n"
                   "Failed to create symlink /sys/fs/cgroup/cpu: File exists\n")
    assert _failed_unit(log) is None  # nspawn's cgroup chatter is not a failed unit
    log.write_text(log.read_text() + "[\x1b[0;1;31mFAILED\x1b[0m] Failed to start "
                   "\x1b[0;1;39mdsu-lab-seed.service\x1b[0m - Seed this lab host.\n")
    assert _failed_unit(log) == "dsu-lab-seed.service"
