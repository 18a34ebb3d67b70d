"""The document layer (_utils/sopsfile.py): it iterates the one table of key sources (a fake key
type added to the table works end to end, with no other change), translates its siblings' errors
into SopsError naming the source, and loads nothing heavy to tell SOPS data from other data."""

import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.support.saltmods import load

DATA = {"db": {"password": "s3cret", "port": 5432}, "user_unencrypted": "admin"}


class FakeKeys:
    """A key type of its own: the share in clear, opened only for the recipients "held" here."""

    kind = field = "fake"

    def __init__(self, held):
        self.held = set(held)

    def recipient_of(self, entry):
        return entry["id"]

    def decrypt(self, entry, context):
        if entry["id"] not in self.held:
            raise ValueError("not held here")
        return bytes.fromhex(entry["enc"])

    def encrypt(self, share, recipient, context):
        return {"id": recipient, "enc": share.hex()}


@pytest.fixture
def sopsfile():
    return load("_utils", "sopsfile")


def _only(sopsfile, monkeypatch, source):
    monkeypatch.setattr(sopsfile._keys, "SOURCES", (source,))


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_a_key_source_added_to_the_table_encrypts_and_decrypts(sopsfile, monkeypatch, fmt):
    _only(sopsfile, monkeypatch, FakeKeys(held={"a"}))
    text = sopsfile.encrypt_data(DATA, fmt, key_groups=[{"fake": ["a"]}])
    document = sopsfile.parse(text, fmt)
    assert [e["id"] for e in document["sops"]["fake"]] == ["a"] and "pgp" not in document["sops"]
    assert sopsfile.decrypt_text(text, fmt, source="fake.yaml") == DATA


def test_key_groups_of_a_new_key_source_need_their_threshold(sopsfile, monkeypatch):
    _only(sopsfile, monkeypatch, FakeKeys(held={"a", "c"}))
    text = sopsfile.encrypt_data(DATA, key_groups=[{"fake": ["a"]}, {"fake": ["b"]}, {"fake": ["c"]}],
                                 shamir_threshold=2)
    assert sopsfile.decrypt_text(text, "yaml") == DATA
    _only(sopsfile, monkeypatch, FakeKeys(held={"a"}))
    with pytest.raises(sopsfile.SopsError, match=r"groups\.yaml: 1 of 3 key groups decrypted, 2 needed") \
            as refused:
        sopsfile.decrypt_text(text, "yaml", source="groups.yaml")
    assert "fake b: not held here" in str(refused.value)


def test_unsupported_key_types_are_named(sopsfile, monkeypatch):
    _only(sopsfile, monkeypatch, FakeKeys(held=()))
    text = sopsfile.encrypt_data(DATA, key_groups=[{"fake": ["a"]}])
    document = sopsfile.parse(text, "yaml")
    document["sops"]["kms"] = [{"arn": "arn:aws:kms:…"}]
    with pytest.raises(sopsfile.SopsError, match=r"x\.yaml: no key here can decrypt the data key "
                                                 r"\(fake a: not held here; key types not supported "
                                                 r"here: kms\)"):
        sopsfile.decrypt_document(document, "x.yaml")
    with pytest.raises(sopsfile.SopsError, match="key types not supported here: hc_vault"):
        sopsfile.encrypt_data(DATA, key_groups=[{"fake": ["a"], "hc_vault": ["https://vault"]}])


def test_siblings_errors_become_sops_errors_naming_the_source(sopsfile, monkeypatch):
    _only(sopsfile, monkeypatch, FakeKeys(held=()))
    with pytest.raises(sopsfile.SopsError, match="^pillar.sls: not valid YAML"):
        sopsfile.parse("a: [", "yaml", "pillar.sls")
    with pytest.raises(sopsfile.SopsError, match=r"^a\.json: not a SOPS file"):
        sopsfile.decrypt_text('{"a": 1}', "json", "a.json")
    with pytest.raises(sopsfile.SopsError, match=r"value at a:b: cannot encrypt a value of type set"):
        sopsfile.encrypt_data({"a": {"b": {1}}}, key_groups=[{"fake": ["a"]}])


def test_the_facade_keeps_the_names_callers_use(sopsfile):
    for name in ("SopsError", "SELECTORS", "parse", "dump", "format_of", "is_sops_document",
                 "decrypt_document", "decrypt_text", "decrypt_file", "encrypt_data", "data_key",
                 "UNSUPPORTED_KEY_TYPES", "shamir_split", "shamir_combine",
                 "encrypt_value", "decrypt_value", "age_identities", "parse_age_identities",
                 "age_recipient", "decrypt_age", "gnupg_home", "age_key_file_candidates"):
        assert hasattr(sopsfile, name), name


def test_telling_sops_data_apart_imports_no_crypto_library():
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('sopsfile', {str(REPO / '_utils/sopsfile.py')!r})\n"
        "lib = importlib.util.module_from_spec(spec); spec.loader.exec_module(lib)\n"
        "assert not lib.is_sops_document(lib.parse('a: 1', 'yaml'))\n"
        "assert lib.is_sops_document({'sops': {'mac': 'x'}})\n"
        "lib.gnupg_home(None, '/k', {}); lib.age_key_file_candidates(None, {})\n"
        "print(sorted(m for m in ('cryptography', 'pyrage', 'gnupg') if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
