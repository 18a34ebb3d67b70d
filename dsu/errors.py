"""What goes wrong, in two shapes: an error that stops a command (one line with a fix), and a
problem a check found (where, what; a check reports every one of them)."""

import re
from dataclasses import dataclass

PGP_MESSAGE = re.compile(r"-----BEGIN PGP MESSAGE-----.*?-----END PGP MESSAGE-----", re.DOTALL)


class DsuError(Exception):
    """A failure the operator can act on: what went wrong, and what to do about it."""

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def one_line(self) -> str:
        return f"{self.message} (fix: {self.fix})" if self.fix else self.message


# The criterion of a problem with input refused by the YAML bounds (yamlread): Salt reads pillar
# without those bounds, so a target must not be asked to compile it.
BOUNDS = "bounds"


@dataclass(frozen=True)
class Problem:
    """One finding of a check: a file, directory or host, and what is wrong there (never a
    secret's value). *criterion* tags it with the rule it breaks, where a check has several."""

    where: str
    what: str
    criterion: str = ""

    def line(self) -> str:
        return f"{self.where}: {self.what}"


def one_line(text: object, limit: int = 300) -> str:
    """A message's first line, with its line/column if a later line has it; PGP messages
    elided. Drops the source excerpts YAML and Jinja errors append (they could show a value)."""
    text = PGP_MESSAGE.sub("[PGP message]", str(text))
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    head = lines[0] if lines else "(no message)"
    where = re.search(r"line \d+, column \d+", text)
    if where and where.group(0) not in head:
        head += f" ({where.group(0)})"
    return head if len(head) <= limit else head[:limit - 1] + "…"
