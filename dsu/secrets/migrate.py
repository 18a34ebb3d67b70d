"""`dsu secrets migrate`: prove the GPG → SOPS cutover criteria, then switch the pillar provider.

The criteria (docs/deployment/SOPS_MIGRATION_GUIDE.md), each problem tagged with its letter:
  a. per target of provider.yaml, its GPG files and its SOPS files hold the same key paths with
     equal values (compared merged, as the pillar merges them);
  b. every file is encrypted to every operator key of its `.sops.yaml` creation rule and to no
     other key; every such key this machine holds (GNUPGHOME, age identities) opens it;
  c. every file of both providers exists, parses and decrypts here.
Every problem is reported, not just the first. Reports name files, key paths and key ids, never a
value.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsu.errors import DsuError, Problem, one_line
from dsu.secrets import sopsfile
from dsu.secrets.audit import append_audit
from dsu.secrets.keys import HeldKeys
from dsu.secrets.layout import Layout
from dsu.secrets.pillartext import key_path, read_gpg
from dsu.secrets.provider import KINDS
from dsu.secrets.recipients import Groups, file_groups, normal_fingerprint, rule_groups, union


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)

    def fail(self, criterion: str, where: str, what: str) -> None:
        """A problem under *criterion*: a, b or c (see the module docstring)."""
        self.problems.append(Problem(where, what, criterion))

    def lines(self, gates: str = "abc") -> list[str]:
        """Problems (FAIL when they block *gates*, todo otherwise), or what passed when none."""
        ordered = sorted(self.problems, key=lambda p: p.criterion)
        return [f"{'FAIL' if p.criterion in gates else 'todo'} [{p.criterion}] {p.line()}"
                for p in ordered] or self.passed


def flatten(node: Any, keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """{key path "a:b:0": leaf}; empty mappings and lists count as leaves."""
    if isinstance(node, dict | list) and (node or not keys):
        items = node.items() if isinstance(node, dict) else enumerate(node)
        return {p: v for k, child in items for p, v in flatten(child, (*keys, str(k))).items()}
    return {key_path(keys): node}


def merge(base: Any, extra: Any) -> Any:
    """Pillar's default merge: mappings recursively, anything else replaced by the later file."""
    if isinstance(base, dict) and isinstance(extra, dict):
        out = dict(base)
        for key, value in extra.items():
            out[key] = merge(out[key], value) if key in out else value
        return out
    return extra


def compare(gpg: dict[str, Any], sops: dict[str, Any]) -> list[str]:
    """What differs between two flattened pillars, by key path only."""
    found = []
    for key in sorted(set(gpg) | set(sops)):
        if key not in sops:
            found.append(f"{key}: in gpg, missing in sops")
        elif key not in gpg:
            found.append(f"{key}: in sops, missing in gpg")
        elif type(gpg[key]) is not type(sops[key]):
            found.append(f"{key}: value types differ (gpg {type(gpg[key]).__name__}, "
                         f"sops {type(sops[key]).__name__})")
        elif gpg[key] != sops[key]:
            found.append(f"{key}: values differ")
    return found


def _check_sops_keys(report: Report, where: str, meta: dict[str, Any], keys: HeldKeys,
                     operators: Groups) -> list[str]:
    """Recipients against the operator keys; each held key opens its own data-key entry (and,
    with one key group, that entry is the file's data key). Returns the keys that opened it."""
    lib = sopsfile()
    groups = file_groups(meta)
    for kind in ("pgp", "age"):
        for key in sorted(union(operators, kind) - union(groups, kind)):
            report.fail("b", where, f"operator {kind} key {key} is not a recipient")
        for key in sorted(union(groups, kind) - union(operators, kind)):
            report.fail("b", where, f"recipient {kind} key {key} is not an operator key in .sops.yaml")
    if len(groups) != len(operators):
        report.fail("b", where, f"{len(groups)} key group(s), the creation rule has {len(operators)}")
    try:
        data_key = lib.data_key(meta, where) if len(groups) == 1 else None
    except lib.SopsError:
        data_key = None  # reported under c
    opened = []
    for group in meta.get("key_groups") or [meta]:
        for entry in group.get("pgp") or []:
            fingerprint = normal_fingerprint(str(entry.get("fp", "")))
            if fingerprint in keys.secret:
                result = keys.gpg.decrypt(entry.get("enc", ""))
                opened.append((f"pgp {fingerprint}", result.data if result.ok else None))
        for entry in group.get("age") or []:
            identity = keys.age.get(str(entry.get("recipient", "")))
            if identity:
                try:
                    part = lib.decrypt_age(entry.get("enc", ""), [identity])
                except ValueError:
                    part = None
                opened.append((f"age {entry['recipient']}", part))
    for name, part in opened:
        if part is None:
            report.fail("b", where, f"held key {name} does not open its data-key entry")
        elif data_key is not None and part != data_key:
            report.fail("b", where, f"held key {name} opens a different data key than the file's")
    return [name for name, part in opened if part is not None]


def _check_gpg_keys(report: Report, where: str, messages: dict[str, list[str]], keys: HeldKeys,
                    operators: Groups) -> list[str]:
    """Every armored value encrypted to every operator PGP key (by key or subkey id) and to no
    other key. Returns the held operator keys among its recipients."""
    fingerprints = sorted(union(operators, "pgp"))
    if not fingerprints:
        report.fail("b", where, "the creation rule for this file names no PGP key")
        return []
    ids = {fp: keys.key_ids(fp) for fp in fingerprints}
    for fp in fingerprints:
        if not ids[fp]:
            report.fail("b", where, f"public key {fp} is not in GNUPGHOME: cannot check recipients")
    known = set().union(*ids.values())
    for keypath, blocks in sorted(messages.items()):
        for block in blocks:
            recipients = {r.upper() for r in keys.gpg.get_recipients(block)}
            for fp in fingerprints:
                if ids[fp] and not ids[fp] & recipients:
                    report.fail("b", where, f"value at {keypath} is not encrypted to operator key {fp}")
            for key_id in sorted(recipients - known):
                report.fail("b", where, f"value at {keypath} is encrypted to {keys.describe(key_id)}, "
                                        "not an operator key")
    return [f"pgp {fp}" for fp in fingerprints if fp in keys.secret]


def _decrypt_sops(report: Report, where: str, path: Path) -> tuple[Any, dict[str, Any] | None]:
    """(data, metadata) of a SOPS file; None for what could not be had (reported under c)."""
    lib = sopsfile()
    try:
        document = lib.parse(path.read_text(encoding="utf-8"), lib.format_of(path), where)
    except (OSError, UnicodeDecodeError, lib.SopsError) as exc:
        report.fail("c", where, one_line(exc).removeprefix(f"{where}: "))
        return None, None
    if not lib.is_sops_document(document):
        report.fail("c", where, "not a SOPS file (no 'sops' metadata section)")
        return None, None
    try:
        return lib.decrypt_document(document, where), document["sops"]
    except lib.SopsError as exc:
        report.fail("c", where, one_line(exc).removeprefix(f"{where}: "))
        return None, document["sops"]


def _check_file(report: Report, layout: Layout, kind: str, path: Path,
                keys: HeldKeys) -> tuple[bool, Any]:
    """Criteria b and c for one file: (whether it decrypted, its data)."""
    where = layout.relative(path)
    if not path.is_file():
        report.fail("c", where, "listed in provider.yaml targets but missing")
        return False, None
    before = len(report.problems)
    try:
        operators: Groups | None = rule_groups(layout, path)
    except DsuError as exc:
        report.fail("b", where, exc.message)
        operators = None
    if kind == "gpg":
        try:
            reading = read_gpg(path.read_text(encoding="utf-8"), keys.gpg,
                               keys.gpg.gnupghome or "the default GnuPG home")
            data, messages, errors = reading.data, reading.messages, reading.errors
        except (OSError, UnicodeDecodeError) as exc:
            data, messages, errors = None, {}, [one_line(exc)]
        for error in errors:
            report.fail("c", where, error)
        decrypted = not errors
        opened = _check_gpg_keys(report, where, messages, keys, operators) if operators else []
    else:
        data, meta = _decrypt_sops(report, where, path)
        decrypted = data is not None
        opened = _check_sops_keys(report, where, meta, keys, operators) if meta and operators else []
    if len(report.problems) == before and operators:
        count = len(union(operators, "pgp")) + (len(union(operators, "age")) if kind == "sops" else 0)
        held = "each opened its data-key entry" if kind == "sops" else "held here"
        report.passed.append(f"ok [b,c] {where} ({kind}): decrypts here; encrypted to all {count} "
                             "operator key(s) of .sops.yaml and no other"
                             + (f"; {held}: {', '.join(opened)}" if opened else ""))
    return decrypted, data


def check(layout: Layout, gnupg_home: str | None = None,
          age_identities: list[str] | None = None) -> Report:
    """Prove criteria a, b and c for every file in provider.yaml's targets."""
    import gnupg  # noqa: PLC0415

    report = Report()
    config = layout.config()
    targets = layout.targets(config)
    if not any(files for lists in targets.values() for files in lists.values()):
        report.fail("a", layout.relative(layout.provider_file),
                    "no encrypted pillar files in targets: nothing proves the cutover")
        return report
    keys = HeldKeys(gnupg.GPG(gnupghome=gnupg_home or None), age_identities)
    data = {path: _check_file(report, layout, kind, path, keys)
            for kind in KINDS for path in layout.files(kind, config)}
    for target, lists in targets.items():
        where = f"target {target!r}"
        missing = [kind for kind in KINDS if not lists[kind]]
        undecrypted = [kind for kind in KINDS if not all(data[p][0] for p in lists[kind])]
        if missing or undecrypted:
            report.fail("a", where, f"not compared: {' and '.join(missing)} files missing" if missing
                        else f"not compared: a {' and a '.join(undecrypted)} file did not decrypt")
            continue
        gpg, sops = (flatten(_merge_all(data[p][1] for p in lists[kind])) for kind in KINDS)
        differences = compare(gpg, sops)
        for difference in differences:
            report.fail("a", where, difference)
        if not differences:
            report.passed.insert(0, f"ok [a] {where}: {len(gpg)} key paths, equal in gpg and sops")
    return report


def _merge_all(documents: Any) -> Any:
    merged: Any = {}
    for document in documents:
        merged = merge(merged, document)
    return merged


def migrate(layout: Layout, action: str) -> int:
    """--check, --dual, --apply or --rollback; prints what it proved or changed."""
    gates = {"check": "abc", "dual": "c", "apply": "abc", "rollback": ""}[action]
    if gates:
        report = check(layout)
        blocking = [p for p in report.problems if p.criterion in gates]
        for line in report.lines(gates):
            print(line)
        if blocking:
            print(f"migrate --{action}: {len(blocking)} problem(s); "
                  + ("the cutover criteria do not hold" if action != "dual" else
                     "every file must parse and decrypt before the dual phase")
                  + ("; provider unchanged" if action != "check" else ""))
            return 1
        if action == "check":
            print("migrate --check: all cutover criteria hold")
            return 0
    target = {"dual": "dual", "apply": "sops", "rollback": "gpg"}[action]
    previous = layout.set_provider(target)
    where = layout.relative(layout.provider_file)
    if previous == target:
        print(f"{where}: provider is already {target}; nothing changed")
        return 0
    append_audit(layout, "provider", [{"path": where}], provider={"before": previous, "after": target})
    print(f"{where}: provider {previous} -> {target}")
    print(f"{layout.relative(layout.audit_log)}: recorded; commit both files together")
    return 0
