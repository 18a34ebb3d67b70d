"""
The Debian archive URIs a host already uses, read from its APT sources (deb822 and one-line form)
by ``_utils/apt_sources.py``, which documents the rule.

The ``core.repositories`` role rewrites the Debian sources in deb822 form; when pillar names no
mirror it keeps the one the host already uses, so nothing in this repository has to name a mirror.
"""

from salt.exceptions import CommandExecutionError

__virtualname__ = "aptsources"

APT_DIR = "/etc/apt"


def __virtual__():
    if __grains__.get("os_family") != "Debian":
        return (False, "aptsources: only Debian-family hosts use APT sources")
    return __virtualname__


def _read_sources(reader, *args):
    """The _utils/apt_sources.py *reader*'s answer; a source file it cannot read is an error."""
    try:
        return __utils__[f"apt_sources.{reader}"](*args)
    except OSError as exc:
        raise CommandExecutionError(f"cannot read the APT sources: {exc}") from exc


def entries(apt_dir=APT_DIR):
    """
    Every enabled ``deb`` entry in the host's sources as ``[uris, suites]`` pairs, in the order
    described in ``_utils/apt_sources.py``.

    CLI Example:

    .. code-block:: bash

        salt '*' aptsources.entries
    """
    return _read_sources("entries", apt_dir)


def security_from_archive(archive):
    """
    The security archive beside *archive*: same host, ``-security`` appended to the path
    (``http://mirror/debian`` gives ``http://mirror/debian-security``); empty for an empty input.

    CLI Example:

    .. code-block:: bash

        salt '*' aptsources.security_from_archive http://mirror.example/debian
    """
    return __utils__["apt_sources.security_from_archive"](archive)


def archive_uri(codename=None, apt_dir=APT_DIR):
    """
    The Debian archive URI the host already uses for *codename* (default: the host's own), or an
    empty string when no source lists that suite.

    CLI Example:

    .. code-block:: bash

        salt '*' aptsources.archive_uri
        salt '*' aptsources.archive_uri codename=trixie
    """
    codename = codename or __grains__.get("oscodename", "")
    return _read_sources("archive_uri", codename, apt_dir)


def current(codename=None, mirror=""):
    """
    What ``core.repositories`` writes, in one call (under salt-ssh each call from a template is an
    SSH round trip): ``{"archive_uri": ..., "security_uri": ...}`` for *codename* (default: the
    host's own). The archive is *mirror* when given, else the one the host's sources use ("" when
    none); the security archive is derived from it.

    CLI Example:

    .. code-block:: bash

        salt '*' aptsources.current
        salt '*' aptsources.current mirror=http://mirror.example/debian
    """
    archive = mirror or archive_uri(codename)
    return {"archive_uri": archive, "security_uri": security_from_archive(archive)}
