"""`/api/v1/events…`: linked events (大联动) as JSON for other systems and the portal's scripts.

Every route goes through the process's one `ioc.events.service.EventService`
(`Services.events`), so a read or an action follows the same rules whichever door it comes in
by (the portal's pages, this API, a department system over MQTT): who may see an event
(`ioc.domain.events.visible_to`: a handler only the events its department has a task in, others
answer 404 as if they did not exist), every input's checks, one order of checks, and one mapping
of refusals to answers (`ioc.events.service.refusal`: 400 with the field, 403, 404, 409 with the
stored version). These routes check the route's permission (`ioc.domain.access`), parse the
request and word the answer.

Plain module-level view functions reaching the process's services through `current_services()`;
`register()` only adds their URL rules. A Redis outage is answered by the one error handler of
`ioc.web.outage` (503 JSON with `Retry-After`).
"""

from __future__ import annotations

import time

from flask import Flask, jsonify, request

from ioc.domain import events as ev
from ioc.domain.case_indicators import PERIOD_KINDS, period_bounds
from ioc.domain.clock import local_iso
from ioc.domain.event_indicators import response_times
from ioc.domain.access import SIGNED_IN
from ioc.domain.plans import level_label
from ioc.events.service import EVENT_REFUSALS, refusal

from .api import choice_arg, flag_arg, int_arg
from .auth import api_principal, client_ip
from .services import Services, current_services

MAX_LIMIT = 500


def _error(status: int, error: str, message: str, **extra):
    return jsonify({"error": error, "message": message, **extra}), status


def refused(error: Exception):
    """The JSON answer to a refusal of the event service (the one mapping: `refusal`)."""
    r = refusal(error)
    return _error(r.status, r.error, r.message, **r.extra())


def _now() -> int:
    return int(time.time() * 1000)


def _body() -> dict | None:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


def _no_body():
    return _error(400, "bad_request", "send a JSON object", field="body")


def event_json(event: ev.Event, now_ms: int, log: bool = True) -> dict:
    """An event as the API sends it: the stored dict (`Event.to_dict`), the names people read of
    its plan and level, whether it is open, and each department's overdue steps now."""
    plan = current_services().events.plan(event.plan)
    body = event.to_dict()
    if not log:
        body.pop("log")
    return {**body, "plan_zh": plan.name_zh if plan else event.plan, "plan_en": plan.name_en if plan else event.plan,
            "level_zh": level_label(event.level, "zh"), "level_en": level_label(event.level, "en"), "open": event.is_open,
            "overdue": {t.department: list(ev.overdue(t, now_ms)) for t in event.tasks if ev.overdue(t, now_ms)}}


# ---- reads ----------------------------------------------------------------------------------------

def plans():
    api_principal("event:read")
    return jsonify({"plans": [{**p.to_dict(), "level_names": {lv.level: {"zh": level_label(lv.level, "zh"),
                                                                          "en": level_label(lv.level, "en")}
                                                               for lv in p.levels}}
                              for p in current_services().events.plans.values()]})


def list_events():
    p = api_principal("event:read")
    services = current_services()
    limit, offset = int_arg("limit", 100, 1, MAX_LIMIT), int_arg("offset", 0, 0, 10**9)
    status = choice_arg("status", ev.STATUSES)
    plan = choice_arg("plan", services.events.plans, "a plan id (GET /api/v1/events/plans lists them)")
    district = choice_arg("district", frozenset(d.id for d in services.city.districts))
    active = flag_arg("active")
    rows = services.events.events_for(p, status=status, plan=plan, district=district, active_only=active)
    now = _now()
    return jsonify({"total": len(rows), "offset": offset, "limit": limit,
                    "items": [event_json(e, now, log=False) for e in rows[offset:offset + limit]]})


def get_event(event_id: str):
    p = api_principal("event:read")
    services = current_services()
    try:
        event = services.events.event_for(event_id, p)
    except EVENT_REFUSALS as e:
        return refused(e)
    devices = choice_arg("devices", ("all",))  # the ids of every device in the area (else a summary)
    now = _now()
    linked = services.events.linked_summary(event, services.city_cache.snapshot(now), all_devices=devices == "all")
    return jsonify({**event_json(event, now), "linked": linked, "figures": ev.figures(event, now).to_dict(),
                    "allowed_actions": ev.allowed_event_actions(event, p),
                    "allowed_task_actions": {t.department: actions for t in event.tasks
                                             if (actions := ev.allowed_task_actions(event, t.department, p))}})


def proposals():
    api_principal("event:read")
    services = current_services()
    return jsonify({"items": [pr.to_dict() for pr in services.events.proposals()],
                    "dismissed": services.events.store.dismissals()})


# ---- actions --------------------------------------------------------------------------------------

def start_event():
    p = api_principal("event:command")
    body = _body()
    if body is None:
        return _no_body()
    try:
        event = current_services().events.start(
            p, plan=body.get("plan"), level=body.get("level"), title=body.get("title"), area=body.get("area"),
            district=body.get("district"), alarm_id=body.get("alarm_id"), case_id=body.get("case_id"),
            proposal_id=body.get("proposal_id"), note=body.get("note"), ip=client_ip())
    except EVENT_REFUSALS as e:
        return refused(e)
    return jsonify(event_json(event, _now())), 201


def _answer(change):
    body = _body()
    if body is None:
        return _no_body()
    try:
        event = change(body)
    except EVENT_REFUSALS as e:
        return refused(e)
    return jsonify(event_json(event, _now()))


def change_level(event_id: str):
    p = api_principal("event:command")
    return _answer(lambda body: current_services().events.change_level(
        event_id, p, level=body.get("level"), reason=body.get("reason"), expected_version=body.get("version"), ip=client_ip()))


def instruct(event_id: str):
    p = api_principal("event:instruct")
    return _answer(lambda body: current_services().events.instruct(
        event_id, p, text=body.get("text"), expected_version=body.get("version"), ip=client_ip()))


def close_event(event_id: str):
    p = api_principal("event:command")
    return _answer(lambda body: current_services().events.close(
        event_id, p, summary=body.get("summary"), expected_version=body.get("version"), ip=client_ip()))


def act(event_id: str):
    p = api_principal(SIGNED_IN)  # then each action names its roles (the service's order of checks)
    return _answer(lambda body: current_services().events.act(
        event_id, body.get("action"), p, expected_version=body.get("version"), level=body.get("level"),
        reason=body.get("reason"), text=body.get("text"), summary=body.get("summary"), department=body.get("department"),
        instruction_id=body.get("instruction_id"), support_for=body.get("support_for"), ip=client_ip()))


def task_act(event_id: str, department: str):
    p = api_principal("event:task")
    return _answer(lambda body: current_services().events.task_act(
        event_id, department, body.get("action"), p, note=body.get("note"), expected_version=body.get("version"),
        ip=client_ip()))


def dismiss(proposal_id: str):
    p = api_principal("event:command")
    body = _body()
    if body is None:
        return _no_body()
    try:
        dismissal = current_services().events.dismiss(proposal_id, p, reason=body.get("reason"), ip=client_ip())
    except EVENT_REFUSALS as e:
        return refused(e)
    return jsonify({"id": proposal_id, **dismissal})


def indicators():
    """Response times per plan and per department of the events started in a period (the
    periods of the case indicators), against the plans' limits."""
    api_principal("view:indicators")
    period = choice_arg("period", PERIOD_KINDS) or "month"
    offset = int_arg("offset", 0, -100_000, 100_000)
    now = _now()
    try:
        start, end = period_bounds(period, now, offset)
    except (ValueError, OverflowError):
        return _error(400, "bad_request", f"offset {offset} moves the {period} out of the calendar", field="offset")
    chosen = [e for e in current_services().events.store.all() if start <= e.started_at < end]
    by_plan, by_department = response_times(chosen, now)
    return jsonify({"period": period, "start": local_iso(start), "end": local_iso(end), "plans": by_plan,
                    "departments": by_department})


ROUTES = (
    ("/api/v1/events/plans", plans, "GET"),
    ("/api/v1/events/indicators", indicators, "GET"),
    ("/api/v1/events/proposals", proposals, "GET"),
    ("/api/v1/events/proposals/<proposal_id>/dismiss", dismiss, "POST"),
    ("/api/v1/events", list_events, "GET"),
    ("/api/v1/events", start_event, "POST"),
    ("/api/v1/events/<event_id>", get_event, "GET"),
    ("/api/v1/events/<event_id>/level", change_level, "POST"),
    ("/api/v1/events/<event_id>/instructions", instruct, "POST"),
    ("/api/v1/events/<event_id>/close", close_event, "POST"),
    ("/api/v1/events/<event_id>/actions", act, "POST"),
    ("/api/v1/events/<event_id>/tasks/<department>/actions", task_act, "POST"),
)


def register(server: Flask, services: Services) -> None:
    server.extensions["ioc_events"] = services.events  # the same one service (tests and tools reach it here)
    for rule, view, method in ROUTES:
        server.add_url_rule(rule, endpoint=f"events_{view.__name__}", view_func=view, methods=[method])
