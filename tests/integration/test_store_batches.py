"""One batch through the real store script: order inside a batch matters as it does across batches."""

from __future__ import annotations

import time

import orjson
import pytest

from ioc.adapters import redis_keys as keys
from ioc.adapters.redis_client import connect_redis
from ioc.adapters.snapshot_store import SnapshotStore
from ioc.ingest.worker import IngestWorker

NOW = int(time.time() * 1000)


@pytest.fixture
def worker(settings, city, redis_client):
    return IngestWorker(settings, connect_redis(settings.redis_url), city)


def msg(kind, device, channel, **body):
    return (f"ioc/v1/{kind}/{device}/{channel}", orjson.dumps(body), NOW)


def test_a_batch_applies_its_births_first_then_its_readings_in_arrival_order(worker, redis_client, settings):
    outcome = worker.process([
        msg("noise", "nz-x-1", "telemetry", ts=NOW - 3000, LAeq=50.0),  # before the birth, applied after it
        msg("noise", "nz-x-1", "status", state="online", lat=31.87, lon=120.553),
        msg("noise", "nz-x-1", "telemetry", ts=NOW - 2000, LAeq=51.0),
        msg("noise", "nz-x-1", "telemetry", ts=NOW - 2000, LAeq=51.0),  # duplicate of the previous one
        msg("noise", "nz-x-1", "telemetry", ts=NOW - 1000, LAeq=53.0),
        msg("noise", "nz-x-1", "telemetry", ts=NOW - 2500, LAeq=49.0),  # late
        msg("noise", "nz-x-2", "telemetry", ts=NOW - 1000, LAeq=50.0),  # never born: unknown
    ])
    assert sorted(r.reason for r in outcome.rejections) == ["duplicate", "unknown_device"]
    assert outcome.accepted == 5 and outcome.late == 1
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


def test_rollups_and_counters_held_by_the_worker_are_written_at_the_next_flush(worker, redis_client):
    worker.process([msg("noise", "nz-w-1", "status", state="online", lat=31.87, lon=120.553)])
    worker.record(worker.apply([msg("noise", "nz-w-1", "telemetry", ts=NOW - 1000, LAeq=40.0)]), flush_rollups=False)
    worker.record(worker.apply([msg("noise", "nz-w-1", "telemetry", ts=NOW, LAeq=60.0)]), flush_rollups=False)
    assert not redis_client.exists(keys.rollup(NOW // 60_000))
    assert redis_client.hget(keys.METRICS, "messages:accepted") == b"1"  # the birth
    worker.process([])  # the next flush
    fields = redis_client.hgetall(keys.rollup(NOW // 60_000))
    assert (float(fields[b"yangshe|noise|LAeq:n"]), float(fields[b"yangshe|noise|LAeq:x"])) == (2, 60)
    assert redis_client.exists(keys.rollup_hourly(NOW // 3_600_000))
    assert redis_client.hget(keys.METRICS, "messages:accepted") == b"3"


def rule_state(redis_client, settings, device):
    return redis_client.hget(keys.rules(keys.shard_of(device, settings.redis_shards)), device)


def test_a_rule_state_is_stored_only_while_it_is_not_quiet(worker, redis_client, settings):
    worker.process([msg("noise", d, "status", state="online", lat=31.87, lon=120.553) for d in ("nz-q-1", "nz-q-2")])
    worker.process([msg("noise", "nz-q-1", "telemetry", ts=NOW - 2000, LAeq=90.0),   # a breach is being counted
                    msg("noise", "nz-q-2", "telemetry", ts=NOW - 2000, LAeq=50.0)])  # quiet: nothing stored
    assert orjson.loads(rule_state(redis_client, settings, "nz-q-1")) == {"noise_high": [1, 0, 0, NOW - 2000, 0]}
    assert rule_state(redis_client, settings, "nz-q-2") is None
    worker.process([msg("noise", "nz-q-1", "telemetry", ts=NOW - 1000, LAeq=50.0)])  # quiet again: dropped
    assert rule_state(redis_client, settings, "nz-q-1") is None


def test_an_alarm_raised_across_batches_keeps_its_state_until_it_clears(worker, redis_client, settings):
    worker.process([msg("noise", "nz-q-3", "status", state="online", lat=31.87, lon=120.553)])
    for i, level in enumerate((90.0, 95.0)):
        worker.process([msg("noise", "nz-q-3", "telemetry", ts=NOW - 5000 + i, LAeq=level)])
    assert orjson.loads(rule_state(redis_client, settings, "nz-q-3"))["noise_high"][2] == 1  # active
    outcome = worker.process([msg("noise", "nz-q-3", "telemetry", ts=NOW, LAeq=60.0)])
    assert len(outcome.cleared) == 1
    assert rule_state(redis_client, settings, "nz-q-3") is None
