"""The dsu command line."""

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from dsu import __version__
from dsu.errors import DsuError
from dsu.lab.image import RELEASES


def _lab_image(args: argparse.Namespace) -> int:
    from dsu.lab.image import ensure_image

    print(ensure_image(args.release))
    return 0


def _lab_up(args: argparse.Namespace) -> int:
    from dsu.lab import hosts
    from dsu.lab.roster import roster_path
    from dsu.progress import Progress

    progress = Progress()
    booted = hosts.up(args.name, args.count, args.release, progress)
    for host in booted:
        print(f"{host.name}\t{host.address}")
    print(f"{len(booted)} host(s) up in {progress.elapsed():.0f}s; "
          f"roster: {roster_path(hosts.lab_dir())}")
    return 0


def _lab_down(args: argparse.Namespace) -> int:
    from dsu.lab import hosts

    if not args.all and not args.names:
        raise DsuError("name the hosts to stop", "dsu lab down NAME... or dsu lab down --all")
    stopped = hosts.down(None if args.all else args.names)
    print(f"stopped {len(stopped)} host(s)" + (f": {', '.join(stopped)}" if stopped else ""))
    return 0


def _lab_status(args: argparse.Namespace) -> int:
    from dsu.lab import hosts

    rows = hosts.status()
    if not rows:
        print("no lab hosts")
        return 0
    columns = ["name", "release", "address", "state", "pid1", "pid", "uptime"]
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in columns}
    print("  ".join(c.upper().ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(row[c].ljust(widths[c]) for c in columns))
    return 0


def _lab_ssh(args: argparse.Namespace) -> int:
    from dsu.lab import hosts

    found = {h.name: h for h in hosts.registered()}
    if args.name not in found:
        raise DsuError(f"no lab host named {args.name}", "see dsu lab status")
    argv = hosts.ssh_argv(found[args.name], *args.command)
    if not args.command:
        argv.insert(1, "-t")
    os.execvp(argv[0], argv)
    return 1  # not reached


def _lab_proxy(args: argparse.Namespace) -> int:
    from dsu.lab.mirror import proxy_allowed_hosts
    from dsu.lab.proxy import serve

    serve(args.address, args.port, Path(args.cache), proxy_allowed_hosts())
    return 0


def _deploy(args: argparse.Namespace) -> int:
    from dsu.deploy import deploy_lab

    return deploy_lab(args.lab, args.count, args.release,
                      Path(args.out) if args.out else None)


def _idempotence(args: argparse.Namespace) -> int:
    import json

    from dsu.idempotence import benchmark

    roles = [r.strip() for r in args.roles.split(",") if r.strip()] if args.roles else None
    try:
        pillar = json.loads(args.pillar) if args.pillar else None
    except json.JSONDecodeError as exc:
        raise DsuError(f"--pillar is not JSON: {exc}", "pass a JSON object") from exc
    return benchmark(roles, args.release, args.jobs, Path(args.out) if args.out else None,
                     Path(args.baseline) if args.baseline else None, pillar,
                     Path(args.extra_root) if args.extra_root else None)


def _bench_health(args: argparse.Namespace) -> int:
    from dsu.bench import bench_health

    return bench_health(args.repeats, args.timeout, Path(args.out) if args.out else None)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dsu", description=__doc__)
    parser.add_argument("--version", action="version", version=f"dsu {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    lab = commands.add_parser("lab", help="disposable Debian hosts (systemd-nspawn)")
    lab_commands = lab.add_subparsers(dest="lab_command", required=True)

    image = lab_commands.add_parser("image", help="build (or reuse) the cached base image")
    image.add_argument("--release", choices=RELEASES, default="bookworm")
    image.set_defaults(func=_lab_image)

    up = lab_commands.add_parser("up", help="boot hosts; returns when SSH answers")
    up.add_argument("name")
    up.add_argument("--count", type=int, default=1)
    up.add_argument("--release", choices=RELEASES, default="bookworm")
    up.set_defaults(func=_lab_up)

    down = lab_commands.add_parser("down", help="stop hosts and remove all they used")
    down.add_argument("names", nargs="*")
    down.add_argument("--all", action="store_true")
    down.set_defaults(func=_lab_down)

    status = lab_commands.add_parser("status", help="list lab hosts")
    status.set_defaults(func=_lab_status)

    ssh = lab_commands.add_parser("ssh", help="open a shell (or run a command) on a host")
    ssh.add_argument("name")
    ssh.add_argument("command", nargs=argparse.REMAINDER)
    ssh.set_defaults(func=_lab_ssh)

    proxy = lab_commands.add_parser("proxy", help="(internal) run the lab's package proxy")
    proxy.add_argument("--address", required=True)
    proxy.add_argument("--port", type=int, required=True)
    proxy.add_argument("--cache", required=True)
    proxy.set_defaults(func=_lab_proxy)

    deploy = commands.add_parser("deploy", help="the canonical deploy path")
    deploy.add_argument("--lab", required=True, metavar="NAME",
                        help="deploy to lab host(s) of this name, booting them if needed")
    deploy.add_argument("--count", type=int, default=1)
    deploy.add_argument("--release", choices=RELEASES, default="bookworm")
    deploy.add_argument("--out", help="artifact directory (default ci-artifacts/deploy)")
    deploy.set_defaults(func=_deploy)

    idem = commands.add_parser("idempotence", help="converge, test=True rerun and re-apply each "
                               "role on a fresh lab host; exit 0 only if all are idempotent")
    idem.add_argument("--roles", help="comma-separated roles (default: all of core)")
    idem.add_argument("--release", choices=RELEASES, default="bookworm")
    idem.add_argument("--baseline", help="an earlier run directory (or its summary.json)")
    idem.add_argument("--out", help="artifact directory (default ci-artifacts/idempotence)")
    idem.add_argument("--jobs", type=int, default=2, help="roles benchmarked at once")
    idem.add_argument("--pillar", help="pillar overrides for every run, as JSON")
    idem.add_argument("--extra-root", help=argparse.SUPPRESS)  # fixture roles for the tests
    idem.set_defaults(func=_idempotence)

    bench = commands.add_parser("bench", help="measurements on lab hosts (reports, not gates)")
    bench_commands = bench.add_subparsers(dest="bench_command", required=True)
    health = bench_commands.add_parser("health", help="health.check with 100 checks, 20 of them "
                                       "endpoints that never answer, on a fresh lab host")
    health.add_argument("--repeats", type=int, default=3)
    health.add_argument("--timeout", type=float, default=1.0, help="per-check timeout, seconds")
    health.add_argument("--out", help="artifact directory (default ci-artifacts/bench/health)")
    health.set_defaults(func=_bench_health)
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
