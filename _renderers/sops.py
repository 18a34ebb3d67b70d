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

Keys: PGP through the GnuPG home ``sops_gnupghome`` (config), else ``GNUPGHOME``, else where
Salt's gpg renderer finds its keys: ``gpg_keydir``, by default ``<config_dir>/gpgkeys``; age
identities from ``sops_age_key_file`` (config), else as sops finds them
(``SOPS_AGE_KEY``, ``SOPS_AGE_KEY_FILE``, ``~/.config/sops/age/keys.txt``). These rules, the
SOPS check and the decryption are the utils module ``sopsfile`` (``_utils/sopsfile.py``), which
``dsu`` runs too; telling SOPS data from other data loads no cryptography.

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


def _sopsfile(name):
    """The function *name* of the utils module ``sopsfile`` (_utils/sopsfile.py), through a utils
    loader made once per loader context. Loading it imports no cryptography, pyrage nor gnupg:
    those load when a SOPS document is decrypted.

    salt-ssh renders state files on the operator's side with the target's options, whose
    extension modules are only on the target: there the operator's own (``__master_opts__``)
    say where ``_utils`` is."""
    if "sops.utils" not in __context__:
        opts = __opts__.get("__master_opts__") or __opts__
        __context__["sops.utils"] = salt.loader.utils(opts, whitelist=["sopsfile"])
    utils = __context__["sops.utils"]
    try:
        return utils[f"sopsfile.{name}"]
    except KeyError:
        raise SaltRenderError(f"SOPS: {utils.missing_fun_string(f'sopsfile.{name}')} Are this "
                              "repo's _utils among the utils modules (utils_dirs, "
                              "saltutil.sync_utils)?") from None


def _age_identities():
    """Those of ``sops_age_key_file`` when it is set, else None: found as sops finds them."""
    path = __opts__.get("sops_age_key_file")
    if not path:
        return None
    try:
        return _sopsfile("age_identities")(path)
    except OSError as exc:
        raise SaltRenderError(f"sops_age_key_file {path}: {exc.strerror}") from None


def _gnupg_home():
    """The GnuPG home for PGP keys. Its last fallback is the one of Salt's gpg renderer
    (salt/renderers/gpg.py ``_get_key_dir``): ``<config_dir>/gpgkeys``, the config dir being
    that of the config file when the options do not name one."""
    config_dir = __opts__.get("config_dir") or os.path.dirname(__opts__.get("conf_file") or "")
    return _sopsfile("gnupg_home")(__opts__.get("sops_gnupghome"), __opts__.get("gpg_keydir"),
                                   config_dir=config_dir or None)


def render(data, saltenv="base", sls="", argline="", **kws):
    """
    Decrypt *data* when it is a SOPS document; return anything else unchanged.

    CLI Example:

    .. code-block:: bash

        salt-call slsutil.renderer pillar/secrets/db.sls 'jinja|yaml|sops'
    """
    if not _sopsfile("is_sops_document")(data):
        return data
    try:
        return _sopsfile("decrypt_document")(
            data, source=f"SLS {sls or '?'} (saltenv {saltenv})", gnupg_home=_gnupg_home(),
            age_identities=_age_identities())
    except SaltRenderError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever failed, the pillar must not compile
        raise SaltRenderError(f"SOPS: {exc}") from None
