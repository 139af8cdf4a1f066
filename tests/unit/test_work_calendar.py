"""Specification of working time (ioc.domain.work_calendar): deadlines in working hours skip
nights, lunch, weekends and holidays, and count make-up working days (调休). All times below
are Beijing time (UTC+8), computed by hand."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from ioc.domain.work_calendar import (CHINA_2026, CHINA_2026_HOLIDAYS, CHINA_2026_WORKDAYS, WorkCalendar)

BEIJING = timezone(timedelta(hours=8))
PLAIN = WorkCalendar()  # Monday to Friday, 08:30-12:00 and 13:30-17:30, no holidays


def at(text: str) -> int:
    """Epoch ms of a Beijing local time 'YYYY-MM-DD HH:MM'."""
    return int(datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=BEIJING).timestamp() * 1000)


def test_working_hours_within_a_morning_are_plain_hours():
    assert PLAIN.add_working_hours(at("2026-03-02 09:00"), 2) == at("2026-03-02 11:00")  # Monday


def test_a_deadline_skips_the_lunch_break():
    # 1 h until 12:00, lunch, 1 h from 13:30
    assert PLAIN.add_working_hours(at("2026-03-02 11:00"), 2) == at("2026-03-02 14:30")


def test_a_deadline_on_the_end_of_a_period_is_that_end():
    assert PLAIN.add_working_hours(at("2026-03-02 08:30"), 3.5) == at("2026-03-02 12:00")


def test_a_deadline_skips_the_night_and_the_weekend():
    # Friday 16:30: 1 h until 17:30; Monday 08:30 + 3 h
    assert PLAIN.add_working_hours(at("2026-03-06 16:30"), 4) == at("2026-03-09 11:30")


def test_a_deadline_skips_a_public_holiday():
    # Friday 3 April 16:00: 1.5 h; Qingming 4-6 April (Sat-Mon); Tuesday 08:30 + 2.5 h
    assert CHINA_2026.add_working_hours(at("2026-04-03 16:00"), 4) == at("2026-04-07 11:00")


def test_a_make_up_saturday_is_a_working_day():
    # Friday 13 Feb 17:00: 0.5 h; Saturday 14 Feb is a make-up working day: 08:30 + 3.5 h
    assert CHINA_2026.add_working_hours(at("2026-02-13 17:00"), 4) == at("2026-02-14 12:00")


def test_a_deadline_from_the_make_up_day_jumps_the_spring_festival():
    # Saturday 14 Feb 16:30: 1 h; holiday 15-23 Feb; Tuesday 24 Feb 08:30 + 1 h
    assert CHINA_2026.add_working_hours(at("2026-02-14 16:30"), 2) == at("2026-02-24 09:30")


def test_without_the_holiday_list_the_same_days_count_as_usual():
    # the plain calendar knows no holidays: Saturday 14 Feb is a day off, Monday 16 Feb works
    assert PLAIN.add_working_hours(at("2026-02-13 17:00"), 4) == at("2026-02-16 12:00")


@pytest.mark.parametrize("start, due", [
    ("2026-03-08 10:00", "2026-03-09 09:30"),  # Sunday: from Monday 08:30
    ("2026-03-02 07:00", "2026-03-02 09:30"),  # before office hours: from 08:30
    ("2026-03-02 12:30", "2026-03-02 14:30"),  # at lunch: from 13:30
    ("2026-03-02 20:00", "2026-03-03 09:30"),  # in the evening: from the next morning
])
def test_a_start_outside_working_time_begins_at_the_next_working_moment(start, due):
    assert PLAIN.add_working_hours(at(start), 1) == at(due)


def test_fractions_of_an_hour_count_in_minutes():
    assert PLAIN.add_working_hours(at("2026-03-02 11:45"), 0.5) == at("2026-03-02 13:45")


def test_negative_hours_are_refused():
    with pytest.raises(ValueError, match="negative"):
        PLAIN.add_working_hours(at("2026-03-02 09:00"), -1)


def test_a_calendar_without_working_time_refuses_instead_of_looping():
    with pytest.raises(ValueError, match="no working time"):
        WorkCalendar(workdays=()).add_working_hours(at("2026-03-02 09:00"), 1)


def test_working_hours_between_counts_only_working_time():
    assert PLAIN.working_hours_between(at("2026-03-06 16:30"), at("2026-03-09 11:30")) == 4.0
    assert PLAIN.working_hours_between(at("2026-03-02 11:00"), at("2026-03-02 14:30")) == 2.0
    assert PLAIN.working_hours_between(at("2026-03-07 09:00"), at("2026-03-07 17:00")) == 0.0  # Saturday


def test_working_hours_between_is_negative_backwards():
    assert PLAIN.working_hours_between(at("2026-03-02 14:30"), at("2026-03-02 11:00")) == -2.0


def test_working_hours_between_undoes_add_working_hours():
    start = at("2026-09-30 15:10")  # before National Day
    due = CHINA_2026.add_working_hours(start, 13.25)
    assert CHINA_2026.working_hours_between(start, due) == 13.25


@pytest.mark.parametrize("moment, working", [
    ("2026-03-02 08:29", False), ("2026-03-02 08:30", True), ("2026-03-02 11:59", True),
    ("2026-03-02 12:00", False), ("2026-03-02 13:30", True), ("2026-03-02 17:30", False),
    ("2026-03-07 10:00", False),  # Saturday
    ("2026-10-05 10:00", False),  # National Day holiday (a Monday)
    ("2026-10-10 10:00", True),   # make-up Saturday
])
def test_is_working_time_uses_half_open_periods_holidays_and_make_up_days(moment, working):
    assert CHINA_2026.is_working_time(at(moment)) is working


def test_the_calendar_reads_epoch_times_in_beijing_time():
    monday_0830_utc_0030 = int(datetime(2026, 3, 2, 0, 30, tzinfo=timezone.utc).timestamp() * 1000)
    assert PLAIN.is_working_time(monday_0830_utc_0030)
    assert not WorkCalendar(utc_offset_hours=0).is_working_time(monday_0830_utc_0030)


def test_add_hours_counts_calendar_hours_round_the_clock():
    assert PLAIN.add_hours(at("2026-03-06 16:30"), 4, calendar_hours=True) == at("2026-03-06 20:30")


def test_add_hours_counts_working_hours_otherwise():
    assert PLAIN.add_hours(at("2026-03-06 16:30"), 4, calendar_hours=False) == at("2026-03-09 11:30")


def test_china_2026_lists_the_seven_festivals_and_six_make_up_days():
    assert len(CHINA_2026_HOLIDAYS) == 3 + 9 + 3 + 5 + 3 + 3 + 7
    assert {date(2026, 1, 1), date(2026, 2, 17), date(2026, 4, 5), date(2026, 5, 1), date(2026, 6, 19),
            date(2026, 9, 25), date(2026, 10, 1)} <= CHINA_2026_HOLIDAYS
    assert len(CHINA_2026_WORKDAYS) == 6
    assert all(d.weekday() >= 5 for d in CHINA_2026_WORKDAYS)  # make-up days are weekend days


def test_a_day_cannot_be_both_holiday_and_make_up_day():
    with pytest.raises(ValueError, match="both a holiday and a make-up"):
        WorkCalendar(holidays=frozenset({date(2026, 5, 9)}), extra_workdays=frozenset({date(2026, 5, 9)}))


def test_overlapping_periods_are_refused():
    with pytest.raises(ValueError, match="overlap"):
        WorkCalendar(periods=((8 * 60, 12 * 60), (11 * 60, 17 * 60)))


def test_settings_strings_build_the_calendar():
    cal = WorkCalendar.from_settings_strings(days="1-5,7", hours="09:00-12:00, 14:00-18:00",
                                             holidays="2026-05-01..2026-05-03,2026-06-19", workdays="2026-05-09")
    assert cal.workdays == (0, 1, 2, 3, 4, 6)
    assert cal.periods == ((540, 720), (840, 1080))
    assert cal.holidays == {date(2026, 5, 1), date(2026, 5, 2), date(2026, 5, 3), date(2026, 6, 19)}
    assert cal.extra_workdays == {date(2026, 5, 9)}


def test_settings_strings_default_to_china_2026_and_empty_means_none():
    assert WorkCalendar.from_settings_strings() == CHINA_2026
    plain = WorkCalendar.from_settings_strings(holidays="", workdays="")
    assert plain.holidays == frozenset() and plain.extra_workdays == frozenset()


@pytest.mark.parametrize("kwargs, message", [
    ({"days": "1-8"}, "working days: '1-8'"),
    ({"days": "5-1"}, "runs backwards"),
    ({"days": ""}, "at least one weekday"),
    ({"hours": "08:30-12"}, "'12' in '08:30-12' is not a time"),
    ({"hours": "12:00-08:30"}, "ends before it starts"),
    ({"hours": "08:30"}, "not a period"),
    ({"hours": "25:00-26:00"}, "not a time"),
    ({"holidays": "2026-13-01"}, "holidays: '2026-13-01' is not a date"),
    ({"workdays": "2026-05-09..2026-05-01"}, "workdays: the range"),
])
def test_settings_strings_errors_say_which_part_is_wrong(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        WorkCalendar.from_settings_strings(**kwargs)
