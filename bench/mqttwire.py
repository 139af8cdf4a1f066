"""A minimal MQTT 3.1.1 publisher over a raw socket, QoS 0 only: the harness's load generator.

paho spends ~15 µs of Python per publish; on a 2-core machine that would take a core away from
the ingest being measured. Here each PUBLISH packet is built by byte concatenation from a
per-device template and written in large `sendall` chunks, so the publisher costs a few percent
of a core at 50,000 msg/s. QoS 0 has no packet id and no acknowledgement, so nothing is read
back after CONNACK.
"""

from __future__ import annotations

import socket
from urllib.parse import urlparse


def varint(n: int) -> bytes:
    """MQTT 'remaining length' encoding."""
    out = bytearray()
    while True:
        digit, n = n % 128, n // 128
        out.append(digit | 0x80 if n else digit)
        if not n:
            return bytes(out)


def _utf8(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return len(raw).to_bytes(2, "big") + raw


def connect_packet(client_id: str, keepalive: int = 0) -> bytes:
    body = _utf8("MQTT") + bytes([4, 0x02]) + keepalive.to_bytes(2, "big") + _utf8(client_id)
    return b"\x10" + varint(len(body)) + body


def publish_parts(topic: str, payload_len: int) -> bytes:
    """Fixed header and topic of a QoS 0 PUBLISH whose payload is `payload_len` bytes long."""
    t = topic.encode()
    return b"\x30" + varint(2 + len(t) + payload_len) + _utf8(t)


def publish_packet(topic: str, payload: bytes) -> bytes:
    return publish_parts(topic, len(payload)) + payload


DISCONNECT = b"\xe0\x00"


def open_connection(mqtt_url: str, client_id: str, timeout: float = 10.0) -> socket.socket:
    """Connected, CONNACK received, TCP_NODELAY on (small paced chunks leave at once)."""
    parts = urlparse(mqtt_url)
    sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 1883), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    sock.sendall(connect_packet(client_id))
    ack = b""
    while len(ack) < 4:
        chunk = sock.recv(4 - len(ack))
        if not chunk:
            raise ConnectionError("broker closed the connection before CONNACK")
        ack += chunk
    if ack[0] != 0x20 or ack[3] != 0:
        raise ConnectionError(f"broker refused the connection: CONNACK {ack.hex()}")
    sock.settimeout(None)
    return sock
