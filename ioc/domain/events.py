"""Linked events (联动事件, 大联动): one city emergency worked by several departments at once.

An **event** follows a contingency plan (`ioc.domain.plans`) at a response level, covers an area
(a circle, a polygon or a district on the map) and has a commander — the dispatcher or leader
who started it. Its status:

    启动 active → 处置中 responding → 已控制 contained → 结束 closed      (or 取消 cancelled)

- `active`: started, the plan's tasks issued; the first department to acknowledge its task moves
  the event to `responding`.
- `contained` (已控制): the commander declares the situation under control; a level *up*
  brings it back to `responding`.
- `closed` (结束): needs every task done, withdrawn or returned, and a summary.
- `cancelled` (取消): started in error or no longer needed; needs a reason and withdraws every
  live task.

**Tasks**, one per department (its id is the department id): the level's tasks, the lead (牵头)
and the supporting departments (配合), plus supporting tasks the commander adds. A task:

    下达 issued → 签收 acknowledged → 到场 on_site → 处置中 working → 完成 done

with 退回 returned (from issued or acknowledged: the department cannot do it, with a reason),
撤回 withdrawn (by the commander, a level down or a cancellation), progress reports (续报) while
on site or working (each one resets the report clock) and 请求支援 (needs support: a flag with a
note while acknowledged, on site or working; cleared when the commander adds a task in answer,
or when the task ends). `done` may follow `on_site` directly (a short job). A task's version
starts at 1 and grows with every change of that task. Issued, acknowledged, on-site and working
tasks are **live**; done, returned and withdrawn ones are ended, and the commander may issue a
returned or withdrawn one again (`add_task`), which starts its clocks afresh.

**Timing** is never stored: a task is overdue to acknowledge `ack_min` minutes after it was
issued, to arrive `arrive_min` minutes after it was issued, and to report `report_min` minutes
after it arrived or last reported (`overdue`, `task_deadline`, `figures`).

**Level changes** (升级 / 降级) need a reason and keep what was done: the new level's tasks not
live yet are issued (withdrawn ones issued again); live tasks kept get the new level's text and
limits (their clocks keep running); done and returned tasks stay as they are. A level *down*
withdraws the live tasks the new level lacks (including tasks the commander added); a level
*up* withdraws nothing.

**Instructions** (领导批示) from a leader go to the log; every department with a live task at
that moment must acknowledge each one.

**Who may act**: starting, level changes, adding and withdrawing tasks, containing, closing and
cancelling — a dispatcher or a leader; instructions — a leader; task actions and acknowledging
instructions — a handler of that task's department (a person or its system's API token). A
read-only (kiosk) principal takes no action. `visible_to` says who may read an event.

Every function is pure: it returns a new `Event` (version + 1, `updated_at` = now, log entries
appended) or raises `EventError` (bad input or out of order; `field` names the parameter at
fault, `code` the kind of refusal) or `EventPermissionError`. Log entries are structured facts
(`kind` + JSON-safe `params`), rendered in the reader's language by the views.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .access import ROLES, Principal
from .departments import ID_PATTERN
from .plans import LEVEL_NUMERALS, TERRITORY, Plan, level_rank

STATUSES: tuple[str, ...] = ("active", "responding", "contained", "closed", "cancelled")
OPEN_STATUSES: tuple[str, ...] = ("active", "responding", "contained")
STATUS_NAMES: dict[str, tuple[str, str]] = {
    "active": ("启动", "Started"), "responding": ("处置中", "Responding"), "contained": ("已控制", "Contained"),
    "closed": ("结束", "Closed"), "cancelled": ("取消", "Cancelled"),
}
TASK_STATUSES: tuple[str, ...] = ("issued", "acknowledged", "on_site", "working", "done", "returned", "withdrawn")
LIVE_TASK_STATUSES: tuple[str, ...] = ("issued", "acknowledged", "on_site", "working")
TASK_STATUS_NAMES: dict[str, tuple[str, str]] = {
    "issued": ("下达", "Issued"), "acknowledged": ("签收", "Acknowledged"), "on_site": ("到场", "On site"),
    "working": ("处置中", "Working"), "done": ("完成", "Done"), "returned": ("退回", "Returned"),
    "withdrawn": ("撤回", "Withdrawn"),
}
TASK_ACTIONS: tuple[str, ...] = ("acknowledge", "arrive", "start", "report", "done", "return", "support")
EVENT_ACTIONS: tuple[str, ...] = ("level", "instruct", "acknowledge_instruction", "add_task", "withdraw_task",
                                  "contain", "close", "cancel")
COMMAND_ROLES = frozenset({"dispatcher", "leader"})
ACTION_ROLES: dict[str, frozenset[str]] = {  # event actions ("start_event": starting one)
    "start_event": COMMAND_ROLES, "level": COMMAND_ROLES, "add_task": COMMAND_ROLES, "withdraw_task": COMMAND_ROLES,
    "contain": COMMAND_ROLES, "close": COMMAND_ROLES, "cancel": COMMAND_ROLES, "link": COMMAND_ROLES,
    "instruct": frozenset({"leader"}), "acknowledge_instruction": frozenset({"handler"}),
}
TASK_ACTION_ROLES: dict[str, frozenset[str]] = {action: frozenset({"handler"}) for action in TASK_ACTIONS}
READ_ROLES = frozenset({"operator", "leader", "dispatcher", "inspector"})  # every event; a handler: its own


@dataclass(frozen=True)
class TaskStep:
    """A task action: the statuses it is taken from, the status it leads to (None: stays), and
    whether it needs a note (a report's content, the result, the reason, what support)."""

    from_statuses: tuple[str, ...]
    to_status: str | None
    note_required: bool = False


TASK_STEPS: dict[str, TaskStep] = {
    "acknowledge": TaskStep(("issued",), "acknowledged"),
    "arrive": TaskStep(("acknowledged",), "on_site"),
    "start": TaskStep(("on_site",), "working"),
    "report": TaskStep(("on_site", "working"), None, True),
    "done": TaskStep(("on_site", "working"), "done", True),
    "return": TaskStep(("issued", "acknowledged"), "returned", True),
    "support": TaskStep(("acknowledged", "on_site", "working"), None, True),
}
TITLE_MAX = 100
NOTE_MAX = 1000
SUMMARY_MAX = 4000
LIMIT_MAX_MIN = 24 * 60
ADDED_TASK_LIMITS = (15, 60, 60)  # ack_min, arrive_min, report_min of a task the commander adds
MINUTE_MS = 60_000


class EventError(ValueError):
    """Bad input or an action out of order (400): `field` names the parameter at fault
    (`action` when it is the action itself, `status` when the event's status forbids it) and
    `code`, when set, the kind of refusal: `repeat` (the action is already applied: a repeated
    message, to be acknowledged), `tasks_live` (closing with live tasks), `lead` (withdrawing
    the lead task), `not_found` (no such task or instruction)."""

    def __init__(self, message: str, field: str = "action", code: str = ""):
        super().__init__(message)
        self.field = field
        self.code = code


class EventPermissionError(PermissionError):
    """The actor's role (or department) may not take this action on this event (403)."""


# --- the values -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Area:
    """Where the event is, stored GeoJSON-like (`to_dict`): a circle, a polygon or a district.
    Shapes are checked against the city by `ioc.domain.event_area`; this is only the value."""

    kind: str  # "circle" | "polygon" | "district"
    center: tuple[float, float] | None = None  # (lon, lat) for circle
    radius_m: float = 0
    ring: tuple[tuple[float, float], ...] = ()  # (lon, lat), closed or not, for polygon
    district: str = ""  # for "district": the district id

    def to_dict(self) -> dict:
        if self.kind == "circle":
            return {"type": "circle", "center": list(self.center or ()), "radius_m": self.radius_m}
        if self.kind == "polygon":
            return {"type": "Polygon", "coordinates": [[list(p) for p in self.ring]]}
        return {"type": "district", "district": self.district}

    @staticmethod
    def from_dict(data: dict) -> "Area":
        """The area of `to_dict`'s shape; `EventError` (field `area`) when it is not one."""
        try:
            kind = str(data.get("type", data.get("kind", ""))).lower()
            if kind == "circle":
                lon, lat = data["center"]
                return Area("circle", (float(lon), float(lat)), float(data["radius_m"]))
            if kind == "polygon":
                ring = data["coordinates"][0] if "coordinates" in data else data["ring"]
                return Area("polygon", ring=tuple((float(x), float(y)) for x, y in ring))
            if kind == "district" and isinstance(data.get("district"), str) and data["district"]:
                return Area("district", district=data["district"])
        except (AttributeError, KeyError, IndexError, TypeError, ValueError) as e:
            raise EventError(f"not an area: {e}", "area") from e
        raise EventError("an area is a circle, a Polygon or a district", "area")


@dataclass(frozen=True)
class Task:
    id: str  # the department id (one task per department per event)
    department: str
    role: str  # "lead" | "support"
    text_zh: str
    text_en: str
    status: str
    version: int  # starts at 1, + 1 per change of this task
    ack_min: int
    arrive_min: int
    report_min: int
    issued_at: int
    acknowledged_at: int = 0
    arrived_at: int = 0
    started_at: int = 0
    done_at: int = 0
    last_report_at: int = 0
    closed_note: str = ""  # the result reported with `done`
    needs_support: bool = False
    support_note: str = ""
    return_reason: str = ""

    @property
    def live(self) -> bool:
        return self.status in LIVE_TASK_STATUSES

    def text(self, lang: str) -> str:
        return self.text_en if lang == "en" else self.text_zh

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: dict) -> "Task":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Instruction:
    """A leader's instruction (领导批示) and who has acknowledged it."""

    id: str  # "I1", "I2" …
    text: str
    by: str
    by_label: str
    at: int
    acknowledged: dict[str, int] = field(default_factory=dict)  # department -> at (ms)
    required: tuple[str, ...] = ()  # departments that must acknowledge: those with a live task when given

    @property
    def pending(self) -> tuple[str, ...]:
        """The departments that still have to acknowledge it."""
        return tuple(d for d in self.required if d not in self.acknowledged)

    def to_dict(self) -> dict:
        return {"id": self.id, "text": self.text, "by": self.by, "by_label": self.by_label, "at": self.at,
                "acknowledged": dict(self.acknowledged), "required": list(self.required)}

    @classmethod
    def from_dict(cls, data: dict) -> "Instruction":
        return cls(data["id"], data["text"], data["by"], data.get("by_label", data["by"]), data["at"],
                   {str(k): int(v) for k, v in (data.get("acknowledged") or {}).items()},
                   tuple(data.get("required") or ()))


@dataclass(frozen=True)
class LogEntry:
    """One line of the event's log: who (`actor`, `actor_label`, acting `role`), when, and a
    structured fact — `kind` (started, level_up, level_down, task_issued, task_<action>,
    task_withdrawn, task_added, instruction, instruction_acknowledged, contained, closed,
    cancelled, linked) and JSON-safe `params` — that views word in the reader's language."""

    at: int
    actor: str
    actor_label: str
    role: str
    kind: str
    params: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"at": self.at, "actor": self.actor, "actor_label": self.actor_label, "role": self.role,
                "kind": self.kind, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: dict) -> "LogEntry":
        return cls(data["at"], data["actor"], data.get("actor_label", data["actor"]), data.get("role", ""),
                   data["kind"], dict(data.get("params") or {}))


@dataclass(frozen=True)
class Event:
    id: str  # "EV-YYYYMMDD-NNN" (China date, city-wide sequence; the store makes it)
    plan: str
    level: str
    title: str
    status: str
    version: int  # + 1 per any change
    area: Area
    district: str  # the primary district (of the area's centre, or the chosen district)
    districts: tuple[str, ...]  # every district the area touches
    commander: str
    commander_label: str
    started_at: int
    updated_at: int
    contained_at: int = 0
    closed_at: int = 0  # closed or cancelled
    tasks: tuple[Task, ...] = ()
    instructions: tuple[Instruction, ...] = ()
    alarms: tuple[str, ...] = ()  # explicitly linked alarm ids (started from an alarm)
    cases: tuple[str, ...] = ()  # explicitly linked case ids (started from a case)
    proposal: str = ""  # the proposal it was started from
    summary: str = ""  # the closing summary, or the reason for cancelling
    log: tuple[LogEntry, ...] = ()

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def task(self, department: str) -> Task | None:
        return next((t for t in self.tasks if t.department == department), None)

    @property
    def lead(self) -> Task | None:
        return next((t for t in self.tasks if t.role == "lead"), None)

    @property
    def live_tasks(self) -> tuple[Task, ...]:
        return tuple(t for t in self.tasks if t.live)

    def instruction(self, instruction_id: str) -> Instruction | None:
        return next((i for i in self.instructions if i.id == instruction_id), None)

    def pending_instructions(self, department: str) -> tuple[Instruction, ...]:
        """The instructions `department` still has to acknowledge while its task is live (a
        department whose task ended is no longer asked)."""
        task = self.task(department)
        if task is None or not task.live:
            return ()
        return tuple(i for i in self.instructions if department in i.pending)

    def to_dict(self) -> dict:
        """JSON-safe and stable: the stored form and the API body."""
        return {"id": self.id, "plan": self.plan, "level": self.level, "title": self.title, "status": self.status,
                "version": self.version, "area": self.area.to_dict(), "district": self.district,
                "districts": list(self.districts), "commander": self.commander,
                "commander_label": self.commander_label, "started_at": self.started_at,
                "updated_at": self.updated_at, "contained_at": self.contained_at, "closed_at": self.closed_at,
                "tasks": [t.to_dict() for t in self.tasks],
                "instructions": [i.to_dict() for i in self.instructions],
                "alarms": list(self.alarms), "cases": list(self.cases), "proposal": self.proposal,
                "summary": self.summary, "log": [e.to_dict() for e in self.log]}

    @staticmethod
    def from_dict(data: dict) -> "Event":
        scalars = {k: v for k, v in data.items() if k in Event.__dataclass_fields__
                   and k not in ("area", "districts", "tasks", "instructions", "alarms", "cases", "log")}
        return Event(**scalars, area=Area.from_dict(data["area"]), districts=tuple(data.get("districts") or ()),
                     tasks=tuple(Task.from_dict(t) for t in data.get("tasks") or ()),
                     instructions=tuple(Instruction.from_dict(i) for i in data.get("instructions") or ()),
                     alarms=tuple(data.get("alarms") or ()), cases=tuple(data.get("cases") or ()),
                     log=tuple(LogEntry.from_dict(e) for e in data.get("log") or ()))


# --- who may act ----------------------------------------------------------------------------------

def _role_reason(action: str, principal: Principal | None, holders: frozenset[str]) -> str | None:
    """Why `principal` may never take `action` on any event, or None."""
    if principal is None:
        return "sign in first"
    if principal.read_only:
        return "a read-only kiosk session may not act on events"
    if not principal.roles & holders:
        return f"role {principal.role} may not {action} ({', '.join(r for r in ROLES if r in holders)} may)"
    return None


def check_may_take(action: str, principal: Principal | None) -> None:
    """Whether `principal` may ever take event action `action` (an EVENT_ACTION, `start_event`
    or `link`), whatever the event: the action exists (else `EventError`, field `action`), the
    principal is signed in, not read-only, and holds a role that takes it (else
    `EventPermissionError`). It depends on no event, so services check it before looking the
    event up."""
    if action not in ACTION_ROLES:
        raise EventError(f"unknown action {action!r}; actions are {', '.join(EVENT_ACTIONS)}")
    reason = _role_reason(action, principal, ACTION_ROLES[action])
    if reason:
        raise EventPermissionError(reason)


def check_may_take_task(action: str, principal: Principal | None) -> None:
    """`check_may_take` for a task action (TASK_ACTIONS): only a department handler takes them."""
    if action not in TASK_ACTION_ROLES:
        raise EventError(f"unknown task action {action!r}; task actions are {', '.join(TASK_ACTIONS)}")
    reason = _role_reason(action, principal, TASK_ACTION_ROLES[action])
    if reason:
        raise EventPermissionError(reason)


def _acting_role(action: str, principal: Principal | None, task: bool = False) -> str:
    """The role under which `principal` takes `action` (first in ROLES order); raises if none."""
    (check_may_take_task if task else check_may_take)(action, principal)
    holders = (TASK_ACTION_ROLES if task else ACTION_ROLES)[action]
    return next(r for r in ROLES if r in principal.roles and r in holders)


def _department_reason(department: str, principal: Principal) -> str | None:
    if principal.department != department:
        return f"this task is {department}'s, not {principal.department or 'no department'}'s"
    return None


def visible_to(event: Event, principal: Principal | None) -> bool:
    """Whether `principal` may read `event`: operators (the wall and its read-only kiosks),
    leaders, dispatchers and inspectors every event; a handler the events its department has a
    task in (any status); everyone else none."""
    if principal is None:
        return False
    if principal.roles & READ_ROLES:
        return True
    return "handler" in principal.roles and bool(principal.department) and event.task(principal.department) is not None


def allowed_event_actions(event: Event, principal: Principal | None) -> list[str]:
    """The EVENT_ACTIONS `principal` may take on `event` now (for buttons): by role and status;
    `acknowledge_instruction` when its department has an instruction to acknowledge."""
    if not event.is_open:
        return []
    out = []
    for action in EVENT_ACTIONS:
        if _role_reason(action, principal, ACTION_ROLES[action]):
            continue
        if action == "contain" and event.status == "contained":
            continue
        if action == "close" and event.live_tasks:
            continue
        if action == "withdraw_task" and not any(t.live and t.role != "lead" for t in event.tasks):
            continue
        if action == "acknowledge_instruction" and not event.pending_instructions(principal.department):
            continue
        out.append(action)
    return out


def allowed_task_actions(event: Event, department: str, principal: Principal | None) -> list[str]:
    """The TASK_ACTIONS `principal` may take on `department`'s task now (for buttons)."""
    task = event.task(department)
    if task is None or not event.is_open:
        return []
    return [a for a in TASK_ACTIONS if _role_reason(a, principal, TASK_ACTION_ROLES[a]) is None
            and _department_reason(department, principal) is None and task.status in TASK_STEPS[a].from_statuses]


# --- helpers --------------------------------------------------------------------------------------

def text_input(value, name: str, limit: int, required: bool = True) -> str:
    """A text input: None is ""; blanks around it dropped; refused whole (`EventError` naming
    `name`) when not a string, missing while required, or over `limit` characters."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise EventError(f"{name} must be a text", name)
    value = value.strip()
    if required and not value:
        raise EventError(f"{name} is required", name)
    if len(value) > limit:
        raise EventError(f"{name} has {len(value)} characters; at most {limit} are allowed", name)
    return value


def _limit(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= LIMIT_MAX_MIN:
        raise EventError(f"{name} must be whole minutes from 1 to {LIMIT_MAX_MIN}", name)
    return value


def _open(event: Event, action: str) -> None:
    if not event.is_open:
        raise EventError(f"the event is {event.status}; it takes no more actions ({action})", "status")


def _entry(actor: Principal, role: str, now_ms: int, kind: str, /, **params) -> LogEntry:
    return LogEntry(now_ms, actor.name, actor.label, role, kind, params)


def _commit(event: Event, now_ms: int, entries: list[LogEntry], **changes) -> Event:
    return replace(event, version=event.version + 1, updated_at=now_ms, log=event.log + tuple(entries), **changes)


def _put(tasks: tuple[Task, ...], task: Task) -> tuple[Task, ...]:
    """`tasks` with `task` replacing the one of its department, or appended."""
    if any(t.id == task.id for t in tasks):
        return tuple(task if t.id == task.id else t for t in tasks)
    return tasks + (task,)


def _existing_task(event: Event, department: str) -> Task:
    task = event.task(department)
    if task is None:
        raise EventError(f"the event has no task for {department}", "department", "not_found")
    return task


def _reissued(task: Task, now_ms: int, **changes) -> Task:
    """The task issued again: its clocks start afresh."""
    return replace(task, status="issued", version=task.version + 1, issued_at=now_ms, acknowledged_at=0,
                   arrived_at=0, started_at=0, done_at=0, last_report_at=0, closed_note="", needs_support=False,
                   support_note="", return_reason="", **changes)


def resolve_department(template_department: str, district: str) -> str:
    """A plan's task department as a real one: `territory` is the government of `district`."""
    return f"town_{district}" if template_department == TERRITORY else template_department


# --- starting, levels -----------------------------------------------------------------------------

def start_event(*, event_id: str, plan: Plan, level: str, title: str, area: Area, district: str,
                districts=(), commander: Principal, now_ms: int, alarms=(), cases=(), proposal: str = "",
                note: str = "") -> Event:
    """A new event (version 1, status active) with the tasks of `plan`'s `level` issued. A blank
    `title` becomes the plan's name and level ("防汛Ⅳ级响应"); `districts` always include `district`."""
    role = _acting_role("start_event", commander)
    if not isinstance(event_id, str) or not event_id:
        raise EventError("an event needs an id", "id")
    chosen = plan.level(level) if isinstance(level, str) else None
    if chosen is None:
        raise EventError(f"plan {plan.id} has no level {level!r}; its levels are {', '.join(plan.level_ids)}", "level")
    if not isinstance(district, str) or not district:
        raise EventError("an event needs its district", "district")
    title = text_input(title or "", "title", TITLE_MAX, required=False) or f"{plan.name_zh}{LEVEL_NUMERALS[level]}级响应"
    note = text_input(note or "", "note", NOTE_MAX, required=False)
    touched = (district,) + tuple(d for d in districts if d != district)
    tasks = tuple(Task(dep, dep, t.role, t.text_zh, t.text_en, "issued", 1, t.ack_min, t.arrive_min, t.report_min,
                       now_ms) for t in chosen.tasks for dep in [resolve_department(t.department, district)])
    entries = [_entry(commander, role, now_ms, "started", plan=plan.id, level=level, district=district,
                      districts=list(touched), note=note, proposal=proposal, alarms=list(alarms), cases=list(cases))]
    entries += [_entry(commander, role, now_ms, "task_issued", department=t.department, role=t.role, level=level)
                for t in tasks]
    return Event(event_id, plan.id, level, title, "active", 1, area, district, touched, commander.name,
                 commander.label, now_ms, now_ms, tasks=tasks, alarms=tuple(alarms), cases=tuple(cases),
                 proposal=proposal, log=tuple(entries))


def _retask(tasks: tuple[Task, ...], wanted: dict, up: bool, now_ms: int):
    """The tasks after a level change to the level whose task templates by department are
    `wanted`, and the departments (issued, reissued, withdrawn)."""
    issued, reissued, withdrawn = [], [], []
    for task in tasks:
        template = wanted.get(task.department)
        limits = {} if template is None else {
            "role": template.role, "text_zh": template.text_zh, "text_en": template.text_en,
            "ack_min": template.ack_min, "arrive_min": template.arrive_min, "report_min": template.report_min}
        if template is not None and task.live:
            tasks = _put(tasks, replace(task, version=task.version + 1, **limits))
        elif template is not None and up and task.status == "withdrawn":
            tasks = _put(tasks, _reissued(task, now_ms, **limits))
            reissued.append(task.department)
        elif template is None and not up and task.live:
            tasks = _put(tasks, replace(task, status="withdrawn", version=task.version + 1, needs_support=False))
            withdrawn.append(task.department)
    for department, t in wanted.items():
        if all(task.department != department for task in tasks):
            tasks = _put(tasks, Task(department, department, t.role, t.text_zh, t.text_en, "issued", 1, t.ack_min,
                                     t.arrive_min, t.report_min, now_ms))
            issued.append(department)
    return tasks, issued, reissued, withdrawn


def change_level(event: Event, plan: Plan, level: str, reason: str, actor: Principal, now_ms: int) -> Event:
    """Raise or lower the event's response level, with a reason (see the module's rules)."""
    role = _acting_role("level", actor)
    _open(event, "level")
    if plan.id != event.plan:
        raise EventError(f"the event follows plan {event.plan}, not {plan.id}", "plan")
    chosen = plan.level(level) if isinstance(level, str) else None
    if chosen is None:
        raise EventError(f"plan {plan.id} has no level {level!r}; its levels are {', '.join(plan.level_ids)}", "level")
    if level == event.level:
        raise EventError(f"the event is already at level {level}", "level")
    reason = text_input(reason, "reason", NOTE_MAX)
    up = level_rank(level) > level_rank(event.level)
    wanted = {resolve_department(t.department, event.district): t for t in chosen.tasks}
    tasks, issued, reissued, withdrawn = _retask(event.tasks, wanted, up, now_ms)
    entries = [_entry(actor, role, now_ms, "level_up" if up else "level_down", **{"from": event.level}, to=level,
                      reason=reason, issued=issued, reissued=reissued, withdrawn=withdrawn)]
    entries += [_entry(actor, role, now_ms, "task_issued", department=d, role=wanted[d].role, level=level,
                       reissued=d in reissued) for d in issued + reissued]
    entries += [_entry(actor, role, now_ms, "task_withdrawn", department=d, cause="level", reason=reason)
                for d in withdrawn]
    status, contained_at = event.status, event.contained_at
    if up and status == "contained":
        status, contained_at = "responding", 0
    return _commit(event, now_ms, entries, level=level, tasks=tasks, status=status, contained_at=contained_at)


# --- instructions ---------------------------------------------------------------------------------

def instruct(event: Event, text: str, actor: Principal, now_ms: int) -> Event:
    """A leader's instruction, to be acknowledged by every department with a live task now."""
    role = _acting_role("instruct", actor)
    _open(event, "instruct")
    text = text_input(text, "text", NOTE_MAX)
    required = tuple(t.department for t in event.live_tasks)
    item = Instruction(f"I{len(event.instructions) + 1}", text, actor.name, actor.label, now_ms, {}, required)
    entry = _entry(actor, role, now_ms, "instruction", instruction=item.id, text=text, required=list(required))
    return _commit(event, now_ms, [entry], instructions=event.instructions + (item,))


def acknowledge_instruction(event: Event, instruction_id: str, department: str, actor: Principal,
                            now_ms: int) -> Event:
    """`department` (a handler of it) acknowledges instruction `instruction_id`."""
    role = _acting_role("acknowledge_instruction", actor)
    _open(event, "acknowledge_instruction")
    reason = _department_reason(department, actor)
    if reason:
        raise EventPermissionError(reason)
    item = event.instruction(instruction_id)
    if item is None:
        raise EventError(f"the event has no instruction {instruction_id!r}", "instruction_id", "not_found")
    if department not in item.required:
        raise EventError(f"instruction {item.id} is not addressed to {department}", "department")
    if department in item.acknowledged:
        raise EventError(f"{department} has already acknowledged instruction {item.id}", "instruction_id", "repeat")
    changed = replace(item, acknowledged={**item.acknowledged, department: now_ms})
    entry = _entry(actor, role, now_ms, "instruction_acknowledged", instruction=item.id, department=department)
    return _commit(event, now_ms, [entry],
                   instructions=tuple(changed if i.id == item.id else i for i in event.instructions))


# --- task actions ---------------------------------------------------------------------------------

def task_action(event: Event, department: str, action: str, actor: Principal, now_ms: int, note: str = "") -> Event:
    """`department`'s handler takes a task action (TASK_ACTIONS; see TASK_STEPS for the order).
    `note` is required by report (the progress), done (the result), return (the reason) and
    support (what is needed). The first acknowledgement moves an active event to responding."""
    role = _acting_role(action, actor, task=True)
    _open(event, action)
    reason = _department_reason(department, actor)
    if reason:
        raise EventPermissionError(reason)
    task = _existing_task(event, department)
    step = TASK_STEPS[action]
    if task.status not in step.from_statuses:
        code = "repeat" if step.to_status == task.status else ""
        raise EventError(f"a task {task.status} cannot {action} (only when {' or '.join(step.from_statuses)})",
                         "action", code)
    note = text_input(note or "", "note", NOTE_MAX, required=step.note_required)
    changes: dict = {"status": step.to_status or task.status, "version": task.version + 1}
    changes.update(_task_changes(action, note, now_ms))
    if changes["status"] not in LIVE_TASK_STATUSES:
        changes.setdefault("needs_support", False)
    params = {"department": department, "from": task.status, "to": changes["status"]}
    if note:
        params["note"] = note
    status = "responding" if action == "acknowledge" and event.status == "active" else event.status
    return _commit(event, now_ms, [_entry(actor, role, now_ms, f"task_{action}", **params)],
                   tasks=_put(event.tasks, replace(task, **changes)), status=status)


def _task_changes(action: str, note: str, now_ms: int) -> dict:
    """What the action records on the task besides its status and version."""
    return {
        "acknowledge": {"acknowledged_at": now_ms},
        "arrive": {"arrived_at": now_ms},
        "start": {"started_at": now_ms},
        "report": {"last_report_at": now_ms},
        "done": {"done_at": now_ms, "closed_note": note},
        "return": {"return_reason": note},
        "support": {"needs_support": True, "support_note": note},
    }[action]


def add_task(event: Event, department: str, text: str, actor: Principal, now_ms: int,
             ack_min: int = ADDED_TASK_LIMITS[0], arrive_min: int = ADDED_TASK_LIMITS[1],
             report_min: int = ADDED_TASK_LIMITS[2], support_for: str = "") -> Event:
    """The commander adds a supporting task for `department` (`territory`: the event's district
    government), or issues a returned or withdrawn task again (keeping its role) with the new
    text. `support_for` names a department whose request for support this answers: its flag is
    cleared. The service checks that `department` is a known department."""
    role = _acting_role("add_task", actor)
    _open(event, "add_task")
    if not isinstance(department, str) or not department:
        raise EventError("add_task needs the department", "department")
    department = resolve_department(department, event.district)
    if not ID_PATTERN.match(department):
        raise EventError(f"{department!r} is not a department id", "department")
    text = text_input(text, "text", NOTE_MAX)
    ack_min, arrive_min, report_min = (_limit(v, n) for v, n in ((ack_min, "ack_min"), (arrive_min, "arrive_min"),
                                                                  (report_min, "report_min")))
    if arrive_min < ack_min:
        raise EventError("arriving cannot be due before acknowledging", "arrive_min")
    existing = event.task(department)
    if existing is not None and existing.status not in ("returned", "withdrawn"):
        raise EventError(f"{department} already has a task ({existing.status})", "department")
    asking = event.task(support_for) if support_for else None
    if support_for and (asking is None or not asking.needs_support):
        raise EventError(f"{support_for} has not asked for support", "support_for")
    limits = {"text_zh": text, "text_en": text, "ack_min": ack_min, "arrive_min": arrive_min, "report_min": report_min}
    if existing is not None:
        task = _reissued(existing, now_ms, **limits)
    else:
        task = Task(department, department, "support", status="issued", version=1, issued_at=now_ms, **limits)
    tasks = _put(event.tasks, task)
    if asking is not None:
        tasks = _put(tasks, replace(asking, needs_support=False, version=asking.version + 1))
    entry = _entry(actor, role, now_ms, "task_added", department=department, role=task.role,
                   reissued=existing is not None, support_for=support_for, text=text)
    return _commit(event, now_ms, [entry], tasks=tasks)


def withdraw_task(event: Event, department: str, reason: str, actor: Principal, now_ms: int) -> Event:
    """The commander withdraws a live supporting task, with a reason (the lead task stays: change
    the level or cancel the event instead)."""
    role = _acting_role("withdraw_task", actor)
    _open(event, "withdraw_task")
    task = _existing_task(event, department)
    if not task.live:
        raise EventError(f"{department}'s task is {task.status}; only a live task is withdrawn", "department")
    if task.role == "lead":
        raise EventError("the lead department's task cannot be withdrawn; change the level or cancel the event",
                         "department", "lead")
    reason = text_input(reason, "reason", NOTE_MAX)
    changed = replace(task, status="withdrawn", version=task.version + 1, needs_support=False)
    entry = _entry(actor, role, now_ms, "task_withdrawn", department=department, cause="commander", reason=reason)
    return _commit(event, now_ms, [entry], tasks=_put(event.tasks, changed))


# --- containing, closing, cancelling, linking ---------------------------------------------------

def contain(event: Event, actor: Principal, now_ms: int) -> Event:
    """The commander declares the situation under control (已控制)."""
    role = _acting_role("contain", actor)
    _open(event, "contain")
    if event.status == "contained":
        raise EventError("the event is already contained", "status", "repeat")
    return _commit(event, now_ms, [_entry(actor, role, now_ms, "contained")], status="contained", contained_at=now_ms)


def close(event: Event, summary: str, actor: Principal, now_ms: int) -> Event:
    """End the event (结束) with a summary, once no task is live."""
    role = _acting_role("close", actor)
    _open(event, "close")
    live = [t.department for t in event.live_tasks]
    if live:
        raise EventError(f"tasks still live: {', '.join(live)}; each must be done, withdrawn or returned first",
                         "tasks", "tasks_live")
    summary = text_input(summary, "summary", SUMMARY_MAX)
    entry = _entry(actor, role, now_ms, "closed", summary=summary)
    return _commit(event, now_ms, [entry], status="closed", closed_at=now_ms, summary=summary)


def cancel(event: Event, reason: str, actor: Principal, now_ms: int) -> Event:
    """Cancel the event (取消) with a reason; every live task is withdrawn."""
    role = _acting_role("cancel", actor)
    _open(event, "cancel")
    reason = text_input(reason, "reason", NOTE_MAX)
    withdrawn = [t.department for t in event.live_tasks]
    tasks = tuple(replace(t, status="withdrawn", version=t.version + 1, needs_support=False) if t.live else t
                  for t in event.tasks)
    entries = [_entry(actor, role, now_ms, "cancelled", reason=reason, withdrawn=withdrawn)]
    entries += [_entry(actor, role, now_ms, "task_withdrawn", department=d, cause="cancel", reason=reason)
                for d in withdrawn]
    return _commit(event, now_ms, entries, status="cancelled", closed_at=now_ms, summary=reason, tasks=tasks)


def link(event: Event, actor: Principal, now_ms: int, alarms=(), cases=()) -> Event:
    """Link more alarms or cases to the event explicitly (those already linked are skipped)."""
    role = _acting_role("link", actor)
    _open(event, "link")
    new_alarms = [a for a in dict.fromkeys(alarms) if a not in event.alarms]
    new_cases = [c for c in dict.fromkeys(cases) if c not in event.cases]
    if not new_alarms and not new_cases:
        raise EventError("nothing new to link", "alarms", "repeat")
    entry = _entry(actor, role, now_ms, "linked", alarms=new_alarms, cases=new_cases)
    return _commit(event, now_ms, [entry], alarms=event.alarms + tuple(new_alarms),
                   cases=event.cases + tuple(new_cases))


# --- timing ---------------------------------------------------------------------------------------

def _report_due(task: Task) -> int:
    return (task.last_report_at or task.arrived_at) + task.report_min * MINUTE_MS


def overdue(task: Task, now_ms: int) -> tuple[str, ...]:
    """The task's overdue steps now: "acknowledge" (still issued `ack_min` after issue),
    "arrive" (not on site `arrive_min` after issue), "report" (on site or working and no report
    for `report_min` since arriving or the last report)."""
    out = []
    if task.status == "issued" and now_ms > task.issued_at + task.ack_min * MINUTE_MS:
        out.append("acknowledge")
    if task.status in ("issued", "acknowledged") and now_ms > task.issued_at + task.arrive_min * MINUTE_MS:
        out.append("arrive")
    if task.status in ("on_site", "working") and now_ms > _report_due(task):
        out.append("report")
    return tuple(out)


def task_deadline(task: Task) -> int:
    """When the task's current step is due (ms): acknowledging while issued, arriving while
    acknowledged, the next report while on site or working; 0 for an ended task."""
    if task.status == "issued":
        return task.issued_at + task.ack_min * MINUTE_MS
    if task.status == "acknowledged":
        return task.issued_at + task.arrive_min * MINUTE_MS
    if task.status in ("on_site", "working"):
        return _report_due(task)
    return 0


@dataclass(frozen=True)
class TaskFigures:
    """One department's response times in minutes (None: not reached), against its limits."""

    department: str
    role: str
    status: str
    to_acknowledge: float | None  # issued → acknowledged
    to_arrive: float | None  # issued → on site
    to_done: float | None  # issued → done
    ack_min: int
    arrive_min: int
    late: tuple[str, ...]  # steps taken after their limit: "acknowledge", "arrive"
    overdue: tuple[str, ...]  # steps overdue now (see `overdue`)

    def to_dict(self) -> dict:
        return {**{k: getattr(self, k) for k in self.__dataclass_fields__}, "late": list(self.late),
                "overdue": list(self.overdue)}


@dataclass(frozen=True)
class EventFigures:
    """The event's figures (post-event review 复盘, and live on the event page)."""

    to_contain: float | None  # minutes from start to (the latest) containment
    duration: float  # minutes from start to closing or cancelling (or to now)
    tasks_done: int
    tasks_total: int  # tasks not withdrawn
    departments: tuple[TaskFigures, ...]

    def to_dict(self) -> dict:
        return {"to_contain": self.to_contain, "duration": self.duration, "tasks_done": self.tasks_done,
                "tasks_total": self.tasks_total, "departments": [d.to_dict() for d in self.departments]}


def _minutes(start: int, end: int) -> float | None:
    return round((end - start) / MINUTE_MS, 1) if end else None


def _task_figures(task: Task, now_ms: int) -> TaskFigures:
    to_ack, to_arrive = _minutes(task.issued_at, task.acknowledged_at), _minutes(task.issued_at, task.arrived_at)
    late = tuple(step for step, took, limit in (("acknowledge", to_ack, task.ack_min),
                                                ("arrive", to_arrive, task.arrive_min))
                 if took is not None and took > limit)
    return TaskFigures(task.department, task.role, task.status, to_ack, to_arrive,
                       _minutes(task.issued_at, task.done_at), task.ack_min, task.arrive_min, late,
                       overdue(task, now_ms))


def figures(event: Event, now_ms: int) -> EventFigures:
    """Minutes to acknowledge, arrive and finish per department, to contain and in all."""
    counted = [t for t in event.tasks if t.status != "withdrawn"]
    return EventFigures(_minutes(event.started_at, event.contained_at),
                        round(((event.closed_at or now_ms) - event.started_at) / MINUTE_MS, 1),
                        sum(t.status == "done" for t in counted), len(counted),
                        tuple(_task_figures(t, now_ms if event.is_open else event.closed_at) for t in event.tasks))
