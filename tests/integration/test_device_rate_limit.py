"""The per-device rate limit through the real worker: a device flooding over IOC_DEVICE_MAX_RATE
is cut to its allowance per second, the excess counted as `rejected:rate_limited` with one
dead-letter sample per second, and every other device's readings land as usual."""

from __future__ import annotations

import math
import time

import orjson
import pytest

from ioc.adapters import redis_keys as keys
from ioc.adapters.snapshot_store import SnapshotStore
from tests.conftest import wait_for
from tests.integration.test_ingest_pipeline import birth, counter

LIMIT = 5
FLOOD = 100
OTHERS = [f"nz-rl-{i}" for i in range(5)]
FLOODER = "cr-rl-flood"


@pytest.fixture
def limited(start_ingest, settings, publisher, redis_client):
    """A worker allowing LIMIT messages per device per second, with the others and the flooder born."""
    start_ingest(settings.replace(device_max_rate=LIMIT))
    for device in OTHERS:
        birth(publisher, "noise", device)
    birth(publisher, "crowd", FLOODER)
    wait_for(lambda: counter(redis_client, "messages:accepted") == len(OTHERS) + 1, message="the births")
    # the births count towards their second's allowance: the flood starts in a second of its own
    births_second = int(time.time())
    wait_for(lambda: int(time.time()) > births_second, interval=0.01, message="the next second")


def publish(publisher, kind: str, device: str, ts: int, **values):
    return publisher.publish(f"ioc/v1/{kind}/{device}/telemetry", orjson.dumps({"ts": ts, **values}), qos=1)


@pytest.fixture
def flood(limited, publisher, redis_client):
    """The flooder sends FLOOD readings as fast as it can, each other device three readings in
    between; returns (seconds the flood took, {other device: its newest LAeq})."""
    start = int(time.time() * 1000) - 60_000
    newest, sent = {}, []
    began = time.monotonic()
    for i in range(FLOOD):
        sent.append(publish(publisher, "crowd", FLOODER, start + i, peopleCount=i))
        if i % 7 == 0 and i < 7 * 3 * len(OTHERS):
            j = i // 7
            device, level = OTHERS[j % len(OTHERS)], 40.0 + j
            sent.append(publish(publisher, "noise", device, start + i, LAeq=level))
            newest[device] = level
    for info in sent:
        info.wait_for_publish(5)
    span_s = time.monotonic() - began
    total = len(OTHERS) + 1 + len(sent)
    wait_for(lambda: counter(redis_client, "messages:accepted") + counter(redis_client, "messages:rejected") == total,
             message="every message accounted for")
    return span_s, newest


def test_every_reading_of_the_other_devices_lands(flood, redis_client, settings):
    _, newest = flood
    assert counter(redis_client, "accepted:noise") == len(OTHERS) * 4  # a birth and three readings each
    snapshot = SnapshotStore(redis_client, settings.redis_shards)
    assert {d: snapshot.device(d)["latest"]["LAeq"] for d in OTHERS} == newest


def test_the_flooders_excess_is_counted_as_rate_limited_and_nothing_else(flood, redis_client):
    span_s, _ = flood
    admitted = counter(redis_client, "accepted:crowd") - 1  # without its birth
    assert LIMIT <= admitted <= LIMIT * (math.ceil(span_s) + 1)
    assert counter(redis_client, "rejected:rate_limited") == FLOOD - admitted
    assert counter(redis_client, "messages:rejected") == FLOOD - admitted


def test_one_sample_per_second_of_the_flood_is_dead_lettered(flood, redis_client):
    entries = [{k.decode(): v for k, v in fields.items()} for _, fields in redis_client.xrange(keys.DEADLETTER)]
    assert entries, "no rate_limited sample in the dead-letter stream"
    assert {(e["reason"], e["device"], e["topic"]) for e in entries} == {
        (b"rate_limited", FLOODER.encode(), f"ioc/v1/crowd/{FLOODER}/telemetry".encode())}
    seconds = [int(e["received_ms"]) // 1000 for e in entries]
    assert len(seconds) == len(set(seconds))
    # every second with a sample admitted LIMIT messages of the flooder first
    assert counter(redis_client, "accepted:crowd") - 1 >= LIMIT * len(seconds)
