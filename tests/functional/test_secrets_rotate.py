"""`dsu secrets rotate|add-recipient|remove-recipient`: a new data key, the values and every other
setting unchanged, removed keys locked out (proven with our decryption and the real sops), each
file reported, one audit entry per command, no secret value anywhere in output or log."""

import json
import subprocess

import jsonschema
import pytest
import yaml

from dsu.secrets import sopsfile
from tests.support import secretsandbox as kit
from tests.support.secretsandbox import box_fixture  # noqa: F401  (fixture box)
from tests.support.sopskeys import (
    FIXTURES,
    gnupg_home_at,
    key_env,
    make_age_identity,
    make_pgp_key,
    run_sops,
    write_age_keys,
)

SOPS_YAML = ("--input-type", "yaml", "--output-type", "json")


def _audit(box, schema):
    entries = [json.loads(line) for line in box.audit_log.read_text().splitlines()]
    for entry in entries:
        jsonschema.validate(entry, schema("secrets-audit.v1.json"))
    text = box.audit_log.read_text()
    assert kit.CANARY not in text and "ENC[" not in text and "PGP MESSAGE" not in text
    return entries


def _ok(done):
    output = done.stdout + done.stderr
    assert kit.CANARY not in output
    assert done.returncode == 0, output
    return output


def _meta(path):
    lib = sopsfile()
    return lib.parse(path.read_text(), lib.format_of(path), str(path))["sops"]


def _sops_decrypts(path, env):
    """The real sops' decryption of *path* with exactly the keys of *env* (None when it fails)."""
    done = run_sops("decrypt", *SOPS_YAML, path, env=env, check=False)
    return json.loads(done.stdout) if done.returncode == 0 else None


def _ours_decrypts(path, gnupg_home, identities):
    lib = sopsfile()
    try:
        return lib.decrypt_file(str(path), gnupg_home=str(gnupg_home), age_identities=identities)
    except lib.SopsError:
        return None


@pytest.mark.parametrize("layout", ["recipients", "shamir-selector", "json-suffix"])
def test_rotate_keeps_values_and_settings_with_a_new_data_key(box, schema, layout):
    lib = sopsfile()
    path = box.sops_file
    data = {"secrets": {"values": kit.VALUES, "settings": {"port": 5432, "note_plain": "visible"}}}
    with box.keys():
        if layout == "shamir-selector":
            path.write_text(lib.encrypt_data(
                data, "yaml", key_groups=[{"pgp": [box.master_fp, box.operator_fp], "age": []},
                                          {"pgp": [], "age": [box.age_recipient]}],
                shamir_threshold=2, encrypted_regex="^values$", mac_only_encrypted=True))
        elif layout == "json-suffix":
            path = box.root / "pillar/secrets/sops/extra.json"
            path.write_text(lib.encrypt_data(data, "json", pgp=[box.master_fp],
                                             unencrypted_suffix="_plain"))
        before, old_key = lib.decrypt_file(str(path)), lib.data_key(_meta(path))
    old_meta = _meta(path)

    out = _ok(box.dsu("secrets", "rotate", str(path.relative_to(box.root))))
    assert f"rotated {path.relative_to(box.root)}: new data key" in out

    new_meta = _meta(path)
    with box.keys():
        assert lib.decrypt_file(str(path)) == before
        assert lib.data_key(new_meta) != old_key
    assert _sops_decrypts(path, box.env) == json.loads(json.dumps(before))
    assert path.stat().st_mode & 0o777 == 0o600
    kept = ("encrypted_regex", "unencrypted_suffix", "mac_only_encrypted", "shamir_threshold")
    assert {k: new_meta.get(k) for k in kept} == {k: old_meta.get(k) for k in kept}
    [entry] = _audit(box, schema)
    assert entry["action"] == "rotate"
    assert entry["files"][0]["recipients_before"] == entry["files"][0]["recipients_after"]
    assert len(entry["files"][0]["recipients_after"]) == (2 if layout == "shamir-selector" else 1)


def test_removed_keys_cannot_decrypt_the_new_version(box, tmp_path, schema):
    lib = sopsfile()
    with (gnupg_home_at(tmp_path / "only-kept", import_test_key=False) as only_kept,
          gnupg_home_at(tmp_path / "only-removed", import_test_key=False) as only_removed,
          gnupg_home_at(tmp_path / "no-pgp", import_test_key=False) as no_pgp):
        kept_fp, removed_fp = (make_pgp_key(box.home, name) for name in ("kept", "removed"))
        kit.export_secret_key(box.home, kept_fp, only_kept)
        kit.export_secret_key(box.home, removed_fp, only_removed)
        (kept_id, kept_r), (removed_id, removed_r) = make_age_identity(), make_age_identity()
        both_ages = write_age_keys(tmp_path / "both-ages.txt", kept_id, removed_id)
        path = box.root / "pillar/secrets/sops/two.sls"
        with box.keys():
            path.write_text(lib.encrypt_data({"secrets": {"values": kit.VALUES}}, "yaml",
                                             pgp=[kept_fp, removed_fp], age=[kept_r, removed_r]))
        plain = {"secrets": {"values": kit.VALUES}}
        # Who holds what: (environment for the real sops, (GNUPGHOME, age identities) for ours).
        holders = {"pgp kept": (key_env(only_kept), (only_kept.path, [])),
                   "pgp removed": (key_env(only_removed), (only_removed.path, [])),
                   "age kept": (key_env(no_pgp, age_key=kept_id), (no_pgp.path, [kept_id])),
                   "age removed": (key_env(no_pgp, age_key=removed_id), (no_pgp.path, [removed_id]))}
        # Before: every one of the four keys alone opens the file.
        for name, (env, ours) in holders.items():
            assert _ours_decrypts(path, *ours) == plain, name
            assert _sops_decrypts(path, env) == plain, name

        box.env.update(key_env(box.home, both_ages))
        rel = str(path.relative_to(box.root))
        out = _ok(box.dsu("secrets", "remove-recipient", "--pgp", removed_fp.lower(), rel))
        assert f"rotated {rel}: new data key; recipients pgp 1, age 2" in out
        _ok(box.dsu("secrets", "remove-recipient", "--age", removed_r, rel))

        for name, (env, ours) in holders.items():
            expected = plain if "kept" in name else None
            assert _ours_decrypts(path, *ours) == expected, name
            assert _sops_decrypts(path, env) == expected, name
        again = box.dsu("secrets", "remove-recipient", "--age", removed_r, rel)
        assert f"unchanged {rel}: age {removed_r} is not a recipient" in _ok(again)

    first, second = _audit(box, schema)
    assert first["recipient"] == {"pgp": removed_fp} and second["recipient"] == {"age": removed_r}
    assert first["files"][0]["recipients_before"] == [{"pgp": [kept_fp, removed_fp],
                                                       "age": [kept_r, removed_r]}]
    assert second["files"][0]["recipients_after"] == [{"pgp": [kept_fp], "age": [kept_r]}]


def test_added_recipients_can_decrypt_the_new_version(box, tmp_path, schema):
    with gnupg_home_at(tmp_path / "newcomer", import_test_key=False) as newcomer:
        new_fp = make_pgp_key(newcomer, "newcomer")
        subprocess.run(["gpg", "--homedir", str(box.home.path), "--batch", "--import"], text=True,
                       input=kit.export_public_key(newcomer, new_fp), capture_output=True, check=True)
        new_id, new_r = make_age_identity()
        rel = str(box.sops_file.relative_to(box.root))
        assert _sops_decrypts(box.sops_file, key_env(newcomer)) is None

        _ok(box.dsu("secrets", "add-recipient", "--pgp", new_fp, rel))
        _ok(box.dsu("secrets", "add-recipient", "--age", new_r, "--all"))
        assert "already a recipient" in _ok(box.dsu("secrets", "add-recipient", "--age", new_r, rel))

        expected = json.loads(json.dumps({"secrets": {"values": kit.VALUES, "settings": kit.SETTINGS}}))
        assert _sops_decrypts(box.sops_file, key_env(newcomer)) == expected
        assert _sops_decrypts(box.sops_file, key_env(newcomer.path, age_key=new_id)) == expected
        assert _ours_decrypts(box.sops_file, newcomer.path, [new_id]) == expected
    entries = _audit(box, schema)
    assert [e["action"] for e in entries] == ["add-recipient", "add-recipient"]
    assert entries[1]["files"][0]["recipients_after"][0]["age"] == [box.age_recipient, new_r]


def test_all_reports_each_file_and_writes_one_audit_entry(box, schema):
    web = box.write_sops_file(kit.VALUES, path=box.root / "pillar/secrets/sops/web.sls")
    unlisted = box.write_sops_file(kit.VALUES, path=box.root / "pillar/secrets/sops/unlisted.sls")
    broken = box.root / "pillar/secrets/sops/broken.sls"
    broken.write_text(yaml.safe_dump({"secrets": {"values": {"db_password": kit.CANARY}}}))
    box.set_targets({"*": {"gpg": [kit.GPG_SLS], "sops": [kit.SOPS_SLS]},
                     "web*": {"sops": ["secrets.sops.web", kit.SOPS_SLS]}})
    untouched = unlisted.read_bytes()

    out = _ok(box.dsu("secrets", "rotate", "--all"))
    assert "rotated pillar/secrets/sops/common.sls: new data key" in out
    assert "rotated pillar/secrets/sops/web.sls: new data key" in out
    assert "rotate: 2 rotated, 0 unchanged, 0 failed" in out
    assert unlisted.read_bytes() == untouched

    box.set_targets({"*": {"sops": ["secrets.sops.broken", kit.SOPS_SLS, "secrets.sops.web"]}})
    failed = box.dsu("secrets", "rotate", "--all")
    assert failed.returncode == 1 and kit.CANARY not in failed.stdout + failed.stderr
    assert "FAILED pillar/secrets/sops/broken.sls: " in failed.stdout
    assert "rotate: 2 rotated, 0 unchanged, 1 failed" in failed.stdout

    entries = _audit(box, schema)
    assert [[f["path"] for f in e["files"]] for e in entries] == [
        ["pillar/secrets/sops/common.sls", "pillar/secrets/sops/web.sls"],
        ["pillar/secrets/sops/common.sls", "pillar/secrets/sops/web.sls"]]
    assert web.stat().st_mode & 0o777 == 0o600


def test_refusals_leave_files_unchanged(box):
    comments = box.root / "pillar/secrets/sops/comments.sls"
    comments.write_text((FIXTURES / "comments.enc.yaml").read_text())
    rule = box.root / ".sops.yaml"
    cases = [
        (("rotate", "pillar/secrets/sops/comments.sls"), "has comments"),
        (("remove-recipient", "--age", box.age_recipient, "pillar/secrets/sops/comments.sls"),
         "is not a recipient"),
        (("rotate", "pillar/secrets/sops/common.sls", "--all"), "name FILE(s) or pass --all"),
        (("rotate",), "name FILE(s) or pass --all"),
        (("rotate", "pillar/secrets/gpg/common.sls"), "not a SOPS file"),
        (("rotate", str(rule)), "not a SOPS file"),
    ]
    for args, message in cases:
        done = box.dsu("secrets", *args)
        assert message in done.stdout + done.stderr, (args, done.stdout, done.stderr)
    lib = sopsfile()
    single = box.root / "pillar/secrets/sops/single.sls"
    groups = box.root / "pillar/secrets/sops/groups.sls"
    with box.keys():
        single.write_text(lib.encrypt_data({"a": kit.CANARY}, "yaml", pgp=[box.master_fp]))
        groups.write_text(lib.encrypt_data({"a": kit.CANARY}, "yaml", key_groups=[
            {"pgp": [box.master_fp], "age": []}, {"pgp": [], "age": [box.age_recipient]}]))
    before = box.snapshot()
    done = box.dsu("secrets", "remove-recipient", "--pgp", box.master_fp, "pillar/secrets/sops/single.sls")
    assert done.returncode == 1 and "would leave key group 1 empty" in done.stdout
    done = box.dsu("secrets", "add-recipient", "--pgp", box.operator_fp, "pillar/secrets/sops/groups.sls")
    assert done.returncode == 1 and "pass --group N" in done.stdout
    assert box.snapshot() == before
    _ok(box.dsu("secrets", "add-recipient", "--group", "2", "--pgp", box.operator_fp,
                "pillar/secrets/sops/groups.sls"))
    assert [len(g.get("pgp") or []) for g in _meta(groups)["key_groups"]] == [1, 1]


def test_removing_the_only_key_held_here_writes_but_says_unverified(box):
    lib = sopsfile()
    identity, recipient = make_age_identity()
    path = box.root / "pillar/secrets/sops/handover.sls"
    with box.keys():
        path.write_text(lib.encrypt_data({"a": kit.CANARY}, "yaml", pgp=[box.master_fp], age=[recipient]))
    out = _ok(box.dsu("secrets", "remove-recipient", "--pgp", box.master_fp, str(path)))
    assert "not verified here: no key of the new recipients is held on this machine" in out
    assert _ours_decrypts(path, box.home.path, []) is None
    assert _ours_decrypts(path, box.home.path, [identity]) == {"a": kit.CANARY}
