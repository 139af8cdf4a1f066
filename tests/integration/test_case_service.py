"""The case case_service on a real Redis: intake with time limits, routing and duplicate flags, every
branch of the workflow, deferrals moving the deadlines, and the dispatch message."""

from __future__ import annotations

import time

import orjson
import pytest

from ioc.adapters.audit_log import AuditLog
from ioc.adapters.case_store import OUTBOX, CaseConflict, CaseNotFound
from ioc.casework.service import CaseInputError, dispatch_topic
from ioc.domain.access import Principal
from ioc.domain.case_catalog import minor
from ioc.domain.cases import CasePermissionError

YANGSHE = (31.872, 120.556)  # (lat, lon) in 杨舍镇
DISPATCHER = Principal("li", frozenset({"dispatcher"}))
INSPECTOR = Principal("zhao", frozenset({"inspector"}))
LEADER = Principal("chen", frozenset({"leader"}))


def handler(department: str) -> Principal:
    return Principal(f"h-{department}", frozenset({"handler"}), department=department)


@pytest.fixture
def now():
    """Wednesday 2026-11-25 10:00 China time: a working day, in working hours."""
    from datetime import datetime, timedelta, timezone

    return int(datetime(2026, 11, 25, 10, 0, tzinfo=timezone(timedelta(hours=8))).timestamp() * 1000)


def report(case_service, now, code=None, report_id="", **kw):
    lat, lon = kw.pop("at", YANGSHE)
    return case_service.report(class_code=code or "10101", lat=lat, lon=lon,
                          source="hotline", actor="hotline", report_id=report_id, now_ms=now, **kw)


def test_a_report_becomes_a_case_in_its_district_with_deadlines_and_a_suggested_department(case_service, now):
    case, created = report(case_service, now, "10105", description="路灯不亮")
    assert created and case.stage == "reported" and case.district == "yangshe"
    assert case.suggested_department == "street_lighting"  # a component: its owner first
    assert now < case.stage_deadline < case.due_at


def test_an_event_is_routed_to_its_territory_first(case_service, now):
    case, _ = report(case_service, now, "20301")  # illegal construction
    assert case.suggested_department == "town_yangshe"


def test_a_backdated_report_is_audited_newest_at_the_server_time_with_its_reported_time_as_detail(case_service, now):
    audit = AuditLog(case_service.store.redis)
    audit.record("admin", "admin", "user.add", "someone")  # an entry written just before the report arrives
    written_after = time.time_ns() // 1_000_000  # whole milliseconds, as entries carry them
    backdated = now - 3 * 86_400_000  # the reporting system says: three days ago
    case, _ = report(case_service, backdated)
    newest = audit.recent(1)[0]
    assert (newest.action, newest.target) == ("case.report", case.id)
    assert written_after <= newest.at_ms <= time.time() * 1000
    assert newest.detail["reported_at"] == backdated == case.created_at


def test_the_same_report_id_twice_makes_one_case(case_service, now):
    first, _ = report(case_service, now, report_id="12345-77")
    again, created = report(case_service, now + 1000, report_id="12345-77")
    assert not created and again.id == first.id


def test_a_report_near_an_open_case_of_the_same_class_is_flagged_as_a_likely_duplicate(case_service, now):
    first, _ = report(case_service, now)
    second, created = report(case_service, now + 60_000, at=(YANGSHE[0] + 0.0003, YANGSHE[1]))  # ~33 m north
    assert created and second.possible_duplicates == (first.id,)
    far, _ = report(case_service, now + 60_000, at=(YANGSHE[0] + 0.01, YANGSHE[1]))
    assert far.possible_duplicates == ()


@pytest.mark.parametrize("kw, field", [
    ({"code": "99999"}, "category"), ({"at": (40.0, 116.4)}, "lat"), ({"at": ("x", 120.5)}, "lat"),
    ({"description": "很" * 4001}, "description"), ({"media": ["javascript:alert(1)"]}, "media"),
])
def test_a_bad_report_is_refused_with_the_field_and_stores_nothing(case_service, now, kw, field):
    with pytest.raises(CaseInputError) as error:
        report(case_service, now, **kw)
    assert error.value.field == field
    assert case_service.store.all() == []


def walk(case_service, case, now, *steps):
    for i, (action, actor, params) in enumerate(steps, 1):
        case = case_service.act(case.id, action, actor, now_ms=now + i * 60_000, **params)
    return case


def test_the_main_line_from_report_to_close(case_service, now, redis_client):
    case, _ = report(case_service, now, "10101")
    case = walk(case_service, case, now, ("accept", DISPATCHER, {}), ("verify", INSPECTOR, {}), ("dispatch", DISPATCHER, {}),
                ("acknowledge", handler("water_affairs"), {}), ("handle", handler("water_affairs"), {"note": "已更换井盖"}),
                ("check_pass", INSPECTOR, {}), ("close", DISPATCHER, {}))
    assert case.stage == "closed" and case.department == "water_affairs"
    assert [e.action for e in case_service.store.timeline(case.id)] == [
        "report", "accept", "verify", "dispatch", "acknowledge", "handle", "check_pass", "close"]


def test_dispatch_publishes_the_case_to_the_departments_topic_through_the_outbox(case_service, now, redis_client):
    case, _ = report(case_service, now, "10101")
    case = walk(case_service, case, now, ("accept", DISPATCHER, {}), ("verify", INSPECTOR, {}), ("dispatch", DISPATCHER, {}))
    (_, fields), = redis_client.xrange(OUTBOX)
    assert fields[b"topic"].decode() == dispatch_topic("water_affairs")
    message = orjson.loads(fields[b"payload"])
    assert (message["case_id"], message["department"], message["deadline"]) == (case.id, "water_affairs", case.stage_deadline)


def test_the_dispatcher_overrides_the_suggested_department(case_service, now):
    case, _ = report(case_service, now, "10101")
    case = walk(case_service, case, now, ("accept", DISPATCHER, {}), ("verify", INSPECTOR, {}),
                ("dispatch", DISPATCHER, {"department": "town_yangshe"}))
    assert case.department == "town_yangshe"


def test_an_unknown_department_is_refused(case_service, now):
    case, _ = report(case_service, now, "10101")
    case = walk(case_service, case, now, ("accept", DISPATCHER, {}), ("verify", INSPECTOR, {}))
    with pytest.raises(CaseInputError) as error:
        case_service.act(case.id, "dispatch", DISPATCHER, department="nobody", now_ms=now)
    assert error.value.field == "department"


def test_return_then_redispatch_then_rework_then_close(case_service, now):
    case, _ = report(case_service, now, "10101")
    water, town = handler("water_affairs"), handler("town_yangshe")
    case = walk(case_service, case, now, ("accept", DISPATCHER, {}), ("verify", INSPECTOR, {}),
                ("dispatch", DISPATCHER, {"department": "town_yangshe"}), ("return", town, {"note": "属水务局管养"}),
                ("dispatch", DISPATCHER, {"department": "water_affairs"}), ("handle", water, {}),
                ("check_fail", INSPECTOR, {"note": "井盖未固定"}), ("handle", water, {}), ("check_pass", INSPECTOR, {}),
                ("close", DISPATCHER, {}))
    assert (case.stage, case.return_count, case.rework_count) == ("closed", 1, 1)


def test_an_approved_deferral_moves_the_handling_deadline_and_the_due_time(case_service, now):
    case, _ = report(case_service, now, "10101")
    water = handler("water_affairs")
    case = walk(case_service, case, now, ("accept", DISPATCHER, {}), ("verify", INSPECTOR, {}), ("dispatch", DISPATCHER, {}))
    before = case
    case = walk(case_service, case, now + 300_000, ("request_deferral", water, {"note": "等待配件", "hours": 4}),
                ("approve_deferral", DISPATCHER, {}))
    calendar, limits = case_service.calendar, minor("10101")
    assert case.stage_deadline == calendar.add_hours(before.stage_deadline, 4, limits.calendar_hours)
    assert case.due_at == calendar.add_hours(before.due_at, 4, limits.calendar_hours)
    assert case.deferral_count == 1


def test_a_report_verified_as_nonexistent_is_voided(case_service, now):
    case, _ = report(case_service, now)
    case = walk(case_service, case, now, ("accept", DISPATCHER, {}), ("void", INSPECTOR, {"note": "现场无此问题"}))
    assert case.stage == "voided" and not case.is_open


def test_a_duplicate_merges_into_an_open_master(case_service, now):
    master, _ = report(case_service, now)
    duplicate, _ = report(case_service, now + 1000)
    merged = case_service.act(duplicate.id, "merge", DISPATCHER, master_id=master.id, now_ms=now + 2000)
    assert (merged.stage, merged.master_id) == ("merged", master.id)
    with pytest.raises(CaseInputError):
        case_service.act(master.id, "merge", DISPATCHER, master_id=duplicate.id, now_ms=now + 3000)  # merged: not open


def test_a_leader_urges_an_overdue_case(case_service, now):
    case, _ = report(case_service, now)
    urged = case_service.act(case.id, "urge", LEADER, note="请尽快受理", now_ms=case.stage_deadline + 1)
    assert urged.urge_count == 1 and urged.stage == "reported"


def test_a_stale_version_is_a_conflict(case_service, now):
    case, _ = report(case_service, now)
    case_service.act(case.id, "accept", DISPATCHER, expected_version=case.version, now_ms=now + 1)
    with pytest.raises(CaseConflict):
        case_service.act(case.id, "reject", DISPATCHER, expected_version=case.version, note="x", now_ms=now + 2)


def test_another_departments_handler_does_not_find_the_case(case_service, now):
    case, _ = report(case_service, now, "10101")
    case = walk(case_service, case, now, ("accept", DISPATCHER, {}), ("verify", INSPECTOR, {}), ("dispatch", DISPATCHER, {}))
    with pytest.raises(CaseNotFound) as error:
        case_service.act(case.id, "handle", handler("street_lighting"), now_ms=now)
    assert str(error.value) == f"no case {case.id!r}"  # the words of an unknown id: nothing told about the case


def test_a_handler_who_also_dispatches_sees_the_case_but_may_not_handle_another_departments(case_service, now):
    case, _ = report(case_service, now, "10101")
    case = walk(case_service, case, now, ("accept", DISPATCHER, {}), ("verify", INSPECTOR, {}), ("dispatch", DISPATCHER, {}))
    both = Principal("h-d", frozenset({"handler", "dispatcher"}), department="street_lighting")
    with pytest.raises(CasePermissionError):
        case_service.act(case.id, "handle", both, now_ms=now)
