"""What the machine serves the lab on the bridge address: the package proxy, DNS and time.

All three run in one process (`dsu lab proxy`, started with the first host and stopped with the
last, see network.ensure_proxy), so they share one lifecycle and one pid file: nothing can be
left running on its own. Every socket is bound before any is served, the proxy's last: when the
proxy's port answers, DNS and NTP are there too, and a port taken by another program ends the
process at once with one line saying which.
"""

import errno
import socketserver
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from dsu.errors import DsuError
from dsu.lab import dns, ntp
from dsu.lab.names import LabZone
from dsu.lab.proxy import CachingProxy

DNS_PORT = 53
NTP_PORT = 123
S = TypeVar("S", bound=socketserver.BaseServer)


def running_hosts() -> dict[str, str]:
    """{name: address} of the lab hosts whose machine runs (the registry of this state dir)."""
    from dsu.lab import hosts  # noqa: PLC0415 - the registry, read by the server process only

    return {h.name: h.address for h in hosts.registered() if h.alive()}


def _bind(what: str, proto: str, make: Callable[..., S], address: tuple[str, int],
          *rest: object) -> S:
    host, port = address
    try:
        return make(address, *rest)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise DsuError(f"port {port}/{proto} on {host} is in use by another program",
                           f"stop it: the lab's {what} needs it") from None
        raise DsuError(f"the lab's {what} cannot listen on {host} port {port}/{proto}: "
                       f"{exc.strerror}") from None


def serve(address: str, proxy_port: int, cache: Path, allowed_hosts: set[str],
          dns_port: int = DNS_PORT, ntp_port: int = NTP_PORT) -> None:
    """Serve until interrupted (SIGTERM becomes KeyboardInterrupt in `dsu`); sockets close with
    the process."""
    zone = LabZone(address, allowed_hosts, running_hosts)
    servers: list[socketserver.BaseServer] = []
    try:
        servers.append(_bind("DNS server", "udp", dns.UdpServer, (address, dns_port), zone.lookup))
        servers.append(_bind("DNS server", "tcp", dns.TcpServer, (address, dns_port), zone.lookup))
        servers.append(_bind("time server", "udp", ntp.NtpServer, (address, ntp_port)))
        proxy = _bind("package proxy", "tcp", CachingProxy, (address, proxy_port), cache,
                      allowed_hosts)
        servers.append(proxy)
        for server in servers[:-1]:
            threading.Thread(target=server.serve_forever, name=type(server).__name__,
                             daemon=True).start()
        proxy.serve_forever()
    finally:
        for server in servers:
            server.server_close()
