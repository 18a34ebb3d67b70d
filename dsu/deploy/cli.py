"""`dsu deploy` and `dsu bootstrap`: roster targets (the lab's by default), or lab hosts booted
for the purpose with --lab."""

import argparse
import shutil
from pathlib import Path

from dsu.argtypes import output_directory
from dsu.deploy import bootstrap as first_contact
from dsu.deploy.fleet import Deploy, Options
from dsu.deploy.record import table
from dsu.errors import DsuError
from dsu.lab import hosts as lab
from dsu.lab.cli import host_count, host_name
from dsu.lab.image import RELEASES
from dsu.lab.vps import LIKES
from dsu.password import ask, password_file
from dsu.progress import Progress
from dsu.targets import read_roster, select

PROFILES = ("production", "hardened", "ephemeral", "dev")


def _run(args: argparse.Namespace, kind: str, patterns: list[str],
         made: list[Path] | None = None) -> int:
    progress = Progress()
    roster = args.roster or lab.roster_file()
    targets = select(read_roster(roster), patterns, roster)
    if args.ask_root_password:
        source = lambda: ask("root's password (first contact, asked once): ")  # noqa: E731
    elif args.root_password is not None:
        source = lambda: args.root_password  # noqa: E731
    else:
        source = None
    deploy = Deploy(targets, Options(roster=roster, profile=getattr(args, "profile", None),
                                     password=source, guard_s=args.guard_seconds,
                                     out=args.out, kind=kind, config_dir=args.config_dir),
                    progress)
    if made is not None:
        made.append(deploy.evidence)
    runs = deploy.run()
    failed = [run for run in runs if not run.going]
    print(table(runs))
    for run in failed:
        print(f"{run.name}: stopped at {run.failed}: {run.reason}")
    print(f"{kind} {'FAILED on ' + ', '.join(r.name for r in failed) if failed else 'succeeded'} "
          f"in {progress.elapsed():.0f}s; evidence: {deploy.evidence}"
          + (f", health: ci-artifacts/health/{deploy.run_id}" if kind == "deploy" else ""))
    return 1 if failed else 0


def _deploy(args: argparse.Namespace) -> int:
    if args.lab:
        running = {h.name for h in lab.registered() if h.alive()}
        evidence: list[Path] = []
        try:
            hosts = lab.up(args.lab, args.count, args.release, Progress(), like=args.like or "")
            code = _run(args, "deploy", [h.name for h in hosts], evidence)
        except KeyboardInterrupt:
            _interrupted(args.lab, args.count, running)
            for path in evidence:  # of hosts that are gone or half done: worth nothing
                shutil.rmtree(path, ignore_errors=True)
                latest = path.parent / "LATEST_RUN.txt"
                if latest.exists() and latest.read_text().strip() == path.name:
                    latest.unlink()
            raise
        names = " ".join(lab.host_names(args.lab, args.count))
        print(f"hosts stay up: `dsu lab ssh NAME` to look, `dsu lab down {names}` to remove them")
        return code
    if not args.targets:
        raise DsuError("name the targets to deploy", "dsu deploy TARGET… [--roster FILE], or "
                       "--lab NAME to boot lab hosts")
    return _run(args, "deploy", args.targets)


def _bootstrap(args: argparse.Namespace) -> int:
    return _run(args, "bootstrap", args.targets)


def _interrupted(name: str, count: int, running: set[str]) -> None:
    """An interrupted --lab deploy stops the hosts it booted itself: new and half configured,
    they are worth nothing. Hosts that were up before it stay, as they may hold more than this
    deploy; the operator is told what is left on them and how to remove it."""
    progress = Progress()
    names = lab.host_names(name, count)
    up = {h.name for h in lab.registered()}
    booted = [n for n in names if n in up and n not in running]
    if booted:
        lab.down(booted, progress)
    kept = [n for n in names if n in up and n in running]
    if kept:
        again = f"dsu deploy --lab {name}" + (f" --count {count}" if count > 1 else "")
        progress.step(f"interrupted; hosts up before this deploy stay up: {', '.join(kept)}, maybe "
                      "half configured and holding salt-ssh's working directory (with the decrypted "
                      f"pillar) under /var/tmp: `{again}` finishes the deploy and wipes it, "
                      f"`dsu lab down {' '.join(kept)}` removes them")


def _access_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--roster", type=Path, help="salt-ssh roster with the targets "
                        "(default: the lab's)")
    password = parser.add_mutually_exclusive_group()
    password.add_argument("--root-password-file", dest="root_password", type=password_file,
                          help="first contact: root's password, the file's one line (read once, "
                          "never stored or shown)")
    password.add_argument("--ask-root-password", action="store_true",
                          help="first contact: ask root's password once on the terminal, when a "
                          "host refuses the operator's key")
    parser.add_argument("--guard-seconds", type=int, default=first_contact.GUARD_S,
                        help="bootstrap: the host reverts SSH and firewall changes unless "
                        "access is proven within this time (default %(default)s)")
    parser.add_argument("--config-dir", type=Path, help="Salt config directory with your pillar "
                        "roots (default etc/salt)")
    parser.add_argument("--out", type=output_directory, help="artifact directory")


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "deploy", help="the canonical deploy: per host lock, bootstrap (first contact), "
        "preflight, highstate, recheck, health gate, smoke, evidence")
    parser.add_argument("targets", nargs="*", metavar="TARGET",
                        help="roster names or globs (with --lab: default all of them)")
    parser.add_argument("--profile", choices=PROFILES,
                        help="deploy the targets as this profile (preflight refuses a host "
                        "whose profiles.yaml list says otherwise)")
    parser.add_argument("--lab", metavar="NAME", type=host_name,
                        help="boot lab host(s) of this name if needed and deploy to them")
    parser.add_argument("--count", type=host_count(), default=1)
    parser.add_argument("--release", choices=RELEASES, default="bookworm")
    parser.add_argument("--like", choices=LIKES, help="with --lab: hosts as a new VPS is "
                        "delivered (root on 22): the deploy starts with first contact")
    _access_options(parser)
    parser.set_defaults(func=_deploy)

    parser = commands.add_parser(
        "bootstrap", help="first contact, lockout-safe: the deploy user with sudo on its own "
        "port, root login and port 22 closed; a host already bootstrapped is checked")
    parser.add_argument("targets", nargs="+", metavar="TARGET", help="roster names or globs")
    _access_options(parser)
    parser.set_defaults(func=_bootstrap)
