"""The lab's services process (`dsu lab proxy`: package proxy, DNS and NTP) on loopback: it
answers all three, leaves nothing listening after SIGTERM, and a port already taken ends it at
once with one line, before it serves anything."""

import ipaddress
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time

import pytest

from dsu.lab import dns, names, network, ntp, services
from dsu.paths import REPO_ROOT
from tests.unit.lab.test_dns import parse, query
from tests.unit.lab.test_ntp import request


def _free_port(kind):
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _bindable(port, kind):
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.fixture
def ports():
    return {"proxy": _free_port(socket.SOCK_STREAM), "dns": _free_port(socket.SOCK_DGRAM),
            "ntp": _free_port(socket.SOCK_DGRAM)}


def _start(tmp_path, ports):
    env = {**os.environ, "DSU_STATE_DIR": str(tmp_path / "state")}
    return subprocess.Popen(
        [sys.executable, "-m", "dsu", "lab", "proxy", "--address", "127.0.0.1",
         "--port", str(ports["proxy"]), "--cache", str(tmp_path / "cache"),
         "--dns-port", str(ports["dns"]), "--ntp-port", str(ports["ntp"])],
        env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_proxy(proc, port):
    deadline = time.monotonic() + 20
    while not network._port_open("127.0.0.1", port):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the services process did not start"
        time.sleep(0.05)


def _udp(port, packet):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.sendto(packet, ("127.0.0.1", port))
        return sock.recvfrom(4096)[0]


def test_one_process_serves_all_three_and_leaves_nothing_after_sigterm(tmp_path, ports):
    proc = _start(tmp_path, ports)
    try:
        _wait_for_proxy(proc, ports["proxy"])
        answer = parse(_udp(ports["dns"], query("deb.debian.org")))
        assert answer["records"][0][3] == ipaddress.IPv4Address("127.0.0.1")
        assert parse(_udp(ports["dns"], query("0.debian.pool.ntp.org")))["records"]
        assert parse(_udp(ports["dns"], query("www.example.com")))["rcode"] == dns.NXDOMAIN
        with socket.create_connection(("127.0.0.1", ports["dns"]), timeout=3) as sock:
            packet = query("proxy.lab")
            sock.sendall(struct.pack("!H", len(packet)) + packet)
            size = struct.unpack("!H", dns._read_exactly(sock, 2))[0]
            assert parse(dns._read_exactly(sock, size))["records"]
        reply = _udp(ports["ntp"], request())
        assert len(reply) == 48 and reply[0] & 7 == ntp.MODE_SERVER
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert _bindable(ports["dns"], socket.SOCK_DGRAM) and _bindable(ports["ntp"], socket.SOCK_DGRAM)
    assert not network._port_open("127.0.0.1", ports["dns"])
    assert not network._port_open("127.0.0.1", ports["proxy"])


@pytest.mark.parametrize("taken,kind,proto", [("dns", socket.SOCK_DGRAM, "udp"),
                                               ("dns", socket.SOCK_STREAM, "tcp"),
                                               ("ntp", socket.SOCK_DGRAM, "udp")])
def test_a_taken_port_ends_the_process_with_one_line(tmp_path, ports, taken, kind, proto):
    with socket.socket(socket.AF_INET, kind) as holder:
        holder.bind(("127.0.0.1", ports[taken]))
        if kind == socket.SOCK_STREAM:
            holder.listen()
        proc = _start(tmp_path, ports)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert err.splitlines() == [f"dsu: error: port {ports[taken]}/{proto} on 127.0.0.1 is in use by "
                                f"another program (fix: stop it: the lab's "
                                f"{'DNS' if taken == 'dns' else 'time'} server needs it)"]
    assert not network._port_open("127.0.0.1", ports["proxy"])  # the proxy never served


def test_the_start_error_is_read_from_the_new_part_of_the_log(tmp_path):
    log = tmp_path / "proxy.log"
    log.write_text("dsu: error: an old failure\n")
    offset = log.stat().st_size
    with open(log, "a") as out:
        out.write("Traceback...\ndsu: error: port 53/udp on 10.248.0.1 is in use by another program\n")
    assert network._error_in(log, offset) == ": port 53/udp on 10.248.0.1 is in use by another program"
    assert network._error_in(log, log.stat().st_size) == ""
    assert network._error_in(tmp_path / "missing.log", 0) == ""


def test_running_hosts_come_from_the_registry_of_live_machines(tmp_path, monkeypatch):
    from dsu.lab import hosts

    monkeypatch.setenv("DSU_STATE_DIR", str(tmp_path))
    registry = hosts._registry()
    for name, address in (("alive", "10.248.0.11"), ("gone", "10.248.0.12")):
        entry = {"name": name, "release": "bookworm", "index": 1, "address": address, "pid": 1,
                 "started": 0.0, "host_key": "k"}
        (registry / f"{name}.json").write_text(json.dumps(entry))
    monkeypatch.setattr(hosts.LabHost, "alive", lambda self: self.name == "alive")
    assert services.running_hosts() == {"alive": "10.248.0.11"}


def test_the_zone_of_the_lab(monkeypatch):
    listed = {"web-1": "10.248.0.11"}
    zone = names.LabZone("10.248.0.1", {"ftp.de.debian.org"}, lambda: dict(listed))
    gateway = [ipaddress.IPv4Address("10.248.0.1")]
    for name in ("deb.debian.org", "security.debian.org", "ftp.de.debian.org", "proxy.lab",
                 "pool.ntp.org", "2.debian.pool.ntp.org", "0.pool.ntp.org", "DEB.DEBIAN.ORG."):
        assert zone.lookup(name) == gateway, name
    assert zone.lookup("web-1") == zone.lookup("web-1.lab") == [ipaddress.IPv4Address("10.248.0.11")]
    for name in ("example.com", "debian.org", "ntp.org", "xpool.ntp.org", "web-2", "lab", "",
                 "web-1.lab.example", "proxy"):
        assert zone.lookup(name) is None, name
    # Hosts that come later are answered once the registry is read again.
    listed["web-2"] = "10.248.0.12"
    monkeypatch.setattr(names, "REFRESH_SECONDS", 0.0)
    assert zone.lookup("web-2.lab") == [ipaddress.IPv4Address("10.248.0.12")]
