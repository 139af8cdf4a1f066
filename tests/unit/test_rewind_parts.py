"""The rewind's pure parts: rollup fields, an alarm as of a moment, a device's history, the
time control's moments, banner and playback."""

from __future__ import annotations

from datetime import datetime

from ioc.domain.city_state import DeviceRow
from ioc.domain.clock import CHINA_TZ
from ioc.record.rewind import CaseAt as light_case, DeviceHistory, alarm_at, rollup_fields
from ioc.views.rewind import banner, clamp, moment, next_moments, play_state, range_text

FIRST = int(datetime(2026, 12, 1, 0, 0, tzinfo=CHINA_TZ).timestamp() * 1000)
LAST = FIRST + 7 * 86_400_000


def test_numeric_rollup_rows_give_sum_count_and_max_fields():
    assert rollup_fields([("d1", "air_quality", "pm25", 30.0, 2, 20.0)]) == {
        "d1|air_quality|pm25:s": 30.0, "d1|air_quality|pm25:n": 2.0, "d1|air_quality|pm25:x": 20.0}


def test_enum_and_reading_count_rows_give_counts_only():
    assert rollup_fields([("d1", "streetlight", "powerState=on", None, 3, None), ("d1", "streetlight", "_", None, 4, None)]) == {
        "d1|streetlight|powerState=on:n": 3.0, "d1|streetlight|_:n": 4.0}


def test_an_alarm_acknowledged_later_shows_no_ack():
    data = {"id": "a", "ack": {"by": "op1", "role": "operator", "at_ms": 2000}}
    assert alarm_at(data, 2000, "op1", 1999)["ack"] is None


def test_an_alarm_acknowledged_before_shows_who_and_when():
    data = {"id": "a", "ack": {"by": "op1", "role": "operator", "at_ms": 2000}}
    assert alarm_at(data, 2000, "op1", 2000)["ack"] == {"by": "op1", "role": "operator", "at_ms": 2000}


def test_an_ack_recorded_without_its_json_is_taken_from_the_columns():
    assert alarm_at({"id": "a"}, 2000, "op1", 3000)["ack"] == {"by": "op1", "role": "", "at_ms": 2000}


def row(online=True, lon=120.0):
    return DeviceRow("dev", "traffic", "路口", lon, 30.0, "d1", online)


def test_a_device_is_absent_before_its_birth():
    assert DeviceHistory(row(), first_seen=1000).at(999) is None


def test_a_device_takes_the_state_of_its_last_change():
    history = DeviceHistory(row(), 0, states=[100, 200], online=[False, True])
    assert [history.at(t).online for t in (50, 150, 250)] == [True, False, True]


def test_a_device_stands_where_it_was_registered_then():
    history = DeviceHistory(row(lon=121.0), 0, moves=[0, 500], places=[row(lon=120.0), row(lon=121.0)])
    assert (history.at(100).lon, history.at(600).lon) == (120.0, 121.0)


def test_a_light_case_answers_what_the_wall_asks():
    case = light_case("C1", 2, "dispatched", "d1", "0101", 120.0, 30.0, False, 1000, 5000)
    assert (case.district, case.is_open, case.overdue(5001), case.overdue(4999), case.created_at) == ("d1", True, True, False, 1000)


def test_a_picked_date_and_time_is_china_time():
    assert moment("2026-12-01", "08:30", (FIRST, LAST)) == FIRST + 8.5 * 3_600_000


def test_a_picked_moment_is_held_within_the_record():
    assert moment("2026-11-01", "08:30", (FIRST, LAST)) == FIRST
    assert clamp(LAST + 1, (FIRST, LAST)) == LAST


def test_a_time_that_is_no_time_picks_nothing():
    assert moment("2026-12-01", "8h30", (FIRST, LAST)) is None


def test_an_empty_record_offers_no_moment():
    assert moment("2026-12-01", "08:30", (0, 0)) is None
    assert range_text((0, 0), "en") == "The record holds no history yet"


def test_the_banner_says_replay_and_the_moment():
    assert banner(FIRST + 60_000, {"speed": 600}, "en") == "Replay · 2026-12-01 00:01:00 · speed 600×"
    assert banner(FIRST, None, "zh") == "回放 · 2026-12-01 00:00:00 · 已暂停"


def test_playback_starts_from_the_moment_shown_or_the_first():
    assert play_state(60, FIRST + 5, (FIRST, LAST), 42) == {"speed": 60, "t0": FIRST + 5, "w0": 42, "last": LAST}
    assert play_state(60, None, (FIRST, LAST), 42)["t0"] == FIRST


def test_the_next_moments_of_playback_are_one_step_apart():
    assert next_moments({"speed": 3600, "last": LAST}, FIRST) == [FIRST + 3_600_000, FIRST + 7_200_000, FIRST + 10_800_000]
    assert next_moments(None, FIRST) == []
    assert next_moments({"speed": 3600, "last": FIRST + 3_600_000}, FIRST) == [FIRST + 3_600_000]


def test_tally_adds_the_spans_begun_within_the_bucket():
    from ioc.record.rewind import tally_at
    bucket = 1_765_000_200_000  # a 10-minute bucket start
    spans = [("d1", bucket + 1_000, None, 0, bucket + 1_000), ("d1", bucket + 9_000, None, 0, 0)]
    assert tally_at({"d1": (2, 0, 0)}, spans, bucket, bucket + 5_000) == {"d1": (3, 0, 1)}


def test_tally_removes_an_ended_span_and_counts_a_passed_deadline():
    from ioc.record.rewind import tally_at
    bucket = 1_765_000_200_000
    spans = [("d2", bucket - 60_000, bucket + 2_000, 0, 0), ("d2", bucket - 60_000, None, bucket + 1_000, 0)]
    assert tally_at({"d2": (2, 0, 0)}, spans, bucket, bucket + 3_000) == {"d2": (1, 1, 0)}
    assert tally_at({"d2": (1, 0, 0)}, spans[:1], bucket, bucket + 3_000) == {}


def test_a_replayed_moment_counts_its_cases_from_the_tally():
    from ioc.domain.city_state import CitySnapshot
    from ioc.views.bigscreen import case_counts, district_values
    snap = CitySnapshot(now_ms=0, case_counts={"d1": (4, 1, 2)})
    assert case_counts(snap) == {"d1": (4, 1, 2)}
    assert district_values(snap, "cases") == {"d1": 4}


def test_live_case_counts_come_from_the_open_cases():
    from ioc.domain.city_state import CitySnapshot
    from ioc.views.bigscreen import case_counts
    now = 1_765_000_200_000
    cases = [light_case("C1", 2, "dispatched", "d1", "", 0, 0, False, now - 1_000, now - 500),
             light_case("C2", 1, "reported", "d1", "", 0, 0, False, now - 3 * 86_400_000, 0)]
    assert case_counts(CitySnapshot(now_ms=now, cases=cases)) == {"d1": (2, 1, 1)}


def test_a_case_step_says_when_what_and_the_stage_it_left():
    from ioc.views.rewind import case_step_label
    at = int(datetime(2026, 12, 1, 16, 12, tzinfo=CHINA_TZ).timestamp() * 1000)
    case = type("C", (), {"stage": "closed"})()
    assert case_step_label({"at_ms": at, "action": "close", "case": case}) == "2026-12-01 16:12 · 结案 · 当时阶段：已结案"


def test_a_case_step_gives_the_city_and_district_figures_of_its_moment():
    from types import SimpleNamespace as Kpis  # the fields of ioc.views.bigscreen.Kpis it reads

    from ioc.views.rewind import case_step_figures
    city = Kpis(online_rate=90.0, alarms={"critical": 1, "major": 2}, cases_open=1200, cases_overdue=3)
    district = Kpis(alarms={"critical": 1}, cases_open=40, cases_overdue=1)
    assert case_step_figures(city, district, "en") == [
        "The city then: 1,200 open cases (3 overdue) · 3 active alarms · devices online 90.0%",
        "Its district then: 40 open cases (1 overdue) · 1 active alarms"]
