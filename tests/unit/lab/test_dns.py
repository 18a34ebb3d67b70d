"""The lab's DNS responder: wire format in and out, answers from the lookup, NXDOMAIN for the
rest, malformed packets refused without a crash, and both transports on loopback."""

import ipaddress
import random
import socket
import struct
import threading

import pytest

from dsu.lab import dns

GATEWAY = ipaddress.IPv4Address("10.248.0.1")
ZONE = {"deb.debian.org": [GATEWAY], "demo": [ipaddress.IPv4Address("10.248.0.11")],
        "both.lab": [GATEWAY, ipaddress.IPv6Address("fd00::1")], "empty.lab": []}


def lookup(name):
    return ZONE.get(name)


def encode_name(name):
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p) + b"\0"


def query(name, qtype=dns.QTYPE_A, ident=0x1234, flags=dns.FLAG_RD, qclass=dns.CLASS_IN,
          extra=b""):
    return (struct.pack("!HHHHHH", ident, flags, 1, 0, 0, 1 if extra else 0) + encode_name(name)
            + struct.pack("!HH", qtype, qclass) + extra)


# An EDNS0 OPT record, as dig, systemd-resolved and glibc (with edns0) append.
OPT = b"\0" + struct.pack("!HHIH", 41, 1232, 0, 0)


def parse(answer):
    ident, flags, qd, an, ns, ar = struct.unpack_from("!HHHHHH", answer)
    offset = 12
    question = None
    if qd:
        labels, offset = dns._read_name(answer, offset)
        question = (b".".join(labels).decode(), *struct.unpack_from("!HH", answer, offset))
        offset += 4
    records = []
    for _ in range(an):
        _name, offset = dns._read_name(answer, offset)
        rtype, rclass, ttl, size = struct.unpack_from("!HHIH", answer, offset)
        offset += 10
        records.append((rtype, rclass, ttl, ipaddress.ip_address(answer[offset:offset + size])))
        offset += size
    assert offset == len(answer), "trailing bytes in the answer"
    return {"id": ident, "rcode": flags & 0xF, "qr": bool(flags & dns.FLAG_QR),
            "aa": bool(flags & dns.FLAG_AA), "rd": bool(flags & dns.FLAG_RD),
            "ra": bool(flags & dns.FLAG_RA), "question": question, "records": records,
            "counts": (qd, an, ns, ar)}


def test_a_query_is_answered_authoritatively():
    got = parse(dns.respond(query("deb.debian.org"), lookup))
    assert got["id"] == 0x1234 and got["qr"] and got["aa"] and got["rd"] and got["ra"]
    assert got["rcode"] == dns.NOERROR
    assert got["question"] == ("deb.debian.org", dns.QTYPE_A, dns.CLASS_IN)
    assert got["records"] == [(dns.QTYPE_A, dns.CLASS_IN, dns.TTL, GATEWAY)]


def test_names_match_whatever_their_case_and_the_question_is_echoed_as_asked():
    got = parse(dns.respond(query("DEB.Debian.ORG."), lookup))
    assert got["question"][0] == "DEB.Debian.ORG"  # resolvers using 0x20 check the case
    assert got["records"][0][3] == GATEWAY


def test_unknown_names_are_nxdomain_without_records():
    for name in ("example.com", "debian.org", "x.deb.debian.org", "demo.elsewhere"):
        got = parse(dns.respond(query(name), lookup))
        assert got["rcode"] == dns.NXDOMAIN and got["aa"] and got["records"] == [], name
        assert got["question"][0] == name


def test_other_types_of_a_known_name_are_empty_not_nxdomain():
    for qtype in (dns.QTYPE_AAAA, 15, 16, 6):  # AAAA, MX, TXT, SOA
        got = parse(dns.respond(query("demo", qtype), lookup))
        assert got["rcode"] == dns.NOERROR and got["records"] == [], qtype
    assert parse(dns.respond(query("empty.lab"), lookup))["rcode"] == dns.NOERROR


def test_aaaa_and_any_answer_the_addresses_of_their_family():
    aaaa = parse(dns.respond(query("both.lab", dns.QTYPE_AAAA), lookup))["records"]
    assert [r[3] for r in aaaa] == [ipaddress.IPv6Address("fd00::1")]
    any_ = parse(dns.respond(query("both.lab", dns.QTYPE_ANY), lookup))["records"]
    assert [r[0] for r in any_] == [dns.QTYPE_A, dns.QTYPE_AAAA]


def test_an_edns_opt_record_is_accepted_and_not_echoed():
    got = parse(dns.respond(query("demo", extra=OPT), lookup))
    assert got["rcode"] == dns.NOERROR and got["counts"] == (1, 1, 0, 0)


def test_compressed_question_names_are_followed():
    # The question name points at itself after one label: "a" + pointer to the header's end
    # would loop; here the pointer goes to a name placed past the question instead.
    tail = encode_name("debian.org")
    head = struct.pack("!HHHHHH", 7, 0, 1, 0, 0, 0)
    name = b"\x03deb" + struct.pack("!H", 0xC000 | (12 + 4 + 2 + 4))
    packet = head + name + struct.pack("!HH", 1, 1) + tail
    got = parse(dns.respond(packet, lookup))
    assert got["question"][0] == "deb.debian.org" and got["records"][0][3] == GATEWAY


@pytest.mark.parametrize("packet", [
    b"",
    b"\x12",
    b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00",  # 11 bytes: no complete header
], ids=["empty", "one byte", "short header"])
def test_packets_without_a_header_get_no_answer(packet):
    assert dns.respond(packet, lookup) is None


def test_responses_are_never_answered():
    assert dns.respond(query("demo", flags=dns.FLAG_QR), lookup) is None


def _rcode(packet):
    answer = dns.respond(packet, lookup)
    assert answer is not None and answer[:2] == packet[:2]
    return parse(answer)["rcode"]


HEADER_ONLY = struct.pack("!HHHHHH", 9, dns.FLAG_RD, 1, 0, 0, 0)


@pytest.mark.parametrize("packet", [
    HEADER_ONLY,                                             # a question announced, none sent
    HEADER_ONLY + b"\x05deb",                                # label cut short
    HEADER_ONLY + b"\x03deb\x06debian\x03org\x00\x00",       # type and class cut short
    HEADER_ONLY + b"\xc0\x0c" + b"\0\x01\0\x01",             # pointer to itself: a loop
    HEADER_ONLY + b"\xc0",                                   # half a pointer
    HEADER_ONLY + b"\x80abc\x00\0\x01\0\x01",                # reserved label type
    HEADER_ONLY + b"\x3f" + b"a" * 63 + b"\x3f" + b"b" * 63 + b"\x3f" + b"c" * 63
    + b"\x3f" + b"d" * 63 + b"\x00\0\x01\0\x01",             # 256 octets: longer than allowed
    struct.pack("!HHHHHH", 9, 0, 2, 0, 0, 0) + encode_name("demo") + b"\0\x01\0\x01" * 2,
    struct.pack("!HHHHHH", 9, 0, 0, 0, 0, 0),                # no question at all
], ids=["no question", "short label", "short type", "pointer loop", "half pointer",
        "label type", "name too long", "two questions", "zero questions"])
def test_malformed_queries_are_formerr(packet):
    assert _rcode(packet) == dns.FORMERR


def test_other_opcodes_are_not_implemented():
    assert _rcode(query("demo", flags=2 << 11)) == dns.NOTIMP  # STATUS


def test_zone_transfers_and_other_classes_are_refused():
    assert _rcode(query("demo", dns.QTYPE_AXFR)) == dns.REFUSED
    assert _rcode(query("demo", qclass=3)) == dns.REFUSED  # CHAOS: version.bind and friends


def test_random_garbage_never_raises():
    rng = random.Random(1)
    for _ in range(3000):
        size = rng.randrange(0, 80)
        packet = bytes(rng.randrange(256) for _ in range(size))
        if rng.random() < 0.5 and size >= 12:  # mostly well-formed headers, so parsing is reached
            packet = struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0) + packet[12:]
        dns.respond(packet, lookup)


def test_a_label_with_a_dot_is_no_name_of_the_lab():
    packet = struct.pack("!HHHHHH", 3, 0, 1, 0, 0, 0) + b"\x0edeb.debian.org\x00\0\x01\0\x01"
    assert _rcode(packet) == dns.NXDOMAIN


# --- on loopback ------------------------------------------------------------------------------


@pytest.fixture
def servers():
    udp = dns.UdpServer(("127.0.0.1", 0), lookup)
    tcp = dns.TcpServer(("127.0.0.1", 0), lookup)
    for server in (udp, tcp):
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield udp.server_address, tcp.server_address
    for server in (udp, tcp):
        server.shutdown()
        server.server_close()


def test_udp_round_trip(servers):
    udp, _ = servers
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.sendto(b"\x00", udp)  # garbage first: no answer, and the server goes on
        sock.sendto(query("demo", ident=77), udp)
        got = parse(sock.recvfrom(4096)[0])
    assert got["id"] == 77 and got["records"][0][3] == ipaddress.IPv4Address("10.248.0.11")


def _framed(packet):
    return struct.pack("!H", len(packet)) + packet


def _read_framed(sock):
    size = struct.unpack("!H", dns._read_exactly(sock, 2))[0]
    return dns._read_exactly(sock, size)


def test_tcp_answers_several_queries_on_one_connection_with_length_prefixes(servers):
    _, tcp = servers
    with socket.create_connection(tcp, timeout=2) as sock:
        # Two queries in one write, the second split across writes: framing, not reads, counts.
        second = _framed(query("nosuch.example", ident=2))
        sock.sendall(_framed(query("deb.debian.org", ident=1)) + second[:5])
        sock.sendall(second[5:])
        first, other = parse(_read_framed(sock)), parse(_read_framed(sock))
    assert (first["id"], first["rcode"], first["records"][0][3]) == (1, dns.NOERROR, GATEWAY)
    assert (other["id"], other["rcode"]) == (2, dns.NXDOMAIN)


@pytest.mark.parametrize("payload", [b"\x00\x00", b"\x00\x05abcde", b"\x00\x0c" + b"\x80" * 12],
                         ids=["zero length", "too short for a header", "a response"])
def test_tcp_closes_on_a_message_it_cannot_answer(servers, payload):
    _, tcp = servers
    with socket.create_connection(tcp, timeout=2) as sock:
        sock.sendall(payload)
        assert sock.recv(10) == b""  # closed, no answer
    # ... and the server still answers the next client.
    with socket.create_connection(tcp, timeout=2) as sock:
        sock.sendall(_framed(query("demo")))
        assert parse(_read_framed(sock))["rcode"] == dns.NOERROR


def test_tcp_client_that_hangs_up_mid_message_does_not_hurt(servers):
    _, tcp = servers
    with socket.create_connection(tcp, timeout=2) as sock:
        sock.sendall(b"\x00\x40abc")
    with socket.create_connection(tcp, timeout=2) as sock:
        sock.sendall(_framed(query("demo")))
        assert parse(_read_framed(sock))["records"]
