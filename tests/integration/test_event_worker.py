"""The case worker's linked-event jobs through real parts (Redis, the MQTT broker, the ingest
worker): task and instruction messages published from the event outbox at least once (also
after a worker died holding them), department systems' updates applied, repeats acknowledged,
refusals dead-lettered and counted, and the plans' triggers turned into proposals."""

from __future__ import annotations

import threading
import time
import uuid

import orjson
import pytest

from ioc.adapters import redis_keys as keys
from ioc.adapters.event_store import OUTBOX
from ioc.adapters.mqtt import connect, make_client
from ioc.casework.worker import GROUP, CaseWorker
from ioc.domain.access import Principal
from ioc.events.service import EventService
from tests.conftest import wait_for
from tests.integration.test_ingest_pipeline import birth, counter, send

YANGSHE = [120.556, 31.872]
DISPATCHER = Principal("li", frozenset({"dispatcher"}), "李调度")
LEADER = Principal("chen", frozenset({"leader"}), "陈局长")
UPDATES = "ioc/v1/departments/{}/updates"


@pytest.fixture
def events(redis_client, city, case_settings):
    return EventService.from_settings(redis_client, city, case_settings)


@pytest.fixture
def department_inbox(broker_proc):
    """The department systems' subscription to ioc/v1/dispatch/+ (QoS 1)."""
    got: list = []
    client = make_client(broker_proc.url, f"test-dept-{uuid.uuid4().hex[:8]}", name="test-department",
                         on_connect=lambda c: c.subscribe("ioc/v1/dispatch/+", qos=1))
    client.on_message = lambda _c, _u, msg: got.append((msg.topic, orjson.loads(msg.payload)))
    acked = threading.Event()
    client.on_subscribe = lambda *_args: acked.set()
    connect(client)
    assert acked.wait(10), "the department's subscription acknowledged (SUBACK)"
    yield got
    client.disconnect()
    client.loop_stop()


def publish(publisher, department: str, payload) -> None:
    raw = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    publisher.publish(UPDATES.format(department), raw, qos=1).wait_for_publish(5)


def start(events, level="IV"):
    return events.start(DISPATCHER, plan="flood", level=level, area={"type": "circle", "center": YANGSHE, "radius_m": 800})


def dead_letters(redis_client) -> list[dict]:
    return [{k.decode(): v.decode() for k, v in fields.items()} for _id, fields in redis_client.xrange(keys.DEADLETTER)]


# ---- the outbox ---------------------------------------------------------------------------------

def test_each_task_of_a_started_event_reaches_its_department_and_the_outbox_is_acknowledged(cases, events, department_inbox,
                                                                                           redis_client):
    event = start(events)
    got = wait_for(lambda: len(department_inbox) == 3 and department_inbox, message="three task messages")
    assert sorted(topic for topic, _ in got) == sorted(f"ioc/v1/dispatch/{t.department}" for t in event.tasks)
    assert all(m["type"] == "event_task" and m["event_id"] == event.id and m["version"] == 1 for _t, m in got)
    wait_for(lambda: redis_client.xpending(OUTBOX, GROUP)["pending"] == 0, message="the outbox entries acknowledged")
    wait_for(lambda: counter(redis_client, "events:published") == 3, message="three counted")
    events.instruct(event.id, LEADER, text="注意安全")
    wait_for(lambda: sum(m["type"] == "event_instruction" for _t, m in department_inbox) == 3, message="the instruction, to all three")


def test_messages_written_while_no_worker_runs_are_published_when_one_starts(start_cases, events, department_inbox):
    first = start_cases()
    first.stop()
    event = start(events)
    assert department_inbox == []
    start_cases()
    wait_for(lambda: {m["task_id"] for _t, m in department_inbox} == {t.department for t in event.tasks},
             message="the messages written while the worker was down")


def test_messages_a_dead_worker_had_read_but_not_published_are_published_by_its_successor(case_settings, city, redis_client,
                                                                                         events, department_inbox, start_cases):
    event = start(events)
    # a worker read the entries (they are pending at it) and died before publishing them (kill -9)
    redis_client.xgroup_create(OUTBOX, GROUP, id="0", mkstream=True)
    read = redis_client.xreadgroup(GROUP, case_settings.cases_client_id, {OUTBOX: ">"}, count=100)
    assert len(read[0][1]) == 3 and redis_client.xpending(OUTBOX, GROUP)["pending"] == 3
    start_cases()  # the same client id: it takes its own pending entries first
    wait_for(lambda: {m["task_id"] for _t, m in department_inbox} == {t.department for t in event.tasks},
             message="the pending messages published")
    wait_for(lambda: redis_client.xpending(OUTBOX, GROUP)["pending"] == 0, message="and acknowledged")


# ---- department systems' updates ----------------------------------------------------------------

def test_updates_move_the_departments_task_and_are_counted(cases, events, publisher, redis_client):
    event = start(events)
    publish(publisher, "water_affairs", {"event_id": event.id, "task_id": "water_affairs", "action": "acknowledge",
                                         "version": 1, "ts": int(time.time() * 1000)})
    publish(publisher, "water_affairs", {"event_id": event.id, "task_id": "water_affairs", "action": "arrive"})
    publish(publisher, "water_affairs", {"event_id": event.id, "task_id": "water_affairs", "action": "report",
                                         "note": "3 台泵站已开启"})
    task = wait_for(lambda: (t := events.store.get(event.id).task("water_affairs")).last_report_at and t, message="three steps")
    assert task.status == "on_site" and events.store.get(event.id).status == "responding"
    wait_for(lambda: counter(redis_client, "events:updates") == 3, message="three updates counted")
    entry = [e for e in events.store.get(event.id).log if e.kind == "task_report"][0]
    assert (entry.actor, entry.role, entry.params["note"]) == ("dept:water_affairs", "handler", "3 台泵站已开启")


def test_a_repeated_update_is_acknowledged_not_dead_lettered(cases, events, publisher, redis_client):
    event = start(events)
    ack = {"event_id": event.id, "task_id": "water_affairs", "action": "acknowledge", "version": 1}
    publish(publisher, "water_affairs", ack)
    publish(publisher, "water_affairs", ack)  # a redelivery, or the system sending again
    report = {"event_id": event.id, "task_id": "water_affairs", "action": "arrive", "version": 2}
    publish(publisher, "water_affairs", report)
    publish(publisher, "water_affairs", report)
    wait_for(lambda: events.store.get(event.id).task("water_affairs").status == "on_site", message="arrived")
    publish(publisher, "water_affairs", {"event_id": event.id, "task_id": "water_affairs", "action": "start"})
    wait_for(lambda: events.store.get(event.id).task("water_affairs").status == "working", message="the marker update")
    assert dead_letters(redis_client) == [] and counter(redis_client, "messages:rejected") == 0
    assert [e.kind for e in events.store.get(event.id).log].count("task_acknowledge") == 1


@pytest.mark.parametrize("department, payload, reason, field", [
    ("urban_management", {"task_id": "water_affairs", "action": "acknowledge"}, "update_refused", "task_id"),
    ("street_lighting", {"task_id": "street_lighting", "action": "acknowledge"}, "update_refused", "event_id"),
    ("water_affairs", {"task_id": "water_affairs", "action": "done", "note": "好了"}, "update_refused", "action"),
    ("water_affairs", {"task_id": "water_affairs", "action": "acknowledge", "version": 7}, "update_refused", "version"),
    ("water_affairs", {"task_id": "water_affairs", "action": "acknowledge", "case_id": "ZJG-20260101-000001"}, "bad_update",
     "event_id"),
    ("water_affairs", {"task_id": "water_affairs", "action": "acknowledge", "colour": "red"}, "bad_update", "colour"),
    ("water_affairs", {"task_id": "water_affairs", "action": "fly"}, "bad_update", "action"),
    ("water_affairs", {"action": "acknowledge_instruction"}, "bad_update", "instruction_id"),
], ids=["another-departments-task", "no-task-in-the-event", "out-of-order", "stale-version", "case-and-event",
        "unknown-field", "unknown-action", "instruction-without-id"])
def test_a_refused_update_is_dead_lettered_with_its_reason_and_changes_nothing(cases, events, publisher, redis_client,
                                                                              department, payload, reason, field):
    event = start(events)
    publish(publisher, department, {"event_id": event.id, **payload})
    letter = wait_for(lambda: dead_letters(redis_client), message="the dead letter")[0]
    assert letter["reason"] == reason and letter["detail"].startswith(field), letter["detail"]
    assert letter["topic"] == UPDATES.format(department)
    assert counter(redis_client, f"rejected:{reason}") == 1 and counter(redis_client, "messages:rejected") == 1
    assert events.store.get(event.id) == event


def test_an_update_for_an_unknown_event_is_refused(cases, publisher, redis_client):
    publish(publisher, "water_affairs", {"event_id": "EV-19990101-001", "task_id": "water_affairs", "action": "acknowledge"})
    letter = wait_for(lambda: dead_letters(redis_client), message="the dead letter")[0]
    assert letter["reason"] == "update_refused" and letter["detail"].startswith("event_id: no event")


def test_a_department_acknowledges_an_instruction_over_mqtt(cases, events, publisher):
    event = start(events)
    events.instruct(event.id, LEADER, text="确保人员安全")
    message = {"event_id": event.id, "action": "acknowledge_instruction", "instruction_id": "I1"}
    publish(publisher, "water_affairs", message)
    publish(publisher, "water_affairs", message)  # again: acknowledged, no dead letter
    wait_for(lambda: "water_affairs" in events.store.get(event.id).instructions[0].acknowledged, message="acknowledged")


def test_case_updates_still_reach_the_cases(cases, case_service, publisher, case_store):
    case, _ = case_service.report(class_code="10101", lat=YANGSHE[1], lon=YANGSHE[0], source="hotline", actor="hotline")
    for action, who in (("accept", DISPATCHER), ("verify", Principal("z", frozenset({"inspector"}))), ("dispatch", DISPATCHER)):
        case = case_service.act(case.id, action, who)
    publish(publisher, case.department, {"case_id": case.id, "action": "acknowledge"})
    wait_for(lambda: case_store.get(case.id).acknowledged_at, message="the case acknowledged")


# ---- proposals ------------------------------------------------------------------------------------

@pytest.fixture
def scanner(case_settings, city, redis_client):
    """A case worker not started: its trigger scan is called directly."""
    return CaseWorker(case_settings, redis_client, city)


def gauges(publisher, redis_client, city, levels: dict[str, float]) -> None:
    """A water gauge at the seat of each district, reading the level given."""
    before = counter(redis_client, "messages:accepted")
    for district, level in levels.items():
        birth(publisher, "water_level", f"wl-{district}", city.district(district).seat, f"{district} 水位站")
        send(publisher, "water_level", f"wl-{district}", waterLevel=level)
    wait_for(lambda: counter(redis_client, "messages:accepted") >= before + 2 * len(levels), message="the gauges' readings")


def test_water_over_the_warning_level_in_two_districts_proposes_a_flood_event(ingest, scanner, publisher, redis_client, city,
                                                                            events):
    gauges(publisher, redis_client, city, {"yangshe": 4.35})
    assert scanner.scan_triggers() == 0 and events.store.proposals() == {}
    gauges(publisher, redis_client, city, {"jingang": 4.31})
    assert scanner.scan_triggers() == 1
    proposal = events.proposals()[0]
    assert (proposal.id, proposal.plan, proposal.level) == ("flood:IV", "flood", "IV")
    assert {e.device_id for e in proposal.evidence} == {"wl-yangshe", "wl-jingang"}
    assert counter(redis_client, "events:proposals_raised") == 1


def test_a_dismissed_proposal_comes_back_only_when_the_evidence_worsens_and_not_while_an_event_runs(ingest, scanner, publisher,
                                                                                                   redis_client, city, events):
    gauges(publisher, redis_client, city, {"yangshe": 4.35, "jingang": 4.31})
    scanner.scan_triggers()
    events.dismiss("flood:IV", DISPATCHER, reason="潮位顶托，短时现象")
    assert scanner.scan_triggers() == 0
    gauges(publisher, redis_client, city, {"leyu": 4.28})  # a third district: worse
    assert scanner.scan_triggers() == 1
    event = events.start(DISPATCHER, plan=None, level=None, proposal_id="flood:IV", area=None, district="yangshe")
    assert scanner.scan_triggers() == 0  # an event of the plan at that level runs
    events.act(event.id, "cancel", DISPATCHER, reason="演练")
    assert scanner.scan_triggers() == 1


def test_a_dismissal_lapses_once_the_water_is_back_below_the_warning(ingest, scanner, publisher, redis_client, city, events):
    gauges(publisher, redis_client, city, {"yangshe": 4.35, "jingang": 4.31})
    scanner.scan_triggers()
    events.dismiss("flood:IV", DISPATCHER, reason="短时现象")
    gauges(publisher, redis_client, city, {"yangshe": 3.9, "jingang": 3.8})
    scanner.scan_triggers()
    assert events.store.dismissals() == {}
    gauges(publisher, redis_client, city, {"yangshe": 4.35, "jingang": 4.31})
    assert scanner.scan_triggers() == 1  # a new episode is proposed afresh


def test_a_restarted_worker_keeps_counting_the_minutes_a_sustained_trigger_has_been_met(ingest, case_settings, city, redis_client,
                                                                                      publisher, events):
    before = counter(redis_client, "messages:accepted")
    birth(publisher, "water_quality", "wq-yangshe", city.district("yangshe").seat, "杨舍 排口 1")
    send(publisher, "water_quality", "wq-yangshe", cod=160.0, pH=7.0)
    wait_for(lambda: counter(redis_client, "messages:accepted") >= before + 2, message="the outfall's reading")
    now = int(time.time() * 1000)
    CaseWorker(case_settings, redis_client, city).scan_triggers(now)  # COD over 100: the 3 minutes start
    restarted = CaseWorker(case_settings, redis_client, city)
    assert restarted.scan_triggers(now + 4 * 60_000) == 1
    assert events.proposals()[0].plan == "water_pollution"


def test_the_running_worker_scans_the_triggers_by_itself(ingest, case_settings, city, redis_client, publisher, start_cases,
                                                       events):
    gauges(publisher, redis_client, city, {"yangshe": 4.6})  # over 4.50 anywhere: level III
    start_cases()
    wait_for(lambda: "flood:III" in events.store.proposals(), message="the worker's own scan")
