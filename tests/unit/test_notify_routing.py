"""Routing of notification intents: routes, targets, channels, quiet hours, silences, config checks."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from ioc.domain.clock import CHINA_TZ
from ioc.domain.notifications import Intent
from ioc.domain.notify_routing import (BUILTIN_ROUTES, QuietHours, Route, RoutingError, Silence, active, config_from_dict,
                                       config_to_dict, hold_until, resolve, silence_from_input, silenced_by, RoutingConfig)
from ioc.domain.roster import Contact, Group, Roster, Shift


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=CHINA_TZ).timestamp() * 1000)


NOON = ms("2026-12-02T12:00")  # a Wednesday

ROSTER = Roster(
    contacts=(Contact("officer", "值班员 王敏", "13900000001", "duty@x.cn", "", "值班员", ("sms", "email")),
              Contact("night", "夜班 李强", "13900000002", "night@x.cn", "", "值班员", ("sms",)),
              Contact("um-duty", "城管 张伟", "13900000003", "um@x.cn", "urban_management", "值班员", ("sms", "email"))),
    groups=(Group("um", "城管局值班群", "urban_management", "wecom", "k-um"),
            Group("wa", "水务局值班群", "water_affairs", "dingtalk", "k-wa", "SEC"),
            Group("desk", "派遣席", "dispatch", "feishu", "k-desk"),
            Group("center", "中心值班群", "", "email", "c@x.cn")),
    shifts=(Shift("center", "officer", "2026-12-02T08:00", "2026-12-02T20:00", "值班员"),
            Shift("center", "night", "2026-12-02T20:00", "2026-12-03T08:00", "值班员"),
            Shift("urban_management", "um-duty", "2026-12-02T08:00", "2026-12-03T08:00", "值班员")),
)


def intent(kind="case.dispatched", severity="info", departments=("urban_management",), **facts) -> Intent:
    return Intent(kind, "case:ZJG-1", "3", NOON, severity, departments, "yangshe", facts)


def who(deliveries) -> list[tuple[str, str]]:
    return [(d.recipient, d.channel) for d in deliveries]


def test_a_dispatch_goes_to_the_departments_group():
    assert who(resolve(intent(), BUILTIN_ROUTES, ROSTER, NOON)) == [("group:um", "wecom")]


def test_an_overdue_case_goes_to_the_department_and_the_dispatch_desk():
    assert who(resolve(intent("case.overdue"), BUILTIN_ROUTES, ROSTER, NOON)) == [("group:um", "wecom"), ("group:desk", "feishu")]


def test_an_escalated_critical_alarm_texts_whoever_is_on_duty_at_the_center_then():
    alarm = Intent("alarm.escalated", "alarm:a|r", "1", NOON, "critical", (), "", {})
    assert who(resolve(alarm, BUILTIN_ROUTES, ROSTER, NOON)) == [("contact:officer", "sms")]
    assert who(resolve(alarm, BUILTIN_ROUTES, ROSTER, ms("2026-12-02T23:00"))) == [("contact:night", "sms")]


def test_an_escalated_major_alarm_matches_no_builtin_route():
    assert resolve(Intent("alarm.escalated", "alarm:a|r", "1", NOON, "warning"), BUILTIN_ROUTES, ROSTER, NOON) == []


def test_an_instruction_goes_to_the_lead_departments_groups_only():
    i = intent("event.instruction", departments=("urban_management", "water_affairs"), leads=["water_affairs"])
    assert who(resolve(i, BUILTIN_ROUTES, ROSTER, NOON)) == [("group:wa", "dingtalk")]


def test_an_event_task_goes_to_each_departments_group():
    i = intent("event.task", departments=("water_affairs",))
    assert who(resolve(i, BUILTIN_ROUTES, ROSTER, NOON)) == [("group:wa", "dingtalk")]


def test_a_contact_gets_every_channel_they_have_unless_the_route_narrows_them():
    route = Route("r", "r", ("case.dispatched",), ("department_duty",))
    assert who(resolve(intent(), [route], ROSTER, NOON)) == [("contact:um-duty", "sms"), ("contact:um-duty", "email")]
    assert who(resolve(intent(), [replace(route, channels=("email",))], ROSTER, NOON)) == [("contact:um-duty", "email")]


def test_two_routes_to_one_recipient_and_channel_make_one_delivery_the_first_routes():
    a = Route("a", "a", ("case.dispatched",), ("group:um",))
    b = Route("b", "b", ("case.dispatched",), ("department_group",))
    deliveries = resolve(intent(), [a, b], ROSTER, NOON)
    assert who(deliveries) == [("group:um", "wecom")] and deliveries[0].route.id == "a"


@pytest.mark.parametrize("change", [{"enabled": False}, {"severities": ("critical",)}, {"departments": ("water_affairs",)},
                                    {"kinds": ("case.rework",)}])
def test_a_route_matches_only_its_kinds_severities_departments_and_when_enabled(change):
    route = replace(BUILTIN_ROUTES[0], **change)
    assert resolve(intent(), [route], ROSTER, NOON) == []


def test_the_group_key_is_per_route_recipient_and_channel():
    d = resolve(intent(), BUILTIN_ROUTES, ROSTER, NOON)[0]
    assert d.group_key == "dispatch|group:um|wecom"


# ---- quiet hours -----------------------------------------------------------------------------------

def test_overnight_quiet_hours_end_the_next_morning():
    q = QuietHours("22:00", "07:00")
    assert q.ends_at(ms("2026-12-02T23:30")) == ms("2026-12-03T07:00")
    assert q.ends_at(ms("2026-12-03T06:59")) == ms("2026-12-03T07:00")
    assert q.ends_at(ms("2026-12-03T07:00")) is None and q.ends_at(NOON) is None


def test_daytime_quiet_hours_and_their_days():
    q = QuietHours("12:00", "14:00", days=(5, 6))  # weekend lunch
    assert q.ends_at(NOON) is None  # Wednesday
    assert q.ends_at(ms("2026-12-05T12:30")) == ms("2026-12-05T14:00")


def test_quiet_hours_that_started_on_a_listed_day_last_past_midnight():
    q = QuietHours("22:00", "07:00", days=(4,))  # Friday nights
    assert q.ends_at(ms("2026-12-05T03:00")) == ms("2026-12-05T07:00")  # Saturday early: Friday's night
    assert q.ends_at(ms("2026-12-06T03:00")) is None


def test_quiet_hours_hold_a_non_critical_delivery_and_let_a_critical_one_pass():
    q = QuietHours("22:00", "07:00")
    night = ms("2026-12-02T23:00")
    route = BUILTIN_ROUTES[0]
    assert hold_until(intent(), route, q, night) == ms("2026-12-03T07:00")
    assert hold_until(intent(severity="critical"), route, q, night) is None
    assert hold_until(intent(), replace(route, quiet=False), q, night) is None


# ---- silences ---------------------------------------------------------------------------------------

def silence(**matchers) -> Silence:
    return Silence("S1", matchers, NOON - 60_000, NOON + 60_000, "admin", "维护")


def test_a_silence_matches_every_matcher_within_its_window():
    assert active(silence(kind="case.*", department="urban_management"), intent(), NOON)
    assert not active(silence(kind="case.*", department="water_affairs"), intent(), NOON)
    assert not active(silence(kind="alarm.*"), intent(), NOON)
    assert not active(silence(kind="case.*"), intent(), NOON + 60_000)  # ended
    assert silenced_by([silence(district="x"), silence(subject="case:ZJG-*")], intent(), NOON).matchers == {"subject": "case:ZJG-*"}


@pytest.mark.parametrize("data, field", [
    ({"matchers": {}, "ends_at": NOON + 1, "comment": "x"}, "matchers"),
    ({"matchers": {"colour": "red"}, "ends_at": NOON + 1, "comment": "x"}, "matchers.colour"),
    ({"matchers": {"kind": "case.*"}, "ends_at": NOON - 1, "comment": "x"}, "ends_at"),
    ({"matchers": {"kind": "case.*"}, "ends_at": NOON + 1, "comment": ""}, "comment"),
])
def test_a_bad_silence_is_refused_naming_the_field(data, field):
    with pytest.raises(RoutingError) as e:
        silence_from_input(data, silence_id="S", by="a", now_ms=NOON)
    assert e.value.path == field


# ---- configuration ------------------------------------------------------------------------------------

def test_the_builtin_routes_survive_a_round_trip():
    config = RoutingConfig(BUILTIN_ROUTES, QuietHours("22:00", "07:00"))
    assert config_from_dict(config_to_dict(config)) == config


@pytest.mark.parametrize("routes, path", [
    ([{"id": "a", "kinds": ["case.nope"], "targets": ["department_group"]}], "routes[0].kinds[0]"),
    ([{"id": "a", "kinds": ["test"], "targets": ["everyone"]}], "routes[0].targets[0]"),
    ([{"id": "a", "kinds": ["test"], "targets": ["center_duty"], "channels": ["fax"]}], "routes[0].channels[0]"),
    ([{"id": "a", "kinds": ["test"], "targets": ["center_duty"], "group_window_s": -1}], "routes[0].group_window_s"),
    ([{"id": "a", "kinds": ["test"], "targets": ["center_duty"]}, {"id": "a", "kinds": ["test"], "targets": ["center_duty"]}],
     "routes[1].id"),
])
def test_a_bad_routes_configuration_names_the_place(routes, path):
    with pytest.raises(RoutingError) as e:
        config_from_dict({"routes": routes})
    assert e.value.path == path


def test_bad_quiet_hours_are_refused():
    with pytest.raises(RoutingError) as e:
        config_from_dict({"quiet_hours": {"start": "25:00", "end": "07:00"}})
    assert e.value.path == "quiet_hours.start"
