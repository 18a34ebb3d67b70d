"""The SOPS stores (_utils/sops_store.py): YAML read with 1.2 scalars as sops reads it, JSON, and a
document split into data and metadata."""

import pytest

from tests.support.saltmods import load

store = load("_utils", "sops_store")


def test_yaml_is_read_with_yaml_1_2_scalars():
    data = store.parse("a: yes\nb: on\nc: True\nd: 1:30\ne: 0x1F\nf: 1.5\ng: -7\nh: .inf\n", "yaml")
    assert data == {"a": "yes", "b": "on", "c": True, "d": "1:30", "e": 31, "f": 1.5, "g": -7,
                    "h": float("inf")}


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_dump_then_parse_gives_the_document_back_in_order(fmt):
    document = {"z": {"b": [1, "two", None, False]}, "a": "ünïcode", "n": 2.5}
    text = store.dump(document, fmt)
    assert store.parse(text, fmt) == document
    assert list(store.parse(text, fmt)) == ["z", "a", "n"]


@pytest.mark.parametrize(("text", "fmt"), [("a: [", "yaml"), ("{", "json")])
def test_text_that_does_not_parse_is_a_value_error_naming_the_format(text, fmt):
    with pytest.raises(ValueError, match=f"not valid {fmt.upper()}"):
        store.parse(text, fmt)


def test_format_of_is_json_only_for_json_files():
    assert [store.format_of(p) for p in ("a.json", "a.yaml", "a.sls", "json")] == ["json", "yaml",
                                                                                  "yaml", "yaml"]


def test_a_sops_document_has_a_sops_mapping_with_a_mac():
    assert store.is_sops_document({"k": 1, "sops": {"mac": "ENC[…]"}})
    for data in ({"sops": {"version": "3"}}, {"sops": "x"}, ["sops"], "sops", None):
        assert not store.is_sops_document(data)


def test_split_separates_data_from_metadata_and_requires_mac_and_lastmodified():
    meta = {"mac": "m", "lastmodified": "2024-01-01T00:00:00Z"}
    assert store.split({"a": 1, "sops": meta}) == ({"a": 1}, meta)
    with pytest.raises(ValueError, match="not a SOPS file"):
        store.split({"a": 1})
    with pytest.raises(ValueError, match="no 'lastmodified'"):
        store.split({"sops": {"mac": "m"}})
