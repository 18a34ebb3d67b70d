"""A minimal SNTP v4 server (RFC 4330) for the lab: answers client requests from this machine's
clock, so chrony or systemd-timesyncd inside a lab host reaches a real time source.

The lab's reference is this machine's clock, synchronised or not: lab hosts must agree with the
machine that runs them, so the server always says stratum 2 with no leap warning rather than
"unsynchronised" (which clients refuse) when the machine has no NTP of its own.
"""

import socketserver
import struct
import time

PACKET = struct.Struct("!BBbbII4sQQQQ")  # the 48-octet header; extension fields are ignored
NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 (NTP) to 1970-01-01 (Unix)
MODE_CLIENT, MODE_SERVER = 3, 4
STRATUM = 2
# About a microsecond: what a clock read through a system call and Python can promise.
PRECISION = -20
# 127.127.1.0, ntpd's old name for "the local clock": says where the time comes from without
# naming an upstream server (a stratum-2 reference id is otherwise its address).
REFERENCE_ID = bytes([127, 127, 1, 0])
# Root delay 0 and a small root dispersion (1/64 s, 16.16 fixed point): a near, trusted source.
ROOT_DELAY, ROOT_DISPERSION = 0, 1 << 10


def to_ntp(unix_ns: int) -> int:
    """A Unix time in nanoseconds as a 64-bit NTP timestamp (32.32 fixed point; the seconds wrap
    in 2036, era 1, which RFC 4330 section 3 says clients must handle)."""
    seconds, nanoseconds = divmod(unix_ns, 1_000_000_000)
    fraction = (nanoseconds << 32) // 1_000_000_000
    return (((seconds + NTP_EPOCH_OFFSET) & 0xFFFFFFFF) << 32) | fraction


def from_ntp(timestamp: int, era_base: int = 0) -> float:
    """A 64-bit NTP timestamp as Unix seconds (era 0 unless *era_base* seconds say otherwise)."""
    return (timestamp >> 32) + era_base - NTP_EPOCH_OFFSET + (timestamp & 0xFFFFFFFF) / 2**32


def reply(request: bytes, received_ns: int, now_ns: int | None = None) -> bytes | None:
    """The server's answer to *request* received at *received_ns*; None when it is not an SNTP
    client request (too short, another mode, an unknown version): those get no answer."""
    if len(request) < PACKET.size:
        return None
    first, _stratum, poll, *_middle, client_transmit = PACKET.unpack_from(request)
    version, mode = (first >> 3) & 0x7, first & 0x7
    if mode != MODE_CLIENT or not 1 <= version <= 4:
        return None
    # Leap indicator 0, the client's version (RFC 4330 section 5), server mode.
    first = (version << 3) | MODE_SERVER
    reference = to_ntp(received_ns - received_ns % 1_000_000_000)
    sent = to_ntp(time.time_ns() if now_ns is None else now_ns)
    # Originate: the client's transmit timestamp, untouched (the client matches its reply by it;
    # chrony puts a random cookie there, not its time).
    return PACKET.pack(first, STRATUM, poll, PRECISION, ROOT_DELAY, ROOT_DISPERSION, REFERENCE_ID,
                       reference, client_transmit, to_ntp(received_ns), sent)


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock, received_ns = self.request
        answer = reply(data, received_ns)
        if answer is not None:
            sock.sendto(answer, self.client_address)


class NtpServer(socketserver.UDPServer):
    """SNTP over UDP, one thread; the receive time is taken as the packet leaves the socket."""

    max_packet_size = 1024

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[tuple[bytes, object, int], tuple[str, int]]:
        data, client = self.socket.recvfrom(self.max_packet_size)
        return (data, self.socket, time.time_ns()), client
