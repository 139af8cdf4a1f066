"""Specification of case routing and deadlines (ioc.domain.case_routing): components go to
their owner first (先属主后属地), events to the territory first (先属地后属主); limits count on
the class's clock. Times are Beijing time (UTC+8), computed by hand."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ioc.domain.case_catalog import SEED_CLASSES, WORKS, MinorClass, minor
from ioc.domain.case_routing import deadline_for, due_at_for, suggest_departments, territory_of
from ioc.domain.departments import territorial
from ioc.domain.work_calendar import WorkCalendar

BEIJING = timezone(timedelta(hours=8))
CAL = WorkCalendar()  # Monday to Friday, 08:30-12:00 and 13:30-17:30
STREET_LIGHT = minor(SEED_CLASSES["street_light_broken"])
MANHOLE = minor(SEED_CLASSES["manhole_cover_missing"])
CONSTRUCTION = minor(SEED_CLASSES["illegal_construction"])
GARBAGE = minor("20101")  # exposed garbage: 4 working hours to handle


def at(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=BEIJING).timestamp() * 1000)


def test_a_component_goes_to_its_owner_first_then_the_territory():
    assert suggest_departments(STREET_LIGHT, "yangshe") == ["street_lighting", "town_yangshe"]


def test_an_event_goes_to_the_territory_first_then_the_department():
    assert suggest_departments(CONSTRUCTION, "jingang") == ["town_jingang", "urban_management"]


def test_without_a_district_only_the_owner_is_suggested():
    assert suggest_departments(CONSTRUCTION, "") == ["urban_management"]


def test_the_territory_is_the_districts_territorial_department(city):
    governments = {d.district: d.id for d in territorial(city)}
    assert {d: territory_of(d) for d in governments} == governments


def test_a_working_hours_deadline_skips_the_weekend():
    # Friday 16:30 + 4 working hours = Monday 11:30
    assert deadline_for(GARBAGE, "handle", at("2026-03-06 16:30"), CAL) == at("2026-03-09 11:30")


def test_an_urgent_deadline_counts_calendar_hours_through_the_night():
    # Saturday 22:00 + 6 calendar hours = Sunday 04:00
    assert deadline_for(MANHOLE, "handle", at("2026-03-07 22:00"), CAL) == at("2026-03-08 04:00")


def test_a_work_without_a_limit_has_no_deadline():
    unlimited = MinorClass("10199", "101", "测试", "Test", "water_affairs", False, {"accept": 1})
    assert deadline_for(unlimited, "handle", at("2026-03-02 09:00"), CAL) == 0


def test_an_unknown_work_is_refused():
    with pytest.raises(ValueError, match="unknown work 'repair'"):
        deadline_for(GARBAGE, "repair", at("2026-03-02 09:00"), CAL)


def test_the_case_is_due_after_all_stage_limits_in_working_hours():
    # 0.5 + 1 + 0.5 + 4 + 1 + 0.5 = 7.5 working hours from Monday 08:30: 3.5 h to noon, 4 h afternoon
    assert due_at_for(GARBAGE, at("2026-03-02 08:30"), CAL) == at("2026-03-02 17:30")


def test_an_urgent_case_is_due_after_all_stage_limits_in_calendar_hours():
    # 0.25 + 0.5 + 0.25 + 6 + 0.5 + 0.5 = 8 hours from Saturday 20:00
    assert due_at_for(MANHOLE, at("2026-03-07 20:00"), CAL) == at("2026-03-08 04:00")


def test_the_due_moment_equals_every_stage_done_at_its_deadline():
    start = moment = at("2026-03-06 15:47")
    for work in WORKS:
        moment = deadline_for(GARBAGE, work, moment, CAL)
    assert moment == due_at_for(GARBAGE, start, CAL)
