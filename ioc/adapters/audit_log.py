"""The audit log: an append-only Redis stream (`ioc:{core}:audit`) of who did what, when, from where.

Every entry has `at_ms`, `actor` (user name, `token:<name>`, `kiosk:<name>`, `cli:<os user>`),
`role` (the role acted under, or all roles joined by `+`), `action` (see ACTIONS), `target`
(user, token, alarm id…), `outcome` (`ok`, `denied`, `failed`), `ip` and `detail` (JSON).
Nothing in IOC edits or deletes entries; the stream is never trimmed by the application.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import orjson

from ioc.adapters import redis_keys as keys
from ioc.adapters.redis_client import as_text as _text
from ioc.domain.cases import TRANSITIONS
from ioc.domain.events import TASK_ACTIONS

ACTIONS: dict[str, str] = {
    "auth.sign_in": "a user signed in",
    "auth.sign_in_failed": "a sign-in failed (wrong name or password, disabled user)",
    "auth.locked_out": "a sign-in was refused because of too many failures",
    "auth.sign_out": "a user signed out",
    "auth.kiosk": "a kiosk link opened a read-only wall session",
    "auth.password_changed": "a user changed their own password",
    "access.denied": "a request was refused for lack of a permission (403)",
    "user.add": "an admin added a user",
    "user.update": "an admin changed a user's roles, department or display name",
    "user.disable": "an admin disabled a user (their sessions end)",
    "user.enable": "an admin enabled a user again",
    "user.reset_password": "an admin reset a user's password (their sessions end)",
    "token.create": "an admin created an API token or kiosk link",
    "token.revoke": "an admin revoked an API token or kiosk link",
    "alarm.acknowledge": "an alarm was acknowledged",
    "alarm.clear": "an alarm was cleared by hand, with a note",
    "case.report": "a case was reported (any source: MQTT, sensor alarm, phone, API, Open311)",
}
ACTIONS.update({f"case.{action}": f"case action: {t.en.lower()}" for action, t in TRANSITIONS.items()})
ACTIONS.update({
    "event.start": "a linked event was started (from a plan and level; from an alarm, a case or a proposal)",
    "event.level": "a linked event's response level was raised or lowered, with the reason",
    "event.instruct": "a leader gave an instruction (批示) on a linked event",
    "event.acknowledge_instruction": "a department acknowledged a leader's instruction",
    "event.add_task": "a commander added (or reissued) a department's task",
    "event.withdraw_task": "a commander withdrew a department's task, with the reason",
    "event.contain": "a linked event was declared contained (已控制)",
    "event.close": "a linked event was closed with its summary",
    "event.cancel": "a linked event was cancelled, with the reason",
    "event.proposal.dismiss": "a commander dismissed a proposal to start a linked event, with the reason",
})
ACTIONS.update({"report.export": "someone downloaded an export of the record (cases, devices or alarms of a period)"})
ACTIONS.update({f"event.task.{action}": f"a department's event task: {action}" for action in TASK_ACTIONS})
ACTIONS["roster.update"] = "the duty roster or contacts changed (portal or `python -m ioc roster`)"  # piece roster
ACTIONS.update({  # notifications (piece notify)
    "notify.routes": "an admin changed the notification routes or quiet hours (or reset them to the built-in ones)",
    "notify.silence.add": "a silence (maintenance window) was set for notifications",
    "notify.silence.expire": "a silence was ended early",
    "notify.test": "a test notification was sent",
})


@dataclass(frozen=True)
class AuditEntry:
    id: str
    at_ms: int
    actor: str
    role: str
    action: str
    target: str
    outcome: str
    ip: str
    detail: dict

    def to_dict(self) -> dict:
        return {"id": self.id, "at_ms": self.at_ms, "actor": self.actor, "role": self.role, "action": self.action,
                "target": self.target, "outcome": self.outcome, "ip": self.ip, "detail": self.detail}


def _entry(entry_id, fields: dict) -> AuditEntry:
    f = {_text(k): _text(v) for k, v in fields.items()}
    try:
        detail = orjson.loads(f.get("detail") or "{}")
    except orjson.JSONDecodeError:
        detail = {"raw": f.get("detail", "")}
    return AuditEntry(_text(entry_id), int(f.get("at_ms") or 0), f.get("actor", ""), f.get("role", ""), f.get("action", ""),
                      f.get("target", ""), f.get("outcome", ""), f.get("ip", ""), detail)


def entry_fields(actor: str, role: str, action: str, target: str = "", outcome: str = "ok", ip: str = "",
                 detail: dict | None = None, at_ms: int | None = None) -> dict:
    """The fields of one audit entry, in stream order. The one shape of an entry: `record` appends
    it, and the scripts and transactions that write a change together with its audit entry (alarm
    acknowledge/clear, case create/transition) take it from here."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    return {
        "at_ms": int(at_ms if at_ms is not None else time.time() * 1000),
        "actor": actor or "-", "role": role or "-", "action": action, "target": target or "",
        "outcome": outcome, "ip": ip or "", "detail": orjson.dumps(detail or {}).decode(),
    }


class AuditLog:
    def __init__(self, redis_client):
        self.redis = redis_client

    def record(self, actor: str, role: str, action: str, target: str = "", outcome: str = "ok", ip: str = "",
               detail: dict | None = None, at_ms: int | None = None) -> str:
        """Append one entry; returns its stream id."""
        return _text(self.redis.xadd(keys.AUDIT, entry_fields(actor, role, action, target, outcome, ip, detail, at_ms)))

    def record_in(self, pipe, actor: str, role: str, action: str, target: str = "", outcome: str = "ok", ip: str = "",
                  detail: dict | None = None, at_ms: int | None = None) -> None:
        """Queue one entry on a pipeline / transaction, so it commits with the change it records."""
        pipe.xadd(keys.AUDIT, entry_fields(actor, role, action, target, outcome, ip, detail, at_ms))

    def recent(self, count: int = 200, before: str | None = None, actor: str = "", action: str = "",
               since_ms: int | None = None, until_ms: int | None = None, scan_limit: int = 20_000) -> list[AuditEntry]:
        """Newest first, at most `count` entries matching the filters (`actor` exact, `action`
        prefix such as `auth.`), older than stream id `before` and within [since_ms, until_ms]."""
        out: list[AuditEntry] = []
        upper = f"({before}" if before else "+"
        if until_ms is not None and not before:
            upper = str(int(until_ms))
        lower = str(int(since_ms)) if since_ms is not None else "-"
        scanned = 0
        while len(out) < count and scanned < scan_limit:
            batch = self.redis.xrevrange(keys.AUDIT, max=upper, min=lower, count=500)
            if not batch:
                break
            scanned += len(batch)
            for entry_id, fields in batch:
                entry = _entry(entry_id, fields)
                if actor and entry.actor != actor:
                    continue
                if action and not entry.action.startswith(action):
                    continue
                out.append(entry)
                if len(out) >= count:
                    break
            upper = f"({_text(batch[-1][0])}"
        return out

    def length(self) -> int:
        return int(self.redis.xlen(keys.AUDIT))


def restore_entries(redis_client, entries, chunk: int = 1000) -> tuple[int, int]:
    """Append recorded audit entries (stream id, fields in stream order) with their own ids, after
    Redis was lost (`python -m ioc restore`), oldest first. Entries at or before the stream's last
    id (already there) are skipped. Returns (written, skipped)."""
    last = redis_client.xrevrange(keys.AUDIT, count=1)
    floor = _id_key(_text(last[0][0])) if last else (0, 0)
    written = skipped = 0
    pipe = redis_client.pipeline(transaction=False)
    for entry_id, fields in entries:
        if _id_key(entry_id) <= floor:
            skipped += 1
            continue
        pipe.xadd(keys.AUDIT, fields, id=entry_id)
        written += 1
        if written % chunk == 0:
            pipe.execute()
    pipe.execute()
    return written, skipped


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = str(entry_id).partition("-")
    return int(ms), int(seq or 0)
