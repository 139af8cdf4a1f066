"""`GET /api/v1/exports/{cases|devices|alarms}.{gpkg|geojson}?from=YYYY-MM-DD&to=YYYY-MM-DD[&district=ID]`:
the record's cases, devices and alarms of a period (of the city, or of one district) for the
city's GIS staff (`ioc.reports.geo`).

Permission `report:export` (leader, dispatcher, admin), bearer token or session like every
`/api/v1` route: 401 anonymous, 403 without it. `from` and `to` are China-time dates, both
included (the period is [from 00:00, to + 1 day 00:00) in UTC+8), at most `EXPORT_MAX_DAYS`
apart; a missing, malformed or reversed date is a 400 naming the parameter. The file is built
in a private temporary folder (the record read in chunks, so a long period never sits in
memory), then sent as an attachment and removed; every export is in the audit log
(`report.export`). Without a record (`DATABASE_URL` unset, PostgreSQL down): 503.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

import psycopg
from flask import Flask, jsonify, request, send_file

from ioc.reports import geo

from .api import ApiInputError, choice_arg, district_ids
from .auth import api_principal, client_ip
from .services import Services, current_services

log = logging.getLogger(__name__)

PERMISSION = "report:export"
EXPORT_MAX_DAYS = geo.MAX_DAYS


def _error(status: int, error: str, message: str, **extra):
    return jsonify({"error": error, "message": message, **extra}), status


def parse_day(name: str, raw: str | None) -> date:
    """A query parameter `YYYY-MM-DD` as a date; ApiInputError (400) naming it otherwise."""
    if raw is None or raw == "":
        raise ApiInputError(f"{name} is required: a date as YYYY-MM-DD (China time)", name)
    try:
        if len(raw) != 10:
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiInputError(f"{name} must be a date as YYYY-MM-DD, not {raw[:40]!r}", name) from None


def period_ms(start: date, end: date, max_days: int = EXPORT_MAX_DAYS) -> tuple[int, int]:
    """[from 00:00, to + 1 day 00:00) in China time as epoch ms; ApiInputError when `to` is before
    `from` or the period is longer than `max_days` days."""
    if end < start:
        raise ApiInputError(f"to ({end.isoformat()}) is before from ({start.isoformat()})", "to")
    days = (end - start).days + 1
    if days > max_days:
        raise ApiInputError(f"the period is {days} days; at most {max_days} days per export", "to")
    return geo.days_ms(start, end)


def export_view(export_file: str):
    principal = api_principal(PERMISSION)
    what, _, fmt = export_file.partition(".")
    if what not in geo.EXPORTS or fmt not in geo.FORMATS:
        return _error(404, "not_found", f"exports are {', '.join(geo.EXPORTS)} as .gpkg or .geojson, "
                                        f"e.g. /api/v1/exports/cases.gpkg?from=2026-11-01&to=2026-11-30")
    start, end = parse_day("from", request.args.get("from")), parse_day("to", request.args.get("to"))
    from_ms, to_ms = period_ms(start, end)
    services = current_services()
    district = choice_arg("district", district_ids(services), "a district id (GET /api/v1/districts)")
    url = services.settings.database_url
    if not url:
        return _error(503, "unavailable", "the record is not configured (DATABASE_URL): exports read it")
    folder = Path(tempfile.mkdtemp(prefix="ioc-export-"))
    try:
        path = folder / f"{what}.{fmt}"
        began = time.monotonic()
        try:
            rows = geo.export(what, fmt, url, from_ms, to_ms, services.city, path, district=district)
        except psycopg.OperationalError as e:
            log.warning("export of %s failed: the record is unreachable: %s", export_file, e)
            return _error(503, "unavailable", "the record (PostgreSQL) is unreachable; try again shortly")
        handle = path.open("rb")  # kept open: the folder goes now, the file when the answer is sent
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    size = os.fstat(handle.fileno()).st_size
    log.info("export %s %s..%s: %d rows, %d bytes in %.2f s", export_file, start, end, rows, size, time.monotonic() - began)
    _audit(services, principal, export_file, start, end, rows, district)
    name = f"zhangjiagang-{district + '-' if district else ''}{what}-{start.isoformat()}_{end.isoformat()}.{fmt}"
    response = send_file(handle, mimetype=geo.FORMATS[fmt][1], as_attachment=True, download_name=name, max_age=0)
    response.headers["X-Export-Rows"] = str(rows)
    response.content_length = size
    return response


def _audit(services: Services, principal, target: str, start: date, end: date, rows: int, district: str) -> None:
    detail = {"period": f"{start.isoformat()} – {end.isoformat()}", "rows": rows, **({"district": district} if district else {})}
    try:
        services.audit.record(principal.name, principal.acting_role(PERMISSION), "report.export", target, "ok", client_ip(),
                              detail)
    except Exception as e:  # noqa: BLE001 - the export itself succeeded; the log says the audit entry is missing
        log.warning("export %s: audit entry not written: %s", target, e)


def register(server: Flask, services: Services) -> None:
    server.add_url_rule("/api/v1/exports/<export_file>", view_func=export_view, methods=["GET"])
