"""Find the Debian mirror this machine already uses, so the lab pulls from the same place."""

import os
from pathlib import Path
from urllib.parse import urlsplit

from dsu.errors import DsuError

SOURCES_DIR = Path("/etc/apt/sources.list.d")
SOURCES_LIST = Path("/etc/apt/sources.list")


def _deb822_uris(text: str) -> list[str]:
    uris: list[str] = []
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes") != "no":
            uris.extend(fields.get("uris", "").split())
    return uris


def _one_line_uris(text: str) -> list[str]:
    uris = []
    for line in text.splitlines():
        parts = line.split("#", 1)[0].split()
        if len(parts) >= 3 and parts[0] == "deb":
            # skip an options block such as [arch=amd64 signed-by=...]
            rest = parts[1:]
            while rest and rest[0].startswith("["):
                closing = rest.pop(0)
                while not closing.endswith("]") and rest:
                    closing = rest.pop(0)
            if rest:
                uris.append(rest[0])
    return uris


def configured_uris(sources_dir: Path = SOURCES_DIR, sources_list: Path = SOURCES_LIST) -> list[str]:
    """Every `deb` URI in the machine's apt sources, deb822 and one-line form."""
    uris: list[str] = []
    if sources_dir.is_dir():
        for path in sorted(sources_dir.iterdir()):
            if path.suffix == ".sources":
                uris += _deb822_uris(path.read_text())
            elif path.suffix == ".list":
                uris += _one_line_uris(path.read_text())
    if sources_list.is_file():
        uris += _one_line_uris(sources_list.read_text())
    return uris


def debian_mirror(uris: list[str] | None = None) -> str:
    """The archive URI (path ending in /debian); DSU_MIRROR overrides."""
    if os.environ.get("DSU_MIRROR"):
        return os.environ["DSU_MIRROR"].rstrip("/")
    for uri in configured_uris() if uris is None else uris:
        parts = urlsplit(uri)
        if parts.scheme in ("http", "https") and parts.path.rstrip("/").endswith("/debian"):
            return uri.rstrip("/")
    raise DsuError(
        "no Debian archive found in this machine's apt sources",
        "set DSU_MIRROR to a Debian mirror URL ending in /debian",
    )


def proxy_allowed_hosts(uris: list[str] | None = None) -> set[str]:
    """Hosts the lab's package proxy may forward to: those the machine's apt already uses."""
    hosts = {urlsplit(u).hostname for u in (configured_uris() if uris is None else uris)}
    hosts.add(urlsplit(debian_mirror(uris)).hostname)
    return {h for h in hosts if h}
