"""The rewind (回溯): the city as it was at any moment of the retained history, read from the record.

`Rewind.snapshot_at(t_ms)` gives the same `CitySnapshot` the wall and the district pages draw
from Redis, so their pure functions (`ioc.views.bigscreen`) render the moment unchanged:

- devices: the registry as of t (births after t left out, moves after t undone) with each
  device's online state at t. The registry's history is small next to telemetry (births, state
  changes, moves): it is held in memory per process (`DeviceTimeline`), loaded once and then only
  the events recorded since; a device whose state never changed costs nothing per frame.
- alarms active at t (`alarms`: raised_at <= t < cleared_at), each with its ack as of t;
- `recent` / `current`: the minute rollups of the minute before t and of t's minute, with the
  Redis bucket field names (`<district>|<kind>|<attribute>:s|:n|:x`, `…=<value>:n`, `…|_:n`);
- case figures per district at t (`case_counts`: open, overdue, reported today) from the tally of
  migration 0004, without reading the open cases; `open_cases_at(t)` gives the cases themselves
  (`case_spans`, migration 0002: the version of each case in force at t);
- water levels: each gauge's last hourly level recorded at or before t;
- `alarm_events`: the ticker's alarm transitions up to t.

`rollup_hours(start, end, until_ms)` gives the hourly rollup buckets the wall's 24-hour trends
draw (the shape of `SnapshotStore.rollup_series("hour", …)`) up to a replayed moment, summed by
hour in SQL; a settled past hour is kept per process (it does not change).

Stabbing queries ("active at t") go through GiST indexes on the intervals (0002), so a frame
costs what is active at t, not what came before. Frames are kept per second in a small LRU and
can be made ahead (`prefetch`): playback asks for the next frames while the current one shows.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ioc.domain.cases import ENDED, Case
from ioc.domain.city_state import CitySnapshot, DeviceRow, FleetIndex
from ioc.domain.clock import local_midnight_ms

from . import db

log = logging.getLogger(__name__)

WATER_GAUGE_KIND, WATER_LEVEL = "water_level", "waterLevel"
CASE_COLUMNS = ("case_id, version, stage, district, class_code, lon, lat, urgent,"
                " coalesce((extract(epoch FROM created_at) * 1000)::bigint, 0),"
                " coalesce((extract(epoch FROM stage_deadline) * 1000)::bigint, 0)")
TICKER_EVENTS = 24  # the alarm events a frame carries for the ticker (the wall shows 8)
FRAME_CACHE = 256  # frames kept per process (a minute of playback at one frame a second, with room)
EVENT_ENDED = ("closed", "cancelled")
TALLY_MS = 600_000  # the case tally's bucket (migration 0004): 10 minutes, so China midnight is a bucket start
HOUR_MS = 3_600_000
HOURS_KEPT = 24 * 8  # settled rollup hours kept per process (a week of trend panels' days, with room)
SETTLED_MS = 5 * 60_000  # an hour is settled once the record holds moments this far past its end


def ts(ms: int) -> datetime:
    """Epoch ms -> the record's timestamptz."""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def ms_of(value) -> int:
    return int(value.timestamp() * 1000) if value is not None else 0


# --- pure parts ------------------------------------------------------------------------------------

def rollup_fields(rows) -> dict[str, float]:
    """Rows of rollup_minute `(district, kind, attribute, s, n, x)` -> the fields of a Redis minute
    bucket: `<d>|<k>|<a>:n` always, `:s` and `:x` when recorded (numeric attributes)."""
    out: dict[str, float] = {}
    for district, kind, attribute, s, n, x in rows:
        base = f"{district}|{kind}|{attribute}"
        out[base + ":n"] = out.get(base + ":n", 0.0) + float(n)
        if s is not None:
            out[base + ":s"] = out.get(base + ":s", 0.0) + float(s)
        if x is not None:
            out[base + ":x"] = max(out.get(base + ":x", float(x)), float(x))
    return out


def alarm_at(data: dict, acknowledged_at_ms: int | None, acknowledged_by: str, t_ms: int) -> dict:
    """An alarm as the live store gives it (`ack`: `{"by", "role", "at_ms"}` or None) as of t:
    an acknowledgement after t is not shown."""
    alarm = {k: v for k, v in data.items() if k != "ack"}
    ack = None
    if acknowledged_at_ms is not None and acknowledged_at_ms <= t_ms:
        recorded = data.get("ack") if isinstance(data.get("ack"), dict) else {}
        ack = {"by": recorded.get("by") or acknowledged_by, "role": recorded.get("role", ""),
               "at_ms": int(recorded.get("at_ms") or acknowledged_at_ms)}
    alarm["ack"] = ack
    return alarm


def span_counts(span, t_ms: int) -> tuple[int, int, int]:
    """What one open case span `(district, from_ms, to_ms | None, deadline_ms, created_ms)` adds to
    (open, overdue, reported today) at `t_ms` — the same tests as `CaseAt.overdue` and the wall's
    `created_at >= midnight`."""
    _district, begins, ends, deadline, created = span
    if not (begins <= t_ms and (ends is None or t_ms < ends)):
        return 0, 0, 0
    return 1, int(bool(deadline) and t_ms > deadline), int(created >= local_midnight_ms(t_ms))


def tally_at(levels: dict[str, tuple[int, int, int]], spans, bucket_ms: int, t_ms: int) -> dict[str, tuple[int, int, int]]:
    """The case figures per district at `t_ms` from those at the tally's bucket start `bucket_ms`
    (same China day) and the open spans whose figures may differ between the two moments (begun or
    ended in (bucket, t], or passing their deadline in [bucket, t)), each once. Districts with no
    open case are left out."""
    out = {d: list(n) for d, n in levels.items()}
    for span in spans:
        now, then = span_counts(span, t_ms), span_counts(span, bucket_ms)
        if now != then:
            row = out.setdefault(span[0], [0, 0, 0])
            for i in range(3):
                row[i] += now[i] - then[i]
    return {d: (o, v, n) for d, (o, v, n) in out.items() if o}


class CaseAt:
    """An open case as a replayed moment holds it: the fields of `ioc.domain.cases.Case` the wall
    and the district pages read (district, stage, times, place), with its `is_open` and
    `overdue`. A moment holds up to a hundred thousand: a whole `Case` each (forty fields in a
    dict) would cost a frame's budget in memory and time."""

    __slots__ = ("id", "version", "stage", "district", "class_code", "lon", "lat", "urgent", "created_at", "stage_deadline")

    def __init__(self, case_id, version, stage, district, class_code, lon, lat, urgent, created_at, stage_deadline):
        self.id, self.version, self.stage, self.district, self.class_code = case_id, version, stage, district, class_code
        self.lon, self.lat, self.urgent = lon if lon is not None else 0.0, lat if lat is not None else 0.0, bool(urgent)
        self.created_at, self.stage_deadline = created_at, stage_deadline

    @property
    def is_open(self) -> bool:
        return self.stage not in ENDED

    def overdue(self, now_ms: int) -> bool:
        return self.is_open and bool(self.stage_deadline) and now_ms > self.stage_deadline

    def __repr__(self) -> str:
        return f"CaseAt({self.id!r}, v{self.version}, {self.stage})"



@dataclass
class DeviceHistory:
    """One device's registry history: its states and moves in time order."""

    row: DeviceRow  # as the registry holds it now
    first_seen: int
    states: list[int] = field(default_factory=list)  # ms of each online/offline change
    online: list[bool] = field(default_factory=list)
    moves: list[int] = field(default_factory=list)  # ms of each registration (birth, move) with a place
    places: list[DeviceRow] = field(default_factory=list)  # the row (place, name, district) from then on

    def at(self, t_ms: int) -> DeviceRow | None:
        if self.first_seen > t_ms:
            return None
        row = self.row
        if self.moves:
            i = bisect.bisect_right(self.moves, t_ms) - 1
            row = self.places[i] if i >= 0 else self.places[0]
        if self.states:
            i = bisect.bisect_right(self.states, t_ms) - 1
            # before its first recorded change a device was in the state that change left
            online = self.online[i] if i >= 0 else not self.online[0]
        else:
            online = row.online
        return row if row.online == online else DeviceRow(row.id, row.kind, row.name, row.lon, row.lat, row.district, online,
                                                           row.cell)


class DeviceTimeline:
    """The registry's history held in memory: `rows_at(t)` is the registry as of t. Devices that
    never changed are kept apart (one filter on their birth per frame)."""

    def __init__(self):
        self.histories: dict[str, DeviceHistory] = {}
        self.loaded_to: datetime | None = None
        self.static: list[tuple[int, DeviceRow]] = []  # (first_seen, row) of devices with no history
        self.dynamic: list[DeviceHistory] = []
        self.changes: list[int] = []  # ms of every change, sorted: what a frame's registry version is made of
        self._lock = threading.Lock()

    def load(self, conn) -> None:
        """Read the registry (first time) and the device events recorded since the last load."""
        with self._lock:
            if self.loaded_to is None:
                for (dev_id, kind, name, district, cell, lon, lat, online, first_seen) in conn.execute(
                        "SELECT id, kind, name, district, cell, lon, lat, online, first_seen FROM devices"):
                    if lon is None or lat is None:
                        continue
                    self.histories[dev_id] = DeviceHistory(
                        DeviceRow(dev_id, kind, name or dev_id, lon, lat, district, bool(online), cell or ""), ms_of(first_seen))
                since = datetime(1970, 1, 1, tzinfo=timezone.utc)
            else:
                since = self.loaded_to
            rows = conn.execute(
                "SELECT device_id, at, event, online, lon, lat, district, meta->>'name', meta->>'cell', meta->>'kind' FROM device_events"
                " WHERE at > %s ORDER BY at, device_id", (since,)).fetchall()
            if not rows and self.loaded_to is not None:
                return
            changed = False
            for dev_id, at, event, online, lon, lat, district, name, cell, kind in rows:
                history = self.histories.get(dev_id)
                at_ms = ms_of(at)
                if history is None:  # born since the registry was read
                    if event != "birth" or lon is None or lat is None:
                        continue
                    history = self.histories[dev_id] = DeviceHistory(
                        DeviceRow(dev_id, kind or "", name or dev_id, lon, lat, district or "", bool(online), cell or ""), at_ms)
                if online is not None:
                    history.states.append(at_ms)
                    history.online.append(bool(online))
                if lon is not None and lat is not None and event in ("birth", "moved"):
                    now = history.row
                    history.moves.append(at_ms)
                    history.places.append(DeviceRow(now.id, now.kind, name or now.name, lon, lat, district or now.district,
                                                    now.online, cell or now.cell))
                self.changes.append(at_ms)
                self.loaded_to = at if self.loaded_to is None or at > self.loaded_to else self.loaded_to
                changed = True
            if self.loaded_to is None:
                self.loaded_to = since
            if changed or not self.static and not self.dynamic:
                self.changes.sort()
                self.static = sorted(((h.first_seen, h.row) for h in self.histories.values() if not h.states and not h.moves),
                                     key=lambda p: p[1].id)
                self.dynamic = sorted((h for h in self.histories.values() if h.states or h.moves), key=lambda h: h.row.id)

    def rows_at(self, t_ms: int) -> list[DeviceRow]:
        rows = [row for born, row in self.static if born <= t_ms]
        for history in self.dynamic:
            row = history.at(t_ms)
            if row is not None:
                rows.append(row)
        rows.sort(key=lambda r: r.id)
        return rows

    def version_at(self, t_ms: int) -> str:
        """Moves with every registry change up to t (a frame's `registry_version`)."""
        return f"replay:{bisect.bisect_right(self.changes, t_ms)}"


# --- the reader ------------------------------------------------------------------------------------

class Rewind:
    """Reads the city as it was from the record at `url` (one per web process)."""

    BOUNDS_S = 10.0  # the retained range is read again this often
    DELTA_MS = 6 * 3_600_000  # open cases of a moment this near the last one read: only what changed in between
    DEVICES_S = 5.0  # the registry's new events are read at most this often

    def __init__(self, url: str, city=None, shards: int = 1):
        self.url = url
        self.city = city
        self.shards = shards
        self.devices = DeviceTimeline()
        self._devices_at = -1e9
        self._bounds: tuple[int, int] | None = None
        self._bounds_at = -1e9
        self._frames: OrderedDict[int, CitySnapshot] = OrderedDict()
        self._frames_lock = threading.Lock()
        self._making: set[int] = set()
        self._derived: OrderedDict = OrderedDict()
        self._recipes: dict = {}  # key -> (compute, last asked): what pages make of a frame
        self._fleets: OrderedDict[str, FleetIndex] = OrderedDict()
        self._cases: dict[tuple[str, int], CaseAt] = {}
        self._open_lock = threading.Lock()
        self._open_state: tuple[int, dict[str, CaseAt]] | None = None  # (moment, its open cases by id)
        self._hours: OrderedDict[int, dict[str, float]] = OrderedDict()  # settled epoch hour -> its rollup fields

    # ---- range --------------------------------------------------------------------------------
    def bounds(self) -> tuple[int, int]:
        """(first_ms, last_ms) of the retained history: from the oldest to the newest recorded minute,
        alarm event or registry event; (0, 0) while the record is empty."""
        if self._bounds is not None and time.monotonic() - self._bounds_at < self.BOUNDS_S:
            return self._bounds
        with db.connection(self.url) as conn:
            row = conn.execute(
                "SELECT least((SELECT min(minute) FROM rollup_minute), (SELECT min(at) FROM alarm_events),"
                "             (SELECT min(at) FROM device_events), (SELECT min(at) FROM case_versions)),"
                "       greatest((SELECT max(minute) + interval '59.999 seconds' FROM rollup_minute), (SELECT max(at) FROM alarm_events),"
                "                (SELECT max(at) FROM device_events), (SELECT max(at) FROM case_versions))").fetchone()
        self._bounds = (ms_of(row[0]), ms_of(row[1])) if row[0] is not None else (0, 0)
        self._bounds_at = time.monotonic()
        return self._bounds

    # ---- frames -------------------------------------------------------------------------------
    def snapshot_at(self, t_ms: int) -> CitySnapshot:
        """The city at `t_ms` (kept per second: playback and every viewer of a moment share it)."""
        key = int(t_ms) // 1000
        with self._frames_lock:
            frame = self._frames.get(key)
            if frame is not None:
                self._frames.move_to_end(key)
                return frame
        frame = self._read(key * 1000)
        with self._frames_lock:
            self._frames[key] = frame
            while len(self._frames) > FRAME_CACHE:
                self._frames.popitem(last=False)
        return frame

    def derived(self, snapshot: CitySnapshot, key, compute, asked: bool = True):
        """`compute(snapshot)` made once per replayed moment and key (what a page shows of it, in
        one language): every viewer of the moment, and every tick while paused, shares it (the
        same contract as `CityCache.derived`)."""
        memo_key = (snapshot.now_ms, key)
        if asked:  # a page asked: made ahead with the frames playback will ask for next
            self._recipes[key] = (compute, time.monotonic())
        with self._frames_lock:
            value = self._derived.get(memo_key)
            if value is not None:
                self._derived.move_to_end(memo_key)
                return value
        value = compute(snapshot)
        with self._frames_lock:
            self._derived[memo_key] = value
            while len(self._derived) > FRAME_CACHE:
                self._derived.popitem(last=False)
        return value

    def prefetch(self, moments) -> threading.Thread | None:
        """Make the frames of `moments` (epoch ms) in the background (playback's next seconds)."""
        keys = []
        with self._frames_lock:
            for t_ms in moments:
                key = int(t_ms) // 1000
                if key not in self._frames and key not in self._making:
                    self._making.add(key)
                    keys.append(key)
        if not keys:
            return None

        def make():
            for key in keys:
                try:
                    snapshot = self.snapshot_at(key * 1000)
                    now = time.monotonic()
                    for recipe, (compute, asked) in list(self._recipes.items()):
                        if now - asked < 60:  # what pages asked for in the last minute
                            self.derived(snapshot, recipe, compute, asked=False)
                except Exception as e:  # noqa: BLE001 - the viewer's own request reads it again and reports it
                    log.debug("prefetching a frame failed: %s", e)
                finally:
                    self._making.discard(key)

        thread = threading.Thread(target=make, name="ioc-rewind-prefetch", daemon=True)
        thread.start()
        return thread

    def fleet_at(self, t_ms: int) -> FleetIndex:
        """The registry as of `t_ms` (kept per registry version: cheap when nothing changed)."""
        return self._fleet(int(t_ms))

    # ---- hourly rollups (the wall's 24-hour trends) ---------------------------------------------
    def rollup_hours(self, start: int, end: int, until_ms: int | None = None) -> dict[int, dict[str, float]]:
        """Hourly buckets `start` <= hour < `end` (epoch hours) as `SnapshotStore.rollup_series("hour",
        start, end)` gives them: every hour a key, `{}` when nothing was recorded, the fields of its
        minutes merged (sums and counts added, maxima maxed). With `until_ms`, only the minutes up to
        that moment's minute count (the hour in progress at a replayed moment; later hours are
        empty). Summed by hour in SQL; a settled hour (wholly before `until_ms` and before what the
        record holds, less `SETTLED_MS`) is read once per process."""
        start, end = int(start), int(end)
        if end <= start:
            return {}
        limit = end * HOUR_MS if until_ms is None else min(end * HOUR_MS, (int(until_ms) // 60_000 + 1) * 60_000)
        settled_to = min(limit, self.bounds()[1] - SETTLED_MS) // HOUR_MS  # hours before this one are settled
        out: dict[int, dict[str, float]] = {}
        with self._frames_lock:
            for hour in range(start, min(end, settled_to)):
                fields = self._hours.get(hour)
                if fields is not None:
                    self._hours.move_to_end(hour)
                    out[hour] = fields
        first = next((h for h in range(start, end) if h not in out), None)
        if first is not None and first * HOUR_MS < limit:
            read: dict[int, list] = defaultdict(list)
            with db.connection(self.url) as conn:
                for hour, *row in conn.execute(
                        "SELECT (extract(epoch FROM date_trunc('hour', minute AT TIME ZONE 'UTC')) / 3600)::bigint AS hour,"
                        " district, kind, attribute, sum(s), sum(n), max(x) FROM rollup_minute WHERE minute >= %s AND minute < %s"
                        " GROUP BY 1, 2, 3, 4", (ts(first * HOUR_MS), ts(limit))).fetchall():
                    read[hour].append(row)
            with self._frames_lock:
                for hour in range(first, end):
                    if hour in out:
                        continue
                    out[hour] = fields = rollup_fields(read.get(hour, ()))
                    if hour < settled_to:
                        self._hours[hour] = fields
                while len(self._hours) > HOURS_KEPT:
                    self._hours.popitem(last=False)
        return {hour: out.get(hour, {}) for hour in range(start, end)}

    def _fleet(self, t_ms: int) -> FleetIndex:
        if time.monotonic() - self._devices_at >= self.DEVICES_S:
            with db.connection(self.url) as conn:
                self.devices.load(conn)
            self._devices_at = time.monotonic()
        version = self.devices.version_at(t_ms)
        fleet = self._fleets.get(version)
        if fleet is None:
            fleet = FleetIndex(self.devices.rows_at(t_ms))
            fleet.version = fleet.places_version = version
            self._fleets[version] = fleet
            while len(self._fleets) > 16:
                self._fleets.popitem(last=False)
        return fleet

    def _read(self, t_ms: int) -> CitySnapshot:
        fleet = self._fleet(t_ms)
        at = ts(t_ms)
        minute = t_ms // 60_000
        with db.connection(self.url) as conn:
            alarms = self._alarms(conn, at, t_ms)
            recent, current = self._rollups(conn, minute)
            counts = self._case_counts(conn, t_ms)
            water = self._water_levels(conn, at)
            events = self.alarm_events(conn, at)
        return CitySnapshot(
            now_ms=t_ms, devices=fleet.devices, alarms=alarms, counters={}, recent=recent, current=current, cases=[], case_counts=counts,
            fleet_index=fleet, registry_version=fleet.version, water_levels=water, alarm_events=events,
        )

    @staticmethod
    def _alarms(conn, at: datetime, t_ms: int) -> list[dict]:
        rows = conn.execute(
            "SELECT data, (extract(epoch FROM acknowledged_at) * 1000)::bigint, acknowledged_by FROM alarms"
            " WHERE tstzrange(raised_at, cleared_at) @> %s::timestamptz", (at,)).fetchall()
        out = [alarm_at(data, acked, by, t_ms) for data, acked, by in rows]
        out.sort(key=lambda a: (-int(a.get("raised_at", 0)), a.get("id", "")))
        return out

    @staticmethod
    def _rollups(conn, minute: int) -> tuple[dict, dict]:
        rows = conn.execute(
            "SELECT (extract(epoch FROM minute) / 60)::bigint, district, kind, attribute, s, n, x FROM rollup_minute"
            " WHERE minute >= %s AND minute <= %s", (ts((minute - 1) * 60_000), ts(minute * 60_000))).fetchall()
        by_minute = defaultdict(list)
        for m, *rest in rows:
            by_minute[m].append(rest)
        return rollup_fields(by_minute.get(minute - 1, ())), rollup_fields(by_minute.get(minute, ()))

    def _case_counts(self, conn, t_ms: int) -> dict[str, tuple[int, int, int]]:
        """The case figures per district at t (open, overdue, reported today) from the tally
        (migration 0004): the sums up to t's 10-minute bucket plus the few spans that change within
        it — no open case row is read."""
        bucket = t_ms - t_ms % TALLY_MS
        levels = {d: (int(o), int(v), int(n)) for d, o, v, n in conn.execute(
            "SELECT district, sum(open), sum(overdue), sum(today) FROM case_tally WHERE bucket <= %s GROUP BY district",
            (ts(bucket),)).fetchall()}
        if t_ms == bucket:
            return {d: n for d, n in levels.items() if n[0]}
        spans = conn.execute(
            "SELECT case_id, version, district, (extract(epoch FROM valid_from) * 1000)::bigint,"
            " CASE WHEN valid_to = 'infinity' THEN NULL ELSE (extract(epoch FROM valid_to) * 1000)::bigint END,"
            " coalesce((extract(epoch FROM stage_deadline) * 1000)::bigint, 0), coalesce((extract(epoch FROM created_at) * 1000)::bigint, 0)"
            " FROM case_spans WHERE open AND valid_from > %(b)s AND valid_from <= %(t)s"
            " UNION SELECT case_id, version, district, (extract(epoch FROM valid_from) * 1000)::bigint, (extract(epoch FROM valid_to) * 1000)::bigint,"
            " coalesce((extract(epoch FROM stage_deadline) * 1000)::bigint, 0), coalesce((extract(epoch FROM created_at) * 1000)::bigint, 0)"
            " FROM case_spans WHERE open AND valid_to > %(b)s AND valid_to <= %(t)s AND valid_to <> 'infinity'"
            " UNION SELECT case_id, version, district, (extract(epoch FROM valid_from) * 1000)::bigint,"
            " CASE WHEN valid_to = 'infinity' THEN NULL ELSE (extract(epoch FROM valid_to) * 1000)::bigint END,"
            " (extract(epoch FROM stage_deadline) * 1000)::bigint, coalesce((extract(epoch FROM created_at) * 1000)::bigint, 0)"
            " FROM case_spans WHERE open AND stage_deadline IS NOT NULL AND stage_deadline >= %(b)s AND stage_deadline < %(t)s",
            {"b": ts(bucket), "t": ts(t_ms)}).fetchall()
        return tally_at(levels, [row[2:] for row in spans], bucket, t_ms)

    def open_cases_at(self, t_ms: int) -> list[CaseAt]:
        """Every case open at `t_ms` as it was then (the full reconstruction; a frame needs only
        the tally's figures, `CitySnapshot.case_counts`)."""
        with db.connection(self.url) as conn:
            return self._open_cases(conn, ts(int(t_ms)))

    def _open_cases(self, conn, at: datetime) -> list[CaseAt]:
        """The open cases at `at`: from the last moment read when it is near (`DELTA_MS`: only the
        spans that began or ended in between are read — playback, a slider dragged), else all of
        them (the spans' SP-GiST index)."""
        t_ms = int(at.timestamp() * 1000)
        with self._open_lock:
            last = self._open_state
            if last is not None and abs(t_ms - last[0]) <= self.DELTA_MS:
                lo, hi = sorted((last[0], t_ms))
                rows = conn.execute(
                    f"SELECT {CASE_COLUMNS}, (extract(epoch FROM valid_from) * 1000)::bigint,"
                    " CASE WHEN valid_to = 'infinity' THEN NULL ELSE (extract(epoch FROM valid_to) * 1000)::bigint END, open"
                    " FROM case_spans WHERE (valid_from > %s AND valid_from <= %s) OR (valid_to > %s AND valid_to <= %s)",
                    (ts(lo), ts(hi), ts(lo), ts(hi))).fetchall()
                cases = dict(last[1])
                for row in rows:
                    cases.pop(row[0], None)
                for row in rows:
                    begins, ends, is_open = row[10], row[11], row[12]
                    if is_open and begins <= t_ms and (ends is None or t_ms < ends):
                        cases[row[0]] = self._case(row[:10])
            else:
                rows = conn.execute(f"SELECT {CASE_COLUMNS} FROM case_spans WHERE open AND tstzrange(valid_from, valid_to) @> %s::timestamptz",
                                    (at,)).fetchall()
                cases = {row[0]: self._case(row) for row in rows}
            self._open_state = (t_ms, cases)
        return list(cases.values())

    def _case(self, row) -> CaseAt:
        made = self._cases
        key = (row[0], row[1])
        case = made.get(key)
        if case is None:
            if len(made) > 300_000:  # the versions of recent frames are what playback reuses
                made.clear()
            case = made[key] = CaseAt(*row)
        return case

    def _water_levels(self, conn, at: datetime) -> dict[str, float]:
        rows = conn.execute(
            "SELECT DISTINCT ON (device_id) device_id, last FROM device_hourly_all"
            " WHERE attribute = %s AND hour > %s AND hour <= %s AND last_at <= %s AND last IS NOT NULL"
            " ORDER BY device_id, hour DESC", (WATER_LEVEL, ts(int(at.timestamp() * 1000) - 3 * 3_600_000), at, at)).fetchall()
        return {device_id: float(last) for device_id, last in rows}

    @staticmethod
    def alarm_events(conn, at: datetime, count: int = TICKER_EVENTS) -> list[dict]:
        """The newest `count` alarm transitions (raised, acknowledged, cleared) up to `at`, as the
        live ticker reads them from the stream."""
        rows = conn.execute(
            "SELECT stream_id, event, data FROM alarm_events WHERE event <> 'notified' AND at <= %s"
            " ORDER BY at DESC LIMIT %s", (at, count)).fetchall()
        return [{"id": stream_id, "event": event, **data} for stream_id, event, data in rows]

    # ---- linked events, one device, one case ----------------------------------------------------
    def events_at(self, t_ms: int) -> list[dict]:
        """The linked events active at t (not closed or cancelled), each as it was then."""
        with db.connection(self.url) as conn:
            rows = conn.execute("SELECT data FROM event_spans WHERE tstzrange(valid_from, valid_to) @> %s::timestamptz"
                                " AND status <> ALL(%s) ORDER BY valid_from", (ts(t_ms), list(EVENT_ENDED))).fetchall()
        return [data for (data,) in rows]

    def device_series(self, device_id: str, from_ms: int, to_ms: int) -> dict:
        """A device's readings in [from, to]: the raw readings where the record keeps them
        (`{"resolution": "raw", "points": [{"at_ms", "values"}]}`), else its hourly aggregates
        (`"hour"`, points `{"at_ms", "attribute", "n", "mean", "min", "max", "last", "last_text"}`)."""
        with db.connection(self.url) as conn:
            raw = conn.execute("SELECT (extract(epoch FROM at) * 1000)::bigint, values FROM readings"
                               " WHERE device_id = %s AND at >= %s AND at <= %s ORDER BY at, stream_id, idx",
                               (device_id, ts(from_ms), ts(to_ms))).fetchall()
            if raw:
                return {"resolution": "raw", "points": [{"at_ms": at, "values": values} for at, values in raw]}
            rows = conn.execute("SELECT (extract(epoch FROM hour) * 1000)::bigint, attribute, n, sum, min, max, last, last_text"
                                " FROM device_hourly_all WHERE device_id = %s AND hour >= %s AND hour <= %s ORDER BY hour, attribute",
                                (device_id, ts(from_ms - from_ms % 3_600_000), ts(to_ms))).fetchall()
        return {"resolution": "hour", "points": [
            {"at_ms": at, "attribute": attribute, "n": n, "mean": (total / n) if n and total is not None else None,
             "min": low, "max": high, "last": last, "last_text": text}
            for at, attribute, n, total, low, high, last, text in rows]}

    def device(self, device_id: str) -> dict | None:
        """One device's row as the record last holds it (`devices`): `{"id", "kind", "name",
        "district", "lon", "lat", "online", "first_seen_ms", "updated_ms"}`; None for a device the
        record never saw."""
        with db.connection(self.url) as conn:
            row = conn.execute("SELECT id, kind, name, district, lon, lat, online, (extract(epoch FROM first_seen) * 1000)::bigint,"
                               " (extract(epoch FROM updated_at) * 1000)::bigint FROM devices WHERE id = %s", (device_id,)).fetchone()
        if row is None:
            return None
        dev_id, kind, name, district, lon, lat, online, first_seen, updated = row
        return {"id": dev_id, "kind": kind, "name": name or dev_id, "district": district, "lon": lon, "lat": lat,
                "online": bool(online), "first_seen_ms": first_seen, "updated_ms": updated}

    def device_alarms(self, device_id: str, limit: int = 20, offset: int = 0, from_ms: int | None = None,
                      to_ms: int | None = None) -> list[dict]:
        """A device's alarms from the record (`alarms`), newest raised first, at most `limit` after
        skipping the `offset` newest (the page list's pages); with `from_ms` / `to_ms`, only those
        active at some moment of that window. Each `{"alarm_id", "rule", "severity", "raised_ms",
        "acknowledged_ms", "acknowledged_by", "cleared_ms", "data"}` (a time not reached yet is
        None; `data` is the alarm JSON as raised)."""
        where, params = "device_id = %s", [device_id]
        if to_ms is not None:
            where += " AND raised_at <= %s"
            params.append(ts(int(to_ms)))
        if from_ms is not None:
            where += " AND (cleared_at IS NULL OR cleared_at >= %s)"
            params.append(ts(int(from_ms)))
        with db.connection(self.url) as conn:
            rows = conn.execute(
                "SELECT alarm_id, rule, severity, (extract(epoch FROM raised_at) * 1000)::bigint,"
                " (extract(epoch FROM acknowledged_at) * 1000)::bigint, acknowledged_by, (extract(epoch FROM cleared_at) * 1000)::bigint, data"
                f" FROM alarms WHERE {where} ORDER BY raised_at DESC, alarm_id LIMIT %s OFFSET %s",
                (*params, int(limit), max(int(offset), 0))).fetchall()
        return [{"alarm_id": alarm_id, "rule": rule, "severity": severity, "raised_ms": raised, "acknowledged_ms": acked,
                 "acknowledged_by": by or "", "cleared_ms": cleared, "data": data or {}}
                for alarm_id, rule, severity, raised, acked, by, cleared, data in rows]

    def device_alarm_count(self, device_id: str) -> int:
        """How many alarms of the device the record holds."""
        with db.connection(self.url) as conn:
            return int(conn.execute("SELECT count(*) FROM alarms WHERE device_id = %s", (device_id,)).fetchone()[0])

    def case_steps(self, case_id: str) -> list[dict]:
        """Each step of a case's timeline (oldest first) with the case as it was just after it:
        `{"at_ms", "action", "actor", "role", "from", "to", "note", "case": Case | None}`."""
        with db.connection(self.url) as conn:
            steps = conn.execute("SELECT (extract(epoch FROM at) * 1000)::bigint, action, actor, role, from_stage, to_stage, note"
                                 " FROM case_timeline WHERE case_id = %s ORDER BY at, entry_id", (case_id,)).fetchall()
            versions = conn.execute("SELECT (extract(epoch FROM at) * 1000)::bigint, version, data FROM case_versions"
                                    " WHERE case_id = %s ORDER BY at, version", (case_id,)).fetchall()
        times = [at for at, _, _ in versions]
        out = []
        for at, action, actor, role, from_stage, to_stage, note in steps:
            i = bisect.bisect_right(times, at) - 1
            case = Case.from_dict(versions[i][2]) if i >= 0 else None
            out.append({"at_ms": at, "action": action, "actor": actor, "role": role, "from": from_stage, "to": to_stage,
                        "note": note, "case": case})
        return out


__all__ = ["Rewind", "CaseAt", "span_counts", "tally_at", "TALLY_MS", "DeviceTimeline", "DeviceHistory", "rollup_fields", "alarm_at", "ts", "ms_of"]
