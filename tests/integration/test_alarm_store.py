"""Operator actions on alarms against a real Redis (ioc.adapters.alarm_store): alarms are raised
by a real ingest batch, then acknowledged, cleared by hand or by their rule."""

from __future__ import annotations

import threading
import time

import orjson
import pytest

from ioc.adapters import redis_keys as keys
from ioc.adapters.alarm_store import AlarmNotFound, AlarmStore
from ioc.adapters.redis_client import connect_redis
from ioc.adapters.snapshot_store import SnapshotStore
from ioc.domain.alarm_handling import Acknowledgement, AlarmActionError, AlarmPermissionError
from ioc.ingest.worker import IngestWorker

NOW = int(time.time() * 1000)
ALARM = "wl-h-1|water_level_warning"


def msg(kind, device, channel, **body):
    return (f"ioc/v1/{kind}/{device}/{channel}", orjson.dumps(body), NOW)


def level(i, value):
    return msg("water_level", "wl-h-1", "telemetry", ts=NOW - 60_000 + i * 1000, waterLevel=value)


@pytest.fixture
def worker(settings, city, redis_client):
    return IngestWorker(settings, connect_redis(settings.redis_url), city)


@pytest.fixture
def store(redis_client):
    return AlarmStore(redis_client)


@pytest.fixture
def events(redis_client, settings):
    snapshot = SnapshotStore(redis_client, settings.redis_shards)
    return lambda: list(reversed(snapshot.alarm_events()))  # oldest first


@pytest.fixture
def raised(worker, store):
    """A water level station in yangshe with one active water_level_warning alarm."""
    worker.process([
        msg("water_level", "wl-h-1", "status", state="online", lat=31.87, lon=120.553),
        level(1, 4.3),
        level(2, 4.35),
    ])
    assert [a["id"] for a in store.active()] == [ALARM]
    return ALARM


def test_an_active_alarm_is_listed_without_an_ack(raised, store):
    (alarm,) = store.active()
    assert alarm["rule_id"] == "water_level_warning" and alarm["district"] == "yangshe"
    assert alarm["ack"] is None


def test_an_ack_records_who_and_when_and_a_second_ack_keeps_the_first(raised, store, events):
    ack = store.acknowledge(raised, "zhang", "operator", NOW)
    assert ack == Acknowledgement("zhang", "operator", NOW)
    again = store.acknowledge(raised, "li", "leader", NOW + 5000)
    assert again == ack
    assert store.active()[0]["ack"] == {"by": "zhang", "role": "operator", "at_ms": NOW}
    acked = [e for e in events() if e["event"] == "acknowledged"]
    assert len(acked) == 1
    assert (acked[0]["by"], acked[0]["role"], acked[0]["acknowledged_at"], acked[0]["device_id"]) == ("zhang", "operator", NOW, "wl-h-1")


def test_an_unknown_alarm_cannot_be_acknowledged_or_cleared(raised, store, redis_client):
    with pytest.raises(AlarmNotFound, match="no active alarm 'nope|x'"):
        store.acknowledge("nope|x", "zhang", "operator", NOW)
    with pytest.raises(KeyError):
        store.clear("nope|x", "wang", "dispatcher", "checked", NOW)
    assert redis_client.hlen(keys.ALARMS_ACKS) == 0


def test_an_operator_cannot_clear(raised, store, events):
    with pytest.raises(AlarmPermissionError, match="acknowledge only"):
        store.clear(raised, "zhang", "operator", "looks fine", NOW)
    assert [a["id"] for a in store.active()] == [raised]
    assert [e["event"] for e in events()] == ["raised"]


def test_a_hand_clear_needs_a_note(raised, store):
    with pytest.raises(AlarmActionError, match="note"):
        store.clear(raised, "wang", "dispatcher", "  ", NOW)
    assert len(store.active()) == 1


def test_a_dispatcher_clears_with_a_note_and_the_event_says_manual(raised, store, events, redis_client):
    store.acknowledge(raised, "zhang", "operator", NOW)
    event = store.clear(raised, "wang", "dispatcher", "gauge checked on site: sensor fouled", NOW + 1000)
    assert store.active() == []
    assert redis_client.hlen(keys.ALARMS_ACKS) == 0
    assert [e["event"] for e in events()] == ["raised", "acknowledged", "cleared"]
    cleared = events()[-1]
    assert cleared == {**cleared, "by": "wang", "role": "dispatcher", "note": "gauge checked on site: sensor fouled",
                       "manual": True, "cleared_at": NOW + 1000, "rule_id": "water_level_warning"}
    assert event["manual"] is True
    with pytest.raises(AlarmNotFound, match="already cleared"):
        store.clear(raised, "li", "leader", "again", NOW + 2000)


def test_after_a_hand_clear_the_rule_neither_raises_again_nor_clears_twice(raised, store, worker, events):
    store.clear(raised, "wang", "dispatcher", "known, crew on site", NOW)
    worker.process([level(3, 4.4), level(4, 4.5)])  # condition still holds: rule state stays active
    assert store.active() == []
    worker.process([level(5, 4.0)])  # the rule's own clear finds nothing to clear
    assert [e["event"] for e in events()] == ["raised", "cleared"]
    worker.process([level(6, 4.3), level(7, 4.3)])  # breaches again: a new alarm
    assert [a["id"] for a in store.active()] == [raised]


def test_the_rules_own_clear_removes_the_ack(raised, store, worker, events, redis_client):
    store.acknowledge(raised, "zhang", "operator", NOW)
    worker.process([level(3, 4.0)])
    assert store.active() == []
    assert redis_client.hget(keys.ALARMS_ACKS, raised) is None
    assert [e["event"] for e in events()] == ["raised", "acknowledged", "cleared"]
    assert "manual" not in events()[-1]
    worker.process([level(4, 4.3), level(5, 4.3)])  # raised again: starts unacknowledged
    assert store.active()[0]["ack"] is None


def test_two_concurrent_hand_clears_give_one_cleared_event(raised, settings, events):
    stores = [AlarmStore(connect_redis(settings.redis_url)) for _ in range(8)]
    barrier = threading.Barrier(len(stores))
    results: list = []

    def clear(i, s):
        barrier.wait()
        try:
            s.clear(raised, f"user{i}", "dispatcher", "duplicate report", NOW)
            results.append("cleared")
        except AlarmNotFound:
            results.append("not found")

    threads = [threading.Thread(target=clear, args=(i, s)) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(results) == ["cleared"] + ["not found"] * (len(stores) - 1)
    assert [e["event"] for e in events()] == ["raised", "cleared"]


def test_a_concurrent_rule_clear_and_hand_clear_give_one_cleared_event(raised, settings, worker, events):
    store = AlarmStore(connect_redis(settings.redis_url))
    outcome = worker.apply([level(3, 4.0)])  # the rule decided to clear; not yet recorded
    assert len(outcome.cleared) == 1
    barrier = threading.Barrier(2)
    errors: list = []

    def hand():
        barrier.wait()
        try:
            store.clear(raised, "wang", "dispatcher", "water receding", NOW)
        except AlarmNotFound as e:
            errors.append(e)

    t = threading.Thread(target=hand)
    t.start()
    barrier.wait()
    worker.record(outcome)
    t.join(10)
    assert store.active() == []
    assert [e["event"] for e in events()] == ["raised", "cleared"]
