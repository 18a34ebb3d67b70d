"""
The SOPS value cipher: one leaf as ``ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]``, AES-256-GCM under
the file's 32-byte data key with a 32-byte nonce and the key path as additional data, and the
typed plaintext sops encrypts (and hashes into the MAC). Loaded by ``sopsfile.py`` (see there);
raises ValueError.

``cryptography`` is imported at the first value, so loading this module costs nothing.
"""

import base64
import datetime
import os
import re

_TOKEN = re.compile(r"^ENC\[AES256_GCM,data:(?P<data>[^,]*),iv:(?P<iv>[^,]+),tag:(?P<tag>[^,]+),"
                    r"type:(?P<type>[a-z]+)\]$")
_TAG_BYTES = 16


def _aesgcm(key):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: PLC0415 - see module

    return AESGCM(key)


def go_float(value):
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


def rfc3339(moment):
    """A datetime as sops writes times (naive ones taken as UTC, ``Z`` for UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.isoformat().replace("+00:00", "Z")


def plain_bytes(value):
    """(bytes, sops type name) of a leaf value, as sops serialises it for encryption and the MAC."""
    if isinstance(value, bool):
        return (b"True" if value else b"False"), "bool"
    if isinstance(value, int):
        return str(value).encode(), "int"
    if isinstance(value, float):
        return go_float(value).encode(), "float"
    if isinstance(value, str):
        return value.encode("utf-8"), "str"
    if isinstance(value, bytes):
        return value, "bytes"
    if isinstance(value, datetime.datetime):
        return rfc3339(value).encode(), "time"
    if isinstance(value, datetime.date):
        return value.isoformat().encode(), "str"
    raise ValueError(f"cannot encrypt a value of type {type(value).__name__}")


def typed(raw, kind):
    """The Python value of decrypted bytes of sops type *kind*."""
    if kind == "bytes":
        return raw
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
    if kind == "time":
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    raise ValueError(f"unknown value type {kind!r}")


def encrypt_value(value, key, aad):
    """One leaf as an ``ENC[AES256_GCM,…]`` token (empty values stay empty)."""
    raw, kind = plain_bytes(value)
    if not raw and kind in ("str", "bytes"):
        return ""
    nonce = os.urandom(32)
    sealed = _aesgcm(key).encrypt(nonce, raw, aad.encode())
    data, tag = (base64.b64encode(b).decode() for b in (sealed[:-_TAG_BYTES], sealed[-_TAG_BYTES:]))
    return f"ENC[AES256_GCM,data:{data},iv:{base64.b64encode(nonce).decode()},tag:{tag},type:{kind}]"


def decrypt_value(token, key, aad):
    """The typed plaintext of an ``ENC[…]`` token; ValueError when it is not one or does not
    authenticate (wrong key, wrong path, altered bytes)."""
    if token == "":
        return ""
    match = _TOKEN.match(token) if isinstance(token, str) else None
    if not match:
        raise ValueError("not an ENC[AES256_GCM,…] value")
    from cryptography.exceptions import InvalidTag  # noqa: PLC0415 - see module

    try:
        data, nonce, tag = (base64.b64decode(match[n], validate=True) for n in ("data", "iv", "tag"))
        raw = _aesgcm(key).decrypt(nonce, data + tag, aad.encode())
    except InvalidTag:
        raise ValueError("authentication failed (altered value, wrong key or wrong key path)") from None
    except (ValueError, TypeError) as exc:
        raise ValueError(f"malformed ENC value: {exc}") from None
    return typed(raw, match["type"])
