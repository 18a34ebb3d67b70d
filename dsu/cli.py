"""The dsu command line: each wing and command module registers its own sub-commands; this
module assembles them and gives every command the same edges:

- a bad argument is one line, `dsu <command>: error: <what> (see dsu <command> --help)`, and exit
  2, before anything is booted, read or written;
- a DsuError, or a file that cannot be read, is one line, `dsu: error: <what>`, and exit 2;
- SIGTERM and SIGHUP interrupt like Ctrl-C: a KeyboardInterrupt in the main thread, so every
  command's cleanup (finally blocks, lab teardown) runs; then one line and exit 128 + the signal;
- whatever happens, nothing secret stays behind on this machine: the command's children (salt-ssh
  writes the compiled pillar to temp files) get a private TMPDIR removed when it ends, and the
  gpg-agents the command started are stopped.
"""

import argparse
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import NoReturn

from dsu import __version__, idempotence, preflight
from dsu.bench import cli as bench_cli
from dsu.deploy import cli as deploy_cli
from dsu.errors import DsuError, one_line
from dsu.lab import cli as lab_cli
from dsu.privatetmp import private_tmpdir
from dsu.secrets import agents
from dsu.secrets import cli as secrets_cli
from dsu.smoke import cli as smoke_cli

REGISTRARS = (lab_cli.register, deploy_cli.register, idempotence.register, secrets_cli.register,
              preflight.register, bench_cli.register, smoke_cli.register)
INTERRUPTING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors. Sub-parsers are of the same class: add_subparsers
    passes its parser's class on to every parser it adds, at every level."""

    def error(self, message: str) -> NoReturn:
        what = " ".join(message.split())
        self.exit(2, f"{self.prog}: error: {what} (see {self.prog} --help)\n")

    def parse_known_args(self, args: Sequence[str] | None = None,
                         namespace: argparse.Namespace | None = None
                         ) -> tuple[argparse.Namespace, list[str]]:
        # Words nobody takes are refused by the sub-command that saw them last, so the message
        # names it; argparse would hand them up to `dsu`.
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras


class Interrupted(KeyboardInterrupt):
    """A signal that stops a command, raised where the main thread is, as Ctrl-C raises
    KeyboardInterrupt (it is one), so the same cleanup runs for all of them."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def interrupts_as_keyboard_interrupt() -> Iterator[None]:
    """Within: SIGINT, SIGTERM and SIGHUP raise Interrupted in the main thread. Only the first
    does: a second signal must not cut short the cleanup the first one started."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    received: list[int] = []

    def interrupt(signum: int, frame: object) -> None:
        if received:
            # os.write: print() here could re-enter a write the main thread is in the middle of.
            os.write(2, f"dsu: cleaning up after {signal.Signals(received[0]).name}, "
                        "please wait\n".encode())
            return
        received.append(signum)
        raise Interrupted(signum)

    previous = {signum: signal.signal(signum, interrupt) for signum in INTERRUPTING}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="dsu", description="the lab, the deploy path, benchmarks and secrets of deploy-system-unified")
    parser.add_argument("--version", action="version", version=f"dsu {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in REGISTRARS:
        register(commands)
    return parser


def _error(what: str) -> int:
    print(f"dsu: error: {what}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with interrupts_as_keyboard_interrupt():
        try:
            with private_tmpdir(), agents.stopped_after(*agents.command_homes()):
                return args.func(args)
        except KeyboardInterrupt as exc:
            signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
            print(f"dsu: interrupted by {signal.Signals(signum).name}", file=sys.stderr)
            return 128 + signum
        except DsuError as exc:
            # one_line: a message quoting a parser (YAML, JSON) may span lines, even show the
            # offending source line; the first line and its position are what matter.
            return _error(one_line(exc.message, 500) + (f" (fix: {exc.fix})" if exc.fix else ""))
        # A file given on the command line that cannot be used, met where no command check
        # caught it first: still one line, not a traceback.
        except UnicodeDecodeError as exc:
            return _error(f"a file read is not UTF-8 text ({exc.reason} at byte {exc.start})")
        except OSError as exc:
            return _error(f"{exc.filename}: {exc.strerror}" if exc.filename else one_line(exc))
