"""The recorder's parsing: stream entries -> rows of the record (pure)."""

from datetime import UTC, datetime

import orjson

from ioc.domain.rollup_fields import add_reading
from ioc.record.writers import ALARMS, AUDIT, READINGS, RECORD, REGISTRY, build, id_key, utc

T0 = 1_796_000_000_000


def j(v):
    return orjson.dumps(v).decode()


def case_entry(version, stage, at):
    case = {"id": "C-1", "version": version, "class_code": "0101", "district": "d1", "stage": stage, "created_at": T0,
            "updated_at": at, "lon": 120.5, "lat": 31.8, "closed_at": at if stage == "closed" else 0}
    entry = {"action": "x", "actor": "a", "role": "r", "from": "", "to": stage, "at": at, "note": "", "detail": j({"k": 1})}
    return {"type": "case", "id": "C-1", "version": str(version), "at": str(at), "case": j(case), "entry_id": f"{at}-0",
            "entry": j(entry)}


def test_a_case_entry_gives_a_version_a_timeline_row_and_the_latest_case():
    b = build(RECORD, [(f"{T0}-0", case_entry(1, "reported", T0)), (f"{T0 + 5}-0", case_entry(2, "closed", T0 + 5))])
    assert [r[1] for r in b.history["case_versions"]] == [1, 2]
    assert [r[1] for r in b.history["case_timeline"]] == [f"{T0}-0", f"{T0 + 5}-0"]
    assert b.history["case_timeline"][0][9] == j({"k": 1})
    row = b.cases["C-1"]
    assert row[1] == 2 and row[6] == "closed" and row[12] == utc(T0 + 5)


def test_a_deleted_user_is_a_deletion():
    b = build(RECORD, [("1-0", {"type": "user", "name": "wang", "at": str(T0), "user": j({"name": "wang"})}),
                       ("2-0", {"type": "user", "name": "wang", "at": str(T0 + 1), "user": ""})])
    assert b.users == {"wang": (utc(T0 + 1), None)}


def test_an_audit_entry_keeps_its_stream_id_and_time():
    b = build(AUDIT, [("5-1", {"at_ms": str(T0), "actor": "ops", "role": "dispatcher", "action": "case.report",
                               "target": "C-1", "outcome": "ok", "ip": "", "detail": "{}"})])
    assert b.history["audit"] == [("5-1", utc(T0), "ops", "dispatcher", "case.report", "C-1", "ok", "", "{}")]


def test_alarm_events_fold_into_one_activation():
    alarm = {"id": "d|r", "device_id": "d", "kind": "water_level", "rule_id": "r", "severity": "critical",
             "district": "d1", "raised_at": T0, "value": 3}
    b = build(ALARMS, [("1-0", {"event": "raised", "alarm": j(alarm)}),
                       ("2-0", {"event": "acknowledged", "alarm": j({**alarm, "by": "li", "role": "operator",
                                                                         "acknowledged_at": T0 + 10})}),
                       ("3-0", {"event": "notified", "alarm": j({"id": "d|r", "result": "sent"})}),
                       ("4-0", {"event": "cleared", "alarm": j({**alarm, "value": 1, "cleared_at": T0 + 20})})])
    assert len(b.history["alarm_events"]) == 4
    row = b.alarms[("d|r", T0)]
    assert row["acknowledged_at"] == T0 + 10 and row["acknowledged_by"] == "li" and row["cleared_at"] == T0 + 20
    assert row["base"]["value"] == 3  # the alarm as raised


def test_registry_items_give_device_events_and_the_latest_device():
    meta = {"kind": "noise", "name": "n1", "lon": 120.1, "lat": 31.1, "district": "d1", "cell": "c"}
    b = build(REGISTRY, [("1-0", {"d": j([["n1", "birth", T0, True, meta], ["n1", "offline", T0 + 5, False, meta]])})])
    assert [r[3] for r in b.history["device_events"]] == ["birth", "offline"]
    assert b.devices["n1"]["online"] is False and b.devices["n1"]["first_seen"] == utc(T0)


def test_readings_sum_like_the_redis_minute_buckets():
    items = [["n1", "noise", "d1", T0, {"LAeq": 50.0}], ["n2", "noise", "d1", T0 + 1000, {"LAeq": 70.0}],
             ["s1", "streetlight", "d1", T0 + 2000, {"powerState": "on"}]]
    b = build(READINGS, [("1-0", {"r": j(items)})])
    expected: dict = {}
    for device, kind, district, ts, values in items[:2]:
        add_reading(expected, "", kind, values)
    minute = T0 - T0 % 60_000
    assert b.rollup[(minute, "d1", "noise")] == expected == {"_": [2], "LAeq": [2, 120.0, 70.0]}
    assert b.rollup[(minute, "d1", "streetlight")] == {"_": [1], "powerState=on": [1]}
    assert len(b.history["readings"]) == 3


def test_hourly_cells_keep_min_max_and_the_last_value():
    items = [["n1", "noise", "d1", T0 + 2000, {"LAeq": 60.0}], ["n1", "noise", "d1", T0, {"LAeq": 40.0}],
             ["s1", "streetlight", "d1", T0, {"powerState": "on"}], ["s1", "streetlight", "d1", T0 + 1, {"powerState": "off"}]]
    b = build(READINGS, [("1-0", {"r": j(items)})], raw_readings=False)
    hour = T0 - T0 % 3_600_000
    assert b.hourly[(hour, "n1", "LAeq")] == (2, 100.0, 40.0, 60.0, 60.0, None, T0 + 2000)
    assert b.hourly[(hour, "s1", "powerState")] == (2, None, None, None, None, "off", T0 + 1)
    assert "readings" not in b.history


def test_an_unreadable_entry_is_listed_not_fatal():
    b = build(AUDIT, [("1-0", {"actor": "x"}), ("2-0", {"at_ms": str(T0), "action": "case.report", "detail": "{}"})])
    assert [e for e, _ in b.bad] == ["1-0"] and len(b.history["audit"]) == 1


def test_partitions_are_named_per_month_and_raw_readings_per_day():
    b = build(READINGS, [("1-0", {"r": j([["n1", "noise", "d1", T0, {"LAeq": 1.0}]])})])
    parts = b.partitions()
    assert ("readings", datetime(2026, 11, 30, tzinfo=UTC), "day") in parts
    assert ("rollup_minute", datetime(2026, 11, 1, tzinfo=UTC), "month") in parts


def test_stream_ids_compare_by_number():
    assert id_key("10-0") > id_key("9-5") and id_key("9-10") > id_key("9-9")


def test_raw_readings_of_two_shards_with_the_same_entry_id_stay_apart():
    items = j([["n1", "noise", "d1", T0, {"LAeq": 1.0}]])
    a = build(READINGS, [("7-0", {"r": items})], shard="s1").history["readings"]
    b = build(READINGS, [("7-0", {"r": items})], shard="s2").history["readings"]
    assert a[0][3] == "s1:7-0" and b[0][3] == "s2:7-0"


def test_raw_readings_older_than_the_raw_window_are_left_out_but_still_counted_in_the_aggregates():
    from ioc.record.recorder import raw_policy

    items = [["n1", "noise", "d1", T0 - 30 * 3_600_000, {"LAeq": 1.0}], ["n1", "noise", "d1", T0 - 60_000, {"LAeq": 2.0}]]
    b = build(READINGS, [("1-0", {"r": j(items)})], policy=raw_policy(24, T0))
    assert [row[0] for row in b.history["readings"]] == [T0 - 60_000]
    assert len(b.rollup) == 2
    assert list(b.hourly) == [(T0 - 30 * 3_600_000 - (T0 - 30 * 3_600_000) % 3_600_000, "n1", "LAeq")]  # the old one's only


def test_a_reading_kept_raw_leaves_its_hourly_aggregate_to_the_fold():
    from ioc.record.recorder import raw_policy

    b = build(READINGS, [("1-0", {"r": j([["n1", "noise", "d1", T0, {"LAeq": 1.0}]])})], policy=raw_policy(24, T0))
    assert len(b.history["readings"]) == 1 and b.hourly == {} and len(b.rollup) == 1


def test_without_raw_readings_every_reading_has_its_hourly_cell():
    from ioc.record.recorder import raw_policy

    b = build(READINGS, [("1-0", {"r": j([["n1", "noise", "d1", T0, {"LAeq": 1.0}]])})], policy=raw_policy(0, T0))
    assert "readings" not in b.history and len(b.hourly) == 1
