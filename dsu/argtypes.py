"""Argument types for the dsu parsers: each refuses a bad value while the command line is parsed,
before anything is booted, read or written, with a message that says what would be accepted."""

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def integer(low: int, high: int | None = None, why: str = "") -> Callable[[str], int]:
    """A whole number from *low* to *high* (no upper bound when None); *why* explains the bound."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            allowed = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"must be {allowed}{why}, not {value}")
        return value

    return parse


def seconds(high: float) -> Callable[[str], float]:
    """A duration above 0 and at most *high* seconds (nan and inf are neither)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
        if not 0 < value <= high:
            raise argparse.ArgumentTypeError(f"must be more than 0 and at most {high:g} seconds, "
                                             f"not {text}")
        return value

    return parse


def name_list(what: str) -> Callable[[str], list[str]]:
    """Comma-separated names of *what*; an empty entry (`a,,b`, `,`) is refused, not skipped."""

    def parse(text: str) -> list[str]:
        names = [n.strip() for n in text.split(",")]
        if not any(names):
            raise argparse.ArgumentTypeError(f"no {what} named in {text!r}")
        if not all(names):
            raise argparse.ArgumentTypeError(f"an empty {what} name in {text!r}")
        return names

    return parse


def json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object ({{...}}), not {type(value).__name__}")
    return value


def existing_path(text: str) -> Path:
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such file or directory")
    return path


def directory(text: str) -> Path:
    path = existing_path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is not a directory")
    return path


def output_directory(text: str) -> Path:
    """A directory to write into: existing, or one that can be made (its nearest existing
    ancestor is a directory), so a run does not fail at its end for want of a place."""
    path = Path(text)
    for candidate in [path, *path.absolute().parents]:
        if candidate.exists():
            if not candidate.is_dir():
                where = text if candidate == path else f"{text}: {candidate}"
                raise argparse.ArgumentTypeError(f"{where} is not a directory")
            return path
    return path
