"""Fault: clock skew and readings out of order, across two ingest processes.

tests/integration/test_ingest_pipeline.py shows one late reading not overwriting the latest
state and tests/integration/test_bad_input.py one far-future reading refused, both on one
in-process worker. Here the order is scrambled on purpose and the work is split between two
real `python -m ioc ingest` processes on a shared subscription, so two batches of one device
race each other into Redis.
"""

from __future__ import annotations

import datetime as dt
import time

import orjson
import pytest

from ioc.adapters.snapshot_store import SnapshotStore
from tests.conftest import wait_for
from tests.resilience.conftest import births, counter, settle

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHINA = dt.timezone(dt.timedelta(hours=8))


def iso(ms: int, tz: dt.timezone) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz).isoformat(timespec="milliseconds")


def test_older_readings_never_overwrite_newer_ones_however_they_arrive(stack, spawn, mqtt):
    """30 devices, 30 readings each, published newest first (a device flushing its buffer after
    an outage in reverse) and interleaved across devices, split by a shared subscription between
    two workers; `ts` alternates between epoch milliseconds, ISO 8601 in China time (+08:00) and
    ISO 8601 in UTC (`Z`), so string order and time order disagree. On top, each device has one
    reading from a clock running 10 minutes fast (beyond IOC_INGEST_MAX_FUTURE_S: refused as
    `timestamp_skew`, never the latest state).

    Whatever order the two workers' batches reach Redis in, every device ends with its newest
    reading (LAeq identifies which one), every valid reading is accepted exactly once, and the
    skewed ones are refused and counted.
    """
    redis = stack.client()
    group = {"IOC_INGEST_GROUP": "ioc"}
    spawn("ingest", name="ingest-a", IOC_INGEST_CLIENT_ID="fault-order-a", **group)
    spawn("ingest", name="ingest-b", IOC_INGEST_CLIENT_ID="fault-order-b", **group)
    devices = [f"nz-o-{i:02d}" for i in range(30)]
    pub = mqtt()
    births(pub, "noise", devices)
    wait_for(lambda: counter(redis, "messages:accepted") == len(devices), message="the births")

    base = int(time.time() * 1000) - 600_000  # ten minutes ago, on the millisecond
    formats = (lambda ms: ms, lambda ms: iso(ms, CHINA), lambda ms: iso(ms, dt.timezone.utc))
    infos = []
    for k in reversed(range(30)):  # newest first
        for d in devices:
            ms = base + k * 1000 + 7
            payload = {"ts": formats[k % 3](ms), "LAeq": 50.0 + k}
            infos.append(pub.publish(f"ioc/v1/noise/{d}/telemetry", orjson.dumps(payload), qos=1))
        if k == 15:  # half-way: a device whose clock runs 10 minutes ahead
            for d in devices:
                skewed = int(time.time() * 1000) + 600_000
                infos.append(pub.publish(f"ioc/v1/noise/{d}/telemetry", orjson.dumps({"ts": iso(skewed, CHINA), "LAeq": 1.0}), qos=1))
        time.sleep(0.04)  # ~25 readings per device per second: under IOC_DEVICE_MAX_RATE
    for info in infos:
        info.wait_for_publish(10)

    total = settle(lambda: counter(redis, "messages:accepted") + counter(redis, "messages:rejected"))
    assert total == len(devices) * (1 + 30 + 1)
    assert counter(redis, "messages:accepted") == len(devices) * 31
    assert counter(redis, "rejected:timestamp_skew") == len(devices) == counter(redis, "messages:rejected")
    assert counter(redis, "messages:late") >= len(devices) * 20  # most arrived after a newer one

    snapshot = SnapshotStore(redis, 8)
    for d in devices:
        latest = snapshot.device(d)["latest"]
        assert latest == {"ts": base + 29 * 1000 + 7, "LAeq": 79.0}, (d, latest)
