"""`/api/v1/…`: JSON for other city systems (bearer token) and for signed-in browsers (session).

Every route checks its permission (`ioc.domain.access`) before reading anything: no principal
gets 401, a principal without the permission 403, both with a JSON `{"error", "message"}` body
and no data. Errors in the request get 400 with the field at fault; an unknown id gets 404. A
path under `/api/` that is no route (an id with a `/` in it included) is a JSON 404 too, and a
route asked with a method it does not take a JSON 405, never the portal's HTML page.

Plain module-level view functions reaching the process's services through `current_services()`;
`register()` only adds their URL rules. A Redis outage is answered by the one error handler of
`ioc.web.outage` (503 JSON with `Retry-After`).
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict

from flask import Flask, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from ioc.adapters.alarm_store import AlarmNotFound
from ioc.adapters.audit_log import ACTIONS as AUDIT_ACTIONS
from ioc.adapters.city_snapshot import read_city
from ioc.domain.access import SIGNED_IN
from ioc.domain.alarm_handling import Acknowledgement, AlarmActionError, escalation
from ioc.domain.kinds import KINDS
from ioc.domain.rules import SEVERITIES
from ioc.views.bigscreen import alarm_words_for, district_ranking, kpis

from .auth import api_principal, client_ip
from .services import Services, current_services

MAX_LIMIT = 10_000
STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
FALLBACK_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class ApiInputError(ValueError):
    """A malformed API request; answered 400 `{"error": "bad_request", "message", "field"}` with the
    parameter at fault."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


def _error(status: int, error: str, message: str, **extra):
    return jsonify({"error": error, "message": message, **extra}), status


def int_arg(name: str, default: int, lo: int, hi: int) -> int:
    """Query parameter `name` as an integer in [lo, hi]; missing or empty: `default`."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiInputError(f"{name} must be an integer", name) from None
    if not lo <= value <= hi:
        raise ApiInputError(f"{name} must be between {lo} and {hi}", name)
    return value


def choice_arg(name: str, choices, what: str = "") -> str:
    """Query parameter `name`, one of `choices` (missing or empty: ""). A value that is none of
    them is a 400 naming the parameter, never a filter that silently matches nothing."""
    value = request.args.get(name, "")
    if value and value not in choices:
        listed = sorted(choices)
        hint = what or ", ".join(listed)
        raise ApiInputError(f"{name} must be {hint}, not {value[:40]!r}", name)
    return value


def flag_arg(name: str, default: bool = False) -> bool:
    """Query parameter `name` as `1` (true) or `0` (false); missing or empty: `default`."""
    value = choice_arg(name, ("0", "1"), "0 or 1")
    return default if value == "" else value == "1"


def methods_elsewhere(fallback_endpoint: str) -> list[str]:
    """The methods that a real route (not the fallback) takes at this request's path: a request
    that reached the fallback with another method is a 405, not a 404."""
    adapter = current_app.create_url_adapter(request)
    found = []
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        try:
            endpoint, _args = adapter.match(request.path, method=method)
        except HTTPException:  # NotFound, MethodNotAllowed, RequestRedirect
            continue
        if endpoint != fallback_endpoint:
            found.append(method)
    return found


def no_route(_rest: str = ""):
    """Without it, Dash's catch-all page route (`/<path:path>`) would answer an unknown API path
    with the portal's HTML shell and a 200. Anonymous callers still get 401 (the guard)."""
    methods = methods_elsewhere("api_no_route")
    if methods:
        response, status = _error(405, "method_not_allowed", f"{request.path} takes {', '.join(methods)}, not {request.method}")
        response.headers["Allow"] = ", ".join(methods)
        return response, status
    return _error(404, "not_found", f"no API route or id at {request.path} (the README's JSON API section lists the routes)")


def bad_request(e: ApiInputError):
    return _error(400, "bad_request", str(e), **({"field": e.field} if e.field else {}))


def district_ids(services: Services) -> frozenset[str]:
    return frozenset(d.id for d in services.city.districts)


def city_snapshot(services: Services):
    return read_city(services.redis, services.settings.redis_shards, int(time.time() * 1000))


def me():
    p = api_principal(SIGNED_IN)
    return jsonify({"name": p.name, "display_name": p.display_name, "roles": sorted(p.roles),
                    "department": p.department, "kind": p.kind, "read_only": p.read_only})


def sensors():
    api_principal("view:bigscreen")
    services = current_services()
    limit, offset = int_arg("limit", 1000, 1, MAX_LIMIT), int_arg("offset", 0, 0, 10**9)
    kind, district = choice_arg("kind", KINDS), choice_arg("district", district_ids(services))
    state = choice_arg("state", ("online", "offline"), "'online' or 'offline'")
    rows = [r for r in services.snapshot.devices() if (not kind or r.kind == kind) and (not district or r.district == district)
            and (not state or r.online == (state == "online"))]
    rows.sort(key=lambda r: r.id)
    return jsonify({"total": len(rows), "offset": offset, "limit": limit,
                    "items": [asdict(r) for r in rows[offset:offset + limit]]})


def sensor(device_id: str):
    api_principal("view:bigscreen")
    found = current_services().snapshot.device(device_id)
    if found is None:
        return _error(404, "not_found", f"no sensor {device_id!r}")
    return jsonify(found)


def districts():
    api_principal("view:districts")
    services = current_services()
    lang = choice_arg("lang", ("zh", "en")) or "zh"
    rows = district_ranking(city_snapshot(services), services.city, lang)
    names = {d.id: d for d in services.city.districts}
    for row in rows:
        row.update(name_zh=names[row["id"]].name_zh, name_en=names[row["id"]].name_en, code=names[row["id"]].code)
    return jsonify({"items": rows})


def district(district_id: str):
    api_principal("view:districts")
    services = current_services()
    d = services.city.district(district_id)
    if d is None:
        return _error(404, "not_found", f"no district {district_id!r}")
    snap = city_snapshot(services)
    return jsonify({"id": d.id, "code": d.code, "name_zh": d.name_zh, "name_en": d.name_en, "area_km2": d.area_km2,
                    "kpis": asdict(kpis(snap, "zh", district=d.id))})


def alarms():
    api_principal("view:bigscreen")
    services = current_services()
    severity, district_id = choice_arg("severity", SEVERITIES), choice_arg("district", district_ids(services))
    active = services.alarms.active()
    now_ms = int(time.time() * 1000)
    names = services.snapshot.device_names({str(a.get("device_id") or "") for a in active})
    policy = services.settings.escalation_policy()
    items = []
    for alarm in active:
        if (severity and alarm.get("severity") != severity) or (district_id and alarm.get("district") != district_id):
            continue
        ack = Acknowledgement.from_dict(alarm["ack"]) if alarm.get("ack") else None
        esc = escalation(alarm, ack, now_ms, policy)
        items.append({**alarm, "escalated": esc.escalated, "escalated_at": esc.since_ms, **display_texts(alarm, names, services.city)})
    return jsonify({"total": len(items), "items": items})


def display_texts(alarm: dict, names: dict[str, str], city) -> dict:
    """What a person reads of an alarm, beside the raw fields: the device's name, the reading,
    the value and the whole alarm in words, in Chinese and in English."""
    out = {"device_name": names.get(alarm.get("device_id"), "")}
    for lang in ("zh", "en"):
        words = alarm_words_for(alarm, names, city, lang)
        out.update({f"text_{lang}": words.text(), f"reading_text_{lang}": words.reading,
                    f"value_text_{lang}": words.value, f"threshold_text_{lang}": words.threshold})
    return out


def audit():
    api_principal("view:audit")
    limit = int_arg("limit", 200, 1, 1000)
    before = request.args.get("before") or None
    if before is not None and not STREAM_ID.match(before):
        raise ApiInputError("before must be an audit entry id such as 1764000000000-0", "before")
    since = int_arg("since_ms", 0, 0, 10**15) or None
    action = request.args.get("action", "")
    if action and not any(a.startswith(action) for a in AUDIT_ACTIONS):
        raise ApiInputError(f"action must be an audit action or the start of one (auth., case., case.report, …), not {action[:40]!r}",
                            "action")
    entries = current_services().audit.recent(limit, before=before, actor=request.args.get("actor", ""), action=action, since_ms=since)
    return jsonify({"items": [e.to_dict() for e in entries], "next_before": entries[-1].id if len(entries) == limit else None})


def alarm_action(permission: str, act):
    """An operator's action through the process's one `AlarmStore`, as the portal's: the store
    also invalidates this process's city cache, so the next big-screen snapshot shows it.
    `act(store, principal, role)` returns the JSON body."""
    p = api_principal(permission)
    try:
        return jsonify(act(current_services().alarms, p, p.acting_role(permission)))
    except AlarmNotFound as e:
        return _error(404, "not_found", str(e))
    except AlarmActionError as e:
        return _error(400, "bad_request", str(e), field="note")


def acknowledge(alarm_id: str):
    return alarm_action("alarm:acknowledge", lambda store, p, role: store.acknowledge(
        alarm_id, p.name, role, int(time.time() * 1000), ip=client_ip()).to_dict())


def clear(alarm_id: str):
    body = request.get_json(silent=True)
    note = body.get("note") if isinstance(body, dict) else request.form.get("note")
    if note is not None and not isinstance(note, str):
        raise ApiInputError("note must be a string", "note")
    return alarm_action("alarm:clear", lambda store, p, role: store.clear(
        alarm_id, p.name, role, note or "", int(time.time() * 1000), ip=client_ip()))


READ_ROUTES = (("/api/v1/me", me), ("/api/v1/sensors", sensors), ("/api/v1/sensors/<device_id>", sensor),
               ("/api/v1/districts", districts), ("/api/v1/districts/<district_id>", district), ("/api/v1/alarms", alarms),
               ("/api/v1/audit", audit))
ACTION_ROUTES = (("/api/v1/alarms/<alarm_id>/acknowledge", acknowledge), ("/api/v1/alarms/<alarm_id>/clear", clear))


def register(server: Flask, services: Services) -> None:
    server.add_url_rule("/api/", endpoint="api_no_route", view_func=no_route, methods=FALLBACK_METHODS)
    server.add_url_rule("/api/<path:_rest>", endpoint="api_no_route", view_func=no_route, methods=FALLBACK_METHODS)
    server.register_error_handler(ApiInputError, bad_request)
    for rule, view in READ_ROUTES:
        server.add_url_rule(rule, view_func=view, methods=["GET"])
    for rule, view in ACTION_ROUTES:
        server.add_url_rule(rule, view_func=view, methods=["POST"])
