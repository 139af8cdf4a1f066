"""Cases read from the record (PostgreSQL): the archive behind Redis's hot cases.

A case closed more than IOC_CASE_HOT_DAYS ago leaves Redis (`ioc.casework.worker` evicts it once
the record holds its latest version and its last timeline entry); from then on the API, Open311,
the media listing and the case page read it here, read-only. `python -m ioc restore` reads the
same tables to rebuild Redis after it was lost.

`CaseArchive(url)` uses the process's pool (`ioc.record.db.pool`): one per URL per process.
Every read is one short query; times cross the edge as epoch milliseconds (the record keeps
timestamptz, UTC).
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson
import psycopg
import redis
from psycopg_pool import PoolTimeout

from ioc.domain.cases import ENDED, Case, CaseEvent
from ioc.record import db

# the order of a timeline entry's fields as the case store writes them (`case_store.event_fields`)
TIMELINE_FIELDS = ("action", "actor", "role", "from", "to", "at", "note", "detail")
# an ended case's end: `closed_at` as the recorder keeps it, else (rejected, voided, merged) its last change
ENDED_AT = "coalesce(closed_at, updated_at)"
# the numeric order of Redis stream ids "ms-seq" kept as text
ENTRY_ORDER = "split_part(entry_id, '-', 1)::bigint, split_part(entry_id, '-', 2)::bigint"


def entry_key(entry_id: str) -> tuple[int, int]:
    """A stream id "ms-seq" as numbers, for sorting (text order puts 10-0 before 9-0)."""
    ms, _, seq = str(entry_id).partition("-")
    return int(ms), int(seq or 0)


def stream_fields(fields: dict, order: Iterable[str] = TIMELINE_FIELDS) -> dict[str, str]:
    """A stream entry's fields as recorded (jsonb: its own key order, values maybe typed) as Redis
    holds them: text values, the known fields first in their written order."""
    def text(value) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
            return orjson.dumps(value).decode()
        return str(value)

    known = [k for k in order if k in fields]
    return {k: text(fields[k]) for k in (*known, *(k for k in fields if k not in known))}


def event_of(case_id: str, fields: dict) -> CaseEvent:
    """A timeline entry's recorded fields as the case store reads them back."""
    f = stream_fields(fields)
    detail = f.get("detail") or "{}"
    try:
        detail = orjson.loads(detail)
    except orjson.JSONDecodeError:
        detail = {"raw": detail}
    return CaseEvent(case_id, f.get("action", ""), f.get("actor", ""), f.get("role", ""), f.get("from", ""), f.get("to", ""),
                     int(float(f.get("at") or 0)), f.get("note", ""), detail if isinstance(detail, dict) else {})


class ArchiveUnavailable(redis.ConnectionError):
    """The record cannot be reached. A subclass of Redis's connection error on purpose: every
    entry already answers that as an outage (503 with Retry-After, the page's outage notice),
    which is what a case that only the record holds is while PostgreSQL is down."""


def _ts(ms: int) -> float:
    return int(ms) / 1000.0


class CaseArchive:
    """Read-only access to the cases in the record."""

    def __init__(self, url: str, pool_size: int = 4):
        self.url = url
        self.pool_size = pool_size

    def _rows(self, sql: str, params=()) -> list[tuple]:
        try:
            with db.pool(self.url, self.pool_size).connection() as conn:
                return conn.execute(sql, params).fetchall()
        except (psycopg.OperationalError, PoolTimeout) as e:
            raise ArchiveUnavailable(f"the record (PostgreSQL) is unreachable: {str(e).strip()}") from e

    def get(self, case_id: str) -> Case | None:
        """The case's latest recorded version, or None when the record has no such case."""
        if not isinstance(case_id, str) or not case_id:
            return None
        rows = self._rows("SELECT data FROM cases WHERE id = %s", (case_id,))
        return Case.from_dict(rows[0][0]) if rows else None

    def version(self, case_id: str) -> int | None:
        rows = self._rows("SELECT version FROM cases WHERE id = %s", (case_id,))
        return int(rows[0][0]) if rows else None

    def timeline(self, case_id: str) -> list[CaseEvent]:
        """The case's timeline as recorded (entry ids of Redis kept), oldest first."""
        rows = self._rows(f"SELECT fields FROM case_timeline WHERE case_id = %s ORDER BY {ENTRY_ORDER}", (case_id,))
        return [event_of(case_id, fields) for (fields,) in rows]

    def timeline_entries(self, case_id: str) -> list[tuple[str, dict[str, str]]]:
        """(entry id, fields as Redis holds them) of the case's timeline, oldest first (restore)."""
        rows = self._rows(f"SELECT entry_id, fields FROM case_timeline WHERE case_id = %s ORDER BY {ENTRY_ORDER}", (case_id,))
        return [(entry_id, stream_fields(fields)) for entry_id, fields in rows]

    def closed_between(self, from_ms: int, to_ms: int, *, field: str = "closed", limit: int | None = None,
                       exclude: Iterable[str] = ()) -> list[Case]:
        """The ended cases (closed, rejected, voided, merged) whose end (`field` "closed") or
        creation (`field` "created") lies in [from_ms, to_ms), newest first, at most `limit`,
        without the ids in `exclude` (those Redis still holds)."""
        column = {"closed": ENDED_AT, "created": "created_at"}[field]
        skip = list(exclude)
        sql = (f"SELECT data FROM cases WHERE stage = ANY(%s) AND {column} >= to_timestamp(%s) AND {column} < to_timestamp(%s)"
               + (" AND NOT (id = ANY(%s))" if skip else "") + f" ORDER BY {column} DESC, id DESC"
               + (" LIMIT %s" if limit is not None else ""))
        params: list = [list(ENDED), _ts(from_ms), _ts(to_ms)]
        if skip:
            params.append(skip)
        if limit is not None:
            params.append(int(limit))
        return [Case.from_dict(data) for (data,) in self._rows(sql, params)]

    def ended_before(self, before_ms: int, after: tuple[int, str] = (0, ""), limit: int = 500,
                     ids: Iterable[str] | None = None) -> list[tuple[str, int, int, str]]:
        """(id, version, end ms, last timeline entry id or "") of ended cases that ended before
        `before_ms` and after `after` = (end ms, id) in (end, id) order (or among `ids` when
        given), oldest end first: the candidates for leaving Redis, a page at a time."""
        only = list(ids) if ids is not None else None
        ended = f"(extract(epoch FROM {ENDED_AT}) * 1000)::bigint"
        rows = self._rows(
            f"""SELECT c.id, c.version, {ended} AS ended,
                       coalesce((SELECT t.entry_id FROM case_timeline t WHERE t.case_id = c.id
                                 ORDER BY split_part(t.entry_id, '-', 1)::bigint DESC,
                                          split_part(t.entry_id, '-', 2)::bigint DESC LIMIT 1), '')
                FROM cases c
                WHERE c.stage = ANY(%s) AND {ENDED_AT} < to_timestamp(%s) AND ({ended}, c.id) > (%s, %s)
                      {"AND c.id = ANY(%s)" if only is not None else ""}
                ORDER BY ended, c.id LIMIT %s""",
            (list(ENDED), _ts(before_ms), int(after[0]), str(after[1]), *((only,) if only is not None else ()), int(limit)))
        return [(r[0], int(r[1]), int(r[2]), r[3]) for r in rows]

    def archived_records(self, skip, batch: int = 1000):
        """(case dict, timeline steps) of every ended case in the record whose id is not in
        `skip` (the cases Redis holds), for the case index's indicator facts. Steps are
        `ioc.adapters.case_store.Step`-like tuples (action, from_stage, to_stage, at ms)."""
        from ioc.adapters.case_store import Step

        try:
            with db.pool(self.url, self.pool_size).connection() as conn:
                with conn.cursor(name="ioc_archived_cases") as cursor:
                    cursor.itersize = batch
                    cursor.execute("SELECT id, data FROM cases WHERE stage = ANY(%s)", (list(ENDED),))
                    while True:
                        fetched = cursor.fetchmany(batch)
                        if not fetched:
                            break
                        rows = [(i, data) for i, data in fetched if i not in skip]
                        if not rows:
                            continue
                        steps: dict[str, list] = {}
                        for case_id, action, from_stage, to_stage, at in conn.execute(
                                "SELECT case_id, action, from_stage, to_stage, (fields->>'at')::numeric::bigint "
                                "FROM case_timeline WHERE case_id = ANY(%s)", ([i for i, _ in rows],)):
                            steps.setdefault(case_id, []).append(Step(action, from_stage, to_stage, int(at)))
                        for case_id, data in rows:
                            yield data, steps.get(case_id, [])
        except (psycopg.OperationalError, PoolTimeout) as e:
            raise ArchiveUnavailable(f"the record (PostgreSQL) is unreachable: {str(e).strip()}") from e

    def ended_page(self, before_ms: int, filters: dict, scope: dict, limit: int) -> tuple[int, list[Case]]:
        """(how many, the first `limit` newest-created) of the cases ended before `before_ms` that
        match `filters` (column -> value: stage, district, class_code, department, source, urgent)
        and `scope` (who may see them: {} everyone, {"department": d} a department's handlers,
        {"filed_by": name} a reporting system's own)."""
        columns = {"stage", "district", "class_code", "department", "source", "urgent"}
        where = [f"stage = ANY(%s)", f"{ENDED_AT} < to_timestamp(%s)"]
        params: list = [list(ENDED), _ts(before_ms)]
        for name, value in filters.items():
            if name not in columns:
                raise ValueError(f"no filter {name!r}")
            where.append(f"{name} = %s")
            params.append(value)
        if "department" in scope:
            where.append("department = %s")
            params.append(scope["department"])
        if "filed_by" in scope:
            where.append("data->>'filed_by' = %s")
            params.append(scope["filed_by"])
        condition = " AND ".join(where)
        total = self._rows(f"SELECT count(*) FROM cases WHERE {condition}", params)[0][0]
        rows = self._rows(f"SELECT data FROM cases WHERE {condition} ORDER BY created_at DESC, id LIMIT %s", [*params, int(limit)])
        return int(total), [Case.from_dict(data) for (data,) in rows]

    def by_report(self, report_id: str) -> Case | None:
        """The case filed with this report id (a scan of the record: for the rare repeat whose
        case left Redis without its report mapping)."""
        rows = self._rows("SELECT data FROM cases WHERE data->>'report_id' = %s LIMIT 1", (report_id,))
        return Case.from_dict(rows[0][0]) if rows else None
