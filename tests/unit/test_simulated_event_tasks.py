"""The simulated department systems working linked-event tasks (大联动): what each department's
system answers to the task and instruction messages on its dispatch topic, and when (pure, no
broker: messages in, `(topic, payload)` out, on the simulated clock)."""

from __future__ import annotations

import math

import orjson
import pytest

from simulators import event_texts
from simulators.casework import EVENT_BATCH_MS, DepartmentSystems, event_roles, plan_event_task
from simulators.duty_desk import ApiError, DutyDesk

T0 = 1_780_000_000_000  # issue time of the tasks (epoch ms)
MIN = 60_000
EVENT = "EV-20260704-001"
UPDATE_FIELDS = {"event_id", "task_id", "action", "note", "ts", "version"}
# flood, level III: (department, role, ack_within_min, arrive_within_min, report_every_min)
FLOOD_III = (
    ("water_affairs", "lead", 10, 30, 30),
    ("urban_management", "support", 10, 45, 60),
    ("transport", "support", 10, 45, 60),
    ("public_security", "support", 10, 30, 60),
    ("town_yangshe", "support", 10, 45, 60),
)


def task_message(department, role="support", ack=10, arrive=45, report=60, *, event=EVENT, plan="flood", version=1,
                 status="issued", issued_at=T0) -> dict:
    return {"type": "event_task", "event_id": event, "task_id": department, "version": version, "event_version": 1,
            "status": status, "plan": plan, "plan_zh": "防汛", "plan_en": "Flood control", "level": "III",
            "level_zh": "较大", "level_en": "Serious", "role": role, "text_zh": "任务", "text_en": "Task",
            "title": "杨舍暴雨内涝", "district": "yangshe", "area": {"type": "Point", "coordinates": [120.55, 31.87]},
            "lat": 31.87, "lon": 120.55, "ack_within_min": ack, "arrive_within_min": arrive,
            "report_every_min": report, "commander": "dispatcher", "issued_at": issued_at, "ts": issued_at}


def send(systems, message, now=T0, department=None) -> str:
    topic = f"ioc/v1/dispatch/{department or message.get('task_id') or ''}"
    return systems.receive(orjson.dumps(message), now, topic)


def run(systems, until_ms=T0 + 24 * 60 * MIN) -> list[tuple[str, dict]]:
    """Every update the systems send up to `until_ms`, each at the moment it is due."""
    out = []
    while (due := systems.next_due_ms()) <= until_ms:
        out += [(topic, orjson.loads(payload)) for topic, payload in systems.due(int(due))]
    return out


def start_event(systems, tasks=FLOOD_III, event=EVENT, plan="flood", now=T0):
    for department, role, ack, arrive, report in tasks:
        send(systems, task_message(department, role, ack, arrive, report, event=event, plan=plan), now)


def of(updates, department=None, action=None):
    return [u for topic, u in updates if (department is None or u["task_id"] == department)
            and (action is None or u["action"] == action)]


@pytest.fixture
def systems():
    return DepartmentSystems(seed=20260101, speed=1.0)


# ---- one task -----------------------------------------------------------------------------------


def test_a_department_acknowledges_arrives_starts_reports_and_is_done_in_that_order(systems):
    start_event(systems)
    updates = run(systems)
    for department, *_ in FLOOD_III:
        actions = [u["action"] for u in of(updates, department) if u["action"] != "support"]
        assert actions[:3] == ["acknowledge", "arrive", "start"]
        assert set(actions[3:-1]) == {"report"} and actions[-1] == "done"
        assert [u["ts"] for u in of(updates, department)] == sorted(u["ts"] for u in of(updates, department))


def test_updates_go_to_the_departments_update_topic_with_the_task_version_they_expect(systems):
    start_event(systems)
    updates = run(systems)
    for topic, u in updates:
        assert topic == f"ioc/v1/departments/{u['task_id']}/updates"
        assert set(u) == UPDATE_FIELDS and u["event_id"] == EVENT
    for department, *_ in FLOOD_III:
        # the message's version 1, then one more per update the system sent on the task
        assert [u["version"] for u in of(updates, department)] == list(range(1, len(of(updates, department)) + 1))


def test_reports_and_the_closing_note_are_in_a_departments_own_words(systems):
    start_event(systems)
    updates = run(systems)
    water = of(updates, "water_affairs")
    assert "排涝泵站" in of(updates, "water_affairs", "report")[0]["note"]
    assert "水位" in water[-1]["note"] and water[-1]["action"] == "done"
    assert all(u["note"] for _, u in updates)
    assert "安置" in of(updates, "town_yangshe", "done")[0]["note"]


def test_the_steps_keep_to_the_tasks_limits_except_the_late_acknowledgement(systems):
    start_event(systems)
    updates = run(systems)
    _, late = systems.roles[EVENT]
    for department, _, ack, arrive, report in FLOOD_III:
        steps = {u["action"]: u["ts"] for u in reversed(of(updates, department))}  # the first of each
        if department != late:
            assert steps["acknowledge"] - T0 <= ack * MIN
            assert steps["arrive"] - T0 <= arrive * MIN
        reports = [steps["arrive"]] + [u["ts"] for u in of(updates, department, "report")]
        assert all(b - a <= report * MIN for a, b in zip(reports, reports[1:]))


def test_speed_compresses_the_delays():
    message = task_message("water_affairs", "lead", 10, 30, 30)
    slow_plan = plan_event_task(message, seed=5, speed=1.0, now_ms=T0)
    fast_plan = plan_event_task(message, seed=5, speed=10.0, now_ms=T0)
    assert [a for _, a, _ in slow_plan] == [a for _, a, _ in fast_plan]
    assert fast_plan[-1][0] - T0 == pytest.approx((slow_plan[-1][0] - T0) / 10, rel=0.01)


def test_the_same_task_version_is_always_worked_the_same_way():
    message = task_message("transport")
    first = plan_event_task(message, seed=7, speed=1.0, now_ms=T0)
    assert plan_event_task(message, seed=7, speed=1.0, now_ms=T0) == first
    assert plan_event_task({**message, "version": 2}, seed=7, speed=1.0, now_ms=T0) != first
    assert plan_event_task(message, seed=8, speed=1.0, now_ms=T0) != first


# ---- among the tasks of an event ----------------------------------------------------------------


@pytest.mark.parametrize("n", range(12))
def test_exactly_one_department_asks_for_support_and_one_is_late(n):
    systems = DepartmentSystems(seed=n, speed=1.0)
    event = f"EV-20260704-{n:03d}"
    start_event(systems, event=event)
    updates = run(systems)
    askers = {u["task_id"] for u in of(updates, action="support")}
    late = {u["task_id"] for u in of(updates, action="acknowledge")
            if u["ts"] - T0 > next(ack for d, _, ack, _, _ in FLOOD_III if d == u["task_id"]) * MIN}
    assert len(of(updates, action="support")) == 1 and len(late) == 1
    assert askers != late and "water_affairs" not in askers | late  # the lead is neither


def test_in_a_flood_transport_asks_the_police_to_divert_traffic(systems):
    start_event(systems)
    (support,) = of(run(systems), action="support")
    assert support["task_id"] == "transport"
    assert support["note"] == "积水路段较多，请求公安交警协助分流"


def test_without_its_usual_asker_a_plan_picks_a_supporting_department():
    asker, late = event_roles("EV-1", "flood", [("water_affairs", "lead"), ("landscaping", "support"),
                                                ("market_regulation", "support")], seed=1)
    assert {asker, late} == {"landscaping", "market_regulation"}
    assert event_texts.lookup(event_texts.SUPPORT_NOTES, "flood", asker)


def test_the_tasks_of_an_event_wait_for_each_other_before_they_are_planned(systems):
    assert send(systems, task_message("water_affairs", "lead")) == "held"
    assert systems.due(T0 + EVENT_BATCH_MS - 1) == []
    assert send(systems, task_message("transport"), now=T0 + 1000) == "held"
    systems.due(T0 + EVENT_BATCH_MS)
    assert EVENT in systems.roles and systems.next_due_ms() > T0 + EVENT_BATCH_MS


def test_a_task_added_later_is_worked_without_asking_for_support_or_coming_late(systems):
    start_event(systems)
    run(systems, T0 + 5 * MIN)
    assert send(systems, task_message("landscaping", ack=15, arrive=60, report=60, issued_at=T0 + 20 * MIN),
                now=T0 + 20 * MIN) == "planned"
    updates = run(systems)
    landscaping = of(updates, "landscaping")
    assert [u["action"] for u in landscaping][:3] == ["acknowledge", "arrive", "start"]
    assert landscaping[0]["ts"] - (T0 + 20 * MIN) <= 15 * MIN
    assert len(of(updates, action="support")) == 1


# ---- withdrawn, repeats, newer versions ---------------------------------------------------------


def test_a_withdrawn_task_cancels_what_its_department_had_still_to_send(systems):
    start_event(systems)
    run(systems, T0 + 20 * MIN)
    assert send(systems, task_message("transport", version=4, status="withdrawn"), now=T0 + 20 * MIN) == "withdrawn"
    updates = run(systems)
    assert of(updates, "transport") == []
    assert of(updates, "water_affairs", "done")


def test_a_task_withdrawn_before_it_was_planned_is_never_worked(systems):
    send(systems, task_message("water_affairs", "lead"))
    send(systems, task_message("transport"))
    send(systems, task_message("transport", version=2, status="withdrawn"), now=T0 + 500)
    updates = run(systems)
    assert of(updates, "transport") == [] and of(updates, "water_affairs", "done")


def test_a_repeated_task_message_is_ignored(systems):
    start_event(systems)
    assert send(systems, task_message("transport")) == "repeat"
    once = DepartmentSystems(seed=20260101, speed=1.0)
    start_event(once)
    assert run(systems) == run(once)


def test_an_older_version_after_a_newer_one_is_stale(systems):
    start_event(systems)
    assert send(systems, task_message("transport", version=3, status="acknowledged"), now=T0 + MIN) == "planned"
    assert send(systems, task_message("transport", version=2), now=T0 + 2 * MIN) == "stale"


def test_a_newer_version_replaces_the_answers_of_the_older_one_from_its_status_on(systems):
    start_event(systems)
    before = run(systems, T0 + 40 * MIN)
    sent = len(of(before, "water_affairs"))  # acknowledge, arrive, start, a report: the task is at version 1 + sent
    changed = task_message("water_affairs", "lead", 5, 20, 30, version=1 + sent, status="working")  # raised to level II
    assert send(systems, changed, now=T0 + 40 * MIN) == "planned"
    after = of(run(systems), "water_affairs")
    assert {u["action"] for u in after} == {"report", "done"}  # no second acknowledge, arrive or start
    assert [u["version"] for u in after] == list(range(1 + sent, 1 + sent + len(after)))
    assert len([u for u in after if u["action"] == "done"]) == 1


def test_a_reissued_task_is_worked_again_from_the_start(systems):
    start_event(systems)
    run(systems, T0 + 20 * MIN)
    send(systems, task_message("public_security", version=5, status="withdrawn"), now=T0 + 20 * MIN)
    send(systems, task_message("public_security", version=6, issued_at=T0 + 50 * MIN), now=T0 + 50 * MIN)
    actions = [u["action"] for u in of(run(systems), "public_security")]
    assert actions[:3] == ["acknowledge", "arrive", "start"] and actions[-1] == "done"


# ---- instructions -------------------------------------------------------------------------------


def instruction(instruction_id="I1", event=EVENT) -> dict:
    return {"type": "event_instruction", "event_id": event, "instruction_id": instruction_id,
            "text": "全力做好低洼地区群众转移", "by": "leader", "ts": T0 + 30 * MIN}


def test_every_department_with_a_live_task_acknowledges_an_instruction_soon(systems):
    start_event(systems)
    run(systems, T0 + 30 * MIN)
    for department, *_ in FLOOD_III:
        assert send(systems, instruction(), now=T0 + 30 * MIN, department=department) == "planned"
    acks = of(run(systems, T0 + 40 * MIN), action="acknowledge_instruction")
    assert sorted(u["task_id"] for u in acks) == sorted(d for d, *_ in FLOOD_III)
    for u in acks:
        assert set(u) == {"event_id", "task_id", "action", "note", "ts", "instruction_id"}
        assert u["instruction_id"] == "I1" and u["note"]


def test_a_repeated_instruction_is_acknowledged_once(systems):
    start_event(systems)
    run(systems, T0 + 30 * MIN)
    assert send(systems, instruction(), now=T0 + 30 * MIN, department="transport") == "planned"
    assert send(systems, instruction(), now=T0 + 31 * MIN, department="transport") == "repeat"
    assert len(of(run(systems), "transport", "acknowledge_instruction")) == 1


def test_a_department_whose_task_is_done_or_withdrawn_does_not_acknowledge(systems):
    start_event(systems)
    send(systems, task_message("transport", version=3, status="withdrawn"), now=T0 + 10 * MIN)
    assert send(systems, instruction(), now=T0 + 10 * MIN, department="transport") == "ignored"
    updates = run(systems)
    done_at = of(updates, "public_security", "done")[0]["ts"]
    assert send(systems, instruction("I2"), now=done_at + MIN, department="public_security") == "ignored"


def test_an_instruction_without_a_department_topic_reaches_every_live_task(systems):
    start_event(systems)
    run(systems, T0 + 30 * MIN)
    systems.receive(orjson.dumps(instruction()), T0 + 30 * MIN)
    assert len(of(run(systems, T0 + 40 * MIN), action="acknowledge_instruction")) == len(FLOOD_III)


# ---- taken over from the API after a restart ----------------------------------------------------


def api_event(tasks, instructions=()) -> dict:
    return {"id": EVENT, "plan": "flood", "level": "III", "status": "responding", "tasks": list(tasks),
            "instructions": list(instructions)}


def api_task(department, role="support", status="issued", version=1, **extra) -> dict:
    return {"id": department, "department": department, "role": role, "status": status, "version": version,
            "ack_min": 10, "arrive_min": 45, "report_min": 60, "issued_at": T0, "needs_support": False, **extra}


def test_an_active_event_read_from_the_api_is_worked_from_where_each_task_stands(systems):
    now = T0 + 30 * MIN
    event = api_event([api_task("water_affairs", "lead", "working", 4), api_task("transport", "support", "acknowledged", 2,
                                                                               needs_support=True),
                       api_task("public_security", "support", "done", 6), api_task("urban_management")],
                      [{"id": "I1", "required": ["water_affairs", "transport"], "acknowledged": {"water_affairs": T0}}])
    assert systems.adopt_event(event, now) == 3
    updates = run(systems)
    assert [u["action"] for u in of(updates, "water_affairs")][0] == "report"
    assert [u["action"] for u in of(updates, "transport") if u["action"] != "acknowledge_instruction"][0] == "arrive"
    assert of(updates, "transport", "arrive")[0]["version"] == 2
    assert of(updates, "public_security") == [] and of(updates, action="support") == []  # transport already asked
    assert [u["task_id"] for u in of(updates, action="acknowledge_instruction")] == ["transport"]
    assert min(u["ts"] for _, u in updates) >= now


def test_an_event_whose_messages_were_taken_is_not_taken_over_again(systems):
    start_event(systems)
    systems.due(T0 + EVENT_BATCH_MS)
    assert systems.adopt_event(api_event([api_task(d, r) for d, r, *_ in FLOOD_III]), T0 + MIN) == 0


def test_case_dispatches_are_still_answered_beside_event_tasks(systems):
    start_event(systems)
    case = {"case_id": "C-1", "version": 3, "department": "urban_management", "class_code": "20101",
            "district": "yangshe", "urgent": False, "deadline": T0 + 8 * 60 * MIN}
    assert systems.receive(orjson.dumps(case), T0, "ioc/v1/dispatch/urban_management") == "planned"
    updates = [u for _, u in run(systems, T0 + 48 * 60 * MIN)]
    assert [u["action"] for u in updates if u.get("case_id") == "C-1"] == ["acknowledge", "handled"]
    assert len([u for u in updates if u.get("event_id") == EVENT and u["action"] == "done"]) == len(FLOOD_III)
    assert math.isinf(systems.next_due_ms())


class FakeApi:
    """The IOC's JSON API as the duty desk reads it: no cases, the given active events."""

    def __init__(self, events=None):
        self.events = events  # None: an IOC without the events API (404)
        self.paths: list[str] = []

    def __call__(self, method, path, body=None):
        self.paths.append(path)
        if path.startswith("/api/v1/cases"):
            return {"items": [], "total": 0}
        if self.events is None:
            raise ApiError(404, {"error": "not_found"})
        if path == "/api/v1/events?active=1":
            return {"items": [{"id": e["id"]} for e in self.events], "total": len(self.events)}
        return next(e for e in self.events if path == f"/api/v1/events/{e['id']}")


def test_at_start_the_duty_desk_hands_the_active_events_to_the_department_systems_once(systems):
    api = FakeApi([api_event([api_task("water_affairs", "lead", "acknowledged", 2), api_task("transport")])])
    desk = DutyDesk("http://ioc.test", "token", seed=1, on_event=systems.adopt_event)
    desk._request = api
    desk.poll_once(T0)
    desk.poll_once(T0 + MIN)
    assert api.paths.count("/api/v1/events?active=1") == 1
    assert {u["task_id"] for u in of(run(systems), action="done")} == {"water_affairs", "transport"}


def test_without_an_events_api_the_duty_desk_works_the_cases_as_before(systems):
    desk = DutyDesk("http://ioc.test", "token", seed=1, on_event=systems.adopt_event)
    desk._request = FakeApi(None)
    assert desk.poll_once(T0) == 0
    assert desk.events_adopted_done and run(systems) == []


@pytest.mark.parametrize("payload", [b"{not json", b"[1, 2]", b'{"type": "event_task", "event_id": "EV-1"}',
                                     b'{"type": "event_instruction", "event_id": "EV-1"}', {"type": "event_task"}])
def test_an_unreadable_message_is_ignored(systems, payload):
    assert systems.receive(payload, T0, "ioc/v1/dispatch/transport") == "invalid"
    assert run(systems) == []
