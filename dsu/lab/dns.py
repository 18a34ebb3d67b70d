"""A small authoritative DNS responder (RFC 1035) for the lab: A/AAAA answers from a lookup
function, NXDOMAIN for every name it does not know, over UDP and TCP.

It never forwards a query: the lab's world is what the lookup knows. It plays the role of a
provider's resolver for lab hosts, so answers say both "authoritative" and "recursion available"
(a stub resolver may otherwise take an answer without RA as a referral it cannot follow).
"""

import ipaddress
import socket
import socketserver
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# name (lowercase, no trailing dot) -> its addresses; None: no such name (NXDOMAIN).
Lookup = Callable[[str], Iterable[IPAddress] | None]

HEADER = struct.Struct("!HHHHHH")
QTYPE_A, QTYPE_AAAA, QTYPE_IXFR, QTYPE_AXFR, QTYPE_ANY = 1, 28, 251, 252, 255
CLASS_IN, CLASS_ANY = 1, 255
NOERROR, FORMERR, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 3, 4, 5
FLAG_QR, FLAG_AA, FLAG_RD, FLAG_RA = 0x8000, 0x0400, 0x0100, 0x0080
# Lab hosts come and go, and names move with them: caches must not keep answers long.
TTL = 30
MAX_NAME = 255
MAX_POINTERS = 16
TCP_IDLE_SECONDS = 10


class FormatError(ValueError):
    """The packet is not a DNS query this responder can read."""


@dataclass(frozen=True)
class Question:
    labels: tuple[bytes, ...]
    qtype: int
    qclass: int
    raw: bytes  # the question section as it should be echoed (re-encoded, no compression)

    @property
    def key(self) -> str:
        """The name to look up: lowercase, no trailing dot; "" (no such name) for the root or a
        label holding a dot, which no lab name has. latin-1: any octet decodes."""
        if not self.labels or any(b"." in label for label in self.labels):
            return ""
        return ".".join(label.decode("latin-1") for label in self.labels).lower()


def _read_name(data: bytes, offset: int) -> tuple[list[bytes], int]:
    """The labels of the name at *offset*, and the offset just past it in the packet (pointers
    followed, RFC 1035 4.1.4; loops and overlong names are refused)."""
    labels: list[bytes] = []
    length, end, jumps = 0, None, 0
    while True:
        if offset >= len(data):
            raise FormatError("name runs past the end of the packet")
        size = data[offset]
        if size & 0xC0 == 0xC0:
            if offset + 1 >= len(data):
                raise FormatError("truncated compression pointer")
            jumps += 1
            if jumps > MAX_POINTERS:
                raise FormatError("compression pointer loop")
            if end is None:
                end = offset + 2
            offset = ((size & 0x3F) << 8) | data[offset + 1]
            continue
        if size & 0xC0:
            raise FormatError(f"unsupported label type 0x{size & 0xC0:02x}")
        offset += 1
        if size == 0:
            return labels, end if end is not None else offset
        label = data[offset:offset + size]
        if len(label) < size:
            raise FormatError("label runs past the end of the packet")
        length += size + 1
        if length > MAX_NAME:
            raise FormatError("name longer than 255 octets")
        labels.append(label)
        offset += size


def parse_question(data: bytes) -> Question:
    """The one question of a standard query (the header is checked by the caller)."""
    labels, offset = _read_name(data, HEADER.size)
    if offset + 4 > len(data):
        raise FormatError("question has no type and class")
    qtype, qclass = struct.unpack_from("!HH", data, offset)
    raw = b"".join(bytes([len(label)]) + label for label in labels) + b"\0" + data[offset:offset + 4]
    return Question(tuple(labels), qtype, qclass, raw)


def _header(ident: int, flags: int, rcode: int, qd: int = 0, an: int = 0) -> bytes:
    return HEADER.pack(ident, FLAG_QR | FLAG_AA | FLAG_RA | flags | rcode, qd, an, 0, 0)


def _record(address: IPAddress) -> bytes:
    qtype = QTYPE_A if address.version == 4 else QTYPE_AAAA
    # 0xC00C: the name is the question's, which always starts right after the header.
    return struct.pack("!HHHIH", 0xC00C, qtype, CLASS_IN, TTL, len(address.packed)) + address.packed


def respond(data: bytes, lookup: Lookup) -> bytes | None:
    """The answer to the query in *data*; None when there is nothing to answer (too short to
    carry an id, or itself a response: answering those would let two servers loop)."""
    if len(data) < HEADER.size:
        return None
    ident, flags, qdcount, _an, _ns, _ar = HEADER.unpack_from(data)
    if flags & FLAG_QR:
        return None
    keep = flags & FLAG_RD
    opcode = (flags >> 11) & 0xF
    if opcode != 0:
        return _header(ident, keep | (opcode << 11), NOTIMP)
    if qdcount != 1:
        return _header(ident, keep, FORMERR)
    try:
        question = parse_question(data)
    except FormatError:
        return _header(ident, keep, FORMERR)
    if question.qclass not in (CLASS_IN, CLASS_ANY) or question.qtype in (QTYPE_AXFR, QTYPE_IXFR):
        return _header(ident, keep, REFUSED, qd=1) + question.raw
    found = lookup(question.key)
    if found is None:
        return _header(ident, keep, NXDOMAIN, qd=1) + question.raw
    wanted = {QTYPE_A: (4,), QTYPE_AAAA: (6,), QTYPE_ANY: (4, 6)}.get(question.qtype, ())
    records = [_record(a) for a in found if a.version in wanted]
    return _header(ident, keep, NOERROR, qd=1, an=len(records)) + question.raw + b"".join(records)


class _UdpHandler(socketserver.BaseRequestHandler):
    server: "UdpServer"

    def handle(self) -> None:
        data, sock = self.request
        answer = respond(data, self.server.lookup)
        if answer is not None:
            sock.sendto(answer, self.client_address)


class UdpServer(socketserver.UDPServer):
    """DNS over UDP. One thread: every answer is computed in microseconds."""

    max_packet_size = 4096

    def __init__(self, address: tuple[str, int], lookup: Lookup) -> None:
        self.lookup = lookup
        super().__init__(address, _UdpHandler)


def _read_exactly(sock: socket.socket, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = sock.recv(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


class _TcpHandler(socketserver.BaseRequestHandler):
    server: "TcpServer"

    def handle(self) -> None:
        # RFC 1035 4.2.2 / RFC 7766: each message is preceded by its two-octet length; a client
        # may send several on one connection. Anything unreadable ends the connection.
        self.request.settimeout(TCP_IDLE_SECONDS)
        try:
            while (prefix := _read_exactly(self.request, 2)) is not None:
                (size,) = struct.unpack("!H", prefix)
                data = _read_exactly(self.request, size) if size else None
                answer = respond(data, self.server.lookup) if data else None
                if answer is None:
                    return
                self.request.sendall(struct.pack("!H", len(answer)) + answer)
        except OSError:
            return  # idle too long, or the client went away


class TcpServer(socketserver.ThreadingTCPServer):
    """DNS over TCP, a thread per connection."""

    allow_reuse_address = True  # rebinding right after a restart, while old connections linger
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], lookup: Lookup) -> None:
        self.lookup = lookup
        super().__init__(address, _TcpHandler)
