"""The record from the product's own write paths (needs the producers of branch `streams`):
an ingest batch, a case and its transition, a user, an alarm raised, acknowledged and cleared
-> record_once -> the rows in PostgreSQL."""

from __future__ import annotations

import time

import orjson
import psycopg
import pytest

from ioc.adapters.alarm_store import AlarmStore
from ioc.adapters.case_store import CaseStore
from ioc.adapters.redis_client import connect_redis
from ioc.adapters.user_store import Actor
from ioc.domain.alarms import Alarm
from ioc.domain.cases import Case, CaseEvent
from ioc.ingest.worker import IngestWorker
from ioc.record.recorder import record_once
from ioc.web.services import user_store as make_user_store

pytestmark = pytest.mark.integration
NOW = int(time.time() * 1000)
T0 = NOW - 3_600_000


def q(url, sql):
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def msg(kind, device, channel, received=NOW, **body):
    return (f"ioc/v1/{kind}/{device}/{channel}", orjson.dumps(body), received)


def test_the_product_write_paths_land_in_the_record(record_settings, redis_client, city):
    worker = IngestWorker(record_settings, connect_redis(record_settings.redis_url), city)
    worker.process([msg("noise", "nz-1", "status", state="online", lat=31.87, lon=120.553, name="杨舍噪声1")])
    worker.process([msg("noise", "nz-1", "telemetry", ts=NOW - 2000, LAeq=51.0),
                    msg("noise", "nz-1", "telemetry", ts=NOW - 1000, LAeq=53.0, LAmax=60.0)])
    cases = CaseStore(redis_client)
    case = Case(cases.next_id(T0), "10105", 31.87, 120.55, "yangshe", "hotline", T0)
    cases.create(case, CaseEvent(case.id, "report", "hotline", "system", "", "reported", T0, "井盖丢失", {"k": 1}))
    make_user_store(redis_client, record_settings, city).add("wang", ["dispatcher"], Actor("root", "admin", ""), password="x" * 12)
    alarms = AlarmStore(redis_client)
    alarm = Alarm("wl-1|high", "wl-1", "water_level", "high", "critical", "yangshe", "waterLevel", 3.2, 3.0, T0, "水位高", "High")
    alarms.raise_alarm(alarm)
    alarms.acknowledge(alarm.id, "li", "operator", T0 + 1000)
    alarms.clear(alarm.id, "li", "dispatcher", "退水", T0 + 2000)

    assert record_once(record_settings, redis_client) > 0
    url = record_settings.database_url
    assert q(url, "SELECT id, kind, district, online FROM devices") == [("nz-1", "noise", "yangshe", True)]
    assert q(url, "SELECT n, s, x FROM rollup_minute WHERE attribute = 'LAeq' ORDER BY minute") in (
        [(2, 104.0, 53.0)], [(1, 51.0, 51.0), (1, 53.0, 53.0)])
    assert q(url, "SELECT n, min, max, last FROM device_hourly WHERE attribute = 'LAeq'") == [(2, 51.0, 53.0, 53.0)]
    assert q(url, "SELECT id, version, stage FROM cases") == [(case.id, 1, "reported")]
    assert q(url, "SELECT action FROM case_timeline") == [("report",)]
    assert ("wang",) in q(url, "SELECT name FROM users")
    assert q(url, "SELECT acknowledged_by, cleared_at IS NOT NULL FROM alarms") == [("li", True)]
    assert {r[0] for r in q(url, "SELECT action FROM audit")} >= {"case.report", "alarm.acknowledge", "alarm.clear"}
