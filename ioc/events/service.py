"""The event service: every read and every action on linked events (大联动), for every entry.

One per process (`ioc.web.services.Services.events` in the web, one in the case worker), used
alike by the portal, the JSON API and the department systems' MQTT updates, so every path
follows the same rules (`ioc.domain.events` decides, `ioc.adapters.event_store` stores):

- who may see an event is `ioc.domain.events.visible_to`, checked here for every read and every
  action: an event the principal may not see is `EventNotFound`, exactly as an unknown id;
- an action is checked in one order, for every entry: the inputs' types (`EventError` naming the
  field, 400), whether the principal may ever take the action (`EventPermissionError`, 403: it
  depends on no event), the event and whether the principal may see it (`EventNotFound`, 404),
  the version (`EventConflict`, 409), then the event's rules (`EventError` 400 /
  `EventPermissionError` 403 from the domain);
- versions: an event action (level, instruction, close, contain, cancel, a task added or
  withdrawn) checks the EVENT version it was given; a department's task action checks the TASK
  version when given, so eight departments acting at once do not refuse each other. The store
  writes only over the event version it read; when someone else wrote in between, the change is
  read, checked and applied again (up to `CAS_ATTEMPTS` times);
- every change is stored with its audit entry (`event.start`, `event.level`, `event.instruct`,
  `event.task.<action>` …) and the messages for the department systems (a task issued,
  reissued, changed or withdrawn; an instruction) in one step (`EventStore`'s script);
- `refusal(error)` (the cases' one mapping) turns any refusal into an HTTP status, error word,
  field and message; refusals are counted (`events:refused` in `ioc:metrics`).
"""

from __future__ import annotations

import functools
import random
import threading
import time
from collections import Counter, OrderedDict

from ioc.adapters import counters
from ioc.adapters.alarm_store import AlarmNotFound, AlarmStore
from ioc.adapters.case_store import CaseStore
from ioc.adapters.event_index import event_index
from ioc.adapters.event_store import EventConflict, EventNotFound, EventStore, audit_fields, outbox_message
from ioc.adapters.geodata_files import load_city_map
from ioc.adapters.snapshot_store import SnapshotStore
from ioc.casework.service import Refusal, dispatch_topic
from ioc.casework.service import refusal as case_refusal
from ioc.domain import events as ev
from ioc.domain.access import Principal, allowed
from ioc.domain.departments import all_departments, department_ids
from ioc.domain.notifications import Intent
from ioc.domain.event_area import (DevicePoints, area_centre, area_district, area_districts, area_from_input, area_geojson,
                                   area_geometry, devices_inside, linked_with)
from ioc.domain.event_triggers import Proposal
from ioc.domain.events import Event, EventError, EventPermissionError
from ioc.domain.geo import CityMap, metres
from ioc.domain.plans import LEVELS, TERRITORY, Plan, PlanError, builtin_plans, level_label, plans_from_file

from .messages import INSTRUCTION_TYPE, TASK_TYPE

# every refusal of the service: what each entry catches and hands to `refusal`
EVENT_REFUSALS = (EventNotFound, EventConflict, EventError, EventPermissionError)

CAS_ATTEMPTS = 12  # a change is read, checked and applied again this often when others wrote in between
CAS_PAUSE_S = 0.002  # up to this long (doubling with each attempt, at random) before trying again …
CAS_PAUSE_MAX_S = 0.02  # … but never longer (eight departments acting at once on a fast store: many short rounds)
TITLE_MAX, TEXT_MAX, SUMMARY_MAX = ev.TITLE_MAX, ev.NOTE_MAX, ev.SUMMARY_MAX  # the domain's limits, checked first here
ID_MAX = 64
LINK_RADIUS_M = 1000  # the area of an event started from an alarm or a case: a circle this wide around it
EVIDENCE_MARGIN_M = 1000  # the area of an event started from a proposal covers its evidence with this margin
AREA_RADIUS_MAX_M = 30_000
LINKED_DEVICE_IDS = 200  # device ids `GET /api/v1/events/<id>` lists at most (`?devices=all`: every one)
LINKED_KEPT = 256  # areas whose linked devices the service keeps per registry (and per snapshot for alarms, cases)
LIVE = ("issued", "acknowledged", "on_site", "working")  # task statuses that still have work to do
ENDED = ("closed", "cancelled")

# event action -> the permission a principal needs to ever take it (`ioc.domain.access.PERMISSIONS`);
# every task action (`ioc.domain.events.TASK_ACTIONS`) needs TASK_PERMISSION
PERMISSION_OF: dict[str, str] = {
    "start_event": "event:command", "level": "event:command", "contain": "event:command", "close": "event:command",
    "cancel": "event:command", "add_task": "event:command", "withdraw_task": "event:command", "dismiss": "event:command",
    "instruct": "event:instruct", "acknowledge_instruction": "event:task",
}
TASK_PERMISSION = "event:task"


def refusal(error: Exception) -> Refusal:
    """The one mapping of the service's errors (the cases' `refusal`): an unknown event and one
    the principal may not see alike 404, a stale version 409 (with the stored version: the
    event's, or the task's for a task action), a role that may not 403, bad input or an action
    the event's state does not allow 400 with the field."""
    if isinstance(error, EventNotFound):
        return Refusal(404, "not_found", str(error))
    if isinstance(error, EventConflict):
        return Refusal(409, "conflict", str(error), version=error.stored)
    if isinstance(error, EventPermissionError):
        return Refusal(403, "forbidden", str(error))
    return case_refusal(error)


def _counted(method):
    """Count a refused action (`events:refused`) before the refusal goes on to its entry."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except EVENT_REFUSALS:
            try:
                counters.add(self.store.redis, "events:refused")
            except Exception:  # noqa: BLE001 - the refusal matters more than its count
                pass
            raise
    return wrapper


# ---- inputs --------------------------------------------------------------------------------------

def _text(value, field: str, limit: int, required: bool = False) -> str:
    """A text input (optional unless `required`), by the domain's one rule (`ioc.domain.events.text_input`)."""
    return ev.text_input(value, field, limit, required=required)


def _version(value, field: str = "version") -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise EventError(f"{field} must be the integer version you read", field)
    return value


def _may(principal: Principal | None, action: str, task: bool = False) -> None:
    """The principal may ever take `action` (its roles; a kiosk never): else 403, whatever the event."""
    if task:
        ev.check_may_take_task(action, principal)
    elif action in ev.ACTION_ROLES:
        ev.check_may_take(action, principal)
    elif not allowed(principal, PERMISSION_OF[action]):
        who = "a read-only kiosk session" if principal is not None and principal.read_only else \
            f"role {principal.role if principal else '(anonymous)'}"
        raise EventPermissionError(f"{who} may not {action.replace('_', ' ')} ({PERMISSION_OF[action]})")


def covering_circle(points: list[tuple[float, float]], margin_m: float = EVIDENCE_MARGIN_M) -> dict:
    """An area input (`{"type": "circle", …}`) around `points` ((lon, lat)), with `margin_m` to spare."""
    lon = sum(p[0] for p in points) / len(points)
    lat = sum(p[1] for p in points) / len(points)
    radius = max(metres(lon, lat, x, y) for x, y in points) + margin_m
    return {"type": "circle", "center": [lon, lat], "radius_m": round(min(max(radius, margin_m), AREA_RADIUS_MAX_M))}


# ---- the messages department systems receive ----------------------------------------------------

_AREA_PARTS: OrderedDict = OrderedDict()  # (Area, id(city)) -> (city, geometry GeoJSON, (lon, lat)): an area never changes
_AREA_PARTS_LOCK = threading.Lock()


def _area_parts(area, city: CityMap) -> tuple[dict, tuple[float, float]]:
    """The area's GeoJSON geometry and centre as the task messages carry them, made once per area
    (a level change sends a message per department, each with the area)."""
    key = (area, id(city))
    with _AREA_PARTS_LOCK:
        held = _AREA_PARTS.get(key)
    if held is not None and held[0] is city:
        return held[1], held[2]
    geometry, centre = area_geojson(area, city).get("geometry"), area_centre(area, city)
    with _AREA_PARTS_LOCK:
        _AREA_PARTS[key] = (city, geometry, centre)
        while len(_AREA_PARTS) > LINKED_KEPT:
            _AREA_PARTS.popitem(last=False)
    return geometry, centre


def task_message(event: Event, task, plan: Plan | None, city: CityMap) -> dict:
    """What a department's system receives on `ioc/v1/dispatch/{department}` for an event task
    (issued, reissued, changed or withdrawn: `status` says which)."""
    geometry, (lon, lat) = _area_parts(event.area, city)
    level_zh, level_en = level_label(event.level, "zh"), level_label(event.level, "en")
    return {
        "type": TASK_TYPE, "event_id": event.id, "task_id": task.id, "version": task.version, "event_version": event.version,
        "status": task.status, "plan": event.plan, "plan_zh": plan.name_zh if plan else event.plan,
        "plan_en": plan.name_en if plan else event.plan, "level": event.level, "level_zh": level_zh, "level_en": level_en,
        "role": task.role, "text_zh": task.text_zh, "text_en": task.text_en, "title": event.title, "district": event.district,
        "area": geometry, "lat": lat, "lon": lon,
        "ack_within_min": task.ack_min, "arrive_within_min": task.arrive_min, "report_every_min": task.report_min,
        "commander": event.commander_label or event.commander, "issued_at": task.issued_at, "ts": event.updated_at,
    }


def instruction_message(event: Event, instruction) -> dict:
    """A leader's instruction, to every department that must acknowledge it."""
    return {"type": INSTRUCTION_TYPE, "event_id": event.id, "instruction_id": instruction.id, "text": instruction.text,
            "by": instruction.by_label or instruction.by, "ts": instruction.at}


def _task_changed(old, new, level_changed: bool) -> bool:
    """Whether the department's system must hear of this task again."""
    if old is None:
        return True
    if new.status != old.status:
        return new.status in ("issued", "withdrawn")  # reissued, or withdrawn (the department's own steps: no)
    if new.status not in LIVE:
        return False
    return level_changed or (new.text_zh, new.text_en, new.role, new.ack_min, new.arrive_min, new.report_min) != \
        (old.text_zh, old.text_en, old.role, old.ack_min, old.arrive_min, old.report_min)


def outbox_of(before: Event | None, after: Event, plan: Plan | None, city: CityMap) -> list[dict]:
    """The outbox entries a change from `before` (None: a start) to `after` produces."""
    out = []
    level_changed = before is not None and before.level != after.level
    for task in after.tasks:
        if _task_changed(before.task(task.department) if before else None, task, level_changed):
            out.append(outbox_message(dispatch_topic(task.department), task_message(after, task, plan, city)))
    known = {i.id for i in before.instructions} if before else set()
    for instruction in after.instructions:
        if instruction.id not in known:
            message = instruction_message(after, instruction)
            out.extend(outbox_message(dispatch_topic(d), message) for d in instruction.required)
    return out


def intents_of(before: Event | None, after: Event, plan: Plan | None, city: CityMap, now: int) -> list[Intent]:
    """The notification intents a change from `before` (None: a start) to `after` causes: the
    start, each task issued (or issued again) to its department, a level change, a leader's
    instruction (to the lead departments). Written with the change (`ioc.domain.notifications`)."""
    names = _department_names(city)
    district = city.district(after.district)
    lead = after.lead
    base = {"event_id": after.id, "title": after.title, "plan_zh": plan.name_zh if plan else after.plan,
            "plan_en": plan.name_en if plan else after.plan, "level_zh": level_label(after.level, "zh"),
            "level_en": level_label(after.level, "en"), "district_zh": district.name_zh if district else after.district,
            "district_en": district.name_en if district else after.district, "by": after.commander_label or after.commander,
            "leads": [lead.department] if lead else [], "link": f"/event/{after.id}"}
    live = tuple(t.department for t in after.tasks if t.live)
    subject, version = f"event:{after.id}", str(after.version)

    def intent(kind: str, departments, severity: str = "warning", version_of: str = version, **facts) -> Intent:
        return Intent(kind, subject, version_of, now, severity, tuple(departments), after.district, {**base, **facts})

    out = []
    if before is None:
        out.append(intent("event.started", live))
    elif before.level != after.level:
        out.append(intent("event.level", live, reason=_last_log_param(after, "reason")))
    for task in after.tasks:
        old = before.task(task.department) if before else None
        if task.status == "issued" and (old is None or old.status != "issued"):
            dept = names.get(task.department)
            out.append(intent("event.task", (task.department,), version_of=f"{after.version}:{task.id}",
                              department_zh=dept.name_zh if dept else task.department,
                              department_en=dept.name_en if dept else task.department,
                              task_zh=task.text_zh, task_en=task.text_en, ack_min=task.ack_min, role=task.role))
    known = {i.id for i in before.instructions} if before else set()
    for instruction in after.instructions:
        if instruction.id not in known:
            out.append(intent("event.instruction", instruction.required or live, version_of=f"{after.version}:{instruction.id}",
                              text=instruction.text, by=instruction.by_label or instruction.by))
    return out


def _last_log_param(event: Event, name: str) -> str:
    return str(event.log[-1].params.get(name) or "") if event.log else ""


def _department_names(city: CityMap) -> dict:
    return {d.id: d for d in all_departments(city)}


class EventService:
    def __init__(self, store: EventStore, city: CityMap, plans: dict[str, Plan], departments: frozenset[str], *,
                 alarms: AlarmStore | None = None, cases: CaseStore | None = None, snapshot: SnapshotStore | None = None):
        self.store = store
        self.city = city
        self.plans = plans
        self.departments = departments
        self.alarms = alarms or AlarmStore(store.redis)
        self.cases = cases or CaseStore(store.redis, store.record_maxlen)
        self.snapshot = snapshot or SnapshotStore(store.redis, 8)
        self._active: tuple[int, tuple[Event, ...]] | None = None  # (revision, the active events then)
        self._lock = threading.Lock()
        self._points: tuple = ("", None, 0)  # (registry places version, DevicePoints, positions generation)
        self._geometry: OrderedDict = OrderedDict()  # Area -> its shapely geometry (an area never changes)
        self._inside: OrderedDict = OrderedDict()  # (Area, places version) -> device rows inside
        self._near: tuple = (None, {})  # (snapshot, {Area: (alarm ids, case ids)}): per shared snapshot

    @classmethod
    def from_settings(cls, redis_client, city: CityMap, settings) -> "EventService":
        """The service with the plans of `IOC_PLANS_FILE` (unset: the built-in ones). A bad plans
        file raises `PlanError` (its path and reason): the process stops at start, saying why."""
        return cls(EventStore(redis_client, settings.record_stream_maxlen), city, load_plans(settings, city), department_ids(city),
                   snapshot=SnapshotStore(redis_client, settings.redis_shards))

    # ---- reads -------------------------------------------------------------------------------

    def plan(self, plan_id: str) -> Plan | None:
        return self.plans.get(plan_id) if isinstance(plan_id, str) else None

    def event_for(self, event_id, principal: Principal | None) -> Event:
        """The event, if `principal` may see it; `EventNotFound` otherwise, with the same words as
        for an id that does not exist."""
        event = self.store.find(event_id) if isinstance(event_id, str) and event_id else None
        if event is None or not ev.visible_to(event, principal):
            raise EventNotFound(f"no event {event_id!r}")
        return event

    def events_for(self, principal: Principal | None, *, status: str = "", plan: str = "", district: str = "",
                   active_only: bool = False) -> list[Event]:
        """The events `principal` may see that match every filter given, newest start first (from
        the process's `EventIndex`: one GET while no event changed)."""
        return [e for e in event_index(self, self.store).view().events
                if (not active_only or e.is_open) and (not status or e.status == status) and (not plan or e.plan == plan)
                and (not district or district == e.district or district in e.districts) and ev.visible_to(e, principal)]

    def active_events(self) -> list[Event]:
        """Every event neither closed nor cancelled (the wall, the trigger scan), oldest start first.
        Kept in memory until the store's revision moves: one GET per call while nothing changes."""
        revision = self.store.revision()
        cached = self._active
        if cached is not None and cached[0] == revision:
            return list(cached[1])
        found = self.store.active()
        self._active = (revision, tuple(found))
        return found

    def tasks_for(self, principal: Principal | None) -> list[tuple[Event, "ev.Task"]]:
        """The live tasks of the principal's department in open events (a handler's inbox; the
        notifications at the top of every page), the longest waiting first."""
        department = principal.department if principal is not None and "handler" in principal.roles else ""
        if not department:
            return []
        found = [(e, t) for e in self.active_events() if (t := e.task(department)) is not None and t.live]
        found.sort(key=lambda pair: (pair[1].issued_at, pair[0].id))
        return found

    def instructions_for(self, principal: Principal | None) -> list[tuple[Event, "ev.Instruction"]]:
        """The instructions the principal's department has still to acknowledge, oldest first."""
        department = principal.department if principal is not None and "handler" in principal.roles else ""
        if not department:
            return []
        found = [(e, i) for e in self.active_events() for i in e.pending_instructions(department)]
        found.sort(key=lambda pair: (pair[1].at, pair[0].id))
        return found

    def revision(self) -> int:
        """Moves with every event change and every change of the proposals: cache until it moves."""
        return self.store.revision()

    def proposals(self) -> list[Proposal]:
        """The current proposals to start an event (the trigger scan's), highest level first."""
        found = [Proposal.from_dict(raw) for raw in self.store.proposals().values()]
        found.sort(key=lambda p: (-LEVELS.index(p.level), p.plan))
        return found

    def detail(self, event: Event, snapshot, now_ms: int | None = None, all_devices: bool = False) -> dict:
        """The event as the API shows it: its stored dict with what lies in its area now
        (`linked`, see `linked_summary`), the overdue steps per department and the figures."""
        now = int(now_ms if now_ms is not None else time.time() * 1000)
        return {
            **event.to_dict(),
            "linked": self.linked_summary(event, snapshot, all_devices),
            "overdue": {t.department: list(ev.overdue(t, now)) for t in event.tasks if ev.overdue(t, now)},
            "figures": ev.figures(event, now).to_dict(),
        }

    # ---- what an area links (kept: the registry's positions and an area change seldom) -----------

    def device_points(self, snapshot) -> DevicePoints:
        """The registry's positions as arrays, made once per places version of the registry
        (`FleetIndex.places_version`: online states moving do not make them again)."""
        return self._device_points(snapshot)[0]

    def _device_points(self, snapshot) -> tuple[DevicePoints, int]:
        """(DevicePoints, generation): the generation moves only when a device's id, kind or place
        differs — a registry rewritten with the same places (a status message restating where a
        device is) keeps the arrays and what was found inside areas."""
        version = getattr(snapshot.fleet, "places_version", "")
        with self._lock:
            held_version, held, generation = self._points
        if held is not None and version and held_version == version:
            return held, generation
        devices = snapshot.devices
        if held is not None and version and len(held.devices) == len(devices) and all(
                a is b or (a.id == b.id and a.kind == b.kind and a.lon == b.lon and a.lat == b.lat)
                for a, b in zip(held.devices, devices)):
            with self._lock:
                self._points = (version, held, generation)
            return held, generation
        points = DevicePoints(devices)
        if not version:
            return points, -1
        with self._lock:
            generation = self._points[2] + 1
            self._points = (version, points, generation)
        return points, generation

    def area_geometry(self, area):
        """The shapely geometry of an area (kept: an event's area never changes)."""
        with self._lock:
            found = self._geometry.get(area)
        if found is None:
            found = area_geometry(area, self.city)
            with self._lock:
                self._geometry[area] = found
                while len(self._geometry) > LINKED_KEPT:
                    self._geometry.popitem(last=False)
        return found

    def devices_in(self, area, snapshot) -> tuple:
        """The registered devices inside the area, kept per (area, the registry's places)."""
        points, generation = self._device_points(snapshot)
        key = (area, generation)
        with self._lock:
            found = self._inside.get(key) if generation >= 0 else None
        if found is not None:
            return found
        found = devices_inside(self.area_geometry(area), points)
        if generation >= 0:
            with self._lock:
                self._inside[key] = found
                while len(self._inside) > LINKED_KEPT:
                    self._inside.popitem(last=False)
        return found

    def alarms_and_cases_in(self, area, snapshot) -> tuple[list, list]:
        """(alarm ids, case ids): the snapshot's active alarms and open cases inside the area, made
        once per area while `snapshot` is the shared one."""
        with self._lock:
            held, made = self._near
            if held is not snapshot:
                made = {}
                self._near = (snapshot, made)
            found = made.get(area)
        if found is None:
            near = linked_with(area, self.area_geometry(area), self.device_points(snapshot), snapshot.alarms, snapshot.cases,
                               devices=False)
            found = ([a.get("id") for a in near.alarms], [getattr(c, "id", None) if not isinstance(c, dict) else c.get("id")
                                                          for c in near.cases])
            with self._lock:
                if len(made) < LINKED_KEPT:
                    made[area] = found
        return found

    def linked_summary(self, event: Event, snapshot, all_devices: bool = False) -> dict:
        """What lies in the event's area now (`snapshot`, a CitySnapshot): `devices` as a summary
        {total, by_kind, ids (those with an active alarm first, at most LINKED_DEVICE_IDS unless
        `all_devices`), truncated}; `alarms` (active) and `cases` (open) as ids."""
        devices = self.devices_in(event.area, snapshot)
        alarms, cases = self.alarms_and_cases_in(event.area, snapshot)
        alarmed = {a.get("device_id") for a in snapshot.alarms}
        ids = [d.id for d in devices if d.id in alarmed] + [d.id for d in devices if d.id not in alarmed]
        shown = ids if all_devices else ids[:LINKED_DEVICE_IDS]
        return {"devices": {"total": len(devices), "by_kind": dict(sorted(Counter(d.kind for d in devices).items())),
                            "ids": shown, "truncated": len(shown) < len(ids)},
                "alarms": list(alarms), "cases": list(cases)}

    # ---- actions -----------------------------------------------------------------------------

    @_counted
    def start(self, principal: Principal, *, plan, level, title=None, area=None, district=None, alarm_id=None, case_id=None,
              proposal_id=None, note=None, now_ms: int | None = None, ip: str = "") -> Event:
        """Start an event from a plan at a level. The area: `area` (a circle, a polygon, a
        district; `ioc.domain.event_area.area_from_input`), else a circle around the alarm or
        case it starts from, else around the proposal's evidence, else `district`. Starting from
        a proposal takes its plan and level unless given, and clears the proposal."""
        title = _text(title, "title", TITLE_MAX)
        note = _text(note, "note", TEXT_MAX)
        plan_id, level = _text(plan, "plan", ID_MAX), _text(level, "level", 8)
        district, alarm_id = _text(district, "district", ID_MAX), _text(alarm_id, "alarm_id", 200)
        case_id, proposal_id = _text(case_id, "case_id", ID_MAX), _text(proposal_id, "proposal_id", ID_MAX)
        if area is not None and not isinstance(area, dict):
            raise EventError("area must be a JSON object: a circle, a polygon or a district", "area")
        _may(principal, "start_event")
        now = int(now_ms if now_ms is not None else time.time() * 1000)
        points: list[tuple[float, float]] = []
        proposal = None
        if proposal_id:
            raw = self.store.proposal(proposal_id)
            if raw is None:
                raise EventError(f"there is no current proposal {proposal_id!r} (it was dismissed, started or is over)",
                                 "proposal_id")
            proposal = Proposal.from_dict(raw)
            plan_id, level = plan_id or proposal.plan, level or proposal.level
            points = list(self.snapshot_positions([e.device_id for e in proposal.evidence]).values())
        the_plan = self.plans.get(plan_id)
        if the_plan is None:
            raise EventError(f"unknown plan {plan_id!r}; plans are {', '.join(self.plans)}", "plan")
        if the_plan.level(level) is None:
            raise EventError(f"plan {plan_id!r} has no level {level!r}; its levels are {', '.join(the_plan.level_ids)}", "level")
        if district and self.city.district(district) is None:
            raise EventError(f"unknown district {district!r}", "district")
        alarms, cases = (), ()
        if alarm_id:
            found = self._alarm(alarm_id)
            alarms = (alarm_id,)
            district = district or str(found.get("district") or "")
            points = [p for p in self.snapshot_positions([str(found.get("device_id") or "")]).values()] or points
        if case_id:
            case = self.cases.find(case_id)
            if case is None:
                raise EventError(f"no case {case_id!r}", "case_id")
            cases = (case_id,)
            district = district or case.district
            points = [(case.lon, case.lat)] if not alarm_id else points
        if area is None and points:
            area = covering_circle(points, LINK_RADIUS_M if (alarm_id or case_id) else EVIDENCE_MARGIN_M)
        if area is None and proposal is not None and not district:
            district = proposal.districts[0] if proposal.districts else ""
        the_area = area_from_input(area, self.city, district)
        districts = area_districts(the_area, self.city)
        primary = district if district and district in districts else area_district(the_area, self.city)
        event = ev.start_event(event_id=self.store.next_id(now), plan=the_plan, level=level, title=title, area=the_area,
                               district=primary, districts=districts, commander=principal, now_ms=now, alarms=alarms,
                               cases=cases, proposal=proposal_id, note=note)
        detail = {"plan": event.plan, "level": event.level, "district": event.district, "version": event.version,
                  **({"alarm_id": alarm_id} if alarm_id else {}), **({"case_id": case_id} if case_id else {}),
                  **({"proposal_id": proposal_id} if proposal_id else {}), **({"note": note} if note else {})}
        audit = audit_fields(principal.name, principal.acting_role(PERMISSION_OF["start_event"]), "event.start", event.id, detail,
                             ip, now)
        return self.store.create(event, audit, outbox_of(None, event, the_plan, self.city), proposal_id,
                                 intents_of(None, event, the_plan, self.city, now))

    @_counted
    def change_level(self, event_id, principal: Principal, *, level, reason, expected_version=None, now_ms: int | None = None,
                     ip: str = "") -> Event:
        """Raise or lower the response level, with the reason (the new level's tasks issued, the
        tasks it lacks withdrawn; done work stays done)."""
        level, reason = _text(level, "level", 8), _text(reason, "reason", TEXT_MAX)
        expected_version = _version(expected_version)
        _may(principal, "level")

        def apply(event: Event, now: int) -> Event:
            plan = self._plan_of(event)
            if plan.level(level) is None:
                raise EventError(f"plan {plan.id!r} has no level {level!r}; its levels are {', '.join(plan.level_ids)}", "level")
            return ev.change_level(event, plan, level, reason, principal, now)

        return self._change(event_id, principal, "level", apply, expected_version, now_ms, ip,
                            lambda before, after: {"from": before.level, "to": after.level, "reason": reason})

    @_counted
    def instruct(self, event_id, principal: Principal, *, text, expected_version=None, now_ms: int | None = None,
                 ip: str = "") -> Event:
        """A leader's instruction (批示): every department with a live task must acknowledge it."""
        text = _text(text, "text", TEXT_MAX)
        expected_version = _version(expected_version)
        _may(principal, "instruct")
        return self._change(event_id, principal, "instruct", lambda event, now: ev.instruct(event, text, principal, now),
                            expected_version, now_ms, ip,
                            lambda before, after: {"instruction_id": after.instructions[-1].id, "text": text})

    @_counted
    def close(self, event_id, principal: Principal, *, summary, expected_version=None, now_ms: int | None = None,
              ip: str = "") -> Event:
        """Close the event with its summary (every task done, withdrawn or returned)."""
        summary = _text(summary, "summary", SUMMARY_MAX)
        expected_version = _version(expected_version)
        _may(principal, "close")
        return self._change(event_id, principal, "close", lambda event, now: ev.close(event, summary, principal, now),
                            expected_version, now_ms, ip, lambda before, after: {"summary": summary})

    def act(self, event_id, action, principal: Principal, *, expected_version=None, level=None, reason=None, text=None,
            summary=None, department=None, instruction_id=None, support_for=None, now_ms: int | None = None,
            ip: str = "") -> Event:
        """Any event action by name (`ioc.domain.events.EVENT_ACTIONS`): `level` {level, reason},
        `instruct` {text}, `acknowledge_instruction` {instruction_id} (a department: its handler
        or system), `add_task` {department, text, support_for?} (`support_for`: the department
        whose request for support it answers), `withdraw_task` {department, reason}, `contain`,
        `close` {summary}, `cancel` {reason}."""
        if action == "level":
            return self.change_level(event_id, principal, level=level, reason=reason, expected_version=expected_version,
                                     now_ms=now_ms, ip=ip)
        if action == "instruct":
            return self.instruct(event_id, principal, text=text, expected_version=expected_version, now_ms=now_ms, ip=ip)
        if action == "close":
            return self.close(event_id, principal, summary=summary, expected_version=expected_version, now_ms=now_ms, ip=ip)
        return self._event_action(event_id, action, principal, expected_version=expected_version, reason=reason, text=text,
                                  department=department, instruction_id=instruction_id, support_for=support_for,
                                  now_ms=now_ms, ip=ip)

    @_counted
    def _event_action(self, event_id, action, principal: Principal, *, expected_version, reason, text, department,
                      instruction_id, support_for, now_ms: int | None, ip: str) -> Event:
        if not isinstance(action, str):
            raise EventError("action must be the name of an event action", "action")
        if action not in ev.EVENT_ACTIONS:
            raise EventError(f"unknown action {action[:40]!r}; event actions are {', '.join(ev.EVENT_ACTIONS)}", "action")
        reason, text = _text(reason, "reason", TEXT_MAX), _text(text, "text", TEXT_MAX)
        department, instruction_id = _text(department, "department", ID_MAX), _text(instruction_id, "instruction_id", ID_MAX)
        support_for = _text(support_for, "support_for", ID_MAX)
        expected_version = _version(expected_version)
        _may(principal, action)
        if action in ("add_task", "withdraw_task") and department not in self.departments \
                and not (action == "add_task" and department == TERRITORY):
            raise EventError(f"unknown department {department!r}", "department")
        if action == "acknowledge_instruction":
            who = principal.department

            def apply(event: Event, now: int) -> Event:
                return ev.acknowledge_instruction(event, instruction_id, who, principal, now)
            detail = {"instruction_id": instruction_id, "department": who}
        elif action == "add_task":
            def apply(event: Event, now: int) -> Event:
                return ev.add_task(event, department, text, principal, now, support_for=support_for)
            detail = {"department": department, "text": text, **({"support_for": support_for} if support_for else {})}
        elif action == "withdraw_task":
            def apply(event: Event, now: int) -> Event:
                return ev.withdraw_task(event, department, reason, principal, now)
            detail = {"department": department, "reason": reason}
        elif action == "contain":
            def apply(event: Event, now: int) -> Event:
                return ev.contain(event, principal, now)
            detail = {}
        else:  # cancel
            def apply(event: Event, now: int) -> Event:
                return ev.cancel(event, reason, principal, now)
            detail = {"reason": reason}
        return self._change(event_id, principal, action, apply, expected_version, now_ms, ip, lambda before, after: detail)

    @_counted
    def task_act(self, event_id, department, action, principal: Principal, *, note=None, expected_version=None,
                 now_ms: int | None = None, ip: str = "") -> Event:
        """A step of a department's task (`ioc.domain.events.TASK_ACTIONS`: acknowledge, arrive,
        start, report, done, return, support) by that department's handler or system.
        `expected_version` is the TASK version read (other departments' steps do not move it)."""
        if not isinstance(action, str):
            raise EventError("action must be the name of a task action", "action")
        if action not in ev.TASK_ACTIONS:
            raise EventError(f"unknown task action {action[:40]!r}; task actions are {', '.join(ev.TASK_ACTIONS)}", "action")
        department, note = _text(department, "department", ID_MAX), _text(note, "note", TEXT_MAX)
        expected_version = _version(expected_version)
        _may(principal, action, task=True)

        def apply(event: Event, now: int) -> Event:
            return ev.task_action(event, department, action, principal, now, note=note)

        return self._change(event_id, principal, action, apply, None, now_ms, ip,
                            lambda before, after: {"department": department, "note": note,
                                                   "task_version": after.task(department).version},
                            task=department, expected_task_version=expected_version)

    @_counted
    def dismiss(self, proposal_id, principal: Principal, *, reason, now_ms: int | None = None, ip: str = "") -> dict:
        """Dismiss a current proposal with the reason: it is not proposed again for the same or
        weaker evidence (`ioc.domain.event_triggers.due_proposals`) while its conditions last."""
        proposal_id, reason = _text(proposal_id, "proposal_id", ID_MAX), _text(reason, "reason", TEXT_MAX, required=True)
        _may(principal, "dismiss")
        now = int(now_ms if now_ms is not None else time.time() * 1000)
        raw = self.store.proposal(proposal_id)
        if raw is None:
            raise EventNotFound(f"no current proposal {proposal_id!r}")
        proposal = Proposal.from_dict(raw)
        dismissal = {"summary": proposal.summary(), "by": principal.name, "by_label": principal.label, "reason": reason, "at": now}
        audit = audit_fields(principal.name, principal.acting_role("event:command"), "event.proposal.dismiss", proposal_id,
                             {"plan": proposal.plan, "level": proposal.level, "reason": reason, "summary": dismissal["summary"]},
                             ip, now)
        self.store.dismiss(proposal_id, dismissal, audit)
        return dismissal

    # ---- helpers -------------------------------------------------------------------------------

    def _change(self, event_id, principal: Principal, action: str, apply, expected_version: int | None, now_ms: int | None,
                ip: str, detail_of, task: str = "", expected_task_version: int | None = None) -> Event:
        """Read, check the version, apply, store; again (up to CAS_ATTEMPTS) when another change
        was stored in between. `apply(event, now)` is the domain's rule; `task`: the department
        whose task the action is (a task action)."""
        audit_action = f"event.task.{action}" if task else f"event.{action}"
        role = principal.acting_role(TASK_PERMISSION if task else PERMISSION_OF[action])
        for attempt in range(CAS_ATTEMPTS):
            now = int(now_ms if now_ms is not None else time.time() * 1000)
            event = self.event_for(event_id, principal)
            if expected_version is not None and expected_version != event.version:
                raise EventConflict(event.id, expected_version, event.version)
            if task and expected_task_version is not None:
                current = event.task(task)
                if current is not None and current.version != expected_task_version:
                    raise EventConflict(event.id, expected_task_version, current.version, task=task)
            after = apply(event, max(now, event.updated_at))
            detail = {"version": after.version, **detail_of(event, after)}
            audit = audit_fields(principal.name, role, audit_action, event.id, detail, ip, now)
            try:
                plan = self.plans.get(after.plan)
                return self.store.commit(event.version, after, audit, outbox_of(event, after, plan, self.city),
                                         intents_of(event, after, plan, self.city, now))
            except EventConflict:
                if attempt == CAS_ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0, min(CAS_PAUSE_S * 2 ** attempt, CAS_PAUSE_MAX_S)))  # others acting at once: out of step
        raise AssertionError("unreachable")

    def _plan_of(self, event: Event) -> Plan:
        plan = self.plans.get(event.plan)
        if plan is None:  # the plans file no longer has it
            raise EventError(f"the event's plan {event.plan!r} is not among the loaded plans", "plan")
        return plan

    def _alarm(self, alarm_id: str) -> dict:
        try:
            return self.alarms.get(alarm_id)
        except AlarmNotFound:
            raise EventError(f"no active alarm {alarm_id!r}", "alarm_id") from None

    def snapshot_positions(self, device_ids) -> dict[str, tuple[float, float]]:
        """device id -> (lon, lat) of the registered devices among `device_ids`."""
        return self.snapshot.device_positions([d for d in device_ids if d])


def plans_file_problem(settings) -> str:
    """Why the plans file of `IOC_PLANS_FILE` is refused (its place and reason), or "" when it loads."""
    try:
        plans_from_file(settings.plans_file, department_ids(load_city_map(settings.geodata_dir)))
    except PlanError as e:
        return str(e)
    return ""


def load_plans(settings, city: CityMap) -> dict[str, Plan]:
    """The plans of `IOC_PLANS_FILE`, or the built-in ones; `PlanError` for a bad file."""
    departments = department_ids(city)
    return plans_from_file(settings.plans_file, departments) if settings.plans_file else builtin_plans(departments)
