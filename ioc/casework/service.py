"""The case service: intake from any source and every action, with time limits, routing,
duplicate flags and the dispatch message, on top of the pure workflow and the Redis store.

Used alike by the portal, the JSON API, Open311, the MQTT report intake and the case worker,
so every path follows the same rules.
"""

from __future__ import annotations

import time
from dataclasses import replace

import orjson

from ioc.adapters.case_store import CaseConflict, CaseStore
from ioc.domain import case_catalog
from ioc.domain.access import Principal
from ioc.domain.case_routing import deadline_for, due_at_for, suggest_departments
from ioc.domain.cases import STAGE_WORK, Case, CaseEvent, apply
from ioc.domain.departments import department_ids
from ioc.domain.geo import CityMap
from ioc.domain.work_calendar import WorkCalendar

from .reports import ADDRESS_MAX, DESCRIPTION_MAX, REPORTER_MAX, CaseInputError, media_of, text_of


def dispatch_topic(department: str) -> str:
    return f"ioc/v1/dispatch/{department}"


def dispatch_message(case: Case) -> dict:
    """What a department's own system receives on `ioc/v1/dispatch/{department}` (QoS 1)."""
    minor = case_catalog.MINOR_CLASSES.get(case.class_code)
    return {
        "case_id": case.id, "version": case.version, "class_code": case.class_code,
        "class_zh": minor.name_zh if minor else "", "class_en": minor.name_en if minor else "",
        "department": case.department, "district": case.district, "lat": case.lat, "lon": case.lon,
        "address": case.address, "description": case.description, "media": list(case.media),
        "urgent": case.urgent, "deadline": case.stage_deadline, "due_at": case.due_at, "rework_count": case.rework_count,
        "ts": case.updated_at,
    }


class CaseService:
    def __init__(self, store: CaseStore, city: CityMap, calendar: WorkCalendar, duplicate_radius_m: float = 100,
                 duplicate_window_hours: float = 72):
        self.store = store
        self.city = city
        self.calendar = calendar
        self.departments = department_ids(city)
        self.duplicate_radius_m = duplicate_radius_m
        self.duplicate_window_ms = int(duplicate_window_hours * 3_600_000)

    @classmethod
    def from_settings(cls, redis_client, city: CityMap, settings) -> "CaseService":
        return cls(CaseStore(redis_client), city, settings.work_calendar(), settings.duplicate_radius_m,
                   settings.duplicate_window_hours)

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
        if report_id and (existing := self.store.by_report(report_id)) is not None:
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

    # ---- actions -----------------------------------------------------------------------------

    def act(self, case_id: str, action: str, principal: Principal, *, expected_version: int | None = None, note: str = "",
            department: str = "", hours: int = 0, master_id: str = "", now_ms: int | None = None, ip: str = "") -> Case:
        """Take `action` on the case as `principal`. With `expected_version`, refuse (CaseConflict)
        if the case changed since the caller read it; the store checks again atomically."""
        now = int(now_ms if now_ms is not None else time.time() * 1000)
        case = self.store.get(case_id)
        if expected_version is not None and int(expected_version) != case.version:
            raise CaseConflict(case_id, int(expected_version), case.version)
        if action == "dispatch":
            department = department or case.suggested_department
            if department not in self.departments:
                raise CaseInputError("department", f"unknown department {department!r}")
        if action == "merge":
            master = self.store.find(master_id) if master_id else None
            if master is None or not master.is_open:
                raise CaseInputError("master_id", f"merge needs an open master case; {master_id!r} is not one")
        after, event = apply(case, action, principal, now, note=note, department=department, hours=hours, master_id=master_id)
        after = self._deadlines(case, after, action, now)
        outbox = None
        if action in ("dispatch", "check_fail"):  # a new task (or rework) for the department's own system
            outbox = {"topic": dispatch_topic(after.department), "payload": orjson.dumps(dispatch_message(after)).decode()}
        return self.store.save_transition(case, after, event, outbox, ip)

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


def _coordinate(value, field: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or not lo <= value <= hi:
        raise CaseInputError(field, f"{field} must be a number between {lo} and {hi}")
    return float(value)
