"""
The SOPS stores: a document as YAML or JSON text, and a parsed document split into its data and
its ``sops`` metadata. Loaded by ``sopsfile.py`` (see there); raises ValueError, which the façade
names the source in.

YAML is read with YAML 1.2 core scalars, as sops reads it: ``yes`` is a string, so the MAC over
values left in clear matches the one sops computed.
"""

import json
import re

import yaml

_BASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVED_HERE = ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


class _Yaml12Loader(_BASE_LOADER):
    """Safe YAML with YAML 1.2 core scalars: only true/false are booleans, no sexagesimal or
    leading-zero octal numbers."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _RESOLVED_HERE]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?(?:0|[1-9][0-9]*)|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"))
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
               r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+.0123456789"))


def format_of(path):
    """The store of a file, by its name: ``json`` for ``*.json``, else ``yaml`` (as sops)."""
    return "json" if str(path).endswith(".json") else "yaml"


def parse(text, fmt):
    """Python data of YAML (1.2 scalars) or JSON text; ValueError when it does not parse."""
    try:
        if fmt == "json":
            return json.loads(text)
        return yaml.load(text, Loader=_Yaml12Loader)  # noqa: S506 - a safe loader subclass
    except (ValueError, yaml.YAMLError) as exc:
        raise ValueError(f"not valid {fmt.upper()}: {exc}") from None


def dump(document, fmt):
    """YAML or JSON text of a document, keys in their order."""
    if fmt == "json":
        return json.dumps(document, indent=4, ensure_ascii=False) + "\n"
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False, allow_unicode=True,
                          width=1 << 16)


def is_sops_document(data):
    """Whether parsed data is a SOPS document: a ``sops`` mapping holding a ``mac``."""
    return isinstance(data, dict) and isinstance(data.get("sops"), dict) and "mac" in data["sops"]


def split(document):
    """(data, metadata) of a parsed SOPS document; ValueError when it is none or lacks what
    every SOPS document has."""
    if not isinstance(document, dict) or not isinstance(document.get("sops"), dict):
        raise ValueError("not a SOPS file (no 'sops' metadata section)")
    meta = document["sops"]
    for field in ("mac", "lastmodified"):
        if not meta.get(field):
            raise ValueError(f"SOPS metadata has no '{field}'")
    return {k: v for k, v in document.items() if k != "sops"}, meta
