"""Which keys look secret, and the plaintext scan of plain pillar (plain YAML, Jinja, unreadable YAML);
which values look secret whatever their key, and which ordinary ones do not; the allow list; and
hostile input, refused or scanned in linear time."""

import time

import pytest
import yaml

from dsu.secrets import plaintext
from tests.support.preflighttree import alias_bomb


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


# --- by value, whatever the key is called ----------------------------------------------------------

PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"
TOKEN_40 = "Zx8Lq2Wm5Rt9Vb3Nk7Hc1Pd6Gf4Js0Ya2Qe8Tu5O"  # base64-like, as a generator makes one


def pem(label, body=PEM_BODY):
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n"


RSA_KEY = pem("RSA PRIVATE KEY")
VALUE_SECRETS = {  # value -> what the finding says
    RSA_KEY: "looks like a PEM private key",
    pem("PRIVATE KEY"): "looks like a PEM private key",
    pem("EC PRIVATE KEY").rstrip(): "looks like a PEM private key",
    pem("OPENSSH PRIVATE KEY", "b3BlbnNzaC1rZXktdjEAAAAA"): "looks like an OpenSSH private key",
    pem("PGP PRIVATE KEY BLOCK", "\nlQOYBGZ"): "looks like a PGP private key block",
    "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8": "looks like a GitHub token",
    "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012345678":
        "looks like a GitHub token",
    "glpat-xY9zA8bC7dE6fG5hI4jK": "looks like a GitLab token",
    "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx": "looks like a Slack token",
    "AKIAIOSFODNN7EXAMPLE": "looks like an AWS access key id",
    "ASIAY34FZKBOKMUTVV7A": "looks like an AWS access key id",
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc": "looks like a Stripe live key",
    "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q": "looks like a Google API key",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U":
        "looks like a JSON web token",
    "Authorization: Bearer ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8": "looks like a GitHub token",
    "https://deploy:s3cr3t-Pa55@git.example.com/repo.git": "looks like a URL with a password in it",
    "postgresql://app:hunter2@db.internal:5432/app": "looks like a URL with a password in it",
    "redis://:Sup3rS3cret@cache:6379/0": "looks like a URL with a password in it",
    TOKEN_40: "high-entropy string (",
    "k7x2m9q4w8z1v5n3b6t0r8y2u4i6o1p3a5s7": "high-entropy string (",  # one case and digits
    "Zx8#Lq2!Wm5$Rt9&Vb3*Nk7": "high-entropy string (",  # a generated password
}


@pytest.mark.parametrize("value", list(VALUE_SECRETS))
def test_secrets_are_found_by_their_value_under_any_key(value):
    [finding] = plaintext.findings_in(yaml.safe_dump({"web": {"settings": {"bundle": value}}}))
    assert finding.key == "web:settings:bundle"
    assert finding.kind.startswith(VALUE_SECRETS[value])


def test_the_entropy_finding_says_how_random_and_how_long_never_what():
    kind = plaintext.value_kind(TOKEN_40)
    assert kind == f"high-entropy string ({plaintext.shannon_bits(TOKEN_40):.1f} bits/char, 40 chars)"
    assert not any(TOKEN_40[i:i + 4] in kind for i in range(len(TOKEN_40) - 3))


ORDINARY = [
    "3f2c1e0a-9b8d-4c7e-a6f5-1d2e3f4a5b6c", "UUID=3f2c1e0a-9b8d-4c7e-a6f5-1d2e3f4a5b6c",
    "web01.prod.eu-west-1.example.com", "deb.debian.org", "fe80::1ff:fe23:4567:890a", "00:1A:2B:3C:4D:5E",
    "/usr/lib/x86_64-linux-gnu/libssl.so.3", "/home/Alice/Documents/Report2024.pdf",
    "/dev/disk/by-id/scsi-0Linode_Volume_TestingClone", "~/Projects/Deploy2024/config.yaml",
    "https://deb.debian.org/debian-security/dists/bookworm-security/InRelease",
    "https://Example.com/Path1?Version=2024-05-01&Mode=fast", "ssh://git@github.com/Org/Repo2.git",
    "https://user@example.com/", "https://user:${DB_PASSWORD}@db.example.com/", "noreply+alerts@Example.org",
    "1.2.3-4+deb12u1", "v2.11.0-rc.3+build.20240501", "2024-05-01T12:34:56Z", "linux-image-6.1.0-18-amd64",
    # base64 of up to 23 bytes: hello world, deploy-system-unified, 16 hex digits, 23 random bytes
    "aGVsbG8gd29ybGQ=", "ZGVwbG95LXN5c3RlbS11bmlmaWVk", "MDEyMzQ1Njc4OWFiY2RlZg==",
    "gELG+b0274NDnt47GkrfErW9evwGaBE=",
    "sha256:" + "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "2C6E8A1F9B3D5E7A0C4F6B8D1E3A5C7F9B0D2E4F",  # a GPG fingerprint
    "ghcr.io/Example-Org/deploy-system:2024.05.01-rc1", "-XX:MaxRAMPercentage=75.0",
    "arn:aws:iam::123456789012:role/DeployRole2024", "ServerAliveInterval=60,ControlPersist=10m",
    "Mozilla/5.0(X11;Linux_x86_64)Gecko/20100101Firefox/124.0", "Example-Org/Deploy_System.v2",
    "projects/project_name/zones/us-central1-a/diskTypes", "ExampleCorpInternalRootCA2024",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGzT7q1c0jYyJ5dWfQk3xY8Zr2Lm9Vb4Nn6Hc1Pd6Gf4 ops@example.org",
    pem("CERTIFICATE", "MIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ"),
    pem("PUBLIC KEY", "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"),
    "A plain sentence, with Punctuation and 42 numbers: nothing random in it.",
]


@pytest.mark.parametrize("value", ORDINARY)
def test_ordinary_values_are_not_secrets(value):
    assert plaintext.value_kind(value) is None


def test_the_repo_pillar_and_role_defaults_have_no_finding(repo):
    files = [p for p in (repo / "pillar").rglob("*") if p.suffix in plaintext.PILLAR_SUFFIXES]
    # the roles' parameter values; their contracts are regular expressions, no data
    files += sorted(p for p in (repo / "salt").glob("**/parameters/*.yaml") if p.name != "contract.yaml")
    assert len(files) > 12
    assert {str(p): plaintext.findings_in(p.read_text()) for p in files} == {str(p): [] for p in files}
    assert plaintext.read_allow([repo / "pillar"]) == (plaintext.AllowList(), [])


def test_encrypted_and_templated_values_stay_non_plaintext_whatever_they_look_like():
    text = f"""\
a:
  key: ENC[AES256_GCM,data:{TOKEN_40},iv:BBBB,tag:CCCC,type:str]
  block: |
    -----BEGIN PGP MESSAGE-----

    hQEMA{TOKEN_40}
    -----END PGP MESSAGE-----
  templated: "{TOKEN_40}{{{{ suffix }}}}"
"""
    assert plaintext.plaintext_in(text) == []


def test_a_value_finding_wins_over_a_name_finding_and_names_are_still_found():
    text = yaml.safe_dump({"ssh_private_key": RSA_KEY, "db_password": "x"})
    assert [(f.key, f.kind) for f in plaintext.findings_in(text)] == [
        ("db_password", plaintext.NAMED), ("ssh_private_key", "looks like a PEM private key")]


def test_the_line_scan_finds_values_and_private_key_blocks_too():
    text = f"a: [unclosed\nroot_pw: {TOKEN_40}\ntls: |\n  -----BEGIN OPENSSH PRIVATE KEY-----\n  b3Bl\n"
    assert [(f.place(), f.kind) for f in plaintext.findings_in(text)] == [
        ("line 2, key root_pw", plaintext.value_kind(TOKEN_40)),
        ("line 4", "looks like an OpenSSH private key")]


# --- the allow list ------------------------------------------------------------------------------

def _allow(tmp_path, text):
    (tmp_path / "secrets").mkdir(exist_ok=True)
    (tmp_path / plaintext.ALLOW_FILE).write_text(text)
    return plaintext.read_allow([tmp_path])


def test_allowed_key_paths_exact_or_globbed_per_segment(tmp_path):
    allow, problems = _allow(tmp_path, 'allow:\n  - app:public_key\n  - key: "certs:*:chain"\n'
                                       '    why: public CA chains\n  - "hosts:web[0-9]:token"\n')
    assert problems == []
    allowed = [key for key in ("app:public_key", "certs:web:chain", "certs:db:chain", "hosts:web1:token",
                               "app:public_key:x", "app", "certs:web:ca:chain", "certs:chain",
                               "hosts:web10:token", "other:public_key")
               if allow.allows(plaintext.Finding(key, "looks like a GitHub token"))]
    assert allowed == ["app:public_key", "certs:web:chain", "certs:db:chain", "hosts:web1:token"]
    assert not allow.allows(plaintext.Finding("public_key", "…", line=3))  # no key path: not allowable


def test_malformed_allow_entries_are_reported_and_the_rest_apply(tmp_path):
    allow, problems = _allow(tmp_path, "allow:\n  - app:key\n  - 42\n  - {key: a:b, because: x}\n  - ':'\n")
    where = str(tmp_path / plaintext.ALLOW_FILE)
    assert [(p.where, p.what) for p in problems] == [
        (where, "allow:1: must be a key path such as app:public_key, or {key: …, why: …}"),
        (where, "allow:2: only `key` and `why` (a string) are known"),
        (where, "allow:3: must be a key path such as app:public_key, or {key: …, why: …}")]
    assert allow == plaintext.AllowList((("app", "key"),))


@pytest.mark.parametrize("text", ["- app:key\n", "allow: app:key\n", "allow: {a: b}\n"])
def test_an_allow_file_of_the_wrong_shape_is_one_problem(tmp_path, text):
    allow, [problem] = _allow(tmp_path, text)
    assert allow == plaintext.AllowList()
    assert problem.what == "must be a mapping with a list `allow` of key paths"


def test_no_allow_file_or_an_empty_one_allows_nothing(tmp_path):
    assert plaintext.read_allow([tmp_path]) == (plaintext.AllowList(), [])
    assert _allow(tmp_path, "# nothing yet\n") == (plaintext.AllowList(), [])
    assert _allow(tmp_path, "allow: []\n") == (plaintext.AllowList(), [])


def test_scan_reports_file_key_path_and_kind_never_the_value_and_skips_allowed(tmp_path):
    (tmp_path / "app.sls").write_text(yaml.safe_dump(
        {"app": {"root_pw": TOKEN_40, "public_key": TOKEN_40[::-1]}, "tls_key": RSA_KEY}))
    allow, _ = _allow(tmp_path, "allow: [app:public_key]\n")
    problems, scanned = plaintext.scan_plaintext([tmp_path], allow)
    assert scanned == 2  # app.sls and the allow file itself
    fix = ("move it to a SOPS file or encrypt it (dsu secrets gpg-encrypt), or if it is no secret list its "
           f"key path in the pillar's {plaintext.ALLOW_FILE}")
    assert [p.line() for p in problems] == [
        f"{tmp_path}/app.sls: app:root_pw: {plaintext.value_kind(TOKEN_40)}; {fix}",
        f"{tmp_path}/app.sls: tls_key: looks like a PEM private key; {fix}"]
    text = "\n".join(p.line() for p in problems)
    assert TOKEN_40[:6] not in text and PEM_BODY[:6] not in text


# --- hostile input --------------------------------------------------------------------------------

def test_a_bomb_is_not_scanned_but_refused_at_once_with_the_file_named(tmp_path):
    (tmp_path / "bomb.sls").write_text(alias_bomb())
    started = time.monotonic()
    [problem], scanned = plaintext.scan_plaintext([tmp_path])
    assert time.monotonic() - started < 1
    assert scanned == 0
    assert problem.where == str(tmp_path / "bomb.sls")
    assert problem.what.startswith("not scanned: YAML aliases standing for over the limit of 100000 nodes "
                                   "(line 5, column ")


@pytest.mark.parametrize("text", [
    "{#" * 500_000,  # an unclosed Jinja comment at every step
    "key" + " " * 1_000_000 + "x\n: [",  # one long line, and not YAML: the line scan reads it
    "k: " + "-eyJ" * 250_000 + "\n",  # a token prefix at every step
    "k: " + "a://" * 250_000 + "\n",
])
def test_hostile_text_is_scanned_in_linear_time(text):
    started = time.monotonic()
    plaintext.findings_in(text)
    assert time.monotonic() - started < 3
