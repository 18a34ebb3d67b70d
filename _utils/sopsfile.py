"""
SOPS documents (getsops/sops 3.x format) decrypted and encrypted in Python, no ``sops`` binary:
the document layer, and the one module the sops renderer and ``dsu`` call.

What the format is, as implemented here and in the sibling files this module loads:

- every leaf value the selectors mark for encryption is
  ``ENC[AES256_GCM,data:…,iv:…,tag:…,type:str|int|float|bool|bytes|time|comment]``: AES-256-GCM
  under the file's 32-byte data key, a 32-byte nonce, and as additional data the key path joined
  with ``:`` plus a trailing ``:`` (list items share their parent's path). Empty values stay empty
  (``sops_cipher.py``);
- the MAC is SHA-512 over the plaintext of every leaf in document order (only the encrypted ones,
  after a fixed 32-byte prefix, with ``mac_only_encrypted``), upper-case hex, itself encrypted under
  the data key with ``lastmodified`` as additional data (here);
- the data key is encrypted to each recipient by that recipient's key source, PGP through GnuPG
  or age through pyrage (``sops_keys.py``). With several ``key_groups`` it is split by Shamir's
  scheme over GF(2^8) and each group holds one share; ``shamir_threshold`` shares recover it
  (``sops_shamir.py``).

Comments are not part of the MAC; YAML comments are dropped on reading (the decrypted result is
the data). YAML is read with YAML 1.2 scalars (``yes`` is a string), as sops reads it, so the MAC
of unencrypted values matches (``sops_store.py``).

Keys are found as sops finds them: GnuPG through ``GNUPGHOME`` (or the default home), age
identities in ``SOPS_AGE_KEY``, ``SOPS_AGE_KEY_FILE`` or ``~/.config/sops/age/keys.txt``; callers
may pass either instead.

The siblings are loaded by path from this file's directory: Salt's loader gives a utils module no
``__utils__`` and no package to import from, and wherever this file is (the loader's extension
dir, a salt-ssh target, a minion after ``saltutil.sync_utils``, ``dsu``), salt ships ``_utils/*.py``
flat, so they are beside it. Their errors are ValueError; the document functions here raise
SopsError naming the source. The key helpers re-exported from ``sops_keys`` raise as there
(ValueError, and OSError for a key file), and load nothing heavy until a key is used.
"""

import datetime
import hashlib
import hmac
import importlib.util
import os
import re

DEFAULT_UNENCRYPTED_SUFFIX = "_unencrypted"
# sops prefixes the MAC input with these bytes when it covers only encrypted values, so the two
# kinds of MAC can never be equal.
MAC_ONLY_ENCRYPTED_PREFIX = bytes.fromhex(
    "8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69")
SELECTORS = ("unencrypted_suffix", "encrypted_suffix", "unencrypted_regex", "encrypted_regex")
UNSUPPORTED_SELECTORS = ("unencrypted_comment_regex", "encrypted_comment_regex")
WRITER_VERSION = "3.11.0"


class SopsError(Exception):
    """A SOPS document that cannot be read, decrypted or verified; the message names the source."""


def _sibling(name):
    """``<name>.py`` beside this file, under a private module name (each copy of this module
    loads its own, so a reloaded sopsfile never runs stale siblings)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"_sopsfile_{name}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"sopsfile: no {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_store = _sibling("sops_store")
_cipher = _sibling("sops_cipher")
_keys = _sibling("sops_keys")
_shamir = _sibling("sops_shamir")

# What callers use, from where it lives (raising as there).
dump = _store.dump
format_of = _store.format_of
is_sops_document = _store.is_sops_document
encrypt_value = _cipher.encrypt_value
decrypt_value = _cipher.decrypt_value
shamir_split = _shamir.split
shamir_combine = _shamir.combine
gnupg_home = _keys.gnupg_home
age_key_file_candidates = _keys.age_key_file_candidates
age_identities = _keys.age_identities
parse_age_identities = _keys.parse_age_identities
age_recipient = _keys.age_recipient
decrypt_age = _keys.decrypt_age
UNSUPPORTED_KEY_TYPES = _keys.UNSUPPORTED


# --- documents -------------------------------------------------------------------------------


class _Rules:
    """Which key paths are encrypted, from the document's selectors (one at most, as sops)."""

    def __init__(self, meta):
        present = [s for s in SELECTORS if meta.get(s)]
        unsupported = [s for s in UNSUPPORTED_SELECTORS if meta.get(s)]
        if unsupported:
            raise ValueError(f"{unsupported[0]} is not supported by this reader")
        if len(present) > 1:
            raise ValueError(f"more than one selector set: {', '.join(present)}")
        self.kind, self.value = (present[0], meta[present[0]]) if present else (None, None)
        try:
            self.pattern = re.compile(self.value) if self.kind and self.kind.endswith("regex") else None
        except re.error as exc:
            raise ValueError(f"bad selector regex: {exc}") from None

    def encrypted(self, path):
        if self.kind == "unencrypted_suffix":
            return not any(k.endswith(self.value) for k in path)
        if self.kind == "encrypted_suffix":
            return any(k.endswith(self.value) for k in path)
        if self.kind == "unencrypted_regex":
            return not any(self.pattern.search(k) for k in path)
        if self.kind == "encrypted_regex":
            return any(self.pattern.search(k) for k in path)
        return True


def _rules(meta, source):
    try:
        return _Rules(meta)
    except ValueError as exc:
        raise SopsError(f"{source}: {exc}") from None


def _walk(node, path, leaf):
    """A copy of *node* with *leaf(value, path)* applied to every leaf, in document order."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if not isinstance(key, str):
                raise SopsError(f"key {key!r} at {_where(path)} is not a string")
            out[key] = _walk(value, [*path, key], leaf)
        return out
    if isinstance(node, list):
        return [_walk(item, path, leaf) for item in node]
    if node is None:
        return None
    return leaf(node, path)


def _where(path):
    return ":".join(path) or "(top)"


def _aad(path):
    return ":".join(path) + ":"


def _mac_hash(mac_only_encrypted):
    digest = hashlib.sha512()
    if mac_only_encrypted:
        digest.update(MAC_ONLY_ENCRYPTED_PREFIX)
    return digest


def _mac_input(value, source, path):
    try:
        return _cipher.plain_bytes(value)[0]
    except ValueError as exc:
        raise SopsError(f"{source}: value at {_where(path)}: {exc}") from None


def decrypt_document(document, source="document", gnupg_home=None, age_identities=None):
    """
    Decrypt a parsed SOPS document (a dict with a ``sops`` section); return the plaintext data
    without the metadata. Verifies the MAC. Raises SopsError naming *source* (and the key path
    where one value is at fault).
    """
    try:
        tree, meta = _store.split(document)
    except ValueError as exc:
        raise SopsError(f"{source}: {exc}") from None
    rules = _rules(meta, source)
    key = data_key(meta, source, gnupg_home, age_identities)
    mac_only = bool(meta.get("mac_only_encrypted"))
    digest = _mac_hash(mac_only)

    def leaf(value, path):
        encrypted = rules.encrypted(path)
        if encrypted:
            try:
                value = _cipher.decrypt_value(value, key, _aad(path))
            except ValueError as exc:
                raise SopsError(f"{source}: value at {_where(path)}: {exc}") from None
        if encrypted or not mac_only:
            digest.update(_mac_input(value, source, path))
        return value

    plain = _walk(tree, [], leaf)
    lastmodified = meta["lastmodified"]
    if isinstance(lastmodified, datetime.datetime):
        lastmodified = _cipher.rfc3339(lastmodified)
    try:
        stored = _cipher.decrypt_value(meta["mac"], key, str(lastmodified))
    except ValueError as exc:
        raise SopsError(f"{source}: MAC cannot be read ({exc}): the file or its lastmodified was "
                        "altered") from None
    if not hmac.compare_digest(str(stored), digest.hexdigest().upper()):
        raise SopsError(f"{source}: MAC mismatch: the file was altered after it was encrypted")
    return plain


def parse(text, fmt, source="document"):
    """Parse YAML (1.2 scalars) or JSON text into Python data; SopsError when it does not parse."""
    try:
        return _store.parse(text, fmt)
    except ValueError as exc:
        raise SopsError(f"{source}: {exc}") from None


def decrypt_text(text, fmt, source="document", gnupg_home=None, age_identities=None):
    """Decrypt a SOPS document given as text (``fmt``: yaml or json)."""
    return decrypt_document(parse(text, fmt, source), source, gnupg_home, age_identities)


def decrypt_file(path, gnupg_home=None, age_identities=None):
    """Decrypt a SOPS file; the format comes from the extension (.json, else YAML)."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise SopsError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SopsError(f"{path} is not UTF-8 text: not a SOPS file") from None
    return decrypt_text(text, format_of(path), str(path), gnupg_home, age_identities)


# --- data keys -------------------------------------------------------------------------------


def _key_groups(meta):
    """The key groups of a document: ``key_groups``, or the one group sops writes flat."""
    return meta.get("key_groups") or [{field: meta.get(field) for field in _keys.fields()}]


def _unsupported(group):
    """The key types a group uses that no key source here handles (kms, gcp_kms …)."""
    known = {source.field for source in _keys.SOURCES}
    return sorted(field for field, entries in group.items() if entries and field not in known)


def _group_part(group, context):
    """The data key (or Shamir share) held by one key group: the first entry a key here opens."""
    errors = []
    for source in _keys.SOURCES:
        for entry in group.get(source.field) or []:
            try:
                return source.decrypt(entry, context)
            except ValueError as exc:
                errors.append(f"{source.kind} {source.recipient_of(entry)}: {exc}")
    others = _unsupported(group)
    if others:
        errors.append(f"key types not supported here: {', '.join(others)}")
    raise ValueError("; ".join(errors) or "the key group is empty")


def data_key(meta, source="document", gnupg_home=None, age_identities=None):
    """Recover the 32-byte data key from a document's metadata with the keys available here."""
    context = _keys.KeyContext(gnupg_home, age_identities)
    groups = _key_groups(meta)
    parts, errors = [], []
    for index, group in enumerate(groups):
        try:
            parts.append(_group_part(group or {}, context))
        except ValueError as exc:
            errors.append(f"group {index + 1}: {exc}" if len(groups) > 1 else str(exc))
    if len(groups) == 1:
        if not parts:
            raise SopsError(f"{source}: no key here can decrypt the data key ({errors[0]})")
        key = parts[0]
    else:
        threshold = int(meta.get("shamir_threshold") or len(groups))
        if len(parts) < threshold:
            raise SopsError(f"{source}: {len(parts)} of {len(groups)} key groups decrypted, "
                            f"{threshold} needed ({'; '.join(errors)})")
        try:
            key = _shamir.combine(parts)
        except ValueError as exc:
            raise SopsError(f"{source}: {exc}") from None
    if len(key) != 32:
        raise SopsError(f"{source}: the data key is {len(key)} bytes, not 32")
    return key


def _encrypt_share(group, share, context):
    """The metadata of one key group: *share* encrypted to each of its recipients."""
    others = _unsupported(group)
    if others:
        raise SopsError(f"key types not supported here: {', '.join(others)}")
    out = {}
    for source in _keys.SOURCES:
        entries = []
        for recipient in group.get(source.field) or []:
            try:
                entries.append(source.encrypt(share, recipient, context))
            except ValueError as exc:
                raise SopsError(f"cannot encrypt the data key to {source.kind} key {recipient}: "
                                f"{exc}") from None
        if entries:
            out[source.field] = entries
    if not out:
        kinds = " or ".join(source.kind for source in _keys.SOURCES)
        raise SopsError(f"a key group needs at least one {kinds} recipient")
    return out


# --- encryption ------------------------------------------------------------------------------


def encrypt_data(data, fmt="yaml", pgp=(), age=(), unencrypted_suffix=None, encrypted_suffix=None,
                 unencrypted_regex=None, encrypted_regex=None, mac_only_encrypted=False,
                 key_groups=None, shamir_threshold=None, gnupg_home=None, data_key_bytes=None):
    """
    Encrypt *data* (a mapping) as a SOPS document and return its text (YAML or JSON). Recipients:
    *pgp* fingerprints and *age* recipients, or *key_groups* ([{pgp: [...], age: [...]}, ...])
    with *shamir_threshold*. At most one selector; none means ``unencrypted_suffix:
    _unencrypted`` as with sops. *data_key_bytes* keeps a data key (rotation passes none).
    """
    if not isinstance(data, dict):
        raise SopsError("only a mapping can be encrypted as a SOPS document")
    if "sops" in data:
        raise SopsError("the data already has a 'sops' key: is it encrypted already?")
    chosen = {k: v for k, v in (("unencrypted_suffix", unencrypted_suffix),
                                ("encrypted_suffix", encrypted_suffix),
                                ("unencrypted_regex", unencrypted_regex),
                                ("encrypted_regex", encrypted_regex)) if v}
    if len(chosen) > 1:
        raise SopsError(f"give at most one selector, not {', '.join(chosen)}")
    meta_rules = chosen or {"unencrypted_suffix": DEFAULT_UNENCRYPTED_SUFFIX}
    rules = _rules(meta_rules, "selector")
    groups = key_groups or [{"pgp": list(pgp), "age": list(age)}]
    key = data_key_bytes or os.urandom(32)
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    threshold = int(shamir_threshold or len(groups))
    try:
        shares = _shamir.split(key, len(groups), threshold) if len(groups) > 1 else [key]
    except ValueError as exc:
        raise SopsError(f"key groups: {exc}") from None
    context = _keys.KeyContext(gnupg_home, now=now)
    encrypted_groups = [_encrypt_share(g, s, context) for g, s in zip(groups, shares, strict=True)]
    digest = _mac_hash(mac_only_encrypted)

    def leaf(value, path):
        encrypted = rules.encrypted(path)
        if encrypted or not mac_only_encrypted:
            digest.update(_mac_input(value, "data", path))
        return _cipher.encrypt_value(value, key, _aad(path)) if encrypted else value

    tree = _walk(data, [], leaf)
    meta = {}
    if len(groups) > 1:
        meta["key_groups"] = encrypted_groups
        meta["shamir_threshold"] = threshold
    else:
        meta.update(encrypted_groups[0])
    meta["lastmodified"] = now
    meta["mac"] = _cipher.encrypt_value(digest.hexdigest().upper(), key, now)
    meta.update(meta_rules)
    if mac_only_encrypted:
        meta["mac_only_encrypted"] = True
    meta["version"] = WRITER_VERSION
    return dump({**tree, "sops": meta}, fmt)
