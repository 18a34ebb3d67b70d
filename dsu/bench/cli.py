"""`dsu bench`: the benchmarks' sub-commands."""

import argparse
from pathlib import Path

from dsu.lab.image import RELEASES


def _out(args: argparse.Namespace) -> Path | None:
    return Path(args.out) if args.out else None


def _health(args: argparse.Namespace) -> int:
    from dsu.bench.health import bench_health  # noqa: PLC0415 - each bench loads what it needs

    return bench_health(args.repeats, args.timeout, _out(args))


def _sops(args: argparse.Namespace) -> int:
    from dsu.bench.sops import bench_sops  # noqa: PLC0415

    return bench_sops(args.repeats, _out(args))


def _highstate(args: argparse.Namespace) -> int:
    from dsu.bench.deploy import bench_highstate  # noqa: PLC0415

    return bench_highstate(args.release, _out(args))


def _fleet(args: argparse.Namespace) -> int:
    from dsu.bench.deploy import bench_fleet  # noqa: PLC0415

    return bench_fleet(args.count, args.release, _out(args))


def register(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser("bench", help="measurements on lab hosts (reports, not gates)")
    sub = bench.add_subparsers(dest="bench_command", required=True)
    health = sub.add_parser("health", help="health.check with 100 checks, 20 of them endpoints "
                            "that never answer, on a fresh lab host")
    health.add_argument("--repeats", type=int, default=3)
    health.add_argument("--timeout", type=float, default=1.0, help="per-check timeout, seconds")
    health.add_argument("--out", help="artifact directory (default ci-artifacts/bench/health)")
    health.set_defaults(func=_health)
    sops = sub.add_parser("sops", help="SOPS decryption: 1 file of 1,000 values and 50 files of 20, "
                          "ours against the sops binary")
    sops.add_argument("--repeats", type=int, default=3)
    sops.add_argument("--out", help="artifact directory (default ci-artifacts/bench/sops)")
    sops.set_defaults(func=_sops)
    highstate = sub.add_parser("highstate", help="the full highstate on a fresh host against "
                               "apt-get install of its packages; then the test=True rerun and a "
                               "re-apply")
    highstate.add_argument("--release", default="bookworm", choices=RELEASES)
    highstate.add_argument("--out", help="artifact directory (default ci-artifacts/bench/highstate)")
    highstate.set_defaults(func=_highstate)
    fleet = sub.add_parser("fleet", help="the highstate on N fresh hosts at once against one fresh "
                           "host")
    fleet.add_argument("--count", type=int, default=8)
    fleet.add_argument("--release", default="bookworm", choices=RELEASES)
    fleet.add_argument("--out", help="artifact directory (default ci-artifacts/bench/fleet)")
    fleet.set_defaults(func=_fleet)
