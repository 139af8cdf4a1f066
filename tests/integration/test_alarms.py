"""Threshold rules through the whole pipeline: raised after two samples, one per (device, rule),
cleared with hysteresis, each transition in the alarm event stream."""

from __future__ import annotations

import time

import pytest

from ioc.adapters.snapshot_store import SnapshotStore
from tests.conftest import wait_for
from tests.integration.test_ingest_pipeline import birth, counter, send


@pytest.fixture
def snapshot(redis_client, settings):
    return SnapshotStore(redis_client, settings.redis_shards)


@pytest.fixture
def station(ingest, publisher, redis_client):
    birth(publisher, "water_level", "wl-a-1")
    wait_for(lambda: counter(redis_client, "messages:accepted") == 1, message="birth")
    t0 = int(time.time() * 1000) - 60_000

    def level(i, value):
        send(publisher, "water_level", "wl-a-1", ts=t0 + i * 1000, waterLevel=value)

    return level


def accepted(redis_client, n):
    wait_for(lambda: counter(redis_client, "messages:accepted") == n, message=f"{n} accepted")


def test_one_breaching_sample_raises_nothing(station, redis_client, snapshot):
    station(1, 4.3)
    accepted(redis_client, 2)
    assert snapshot.active_alarms() == []


def test_two_breaching_samples_raise_one_alarm_with_severity_and_district(station, redis_client, snapshot):
    station(1, 4.3)
    station(2, 4.4)
    alarms = wait_for(snapshot.active_alarms, message="alarm")
    assert len(alarms) == 1
    assert alarms[0]["rule_id"] == "water_level_warning"
    assert alarms[0]["severity"] == "major"
    assert alarms[0]["district"] == "yangshe"
    assert alarms[0]["device_id"] == "wl-a-1"


def test_a_device_keeps_one_active_alarm_per_rule(station, redis_client, snapshot):
    for i in range(1, 6):
        station(i, 4.3 + i * 0.01)
    accepted(redis_client, 6)
    assert len(snapshot.active_alarms()) == 1
    assert counter(redis_client, "alarms:raised") == 1


def test_an_alarm_stays_inside_the_hysteresis_band_and_clears_below_it(station, redis_client, snapshot):
    station(1, 4.3)
    station(2, 4.3)
    wait_for(snapshot.active_alarms, message="alarm")
    station(3, 4.15)  # below the 4.2 threshold but above the 4.1 clear line
    accepted(redis_client, 4)
    assert len(snapshot.active_alarms()) == 1
    station(4, 4.0)
    wait_for(lambda: snapshot.active_alarms() == [], message="cleared")
    events = [e["event"] for e in snapshot.alarm_events()]
    assert events == ["cleared", "raised"]


def test_a_higher_threshold_raises_its_own_critical_alarm(station, redis_client, snapshot):
    station(1, 4.8)
    station(2, 4.9)
    alarms = wait_for(lambda: len(snapshot.active_alarms()) == 2 and snapshot.active_alarms(), message="two alarms")
    assert sorted(a["severity"] for a in alarms) == ["critical", "major"]
