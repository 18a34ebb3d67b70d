"""Who a SOPS file is encrypted to, and who it should be encrypted to (the operator keys of its
`.sops.yaml` creation rule), as key groups: ``[{"pgp": [fingerprints], "age": [recipients]}]``."""

from pathlib import Path
from typing import Any

from dsu.errors import DsuError
from dsu.secrets.layout import Layout
from dsu.secrets.sopsconfig import creation_rule

Groups = list[dict[str, list[str]]]


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
