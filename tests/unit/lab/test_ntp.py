"""The lab's SNTP server: the reply's format (RFC 4330), its timestamps, what gets no reply, and
a round trip on loopback as a client computes offset and delay from it."""

import socket
import struct
import threading
import time

import pytest

from dsu.lab import ntp

# 2026-06-01 12:00:00.25 UTC, in nanoseconds since 1970.
T = 1780315200_250_000_000


def request(version=4, mode=ntp.MODE_CLIENT, transmit=0x0123456789ABCDEF, poll=6, size=48):
    packet = struct.pack("!BBbbII4sQQQQ", (version << 3) | mode, 0, poll, 0, 0, 0, b"\0" * 4,
                         0, 0, 0, transmit)
    return (packet + b"\0" * size)[:size]


def fields(packet):
    names = ("first", "stratum", "poll", "precision", "root_delay", "root_dispersion", "ref_id",
             "reference", "originate", "receive", "transmit")
    got = dict(zip(names, ntp.PACKET.unpack(packet), strict=True))
    got.update(leap=got["first"] >> 6, version=(got["first"] >> 3) & 7, mode=got["first"] & 7)
    return got


def test_timestamps_convert_both_ways():
    assert ntp.to_ntp(0) == ntp.NTP_EPOCH_OFFSET << 32
    stamp = ntp.to_ntp(T)
    assert stamp >> 32 == 1780315200 + ntp.NTP_EPOCH_OFFSET
    assert stamp & 0xFFFFFFFF == 1 << 30  # .25 s
    assert ntp.from_ntp(stamp) == 1780315200.25


def test_era_1_wraps_the_seconds():
    # 2036-02-07 06:28:16 UTC is NTP second 2**32: era 1 starts again at 0.
    wrap_unix = 2**32 - ntp.NTP_EPOCH_OFFSET
    assert ntp.to_ntp(wrap_unix * 1_000_000_000) >> 32 == 0
    assert ntp.to_ntp((wrap_unix + 5) * 1_000_000_000) >> 32 == 5
    assert ntp.from_ntp(ntp.to_ntp((wrap_unix + 5) * 10**9), era_base=2**32) == wrap_unix + 5


def test_reply_format():
    got = fields(ntp.reply(request(), received_ns=T, now_ns=T + 1_000))
    assert (got["leap"], got["version"], got["mode"]) == (0, 4, ntp.MODE_SERVER)
    assert got["stratum"] == 2 and got["poll"] == 6 and got["precision"] == ntp.PRECISION
    assert got["ref_id"] == bytes([127, 127, 1, 0])
    assert got["root_delay"] == 0 and 0 < got["root_dispersion"] < 1 << 16  # under a second


def test_reply_timestamps():
    got = fields(ntp.reply(request(transmit=0xDEADBEEFCAFEF00D), received_ns=T, now_ns=T + 2_000))
    assert got["originate"] == 0xDEADBEEFCAFEF00D  # the client's transmit, bit for bit
    assert got["receive"] == ntp.to_ntp(T)
    assert got["transmit"] == ntp.to_ntp(T + 2_000)
    assert got["reference"] == ntp.to_ntp(T - 250_000_000)  # the whole second before
    assert got["reference"] <= got["receive"] <= got["transmit"]


@pytest.mark.parametrize("version", [1, 2, 3, 4])
def test_the_client_version_is_echoed(version):
    assert fields(ntp.reply(request(version=version), T))["version"] == version


def test_extension_fields_and_a_mac_are_ignored():
    assert fields(ntp.reply(request(size=48 + 20), T))["mode"] == ntp.MODE_SERVER


@pytest.mark.parametrize("packet", [
    b"", b"\x23" * 47, request(mode=ntp.MODE_SERVER), request(mode=1), request(mode=6),
    request(version=0), request(version=5), request(version=7),
], ids=["empty", "47 bytes", "server mode", "symmetric", "control", "version 0", "version 5",
        "version 7"])
def test_what_is_not_a_client_request_gets_no_reply(packet):
    assert ntp.reply(packet, T) is None


@pytest.fixture
def server():
    srv = ntp.NtpServer(("127.0.0.1", 0))
    threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True).start()
    yield srv.server_address
    srv.shutdown()
    srv.server_close()


def test_round_trip_gives_this_machines_time(server):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.sendto(b"junk", server)  # no reply, and the server goes on
        sent = time.time_ns()
        sock.sendto(request(transmit=ntp.to_ntp(sent)), server)
        answer, _ = sock.recvfrom(1024)
        back = time.time_ns()
    got = fields(answer)
    assert got["originate"] == ntp.to_ntp(sent)
    t1, t4 = sent / 1e9, back / 1e9
    t2, t3 = ntp.from_ntp(got["receive"]), ntp.from_ntp(got["transmit"])
    offset, delay = ((t2 - t1) + (t3 - t4)) / 2, (t4 - t1) - (t3 - t2)
    assert abs(offset) < 0.05 and 0 <= delay < 0.5
