"""host_identity.present: generates an identity once, keeps it, never overwrites a bad one."""

import grp
import os
import pwd
import stat
import uuid

import pytest

from tests.support.saltmods import load, utils

USER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


@pytest.fixture
def state():
    module = load("_states", "host_identity", opts={"test": False}, utils=utils("owned_file"))

    def present(path, test=False, mode="0644"):
        module.__opts__["test"] = test
        return module.present(str(path), mode=mode, user=USER, group=GROUP)

    return present


def test_generates_a_uuid4_once_then_keeps_it(state, tmp_path):
    path = tmp_path / "deploy-system" / "host-id"
    first = state(path)
    assert first["result"] is True and first["changes"]["generated"] == str(path)
    identity = path.read_text().strip()
    assert uuid.UUID(identity).version == 4 and first["changes"]["identity"] == identity
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    again = state(path)
    assert again["result"] is True and again["changes"] == {}
    assert path.read_text().strip() == identity
    assert [p.name for p in path.parent.iterdir()] == ["host-id"]  # no temporary file left


def test_test_mode_says_it_would_generate_and_writes_nothing(state, tmp_path):
    path = tmp_path / "host-id"
    ret = state(path, test=True)
    assert ret["result"] is None and "would generate" in ret["comment"] and ret["changes"]
    assert not path.exists()


def test_a_file_that_is_not_a_uuid_fails_and_is_kept(state, tmp_path):
    path = tmp_path / "host-id"
    path.write_text("not-an-identity\n")
    for test in (False, True):
        ret = state(path, test=test)
        assert ret["result"] is False and "never overwritten" in ret["comment"]
        assert ret["changes"] == {}
    assert path.read_text() == "not-an-identity\n"


def test_an_existing_uuid_is_kept_and_only_its_mode_fixed(state, tmp_path):
    path = tmp_path / "host-id"
    existing = str(uuid.uuid1()).upper()  # another version and case: still a valid identity
    path.write_text(existing + "\n")
    path.chmod(0o600)
    check = state(path, test=True)
    assert check["result"] is None and check["changes"] == {"mode": "0644"}
    ret = state(path)
    assert ret["result"] is True and ret["changes"] == {"mode": "0644"}
    assert path.read_text().strip() == existing
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_a_symlink_is_refused(state, tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text(str(uuid.uuid4()))
    (tmp_path / "host-id").symlink_to(target)
    assert state(tmp_path / "host-id")["result"] is False
