"""`/api/v1/cases…` (JSON for other systems, same rules as the portal) and Open311 GeoReport v2.

Both go through the process's one `ioc.casework.service.CaseService` (`Services.cases`), so a
report, a read or an action follows the same rules whichever door it comes in by: who may see a
case (`ioc.domain.cases.visible_to`: a department handler only its department's, others answer
404 as if they did not exist), every input's checks, and one mapping of refusals to answers
(`ioc.casework.service.refusal`). These routes only parse the request and word the answer.

Plain module-level view functions reaching the process's services through `current_services()`;
`register()` only adds their URL rules. A Redis outage is answered by the one error handler of
`ioc.web.outage` (503 JSON with `Retry-After`).
"""

from __future__ import annotations

import re
import time

from flask import Flask, jsonify, request

from ioc.adapters.case_index import CaseIndexLoading
from ioc.casework.reports import report_id_of
from ioc.casework.service import CASE_REFUSALS, refusal
from ioc.domain import case_catalog
from ioc.domain.access import SIGNED_IN
from ioc.domain.case_indicators import (FORMULAS, GROUP_KEYS, PERIOD_KINDS, as_of_now, indicators_of, period_bounds,
                                        rank_departments)
from ioc.domain.cases import STAGES, TRANSITIONS, allowed_actions
from ioc.domain.clock import local_iso
from ioc.domain.departments import all_departments

from .api import ApiInputError, choice_arg, flag_arg, int_arg
from .auth import api_principal, client_ip
from .media_api import attachment_json
from .services import Services, current_services

MAX_LIMIT = 1000
SOURCE = re.compile(r"^[a-z0-9_-]{1,32}$")


def _error(status: int, error: str, message: str, **extra):
    return jsonify({"error": error, "message": message, **extra}), status


def _iso(ms: int) -> str | None:
    return local_iso(ms) if ms else None


def refused(error: Exception):
    """The JSON answer to a refusal of the case service (the one mapping: `refusal`)."""
    r = refusal(error)
    return _error(r.status, r.error, r.message, **r.extra())


def case_json(case, now_ms: int) -> dict:
    minor = case_catalog.MINOR_CLASSES.get(case.class_code)
    public = current_services().settings.public_url
    return {**case.to_dict(), "class_zh": minor.name_zh if minor else "", "class_en": minor.name_en if minor else "",
            "open": case.is_open, "overdue": case.overdue(now_ms),
            "attachments": [attachment_json(case.id, a, public) for a in case.attachments]}


def departments_of(services: Services) -> dict:
    return {d.id: d for d in all_departments(services.city)}


def catalog():
    api_principal(SIGNED_IN)
    return jsonify({
        "classes": [{"code": m.code, "major": m.major, "kind": m.kind, "name_zh": m.name_zh, "name_en": m.name_en,
                     "department": m.department, "urgent": m.urgent, "calendar_hours": m.calendar_hours, "limits_hours": m.limits}
                    for m in case_catalog.MINOR_CLASSES.values()],
        "departments": [{"id": d.id, "name_zh": d.name_zh, "name_en": d.name_en, "kind": d.kind, "district": d.district}
                        for d in departments_of(current_services()).values()],
        "stages": list(STAGES), "actions": {a: {"roles": sorted(t.roles), "from": list(t.from_stages), "to": t.to_stage,
                                                "note_required": t.note_required} for a, t in TRANSITIONS.items()},
    })


def case_indicators():
    """GB/T 30428 indicators for a period, overall and per group, with the department ranking.
    With `from` and `to`: any period, from the record (`ioc.web.reports_api.record_indicators`)."""
    if "from" in request.args or "to" in request.args:
        from .reports_api import record_indicators
        return record_indicators()
    api_principal("view:indicators")
    period = choice_arg("period", PERIOD_KINDS) or "month"
    group = choice_arg("group", GROUP_KEYS) or "department"
    offset = int_arg("offset", 0, -100_000, 100_000)
    now = int(time.time() * 1000)
    try:
        start, end = period_bounds(period, now, offset)
    except (ValueError, OverflowError):
        raise ApiInputError(f"offset {offset} moves the {period} out of the calendar", "offset") from None
    try:
        facts = current_services().case_index.facts()
    except CaseIndexLoading as e:  # the first read of every case, at city scale: not an outage
        response, status = _error(503, "unavailable", f"{e}; try again in a few seconds")
        response.headers["Retry-After"] = "5"
        return response, status
    overall, by = indicators_of(facts.facts, start, end, as_of_now(now), by=(group,))
    groups = by[group]
    body = {"period": period, "start": _iso(start), "end": _iso(end), "overall": overall.to_dict(),
            "groups": {k: v.to_dict() for k, v in groups.items()}, "formulas": FORMULAS}
    if group == "department":
        body["ranking"] = [{"rank": r.rank, "department": r.key, "score": r.score} for r in rank_departments(groups)]
    return jsonify(body)


def list_cases():
    p = api_principal("case:read")
    services = current_services()
    limit, offset = int_arg("limit", 200, 1, MAX_LIMIT), int_arg("offset", 0, 0, 10**9)
    # every filter value is checked: a malformed one is a 400 naming it, never a filter that matches nothing
    filters = {"stage": choice_arg("stage", STAGES), "district": choice_arg("district", frozenset(d.id for d in services.city.districts)),
               "class_code": choice_arg("class_code", case_catalog.MINOR_CLASSES, "a minor-class code (GET /api/v1/catalog lists them)"),
               "department": choice_arg("department", departments_of(services), "a department id (GET /api/v1/catalog lists them)")}
    source = request.args.get("source", "")
    if source and not SOURCE.match(source):
        raise ApiInputError("source must be 1-32 characters of a-z, 0-9, '_' or '-'", "source")
    filters = {k: v for k, v in {**filters, "source": source}.items() if v}
    open_only, overdue_only, urgent_only = flag_arg("open", True), flag_arg("overdue"), flag_arg("urgent")
    now = int(time.time() * 1000)
    rows = [c for c in services.cases.cases_for(p, open_only) if all(getattr(c, k) == v for k, v in filters.items())]
    if overdue_only:
        rows = [c for c in rows if c.overdue(now)]
    if urgent_only:
        rows = [c for c in rows if c.urgent]
    total = len(rows)
    hot_days = services.settings.case_hot_days
    if not open_only and not overdue_only and hot_days > 0 and services.cases.archive is not None:
        # cases ended more than IOC_CASE_HOT_DAYS ago are the record's to list (archived, or about to be)
        cutoff = now - hot_days * 86_400_000
        rows = [c for c in rows if c.is_open or (c.closed_at or c.updated_at) >= cutoff]
        archived_total, archived = services.cases.archived_page(p, {**filters, **({"urgent": True} if urgent_only else {})},
                                                                offset + limit, hot_days, now)
        total = len(rows) + archived_total
        rows += archived
    rows.sort(key=lambda c: (-c.created_at, c.id))
    return jsonify({"total": total, "offset": offset, "limit": limit,
                    "items": [case_json(c, now) for c in rows[offset:offset + limit]]})


def get_case(case_id: str):
    p = api_principal("case:read")
    try:
        case, timeline = current_services().cases.timeline_for(case_id, p)
    except CASE_REFUSALS as e:
        return refused(e)
    now = int(time.time() * 1000)
    return jsonify({**case_json(case, now), "timeline": [e.to_dict() for e in timeline],
                    "allowed_actions": allowed_actions(case, p)})


def create_case():
    p = api_principal("case:report")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _error(400, "bad_request", "send a JSON object", field="body")
    source = str(body.get("source") or ("phone" if "dispatcher" in p.roles else "inspector" if "inspector" in p.roles else "api"))
    if not SOURCE.match(source):
        return _error(400, "bad_request", "source must be 1-32 characters of a-z, 0-9, '_' or '-'", field="source")
    for name in ("category", "lat", "lon"):
        if name not in body:
            return _error(400, "bad_request", f"{name} is required", field=name)
    try:  # lengths, links and the report id: the rules of every intake (ioc.casework.reports), never cut
        case, created = current_services().cases.report(
            class_code=str(body["category"]), lat=body["lat"], lon=body["lon"], source=source, actor=p.name,
            role=p.acting_role("case:report"), description=body.get("description"), report_id=report_id_of(body.get("report_id")),
            reporter=body.get("reporter"), media=body.get("media"), address=body.get("address"), ip=client_ip())
    except CASE_REFUSALS as e:
        return refused(e)
    return jsonify({**case_json(case, int(time.time() * 1000)), "created": created}), (201 if created else 200)


def act(case_id: str):
    p = api_principal(SIGNED_IN)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _error(400, "bad_request", "send a JSON object with an action", field="action")
    try:  # every check of the inputs, the action, the case and the version is the service's, in its one order
        changed = current_services().cases.act(case_id, body.get("action"), p, expected_version=body.get("version"),
                                               note=body.get("note"), department=body.get("department"), hours=body.get("hours"),
                                               master_id=body.get("master_id"), lat=body.get("lat"), lon=body.get("lon"),
                                               accuracy=body.get("accuracy"), ip=client_ip())
    except CASE_REFUSALS as e:
        return refused(e)
    return jsonify(case_json(changed, int(time.time() * 1000)))


ROUTES = (("/api/v1/catalog", catalog, "GET"), ("/api/v1/indicators", case_indicators, "GET"), ("/api/v1/cases", list_cases, "GET"),
          ("/api/v1/cases/<case_id>", get_case, "GET"), ("/api/v1/cases", create_case, "POST"),
          ("/api/v1/cases/<case_id>/actions", act, "POST"))


def register(server: Flask, services: Services) -> None:
    server.extensions["ioc_cases"] = services.cases  # the same one service (tests and tools reach it here)
    for rule, view, method in ROUTES:
        server.add_url_rule(rule, view_func=view, methods=[method])
