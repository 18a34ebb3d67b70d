"""Find the Debian mirror this machine already uses, so the lab pulls from the same place.

The APT sources are read by ``_utils/apt_sources.py``, the reader the hosts' ``aptsources``
module uses, so both sides agree on what an enabled ``deb`` entry is and which file comes first.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

from dsu.errors import DsuError
from dsu.saltext import utils_module

SOURCES_DIR = Path("/etc/apt/sources.list.d")
SOURCES_LIST = Path("/etc/apt/sources.list")


def configured_uris(sources_dir: Path = SOURCES_DIR, sources_list: Path = SOURCES_LIST) -> list[str]:
    """Every URI of the machine's enabled `deb` entries, deb822 and one-line form, in
    apt_sources' file order."""
    found = utils_module("apt_sources").entries(sources_dir=str(sources_dir), sources_list=str(sources_list))
    return [uri for uris, _suites in found for uri in uris]


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
