"""secret_file.present: writes from pillar with the final mode, verifies by digest, and never
puts the secret into its return."""

import grp
import json
import os
import pwd
import stat

import pytest

from tests.support.saltmods import load, utils

USER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name
CANARY = "canary-7f3a9c1e-s3cr3t"


@pytest.fixture
def module():
    return load("_states", "secret_file", opts={"test": False}, utils=utils("owned_file"),
                pillar={"secrets": {"values": {"db": CANARY, "port": 5432, "nested": {"a": 1}}}})


def present(module, path, key="secrets:values:db", test=False, mode="0600"):
    module.__opts__["test"] = test
    ret = module.present(str(path), key, mode=mode, user=USER, group=GROUP)
    assert CANARY not in json.dumps(ret), ret
    return ret


def test_writes_with_final_mode_then_verifies_without_change(module, tmp_path):
    path = tmp_path / "db-password"
    first = present(module, path)
    assert first["result"] is True and first["changes"] == {"content": "written"}
    assert path.read_text() == CANARY
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = present(module, path)
    assert again["result"] is True and again["changes"] == {} and "verified" in again["comment"]
    assert os.listdir(tmp_path) == ["db-password"]  # no temporary file left


def test_test_mode_compares_digests_and_writes_nothing(module, tmp_path):
    path = tmp_path / "db-password"
    ret = present(module, path, test=True)
    assert ret["result"] is None and ret["changes"] == {"content": "written"}
    assert not path.exists()
    path.write_text("old value")
    path.chmod(0o600)
    ret = present(module, path, test=True)
    assert ret["result"] is None and ret["changes"] == {"content": "rewritten"}
    assert path.read_text() == "old value"
    present(module, path)
    assert present(module, path, test=True)["result"] is True


def test_changed_content_and_loose_mode_are_fixed(module, tmp_path):
    path = tmp_path / "db-password"
    path.write_text("old value")
    path.chmod(0o644)
    ret = present(module, path, mode="0640")
    assert ret["changes"] == {"content": "rewritten", "mode": "0640"}
    assert path.read_text() == CANARY and stat.S_IMODE(path.stat().st_mode) == 0o640


def test_only_mode_wrong_keeps_content(module, tmp_path):
    path = tmp_path / "db-password"
    present(module, path)
    path.chmod(0o644)
    ret = present(module, path)
    assert ret["result"] is True and ret["changes"] == {"mode": "0600"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_file_is_never_readable_beyond_its_mode_while_written(module, tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append(stat.S_IMODE(os.stat(src).st_mode))
        real_replace(src, dst)

    monkeypatch.setattr(module.os, "replace", spy)
    present(module, tmp_path / "db-password")
    assert seen == [0o600]


def test_missing_or_unusable_pillar_value_fails_without_writing(module, tmp_path):
    missing = present(module, tmp_path / "x", key="secrets:values:absent")
    assert missing["result"] is False and "not set" in missing["comment"]
    nested = present(module, tmp_path / "x", key="secrets:values:nested")
    assert nested["result"] is False
    assert not (tmp_path / "x").exists()
    number = present(module, tmp_path / "port", key="secrets:values:port")
    assert number["result"] is True and (tmp_path / "port").read_text() == "5432"


def test_integrity_failure_is_reported(module, tmp_path, monkeypatch):
    monkeypatch.setattr(module, "_digest_of_file", lambda path: "0" * 64)
    ret = present(module, tmp_path / "db-password")
    assert ret["result"] is False and "integrity" in ret["comment"]


def test_symlink_and_missing_directory_are_refused(module, tmp_path):
    (tmp_path / "link").symlink_to(tmp_path / "target")
    assert present(module, tmp_path / "link")["result"] is False
    assert not (tmp_path / "target").exists()
    assert present(module, tmp_path / "no-dir" / "f")["result"] is False
