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


def _bench_highstate(args: argparse.Namespace) -> int:
    from dsu.benchdeploy import bench_highstate

    return bench_highstate(args.release, Path(args.out) if args.out else None)


def _bench_fleet(args: argparse.Namespace) -> int:
    from dsu.benchdeploy import bench_fleet

    return bench_fleet(args.count, args.release, Path(args.out) if args.out else None)


def _secrets_decrypt(args: argparse.Namespace) -> int:
    from dsu.secrets import decrypt_to_json

    print(decrypt_to_json(Path(args.file)))
    return 0


def _secrets_encrypt(args: argparse.Namespace) -> int:
    from dsu.secrets import encrypt_file

    written = encrypt_file(Path(args.file), Path(args.output) if args.output else None,
                           args.pgp or [], args.age or [],
                           Path(args.config) if args.config else None)
    print(f"encrypted: {written}", file=sys.stderr)
    return 0


def _secrets_gpg_encrypt(args: argparse.Namespace) -> int:
    from dsu.secrets import configured_pgp, gpg_encrypt_value

    # The value comes on stdin, never as an argument: argv is visible to every local user.
    value = sys.stdin.buffer.read()
    if args.strip_newline:
        value = value.rstrip(b"\n")
    print(gpg_encrypt_value(value, args.recipient or configured_pgp(Path(args.for_file))), end="")
    return 0


def _secrets_migrate(args: argparse.Namespace) -> int:
    from dsu.secretsmigrate import migrate
    from dsu.secretspillar import layout_for

    action = next(a for a in ("check", "dual", "apply", "rollback") if getattr(args, a))
    return migrate(layout_for(args.root), action)


def _secrets_rotate(args: argparse.Namespace) -> int:
    from dsu.secretspillar import layout_for, normal_fingerprint
    from dsu.secretsrotate import Change, run

    change = None
    if args.secrets_command != "rotate":
        kind, key = ("pgp", normal_fingerprint(args.pgp)) if args.pgp else ("age", args.age)
        change = Change(args.secrets_command, kind, key, getattr(args, "group", None))
    return run(layout_for(args.root), [Path(f) for f in args.files], args.all, change)


def _add_secrets_operations(commands: argparse._SubParsersAction) -> None:
    """`dsu secrets migrate|rotate|add-recipient|remove-recipient` (dsu/secretsmigrate.py,
    dsu/secretsrotate.py)."""
    root_help = "checkout holding pillar/ and .sops.yaml (default: nearest with " \
                "pillar/secrets/provider.yaml from here up)"
    migrate = commands.add_parser(
        "migrate", help="prove the GPG -> SOPS cutover criteria; switch secrets:provider")
    action = migrate.add_mutually_exclusive_group(required=True)
    action.add_argument("--check", action="store_true", help="report every unmet criterion; exit 1 if any")
    action.add_argument("--dual", action="store_true",
                        help="provider: dual (both compiled, GPG wins) once every file decrypts")
    action.add_argument("--apply", action="store_true", help="provider: sops, only if --check passes")
    action.add_argument("--rollback", action="store_true", help="provider: gpg (secret files untouched)")
    migrate.add_argument("--root", help=root_help)
    migrate.set_defaults(func=_secrets_migrate)
    for name, text in (("rotate", "re-encrypt SOPS files with a new data key, same recipients"),
                       ("add-recipient", "add a recipient to SOPS files (new data key)"),
                       ("remove-recipient", "remove a recipient from SOPS files (new data key)")):
        sub = commands.add_parser(name, help=text)
        if name != "rotate":
            key = sub.add_mutually_exclusive_group(required=True)
            key.add_argument("--pgp", metavar="FINGERPRINT")
            key.add_argument("--age", metavar="RECIPIENT")
        if name == "add-recipient":
            sub.add_argument("--group", type=int, help="key group (1-based) on files with several")
        sub.add_argument("files", nargs="*", metavar="FILE")
        sub.add_argument("--all", action="store_true",
                         help="every SOPS file in the targets of pillar/secrets/provider.yaml")
        sub.add_argument("--root", help=root_help)
        sub.set_defaults(func=_secrets_rotate)


def _bench_sops(args: argparse.Namespace) -> int:
    from dsu.bench import bench_sops

    return bench_sops(args.repeats, Path(args.out) if args.out else None)


def _preflight(args: argparse.Namespace) -> int:
    from dsu.preflight import preflight

    path = lambda value: Path(value) if value else None  # noqa: E731
    return preflight(args.target, path(args.roster_file), path(args.config_dir), path(args.pillar_root))


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

    secrets = commands.add_parser("secrets", help="SOPS files and GPG pillar values")
    secrets_commands = secrets.add_subparsers(dest="secrets_command", required=True)
    decrypt = secrets_commands.add_parser("decrypt", help="print a SOPS file decrypted, as JSON")
    decrypt.add_argument("file")
    decrypt.set_defaults(func=_secrets_decrypt)
    encrypt = secrets_commands.add_parser(
        "encrypt", help="encrypt a plaintext YAML/JSON file as SOPS (in place unless --output); "
        "recipients from --pgp/--age or the matching .sops.yaml creation rule")
    encrypt.add_argument("file")
    encrypt.add_argument("--output", help="write here instead of replacing FILE")
    encrypt.add_argument("--pgp", action="append", metavar="FINGERPRINT")
    encrypt.add_argument("--age", action="append", metavar="RECIPIENT")
    encrypt.add_argument("--config", help=".sops.yaml to use (default: nearest from here up)")
    encrypt.set_defaults(func=_secrets_encrypt)
    gpg_value = secrets_commands.add_parser(
        "gpg-encrypt", help="encrypt a value read from stdin for the GPG pillar (#!yaml|gpg)")
    gpg_value.add_argument("--recipient", action="append", metavar="FINGERPRINT",
                           help="default: the pgp keys of the .sops.yaml rule for --for")
    gpg_value.add_argument("--for", dest="for_file", default="pillar/secrets/gpg/common.sls",
                           metavar="FILE", help="the GPG pillar file the value goes into")
    gpg_value.add_argument("--strip-newline", action="store_true",
                           help="drop trailing newlines of the input (echo adds one)")
    gpg_value.set_defaults(func=_secrets_gpg_encrypt)
    _add_secrets_operations(secrets_commands)

    preflight = commands.add_parser(
        "preflight", help="before any change: secrets files decrypt, no plaintext secret in plain "
        "pillar, key directories private, then the pillar compiles for TARGET with every required "
        "secret (salt-ssh, nothing changed); exit 1 listing every problem")
    preflight.add_argument("target", help="a roster name: a running lab host, or one in --roster-file")
    preflight.add_argument("--roster-file", help="salt-ssh roster with TARGET (default: the lab's)")
    preflight.add_argument("--config-dir", help="Salt config directory (default etc/salt)")
    preflight.add_argument("--pillar-root", help="check this pillar tree instead of pillar_roots")
    preflight.set_defaults(func=_preflight)

    bench = commands.add_parser("bench", help="measurements on lab hosts (reports, not gates)")
    bench_commands = bench.add_subparsers(dest="bench_command", required=True)
    health = bench_commands.add_parser("health", help="health.check with 100 checks, 20 of them "
                                       "endpoints that never answer, on a fresh lab host")
    health.add_argument("--repeats", type=int, default=3)
    health.add_argument("--timeout", type=float, default=1.0, help="per-check timeout, seconds")
    health.add_argument("--out", help="artifact directory (default ci-artifacts/bench/health)")
    health.set_defaults(func=_bench_health)
    sops = bench_commands.add_parser("sops", help="SOPS decryption: 1 file of 1,000 values and 50 "
                                     "files of 20, ours against the sops binary")
    sops.add_argument("--repeats", type=int, default=3)
    sops.add_argument("--out", help="artifact directory (default ci-artifacts/bench/sops)")
    sops.set_defaults(func=_bench_sops)
    highstate = bench_commands.add_parser("highstate", help="the full highstate on a fresh host "
                                          "against apt-get install of its packages; then the "
                                          "test=True rerun and a re-apply")
    highstate.add_argument("--release", default="bookworm", choices=["bookworm", "trixie"])
    highstate.add_argument("--out", help="artifact directory (default ci-artifacts/bench/highstate)")
    highstate.set_defaults(func=_bench_highstate)
    fleet = bench_commands.add_parser("fleet", help="the highstate on N fresh hosts at once "
                                      "against one fresh host")
    fleet.add_argument("--count", type=int, default=8)
    fleet.add_argument("--release", default="bookworm", choices=["bookworm", "trixie"])
    fleet.add_argument("--out", help="artifact directory (default ci-artifacts/bench/fleet)")
    fleet.set_defaults(func=_bench_fleet)
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
