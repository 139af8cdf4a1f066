"""Cases in a real Redis: idempotent intake, atomic version-checked transitions, timelines,
indexes that follow the case, and durability across a Redis restart (AOF)."""

from __future__ import annotations

import re
import threading

import pytest

from ioc.adapters.audit_log import AuditLog
from ioc.adapters.case_store import OPEN, OUTBOX, CaseConflict, CaseNotFound, CaseStore
from ioc.adapters.redis_client import connect_redis
from ioc.domain.access import Principal
from ioc.domain.cases import Case, CaseEvent, apply

T0 = 1_764_000_000_000
DISPATCHER = Principal("li", frozenset({"dispatcher"}))
OTHER_DISPATCHER = Principal("zhou", frozenset({"dispatcher"}))


def new_case(case_store: CaseStore, report_id: str = "", device_id: str = "", class_code: str = "10105") -> tuple[Case, bool]:
    case = Case(case_store.next_id(T0), class_code, 31.87, 120.55, "yangshe", "hotline", T0, report_id=report_id, device_id=device_id)
    return case_store.create(case, CaseEvent(case.id, "report", "hotline", "system", "", "reported", T0))


def test_a_new_case_gets_a_dated_city_wide_id(case_store):
    case, created = new_case(case_store)
    assert created and re.fullmatch(r"ZJG-20251125-\d{6}", case.id)  # T0 is 2025-11-25 00:00 in China
    assert case_store.get(case.id) == case


def test_the_same_report_id_twice_makes_one_case(case_store):
    first, created = new_case(case_store, report_id="12345-0001")
    again, created_again = new_case(case_store, report_id="12345-0001")
    assert created and not created_again and again.id == first.id
    assert len(case_store.all()) == 1


def test_one_device_has_at_most_one_open_case_per_class(case_store):
    first, _ = new_case(case_store, device_id="mh-1")
    again, created = new_case(case_store, device_id="mh-1")
    assert not created and again.id == first.id
    _, other_class = new_case(case_store, device_id="mh-1", class_code="10101")
    assert other_class


def test_a_transition_writes_the_case_its_timeline_and_the_audit_log(case_store, redis_client):
    case, _ = new_case(case_store)
    after, event = apply(case, "accept", DISPATCHER, T0 + 1000)
    case_store.save_transition(case, after, event, ip="10.0.0.9")
    assert case_store.get(case.id).stage == "accepted"
    assert [e.action for e in case_store.timeline(case.id)] == ["report", "accept"]
    entry = AuditLog(redis_client).recent(1, action="case.")[0]
    assert (entry.actor, entry.role, entry.action, entry.target, entry.ip) == ("li", "dispatcher", "case.accept", case.id, "10.0.0.9")


def test_two_dispatchers_acting_on_one_case_get_one_success_and_one_conflict(case_store):
    case, _ = new_case(case_store)
    results = []

    def act(actor):
        after, event = apply(case, "accept", actor, T0 + 1000)
        try:
            case_store.save_transition(case, after, event)
            results.append("ok")
        except CaseConflict as e:
            results.append(e)

    threads = [threading.Thread(target=act, args=(a,)) for a in (DISPATCHER, OTHER_DISPATCHER)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 1
    conflict = next(r for r in results if r != "ok")
    assert (conflict.expected, conflict.stored) == (1, 2) and "reload" in str(conflict)
    assert len(case_store.timeline(case.id)) == 2  # report + the one accept


def test_an_ended_case_leaves_the_open_queue_and_the_duplicate_search(case_store, redis_client):
    case, _ = new_case(case_store, device_id="mh-2")
    assert case_store.nearby_open(case.class_code, case.lon, case.lat, 50) == [case.id]
    after, event = apply(case, "reject", DISPATCHER, T0 + 1000, note="重复")
    case_store.save_transition(case, after, event)
    assert redis_client.zscore(OPEN, case.id) is None
    assert case_store.nearby_open(case.class_code, case.lon, case.lat, 50) == []
    _, created = new_case(case_store, device_id="mh-2")  # the device may raise a new case now
    assert created


def test_an_outbox_message_commits_with_its_transition(case_store, redis_client):
    case, _ = new_case(case_store)
    after, event = apply(case, "accept", DISPATCHER, T0 + 1000)
    case_store.save_transition(case, after, event, outbox={"topic": "ioc/v1/dispatch/water_affairs", "payload": "{}"})
    assert redis_client.xlen(OUTBOX) == 1


def test_a_transition_of_an_unknown_case_is_refused(case_store):
    ghost = Case("ZJG-0-404", "10105", 31.8, 120.5, "yangshe", "hotline", T0)
    after, event = apply(ghost, "accept", DISPATCHER, T0)
    with pytest.raises(CaseNotFound):
        case_store.save_transition(ghost, after, event)


def test_cases_and_timelines_survive_a_redis_restart(tmp_path):
    from ioc.adapters.embedded import redis_server

    server = redis_server(tmp_path / "redis").start()
    try:
        case_store = CaseStore(connect_redis(server.url))
        case, _ = new_case(case_store, report_id="r-durable")
        after, event = apply(case, "accept", DISPATCHER, T0 + 1000)
        case_store.save_transition(case, after, event)
        server.restart()
        case_store = CaseStore(connect_redis(server.url))
        assert case_store.get(case.id).stage == "accepted"
        assert [e.action for e in case_store.timeline(case.id)] == ["report", "accept"]
        assert case_store.by_report("r-durable").id == case.id
    finally:
        server.stop()
