"""The event service on a real Redis: starting events (by hand, from an alarm, a case or a
proposal), the checks in their one order with nothing stored on a refusal, event versions and
task versions, concurrent departments and commanders, the outbox messages each change writes,
and the audit entries."""

from __future__ import annotations

import threading
import time

import orjson
import pytest

from ioc.adapters import redis_keys as keys
from ioc.adapters.alarm_store import AlarmStore
from ioc.adapters.audit_log import AuditLog
from ioc.adapters.event_store import OUTBOX, EventConflict, EventNotFound, EventStore
from ioc.domain.access import Principal
from ioc.domain.alarms import Alarm
from ioc.domain.departments import department_ids
from ioc.domain.events import EventError, EventPermissionError
from ioc.domain.plans import BUILTIN_PLANS_DATA, validate_plans
from ioc.events.service import EventService, refusal

YANGSHE = (120.556, 31.872)  # (lon, lat) in 杨舍镇
DISPATCHER = Principal("li", frozenset({"dispatcher"}), "李调度")
OTHER_DISPATCHER = Principal("zhou", frozenset({"dispatcher"}), "周调度")
LEADER = Principal("chen", frozenset({"leader"}), "陈局长")
OPERATOR = Principal("wang", frozenset({"operator"}))
KIOSK = Principal("kiosk:wall", frozenset({"operator"}), "wall", "", "kiosk", True)
CIRCLE = {"type": "circle", "center": list(YANGSHE), "radius_m": 800}


def handler(department: str) -> Principal:
    return Principal(f"h-{department}", frozenset({"handler"}), department=department)


@pytest.fixture
def events(redis_client, city, settings):
    return EventService.from_settings(redis_client, city, settings)


def outbox(redis_client) -> list[tuple[str, dict]]:
    return [(f[b"topic"].decode(), orjson.loads(f[b"payload"])) for _id, f in redis_client.xrange(OUTBOX)]


def start(events, level="IV", **kw):
    kw.setdefault("area", CIRCLE)
    return events.start(DISPATCHER, plan=kw.pop("plan", "flood"), level=level, **kw)


def nothing_stored(redis_client) -> bool:
    return not redis_client.exists(keys.EVENTS_DATA) and not redis_client.exists(OUTBOX) and not redis_client.exists(keys.AUDIT)


# ---- starting ---------------------------------------------------------------------------------------

def test_a_dispatcher_starts_a_flood_event_and_each_department_of_the_level_gets_its_task(events, redis_client):
    event = start(events, title="杨舍城区内涝", district="yangshe")
    assert (event.plan, event.level, event.status, event.version, event.district) == ("flood", "IV", "active", 1, "yangshe")
    assert [t.department for t in event.tasks] == ["water_affairs", "urban_management", "town_yangshe"]
    assert events.store.get(event.id) == event and events.store.active_ids() == [event.id]
    messages = outbox(redis_client)
    assert [topic for topic, _ in messages] == [f"ioc/v1/dispatch/{t.department}" for t in event.tasks]
    topic, first = messages[0]
    assert first["type"] == "event_task" and (first["event_id"], first["task_id"], first["version"]) == (event.id, "water_affairs", 1)
    assert (first["status"], first["role"], first["plan"], first["plan_zh"], first["level"]) == ("issued", "lead", "flood", "防汛", "IV")
    assert first["level_zh"] == "Ⅳ级（一般）" and first["level_en"].startswith("Level IV")
    assert first["area"]["type"] == "Polygon" and (first["lon"], first["lat"]) == YANGSHE
    assert first["ack_within_min"] >= 1 and first["commander"] == "李调度" and first["event_version"] == 1
    entry = AuditLog(redis_client).recent(1)[0]
    assert (entry.actor, entry.role, entry.action, entry.target) == ("li", "dispatcher", "event.start", event.id)
    assert entry.detail["plan"] == "flood" and entry.detail["level"] == "IV"


def test_an_event_started_from_an_alarm_is_placed_around_its_device_and_links_it(events, redis_client, settings):
    redis_client.hset(keys.meta(keys.shard_of("wl-7", settings.redis_shards)), "wl-7",
                      orjson.dumps({"kind": "water_level", "name": "杨舍 水位站 7", "lon": YANGSHE[0], "lat": YANGSHE[1]}))
    AlarmStore(redis_client).raise_alarm(Alarm("wl-7|water_level_warning", "wl-7", "water_level", "water_level_warning", "major",
                                               "yangshe", "waterLevel", 4.4, 4.2, int(time.time() * 1000), "水位超警", "Water level"))
    event = events.start(DISPATCHER, plan="flood", level="IV", alarm_id="wl-7|water_level_warning")
    assert event.alarms == ("wl-7|water_level_warning",) and event.district == "yangshe"
    assert event.area.kind == "circle" and event.area.center == YANGSHE and event.area.radius_m == 1000


def test_an_event_started_from_a_case_is_placed_around_it_in_its_district(events, case_service):
    case, _ = case_service.report(class_code="10101", lat=YANGSHE[1], lon=YANGSHE[0], source="hotline", actor="hotline")
    event = events.start(DISPATCHER, plan="hazmat", level="III", case_id=case.id)
    assert event.cases == (case.id,) and event.district == "yangshe" and event.area.center == YANGSHE


def test_an_event_started_from_a_proposal_takes_its_plan_and_level_covers_its_evidence_and_clears_it(events, settings,
                                                                                                    redis_client):
    places = {"wl-a": (120.55, 31.87), "wl-b": (120.60, 31.90)}
    for device, (lon, lat) in places.items():
        redis_client.hset(keys.meta(keys.shard_of(device, settings.redis_shards)), device,
                          orjson.dumps({"kind": "water_level", "name": device, "lon": lon, "lat": lat}))
    evidence = [{"device_id": d, "name": d, "district": "yangshe", "kind": "water_level", "attribute": "waterLevel",
                 "value": 4.4, "threshold": 4.2, "since_ms": 0, "op": ">="} for d in places]
    events.store.put_proposals({"flood:IV": {"id": "flood:IV", "plan": "flood", "level": "IV", "evidence": evidence,
                                             "districts": ["yangshe", "jingang"], "raised_at": 0, "trigger": 0}})
    event = events.start(DISPATCHER, plan=None, level=None, proposal_id="flood:IV")
    assert (event.plan, event.level, event.proposal) == ("flood", "IV", "flood:IV")
    assert event.area.kind == "circle" and event.area.radius_m > 1000
    assert events.store.proposals() == {}
    with pytest.raises(EventError) as e:
        events.start(DISPATCHER, plan=None, level=None, proposal_id="flood:IV")
    assert e.value.field == "proposal_id"


SELF_CROSSING = {"type": "Polygon", "coordinates": [[[120.55, 31.87], [120.57, 31.89], [120.57, 31.87], [120.55, 31.89],
                                                     [120.55, 31.87]]]}


@pytest.mark.parametrize("kw, field", [
    ({"plan": "earthquake"}, "plan"),
    ({"level": "V"}, "level"),
    ({"area": {"type": "circle", "center": [116.40, 39.90], "radius_m": 800}}, "area"),  # Beijing
    ({"area": SELF_CROSSING}, "area"),
    ({"area": {"type": "circle", "center": list(YANGSHE), "radius_m": 10}}, "area"),
    ({"area": "yangshe"}, "area"),
    ({"title": 42}, "title"),
    ({"district": "atlantis"}, "district"),
    ({"alarm_id": "no-such|alarm"}, "alarm_id"),
    ({"case_id": "ZJG-19990101-000001"}, "case_id"),
], ids=["unknown-plan", "unknown-level", "outside-city", "self-crossing", "tiny-circle", "area-not-object", "title-number",
        "unknown-district", "unknown-alarm", "unknown-case"])
def test_a_bad_start_is_refused_with_the_field_and_nothing_is_stored(events, redis_client, kw, field):
    with pytest.raises(EventError) as e:
        start(events, **kw)
    assert e.value.field == field and refusal(e.value).status == 400
    assert nothing_stored(redis_client)
    assert int(redis_client.hget(keys.METRICS, "events:refused")) == 1


def test_a_level_the_plan_lacks_is_refused(redis_client, city, settings):
    data = [dict(p, levels=[lv for lv in p["levels"] if lv["level"] != "I"]) if p["id"] == "flood" else p for p in BUILTIN_PLANS_DATA]
    events = EventService(EventStore(redis_client), city, validate_plans(data, department_ids(city)), department_ids(city))
    with pytest.raises(EventError) as e:
        start(events, level="I")
    assert e.value.field == "level" and "has no level 'I'" in str(e.value)
    assert nothing_stored(redis_client)


@pytest.mark.parametrize("who", [OPERATOR, KIOSK, handler("water_affairs"), Principal("x", frozenset({"admin"}))],
                         ids=["operator", "kiosk", "handler", "admin"])
def test_only_dispatchers_and_leaders_start_events(events, redis_client, who):
    with pytest.raises(EventPermissionError):
        events.start(who, plan="flood", level="IV", area=CIRCLE)
    assert nothing_stored(redis_client)
    assert events.start(LEADER, plan="flood", level="IV", area=CIRCLE).commander == "chen"


def test_input_types_are_checked_before_the_role(events):
    with pytest.raises(EventError) as e:
        events.start(OPERATOR, plan=["flood"], level="IV")
    assert e.value.field == "plan"


# ---- reading --------------------------------------------------------------------------------------

def test_a_handler_sees_only_the_events_its_department_has_a_task_in(events):
    event = start(events)
    assert events.event_for(event.id, handler("water_affairs")) == event
    with pytest.raises(EventNotFound):
        events.event_for(event.id, handler("street_lighting"))
    assert events.events_for(handler("street_lighting")) == [] and events.events_for(KIOSK) == [event]
    with pytest.raises(EventNotFound):
        events.event_for("EV-19990101-001", DISPATCHER)


# ---- task actions ---------------------------------------------------------------------------------

def test_a_department_works_its_task_step_by_step(events, redis_client):
    event = start(events)
    water = handler("water_affairs")
    for action, note in (("acknowledge", ""), ("arrive", ""), ("start", ""), ("report", "泵站已开启 3 台"), ("done", "积水已排除")):
        event = events.task_act(event.id, "water_affairs", action, water, note=note)
    task = event.task("water_affairs")
    assert (task.status, task.version, task.closed_note) == ("done", 6, "积水已排除") and event.status == "responding"
    actions = [e.action for e in AuditLog(redis_client).recent(10, action="event.task.")]
    assert actions == ["event.task.done", "event.task.report", "event.task.start", "event.task.arrive", "event.task.acknowledge"]
    assert len(outbox(redis_client)) == 3  # the department's own steps are not sent back to it


def test_a_task_action_out_of_order_is_refused_and_nothing_is_stored(events, redis_client):
    event = start(events)
    length = AuditLog(redis_client).length()
    with pytest.raises(EventError) as e:
        events.task_act(event.id, "water_affairs", "done", handler("water_affairs"), note="好了")
    assert e.value.field == "action" and refusal(e.value).status == 400
    assert events.store.get(event.id) == event and AuditLog(redis_client).length() == length


def test_a_handler_may_not_work_another_departments_task(events):
    event = start(events)
    with pytest.raises(EventPermissionError):
        events.task_act(event.id, "water_affairs", "acknowledge", handler("urban_management"))
    with pytest.raises(EventNotFound):  # a department without a task in it does not see the event at all
        events.task_act(event.id, "water_affairs", "acknowledge", handler("street_lighting"))
    with pytest.raises(EventPermissionError):
        events.task_act(event.id, "water_affairs", "acknowledge", DISPATCHER)
    assert events.store.get(event.id).task("water_affairs").status == "issued"


def test_a_task_action_checks_the_task_version_not_the_event_version(events):
    event = start(events)
    events.task_act(event.id, "urban_management", "acknowledge", handler("urban_management"))  # the event moved on
    after = events.task_act(event.id, "water_affairs", "acknowledge", handler("water_affairs"), expected_version=1)
    assert after.task("water_affairs").version == 2
    with pytest.raises(EventConflict) as e:
        events.task_act(event.id, "water_affairs", "arrive", handler("water_affairs"), expected_version=1)
    assert (e.value.stored, e.value.task) == (2, "water_affairs") and refusal(e.value).version == 2


def test_eight_departments_acting_at_once_all_succeed(events):
    event = start(events, level="I")
    departments = [t.department for t in event.tasks][:8]
    assert len(departments) == 8
    errors, barrier = [], threading.Barrier(len(departments))

    def acknowledge(department):
        barrier.wait()
        try:
            events.task_act(event.id, department, "acknowledge", handler(department), expected_version=1)
        except Exception as e:  # noqa: BLE001 - collected for the assertion
            errors.append(e)

    threads = [threading.Thread(target=acknowledge, args=(d,)) for d in departments]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    stored = events.store.get(event.id)
    assert all(stored.task(d).status == "acknowledged" for d in departments)
    assert stored.version == event.version + 8


# ---- event actions ----------------------------------------------------------------------------------

def test_two_commanders_changing_the_level_at_once_one_gets_a_conflict(events, redis_client):
    event = start(events)
    results, barrier = [], threading.Barrier(2)

    def raise_level(who, level):
        barrier.wait()
        try:
            results.append(events.change_level(event.id, who, level=level, reason="雨势加大", expected_version=event.version).level)
        except EventConflict as e:
            results.append(e)

    threads = [threading.Thread(target=raise_level, args=a) for a in ((DISPATCHER, "III"), (OTHER_DISPATCHER, "II"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    conflicts = [r for r in results if isinstance(r, EventConflict)]
    assert len(conflicts) == 1 and conflicts[0].stored == event.version + 1
    assert events.store.get(event.id).level in results
    assert len(AuditLog(redis_client).recent(10, action="event.level")) == 1


def test_a_stale_event_version_is_a_409_with_the_stored_version_and_changes_nothing(events):
    event = start(events)
    events.task_act(event.id, "water_affairs", "acknowledge", handler("water_affairs"))
    with pytest.raises(EventConflict) as e:
        events.change_level(event.id, DISPATCHER, level="III", reason="x", expected_version=event.version)
    assert refusal(e.value).status == 409 and refusal(e.value).extra() == {"version": event.version + 1}
    assert events.store.get(event.id).level == "IV"


def test_raising_the_level_issues_the_new_tasks_and_tells_the_kept_ones(events, redis_client):
    event = start(events)
    events.task_act(event.id, "water_affairs", "acknowledge", handler("water_affairs"))
    sent = len(outbox(redis_client))
    raised = events.change_level(event.id, DISPATCHER, level="III", reason="水位超保证", expected_version=event.version + 1)
    new = outbox(redis_client)[sent:]
    assert {m["task_id"] for _t, m in new} == {t.department for t in raised.tasks}  # kept ones hear of the new level
    assert all(m["level"] == "III" and m["event_version"] == raised.version for _t, m in new)
    assert raised.task("water_affairs").status == "acknowledged"
    assert AuditLog(redis_client).recent(1)[0].detail == {"version": raised.version, "from": "IV", "to": "III", "reason": "水位超保证"}


def test_lowering_the_level_withdraws_tasks_and_tells_their_departments(events, redis_client):
    event = start(events, level="III")
    sent = len(outbox(redis_client))
    lowered = events.change_level(event.id, DISPATCHER, level="IV", reason="水位回落")
    withdrawn = {m["task_id"] for _t, m in outbox(redis_client)[sent:] if m["status"] == "withdrawn"}
    assert withdrawn == {"transport", "public_security"} and lowered.task("transport").status == "withdrawn"


def test_a_leaders_instruction_goes_to_every_department_with_a_live_task(events, redis_client):
    event = start(events)
    with pytest.raises(EventPermissionError):
        events.instruct(event.id, DISPATCHER, text="加强巡查")
    instructed = events.instruct(event.id, LEADER, text="确保人员安全", expected_version=event.version)
    messages = [(topic, m) for topic, m in outbox(redis_client) if m["type"] == "event_instruction"]
    assert [topic for topic, _ in messages] == [f"ioc/v1/dispatch/{t.department}" for t in event.tasks]
    assert messages[0][1] == {"type": "event_instruction", "event_id": event.id, "instruction_id": "I1", "text": "确保人员安全",
                              "by": "陈局长", "ts": instructed.instructions[0].at}
    acked = events.act(event.id, "acknowledge_instruction", handler("water_affairs"), instruction_id="I1")
    assert acked.instructions[0].pending == ("urban_management", "town_yangshe")
    assert AuditLog(redis_client).recent(1)[0].action == "event.acknowledge_instruction"


def test_closing_needs_every_task_ended_and_a_summary(events, redis_client):
    event = start(events)
    with pytest.raises(EventError) as e:
        events.close(event.id, DISPATCHER, summary="结束")
    assert e.value.field == "tasks"
    for department in ("urban_management", "town_yangshe"):
        events.act(event.id, "withdraw_task", DISPATCHER, department=department, reason="不再需要")
    water = handler("water_affairs")
    for action, note in (("acknowledge", ""), ("arrive", ""), ("done", "排涝完成")):
        events.task_act(event.id, "water_affairs", action, water, note=note)
    closed = events.close(event.id, DISPATCHER, summary="内涝已排除，无人员伤亡")
    assert closed.status == "closed" and events.store.active_ids() == []
    assert [e.action for e in AuditLog(redis_client).recent(3, action="event.")][:1] == ["event.close"]


@pytest.mark.parametrize("action, params", [
    ("contain", {}), ("cancel", {"reason": "误报"}), ("add_task", {"department": "street_lighting", "text": "断电排险"}),
    ("withdraw_task", {"department": "urban_management", "reason": "不需要"}),
])
def test_every_event_action_is_audited_under_its_name(events, redis_client, action, params):
    event = start(events)
    events.act(event.id, action, DISPATCHER, expected_version=event.version, **params)
    entry = AuditLog(redis_client).recent(1)[0]
    assert (entry.action, entry.target, entry.actor) == (f"event.{action}", event.id, "li")


def test_an_added_task_is_sent_to_its_department(events, redis_client):
    event = start(events)
    events.act(event.id, "add_task", DISPATCHER, department="street_lighting", text="积水区域路灯断电")
    topic, message = outbox(redis_client)[-1]
    assert topic == "ioc/v1/dispatch/street_lighting" and (message["status"], message["role"]) == ("issued", "support")


def test_an_unknown_action_or_department_is_a_400_naming_it(events):
    event = start(events)
    with pytest.raises(EventError) as e:
        events.act(event.id, "explode", DISPATCHER)
    assert e.value.field == "action"
    with pytest.raises(EventError) as e:
        events.act(event.id, "add_task", DISPATCHER, department="ministry_of_magic", text="x")
    assert e.value.field == "department"


# ---- proposals ------------------------------------------------------------------------------------

def test_a_dismissed_proposal_is_kept_with_who_and_why_and_audited(events, redis_client):
    events.store.put_proposals({"crowd:IV": {"id": "crowd:IV", "plan": "crowd", "level": "IV", "evidence": [],
                                             "districts": ["yangshe"], "raised_at": 0, "trigger": 0}})
    with pytest.raises(EventError) as e:
        events.dismiss("crowd:IV", DISPATCHER, reason=" ")
    assert e.value.field == "reason"
    with pytest.raises(EventPermissionError):
        events.dismiss("crowd:IV", OPERATOR, reason="正常客流")
    dismissal = events.dismiss("crowd:IV", DISPATCHER, reason="演唱会散场，正常客流")
    assert dismissal["by"] == "li" and dismissal["summary"]["level"] == "IV"
    assert events.store.proposals() == {} and events.store.dismissals()["crowd:IV"]["reason"] == "演唱会散场，正常客流"
    assert AuditLog(redis_client).recent(1)[0].action == "event.proposal.dismiss"
    with pytest.raises(EventNotFound):
        events.dismiss("crowd:IV", DISPATCHER, reason="again")


# ---- a department's inbox ---------------------------------------------------------------------------

def test_a_handler_finds_its_open_tasks_and_the_instructions_it_has_not_acknowledged(events):
    first, second = start(events), start(events, plan="crowd")
    water, police = handler("water_affairs"), handler("public_security")
    assert [(e.id, t.department) for e, t in events.tasks_for(water)] == [(first.id, "water_affairs")]
    assert [e.id for e, _t in events.tasks_for(police)] == [second.id] and events.tasks_for(DISPATCHER) == []
    events.instruct(first.id, LEADER, text="注意安全")
    assert [(e.id, i.id) for e, i in events.instructions_for(water)] == [(first.id, "I1")]
    events.act(first.id, "acknowledge_instruction", water, instruction_id="I1")
    assert events.instructions_for(water) == []
    events.task_act(first.id, "water_affairs", "return", water, note="不属于本部门")
    assert events.tasks_for(water) == []


def test_the_active_events_are_read_again_only_when_something_changed(events, redis_client):
    event = start(events)
    assert [e.id for e in events.active_events()] == [event.id]
    calls = []
    real = events.store.active
    events.store.active = lambda: calls.append(1) or real()
    events.active_events()
    assert calls == []
    events.task_act(event.id, "water_affairs", "acknowledge", handler("water_affairs"))
    assert events.active_events()[0].task("water_affairs").status == "acknowledged" and calls == [1]


def _snapshot(rows, places_version: str):
    from ioc.domain.city_state import CitySnapshot, FleetIndex

    fleet = FleetIndex(rows)
    fleet.places_version = places_version
    return CitySnapshot(now_ms=0, devices=rows, fleet_index=fleet, registry_version=places_version)


def test_what_an_area_links_is_summarised_and_kept_while_no_device_moves(events, monkeypatch):
    from dataclasses import replace

    from ioc.domain import event_area
    from ioc.domain.city_state import DeviceRow

    event = start(events)
    centre = event.area.center
    rows = [DeviceRow(f"d-{n}", "manhole" if n else "water_level", f"设备 {n}", centre[0] + n * 1e-4, centre[1], "yangshe", True)
            for n in range(3)] + [DeviceRow("far", "manhole", "远处", centre[0] + 1.0, centre[1], "yangshe", True)]
    found = events.linked_summary(event, _snapshot(rows, "1"))
    counted = []
    monkeypatch.setattr("ioc.events.service.devices_inside", lambda *a: counted.append(1) or event_area.devices_inside(*a))

    restated = events.linked_summary(event, _snapshot([replace(r, online=False) for r in rows], "2"))  # same places
    moved = events.linked_summary(event, _snapshot(rows[:2] + [replace(rows[2], lon=centre[0] + 1.0)] + rows[3:], "3"))

    assert found == restated == {"devices": {"total": 3, "by_kind": {"manhole": 2, "water_level": 1},
                                             "ids": ["d-0", "d-1", "d-2"], "truncated": False}, "alarms": [], "cases": []}
    assert moved["devices"]["total"] == 2 and counted == [1]
