"""Writing one batch (`ioc.record.writers.Batch`) into the record, inside the caller's transaction.

History rows go by COPY into a TEMP staging table (dropped rows at commit), then
`INSERT … SELECT … ON CONFLICT DO NOTHING` into the partitioned table: a row already there (a
replayed entry: its stream id is part of the key) is not written again. Latest-state rows are
upserted: a case or an event only by a higher version; users and tokens by a later change (a
deleted user or token leaves the record); devices keep their first sighting and their last
known online state; an alarm activation (one row per alarm id and raise time) gains its
acknowledgement and its clear once, the first. Telemetry sums merge additively (`n`, `s`, `sum`
added, `x`, `max` the greater, `min` the smaller, `last` the one with the later `last_at`): the
minute rollups at once, the per-device hourly aggregates by way of `device_hourly_parts`, which
`fold_hourly` merges into `device_hourly` now and then (one upsert per device and hour instead
of one per batch). A reading kept raw has no part in its batch: its hourly cell waits in the
recorder's memory (`ioc.record.hourly_memory`) and `fold_hourly` writes the cells, summing from
the raw rows only what the memory does not hold (migrations 0009, 0010).

Exactly once: the caller writes the stream's offset (`recorder_offsets`) in the same transaction
and skips entries at or before it, so additive merges never count an entry twice.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from psycopg import sql
from psycopg.types.json import Jsonb

from ioc.domain.rollup_fields import NUMERIC

from .hourly_memory import HourlyMemory
from .writers import (ALARM_COLUMNS, CASE_COLUMNS, DEVICE_COLUMNS, EVENT_COLUMNS, HISTORY, HOURLY_COLUMNS, ROLLUP_COLUMNS,
                      Batch, alarm_row, device_row, utc)


def ensure_partitions(conn, batch: Batch, made: set) -> set:
    """Make the partitions the batch writes into that `made` (those known to exist) lacks;
    returns the ones it asked for (add them to `made` only once the transaction committed)."""
    new = set()
    for table, at, period in sorted(batch.partitions()):
        key = (table, at, period)
        if key not in made:
            conn.execute("SELECT ioc_ensure_partition(%s, %s, %s)", (table, at, period))
            new.add(key)
    return new


def _stage(conn, table: str, like: str | None = None, columns: str | None = None) -> str:
    name = f"_stage_{table}"
    body = f"(LIKE {like or table} INCLUDING DEFAULTS)" if columns is None else f"({columns})"
    conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} {body} ON COMMIT DELETE ROWS")
    return name


def _copy(conn, stage: str, columns: tuple[str, ...], rows) -> None:
    with conn.cursor() as cur:
        with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(stage), sql.SQL(", ").join(map(sql.Identifier, columns)))) as copy:
            for row in rows:
                copy.write_row(row)


def _cols(columns: tuple[str, ...]) -> str:
    return ", ".join(f'"{c}"' for c in columns)


def _exec(conn, query: str, params=None) -> int:
    with conn.cursor() as cur:
        cur.execute(query, params)
        return max(cur.rowcount, 0)


_MS = "timestamptz 'epoch' + {} * interval '1 millisecond'"  # epoch ms -> timestamptz, exact

_READINGS_STAGE = "at bigint, device_id text, kind text, stream_id text, idx integer, values jsonb"


def write_history(conn, table: str, rows: list[tuple]) -> int:
    columns = HISTORY[table]
    if table == "readings":  # raw readings: their time comes as epoch ms
        stage = _stage(conn, "readings", columns=_READINGS_STAGE)
        _copy(conn, stage, columns, rows)
        return _exec(conn, f"""INSERT INTO readings (at, device_id, kind, stream_id, idx, values)
                               SELECT {_MS.format('at')}, device_id, kind, stream_id, idx, values FROM {stage}
                               ON CONFLICT DO NOTHING""")
    stage = _stage(conn, table)
    _copy(conn, stage, columns, rows)
    cols = _cols(columns)
    return _exec(conn, f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {stage} ON CONFLICT DO NOTHING")


def _upsert_versioned(conn, table: str, columns: tuple[str, ...], rows) -> int:
    stage = _stage(conn, table)
    _copy(conn, stage, columns, rows)
    cols = _cols(columns)
    update = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in columns if c != "id")
    return _exec(conn, f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {stage} ON CONFLICT (id) DO UPDATE SET {update} "
                       f"WHERE {table}.version < EXCLUDED.version")


def _people(conn, table: str, key: str, changes: dict[str, tuple[datetime, str | None]]) -> int:
    """users / tokens: the batch's last change of each (a deletion removes the row)."""
    n = 0
    for ident, (at, data) in changes.items():
        if data is None:
            n += _exec(conn, f"DELETE FROM {table} WHERE {key} = %s AND updated_at <= %s", (ident, at))
        else:
            n += _exec(conn, f"INSERT INTO {table} ({key}, updated_at, data) VALUES (%s, %s, %s) ON CONFLICT ({key}) DO "
                             f"UPDATE SET updated_at = EXCLUDED.updated_at, data = EXCLUDED.data "
                             f"WHERE {table}.updated_at <= EXCLUDED.updated_at", (ident, at, data))
    return n


def _alarms(conn, alarms: dict) -> int:
    rows = [alarm_row(alarm_id, raised, row) for (alarm_id, raised), row in alarms.items()]
    stage = _stage(conn, "alarms")
    _copy(conn, stage, ALARM_COLUMNS, rows)
    cols = _cols(ALARM_COLUMNS)
    return _exec(conn, f"""
        INSERT INTO alarms ({cols}) SELECT {cols} FROM {stage}
        ON CONFLICT (alarm_id, raised_at) DO UPDATE SET
          cleared_at = COALESCE(alarms.cleared_at, EXCLUDED.cleared_at),
          acknowledged_at = COALESCE(alarms.acknowledged_at, EXCLUDED.acknowledged_at),
          acknowledged_by = CASE WHEN alarms.acknowledged_at IS NULL THEN EXCLUDED.acknowledged_by
                                 ELSE alarms.acknowledged_by END,
          data = CASE WHEN alarms.acknowledged_at IS NULL AND EXCLUDED.acknowledged_at IS NOT NULL
                      THEN alarms.data || jsonb_build_object('ack', EXCLUDED.data -> 'ack') ELSE alarms.data END
        WHERE (alarms.cleared_at IS NULL AND EXCLUDED.cleared_at IS NOT NULL)
           OR (alarms.acknowledged_at IS NULL AND EXCLUDED.acknowledged_at IS NOT NULL)""")


_DEVICE_STAGE = ("id text, kind text, name text, district text, cell text, lon double precision, lat double precision, "
                 "online boolean, first_seen timestamptz, updated_at timestamptz, meta jsonb")


def _devices(conn, devices: dict) -> int:
    stage = _stage(conn, "devices", columns=_DEVICE_STAGE)
    _copy(conn, stage, DEVICE_COLUMNS, (device_row(d, state) for d, state in devices.items()))
    updated = _exec(conn, f"""
        UPDATE devices d SET kind = s.kind, name = s.name, district = s.district, cell = s.cell, lon = s.lon, lat = s.lat,
          online = COALESCE(s.online, d.online), first_seen = LEAST(d.first_seen, s.first_seen),
          updated_at = s.updated_at, meta = s.meta
        FROM {stage} s WHERE d.id = s.id AND d.updated_at <= s.updated_at""")
    inserted = _exec(conn, f"""
        INSERT INTO devices ({_cols(DEVICE_COLUMNS)})
        SELECT id, kind, name, district, cell, lon, lat, COALESCE(online, false), first_seen, updated_at, meta FROM {stage}
        ON CONFLICT (id) DO NOTHING""")
    return updated + inserted


_ROLLUP_STAGE = "minute bigint, district text, kind text, attribute text, s double precision, n bigint, x double precision"
_HOURLY_STAGE = ("hour bigint, device_id text, attribute text, n bigint, sum double precision, min double precision, "
                 "max double precision, last double precision, last_text text, last_at bigint")


def _rollup(conn, rows: list[tuple]) -> int:
    stage = _stage(conn, "rollup_minute", columns=_ROLLUP_STAGE)
    _copy(conn, stage, ROLLUP_COLUMNS, rows)
    cols = _cols(ROLLUP_COLUMNS)
    return _exec(conn, f"""
        INSERT INTO rollup_minute ({cols}) SELECT {_MS.format('minute')}, district, kind, attribute, s, n, x FROM {stage}
        ON CONFLICT (minute, district, kind, attribute) DO UPDATE SET
          n = rollup_minute.n + EXCLUDED.n, s = rollup_minute.s + EXCLUDED.s, x = GREATEST(rollup_minute.x, EXCLUDED.x)""")


def _hourly(conn, rows: list[tuple]) -> int:
    """The batch's per-device hourly contributions, appended to `device_hourly_parts` (folded into
    `device_hourly` later by `fold_hourly`: migration 0008)."""
    stage = _stage(conn, "device_hourly", columns=_HOURLY_STAGE)
    _copy(conn, stage, HOURLY_COLUMNS, rows)
    cols = _cols(HOURLY_COLUMNS)
    return _exec(conn, f"""
        INSERT INTO device_hourly_parts ({cols})
        SELECT {_MS.format('hour')}, device_id, attribute, n, sum, min, max, last, last_text, {_MS.format('last_at')}
        FROM {stage}""")


FOLD_WORK_MEM = "256MB"  # a minute at 20,000 msg/s is ~3.6 M values to sort by device and time: in memory, not on disk


def readings_seq(conn) -> int:
    """The highest `seq` any raw reading has taken (0: none yet). Sequences are not transactional:
    this counts the readings of transactions in flight and rolled back too."""
    last, called = conn.execute("SELECT last_value, is_called FROM readings_seq").fetchone()
    return int(last) if called else 0


FOLD_CHUNK = 20_000  # the memory's cells are merged into `device_hourly` this many at a time


def _merge_cells(conn, rows: list[tuple], rest: float) -> int:
    """Upsert the memory's cells (HOURLY_COLUMNS rows, one per hour, device and attribute) into
    `device_hourly`, merged as `ioc_fold_hourly_parts` merges parts; FOLD_CHUNK rows at a time,
    resting `rest` times each chunk's duration after it (a fold is background work: spread over a
    few seconds, it leaves the cores to the batches recorded meanwhile). Returns rows written."""
    for month in sorted({utc(hour).replace(day=1, hour=0) for hour in {row[0] for row in rows}}):
        conn.execute("SELECT ioc_ensure_partition('device_hourly', %s, 'month')", (month,))
    stage = _stage(conn, "device_hourly", columns=_HOURLY_STAGE)
    cols = _cols(HOURLY_COLUMNS)
    written = 0
    for i in range(0, len(rows), FOLD_CHUNK):
        t0 = time.monotonic()
        _copy(conn, stage, HOURLY_COLUMNS, rows[i:i + FOLD_CHUNK])
        written += _exec(conn, f"""
            INSERT INTO device_hourly ({cols})
            SELECT {_MS.format('hour')}, device_id, attribute, n, sum, min, max, last, last_text, {_MS.format('last_at')}
            FROM {stage}
            ON CONFLICT (hour, device_id, attribute) DO UPDATE SET
              n = device_hourly.n + EXCLUDED.n, sum = device_hourly.sum + EXCLUDED.sum,
              min = LEAST(device_hourly.min, EXCLUDED.min), max = GREATEST(device_hourly.max, EXCLUDED.max),
              last = CASE WHEN EXCLUDED.last_at >= device_hourly.last_at THEN EXCLUDED.last ELSE device_hourly.last END,
              last_text = CASE WHEN EXCLUDED.last_at >= device_hourly.last_at THEN EXCLUDED.last_text
                               ELSE device_hourly.last_text END,
              last_at = GREATEST(device_hourly.last_at, EXCLUDED.last_at)""")
        conn.execute(f"TRUNCATE {stage}")
        if rest and i + FOLD_CHUNK < len(rows):
            time.sleep((time.monotonic() - t0) * rest)
    return written


def fold_hourly(conn, memory: HourlyMemory | None = None, rest: float = 0.0) -> tuple[int, int]:
    """Fold into `device_hourly` (in the caller's transaction): the recorder's memory's cells
    (merged directly, `_merge_cells`), the raw readings recorded since the last fold that the
    memory does not hold (summed into hourly parts in SQL, migrations 0009 and 0010: up to
    `memory.base`), and every part. Returns (hourly sums of raw readings: from SQL and from
    memory, hourly rows written).

    A mark already past `memory.base` (a fold the memory did not know of) would count the cells'
    first readings twice: the cells are left and the SQL sums the readings up to `memory.upto`."""
    conn.execute(f"SET LOCAL work_mem = '{FOLD_WORK_MEM}'")
    # one core: a fold is background work; PostgreSQL's parallel workers would take every core for
    # its seconds and hold up the batches recorded meanwhile (the recorder's lag)
    conn.execute("SET LOCAL max_parallel_workers_per_gather = 0")
    upto = memory.upto if memory is not None else None  # None: no memory, the SQL sums every raw reading
    bound, cells = None, []
    if upto is not None:
        mark = int(conn.execute("SELECT raw_seq FROM recorder_fold FOR UPDATE").fetchone()[0])
        if mark <= memory.base:
            bound, cells = memory.base, memory.rows()
        else:
            bound = upto
    summed = int(conn.execute("SELECT ioc_fold_hourly_raw(%s, %s)", (Jsonb(NUMERIC), bound)).fetchone()[0])
    written = _merge_cells(conn, cells, rest) if cells else 0
    if upto is not None:
        conn.execute("UPDATE recorder_fold SET raw_seq = greatest(raw_seq, %s)", (upto,))
    return summed + len(cells), written + int(conn.execute("SELECT ioc_fold_hourly_parts()").fetchone()[0])


def write_batch(conn, batch: Batch) -> dict[str, int]:
    """Every row of `batch` (the caller has made its partitions); returns rows written per table."""
    written: dict[str, int] = {}
    for table, rows in batch.history.items():
        if rows:
            written[table] = write_history(conn, table, rows)
    if batch.cases:
        written["cases"] = _upsert_versioned(conn, "cases", CASE_COLUMNS, batch.cases.values())
    if batch.events:
        written["events"] = _upsert_versioned(conn, "events", EVENT_COLUMNS, batch.events.values())
    if batch.users:
        written["users"] = _people(conn, "users", "name", batch.users)
    if batch.tokens:
        written["tokens"] = _people(conn, "tokens", "id", batch.tokens)
    if batch.alarms:
        written["alarms"] = _alarms(conn, batch.alarms)
    if batch.devices:
        written["devices"] = _devices(conn, batch.devices)
    if batch.rollup:
        written["rollup_minute"] = _rollup(conn, batch.rollup_rows())
    if batch.hourly:
        written["device_hourly"] = _hourly(conn, batch.hourly_rows())
    return {t: n for t, n in written.items() if n}


def committed_offset(conn, stream: str) -> str:
    """The stream's last recorded id, the row locked until the transaction ends ("0-0": none)."""
    row = conn.execute("SELECT last_id FROM recorder_offsets WHERE stream = %s FOR UPDATE", (stream,)).fetchone()
    return row[0] if row else "0-0"


def save_offset(conn, stream: str, last_id: str, rows: int) -> None:
    conn.execute("""INSERT INTO recorder_offsets (stream, last_id, rows, updated_at) VALUES (%s, %s, %s, now())
                    ON CONFLICT (stream) DO UPDATE SET last_id = EXCLUDED.last_id,
                      rows = recorder_offsets.rows + EXCLUDED.rows, updated_at = now()""", (stream, last_id, rows))


def offsets(conn) -> dict[str, str]:
    return dict(conn.execute("SELECT stream, last_id FROM recorder_offsets").fetchall())


# --- retention ------------------------------------------------------------------------------------

def partitions(conn, table: str) -> list[tuple[str, datetime, datetime]]:
    """(name, start, end) of every partition of `table` named by `ioc_ensure_partition`, oldest first."""
    rows = conn.execute("""SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                           WHERE i.inhparent = %s::regclass""", (table,)).fetchall()
    out = []
    for (name,) in rows:
        suffix = name.rsplit("_p", 1)[-1]
        if not suffix.isdigit() or len(suffix) not in (6, 8):
            continue
        if len(suffix) == 8:
            start = datetime.strptime(suffix, "%Y%m%d").replace(tzinfo=UTC)
            end = start + timedelta(days=1)
        else:
            start = datetime.strptime(suffix, "%Y%m").replace(tzinfo=UTC)
            end = (start + timedelta(days=32)).replace(day=1)
        out.append((name, start, end))
    return sorted(out, key=lambda x: x[1])


def drop_older(conn, table: str, cutoff: datetime) -> list[str]:
    """Drop the partitions of `table` whose whole period ends at or before `cutoff`; their names."""
    dropped = []
    for name, _start, end in partitions(conn, table):
        if end <= cutoff:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))
            dropped.append(name)
    return dropped
