"""``.sops.yaml``: where it is and which creation rule applies to a file, as sops decides."""

import re
from pathlib import Path
from typing import Any

import yaml

from dsu.errors import DsuError, one_line
from dsu.yamlread import load_file

CONFIG_NAME = ".sops.yaml"
RULE_SELECTORS = ("unencrypted_suffix", "encrypted_suffix", "unencrypted_regex", "encrypted_regex")


def find_config(start: Path) -> Path | None:
    """The nearest `.sops.yaml` from *start* upwards, as sops looks for it."""
    for directory in [start, *start.parents]:
        candidate = directory / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def _keys(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [k.strip() for k in value.split(",") if k.strip()]
    return [str(k).strip() for k in value]


def creation_rule(target: Path, config: Path) -> dict[str, Any]:
    """The first creation rule of *config* whose path_regex matches *target* (relative to the
    config's directory), as keyword arguments for `sopsfile.encrypt_data`."""
    try:
        data = load_file(config) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DsuError(f"{config}: cannot read: {one_line(exc)}") from None
    rules = (data.get("creation_rules") if isinstance(data, dict) else None) or []
    try:
        relative = str(target.resolve().relative_to(config.parent.resolve()))
    except ValueError:
        relative = str(target.resolve())
    for rule in rules:
        if not rule.get("path_regex") or re.search(rule["path_regex"], relative):
            break
    else:
        raise DsuError(f"{config}: no creation rule matches {relative}",
                       "add a rule with a path_regex for it, or pass --pgp/--age")
    args: dict[str, Any] = {k: rule[k] for k in RULE_SELECTORS if rule.get(k)}
    if rule.get("mac_only_encrypted"):
        args["mac_only_encrypted"] = True
    if rule.get("key_groups"):
        args["key_groups"] = [{"pgp": _keys(g.get("pgp")), "age": _keys(g.get("age"))}
                              for g in rule["key_groups"]]
        args["shamir_threshold"] = rule.get("shamir_threshold")
    else:
        args["pgp"], args["age"] = _keys(rule.get("pgp")), _keys(rule.get("age"))
    return args
