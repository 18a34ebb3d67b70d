"""Roster targets: first contact declared, entries read and refused with the file and entry
named, globs, the entry rewritten after a bootstrap, the new port's known_hosts line."""

import pytest
import yaml

from dsu.errors import DsuError
from dsu.targets import Access, add_known_port, bootstrapped, read_roster, select

ROSTER = """\
# operator's roster
web1:
  host: 192.0.2.10
  priv: /keys/id_ed25519
  ssh_options: [UserKnownHostsFile=/keys/known_hosts, StrictHostKeyChecking=yes]
  dsu_bootstrap: true
web2:
  host: 192.0.2.11
  dsu_bootstrap: {user: ops, port: 2200}
db1:
  host: 192.0.2.12
  user: deploy
  port: 2222
  sudo: true
"""


@pytest.fixture
def roster(tmp_path):
    path = tmp_path / "roster"
    path.write_text(ROSTER)
    return path


def test_entries_and_first_contact(roster):
    found = read_roster(roster)
    assert found["web1"].bootstrap == Access("deploy", 2222)
    assert found["web2"].bootstrap == Access("ops", 2200)
    assert found["db1"].bootstrap is None and found["db1"].sudo and found["db1"].port == 2222
    assert str(found["web1"].known_hosts()) == "/keys/known_hosts"
    argv = found["web1"].ssh_argv("true", user="deploy", port=2222)
    assert argv[:3] == ["ssh", "-p", "2222"] and argv[-2:] == ["deploy@192.0.2.10", "true"]
    assert "BatchMode=yes" in argv and "IdentitiesOnly=yes" in argv


def test_globs_keep_roster_order_and_name_what_is_missing(roster):
    assert [t.name for t in select(read_roster(roster), ["web*", "web1"], roster)] == \
        ["web1", "web2"]
    with pytest.raises(DsuError, match="no target 'cache1'.*") as caught:
        select(read_roster(roster), ["cache1"], roster)
    assert "web1, web2, db1" in caught.value.fix


@pytest.mark.parametrize(("entry", "says"), [
    ("{host: h, dsu_bootstrap: {user: root}}", "a login name other than root"),
    ("{host: h, dsu_bootstrap: {port: 22}}", "a TCP port other than 22"),
    ("{host: h, dsu_bootstrap: {port: 70000}}", "a TCP port other than 22"),
    ("{host: h, dsu_bootstrap: {user: deploy, shell: sh}}", "true or a mapping with user and port"),
    ("{host: h, port: '22'}", "port must be a TCP port number"),
    ("{user: root}", "needs at least host"),
    ("{host: h, ssh_options: Port=2}", "ssh_options must be a list"),
])
def test_bad_entries_are_refused_naming_file_and_entry(tmp_path, entry, says):
    path = tmp_path / "roster"
    path.write_text(f"bad: {entry}\n")
    with pytest.raises(DsuError, match=says) as caught:
        read_roster(path)
    assert caught.value.message.startswith(f"{path}: bad: ")


def test_unreadable_rosters(tmp_path):
    with pytest.raises(DsuError, match="does not exist"):
        read_roster(tmp_path / "none")
    (tmp_path / "list").write_text("- a\n")
    with pytest.raises(DsuError, match="not a mapping"):
        read_roster(tmp_path / "list")
    (tmp_path / "broken").write_text("a: [\n")
    with pytest.raises(DsuError, match="cannot be read"):
        read_roster(tmp_path / "broken")


def test_bootstrapped_rewrites_one_entry_and_keeps_the_rest(roster):
    roster.chmod(0o600)
    bootstrapped(roster, "web1", Access("deploy", 2222))
    text = roster.read_text()
    assert text.startswith("# operator's roster\n")
    data = yaml.safe_load(text)
    assert data["web1"]["user"] == "deploy" and data["web1"]["port"] == 2222
    assert data["web1"]["sudo"] is True and "dsu_bootstrap" not in data["web1"]
    assert data["web2"]["dsu_bootstrap"] == {"user": "ops", "port": 2200}
    assert data["web1"]["priv"] == "/keys/id_ed25519"
    assert roster.stat().st_mode & 0o777 == 0o600


def test_the_new_port_gets_the_known_key(tmp_path):
    known = tmp_path / "known_hosts"
    known.write_text("192.0.2.10 ssh-ed25519 AAAAkey\n192.0.2.11 ssh-ed25519 AAAAother\n")
    add_known_port(known, "192.0.2.10", 2222)
    add_known_port(known, "192.0.2.10", 2222)  # once only
    lines = known.read_text().splitlines()
    assert lines.count("[192.0.2.10]:2222 ssh-ed25519 AAAAkey") == 1 and len(lines) == 3

