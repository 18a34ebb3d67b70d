"""The pure parts of `dsu secrets migrate|rotate|add-recipient|remove-recipient`: comparing
pillars by key path, editing the provider line, recipient changes, finding the checkout."""

import pytest

from dsu.errors import DsuError
from dsu.secrets.layout import Layout, find_root
from dsu.secrets.migrate import compare, flatten, merge
from dsu.secrets.recipients import file_groups
from dsu.secrets.rotate import Change

FP1, FP2 = "A" * 40, "B" * 40
AGE = "age1" + "q" * 58


def test_flatten_names_every_leaf_by_key_path():
    assert flatten({"a": {"b": 1, "c": [True, {"d": "x"}], "e": {}, "f": []}}) == {
        "a:b": 1, "a:c:0": True, "a:c:1:d": "x", "a:e": {}, "a:f": []}
    assert flatten({}) == {}


def test_merge_is_recursive_for_mappings_and_replaces_the_rest():
    assert merge({"s": {"a": 1, "l": [1, 2]}}, {"s": {"b": 2, "l": [3]}}) == {"s": {"a": 1, "b": 2, "l": [3]}}


def test_compare_reports_key_paths_and_types_never_values():
    secret = "hunter2-never-shown"
    found = compare({"k:same": "v", "k:gone": secret, "k:diff": secret, "k:type": "1"},
                    {"k:same": "v", "k:new": "x", "k:diff": "other", "k:type": 1})
    assert found == ["k:diff: values differ", "k:gone: in gpg, missing in sops",
                     "k:new: in sops, missing in gpg",
                     "k:type: value types differ (gpg str, sops int)"]
    assert not any(secret in line for line in found)
    # True == 1 in Python, but not in a pillar.
    assert compare({"b": True}, {"b": 1}) == ["b: value types differ (gpg bool, sops int)"]


PROVIDER = """# comment about provider: gpg
provider: gpg   # the switch
targets: {}
nested:
  provider: keep
"""


@pytest.fixture
def layout(tmp_path):
    path = tmp_path / "pillar/secrets/provider.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(PROVIDER)
    path.chmod(0o640)
    return Layout(tmp_path)


def test_set_provider_edits_only_the_top_level_line(layout):
    assert layout.set_provider("sops") == "gpg"
    assert layout.provider_file.read_text() == PROVIDER.replace("provider: gpg   #", "provider: sops   #")
    assert layout.provider_file.stat().st_mode & 0o777 == 0o640
    assert layout.set_provider("sops") == "sops"
    assert layout.set_provider("gpg") == "sops"
    assert layout.provider_file.read_text() == PROVIDER


@pytest.mark.parametrize("text", ["targets: {}\n", "provider: gpg\nprovider: sops\n"])
def test_set_provider_refuses_unless_exactly_one_line(layout, text):
    layout.provider_file.write_text(text)
    with pytest.raises(DsuError, match="one top-level 'provider:' line"):
        layout.set_provider("sops")
    with pytest.raises(DsuError, match="unknown provider"):
        layout.set_provider("vault")
    assert layout.provider_file.read_text() == text


def test_quoted_provider_value(layout):
    layout.provider_file.write_text("provider: 'dual'\n")
    assert layout.set_provider("sops") == "dual"
    assert layout.provider_file.read_text() == "provider: sops\n"


def test_find_root_walks_up_to_the_provider_file(layout, tmp_path):
    deep = tmp_path / "pillar/secrets/sops"
    deep.mkdir()
    assert find_root(deep) == tmp_path
    assert layout.sls_path("secrets.sops.common") == tmp_path / "pillar/secrets/sops/common.sls"
    (deep / "web").mkdir()
    (deep / "web/init.sls").write_text("")
    assert layout.sls_path("secrets.sops.web") == deep / "web/init.sls"


def test_file_groups_from_flat_and_grouped_metadata():
    flat = {"pgp": [{"fp": FP1.lower()}], "age": [{"recipient": AGE}], "kms": []}
    assert file_groups(flat) == [{"pgp": [FP1], "age": [AGE]}]
    grouped = {"key_groups": [{"pgp": [{"fp": FP1}]}, {"age": [{"recipient": AGE}]}]}
    assert file_groups(grouped) == [{"pgp": [FP1], "age": []}, {"pgp": [], "age": [AGE]}]


def test_recipient_changes():
    one = [{"pgp": [FP1], "age": [AGE]}]
    assert Change("add-recipient", "pgp", FP2).apply(one) == [{"pgp": [FP1, FP2], "age": [AGE]}]
    assert Change("add-recipient", "age", AGE).apply(one) is None
    assert Change("remove-recipient", "pgp", FP2).apply(one) is None
    assert Change("remove-recipient", "age", AGE).apply(one) == [{"pgp": [FP1], "age": []}]
    with pytest.raises(DsuError, match="would leave key group 1 empty"):
        Change("remove-recipient", "pgp", FP1).apply([{"pgp": [FP1], "age": []}])
    two = [{"pgp": [FP1], "age": []}, {"pgp": [], "age": [AGE]}]
    with pytest.raises(DsuError, match="has 2 key groups"):
        Change("add-recipient", "pgp", FP2).apply(two)
    with pytest.raises(DsuError, match="no key group 3"):
        Change("add-recipient", "pgp", FP2, 3).apply(two)
    assert Change("add-recipient", "pgp", FP2, 2).apply(two)[1] == {"pgp": [FP2], "age": [AGE]}
    assert one == [{"pgp": [FP1], "age": [AGE]}]  # never modified in place
