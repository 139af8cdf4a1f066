"""The recorder against a real Redis and a real PostgreSQL: each stream family lands in its
tables, a replay writes nothing twice, retention, lost entries."""

from __future__ import annotations

import time

import psycopg
import pytest

from ioc.adapters import heartbeats
from ioc.adapters import redis_keys as keys
from ioc.adapters.counters import read as read_counters
from ioc.adapters.redis_keys import shard_of
from ioc.record.recorder import GROUP, Recorder, record_once
from tests.recorder_entries import (T0, a_case, add_alarm_event, add_audit, add_case, add_event, add_readings, add_registry,
                                    add_timeline, add_token, add_user, an_alarm, device_meta)

pytestmark = pytest.mark.integration


def q(url, sql, *args):
    with psycopg.connect(url) as conn:
        return conn.execute(sql, args).fetchall()


def keeping_raw(settings):
    """The settings with a raw window wide enough for the fixed past times of these tests (the
    recorder leaves out raw readings already older than IOC_RECORD_RAW_HOURS)."""
    import dataclasses

    return dataclasses.replace(settings, record_raw_hours=24 * 365 * 10)


def test_cases_land_with_every_version_and_timeline_entry(record_settings, redis_client):
    add_case(redis_client, a_case(version=1, stage="reported", at=T0), f"{T0}-0")
    add_case(redis_client, a_case(version=2, stage="accepted", at=T0 + 1000), f"{T0 + 1000}-0", action="accept")
    add_timeline(redis_client, "C-1", f"{T0 + 2000}-0", at=T0 + 2000)
    assert record_once(record_settings, redis_client) > 0
    url = record_settings.database_url
    assert q(url, "SELECT id, version, stage, district FROM cases") == [("C-1", 2, "accepted", "320582001")]
    assert q(url, "SELECT version FROM case_versions ORDER BY version") == [(1,), (2,)]
    assert q(url, "SELECT action FROM case_timeline ORDER BY at") == [("report",), ("accept",), ("notify",)]


def test_an_older_case_version_never_replaces_a_newer_one(record_settings, redis_client):
    add_case(redis_client, a_case(version=3, stage="dispatched", at=T0 + 3000), f"{T0 + 3000}-0")
    record_once(record_settings, redis_client)
    add_case(redis_client, a_case(version=2, stage="accepted", at=T0 + 2000), f"{T0 + 2000}-0")
    record_once(record_settings, redis_client)
    assert q(record_settings.database_url, "SELECT version, stage FROM cases") == [(3, "dispatched")]


def test_events_users_tokens_and_audit_land(record_settings, redis_client):
    add_event(redis_client, version=1)
    add_event(redis_client, version=2, status="closed", at=T0 + 5000)
    add_user(redis_client, "wang")
    add_user(redis_client, "li")
    add_user(redis_client, "li", at=T0 + 1, user=False)
    add_token(redis_client, "t1")
    add_audit(redis_client)
    record_once(record_settings, redis_client)
    url = record_settings.database_url
    assert q(url, "SELECT version, status, ended_at IS NOT NULL FROM events") == [(2, "closed", True)]
    assert q(url, "SELECT count(*) FROM event_versions") == [(2,)]
    assert q(url, "SELECT name FROM users") == [("wang",)]
    assert q(url, "SELECT id FROM tokens") == [("t1",)]
    assert q(url, "SELECT actor, action, ip FROM audit") == [("ops", "case.report", "10.0.0.1")]


def test_an_alarm_activation_is_one_row_with_its_ack_and_clear(record_settings, redis_client):
    alarm = an_alarm()
    add_alarm_event(redis_client, "raised", alarm)
    record_once(record_settings, redis_client)
    url = record_settings.database_url
    assert q(url, "SELECT cleared_at, acknowledged_at FROM alarms") == [(None, None)]
    add_alarm_event(redis_client, "acknowledged", alarm, by="li", role="operator", acknowledged_at=T0 + 60_000)
    add_alarm_event(redis_client, "cleared", alarm, value=2.0, cleared_at=T0 + 120_000)
    record_once(record_settings, redis_client)
    rows = q(url, "SELECT acknowledged_by, extract(epoch from cleared_at - raised_at), data->'ack'->>'by', "
                  "(data->>'value')::float FROM alarms")
    assert rows == [("li", 120, "li", 3.2)]
    assert q(url, "SELECT event FROM alarm_events ORDER BY stream_id") == [("raised",), ("acknowledged",), ("cleared",)]


def test_registry_changes_give_devices_and_their_events(record_settings, redis_client):
    shards = record_settings.redis_shards
    add_registry(redis_client, shards, [["wl-1", "birth", T0, True, device_meta()]])
    add_registry(redis_client, shards, [["wl-1", "offline", T0 + 10, False, device_meta()],
                                        ["wl-1", "moved", T0 + 20, None, device_meta(lon=120.6)]])
    record_once(record_settings, redis_client)
    url = record_settings.database_url
    assert q(url, "SELECT id, kind, name, online, lon FROM devices") == [("wl-1", "water_level", "水位计1", False, 120.6)]
    assert q(url, "SELECT event FROM device_events ORDER BY at") == [("birth",), ("offline",), ("moved",)]


def test_readings_become_minute_rollups_hourly_aggregates_and_raw_rows(record_settings, redis_client):
    shards = record_settings.redis_shards
    add_readings(redis_client, shards, [["n1", "noise", "d1", T0, {"LAeq": 50.0}]])
    add_readings(redis_client, shards, [["n1", "noise", "d1", T0 + 1000, {"LAeq": 70.0}]])
    add_readings(redis_client, shards, [["s1", "streetlight", "d1", T0, {"powerState": "on"}]])
    record_once(keeping_raw(record_settings), redis_client)
    url = record_settings.database_url
    rows = q(url, "SELECT kind, attribute, s, n, x FROM rollup_minute ORDER BY kind, attribute")
    assert rows == [("noise", "LAeq", 120.0, 2, 70.0), ("noise", "_", None, 2, None),
                    ("streetlight", "_", None, 1, None), ("streetlight", "powerState=on", None, 1, None)]
    assert q(url, "SELECT n, sum, min, max, last FROM device_hourly WHERE device_id = 'n1'") == [(2, 120.0, 50.0, 70.0, 70.0)]
    assert q(url, "SELECT last_text FROM device_hourly WHERE device_id = 's1'") == [("on",)]
    assert len(q(url, "SELECT * FROM readings")) == 3, q(url, "SELECT stream_id, idx, at, device_id FROM readings")


def test_the_shards_readings_due_together_are_one_transaction_with_each_stream_s_offset(record_settings, redis_client):
    """Readings of devices on different shards, due at the same pass: one batch, so their minute
    rollup is one row summed over both, and every stream's offset is saved by the same
    transaction (its `updated_at`, PostgreSQL's transaction time, is the same)."""
    shards = record_settings.redis_shards
    devices = {}
    for n in range(100):  # two devices of one district on two different shards
        devices.setdefault(shard_of(f"n{n}", shards), f"n{n}")
        if len(devices) == 2:
            break
    (a_shard, a), (b_shard, b) = devices.items()
    add_readings(redis_client, shards, [[a, "noise", "d1", T0, {"LAeq": 50.0}]])
    add_readings(redis_client, shards, [[b, "noise", "d1", T0 + 1000, {"LAeq": 70.0}]])
    record_once(keeping_raw(record_settings), redis_client)
    url = record_settings.database_url
    assert q(url, "SELECT s, n FROM rollup_minute WHERE attribute = 'LAeq'") == [(120.0, 2)]
    saved = q(url, "SELECT stream, updated_at, rows FROM recorder_offsets WHERE stream = ANY(%s)",
              [keys.readings_stream(a_shard), keys.readings_stream(b_shard)])
    assert len(saved) == 2 and saved[0][1] == saved[1][1]
    written = sum(n for t, n in read_counters(redis_client).items() if t.startswith("recorder:rows:"))
    assert written > 0 and sum(r[2] for r in saved) == written  # the rows split between the streams add up to what was written


def _dump(url) -> list:
    tables = ["cases", "case_versions", "case_timeline", "events", "event_versions", "alarm_events", "alarms", "audit",
              "users", "tokens", "devices", "device_events", "rollup_minute", "device_hourly", "readings"]
    return [q(url, f"SELECT * FROM {t} ORDER BY 1, 2, 3") for t in tables]


def test_a_replayed_batch_writes_nothing_twice(record_settings, redis_client):
    shards = record_settings.redis_shards
    add_case(redis_client, a_case(), f"{T0}-0")
    add_readings(redis_client, shards, [["n1", "noise", "d1", T0, {"LAeq": 50.0}]])
    add_alarm_event(redis_client, "raised", an_alarm())
    add_audit(redis_client)
    record_once(record_settings, redis_client)
    url = record_settings.database_url
    before = _dump(url)
    # the same entries delivered again: the group rewound, as after a lost acknowledgement
    for key in (keys.RECORD, keys.AUDIT, keys.ALARMS_EVENTS, *(keys.readings_stream(s) for s in range(shards))):
        redis_client.xgroup_setid(key, GROUP, "0")
    assert record_once(record_settings, redis_client) == 0
    # and the offsets reset too: history rows are keyed by stream id, latest-state rows by version
    with psycopg.connect(url) as conn:
        conn.execute("DELETE FROM recorder_offsets WHERE stream <> %s", (keys.readings_stream(0),))
    for key in (keys.RECORD, keys.AUDIT, keys.ALARMS_EVENTS):
        redis_client.xgroup_setid(key, GROUP, "0")
    record_once(record_settings, redis_client)
    assert _dump(url) == before


def test_entries_left_pending_by_a_killed_recorder_are_recorded(record_settings, redis_client):
    add_audit(redis_client)
    recorder = Recorder(record_settings, redis_client)
    recorder._connect()
    recorder._ensure_groups()
    recorder._read(next(s for s in recorder.streams if s.key == keys.AUDIT), 10)  # read, never written: "killed"
    recorder.close()
    assert redis_client.xpending(keys.AUDIT, GROUP)["pending"] == 1
    record_once(record_settings, redis_client)
    assert q(record_settings.database_url, "SELECT count(*) FROM audit") == [(1,)]
    assert redis_client.xpending(keys.AUDIT, GROUP)["pending"] == 0


def test_entries_trimmed_before_they_were_recorded_are_counted_lost(record_settings, redis_client):
    add_audit(redis_client)
    record_once(record_settings, redis_client)
    for i in range(30):
        add_audit(redis_client, at=T0 + i)
    redis_client.xtrim(keys.AUDIT, maxlen=10, approximate=False)  # the cap reached while the record was behind
    record_once(record_settings, redis_client)
    assert read_counters(redis_client)[f"recorder:lost:{keys.AUDIT}"] == 20
    assert q(record_settings.database_url, "SELECT count(*) FROM audit") == [(11,)]


def test_retention_drops_partitions_past_the_window(record_settings, redis_client):
    shards = record_settings.redis_shards
    add_readings(redis_client, shards, [["n1", "noise", "d1", T0, {"LAeq": 50.0}]])
    add_audit(redis_client)
    record_once(keeping_raw(record_settings), redis_client)
    recorder = Recorder(record_settings, redis_client)
    recorder._connect()
    dropped = recorder.retention(now_ms=T0 + 2 * 86_400_000)  # raw readings kept 24 h, events for good
    recorder.close()
    assert dropped == ["readings_p20261130"]
    url = record_settings.database_url
    assert q(url, "SELECT count(*) FROM readings") == [(0,)]
    assert q(url, "SELECT count(*) FROM audit") == [(1,)] and q(url, "SELECT count(*) FROM rollup_minute") == [(2,)]


def test_the_heartbeat_carries_lag_per_stream(record_settings, redis_client):
    add_audit(redis_client)
    recorder = Recorder(record_settings, redis_client)
    recorder._connect()
    recorder._ensure_groups()
    recorder.heartbeat()
    beat = next(b for b in heartbeats.read(redis_client).values() if b["role"] == "recorder")
    assert beat["lag"][keys.AUDIT] > 0 and beat["lag"][keys.RECORD] == 0
    recorder.step(force=True)
    recorder.heartbeat()
    beat = next(b for b in heartbeats.read(redis_client).values() if b["role"] == "recorder")
    recorder.close()
    assert beat["lag"][keys.AUDIT] == 0 and beat["rows"] == 1


def test_after_redis_lost_its_data_recording_goes_on_from_the_new_streams(record_settings, redis_client):
    add_audit(redis_client, at=T0)
    add_audit(redis_client, at=T0 + 1)
    record_once(record_settings, redis_client)
    url = record_settings.database_url
    # the record is ahead of what Redis now holds: Redis was emptied (a lost disk, an old copy)
    # after recording entries an hour "newer" than anything the new Redis will write for a while
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE recorder_offsets SET last_id = %s", (f"{int(time.time() * 1000) + 3_600_000}-0",))
    redis_client.flushall()
    add_audit(redis_client, at=T0 + 2)
    record_once(record_settings, redis_client)
    assert q(url, "SELECT count(*) FROM audit") == [(3,)]
    assert read_counters(redis_client)["recorder:errors:redis_lost"] >= 1


def test_a_second_recorder_waits_as_a_standby_until_the_first_is_gone(record_settings, redis_client):
    first, second = Recorder(record_settings, redis_client), Recorder(record_settings, redis_client)
    try:
        assert first._connect() is True
        assert second._connect() is False and not second.active
        first.close()
        assert second._connect(wait_s=10) is True and second.active
    finally:
        first.close()
        second.close()


def _fill(r, shards: int, n: int, start: int = 0) -> None:
    pipe = r.pipeline(transaction=False)
    for i in range(start, start + n):
        add_timeline(pipe, "C-1", f"{T0 + i}-0", at=T0 + i)
        add_readings(pipe, shards, [["n1", "noise", "d1", T0 + i, {"LAeq": 50.0}]])
        add_audit(pipe, at=T0 + i)
        add_alarm_event(pipe, "notified", an_alarm())
    pipe.execute()


def test_recorded_entries_leave_the_record_registry_and_readings_streams(record_settings, redis_client):
    shards = record_settings.redis_shards
    readings = keys.readings_stream(shard_of("n1", shards))
    _fill(redis_client, shards, 500)
    record_once(record_settings, redis_client)
    # trimmed approximately (whole stream nodes of 100 entries): at most a node of recorded entries stays
    assert redis_client.xlen(keys.RECORD) <= 100
    assert redis_client.xlen(readings) <= 100
    _fill(redis_client, shards, 500, start=500)
    record_once(record_settings, redis_client)
    assert redis_client.xlen(keys.RECORD) <= 100
    assert q(record_settings.database_url, "SELECT count(*) FROM case_timeline") == [(1000,)]


def test_the_audit_log_and_alarm_events_are_never_trimmed_by_the_recorder(record_settings, redis_client):
    _fill(redis_client, record_settings.redis_shards, 500)
    record_once(record_settings, redis_client)
    assert redis_client.xlen(keys.AUDIT) == 500
    assert redis_client.xlen(keys.ALARMS_EVENTS) == 500


def test_the_recorders_own_trims_are_not_counted_lost(record_settings, redis_client):
    shards = record_settings.redis_shards
    for start in (0, 500, 1000):
        _fill(redis_client, shards, 500, start=start)
        record_once(record_settings, redis_client)
    lost = {k: v for k, v in read_counters(redis_client).items() if k.startswith("recorder:lost:")}
    assert lost == {}


def test_the_unrecorded_tail_stays_in_redis_while_postgresql_is_down(record_settings, redis_client):
    shards = record_settings.redis_shards
    readings = keys.readings_stream(shard_of("n1", shards))
    _fill(redis_client, shards, 500)
    record_once(record_settings, redis_client)
    recorded = redis_client.xrevrange(keys.RECORD, count=1)[0][0].decode()
    _fill(redis_client, shards, 300, start=500)
    down = record_settings.replace(database_url="postgresql://ioc@127.0.0.1:9/ioc")  # nothing listens there
    with pytest.raises(psycopg.OperationalError):
        record_once(down, redis_client)
    assert redis_client.xlen(keys.RECORD) >= 300
    assert redis_client.xlen(readings) >= 300
    assert len(redis_client.xrange(keys.RECORD, min=f"({recorded}")) == 300
    record_once(record_settings, redis_client)
    assert q(record_settings.database_url, "SELECT count(*) FROM case_timeline") == [(800,)]
    assert redis_client.xlen(keys.RECORD) <= 100
