"""What operators do with an active alarm: acknowledge it, see it escalate, clear it by hand.

Pure rules, no I/O (the Redis side is `ioc.adapters.alarm_store`):

- **Acknowledge** (确认): operator, dispatcher and leader may (`alarm:acknowledge` in
  `ioc.domain.access`). An acknowledged alarm
  stays active until its rule (or a person) clears it, but it never escalates.
- **Escalate** (升级): an unacknowledged alarm escalates once it has been active longer than
  the policy's minutes for its severity (defaults: critical 5, major 15, minor never).
- **Clear by hand** (手动消警): dispatcher and leader may (`alarm:clear`), with a note
  (1–500 characters) saying why; an operator may acknowledge only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .access import PERMISSIONS, ROLES

ACK_ROLES = PERMISSIONS["alarm:acknowledge"]
CLEAR_ROLES = PERMISSIONS["alarm:clear"]
NOTE_MAX = 500
MINUTE_MS = 60_000


class AlarmActionError(ValueError):
    """An alarm action that is not allowed or not well formed; the message says why (in English,
    for logs and the API). `code` and `params` name the reason for a UI to say it in its language
    (`ioc.i18n.t(code, lang).format(**params)`)."""

    def __init__(self, message: str, code: str = "alarm_action_refused", **params):
        super().__init__(message)
        self.code = code
        self.params = params


class AlarmPermissionError(AlarmActionError):
    """The actor's role may not do this to an alarm."""


@dataclass(frozen=True)
class Acknowledgement:
    by: str  # user name
    role: str
    at_ms: int

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Acknowledgement":
        return cls(str(data["by"]), str(data["role"]), int(data["at_ms"]))


@dataclass(frozen=True)
class EscalationPolicy:
    """Minutes after which an unacknowledged alarm escalates, per severity; None: never."""

    critical: int | None = 5
    major: int | None = 15
    minor: int | None = None

    @classmethod
    def from_minutes(cls, critical: int, major: int, minor: int) -> "EscalationPolicy":
        """From settings-style integers, where 0 (or less) means never."""
        def never_if_zero(m: int) -> int | None:
            return m if m and m > 0 else None

        return cls(never_if_zero(critical), never_if_zero(major), never_if_zero(minor))

    def after_minutes(self, severity: str) -> int | None:
        return getattr(self, severity, None) if severity in ("critical", "major", "minor") else None


@dataclass(frozen=True)
class Escalation:
    escalated: bool
    since_ms: int | None = None  # when it escalated (raised_at + the policy's minutes)
    overdue_minutes: int = 0  # whole minutes since it escalated


NOT_ESCALATED = Escalation(False)


def escalation(alarm: dict, ack: Acknowledgement | None, now_ms: int, policy: EscalationPolicy) -> Escalation:
    """Whether `alarm` (an active alarm dict with `severity` and `raised_at`) has escalated at `now_ms`."""
    if ack is not None:
        return NOT_ESCALATED
    minutes = policy.after_minutes(alarm.get("severity", ""))
    if minutes is None:
        return NOT_ESCALATED
    since = int(alarm["raised_at"]) + minutes * MINUTE_MS
    if now_ms < since:
        return NOT_ESCALATED
    return Escalation(True, since, (now_ms - since) // MINUTE_MS)


def may_acknowledge(roles: set[str] | frozenset[str]) -> bool:
    return bool(ACK_ROLES & set(roles))


def may_clear(roles: set[str] | frozenset[str]) -> bool:
    return bool(CLEAR_ROLES & set(roles))


def check_acknowledge(roles: set[str] | frozenset[str]) -> None:
    if not may_acknowledge(roles):
        raise AlarmPermissionError(f"role {_roles(roles)} may not acknowledge alarms ({_holders(ACK_ROLES)} may)",
                                   "alarm_ack_not_permitted")


def check_clear(roles: set[str] | frozenset[str], note: str | None) -> str:
    """Raise AlarmActionError unless `roles` may clear by hand with `note`; return the trimmed note."""
    if not may_clear(roles):
        raise AlarmPermissionError(f"role {_roles(roles)} may not clear alarms by hand ({_holders(CLEAR_ROLES)} may; an operator may acknowledge only)",
                                   "alarm_clear_not_permitted")
    text = (note or "").strip()
    if not text:
        raise AlarmActionError("clearing an alarm by hand needs a note saying why", "alarm_note_required")
    if len(text) > NOTE_MAX:
        raise AlarmActionError(f"the note is {len(text)} characters; at most {NOTE_MAX} are allowed", "alarm_note_too_long",
                               length=len(text), max=NOTE_MAX)
    return text


def _holders(roles) -> str:
    return ", ".join(r for r in ROLES if r in roles)


def _roles(roles) -> str:
    return "/".join(sorted(roles)) or "(none)"
