"""Key directory and key file modes, as preflight checks them."""

import os

import pytest

from dsu.secrets import checks


def test_private_dir_must_be_0700_and_mine(tmp_path):
    keydir = tmp_path / "keys"
    keydir.mkdir(mode=0o700)
    keydir.chmod(0o700)
    assert checks.check_key_path(keydir, "gpg_keydir") == []
    keydir.chmod(0o750)
    assert [p.what for p in checks.check_key_path(keydir, "gpg_keydir")] == \
        ["gpg_keydir has mode 0750, must be 0700"]
    assert checks.check_key_path(tmp_path / "absent", "gpg_keydir", required=False) == []
    assert [p.what for p in checks.check_key_path(tmp_path / "absent", "GNUPGHOME")] == \
        ["GNUPGHOME does not exist"]
    (tmp_path / "file").write_text("")
    assert [p.what for p in checks.check_key_path(tmp_path / "file", "x")] == ["x is not a directory"]


def test_private_dir_of_another_user(tmp_path, monkeypatch):
    keydir = tmp_path / "keys"
    keydir.mkdir(mode=0o700)
    keydir.chmod(0o700)
    monkeypatch.setattr(os, "geteuid", lambda: keydir.stat().st_uid + 1)
    assert [p.what for p in checks.check_key_path(keydir, "gpg_keydir")] == \
        [f"gpg_keydir is owned by uid {keydir.stat().st_uid}, not by the invoking user "
         f"(uid {keydir.stat().st_uid + 1})"]


@pytest.mark.parametrize(("mode", "ok"), [(0o600, True), (0o400, True), (0o640, False), (0o700, False)])
def test_age_key_file_mode(tmp_path, mode, ok):
    path = tmp_path / "keys.txt"
    path.write_text("AGE-SECRET-KEY-1...\n")
    path.chmod(mode)
    problems = checks.check_key_path(path, "SOPS_AGE_KEY_FILE", directory=False)
    assert (problems == []) is ok, problems
