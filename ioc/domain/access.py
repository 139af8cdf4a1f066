"""Who may see and do what: roles, permissions, the signed-in principal.

Pure rules, no I/O. The web layer resolves a `Principal` from the session cookie or a bearer
token and asks `allowed(principal, permission)` before every Dash callback and API route; which
permission each portal page needs is a column of its page table (`ioc.web.pages`).

Roles (a user may hold several):

- ``operator`` 值班员 — watches the big screen, acknowledges alarms.
- ``leader`` 领导 — sees everything read-only, drills into districts, clears alarms by hand,
  reads the audit log (and urges overdue cases, issue 5).
- ``dispatcher`` 调度员 — runs the case workflow; acknowledges and clears alarms.
- ``inspector`` 监督员 — verifies and checks cases on site; watches the big screen.
- ``handler`` 处置部门 — bound to one department; sees only that department's tasks.
- ``admin`` 管理员 — users, API tokens, audit log, data-intake status, the notification set-up
  (duty roster, contacts, routes, silences). Nothing else: a person who also runs operations
  holds a second role.
- ``reporter`` 上报系统 — a system that only files and follows case reports (the 12345 hotline
  platform, a civic app through Open311); meant for API tokens.

A **kiosk** session (the unattended wall) is a read-only operator: it may view what an
operator views and do nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES: tuple[str, ...] = ("operator", "leader", "dispatcher", "inspector", "handler", "admin", "reporter")
ROLE_ALIASES = {"department": "handler", "department_handler": "handler", "department-handler": "handler"}

SIGNED_IN = "signed_in"  # any principal at all (the frame: clock, language, navigation)

# permission -> roles that hold it
PERMISSIONS: dict[str, frozenset[str]] = {
    SIGNED_IN: frozenset(ROLES),
    "view:bigscreen": frozenset({"operator", "leader", "dispatcher", "inspector"}),
    "view:districts": frozenset({"operator", "leader", "dispatcher", "inspector"}),
    "view:status": frozenset({"operator", "leader", "dispatcher", "admin"}),
    "view:audit": frozenset({"leader", "admin"}),
    "view:admin": frozenset({"admin"}),
    "view:account": frozenset(ROLES),
    "view:console": frozenset({"dispatcher", "leader"}),
    "view:tasks": frozenset({"handler"}),
    "view:inspections": frozenset({"inspector"}),
    "view:report": frozenset({"inspector"}),  # 巡查上报 (dispatchers file calls on the console); holders also hold case:report
    "view:indicators": frozenset({"leader", "dispatcher", "admin"}),
    "view:cockpit": frozenset({"leader"}),
    "view:events": frozenset({"operator", "leader", "dispatcher", "inspector", "handler"}),
    "view:rewind": frozenset({"operator", "leader", "dispatcher"}),  # issue 17: the time control (回溯) on the wall and district pages
    "case:read": frozenset({"leader", "dispatcher", "inspector", "handler"}),
    "case:report": frozenset({"dispatcher", "inspector", "reporter"}),
    "case:attach": frozenset({"dispatcher", "inspector", "handler"}),  # issue 16, media
    "event:read": frozenset({"operator", "leader", "dispatcher", "inspector", "handler"}),
    "event:command": frozenset({"dispatcher", "leader"}),
    "event:instruct": frozenset({"leader"}),
    "event:task": frozenset({"handler"}),
    "alarm:acknowledge": frozenset({"operator", "dispatcher", "leader"}),
    "alarm:clear": frozenset({"dispatcher", "leader"}),
    "user:manage": frozenset({"admin"}),
    "token:manage": frozenset({"admin"}),
    # notifications (issue 16, piece notifyui)
    "view:duty": frozenset({"operator", "leader", "dispatcher", "admin"}),
    "view:notify": frozenset({"admin"}),
    "notify:manage": frozenset({"admin"}),
    "notify:silence": frozenset({"admin", "dispatcher", "leader"}),
    # the record's reports (issue 17, piece reports)
    "view:reports": frozenset({"leader", "dispatcher", "admin"}),
    "report:export": frozenset({"leader", "dispatcher", "admin"}),
}
PERMISSION_NOTES: dict[str, str] = {
    SIGNED_IN: "the portal frame: clock, data freshness, language, navigation",
    "view:bigscreen": "the big screen and its live data; `GET /api/v1/sensors`, `/api/v1/alarms`",
    "view:districts": "district pages and the district ranking; `GET /api/v1/districts`",
    "view:status": "the data-intake status page",
    "view:audit": "the audit log (page and `GET /api/v1/audit`)",
    "view:admin": "the users and API tokens page",
    "view:account": "one's own account page (change password, sign out)",
    "view:console": "the dispatch console `/cases`: open cases by stage, filters, a new case from a phone call (with `case:report`)",
    "view:tasks": "the department's task list `/tasks` (a handler: its own department's dispatched cases)",
    "view:inspections": "the inspector's queues `/inspections`: cases to verify and to check",
    "view:report": "the phone page `/report` (巡查上报): report a problem with photos and position, kept on the phone while offline (sending needs `case:report`)",
    "view:rewind": "the time control (回溯 / Rewind) on the wall `/` and the district pages: the city as it was at any moment of the record, played at 60×/600×/3600×; one device's readings around an alarm (`/device/<id>`, the alarm boards' 回溯 links)",
    "view:indicators": "the case indicators `/indicators`: rates per district and department, the department ranking",
    "view:cockpit": "the leader cockpit `/cockpit` (领导驾驶舱, phone first): the city's and districts' key figures, active alarms, linked events, overdue cases with 督办 (the urge itself is the case action `urge`)",
    "case:read": "cases: lists, one case with its timeline (a handler: its department's only); `GET /api/v1/cases…`, Open311 `GET`",
    "case:report": "file a case report (`POST /api/v1/cases`, Open311 `POST requests.json`); each workflow action names its own roles",
    "case:attach": "upload photos to a case it may see (`POST /api/v1/cases/<id>/media`, the case page; a handler: its department's cases)",
    "view:events": "the linked events `/events` and an event's page `/event/<id>` (a handler: the events its department has a task in)",
    "event:read": "linked events: `GET /api/v1/events…`, the plans, the proposals (a handler: the events its department has a task in)",
    "event:command": "start a linked event (also from a proposal), change its level, add and withdraw tasks, contain, close, cancel; dismiss a proposal",
    "event:instruct": "give a leader's instruction (批示) on a linked event",
    "event:task": "work the department's own event tasks (acknowledge, arrive, report, done, return, ask for support) and acknowledge instructions",
    "alarm:acknowledge": "acknowledge an active alarm",
    "alarm:clear": "clear an active alarm by hand, with a note",
    "user:manage": "add, change, disable users, reset passwords",
    "token:manage": "create and revoke API tokens and kiosk links",
    "view:duty": "who is on duty now and next `/duty` (operations center, dispatch desk, each department) with phone numbers; the silences in force",
    "view:notify": "the notifications page `/notify`: duty roster, contacts and groups (keys masked), routes, quiet hours, silences, the sent log",
    "notify:manage": "change the duty roster, contacts, groups, routes and quiet hours; send a test message",
    "notify:silence": "add a silence (a maintenance window: matching notifications are not sent) and expire one, on `/notify` or `/duty`",
    "view:reports": "the monthly assessment report `/reports` (月度考评) and its JSON `GET /api/v1/reports/monthly`; "
                    "the indicators of any period from the record (`GET /api/v1/indicators?from=&to=`)",
    "report:export": "downloads: the record's exports (cases, devices and alarms of a period as GeoPackage or GeoJSON: "
                     "`GET /api/v1/exports/…`, the district page's export links), a report as XLSX (`POST /api/v1/reports`, "
                     "then `GET /api/v1/reports/<id>/file`), any report table as CSV, a linked event's post-event report",
}

class AccessDenied(PermissionError):
    """The principal lacks the permission; the message names it and who holds it."""


@dataclass(frozen=True)
class Principal:
    """Whoever makes a request: a signed-in user, an API token, or a kiosk session."""

    name: str
    roles: frozenset[str] = field(default_factory=frozenset)
    display_name: str = ""
    department: str = ""
    kind: str = "user"  # user | token | kiosk
    read_only: bool = False

    @property
    def label(self) -> str:
        return self.display_name or self.name

    @property
    def role(self) -> str:
        """The roles as one audit-friendly string, e.g. `dispatcher+leader`."""
        return "+".join(sorted(self.roles)) or "-"

    def acting_role(self, permission: str) -> str:
        """The one role under which this principal exercises `permission` (first in ROLES order)."""
        holders = PERMISSIONS.get(permission, frozenset())
        for role in ROLES:
            if role in self.roles and role in holders:
                return role
        return self.role


def normalise_role(role: str) -> str:
    """`ROLE` as stored (aliases such as `department` -> `handler`); ValueError if unknown."""
    name = ROLE_ALIASES.get(role.strip().lower(), role.strip().lower())
    if name not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    return name


def allowed(principal: Principal | None, permission: str) -> bool:
    """Whether `principal` holds `permission`. Unknown permissions are denied (fail closed);
    a read-only (kiosk) principal holds only `view:*` and `signed_in`."""
    if principal is None:
        return False
    holders = PERMISSIONS.get(permission)
    if holders is None:
        return False
    if principal.read_only and not (permission == SIGNED_IN or permission.startswith("view:")):
        return False
    return bool(holders & principal.roles)


def require(principal: Principal | None, permission: str) -> None:
    if not allowed(principal, permission):
        who = "a read-only kiosk session" if principal is not None and principal.read_only else f"role {principal.role if principal else '(anonymous)'}"
        holders = ", ".join(r for r in ROLES if r in PERMISSIONS.get(permission, ()))
        raise AccessDenied(f"{who} may not {permission} (held by: {holders or 'nobody'})")
