"""The product's MQTT client (`ioc.adapters.mqtt.make_client`) on a real broker: its buffered
reads hand paho every packet whole and in order, whatever their sizes and however they fall
across reads, at QoS 0 and 1."""

from __future__ import annotations

import threading
import time

import pytest

from ioc.adapters import mqtt as mqtt_adapter
from ioc.adapters.mqtt import BufferedReadClient, ReceivedMessage


def _subscriber(url: str, topic: str, qos: int, on_message=None):
    got: list[tuple[str, bytes]] = []
    ready = threading.Event()

    def on_connect(client):
        client.subscribe(topic, qos=qos)

    client = mqtt_adapter.make_client(url, f"test-sub-{time.time_ns()}", on_connect=on_connect, name="test")
    client.on_subscribe = lambda *_a: ready.set()
    client.on_message = on_message or (lambda _c, _u, msg: got.append((msg.topic, msg.payload)))
    mqtt_adapter.connect(client)
    assert ready.wait(10)
    return client, got


def _publisher(url: str):
    client = mqtt_adapter.make_client(url, f"test-pub-{time.time_ns()}", name="test-pub")
    mqtt_adapter.connect(client)
    return client


def _wait_for(condition, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not condition() and time.monotonic() < end:
        time.sleep(0.02)


def test_the_product_client_reads_through_a_buffer():
    assert isinstance(mqtt_adapter.make_client("mqtt://127.0.0.1:1", "x"), BufferedReadClient)


@pytest.mark.parametrize("qos", [0, 1])
def test_a_burst_of_mixed_sizes_arrives_whole_and_in_order(broker_proc, qos):
    sizes = [0, 1, 126, 127, 128, 16_383, 16_384, 70_000, 200_000] + [40] * 3000 + [65_536, 3]
    sent = [(f"t/{n % 7}", bytes([n % 251]) * size) for n, size in enumerate(sizes)]
    subscriber, got = _subscriber(broker_proc.url, "t/#", qos)
    publisher = _publisher(broker_proc.url)
    try:
        for topic, payload in sent:
            publisher.publish(topic, payload, qos=qos)
        _wait_for(lambda: len(got) >= len(sent))
        assert got == sent
    finally:
        publisher.disconnect(); publisher.loop_stop()
        subscriber.disconnect(); subscriber.loop_stop()


def test_nothing_is_left_in_the_buffer_once_a_burst_is_handed_over(broker_proc):
    subscriber, got = _subscriber(broker_proc.url, "b/#", 0)
    publisher = _publisher(broker_proc.url)
    try:
        for n in range(500):
            publisher.publish(f"b/{n}", b"x" * 50)
        _wait_for(lambda: len(got) >= 500)
        assert len(got) == 500 and subscriber.buffered() == 0
    finally:
        publisher.disconnect(); publisher.loop_stop()
        subscriber.disconnect(); subscriber.loop_stop()


def test_per_topic_callbacks_still_get_their_messages_and_the_rest_go_to_on_message(broker_proc):
    subscriber, got = _subscriber(broker_proc.url, "f/#", 0)
    special = []
    subscriber.message_callback_add("f/special/#", lambda _c, _u, msg: special.append(msg.payload))
    publisher = _publisher(broker_proc.url)
    try:
        publisher.publish("f/special/1", b"s")
        publisher.publish("f/plain", b"p")
        _wait_for(lambda: special and got)
        assert special == [b"s"] and got == [("f/plain", b"p")]
    finally:
        publisher.disconnect(); publisher.loop_stop()
        subscriber.disconnect(); subscriber.loop_stop()


def test_an_error_in_on_message_is_logged_and_the_next_message_still_arrives(broker_proc):
    subscriber, got = _subscriber(broker_proc.url, "e/#", 0)
    subscriber.suppress_exceptions = True

    def on_message(_c, _u, msg):
        if msg.payload == b"bad":
            raise ValueError("a broken handler")
        got.append((msg.topic, msg.payload))

    subscriber.on_message = on_message
    publisher = _publisher(broker_proc.url)
    try:
        publisher.publish("e/1", b"bad")
        publisher.publish("e/2", b"good")
        _wait_for(lambda: got)
        assert got == [("e/2", b"good")]
    finally:
        publisher.disconnect(); publisher.loop_stop()
        subscriber.disconnect(); subscriber.loop_stop()


def _collecting_subscriber(url: str, topic: str, qos: int = 1):
    """A subscriber that keeps the message objects themselves."""
    messages = []
    client, _ = _subscriber(url, topic, qos, on_message=lambda _c, _u, msg: messages.append(msg))
    return client, messages


def test_qos0_messages_whole_in_the_buffer_are_handed_over_as_light_messages(broker_proc):
    subscriber, messages = _collecting_subscriber(broker_proc.url, "q/#")
    publisher = _publisher(broker_proc.url)
    try:
        for n in range(2000):
            publisher.publish(f"q/张家港/{n}", f"{n}".encode())
        _wait_for(lambda: len(messages) >= 2000)
        assert [(m.topic, m.payload) for m in messages] == [(f"q/张家港/{n}", f"{n}".encode()) for n in range(2000)]
        light = [m for m in messages if isinstance(m, ReceivedMessage)]
        assert light, "no message took the buffered path"
        assert all(m.qos == 0 and m.mid == 0 and not m.retain and not m.dup and m.timestamp > 0 for m in light)
    finally:
        publisher.disconnect(); publisher.loop_stop()
        subscriber.disconnect(); subscriber.loop_stop()


def test_qos0_and_qos1_messages_interleaved_arrive_in_order_and_qos1_are_acknowledged(broker_proc):
    subscriber, messages = _collecting_subscriber(broker_proc.url, "m/#", qos=1)
    publisher = _publisher(broker_proc.url)
    try:
        sent = [(f"m/{n}", f"{n}".encode(), 1 if n % 5 == 0 else 0) for n in range(3000)]
        for topic, payload, qos in sent:
            publisher.publish(topic, payload, qos=qos)
        _wait_for(lambda: len(messages) >= len(sent))
        assert [(m.topic, m.payload, m.qos) for m in messages] == sent
        _wait_for(lambda: not subscriber._in_messages and not subscriber._out_packet, 5)
        assert not subscriber._out_packet  # every PUBACK went out
    finally:
        publisher.disconnect(); publisher.loop_stop()
        subscriber.disconnect(); subscriber.loop_stop()


def test_a_retained_message_keeps_its_retain_flag(broker_proc):
    publisher = _publisher(broker_proc.url)
    try:
        publisher.publish("r/state", b"kept", qos=1, retain=True).wait_for_publish(10)
        subscriber, messages = _collecting_subscriber(broker_proc.url, "r/#", qos=0)
        try:
            _wait_for(lambda: messages)
            assert [(m.topic, m.payload, bool(m.retain)) for m in messages] == [("r/state", b"kept", True)]
        finally:
            subscriber.disconnect(); subscriber.loop_stop()
    finally:
        publisher.publish("r/state", b"", qos=1, retain=True).wait_for_publish(10)
        publisher.disconnect(); publisher.loop_stop()
