"""The secrets wing: the provider model, the operator's keys, SOPS and GPG pillar files, the
migration between them, key rotation and its audit log, and the checks preflight runs on them.

The SOPS format itself is the Salt utility ``_utils/sopsfile.py`` (the pillar renderer runs the
same code), so operator tooling and Salt can never disagree on it."""

from types import ModuleType

from dsu.saltext import utils_module


def sopsfile() -> ModuleType:
    """``_utils/sopsfile.py``: SOPS documents read, decrypted and encrypted."""
    return utils_module("sopsfile")
