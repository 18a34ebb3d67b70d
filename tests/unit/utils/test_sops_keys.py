"""The key sources and where keys are found (_utils/sops_keys.py): the one age-identity parser, the
age key files and identities as sops finds them, the GnuPG home of the sops renderer, and the age
key source."""

import pyrage
import pytest

from tests.support.saltmods import load

keys = load("_utils", "sops_keys")


def _identity():
    identity = pyrage.x25519.Identity.generate()
    return str(identity), str(identity.to_public())


def test_the_age_parser_takes_identity_lines_only():
    text = ("# created: 2024-01-01\n# public key: age1xyz\n  AGE-SECRET-KEY-1AAA  \n\n"
            "age1notanidentity\nAGE-SECRET-KEY-1BBB\n")
    assert keys.parse_age_identities(text) == ["AGE-SECRET-KEY-1AAA", "AGE-SECRET-KEY-1BBB"]


@pytest.mark.parametrize(("sops_gnupghome", "env", "gpg_keydir", "config_dir", "home"), [
    ("/cfg", {"GNUPGHOME": "/env"}, "/keydir", "/etc/salt", "/cfg"),
    (None, {"GNUPGHOME": "/env"}, "/keydir", "/etc/salt", "/env"),
    ("", {}, "/keydir", "/etc/salt", "/keydir"),
    # Salt's gpg renderer: no gpg_keydir means <config_dir>/gpgkeys, and so it must for SOPS files
    (None, {}, None, "/srv/checkout/etc/salt", "/srv/checkout/etc/salt/gpgkeys"),
    (None, {"GNUPGHOME": "/env"}, "", "/etc/salt", "/env"),
    (None, {}, None, None, None)])
def test_the_gnupg_home_is_config_then_env_then_where_the_gpg_renderer_looks(
        sops_gnupghome, env, gpg_keydir, config_dir, home):
    assert keys.gnupg_home(sops_gnupghome, gpg_keydir, env, config_dir=config_dir) == home


def test_age_key_file_candidates_are_labelled_and_only_those_set():
    env = {"SOPS_AGE_KEY_FILE": "/env/keys.txt", "XDG_CONFIG_HOME": "/xdg"}
    assert keys.age_key_file_candidates("/cfg/keys.txt", env) == [
        ("sops_age_key_file", "/cfg/keys.txt"), ("SOPS_AGE_KEY_FILE", "/env/keys.txt"),
        ("age key file", "/xdg/sops/age/keys.txt")]
    assert keys.age_key_file_candidates(None, {"HOME": "/home/op"}) == [
        ("age key file", "/home/op/.config/sops/age/keys.txt")]


def test_age_identities_are_found_as_sops_finds_them(tmp_path):
    (tmp_path / "sops/age").mkdir(parents=True)
    (tmp_path / "sops/age/keys.txt").write_text("AGE-SECRET-KEY-1DEFAULT\n")
    (tmp_path / "env.txt").write_text("# comment\nAGE-SECRET-KEY-1FILE\n")
    env = {"SOPS_AGE_KEY": "AGE-SECRET-KEY-1ENV", "SOPS_AGE_KEY_FILE": str(tmp_path / "env.txt"),
           "XDG_CONFIG_HOME": str(tmp_path)}
    assert keys.age_identities(environ=env) == ["AGE-SECRET-KEY-1ENV", "AGE-SECRET-KEY-1FILE",
                                                "AGE-SECRET-KEY-1DEFAULT"]
    # Files that do not exist are skipped, as sops skips them.
    assert keys.age_identities(environ={"SOPS_AGE_KEY_FILE": str(tmp_path / "absent"),
                                        "XDG_CONFIG_HOME": str(tmp_path / "none")}) == []


def test_a_configured_key_file_is_the_only_source_and_must_be_readable(tmp_path):
    (tmp_path / "keys.txt").write_text("AGE-SECRET-KEY-1CONFIGURED\n")
    env = {"SOPS_AGE_KEY": "AGE-SECRET-KEY-1ENV"}
    assert keys.age_identities(str(tmp_path / "keys.txt"), env) == ["AGE-SECRET-KEY-1CONFIGURED"]
    with pytest.raises(FileNotFoundError):
        keys.age_identities(str(tmp_path / "absent"), env)


def test_age_recipient_of_an_identity_and_a_malformed_one_never_echoed():
    identity, recipient = _identity()
    assert keys.age_recipient(identity) == recipient
    with pytest.raises(ValueError, match="malformed") as refused:
        keys.age_recipient("AGE-SECRET-KEY-1NOTAKEY")
    assert "NOTAKEY" not in str(refused.value)


def test_the_age_source_encrypts_a_share_only_its_identity_opens():
    identity, recipient = _identity()
    other, _ = _identity()
    age = next(s for s in keys.SOURCES if s.kind == "age")
    entry = age.encrypt(b"share", recipient, keys.KeyContext())
    assert age.recipient_of(entry) == recipient and entry["enc"].startswith("-----BEGIN AGE")
    assert age.decrypt(entry, keys.KeyContext(identities=[other, identity])) == b"share"
    with pytest.raises(ValueError, match="age"):
        age.decrypt(entry, keys.KeyContext(identities=[other]))
    with pytest.raises(ValueError, match="no age identity"):
        age.decrypt(entry, keys.KeyContext(identities=[]))
    with pytest.raises(ValueError, match="not an age recipient"):
        age.encrypt(b"share", "age1nope", keys.KeyContext())


def test_the_context_finds_age_identities_in_its_environment_at_first_use():
    identity, _ = _identity()
    context = keys.KeyContext(environ={"SOPS_AGE_KEY": identity, "XDG_CONFIG_HOME": "/nonexistent"})
    assert context.age_identities() == [identity]


def test_one_interface_per_key_type_and_the_unsupported_types_named():
    for source in keys.SOURCES:
        assert isinstance(source, keys.KeySource) and source.kind and source.field
    assert keys.fields() == ("age", "pgp", "kms", "gcp_kms", "azure_kv", "hc_vault")
