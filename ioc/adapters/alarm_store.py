"""The alarms in Redis, and their only writer: raise, acknowledge, clear (by hand or by a rule), list.

Keys (see `redis_keys`): active alarms in the hash `ioc:{core}:alarms:active`, acknowledgements
in the hash `ioc:{core}:alarms:acks` (alarm id -> `{"by", "role", "at_ms"}`), every change
appended to the stream `ioc:{core}:alarms:events` (`event` = `raised` / `acknowledged` /
`cleared`, `alarm` = the alarm JSON, plus who did it for a person's action).

Every writer goes through `AlarmStore`: the ingest worker (threshold rules: `raise_in` and
`clear_in` on its batch pipeline), the case worker (overdue cases: `raise_alarm`, `clear_in`),
the portal and the API (`acknowledge`, `clear`). One semantics each, each a single Lua script:

- raise: only if the alarm is not active already (HSETNX), then one `raised` event. An alarm id
  is `<device>|<rule>`: while it is active a second raise (two ingest workers of a shared
  subscription that both saw the breach, two case workers scanning at once, a rule state lost
  while its alarm stayed active) changes nothing, so the alarm keeps its first raise time and
  its acknowledgement, and the stream (the case worker, the recorder) sees one `raised` event
  per activation, as it sees one `cleared` event.
- clear: only if the alarm is still active (and, for a hand clear, unchanged since it was read):
  whoever removes it first writes the one `cleared` event and drops the ack; the other finds
  nothing to clear.
- acknowledge: the first acknowledgement of an active alarm wins; later ones return it.

The scripts are atomic against each other; their keys (and the audit stream the person's actions
also append to) share the hash tag `{core}`, so on Redis Cluster each script runs on one node.

A store may be given `on_change` (the web process gives its `CityCache.invalidate`): called
after each change the store made itself, so the next big-screen snapshot of the process shows
an acknowledgement or a clear at once, whichever door (portal or API) it came in by.

Interplay with the rule engine: a hand clear removes the alarm but not the rule's state
(`ioc:{sN}:rules`). While the condition still holds the rule stays active, so the same alarm
is not raised again until the value goes back to the safe side (the rule's own clear, which
then finds no alarm and writes no event) and breaches again.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson

from ioc.adapters import audit_log, scripts
from ioc.adapters import redis_keys as keys
from ioc.domain.alarm_handling import Acknowledgement, check_acknowledge, check_clear
from ioc.domain.alarms import Alarm
from ioc.domain.notifications import flat_fields

_RAISE_KEYS = (keys.ALARMS_ACTIVE, keys.ALARMS_EVENTS)
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


class AlarmStore:
    def __init__(self, redis_client, on_change: Callable[[], None] | None = None):
        self.redis = redis_client
        self.on_change = on_change  # called after each change this store made (e.g. the web's CityCache.invalidate)
        self._raise = scripts.script(redis_client, scripts.ALARM_RAISE_ONCE)
        self._clear = scripts.script(redis_client, scripts.ALARM_CLEAR)
        self._ack = scripts.script(redis_client, scripts.ALARM_ACKNOWLEDGE)

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    # ---- raising and clearing (the workers) ----------------------------------------------------

    def raise_alarm(self, alarm: Alarm, notify=None) -> bool:
        """Raise `alarm` unless it is active already; True if raised. `notify`: a notification
        intent (`ioc.domain.notifications.Intent`) appended to the notify outbox by the same
        script exactly when the alarm is raised (the case worker's overdue cases)."""
        if notify is not None:
            raised = bool(self._raise(keys=(*_RAISE_KEYS, keys.NOTIFY_OUTBOX),
                                      args=[alarm.id, orjson.dumps(alarm.to_dict()), keys.ALARM_EVENTS_MAXLEN,
                                            *flat_fields(notify)]))
        else:
            raised = bool(self._raise(keys=_RAISE_KEYS, args=[alarm.id, orjson.dumps(alarm.to_dict()), keys.ALARM_EVENTS_MAXLEN]))
        if raised:
            self._changed()
        return raised

    def raise_in(self, pipe, alarm: Alarm) -> None:
        """Queue the raise of `alarm` on `pipe` (the ingest worker's batch pipeline), with the
        same semantics as `raise_alarm`: one command per alarm (the alarm JSON sent once),
        answered 1 if raised, 0 if it was active already."""
        scripts.queue(pipe, scripts.ALARM_RAISE_ONCE, _RAISE_KEYS, [alarm.id, orjson.dumps(alarm.to_dict()), keys.ALARM_EVENTS_MAXLEN])

    def clear_in(self, pipe, alarm_id: str, event_json: bytes) -> None:
        """Queue a rule's clear of `alarm_id` on `pipe` (the workers' pipelines): the alarm and
        its ack go and one `cleared` event (`event_json`) is written if it is still active;
        answered 1 if it cleared, 0 if there was nothing to clear."""
        scripts.queue(pipe, scripts.ALARM_CLEAR, _CLEAR_KEYS, [alarm_id, event_json, keys.ALARM_EVENTS_MAXLEN, ""])

    # ---- reading ------------------------------------------------------------------------------

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

    def active_raw(self, match: str = "*") -> dict[str, dict]:
        """Active alarms whose id matches the glob `match`, by id, without their acks (a scan:
        cheap on a city's worth of alarms)."""
        return {(k.decode() if isinstance(k, bytes) else k): orjson.loads(v)
                for k, v in self.redis.hscan_iter(keys.ALARMS_ACTIVE, match=match, count=1000)}

    def get(self, alarm_id: str) -> dict:
        raw = self.redis.hget(keys.ALARMS_ACTIVE, alarm_id)
        if raw is None:
            raise AlarmNotFound(f"no active alarm {alarm_id!r} (never raised or already cleared)")
        return orjson.loads(raw)

    def acknowledgement(self, alarm_id: str) -> Acknowledgement | None:
        raw = self.redis.hget(keys.ALARMS_ACKS, alarm_id)
        return Acknowledgement.from_dict(orjson.loads(raw)) if raw else None

    # ---- a person's actions (the portal, the API) ---------------------------------------------

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
        self._changed()
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
                self._changed()
                return event
        raise AlarmNotFound(f"alarm {alarm_id!r} kept changing while being cleared; try again", "alarm_busy")


def restore_active(redis_client, alarms) -> tuple[int, int]:
    """Write the active alarms back after Redis was lost (`python -m ioc restore`): `alarms` are
    (alarm id, alarm JSON as raised, acknowledgement {by, role, at_ms} or None). No event is appended (the
    stream's history is the record's). Returns (alarms, acknowledgements)."""
    acked = 0
    pipe = redis_client.pipeline(transaction=False)
    n = 0
    for alarm_id, alarm, ack in alarms:
        pipe.hset(keys.ALARMS_ACTIVE, alarm_id, orjson.dumps(alarm))
        n += 1
        if ack:
            pipe.hset(keys.ALARMS_ACKS, alarm_id, orjson.dumps(ack))
            acked += 1
    pipe.execute()
    return n, acked
