"""The names the lab's DNS server knows, and nothing else.

- every running lab host, as NAME and NAME.lab: its lab address;
- proxy.lab, the Debian archive names and the NTP pool names: the gateway, where the package
  proxy and the time server listen (apt reaches the archives through the proxy, which forwards
  only to the machine's own apt sources).

Everything else is NXDOMAIN: the lab has no route out, so a name outside it must fail at once.
"""

import ipaddress
import time
from collections.abc import Callable, Iterable

from dsu.lab.dns import IPAddress

# The archives a Debian host's own sources name, whatever this machine's apt uses.
ARCHIVE_NAMES = ("deb.debian.org", "security.debian.org")
# pool.ntp.org and every name under it: 2.debian.pool.ntp.org (chrony's Debian default),
# 0.pool.ntp.org, ... (systemd-timesyncd, states' pillar).
NTP_POOL = "pool.ntp.org"
LAB_DOMAIN = "lab"
REFRESH_SECONDS = 2.0


class LabZone:
    """A lookup for dns.respond. *hosts* lists the running hosts as {name: address}; it is asked
    again at most every REFRESH_SECONDS, as hosts come and go while the server runs."""

    def __init__(self, gateway: str, archive_names: Iterable[str],
                 hosts: Callable[[], dict[str, str]]) -> None:
        self.gateway = ipaddress.IPv4Address(gateway)
        self.fixed = {n.lower().rstrip(".") for n in (*ARCHIVE_NAMES, *archive_names)}
        self.fixed.add(f"proxy.{LAB_DOMAIN}")
        self._hosts = hosts
        self._known: dict[str, IPAddress] = {}
        self._read_at = float("-inf")

    def _host_names(self) -> dict[str, IPAddress]:
        if time.monotonic() - self._read_at > REFRESH_SECONDS:
            known = {}
            for name, address in self._hosts().items():
                known[name] = known[f"{name}.{LAB_DOMAIN}"] = ipaddress.IPv4Address(address)
            self._known, self._read_at = known, time.monotonic()
        return self._known

    def lookup(self, name: str) -> list[IPAddress] | None:
        name = name.lower().rstrip(".")
        if name in self.fixed or name == NTP_POOL or name.endswith(f".{NTP_POOL}"):
            return [self.gateway]
        address = self._host_names().get(name)
        return [address] if address is not None else None
