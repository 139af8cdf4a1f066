"""The simulated casework through real parts (Redis, the broker, the case worker, the JSON API):
simulated reports become cases, the simulated department systems answer dispatches over MQTT,
and the simulated duty desk moves cases through the workflow with its API token."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone

import orjson

from ioc.adapters.user_store import Actor
from ioc.casework.service import dispatch_message
from ioc.domain.access import Principal
from simulators.casework import Casework, ReportStream, plan_answers
from simulators.duty_desk import ApiError, DutyDesk, decide
from tests.conftest import SubackCounter, wait_for
from tests.integration.test_ingest_pipeline import counter

YANGSHE = (31.872, 120.556)  # (lat, lon) in 杨舍镇
DISPATCHER = Principal("li", frozenset({"dispatcher"}))
INSPECTOR = Principal("zhao", frozenset({"inspector"}))
LEADER = Principal("chen", frozenset({"leader"}))
SPEED = 3000.0  # an hour of simulated time in 1.2 s


def publish(client, topic: str, payload: bytes) -> None:
    client.publish(topic, payload, qos=1).wait_for_publish(5)


def test_simulated_reports_become_cases_once_each(cases, publisher, case_store, redis_client, city):
    now_ms = int(time.time() * 1000)
    ten_am = datetime(2026, 6, 1, 10, 0, tzinfo=timezone(timedelta(hours=8))).timestamp()  # simulated: office hours
    stream = ReportStream(city, seed=5, per_hour=30_000, start_ms=now_ms, sim_start=ten_am, speed=1.0)
    out: list = []
    stream.run_until(5.0, out)  # ~40 reports
    out.append(out[0])  # the hotline system sends one again
    for topic, payload in out:
        publish(publisher, topic, payload)
    ids = {orjson.loads(p)["report_id"] for _, p in out}
    assert len(ids) >= 20
    wait_for(lambda: counter(redis_client, "cases:reported") == len(out), timeout=20, message="every report taken")
    made = case_store.all()
    assert {c.report_id for c in made} == ids and len(made) == len(ids)  # the repeat made no case
    assert {c.source for c in made} <= {"hotline", "inspector", "camera"} and redis_client.xlen("ioc:deadletter") == 0
    for case in made:
        sent = next(orjson.loads(p) for _, p in out if orjson.loads(p)["report_id"] == case.report_id)
        assert (case.class_code, case.lat, case.lon) == (sent["category"], sent["lat"], sent["lon"])
        assert case.district == city.district_at(case.lon, case.lat) and case.description and case.reporter


def _ready_for_dispatch(case_service, n: int) -> list:
    """`n` exposed-garbage cases (4 working hours to handle) verified and ready to be dispatched."""
    ready = []
    for i in range(n):
        case, _ = case_service.report(class_code="20101", lat=YANGSHE[0] + i * 0.002, lon=YANGSHE[1], source="hotline",
                                 actor="hotline", report_id=f"sim-dept-{i}")
        case_service.act(case.id, "accept", DISPATCHER)
        ready.append(case_service.act(case.id, "verify", INSPECTOR))
    return ready


def _seed_with_both_answers(ready) -> int:
    """A seed under which, of these cases' dispatches, at least one is returned and the others
    handled in time (the answer is seeded by case and version, so the test knows it up front)."""
    messages = [{**dispatch_message(c), "version": c.version + 1, "department": c.suggested_department} for c in ready]
    now = int(time.time() * 1000)
    for seed in range(2000):
        plans = [plan_answers(m, seed=seed, speed=SPEED, now_ms=now) for m in messages]
        actions = [p[-1][1] for p in plans]
        on_time = all(p[-1][0] < now + 60_000 for p in plans)
        if on_time and "return" in actions and "handled" in actions:
            return seed
    raise AssertionError("no seed found")


def test_the_department_systems_acknowledge_and_handle_or_return_dispatched_cases(
        cases, case_service, case_store, broker_proc, publisher, redis_client, city):
    ready = _ready_for_dispatch(case_service, 4)
    seed = _seed_with_both_answers(ready)
    with SubackCounter() as subscribed:
        casework = Casework(broker_proc.url, city, seed=seed, speed=SPEED, reports_per_hour=0,
                            client_id=f"test-sim-departments-{uuid.uuid4().hex[:6]}").start()
    try:
        subscribed.wait(1)  # the departments' subscription to the dispatches
        dispatched = [case_service.act(c.id, "dispatch", DISPATCHER) for c in ready]
        wait_for(lambda: all(case_store.get(c.id).stage in ("handled", "verified") for c in dispatched), timeout=20,
                 message="every dispatch answered")
        after = [case_store.get(c.id) for c in dispatched]
        handled = [c for c in after if c.stage == "handled"]
        returned = [c for c in after if c.stage == "verified"]
        assert handled and returned
        assert all(c.acknowledged_at for c in handled)
        for case in handled:
            timeline = case_store.timeline(case.id)
            assert [e.action for e in timeline][-2:] == ["acknowledge", "handle"]
            assert timeline[-1].actor == f"dept:{case.department}" and timeline[-1].note
        for case in returned:
            event = case_store.timeline(case.id)[-1]
            assert (event.action, case.return_count) == ("return", 1) and event.note  # a Chinese reason

        # the broker delivering a dispatch again (at least once) gets no second answer
        updates = counter(redis_client, "cases:updates")
        message = dispatch_message(dispatched[0])
        publish(publisher, f"ioc/v1/dispatch/{message['department']}", orjson.dumps(message))
        wait_for(lambda: casework.departments.repeats == 1, message="the repeat recognised")
        time.sleep(0.5)
        assert counter(redis_client, "cases:updates") == updates == len(handled) * 2 + len(returned)
        assert redis_client.xlen("ioc:deadletter") == 0
    finally:
        casework.stop()


# ---- the duty desk against the real API ---------------------------------------------------------


def desk_on(portal_client, seed: int, **kwargs) -> DutyDesk:
    """A DutyDesk whose HTTP goes to the Flask test client, with a dispatcher+inspector token."""
    _, secret = portal_client.users.create_token("simulated duty desk", ["dispatcher", "inspector"], Actor("test", "admin"))
    desk = DutyDesk("http://ioc.test", secret, seed=seed, **kwargs)

    def request(method: str, path: str, body: dict | None = None) -> dict:
        answer = portal_client.open(path, method=method, json=body, headers={"Authorization": f"Bearer {secret}"})
        if answer.status_code >= 400:
            raise ApiError(answer.status_code, answer.get_json() or {})
        return answer.get_json()

    desk._request = request
    return desk


def test_the_duty_desk_works_cases_from_report_to_close(portal_client, case_service, case_store):
    t0 = int(time.time() * 1000) - 3_600_000
    first, _ = case_service.report(class_code="20501", lat=YANGSHE[0], lon=YANGSHE[1], source="camera", actor="camera", now_ms=t0)
    again, _ = case_service.report(class_code="20501", lat=YANGSHE[0] + 0.0002, lon=YANGSHE[1], source="hotline",
                              actor="hotline", now_ms=t0 + 60_000)  # ~20 m away: flagged as a duplicate
    light, _ = case_service.report(class_code="10105", lat=YANGSHE[0] + 0.01, lon=YANGSHE[1], source="inspector",
                              actor="inspector", now_ms=t0 + 120_000)
    assert again.possible_duplicates == (first.id,)
    seed = next(s for s in range(1000) if decide(again.to_dict(), seed=s).action == "merge"
                and decide(first.to_dict(), seed=s).action == "accept" and decide(light.to_dict(), seed=s).action == "accept")
    adopted = []
    desk = desk_on(portal_client, seed, on_dispatched=lambda case, now: adopted.append(case["id"]))
    far = int(time.time() * 1000) + 30 * 86_400_000  # every step is due

    assert desk.poll_once(far) == 3
    assert case_store.get(again.id).stage == "merged" and case_store.get(again.id).master_id == first.id
    for _round in range(12):  # the desk and a department taking turns until every case has ended
        for case in case_store.open_cases():
            if case.stage == "dispatched":
                handler = Principal(f"dept:{case.department}", frozenset({"handler"}), department=case.department)
                case_service.act(case.id, "handle", handler, note="已处置")
        desk.poll_once(far)
        if not case_store.open_cases():
            break
    ended = {c.id: c.stage for c in (case_store.get(first.id), case_store.get(light.id))}
    assert set(ended.values()) <= {"closed", "voided"}, ended
    timeline = [e.action for e in case_store.timeline(light.id)]
    if ended[light.id] == "voided":  # ~3 %: the inspector found nothing
        assert timeline == ["report", "accept", "void"]
    else:
        assert timeline[:4] == ["report", "accept", "verify", "dispatch"] and timeline[-2:] == ["check_pass", "close"]
        assert case_store.get(light.id).department == "street_lighting"  # the owner of a component
    assert adopted == []  # nothing was dispatched when the desk came on duty
    assert all(e.actor == "token:simulated duty desk" for e in case_store.timeline(light.id) if e.role in ("dispatcher", "inspector"))


def test_the_duty_desk_reloads_a_case_that_changed_under_it(portal_client, case_service, case_store):
    case, _ = case_service.report(class_code="10105", lat=YANGSHE[0], lon=YANGSHE[1], source="hotline", actor="hotline",
                             now_ms=int(time.time() * 1000) - 3_600_000)
    seed = next(s for s in range(1000) if decide(case.to_dict(), seed=s).action == "accept")
    desk = desk_on(portal_client, seed)
    send = desk._request

    def urged_first(method, path, body=None):
        if method == "POST" and not getattr(urged_first, "done", False):
            urged_first.done = True
            case_service.act(case.id, "urge", LEADER)  # a leader presses the case meanwhile: version + 1
        return send(method, path, body)

    desk._request = urged_first
    assert desk.poll_once(int(time.time() * 1000) + 86_400_000) == 1
    assert desk.conflicts == 1 and case_store.get(case.id).stage == "accepted"
    assert [e.action for e in case_store.timeline(case.id)] == ["report", "urge", "accept"]


def test_the_demo_gives_the_duty_desk_a_fresh_token_and_revokes_the_last_one(user_store):
    from ioc.demo_users import DUTY_DESK_NAME, demo_duty_desk_token

    first = demo_duty_desk_token(user_store)
    second = demo_duty_desk_token(user_store)
    assert user_store.token_for_secret(first) is None
    token = user_store.token_for_secret(second)
    assert (token.name, set(token.roles), token.kiosk) == (DUTY_DESK_NAME, {"dispatcher", "inspector"}, False)
    assert sorted(t.active for t in user_store.tokens() if t.name == DUTY_DESK_NAME) == [False, True]


def test_the_demo_tokens_are_named_in_chinese_and_an_earlier_demos_english_ones_are_revoked(user_store):
    from ioc.demo_users import DUTY_DESK_NAME, KIOSK_NAME, SEEDER, demo_duty_desk_token, demo_kiosk_link

    user_store.create_token("simulated duty desk", ["dispatcher", "inspector"], SEEDER)
    user_store.create_token("demo wall", ["operator"], SEEDER, kiosk=True)
    demo_duty_desk_token(user_store)
    demo_kiosk_link(user_store, "http://127.0.0.1:8050")
    assert sorted(t.name for t in user_store.tokens() if t.active) == sorted([DUTY_DESK_NAME, KIOSK_NAME])
    assert (DUTY_DESK_NAME, KIOSK_NAME) == ("模拟值班台", "演示大屏")


# ---- linked-event tasks over the broker ---------------------------------------------------------


def test_the_department_systems_work_event_tasks_and_instructions_over_the_broker(broker_proc, publisher, city):
    from ioc.adapters import mqtt

    updates: list[tuple[str, dict]] = []
    with SubackCounter() as subscribed:
        listener = mqtt.make_client(broker_proc.url, f"test-updates-{uuid.uuid4().hex[:6]}", name="test-updates",
                               on_connect=lambda c: c.subscribe("ioc/v1/departments/+/updates", qos=1))
        listener.on_message = lambda _c, _u, msg: updates.append((msg.topic, orjson.loads(msg.payload)))
        mqtt.connect(listener)
        casework = Casework(broker_proc.url, city, seed=7, speed=SPEED, reports_per_hour=0,
                            client_id=f"test-sim-departments-{uuid.uuid4().hex[:6]}").start()
    try:
        subscribed.wait(2)
        issued = int(time.time() * 1000) - 25 * 60_000  # even the late one is due at once
        tasks = (("water_affairs", "lead"), ("transport", "support"), ("town_yangshe", "support"))
        for department, role in tasks:
            message = {"type": "event_task", "event_id": "EV-TEST-001", "task_id": department, "version": 1,
                       "event_version": 1, "status": "issued", "plan": "flood", "level": "III", "role": role,
                       "ack_within_min": 10, "arrive_within_min": 30, "report_every_min": 30, "issued_at": issued}
            publish(publisher, f"ioc/v1/dispatch/{department}", orjson.dumps(message))
            publish(publisher, f"ioc/v1/dispatch/{department}", orjson.dumps({
                "type": "event_instruction", "event_id": "EV-TEST-001", "instruction_id": "I1", "text": "全力抢险",
                "by": "leader", "ts": issued}))
        wait_for(lambda: len([u for _, u in updates if u["action"] == "done"]) == 3, timeout=20,
                 message="every task done")
        for department, _ in tasks:
            mine = [u for topic, u in updates if topic == f"ioc/v1/departments/{department}/updates"]
            actions = [u["action"] for u in mine if u["action"] not in ("support", "acknowledge_instruction")]
            assert actions[:3] == ["acknowledge", "arrive", "start"] and actions[-1] == "done"
            assert [u["instruction_id"] for u in mine if u["action"] == "acknowledge_instruction"] == ["I1"]
        assert [u["task_id"] for _, u in updates if u["action"] == "support"] == ["transport"]
    finally:
        casework.stop()
        listener.disconnect()
        listener.loop_stop()
