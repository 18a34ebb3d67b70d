"""
The SOPS stores: a document as YAML or JSON text, and a parsed document split into its data and
its ``sops`` metadata. Loaded by ``sopsfile.py`` (see there); raises ValueError, which the façade
names the source in.

YAML is read with YAML 1.2 core scalars, as sops reads it: ``yes`` is a string, so the MAC over
values left in clear matches the one sops computed.

A document is read within bounds (size, YAML aliases, nesting), so a hostile one is refused in
well under a second rather than read for minutes; ``dsu`` reads pillar and config YAML within the
same bounds (``dsu/yamlread.py``). PyYAML shares an aliased node instead of copying it, so parsing
an alias bomb ("billion laughs") is quick: the cost comes afterwards, in every reader that walks
the data (MAC, decryption, key paths), which meets a shared node once per path to it. So the
alias bounds count what such a walk would meet. They are checked on the parser's events, before
anything is composed: PyYAML's C composer recurses per nesting level and crashes the process on
a deep enough document, and libyaml's parser slows quadratically with nesting depth.
"""

import json
import re

import yaml

_BASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVED_HERE = ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")

# The bounds, read at each call (each loaded copy of this module has its own). Real pillar and
# SOPS files are far inside all of them: kilobytes, a handful of anchors, a dozen levels deep.
MAX_BYTES = 4 * 1024 * 1024  # a document larger than this is refused unread
MAX_ALIASES = 100  # alias events in one stream
MAX_ALIAS_NODES = 100_000  # nodes all the aliases together stand for, as a walk of the data meets them
MAX_DEPTH = 100  # collections nested in one another


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


class LimitError(ValueError):
    """A document over one of the bounds, refused before it is read; the message names the bound
    and, for YAML, the line and column (never a value)."""


def check_size(size):
    """LimitError when a document of *size* bytes is over MAX_BYTES."""
    if size > MAX_BYTES:
        raise LimitError(f"{size} bytes, over the limit of {MAX_BYTES} bytes: refused unread")


def _where(event):
    return f"line {event.start_mark.line + 1}, column {event.start_mark.column + 1}"


class _Tally:
    """What a walk of the data would meet, counted from the parser's events as they come."""

    def __init__(self):
        self.aliases = 0
        self.alias_nodes = 0
        self.sizes = {}  # anchor -> nodes a walk meets in the anchored node
        self.open = []  # [anchor, nodes so far] of each collection being read, outermost first

    def add(self, anchor, nodes):
        """A node ended: *nodes* is what a walk meets in it (itself included)."""
        if anchor is not None:
            self.sizes[anchor] = nodes
        if self.open:
            self.open[-1][1] += nodes

    def start(self, event):
        if len(self.open) >= MAX_DEPTH:
            raise LimitError(f"nested deeper than the limit of {MAX_DEPTH} levels ({_where(event)}): "
                             "refused")
        self.open.append([event.anchor, 1])

    def end(self):
        anchor, nodes = self.open.pop()
        self.add(anchor, nodes)

    def alias(self, event):
        self.aliases += 1
        if self.aliases > MAX_ALIASES:
            raise LimitError(f"over the limit of {MAX_ALIASES} YAML aliases ({_where(event)}): refused, "
                             "as an alias bomb would be")
        if any(anchor == event.anchor for anchor, _ in self.open):
            raise LimitError(f"a YAML alias inside the node it names ({_where(event)}): refused, a "
                             "recursive structure has no end for a reader to walk to")
        nodes = self.sizes.get(event.anchor, 1)  # an undefined one: the composer will say so
        self.alias_nodes += nodes
        if self.alias_nodes > MAX_ALIAS_NODES:
            raise LimitError(f"YAML aliases standing for over the limit of {MAX_ALIAS_NODES} nodes "
                             f"({_where(event)}): refused, as an alias bomb would be")
        self.add(None, nodes)


def check_yaml(text, loader=_BASE_LOADER):
    """LimitError when YAML *text* is over a bound (aliases, what they stand for, nesting), found
    on *loader*'s events before anything is composed; yaml.YAMLError when it does not parse."""
    tally, parser = _Tally(), loader(text)
    try:
        while parser.check_event():
            event = parser.get_event()
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                tally.start(event)
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                tally.end()
            elif isinstance(event, yaml.ScalarEvent):
                tally.add(event.anchor, 1)
            elif isinstance(event, yaml.AliasEvent):
                tally.alias(event)
            elif isinstance(event, yaml.DocumentStartEvent):
                tally.sizes.clear()  # anchors do not cross documents
    finally:
        parser.dispose()


def format_of(path):
    """The store of a file, by its name: ``json`` for ``*.json``, else ``yaml`` (as sops)."""
    return "json" if str(path).endswith(".json") else "yaml"


def parse(text, fmt):
    """Python data of YAML (1.2 scalars) or JSON text; ValueError when it does not parse, and
    LimitError (a ValueError) when it is over a bound."""
    check_size(len(text.encode("utf-8", "surrogatepass")))
    try:
        if fmt == "json":
            return json.loads(text)
        check_yaml(text, _Yaml12Loader)
        return yaml.load(text, Loader=_Yaml12Loader)  # noqa: S506 - a safe loader subclass
    except LimitError:
        raise
    except (ValueError, RecursionError, yaml.YAMLError) as exc:  # RecursionError: JSON nested deeply
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
