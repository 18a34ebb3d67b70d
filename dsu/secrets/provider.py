"""The one model of ``pillar/secrets/provider.yaml``: which encrypted pillar the hosts get.

``pillar/top.sls`` reads the same file in Jinja to target the files; on the Python side this is
the only reader (preflight, migrate, rotate). The file says:

- ``provider``: ``gpg`` (GPG pillar only), ``dual`` (both compiled, GPG wins) or ``sops``;
- ``targets``: per minion glob, the SLS names of each kind, ``{gpg: [SLS, ...], sops: [SLS, ...]}``;
- ``required``: secret names every host must have under ``secrets:values``.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dsu import yamlread
from dsu.errors import DsuError, Problem, one_line
from dsu.paths import replace_file

PROVIDER_FILE = Path("secrets") / "provider.yaml"  # under a pillar root
PROVIDERS = ("gpg", "dual", "sops")
KINDS = ("gpg", "sops")
SHAPE = "{gpg: [SLS, ...], sops: [SLS, ...]}"
# The one top-level `provider:` line; the rest of the line (a comment) is kept on an edit.
PROVIDER_LINE = re.compile(r"^provider:[ \t]*(?P<value>[^\s#]*)(?P<rest>.*)$", re.MULTILINE)


@dataclass
class ProviderConfig:
    """provider.yaml as read, with what is wrong with its shape. Malformed target entries are
    reported and left out of *targets*, so the well-formed rest can still be checked."""

    path: Path
    provider: object = None
    targets: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    required: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def files(self, kind: str | None = None) -> list[tuple[str, str]]:
        """(kind, SLS name) of every file listed for any target, each once, in the file's order;
        only *kind*'s when given."""
        found: dict[tuple[str, str], None] = {}
        for lists in self.targets.values():
            for each in KINDS:
                if kind in (None, each):
                    found.update(dict.fromkeys((each, name) for name in lists[each]))
        return list(found)


def _targets(raw: dict, where: str) -> tuple[dict[str, dict[str, list[str]]], list[Problem]]:
    targets: dict[str, dict[str, list[str]]] = {}
    problems = []
    for target, kinds in raw.items():
        if not isinstance(kinds, dict):
            problems.append(Problem(where, f"targets:{target} must be a mapping {SHAPE}"))
            continue
        lists: dict[str, list[str]] = {kind: [] for kind in KINDS}
        for kind, names in kinds.items():
            if kind not in KINDS:
                problems.append(Problem(where, f"targets:{target}:{kind}: unknown kind (gpg or sops)"))
            elif not isinstance(names, list) or not all(isinstance(n, str) for n in names or []):
                problems.append(Problem(where, f"targets:{target}:{kind} must be a list of SLS names"))
            else:
                lists[kind] = list(names)
        targets[str(target)] = lists
    return targets, problems


def read(roots: list[Path]) -> ProviderConfig:
    """provider.yaml from the first pillar root that has it; never raises: every shape problem
    is in the result's *problems* (file named, never a value)."""
    path = next((root / PROVIDER_FILE for root in roots if (root / PROVIDER_FILE).is_file()), None)
    if path is None:
        missing = roots[0] / PROVIDER_FILE
        return ProviderConfig(missing, problems=[Problem(str(missing), "missing: pillar/top.sls imports it")])
    where = str(path)
    try:
        data = yamlread.load_file(path)
    except (OSError, yaml.YAMLError) as exc:
        return ProviderConfig(path, problems=[Problem(where, f"cannot read: {one_line(str(exc))}")])
    if not isinstance(data, dict):
        return ProviderConfig(path, problems=[Problem(where, "is not a YAML mapping")])
    config = ProviderConfig(path, data.get("provider"))
    if config.provider not in PROVIDERS:
        config.problems.append(Problem(where, f"provider must be one of {', '.join(PROVIDERS)}"))
    raw_targets = data.get("targets") or {}
    if not isinstance(raw_targets, dict):
        config.problems.append(Problem(where, f"targets must be a mapping of minion glob to {SHAPE}"))
        raw_targets = {}
    required = data.get("required") or []
    if isinstance(required, list):
        config.required = [str(name) for name in required]
    else:
        config.problems.append(Problem(where, "required must be a list of secret names"))
    config.targets, shape = _targets(raw_targets, where)
    config.problems += shape
    return config


def load(roots: list[Path]) -> ProviderConfig:
    """provider.yaml for a command that changes files: DsuError on any problem of its shape."""
    config = read(roots)
    if config.problems:
        first = config.problems[0]
        more = f" (and {len(config.problems) - 1} more)" if len(config.problems) > 1 else ""
        raise DsuError(f"{first.line()}{more}", "dsu preflight lists every problem")
    return config


def find_sls(roots: list[Path], name: str) -> Path | None:
    """Where Salt finds SLS *name* (dots are directories; <name>.sls, else <name>/init.sls)."""
    relative = Path(*name.split("."))
    for root in roots:
        for candidate in (root / relative.with_name(relative.name + ".sls"), root / relative / "init.sls"):
            if candidate.is_file():
                return candidate
    return None


def sls_path(roots: list[Path], name: str) -> Path:
    """The file of SLS *name*: where Salt finds it, else where it would be written
    (``<first root>/a/b.sls``), so a missing file can be named."""
    return find_sls(roots, name) or roots[0].joinpath(*name.split(".")).with_suffix(".sls")


def set_provider(path: Path, provider: str, where: str | None = None) -> str:
    """Set ``provider:`` in the file at *path*, editing only that line; return the previous value."""
    where = where or str(path)
    if provider not in PROVIDERS:
        raise DsuError(f"unknown provider {provider!r}", f"one of {', '.join(PROVIDERS)}")
    text = path.read_text(encoding="utf-8")
    found = list(PROVIDER_LINE.finditer(text))
    if len(found) != 1:
        raise DsuError(f"{where}: expected one top-level 'provider:' line, found {len(found)}")
    match = found[0]
    previous = match["value"].strip("'\"")
    if previous == provider:
        return previous
    changed = f"{text[:match.start()]}provider: {provider}{match['rest']}{text[match.end():]}"
    if (yamlread.load(changed) or {}).get("provider") != provider:
        raise DsuError(f"{where}: the edited file would not say provider: {provider}")
    replace_file(path, changed, path.stat().st_mode & 0o7777)
    return previous
