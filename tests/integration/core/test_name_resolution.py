"""Names keep resolving through the highstate on a host delivered like a VPS (`dsu lab up --like
vps`): a static /etc/resolv.conf naming the provider's DNS server (the lab's, 10.248.0.1).
Installing systemd-resolved replaces that file with resolved's stub; core.systemd records the
provider's server first and hands it to resolved, so `getent hosts` still answers afterwards,
chrony's pool names resolve to a reachable source, and the highstate re-applies with zero changes."""

import os

from tests.integration.conftest import booted_host, converge, on_host, wait_for

DNS = "10.248.0.1"


def test_names_resolve_before_and_after_the_highstate_on_a_vps_like_host():
    with booted_host(f"r{os.getpid()}", like="vps") as host:
        assert on_host(host, "test -f /etc/resolv.conf -a ! -L /etc/resolv.conf && "
                             "grep -c '^nameserver' /etc/resolv.conf").strip() == "1"
        assert on_host(host, "getent hosts deb.debian.org").split()[0] == DNS
        converge(host, "")
        # resolved's stub now, with the provider's server kept as its upstream
        assert on_host(host, "readlink /etc/resolv.conf").strip().endswith("stub-resolv.conf")
        assert on_host(host, "cat /etc/deploy-system/dns-servers").split() == [DNS]
        assert f"DNS={DNS}" in on_host(host, "cat /etc/systemd/resolved.conf.d/40-dsu-upstream.conf")
        assert on_host(host, "getent hosts deb.debian.org").split()[0] == DNS
        assert on_host(host, "getent hosts 2.debian.pool.ntp.org").split()[0] == DNS
        # chrony's pool (Debian's default: 2.debian.pool.ntp.org) has a reachable source
        wait_for("a reachable chrony source",
                 lambda: any(line.startswith("^*") or line.startswith("^+")
                             for line in on_host(host, "chronyc -n sources").splitlines()),
                 lambda: on_host(host, "chronyc -n sources"), timeout=60)
