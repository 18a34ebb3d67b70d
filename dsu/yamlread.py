"""Pillar and config YAML read within bounds, so a hostile file is refused in well under a second
instead of being read (or walked) for minutes: a file over the size bound is refused unread, and a
document with too many aliases, aliases standing for too many nodes, or nesting too deep is refused
before it is composed. The bounds, and why they are counted on the parser's events, are in
``_utils/sops_store.py``: the SOPS reader applies the same ones, and this module uses its code (the
one place both Salt and dsu import), so the two can never disagree.

A refusal is YamlRefused, a yaml.YAMLError whose message names the bound and the line and column,
never a value; a caller names the file. A document that does not parse is a yaml.YAMLError as from
yaml.safe_load.
"""

from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from dsu.saltext import utils_module

# libyaml's parser where PyYAML has it: the same safe constructor and resolver as yaml.safe_load
# (so the same data), about four times faster on a large file.
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlRefused(yaml.YAMLError):
    """A file or document over one of the bounds; a reader that handles yaml.YAMLError already
    reports it, one that tells the two apart says that it was refused."""


def _store() -> ModuleType:
    return utils_module("sops_store")


def read_text(path: Path) -> str:
    """A file's text; refused unread when it is larger than the size bound. OSError and
    UnicodeDecodeError as Path.read_text raises them."""
    store = _store()
    try:
        store.check_size(path.stat().st_size)
    except store.LimitError as exc:
        raise YamlRefused(str(exc)) from None
    return path.read_text(encoding="utf-8")


def load(text: str) -> Any:
    """yaml.safe_load of *text*, within the bounds."""
    store = _store()
    try:
        store.check_size(len(text.encode("utf-8", "surrogatepass")))
        store.check_yaml(text, LOADER)
    except store.LimitError as exc:
        raise YamlRefused(str(exc)) from None
    return yaml.load(text, Loader=LOADER)  # noqa: S506 - a safe loader


def load_file(path: Path) -> Any:
    """The data of a YAML file, within the bounds."""
    return load(read_text(path))
