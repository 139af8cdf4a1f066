"""Hourly rollup buckets through the real store script, and reading bucket series back
(SnapshotStore.rollup_series): one key per bucket for the whole fleet, whatever the shards."""

from __future__ import annotations

import time

import orjson
import pytest

from ioc.adapters import redis_keys as keys
from ioc.adapters.redis_client import connect_redis
from ioc.adapters.snapshot_store import SnapshotStore
from ioc.ingest.worker import IngestWorker
from ioc.views.trends import trend

NOW = int(time.time() * 1000)
HOUR = NOW // 3_600_000
PREV_TS = (HOUR - 1) * 3_600_000 + 1_000   # early in the previous hour
CUR_TS = HOUR * 3_600_000                    # the first ms of this hour (never in the future)
YANGSHE = dict(lat=31.87, lon=120.553)
DEVICES = [f"nz-h-{i}" for i in range(6)]


@pytest.fixture
def worker(settings, city, redis_client):
    return IngestWorker(settings, connect_redis(settings.redis_url), city)


@pytest.fixture
def snapshot(redis_client, settings):
    return SnapshotStore(redis_client, settings.redis_shards)


def msg(kind, device, channel, **body):
    return (f"ioc/v1/{kind}/{device}/{channel}", orjson.dumps(body), NOW)


def births(devices, kind="noise"):
    return [msg(kind, d, "status", state="online", **YANGSHE) for d in devices]


def test_readings_in_two_hours_land_in_two_hourly_buckets(worker, snapshot):
    worker.process(births(DEVICES[:3]))
    worker.process([
        msg("noise", "nz-h-0", "telemetry", ts=PREV_TS, LAeq=40.0),
        msg("noise", "nz-h-1", "telemetry", ts=PREV_TS + 60_000, LAeq=44.0),  # another minute, same hour
        msg("noise", "nz-h-2", "telemetry", ts=CUR_TS, LAeq=70.0),
        msg("noise", "nz-h-0", "telemetry", ts=CUR_TS + 1, LAeq=50.0),
    ])
    series = snapshot.rollup_series("hour", HOUR - 1, HOUR + 1)
    prev, cur = series[HOUR - 1], series[HOUR]
    assert (prev["yangshe|noise|LAeq:n"], prev["yangshe|noise|LAeq:s"], prev["yangshe|noise|LAeq:x"]) == (2, 84.0, 44.0)
    assert (cur["yangshe|noise|LAeq:n"], cur["yangshe|noise|LAeq:s"], cur["yangshe|noise|LAeq:x"]) == (2, 120.0, 70.0)
    assert (prev["yangshe|noise|_:n"], cur["yangshe|noise|_:n"]) == (2, 2)


def test_hourly_buckets_add_up_across_batches_and_count_enum_values(worker, snapshot):
    lamps = [f"sl-h-{i}" for i in range(4)]
    worker.process(births(lamps, "streetlight"))
    worker.process([msg("streetlight", d, "telemetry", ts=CUR_TS + 10, status="ok") for d in lamps[:3]])
    worker.process([msg("streetlight", lamps[3], "telemetry", ts=CUR_TS + 20, status="defectiveLamp")])
    buckets = snapshot.rollup_series("hour", HOUR, HOUR + 1)
    assert buckets[HOUR]["yangshe|streetlight|status=ok:n"] == 3
    assert buckets[HOUR]["yangshe|streetlight|status=defectiveLamp:n"] == 1
    assert trend(buckets, "hour", "streetlight", "status", "share", value="ok").y == [0.75]


def test_hourly_buckets_expire_after_the_hourly_retention(worker, redis_client, settings):
    worker.process(births(["nz-h-0"]) + [msg("noise", "nz-h-0", "telemetry", ts=CUR_TS, LAeq=50.0)])
    hourly_ttl = redis_client.ttl(keys.rollup_hourly(HOUR))
    minute_ttl = redis_client.ttl(keys.rollup(CUR_TS // 60_000))
    assert settings.rollup_retention_hours * 3600 < hourly_ttl <= settings.rollup_hourly_retention_days * 86400
    assert 0 < minute_ttl <= settings.rollup_retention_hours * 3600


def test_readings_of_every_shard_are_summed_in_one_bucket_key(worker, snapshot, redis_client, settings):
    assert len({keys.shard_of(d, settings.redis_shards) for d in DEVICES}) > 1  # the devices are spread over several shards
    worker.process(births(DEVICES))
    worker.process([msg("noise", d, "telemetry", ts=CUR_TS + i, LAeq=40.0 + i) for i, d in enumerate(DEVICES)])
    assert redis_client.keys(f"{keys.ROLLUP_TAG}:hour:*") == [keys.rollup_hourly(HOUR).encode()]  # one key per bucket
    bucket = snapshot.rollup_series("hour", HOUR, HOUR + 1)[HOUR]
    assert bucket["yangshe|noise|LAeq:n"] == len(DEVICES)
    assert bucket["yangshe|noise|LAeq:s"] == pytest.approx(sum(40.0 + i for i in range(len(DEVICES))))
    assert bucket["yangshe|noise|LAeq:x"] == 45.0


def test_rollup_series_returns_every_bucket_of_the_range(worker, snapshot):
    worker.process(births(["nz-h-0"]) + [msg("noise", "nz-h-0", "telemetry", ts=CUR_TS, LAeq=50.0)])
    minute = CUR_TS // 60_000
    series = snapshot.rollup_series("minute", minute - 2, minute + 1)
    assert list(series) == [minute - 2, minute - 1, minute]
    assert series[minute - 2] == {} and series[minute]["yangshe|noise|LAeq:n"] == 1
    assert snapshot.rollup_series("minute", minute, minute) == {}  # an empty range
    assert series[minute] == snapshot.rollup(minute)


def test_rollup_series_refuses_an_unknown_resolution(snapshot):
    with pytest.raises(ValueError):
        snapshot.rollup_series("day", 0, 1)
