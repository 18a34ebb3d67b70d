"""`dsu lab`: disposable Debian hosts (systemd-nspawn) for tests, benchmarks and the Quick start."""

import argparse
import os
from collections.abc import Callable
from pathlib import Path

from dsu.argtypes import integer
from dsu.errors import DsuError
from dsu.lab import hosts, network, vps
from dsu.lab.image import RELEASES, ensure_image
from dsu.progress import Progress


def host_name(text: str) -> str:
    """A lab host name, checked by the lab's own rule."""
    try:
        hosts.host_names(text, 1)
    except DsuError as exc:
        raise argparse.ArgumentTypeError(exc.one_line()) from None
    return text


def host_count(low: int = 1, besides: int = 0) -> Callable[[str], int]:
    """--count of hosts a command boots, with *besides* more of its own: at least *low*, at most
    what the lab subnet holds (read when the command line is, as DSU_LAB_SUBNET may set it)."""

    def parse(text: str) -> int:
        try:
            room, net = hosts.capacity(), network.subnet()
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"DSU_LAB_SUBNET is not a subnet: {exc}") from None
        why = f" (the lab subnet {net} holds {room} hosts" + (f", {besides} more for this run)"
                                                              if besides else ")")
        return integer(low, room - besides, why)(text)

    return parse


def _image(args: argparse.Namespace) -> int:
    print(ensure_image(args.release))
    return 0


def _up(args: argparse.Namespace) -> int:
    if args.root_password is not None and args.like != "vps":
        args.parser.error("argument --root-password-file: only with --like vps")
    progress = Progress()
    booted = hosts.up(args.name, args.count, args.release, progress, like=args.like or "",
                      root_password=args.root_password)
    for host in booted:
        print(f"{host.name}\t{host.address}")
    print(f"{len(booted)} host(s) up in {progress.elapsed():.0f}s; roster: {hosts.roster_file()}")
    return 0


def _down(args: argparse.Namespace) -> int:
    if not args.all and not args.names:
        raise DsuError("name the hosts to stop", "dsu lab down NAME... or dsu lab down --all")
    stopped = hosts.down(None if args.all else args.names)
    print(f"stopped {len(stopped)} host(s)" + (f": {', '.join(stopped)}" if stopped else ""))
    return 0


def _status(args: argparse.Namespace) -> int:
    rows = hosts.status()
    if not rows:
        print("no lab hosts")
        return 0
    columns = ["name", "release", "address", "state", "pid1", "pid", "uptime", "like"]
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in columns}
    print("  ".join(c.upper().ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(row[c].ljust(widths[c]) for c in columns))
    return 0


def _ssh(args: argparse.Namespace) -> int:
    found = {h.name: h for h in hosts.registered()}
    if args.name not in found:
        raise DsuError(f"no lab host named {args.name}", "see dsu lab status")
    argv = hosts.ssh_argv(found[args.name], *args.command)
    if not args.command:
        argv.insert(1, "-t")
    os.execvp(argv[0], argv)
    return 1  # not reached


def _proxy(args: argparse.Namespace) -> int:
    from dsu.lab.mirror import proxy_allowed_hosts  # noqa: PLC0415 - the proxy process only
    from dsu.lab.services import serve  # noqa: PLC0415

    serve(args.address, args.port, Path(args.cache), proxy_allowed_hosts(), args.dns_port,
          args.ntp_port)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    lab = commands.add_parser("lab", help="disposable Debian hosts (systemd-nspawn)")
    sub = lab.add_subparsers(dest="lab_command", metavar="COMMAND", required=True)

    image = sub.add_parser("image", help="build (or reuse) the cached base image")
    image.add_argument("--release", choices=RELEASES, default="bookworm")
    image.set_defaults(func=_image)

    up = sub.add_parser(
        "up", help="boot hosts; returns when SSH answers",
        description="Boot lab hosts (or reuse running ones of those names) and wait for SSH: root "
                    "logs in with the lab's key. Prints each host's address and the salt-ssh "
                    "roster's path.")
    up.add_argument("name", type=host_name, help="host name, or the prefix of NAME-1... with --count")
    up.add_argument("--count", type=host_count(), default=1, help="how many hosts (default 1)")
    up.add_argument("--release", choices=RELEASES, default="bookworm",
                    help="Debian release (default bookworm)")
    up.add_argument("--like", choices=vps.LIKES,
                    help="boot hosts as a fresh VPS is delivered: static addressing in "
                         "/etc/network/interfaces, MTU 1450, rp_filter=1, a static "
                         "/etc/resolv.conf naming the lab's DNS server (see docs/lab.md)")
    up.add_argument("--root-password-file", dest="root_password", type=vps.password_file,
                    metavar="FILE",
                    help="with --like vps: set root's password to FILE's one line and let sshd "
                         "take it, so first contact by password can be tried; the password is "
                         "never written or logged by dsu, nor shown in any command line")
    up.set_defaults(func=_up, parser=up)

    down = sub.add_parser("down", help="stop hosts and remove all they used")
    down.add_argument("names", nargs="*", type=host_name, metavar="NAME")
    down.add_argument("--all", action="store_true")
    down.set_defaults(func=_down)

    status = sub.add_parser("status", help="list lab hosts")
    status.set_defaults(func=_status)

    ssh = sub.add_parser("ssh", help="open a shell (or run a command) on a host")
    ssh.add_argument("name", type=host_name)
    ssh.add_argument("command", nargs=argparse.REMAINDER)
    ssh.set_defaults(func=_ssh)

    proxy = sub.add_parser("proxy", help="(internal) run the lab's package proxy, DNS and time "
                                         "servers")
    proxy.add_argument("--address", required=True)
    proxy.add_argument("--port", type=integer(1, 65535), required=True)
    proxy.add_argument("--cache", required=True)
    proxy.add_argument("--dns-port", type=integer(1, 65535), default=53)
    proxy.add_argument("--ntp-port", type=integer(1, 65535), default=123)
    proxy.set_defaults(func=_proxy)
