"""
Keep a host's upstream DNS servers when systemd-resolved takes over ``/etc/resolv.conf``.

A provider's image ships a static ``/etc/resolv.conf`` naming the provider's DNS servers. Debian's
systemd-resolved package replaces it with resolved's stub (127.0.0.53), and resolved, told of no
server by the network configuration (ifupdown tells it nothing), then resolves no name at all.
So this state runs before the package transaction. It records the servers the static file names,
once, in *record*, and writes the servers to use as ``DNS=`` in resolved's drop-in *name*. Those
are the servers pillar names, else the recorded ones, else those the static file names now. A
later run, with the stub in place, finds the same servers in the record, so it changes nothing.

.. code-block:: yaml

    core-systemd-upstream-dns-kept:
      upstream_dns.kept:
        - name: /etc/systemd/resolved.conf.d/40-dsu-upstream.conf
        - servers: []            # pillar's servers, if any
        - record: /etc/deploy-system/dns-servers
"""

import ipaddress
import os

__virtualname__ = "upstream_dns"

HEADER = "# Managed by deploy-system-unified (core.systemd): the upstream DNS servers resolved uses.\n"


def __virtual__():
    if "owned_file.write" not in __utils__:
        return (False, "upstream_dns: the owned_file utility module is not available")
    return __virtualname__


def _read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return None


def _upstream(address):
    """Whether *address* is a DNS server outside this host (not a stub or loopback)."""
    try:
        return not ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def static_servers(resolv_conf):
    """The upstream servers a static resolv.conf names; none when it is a link (resolved's stub,
    or any manager's) or names only loopback addresses."""
    if os.path.islink(resolv_conf):
        return []
    found = []
    for line in (_read(resolv_conf) or "").splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "nameserver" and _upstream(words[1]):
            found.append(words[1])
    return found


def recorded_servers(record):
    text = _read(record)
    return [] if text is None else [w for w in text.split() if not w.startswith("#") and _upstream(w)]


def _write(path, text, changes, key):
    if _read(path) == text:
        return
    changes[key] = path
    if not __opts__["test"]:
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        __utils__["owned_file.write"](path, text.encode(), 0o644, 0, 0)


def kept(name, servers=None, record="/etc/deploy-system/dns-servers", resolv_conf="/etc/resolv.conf"):
    """
    Write the upstream DNS servers into resolved's drop-in *name*, before resolved takes over.

    name
        The resolved drop-in this state owns.
    servers
        DNS servers (IP addresses) from pillar; when empty, the recorded or the static ones.
    record
        Where the servers of the static resolv.conf are kept once found.
    resolv_conf
        The resolver configuration to read them from.
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    recorded, static = recorded_servers(record), static_servers(resolv_conf)
    chosen, source = next(((found, source) for found, source in (
        (list(servers or []), "pillar"), (recorded, record), (static, resolv_conf)) if found), ([], ""))
    if static and not recorded:
        _write(record, "\n".join(static) + "\n", ret["changes"], "recorded")
    if not chosen:
        ret["comment"] = ("no upstream DNS server known (none in pillar, none recorded, none in a "
                          f"static {resolv_conf}): resolved keeps what the network configuration tells it")
        ret["warnings"] = [ret["comment"]]
        return ret
    _write(name, f"{HEADER}[Resolve]\nDNS={' '.join(chosen)}\n", ret["changes"], "dropin")
    said = f"upstream DNS servers {' '.join(chosen)} (from {source})"
    if ret["changes"] and __opts__["test"]:
        ret["result"] = None
        ret["comment"] = f"would write {said}"
    else:
        ret["comment"] = f"wrote {said}" if ret["changes"] else f"{said} already in place"
    return ret
