"""The keys this machine holds: GnuPG secret keys and age identities, found where sops finds them
(the rules themselves are the key sources of ``_utils/sopsfile.py``)."""

from typing import Any

from dsu.errors import DsuError
from dsu.secrets import sopsfile
from dsu.secrets.recipients import Groups, normal_fingerprint, union


def held_age_keys(identities: list[str] | None = None) -> dict[str, str]:
    """{age recipient: identity} of the age identities found as sops finds them (or given)."""
    lib = sopsfile()
    held = {}
    for identity in lib.age_identities() if identities is None else identities:
        try:
            held[lib.age_recipient(identity)] = identity
        except ValueError:
            raise DsuError("an age identity (SOPS_AGE_KEY, SOPS_AGE_KEY_FILE) is malformed",
                           "fix or remove it") from None
    return held


def held_pgp_fingerprints(gpg: Any) -> set[str]:
    """Fingerprints (primary and subkeys) of the secret keys in *gpg*'s home."""
    return {normal_fingerprint(fp) for key in gpg.list_keys(True)
            for fp in [key["fingerprint"], *(s[2] for s in key.get("subkeys") or [])]}


def holds_one_of(groups: Groups, gnupg_home: str | None = None) -> bool:
    """Whether this machine has the secret key of one of *groups*' recipients."""
    import gnupg  # noqa: PLC0415

    if set(held_age_keys()) & union(groups, "age"):
        return True
    wanted = union(groups, "pgp")
    return bool(wanted) and bool(held_pgp_fingerprints(gnupg.GPG(gnupghome=gnupg_home)) & wanted)


class HeldKeys:
    """The PGP and age keys this machine has, looked up once per check."""

    def __init__(self, gpg: Any, identities: list[str] | None) -> None:
        self.gpg = gpg
        self.secret = held_pgp_fingerprints(gpg)
        self.age = held_age_keys(identities)
        self._ids: dict[str, set[str]] = {}
        self._owners: dict[str, str] | None = None

    def key_ids(self, fingerprint: str) -> set[str]:
        """Long key ids of a public key and its subkeys (empty when GNUPGHOME lacks it)."""
        if fingerprint not in self._ids:
            found = self.gpg.list_keys(keys=[fingerprint])
            self._ids[fingerprint] = {i for k in found
                                      for i in [k["keyid"], *(s[0] for s in k.get("subkeys") or [])]}
        return self._ids[fingerprint]

    def describe(self, key_id: str) -> str:
        """"key FP (key id ID)" for a key id of a public key in GNUPGHOME, else "key id ID"."""
        if self._owners is None:
            self._owners = {i: normal_fingerprint(k["fingerprint"]) for k in self.gpg.list_keys()
                            for i in [k["keyid"], *(s[0] for s in k.get("subkeys") or [])]}
        owner = self._owners.get(key_id)
        return f"key {owner} (key id {key_id})" if owner else f"key id {key_id}"
