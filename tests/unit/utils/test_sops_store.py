"""The SOPS stores (_utils/sops_store.py): YAML read with 1.2 scalars as sops reads it, JSON, and a
document split into data and metadata."""

import time

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


# --- bounds: a hostile document is refused at once, with the bound and the place named ------------

BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True))


def test_an_alias_bomb_is_refused_before_any_walk_of_it():
    started = time.monotonic()
    with pytest.raises(store.LimitError, match=r"^YAML aliases standing for over the limit of 100000 nodes "
                                               r"\(line 5, column \d+\): refused"):
        store.parse(BOMB, "yaml")
    assert time.monotonic() - started < 1
    assert issubclass(store.LimitError, ValueError)  # what the sopsfile façade turns into SopsError


def test_the_facade_names_the_source_of_a_refused_document():
    sopsfile = load("_utils", "sopsfile")
    with pytest.raises(sopsfile.SopsError, match=r"^pillar/secrets/sops/x\.sls: YAML aliases standing for"):
        sopsfile.parse(BOMB, "yaml", "pillar/secrets/sops/x.sls")


@pytest.mark.parametrize(("text", "message"), [
    ("a: &a x\nb: [" + ", ".join(["*a"] * 101) + "]\n",
     "over the limit of 100 YAML aliases (line 2, column 405)"),
    ("a: &a {b: [*a]}\n", "a YAML alias inside the node it names (line 1, column 12)"),
    ("[" * 500 + "]" * 500, "nested deeper than the limit of 100 levels (line 1, column 101)"),
])
def test_aliases_and_nesting_past_their_bounds_are_refused(text, message):
    with pytest.raises(store.LimitError) as refused:
        store.parse(text, "yaml")
    assert str(refused.value).startswith(message)


def test_anchors_within_the_bounds_still_read():
    assert store.parse("d: &d {k: v}\nweb: {<<: *d, port: 80}\ndb: *d\n", "yaml") == {
        "d": {"k": "v"}, "web": {"k": "v", "port": 80}, "db": {"k": "v"}}


def test_a_document_over_the_size_bound_is_refused_in_either_format(monkeypatch):
    monkeypatch.setattr(store, "MAX_BYTES", 16)
    for fmt, text in (("yaml", "key: " + "v" * 20), ("json", '{"key": "' + "v" * 20 + '"}')):
        with pytest.raises(store.LimitError, match="over the limit of 16 bytes: refused unread"):
            store.parse(text, fmt)


def test_json_nested_past_the_recursion_limit_is_a_value_error():
    with pytest.raises(ValueError, match="^not valid JSON: maximum recursion depth"):
        store.parse("[" * 100_000 + "]" * 100_000, "json")
