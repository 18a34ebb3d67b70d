"""A password read from a file or asked once on a terminal: held in memory only, never shown
(its repr hides it, messages name the file, not the content)."""

import argparse
import getpass
import sys
from pathlib import Path

from dsu.errors import DsuError

MAX_PASSWORD = 256


class Password:
    """A root password read from a file; its repr never shows it (tracebacks, logs, debuggers)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Password(<hidden>)"


def password_file(text: str) -> Password:
    """--root-password-file: a readable regular file whose only line is the password. Messages
    name the file, never its content."""
    path = Path(text)
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise argparse.ArgumentTypeError(f"{text} is a directory, not a file") from None
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"{text}: {exc.strerror.lower()}") from None
    try:
        content = data.decode("utf-8")
    except UnicodeDecodeError:
        raise argparse.ArgumentTypeError(f"{text} is not UTF-8 text") from None
    password = content[:-1] if content.endswith("\n") else content
    if not password:
        raise argparse.ArgumentTypeError(f"{text} is empty: its one line is root's password")
    if "\n" in password:
        raise argparse.ArgumentTypeError(f"{text} has more than one line: its one line is root's "
                                         "password")
    if any(ord(c) < 32 or ord(c) == 127 for c in password):
        raise argparse.ArgumentTypeError(f"{text}: the password holds a control character")
    if len(password) > MAX_PASSWORD:
        raise argparse.ArgumentTypeError(f"{text}: the password is longer than {MAX_PASSWORD} "
                                         "characters")
    return Password(password)


def ask(prompt: str) -> Password:
    """Ask once on the terminal (no echo). Refused without a terminal: nothing would answer."""
    if not sys.stdin.isatty():
        raise DsuError("no terminal to ask the password on", "pass it in a file")
    value = getpass.getpass(prompt)
    if not value:
        raise DsuError("no password given")
    return Password(value)
