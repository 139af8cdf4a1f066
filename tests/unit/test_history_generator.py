"""The demo's seven days of history (simulators.history): the pure generator of the past's
telemetry and the seeded plans of deferrals and acknowledgements, deterministic with a seed."""

from __future__ import annotations

from collections import Counter

import orjson
import pytest

from ioc.adapters.geodata_files import load_city_map
from ioc.adapters.telemetry_store import bucket_ttl
from ioc.domain.clock import local_text
from ioc.settings import Settings
from simulators.casework import ReportStream
from simulators.fleet import build_fleet
from simulators.patterns import local_hour
from simulators.history import (DEFERRAL_SHARE, RECENT_S, SCENARIOS, ack_plan, deferral_plan, scenario_specs,
                                telemetry_chunks)

END_MS = 1_796_000_000_000  # a fixed "now" (2026-11-30 UTC)
DAYS = 7
START_MS = END_MS - DAYS * 86_400_000
STEP_S, RECENT_STEP_S = 1800.0, 600.0


@pytest.fixture(scope="module")
def city():
    return load_city_map(Settings.from_env(env={}).geodata_dir)


@pytest.fixture(scope="module")
def fleet(city):
    return build_fleet(city, 60, seed=7)


def _readings(fleet):
    out = []
    for at_ms, messages in telemetry_chunks(fleet, START_MS / 1000, END_MS / 1000, step_s=STEP_S,
                                            recent_step_s=RECENT_STEP_S, fault_rate=20.0):
        out.extend((at_ms, topic, payload) for topic, payload in messages)
    return out


@pytest.fixture(scope="module")
def history(fleet):
    return _readings(fleet)


def test_the_same_seed_and_window_give_the_same_telemetry(fleet, history):
    assert _readings(fleet) == history


def test_the_history_begins_with_every_device_born(fleet, history):
    births = [topic for at, topic, _ in history[:len(fleet.devices)]]
    assert all(t.endswith("/status") for t in births)
    assert len(set(births)) == len(fleet.devices)
    assert {at for at, _, _ in history[:len(fleet.devices)]} == {START_MS}


def test_every_day_of_the_week_has_readings_of_every_device(fleet, history):
    readings = [(at, t) for at, t, _ in history if t.endswith("/telemetry")]
    days = Counter(local_text(at, "%Y-%m-%d") for at, _ in readings)
    assert len(days) in (DAYS, DAYS + 1)  # seven times 24 hours span 7 or 8 China dates
    devices_per_day = {}
    for at, topic in readings:
        devices_per_day.setdefault(local_text(at, "%Y-%m-%d"), set()).add(topic.split("/")[3])
    full_days = sorted(days)[1:-1]
    assert all(len(devices_per_day[d]) == len(fleet.devices) for d in full_days)


def test_the_last_24_hours_are_three_times_finer(fleet, history):
    readings = [at for at, t, _ in history if t.endswith("/telemetry")]
    recent = sum(1 for at in readings if at > END_MS - RECENT_S * 1000)
    older_day = sum(1 for at in readings if END_MS - 3 * 86_400_000 < at <= END_MS - 2 * 86_400_000)
    devices = len(fleet.devices)
    assert recent == pytest.approx(devices * 86_400 / RECENT_STEP_S, rel=0.05)
    assert older_day == pytest.approx(devices * 86_400 / STEP_S, rel=0.05)


def test_readings_arrive_in_time_order_and_never_before_their_timestamp(history):
    arrivals = [at for at, _, _ in history]
    assert arrivals == sorted(arrivals)
    for at, topic, payload in history:
        if topic.endswith("/telemetry"):
            ts = orjson.loads(payload)["ts"]
            if isinstance(ts, int):
                assert at - 120_000 <= ts <= at


def test_devices_go_offline_and_come_back_in_the_past(history):
    status = [orjson.loads(p)["state"] for at, t, p in history if t.endswith("/status") and at > START_MS]
    assert status.count("offline") > 0
    assert status.count("online") >= status.count("offline")


def test_the_scenarios_happen_at_their_local_hour_on_their_day():
    specs = scenario_specs(START_MS / 1000, END_MS / 1000)
    assert [s.name for _, s in specs] == [name for name, _, _ in SCENARIOS]
    for (at, spec), (_, _, hour) in zip(specs, SCENARIOS):
        assert local_hour(at) == pytest.approx(hour, abs=0.01)
        assert spec.start_min == pytest.approx((at - START_MS / 1000) / 60)


def test_reports_come_every_day_of_the_week(city):
    stream = ReportStream(city, seed=7, per_hour=10.0, start_ms=START_MS)
    out = []
    stream.run_until(DAYS * 86_400.0, out)
    per_day = Counter(local_text(orjson.loads(p)["reported_at"] if isinstance(orjson.loads(p)["reported_at"], int)
                                 else _iso_ms(orjson.loads(p)["reported_at"]), "%Y-%m-%d") for _, p in out)
    assert len(out) == pytest.approx(10 * 24 * DAYS, rel=0.2)
    assert all(n > 0 for n in per_day.values()) and len(per_day) >= DAYS


def _iso_ms(text: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(text).timestamp() * 1000)


def test_a_few_dispatched_cases_get_a_deferral_and_the_plan_is_seeded():
    plans = [deferral_plan(f"ZJG-20261130-{i:06d}", 4, seed=7, dispatched_ms=START_MS) for i in range(4000)]
    asked = [p for p in plans if p is not None]
    assert len(asked) == pytest.approx(4000 * DEFERRAL_SHARE, rel=0.25)
    assert all(START_MS < p[0] < p[3] for p in asked)  # requested after the dispatch, decided after the request
    assert any(p[4] for p in asked) and not all(p[4] for p in asked)  # most approved, some denied
    assert plans == [deferral_plan(f"ZJG-20261130-{i:06d}", 4, seed=7, dispatched_ms=START_MS) for i in range(4000)]


def test_most_alarms_are_acknowledged_minutes_after_they_were_raised():
    acks = [ack_plan(f"dev-{i}|rule", START_MS, seed=7) for i in range(1000)]
    done = [a for a in acks if a is not None]
    assert 0.5 < len(done) / len(acks) < 0.9
    assert all(START_MS + 60_000 <= a <= START_MS + 20 * 60_000 for a in done)


def test_a_rollup_bucket_keeps_its_retention_from_its_own_time():
    now = END_MS
    assert bucket_ttl(now, 172_800, now) == 172_800
    assert bucket_ttl(now - 3_600_000, 172_800, now) == 172_800 - 3600
    assert bucket_ttl(now - 3 * 86_400_000, 172_800, now) <= 0  # past its retention: not written
