"""Linked events in a real Redis: dated ids, atomic version-checked commits that write the event,
its audit entry and its outbox messages together or nothing, the active index, the revision
readers cache by, proposals and dismissals."""

from __future__ import annotations

import re

import orjson
import pytest

from ioc.adapters import redis_keys as keys
from ioc.adapters.audit_log import AuditLog
from ioc.adapters.event_store import EventConflict, EventNotFound, EventStore, audit_fields, outbox_message
from ioc.domain import events as ev
from ioc.domain.access import Principal
from ioc.domain.plans import builtin_plans

T0 = 1_764_000_000_000  # 2025-11-25 00:00 in China
DISPATCHER = Principal("li", frozenset({"dispatcher"}), "李调度")
WATER = Principal("dept:water_affairs", frozenset({"handler"}), department="water_affairs", kind="token")


@pytest.fixture
def store(redis_client):
    return EventStore(redis_client)


@pytest.fixture(scope="module")
def flood(city):
    from ioc.domain.departments import department_ids

    return builtin_plans(department_ids(city))["flood"]


def started(store, flood, level="IV", now=T0) -> ev.Event:
    return ev.start_event(event_id=store.next_id(now), plan=flood, level=level, title="", area=ev.Area("district", district="yangshe"),
                          district="yangshe", districts=("yangshe",), commander=DISPATCHER, now_ms=now)


def audit(event, action="event.start") -> dict:
    return audit_fields("li", "dispatcher", action, event.id, {"version": event.version}, "10.0.0.9", T0)


def outbox_entries(redis_client) -> list[dict]:
    return [{k.decode(): v.decode() for k, v in f.items()} for _id, f in redis_client.xrange(keys.EVENTS_OUTBOX)]


def test_a_new_event_gets_a_dated_city_wide_id_counted_per_day(store):
    first, second = store.next_id(T0), store.next_id(T0 + 3_600_000)
    next_day = store.next_id(T0 + 86_400_000)
    assert (first, second, next_day) == ("EV-20251125-001", "EV-20251125-002", "EV-20251126-001")


def test_a_start_stores_the_event_its_audit_entry_and_its_messages_together(store, flood, redis_client):
    event = started(store, flood)
    message = outbox_message("ioc/v1/dispatch/water_affairs", {"event_id": event.id, "task_id": "water_affairs"})
    store.create(event, audit(event), [message])
    assert store.get(event.id) == event and store.version(event.id) == 1
    assert store.active_ids() == [event.id]
    entry = AuditLog(redis_client).recent(1)[0]
    assert (entry.actor, entry.action, entry.target, entry.ip) == ("li", "event.start", event.id, "10.0.0.9")
    assert outbox_entries(redis_client) == [message]


def test_an_id_already_taken_is_refused_and_nothing_is_written(store, flood, redis_client):
    event = started(store, flood)
    store.create(event, audit(event))
    with pytest.raises(EventConflict) as e:
        store.create(event, audit(event))
    assert e.value.stored == 1 and AuditLog(redis_client).length() == 1


def test_a_commit_over_a_stale_version_writes_nothing(store, flood, redis_client):
    event = started(store, flood)
    store.create(event, audit(event))
    acknowledged = ev.task_action(event, "water_affairs", "acknowledge", WATER, T0 + 60_000)
    store.commit(event.version, acknowledged, audit(acknowledged, "event.task.acknowledge"),
                 [outbox_message("ioc/v1/dispatch/water_affairs", {"n": 1})])
    revision = store.revision()
    stale = ev.instruct(event, "全力排涝", Principal("chen", frozenset({"leader"})), T0 + 120_000)  # from version 1
    with pytest.raises(EventConflict) as e:
        store.commit(event.version, stale, audit(stale, "event.instruct"), [outbox_message("ioc/v1/dispatch/x", {"n": 2})])
    assert (e.value.expected, e.value.stored) == (1, 2)
    assert store.get(event.id) == acknowledged and store.revision() == revision
    assert AuditLog(redis_client).length() == 2 and len(outbox_entries(redis_client)) == 1


def test_a_commit_of_an_unknown_event_is_not_found(store, flood):
    event = started(store, flood)
    with pytest.raises(EventNotFound):
        store.commit(1, event, audit(event))


def test_a_closed_or_cancelled_event_leaves_the_active_index_but_is_kept(store, flood):
    event = started(store, flood)
    store.create(event, audit(event))
    cancelled = ev.cancel(event, "误报", DISPATCHER, T0 + 60_000)
    store.commit(event.version, cancelled, audit(cancelled, "event.cancel"))
    assert store.active_ids() == [] and store.get(event.id).status == "cancelled"
    assert [e.id for e in store.list(status="cancelled")] == [event.id] and store.list(active_only=True) == []


def test_events_are_listed_by_plan_district_and_status_newest_first(store, flood, city):
    from ioc.domain.departments import department_ids

    crowd = builtin_plans(department_ids(city))["crowd"]
    older = started(store, flood)
    store.create(older, audit(older))
    newer = ev.start_event(event_id=store.next_id(T0), plan=crowd, level="IV", title="", area=ev.Area("district", district="jingang"),
                           district="jingang", districts=("jingang", "yangshe"), commander=DISPATCHER, now_ms=T0 + 1000)
    store.create(newer, audit(newer))
    assert [e.id for e in store.list()] == [newer.id, older.id]
    assert [e.id for e in store.list(plan="flood")] == [older.id]
    assert [e.id for e in store.list(district="yangshe")] == [newer.id, older.id]  # the crowd's area touches it
    assert [e.id for e in store.list(district="jingang")] == [newer.id]
    assert [e.id for e in store.list(status="active", plan="crowd")] == [newer.id]


def test_every_change_moves_the_revision_and_names_the_event_changed(store, flood):
    event = started(store, flood)
    before = store.revision()
    store.create(event, audit(event))
    assert store.revision() == before + 1 and store.changed_since(before) == [event.id]
    assert store.changed_since(store.revision()) == []


PROPOSAL = {"id": "flood:IV", "plan": "flood", "level": "IV", "evidence": [], "districts": ["yangshe", "jingang"],
            "raised_at": T0, "trigger": 0}


def test_proposals_are_replaced_whole_and_the_revision_moves_only_when_they_change(store):
    assert store.put_proposals({"flood:IV": PROPOSAL})
    revision = store.revision()
    assert not store.put_proposals({"flood:IV": dict(PROPOSAL)}) and store.revision() == revision
    assert store.proposals() == {"flood:IV": PROPOSAL} and store.proposal("flood:IV") == PROPOSAL
    assert store.put_proposals({}) and store.proposals() == {} and store.revision() == revision + 1


def test_starting_from_a_proposal_clears_it_in_the_same_step(store, flood):
    store.put_proposals({"flood:IV": PROPOSAL})
    event = started(store, flood)
    store.create(event, audit(event), proposal="flood:IV")
    assert store.proposals() == {}


def test_a_dismissal_is_kept_with_its_audit_entry_and_takes_the_proposal_away(store, redis_client):
    store.put_proposals({"flood:IV": PROPOSAL})
    dismissal = {"summary": {"plan": "flood", "level": "IV", "devices": 2}, "by": "li", "by_label": "李调度", "reason": "雨已停",
                 "at": T0}
    store.dismiss("flood:IV", dismissal, audit_fields("li", "dispatcher", "event.proposal.dismiss", "flood:IV", {}, "", T0))
    assert store.dismissals() == {"flood:IV": dismissal} and store.proposals() == {}
    assert AuditLog(redis_client).recent(1)[0].action == "event.proposal.dismiss"
    assert store.drop_dismissals(["flood:IV"]) == 1 and store.dismissals() == {}


def test_the_event_json_is_stored_as_the_domain_writes_it(store, flood, redis_client):
    event = started(store, flood)
    store.create(event, audit(event))
    assert orjson.loads(redis_client.hget(keys.EVENTS_DATA, event.id)) == event.to_dict()
    assert re.fullmatch(r"EV-20251125-\d{3}", event.id)
