"""
The SOPS key sources: how a file's data key (or its Shamir share) is encrypted to a recipient and
opened again. Each key type is one class with the same interface (sops' MasterKey), and
``SOURCES`` is the one table of them that ``sopsfile.py`` iterates; ``UNSUPPORTED`` are the key
types sops has and this reader does not.

Also here, and nowhere else, where the keys are found, so the sops renderer and ``dsu`` apply the
same rules: the GnuPG home, the age key files and the age identities in them.

Loaded by ``sopsfile.py`` (see there). Raises ValueError (an entry no key here opens, a malformed
key) and OSError (a key file that cannot be read). pyrage and python-gnupg load at first use.
"""

import base64
import os

AGE_IDENTITY_PREFIX = "AGE-SECRET-KEY-"
UNSUPPORTED = ("kms", "gcp_kms", "azure_kv", "hc_vault")

_AGE_ARMOR = ("-----BEGIN AGE ENCRYPTED FILE-----", "-----END AGE ENCRYPTED FILE-----")


# --- where keys are found --------------------------------------------------------------------


def _environ(environ):
    return os.environ if environ is None else environ


def gnupg_home(sops_gnupghome=None, gpg_keydir=None, environ=None, config_dir=None):
    """The GnuPG home the sops renderer decrypts with: ``sops_gnupghome`` (config), else
    ``GNUPGHOME``, else where Salt's gpg renderer looks (salt/renderers/gpg.py): ``gpg_keydir``,
    by default ``<config_dir>/gpgkeys``. None (no config dir known either) leaves GnuPG its
    default. Both renderers must agree: a key that opens the ``#!yaml|gpg`` files of a pillar
    must open its SOPS files too, or the pillar compiles halfway."""
    keydir = gpg_keydir or (os.path.join(config_dir, "gpgkeys") if config_dir else None)
    return sops_gnupghome or _environ(environ).get("GNUPGHOME") or keydir


def _default_age_key_file(environ):
    home = environ.get("HOME") or os.path.expanduser("~")
    config = environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    return os.path.join(config, "sops", "age", "keys.txt")


def age_key_file_candidates(configured=None, environ=None):
    """[(what names it, path)] of the age key files the sops renderer may read, those set only:
    *configured* (``sops_age_key_file``), ``SOPS_AGE_KEY_FILE``, sops' default file."""
    environ = _environ(environ)
    return [(what, path) for what, path in (
        ("sops_age_key_file", configured),
        ("SOPS_AGE_KEY_FILE", environ.get("SOPS_AGE_KEY_FILE")),
        ("age key file", _default_age_key_file(environ))) if path]


def parse_age_identities(text):
    """The age identities in a key file's text; comments and public-key lines are skipped."""
    return [line.strip() for line in text.splitlines() if line.strip().startswith(AGE_IDENTITY_PREFIX)]


def _read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def age_identities(key_file=None, environ=None):
    """The age identities of *key_file* (OSError when it cannot be read), else as sops finds them:
    ``SOPS_AGE_KEY``, then the files ``SOPS_AGE_KEY_FILE`` and the default that exist."""
    if key_file:
        return parse_age_identities(_read(key_file))
    environ = _environ(environ)
    texts = [environ.get("SOPS_AGE_KEY") or ""]
    texts += [_read(path) for _, path in age_key_file_candidates(None, environ) if os.path.exists(path)]
    return [identity for text in texts for identity in parse_age_identities(text)]


def _age_identity(identity):
    import pyrage  # noqa: PLC0415 - see module

    try:
        return pyrage.x25519.Identity.from_str(identity)
    except pyrage.IdentityError:
        raise ValueError("an age identity is malformed") from None  # never echo a secret key


def age_recipient(identity):
    """The age recipient (public key) of an identity; ValueError when it is malformed."""
    return str(_age_identity(identity).to_public())


def _age_dearmor(text):
    body = text.strip()
    if not (body.startswith(_AGE_ARMOR[0]) and body.endswith(_AGE_ARMOR[1])):
        raise ValueError("not an armored age message")
    return base64.b64decode("".join(body[len(_AGE_ARMOR[0]):-len(_AGE_ARMOR[1])].split()))


def _age_armor(data):
    b64 = base64.b64encode(data).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return "\n".join([_AGE_ARMOR[0], *lines, _AGE_ARMOR[1]]) + "\n"


def decrypt_age(enc, identities):
    """The payload of the armored age message *enc* for one of *identities*; ValueError when
    none opens it."""
    import pyrage  # noqa: PLC0415 - see module

    keys = [_age_identity(i) for i in identities]
    if not keys:
        raise ValueError("no age identity (SOPS_AGE_KEY, SOPS_AGE_KEY_FILE)")
    try:
        return pyrage.decrypt(_age_dearmor(enc), keys)
    except pyrage.DecryptError as exc:
        raise ValueError(f"age: {exc}") from None


# --- key sources -----------------------------------------------------------------------------


class KeyContext:
    """What the key sources need for one document: the GnuPG home and age identities the caller
    gave (else found as sops finds them, at first use) and the time stamped on new entries."""

    def __init__(self, gnupg_home=None, identities=None, now=None, environ=None):
        self.gnupg_home, self.now = gnupg_home, now
        self._identities, self._environ, self._gpg = identities, _environ(environ), None

    def age_identities(self):
        if self._identities is None:
            self._identities = age_identities(environ=self._environ)
        return self._identities

    def gpg(self):
        if self._gpg is None:
            import gnupg  # noqa: PLC0415 - see module

            self._gpg = gnupg.GPG(gnupghome=gnupg_home(self.gnupg_home, None, self._environ))
        return self._gpg


class KeySource:
    """One key type (sops' MasterKey). ``kind`` names it in messages; ``field`` is the metadata
    list its entries live in, per key group."""

    kind = field = None

    def recipient_of(self, entry):
        """The recipient a metadata entry of this type is encrypted to."""
        raise NotImplementedError

    def decrypt(self, entry, context):
        """The data key (or share) in *entry*; ValueError when no key here opens it."""
        raise NotImplementedError

    def encrypt(self, share, recipient, context):
        """A metadata entry holding *share* for *recipient*; ValueError when it cannot be made."""
        raise NotImplementedError


class AgeKeys(KeySource):
    """age X25519 recipients; an entry holds the share as an armored age message."""

    kind = field = "age"

    def recipient_of(self, entry):
        return str(entry.get("recipient", "?"))

    def decrypt(self, entry, context):
        return decrypt_age(entry.get("enc", ""), context.age_identities())

    def encrypt(self, share, recipient, context):
        import pyrage  # noqa: PLC0415 - see module

        try:
            public = pyrage.x25519.Recipient.from_str(recipient)
        except pyrage.RecipientError as exc:
            raise ValueError(f"not an age recipient ({exc})") from None
        return {"recipient": recipient, "enc": _age_armor(pyrage.encrypt(share, [public]))}


class PgpKeys(KeySource):
    """OpenPGP keys in GnuPG, by fingerprint; an entry holds the share as an armored message."""

    kind = field = "pgp"

    def recipient_of(self, entry):
        return str(entry.get("fp", "?"))

    def decrypt(self, entry, context):
        result = context.gpg().decrypt(entry.get("enc", ""))
        if not result.ok:
            raise ValueError(result.status or "decryption failed")
        return result.data

    def encrypt(self, share, recipient, context):
        result = context.gpg().encrypt(share, recipient, armor=True, always_trust=True)
        if not result.ok:
            raise ValueError(result.status or result.stderr[-300:])
        return {"created_at": context.now, "enc": str(result), "fp": recipient}


# Tried in this order: age opens without an agent or a subprocess.
SOURCES = (AgeKeys(), PgpKeys())


def fields():
    """The metadata fields key entries live in (of SOURCES and the unsupported types)."""
    return (*(source.field for source in SOURCES), *UNSUPPORTED)
