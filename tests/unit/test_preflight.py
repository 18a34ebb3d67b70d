"""Preflight logic: which keys look secret, the plaintext scan (plain YAML, Jinja, unreadable YAML),
key directory and key file modes, reading salt-ssh's answer, the pillar assertions of the execution
module and the gate state. The whole checks over real encrypted trees: tests/functional/test_preflight.py."""

import os
from pathlib import Path

import pytest
import yaml

from dsu import preflight
from dsu.errors import DsuError
from dsu.pillartext import one_line
from dsu.saltrun import SaltRun
from tests.unit.saltmods import load


@pytest.mark.parametrize("key", ["db_password", "PASSWORD", "adminPasswd", "api_key", "apiKey", "apikey",
                                 "client_secret", "AWS_SECRET_ACCESS_KEY", "ssh_private_key", "credentials",
                                 "github-token", "wifi.psk", "gpg_passphrase", "db_pass"])
def test_secret_looking_keys(key):
    assert preflight.names_secret(key)


@pytest.mark.parametrize("key", ["password_file", "token_ttl", "password_max_age", "secret_name",
                                 "values_key", "key_groups", "provider", "required", "passport",
                                 "tokens_dir"])
def test_keys_that_only_mention_a_secret(key):
    assert not preflight.names_secret(key)


PLAIN = """\
app:
  db_password: hunter2
  password_file: /etc/app/db
  api_key: 12345
  token: ""
  client_secret: ~
  enabled_token: true
users:
  - name: alice
    password: wonderland
secrets:
  values:
    anything: plain
    empty: ""
"""


def test_plaintext_scan_names_key_paths_of_literal_secret_values():
    assert preflight.plaintext_in(PLAIN) == ["app:db_password", "app:api_key", "users:0:password",
                                             "secrets:values:anything"]


def test_encrypted_and_templated_values_are_not_plaintext():
    text = """\
#!jinja|yaml|gpg
{%- set db = salt["pillar.get"]("x") %}
{#- a comment: password: not-this #}
app:
  db_password: {{ db | json }}
  api_token: "prefix-{{ db }}"
  sops_password: ENC[AES256_GCM,data:AAAA,iv:BBBB,tag:CCCC,type:str]
  gpg_password: |
    -----BEGIN PGP MESSAGE-----

    hQEMA...
    -----END PGP MESSAGE-----
{%- for name in ["a", "b"] %}
  {{ name }}_password: {{ name }}
{%- endfor %}
"""
    assert preflight.plaintext_in(text) == []


def test_a_sops_document_is_not_scanned():
    assert preflight.plaintext_in("password_unencrypted: x\nsops:\n  mac: ENC[...]\n") is None


def test_unreadable_yaml_falls_back_to_a_line_scan():
    text = "a: [unclosed\nservice:\n  admin_password: 'hunter2'\n  password_file: /x\n  token: {{ t }}\n"
    assert preflight.plaintext_in(text) == ["line 3, key admin_password"]


def test_scan_skips_non_yaml_renderers_and_counts_what_it_read(tmp_path):
    (tmp_path / "code.sls").write_text("#!py\ndef run():\n    return {'password': 'from-code'}\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "leak.sls").write_text("db_password: hunter2\n")
    (tmp_path / "notes.txt").write_text("password: not pillar\n")
    problems, scanned = preflight.scan_plaintext([tmp_path])
    assert scanned == 1
    assert [p.line() for p in problems] == [
        f"{tmp_path}/sub/leak.sls: db_password: looks like a plaintext secret; move it to a SOPS file or "
        "encrypt it (dsu secrets gpg-encrypt)"]
    assert "hunter2" not in problems[0].line()


def test_one_line_keeps_the_position_and_drops_excerpts_and_pgp_blocks():
    message = ('not valid YAML: mapping values are not allowed here\n'
               '  in "<unicode string>", line 2, column 9:\n    password: hunter2: x\n            ^')
    assert one_line(message) == \
        "not valid YAML: mapping values are not allowed here (line 2, column 9)"
    cipher = "Could not decrypt cipher b'-----BEGIN PGP MESSAGE-----\\n\\nhQ\\n-----END PGP MESSAGE-----\\n'"
    assert one_line(cipher) == "Could not decrypt cipher b'[PGP message]\\n'"
    assert len(one_line("x" * 1000)) == 300


def test_private_dir_must_be_0700_and_mine(tmp_path):
    keydir = tmp_path / "keys"
    keydir.mkdir(mode=0o700)
    keydir.chmod(0o700)
    assert preflight.check_key_path(keydir, "gpg_keydir") == []
    keydir.chmod(0o750)
    assert [p.what for p in preflight.check_key_path(keydir, "gpg_keydir")] == \
        ["gpg_keydir has mode 0750, must be 0700"]
    assert preflight.check_key_path(tmp_path / "absent", "gpg_keydir", required=False) == []
    assert [p.what for p in preflight.check_key_path(tmp_path / "absent", "GNUPGHOME")] == \
        ["GNUPGHOME does not exist"]
    (tmp_path / "file").write_text("")
    assert [p.what for p in preflight.check_key_path(tmp_path / "file", "x")] == ["x is not a directory"]


def test_private_dir_of_another_user(tmp_path, monkeypatch):
    keydir = tmp_path / "keys"
    keydir.mkdir(mode=0o700)
    keydir.chmod(0o700)
    monkeypatch.setattr(os, "geteuid", lambda: keydir.stat().st_uid + 1)
    assert [p.what for p in preflight.check_key_path(keydir, "gpg_keydir")] == \
        [f"gpg_keydir is owned by uid {keydir.stat().st_uid}, not by the invoking user "
         f"(uid {keydir.stat().st_uid + 1})"]


@pytest.mark.parametrize(("mode", "ok"), [(0o600, True), (0o400, True), (0o640, False), (0o700, False)])
def test_age_key_file_mode(tmp_path, mode, ok):
    path = tmp_path / "keys.txt"
    path.write_text("AGE-SECRET-KEY-1...\n")
    path.chmod(mode)
    problems = preflight.check_key_path(path, "SOPS_AGE_KEY_FILE", directory=False)
    assert (problems == []) is ok, problems


def test_setup_reads_the_effective_salt_config(tmp_path, monkeypatch):
    config = tmp_path / "salt"
    (config / "master.d").mkdir(parents=True)
    (config / "master").write_text("pillar_roots:\n  base: [pillar]\nroot_dir: .salt-root\n")
    (config / "master.d" / "keys.conf").write_text("sops_gnupghome: /srv/sops-gnupg\n")
    monkeypatch.delenv("GNUPGHOME", raising=False)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(tmp_path / "age.txt"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    conf = preflight.setup(config)
    assert conf.pillar_roots == [preflight.REPO_ROOT / "pillar"]  # relative: from the checkout
    assert conf.gpg_keydir == config / "gpgkeys"  # Salt's default: <config_dir>/gpgkeys
    assert conf.sops_gnupghome == Path("/srv/sops-gnupg")
    assert conf.age_key_files == [("SOPS_AGE_KEY_FILE", tmp_path / "age.txt"),
                                  ("age key file", tmp_path / "xdg/sops/age/keys.txt")]
    with pytest.raises(DsuError, match="no Salt master config"):
        preflight.setup(tmp_path)
    with pytest.raises(DsuError, match="is not a directory"):
        preflight.setup(config, tmp_path / "absent")


def test_pillar_root_gets_a_temporary_config_with_the_same_gpg_keydir(tmp_path):
    config = tmp_path / "salt"
    config.mkdir()
    (config / "master").write_text("pillar_roots:\n  base: [pillar]\nrenderer: jinja|yaml|sops\n")
    pillar = tmp_path / "pillar"
    pillar.mkdir()
    conf = preflight.setup(config, pillar)
    with preflight.salt_config_dir(conf, pillar) as temporary:
        master = yaml.safe_load((temporary / "master").read_text())
        assert master == {"pillar_roots": {"base": [str(pillar)]}, "renderer": "jinja|yaml|sops",
                          "gpg_keydir": str(config / "gpgkeys")}
    assert not temporary.exists()
    with preflight.salt_config_dir(conf, None) as same:
        assert same == config


def test_find_sls_as_salt_does(tmp_path):
    (tmp_path / "secrets/gpg/team").mkdir(parents=True)
    (tmp_path / "secrets/gpg/common.sls").write_text("{}")
    (tmp_path / "secrets/gpg/team/init.sls").write_text("{}")
    assert preflight.find_sls([tmp_path], "secrets.gpg.common") == tmp_path / "secrets/gpg/common.sls"
    assert preflight.find_sls([tmp_path], "secrets.gpg.team") == tmp_path / "secrets/gpg/team/init.sls"
    assert preflight.find_sls([tmp_path], "secrets.gpg.none") is None


def test_provider_shape_problems(tmp_path):
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets/provider.yaml").write_text(yaml.safe_dump(
        {"provider": "vault", "targets": {"web*": {"gpg": "secrets.gpg.web", "kms": []}, "db": []},
         "required": "db_password"}))
    provider, problems = preflight.read_provider([tmp_path])
    files, shape = preflight.listed_files(provider, "provider.yaml")
    assert files == []
    assert [p.what for p in problems + shape] == [
        "provider must be one of gpg, dual, sops", "required must be a list of secret names",
        "targets:db must be a mapping {gpg: [SLS, ...], sops: [SLS, ...]}",
        "targets:web*:gpg must be a list of SLS names", "targets:web*:kms: unknown kind (gpg or sops)"]
    assert [p.what for p in preflight.read_provider([tmp_path / "absent"])[1]] == \
        ["missing: pillar/top.sls imports it"]


# --- salt-ssh's answer ---------------------------------------------------------------------------

STATE = "preflight_|-preflight-pillar_|-pillar preflight_|-passed"


def test_pillar_that_does_not_compile_is_a_problem_per_message():
    gone = "Specified SLS 'secrets.gpg.gone' in environment 'base' is not available"
    run = SaltRun(20, {"web1": ["Pillar failed to render with the following messages:",
                                "Rendering SLS 'secrets.sops.db' failed: SOPS: MAC mismatch\n---\nexcerpt",
                                gone]}, "")
    assert [p.line() for p in preflight.target_problems("web1", run)] == [
        "web1: pillar does not compile: Rendering SLS 'secrets.sops.db' failed: SOPS: MAC mismatch",
        f"web1: pillar does not compile: {gone}"]


def test_state_problems_other_failures_and_transport_errors():
    missing = "secrets:values:a is missing (listed in secrets:required)"
    ret = {STATE: {"result": False, "comment": "2 preflight problem(s)", "__id__": "preflight-pillar",
                   "problems": [missing, "deploy:profile …"]},
           "file_|-other_|-/x_|-managed": {"result": False, "comment": "boom\ndetail", "__id__": "other"}}
    assert [p.what for p in preflight.target_problems("h", SaltRun(1, {"h": ret}, ""))] == [
        missing, "deploy:profile …", "other: boom"]
    passed = {STATE: {"result": True, "comment": "preflight passed", "problems": []}}
    assert preflight.target_problems("h", SaltRun(0, {"h": passed}, "")) == []
    assert [p.what for p in preflight.target_problems("h", SaltRun(0, {"h": {}}, ""))] == \
        ["the preflight state did not run"]
    ssh = {"retcode": 255, "stderr": "ssh: connect to host 10.0.0.9 port 22: No route to host", "stdout": ""}
    assert [p.what for p in preflight.target_problems("h", SaltRun(10, {"h": ssh}, ""))] == \
        ["salt-ssh failed (retcode 255): ssh: connect to host 10.0.0.9 port 22: No route to host"]
    assert [p.what for p in preflight.target_problems("h", SaltRun(1, {"h": {"x": 1}}, ""))] == \
        ['salt-ssh: {"x": 1}']
    assert [p.what for p in preflight.target_problems("h", SaltRun(2, {}, "Traceback\nboom"))] == \
        ["no answer from salt-ssh (exit 2): Traceback"]


def test_usage_errors(tmp_path, monkeypatch):
    roster = tmp_path / "roster"
    roster.write_text("web1:\n  host: 192.0.2.1\n")
    with pytest.raises(DsuError, match="web2 is not in the roster"):
        preflight.roster_for("web2", roster)
    assert preflight.roster_for("web1", roster) == roster
    from dsu.lab import hosts

    monkeypatch.setattr(hosts, "registered", lambda: [])
    with pytest.raises(DsuError, match="not a running lab host"):
        preflight.roster_for("web1", None)


def test_cli_exit_code_2_on_usage_errors(tmp_path, capsys):
    from dsu.cli import main

    assert main(["preflight", "web1", "--roster-file", str(tmp_path / "absent")]) == 2
    assert "cannot read" in capsys.readouterr().err


# --- on the target: the execution module and the gate ------------------------------------------------


def _module(pillar):
    return load("_modules", "preflight", pillar=pillar)


def test_required_and_file_values_must_be_in_pillar():
    pillar = {"secrets": {"required": ["db_password", "api_token", "empty", "nested", "listed"],
                          "values": {"db_password": "s3cr3t-canary", "empty": "", "nested": {"a": 1},
                                     "listed": [1], "port": 0}},
              "core": {"secrets": {"files": {"db": {"value": "db_password"}, "port": {"value": "port"},
                                             "cert": {"value": "tls_key"}, "bad": {"mode": "0600"}}}}}
    problems = _module(pillar).secrets()
    assert problems == [
        "core:secrets:files:bad names no value",
        "secrets:values:api_token is missing (listed in secrets:required)",
        "secrets:values:empty is empty (listed in secrets:required)",
        "secrets:values:nested is a mapping, not a single value (listed in secrets:required)",
        "secrets:values:listed is a list, not a single value (listed in secrets:required)",
        "secrets:values:tls_key is missing (core.secrets writes it to cert)"]
    assert "s3cr3t-canary" not in str(problems)
    assert _module(pillar).secrets(file_values=False) == problems[1:5]


def test_values_key_and_shapes():
    module = _module({"core": {"secrets": {"values_key": "vault:kv", "files": {"db": {"value": "db"}}}},
                      "vault": {"kv": {"db": "x"}}, "secrets": {"required": ["db", "other"]}})
    assert module.secrets() == ["vault:kv:other is missing (listed in secrets:required)"]
    assert _module({"secrets": {"required": "db"}, "core": {"secrets": {"files": ["db"]}}}).secrets() == [
        "secrets:required must be a list of secret names",
        "core:secrets:files must be a mapping of file name to {value: <name>}"]
    assert _module({}).problems() == []


def test_profile_contract():
    assert _module({"deploy": {"profile": "production"}}).profile() == []
    assert _module({"deploy": {"profile": "prod"}}).profile() == \
        ["deploy:profile is 'prod', not one of production, hardened, ephemeral, dev"]


@pytest.mark.parametrize("test", [False, True])
def test_gate_fails_listing_every_problem_and_changes_nothing(test):
    found = ["secrets:values:a is missing (listed in secrets:required)", "deploy:profile is 'x', …"]
    state = load("_states", "preflight", opts={"test": test},
                 salt={"preflight.problems": lambda file_values=True: found if file_values else []})
    ret = state.passed("pillar preflight")
    assert ret["result"] is False and ret["changes"] == {} and ret["problems"] == found
    assert ret["comment"].splitlines() == ["2 preflight problem(s):", *(f"  {p}" for p in found)]
    ret = state.passed("pillar preflight", file_values=False)
    assert ret["result"] is True and ret["changes"] == {} and ret["problems"] == []
