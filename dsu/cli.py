"""The dsu command line: each wing and command module registers its own sub-commands; this
module only assembles them and turns a DsuError into one line and exit code 2."""

import argparse
import sys
from collections.abc import Sequence

from dsu import __version__, deploy, idempotence, preflight
from dsu.bench import cli as bench_cli
from dsu.errors import DsuError
from dsu.lab import cli as lab_cli
from dsu.secrets import cli as secrets_cli

REGISTRARS = (lab_cli.register, deploy.register, idempotence.register, secrets_cli.register,
              preflight.register, bench_cli.register)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dsu", description="the lab, the deploy path, benchmarks and secrets of deploy-system-unified")
    parser.add_argument("--version", action="version", version=f"dsu {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for register in REGISTRARS:
        register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except DsuError as exc:
        print(f"dsu: error: {exc.one_line()}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dsu: interrupted", file=sys.stderr)
        return 130
