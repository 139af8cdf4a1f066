"""The case (案件) and its seven-stage workflow, GB/T 30428 style. Pure: no I/O.

    上报 reported → 受理 accepted → 核实 verified → 派遣 dispatched → 处置 handled → 核查 checked → 办结 closed

with the real branches: 不予受理 (reject: reported → rejected), 作废 (void: accepted → voided,
the inspector found nothing), 回退 (return: a department sends a misdispatched task back,
dispatched → verified, to be dispatched again), 返工 (check_fail: handled → dispatched, counted),
延期 (request_deferral / approve_deferral / deny_deferral while dispatched), 督办 (urge: a leader
presses an open case), 并案 (merge: a duplicate report joins its master case, → merged), and the
field work's steps that leave the stage as it is: 上传照片 (attach: photo evidence, taken by an upload
through `ioc.media.service`, never as a plain action) and 到场 (arrive: the department's check-in on
site with the phone's position, within the check-in radius, after 签收).

`apply(case, action, actor, now_ms, **params)` checks the stage, the actor's role (and, for a
department handler, that the case is its department's) and the parameters, and returns the
changed case and the timeline event; it raises `CaseActionError` (or `CasePermissionError`)
with a message the user can act on. `check_may_take(action, actor)` is the part of those checks
that depends on no case (the action exists; the actor's roles may ever take it, and it is not a
read-only kiosk): the case service runs it before it looks the case up. Deadlines are set by
the caller (`ioc.domain.case_catalog` and `ioc.domain.work_calendar` know the time limits); this
module only carries them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from .access import PERMISSIONS, Principal, allowed
from .geo import metres
from .media import has_after_photo

STAGES: tuple[str, ...] = ("reported", "accepted", "verified", "dispatched", "handled", "checked", "closed")
ENDED: tuple[str, ...] = ("closed", "rejected", "voided", "merged")  # no further action (except none)
OPEN_STAGES: tuple[str, ...] = STAGES[:-1]
STAGE_NAMES: dict[str, dict[str, str]] = {
    "reported": {"zh": "上报", "en": "Reported"},
    "accepted": {"zh": "受理", "en": "Accepted"},
    "verified": {"zh": "核实", "en": "Verified"},
    "dispatched": {"zh": "派遣", "en": "Dispatched"},
    "handled": {"zh": "处置", "en": "Handled"},
    "checked": {"zh": "核查", "en": "Checked"},
    "closed": {"zh": "办结", "en": "Closed"},
    "rejected": {"zh": "不予受理", "en": "Not accepted"},
    "voided": {"zh": "作废", "en": "Void"},
    "merged": {"zh": "并案", "en": "Merged"},
}
# the stage whose work a stage's deadline measures: e.g. while `dispatched`, the department handles
STAGE_WORK = {"reported": "accept", "accepted": "verify", "verified": "dispatch", "dispatched": "handle",
              "handled": "check", "checked": "close"}
NOTE_MAX = 1000
DEFERRAL_MAX_HOURS = 24 * 30
CHECKIN_RADIUS_M = 300  # default of IOC_CHECKIN_RADIUS_M
UPLOAD_ACTIONS = frozenset({"attach"})  # taken by uploading a file (ioc.media.service), not offered as a plain action


class CaseActionError(ValueError):
    """An action the case's stage or the parameters do not allow; the message says why,
    `field` names the parameter at fault (`action` when it is the action itself) and `code`,
    when set, the kind of refusal for a page to word it (`note_too_long`, `already_acknowledged`,
    `deferral_waiting`, `no_deferral`, `not_acknowledged`, `position_required`, `too_far`,
    `after_photo_required`, `too_many_files`, `no_files`); `values` the figures its words name
    (`too_far`: `distance`, `radius` in metres)."""

    def __init__(self, message: str, field: str = "action", code: str = "", values: dict | None = None):
        super().__init__(message)
        self.field = field
        self.code = code
        self.values = dict(values or {})


class CasePermissionError(CaseActionError):
    """The actor's role (or department) may not take this action on this case."""


@dataclass(frozen=True)
class Transition:
    action: str
    from_stages: tuple[str, ...]
    to_stage: str | None  # None: the stage stays (acknowledge, deferral, urge)
    roles: frozenset[str]
    note_required: bool = False
    zh: str = ""
    en: str = ""


def _t(action, frm, to, roles, note=False, zh="", en=""):
    return Transition(action, tuple(frm), to, frozenset(roles), note, zh, en)


TRANSITIONS: dict[str, Transition] = {t.action: t for t in (
    _t("accept", ["reported"], "accepted", ["dispatcher"], zh="受理（送核实）", en="Accept (send for verification)"),
    _t("reject", ["reported"], "rejected", ["dispatcher"], True, "不予受理", "Do not accept"),
    _t("merge", ["reported", "accepted"], "merged", ["dispatcher"], zh="并案", en="Merge into master case"),
    _t("verify", ["accepted"], "verified", ["inspector"], zh="核实属实", en="Verify"),
    _t("void", ["accepted"], "voided", ["inspector"], True, "核实不属实（作废）", "Void (not found on site)"),
    _t("dispatch", ["verified"], "dispatched", ["dispatcher"], zh="派遣", en="Dispatch"),
    _t("acknowledge", ["dispatched"], None, ["handler"], zh="签收", en="Acknowledge"),
    _t("return", ["dispatched"], "verified", ["handler"], True, "回退（非本部门职责）", "Return (not ours)"),
    _t("handle", ["dispatched"], "handled", ["handler"], zh="处置完毕", en="Report handled"),
    _t("request_deferral", ["dispatched"], None, ["handler"], True, "申请延期", "Request deferral"),
    _t("approve_deferral", ["dispatched"], None, ["dispatcher"], zh="批准延期", en="Approve deferral"),
    _t("deny_deferral", ["dispatched"], None, ["dispatcher"], True, "驳回延期", "Deny deferral"),
    _t("check_pass", ["handled"], "checked", ["inspector"], zh="核查通过", en="Check passed"),
    _t("check_fail", ["handled"], "dispatched", ["inspector"], True, "核查不通过（返工）", "Check failed (rework)"),
    _t("close", ["checked"], "closed", ["dispatcher"], zh="结案", en="Close"),
    _t("urge", list(OPEN_STAGES), None, ["leader"], zh="督办", en="Urge"),
    _t("attach", list(OPEN_STAGES), None, PERMISSIONS["case:attach"], zh="上传照片", en="Attach photos"),
    _t("arrive", ["dispatched"], None, ["handler"], zh="到场签到", en="Check in on site"),
)}


@dataclass(frozen=True)
class Case:
    id: str
    class_code: str
    lat: float
    lon: float
    district: str
    source: str  # hotline | inspector | camera | sensor | phone | open311 | …
    created_at: int
    stage: str = "reported"
    version: int = 1
    description: str = ""
    address: str = ""
    cell: str = ""
    report_id: str = ""
    reporter: str = ""  # who reported it (a citizen's name and contact, an inspector, a hotline operator)
    filed_by: str = ""  # the principal or source that filed it (user, `token:<name>`, `hotline`, `sensor`)
    device_id: str = ""
    media: tuple[str, ...] = ()  # photo / video links
    urgent: bool = False
    department: str = ""  # the department it is (or was last) dispatched to
    suggested_department: str = ""
    stage_since: int = 0
    stage_deadline: int = 0  # ms; when the current stage's work is due (0: no limit)
    due_at: int = 0  # ms; when the whole case is due to close (moves with approved deferrals)
    acknowledged_at: int = 0
    rework_count: int = 0
    return_count: int = 0
    deferral_count: int = 0
    deferred_hours: int = 0
    urge_count: int = 0
    pending_deferral: dict = field(default_factory=dict)  # {"hours", "note", "by", "at"} while asked
    master_id: str = ""
    possible_duplicates: tuple[str, ...] = ()
    closed_at: int = 0
    updated_at: int = 0
    attachments: tuple[dict, ...] = ()  # ioc.domain.media.Attachment dicts, oldest first
    arrived_at: int = 0  # ms; the department's check-in on site since the last dispatch (0: none)
    arrival: dict = field(default_factory=dict)  # {"lat", "lon", "accuracy", "distance_m"} of that check-in

    @property
    def is_open(self) -> bool:
        return self.stage not in ENDED

    def overdue(self, now_ms: int) -> bool:
        return self.is_open and bool(self.stage_deadline) and now_ms > self.stage_deadline

    def to_dict(self) -> dict:
        # flat fields: a plain walk is many times faster than dataclasses.asdict (which deep-copies)
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["media"] = list(self.media)
        data["possible_duplicates"] = list(self.possible_duplicates)
        data["pending_deferral"] = dict(self.pending_deferral)
        data["attachments"] = [dict(a) for a in self.attachments]
        data["arrival"] = dict(self.arrival)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Case":
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in data.items() if k in known}
        values["media"] = tuple(values.get("media") or ())
        values["possible_duplicates"] = tuple(values.get("possible_duplicates") or ())
        values["pending_deferral"] = dict(values.get("pending_deferral") or {})
        values["attachments"] = tuple(dict(a) for a in values.get("attachments") or ())
        values["arrival"] = dict(values.get("arrival") or {})
        return cls(**values)


@dataclass(frozen=True)
class CaseEvent:
    """One line of a case's timeline."""

    case_id: str
    action: str  # a TRANSITIONS key, or "report" for the intake
    actor: str
    role: str
    from_stage: str
    to_stage: str
    at: int
    note: str = ""
    detail: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def visible_to(case: Case, principal: Principal | None) -> bool:
    """Whether `principal` may see `case` at all (the one rule of every entry: the portal, the
    JSON API, Open311, the department systems over MQTT). Staff holding `case:read` see by role:
    leaders, dispatchers and inspectors every case, a department handler only its department's;
    a principal without `case:read` (a reporting system) sees the cases it filed itself; a
    read-only kiosk and everyone else nothing. A case one may not see is answered as if it did
    not exist."""
    if principal is None:
        return False
    if allowed(principal, "case:read"):
        if principal.roles & {"leader", "dispatcher", "inspector"}:
            return True
        return "handler" in principal.roles and bool(principal.department) and case.department == principal.department
    return bool(case.filed_by) and case.filed_by == principal.name


def allowed_actions(case: Case, principal: Principal | None) -> list[str]:
    """The actions this principal may take on this case now (for buttons and the API); an upload
    (`attach`) is not among them: `may_attach` says whether one may upload."""
    return [a for a, t in TRANSITIONS.items() if _permitted(case, t, principal) is None and case.stage in t.from_stages
            and a not in UPLOAD_ACTIONS
            and not (a in ("approve_deferral", "deny_deferral") and not case.pending_deferral)
            and not (a == "request_deferral" and case.pending_deferral)
            and not (a == "acknowledge" and case.acknowledged_at)
            and not (a == "arrive" and not case.acknowledged_at)]


def may_attach(case: Case, principal: Principal | None) -> bool:
    """Whether `principal` may attach photos to `case` now (an open case; an inspector, a
    dispatcher, or a handler of the case's department)."""
    t = TRANSITIONS["attach"]
    return case.stage in t.from_stages and _permitted(case, t, principal) is None


def check_may_take(action: str, principal: Principal | None) -> None:
    """Whether `principal` may ever take `action`, whatever the case: the action is one of the
    workflow's (else `CaseActionError`, field `action`), the principal is signed in, not a
    read-only kiosk, and holds one of the roles that take it (else `CasePermissionError`).
    It depends on no case, so a refusal here reveals nothing about one: every entry checks it
    before it looks the case up (`ioc.casework.service.CaseService.act`)."""
    t = TRANSITIONS.get(action)
    if t is None:
        raise CaseActionError(f"unknown action {action!r}; actions are {', '.join(TRANSITIONS)}")
    reason = _role_reason(t, principal)
    if reason:
        raise CasePermissionError(reason)


def _role_reason(t: Transition, principal: Principal | None) -> str | None:
    """Why `principal` may never take `t` on any case, or None."""
    if principal is None:
        return "sign in first"
    if principal.read_only:
        return "a read-only kiosk session may not act on cases"
    if not principal.roles & t.roles:
        holders = ", ".join(sorted(t.roles))
        return f"role {principal.role} may not {t.action} a case ({holders} may)"
    return None


def _permitted(case: Case, t: Transition, principal: Principal | None) -> str | None:
    """None when allowed, else the reason."""
    reason = _role_reason(t, principal)
    if reason:
        return reason
    role = next(r for r in principal.roles if r in t.roles)
    if role == "handler" and principal.department != case.department:
        return f"this case is dispatched to {case.department or 'no department'}, not to {principal.department}"
    return None


def apply(case: Case, action: str, actor: Principal, now_ms: int, note: str = "", department: str = "",
          hours: int = 0, master_id: str = "", attachments: tuple[dict, ...] = (), max_attachments: int = 0,
          lat: float | None = None, lon: float | None = None, accuracy: float | None = None,
          radius_m: float = CHECKIN_RADIUS_M, require_after_photo: bool = False) -> tuple[Case, CaseEvent]:
    """Take `action` on `case` as `actor` at `now_ms`; returns (changed case, timeline event).

    Parameters: `note` (required by reject, void, return, check_fail, request_deferral,
    deny_deferral), `department` (dispatch), `hours` (request_deferral), `master_id` (merge),
    `attachments` (attach: new `Attachment` dicts, at most `max_attachments` on the case in all
    when it is set), `lat`, `lon`, `accuracy` (arrive: the phone's position, within `radius_m`
    of the case), `require_after_photo` (handle: refused without an `after` photo attached since
    the case was dispatched, as the portal's handlers work).
    The caller sets new deadlines (stage_deadline, due_at) on the returned case.
    """
    t = TRANSITIONS.get(action)
    if t is None:
        raise CaseActionError(f"unknown action {action!r}; actions are {', '.join(TRANSITIONS)}")
    if case.stage not in t.from_stages:
        raise CaseActionError(f"a case in stage {case.stage!r} cannot be {action!r}ed (only from {', '.join(t.from_stages)})")
    reason = _permitted(case, t, actor)
    if reason:
        raise CasePermissionError(reason)
    note = (note or "").strip()
    if t.note_required and not note:
        raise CaseActionError(f"{action} needs a note saying why", "note")
    if len(note) > NOTE_MAX:
        raise CaseActionError(f"the note is {len(note)} characters; at most {NOTE_MAX} are allowed", "note", "note_too_long")
    role = next(r for r in sorted(actor.roles) if r in t.roles)
    changes: dict = {}
    detail: dict = {}
    if action == "dispatch":
        if not department:
            raise CaseActionError("dispatch needs the department to send the case to", "department")
        changes.update(department=department, acknowledged_at=0, pending_deferral={}, arrived_at=0, arrival={})
        detail["department"] = department
    elif action == "acknowledge":
        if case.acknowledged_at:
            raise CaseActionError("the department has already acknowledged this case", code="already_acknowledged")
        changes["acknowledged_at"] = now_ms
    elif action == "return":
        changes.update(return_count=case.return_count + 1, acknowledged_at=0, pending_deferral={}, arrived_at=0, arrival={})
        detail["department"] = case.department
    elif action == "check_fail":
        changes.update(rework_count=case.rework_count + 1, arrived_at=0, arrival={})
    elif action == "attach":
        changes["attachments"], detail["media"] = _attached(case, attachments, max_attachments)
    elif action == "arrive":
        changes.update(_arrival(case, now_ms, lat, lon, accuracy, radius_m))
        detail["distance_m"] = changes["arrival"]["distance_m"]
    elif action == "handle" and require_after_photo and not has_after_photo(case, case.stage_since):
        raise CaseActionError("report handled needs at least one after photo taken since the case was dispatched",
                              "file", "after_photo_required")
    elif action == "request_deferral":
        if case.pending_deferral:
            raise CaseActionError("a deferral request is already waiting for the dispatcher", code="deferral_waiting")
        if not isinstance(hours, int) or not 1 <= hours <= DEFERRAL_MAX_HOURS:
            raise CaseActionError(f"a deferral asks for 1 to {DEFERRAL_MAX_HOURS} hours", "hours")
        changes["pending_deferral"] = {"hours": hours, "note": note, "by": actor.name, "at": now_ms}
        detail["hours"] = hours
    elif action in ("approve_deferral", "deny_deferral"):
        if not case.pending_deferral:
            raise CaseActionError("no deferral request is waiting", code="no_deferral")
        hours = int(case.pending_deferral["hours"])
        detail["hours"] = hours
        changes["pending_deferral"] = {}
        if action == "approve_deferral":
            changes.update(deferral_count=case.deferral_count + 1, deferred_hours=case.deferred_hours + hours)
    elif action == "urge":
        changes["urge_count"] = case.urge_count + 1
    elif action == "merge":
        if not master_id or master_id == case.id:
            raise CaseActionError("merge needs the id of another case (the master) to merge into", "master_id")
        changes["master_id"] = master_id
        detail["master_id"] = master_id
    to_stage = t.to_stage or case.stage
    if to_stage != case.stage:
        changes["stage_since"] = now_ms
        changes["stage_deadline"] = 0
    if to_stage == "closed":
        changes["closed_at"] = now_ms
    changed = replace(case, stage=to_stage, version=case.version + 1, updated_at=now_ms, **changes)
    return changed, CaseEvent(case.id, action, actor.name, role, case.stage, to_stage, now_ms, note, detail)


def _attached(case: Case, attachments, max_attachments: int) -> tuple[tuple[dict, ...], list[dict]]:
    """The case's attachments with the new ones (those it does not hold yet) after them, and the
    timeline's note of the new ones ({id, name, stage})."""
    held = {a.get("id") for a in case.attachments}
    new: list[dict] = []
    for a in attachments or ():
        if isinstance(a, dict) and a.get("id") and a["id"] not in held:
            held.add(a["id"])
            new.append(dict(a))
    if not new:
        raise CaseActionError("attach needs new files: upload them with POST /api/v1/cases/<id>/media", "file", "no_files")
    if max_attachments and len(case.attachments) + len(new) > max_attachments:
        raise CaseActionError(f"a case keeps at most {max_attachments} files; it has {len(case.attachments)}", "file",
                              "too_many_files", {"n": max_attachments})
    return case.attachments + tuple(new), [{"id": a["id"], "name": a.get("name", ""), "stage": a.get("stage", "")} for a in new]


def _arrival(case: Case, now_ms: int, lat, lon, accuracy, radius_m: float) -> dict:
    """The check-in's changes: `arrived_at` and `arrival`, or the refusal (before 签收, without a
    position, farther than `radius_m` from the case)."""
    if not case.acknowledged_at:
        raise CaseActionError("acknowledge (签收) the case before checking in on site", code="not_acknowledged")
    if lat is None or lon is None:
        raise CaseActionError("checking in needs your position (lat, lon)", "lat", "position_required")
    distance = metres(case.lon, case.lat, float(lon), float(lat))
    if distance > radius_m:
        raise CaseActionError(f"you are {distance:.0f} m from the case; check-in is accepted within {radius_m:.0f} m",
                              "lat", "too_far", {"distance": round(distance), "radius": round(radius_m)})
    arrival = {"lat": float(lat), "lon": float(lon), "accuracy": None if accuracy is None else float(accuracy),
               "distance_m": round(distance, 1)}
    return {"arrived_at": now_ms, "arrival": arrival}
