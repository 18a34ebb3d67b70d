"""
The Debian archive URIs a host already uses, read from its APT sources (deb822 and one-line form).

The ``core.repositories`` role rewrites the Debian sources in deb822 form; when pillar names no
mirror it keeps the one the host already uses, so nothing in this repository has to name a mirror.
An entry counts as the Debian archive when it is an enabled ``deb`` entry whose suites include the
release codename itself (``bookworm``); the security archive defaults to the same host with
``-security`` appended to the path. Sources are read in this order, the first match wins:
``sources.list.d/debian.sources``, other ``*.sources``, ``sources.list``, other ``*.list``.
"""

import os
from urllib.parse import urlsplit, urlunsplit

from salt.exceptions import CommandExecutionError

__virtualname__ = "aptsources"

APT_DIR = "/etc/apt"


def __virtual__():
    if __grains__.get("os_family") != "Debian":
        return (False, "aptsources: only Debian-family hosts use APT sources")
    return __virtualname__


def _parse_deb822(text):
    """Entries of a deb822 ``.sources`` text as (uris, suites) pairs, enabled ``deb`` stanzas only."""
    entries = []
    for stanza in text.split("\n\n"):
        fields = {}
        for line in stanza.splitlines():
            if line.startswith("#") or line[:1].isspace() or ":" not in line:
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes").lower() != "no":
            entries.append((fields.get("uris", "").split(), fields.get("suites", "").split()))
    return entries


def _parse_one_line(text):
    """Entries of a one-line ``sources.list`` text as (uris, suites) pairs, ``deb`` lines only."""
    entries = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if not words or words[0] != "deb":
            continue
        words = words[1:]
        if words and words[0].startswith("["):
            while words and not words[0].endswith("]"):
                words.pop(0)
            words = words[1:]
        if len(words) >= 2:
            entries.append(([words[0]], [words[1]]))
    return entries


def _source_files(apt_dir):
    listdir = os.path.join(apt_dir, "sources.list.d")
    names = sorted(os.listdir(listdir)) if os.path.isdir(listdir) else []
    files = [os.path.join(listdir, "debian.sources")]
    files += [os.path.join(listdir, n) for n in names if n.endswith(".sources") and n != "debian.sources"]
    files.append(os.path.join(apt_dir, "sources.list"))
    files += [os.path.join(listdir, n) for n in names if n.endswith(".list")]
    return files


def entries(apt_dir=APT_DIR):
    """
    Every enabled ``deb`` entry in the host's sources as ``[uris, suites]`` pairs, in the order
    described in the module documentation.

    CLI Example:

    .. code-block:: bash

        salt '*' aptsources.entries
    """
    found = []
    for path in _source_files(apt_dir):
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise CommandExecutionError(f"cannot read {path}: {exc}") from exc
        found += _parse_deb822(text) if path.endswith(".sources") else _parse_one_line(text)
    return [list(entry) for entry in found]


def _find_uri(found, suite):
    """The first URI of the first entry that lists *suite*, or an empty string."""
    for uris, suites in found:
        if suite in suites and uris:
            return uris[0].rstrip("/")
    return ""


def security_from_archive(archive):
    """
    The security archive beside *archive*: same host, ``-security`` appended to the path
    (``http://mirror/debian`` gives ``http://mirror/debian-security``); empty for an empty input.

    CLI Example:

    .. code-block:: bash

        salt '*' aptsources.security_from_archive http://mirror.example/debian
    """
    if not archive:
        return ""
    parts = urlsplit(archive.rstrip("/"))
    return urlunsplit(parts._replace(path=parts.path + "-security"))


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
    return _find_uri(entries(apt_dir), codename)
