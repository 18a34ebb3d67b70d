"""Which keys look secret, and the plaintext scan of plain pillar (plain YAML, Jinja, unreadable YAML)."""

import pytest

from dsu.secrets import plaintext


@pytest.mark.parametrize("key", ["db_password", "PASSWORD", "adminPasswd", "api_key", "apiKey", "apikey",
                                 "client_secret", "AWS_SECRET_ACCESS_KEY", "ssh_private_key", "credentials",
                                 "github-token", "wifi.psk", "gpg_passphrase", "db_pass"])
def test_secret_looking_keys(key):
    assert plaintext.names_secret(key)


@pytest.mark.parametrize("key", ["password_file", "token_ttl", "password_max_age", "secret_name",
                                 "values_key", "key_groups", "provider", "required", "passport",
                                 "tokens_dir"])
def test_keys_that_only_mention_a_secret(key):
    assert not plaintext.names_secret(key)


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
    assert plaintext.plaintext_in(PLAIN) == ["app:db_password", "app:api_key", "users:0:password",
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
    assert plaintext.plaintext_in(text) == []


def test_a_sops_document_is_not_scanned():
    assert plaintext.plaintext_in("password_unencrypted: x\nsops:\n  mac: ENC[...]\n") is None


def test_unreadable_yaml_falls_back_to_a_line_scan():
    text = "a: [unclosed\nservice:\n  admin_password: 'hunter2'\n  password_file: /x\n  token: {{ t }}\n"
    assert plaintext.plaintext_in(text) == ["line 3, key admin_password"]


def test_scan_skips_non_yaml_renderers_and_counts_what_it_read(tmp_path):
    (tmp_path / "code.sls").write_text("#!py\ndef run():\n    return {'password': 'from-code'}\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "leak.sls").write_text("db_password: hunter2\n")
    (tmp_path / "notes.txt").write_text("password: not pillar\n")
    problems, scanned = plaintext.scan_plaintext([tmp_path])
    assert scanned == 1
    assert [p.line() for p in problems] == [
        f"{tmp_path}/sub/leak.sls: db_password: looks like a plaintext secret; move it to a SOPS file or "
        "encrypt it (dsu secrets gpg-encrypt)"]
    assert "hunter2" not in problems[0].line()
