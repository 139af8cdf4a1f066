"""One batch through the real store script: order inside a batch matters as it does across batches."""

from __future__ import annotations

import time

import orjson
import pytest

from ioc.adapters.redis_client import connect_redis
from ioc.adapters.snapshot_store import SnapshotStore
from ioc.ingest.worker import IngestWorker

NOW = int(time.time() * 1000)


@pytest.fixture
def worker(settings, city, redis_client):
    return IngestWorker(settings, connect_redis(settings.redis_url), city)


def msg(kind, device, channel, **body):
    return (f"ioc/v1/{kind}/{device}/{channel}", orjson.dumps(body), NOW)


def test_a_birth_and_readings_in_one_batch_are_applied_in_order(worker, redis_client, settings):
    outcome = worker.process([
        msg("noise", "nz-x-1", "telemetry", ts=NOW - 3000, LAeq=50.0),  # before the birth: unknown
        msg("noise", "nz-x-1", "status", state="online", lat=31.87, lon=120.553),
        msg("noise", "nz-x-1", "telemetry", ts=NOW - 2000, LAeq=51.0),
        msg("noise", "nz-x-1", "telemetry", ts=NOW - 2000, LAeq=51.0),  # duplicate of the previous one
        msg("noise", "nz-x-1", "telemetry", ts=NOW - 1000, LAeq=53.0),
        msg("noise", "nz-x-1", "telemetry", ts=NOW - 2500, LAeq=49.0),  # late
    ])
    assert sorted(r.reason for r in outcome.rejections) == ["duplicate", "unknown_device"]
    assert outcome.accepted == 4 and outcome.late == 1
    latest = SnapshotStore(redis_client, settings.redis_shards).device("nz-x-1")["latest"]
    assert latest == {"ts": NOW - 1000, "LAeq": 53.0}


def test_rollups_of_one_batch_add_up_per_district_kind_and_attribute(worker, redis_client, settings):
    batch = [msg("noise", f"nz-y-{i}", "status", state="online", lat=31.87, lon=120.553) for i in range(3)]
    batch += [msg("noise", f"nz-y-{i}", "telemetry", ts=NOW, LAeq=40.0 + i) for i in range(3)]
    worker.process(batch)
    roll = SnapshotStore(redis_client, settings.redis_shards).rollup(NOW // 60_000)
    assert roll["yangshe|noise|LAeq:n"] == 3
    assert roll["yangshe|noise|LAeq:s"] == pytest.approx(123.0)
    assert roll["yangshe|noise|LAeq:x"] == pytest.approx(42.0)
    assert roll["yangshe|noise|_:n"] == 3


def test_a_batch_larger_than_the_script_chunk_is_written_whole(settings, city, redis_client):
    settings = settings.replace(redis_shards=1, ingest_batch_max=10_000)
    worker = IngestWorker(settings, connect_redis(settings.redis_url), city)
    n = 9000  # one shard: more devices in one script call than one HMGET/HSET chunk
    births = [msg("parking", f"pk-z-{i}", "status", state="online", lat=31.87, lon=120.553) for i in range(n)]
    readings = [msg("parking", f"pk-z-{i}", "telemetry", ts=NOW, status="free") for i in range(n)]
    for part in (births, readings):
        worker.process(part)
    snap = SnapshotStore(redis_client, settings.redis_shards)
    assert snap.fleet().devices == n
    assert snap.rollup(NOW // 60_000)["yangshe|parking|status=free:n"] == n
