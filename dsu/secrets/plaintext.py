"""Plaintext-looking secrets in plain pillar: a key named like a secret (``db_password``,
``api_key``, ``client_secret``, …) or anything under ``secrets:values`` with a literal value. PGP
messages and ``ENC[…]`` values are not plaintext; a SOPS document's unencrypted values are its
author's explicit choice. ``#!yaml|gpg`` files are scanned too: an unencrypted value in one passes
Salt's gpg renderer unchanged. Findings name file and key path, never the value."""

import re
from pathlib import Path
from typing import Any

import yaml

from dsu.errors import PGP_MESSAGE, Problem, one_line
from dsu.secrets import sopsfile
from dsu.secrets.pillartext import JINJA_MARK, key_path, renderers, walk, without_jinja

PILLAR_SUFFIXES = (".sls", ".yaml", ".yml", ".json")
VALUES_PATH = ("secrets", "values")
SOPS_VALUE = re.compile(r"^ENC\[[A-Z0-9_]+,data:")
# A key names a secret when its last word is one of these, or its last two words are a pair below
# (password_file, token_ttl or secret_name hold no secret).
SECRET_WORDS = {"password", "passwd", "passphrase", "pass", "pwd", "secret", "token",
                "credential", "credentials", "psk", "apikey", "privatekey"}
SECRET_PAIRS = {("api", "key"), ("private", "key"), ("access", "key"), ("secret", "key"),
                ("auth", "key"), ("signing", "key"), ("encryption", "key"), ("master", "key")}




def names_secret(key: str) -> bool:
    """True when a key's name says it holds a secret (db_password, apiKey, client_secret)."""
    words = [w for w in re.split(r"[^a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key).lower()) if w]
    return bool(words) and (words[-1] in SECRET_WORDS or tuple(words[-2:]) in SECRET_PAIRS)


def _plain_value(value: Any) -> bool:
    """A literal, non-empty, unencrypted value."""
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, (int, float)):
        return True
    if not isinstance(value, str) or not value.strip() or JINJA_MARK in value:
        return False
    return not (PGP_MESSAGE.search(value) or SOPS_VALUE.match(value.strip()))


def _line_scan(text: str) -> list[str]:
    """Fallback for a file that does not read as YAML even without its Jinja: `key: value` lines."""
    found = []
    pattern = re.compile(r"^\s*(?:-\s+)?([\"']?)(?P<key>[^\s:\"'#][^:\"'#]*?)\1\s*:\s+"
                         r"(?P<value>[^\s#].*?)\s*$")
    for number, line in enumerate(text.splitlines(), 1):
        match = pattern.match(line)
        if not match or not names_secret(match["key"]):
            continue
        value = match["value"].split(" #")[0].strip()
        if value[:1] in "{[|>&*!" or value in ('""', "''", "~", "null", "true", "false"):
            continue
        if JINJA_MARK not in value:
            found.append(f"line {number}, key {match['key']}")
    return found


def plaintext_in(text: str) -> list[str] | None:
    """Key paths holding plaintext-looking secrets in one pillar file's text; None for a SOPS
    document (its unencrypted values are its author's explicit choice)."""
    stripped = without_jinja(text)
    try:
        data = yaml.safe_load(stripped)
    except yaml.YAMLError:
        return _line_scan(stripped)
    if sopsfile().is_sops_document(data):
        return None
    return [key_path(path) for path, value in walk(data)
            if path and _plain_value(value) and (path[:2] == VALUES_PATH or names_secret(path[-1]))]


def scan_plaintext(roots: list[Path]) -> tuple[list[Problem], int]:
    """Problems for plaintext-looking secrets in the pillar roots' files, and how many were read."""
    problems, scanned = [], 0
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.suffix in PILLAR_SUFFIXES and p.is_file()):
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(Problem(str(path), f"cannot read: {one_line(str(exc))}"))
                continue
            pipeline = renderers(text)
            if pipeline and not set(pipeline) <= {"jinja", "yaml", "gpg", "sops"}:
                continue  # #!py and friends: not data to scan
            scanned += 1
            for key in plaintext_in(text) or []:
                problems.append(Problem(str(path), f"{key}: looks like a plaintext secret; move it to "
                                                   "a SOPS file or encrypt it (dsu secrets gpg-encrypt)"))
    return problems, scanned
