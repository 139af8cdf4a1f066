"""`/api/v1/reports…` and the record's `/api/v1/indicators?from=&to=`: reports from the record.

- `GET /api/v1/reports/monthly?month=YYYY-MM[&lang=zh|en]` (view:reports): the monthly assessment
  report as JSON, its sections' columns and rows exactly as the XLSX has them.
- `GET /api/v1/reports/monthly.csv?month=&section=` (report:export): one section as CSV.
- `POST /api/v1/reports` (report:export) `{"kind": "monthly", "month": "YYYY-MM"}` or
  `{"kind": "event", "event": "<event id>"}`: starts building the XLSX in the background; 202
  with the job's id and its status and file URLs.
- `GET /api/v1/reports/<id>` (report:export): the job's status (queued, running, ready, failed),
  progress 0..1. `GET /api/v1/reports/<id>/file`: the XLSX once ready (409 before).
- `GET /api/v1/indicators?from=&to=[&by=district,department,…]` (view:indicators): any period
  (ISO 8601 dates or times, or epoch ms; China time when no offset) from the record, compared
  with the period before and the same period last year (`ioc.reports.indicators`).
"""

from __future__ import annotations

import re
import time
from datetime import datetime

from flask import Flask, Response, jsonify, request, send_file

from ioc.domain.case_indicators import FORMULAS, GROUP_KEYS, rank_departments
from ioc.domain.clock import CHINA_TZ
from ioc.record.db import connection
from ioc.reports import jobs
from ioc.reports.indicators import compare, refresh_facts, revision
from ioc.reports.monthly import event_report, month_bounds, monthly_report, opening_month
from ioc.reports.xlsx import workbook_bytes

from .api import ApiInputError
from .auth import api_principal
from .services import Services, current_services

JOB_ID = re.compile(r"^\d{14}-[0-9a-f]{8}$")
EVENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_SPAN_MS = 10 * 366 * 86_400_000


def _error(status: int, error: str, message: str, **extra):
    return jsonify({"error": error, "message": message, **extra}), status


def database_url() -> str:
    url = current_services().settings.database_url
    if not url:
        raise ApiInputError("no record: this installation runs without DATABASE_URL", "record")
    return url


def _lang() -> str:
    lang = request.args.get("lang") or current_services().settings.lang
    return "en" if lang == "en" else "zh"


def _month() -> str:
    month = request.args.get("month", "")
    try:
        month_bounds(month)
    except ValueError as e:
        raise ApiInputError(str(e), "month") from None
    return month


def build_monthly(month: str, lang: str, now_ms: int, progress=None):
    services = current_services()
    with connection(database_url()) as conn:
        return monthly_report(conn, services.city, month, now_ms, lang, progress)


def opening_report_month(now_ms: int) -> str:
    with connection(database_url()) as conn:
        return opening_month(conn, now_ms)


def monthly_json():
    api_principal("view:reports")
    month, lang = _month(), _lang()
    try:
        report = build_monthly(month, lang, int(time.time() * 1000))
    except ValueError as e:
        raise ApiInputError(str(e), "month") from None
    return jsonify(report.to_dict())


def monthly_csv():
    api_principal("report:export")
    month, lang = _month(), _lang()
    key = request.args.get("section", "summary")
    report = build_monthly(month, lang, int(time.time() * 1000))
    try:
        section = report.section(key)
    except StopIteration:
        raise ApiInputError(f"no section {key!r}; sections are {', '.join(s.key for s in report.sections)}", "section") from None
    return Response(section.csv(), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="report-{month}-{key}.csv"'})


def start_monthly(month: str, lang: str, owner: str) -> str:
    """Start building the XLSX of `month` in the background (the page and the API); returns the job id.
    ValueError: a malformed month, or one that has not begun."""
    services = current_services()
    url, city = database_url(), services.city
    start, _end = month_bounds(month)
    now = int(time.time() * 1000)
    if start >= now:
        raise ValueError(f"the month {month} has not begun")

    def build(progress):
        with connection(url) as conn:
            report = monthly_report(conn, city, month, now, lang, progress)
        progress(0.95)
        return workbook_bytes(report)

    filename = f"月度考评报告-{month}.xlsx" if lang == "zh" else f"monthly-report-{month}.xlsx"
    return jobs.start(services.redis, services.settings.data_dir, build, "monthly", month, owner, filename)


def start_report():
    principal = api_principal("report:export")
    services = current_services()
    body = request.get_json(silent=True) or {}
    kind = body.get("kind", "monthly")
    lang = "en" if body.get("lang") == "en" else "zh"
    url = database_url()
    if kind == "monthly":
        try:
            job_id = start_monthly(str(body.get("month", "")), lang, principal.name)
        except ValueError as e:
            raise ApiInputError(str(e), "month") from None
        return jsonify({"id": job_id, "status": "queued", "status_url": f"/api/v1/reports/{job_id}",
                        "file_url": f"/api/v1/reports/{job_id}/file"}), 202
    if kind == "event":
        event_id = str(body.get("event", ""))
        if not EVENT_ID.match(event_id):
            raise ApiInputError("event must be a linked event's id", "event")

        def build(progress):
            with connection(url) as conn:
                report = event_report(conn, event_id, lang)
            progress(0.9)
            return workbook_bytes(report)

        what, filename = event_id, f"事后评估报告-{event_id}.xlsx" if lang == "zh" else f"event-report-{event_id}.xlsx"
    else:
        raise ApiInputError("kind must be monthly or event", "kind")
    job_id = jobs.start(services.redis, services.settings.data_dir, build, kind, what, principal.name, filename)
    return jsonify({"id": job_id, "status": "queued", "status_url": f"/api/v1/reports/{job_id}",
                    "file_url": f"/api/v1/reports/{job_id}/file"}), 202


def _job(job_id: str) -> dict:
    if not JOB_ID.match(job_id):
        raise ApiInputError("not a report id", "id")
    return jobs.status(current_services().redis, job_id)


def report_status(job_id: str):
    api_principal("report:export")
    job = _job(job_id)
    if job is None:
        return _error(404, "not_found", f"no report {job_id} (reports are kept a day)")
    return jsonify({k: job.get(k) for k in ("id", "kind", "what", "status", "progress", "error", "file", "size", "created",
                                            "finished")} | {"file_url": f"/api/v1/reports/{job_id}/file"})


def report_file(job_id: str):
    api_principal("report:export")
    job = _job(job_id)
    if job is None:
        return _error(404, "not_found", f"no report {job_id} (reports are kept a day)")
    if job["status"] != "ready":
        return _error(409, "not_ready", f"the report is {job['status']}", state=job["status"], progress=job["progress"])
    path = jobs.file_path(current_services().settings.data_dir, job_id)
    if not path.exists():
        return _error(404, "not_found", "the report's file is not on this host (IOC_DATA_DIR/reports must be shared)")
    return send_file(path, mimetype=XLSX, as_attachment=True, download_name=job.get("file") or f"{job_id}.xlsx")


def parse_time(raw: str, field: str) -> int:
    """Epoch ms, or an ISO 8601 date / date-time (China time when it has no offset)."""
    raw = (raw or "").strip()
    if not raw:
        raise ApiInputError(f"{field} is required", field)
    if raw.isdigit():
        return int(raw)
    try:
        d = datetime.fromisoformat(raw)
    except ValueError:
        raise ApiInputError(f"{field} must be epoch milliseconds or an ISO 8601 date", field) from None
    if d.tzinfo is None:
        d = d.replace(tzinfo=CHINA_TZ)
    return int(d.timestamp() * 1000)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, CHINA_TZ).isoformat()


def record_indicators():
    """The indicators of [from, to) from the record, with the comparisons (see the module doc)."""
    api_principal("view:indicators")
    start, end = parse_time(request.args.get("from", ""), "from"), parse_time(request.args.get("to", ""), "to")
    if end <= start:
        raise ApiInputError("to must be after from", "to")
    if end - start > MAX_SPAN_MS:
        raise ApiInputError("a period is at most ten years", "to")
    by = tuple(b for b in (request.args.get("by") or "district,department").split(",") if b)
    bad = [b for b in by if b not in GROUP_KEYS]
    if bad:
        raise ApiInputError(f"by takes {', '.join(GROUP_KEYS)}", "by")
    now = int(time.time() * 1000)
    with connection(database_url()) as conn:
        refresh_facts(conn)
        rev, _pending = revision(conn)
        fig = compare(conn, start, end, now + 1, by, rev)

    def side(part):
        city, groups = part
        out = {"overall": city.to_dict(), "groups": {k: {v: i.to_dict() for v, i in g.items()} for k, g in groups.items()}}
        if "department" in groups:
            out["ranking"] = [r.to_dict() | {"indicators": None} for r in rank_departments(groups["department"])]
        return out

    return jsonify({"from": _iso(start), "to": _iso(end), "as_of": _iso(fig.city.as_of_ms), "revision": rev,
                    "seconds": round(fig.seconds, 3), **side(fig.current),
                    "previous": side(fig.previous), "last_year": side(fig.last_year), "formulas": FORMULAS})


ROUTES = (
    ("/api/v1/reports/monthly", monthly_json, "GET"),
    ("/api/v1/reports/monthly.csv", monthly_csv, "GET"),
    ("/api/v1/reports", start_report, "POST"),
    ("/api/v1/reports/<job_id>", report_status, "GET"),
    ("/api/v1/reports/<job_id>/file", report_file, "GET"),
)


def register(server: Flask, services: Services) -> None:
    for rule, view, method in ROUTES:
        server.add_url_rule(rule, endpoint=f"reports_{view.__name__}", view_func=view, methods=[method])
