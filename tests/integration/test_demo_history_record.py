"""The demo's history reaches the record (PostgreSQL) with its original, past timestamps: the
history writes Redis through the real paths and the recorder (`ioc.record.recorder.record_once`,
called as the history goes) copies the streams. Skipped where the recorder is not installed."""

from __future__ import annotations

import time

import pytest

from ioc.record.db import connect
from simulators.fleet import build_fleet
from simulators.casework import REPORT_LEAD_MAX_MS
from simulators.history import city_is_empty, load_history

recorder = pytest.importorskip("ioc.record.recorder")

HOURS = 30


@pytest.fixture
def recorded(redis_client, record_settings, city):
    end_ms = int(time.time() * 1000)
    summary = load_history(redis_client, record_settings, city, days=HOURS / 24, end_ms=end_ms, seed=7,
                           reports_per_hour=10.0, fleet=build_fleet(city, 40, 7), progress=False,
                           drain=lambda: recorder.record_once(record_settings))
    return record_settings, summary


def test_the_record_holds_the_history_at_its_past_times(recorded):
    settings, summary = recorded
    with connect(settings.database_url) as conn:
        cases, oldest_case = conn.execute("SELECT count(*), min(extract(epoch FROM created_at) * 1000) FROM cases").fetchone()
        oldest_minute = conn.execute("SELECT min(extract(epoch FROM minute) * 1000) FROM rollup_minute").fetchone()[0]
        births = conn.execute("SELECT count(*) FROM device_events WHERE event = 'birth'").fetchone()[0]
        alarms = conn.execute("SELECT count(*), min(extract(epoch FROM raised_at) * 1000) FROM alarms").fetchone()
    assert cases == summary.cases
    # a case's report time may precede its filing by a hotline call's lead (simulators.casework)
    assert summary.start_ms - REPORT_LEAD_MAX_MS <= oldest_case < summary.start_ms + 3 * 3_600_000
    assert summary.start_ms - 60_000 <= oldest_minute < summary.start_ms + 3_600_000
    assert births >= 40
    assert alarms[0] > 0 and alarms[1] >= summary.start_ms


def test_a_record_with_history_is_not_an_empty_city_even_when_redis_lost_its_data(recorded, redis_client):
    settings, _ = recorded
    redis_client.flushall()
    assert city_is_empty(redis_client, settings)  # Redis alone looks empty
    assert not city_is_empty(redis_client, settings, settings.database_url)
