"""`dsu smoke TARGET…`: the post-deploy smoke checks against roster targets; exit 1 when any
check failed."""

import argparse
from datetime import UTC, datetime
from pathlib import Path

from dsu.argtypes import output_directory
from dsu.evidence import run_dir
from dsu.progress import Progress
from dsu.smoke import DEFAULT_UNITS, smoke
from dsu.smoke.checks import RUN_ID, UNIT_NAME
from dsu.smoke.report import table, write_summary
from dsu.targets import read_roster, select


def _run_id(text: str) -> str:
    if not RUN_ID.match(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a run id (a directory name under "
                                         "ci-artifacts/health, e.g. 20260101T000000Z)")
    return text


def _unit(text: str) -> str:
    if not UNIT_NAME.match(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a systemd unit name")
    return text if "." in text else f"{text}.service"


def _command(args: argparse.Namespace) -> int:
    from dsu.lab import hosts as lab  # noqa: PLC0415 - only for the default roster

    roster_path: Path = args.roster or lab.roster_file()
    targets = select(read_roster(roster_path), args.targets, roster_path)
    progress = Progress()
    evidence = run_dir("smoke", args.out, datetime.now(UTC))
    units = list(dict.fromkeys([*DEFAULT_UNITS, *args.unit]))
    results = smoke(targets, health_run=args.health_run, out=evidence, progress=progress,
                    units=units)
    write_summary(evidence, results.values(), evidence.name)
    print(table(results.values()))
    failed = [name for name, result in results.items() if not result.ok]
    print(f"smoke {'FAILED on ' + ', '.join(failed) if failed else 'passed'} in "
          f"{progress.elapsed():.0f}s; evidence: {evidence}")
    return 1 if failed else 0


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("smoke", help="post-deploy smoke checks of roster targets; "
                                 "exit 1 when any check fails")
    parser.add_argument("targets", nargs="+", metavar="TARGET",
                        help="roster target names or shell globs")
    parser.add_argument("--roster", type=Path, metavar="FILE",
                        help="salt-ssh roster (default: the lab's)")
    parser.add_argument("--out", type=output_directory, metavar="DIR",
                        help="artifact directory (default ci-artifacts/smoke)")
    parser.add_argument("--health-run", type=_run_id, metavar="RUN_ID",
                        help="judge this health run (default: each host's newest)")
    parser.add_argument("--unit", type=_unit, nargs="+", action="extend", default=[],
                        metavar="UNIT", help="more critical units, besides "
                        f"{', '.join(DEFAULT_UNITS)} (after the targets, or repeat --unit)")
    parser.set_defaults(func=_command)
