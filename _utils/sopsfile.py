"""
SOPS documents (getsops/sops 3.x format) decrypted and encrypted in Python, no ``sops`` binary.

What the format is, as this module implements it:

- every leaf value the selectors mark for encryption is
  ``ENC[AES256_GCM,data:…,iv:…,tag:…,type:str|int|float|bool|bytes|time|comment]``: AES-256-GCM
  under the file's 32-byte data key, a 32-byte nonce, and as additional data the key path joined
  with ``:`` plus a trailing ``:`` (list items share their parent's path). Empty values stay empty;
- the MAC is SHA-512 over the plaintext of every leaf in document order (only the encrypted ones,
  after a fixed 32-byte prefix, with ``mac_only_encrypted``), upper-case hex, itself encrypted under
  the data key with ``lastmodified`` as additional data;
- the data key is encrypted to each recipient (PGP through GnuPG, age through pyrage). With
  several ``key_groups`` it is split by Shamir's scheme over GF(2^8) (x coordinate appended to
  each share) and each group holds one share; ``shamir_threshold`` shares recover it.

Comments are not part of the MAC; YAML comments are dropped on reading (the decrypted result is
the data). YAML is read with YAML 1.2 scalars (``yes`` is a string), as sops reads it, so the MAC
of unencrypted values matches.

Keys are found as sops finds them: GnuPG through ``GNUPGHOME`` (or the default home), age
identities in ``SOPS_AGE_KEY``, ``SOPS_AGE_KEY_FILE`` or ``~/.config/sops/age/keys.txt``.
"""

import base64
import datetime
import hashlib
import hmac
import json
import os
import re

import yaml
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

DEFAULT_UNENCRYPTED_SUFFIX = "_unencrypted"
# sops prefixes the MAC input with these bytes when it covers only encrypted values, so the two
# kinds of MAC can never be equal.
MAC_ONLY_ENCRYPTED_PREFIX = bytes.fromhex(
    "8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69")
SELECTORS = ("unencrypted_suffix", "encrypted_suffix", "unencrypted_regex", "encrypted_regex")
UNSUPPORTED_SELECTORS = ("unencrypted_comment_regex", "encrypted_comment_regex")
WRITER_VERSION = "3.11.0"

_TOKEN = re.compile(r"^ENC\[AES256_GCM,data:(?P<data>[^,]*),iv:(?P<iv>[^,]+),tag:(?P<tag>[^,]+),"
                    r"type:(?P<type>[a-z]+)\]$")
_AGE_ARMOR = ("-----BEGIN AGE ENCRYPTED FILE-----", "-----END AGE ENCRYPTED FILE-----")


class SopsError(Exception):
    """A SOPS document that cannot be read, decrypted or verified; the message names the source."""


# --- scalars ---------------------------------------------------------------------------------


def _go_float(value):
    """A float as Go's strconv.FormatFloat(v, 'f', -1, 64) writes it: shortest round-trip
    digits, never an exponent, no trailing '.0'."""
    text = repr(float(value))
    if "e" in text or "E" in text:
        mantissa, exponent = text.lower().split("e")
        digits = mantissa.replace("-", "").replace(".", "")
        point = (mantissa.replace("-", "").index(".") if "." in mantissa else len(digits))
        point += int(exponent)
        if point <= 0:
            text = "0." + "0" * -point + digits
        elif point >= len(digits):
            text = digits + "0" * (point - len(digits))
        else:
            text = digits[:point] + "." + digits[point:]
        text = ("-" if mantissa.startswith("-") else "") + text
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _rfc3339(moment):
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    text = moment.isoformat()
    return text.replace("+00:00", "Z")


def _plain_bytes(value):
    """(bytes, sops type name) of a leaf value, as sops serialises it for encryption."""
    if isinstance(value, bool):
        return (b"True" if value else b"False"), "bool"
    if isinstance(value, int):
        return str(value).encode(), "int"
    if isinstance(value, float):
        return _go_float(value).encode(), "float"
    if isinstance(value, str):
        return value.encode("utf-8"), "str"
    if isinstance(value, bytes):
        return value, "bytes"
    if isinstance(value, datetime.datetime):
        return _rfc3339(value).encode(), "time"
    if isinstance(value, datetime.date):
        return value.isoformat().encode(), "str"
    raise SopsError(f"cannot encrypt a value of type {type(value).__name__}")


def _typed(raw, kind):
    text = raw.decode("utf-8")
    if kind == "str" or kind == "comment":
        return text
    if kind == "int":
        return int(text)
    if kind == "float":
        # sops stores every JSON number as a float and writes integral ones without a point
        # ("8080"): hand those back as integers, as sops prints them.
        return int(text) if re.fullmatch(r"[-+]?[0-9]+", text) else float(text)
    if kind == "bool":
        # Go's strconv.ParseBool
        if text in ("1", "t", "T", "TRUE", "true", "True"):
            return True
        if text in ("0", "f", "F", "FALSE", "false", "False"):
            return False
        raise ValueError(f"not a bool: {text!r}")
    if kind == "bytes":
        return raw
    if kind == "time":
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    raise ValueError(f"unknown value type {kind!r}")


def encrypt_value(value, key, aad):
    """One leaf as an ``ENC[AES256_GCM,…]`` token (empty values stay empty)."""
    raw, kind = _plain_bytes(value)
    if not raw and kind in ("str", "bytes"):
        return ""
    nonce = os.urandom(32)
    sealed = AESGCM(key).encrypt(nonce, raw, aad.encode())
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return f"ENC[AES256_GCM,data:{b64(sealed[:-16])},iv:{b64(nonce)},tag:{b64(sealed[-16:])},type:{kind}]"


def decrypt_value(token, key, aad):
    """The typed plaintext of an ``ENC[…]`` token; ValueError when it is not one or does not
    authenticate (wrong key, wrong path, altered bytes)."""
    if token == "":
        return ""
    match = _TOKEN.match(token) if isinstance(token, str) else None
    if not match:
        raise ValueError("not an ENC[AES256_GCM,…] value")
    try:
        data, nonce, tag = (base64.b64decode(match[n], validate=True) for n in ("data", "iv", "tag"))
        raw = AESGCM(key).decrypt(nonce, data + tag, aad.encode())
    except InvalidTag:
        raise ValueError("authentication failed (altered value, wrong key or wrong key path)") from None
    except (ValueError, TypeError) as exc:
        raise ValueError(f"malformed ENC value: {exc}") from None
    return _typed(raw, match["type"])


# --- documents -------------------------------------------------------------------------------


class _Rules:
    """Which key paths are encrypted, from the document's selectors (one at most, as sops)."""

    def __init__(self, meta):
        present = [s for s in SELECTORS if meta.get(s)]
        unsupported = [s for s in UNSUPPORTED_SELECTORS if meta.get(s)]
        if unsupported:
            raise SopsError(f"{unsupported[0]} is not supported by this reader")
        if len(present) > 1:
            raise SopsError(f"more than one selector set: {', '.join(present)}")
        self.kind, self.value = (present[0], meta[present[0]]) if present else (None, None)
        self.pattern = re.compile(self.value) if self.kind and self.kind.endswith("regex") else None

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


def _split(document, source):
    if not isinstance(document, dict) or not isinstance(document.get("sops"), dict):
        raise SopsError(f"{source}: not a SOPS file (no 'sops' metadata section)")
    meta = document["sops"]
    for field in ("mac", "lastmodified"):
        if not meta.get(field):
            raise SopsError(f"{source}: SOPS metadata has no '{field}'")
    return {k: v for k, v in document.items() if k != "sops"}, meta


def decrypt_document(document, source="document", gnupg_home=None, age_identities=None):
    """
    Decrypt a parsed SOPS document (a dict with a ``sops`` section); return the plaintext data
    without the metadata. Verifies the MAC. Raises SopsError naming *source* (and the key path
    where one value is at fault).
    """
    tree, meta = _split(document, source)
    try:
        rules = _Rules(meta)
    except re.error as exc:
        raise SopsError(f"{source}: bad selector regex: {exc}") from None
    except SopsError as exc:
        raise SopsError(f"{source}: {exc}") from None
    key = data_key(meta, source, gnupg_home, age_identities)
    mac_only = bool(meta.get("mac_only_encrypted"))
    digest = _mac_hash(mac_only)

    def leaf(value, path):
        encrypted = rules.encrypted(path)
        if encrypted:
            try:
                value = decrypt_value(value, key, _aad(path))
            except ValueError as exc:
                raise SopsError(f"{source}: value at {_where(path)}: {exc}") from None
        if encrypted or not mac_only:
            digest.update(_plain_bytes(value)[0])
        return value

    plain = _walk(tree, [], leaf)
    lastmodified = meta["lastmodified"]
    if isinstance(lastmodified, datetime.datetime):
        lastmodified = _rfc3339(lastmodified)
    try:
        stored = decrypt_value(meta["mac"], key, str(lastmodified))
    except ValueError as exc:
        raise SopsError(f"{source}: MAC cannot be read ({exc}): the file or its lastmodified was "
                        "altered") from None
    if not hmac.compare_digest(str(stored), digest.hexdigest().upper()):
        raise SopsError(f"{source}: MAC mismatch: the file was altered after it was encrypted")
    return plain


# --- YAML and JSON ---------------------------------------------------------------------------

_BASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Yaml12Loader(_BASE_LOADER):
    """Safe YAML with YAML 1.2 core scalars (as sops reads them): only true/false are booleans,
    no sexagesimal or leading-zero octal numbers."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers
            if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")]
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


def parse(text, fmt, source="document"):
    """Parse YAML (1.2 scalars) or JSON text into Python data; SopsError when it does not parse."""
    try:
        if fmt == "json":
            return json.loads(text)
        return yaml.load(text, Loader=_Yaml12Loader)  # noqa: S506 - a safe loader subclass
    except (ValueError, yaml.YAMLError) as exc:
        raise SopsError(f"{source}: not valid {fmt.upper()}: {exc}") from None


def format_of(path):
    return "json" if str(path).endswith(".json") else "yaml"


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
    return decrypt_text(text, format_of(path), str(path), gnupg_home, age_identities)


def is_sops_document(data):
    return isinstance(data, dict) and isinstance(data.get("sops"), dict) and "mac" in data["sops"]


# --- data keys -------------------------------------------------------------------------------


def _gpg(gnupg_home):
    import gnupg  # noqa: PLC0415 - only when a PGP key is used

    return gnupg.GPG(gnupghome=gnupg_home or os.environ.get("GNUPGHOME") or None)


def age_identities_from_env():
    """Age identities as sops finds them: SOPS_AGE_KEY, SOPS_AGE_KEY_FILE, the default file."""
    texts = []
    if os.environ.get("SOPS_AGE_KEY"):
        texts.append(os.environ["SOPS_AGE_KEY"])
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    for path in (os.environ.get("SOPS_AGE_KEY_FILE"), os.path.join(config, "sops/age/keys.txt")):
        if path and os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                texts.append(handle.read())
    return [line.strip() for text in texts for line in text.splitlines()
            if line.strip().startswith("AGE-SECRET-KEY-")]


def _age_dearmor(text):
    body = text.strip()
    if not (body.startswith(_AGE_ARMOR[0]) and body.endswith(_AGE_ARMOR[1])):
        raise ValueError("not an armored age message")
    return base64.b64decode("".join(body[len(_AGE_ARMOR[0]):-len(_AGE_ARMOR[1])].split()))


def _age_armor(data):
    b64 = base64.b64encode(data).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return "\n".join([_AGE_ARMOR[0], *lines, _AGE_ARMOR[1]]) + "\n"


def _decrypt_age(enc, identities):
    import pyrage  # noqa: PLC0415

    keys = [pyrage.x25519.Identity.from_str(i) for i in identities]
    if not keys:
        raise ValueError("no age identity (SOPS_AGE_KEY, SOPS_AGE_KEY_FILE)")
    try:
        return pyrage.decrypt(_age_dearmor(enc), keys)
    except pyrage.DecryptError as exc:
        raise ValueError(f"age: {exc}") from None


def _decrypt_pgp(entry, gpg):
    result = gpg.decrypt(entry.get("enc", ""))
    if not result.ok:
        raise ValueError(f"pgp {entry.get('fp', '?')}: {result.status or 'decryption failed'}")
    return result.data


def _group_part(group, gpg_home, identities):
    """The data key (or Shamir share) held by one key group: the first key that opens it."""
    errors = []
    for entry in group.get("age") or []:
        try:
            return _decrypt_age(entry.get("enc", ""), identities)
        except ValueError as exc:
            errors.append(f"age {entry.get('recipient', '?')}: {exc}")
    gpg = None
    for entry in group.get("pgp") or []:
        gpg = gpg or _gpg(gpg_home)
        try:
            return _decrypt_pgp(entry, gpg)
        except ValueError as exc:
            errors.append(str(exc))
    others = sorted(k for k, v in group.items() if v and k not in ("age", "pgp"))
    if others:
        errors.append(f"key types not supported here: {', '.join(others)}")
    raise ValueError("; ".join(errors) or "the key group is empty")


def data_key(meta, source="document", gnupg_home=None, age_identities=None):
    """Recover the 32-byte data key from a document's metadata with the keys available here."""
    identities = age_identities if age_identities is not None else age_identities_from_env()
    groups = meta.get("key_groups") or [{k: meta.get(k) for k in ("pgp", "age", "kms", "gcp_kms",
                                                                   "azure_kv", "hc_vault")}]
    parts, errors = [], []
    for index, group in enumerate(groups):
        try:
            parts.append(_group_part(group or {}, gnupg_home, identities))
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
        key = shamir_combine(parts)
    if len(key) != 32:
        raise SopsError(f"{source}: the data key is {len(key)} bytes, not 32")
    return key


# --- Shamir's secret sharing over GF(2^8) ----------------------------------------------------


def _gf_mul(a, b):
    product = 0
    while b:
        if b & 1:
            product ^= a
        a = ((a << 1) ^ 0x11B) if a & 0x80 else a << 1
        b >>= 1
    return product


def _gf_inv(a):
    result, power, exponent = 1, a, 254  # a^254 = a^-1 in GF(2^8)
    while exponent:
        if exponent & 1:
            result = _gf_mul(result, power)
        power = _gf_mul(power, power)
        exponent >>= 1
    return result


def shamir_split(secret, parts, threshold):
    """Split *secret* into *parts* shares, any *threshold* of which recover it. Each share is
    the y value per secret byte followed by its x coordinate (1..parts)."""
    if not 2 <= threshold <= parts <= 255:
        raise ValueError("need 2 <= threshold <= parts <= 255")
    shares = [bytearray() for _ in range(parts)]
    for byte in secret:
        coefficients = [byte, *os.urandom(threshold - 1)]
        for index, share in enumerate(shares):
            x, y = index + 1, 0
            for coefficient in reversed(coefficients):  # Horner's rule
                y = _gf_mul(y, x) ^ coefficient
            share.append(y)
    return [bytes(share) + bytes([index + 1]) for index, share in enumerate(shares)]


def shamir_combine(shares):
    """Recover the secret from shares made by :func:`shamir_split` (or sops)."""
    xs = [share[-1] for share in shares]
    if len(set(xs)) != len(xs) or len({len(s) for s in shares}) != 1:
        raise SopsError("Shamir shares are duplicated or of different lengths")
    secret = bytearray()
    for position in range(len(shares[0]) - 1):
        value = 0
        for i, share in enumerate(shares):
            basis = 1  # Lagrange basis polynomial i at x = 0
            for j, xj in enumerate(xs):
                if i != j:
                    basis = _gf_mul(basis, _gf_mul(xj, _gf_inv(xs[i] ^ xj)))
            value ^= _gf_mul(share[position], basis)
        secret.append(value)
    return bytes(secret)


# --- encryption ------------------------------------------------------------------------------


def _encrypt_key_for(group, share, gpg_home, now):
    out = {}
    if group.get("age"):
        import pyrage  # noqa: PLC0415

        out["age"] = [{"recipient": r, "enc": _age_armor(pyrage.encrypt(
            share, [pyrage.x25519.Recipient.from_str(r)]))} for r in group["age"]]
    if group.get("pgp"):
        gpg, entries = _gpg(gpg_home), []
        for fingerprint in group["pgp"]:
            result = gpg.encrypt(share, fingerprint, armor=True, always_trust=True)
            if not result.ok:
                raise SopsError(f"cannot encrypt the data key to PGP key {fingerprint}: "
                                f"{result.status or result.stderr[-300:]}")
            entries.append({"created_at": now, "enc": str(result), "fp": fingerprint})
        out["pgp"] = entries
    if not out:
        raise SopsError("a key group needs at least one pgp or age recipient")
    return out


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
    rules = _Rules(meta_rules)
    groups = key_groups or [{"pgp": list(pgp), "age": list(age)}]
    key = data_key_bytes or os.urandom(32)
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    threshold = int(shamir_threshold or len(groups))
    shares = shamir_split(key, len(groups), threshold) if len(groups) > 1 else [key]
    encrypted_groups = [_encrypt_key_for(g, s, gnupg_home, now) for g, s in zip(groups, shares,
                                                                                 strict=True)]
    digest = _mac_hash(mac_only_encrypted)

    def leaf(value, path):
        encrypted = rules.encrypted(path)
        if encrypted or not mac_only_encrypted:
            digest.update(_plain_bytes(value)[0])
        return encrypt_value(value, key, _aad(path)) if encrypted else value

    tree = _walk(data, [], leaf)
    meta = {}
    if len(groups) > 1:
        meta["key_groups"] = encrypted_groups
        meta["shamir_threshold"] = threshold
    else:
        meta.update(encrypted_groups[0])
    meta["lastmodified"] = now
    meta["mac"] = encrypt_value(digest.hexdigest().upper(), key, now)
    meta.update(meta_rules)
    if mac_only_encrypted:
        meta["mac_only_encrypted"] = True
    meta["version"] = WRITER_VERSION
    return dump({**tree, "sops": meta}, fmt)


def dump(document, fmt):
    """YAML or JSON text of a document, keys in their order."""
    if fmt == "json":
        return json.dumps(document, indent=4, ensure_ascii=False) + "\n"
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False, allow_unicode=True,
                          width=1 << 16)
