"""Specification of the linked events' response times per plan and per department
(ioc.domain.event_indicators), read against the plans' limits."""

from __future__ import annotations

import pytest

from ioc.domain.access import Principal
from ioc.domain.departments import department_ids
from ioc.domain.event_indicators import response_times
from ioc.domain.events import Area, change_level, contain, start_event, task_action
from ioc.domain.plans import builtin_plans

T0 = 1_764_000_000_000
MIN = 60_000
DISPATCHER = Principal("li", frozenset({"dispatcher"}), display_name="李娜")


def handler(department: str) -> Principal:
    return Principal(f"h-{department}", frozenset({"handler"}), department=department)


@pytest.fixture(scope="module")
def plans(city):
    return builtin_plans(department_ids(city))


@pytest.fixture
def flood_event(plans):
    """Flood IV in Yangshe: water affairs acknowledges after 4 min and arrives after 30; city
    management acknowledges after 20 min (its limit is 15); the town does nothing."""
    event = start_event(event_id="EV-20251124-001", plan=plans["flood"], level="IV", title="", area=Area("district", district="yangshe"),
                        district="yangshe", districts=("yangshe",), commander=DISPATCHER, now_ms=T0)
    event = task_action(event, "water_affairs", "acknowledge", handler("water_affairs"), T0 + 4 * MIN)
    event = task_action(event, "water_affairs", "arrive", handler("water_affairs"), T0 + 30 * MIN)
    event = task_action(event, "urban_management", "acknowledge", handler("urban_management"), T0 + 20 * MIN)
    return contain(event, DISPATCHER, T0 + 50 * MIN)


def test_a_departments_mean_minutes_count_only_the_tasks_that_took_the_step(flood_event):
    _, departments = response_times([flood_event], T0 + 60 * MIN)
    water = departments["water_affairs"]
    assert (water["tasks"], water["to_acknowledge"], water["to_arrive"], water["to_done"]) == (1, 4.0, 30.0, None)
    assert departments["town_yangshe"]["to_acknowledge"] is None


def test_a_step_after_its_limit_is_late_and_lowers_the_share_in_time(flood_event):
    plans, departments = response_times([flood_event], T0 + 60 * MIN)
    assert departments["urban_management"]["late"] == 1
    assert departments["urban_management"]["acknowledged_in_time"] == 0.0
    assert departments["water_affairs"]["acknowledged_in_time"] == 1.0
    assert plans["flood"]["acknowledged_in_time"] == 0.5


def test_a_step_still_waiting_past_its_limit_counts_as_overdue(flood_event):
    _, departments = response_times([flood_event], T0 + 60 * MIN)
    assert departments["town_yangshe"]["overdue"] == 1 and departments["water_affairs"]["overdue"] == 0


def test_a_plan_counts_its_events_and_the_minutes_to_contain_them(flood_event):
    plans, _ = response_times([flood_event], T0 + 60 * MIN)
    assert (plans["flood"]["events"], plans["flood"]["to_contain"], plans["flood"]["tasks"]) == (1, 50.0, 3)


def test_the_limits_are_given_beside_the_means(flood_event, plans):
    _, departments = response_times([flood_event], T0 + 60 * MIN)
    lead = plans["flood"].level("IV").tasks[0]
    assert departments[lead.department]["ack_limit"] == float(lead.ack_min)


def test_a_withdrawn_task_does_not_count(plans):
    event = start_event(event_id="EV-20251124-002", plan=plans["flood"], level="III", title="", area=Area("district", district="yangshe"),
                        district="yangshe", districts=("yangshe",), commander=DISPATCHER, now_ms=T0)
    lowered = change_level(event, plans["flood"], "IV", "水位回落", DISPATCHER, T0 + MIN)
    withdrawn = {t.department for t in lowered.tasks if t.status == "withdrawn"}
    assert withdrawn
    _, departments = response_times([lowered], T0 + 2 * MIN)
    assert not withdrawn & set(departments)


def test_no_events_no_figures():
    assert response_times([], T0) == ({}, {})
