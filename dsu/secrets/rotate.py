"""`dsu secrets rotate`, `add-recipient`, `remove-recipient`: re-encrypt SOPS files with a new
data key, the values unchanged.

Everything but the recipients is taken from the file's own metadata (key groups, Shamir
threshold, selector, mac_only_encrypted), so a rotated file is encrypted exactly as before with a
fresh data key. The new text is decrypted and compared with the old values before it replaces
the file (0600, atomically) whenever this machine holds one of the new recipients' keys. Each
command appends one entry to the audit log (dsu/secrets/audit.py) naming the files and their
recipients before and after; the data keys and values are never recorded.
"""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsu.errors import DsuError
from dsu.paths import replace_file
from dsu.secrets import sopsfile
from dsu.secrets.audit import append_audit
from dsu.secrets.keys import holds_one_of
from dsu.secrets.layout import Layout
from dsu.secrets.recipients import Groups, file_groups, union

# sops writes YAML comments as `#ENC[...]` lines; reading drops them, so a rewrite would too.
COMMENT_LINE = re.compile(r"^\s*#", re.MULTILINE)


@dataclass(frozen=True)
class Change:
    """A change of recipients: add or remove one PGP fingerprint or age recipient."""

    action: str  # add-recipient | remove-recipient
    kind: str  # pgp | age
    key: str
    group: int | None = None  # 1-based key group for add-recipient on multi-group files

    def apply(self, groups: Groups) -> Groups | None:
        """The new groups, or None when there is nothing to do for this file."""
        present = self.key in union(groups, self.kind)
        if self.action == "add-recipient":
            if present:
                return None
            if len(groups) > 1 and self.group is None:
                raise DsuError(f"the file has {len(groups)} key groups", "pass --group N (1-based)")
            index = (self.group or 1) - 1
            if not 0 <= index < len(groups):
                raise DsuError(f"no key group {index + 1}: the file has {len(groups)}")
            return [{**g, self.kind: [*g[self.kind], self.key]} if i == index else g
                    for i, g in enumerate(groups)]
        if not present:
            return None
        changed = [{**g, self.kind: [k for k in g[self.kind] if k != self.key]} for g in groups]
        for number, group in enumerate(changed, 1):
            if not group["pgp"] and not group["age"]:
                raise DsuError(f"removing {self.kind} {self.key} would leave key group {number} empty",
                               "add the replacement recipient first")
        return changed


@dataclass
class Outcome:
    path: Path
    before: Groups
    after: Groups | None  # None: file left as it was
    note: str = ""


def _encryption_args(meta: dict[str, Any], groups: Groups) -> dict[str, Any]:
    lib = sopsfile()
    args: dict[str, Any] = {s: meta[s] for s in lib.SELECTORS if meta.get(s)}
    args["mac_only_encrypted"] = bool(meta.get("mac_only_encrypted"))
    if len(groups) > 1:
        args["key_groups"] = groups
        args["shamir_threshold"] = meta.get("shamir_threshold") or len(groups)
    else:
        args["pgp"], args["age"] = groups[0]["pgp"], groups[0]["age"]
    return args


def rotate_file(path: Path, change: Change | None = None) -> Outcome:
    """Re-encrypt one SOPS file with a new data key (and *change* applied to its recipients)."""
    lib = sopsfile()
    fmt = lib.format_of(path)
    try:
        text = path.read_text(encoding="utf-8")
        document = lib.parse(text, fmt, str(path))
    except OSError as exc:
        raise DsuError(f"{path}: cannot read: {exc.strerror}") from None
    except lib.SopsError as exc:
        raise DsuError(str(exc).splitlines()[0]) from None
    if not lib.is_sops_document(document):
        raise DsuError(f"{path}: not a SOPS file", "encrypt it first: dsu secrets encrypt FILE")
    meta = document["sops"]
    others = [k for k in lib.UNSUPPORTED_KEY_TYPES if meta.get(k)]
    if others:
        raise DsuError(f"{path}: has {', '.join(others)} keys, which dsu cannot encrypt to",
                       "rotate it with sops rotate")
    before = file_groups(meta)
    after = change.apply(before) if change else before
    if after is None:
        state = "already" if change and change.action == "add-recipient" else "not"
        return Outcome(path, before, None, f"{change and change.kind} {change and change.key} is "
                                           f"{state} a recipient")
    if fmt == "yaml" and COMMENT_LINE.search(text):
        raise DsuError(f"{path}: has comments, which dsu cannot carry over",
                       "remove the comments, or rotate with sops rotate")
    try:
        plain = lib.decrypt_document(document, str(path))
        new_text = lib.encrypt_data(plain, fmt, **_encryption_args(meta, after))
        verified = holds_one_of(after)
        if verified and lib.decrypt_text(new_text, fmt, str(path)) != plain:
            raise DsuError(f"{path}: the re-encrypted file does not decrypt to the same values; "
                           "left unchanged")
    except lib.SopsError as exc:
        raise DsuError(str(exc).splitlines()[0]) from None
    replace_file(path, new_text, 0o600)
    return Outcome(path, before, after, "" if verified else
                   "not verified here: no key of the new recipients is held on this machine")


def run(layout: Layout, files: list[Path], every: bool, change: Change | None = None) -> int:
    """Rotate (or change recipients of) *files*, or with *every* all SOPS files of provider.yaml's
    targets; report each file; one audit entry for the files changed. 1 when a file failed."""
    action = change.action if change else "rotate"
    if every == bool(files):
        raise DsuError(f"{action}: name FILE(s) or pass --all, not both or neither")
    if every:
        files = layout.files("sops")
        if not files:
            raise DsuError(f"no SOPS files in the targets of {layout.relative(layout.provider_file)}")
    changed, failed = [], 0
    for path in files:
        where = layout.relative(path)
        try:
            outcome = rotate_file(path, change)
        except DsuError as exc:
            failed += 1
            print(f"FAILED {where}: {exc.one_line()}")
            continue
        if outcome.after is None:
            print(f"unchanged {where}: {outcome.note}")
            continue
        changed.append({"path": where, "recipients_before": outcome.before,
                        "recipients_after": outcome.after})
        counts = ", ".join(f"{kind} {len(union(outcome.after, kind))}" for kind in ("pgp", "age"))
        print(f"rotated {where}: new data key; recipients {counts}"
              + (f" ({outcome.note})" if outcome.note else ""))
    if changed:
        details = {"recipient": {change.kind: change.key}} if change else {}
        append_audit(layout, action, changed, **details)
        print(f"{layout.relative(layout.audit_log)}: recorded {len(changed)} file(s); "
              "commit it with them")
    print(f"{action}: {len(changed)} rotated, {len(files) - len(changed) - failed} unchanged, "
          f"{failed} failed")
    return 1 if failed else 0
