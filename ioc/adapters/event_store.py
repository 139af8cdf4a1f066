"""Linked events (联动事件) in Redis: create and change (atomic, version-checked), reads, proposals.

Every key carries the control-plane hash tag `{core}` (shared with the audit log, which the
commit script also writes), so each script runs on one Redis Cluster slot:

- `ioc:{core}:events:data` hash: event id -> event JSON (`ioc.domain.events.Event.to_dict`: its
  tasks, instructions and log inside); `ioc:{core}:events:version` hash: event id -> version
- `ioc:{core}:events:active` sorted set: every event neither closed nor cancelled -> started_at
- `ioc:{core}:events:seq` hash: China date `YYYYMMDD` -> the counter behind that day's ids
- `ioc:{core}:events:outbox` stream: task and instruction messages (`topic`, `payload`) to the
  department systems, written with the change that made them (the case worker publishes them)
- `ioc:{core}:notify:outbox` stream (the notifier's, `ioc.adapters.notify_store`): the notification
  intents of a change (event started, task issued, level changed, instruction), by the same script
- `ioc:{core}:record` stream (`ioc.adapters.record_stream`): a `type=event` entry per create and
  change (the event as stored, its version, its `updated_at`), by the same script, capped at
  `record_maxlen`; the recorder copies it into PostgreSQL
- `ioc:{core}:events:rev` counter bumped by every change (events and proposals) and
  `ioc:{core}:events:changed` sorted set: event id -> the revision of its last change, so a
  reader that holds the events in memory reads again only what changed
- `ioc:{core}:events:proposals` hash: proposal id (`<plan>:<level>`) -> the current proposal JSON
  (written by the case worker's trigger scan); `ioc:{core}:events:dismissed` hash: proposal id ->
  the dismissal JSON `{summary, by, by_label, reason, at}`

Each create and each change is one Lua script (`event_commit`): it checks the version the caller
read (0: the id must be free), writes the event, its version, the active index, the revision,
the audit entry and the outbox messages together, or nothing; starting from a proposal clears
that proposal in the same step. Two commanders changing one event at once: one succeeds, the
other gets `EventConflict` with the version now stored.
"""

from __future__ import annotations

import time

import orjson

from ioc.adapters import audit_log, record_stream, scripts
from ioc.adapters import redis_keys as keys
from ioc.adapters.redis_client import as_text as _text
from ioc.domain.clock import local_text
from ioc.domain.events import Event
from ioc.domain.notifications import flat_fields

DATA = keys.EVENTS_DATA
VERSION = keys.EVENTS_VERSION
ACTIVE = keys.EVENTS_ACTIVE
SEQ = keys.EVENTS_SEQ
OUTBOX = keys.EVENTS_OUTBOX
REVISION = keys.EVENTS_REVISION
CHANGED = keys.EVENTS_CHANGED
PROPOSALS = keys.EVENTS_PROPOSALS
DISMISSED = keys.EVENTS_DISMISSED
WATCH = keys.EVENTS_WATCH
ENDED = ("closed", "cancelled")  # statuses that leave the active index


class EventNotFound(KeyError):
    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "no such event"


class EventConflict(RuntimeError):
    """Someone changed the event (or the task) since it was read; reload it and decide again.
    `stored` is the version now stored: the event's, or the task's when `task` names one."""

    def __init__(self, event_id: str, expected: int, stored: int, task: str = ""):
        what = f"the task of {task} in event {event_id}" if task else f"event {event_id}"
        super().__init__(f"{what} was changed by someone else (you had version {expected}, it is now {stored}); reload it")
        self.event_id, self.expected, self.stored, self.task = event_id, expected, stored, task


def _flat(fields: dict) -> list[str]:
    """[field, value, …] as strings (a number passed through Lua would come out as 1.7e+12)."""
    return [x for k, v in fields.items() for x in (k, v if isinstance(v, str) else str(v) if isinstance(v, (int, float)) else orjson.dumps(v).decode())]


def outbox_message(topic: str, payload: dict) -> dict:
    """One outbox entry: the topic and the JSON payload the case worker publishes (QoS 1)."""
    return {"topic": topic, "payload": orjson.dumps(payload).decode()}


def commit_call(expected: int, event: Event, audit: dict, outbox=(), proposal: str = "",
                notify=(), record_maxlen: int = record_stream.DEFAULT_MAXLEN) -> tuple[list[str], list[bytes]]:
    """KEYS and ARGV of the `event_commit` script: `event` replaces version `expected` (0: a new
    event); `notify`: the notification intents of the change, appended to the notify outbox; the
    record entry is capped at about `record_maxlen` entries."""
    record = ["type", "event", "id", event.id, "version", str(int(event.version)), "at", str(int(event.updated_at))]
    args = {"id": event.id, "expected": int(expected), "version": int(event.version), "active": event.status not in ENDED,
            "started_at": str(int(event.started_at)), "audit": _flat(audit), "outbox": [_flat(m) for m in outbox],
            "proposal": proposal or "", "notify": [flat_fields(i) for i in notify], "record": record,
            "maxlen": int(record_maxlen)}
    return ([DATA, VERSION, ACTIVE, OUTBOX, keys.AUDIT, REVISION, CHANGED, PROPOSALS, keys.NOTIFY_OUTBOX, keys.RECORD],
            [orjson.dumps(args), orjson.dumps(event.to_dict())])


def _event(raw) -> Event:
    return Event.from_dict(orjson.loads(raw))


class EventStore:
    def __init__(self, redis_client, record_maxlen: int = record_stream.DEFAULT_MAXLEN):
        """`record_maxlen`: the cap of the record stream (settings.record_stream_maxlen)."""
        self.redis = redis_client
        self.record_maxlen = int(record_maxlen)
        self._commit = scripts.script(redis_client, scripts.EVENT_COMMIT)

    # ---- writes ------------------------------------------------------------------------------

    def next_id(self, now_ms: int | None = None) -> str:
        """`EV-YYYYMMDD-NNN`: the China date and that day's city-wide sequence (three digits or more)."""
        day = local_text(now_ms or time.time() * 1000, "%Y%m%d")
        n = int(self.redis.hincrby(SEQ, day, 1))
        return f"EV-{day}-{n:03d}"

    def create(self, event: Event, audit: dict, outbox=(), proposal: str = "", notify=()) -> Event:
        """Store a new event (its id must be free, else `EventConflict`) with its audit entry,
        outbox messages and notification intents; `proposal`: the proposal it was started from,
        cleared in the same step."""
        return self._run(0, event, audit, outbox, proposal, notify)

    def commit(self, expected: int, event: Event, audit: dict, outbox=(), notify=()) -> Event:
        """Replace version `expected` of the event by `event` (its version already moved on), with
        its audit entry, outbox messages and notification intents, if the stored version is still `expected`."""
        return self._run(expected, event, audit, outbox, "", notify)

    def queue_commit(self, pipe, expected: int, event: Event, audit: dict, outbox=(), proposal: str = "", notify=()) -> None:
        """Queue a create (`expected` 0) or commit on a pipeline (bulk loaders, the bench); its
        reply is `[1, version]`, `[0, stored version]` or `[-1, 0]`."""
        script_keys, args = commit_call(expected, event, audit, outbox, proposal, notify, self.record_maxlen)
        self._commit(keys=script_keys, args=args, client=pipe)

    def _run(self, expected: int, event: Event, audit: dict, outbox, proposal: str, notify=()) -> Event:
        script_keys, args = commit_call(expected, event, audit, outbox, proposal, notify, self.record_maxlen)
        ok, version = self._commit(keys=script_keys, args=args)
        if ok == -1:
            raise EventNotFound(f"no event {event.id!r}")
        if ok == 0:
            raise EventConflict(event.id, expected, int(version))
        return event

    # ---- reads -------------------------------------------------------------------------------

    def get(self, event_id: str) -> Event:
        found = self.find(event_id)
        if found is None:
            raise EventNotFound(f"no event {event_id!r}")
        return found

    def find(self, event_id: str) -> Event | None:
        raw = self.redis.hget(DATA, event_id) if isinstance(event_id, str) and event_id else None
        return _event(raw) if raw else None

    def many(self, event_ids) -> list[Event]:
        """The events of `event_ids` that exist, in that order (one round trip)."""
        ids = list(event_ids)
        return [_event(v) for v in self.redis.hmget(DATA, ids) if v] if ids else []

    def raw(self, event_ids=None) -> list[dict]:
        """Events as stored (dicts): all of them, or those of `event_ids` that exist."""
        if event_ids is None:
            return [orjson.loads(v) for v in self.redis.hvals(DATA)]
        ids = list(event_ids)
        return [orjson.loads(v) for v in self.redis.hmget(DATA, ids) if v] if ids else []

    def all(self) -> list[Event]:
        return [_event(v) for v in self.redis.hvals(DATA)]

    def active_ids(self) -> list[str]:
        """Ids of the events neither closed nor cancelled, oldest start first."""
        return [_text(x) for x in self.redis.zrange(ACTIVE, 0, -1)]

    def active(self) -> list[Event]:
        return self.many(self.active_ids())

    def list(self, *, status: str = "", plan: str = "", district: str = "", active_only: bool = False) -> list[Event]:
        """Events matching every filter given (`district`: the area touches it), newest start first."""
        found = self.active() if active_only or status in ("active", "responding", "contained") else self.all()
        rows = [e for e in found if (not status or e.status == status) and (not plan or e.plan == plan)
                and (not district or district == e.district or district in e.districts)]
        rows.sort(key=lambda e: (-e.started_at, e.id))
        return rows

    def version(self, event_id: str) -> int:
        """The stored version (0: no such event)."""
        return int(self.redis.hget(VERSION, event_id) or 0)

    def revision(self) -> int:
        """Moves with every event change and every change of the proposals (0 before any)."""
        return int(self.redis.get(REVISION) or 0)

    def changed_since(self, revision: int) -> list[str]:
        """Ids of the events created or changed after `revision` (oldest change first)."""
        return [_text(x) for x in self.redis.zrangebyscore(CHANGED, f"({int(revision)}", "+inf")]

    # ---- proposals and dismissals ------------------------------------------------------------

    def proposals(self) -> dict[str, dict]:
        """The current proposals: id -> proposal dict (`ioc.domain.event_triggers.Proposal.to_dict`)."""
        return {_text(k): orjson.loads(v) for k, v in self.redis.hgetall(PROPOSALS).items()}

    def proposal(self, proposal_id: str) -> dict | None:
        raw = self.redis.hget(PROPOSALS, proposal_id) if isinstance(proposal_id, str) and proposal_id else None
        return orjson.loads(raw) if raw else None

    def put_proposals(self, proposals: dict[str, dict]) -> bool:
        """Make `proposals` (id -> dict) the current ones; writes (and moves the revision) only when
        they differ from the stored ones. True when they were written."""
        wanted = {k: orjson.dumps(v, option=orjson.OPT_SORT_KEYS) for k, v in proposals.items()}
        stored = {_text(k): v for k, v in self.redis.hgetall(PROPOSALS).items()}
        if {k: bytes(v) if not isinstance(v, bytes) else v for k, v in stored.items()} == wanted:
            return False
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(PROPOSALS)
        if wanted:
            pipe.hset(PROPOSALS, mapping=wanted)
        pipe.incr(REVISION)
        pipe.execute()
        return True

    def dismissals(self) -> dict[str, dict]:
        """Proposal id -> its dismissal `{summary, by, by_label, reason, at}`."""
        return {_text(k): orjson.loads(v) for k, v in self.redis.hgetall(DISMISSED).items()}

    def dismiss(self, proposal_id: str, dismissal: dict, audit: dict) -> None:
        """Record a dismissal with its audit entry and take the proposal off the current ones, in
        one MULTI (the wall stops showing it at once)."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(DISMISSED, proposal_id, orjson.dumps(dismissal))
        pipe.hdel(PROPOSALS, proposal_id)
        pipe.xadd(keys.AUDIT, audit)
        pipe.incr(REVISION)
        pipe.execute()

    def drop_dismissals(self, proposal_ids) -> int:
        """Forget dismissals (their conditions are over: the same evidence may be proposed again)."""
        ids = list(proposal_ids)
        return int(self.redis.hdel(DISMISSED, *ids)) if ids else 0

    # ---- the trigger watch's clocks ------------------------------------------------------------

    def watch_state(self) -> dict:
        """The trigger watch's clocks as last saved (`TriggerWatch.to_dict`), {} when none."""
        raw = self.redis.get(WATCH)
        return orjson.loads(raw) if raw else {}

    def put_watch_state(self, state: dict) -> None:
        """Save the trigger watch's clocks, so a restarted case worker keeps counting the minutes
        a "sustained for N minutes" trigger has been met."""
        self.redis.set(WATCH, orjson.dumps(state))


def audit_fields(actor: str, role: str, action: str, event_id: str, detail: dict, ip: str = "", at_ms: int | None = None) -> dict:
    """The audit entry of an event change (`audit_log.entry_fields`), written by the commit script."""
    return audit_log.entry_fields(actor, role, action, event_id, "ok", ip, detail, at_ms)
