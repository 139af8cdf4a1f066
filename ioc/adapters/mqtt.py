"""The one MQTT client module: URL parsing, connecting, TCP_NODELAY, reconnect logging.

Every process (ingest, simulators, web) builds its paho client here so that transport details
(TLS for `mqtts://`, credentials, Nagle off, reconnect back-off) are decided in one place.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Callable
from urllib.parse import unquote, urlparse

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> "BrokerAddress":
        parts = urlparse(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError(f"MQTT_URL must start with mqtt:// or mqtts://, got {url!r}")
        tls = parts.scheme in ("mqtts", "ssl")
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (8883 if tls else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
        )

    def url(self) -> str:
        scheme = "mqtts" if self.tls else "mqtt"
        return f"{scheme}://{self.host}:{self.port}"


def _nodelay(client: paho.Client) -> None:
    sock = client.socket()
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # pragma: no cover - e.g. websockets transport
            pass


class BufferedReadClient(paho.Client):
    """paho's client, reading the socket up to `READ_SIZE` bytes at a time.

    paho reads every packet with at least three `recv()` calls (the command byte, each byte of
    the remaining length, then the rest), each after a `select()`: at tens of thousands of small
    messages a second those system calls are about half of a subscriber's CPU. This client fills
    one buffer with a single `recv()` and serves paho's small reads from it, and goes on reading
    the packets the buffer holds (a `select()` cannot see them) before paho's loop goes on. It also
    calls `on_message` directly while no per-topic callback (`message_callback_add`) exists.

    QoS 0 PUBLISH packets that lie whole in the buffer, between packets paho has finished, are
    taken from it by this class (MQTT 3.1.1 only, no per-topic callbacks) and handed to
    `on_message` as a `ReceivedMessage`: paho builds an `MQTTMessage` with its own lock and
    condition for each, decodes it through a general packet reader and logs it, which at
    telemetry rates was most of a subscriber's CPU. Everything else (QoS 1 and 2, a packet split
    over two reads, keep-alive, reconnection, TLS) is paho's own, unchanged; the version is
    pinned in requirements.txt because this hooks paho's `_sock_recv`, `loop_read`,
    `_in_packet`, `_last_bytes_received` and `_handle_on_message`.
    """

    READ_SIZE = 65536

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._read_buffer = b""
        self._read_at = 0
        self._read_sock = None  # the socket the buffered bytes came from
        self._draining = False  # handing out what is buffered: no new recv() (see loop_read)
        self._filtered_callbacks = False  # set once `message_callback_add` was used

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._read_sock is not self._sock:  # a new connection: bytes of the old one are void
            self._read_buffer, self._read_at, self._read_sock = b"", 0, self._sock
        if self._read_at >= len(self._read_buffer):
            if self._draining:
                raise BlockingIOError()
            data = super()._sock_recv(max(bufsize, self.READ_SIZE))
            if len(data) <= bufsize:  # all of it is asked for (or the connection closed: b"")
                self._read_buffer, self._read_at = b"", 0
                return data
            self._read_buffer, self._read_at = data, 0
        start = self._read_at
        self._read_at = min(start + bufsize, len(self._read_buffer))
        return self._read_buffer[start:self._read_at]

    def buffered(self) -> int:
        """Bytes read from the socket and not yet handed to paho."""
        return len(self._read_buffer) - self._read_at if self._read_sock is self._sock else 0

    def message_callback_add(self, sub: str, callback) -> None:
        self._filtered_callbacks = True
        super().message_callback_add(sub, callback)

    def _handle_on_message(self, message) -> None:
        """`on_message` straight away when no per-topic callback was ever added: paho would
        decode the topic and walk its (empty) topic tree for every message first."""
        if self._filtered_callbacks:
            return super()._handle_on_message(message)
        on_message = self.on_message
        if on_message:
            with self._in_callback_mutex:
                self._call(on_message, message)

    def _call(self, on_message, message) -> None:
        """`on_message(message)` as paho calls it: an error is logged, and raised unless
        `suppress_exceptions`. The caller holds `_in_callback_mutex`."""
        try:
            on_message(self, self._userdata, message)
        except Exception as err:
            self._easy_log(paho.MQTT_LOG_ERR, "Caught exception in on_message: %s", err)
            if not self.suppress_exceptions:
                raise

    def loop_read(self, max_packets: int = 1) -> paho.MQTTErrorCode:
        """paho's read, then the packets left in the buffer. Those take no new `recv()`, so the
        loop gets back to paho's writes (acknowledgements, keep-alive) after each buffer."""
        rc = super().loop_read(max_packets)
        self._draining = True
        try:
            while rc == paho.MQTTErrorCode.MQTT_ERR_SUCCESS and self._sock is not None and self.buffered():
                if self._take_buffered_publishes():
                    continue
                rc = super().loop_read(max_packets)
        finally:
            self._draining = False
        return rc

    def _take_buffered_publishes(self) -> int:
        """Hand the whole QoS 0 PUBLISH packets at the head of the buffer to `on_message`;
        returns how many. Stops, leaving the rest to paho, at any other packet, at one not
        whole in the buffer, or at a topic that is not UTF-8."""
        on_message = self.on_message
        if (on_message is None or self._filtered_callbacks or self._protocol != paho.MQTTv311
                or self._in_packet["command"] != 0):
            return 0
        buf, end = self._read_buffer, len(self._read_buffer)
        taken = 0
        now = time.monotonic()
        with self._in_callback_mutex:
            while self._read_at < end:
                packet = _qos0_publish_at(buf, self._read_at, end)
                if packet is None:
                    break
                topic, payload, retain, self._read_at = packet  # consumed before the callback: an error there loses no other packet
                taken += 1
                self._call(on_message, ReceivedMessage(topic, payload, retain, now))
        if taken:
            with self._msgtime_mutex:
                self._last_bytes_received = now
        return taken


def _qos0_publish_at(buf: bytes, pos: int, end: int) -> tuple[str, bytes, bool, int] | None:
    """(topic, payload, retained, end of the packet) of the MQTT 3.1.1 PUBLISH packet at `pos`
    when it is QoS 0, not a duplicate, whole before `end` and its topic UTF-8; None otherwise
    (another packet, one not whole yet, or a malformed one: paho's part)."""
    command = buf[pos]
    if command != 0x30 and command != 0x31:  # PUBLISH, QoS 0, not a duplicate; retained or not
        return None
    length, mult, at = 0, 1, pos + 1
    while True:
        if at >= end or at - pos > 4:  # the length runs past the buffer, or past 4 bytes
            return None
        byte = buf[at]
        at += 1
        length += (byte & 127) * mult
        mult *= 128
        if byte < 128:
            break
    packet_end = at + length
    if packet_end > end or length < 2:
        return None
    topic_end = at + 2 + ((buf[at] << 8) | buf[at + 1])
    if topic_end > packet_end:
        return None
    try:
        topic = buf[at + 2:topic_end].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return topic, buf[topic_end:packet_end], command == 0x31, packet_end


class ReceivedMessage:
    """A QoS 0 message as `BufferedReadClient` hands it to `on_message`: the attributes of
    paho's `MQTTMessage` that a subscriber reads (`topic` already a `str`)."""

    __slots__ = ("topic", "payload", "retain", "timestamp")
    qos = 0
    mid = 0
    dup = False
    properties = None

    def __init__(self, topic: str, payload: bytes, retain: bool, timestamp: float):
        self.topic = topic
        self.payload = payload
        self.retain = retain
        self.timestamp = timestamp


def make_client(
    url: str,
    client_id: str = "",
    *,
    clean_session: bool = True,
    will: tuple[str, bytes, int, bool] | None = None,
    on_connect: Callable[[paho.Client], None] | None = None,
    max_inflight: int = 1000,
    name: str = "mqtt",
) -> paho.Client:
    """A configured, not yet connected paho client.

    `on_connect(client)` runs after every successful (re)connection, the place to
    (re)subscribe. Connection losses and recoveries are logged once each.
    """
    address = BrokerAddress.parse(url)
    client = BufferedReadClient(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean_session,
        protocol=paho.MQTTv311,
    )
    if address.username:
        client.username_pw_set(address.username, address.password)
    if address.tls:
        client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
    if will:
        topic, payload, qos, retain = will
        client.will_set(topic, payload, qos=qos, retain=retain)
    client.max_inflight_messages_set(max_inflight)
    client.max_queued_messages_set(0)
    client.reconnect_delay_set(min_delay=1, max_delay=10)
    state = {"connected_once": False, "lost": False}

    def _on_connect(c, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log.warning("%s: broker %s refused the connection: %s", name, address.url(), reason_code)
            return
        _nodelay(c)
        if state["lost"]:
            log.warning("%s: reconnected to broker %s", name, address.url())
        elif not state["connected_once"]:
            log.info("%s: connected to broker %s", name, address.url())
        state["connected_once"] = True
        state["lost"] = False
        if on_connect:
            on_connect(c)

    def _on_disconnect(c, userdata, flags, reason_code, properties):
        if reason_code == 0 and not state["lost"]:
            log.info("%s: disconnected from broker %s", name, address.url())
            return
        if not state["lost"]:
            log.warning("%s: lost the broker %s (%s); reconnecting", name, address.url(), reason_code)
        state["lost"] = True

    client.on_connect = _on_connect
    client.on_disconnect = _on_disconnect
    client._ioc_address = address  # noqa: SLF001 - kept for logging by callers
    return client


def connect(client: paho.Client, *, timeout: float = 15.0) -> None:
    """Connect and start the network thread; wait until connected or raise TimeoutError.

    When the broker is not up yet, paho keeps retrying in the background (connect_async),
    so a process started before its broker still comes up.
    """
    address: BrokerAddress = client._ioc_address  # noqa: SLF001
    ready = threading.Event()
    previous = client.on_connect

    def _wrapped(c, userdata, flags, reason_code, properties):
        previous(c, userdata, flags, reason_code, properties)
        if not reason_code.is_failure:
            ready.set()

    client.on_connect = _wrapped
    client.connect_async(address.host, address.port, keepalive=30)
    client.loop_start()
    if not ready.wait(timeout):
        client.loop_stop()
        raise TimeoutError(f"could not connect to MQTT broker {address.url()} within {timeout:.0f}s")


def probe_broker(url: str, timeout: float = 2.0) -> tuple[bool, str]:
    """Connect, wait for the CONNACK, disconnect: is the broker up and accepting us?"""
    address = BrokerAddress.parse(url)
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
    if address.username:
        client.username_pw_set(address.username, address.password)
    if address.tls:
        client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
    result: dict = {}
    client.on_connect = lambda c, u, f, rc, p: result.setdefault("rc", rc)
    try:
        client.connect(address.host, address.port, keepalive=10)
        deadline = time.monotonic() + timeout
        while "rc" not in result and time.monotonic() < deadline:
            client.loop(timeout=0.1)
    except OSError as e:
        return False, f"{address.url()}: {e}"
    finally:
        try:
            client.disconnect()
        except Exception:  # noqa: BLE001 - best effort on a probe
            pass
    if "rc" not in result:
        return False, f"{address.url()}: no CONNACK within {timeout:.0f}s"
    rc = result["rc"]
    return (not rc.is_failure), f"{address.url()}: {rc}"
