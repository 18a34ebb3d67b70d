"""Plaintext-looking secrets in plain pillar, found two ways:

- by name: a key named like a secret (``db_password``, ``api_key``, ``client_secret``, …) or
  anything under ``secrets:values``, with a literal value;
- by value, whatever the key is called: a private key block (PEM, OpenSSH, PGP), a token of a
  well-known format (TOKEN_FORMATS), a URL with a password in it, or a high-entropy string
  (ENTROPY_CLASSES).

PGP messages and ``ENC[…]`` values are not plaintext, nor are Jinja expressions (not literals); a
SOPS document's unencrypted values are its author's explicit choice. ``#!yaml|gpg`` files are
scanned too: an unencrypted value in one passes Salt's gpg renderer unchanged. A key path listed
in the allow-list file beside provider.yaml (ALLOW_FILE) is no finding: the escape for a false
positive, with its reason written down. Findings name file, key path and what the value looks
like, never the value nor any part of it.
"""

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

from dsu import yamlread
from dsu.errors import BOUNDS, PGP_MESSAGE, Problem, one_line
from dsu.secrets import sopsfile
from dsu.secrets.pillartext import JINJA_MARK, key_path, renderers, walk, without_jinja

PILLAR_SUFFIXES = (".sls", ".yaml", ".yml", ".json")
VALUES_PATH = ("secrets", "values")
ALLOW_FILE = Path("secrets") / "plaintext-allow.yaml"  # under a pillar root, beside provider.yaml
SOPS_VALUE = re.compile(r"^ENC\[[A-Z0-9_]+,data:")
# A key names a secret when its last word is one of these, or its last two words are a pair below
# (password_file, token_ttl or secret_name hold no secret).
SECRET_WORDS = {"password", "passwd", "passphrase", "pass", "pwd", "secret", "token",
                "credential", "credentials", "psk", "apikey", "privatekey"}
SECRET_PAIRS = {("api", "key"), ("private", "key"), ("access", "key"), ("secret", "key"),
                ("auth", "key"), ("signing", "key"), ("encryption", "key"), ("master", "key")}
NAMED = "looks like a plaintext secret"  # what a finding by name says

# Values that are a secret whatever their key: private key blocks first (the most specific), then
# documented token formats (prefix and length as their issuers document them). A token starts
# where a run of its characters starts (so two tries never scan the same run: a search stays
# linear in the value, however hostile) and an exact-length one ends where the run ends.
_START = r"(?<![A-Za-z0-9_-])"
_END = r"(?![A-Za-z0-9_-])"
TOKEN_FORMATS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern)) for kind, pattern in (
        ("an OpenSSH private key", r"-----BEGIN OPENSSH PRIVATE KEY-----"),
        ("a PGP private key block", r"-----BEGIN PGP PRIVATE KEY BLOCK-----"),
        ("a PEM private key", r"-----BEGIN (?:[A-Z0-9]{1,16} ){0,2}PRIVATE KEY-----"),
        ("a GitHub token", _START + r"(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,244})"),
        ("a GitLab token", _START + r"glpat-[A-Za-z0-9_-]{20,64}"),
        ("a Slack token", _START + r"xox[abprs]-[A-Za-z0-9-]{10,250}"),
        ("an AWS access key id", _START + r"(?:AKIA|ASIA)[A-Z0-9]{16}" + _END),
        ("a Stripe live key", _START + r"[sr]k_live_[A-Za-z0-9]{16,247}"),
        ("a Google API key", _START + r"AIza[A-Za-z0-9_-]{35}" + _END),
        ("a JSON web token", _START + r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\."),
    ))
# scheme://user:password@ (the user may be empty); a placeholder such as ${DB_PASS} is no password
CREDENTIALS_URL = re.compile(r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{0,31}://[^\s/:@]{0,256}:"
                             r"(?P<password>[^\s/@]{1,256})@")
PLACEHOLDER_START = ("$", "{", "<", "%(")


@dataclass(frozen=True)
class EntropyClass:
    """Strings over one alphabet: high-entropy from *min_length* characters and *min_bits* of
    Shannon entropy per character, when they hold a character of each of *needs* (a random token
    does; words, paths and names mostly do not), are not *ordinary* in shape and have less than
    *max_words* of their length in words (runs of three or more lower-case letters: a string made
    of words, such as an image reference or a JVM option, is not random however mixed)."""

    name: str
    alphabet: re.Pattern[str]
    needs: tuple[str, ...]
    min_length: int
    min_bits: float
    ordinary: re.Pattern[str] | None = None
    max_words: float = 1.0


# Never secret: identifiers (UUIDs, runs of 16 or more hex digits: digests, fingerprints, ids
# as in sha256:<hex> or EU:<hex>), cut out of a value before it is measured; and, for a value
# with characters beyond base64's, the whole value a URL without credentials, a path, or an
# e-mail address.
IDENTIFIERS = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
                         r"|[0-9A-Fa-f]{16,}")
ORDINARY = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S*|~?/\S*|[^@\s]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


# Thresholds measured (the numbers are in docs/preflight.md): random tokens of a class's minimum
# length are flagged 98 times in 100 (printable ones of 20 characters 8 in 10, of 32 19 in 20),
# and no value of this repo's pillar and role defaults is (they read at most 4.4 bits/char). Hex
# is never flagged: digests, fingerprints and ids look exactly like hex secrets.
_UPPER, _LOWER, _DIGIT = "A-Z", "a-z", "0-9"
ENTROPY_CLASSES = (  # the first whose alphabet a string fits
    EntropyClass("hex", re.compile(r"[0-9A-Fa-f:.-]+"), (), 0, math.inf),
    EntropyClass("one-case alphanumeric", re.compile(r"[a-z0-9]+|[A-Z0-9]+"), ("A-Za-z", _DIGIT), 32, 3.9),
    EntropyClass("base64", re.compile(r"[A-Za-z0-9+/_-]+"), (_UPPER, _LOWER, _DIGIT), 32, 4.2, None, 0.5),
    EntropyClass("printable", re.compile(r"\S+"), (_UPPER, _LOWER, _DIGIT, r"\W_"), 20, 3.9, ORDINARY, 0.3),
)
WORDS = re.compile(r"[a-z]{3,}")


@dataclass(frozen=True)
class Finding:
    """A plaintext-looking secret: where (a key path, or with *line* the key as written in a file
    that does not read as YAML) and what it looks like. Never the value."""

    key: str
    kind: str
    line: int | None = None

    def place(self) -> str:
        if self.line is None:
            return self.key
        return f"line {self.line}, key {self.key}" if self.key else f"line {self.line}"


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


def shannon_bits(text: str) -> float:
    """Shannon entropy of *text*'s characters, in bits per character."""
    counts, total = Counter(text), len(text)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def high_entropy(value: str) -> str | None:
    """"high-entropy string (B bits/char, N chars)" when *value* reads as random, else None."""
    token = IDENTIFIERS.sub("", value.strip()).rstrip("=")  # base64 padding carries no entropy
    if not token or any(c.isspace() for c in token):
        return None
    group = next(c for c in ENTROPY_CLASSES if c.alphabet.fullmatch(token))
    if len(token) < group.min_length or not all(re.search(f"[{n}]", token) for n in group.needs) \
            or (group.ordinary and group.ordinary.fullmatch(token)) \
            or sum(map(len, WORDS.findall(token))) >= group.max_words * len(token):
        return None
    bits = shannon_bits(token)
    if bits < group.min_bits:
        return None
    return f"high-entropy string ({bits:.1f} bits/char, {len(token)} chars)"


def value_kind(value: str) -> str | None:
    """What a string value looks like when it looks like a secret whatever its key, else None."""
    for kind, pattern in TOKEN_FORMATS:
        if pattern.search(value):
            return f"looks like {kind}"
    for match in CREDENTIALS_URL.finditer(value):
        if not match["password"].startswith(PLACEHOLDER_START):
            return "looks like a URL with a password in it (user:password@host)"
    return high_entropy(value)


def _leaf_finding(path: tuple[str, ...], value: Any) -> Finding | None:
    if not path or not _plain_value(value):
        return None
    kind = value_kind(value) if isinstance(value, str) else None
    if kind is None and (path[:2] == VALUES_PATH or names_secret(path[-1])):
        kind = NAMED
    return Finding(key_path(path), kind) if kind else None


# `key: value` in a file that is not YAML; possessive repeats keep the match linear on a long line
_KEY_VALUE = re.compile(r"^\s*+(?:-\s++)?(?P<q>[\"']?)(?P<key>[^\s:\"'#][^:\"'#]*+)(?P=q)\s*+:\s++"
                        r"(?P<value>[^\s#].*+)$")
_BLOCKS = tuple((kind, pattern) for kind, pattern in TOKEN_FORMATS if "PRIVATE" in pattern.pattern)


def _line_finding(number: int, line: str) -> Finding | None:
    match = _KEY_VALUE.match(line)
    if match is None:
        block = next((kind for kind, pattern in _BLOCKS if pattern.search(line)), None)
        return Finding("", f"looks like {block}", number) if block else None
    key, value = match["key"].strip(), match["value"].split(" #")[0].strip()
    if value[:1] in "{[|>&*!" or value in ('""', "''", "~", "null", "true", "false") or JINJA_MARK in value:
        kind = None
    else:
        kind = value_kind(value.strip("\"'")) or (NAMED if names_secret(key) else None)
    return Finding(key, kind, number) if kind else None


def _line_scan(text: str) -> list[Finding]:
    """Fallback for a file that does not read as YAML even without its Jinja: `key: value` lines,
    and lines opening a private key block."""
    found = (_line_finding(number, line) for number, line in enumerate(text.splitlines(), 1))
    return [finding for finding in found if finding is not None]


def findings_in(text: str) -> list[Finding] | None:
    """Plaintext-looking secrets in one pillar file's text; None for a SOPS document (its
    unencrypted values are its author's explicit choice). yamlread.YamlRefused when the text is
    over a bound: no line scan then, a hostile file is not read on."""
    stripped = without_jinja(text)
    try:
        data = yamlread.load(stripped)
    except yamlread.YamlRefused:
        raise
    except yaml.YAMLError:
        return _line_scan(stripped)
    if sopsfile().is_sops_document(data):
        return None
    found = (_leaf_finding(path, value) for path, value in walk(data))
    return [finding for finding in found if finding is not None]


def plaintext_in(text: str) -> list[str] | None:
    """Where plaintext-looking secrets are in one pillar file's text (key paths, or `line N, key K`
    in a file that does not read as YAML); None for a SOPS document."""
    found = findings_in(text)
    return None if found is None else [finding.place() for finding in found]


@dataclass(frozen=True)
class AllowList:
    """Key paths whose findings are no problem: each a list of segments, each segment a glob
    (``certs:*:chain`` allows ``certs:web:chain``, not ``certs:web:x:chain``)."""

    patterns: tuple[tuple[str, ...], ...] = ()

    def allows(self, finding: Finding) -> bool:
        if finding.line is not None:
            return False  # a file that is not YAML has no key paths: fix the file
        segments = finding.key.split(":")
        return any(len(p) == len(segments) and all(map(fnmatchcase, segments, p)) for p in self.patterns)


def _allow_entry(entry: Any, index: int) -> tuple[str | None, str | None]:
    """(key path pattern, None) of one `allow` entry, or (None, what is wrong with it)."""
    if isinstance(entry, dict):
        unknown = sorted(str(k) for k in entry if k not in ("key", "why"))
        if unknown or not isinstance(entry.get("why", ""), str):
            return None, f"allow:{index}: only `key` and `why` (a string) are known"
        entry = entry.get("key")
    if not isinstance(entry, str) or not entry.strip(":"):
        return None, f"allow:{index}: must be a key path such as app:public_key, or {{key: …, why: …}}"
    return entry, None


def read_allow(roots: list[Path]) -> tuple[AllowList, list[Problem]]:
    """The allow list of the first pillar root that has ALLOW_FILE (none: an empty list), and what
    is wrong with it; a malformed entry is reported and left out, the rest still apply."""
    path = next((root / ALLOW_FILE for root in roots if (root / ALLOW_FILE).is_file()), None)
    if path is None:
        return AllowList(), []
    where = str(path)
    try:
        data = yamlread.load_file(path)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        return AllowList(), [Problem(where, f"cannot read: {one_line(str(exc))}")]
    data = {} if data is None else data
    if not isinstance(data, dict) or not isinstance(data.get("allow") or [], list):
        return AllowList(), [Problem(where, "must be a mapping with a list `allow` of key paths")]
    patterns, problems = [], []
    for index, entry in enumerate(data.get("allow") or []):
        pattern, wrong = _allow_entry(entry, index)
        if pattern is None:
            problems.append(Problem(where, str(wrong)))
        else:
            patterns.append(tuple(pattern.split(":")))
    return AllowList(tuple(patterns)), problems


def _message(finding: Finding) -> str:
    fix = "move it to a SOPS file or encrypt it (dsu secrets gpg-encrypt)"
    if finding.kind != NAMED and finding.line is None:  # a by-name message reads as it always did
        fix += f", or if it is no secret list its key path in the pillar's {ALLOW_FILE}"
    return f"{finding.place()}: {finding.kind}; {fix}"


def _scan_file(path: Path, allow: AllowList) -> tuple[list[Problem], bool]:
    """Problems of one pillar file, and whether it was scanned (a #!py file and friends are not
    data to scan)."""
    try:
        text = yamlread.read_text(path)
        pipeline = renderers(text)
        if pipeline and not set(pipeline) <= {"jinja", "yaml", "gpg", "sops"}:
            return [], False
        found = findings_in(text) or []
    except yamlread.YamlRefused as exc:
        return [Problem(str(path), f"not scanned: {exc}", BOUNDS)], False
    except (OSError, UnicodeDecodeError) as exc:
        return [Problem(str(path), f"cannot read: {one_line(str(exc))}")], False
    return [Problem(str(path), _message(f)) for f in found if not allow.allows(f)], True


def scan_plaintext(roots: list[Path], allow: AllowList | None = None,
                   on_file: Callable[[Path], None] | None = None) -> tuple[list[Problem], int]:
    """Problems for plaintext-looking secrets in the pillar roots' files that *allow* does not
    cover, and how many files were scanned; *on_file* is told of each file before it is read."""
    problems, scanned = [], 0
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.suffix in PILLAR_SUFFIXES and p.is_file()):
            if on_file is not None:
                on_file(path)
            found, counted = _scan_file(path, allow or AllowList())
            problems += found
            scanned += counted
    return problems, scanned
