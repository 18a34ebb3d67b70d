"""
The Debian archive URIs a host already uses, read from its APT sources (deb822 and one-line form),
for the ``aptsources`` execution module on hosts and for ``dsu/lab/mirror.py`` on the operator's
machine (one parser for both); pure functions, unit-tested on their own.

An entry counts as the Debian archive when it is an enabled ``deb`` entry whose suites include the
release codename itself (``bookworm``); the security archive defaults to the same host with
``-security`` appended to the path. Sources are read in this order, the first match wins:
``sources.list.d/debian.sources``, other ``*.sources``, ``sources.list``, other ``*.list``.
"""

import os
from urllib.parse import urlsplit, urlunsplit

APT_DIR = "/etc/apt"


def parse_deb822(text):
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


def parse_one_line(text):
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


def source_files(sources_dir, sources_list):
    """The source files to read, in the order above, given the ``sources.list.d`` directory and
    the ``sources.list`` file (either may be missing)."""
    names = sorted(os.listdir(sources_dir)) if os.path.isdir(sources_dir) else []
    files = [os.path.join(sources_dir, "debian.sources")]
    files += [os.path.join(sources_dir, n) for n in names if n.endswith(".sources") and n != "debian.sources"]
    files.append(sources_list)
    files += [os.path.join(sources_dir, n) for n in names if n.endswith(".list")]
    return files


def entries(apt_dir=APT_DIR, sources_dir=None, sources_list=None):
    """Every enabled ``deb`` entry as ``[uris, suites]`` pairs, in the order above. The sources are
    those under *apt_dir*, or a *sources_dir* and *sources_list* given apart. A source file that
    exists but cannot be read raises OSError."""
    found = []
    for path in source_files(sources_dir or os.path.join(apt_dir, "sources.list.d"),
                             sources_list or os.path.join(apt_dir, "sources.list")):
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            continue
        found += parse_deb822(text) if path.endswith(".sources") else parse_one_line(text)
    return [list(entry) for entry in found]


def find_uri(found, suite):
    """The first URI of the first entry that lists *suite*, or an empty string."""
    for uris, suites in found:
        if suite in suites and uris:
            return uris[0].rstrip("/")
    return ""


def security_from_archive(archive):
    """``http://mirror/debian`` gives ``http://mirror/debian-security``; empty for empty."""
    if not archive:
        return ""
    parts = urlsplit(archive.rstrip("/"))
    return urlunsplit(parts._replace(path=parts.path + "-security"))


def archive_uri(codename, apt_dir=APT_DIR):
    """The archive URI the sources in *apt_dir* use for *codename*, or an empty string."""
    return find_uri(entries(apt_dir), codename)
