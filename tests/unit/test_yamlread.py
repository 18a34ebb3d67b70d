"""YAML read within bounds (dsu/yamlread.py over _utils/sops_store.py's bounds): ordinary documents
read as yaml.safe_load reads them; alias bombs, recursive aliases, deep nesting and oversized files
are refused in well under a second with the bound and the line/column named, never a value; and
every dsu reader of pillar and config YAML goes through it."""

import time

import pytest
import yaml

from dsu import saltconfig, yamlread
from dsu.errors import DsuError
from dsu.saltext import utils_module
from dsu.secrets import provider
from tests.support.preflighttree import alias_bomb

STORE = utils_module("sops_store")


@pytest.mark.parametrize("text", [
    "a: 1\nb: [x, 'yes', ~]\nc: {d: 2.5}\n",
    "defaults: &defaults {user: app, shell: /bin/sh}\nweb: {<<: *defaults, port: 80}\ndb: *defaults\n",
    "",
    "just a string\n",
])
def test_ordinary_yaml_reads_as_safe_load_reads_it(text):
    assert yamlread.load(text) == yaml.safe_load(text)


def _refusal(text):
    started = time.monotonic()
    with pytest.raises(yamlread.YamlRefused) as refused:
        yamlread.load(text)
    assert time.monotonic() - started < 1
    return str(refused.value)


def test_an_alias_bomb_is_refused_at_once_naming_the_bound_and_where():
    message = _refusal(alias_bomb())
    assert message.startswith(f"YAML aliases standing for over the limit of {STORE.MAX_ALIAS_NODES} nodes "
                              "(line 5, column ")
    assert "lol" not in message  # no anchor, no value: the place is line and column


def test_more_aliases_than_the_limit_are_refused_however_small_each():
    text = "a: &a x\nb: [" + ", ".join(["*a"] * (STORE.MAX_ALIASES + 1)) + "]\n"
    assert _refusal(text).startswith(f"over the limit of {STORE.MAX_ALIASES} YAML aliases (line 2, column ")
    assert yamlread.load(text.replace("*a]", "x]"))["b"][0] == "x"  # the limit itself is fine


def test_a_recursive_alias_is_refused():
    assert "a YAML alias inside the node it names (line 1, column 12)" in _refusal("a: &a [1, [*a]]\n")


def test_deep_nesting_is_refused_before_any_composer_recursion():
    # PyYAML's C composer recurses once per level and crashes the process far below this depth
    depth = 200_000
    assert _refusal("[" * depth + "]" * depth).startswith(
        f"nested deeper than the limit of {STORE.MAX_DEPTH} levels (line 1, column {STORE.MAX_DEPTH + 1})")
    limit = STORE.MAX_DEPTH
    assert yamlread.load("[" * limit + "]" * limit) is not None


def test_a_file_over_the_size_bound_is_refused_unread(tmp_path, monkeypatch):
    monkeypatch.setattr(STORE, "MAX_BYTES", 64)
    path = tmp_path / "big.sls"
    path.write_text("key: " + "x" * 100 + "\n")
    with pytest.raises(yamlread.YamlRefused) as refused:
        yamlread.read_text(path)
    assert str(refused.value) == "106 bytes, over the limit of 64 bytes: refused unread"
    with pytest.raises(yamlread.YamlRefused, match="over the limit of 64 bytes"):
        yamlread.load(path.read_text())
    (tmp_path / "small.sls").write_text("key: x\n")
    assert yamlread.load_file(tmp_path / "small.sls") == {"key": "x"}


def test_the_default_size_bound_is_4_mib():
    assert STORE.MAX_BYTES == 4 * 1024 * 1024


def test_yaml_that_does_not_parse_is_a_yaml_error_not_a_refusal():
    with pytest.raises(yaml.YAMLError) as error:
        yamlread.load("a: [unclosed\n")
    assert not isinstance(error.value, yamlread.YamlRefused)
    assert issubclass(yamlread.YamlRefused, yaml.YAMLError)  # readers that catch YAMLError report it


def test_provider_yaml_with_a_bomb_is_a_problem_naming_the_file(tmp_path):
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets/provider.yaml").write_text("provider: sops\n" + alias_bomb())
    [problem] = provider.read([tmp_path]).problems
    assert problem.where == str(tmp_path / "secrets/provider.yaml")
    assert problem.what.startswith("cannot read: YAML aliases standing for over the limit")


def test_a_master_config_with_a_bomb_stops_with_the_file_named(tmp_path):
    (tmp_path / "master").write_text(alias_bomb())
    with pytest.raises(DsuError, match=rf"^{tmp_path}/master: cannot read: YAML aliases standing for over"):
        saltconfig.read_master(tmp_path)
