"""`dsu bench`: the benchmarks' sub-commands."""

import argparse

from dsu.argtypes import integer, output_directory, seconds
from dsu.lab.cli import host_count
from dsu.lab.image import RELEASES

REPEATS = integer(1, 100)


def _health(args: argparse.Namespace) -> int:
    from dsu.bench.health import bench_health  # noqa: PLC0415 - each bench loads what it needs

    return bench_health(args.repeats, args.timeout, args.out)


def _sops(args: argparse.Namespace) -> int:
    from dsu.bench.sops import bench_sops  # noqa: PLC0415

    return bench_sops(args.repeats, args.out)


def _highstate(args: argparse.Namespace) -> int:
    from dsu.bench.deploy import bench_highstate  # noqa: PLC0415

    return bench_highstate(args.release, args.out)


def _fleet(args: argparse.Namespace) -> int:
    from dsu.bench.deploy import bench_fleet  # noqa: PLC0415

    return bench_fleet(args.count, args.release, args.out)


def _out(parser: argparse.ArgumentParser, kind: str) -> None:
    parser.add_argument("--out", type=output_directory,
                        help=f"artifact directory (default ci-artifacts/bench/{kind})")


def register(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser("bench", help="measurements on lab hosts (reports, not gates)")
    sub = bench.add_subparsers(dest="bench_command", metavar="COMMAND", required=True)
    health = sub.add_parser("health", help="health.check with 100 checks, 20 of them endpoints "
                            "that never answer, on a fresh lab host")
    health.add_argument("--repeats", type=REPEATS, default=3)
    health.add_argument("--timeout", type=seconds(600), default=1.0,
                        help="per-check timeout, seconds")
    _out(health, "health")
    health.set_defaults(func=_health)
    sops = sub.add_parser("sops", help="SOPS decryption: 1 file of 1,000 values and 50 files of 20, "
                          "ours against the sops binary")
    sops.add_argument("--repeats", type=REPEATS, default=3)
    _out(sops, "sops")
    sops.set_defaults(func=_sops)
    highstate = sub.add_parser("highstate", help="the full highstate on a fresh host against "
                               "apt-get install of its packages; then the test=True rerun and a "
                               "re-apply")
    highstate.add_argument("--release", default="bookworm", choices=RELEASES)
    _out(highstate, "highstate")
    highstate.set_defaults(func=_highstate)
    fleet = sub.add_parser("fleet", help="the highstate on N fresh hosts at once against one fresh "
                           "host")
    # Two hosts besides the fleet: one warms the package proxy, one is timed alone.
    fleet.add_argument("--count", type=host_count(low=2, besides=2), default=8)
    fleet.add_argument("--release", default="bookworm", choices=RELEASES)
    _out(fleet, "fleet")
    fleet.set_defaults(func=_fleet)
