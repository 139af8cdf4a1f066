"""Operator actions on active alarms in Redis: list, acknowledge, clear by hand.

Keys (see `redis_keys`): active alarms in the hash `ioc:{core}:alarms:active`, acknowledgements
in the hash `ioc:{core}:alarms:acks` (alarm id -> `{"by", "role", "at_ms"}`), every action
appended to the stream `ioc:{core}:alarms:events` (`event` = `acknowledged` / `cleared`,
`alarm` = the alarm JSON plus who did it).

Both actions are single Lua scripts, so they are atomic against each other and against the
ingest worker, which clears through the same conditional script (`clear_in`): whoever removes
the alarm from the active hash first writes the one `cleared` event and drops the ack; the
other finds nothing to clear. The scripts' keys (and the audit stream they also append to)
share the hash tag `{core}`, so on Redis Cluster each script runs on one node.

Interplay with the rule engine: a hand clear removes the alarm but not the rule's state
(`ioc:{sN}:rules`). While the condition still holds the rule stays active, so the same alarm
is not raised again until the value goes back to the safe side (the rule's own clear, which
then finds no alarm and writes no event) and breaches again.
"""

from __future__ import annotations

import orjson

from ioc.adapters import audit_log, scripts
from ioc.adapters import redis_keys as keys
from ioc.domain.alarm_handling import Acknowledgement, check_acknowledge, check_clear

_CLEAR_KEYS = (keys.ALARMS_ACTIVE, keys.ALARMS_ACKS, keys.ALARMS_EVENTS)
_AUDITED_KEYS = _CLEAR_KEYS + (keys.AUDIT,)


def _audit_args(actor: str, role: str, action: str, alarm_id: str, ip: str, at_ms: int, alarm: dict, note: str = "") -> list:
    """The audit entry (see `ioc.adapters.audit_log`) written by the same script as the action."""
    detail = {k: alarm.get(k) for k in ("device_id", "rule_id", "severity", "district", "value") if k in alarm}
    if note:
        detail["note"] = note
    fields = audit_log.entry_fields(actor, role, action, alarm_id, "ok", ip, detail, at_ms)
    return [x for pair in fields.items() for x in pair]


class AlarmNotFound(KeyError):
    """No active alarm with this id (never raised, or already cleared). `code` names the reason
    for a UI to say it in its language: `alarm_not_found` (never raised or already cleared),
    `alarm_cleared_meanwhile`, `alarm_busy` (kept changing: try again)."""

    def __init__(self, message: str = "alarm not found", code: str = "alarm_not_found"):
        super().__init__(message)
        self.code = code

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "alarm not found"


def clear_in(pipe, alarm_id: str, event_json: bytes) -> None:
    """Queue the rule engine's clear of `alarm_id` on a pipeline (used by the ingest worker)."""
    scripts.queue(pipe, scripts.ALARM_CLEAR, _CLEAR_KEYS, [alarm_id, event_json, keys.ALARM_EVENTS_MAXLEN, ""])


class AlarmStore:
    def __init__(self, redis_client):
        self.redis = redis_client
        self._clear = scripts.script(redis_client, scripts.ALARM_CLEAR)
        self._ack = scripts.script(redis_client, scripts.ALARM_ACKNOWLEDGE)

    def active(self) -> list[dict]:
        """Active alarms, each with `ack` (`{"by", "role", "at_ms"}` or None); newest first."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(keys.ALARMS_ACTIVE)
        pipe.hgetall(keys.ALARMS_ACKS)
        alarms, acks = pipe.execute()
        out = []
        for alarm_id, raw in alarms.items():
            alarm = orjson.loads(raw)
            ack = acks.get(alarm_id)
            alarm["ack"] = orjson.loads(ack) if ack else None
            out.append(alarm)
        out.sort(key=lambda a: (-int(a.get("raised_at", 0)), a.get("id", "")))
        return out

    def get(self, alarm_id: str) -> dict:
        raw = self.redis.hget(keys.ALARMS_ACTIVE, alarm_id)
        if raw is None:
            raise AlarmNotFound(f"no active alarm {alarm_id!r} (never raised or already cleared)")
        return orjson.loads(raw)

    def acknowledgement(self, alarm_id: str) -> Acknowledgement | None:
        raw = self.redis.hget(keys.ALARMS_ACKS, alarm_id)
        return Acknowledgement.from_dict(orjson.loads(raw)) if raw else None

    def acknowledge(self, alarm_id: str, actor: str, role: str, now_ms: int, ip: str = "") -> Acknowledgement:
        """Record who acknowledged the alarm and when (and an `alarm.acknowledge` audit entry, in
        the same script); a second ack keeps (and returns) the first and audits nothing."""
        check_acknowledge({role})
        alarm = self.get(alarm_id)
        ack = Acknowledgement(actor, role, int(now_ms))
        event = {**alarm, "by": actor, "role": role, "acknowledged_at": ack.at_ms}
        audit = _audit_args(actor, role, "alarm.acknowledge", alarm_id, ip, ack.at_ms, alarm)
        result = self._ack(keys=_AUDITED_KEYS, args=[alarm_id, orjson.dumps(ack.to_dict()), keys.ALARM_EVENTS_MAXLEN, orjson.dumps(event), *audit])
        if result is None:
            raise AlarmNotFound(f"no active alarm {alarm_id!r} (it was cleared meanwhile)", "alarm_cleared_meanwhile")
        return Acknowledgement.from_dict(orjson.loads(result))

    def clear(self, alarm_id: str, actor: str, role: str, note: str, now_ms: int, ip: str = "") -> dict:
        """Clear the alarm by hand (dispatcher, leader; note required), with an `alarm.clear`
        audit entry written by the same script. Returns the event."""
        text = check_clear({role}, note)
        for _ in range(5):  # retry only if the stored alarm changed between read and script
            raw = self.redis.hget(keys.ALARMS_ACTIVE, alarm_id)
            if raw is None:
                raise AlarmNotFound(f"no active alarm {alarm_id!r} (never raised or already cleared)")
            event = {**orjson.loads(raw), "cleared_at": int(now_ms), "by": actor, "role": role, "note": text, "manual": True}
            audit = _audit_args(actor, role, "alarm.clear", alarm_id, ip, int(now_ms), event, text)
            if self._clear(keys=_AUDITED_KEYS, args=[alarm_id, orjson.dumps(event), keys.ALARM_EVENTS_MAXLEN, raw, *audit]):
                return event
        raise AlarmNotFound(f"alarm {alarm_id!r} kept changing while being cleared; try again", "alarm_busy")
