"""The case service: intake from any source, every read and every action, with time limits,
routing, duplicate flags and the dispatch message, on top of the pure workflow and the Redis store.

One per process (`ioc.web.services.Services.cases` in the web, one in the case worker), used
alike by the portal, the JSON API, Open311, the MQTT report intake and the department updates,
so every path follows the same rules:

- who may see a case is `ioc.domain.cases.visible_to`, checked here for every read and every
  action: a case the principal may not see is `CaseNotFound`, exactly as an unknown id;
- an action is checked in one order, for every entry: the inputs' types (`CaseInputError`
  naming the field), whether the principal's roles may ever take the action (`CaseActionError`
  for an unknown action, `CasePermissionError`: it depends on no case), the case and whether
  the principal may see it (`CaseNotFound`), the version (`CaseConflict`, once more by the
  store's script), then the workflow's rules of this case (`CaseActionError`);
- `refusal(error)` turns any of these into one `Refusal` (HTTP status, error word, field,
  message) that each entry words in its own way: JSON, Open311's error list, the page's
  language, a dead letter.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import orjson

from ioc.adapters.case_store import CaseConflict, CaseNotFound, CaseStore
from ioc.domain import case_catalog
from ioc.domain.access import AccessDenied, Principal
from ioc.domain.case_routing import deadline_for, due_at_for, suggest_departments
from ioc.domain.cases import (CHECKIN_RADIUS_M, STAGE_WORK, Case, CaseActionError, CaseEvent, CasePermissionError, apply,
                              check_may_take, visible_to)
from ioc.domain.departments import all_departments, department_ids
from ioc.domain.geo import CityMap
from ioc.domain.media import media_links
from ioc.domain.notifications import Intent
from ioc.domain.work_calendar import WorkCalendar

from .reports import ADDRESS_MAX, DESCRIPTION_MAX, REPORTER_MAX, CaseInputError, media_of, text_of


# every refusal of the service: what each entry catches and hands to `refusal`
CASE_REFUSALS = (CaseNotFound, CaseConflict, CaseActionError, CaseInputError, AccessDenied)


@dataclass(frozen=True)
class Refusal:
    """A refused read, report or action, as every entry answers it: `status` and `error` as the
    JSON API sends them (404 not_found, 409 conflict, 403 forbidden, 400 bad_request), the
    `field` at fault (400 only), the stored `version` (409 only) and the English `message`."""

    status: int
    error: str
    message: str
    field: str = ""
    version: int | None = None

    def extra(self) -> dict:
        """The fields the JSON API adds to `{"error", "message"}`."""
        if self.status == 409:
            return {"version": self.version}
        return {"field": self.field} if self.status == 400 else {}


def refusal(error: Exception) -> Refusal:
    """The one mapping of the service's errors: an unknown case and a case the principal may not
    see alike 404, a stale version 409, an action the role (or the kiosk) may not take 403, any
    bad input or an action the stage does not allow 400 with the field."""
    if isinstance(error, CaseNotFound):
        return Refusal(404, "not_found", str(error))
    if isinstance(error, CaseConflict):
        return Refusal(409, "conflict", str(error), version=error.stored)
    if isinstance(error, (CasePermissionError, AccessDenied)):
        return Refusal(403, "forbidden", str(error))
    return Refusal(400, "bad_request", str(error), getattr(error, "field", "") or "")


# the case actions that notify people (`ioc.domain.notifications` kinds), written with the transition
NOTIFY_KINDS = {"dispatch": "case.dispatched", "check_fail": "case.rework", "request_deferral": "case.deferral_requested",
                "urge": "case.urged"}


def dispatch_topic(department: str) -> str:
    return f"ioc/v1/dispatch/{department}"


def dispatch_message(case: Case, public_url: str = "") -> dict:
    """What a department's own system receives on `ioc/v1/dispatch/{department}` (QoS 1); `media`
    holds the report's links and the links to the stored photos (under `public_url`, the portal's
    `IOC_PUBLIC_URL`; root-relative paths when it is unset)."""
    minor = case_catalog.MINOR_CLASSES.get(case.class_code)
    return {
        "case_id": case.id, "version": case.version, "class_code": case.class_code,
        "class_zh": minor.name_zh if minor else "", "class_en": minor.name_en if minor else "",
        "department": case.department, "district": case.district, "lat": case.lat, "lon": case.lon,
        "address": case.address, "description": case.description, "media": list(case.media) + media_links(case, public_url),
        "urgent": case.urgent, "deadline": case.stage_deadline, "due_at": case.due_at, "rework_count": case.rework_count,
        "ts": case.updated_at,
    }


class CaseService:
    def __init__(self, store: CaseStore, city: CityMap, calendar: WorkCalendar, duplicate_radius_m: float = 100,
                 duplicate_window_hours: float = 72, checkin_radius_m: float = CHECKIN_RADIUS_M, public_url: str = "",
                 archive=None):
        self.store = store
        self.archive = archive  # ioc.record.archive.CaseArchive (DATABASE_URL set): the cases that left Redis
        self.checkin_radius_m = checkin_radius_m
        self.public_url = public_url
        self.city = city
        self.calendar = calendar
        self.departments = department_ids(city)
        self.department_names = {d.id: d for d in all_departments(city)}
        self.duplicate_radius_m = duplicate_radius_m
        self.duplicate_window_ms = int(duplicate_window_hours * 3_600_000)

    @classmethod
    def from_settings(cls, redis_client, city: CityMap, settings) -> "CaseService":
        archive = None
        if settings.database_url:
            from ioc.record.archive import CaseArchive

            archive = CaseArchive(settings.database_url, settings.db_pool_size)
        return cls(CaseStore(redis_client, settings.record_stream_maxlen), city, settings.work_calendar(), settings.duplicate_radius_m,
                   settings.duplicate_window_hours, settings.checkin_radius_m, settings.public_url, archive)

    # ---- intake ------------------------------------------------------------------------------

    def report(self, *, class_code: str, lat: float, lon: float, source: str, actor: str, role: str = "system",
               description: str = "", report_id: str = "", reporter: str = "", device_id: str = "", media=(),
               address: str = "", now_ms: int | None = None, ip: str = "") -> tuple[Case, bool]:
        """Make a case from a report; returns (case, True), or (the existing case, False) when the
        report id (or the device, for this class) already has one. Nothing is stored on error.

        Every intake comes through here, so the report rules of `ioc.casework.reports` apply to
        all: description, address, reporter and media are refused whole (`CaseInputError`) when
        over their limits, never shortened. `report_id` is the edge's key, already checked there
        with `report_id_of` (Open311 and sensor alarms prefix it with their own namespace)."""
        now = int(now_ms if now_ms is not None else time.time() * 1000)
        try:
            minor = case_catalog.minor(class_code)
        except KeyError:
            raise CaseInputError("category", f"unknown category {class_code!r}: use a minor class code of the catalog (GET /open311/v2/services.json)") from None
        lat, lon = _coordinate(lat, "lat", -90, 90), _coordinate(lon, "lon", -180, 180)
        district = self.city.district_at(lon, lat)
        if district is None:
            raise CaseInputError("lat", f"({lat}, {lon}) is outside the city")
        description = text_of(description, "description", DESCRIPTION_MAX)  # the intake's rules, refused whole, never cut
        address = text_of(address, "address", ADDRESS_MAX)
        reporter = text_of(reporter, "reporter", REPORTER_MAX)
        media = media_of(media)
        if report_id and (existing_id := self.store.report_case_id(report_id)):
            existing, _archived = self._find(existing_id)
            if existing is not None:  # in Redis, or archived in the record (the mapping stays in Redis)
                return existing, False
        duplicates = tuple(c for c in self.store.nearby_open(class_code, lon, lat, self.duplicate_radius_m)
                           if (other := self.store.find(c)) is not None and now - other.created_at <= self.duplicate_window_ms)
        cell = self.city.cell_at(lon, lat)
        case = Case(
            id=self.store.next_id(now), class_code=class_code, lat=lat, lon=lon, district=district, source=source,
            created_at=now, description=description, address=address, cell=cell or "", report_id=report_id,
            reporter=reporter, filed_by=actor, device_id=device_id, media=media, urgent=minor.urgent,
            suggested_department=suggest_departments(minor, district)[0], stage_since=now,
            stage_deadline=deadline_for(minor, STAGE_WORK["reported"], now, self.calendar),
            due_at=due_at_for(minor, now, self.calendar), possible_duplicates=duplicates, updated_at=now,
        )
        event = CaseEvent(case.id, "report", actor, role, "", "reported", now, description[:200],
                          {"source": source, "report_id": report_id, **({"device_id": device_id} if device_id else {}),
                           **({"possible_duplicates": list(duplicates)} if duplicates else {})})
        return self.store.create(case, event, ip)

    # ---- reads -------------------------------------------------------------------------------

    def _find(self, case_id) -> tuple[Case | None, bool]:
        """(the case, whether it is archived): Redis first, then the record for a case that left
        Redis (`ioc.record.archive`); (None, False) when neither has it."""
        if not isinstance(case_id, str) or not case_id:
            return None, False
        case = self.store.find(case_id)
        if case is None and self.archive is not None:
            case = self.archive.get(case_id)
            return case, case is not None
        return case, False

    def _visible(self, case_id, principal: Principal | None) -> tuple[Case, bool]:
        case, archived = self._find(case_id)
        if case is None or not visible_to(case, principal):
            raise CaseNotFound(f"no case {case_id!r}")
        return case, archived

    def case_for(self, case_id, principal: Principal | None) -> Case:
        """The case, if `principal` may see it (`visible_to`); `CaseNotFound` otherwise, with the
        same words as for an id that does not exist. A case that left Redis (ended more than
        IOC_CASE_HOT_DAYS ago) is read from the record."""
        return self._visible(case_id, principal)[0]

    def timeline_for(self, case_id, principal: Principal | None) -> tuple[Case, list[CaseEvent]]:
        """The case and its timeline, if `principal` may see it (else `CaseNotFound`); the
        record's for an archived case."""
        case, archived = self._visible(case_id, principal)
        return case, (self.archive.timeline(case.id) if archived else self.store.timeline(case.id))

    def archived_page(self, principal: Principal | None, filters: dict, limit: int, hot_days: int,
                      now_ms: int | None = None) -> tuple[int, list[Case]]:
        """The cases that ended more than `hot_days` ago (those the record answers for, archived or
        about to be), matching `filters` and visible to `principal`: (how many, the `limit` newest
        created). (0, []) without a record or when nothing leaves Redis (`hot_days` 0)."""
        scope = archive_scope(principal)
        if self.archive is None or hot_days <= 0 or scope is None:
            return 0, []
        now = int(now_ms if now_ms is not None else time.time() * 1000)
        total, rows = self.archive.ended_page(now - hot_days * 86_400_000, filters, scope, limit)
        return total, [c for c in rows if visible_to(c, principal)]

    def archived_for(self, principal: Principal | None, from_ms: int, to_ms: int, *, field: str = "created",
                     limit: int | None = None) -> list[Case]:
        """The archived cases (ended, no longer in Redis) `principal` may see, created (`field`
        "created") or ended ("closed") within [from_ms, to_ms), newest first; [] without a record."""
        if self.archive is None:
            return []
        found = self.archive.closed_between(from_ms, to_ms, field=field)
        held = self.store.versions(c.id for c in found)  # still in Redis: the list has those already
        rows = [c for c in found if c.id not in held and visible_to(c, principal)]
        return rows[:limit] if limit is not None else rows

    def cases_for(self, principal: Principal | None, open_only: bool = True) -> list[Case]:
        """The cases `principal` may see: the open ones, or all of them."""
        found = self.store.open_cases() if open_only else self.store.all()
        return [c for c in found if visible_to(c, principal)]

    # ---- actions -----------------------------------------------------------------------------

    def act(self, case_id: str, action: str, principal: Principal, *, expected_version: int | None = None, note: str | None = "",
            department: str | None = "", hours: int | None = None, master_id: str | None = "", now_ms: int | None = None,
            ip: str = "", lat=None, lon=None, accuracy=None, require_after_photo: bool = False,
            attachments: tuple[dict, ...] = (), max_attachments: int = 0) -> Case:
        """Take `action` on the case as `principal`; the one place that decides, for every entry.

        In this order, the same for every entry:
        1. the inputs' types (`CaseInputError`: `action` a string, `version` and `hours`
           integers when given, `note`, `department`, `master_id` strings);
        2. the action is one of the workflow's (`CaseActionError`, field `action`) and the
           principal may ever take it: signed in, not a read-only kiosk, one of its roles among
           the action's (`CasePermissionError`). This depends on no case, so it reveals nothing;
        3. the case exists and `principal` may see it (`CaseNotFound`, as for an unknown id);
        4. `expected_version`, when given, is the stored one (`CaseConflict`);
        5. the workflow (`apply`: the stage, a handler's department, the note required and at
           most `NOTE_MAX`, the deferral's 1 to `DEFERRAL_MAX_HOURS` hours, a master other than
           the case, 签收 before 到场 and the position within `checkin_radius_m`, an `after` photo
           for `handle` when `require_after_photo`), then the department (one of the city's) and
           the master case (an open one).
        The store checks the version again atomically when it writes.

        `lat`, `lon`, `accuracy` (metres) are the phone's position (arrive); `attachments` the
        new `Attachment` dicts of an upload (attach, from `ioc.media.service` only: the ones the
        case already holds are left out, and with nothing new the case is returned as it is)."""
        expected_version, hours, note, department, master_id = _action_inputs(action, expected_version, hours, note, department,
                                                                              master_id)
        lat, lon, accuracy = _position_inputs(lat, lon, accuracy)
        check_may_take(action, principal)
        now = int(now_ms if now_ms is not None else time.time() * 1000)
        case, archived = self._visible(case_id, principal)
        if archived:
            raise CaseActionError(f"case {case.id} is {case.stage} and archived: it can no longer be changed", code="archived")
        if expected_version is not None and expected_version != case.version:
            raise CaseConflict(case.id, expected_version, case.version)
        if action == "dispatch":
            department = department or case.suggested_department
        if action == "attach" and attachments and all(a.get("id") in {h.get("id") for h in case.attachments} for a in attachments):
            return case  # the same files again: already on the case
        after, event = apply(case, action, principal, now, note=note, department=department, hours=hours if hours is not None else 0,
                             master_id=master_id, attachments=attachments, max_attachments=max_attachments, lat=lat, lon=lon,
                             accuracy=accuracy, radius_m=self.checkin_radius_m, require_after_photo=require_after_photo)
        if action == "dispatch" and department not in self.departments:
            raise CaseInputError("department", f"unknown department {department!r}")
        if action == "merge":
            master = self.store.find(master_id)
            if master is None or not master.is_open:
                raise CaseInputError("master_id", f"merge needs an open master case; {master_id!r} is not one")
        after = self._deadlines(case, after, action, now)
        outbox = None
        if action in ("dispatch", "check_fail"):  # a new task (or rework) for the department's own system
            outbox = {"topic": dispatch_topic(after.department),
                      "payload": orjson.dumps(dispatch_message(after, self.public_url)).decode()}
        kind = NOTIFY_KINDS.get(action)
        notify = [self.intent(kind, after, now, note=note, hours=hours or 0, by=principal.label or principal.name)] if kind else []
        return self.store.save_transition(case, after, event, outbox, ip, notify)

    def intent(self, kind: str, case: Case, now: int, **extra) -> Intent:
        """The notification intent `kind` of `case` (as it is after the change), with the facts
        the texts need in people's words (`ioc.domain.notifications`)."""
        minor = case_catalog.MINOR_CLASSES.get(case.class_code)
        district = self.city.district(case.district)
        department = self.department_names.get(case.department)
        facts = {"case_id": case.id, "class_zh": minor.name_zh if minor else case.class_code,
                 "class_en": minor.name_en if minor else case.class_code,
                 "district_zh": district.name_zh if district else case.district,
                 "district_en": district.name_en if district else case.district,
                 "address": case.address, "department_zh": department.name_zh if department else case.department,
                 "department_en": department.name_en if department else case.department,
                 "stage": case.stage, "deadline": case.stage_deadline, "rework_count": case.rework_count,
                 "link": f"/case/{case.id}", **{k: v for k, v in extra.items() if v}}
        if kind == "case.deferral_requested":
            facts["hours"] = int((case.pending_deferral or {}).get("hours") or extra.get("hours") or 0)
        severity = "warning" if case.urgent or kind in ("case.overdue", "case.urged") else "info"
        return Intent(kind=kind, subject=f"case:{case.id}", version=str(case.version), at=now, severity=severity,
                      departments=(case.department,) if case.department else (), district=case.district, facts=facts)

    def _deadlines(self, before: Case, after: Case, action: str, now: int) -> Case:
        minor = case_catalog.MINOR_CLASSES.get(after.class_code)
        if minor is None or not after.is_open:
            return after
        if after.stage != before.stage:
            return replace(after, stage_deadline=deadline_for(minor, STAGE_WORK[after.stage], now, self.calendar))
        if action == "approve_deferral":
            hours = after.deferred_hours - before.deferred_hours
            return replace(after,
                           stage_deadline=self.calendar.add_hours(max(before.stage_deadline, now), hours, minor.calendar_hours),
                           due_at=self.calendar.add_hours(max(before.due_at, now), hours, minor.calendar_hours))
        return after


def archive_scope(principal: Principal | None) -> dict | None:
    """`visible_to` as the record's query takes it: {} every case, {"department": …} a department
    handler's, {"filed_by": …} a reporting system's own, None nothing."""
    if principal is None:
        return None
    probe = Case(id="", class_code="", lat=0.0, lon=0.0, district="", source="", created_at=0)
    if visible_to(probe, principal):  # one that sees a case of no department, filed by nobody: sees them all
        return {}
    if "handler" in principal.roles and principal.department and visible_to(
            replace(probe, department=principal.department), principal):
        return {"department": principal.department}
    if visible_to(replace(probe, filed_by=principal.name), principal):
        return {"filed_by": principal.name}
    return None


def _action_inputs(action, version, hours, note, department, master_id):
    """The inputs of an action, type-checked alike for every entry: (version, hours, note,
    department, master_id) with None texts as "" and the master id without blanks around it."""
    if not isinstance(action, str):
        raise CaseInputError("action", "action must be the name of a workflow action")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise CaseInputError("version", "version must be the integer version you read")
    if hours is not None and (isinstance(hours, bool) or not isinstance(hours, int)):
        raise CaseInputError("hours", "hours must be an integer")
    texts = []
    for name, value in (("note", note), ("department", department), ("master_id", master_id)):
        if value is not None and not isinstance(value, str):
            raise CaseInputError(name, f"{name} must be a string")
        texts.append(value or "")
    note, department, master_id = texts
    return version, hours, note, department, master_id.strip()


def _position_inputs(lat, lon, accuracy):
    """The phone's position of an action (None when not given): lat, lon in range, accuracy a
    number of metres, 0 or more."""
    lat = None if lat is None else _coordinate(lat, "lat", -90, 90)
    lon = None if lon is None else _coordinate(lon, "lon", -180, 180)
    if accuracy is not None:
        accuracy = _coordinate(accuracy, "accuracy", 0, 1e7)
    return lat, lon, accuracy


def _coordinate(value, field: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or not lo <= value <= hi:
        raise CaseInputError(field, f"{field} must be a number between {lo} and {hi}")
    return float(value)
