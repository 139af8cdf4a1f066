"""Notifications in Redis: the outbox of intents, the jobs of the notifier, what was delivered,
the routes and the silences. This module is the writer of every `ioc:{core}:notify:*` key.

Keys (see `redis_keys`; all under `{core}`, the slot of the changes that write intents):

- `…:notify:outbox` stream of intents (`ioc.domain.notifications.intent_fields`), written by the
  change that causes them (case transition and event commit scripts, the overdue alarm's raise
  script, `escalated` here); read by the notifier with the consumer group `ioc-notify`
- `…:notify:jobs` hash job id -> job JSON and `…:notify:pending` zset job id -> due ms: a job is
  one delivery (id = its dedupe key), a grouping window (`g:<route>|<recipient>|<channel>`), a
  retry or a repeat; the notifier leases due jobs (`claim_due`) and records their outcome
  (`record`) in one script each
- `…:notify:sent` hash dedupe key -> `{at, status}` (sent, failed, silenced: never again) and
  `…:notify:sent_at` zset (pruned after `SENT_KEEP_MS`)
- `…:notify:log` stream: every delivery result (sent, failed, retry, silenced, held, grouped),
  capped `LOG_MAXLEN`; `…:notify:subject:<subject>` the same per subject, capped `SUBJECT_MAXLEN`
- `…:notify:routes` string JSON `{routes, quiet_hours}` (unset: `BUILTIN_ROUTES`, no quiet hours)
- `…:notify:silences` hash silence id -> silence JSON
- `…:notify:escalated:<alarm>:<raised_at>` guard: one escalation intent per alarm and raise

A delivery's result for a case also goes on its timeline (action `notify` / `notify_failed`),
with a `type=timeline` entry on the record stream `ioc:{core}:record` (capped at `record_maxlen`),
for an alarm on the alarm event stream (`event` `notified`), in the same script as the record.
"""

from __future__ import annotations

import secrets
import time

import orjson

from ioc.adapters import audit_log, record_stream, scripts
from ioc.adapters import redis_keys as keys
from ioc.adapters.case_store import event_fields
from ioc.adapters.redis_client import as_text as _text
from ioc.adapters.redis_client import stream_entries
from ioc.domain.cases import CaseEvent
from ioc.domain.notifications import Intent, flat_fields, intent_fields
from ioc.domain.notify_routing import (RoutingConfig, RoutingError, Silence, config_from_dict, config_to_dict,
                                       silence_from_input)

GROUP = "ioc-notify"  # consumer group on the notify outbox
OUTBOX_MAXLEN = 100_000
LOG_MAXLEN = 100_000
SUBJECT_MAXLEN = 200
SENT_KEEP_MS = 7 * 24 * 3_600_000  # dedupe entries kept this long (a redelivery after that would send again)
ESCALATION_GUARD_S = 7 * 24 * 3600
RESULTS = ("sent", "failed", "retry", "silenced", "held", "grouped")
_FIXED = [keys.NOTIFY_JOBS, keys.NOTIFY_PENDING, keys.NOTIFY_SENT, keys.NOTIFY_SENT_AT]


def _json(raw) -> dict:
    return orjson.loads(raw) if raw else {}


def _fields(raw: dict) -> dict:
    return {_text(k): _text(v) for k, v in raw.items()}


class NotifyStore:
    def __init__(self, redis_client, record_maxlen: int = record_stream.DEFAULT_MAXLEN):
        """`record_maxlen`: the cap of the record stream (settings.record_stream_maxlen)."""
        self.redis = redis_client
        self.record_maxlen = int(record_maxlen)
        self._schedule = scripts.script(redis_client, scripts.NOTIFY_SCHEDULE)
        self._claim = scripts.script(redis_client, scripts.NOTIFY_CLAIM)
        self._record = scripts.script(redis_client, scripts.NOTIFY_RECORD)
        self._escalate = scripts.script(redis_client, scripts.NOTIFY_ESCALATE)

    # ---- routes and quiet hours ----------------------------------------------------------------

    def routes(self) -> RoutingConfig:
        """The routing configuration: the stored one, else the built-in routes without quiet hours.
        A stored one that no longer reads (an older format) falls back to the built-in routes."""
        raw = self.redis.get(keys.NOTIFY_ROUTES)
        if not raw:
            return RoutingConfig()
        try:
            return config_from_dict(orjson.loads(raw))
        except (RoutingError, orjson.JSONDecodeError):
            return RoutingConfig()

    def routes_stored(self) -> bool:
        return bool(self.redis.exists(keys.NOTIFY_ROUTES))

    def put_routes(self, config: dict, actor: str, role: str = "admin", ip: str = "") -> RoutingConfig:
        """Check and store `{routes, quiet_hours}` (`RoutingError` naming the place when unusable),
        with a `notify.routes` audit entry in the same MULTI."""
        checked = config_from_dict(config)
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(keys.NOTIFY_ROUTES, orjson.dumps(config_to_dict(checked)))
        pipe.xadd(keys.AUDIT, audit_log.entry_fields(actor, role, "notify.routes", "routes", "ok", ip,
                                                     {"routes": [r.id for r in checked.routes],
                                                      "quiet_hours": checked.quiet_hours.to_dict()}))
        pipe.execute()
        return checked

    def reset_routes(self, actor: str, role: str = "admin", ip: str = "") -> None:
        """Back to the built-in routes (audited `notify.routes`)."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(keys.NOTIFY_ROUTES)
        pipe.xadd(keys.AUDIT, audit_log.entry_fields(actor, role, "notify.routes", "routes", "ok", ip, {"builtin": True}))
        pipe.execute()

    # ---- silences ------------------------------------------------------------------------------

    def silences(self, now_ms: int | None = None, include_ended: bool = True) -> list[Silence]:
        """Every silence (or only those not ended at `now_ms`), newest first."""
        out = [Silence.from_dict(orjson.loads(v)) for v in self.redis.hvals(keys.NOTIFY_SILENCES)]
        if not include_ended:
            now = int(now_ms if now_ms is not None else time.time() * 1000)
            out = [s for s in out if s.ends_at > now]
        return sorted(out, key=lambda s: (-s.created_at, s.id))

    def add_silence(self, data: dict, actor: str, role: str = "", ip: str = "", now_ms: int | None = None) -> Silence:
        """A new silence from `{matchers, starts_at?, ends_at, comment}` (`RoutingError` naming the
        field), stored with its `notify.silence.add` audit entry in one MULTI."""
        now = int(now_ms if now_ms is not None else time.time() * 1000)
        silence = silence_from_input(data, silence_id=f"S{now:x}{secrets.token_hex(2)}", by=actor, now_ms=now)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(keys.NOTIFY_SILENCES, silence.id, orjson.dumps(silence.to_dict()))
        pipe.xadd(keys.AUDIT, audit_log.entry_fields(actor, role, "notify.silence.add", silence.id, "ok", ip, silence.to_dict(), now))
        pipe.execute()
        return silence

    def expire_silence(self, silence_id: str, actor: str, role: str = "", ip: str = "", now_ms: int | None = None) -> Silence:
        """End a silence now (kept, for the record); KeyError when there is none by that id."""
        now = int(now_ms if now_ms is not None else time.time() * 1000)
        raw = self.redis.hget(keys.NOTIFY_SILENCES, silence_id)
        if raw is None:
            raise KeyError(f"no silence {silence_id!r}")
        s = Silence.from_dict(orjson.loads(raw))
        ended = Silence(s.id, s.matchers, s.starts_at, min(s.ends_at, now), s.by, s.comment, s.created_at)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(keys.NOTIFY_SILENCES, s.id, orjson.dumps(ended.to_dict()))
        pipe.xadd(keys.AUDIT, audit_log.entry_fields(actor, role, "notify.silence.expire", s.id, "ok", ip,
                                                     {"matchers": s.matchers}, now))
        pipe.execute()
        return ended

    # ---- intents -------------------------------------------------------------------------------

    def add_intent(self, intent: Intent) -> str:
        """Append an intent that no other change carries (a test notification from the portal)."""
        return _text(self.redis.xadd(keys.NOTIFY_OUTBOX, intent_fields(intent), maxlen=OUTBOX_MAXLEN, approximate=True))

    def escalated(self, intent: Intent, alarm_id: str, raised_at: int) -> bool:
        """Write an escalated alarm's intent once per (alarm, raise): True if written now."""
        return bool(self._escalate(keys=[keys.notify_escalated(alarm_id, raised_at), keys.NOTIFY_OUTBOX],
                                   args=[ESCALATION_GUARD_S, OUTBOX_MAXLEN, *flat_fields(intent)]))

    def ensure_group(self, start: str = "0") -> None:
        """The consumer group on the outbox, from its start (a new install misses no intent).
        `start="$"` (the demo's history, `simulators.history`): from the outbox's end, the group
        moved there if it exists, so the intents of the past are not delivered now."""
        try:
            self.redis.xgroup_create(keys.NOTIFY_OUTBOX, GROUP, id=start, mkstream=True)
        except Exception as e:  # noqa: BLE001 - BUSYGROUP: it exists
            if "BUSYGROUP" not in str(e):
                raise
            if start != "0":
                self.redis.xgroup_setid(keys.NOTIFY_OUTBOX, GROUP, id=start)

    def read_intents(self, consumer: str, count: int = 100, block_ms: int | None = 1000, own_pending: bool = False) -> list:
        """[(entry id, fields)]: this consumer's own pending entries (`own_pending`) or new ones."""
        reply = self.redis.xreadgroup(GROUP, consumer, {keys.NOTIFY_OUTBOX: "0" if own_pending else ">"}, count=count,
                                      block=None if own_pending else block_ms)
        return [(_text(i), f) for i, f in stream_entries(reply)]

    def claim_stale(self, consumer: str, idle_ms: int, count: int = 100) -> list:
        """Entries another consumer left pending longer than `idle_ms` (a notifier killed -9)."""
        reply = self.redis.xautoclaim(keys.NOTIFY_OUTBOX, GROUP, consumer, idle_ms, "0-0", count=count)
        return [(_text(i), f) for i, f in (reply[1] if reply else []) if f]

    def ack(self, entry_id: str) -> None:
        """Acknowledge an outbox entry that makes no delivery (unreadable, no route)."""
        self.redis.xack(keys.NOTIFY_OUTBOX, GROUP, entry_id)

    def outbox_lag(self) -> int:
        """Entries not yet read or not yet acknowledged by the notifier."""
        try:
            groups = self.redis.xinfo_groups(keys.NOTIFY_OUTBOX)
        except Exception:  # noqa: BLE001 - no stream yet
            return 0
        for g in groups:
            if _text(g.get("name")) == GROUP:
                return int(g.get("pending") or 0) + int(g.get("lag") or 0)
        return int(self.redis.xlen(keys.NOTIFY_OUTBOX))

    # ---- jobs ----------------------------------------------------------------------------------

    def schedule(self, entry_id: str, subject: str, items: list[dict], now_ms: int) -> list[int]:
        """Make jobs of one intent's deliveries and acknowledge its outbox entry, in one script:
        [scheduled, grouped, silenced, held, skipped (already scheduled or delivered)]."""
        args = {"now": now_ms, "entry": entry_id, "group": GROUP, "log_max": LOG_MAXLEN, "subject_max": SUBJECT_MAXLEN,
                "items": items}
        return [int(x) for x in self._schedule(keys=[*_FIXED, keys.NOTIFY_LOG, keys.NOTIFY_OUTBOX, keys.notify_subject(subject)],
                                               args=[orjson.dumps(args)])]

    def claim_due(self, now_ms: int, lease_ms: int, count: int = 100) -> list[tuple[str, dict]]:
        """Lease up to `count` due jobs for `lease_ms`: [(job id, job)]."""
        flat = self._claim(keys=[keys.NOTIFY_PENDING, keys.NOTIFY_JOBS], args=[now_ms, lease_ms, count])
        return [(_text(flat[k]), orjson.loads(flat[k + 1])) for k in range(0, len(flat), 2)]

    def jobs(self, job_ids) -> dict[str, dict]:
        ids = list(job_ids)
        return {i: orjson.loads(v) for i, v in zip(ids, self.redis.hmget(keys.NOTIFY_JOBS, ids)) if v} if ids else {}

    def sent(self, dedupe_keys) -> dict[str, dict]:
        ids = list(dedupe_keys)
        return {i: orjson.loads(v) for i, v in zip(ids, self.redis.hmget(keys.NOTIFY_SENT, ids)) if v} if ids else {}

    def pending_count(self) -> int:
        return int(self.redis.zcard(keys.NOTIFY_PENDING))

    def record(self, job_id: str, now_ms: int, *, drop=(), put=(), sent=(), results=()) -> bool:
        """Record the outcome of job `job_id` in one script: drop jobs, put jobs back (id, job,
        due), mark dedupe keys (key, status), and write each result (a dict: subject, kind,
        version, channel, recipient, name, result, attempt, reason, route, latency_ms, and the
        message's title, text, link) to the log and the subject's stream, and a sent or failed one
        to its timeline. False when the job was gone already."""
        streams_keys: list[str] = []
        streams = []

        def stream(key: str, maxlen: int, fields: dict, record: list | None = None) -> None:
            if key not in streams_keys:
                streams_keys.append(key)
            streams.append([len(_FIXED) + 1 + streams_keys.index(key), maxlen, _flat(fields), *([record] if record else [])])

        for r in results:
            entry = {"at": now_ms, **{k: r.get(k, "") for k in ("subject", "kind", "version", "channel", "recipient", "name",
                                                                 "result", "attempt", "reason", "route", "latency_ms",
                                                                 "title", "text", "link")}}
            stream(keys.NOTIFY_LOG, LOG_MAXLEN, entry)
            stream(keys.notify_subject(r["subject"]), SUBJECT_MAXLEN, entry)
            if r["result"] not in ("sent", "failed"):
                continue
            kind, _, ident = r["subject"].partition(":")
            detail = {"channel": r.get("channel", ""), "recipient": r.get("name", ""), "kind": r.get("kind", ""),
                      "attempt": r.get("attempt", 1), "reason": r.get("reason", "")}
            if kind == "case":
                action = "notify" if r["result"] == "sent" else "notify_failed"
                fields = event_fields(CaseEvent(ident, action, "notifier", "system", "", "", now_ms, "", detail))
                record = ["type", "timeline", "id", ident, "at", str(int(now_ms)), "entry", record_stream.entry_json(_flat(fields))]
                stream(keys.case_timeline(ident), 0, fields, record)
            elif kind == "alarm":
                stream(keys.ALARMS_EVENTS, keys.ALARM_EVENTS_MAXLEN,
                       {"event": "notified", "alarm": orjson.dumps({"id": ident, "result": r["result"], **detail}).decode(),
                        "at": now_ms})
        args = {"job": job_id, "now": now_ms, "drop": list(drop), "put": [[i, orjson.dumps(j).decode(), int(d)] for i, j, d in put],
                "sent": [[k, orjson.dumps({"at": now_ms, "status": s}).decode()] for k, s in sent], "streams": streams,
                "record_max": self.record_maxlen}
        return bool(self._record(keys=[*_FIXED, *streams_keys, keys.RECORD], args=[orjson.dumps(args)]))

    def prune_sent(self, now_ms: int, keep_ms: int = SENT_KEEP_MS, batch: int = 1000) -> int:
        """Forget dedupe entries older than `keep_ms` (one MULTI per batch); returns how many."""
        old = [_text(x) for x in self.redis.zrangebyscore(keys.NOTIFY_SENT_AT, "-inf", now_ms - keep_ms, start=0, num=batch)]
        if not old:
            return 0
        pipe = self.redis.pipeline(transaction=True)
        pipe.hdel(keys.NOTIFY_SENT, *old)
        pipe.zrem(keys.NOTIFY_SENT_AT, *old)
        pipe.execute()
        return len(old)

    # ---- reads: the sent log -------------------------------------------------------------------

    def log(self, since_ms: int = 0, count: int = 200) -> list[dict]:
        """The newest `count` delivery results since `since_ms`, newest first."""
        return _rows(self.redis.xrevrange(keys.NOTIFY_LOG, "+", f"{int(since_ms)}-0" if since_ms else "-", count=count))

    def for_subject(self, subject: str, since_ms: int = 0, count: int = SUBJECT_MAXLEN) -> list[dict]:
        """The delivery results of one subject since `since_ms`, oldest first."""
        return _rows(self.redis.xrange(keys.notify_subject(subject), f"{int(since_ms)}-0" if since_ms else "-", "+", count=count))


def _flat(fields: dict) -> list[str]:
    return [x for k, v in fields.items() for x in (k, v if isinstance(v, str) else str(v) if isinstance(v, (int, float))
                                                    else orjson.dumps(v).decode())]


def _rows(entries) -> list[dict]:
    out = []
    for entry_id, raw in entries:
        f = _fields(raw)
        for name in ("at", "attempt", "latency_ms"):
            try:
                f[name] = int(f.get(name) or 0)
            except ValueError:
                f[name] = 0
        f["id"] = _text(entry_id)
        out.append(f)
    return out

