"""The Lua scripts (ioc/adapters/lua, loaded by ioc.adapters.scripts) against a real Redis: they
keep running after Redis forgot them (a restart, SCRIPT FLUSH), and each is registered once per client."""

from __future__ import annotations

import time

import orjson
import pytest

from ioc.adapters import redis_keys as keys
from ioc.adapters import scripts
from ioc.adapters.alarm_store import AlarmStore
from ioc.adapters.case_store import CaseStore
from ioc.adapters.redis_client import connect_redis
from ioc.adapters.snapshot_store import SnapshotStore
from ioc.domain.access import Principal
from ioc.domain.cases import Case, CaseEvent, apply
from ioc.ingest.worker import IngestWorker

NOW = int(time.time() * 1000)


def msg(kind, device, channel, **body):
    return (f"ioc/v1/{kind}/{device}/{channel}", orjson.dumps(body), NOW)


def level(device, i, value):
    return msg("water_level", device, "telemetry", ts=NOW - 60_000 + i * 1000, waterLevel=value)


@pytest.fixture
def worker(settings, city, redis_client):
    return IngestWorker(settings, connect_redis(settings.redis_url), city)


def raise_alarm(worker, device: str) -> str:
    """A water level station in yangshe whose level breaches twice: one active alarm."""
    worker.process([msg("water_level", device, "status", state="online", lat=31.87, lon=120.553),
                    level(device, 1, 4.3), level(device, 2, 4.35)])
    return f"{device}|water_level_warning"


def test_an_ingest_batch_is_applied_after_redis_forgot_the_batch_script(worker, redis_client, settings):
    worker.process([msg("noise", "nz-f-1", "status", state="online", lat=31.87, lon=120.553)])  # loads the script
    redis_client.script_flush()
    outcome = worker.process([msg("noise", "nz-f-1", "telemetry", ts=NOW, LAeq=50.0)])
    assert outcome.accepted == 1 and outcome.rejections == []
    assert SnapshotStore(redis_client, settings.redis_shards).device("nz-f-1")["latest"] == {"ts": NOW, "LAeq": 50.0}


def test_an_alarm_is_acknowledged_after_redis_forgot_the_acknowledge_script(worker, redis_client):
    store = AlarmStore(redis_client)
    first, second = raise_alarm(worker, "wl-f-1"), raise_alarm(worker, "wl-f-2")
    store.acknowledge(first, "op", "operator", NOW)  # registers and loads the script
    redis_client.script_flush()
    assert store.acknowledge(second, "op", "operator", NOW).by == "op"
    assert redis_client.hexists(keys.ALARMS_ACKS, second)


def test_a_script_queued_on_a_pipeline_with_other_writes_never_meets_noscript(worker, redis_client):
    redis_client.script_flush()
    pipe = redis_client.pipeline(transaction=False)
    pipe.set("test:other-write", "1")
    worker.store.write_rollups(pipe, {NOW // 60_000: {"yangshe|noise|LAeq": [1, 50.0, 50.0]}}, {})
    assert pipe.execute() == [True, 1]
    assert redis_client.hget(keys.rollup(NOW // 60_000), "yangshe|noise|LAeq:n") == b"1"


def test_a_case_is_created_moved_and_read_after_redis_forgot_the_case_scripts(redis_client):
    store = CaseStore(redis_client)
    case = Case(store.next_id(NOW), "10105", 31.87, 120.55, "yangshe", "hotline", NOW)
    store.create(case, CaseEvent(case.id, "report", "hotline", "system", "", "reported", NOW))
    redis_client.script_flush()
    after, event = apply(case, "accept", Principal("li", frozenset({"dispatcher"})), NOW + 1000)
    store.save_transition(case, after, event)
    redis_client.script_flush()
    assert [s.action for s in store.steps([case.id])[case.id]] == ["report", "accept"]


def test_each_script_is_registered_once_per_client(redis_client, redis_server_proc):
    other = connect_redis(redis_server_proc.url)
    try:
        assert scripts.script(redis_client, scripts.CASE_CREATE) is scripts.script(redis_client, scripts.CASE_CREATE)
        assert scripts.script(other, scripts.CASE_CREATE) is not scripts.script(redis_client, scripts.CASE_CREATE)
        assert CaseStore(redis_client)._create is CaseStore(redis_client)._create  # noqa: SLF001
    finally:
        other.close()
