"""SOPS files and GPG pillar values from the operator's side: `dsu secrets decrypt`, `encrypt`
and `gpg-encrypt`."""

import base64
import datetime
import json
from pathlib import Path
from typing import Any

from dsu.errors import DsuError
from dsu.paths import replace_file
from dsu.secrets import sopsfile
from dsu.secrets.sopsconfig import creation_rule, find_config


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def decrypt_to_json(path: Path) -> str:
    """The decrypted document as JSON text; DsuError with sops' kind of reason on failure."""
    lib = sopsfile()
    try:
        data = lib.decrypt_file(str(path))
    except lib.SopsError as exc:
        raise DsuError(str(exc)) from None
    return json.dumps(data, indent=2, ensure_ascii=False, default=_jsonable)


def encrypt_file(source: Path, output: Path | None, pgp: list[str], age: list[str],
                 config: Path | None = None) -> Path:
    """Encrypt the plaintext YAML/JSON *source*. Recipients from --pgp/--age, else from the
    matching `.sops.yaml` creation rule. Writes *output* (default: *source*, in place) with mode
    0600 and returns its path."""
    lib = sopsfile()
    target = output or source
    fmt = lib.format_of(target)
    try:
        data = lib.parse(source.read_text(encoding="utf-8"), lib.format_of(source), str(source))
    except OSError as exc:
        raise DsuError(f"{source}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise DsuError(f"{source} is not UTF-8 text: not a YAML or JSON document") from None
    except lib.SopsError as exc:
        raise DsuError(str(exc)) from None
    if lib.is_sops_document(data):
        raise DsuError(f"{source} is already SOPS-encrypted", "use `dsu secrets rotate` instead")
    if pgp or age:
        args: dict[str, Any] = {"pgp": pgp, "age": age}
    else:
        config = config or find_config(Path.cwd())
        if config is None:
            raise DsuError("no recipients: no --pgp/--age and no .sops.yaml here or above",
                           "pass --pgp FINGERPRINT or --age RECIPIENT")
        args = creation_rule(target, config)
    try:
        text = lib.encrypt_data(data, fmt, **args)
    except lib.SopsError as exc:
        raise DsuError(f"{source}: {exc}") from None
    try:
        replace_file(target, text, 0o600)
    except OSError as exc:
        raise DsuError(f"{target}: cannot write: {exc.strerror}") from None
    return target


def configured_pgp(target: Path) -> list[str]:
    """The PGP recipients configured for *target*: its `.sops.yaml` creation rule's pgp keys (all
    key groups), so GPG and SOPS pillar are encrypted to the same operators."""
    config = find_config(Path.cwd())
    if config is None:
        raise DsuError("no --recipient and no .sops.yaml here or above",
                       "pass --recipient FINGERPRINT, or declare the operator keys in .sops.yaml")
    rule = creation_rule(target, config)
    keys = rule.get("pgp") or [k for g in rule.get("key_groups") or [] for k in g["pgp"]]
    if not keys:
        raise DsuError(f"{config}: the rule for {target} names no pgp key")
    return keys


def gpg_encrypt_value(value: bytes, recipients: list[str], gnupg_home: str | None = None) -> str:
    """An armored PGP message of *value* for the GPG pillar (`#!yaml|gpg`)."""
    import gnupg  # noqa: PLC0415

    if not recipients:
        raise DsuError("no recipients", "pass --recipient FINGERPRINT (repeatable)")
    gpg = gnupg.GPG(gnupghome=gnupg_home)  # None: gpg honours GNUPGHOME itself
    result = gpg.encrypt(value, recipients, armor=True, always_trust=True)
    if not result.ok:
        raise DsuError(f"gpg could not encrypt to {', '.join(recipients)}: {result.status}",
                       "import the recipients' public keys into GNUPGHOME")
    return str(result)
