"""Open311 GeoReport v2 (JSON): standard civic clients file and follow reports.

- `GET /open311/v2/services.json` — the catalog's minor classes as services.
- `POST /open311/v2/requests.json` — file a report (form or JSON fields of the standard:
  `api_key`, `service_code`, `lat`, `long`, `address_string`, `description`, `media_url`,
  `first_name`, `last_name`, `email`, `phone`, `device_id`, `account_id`); answers
  `[{"service_request_id", "service_notice", "account_id"}]`. An `Idempotency-Key` header (or a
  `report_id` field) makes a retried post return the same request instead of a second one.
- `GET /open311/v2/requests.json` (`service_request_id` comma list, `service_code`,
  `start_date`, `end_date`, `status` = open|closed) and `GET /open311/v2/requests/{id}.json`;
  both include the ended requests that left Redis after IOC_CASE_HOT_DAYS (read from the record).

Errors follow the standard: a JSON list `[{"code": <http status>, "description": …}]`, also
for a path under `/open311/` that is no route (404) or a route asked with another method (405).
Every route needs a key: `api_key` (query or form) or a bearer token or a portal session;
reading needs `case:read` or `case:report`, filing needs `case:report`. What a key may follow is
the rule of every entry (`ioc.domain.cases.visible_to`, applied by the process's one
`CaseService`): staff by role (a handler its department's), a reporting system what it filed;
any other request id answers 404, as one that does not exist.

Plain module-level view functions reaching the process's services through `current_services()`;
`register()` only adds their URL rules. A Redis outage is answered by the one error handler of
`ioc.web.outage` (503 in the standard error list, with `Retry-After`).
"""

from __future__ import annotations

import time
from datetime import datetime

from flask import Flask, g, jsonify, request

from ioc.casework.reports import report_id_of
from ioc.casework.service import CASE_REFUSALS, CaseInputError, refusal
from ioc.domain import case_catalog
from ioc.domain.access import allowed
from ioc.domain.clock import CHINA_TZ, local_iso
from ioc.domain.departments import all_departments
from ioc.domain.media import media_links

from .api import FALLBACK_METHODS, methods_elsewhere
from .auth import client_ip, current_principal
from .services import Services, current_services

DEFAULT_WINDOW_DAYS = 90
MAX_REQUESTS = 1000
TEXT_FIELDS = frozenset({"api_key", "service_code", "lat", "long", "address_string", "description", "media_url", "first_name",
                         "last_name", "email", "phone", "device_id", "account_id", "report_id"})


def _errors(status: int, description: str):
    return jsonify([{"code": status, "description": description}]), status


def _iso(ms: int) -> str | None:
    return local_iso(ms) if ms else None


def _parse_date(text: str, name: str) -> int:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CaseInputError(name, f"{name} must be a W3C date-time such as 2026-11-25T08:00:00+08:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CHINA_TZ)
    return int(moment.timestamp() * 1000)


def principal(permission_any: tuple[str, ...]):
    """The caller (session, bearer token or `api_key`), or an error response."""
    p = getattr(g, "ioc_principal", None) or current_principal()
    if p is None:
        return None, _errors(401, "an api_key is required")
    if not any(allowed(p, perm) for perm in permission_any):
        return None, _errors(403, f"this key may not {'file' if permission_any == ('case:report',) else 'read'} service requests")
    return p, None


def request_json(case, departments: dict, public_url: str = "") -> dict:
    """A case as an Open311 service request; `media_url` the report's first link, else the first
    stored photo's (under `public_url`, IOC_PUBLIC_URL)."""
    links = list(case.media) + media_links(case, public_url)
    minor = case_catalog.MINOR_CLASSES.get(case.class_code)
    department = departments.get(case.department or case.suggested_department)
    notes = {"rejected": "not accepted (不予受理)", "voided": "verified as nonexistent (作废)",
             "merged": f"merged into {case.master_id} (并案)"}.get(case.stage, case.stage)
    return {
        "service_request_id": case.id, "status": "open" if case.is_open else "closed", "status_notes": notes,
        "service_name": minor.name_en if minor else case.class_code, "service_code": case.class_code,
        "description": case.description, "agency_responsible": department.name_zh if department else "",
        "service_notice": "", "requested_datetime": _iso(case.created_at), "updated_datetime": _iso(case.updated_at),
        "expected_datetime": _iso(case.due_at), "address": case.address, "address_id": "", "zipcode": "215600",
        "lat": case.lat, "long": case.lon, "media_url": links[0] if links else "",
    }


def departments_of(services: Services) -> dict:
    return {d.id: d for d in all_departments(services.city)}


def no_route(_rest: str = ""):
    """Without it, Dash's catch-all page route would answer an unknown Open311 path with the
    portal's HTML shell and a 200. Anonymous callers still get 401 (the guard)."""
    methods = methods_elsewhere("open311_no_route")
    if methods:
        response, status = _errors(405, f"{request.path} takes {', '.join(methods)}, not {request.method}")
        response.headers["Allow"] = ", ".join(methods)
        return response, status
    return _errors(404, f"no Open311 route or service request at {request.path}")


def services_list():
    _p, error = principal(("case:read", "case:report"))
    if error:
        return error
    return jsonify([
        {"service_code": m.code, "service_name": m.name_en, "description": f"{m.name_zh} / {m.name_en}", "metadata": False,
         "type": "realtime", "keywords": m.name_zh, "group": case_catalog.MAJOR_CLASSES[m.major].name_en}
        for m in case_catalog.MINOR_CLASSES.values()
    ])


def post_request():
    p, error = principal(("case:report",))
    if error:
        return error
    fields = request.get_json(silent=True) if request.is_json else request.form.to_dict()
    if not isinstance(fields, dict):
        return _errors(400, "send the request's fields as a form or a JSON object")
    for name in ("service_code", "lat", "long"):
        if fields.get(name) in (None, ""):
            return _errors(400, f"{name} is required (this city geocodes no address_string: send lat and long)")
    for name, value in fields.items():  # a JSON body: each field a string (lat/long may be numbers)
        if name in TEXT_FIELDS and isinstance(value, (bool, dict, list)):
            return _errors(400, f"{name} must be a string")
    try:
        lat, lon = float(fields["lat"]), float(fields["long"])
    except (TypeError, ValueError, OverflowError):
        return _errors(400, "lat and long must be numbers")
    reporter = " ".join(str(fields.get(k) or "") for k in ("first_name", "last_name")).strip()
    contact = str(fields.get("email") or fields.get("phone") or "")
    media = [str(fields["media_url"])] if fields.get("media_url") else []
    key_field = "Idempotency-Key" if request.headers.get("Idempotency-Key") else "report_id"
    try:  # the rules of every intake (ioc.casework.reports): kept whole up to the limit, refused beyond
        report_id = report_id_of(request.headers.get("Idempotency-Key") or fields.get("report_id"))
        case, _created = current_services().cases.report(
            class_code=str(fields["service_code"]), lat=lat, lon=lon, source="open311", actor=p.name,
            role=p.acting_role("case:report"), description=str(fields.get("description") or ""),
            report_id=f"open311:{p.name}:{report_id}" if report_id else "",
            reporter=f"{reporter} {contact}".strip(), media=media, address=str(fields.get("address_string") or ""), ip=client_ip())
    except CASE_REFUSALS as e:
        r = refusal(e)
        field = {"category": "service_code", "lon": "long", "address": "address_string", "media": "media_url",
                 "report_id": key_field, "reporter": "first_name, last_name and email or phone (the reporter)"}.get(r.field, r.field)
        return _errors(r.status, f"{field}: {r.message}" if field else r.message)
    return jsonify([{"service_request_id": case.id, "service_notice": "", "account_id": fields.get("account_id") or None}]), 201


def get_requests():
    p, error = principal(("case:read", "case:report"))
    if error:
        return error
    args = request.args
    now = int(time.time() * 1000)
    try:
        start = _parse_date(args["start_date"], "start_date") if args.get("start_date") else now - DEFAULT_WINDOW_DAYS * 86_400_000
        end = _parse_date(args["end_date"], "end_date") if args.get("end_date") else now + 60_000
    except CaseInputError as e:
        return _errors(400, str(e))
    status = args.get("status", "")
    if status not in ("", "open", "closed", "open,closed", "closed,open"):
        return _errors(400, "status must be open or closed")
    ids = {i.strip() for i in args.get("service_request_id", "").split(",") if i.strip()}
    codes = {c.strip() for c in args.get("service_code", "").split(",") if c.strip()}
    unknown = sorted(codes - set(case_catalog.MINOR_CLASSES))
    if unknown:
        return _errors(400, f"service_code: {unknown[0][:40]!r} is not a service code (GET /open311/v2/services.json lists them)")
    services = current_services()
    rows = []
    for case in services.cases.cases_for(p, open_only=False):
        if ids:
            if case.id not in ids:
                continue
        elif not start <= case.created_at < end:
            continue
        if codes and case.class_code not in codes:
            continue
        if status in ("open", "closed") and (case.is_open != (status == "open")):
            continue
        rows.append(case)
    if status != "open":  # the ended cases that left Redis (IOC_CASE_HOT_DAYS), read from the record
        if ids:
            archived = []
            for case_id in sorted(ids - {c.id for c in rows}):
                try:
                    archived.append(services.cases.case_for(case_id, p))
                except CASE_REFUSALS:
                    continue
        else:
            archived = services.cases.archived_for(p, start, end, field="created", limit=MAX_REQUESTS)
        rows += [c for c in archived if not codes or c.class_code in codes]
    rows.sort(key=lambda c: -c.created_at)
    departments = departments_of(services)
    return jsonify([request_json(c, departments, services.settings.public_url) for c in rows[:MAX_REQUESTS]])


def get_request(case_id: str):
    p, error = principal(("case:read", "case:report"))
    if error:
        return error
    services = current_services()
    try:
        case = services.cases.case_for(case_id, p)
    except CASE_REFUSALS:  # unknown, or not the caller's to follow: alike
        return _errors(404, f"no service request {case_id}")
    return jsonify([request_json(case, departments_of(services), services.settings.public_url)])


ROUTES = (("/open311/v2/services.json", services_list, "GET"), ("/open311/v2/requests.json", post_request, "POST"),
          ("/open311/v2/requests.json", get_requests, "GET"), ("/open311/v2/requests/<case_id>.json", get_request, "GET"))


def register(server: Flask, services: Services) -> None:
    for rule in ("/open311/", "/open311/<path:_rest>"):
        server.add_url_rule(rule, endpoint="open311_no_route", view_func=no_route, methods=FALLBACK_METHODS)
    for rule, view, method in ROUTES:
        server.add_url_rule(rule, view_func=view, methods=[method])
