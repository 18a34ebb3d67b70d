"""
Decrypt SOPS documents in the render pipeline, in Python (no ``sops`` binary).

Used as the last step of the default pipeline, ``renderer: jinja|yaml|sops`` (etc/salt/master and
etc/salt/minion): data that is not a SOPS document (no ``sops`` metadata with a ``mac``) passes
through unchanged, so ordinary pillar and state files are unaffected. A SOPS document is
decrypted and its MAC verified; the ``sops`` metadata is dropped.

Why the pipeline and not a ``#!sops`` line in the file: sops encrypts a leading ``#!`` line like
any other comment, so a file written or edited by the real tool could not keep its own shebang.
Here a SOPS pillar file is exactly what ``sops`` writes (YAML, or JSON, which is YAML too),
saved as ``<name>.sls`` under ``pillar/`` and targeted from ``pillar/top.sls`` like any other.

A document that cannot be decrypted (no key for it here, MAC mismatch, altered value) raises a
render error naming the SLS and the key path: the pillar does not compile, and no state runs on
a partial pillar.

Keys: PGP through the GnuPG home ``sops_gnupghome`` (config), else ``GNUPGHOME``, else Salt's
``gpg_keydir``; age identities from ``sops_age_key_file`` (config), else as sops finds them
(``SOPS_AGE_KEY``, ``SOPS_AGE_KEY_FILE``, ``~/.config/sops/age/keys.txt``).

Unencrypted values count in the MAC as sops wrote them. Salt's YAML step reads YAML 1.1, where an
unquoted ``yes``/``no``/``on``/``off`` is a boolean and sops (YAML 1.2) reads a string: such a value
left unencrypted (``*_unencrypted``) fails the MAC check. Quote it.
"""

import os

import salt.loader
from salt.exceptions import SaltRenderError

__virtualname__ = "sops"


def __virtual__():
    return __virtualname__


def _is_sops(data):
    return isinstance(data, dict) and isinstance(data.get("sops"), dict) and "mac" in data["sops"]


def _sopsfile():
    if "sops.utils" not in __context__:
        __context__["sops.utils"] = salt.loader.utils(__opts__, whitelist=["sopsfile"])
    return __context__["sops.utils"]


def _age_identities():
    path = __opts__.get("sops_age_key_file")
    if not path:
        return None  # as sops finds them
    try:
        with open(path, encoding="utf-8") as handle:
            return [line.strip() for line in handle if line.strip().startswith("AGE-SECRET-KEY-")]
    except OSError as exc:
        raise SaltRenderError(f"sops_age_key_file {path}: {exc.strerror}") from None


def render(data, saltenv="base", sls="", argline="", **kws):
    """
    Decrypt *data* when it is a SOPS document; return anything else unchanged.

    CLI Example:

    .. code-block:: bash

        salt-call slsutil.renderer pillar/secrets/db.sls 'jinja|yaml|sops'
    """
    if not _is_sops(data):
        return data
    home = (__opts__.get("sops_gnupghome") or os.environ.get("GNUPGHOME")
            or __opts__.get("gpg_keydir"))
    try:
        return _sopsfile()["sopsfile.decrypt_document"](
            data, source=f"SLS {sls or '?'} (saltenv {saltenv})", gnupg_home=home,
            age_identities=_age_identities())
    except SaltRenderError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever failed, the pillar must not compile
        raise SaltRenderError(f"SOPS: {exc}") from None
