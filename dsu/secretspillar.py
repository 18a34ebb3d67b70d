"""Where the encrypted pillar lives and who it is encrypted to, for `dsu secrets migrate`,
`rotate`, `add-recipient` and `remove-recipient`; and the audit log they append to.

A checkout ("root") holds `pillar/secrets/provider.yaml` (provider and the encrypted SLS per
target), the operator keys in `.sops.yaml` creation rules, and the audit log
`pillar/secrets/audit.jsonl`: committed beside the files it describes, so a review of a rotation
sees the record in the same change. The log holds paths, recipient ids and actions only.
"""

import datetime
import getpass
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dsu import __version__
from dsu.errors import DsuError
from dsu.paths import REPO_ROOT
from dsu.secrets import creation_rule

PROVIDER_FILE = Path("pillar/secrets/provider.yaml")
AUDIT_FILE = Path("pillar/secrets/audit.jsonl")
AUDIT_SCHEMA = "deploy-system-unified/secrets-audit/v1"
KINDS = ("gpg", "sops")

Groups = list[dict[str, list[str]]]  # key groups: [{"pgp": [fingerprints], "age": [recipients]}]


def find_root(start: Path | None = None) -> Path:
    """The nearest directory from *start* (default: here) upwards with a provider.yaml, as git
    finds its checkout; this dsu's own checkout when there is none."""
    start = (start or Path.cwd()).resolve()
    for directory in [start, *start.parents]:
        if (directory / PROVIDER_FILE).is_file():
            return directory
    return REPO_ROOT


def layout_for(root: str | None) -> "Layout":
    """The checkout at *root*, or the one found from here up."""
    return Layout(Path(root) if root else find_root())


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def pillar(self) -> Path:
        return self.root / "pillar"

    @property
    def provider_file(self) -> Path:
        return self.root / PROVIDER_FILE

    @property
    def sops_config(self) -> Path:
        return self.root / ".sops.yaml"

    @property
    def audit_log(self) -> Path:
        return self.root / AUDIT_FILE

    def relative(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(path.resolve())

    def settings(self) -> dict[str, Any]:
        """provider.yaml, checked for the shape pillar/top.sls relies on."""
        where = self.relative(self.provider_file)
        try:
            data = yaml.safe_load(self.provider_file.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise DsuError(f"{where}: cannot read: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise DsuError(f"{where}: not valid YAML: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("targets") or {}, dict):
            raise DsuError(f"{where}: expected a mapping with provider and targets")
        return data

    def sls_path(self, name: str) -> Path:
        """The file of SLS *name* under pillar/ (a.b → a/b.sls, else a/b/init.sls)."""
        base = self.pillar.joinpath(*name.split("."))
        flat = base.with_name(base.name + ".sls")
        return flat if flat.exists() or not (base / "init.sls").exists() else base / "init.sls"

    def targets(self, settings: dict[str, Any] | None = None) -> dict[str, dict[str, list[Path]]]:
        """{target: {"gpg": [files], "sops": [files]}} from provider.yaml."""
        settings = self.settings() if settings is None else settings
        out: dict[str, dict[str, list[Path]]] = {}
        for target, lists in (settings.get("targets") or {}).items():
            lists = lists or {}
            if not isinstance(lists, dict):
                raise DsuError(f"{self.relative(self.provider_file)}: targets:{target} must be a "
                               "mapping {gpg: [...], sops: [...]}")
            out[str(target)] = {kind: [self.sls_path(str(n)) for n in lists.get(kind) or []]
                                for kind in KINDS}
        return out

    def files(self, kind: str, settings: dict[str, Any] | None = None) -> list[Path]:
        """Every *kind* file of every target, each once, in provider.yaml's order."""
        seen: dict[Path, None] = {}
        for lists in self.targets(settings).values():
            seen.update(dict.fromkeys(lists[kind]))
        return list(seen)


def normal_fingerprint(fingerprint: str) -> str:
    return "".join(fingerprint.split()).upper()


def file_groups(meta: dict[str, Any]) -> Groups:
    """The recipients of a SOPS document's metadata, per key group."""
    groups = meta.get("key_groups") or [meta]
    return [{"pgp": [normal_fingerprint(str(e.get("fp", ""))) for e in g.get("pgp") or []],
             "age": [str(e.get("recipient", "")) for e in g.get("age") or []]} for g in groups]


def rule_groups(layout: Layout, path: Path) -> Groups:
    """The operator keys for *path*: the recipients of the first `.sops.yaml` creation rule of
    the checkout that matches it. DsuError when there is no config or no matching rule."""
    if not layout.sops_config.is_file():
        raise DsuError(f"no {layout.relative(layout.sops_config)}: the operator keys are not declared")
    args = creation_rule(path, layout.sops_config)
    groups = args.get("key_groups") or [{"pgp": args.get("pgp") or [], "age": args.get("age") or []}]
    return [{"pgp": [normal_fingerprint(f) for f in g["pgp"]], "age": list(g["age"])} for g in groups]


def union(groups: Groups, kind: str) -> set[str]:
    return {key for group in groups for key in group[kind]}


def held_age_keys(identities: list[str] | None = None) -> dict[str, str]:
    """{age recipient: identity} of the age identities found as sops finds them (or given)."""
    import pyrage  # noqa: PLC0415

    from dsu.secrets import sopsfile  # noqa: PLC0415

    held = {}
    for identity in sopsfile().age_identities_from_env() if identities is None else identities:
        try:
            held[str(pyrage.x25519.Identity.from_str(identity).to_public())] = identity
        except pyrage.IdentityError:
            raise DsuError("an age identity (SOPS_AGE_KEY, SOPS_AGE_KEY_FILE) is malformed",
                           "fix or remove it") from None
    return held


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return f"uid{os.getuid()}"


def append_audit(layout: Layout, action: str, files: list[dict[str, Any]],
                 **details: Any) -> dict[str, Any]:
    """Append one entry (docs/schemas/secrets-audit.v1.json) to the audit log; return it. One
    write() of one line on an O_APPEND descriptor, so concurrent runs cannot interleave."""
    entry = {"schema": AUDIT_SCHEMA,
             "time": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
             "who": f"{_user()}@{socket.gethostname()}",
             "tool": f"dsu {__version__}",
             "action": action, **details, "files": files}
    line = (json.dumps(entry, ensure_ascii=False) + "\n").encode()
    layout.audit_log.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(layout.audit_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    return entry


