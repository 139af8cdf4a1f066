"""Cases in Redis: intake (idempotent), transitions (atomic, version-checked), timelines, queues.

Every case key carries the control-plane hash tag `{core}` (shared with the audit log, which
each script also writes), so each script runs on one Redis Cluster slot:

- `ioc:{core}:cases:data` hash: case id -> case JSON; `ioc:{core}:cases:version` hash: case id -> version
- `ioc:{core}:cases:timeline:<id>` stream: the case's timeline (append-only)
- `ioc:{core}:cases:reports` hash: report id -> case id (the same report twice makes one case)
- `ioc:{core}:cases:devices` hash: `<device>|<class>` -> the open case raised from that device
- `ioc:{core}:cases:open` sorted set: open case id -> created_at; `ioc:{core}:cases:geo:<class>` geo
  set of open cases per class (likely-duplicate search)
- `ioc:{core}:cases:rev` counter bumped by every create and transition, and
  `ioc:{core}:cases:changed` sorted set: case id -> the revision of its last change, so a reader
  that holds every case in memory fetches only what changed since the revision it has;
  `ioc:{core}:cases:epoch`, set by the first create, tells it that Redis was emptied since
- `ioc:{core}:cases:seq` counter behind case ids; `ioc:{core}:cases:outbox` stream: messages to
  publish to department systems after the transition that produced them (`ioc/v1/dispatch/{department}`)
- `ioc:{core}:notify:outbox` stream (the notifier's, `ioc.adapters.notify_store`): the notification
  intents of a transition (dispatch, rework, deferral requested, urge), written by the same script
- `ioc:{core}:record` stream (`ioc.adapters.record_stream`): a `type=case` entry per create and
  transition (the case as stored, its version, the timeline entry's id and fields), written by the
  same script, capped at `record_maxlen`; the recorder copies it into PostgreSQL

Each create and each transition is one Lua script: it checks (idempotency key, or the version
the caller read), writes the case, its timeline event, the indexes, the outbox message and the
audit entry together, or nothing. Two dispatchers acting on one case at once: one succeeds, the
other gets `CaseConflict` with the version now stored.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import orjson

from ioc.adapters import audit_log, record_stream, scripts
from ioc.adapters import redis_keys as keys
from ioc.adapters.redis_client import as_text as _text
from ioc.domain.cases import Case, CaseEvent
from ioc.domain.clock import local_text
from ioc.domain.notifications import flat_fields

# The case key names (defined in `redis_keys`), under the names this module has always used.
TAG = keys.CASES
DATA = keys.CASES_DATA
VERSION = keys.CASES_VERSION
REPORTS = keys.CASES_REPORTS
DEVICES = keys.CASES_DEVICES
OPEN = keys.CASES_OPEN
SEQ = keys.CASES_SEQ
OUTBOX = keys.CASES_OUTBOX
REVISION = keys.CASES_REVISION
CHANGED = keys.CASES_CHANGED
EPOCH = keys.CASES_EPOCH
timeline_key = keys.case_timeline
geo_key = keys.case_geo
STEPS_BATCH = 100  # timelines per `case_steps` script call: one call holds Redis for about 5 ms
OUTBOX_MAXLEN = 100_000

# The scripts (ioc/adapters/lua/): `case_create` (KEYS and ARGV from `create_call`) and
# `case_transition` (from `transition_call`) write a case change with its timeline event, indexes,
# outbox message and audit entry (`ioc.adapters.audit_log.entry_fields`) together, or nothing;
# `case_steps` reads many timelines without their notes.


class Step(NamedTuple):
    """One timeline event without its note and detail (see `CaseStore.steps`)."""

    action: str
    from_stage: str
    to_stage: str
    at: int


class CaseNotFound(KeyError):
    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "no such case"


class CaseConflict(RuntimeError):
    """Someone changed the case since it was read; reload it and decide again."""

    def __init__(self, case_id: str, expected: int, stored: int):
        super().__init__(f"case {case_id} was changed by someone else (you had version {expected}, it is now {stored}); reload it")
        self.case_id, self.expected, self.stored = case_id, expected, stored


def _flat(fields: dict) -> list[str]:
    """[field, value, …] as strings (a number passed through Lua would come out as 1.7e+12)."""
    return [x for k, v in fields.items() for x in (k, v if isinstance(v, str) else str(v) if isinstance(v, (int, float)) else orjson.dumps(v).decode())]


def event_fields(event: CaseEvent) -> dict:
    return {"action": event.action, "actor": event.actor, "role": event.role, "from": event.from_stage, "to": event.to_stage,
            "at": event.at, "note": event.note, "detail": orjson.dumps(event.detail).decode()}


def audit_fields(event: CaseEvent, ip: str = "", at_ms: int | None = None) -> dict:
    """The audit entry of `event`. Its time is the server's when it is written (`at_ms`, default
    now), never the event's: a report's time is the reporting system's `reported_at`, which may
    lie in the past; it goes into the detail as `reported_at` (epoch ms)."""
    detail = {"from": event.from_stage, "to": event.to_stage, "note": event.note, **event.detail}
    if event.action == "report":
        detail["reported_at"] = event.at
    return audit_log.entry_fields(event.actor, event.role, f"case.{event.action}", event.case_id, "ok", ip, detail, at_ms)


def device_key(case: Case) -> str:
    return f"{case.device_id}|{case.class_code}" if case.device_id else ""


def _events(case_id: str, entries) -> list[CaseEvent]:
    out = []
    for _entry_id, fields in entries:
        f = {_text(k): _text(v) for k, v in fields.items()}
        out.append(CaseEvent(case_id, f["action"], f["actor"], f["role"], f["from"], f["to"], int(f["at"]), f.get("note", ""),
                             orjson.loads(f.get("detail") or "{}")))
    return out


def _steps(joined: str) -> list[Step]:
    v = joined.split("|")
    return [Step(v[k], v[k + 1], v[k + 2], int(v[k + 3])) for k in range(0, len(v) - 3, 4)]


def create_call(case: Case, event: CaseEvent, ip: str = "",
                record_maxlen: int = record_stream.DEFAULT_MAXLEN) -> tuple[list[str], list[bytes]]:
    """KEYS and ARGV of the `case_create` script for a new case (its record entry capped at about
    `record_maxlen` entries)."""
    entry = _flat(event_fields(event))
    args = {"id": case.id, "case": orjson.dumps(case.to_dict()).decode(), "report_id": case.report_id,
            "device_key": device_key(case), "created_at": str(case.created_at), "lon": case.lon, "lat": case.lat,
            "event": entry, "audit": _flat(audit_fields(event, ip)),
            "epoch": f"{case.id}@{time.time_ns()}", "at": str(int(event.at)), "entry": record_stream.entry_json(entry),
            "maxlen": int(record_maxlen)}
    return ([DATA, VERSION, REPORTS, DEVICES, OPEN, geo_key(case.class_code), timeline_key(case.id), keys.AUDIT, REVISION,
             CHANGED, EPOCH, keys.RECORD],
            [orjson.dumps(args)])


def transition_call(before: Case, after: Case, event: CaseEvent, outbox: dict | None = None,
                    ip: str = "", notify=(), record_maxlen: int = record_stream.DEFAULT_MAXLEN) -> tuple[list[str], list[bytes]]:
    """KEYS and ARGV of the `case_transition` script for `before` -> `after`; `notify`: the
    notification intents (`ioc.domain.notifications.Intent`) the change causes, appended to the
    notify outbox by the same script; the record entry is capped at about `record_maxlen`."""
    entry = _flat(event_fields(event))
    args = {"id": after.id, "expected": before.version, "version": after.version, "case": orjson.dumps(after.to_dict()).decode(),
            "open": after.is_open, "device_key": device_key(after), "event": entry,
            "audit": _flat(audit_fields(event, ip)), "outbox": _flat(outbox) if outbox else [],
            "notify": [flat_fields(i) for i in notify], "at": str(int(event.at)), "entry": record_stream.entry_json(entry),
            "maxlen": int(record_maxlen)}
    return ([DATA, VERSION, DEVICES, OPEN, geo_key(after.class_code), timeline_key(after.id), OUTBOX, keys.AUDIT, REVISION,
             CHANGED, keys.NOTIFY_OUTBOX, keys.RECORD],
            [orjson.dumps(args)])


class CaseStore:
    def __init__(self, redis_client, record_maxlen: int = record_stream.DEFAULT_MAXLEN):
        """`record_maxlen`: the cap of the record stream (settings.record_stream_maxlen)."""
        self.redis = redis_client
        self.record_maxlen = int(record_maxlen)
        self._create = scripts.script(redis_client, scripts.CASE_CREATE)
        self._transition = scripts.script(redis_client, scripts.CASE_TRANSITION)
        self._steps = scripts.script(redis_client, scripts.CASE_STEPS)
        self._evict = scripts.script(redis_client, scripts.CASE_EVICT)

    def next_id(self, now_ms: int | None = None) -> str:
        """`ZJG-YYYYMMDD-NNNNNN` (China date, city-wide sequence)."""
        n = int(self.redis.incr(SEQ))
        day = local_text(now_ms or time.time() * 1000, "%Y%m%d")
        return f"ZJG-{day}-{n:06d}"

    def create(self, case: Case, event: CaseEvent, ip: str = "") -> tuple[Case, bool]:
        """Store a new case with its `report` event; returns (the case, True), or (the case that
        already holds this report id or device, False) and stores nothing."""
        script_keys, args = create_call(case, event, ip, self.record_maxlen)
        created, case_id = self._create(keys=script_keys, args=args)
        if created:
            return case, True
        return self.get(_text(case_id)), False

    def reserve_ids(self, n: int) -> int:
        """Take `n` numbers of the case-id sequence at once (bulk loaders); returns the last one."""
        return int(self.redis.incrby(SEQ, n))

    def queue_create(self, pipe, case: Case, event: CaseEvent, ip: str = "") -> None:
        """Queue `create` on a pipeline (bulk loaders); its reply is `[1, id]` or `[0, existing id]`."""
        script_keys, args = create_call(case, event, ip, self.record_maxlen)
        self._create(keys=script_keys, args=args, client=pipe)

    def queue_transition(self, pipe, before: Case, after: Case, event: CaseEvent, outbox: dict | None = None,
                         ip: str = "", notify=()) -> None:
        """Queue `save_transition` on a pipeline (bulk loaders); its reply is `[1, version]`, or
        `[0, stored version]` / `[-1, 0]` for a conflict or an unknown case."""
        script_keys, args = transition_call(before, after, event, outbox, ip, notify, self.record_maxlen)
        self._transition(keys=script_keys, args=args, client=pipe)

    def save_transition(self, before: Case, after: Case, event: CaseEvent, outbox: dict | None = None, ip: str = "",
                        notify=()) -> Case:
        """Commit `before` -> `after` if the stored version is still `before.version`, with the
        notification intents `notify` in the same script."""
        script_keys, args = transition_call(before, after, event, outbox, ip, notify, self.record_maxlen)
        ok, version = self._transition(keys=script_keys, args=args)
        if ok == -1:
            raise CaseNotFound(f"no case {after.id!r}")
        if ok == 0:
            raise CaseConflict(after.id, before.version, int(version))
        return after

    def get(self, case_id: str) -> Case:
        raw = self.redis.hget(DATA, case_id)
        if raw is None:
            raise CaseNotFound(f"no case {case_id!r}")
        return Case.from_dict(orjson.loads(raw))

    def find(self, case_id: str) -> Case | None:
        raw = self.redis.hget(DATA, case_id)
        return Case.from_dict(orjson.loads(raw)) if raw else None

    def by_report(self, report_id: str) -> Case | None:
        case_id = self.redis.hget(REPORTS, report_id)
        return self.find(_text(case_id)) if case_id else None

    def report_case_id(self, report_id: str) -> str | None:
        """The id of the case filed with this report id (kept after the case left Redis)."""
        case_id = self.redis.hget(REPORTS, report_id)
        return _text(case_id) if case_id else None

    def all(self) -> list[Case]:
        return [Case.from_dict(orjson.loads(v)) for v in self.redis.hvals(DATA)]

    def revision(self) -> int:
        """Moves with every create and transition (0 before the first case)."""
        return int(self.redis.get(REVISION) or 0)

    def revision_and_epoch(self) -> tuple[int, str]:
        """The revision, and the epoch that changes when Redis was emptied (one round trip)."""
        revision, epoch = self.redis.mget(REVISION, EPOCH)
        return int(revision or 0), _text(epoch) or ""

    def open_cases(self) -> list[Case]:
        ids = self.redis.zrange(OPEN, 0, -1)
        if not ids:
            return []
        return [Case.from_dict(orjson.loads(v)) for v in self.redis.hmget(DATA, ids) if v]

    def timeline(self, case_id: str) -> list[CaseEvent]:
        return _events(case_id, self.redis.xrange(timeline_key(case_id)))

    def timelines(self, case_ids) -> dict[str, list[CaseEvent]]:
        """Many timelines in one pipelined round trip (for the indicators)."""
        ids = list(case_ids)
        pipe = self.redis.pipeline(transaction=False)
        for case_id in ids:
            pipe.xrange(timeline_key(case_id))
        return {case_id: _events(case_id, entries) for case_id, entries in zip(ids, pipe.execute())}

    def changed_since(self, revision: int) -> list[str]:
        """Ids of the cases created or changed after `revision` (oldest change first)."""
        return [_text(x) for x in self.redis.zrangebyscore(CHANGED, f"({int(revision)}", "+inf")]

    def ids(self) -> list[str]:
        """The id of every case."""
        return [_text(x) for x in self.redis.hkeys(DATA)]

    def raw_cases(self, case_ids=None) -> list[dict]:
        """Cases as stored (dicts): all of them, or those of `case_ids` that exist."""
        if case_ids is None:
            return [orjson.loads(v) for v in self.redis.hvals(DATA)]
        ids = list(case_ids)
        return [orjson.loads(v) for v in self.redis.hmget(DATA, ids) if v] if ids else []

    def steps(self, case_ids) -> dict[str, list[Step]]:
        """The timelines of many cases as `Step`s (action, stages, time; no notes or details),
        read `STEPS_BATCH` timelines per script call so Redis is never held for long."""
        ids = list(case_ids)
        out: dict[str, list[Step]] = {}
        for k in range(0, len(ids), STEPS_BATCH):
            chunk = ids[k:k + STEPS_BATCH]
            for case_id, joined in zip(chunk, self._steps(keys=[timeline_key(i) for i in chunk], args=[])):
                out[case_id] = _steps(_text(joined)) if joined else []
        return out

    def nearby_open(self, class_code: str, lon: float, lat: float, radius_m: float) -> list[str]:
        """Open cases of the class within `radius_m` metres, nearest first."""
        found = self.redis.geosearch(geo_key(class_code), longitude=lon, latitude=lat, radius=radius_m, unit="m", sort="ASC")
        return [_text(x) for x in found]

    # ---- the archive: ended cases leave Redis, a lost Redis is rebuilt -----------------------------

    def versions(self, case_ids) -> dict[str, int]:
        """The stored version of each of `case_ids` that Redis holds."""
        ids = list(case_ids)
        if not ids:
            return {}
        return {i: int(v) for i, v in zip(ids, self.redis.hmget(VERSION, ids)) if v is not None}

    def evict(self, cases) -> list[str]:
        """Remove ended cases that the record holds: `cases` are (id, the record's version, the
        record's last timeline entry id). A case goes (its JSON, version and timeline; its report
        id mapping stays) only if Redis's version is not newer and its last timeline entry is the
        record's, checked and done in one script; the revision moves once. Returns the ids gone."""
        batch = [{"id": i, "version": int(v), "last_entry": last or ""} for i, v, last in cases]
        if not batch:
            return []
        gone = self._evict(keys=[DATA, VERSION, CHANGED, REVISION, *(timeline_key(c["id"]) for c in batch)],
                           args=[orjson.dumps(batch)])
        return [_text(x) for x in gone or ()]

    def has_cases(self) -> bool:
        """Whether Redis holds any case (or has ever numbered one)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hlen(DATA)
        pipe.exists(SEQ, REVISION)
        n, exists = pipe.execute()
        return bool(n or exists)

    def restore(self, cases, timelines, reports: dict[str, str], seq: int, chunk: int = 500) -> int:
        """Write cases back after Redis was lost (`python -m ioc restore`): each case of `cases`
        with its indexes (open set, per-class geo set and device map for the open ones), its
        timeline (`timelines[id]`: (entry id, fields), written with the same entry ids, replacing
        any there), the report id -> case id map `reports`, the id sequence (at least `seq`), a
        revision and a `changed` entry per case, and a new epoch so every web process's case
        index reads the cases again. Returns the timeline entries written."""
        entries = 0
        revision = 0
        cases = list(cases)
        for k in range(0, len(cases), chunk):
            part = cases[k:k + chunk]
            pipe = self.redis.pipeline(transaction=False)
            pipe.hset(DATA, mapping={c.id: orjson.dumps(c.to_dict()) for c in part})
            pipe.hset(VERSION, mapping={c.id: c.version for c in part})
            opened = [c for c in part if c.is_open]
            if opened:
                pipe.zadd(OPEN, {c.id: c.created_at for c in opened})
                for code in sorted({c.class_code for c in opened}):
                    pipe.geoadd(geo_key(code), [x for c in opened if c.class_code == code for x in (c.lon, c.lat, c.id)])
                devices = {device_key(c): c.id for c in opened if device_key(c)}
                if devices:
                    pipe.hset(DEVICES, mapping=devices)
            pipe.delete(*(timeline_key(c.id) for c in part))
            for case in part:
                for entry_id, fields in timelines.get(case.id, ()):
                    pipe.xadd(timeline_key(case.id), fields, id=entry_id)
                    entries += 1
            pipe.zadd(CHANGED, {c.id: revision + n + 1 for n, c in enumerate(part)})
            revision += len(part)
            pipe.execute()
        items = list(reports.items())
        for k in range(0, len(items), chunk * 10):
            self.redis.hset(REPORTS, mapping=dict(items[k:k + chunk * 10]))
        pipe = self.redis.pipeline(transaction=True)
        current = int(self.redis.get(SEQ) or 0)
        pipe.set(SEQ, max(current, int(seq)))
        pipe.set(REVISION, max(revision, int(self.redis.get(REVISION) or 0) + 1))
        pipe.set(EPOCH, f"restore@{time.time_ns()}")
        pipe.execute()
        return entries


def case_number(case_id: str) -> int:
    """The sequence number of a case id `ZJG-YYYYMMDD-NNNNNN` (0 for another shape)."""
    tail = str(case_id).rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0
