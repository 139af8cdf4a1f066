"""Every bad message is refused with a reason, kept in the dead-letter stream with its raw
payload, counted in ioc_ingest_rejected_total{reason}, and the worker keeps going.

The tests share one Redis, broker and ingest worker (`shared_pipeline`): each talks about a
noise sensor of its own and reads the counters as differences."""

from __future__ import annotations

import time
import uuid

import pytest

from ioc.adapters import redis_keys as keys
from ioc.adapters.snapshot_store import SnapshotStore
from tests.conftest import wait_for
from tests.integration.test_ingest_pipeline import birth, counter, send

NOW = lambda: int(time.time() * 1000)  # noqa: E731

# reason -> (topic, payload); {device} is the test's own born sensor, {other} a device of the
# test's own that is not born (or whose birth is the bad message)
BAD = {
    "not_json": ("ioc/v1/noise/{device}/telemetry", b"LAeq=50"),
    "not_utf8": ("ioc/v1/noise/{device}/telemetry", b'{"LAeq": "\xff\xfe"}'),
    "non_finite": ("ioc/v1/noise/{device}/telemetry", b'{"LAeq": NaN}'),
    "not_object": ("ioc/v1/noise/{device}/telemetry", b"[1, 2, 3]"),
    "wrong_type": ("ioc/v1/noise/{device}/telemetry", b'{"LAeq": "loud"}'),
    "out_of_range": ("ioc/v1/noise/{device}/telemetry", b'{"LAeq": 400}'),
    "unknown_attribute": ("ioc/v1/noise/{device}/telemetry", b'{"LAeq": 50, "colour": "red"}'),
    "unknown_kind": ("ioc/v1/toaster/tt-1/telemetry", b'{"temperature": 200}'),
    "bad_topic": ("ioc/v1/Noise Sensor/{device}/telemetry", b'{"LAeq": 50}'),
    "empty": ("ioc/v1/noise/{device}/telemetry", b'{"ts": 1}'.replace(b"1", str(int(time.time() * 1000)).encode())),
    "too_large": ("ioc/v1/noise/{device}/telemetry", b'{"LAeq": 50, "pad": "' + b"x" * 10_000 + b'"}'),
    "bad_location": ("ioc/v1/noise/{other}/status", b'{"state": "online", "lat": 31.9}'),
    "outside_city": ("ioc/v1/noise/{other}/status", b'{"state": "online", "lat": 31.23, "lon": 121.47}'),
    "unknown_device": ("ioc/v1/noise/{other}/telemetry", b'{"LAeq": 50}'),
    "missing_field": ("ioc/v1/noise/{device}/status", b'{"lat": 31.87, "lon": 120.55}'),
}


def bad(reason: str, device: str) -> tuple[str, bytes]:
    topic, payload = BAD[reason]
    return topic.format(device=device, other=f"{device}-other"), payload


@pytest.fixture
def pipeline(shared_pipeline):
    return shared_pipeline


@pytest.fixture
def born(pipeline):
    """A noise sensor of the test's own, born (its birth counted)."""
    device = f"nz-b-{uuid.uuid4().hex[:8]}"
    accepted = pipeline.counter("messages:accepted")
    birth(pipeline.publisher, "noise", device)
    pipeline.wait_counter("messages:accepted", accepted + 1, "birth accepted")
    return device


@pytest.mark.parametrize("reason", sorted(BAD))
def test_each_bad_message_is_dead_lettered_with_its_reason_and_raw_payload(reason, born, pipeline):
    topic, payload = bad(reason, born)
    rejected = pipeline.counter(f"rejected:{reason}")
    pipeline.publisher.publish(topic, payload, qos=1).wait_for_publish(5)
    pipeline.wait_counter(f"rejected:{reason}", rejected + 1)
    entry = SnapshotStore(pipeline.redis, pipeline.settings.redis_shards).deadletters(1)[0]
    assert entry["reason"] == reason
    assert entry["payload"] == payload
    assert entry["topic"] == topic
    assert entry["detail"]


@pytest.mark.parametrize("reason", sorted(BAD))
def test_the_worker_keeps_going_after_a_bad_message(reason, born, pipeline):
    topic, payload = bad(reason, born)
    accepted, rejected = pipeline.counter("messages:accepted"), pipeline.counter("messages:rejected")
    pipeline.publisher.publish(topic, payload, qos=1).wait_for_publish(5)
    send(pipeline.publisher, "noise", born, LAeq=51.0)
    pipeline.wait_counter("messages:accepted", accepted + 1, "good message after a bad one")
    assert pipeline.counter("messages:rejected") == rejected + 1


def test_far_future_timestamps_are_rejected_as_skew(born, pipeline):
    skewed = pipeline.counter("rejected:timestamp_skew")
    send(pipeline.publisher, "noise", born, ts=NOW() + 3_600_000, LAeq=50.0)
    pipeline.wait_counter("rejected:timestamp_skew", skewed + 1, "skew rejection")


def test_the_same_reading_twice_is_a_duplicate(born, pipeline):
    accepted, duplicates = pipeline.counter("messages:accepted"), pipeline.counter("rejected:duplicate")
    ts = NOW()
    send(pipeline.publisher, "noise", born, ts=ts, LAeq=50.0)
    send(pipeline.publisher, "noise", born, ts=ts, LAeq=50.0)
    pipeline.wait_counter("rejected:duplicate", duplicates + 1, "duplicate rejection")
    assert pipeline.counter("messages:accepted") == accepted + 1  # the first reading


def test_a_rejected_message_stores_nothing(born, pipeline):
    redis_client, accepted = pipeline.redis, pipeline.counter("messages:accepted")
    send(pipeline.publisher, "noise", born, LAeq=50.0)
    pipeline.wait_counter("messages:accepted", accepted + 1, "first reading")
    shard = keys.shard_of(born, pipeline.settings.redis_shards)
    before = redis_client.hget(keys.latest(shard), born)
    out_of_range = pipeline.counter("rejected:out_of_range")
    send(pipeline.publisher, "noise", born, LAeq=50.0, LAmax=9999)  # LAmax out of range: the whole reading is refused
    pipeline.wait_counter("rejected:out_of_range", out_of_range + 1, "rejection")
    assert redis_client.hget(keys.latest(shard), born) == before


def test_the_dead_letter_stream_is_capped(start_ingest, settings, publisher, redis_client):
    """A worker of its own (its own Redis and broker: the cap is its setting)."""
    start_ingest(settings.replace(deadletter_maxlen=50, device_max_rate=0))  # one device, 400 messages: no rate limit
    for i in range(400):
        publisher.publish("ioc/v1/noise/nz-b-9/telemetry", b"not json %d" % i, qos=1)
    wait_for(lambda: counter(redis_client, "rejected:not_json") == 400, message="400 rejections")
    assert redis_client.xlen(keys.DEADLETTER) < 400
