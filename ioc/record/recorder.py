"""The recorder (`python -m ioc recorder`): Redis streams -> the record (PostgreSQL), exactly once.

Streams (RECORD-SPEC section 1): the control plane's `ioc:{core}:record`, the audit log, the
alarm events, and per telemetry shard its registry and readings streams. Each is read with the
consumer group `ioc-recorder` (consumer `recorder-<host>`, stable: a restarted recorder reads its
own pending entries first; entries another consumer left pending for `CLAIM_IDLE_MS` are taken
over with XAUTOCLAIM), in batches of up to `IOC_RECORD_BATCH` entries, written at least every
`IOC_RECORD_FLUSH_MS`.

One batch = one transaction: the partitions it needs (`ioc_ensure_partition`, cached), its rows
(`ioc.record.copy`: COPY into staging, INSERT … ON CONFLICT), and the stream's offset in
`recorder_offsets`, read `FOR UPDATE` first: entries at or before it are skipped. The entries
are acknowledged (XACK) only after the commit. A kill at any point leaves either nothing of the
batch or all of it with its offset; the entries stay pending and are read again, and the ones
at or before the offset are acknowledged without writing. So the record ends as an undisturbed
run's, whatever stops: the recorder, PostgreSQL, Redis.

PostgreSQL down: the recorder keeps its batch and retries (back-off, logged once); the streams
hold what comes meanwhile, up to their caps (`IOC_RECORD_STREAM_MAXLEN`, `IOC_RECORD_READINGS_MAXLEN`,
the alarm stream's 100,000); entries trimmed before they were recorded are counted per stream
(`recorder:lost:<stream>` -> `ioc_recorder_lost_total`) from each stream's `entries-added`, its
length and first entry, and the recorder's position in it (`ioc:recorder:positions`).
After each commit the recorder trims what it recorded from the record, registry and readings
streams (XTRIM MINID ~ its offset, through the owners' `trim_recorded` helpers), so Redis holds
only the unrecorded tail and the caps bound an outage; the audit log and the alarm events are
never trimmed (the portal reads them). Only entries before the offset go, all delivered already,
so these trims are never counted lost.
Redis lost its data (a stream's last id is below the recorded offset): logged and counted
(`recorder:errors:redis_lost`), the offset is lowered to the stream's last id, and recording
goes on with whatever the new stream holds.

The per-device hourly aggregates of the readings kept raw are summed in the recorder's memory
as their batches are built (`ioc.record.hourly_memory`: counted once the batch committed, by the
readings' `seq`) and written as parts at each fold; what the memory does not hold (a stopped or
killed recorder's readings, a failed fold's) the fold sums from the raw rows (migrations 0009,
0010). Those of the readings not kept raw go to `device_hourly_parts` with their batch
(appended, in the batch's transaction). All are folded into `device_hourly` at least every
`FOLD_S` seconds and once the streams have been quiet for `FOLD_IDLE_S` (one transaction on a
second connection, in a thread, while the streams keep being recorded; `fold` does it at once;
a recorder that starts folds what a stopped one left, and retention folds before it drops raw
partitions). Readers see
the folded rows and the parts through the view `device_hourly_all`; the raw readings of the
last `FOLD_S` seconds at most reach it at the next fold (they are readable raw at once).

One recorder records at a time (a PostgreSQL advisory lock held by its connection); a second
one waits as a standby and takes over when the first's connection ends.

Retention: partitions whose period ended before a family's window are dropped at start and
hourly (`IOC_RECORD_RAW_HOURS`, `IOC_RECORD_ROLLUP_DAYS`, `IOC_RECORD_HOURLY_DAYS`,
`IOC_RECORD_EVENTS_DAYS`; 0: kept for good).

Heartbeat `recorder-<host>-<pid>` in `ioc:workers` (`"role": "recorder"`) with `lag` (seconds
per stream: the age of the oldest entry not yet recorded), `rows`, `lost`, `active`. Counters in
`ioc:metrics`: `recorder:rows:<table>`, `recorder:lost:<stream>`, `recorder:errors:<reason>`.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

import psycopg
import redis

from ioc.adapters import counters, heartbeats, record_stream, telemetry_store
from ioc.adapters import redis_keys as keys
from ioc.adapters.redis_client import REDIS_UNAVAILABLE
from ioc.settings import Settings

from . import copy as record_copy
from . import db
from .hourly_memory import HourlyMemory
from .writers import ALARMS, AUDIT, READINGS, RECORD, REGISTRY, RawPolicy, build, id_key, stream_ms, utc

log = logging.getLogger("ioc.recorder")

GROUP = "ioc-recorder"
CLAIM_IDLE_MS = 60_000  # entries pending this long at another consumer are taken over
HEARTBEAT_S = 2
RETENTION_S = 3600
FOLD_S = 60  # the hourly parts are folded into device_hourly at least this often,
FOLD_IDLE_S = 1.0  # and once the streams have been quiet this long
FOLD_REST = 1.0  # a fold in the background rests this many times each chunk's duration after it
LOCK_KEY = 0x10C_5EC0  # the advisory lock of the one active recorder
PG_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)

# families whose history tables follow IOC_RECORD_EVENTS_DAYS
EVENT_TABLES = ("case_versions", "case_timeline", "event_versions", "alarm_events", "audit", "device_events")


def streams(settings: Settings) -> list[tuple[str, str]]:
    """(key, family) of every stream the recorder reads."""
    out = [(keys.RECORD, RECORD), (keys.AUDIT, AUDIT), (keys.ALARMS_EVENTS, ALARMS)]
    for shard in range(settings.redis_shards):
        out += [(keys.registry_stream(shard), REGISTRY), (keys.readings_stream(shard), READINGS)]
    return out


def _t(v) -> str:
    return v.decode() if isinstance(v, bytes) else v


def _now_ms() -> int:
    return int(time.time() * 1000)


def _history_rows(batch) -> int:
    """The rows a batch holds for its history tables (one or more per entry; 0 without a batch)."""
    return sum(len(rows) for rows in batch.history.values()) if batch is not None else 0


def raw_policy(raw_hours: int, now_ms: float) -> RawPolicy:
    """The readings a batch keeps raw: those within the raw window (older ones, history written
    after the fact or a long outage caught up, would be dropped by retention at once, and writing
    them is most of a catch-up's cost: they get their rollups and hourly aggregates only). The
    hourly aggregates of the readings kept raw are derived from them at the fold."""
    return RawPolicy(keep=raw_hours > 0, since_ms=int(now_ms - raw_hours * 3_600_000), hourly_from_raw=True)


def _fold(conn, memory: HourlyMemory | None = None, rest: float = 0.0) -> int:
    """One fold in its own transaction on `conn` (logged with its duration); hourly rows written."""
    t0 = time.monotonic()
    with conn.transaction():
        parts, folded = record_copy.fold_hourly(conn, memory, rest)
    conn.commit()
    log.debug("recorder: folded %d hourly rows (%d parts of raw readings) in %.2f s", folded, parts, time.monotonic() - t0)
    return folded


@dataclass
class _Stream:
    key: str
    family: str
    offset: str = "0-0"  # last committed id (from the record)
    buf: list = field(default_factory=list)  # entries read, not yet committed: (id, fields)
    dead: list = field(default_factory=list)  # ids read without their fields (trimmed while pending): ack only
    since: float = 0.0  # monotonic time the oldest buffered entry was read
    pending_done: bool = False  # own pending entries read again after a (re)start
    position: int | None = None  # entries added to the stream up to the last one delivered to the group
    delivered: str = "0-0"  # the last id delivered by `>`
    lost: int = 0
    trimmed: int = 0  # recorded entries this recorder trimmed from the stream

    @property
    def tag(self) -> str:
        """The stream's hash tag without braces (`s3`, `core`)."""
        return self.key.partition("{")[2].partition("}")[0]

    def trim_recorded(self, client) -> int:
        """Drop the recorded entries (before the committed offset) from Redis, through the streams'
        owners' helpers, so that Redis holds only the unrecorded tail. Never the audit log nor the
        alarm events: the portal reads them. Returns how many went."""
        if self.offset == "0-0":
            return 0
        if self.family == RECORD:
            return record_stream.trim_recorded(client, self.offset)
        if self.family in (REGISTRY, READINGS):
            which = "registry" if self.family == REGISTRY else "readings"
            return telemetry_store.trim_recorded(client, int(self.tag[1:]), which, self.offset)
        return 0


class Recorder:
    def __init__(self, settings: Settings, redis_client, *, consumer: str = ""):
        if not settings.database_url:
            raise ValueError("DATABASE_URL must be set for the recorder")
        self.settings = settings
        self.url = settings.database_url
        self.redis = redis_client
        host = socket.gethostname()
        self.consumer = consumer or f"recorder-{host}"
        self.worker_id = f"recorder-{host}-{os.getpid()}"
        self.started_ms = _now_ms()
        self.streams = [_Stream(k, f) for k, f in streams(settings)]
        self.conn: psycopg.Connection | None = None
        self.active = False
        self.made: set = set()  # partitions known to exist
        self.rows = 0
        self.entries = 0
        self.stopping = threading.Event()
        self._groups_ready = False
        self._last_beat = 0.0
        self._last_retention = 0.0
        self._last_claim = 0.0
        self._last_fold = self._busy_at = time.monotonic()
        self.unfolded = False  # hourly parts may wait to be folded (a killed recorder may have left some)
        self.hourly = HourlyMemory()  # the hourly cells of the raw readings recorded since the last fold
        self._fold_thread: threading.Thread | None = None
        self._fold_conn: psycopg.Connection | None = None
        self._failing: dict[str, str] = {}

    # ---- connections -------------------------------------------------------------------------

    def _connect(self, wait_s: float = 0.0) -> bool:
        """Open the record connection and take the recorder lock; False while another recorder holds it."""
        if self.conn is None or self.conn.closed:
            self.conn = db.connect(self.url, application_name="ioc-recorder")
            self.active = False
        if not self.active:
            deadline = time.monotonic() + wait_s
            while True:
                got = self.conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()[0]
                self.conn.commit()
                if got or time.monotonic() >= deadline or self.stopping.is_set():
                    break
                time.sleep(0.2)
            if not got:
                return False
            self.active = True
            self.made.clear()
            self.unfolded = True
            self.hourly.forget()
            offs = record_copy.offsets(self.conn)
            self.conn.commit()
            for s in self.streams:
                s.offset = offs.get(s.key, "0-0")
                s.pending_done = False
            log.info("recorder %s active: recording %d streams into the record", self.worker_id, len(self.streams))
        return True

    def _drop_connection(self) -> None:
        self.wait_fold()
        if self._fold_conn is not None:
            try:
                self._fold_conn.close()
            except Exception:  # noqa: BLE001 - it is broken already
                pass
            self._fold_conn = None
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:  # noqa: BLE001 - it is broken already
                pass
        self.conn = None
        self.active = False

    # ---- Redis: groups, reads, positions --------------------------------------------------------

    def _ensure_groups(self) -> None:
        if self._groups_ready:
            return
        stored = {_t(k): _t(v) for k, v in self.redis.hgetall(keys.RECORDER_POSITIONS).items()}
        for s in self.streams:
            self._ensure_group(s, stored.get(s.key))
        self._groups_ready = True

    def _ensure_group(self, s: _Stream, stored: str | None) -> None:
        try:
            self.redis.xgroup_create(s.key, GROUP, id="0", mkstream=True)
            created = True
        except redis.ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise
            created = False
        info = self.redis.xinfo_stream(s.key)
        last = _t(info.get("last-generated-id") or "0-0")
        added, length = int(info.get("entries-added") or 0), int(info.get("length") or 0)
        if id_key(last) < id_key(s.offset):
            # Redis lost entries (restored from an older copy, or emptied). What the stream holds
            # from before this Redis started was recorded (it is older than the offset); what came
            # after is new, whatever its id: go on from the older of the two.
            since = self._redis_started_ms()
            lowered = min((last, f"{max(since - 1000, 0)}-0"), key=id_key) if since else last
            log.warning("stream %s ends at %s, before the recorded offset %s: Redis lost entries (restored from an "
                        "older copy, or emptied); recording goes on from %s", s.key, last, s.offset, lowered)
            counters.add(self.redis, "recorder:errors:redis_lost")
            self._lower_offset(s, lowered)
        groups = {_t(g["name"]): g for g in self.redis.xinfo_groups(s.key)}
        delivered = _t(groups[GROUP].get("last-delivered-id") or "0-0") if GROUP in groups else "0-0"
        s.delivered = delivered
        if created or stored is None:
            # entries trimmed before the group existed were never the recorder's to record
            s.position = added - length if delivered == "0-0" else int(groups[GROUP].get("entries-read") or 0)
        else:
            sid, _, pos = stored.partition(" ")
            s.position = int(pos) if sid == delivered else int(groups[GROUP].get("entries-read") or 0)

    def _redis_started_ms(self) -> int:
        """When the Redis server started (epoch ms, to the second; 0 when it cannot say)."""
        try:
            info = self.redis.info("server")
            if "uptime_in_seconds" not in info:  # a cluster client: one dict per node
                info = next(iter(info.values()))
            return _now_ms() - int(info["uptime_in_seconds"]) * 1000
        except Exception:  # noqa: BLE001 - an estimate only
            return 0

    def _lower_offset(self, s: _Stream, last: str) -> None:
        s.offset = last
        if self.conn is not None and self.active:
            self.conn.execute("UPDATE recorder_offsets SET last_id = %s, updated_at = now() WHERE stream = %s", (last, s.key))
            self.conn.commit()

    def _read(self, s: _Stream, count: int) -> int:
        """Read up to `count` entries into the stream's buffer; returns how many."""
        if not s.pending_done:
            start = s.buf[-1][0] if s.buf else (s.dead[-1] if s.dead else "0-0")
            got = self.redis.xreadgroup(GROUP, self.consumer, {s.key: start}, count=count)
            entries = got[0][1] if got else []
            if entries:
                n = 0
                for entry_id, fields in entries:
                    entry_id = _t(entry_id)
                    if not fields:  # trimmed while pending: never recorded
                        s.dead.append(entry_id)
                        if id_key(entry_id) > id_key(s.offset):
                            s.lost += 1
                            counters.add(self.redis, f"recorder:lost:{s.key}")
                    else:
                        self._buffer(s, entry_id, fields)
                        n += 1
                return n or len(entries)
            s.pending_done = True
        pipe = self.redis.pipeline(transaction=True)
        pipe.xreadgroup(GROUP, self.consumer, {s.key: ">"}, count=count)
        pipe.xinfo_stream(s.key)
        got, info = pipe.execute()
        entries = got[0][1] if got else []
        if not entries:
            return 0
        first = info.get("first-entry")
        first_id = _t(first[0]) if first else None
        added, length = int(info.get("entries-added") or 0), int(info.get("length") or 0)
        e1 = _t(entries[0][0])
        if s.position is not None and first_id == e1:
            # the batch starts at the stream's first entry: whatever came between the last delivered
            # entry and it was trimmed unread
            lost = (added - length) - s.position
            if lost > 0:
                s.lost += lost
                counters.add(self.redis, f"recorder:lost:{s.key}", lost)
                log.warning("stream %s: %d entries were trimmed before the recorder read them (cap reached while "
                            "the record was behind)", s.key, lost)
            s.position = added - length
        if s.position is not None:
            s.position += len(entries)
        s.delivered = _t(entries[-1][0])
        for entry_id, fields in entries:
            self._buffer(s, _t(entry_id), fields)
        self.redis.hset(keys.RECORDER_POSITIONS, s.key, f"{s.delivered} {s.position if s.position is not None else 0}")
        return len(entries)

    def _buffer(self, s: _Stream, entry_id: str, fields) -> None:
        if s.buf and id_key(entry_id) <= id_key(s.buf[-1][0]):
            return  # read again after an error: it is buffered already
        if not s.buf:
            s.since = time.monotonic()
        s.buf.append((entry_id, fields))

    def _claim(self) -> None:
        """Take over entries another consumer left pending (a recorder that is gone)."""
        for s in self.streams:
            start = "0-0"
            while True:
                result = self.redis.xautoclaim(s.key, GROUP, self.consumer, CLAIM_IDLE_MS, start_id=start,
                                               count=self.settings.record_batch)
                nxt, claimed = _t(result[0]), result[1]
                if claimed:
                    s.pending_done = False
                if nxt == "0-0" or not claimed:
                    break
                start = nxt

    # ---- writing ------------------------------------------------------------------------------

    def flush(self, s: _Stream) -> int:
        """Write the stream's buffer in one transaction, then acknowledge it; returns rows written."""
        return self.flush_group([s])

    def flush_group(self, group: list[_Stream]) -> int:
        """Write the buffers of `group` (streams of one family) in one transaction — one batch, so
        the shards' minute rollups and hourly cells merge — with each stream's offset, then
        acknowledge and trim each stream; returns rows written. All or nothing: a failure leaves
        every stream of the group as it was."""
        group = [s for s in group if s.buf or s.dead]
        if not group:
            return 0
        family = group[0].family
        conn = self.conn
        written: dict[str, int] = {}
        new_parts: set = set()
        offsets: dict[str, str] = {}
        written_bad = 0
        raw = None  # (seq before, seq after, raw readings staged, inserted)
        try:
            with conn.transaction():
                batch, last = None, {}  # last: stream -> (its last fresh id, the history rows its entries made)
                for s in group:
                    offset = record_copy.committed_offset(conn, s.key)
                    fresh = [e for e in s.buf if id_key(e[0]) > id_key(offset)]
                    offsets[s.key] = offset
                    if fresh:
                        made = _history_rows(batch)
                        batch = build(family, fresh, shard=s.tag, raw_cells=self.hourly.cells, into=batch,
                                      policy=raw_policy(self.settings.record_raw_hours, time.time() * 1000))
                        last[s.key] = (fresh[-1][0], _history_rows(batch) - made)
                if batch is not None:
                    new_parts = record_copy.ensure_partitions(conn, batch, self.made)
                    staged = len(batch.history.get("readings", ()))
                    before = record_copy.readings_seq(conn) if staged else 0
                    written = record_copy.write_batch(conn, batch)
                    if staged:
                        raw = (before, record_copy.readings_seq(conn), staged, written.get("readings", 0))
                    if batch.bad:
                        log.warning("%s: %d entries could not be read (first: %s %s)", ", ".join(s.key for s in group),
                                    len(batch.bad), *batch.bad[0])
                        written_bad = len(batch.bad)
                    # each stream is counted the rows its own entries made (raw readings, events…);
                    # what the group's entries made together (minute rollups, hourly cells, latest
                    # states) — or everything, when readings the record held already were not
                    # written again — is counted on its first stream
                    total = sum(written.values())
                    own = {key: n for key, (_, n) in last.items()}
                    if sum(own.values()) > total:
                        own = dict.fromkeys(own, 0)
                    shared = total - sum(own.values())
                    for k, (key, (offset, _)) in enumerate(last.items()):
                        record_copy.save_offset(conn, key, offset, own[key] + (shared if k == 0 else 0))
                    offsets.update((key, offset) for key, (offset, _) in last.items())
            conn.commit()
        except BaseException:
            self.hourly.forget()  # the batch's cells may be in it: the fold sums from the raw rows instead
            raise
        if raw is not None:
            self.hourly.committed(*raw)
        self.made |= new_parts
        if written.get("device_hourly") or written.get("readings"):
            self.unfolded = True
        rows = sum(written.values())
        pipe = self.redis.pipeline(transaction=False)
        for s in group:
            s.offset = offsets[s.key]
            done = [e[0] for e in s.buf] + s.dead
            for i in range(0, len(done), 1000):
                pipe.xack(s.key, GROUP, *done[i:i + 1000])
            self.entries += len(s.buf)
            s.buf, s.dead = [], []
        counts = {f"recorder:rows:{t}": n for t, n in written.items()}
        if written_bad:
            counts["recorder:errors:bad_entry"] = written_bad
        counters.add_in(pipe, counts)
        self.rows += rows
        pipe.execute()
        # Trimmed only up to the committed offset: entries at or after it stay, so every entry that
        # goes was delivered to the group already and the lost accounting (entries-added - length
        # against the position, see `_read`) never counts these trims.
        if self.settings.record_trim:
            for s in group:
                s.trimmed += s.trim_recorded(self.redis)
        return rows

    def fold(self) -> int:
        """Fold the hourly parts into `device_hourly` now (one transaction, after a fold running in
        the background); hourly rows written."""
        self.wait_fold()
        if not self.unfolded:
            return 0
        folded = _fold(self.conn, self._take_memory())
        self.unfolded = False
        self._last_fold = time.monotonic()
        return folded

    def fold_in_background(self) -> None:
        """Start a fold on a connection of its own, so the streams keep being recorded meanwhile
        (a minute's parts at 20,000 msg/s take seconds to fold). Parts appended while it runs are
        not in its snapshot and wait for the next fold; a fold that fails leaves every part."""
        if self._fold_thread is not None and self._fold_thread.is_alive():
            return
        memory = self._take_memory()
        self.unfolded = False
        self._last_fold = time.monotonic()
        self._fold_thread = threading.Thread(target=self._fold_job, args=(memory,), name="recorder-fold", daemon=True)
        self._fold_thread.start()

    def _take_memory(self) -> HourlyMemory:
        """The hourly cells for a fold, taken on the recording connection between two batches (a
        memory that does not know where it starts learns it first: every reading numbered so far
        is committed or rolled back, the fold sums them from the raw rows)."""
        if self.hourly.upto is None:
            self.hourly.start_at(record_copy.readings_seq(self.conn))
            self.conn.commit()
        return self.hourly.take()

    def _fold_job(self, memory: HourlyMemory) -> None:
        try:
            if self._fold_conn is None or self._fold_conn.closed:
                self._fold_conn = db.connect(self.url, application_name="ioc-recorder-fold")
            _fold(self._fold_conn, memory, FOLD_REST)
        except Exception as e:  # noqa: BLE001 - the parts and raw rows stay; the next fold takes them
            log.warning("recorder: folding the hourly parts failed (%s); the next fold sums them from the raw rows",
                        type(e).__name__)
            self.unfolded = True
            try:
                if self._fold_conn is not None:
                    self._fold_conn.close()
            except Exception:  # noqa: BLE001 - it is broken already
                pass
            self._fold_conn = None

    def wait_fold(self) -> None:
        if self._fold_thread is not None:
            self._fold_thread.join()
            self._fold_thread = None

    def step(self, force: bool = False) -> tuple[int, int]:
        """One pass over every stream: read, and write the buffers that are full or old enough
        (every one with `force`). Returns (entries read, rows written)."""
        batch = self.settings.record_batch
        flush_s = self.settings.record_flush_ms / 1000
        read = rows = 0
        readings: list[_Stream] = []  # the shards' readings streams that are due: one transaction
        for s in self.streams:
            room = batch - len(s.buf)
            if room > 0:
                read += self._read(s, room)
            if s.buf or s.dead:
                if force or len(s.buf) >= batch or time.monotonic() - s.since >= flush_s:
                    if s.family == READINGS:
                        readings.append(s)
                    else:
                        rows += self.flush(s)
        if readings:
            rows += self.flush_group(readings)
        return read, rows

    # ---- lag, heartbeat, retention ---------------------------------------------------------------

    def lag(self) -> dict[str, float]:
        """Seconds per stream: the age of its oldest entry not yet recorded (0 when caught up)."""
        now = _now_ms()
        out = {}
        pipe = self.redis.pipeline(transaction=False)
        for s in self.streams:
            pipe.xrange(s.key, min=f"({s.offset}" if s.offset != "0-0" else "-", max="+", count=1)
        for s, got in zip(self.streams, pipe.execute()):
            oldest = stream_ms(_t(got[0][0])) if got else None
            if s.buf:
                oldest = min(oldest or now, stream_ms(s.buf[0][0]))
            out[s.key] = round(max(0, now - oldest) / 1000, 3) if oldest is not None else 0.0
        return out

    def heartbeat(self) -> None:
        lag = self.lag() if self.active else {}
        heartbeats.beat(self.redis, self.worker_id, "recorder", self.started_ms, self.entries,
                        sum(len(s.buf) for s in self.streams), GROUP, lag=lag, rows=self.rows,
                        lost=sum(s.lost for s in self.streams), active=self.active)

    def retention(self, now_ms: int | None = None) -> list[str]:
        """Drop the partitions past each family's window; their names. The raw readings not
        folded yet are folded first: their hourly aggregates come from them."""
        self.fold()
        st = self.settings
        now = utc(now_ms if now_ms is not None else _now_ms())
        windows = [("readings", timedelta(hours=st.record_raw_hours)), ("rollup_minute", timedelta(days=st.record_rollup_days)),
                   ("device_hourly", timedelta(days=st.record_hourly_days))]
        windows += [(t, timedelta(days=st.record_events_days)) for t in EVENT_TABLES]
        dropped = []
        for table, window in windows:
            if not window:
                continue
            dropped += record_copy.drop_older(self.conn, table, now - window)
        self.conn.commit()
        if dropped:
            self.made.clear()
            log.info("retention: dropped %s", ", ".join(dropped))
        return dropped

    # ---- the loop ------------------------------------------------------------------------------

    def _problem(self, job: str, e: Exception) -> None:
        text = f"{type(e).__name__}: {e}".strip()
        if self._failing.get(job) != text:
            log.warning("%s unavailable (%s); the streams hold what comes meanwhile, retrying", job, text.splitlines()[0])
            self._failing[job] = text

    def _recovered(self, job: str) -> None:
        if self._failing.pop(job, None) is not None:
            log.info("%s reachable again; catching up", job)

    def run_once(self, wait_lock_s: float = 0.0) -> tuple[int, int]:
        """One pass (connecting as needed); raises what it cannot handle."""
        if not self._connect(wait_lock_s):
            return 0, 0
        self._ensure_groups()
        now = time.monotonic()
        if now - self._last_claim >= CLAIM_IDLE_MS / 1000:
            self._claim()
            self._last_claim = now
        if now - self._last_retention >= RETENTION_S:
            self.retention()
            self._last_retention = now
        read, rows = self.step()
        now = time.monotonic()
        if read or any(s.buf for s in self.streams):
            self._busy_at = now
        if self.unfolded and (now - self._last_fold >= FOLD_S or now - self._busy_at >= FOLD_IDLE_S):
            self.fold_in_background()
        return read, rows

    def run(self) -> None:
        backoff = 0.2
        log.info("recorder %s (consumer %s) starting", self.worker_id, self.consumer)
        while not self.stopping.is_set():
            try:
                read, _rows = self.run_once()
                self._recovered("PostgreSQL")
                self._recovered("Redis")
                backoff = 0.2
                if time.monotonic() - self._last_beat >= HEARTBEAT_S:
                    self.heartbeat()
                    self._last_beat = time.monotonic()
                if not self.active:
                    self.stopping.wait(2)
                elif not read:
                    self.stopping.wait(min(0.1, self.settings.record_flush_ms / 5000))
            except PG_ERRORS as e:
                self._problem("PostgreSQL", e)
                self._count_error("postgres")
                self._drop_connection()
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 5)
            except REDIS_UNAVAILABLE as e:
                self._problem("Redis", e)
                self._count_error("redis")
                self._groups_ready = False
                for s in self.streams:
                    s.pending_done = False
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 5)
            except redis.ResponseError as e:
                if "NOGROUP" in str(e):  # Redis restarted empty, or the stream was deleted
                    self._groups_ready = False
                    for s in self.streams:
                        s.pending_done = False
                else:
                    log.exception("recorder: unexpected Redis error; retrying")
                    self._count_error("unexpected")
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 5)
            except Exception:  # noqa: BLE001 - never stop recording
                log.exception("recorder: unexpected error; retrying")
                self._count_error("unexpected")
                self._drop_connection()
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 5)
        if self.active and self.unfolded:
            try:
                self.fold()
            except Exception:  # noqa: BLE001 - the parts stay in the record; the next recorder folds them
                log.warning("recorder: the hourly parts were not folded at stop; the next recorder folds them")
        self._drop_connection()
        log.info("recorder %s stopped after %d entries, %d rows", self.worker_id, self.entries, self.rows)

    def _count_error(self, reason: str) -> None:
        try:
            counters.add(self.redis, f"recorder:errors:{reason}")
        except REDIS_UNAVAILABLE:
            pass

    def stop(self, *_args) -> None:
        self.stopping.set()

    def close(self) -> None:
        self._drop_connection()


def record_once(settings: Settings, redis_client=None) -> int:
    """One pass over every stream until each is caught up (for tests and tools); rows written."""
    from ioc.adapters.redis_client import connect_redis

    client = redis_client if redis_client is not None else connect_redis(settings.redis_url)
    recorder = Recorder(settings, client)
    try:
        if not recorder._connect(wait_s=30):
            raise RuntimeError("another recorder holds the record's lock")
        recorder._ensure_groups()
        recorder._claim()
        total = 0
        while True:
            read, rows = recorder.step(force=True)
            total += rows
            if not read and not any(s.buf or s.dead for s in recorder.streams):
                recorder.fold()
                return total
    finally:
        recorder.close()


def main(settings: Settings) -> int:
    from ioc.adapters.redis_client import connect_redis

    if not settings.redis_url or not settings.database_url:
        log.error("REDIS_URL and DATABASE_URL must be set for `python -m ioc recorder` (or use `python -m ioc demo`)")
        return 2
    recorder = Recorder(settings, connect_redis(settings.redis_url))
    signal.signal(signal.SIGTERM, recorder.stop)
    signal.signal(signal.SIGINT, recorder.stop)
    recorder.run()
    return 0
