"""`dsu secrets migrate --check|--dual|--apply|--rollback` on a sandbox checkout
(tests/support/secretsandbox.py): the cutover criteria proven or every unmet one reported, the
provider switched by editing one line, secret files never touched, and no secret value in any
output."""

import json

import jsonschema
import pytest
import yaml

from dsu.secrets import sopsfile
from dsu.secrets.pillartext import read_gpg
from tests.support.secretsandbox import (
    CANARY,
    GPG_SLS,
    SETTINGS,
    SOPS_SLS,
    VALUES,
    box_fixture,  # noqa: F401  (fixture box)
    export_public_key,
)
from tests.support.sopskeys import gnupg_home_at, make_age_identity, make_pgp_key


def _decrypted(box):
    """Both providers' files decrypted here, to compare before and after."""
    import gnupg

    with box.keys():
        gpg = read_gpg(box.gpg_file.read_text(), gnupg.GPG(gnupghome=str(box.home.path)),
                       str(box.home.path)).data
        return gpg, sopsfile().decrypt_file(str(box.sops_file))


def _clean(done):
    output = done.stdout + done.stderr
    assert CANARY not in output
    for value in VALUES.values():
        assert value not in output
    return output


def test_equal_providers_pass_and_the_provider_round_trips(box, schema):
    original = box.provider_file.read_text()
    secrets_before = {k: v for k, v in box.snapshot().items() if not k.endswith("provider.yaml")}
    values_before = _decrypted(box)
    assert values_before[0] == values_before[1] == {"secrets": {"values": VALUES, "settings": SETTINGS}}

    check = box.dsu("secrets", "migrate", "--check")
    out = _clean(check)
    assert check.returncode == 0, out
    assert "ok [a] target '*': 7 key paths, equal in gpg and sops" in out
    # Every key held here opened its own data-key entry of the SOPS file.
    for key in (f"pgp {box.master_fp}", f"pgp {box.operator_fp}", f"age {box.age_recipient}"):
        assert key in out.split("pillar/secrets/sops/common.sls (sops)")[1]
    assert out.rstrip().endswith("migrate --check: all cutover criteria hold")

    seen = {}
    for step, expected in (("--dual", "dual"), ("--apply", "sops"), ("--rollback", "gpg"),
                           ("--apply", "sops"), ("--apply", "sops")):
        done = box.dsu("secrets", "migrate", step)
        _clean(done)
        assert done.returncode == 0, done.stdout + done.stderr
        assert box.provider == expected
        text = box.provider_file.read_text()
        # Only the provider line changed: comments and everything else are kept.
        changed = [(a, b) for a, b in zip(original.splitlines(), text.splitlines(), strict=True) if a != b]
        assert changed == ([] if expected == "gpg" else [("provider: gpg", f"provider: {expected}")])
        assert seen.setdefault(expected, text) == text
    assert box.provider_file.read_text().replace("provider: sops", "provider: gpg") == original
    assert "provider is already sops; nothing changed" in done.stdout

    box.dsu("secrets", "migrate", "--rollback")
    assert box.provider_file.read_text() == original
    # The round trips lost nothing: secret files byte-identical, values identical.
    after = box.snapshot()
    assert {k: v for k, v in after.items() if k in secrets_before} == secrets_before
    assert _decrypted(box) == values_before

    entries = [json.loads(line) for line in box.audit_log.read_text().splitlines()]
    assert [(e["provider"]["before"], e["provider"]["after"]) for e in entries] == [
        ("gpg", "dual"), ("dual", "sops"), ("sops", "gpg"), ("gpg", "sops"), ("sops", "gpg")]
    for entry in entries:
        jsonschema.validate(entry, schema("secrets-audit.v1.json"))
        assert entry["files"] == [{"path": "pillar/secrets/provider.yaml"}]


def test_every_problem_is_reported_at_once_and_blocks_apply(box, tmp_path):
    # A second target whose SOPS file nobody here can open, and a PGP key that is no operator's.
    with gnupg_home_at(tmp_path / "stranger", import_test_key=False) as stranger:
        stranger_fp = make_pgp_key(stranger, "stranger")
        public = export_public_key(stranger, stranger_fp)
    with box.keys():
        import gnupg

        gnupg.GPG(gnupghome=str(box.home.path)).import_keys(public)
    foreign_age = make_age_identity()[1]
    box.write_sops_file(VALUES, path=box.root / "pillar/secrets/sops/web.sls", age=[foreign_age])
    box.write_gpg_file(VALUES, path=box.root / "pillar/secrets/gpg/web.sls")
    box.set_targets({"*": {"gpg": [GPG_SLS], "sops": [SOPS_SLS]},
                     "web*": {"gpg": ["secrets.gpg.web"], "sops": ["secrets.sops.web", "secrets.sops.gone"]}})
    # Target '*': one key missing and one value different in SOPS, whose file lacks a recipient;
    # in the GPG file one value is not encrypted to the operator and one also to the stranger.
    changed = {**{k: v for k, v in VALUES.items() if k != "api_token"}, "tls_key": "rotated elsewhere"}
    box.write_sops_file(changed, pgp=[box.master_fp, box.operator_fp])
    box.write_gpg_file(VALUES, recipients={"api_token": [box.master_fp],
                                           "tls_key": [box.master_fp, box.operator_fp, stranger_fp]})
    before = box.snapshot()

    check = box.dsu("secrets", "migrate", "--check")
    out = _clean(check)
    assert check.returncode == 1
    gpg, sops, web = ("pillar/secrets/gpg/common.sls", "pillar/secrets/sops/common.sls",
                      "pillar/secrets/sops/web.sls")
    expected = [
        "FAIL [a] target '*': secrets:values:api_token: in gpg, missing in sops",
        "FAIL [a] target '*': secrets:values:tls_key: values differ",
        "FAIL [a] target 'web*': not compared: a sops file did not decrypt",
        f"FAIL [b] {sops}: operator age key {box.age_recipient} is not a recipient",
        f"FAIL [b] {gpg}: value at secrets:values:api_token is not encrypted to operator key "
        f"{box.operator_fp}",
        f"FAIL [b] {gpg}: value at secrets:values:tls_key is encrypted to key {stranger_fp} (key id ",
        f"FAIL [b] {web}: operator pgp key {box.master_fp} is not a recipient",
        f"FAIL [b] {web}: recipient age key {foreign_age} is not an operator key in .sops.yaml",
        f"FAIL [c] {web}: no key here can decrypt the data key",
        "FAIL [c] pillar/secrets/sops/gone.sls: listed in provider.yaml targets but missing",
    ]
    lines = out.splitlines()
    for line in expected:
        assert any(got.startswith(line) for got in lines), f"not reported: {line}\n{out}"
    assert lines[-1].startswith("migrate --check: ") and "problem(s)" in lines[-1]

    apply = box.dsu("secrets", "migrate", "--apply")
    _clean(apply)
    assert apply.returncode == 1 and "provider unchanged" in apply.stdout
    # Dual needs every file to decrypt; the missing and the undecryptable one block it.
    dual = box.dsu("secrets", "migrate", "--dual")
    assert dual.returncode == 1 and "FAIL [c]" in dual.stdout and "todo [a]" in dual.stdout
    assert box.snapshot() == before and box.provider == "gpg"
    # Rollback needs no check and touches nothing but provider.yaml.
    box.dsu("secrets", "migrate", "--dual")
    assert box.dsu("secrets", "migrate", "--rollback").returncode == 0


def test_dual_is_entered_while_values_still_differ(box):
    box.write_sops_file({**VALUES, "api_token": "newer"})
    dual = box.dsu("secrets", "migrate", "--dual")
    out = _clean(dual)
    assert dual.returncode == 0, out
    assert "todo [a] target '*': secrets:values:api_token: values differ" in out
    assert box.provider == "dual"
    assert box.dsu("secrets", "migrate", "--apply").returncode == 1
    assert box.provider == "dual"


@pytest.mark.parametrize("damage", ["tampered", "plaintext", "not-yaml", "gpg-garbled", "no-config",
                                    "no-targets"])
def test_undecryptable_or_unconfigured(box, damage):
    if damage == "tampered":
        text = box.sops_file.read_text()
        box.sops_file.write_text(text.replace("lastmodified: '", "lastmodified: '1", 1))
    elif damage == "plaintext":
        box.sops_file.write_text(yaml.safe_dump({"secrets": {"values": VALUES}}))
    elif damage == "not-yaml":
        box.gpg_file.write_text(f"#!yaml|gpg\nsecrets: [{CANARY}\n")
    elif damage == "gpg-garbled":
        box.gpg_file.write_text("#!yaml|gpg\nsecrets:\n  values:\n    db_password: |\n"
                                "      -----BEGIN PGP MESSAGE-----\n\n      aGVsbG8=\n"
                                "      -----END PGP MESSAGE-----\n")
    elif damage == "no-config":
        (box.root / ".sops.yaml").unlink()
    else:
        box.set_targets({})
    check = box.dsu("secrets", "migrate", "--check")
    out = _clean(check)
    assert check.returncode == 1
    reason = {"tampered": "FAIL [c] pillar/secrets/sops/common.sls: MAC",
              "plaintext": "FAIL [c] pillar/secrets/sops/common.sls: not a SOPS file",
              "not-yaml": "FAIL [c] pillar/secrets/gpg/common.sls: not valid YAML: ",
              "gpg-garbled": "FAIL [c] pillar/secrets/gpg/common.sls: secrets:values:db_password: "
                             "GnuPG cannot decrypt it with the keys in ",
              "no-config": "FAIL [b] pillar/secrets/gpg/common.sls: no .sops.yaml",
              "no-targets": "FAIL [a] pillar/secrets/provider.yaml: no encrypted pillar files"}[damage]
    assert reason in out, out


def test_what_check_calls_equal_is_what_the_hosts_get(box, minion_opts, repo):
    """The sandbox pillar compiled by Salt (this repo's top.sls, gpg and sops renderers) after each
    switch: the hosts' secrets are the same in every phase."""
    import salt.pillar

    minion_opts.update(pillar_roots={"base": [str(box.root / "pillar")]}, renderer="jinja|yaml|sops",
                       render_dirs=[str(repo / "_renderers")], gpg_keydir=str(box.home.path),
                       gpg_decrypt_must_succeed=True)
    assert box.dsu("secrets", "migrate", "--check").returncode == 0
    seen = {}
    for step in ("--rollback", "--dual", "--apply"):
        assert box.dsu("secrets", "migrate", step).returncode == 0
        with box.keys():
            pillar = salt.pillar.get_pillar(minion_opts, minion_opts["grains"], minion_opts["id"],
                                            "base").compile_pillar()
        assert "_errors" not in pillar, pillar.get("_errors")
        assert pillar["secrets"]["provider"] == box.provider
        seen[box.provider] = {k: pillar["secrets"][k] for k in ("values", "settings")}
    assert seen["gpg"] == seen["dual"] == seen["sops"] == {"values": VALUES, "settings": SETTINGS}
