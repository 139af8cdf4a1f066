"""The demo's history (simulators.history) through the real write paths: the ingest's batch path,
the case worker's intake, the case service and the alarm store, into a real Redis, every change
stamped with its simulated past time; a second start adds nothing."""

from __future__ import annotations

import os
import time

import orjson
import pytest

from ioc.adapters import redis_keys as keys
from ioc.adapters.case_store import CaseStore
from ioc.adapters.redis_client import connect_redis
from ioc.adapters.snapshot_store import SnapshotStore
from ioc.settings import Settings
from simulators.casework import REPORT_LEAD_MAX_MS
from simulators.fleet import build_fleet
from simulators.history import city_is_empty, load_history

DAYS = 3
DEVICES = 60
SEED = 7


@pytest.fixture(scope="module")
def written(redis_server_proc, tmp_path_factory, city):
    """Three days of a small city written once for the module: (settings, client, summary)."""
    settings = Settings.from_env(env={}, redis_url=redis_server_proc.url, data_dir=tmp_path_factory.mktemp("history"))
    client = connect_redis(redis_server_proc.url)
    client.flushall()
    end_ms = int(time.time() * 1000)
    summary = load_history(client, settings, city, days=DAYS, end_ms=end_ms, seed=SEED, reports_per_hour=15.0,
                           fleet=build_fleet(city, DEVICES, SEED), progress=False)
    yield settings, client, summary
    client.close()


def test_every_device_is_registered_with_its_latest_reading_from_the_past(written):
    settings, client, summary = written
    snapshot = SnapshotStore(client, settings.redis_shards)
    devices = snapshot.devices()
    assert len(devices) == DEVICES + 48  # the field devices and the 48 platform systems
    latest = [orjson.loads(v)["ts"] for shard in range(settings.redis_shards)
              for v in client.hvals(keys.latest(shard))]
    assert summary.start_ms < min(latest) and max(latest) <= summary.end_ms


def test_the_ingest_accepted_the_past_without_relaxing_its_maximum_age(written):
    _, client, summary = written
    assert summary.accepted == summary.readings + summary.status_messages
    assert client.xlen(keys.DEADLETTER) == 0


def test_the_trend_panels_hours_are_filled_and_old_minute_buckets_are_not_kept(written):
    settings, client, summary = written
    snapshot = SnapshotStore(client, settings.redis_shards)
    last_hour = summary.end_ms // 3_600_000
    hours = snapshot.rollup_series("hour", last_hour - 23, last_hour + 1)
    assert len([h for h, fields in hours.items() if fields]) >= 23
    first_hour = summary.start_ms // 3_600_000 + 1
    assert snapshot.rollup_series("hour", first_hour, first_hour + 1)[first_hour]  # the oldest day too, hourly
    old_minute = (summary.end_ms - (settings.rollup_retention_hours + 2) * 3_600_000) // 60_000
    assert not any(client.exists(keys.rollup(m)) for m in range(old_minute - 30, old_minute))
    recent_minute = (summary.end_ms - 3_600_000) // 60_000
    assert any(client.exists(keys.rollup(m)) for m in range(recent_minute, recent_minute + 30))


def test_alarms_were_raised_cleared_and_acknowledged_at_past_times(written):
    _, client, summary = written
    events = [(f[b"event"].decode(), orjson.loads(f[b"alarm"])) for _, f in client.xrange(keys.ALARMS_EVENTS)]
    kinds = {e for e, _ in events}
    assert {"raised", "cleared", "acknowledged"} <= kinds
    raised = [a["raised_at"] for e, a in events if e == "raised"]
    assert summary.start_ms <= min(raised) and max(raised) <= summary.end_ms


def test_cases_went_through_every_stage_over_the_days(written):
    _, client, summary = written
    store = CaseStore(client)
    cases = store.all()
    assert len(cases) == summary.cases > 0
    # a case is reported at the citizen's call or the inspector's sighting, which may precede the history's first minute
    assert all(summary.start_ms - REPORT_LEAD_MAX_MS <= c.created_at <= summary.end_ms for c in cases)
    stages = {c.stage for c in cases}
    assert {"closed", "dispatched"} <= stages
    actions = {e.action for c in cases[:: max(1, len(cases) // 400)] for e in store.timeline(c.id)}
    assert {"report", "accept", "verify", "dispatch", "acknowledge", "handle", "check_pass", "close"} <= actions
    for action in ("check_fail", "request_deferral", "approve_deferral"):
        assert summary.actions.get(action, 0) > 0, action
    assert summary.overdue_raised > 0
    days = {time.strftime("%Y-%m-%d", time.gmtime((c.created_at + 8 * 3_600_000) / 1000)) for c in cases}
    assert len(days) >= DAYS


def test_case_ids_carry_the_china_date_they_were_reported(written):
    _, client, _ = written
    from ioc.domain.clock import local_text

    for case in CaseStore(client).all()[:200]:
        assert case.id.split("-")[1] == local_text(case.created_at, "%Y%m%d")


def test_the_past_dispatches_and_notifications_are_not_sent_when_the_workers_start(written):
    _, client, _ = written
    for stream in (keys.CASES_OUTBOX, keys.NOTIFY_OUTBOX):
        groups = client.xinfo_groups(stream)
        assert groups and all(int(g["lag"] or 0) == 0 and int(g["pending"]) == 0 for g in groups), stream


def test_a_city_with_history_is_not_empty_so_a_second_start_adds_nothing(written):
    from ioc.demo import write_history

    settings, client, _ = written
    before = (client.get(keys.CASES_SEQ), client.xlen(keys.ALARMS_EVENTS), client.xlen(keys.AUDIT))
    assert not city_is_empty(client, settings)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MQTT_URL")}
    env.update(REDIS_URL=settings.redis_url, IOC_DATA_DIR=str(settings.data_dir))
    line = write_history(env, ["--devices", str(DEVICES), "--seed", str(SEED)])
    assert "no history" in line
    assert (client.get(keys.CASES_SEQ), client.xlen(keys.ALARMS_EVENTS), client.xlen(keys.AUDIT)) == before
