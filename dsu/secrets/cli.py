"""`dsu secrets`: decrypt, encrypt, gpg-encrypt, migrate, rotate, add-recipient, remove-recipient."""

import argparse
import sys
from pathlib import Path

from dsu.argtypes import integer

ROOT_HELP = ("checkout holding pillar/ and .sops.yaml (default: nearest with "
             "pillar/secrets/provider.yaml from here up)")


def _decrypt(args: argparse.Namespace) -> int:
    from dsu.secrets.files import decrypt_to_json  # noqa: PLC0415 - each command loads what it needs

    print(decrypt_to_json(Path(args.file)))
    return 0


def _encrypt(args: argparse.Namespace) -> int:
    from dsu.secrets.files import encrypt_file  # noqa: PLC0415

    written = encrypt_file(Path(args.file), Path(args.output) if args.output else None,
                           args.pgp or [], args.age or [],
                           Path(args.config) if args.config else None)
    print(f"encrypted: {written}", file=sys.stderr)
    return 0


def _gpg_encrypt(args: argparse.Namespace) -> int:
    from dsu.secrets.files import configured_pgp, gpg_encrypt_value  # noqa: PLC0415

    # The value comes on stdin, never as an argument: argv is visible to every local user.
    value = sys.stdin.buffer.read()
    if args.strip_newline:
        value = value.rstrip(b"\n")
    print(gpg_encrypt_value(value, args.recipient or configured_pgp(Path(args.for_file))), end="")
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from dsu.secrets.layout import layout_for  # noqa: PLC0415
    from dsu.secrets.migrate import migrate  # noqa: PLC0415

    action = next(a for a in ("check", "dual", "apply", "rollback") if getattr(args, a))
    return migrate(layout_for(args.root), action)


def _rotate(args: argparse.Namespace) -> int:
    from dsu.secrets.layout import layout_for  # noqa: PLC0415
    from dsu.secrets.recipients import normal_fingerprint  # noqa: PLC0415
    from dsu.secrets.rotate import Change, run  # noqa: PLC0415

    change = None
    if args.secrets_command != "rotate":
        kind, key = ("pgp", normal_fingerprint(args.pgp)) if args.pgp else ("age", args.age)
        change = Change(args.secrets_command, kind, key, getattr(args, "group", None))
    return run(layout_for(args.root), [Path(f) for f in args.files], args.all, change)


def _add_files(sub: argparse._SubParsersAction) -> None:
    decrypt = sub.add_parser("decrypt", help="print a SOPS file decrypted, as JSON")
    decrypt.add_argument("file")
    decrypt.set_defaults(func=_decrypt)
    encrypt = sub.add_parser(
        "encrypt", help="encrypt a plaintext YAML/JSON file as SOPS (in place unless --output); "
        "recipients from --pgp/--age or the matching .sops.yaml creation rule")
    encrypt.add_argument("file")
    encrypt.add_argument("--output", help="write here instead of replacing FILE")
    encrypt.add_argument("--pgp", action="append", metavar="FINGERPRINT")
    encrypt.add_argument("--age", action="append", metavar="RECIPIENT")
    encrypt.add_argument("--config", help=".sops.yaml to use (default: nearest from here up)")
    encrypt.set_defaults(func=_encrypt)
    gpg_value = sub.add_parser(
        "gpg-encrypt", help="encrypt a value read from stdin for the GPG pillar (#!yaml|gpg)")
    gpg_value.add_argument("--recipient", action="append", metavar="FINGERPRINT",
                           help="default: the pgp keys of the .sops.yaml rule for --for")
    gpg_value.add_argument("--for", dest="for_file", default="pillar/secrets/gpg/common.sls",
                           metavar="FILE", help="the GPG pillar file the value goes into")
    gpg_value.add_argument("--strip-newline", action="store_true",
                           help="drop trailing newlines of the input (echo adds one)")
    gpg_value.set_defaults(func=_gpg_encrypt)


def _add_operations(sub: argparse._SubParsersAction) -> None:
    migrate = sub.add_parser(
        "migrate", help="prove the GPG -> SOPS cutover criteria; switch secrets:provider")
    action = migrate.add_mutually_exclusive_group(required=True)
    action.add_argument("--check", action="store_true", help="report every unmet criterion; exit 1 if any")
    action.add_argument("--dual", action="store_true",
                        help="provider: dual (both compiled, GPG wins) once every file decrypts")
    action.add_argument("--apply", action="store_true", help="provider: sops, only if --check passes")
    action.add_argument("--rollback", action="store_true", help="provider: gpg (secret files untouched)")
    migrate.add_argument("--root", help=ROOT_HELP)
    migrate.set_defaults(func=_migrate)
    for name, text in (("rotate", "re-encrypt SOPS files with a new data key, same recipients"),
                       ("add-recipient", "add a recipient to SOPS files (new data key)"),
                       ("remove-recipient", "remove a recipient from SOPS files (new data key)")):
        parser = sub.add_parser(name, help=text)
        if name != "rotate":
            key = parser.add_mutually_exclusive_group(required=True)
            key.add_argument("--pgp", metavar="FINGERPRINT")
            key.add_argument("--age", metavar="RECIPIENT")
        if name == "add-recipient":
            parser.add_argument("--group", type=integer(1),
                                help="key group (1-based) on files with several")
        parser.add_argument("files", nargs="*", metavar="FILE")
        parser.add_argument("--all", action="store_true",
                            help="every SOPS file in the targets of pillar/secrets/provider.yaml")
        parser.add_argument("--root", help=ROOT_HELP)
        parser.set_defaults(func=_rotate)


def register(commands: argparse._SubParsersAction) -> None:
    secrets = commands.add_parser("secrets", help="SOPS files and GPG pillar values")
    sub = secrets.add_subparsers(dest="secrets_command", metavar="COMMAND", required=True)
    _add_files(sub)
    _add_operations(sub)
