"""Pillar files read as text, the way Salt would render them, without Salt: the renderer line,
Jinja-stripped YAML, leaves by key path, and GPG messages decrypted as Salt's gpg renderer does.

One reader for `dsu preflight` (does every GPG value decrypt?) and `dsu secrets migrate` (what does
it decrypt to?). Messages name key paths and never carry a value or a PGP block.
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from dsu import yamlread
from dsu.errors import PGP_MESSAGE, one_line

# What a Jinja expression reads as once stripped: a value nobody wrote literally.
JINJA_MARK = "__dsu_jinja_expression__"

KeyPath = tuple[str, ...]


def key_path(path: KeyPath) -> str:
    return ":".join(path) or "(top)"


def walk(node: Any, path: KeyPath = ()) -> Iterator[tuple[KeyPath, Any]]:
    """(key path, value) of every leaf; list items get their index."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, (*path, str(index)))
    else:
        yield path, node


def map_strings(node: Any, change: Callable[[str, KeyPath], Any], path: KeyPath = ()) -> Any:
    """A copy of *node* with every string leaf replaced by change(value, key path)."""
    if isinstance(node, dict):
        return {k: map_strings(v, change, (*path, str(k))) for k, v in node.items()}
    if isinstance(node, list):
        return [map_strings(v, change, (*path, str(i))) for i, v in enumerate(node)]
    return change(node, path) if isinstance(node, str) else node


def renderers(text: str) -> list[str]:
    """The renderer pipeline of an SLS's ``#!`` line ([] without one)."""
    first = text.split("\n", 1)[0]
    if not first.startswith("#!"):
        return []
    return [part.strip().split(" ")[0] for part in first[2:].split("|") if part.strip()]


def _replace_between(text: str, opener: str, closer: str, replacement: str) -> str:
    """Each *opener*…*closer* span (the shortest, left to right) replaced; an opener without a
    closer ends the search. What ``re.sub(opener.*?closer)`` does, in linear time: that regex
    rescans to the end of the text from every unclosed opener, minutes on a hostile file."""
    parts, at = [], 0
    while (start := text.find(opener, at)) != -1:
        end = text.find(closer, start + len(opener))
        if end == -1:
            break
        parts += [text[at:start], replacement]
        at = end + len(closer)
    parts.append(text[at:])
    return "".join(parts)


def without_jinja(text: str) -> str:
    """*text* with Jinja comments and statements removed and expressions replaced by JINJA_MARK,
    so a templated SLS still reads as YAML (well enough to find literal values)."""
    text = _replace_between(text, "{#", "#}", "")
    text = _replace_between(text, "{%", "%}", "")
    return _replace_between(text, "{{", "}}", JINJA_MARK)


@dataclass
class GpgReading:
    data: Any = None  # the pillar data as Salt renders it (plaintext in place of each message)
    messages: dict[str, list[str]] = field(default_factory=dict)  # key path -> armored messages
    errors: list[str] = field(default_factory=list)  # file-level, or "<key path>: why"
    refused: bool = False  # over a YAML bound: not read


def read_gpg(text: str, gpg: Any | None, keydir: str) -> GpgReading:
    """A ``#!yaml|gpg`` (optionally ``jinja|``) pillar file as Salt's gpg renderer gives it: each
    armored PGP message in a string value replaced by its plaintext, trailing newlines then
    stripped. *gpg* is a python-gnupg ``GPG`` over *keydir*; with None only the structure is
    checked and the messages are collected, not decrypted."""
    pipeline = renderers(text)
    if "gpg" not in pipeline or not set(pipeline) <= {"jinja", "yaml", "gpg"}:
        return GpgReading(errors=["listed as a GPG file but its first line is not #!yaml|gpg: "
                                  "Salt would not decrypt it"])
    try:
        data = yamlread.load(without_jinja(text))
    except yamlread.YamlRefused as exc:
        return GpgReading(errors=[str(exc)], refused=True)
    except yaml.YAMLError as exc:
        return GpgReading(errors=[f"not valid YAML: {one_line(str(exc))}"])
    if not isinstance(data, dict):
        return GpgReading(errors=["is not a YAML mapping: a pillar file must be one"])
    reading = GpgReading()

    def decrypt(value: str, path: KeyPath) -> str:
        def one(match: re.Match) -> str:
            where = key_path(path)
            reading.messages.setdefault(where, []).append(match.group())
            if gpg is None:
                return match.group()
            result = gpg.decrypt(match.group())
            if not result.ok:
                reading.errors.append(f"{where}: GnuPG cannot decrypt it with the keys in "
                                      f"{keydir}: {result.status or 'failed'}")
            elif not result.data:
                reading.errors.append(f"{where}: it decrypts to nothing, which Salt's gpg "
                                      "renderer treats as a failure")
            return result.data.decode("utf-8", "surrogateescape")

        plain, count = PGP_MESSAGE.subn(one, value)
        return plain.rstrip("\n") if count and gpg is not None else value

    reading.data = map_strings(data, decrypt)
    return reading
