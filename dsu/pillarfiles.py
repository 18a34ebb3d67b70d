"""Plain pillar files as data, for messages that say where: which file does not parse (line and
column), which file sets a pillar key, and which file a Salt render error is about.

Only what can be read without rendering is read here: a file with Jinja in it is data only once
Salt renders it, so it is never judged by its raw text (Salt's own error, with its line and
column in the rendered text, is passed on instead: ``render_errors``). Nothing here prints a value.
"""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from dsu import yamlread
from dsu.errors import PGP_MESSAGE, Problem, one_line
from dsu.secrets.pillartext import renderers

SUFFIXES = (".sls",)
_JINJA = ("{%", "{{", "{#")
# salt-ssh's log of a render failure: the SLS, then the renderer's message up to its traceback
_RENDER_FAILED = re.compile(
    r"^\[CRITICAL\s*\] Rendering SLS '(?P<sls>[^']+)' failed, render error:\n(?P<body>.*?)"
    r"(?=^Traceback|^\[[A-Z]+\s*\]|\Z)", re.M | re.S)
_MARK = re.compile(r'\s*in "[^"]*", (line \d+, column \d+)')


def _files(roots: list[Path]) -> Iterator[Path]:
    for root in roots:
        if root.is_dir():
            yield from sorted(p for p in root.rglob("*") if p.suffix in SUFFIXES and p.is_file())


def _text(path: Path) -> str | None:
    """A pillar file's text, or None when it cannot be read or is over a bound (the secrets checks
    report those)."""
    try:
        return yamlread.read_text(path)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def has_jinja(path: Path) -> bool:
    """Whether the pillar file at *path* has Jinja in it (False when it cannot be read)."""
    text = _text(path)
    return text is not None and any(mark in text for mark in _JINJA)


def _plain_text(path: Path) -> str | None:
    """The text of a plain YAML pillar file; None for one Salt must render first (Jinja, a #!
    renderer line other than yaml) or one that cannot be read."""
    text = _text(path)
    if text is None or any(mark in text for mark in _JINJA) or renderers(text) not in ([], ["yaml"]):
        return None
    return text


def _plain_data(path: Path) -> tuple[bool, Any]:
    """(True, data) for a plain YAML pillar file that parses, else (False, None)."""
    text = _plain_text(path)
    try:
        return (True, yamlread.load(text)) if text is not None else (False, None)
    except yaml.YAMLError:
        return False, None


def syntax_problems(roots: list[Path]) -> list[Problem]:
    """A problem for each plain YAML pillar file that does not parse, with line and column."""
    found = []
    for path in _files(roots):
        text = _plain_text(path)
        try:
            if text is not None:
                yamlread.load(text)
        except yamlread.YamlRefused:
            continue  # reported by the plaintext scan, with the bound
        except yaml.YAMLError as exc:
            found.append(Problem(str(path), f"not valid YAML: {yaml_error(exc)}"))
    return found


def yaml_error(exc: yaml.YAMLError) -> str:
    """A YAML error in one line: where (line, column, 1-based) and what, never the text there."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        context = f" ({exc.context})" if exc.context else ""
        return f"line {mark.line + 1}, column {mark.column + 1}: {exc.problem}{context}"
    return one_line(str(exc))


def setting_files(roots: list[Path], key: str, whole: bool = False) -> list[Path]:
    """The plain pillar files that set pillar *key* (``a:b:c``, list indexes ignored), or, when
    none has all of it and not *whole*, those that go deepest into it (two levels at least:
    ``core:time``)."""
    parts = [p for p in key.split(":") if not p.isdigit()]
    depths: dict[Path, int] = {}
    for path in _files(roots):
        plain, node = _plain_data(path)
        depth = 0
        for part in parts if plain else []:
            if not isinstance(node, dict) or part not in node:
                break
            node, depth = node[part], depth + 1
        depths[path] = depth
    deepest = max(depths.values(), default=0)
    if deepest < (len(parts) if whole else min(2, len(parts))) or deepest == 0:
        return []
    return [path for path, depth in depths.items() if depth == deepest]


def sls_file(roots: list[Path], sls: str) -> Path | None:
    """The pillar file of SLS *sls* (``a.b``: a/b.sls or a/b/init.sls) in the first root that has it."""
    name = sls.split(":", 1)[1] if sls.startswith("base:") else sls
    relative = Path(*name.split("."))
    for root in roots:
        for candidate in (root / relative.with_suffix(".sls"), root / relative / "init.sls"):
            if candidate.is_file():
                return candidate
    return None


def render_errors(log: str) -> dict[str, str]:
    """What Salt said of each SLS that failed to render, from salt-ssh's log output: the
    renderer's message in one line with its line/column marks (in the text after Jinja), the
    source excerpts left out."""
    found = {}
    for match in _RENDER_FAILED.finditer(log):
        body = PGP_MESSAGE.sub("[PGP message]", match.group("body").split("\n---", 1)[0])
        text = _MARK.sub(r" at \1", body)
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        found[match.group("sls")] = "; ".join(lines)[:400]
    return found
