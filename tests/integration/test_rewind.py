"""The rewind against a real PostgreSQL filled by SQL: the city as it was at each moment."""

from __future__ import annotations

import pytest

from ioc.adapters.geodata_files import load_city_map
from ioc.record import db
from ioc.record.rewind import Rewind
from ioc.settings import Settings
from ioc.views.bigscreen import alarm_board, district_values, kpi_texts, kpis, ticker

from rewind_fixture import BASE, MIN, fill, ts


@pytest.fixture
def city():
    return load_city_map(Settings.from_env(env={}).geodata_dir)


@pytest.fixture
def rewind(database_url, city):
    d0, d1 = city.districts[0].id, city.districts[1].id
    fill(database_url, d0, d1)
    yield Rewind(database_url, city)
    db.close_pools()


def districts(city):
    return city.districts[0].id, city.districts[1].id


def test_no_alarm_before_the_first_is_raised(rewind):
    assert rewind.snapshot_at(BASE + 4 * MIN).alarms == []


def test_an_alarm_is_active_unacknowledged_after_it_was_raised(rewind):
    alarms = rewind.snapshot_at(BASE + 6 * MIN).alarms
    assert [(a["id"], a["ack"]) for a in alarms] == [("aq-1|aqi_high", None)]


def test_an_acknowledgement_shows_from_its_moment(rewind):
    (a1,) = rewind.snapshot_at(BASE + 16 * MIN).alarms
    assert a1["ack"] == {"by": "op1", "role": "operator", "at_ms": BASE + 15 * MIN}


def test_a_cleared_alarm_is_gone_and_a_later_one_remains(rewind):
    assert [a["id"] for a in rewind.snapshot_at(BASE + 26 * MIN).alarms] == ["tl-1|congestion"]


def test_district_colours_count_the_alarms_of_the_moment(rewind, city):
    d0, d1 = districts(city)
    assert district_values(rewind.snapshot_at(BASE + 21 * MIN), "alarms") == {d0: 1, d1: 1}
    assert district_values(rewind.snapshot_at(BASE + 26 * MIN), "alarms") == {d1: 1}


def test_a_device_is_offline_between_its_state_changes(rewind):
    assert rewind.snapshot_at(BASE + 5 * MIN).fleet.by_id["aq-1"].online
    assert not rewind.snapshot_at(BASE + 11 * MIN).fleet.by_id["aq-1"].online
    assert rewind.snapshot_at(BASE + 41 * MIN).fleet.by_id["aq-1"].online


def test_a_device_born_later_is_not_in_the_registry_before(rewind):
    assert "late-1" not in rewind.snapshot_at(BASE + 20 * MIN).fleet.by_id
    assert rewind.snapshot_at(BASE + 31 * MIN).fleet.count() == (4, 3)  # aq-1 offline from +10 to +40 min


def test_online_count_of_the_moment(rewind):
    assert kpis(rewind.snapshot_at(BASE + 11 * MIN)).online == 2


def test_rollups_carry_the_redis_field_names(rewind, city):
    d0, d1 = districts(city)
    snap = rewind.snapshot_at(BASE + 11 * MIN + 30_000)
    assert snap.recent[f"{d0}|air_quality|airQualityIndex:s"] == 110.0
    assert snap.recent[f"{d0}|air_quality|airQualityIndex:n"] == 2
    assert snap.recent[f"{d0}|air_quality|airQualityIndex:x"] == 70.0
    assert snap.recent[f"{d1}|streetlight|powerState=on:n"] == 3
    assert snap.current[f"{d0}|air_quality|_:n"] == 2


def test_kpis_of_the_moment(rewind):
    figures = kpis(rewind.snapshot_at(BASE + 11 * MIN))
    assert figures.aqi == 55.0
    assert figures.lights_on_share == 0.75
    assert figures.messages_per_min == 2


def test_a_case_is_open_from_its_report_to_its_close(rewind):
    assert rewind.open_cases_at(BASE + 1 * MIN) == []
    assert [(c.id, c.stage) for c in rewind.open_cases_at(BASE + 5 * MIN)] == [("C1", "reported")]
    assert rewind.open_cases_at(BASE + 36 * MIN) == []


def test_a_case_is_overdue_after_its_stage_deadline(rewind):
    assert kpis(rewind.snapshot_at(BASE + 20 * MIN)).cases_overdue == 0
    assert kpis(rewind.snapshot_at(BASE + 23 * MIN)).cases_overdue == 1


def test_water_levels_are_the_last_recorded_before_the_moment(rewind):
    assert rewind.snapshot_at(BASE + 10 * MIN).water_levels == {"gauge-1": 2.05}


def test_the_ticker_has_the_transitions_up_to_the_moment(rewind, city):
    events = rewind.snapshot_at(BASE + 22 * MIN).alarm_events
    assert [e["event"] for e in events] == ["raised", "acknowledged", "raised"]
    rows = ticker(events, city, "en", 8, rewind.snapshot_at(BASE + 22 * MIN).fleet.devices)
    assert rows[0]["device"] == "路口一"


def test_the_pages_render_a_replayed_moment(rewind, city):
    snap = rewind.snapshot_at(BASE + 16 * MIN)
    texts = kpi_texts(kpis(snap, "zh"), "zh", city)
    assert texts["kpi_alarms"][0] == "1"
    board = alarm_board(snap.alarms, snap.fleet.of_alarms(snap.alarms), city, snap.now_ms, Settings.from_env(env={}).escalation_policy(), "zh")
    assert board[0]["acked_by"]


def test_bounds_span_the_record(rewind):
    first, last = rewind.bounds()
    assert first == BASE - 60 * MIN
    assert last >= BASE + 59 * MIN


def test_bounds_of_an_empty_record(database_url, city):
    assert Rewind(database_url, city).bounds() == (0, 0)


def test_device_series_reads_raw_readings_where_kept(rewind):
    series = rewind.device_series("aq-1", BASE, BASE + 10 * MIN)
    assert series["resolution"] == "raw"
    assert [p["values"]["airQualityIndex"] for p in series["points"]] == [160, 180]


def test_device_series_falls_back_to_hourly_aggregates(rewind):
    series = rewind.device_series("gauge-1", BASE - 60 * MIN, BASE + 60 * MIN)
    assert series["resolution"] == "hour"
    assert [p["last"] for p in series["points"]] == [2.05, 2.55]


def test_case_steps_carry_the_case_as_of_each_step(rewind):
    steps = rewind.case_steps("C1")
    assert [(s["action"], s["case"].stage) for s in steps] == [("report", "reported"), ("dispatch", "dispatched"), ("close", "closed")]


def test_spans_of_versions_written_out_of_order_follow_each_other(rewind, database_url):
    with db.connection(database_url) as conn:
        spans = conn.execute("SELECT version, valid_from, valid_to FROM case_spans WHERE case_id = 'C1' AND version < 3 ORDER BY version").fetchall()
    assert [(v, f, to) for v, f, to in spans][:2] == [(1, ts(BASE + 2 * MIN), ts(BASE + 12 * MIN)),
                                                      (2, ts(BASE + 12 * MIN), ts(BASE + 35 * MIN))]


def test_prefetched_frames_are_served_from_the_cache(rewind):
    rewind.prefetch([BASE + 30 * MIN]).join()
    assert rewind.snapshot_at(BASE + 30 * MIN) is rewind.snapshot_at(BASE + 30 * MIN + 500)


def test_open_cases_read_from_a_nearby_moment_are_those_of_a_fresh_read(rewind, database_url, city):
    """Moving from moment to moment (forward and back) reads only what changed, and ends with what
    a reader starting at that moment reads."""
    for t in (BASE + 5 * MIN, BASE + 13 * MIN, BASE + 36 * MIN, BASE + 3 * MIN, BASE + 1 * MIN, BASE + 20 * MIN):
        moved = sorted((c.id, c.version) for c in rewind.open_cases_at(t))
        fresh = sorted((c.id, c.version) for c in Rewind(database_url, city).open_cases_at(t))
        assert moved == fresh, t


def test_a_device_born_after_the_registry_was_read_joins_the_moments_after_its_birth(rewind, database_url):
    rewind.snapshot_at(BASE + 5 * MIN)  # the registry's history is read
    born = BASE + 50 * MIN
    with db.connection(database_url) as conn:
        conn.execute("INSERT INTO device_events (stream_id, at, device_id, event, online, lon, lat, district, meta)"
                     " VALUES (%s,%s,'new-1','birth',true,120.5,30.5,'x',%s)",
                     (f"{born}-0", ts(born), '{"kind": "noise", "name": "新噪声站"}'))
    rewind.DEVICES_S = 0
    assert rewind.snapshot_at(BASE + 51 * MIN).fleet.by_id["new-1"].name == "新噪声站"
    assert "new-1" not in rewind.snapshot_at(BASE + 49 * MIN).fleet.by_id


def test_what_a_page_makes_of_a_frame_is_made_ahead_with_the_prefetched_frames(rewind):
    made = []
    rewind.derived(rewind.snapshot_at(BASE + 10 * MIN), "count", lambda s: made.append(s.now_ms) or len(s.alarms))
    rewind.prefetch([BASE + 20 * MIN]).join()
    assert made == [BASE + 10 * MIN, BASE + 20 * MIN]
    assert rewind.derived(rewind.snapshot_at(BASE + 20 * MIN), "count", lambda s: 99) == 2  # made ahead: two alarms active then


def test_a_device_row_is_read_from_the_record(rewind, city):
    device = rewind.device("gauge-1")
    assert (device["name"], device["kind"], device["district"], device["online"]) == ("水位站一", "water_level", city.districts[0].id, True)
    assert (device["lon"], device["lat"]) == (120.2, 30.2)


def test_a_device_the_record_never_saw_is_none(rewind):
    assert rewind.device("no-such-device") is None


def test_a_devices_alarms_come_with_their_raise_acknowledgement_and_clear(rewind):
    (a1,) = rewind.device_alarms("aq-1")
    assert (a1["rule"], a1["severity"], a1["acknowledged_by"]) == ("aqi_high", "critical", "op1")
    assert (a1["raised_ms"], a1["acknowledged_ms"], a1["cleared_ms"]) == (BASE + 5 * MIN, BASE + 15 * MIN, BASE + 25 * MIN)


def test_an_active_alarm_has_no_clear_yet(rewind):
    (a2,) = rewind.device_alarms("tl-1")
    assert (a2["acknowledged_ms"], a2["cleared_ms"]) == (None, None)


def test_a_devices_alarms_are_newest_first_and_limited(rewind):
    with db.connection(rewind.url) as conn:
        for k in range(1, 4):
            conn.execute("INSERT INTO alarms (alarm_id, raised_at, cleared_at, device_id, kind, rule, severity, data)"
                         " VALUES ('aq-1|aqi_high', %s, %s, 'aq-1', 'air_quality', 'aqi_high', 'critical', '{}')",
                         (ts(BASE + k * 60 * MIN), ts(BASE + k * 60 * MIN + 5 * MIN)))
    assert [a["raised_ms"] for a in rewind.device_alarms("aq-1", limit=2)] == [BASE + 180 * MIN, BASE + 120 * MIN]
    assert rewind.device_alarms("gauge-1") == []


# ---- the wall's 24-hour trends of a replayed moment, a device's alarms a page at a time (issue 17) ---

HOUR0 = BASE // 3_600_000  # the fixture's hour of rollups (one minute each of its 60)


def air(fields, city):
    d0 = city.districts[0].id
    return tuple(fields.get(f"{d0}|air_quality|airQualityIndex:{f}") for f in "snx")


def test_hourly_rollups_merge_the_minutes_of_each_hour_with_every_hour_a_key(rewind, city):
    buckets = rewind.rollup_hours(HOUR0 - 2, HOUR0 + 1)
    assert list(buckets) == [HOUR0 - 2, HOUR0 - 1, HOUR0] and buckets[HOUR0 - 1] == {}
    assert air(buckets[HOUR0], city) == (sum(100.0 + m for m in range(60)), 120.0, 119.0)
    d1 = city.districts[1].id
    assert buckets[HOUR0][f"{d1}|streetlight|powerState=on:n"] == 180.0


def test_the_hour_of_a_replayed_moment_counts_its_minutes_up_to_the_moment(rewind, city):
    buckets = rewind.rollup_hours(HOUR0 - 1, HOUR0 + 2, until_ms=BASE + 16 * MIN + 30_000)
    assert air(buckets[HOUR0], city) == (sum(100.0 + m for m in range(17)), 34.0, 76.0)
    assert buckets[HOUR0 + 1] == {}  # after the moment
    later = rewind.rollup_hours(HOUR0 - 1, HOUR0 + 2, until_ms=BASE + 30 * MIN)
    assert air(later[HOUR0], city)[1] == 62.0  # the hour in progress is read again for each moment


def test_a_settled_hour_is_read_from_the_record_once(rewind, database_url, city):
    with db.connection(database_url) as conn:  # the record has moved on: the fixture's hour is settled
        conn.execute("INSERT INTO rollup_minute VALUES (%s, %s, 'air_quality', '_', NULL, 1, NULL)",
                     (ts(BASE + 3 * 60 * MIN), city.districts[0].id))
    first = rewind.rollup_hours(HOUR0, HOUR0 + 4)
    with db.connection(database_url) as conn:
        conn.execute("DELETE FROM rollup_minute WHERE minute < %s", (ts(BASE + 60 * MIN),))
    again = rewind.rollup_hours(HOUR0, HOUR0 + 4, until_ms=BASE + 3 * 60 * MIN + 30_000)
    assert again[HOUR0] == first[HOUR0] and air(again[HOUR0], city)[1] == 120.0


def test_the_fleet_of_a_moment_counts_the_devices_registered_then(rewind):
    assert rewind.fleet_at(BASE + 10 * MIN).count(None, "air_quality")[0] == 1
    assert rewind.fleet_at(BASE + 31 * MIN).count(None, "air_quality")[0] == 2


def more_alarms(url, device, count):
    with db.connection(url) as conn:
        for k in range(1, count + 1):
            conn.execute("INSERT INTO alarms (alarm_id, raised_at, cleared_at, device_id, kind, rule, severity, data)"
                         " VALUES (%s, %s, %s, %s, 'air_quality', 'aqi_high', 'critical', '{}')",
                         (f"{device}|aqi_high", ts(BASE + k * 60 * MIN), ts(BASE + k * 60 * MIN + 5 * MIN), device))


def test_a_devices_alarms_are_read_a_page_at_a_time_with_their_count(rewind):
    more_alarms(rewind.url, "aq-1", 4)  # raised 1..4 h after BASE, plus the fixture's at BASE + 5 min
    assert rewind.device_alarm_count("aq-1") == 5 and rewind.device_alarm_count("gauge-1") == 0
    pages = [[a["raised_ms"] for a in rewind.device_alarms("aq-1", limit=2, offset=o)] for o in (0, 2, 4)]
    assert pages == [[BASE + 240 * MIN, BASE + 180 * MIN], [BASE + 120 * MIN, BASE + 60 * MIN], [BASE + 5 * MIN]]


def test_the_alarms_of_a_window_are_those_active_in_it(rewind):
    more_alarms(rewind.url, "aq-1", 4)
    shown = rewind.device_alarms("aq-1", limit=100, from_ms=BASE + 62 * MIN, to_ms=BASE + 125 * MIN)
    assert [a["raised_ms"] for a in shown] == [BASE + 120 * MIN, BASE + 60 * MIN]
    (active,) = rewind.device_alarms("tl-1", from_ms=BASE + 600 * MIN, to_ms=BASE + 700 * MIN)  # never cleared
    assert active["raised_ms"] == BASE + 20 * MIN
