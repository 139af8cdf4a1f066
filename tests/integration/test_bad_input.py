"""Every bad message is refused with a reason, kept in the dead-letter stream with its raw
payload, counted in ioc_ingest_rejected_total{reason}, and the worker keeps going."""

from __future__ import annotations

import time

import pytest

from ioc.adapters import redis_keys as keys
from ioc.adapters.snapshot_store import SnapshotStore
from tests.conftest import wait_for
from tests.integration.test_ingest_pipeline import birth, counter, send

NOW = lambda: int(time.time() * 1000)  # noqa: E731

BAD = {
    "not_json": ("ioc/v1/noise/nz-b-1/telemetry", b"LAeq=50"),
    "not_utf8": ("ioc/v1/noise/nz-b-1/telemetry", b'{"LAeq": "\xff\xfe"}'),
    "non_finite": ("ioc/v1/noise/nz-b-1/telemetry", b'{"LAeq": NaN}'),
    "not_object": ("ioc/v1/noise/nz-b-1/telemetry", b"[1, 2, 3]"),
    "wrong_type": ("ioc/v1/noise/nz-b-1/telemetry", b'{"LAeq": "loud"}'),
    "out_of_range": ("ioc/v1/noise/nz-b-1/telemetry", b'{"LAeq": 400}'),
    "unknown_attribute": ("ioc/v1/noise/nz-b-1/telemetry", b'{"LAeq": 50, "colour": "red"}'),
    "unknown_kind": ("ioc/v1/toaster/tt-1/telemetry", b'{"temperature": 200}'),
    "bad_topic": ("ioc/v1/Noise Sensor/nz-b-1/telemetry", b'{"LAeq": 50}'),
    "empty": ("ioc/v1/noise/nz-b-1/telemetry", b'{"ts": 1}'.replace(b"1", str(int(time.time() * 1000)).encode())),
    "too_large": ("ioc/v1/noise/nz-b-1/telemetry", b'{"LAeq": 50, "pad": "' + b"x" * 10_000 + b'"}'),
    "bad_location": ("ioc/v1/noise/nz-b-2/status", b'{"state": "online", "lat": 31.9}'),
    "outside_city": ("ioc/v1/noise/nz-b-3/status", b'{"state": "online", "lat": 31.23, "lon": 121.47}'),
    "unknown_device": ("ioc/v1/noise/nz-never-born/telemetry", b'{"LAeq": 50}'),
    "missing_field": ("ioc/v1/noise/nz-b-1/status", b'{"lat": 31.87, "lon": 120.55}'),
}


@pytest.fixture
def born(ingest, publisher, redis_client):
    birth(publisher, "noise", "nz-b-1")
    wait_for(lambda: counter(redis_client, "messages:accepted") >= 1, message="birth accepted")
    return "nz-b-1"


@pytest.mark.parametrize("reason", sorted(BAD))
def test_each_bad_message_is_dead_lettered_with_its_reason_and_raw_payload(reason, born, publisher, redis_client, settings):
    topic, payload = BAD[reason]
    publisher.publish(topic, payload, qos=1).wait_for_publish(5)
    wait_for(lambda: counter(redis_client, f"rejected:{reason}") == 1, message=f"rejected:{reason}")
    entry = SnapshotStore(redis_client, settings.redis_shards).deadletters(1)[0]
    assert entry["reason"] == reason
    assert entry["payload"] == payload
    assert entry["topic"] == topic
    assert entry["detail"]


@pytest.mark.parametrize("reason", sorted(BAD))
def test_the_worker_keeps_going_after_a_bad_message(reason, born, publisher, redis_client):
    topic, payload = BAD[reason]
    publisher.publish(topic, payload, qos=1).wait_for_publish(5)
    send(publisher, "noise", "nz-b-1", LAeq=51.0)
    wait_for(lambda: counter(redis_client, "messages:accepted") == 2, message="good message after a bad one")
    assert counter(redis_client, "messages:rejected") == 1


def test_far_future_timestamps_are_rejected_as_skew(born, publisher, redis_client):
    send(publisher, "noise", "nz-b-1", ts=NOW() + 3_600_000, LAeq=50.0)
    wait_for(lambda: counter(redis_client, "rejected:timestamp_skew") == 1, message="skew rejection")


def test_the_same_reading_twice_is_a_duplicate(born, publisher, redis_client, settings):
    ts = NOW()
    send(publisher, "noise", "nz-b-1", ts=ts, LAeq=50.0)
    send(publisher, "noise", "nz-b-1", ts=ts, LAeq=50.0)
    wait_for(lambda: counter(redis_client, "rejected:duplicate") == 1, message="duplicate rejection")
    assert counter(redis_client, "messages:accepted") == 2  # the birth and the first reading


def test_a_rejected_message_stores_nothing(born, publisher, redis_client, settings):
    send(publisher, "noise", "nz-b-1", LAeq=50.0)
    wait_for(lambda: counter(redis_client, "messages:accepted") == 2, message="first reading")
    shard = keys.shard_of("nz-b-1", settings.redis_shards)
    before = redis_client.hget(keys.latest(shard), "nz-b-1")
    send(publisher, "noise", "nz-b-1", LAeq=50.0, LAmax=9999)  # LAmax out of range: the whole reading is refused
    wait_for(lambda: counter(redis_client, "rejected:out_of_range") == 1, message="rejection")
    assert redis_client.hget(keys.latest(shard), "nz-b-1") == before


def test_the_dead_letter_stream_is_capped(start_ingest, settings, publisher, redis_client):
    start_ingest(settings.replace(deadletter_maxlen=50, device_max_rate=0))  # one device, 400 messages: no rate limit
    for i in range(400):
        publisher.publish("ioc/v1/noise/nz-b-9/telemetry", b"not json %d" % i, qos=1)
    wait_for(lambda: counter(redis_client, "rejected:not_json") == 400, message="400 rejections")
    assert redis_client.xlen(keys.DEADLETTER) < 400
