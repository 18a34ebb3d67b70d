"""`dsu secrets`: SOPS files and GPG pillar values from the operator's side, in Python.

The SOPS format code is the Salt utility `_utils/sopsfile.py` (the pillar renderer uses the same),
loaded here by path so the operator tooling and Salt can never disagree on the format.
"""

import base64
import datetime
import json
import os
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from dsu.errors import DsuError
from dsu.paths import replace_file
from dsu.saltext import utils_module

CONFIG_NAME = ".sops.yaml"
RULE_SELECTORS = ("unencrypted_suffix", "encrypted_suffix", "unencrypted_regex", "encrypted_regex")


def sopsfile() -> ModuleType:
    """The repo's `_utils/sopsfile.py` as a module (imported once)."""
    return utils_module("sopsfile")


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def decrypt_to_json(path: Path) -> str:
    """The decrypted document as JSON text; DsuError with sops' kind of reason on failure."""
    lib = sopsfile()
    try:
        data = lib.decrypt_file(str(path))
    except lib.SopsError as exc:
        raise DsuError(str(exc)) from None
    return json.dumps(data, indent=2, ensure_ascii=False, default=_jsonable)


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
        rules = (yaml.safe_load(config.read_text()) or {}).get("creation_rules") or []
    except (OSError, yaml.YAMLError) as exc:
        raise DsuError(f"{config}: cannot read: {exc}") from None
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


def encrypt_file(source: Path, output: Path | None, pgp: list[str], age: list[str],
                 config: Path | None = None) -> Path:
    """Encrypt the plaintext YAML/JSON *source*. Recipients from --pgp/--age, else from the
    matching `.sops.yaml` creation rule. Writes *output* (default: *source*, in place) with mode
    0600 and returns its path."""
    lib = sopsfile()
    target = output or source
    fmt = lib.format_of(target)
    try:
        data = lib.parse(source.read_text(encoding="utf-8"), lib.format_of(source), str(source))
    except OSError as exc:
        raise DsuError(f"{source}: cannot read: {exc.strerror}") from None
    except lib.SopsError as exc:
        raise DsuError(str(exc)) from None
    if lib.is_sops_document(data):
        raise DsuError(f"{source} is already SOPS-encrypted", "use `dsu secrets rotate` instead")
    if pgp or age:
        args: dict[str, Any] = {"pgp": pgp, "age": age}
    else:
        config = config or find_config(Path.cwd())
        if config is None:
            raise DsuError("no recipients: no --pgp/--age and no .sops.yaml here or above",
                           "pass --pgp FINGERPRINT or --age RECIPIENT")
        args = creation_rule(target, config)
    try:
        text = lib.encrypt_data(data, fmt, **args)
    except lib.SopsError as exc:
        raise DsuError(f"{source}: {exc}") from None
    replace_file(target, text, 0o600)
    return target


def configured_pgp(target: Path) -> list[str]:
    """The PGP recipients configured for *target*: its `.sops.yaml` creation rule's pgp keys (all
    key groups), so GPG and SOPS pillar are encrypted to the same operators."""
    config = find_config(Path.cwd())
    if config is None:
        raise DsuError("no --recipient and no .sops.yaml here or above",
                       "pass --recipient FINGERPRINT, or declare the operator keys in .sops.yaml")
    rule = creation_rule(target, config)
    keys = rule.get("pgp") or [k for g in rule.get("key_groups") or [] for k in g["pgp"]]
    if not keys:
        raise DsuError(f"{config}: the rule for {target} names no pgp key")
    return keys


def gpg_encrypt_value(value: bytes, recipients: list[str], gnupg_home: str | None = None) -> str:
    """An armored PGP message of *value* for the GPG pillar (`#!yaml|gpg`)."""
    import gnupg  # noqa: PLC0415

    if not recipients:
        raise DsuError("no recipients", "pass --recipient FINGERPRINT (repeatable)")
    gpg = gnupg.GPG(gnupghome=gnupg_home or os.environ.get("GNUPGHOME") or None)
    result = gpg.encrypt(value, recipients, armor=True, always_trust=True)
    if not result.ok:
        raise DsuError(f"gpg could not encrypt to {', '.join(recipients)}: {result.status}",
                       "import the recipients' public keys into GNUPGHOME")
    return str(result)
