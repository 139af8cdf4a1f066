"""`/api/v1/events…` over HTTP (the Flask app with a real Redis), with tokens per role: an event
started, escalated, worked by its departments and closed through the API; every refusal with its
status, error and field (nothing stored); what one event's answer holds; plans and proposals."""

from __future__ import annotations

import time

import orjson
import pytest

from ioc.adapters import redis_keys as keys
from ioc.adapters.alarm_store import AlarmStore
from ioc.adapters.audit_log import AuditLog
from ioc.adapters.user_store import Actor
from ioc.domain.alarms import Alarm

YANGSHE = [120.556, 31.872]  # [lon, lat] in 杨舍镇
CIRCLE = {"type": "circle", "center": YANGSHE, "radius_m": 800}
ADMIN = Actor("test", "admin")


@pytest.fixture
def tokens(portal_client):
    """A bearer header per role: a dispatcher, a second dispatcher, a leader, an operator, and the
    handlers (department systems) of the flood plan's level-IV departments and one other."""
    made = {}
    for name, roles, department in (("dispatcher", ["dispatcher"], ""), ("dispatcher2", ["dispatcher"], ""),
                                    ("leader", ["leader"], ""), ("operator", ["operator"], ""),
                                    ("water", ["handler"], "water_affairs"), ("urban", ["handler"], "urban_management"),
                                    ("town", ["handler"], "town_yangshe"), ("lights", ["handler"], "street_lighting")):
        _, secret = portal_client.users.create_token(name, roles, ADMIN, department=department)
        made[name] = {"Authorization": f"Bearer {secret}"}
    return made


def start(client, tokens, who="dispatcher", **body):
    return client.post("/api/v1/events", json={"plan": "flood", "level": "IV", "area": CIRCLE, **body}, headers=tokens[who])


def post(client, tokens, who, path, **body):
    return client.post(path, json=body, headers=tokens[who])


def stored_events(client, tokens) -> int:
    return client.get("/api/v1/events", headers=tokens["leader"]).get_json()["total"]


def test_a_flood_event_is_started_escalated_worked_and_closed_through_the_api(portal_client, tokens):
    answer = start(portal_client, tokens, title="杨舍城区内涝")
    assert answer.status_code == 201, answer.get_json()
    event = answer.get_json()
    assert (event["status"], event["plan_zh"], event["level_zh"], event["title"]) == ("active", "防汛", "Ⅳ级（一般）", "杨舍城区内涝")
    base = f"/api/v1/events/{event['id']}"
    up = post(portal_client, tokens, "dispatcher", f"{base}/level", level="III", reason="水位超保证", version=event["version"])
    assert up.status_code == 200 and up.get_json()["level"] == "III"
    said = post(portal_client, tokens, "leader", f"{base}/instructions", text="确保人员安全", version=up.get_json()["version"])
    assert said.status_code == 200 and said.get_json()["instructions"][0]["id"] == "I1"
    lowered = post(portal_client, tokens, "dispatcher", f"{base}/level", level="IV", reason="水位回落")
    assert lowered.status_code == 200
    for who, department in (("water", "water_affairs"), ("urban", "urban_management"), ("town", "town_yangshe")):
        ack = post(portal_client, tokens, who, f"{base}/actions", action="acknowledge_instruction", instruction_id="I1")
        assert ack.status_code == 200, ack.get_json()
        for action, note in (("acknowledge", ""), ("arrive", ""), ("done", "处置完毕")):
            step = post(portal_client, tokens, who, f"{base}/tasks/{department}/actions", action=action, note=note)
            assert step.status_code == 200, (department, action, step.get_json())
    closed = post(portal_client, tokens, "dispatcher", f"{base}/close", summary="内涝已排除")
    assert closed.status_code == 200 and closed.get_json()["status"] == "closed" and not closed.get_json()["open"]
    final = portal_client.get(base, headers=tokens["leader"]).get_json()
    assert final["figures"]["tasks_done"] == 3 and [e["kind"] for e in final["log"]][0] == "started"


def bad_start(portal_client, tokens, **body):
    answer = start(portal_client, tokens, **body)
    return answer.status_code, answer.get_json().get("field")


@pytest.mark.parametrize("body, field", [
    ({"plan": "earthquake"}, "plan"),
    ({"level": "V"}, "level"),
    ({"area": {"type": "circle", "center": [116.40, 39.90], "radius_m": 800}}, "area"),
    ({"area": {"type": "Polygon", "coordinates": [[[120.55, 31.87], [120.57, 31.89], [120.57, 31.87], [120.55, 31.89]]]}}, "area"),
    ({"area": {"type": "Polygon", "coordinates": [[[120.55, 31.87], [120.57, 31.89]]]}}, "area"),
    ({"note": 7}, "note"),
], ids=["unknown-plan", "level-the-plan-lacks", "outside-the-city", "self-crossing", "two-points", "note-number"])
def test_a_bad_start_is_a_400_naming_the_field_and_stores_nothing(portal_client, tokens, body, field):
    assert bad_start(portal_client, tokens, **body) == (400, field)
    assert stored_events(portal_client, tokens) == 0


def test_who_may_start_an_event(portal_client, tokens):
    assert start(portal_client, tokens, who="operator").status_code == 403
    assert start(portal_client, tokens, who="water").status_code == 403
    assert portal_client.post("/api/v1/events", json={"plan": "flood", "level": "IV"}).status_code == 401
    assert stored_events(portal_client, tokens) == 0
    assert start(portal_client, tokens, who="leader").status_code == 201


def test_a_task_action_out_of_order_is_a_400(portal_client, tokens):
    event = start(portal_client, tokens).get_json()
    answer = post(portal_client, tokens, "water", f"/api/v1/events/{event['id']}/tasks/water_affairs/actions", action="done",
                  note="好了")
    assert answer.status_code == 400 and answer.get_json()["field"] == "action"


def test_another_departments_task_is_a_403_and_an_event_without_ones_own_task_a_404(portal_client, tokens):
    event = start(portal_client, tokens).get_json()
    path = f"/api/v1/events/{event['id']}/tasks/water_affairs/actions"
    assert post(portal_client, tokens, "urban", path, action="acknowledge").status_code == 403
    assert post(portal_client, tokens, "lights", path, action="acknowledge").status_code == 404
    assert portal_client.get(f"/api/v1/events/{event['id']}", headers=tokens["lights"]).status_code == 404
    assert portal_client.get("/api/v1/events", headers=tokens["lights"]).get_json()["total"] == 0
    assert portal_client.get("/api/v1/events", headers=tokens["water"]).get_json()["total"] == 1


def test_a_stale_version_is_a_409_with_the_version_now_stored(portal_client, tokens):
    event = start(portal_client, tokens).get_json()
    base = f"/api/v1/events/{event['id']}"
    assert post(portal_client, tokens, "water", f"{base}/tasks/water_affairs/actions", action="acknowledge", version=1).status_code == 200
    stale = post(portal_client, tokens, "dispatcher2", f"{base}/level", level="III", reason="x", version=event["version"])
    assert stale.status_code == 409 and stale.get_json() == {"error": "conflict", "message": stale.get_json()["message"],
                                                             "version": event["version"] + 1}
    task_stale = post(portal_client, tokens, "water", f"{base}/tasks/water_affairs/actions", action="arrive", version=1)
    assert task_stale.status_code == 409 and task_stale.get_json()["version"] == 2
    assert portal_client.get(base, headers=tokens["leader"]).get_json()["level"] == "IV"


def test_an_unknown_event_is_a_404(portal_client, tokens):
    assert portal_client.get("/api/v1/events/EV-19990101-001", headers=tokens["leader"]).status_code == 404
    answer = post(portal_client, tokens, "dispatcher", "/api/v1/events/EV-19990101-001/level", level="III", reason="x")
    assert answer.status_code == 404 and answer.get_json()["error"] == "not_found"


def test_one_event_holds_what_lies_in_its_area_the_overdue_steps_and_the_figures(portal_client, tokens, redis_client, settings):
    redis_client.hset(keys.meta(keys.shard_of("wl-9", settings.redis_shards)), "wl-9",
                      orjson.dumps({"kind": "water_level", "name": "水位站 9", "lon": YANGSHE[0], "lat": YANGSHE[1],
                                    "district": "yangshe"}))
    AlarmStore(redis_client).raise_alarm(Alarm("wl-9|water_level_warning", "wl-9", "water_level", "water_level_warning", "major",
                                               "yangshe", "waterLevel", 4.4, 4.2, int(time.time() * 1000), "水位超警", "Water level"))
    event = start(portal_client, tokens, alarm_id="wl-9|water_level_warning", area=None).get_json()
    got = portal_client.get(f"/api/v1/events/{event['id']}", headers=tokens["dispatcher"]).get_json()
    assert got["alarms"] == ["wl-9|water_level_warning"] and "wl-9|water_level_warning" in got["linked"]["alarms"]
    assert got["overdue"] == {} and got["figures"]["tasks_total"] == 3
    assert "level" in got["allowed_actions"] and got["allowed_task_actions"] == {}
    water = portal_client.get(f"/api/v1/events/{event['id']}", headers=tokens["water"]).get_json()
    assert water["allowed_task_actions"] == {"water_affairs": ["acknowledge", "return"]}


def test_one_event_counts_the_devices_in_its_area_and_lists_a_few_unless_all_are_asked_for(portal_client, tokens, redis_client,
                                                                                            settings, monkeypatch):
    from ioc.events import service

    monkeypatch.setattr(service, "LINKED_DEVICE_IDS", 2)
    for n, kind in enumerate(("water_level", "water_level", "manhole")):
        device = f"d-{n}"
        redis_client.hset(keys.meta(keys.shard_of(device, settings.redis_shards)), device,
                          orjson.dumps({"kind": kind, "name": f"设备 {n}", "lon": YANGSHE[0] + n * 1e-4, "lat": YANGSHE[1],
                                        "district": "yangshe"}))
    event = start(portal_client, tokens).get_json()

    summary = portal_client.get(f"/api/v1/events/{event['id']}", headers=tokens["dispatcher"]).get_json()["linked"]["devices"]
    every = portal_client.get(f"/api/v1/events/{event['id']}?devices=all", headers=tokens["dispatcher"]).get_json()

    assert summary == {"total": 3, "by_kind": {"manhole": 1, "water_level": 2}, "ids": ["d-0", "d-1"], "truncated": True}
    assert every["linked"]["devices"]["ids"] == ["d-0", "d-1", "d-2"] and every["linked"]["devices"]["truncated"] is False
    wrong = portal_client.get(f"/api/v1/events/{event['id']}?devices=some", headers=tokens["dispatcher"])
    assert wrong.status_code == 400 and wrong.get_json()["field"] == "devices"


def test_events_are_listed_with_filters_and_a_bad_filter_is_a_400(portal_client, tokens):
    start(portal_client, tokens)
    start(portal_client, tokens, plan="crowd")
    assert portal_client.get("/api/v1/events?plan=crowd", headers=tokens["operator"]).get_json()["total"] == 1
    assert portal_client.get("/api/v1/events?active=1&district=yangshe", headers=tokens["leader"]).get_json()["total"] == 2
    assert "log" not in portal_client.get("/api/v1/events", headers=tokens["leader"]).get_json()["items"][0]
    bad = portal_client.get("/api/v1/events?status=burning", headers=tokens["leader"])
    assert bad.status_code == 400 and bad.get_json()["field"] == "status"


def test_the_plans_are_listed_with_their_levels_and_tasks(portal_client, tokens):
    plans = portal_client.get("/api/v1/events/plans", headers=tokens["operator"]).get_json()["plans"]
    flood = next(p for p in plans if p["id"] == "flood")
    assert flood["name_zh"] == "防汛" and [lv["level"] for lv in flood["levels"]] == ["IV", "III", "II", "I"]
    assert flood["level_names"]["IV"] == {"zh": "Ⅳ级（一般）", "en": flood["level_names"]["IV"]["en"]}


def test_a_proposal_is_listed_started_from_or_dismissed_with_a_reason(portal_client, tokens, redis_client):
    from ioc.adapters.event_store import EventStore

    store = EventStore(redis_client)
    proposal = {"id": "crowd:IV", "plan": "crowd", "level": "IV", "evidence": [], "districts": ["yangshe"], "raised_at": 1,
                "trigger": 0}
    store.put_proposals({"crowd:IV": proposal})
    (listed,) = portal_client.get("/api/v1/events/proposals", headers=tokens["operator"]).get_json()["items"]
    assert {k: listed[k] for k in proposal} == proposal
    assert post(portal_client, tokens, "operator", "/api/v1/events/proposals/crowd:IV/dismiss", reason="x").status_code == 403
    no_reason = post(portal_client, tokens, "dispatcher", "/api/v1/events/proposals/crowd:IV/dismiss")
    assert no_reason.status_code == 400 and no_reason.get_json()["field"] == "reason"
    dismissed = post(portal_client, tokens, "dispatcher", "/api/v1/events/proposals/crowd:IV/dismiss", reason="散场客流，正常")
    assert dismissed.status_code == 200 and dismissed.get_json()["reason"] == "散场客流，正常"
    listed = portal_client.get("/api/v1/events/proposals", headers=tokens["leader"]).get_json()
    assert listed["items"] == [] and listed["dismissed"]["crowd:IV"]["by"] == "token:dispatcher"
    store.put_proposals({"flood:IV": dict(proposal, id="flood:IV", plan="flood")})
    started = start(portal_client, tokens, plan=None, level=None, area=None, district="yangshe", proposal_id="flood:IV")
    assert started.status_code == 201 and started.get_json()["proposal"] == "flood:IV" and store.proposals() == {}


def test_every_api_action_is_audited_with_the_callers_address(portal_client, tokens, redis_client):
    event = start(portal_client, tokens).get_json()
    post(portal_client, tokens, "dispatcher", f"/api/v1/events/{event['id']}/actions", action="contain", version=event["version"])
    contained, started = AuditLog(redis_client).recent(2, action="event.")
    assert (contained.action, started.action) == ("event.contain", "event.start")
    assert contained.actor == "token:dispatcher" and contained.ip == "127.0.0.1"


def test_response_times_per_plan_and_department_are_served_for_a_period(portal_client, tokens):
    event = start(portal_client, tokens).get_json()
    post(portal_client, tokens, "water", f"/api/v1/events/{event['id']}/tasks/water_affairs/actions", action="acknowledge")
    answer = portal_client.get("/api/v1/events/indicators?period=day", headers=tokens["leader"])
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["period"] == "day" and body["plans"]["flood"]["events"] == 1
    assert body["departments"]["water_affairs"]["to_acknowledge"] is not None
    assert portal_client.get("/api/v1/events/indicators?period=day&offset=-1", headers=tokens["leader"]).get_json()["plans"] == {}


@pytest.mark.parametrize("query, field", [("period=fortnight", "period"), ("offset=x", "offset")])
def test_event_indicators_refuse_a_bad_period(portal_client, tokens, query, field):
    answer = portal_client.get(f"/api/v1/events/indicators?{query}", headers=tokens["leader"])
    assert answer.status_code == 400 and answer.get_json()["field"] == field


def test_event_indicators_need_the_indicators_permission(portal_client, tokens):
    assert portal_client.get("/api/v1/events/indicators", headers=tokens["operator"]).status_code == 403
