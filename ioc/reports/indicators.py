"""Case indicators (GB/T 30428) from the record: any period, up to years, at a million cases.

The definitions are the domain's (`ioc.domain.case_indicators`, read its docstring): the facts
of each case are computed by the domain's own `indicator_facts` and kept, one row per case, in
`case_facts` (migration 0003); a period's counts are then one aggregate query over that table,
grouped by (district, department, class, source), summed per key with pandas, and turned back
into the domain's `Indicators` (whose properties are the rates) and `rank_departments` (the
ranking). A test checks that the record's figures equal `indicators_of` on the same cases.

Keeping `case_facts` current: the record's triggers mark every case whose row or timeline
changed (`case_facts_dirty`, written in the recorder's own transaction); `refresh_facts`
recomputes the marked cases and bumps `case_facts_state.revision`. Any reader may run it (rows
are claimed with SKIP LOCKED, so several web workers never do the same case twice).

How a period is counted in SQL (same cases, same order of tests as `_add` in the domain):
a case counts when it was reported before the period ends and is open or changed since it
started; its due group is decided by `closed_at`, `due_at` and its first approved deferral; its
handled/rework by its handle events and its first failed check; its stage stays by their ends.
A case whose stays all end inside the period adds its per-stage totals (columns `ms_*`, `n_*`);
the few that straddle the period's edges (or have a stay in another stage) are unnested.

The fast path (migration 0005): the counts read `case_facts_narrow` (the same facts without text or
arrays, the four keys as one integer `g` named in `case_groups`). A closed case whose stays are all in
the six summed stages ("fast") adds the same counts to every period that holds all its times, so
`case_days` keeps those contributions summed per key value and China days of its first and last
time: a period sums the whole days it holds, and only the cases it cuts (found by a GiST index on
their time span), the open ones and the irregular ones are counted one by one.
"""

from __future__ import annotations

import time
from collections import namedtuple
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import psycopg

from ioc.domain.case_indicators import (GROUP_KEYS, HOUR_MS, IndicatorFacts, Indicators, Ranked, indicator_facts_of_record,
                                        rank_departments)
from ioc.domain.cases import STAGES
from ioc.domain.clock import CHINA_TZ

# the stages whose stays are summed per case in case_facts (a stay in any other stage is unnested)
STAY_STAGES: tuple[str, ...] = ("reported", "accepted", "verified", "dispatched", "handled", "checked")
COUNTS: tuple[str, ...] = ("registered", "due", "closed", "closed_on_time", "deferred", "overdue", "handled", "rework")
REFRESH_BATCH = 5000

_Event = namedtuple("_Event", "action from_stage to_stage at")

FACT_COLUMNS: tuple[str, ...] = (
    "case_id", "district", "department", "class_code", "source", "created_at", "updated_at", "closed_at", "due_at",
    "is_open", "first_dispatch", "first_deferral", "first_check_fail", "handled_at", "handled_first", "handled_last",
    "stay_stage", "stay_in", "stay_out", "stays_first", "stays_last", "stays_regular",
    *(c for s in STAY_STAGES for c in (f"ms_{s}", f"n_{s}")), "version")


# ---- the facts table -----------------------------------------------------------------------------

def facts_row(f: IndicatorFacts, version: int = 0) -> tuple:
    """The `case_facts` row of one case's facts (times in ms; NULL for none)."""
    stays = f.stays
    totals = {s: [0, 0] for s in STAY_STAGES}
    regular = True
    for stage, entered, left in stays:
        if stage in totals:
            totals[stage][0] += left - entered
            totals[stage][1] += 1
        else:
            regular = False
    outs = [left for _, _, left in stays]
    return (f.id, f.district, f.department, f.class_code, f.source, f.created_at, f.updated_at, f.closed_at or None,
            f.due_at or None, f.is_open, min(f.dispatched_at) if f.dispatched_at else None,
            min(f.deferral_approved_at) if f.deferral_approved_at else None,
            min(f.check_failed_at) if f.check_failed_at else None, list(f.handled_at),
            min(f.handled_at) if f.handled_at else None, max(f.handled_at) if f.handled_at else None,
            [s for s, _, _ in stays], [e for _, e, _ in stays], outs, min(outs) if outs else None,
            max(outs) if outs else None, regular, *(v for s in STAY_STAGES for v in totals[s]), version)


def write_facts(conn: psycopg.Connection, rows: Iterable[tuple]) -> int:
    """Replace the `case_facts` rows of the given cases (rows from `facts_row`)."""
    rows = list(rows)
    if not rows:
        return 0
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS case_facts_in (LIKE case_facts) ON COMMIT DELETE ROWS")
    with conn.cursor().copy(f"COPY case_facts_in ({', '.join(FACT_COLUMNS)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    conn.execute("DELETE FROM case_facts f USING case_facts_in i WHERE f.case_id = i.case_id")
    conn.execute(f"INSERT INTO case_facts ({', '.join(FACT_COLUMNS)}) SELECT {', '.join(FACT_COLUMNS)} FROM case_facts_in")
    conn.execute("TRUNCATE case_facts_in")
    return len(rows)


def _timelines(conn: psycopg.Connection, ids: list[str]) -> dict[str, list[_Event]]:
    out: dict[str, list[_Event]] = {}
    cur = conn.execute(
        """SELECT case_id, action, from_stage, to_stage, (extract(epoch FROM at) * 1000)::bigint
           FROM case_timeline WHERE case_id = ANY(%s)
           ORDER BY case_id, at, split_part(entry_id, '-', 1)::bigint, split_part(entry_id, '-', 2)::bigint""", (ids,))
    for case_id, action, frm, to, at in cur:
        out.setdefault(case_id, []).append(_Event(action, frm, to, int(at)))
    return out


def refresh_facts(conn: psycopg.Connection, batch: int = REFRESH_BATCH) -> int:
    """Recompute the facts of every case marked changed; returns how many. Commits per batch."""
    done = 0
    while True:
        with conn.transaction():
            ids = [r[0] for r in conn.execute(
                "SELECT case_id FROM case_facts_dirty ORDER BY case_id LIMIT %s FOR UPDATE SKIP LOCKED", (batch,))]
            if ids:
                events = _timelines(conn, ids)
                rows = [facts_row(indicator_facts_of_record(data, events.get(case_id, ())), version)
                        for case_id, version, data in conn.execute(
                            "SELECT id, version, data FROM cases WHERE id = ANY(%s)", (ids,))]
                write_facts(conn, rows)
                conn.execute("DELETE FROM case_facts_dirty WHERE case_id = ANY(%s)", (ids,))
                conn.execute("UPDATE case_facts_state SET revision = revision + 1, refreshed_at = now()")
                done += len(ids)
        if not conn.autocommit:
            conn.commit()
        if len(ids) < batch:
            return done


def revision(conn: psycopg.Connection) -> tuple[int, bool]:
    """(the facts' revision, whether changed cases wait for `refresh_facts`)."""
    rev = conn.execute("SELECT revision FROM case_facts_state").fetchone()[0]
    pending = conn.execute("SELECT EXISTS (SELECT 1 FROM case_facts_dirty)").fetchone()[0]
    return int(rev), bool(pending)


# ---- one period --------------------------------------------------------------------------------

_WHERE = "created_at < %(e)s AND (is_open OR last_at >= %(s)s)"
# the cases counted one by one: all but the `fast` ones whose times all lie in the whole days
# [S, A) that `case_days` sums (those the period's edges cut, and the others)
# (each arm of the OR matches a partial index: `case_facts_narrow_slow`, `case_facts_narrow_span`)
_SPAN = "int8range(first_at, last_ev, '[]')"
_EXACT = (f"((NOT fast AND created_at < %(e)s)"
          f" OR (fast AND {_SPAN} && int8range(%(s)s, %(S)s, '[]') AND first_at < %(S)s AND last_ev >= %(s)s)"
          f" OR (fast AND {_SPAN} && int8range(%(A)s, %(a)s, '[]') AND last_ev >= %(A)s AND first_at < %(a)s))")

# over `case_facts_narrow` (migration 0005): the same expressions as over `case_facts`, grouped by
# the one-integer combination `g` and named back through `case_groups`; a handle in the period is
# decided by the first and last handle unless the case was handled three times or more
_COUNTS_SQL = f"""
WITH f AS (
  SELECT g,
    first_dispatch IS NOT NULL AND first_dispatch < %(a)s AS reg,
    first_dispatch >= %(s)s AS reg_in,
    CASE WHEN closed_at >= %(s)s AND closed_at < %(a)s
              THEN CASE WHEN due_at IS NULL OR closed_at <= due_at THEN 1 ELSE 2 END
         WHEN closed_at < %(s)s THEN 0
         WHEN due_at < %(a)s THEN 3
         WHEN first_deferral < %(a)s THEN 4
         ELSE 0 END AS grp,
    CASE WHEN handled_first IS NULL OR handled_first >= %(a)s OR handled_last < %(s)s THEN false
         WHEN handled_first >= %(s)s THEN true
         WHEN handled_more IS NULL THEN handled_last < %(a)s
         ELSE EXISTS (SELECT 1 FROM unnest(handled_more) x WHERE x >= %(s)s AND x < %(a)s) END AS hd,
    coalesce(first_check_fail < %(a)s, false) AS failed,
    stays_regular AND stays_first >= %(s)s AND stays_last < %(a)s AS inside,
    {', '.join(f'ms_{s}, n_{s}' for s in STAY_STAGES)}
  FROM case_facts_narrow WHERE {_WHERE} AND {_EXACT}
), a AS (
  SELECT g,
    count(*) FILTER (WHERE reg AND reg_in) AS registered,
    count(*) FILTER (WHERE reg AND grp > 0) AS due,
    count(*) FILTER (WHERE reg AND grp IN (1, 2)) AS closed,
    count(*) FILTER (WHERE reg AND grp = 1) AS closed_on_time,
    count(*) FILTER (WHERE reg AND grp = 4) AS deferred,
    count(*) FILTER (WHERE reg AND grp IN (2, 3)) AS overdue,
    count(*) FILTER (WHERE hd) AS handled,
    count(*) FILTER (WHERE hd AND failed) AS rework,
    {', '.join(f'coalesce(sum(ms_{s}) FILTER (WHERE inside), 0)::bigint AS "ms:{s}", '
               f'coalesce(sum(n_{s}) FILTER (WHERE inside), 0)::bigint AS "n:{s}"' for s in STAY_STAGES)}
  FROM f GROUP BY g
)
SELECT k.district, k.department, k.class_code, k.source, a.* FROM a JOIN case_groups k USING (g)
"""

# the stays of the cases that straddle the period's edges (or stay in a stage without a column):
# the cases found in the narrow table, then their stays unnested from `case_facts` by primary key
# (two statements, so the planner never chooses to scan the wide table)
_STRADDLING_SQL = f"""
SELECT case_id FROM case_facts_narrow
WHERE {_WHERE} AND {_EXACT} AND stays_last >= %(s)s AND stays_first < %(a)s
  AND NOT (stays_regular AND stays_first >= %(s)s AND stays_last < %(a)s)
"""
_STAYS_SQL = """
SELECT k.district, k.department, k.class_code, k.source, st.stage, sum(st.o - st.i)::bigint AS ms, count(*) AS n
FROM case_facts c JOIN case_groups k USING (district, department, class_code, source),
  unnest(c.stay_stage, c.stay_in, c.stay_out) AS st(stage, i, o)
WHERE c.case_id = ANY(%(ids)s) AND st.o >= %(s)s AND st.o < %(a)s
GROUP BY 1, 2, 3, 4, 5
"""

# the fast cases' fixed contributions, per key value, summed over the whole days [S, A)
_DAYS_SQL = f"""
SELECT dim, value, sum(registered)::bigint AS registered, sum(due)::bigint AS due, sum(due)::bigint AS closed,
  sum(closed_on_time)::bigint AS closed_on_time, 0::bigint AS deferred, sum(overdue)::bigint AS overdue,
  sum(handled)::bigint AS handled, sum(rework)::bigint AS rework,
  {', '.join(f'sum(ms_{s})::bigint AS "ms:{s}", sum(n_{s})::bigint AS "n:{s}"' for s in STAY_STAGES)}
FROM case_days WHERE first_day >= %(Sd)s AND last_day < %(Ad)s AND cases <> 0 GROUP BY dim, value
"""
DAY_MS = 86_400_000
CHINA_OFFSET_MS = 8 * HOUR_MS  # China time has no daylight saving


def whole_days(start_ms: int, as_of: int) -> tuple[int, int]:
    """The China-time day numbers [first, end) of the whole days inside [start_ms, as_of)."""
    return -(-(start_ms + CHINA_OFFSET_MS) // DAY_MS), (as_of + CHINA_OFFSET_MS) // DAY_MS


def _as_of(start_ms: int, end_ms: int, now_ms: int | None) -> int:
    if end_ms <= start_ms:
        raise ValueError(f"the period must end after it starts (start {start_ms}, end {end_ms})")
    as_of = end_ms if now_ms is None else min(end_ms, now_ms)
    return max(start_ms, as_of)


def parts(conn: psycopg.Connection, start_ms: int, end_ms: int, as_of: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The period's counts in two parts that add up: one row per (district, department, class_code,
    source) of the cases counted one by one (`case_facts_narrow`), and one row per (dim, value) of the
    fast cases summed per day (`case_days`; dim = the index of the key in GROUP_KEYS). Each row holds
    the counts and, per stage, the total stay time (`ms:<stage>`) and number of stays (`n:<stage>`)."""
    sd, ad = whole_days(start_ms, as_of)
    params = {"s": start_ms, "e": end_ms, "a": as_of, "Sd": sd, "Ad": ad,
              "S": sd * DAY_MS - CHINA_OFFSET_MS, "A": ad * DAY_MS - CHINA_OFFSET_MS}
    keys = list(GROUP_KEYS)
    with conn.transaction():
        conn.execute("SET LOCAL jit = off")  # compiling the expressions costs more than it saves on one scan
        cur = conn.execute(_DAYS_SQL, params, prepare=True)
        days = pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])
        cur = conn.execute(_COUNTS_SQL, params, prepare=True)
        frame = pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description]).drop(columns="g")
        ids = [r[0] for r in conn.execute(_STRADDLING_SQL, params, prepare=True)]
        cur = conn.execute(_STAYS_SQL, {**params, "ids": ids}, prepare=True)
        extra = cur.fetchall()
    if extra:  # the straddlers' stays added to their combinations (plain Python: a few hundred rows)
        rows = {tuple(r[k] for k in keys): r for r in frame.to_dict("records")}
        for *combo, stage, ms, n in extra:
            row = rows.setdefault(tuple(combo), dict(zip(keys, combo)))
            row[f"ms:{stage}"] = row.get(f"ms:{stage}", 0) + int(ms)
            row[f"n:{stage}"] = row.get(f"n:{stage}", 0) + int(n)
        frame = pd.DataFrame(list(rows.values())).fillna(0)
    for part in (frame, days):
        for col in part.columns:
            if col not in keys and col != "value":
                part[col] = part[col].astype("int64")
    return frame, days


def _indicators(row: Mapping, start_ms: int, end_ms: int, as_of: int) -> Indicators:
    order = {s: i for i, s in enumerate(STAGES)}
    stages = sorted((c[2:] for c in row if str(c).startswith("n:") and row[c]), key=lambda s: (order.get(s, len(order)), s))
    return Indicators(start_ms, end_ms, as_of, *(int(row.get(c, 0)) for c in COUNTS),
                      {s: int(row[f"ms:{s}"]) / int(row[f"n:{s}"]) / HOUR_MS for s in stages},
                      {s: int(row[f"n:{s}"]) for s in stages})


def _add(into: dict, row: Mapping, numeric: Iterable[str]) -> None:
    for c in numeric:
        into[c] = into.get(c, 0) + int(row[c])


def indicators_from(frame: pd.DataFrame, start_ms: int, end_ms: int, as_of: int, by: Iterable[str] = (),
                    days: pd.DataFrame | None = None) -> tuple[Indicators, dict[str, dict[str, Indicators]]]:
    """The city's indicators and those per value of each key in `by` from `parts` (groups with
    an empty value left out, each dict sorted by value: as `indicators_of`). A few hundred rows at
    most: summed in plain Python (pandas' per-call overhead was most of the period's time)."""
    by = tuple(by)
    for key in by:
        if key not in GROUP_KEYS:
            raise ValueError(f"cannot group cases by {key!r}; group by one of {', '.join(GROUP_KEYS)}")
    city: dict = {}
    sums: dict[str, dict[str, dict]] = {key: {} for key in by}
    numeric = [c for c in frame.columns if c not in GROUP_KEYS]
    for row in frame.to_dict("records"):
        _add(city, row, numeric)
        for key in by:
            if row[key] != "":
                _add(sums[key].setdefault(str(row[key]), {}), row, numeric)
    if days is not None and not days.empty:
        numeric = [c for c in days.columns if c not in ("dim", "value")]
        for row in days.to_dict("records"):
            key = GROUP_KEYS[int(row["dim"])]
            if key == GROUP_KEYS[0]:
                _add(city, row, numeric)
            if key in sums and row["value"] != "":
                _add(sums[key].setdefault(str(row["value"]), {}), row, numeric)
    return (_indicators(city, start_ms, end_ms, as_of),
            {key: {value: _indicators(sums[key][value], start_ms, end_ms, as_of) for value in sorted(sums[key])}
             for key in by})


def indicators_of_record(conn: psycopg.Connection, start_ms: int, end_ms: int, now_ms: int | None = None,
                         by: Iterable[str] = ()) -> tuple[Indicators, dict[str, dict[str, Indicators]]]:
    """`ioc.domain.case_indicators.indicators_of` over the record's cases (refresh the facts first)."""
    as_of = _as_of(start_ms, end_ms, now_ms)
    frame, days = parts(conn, start_ms, end_ms, as_of)
    return indicators_from(frame, start_ms, end_ms, as_of, by, days)


# ---- periods and comparisons --------------------------------------------------------------------

def _year_before(ms: int) -> int:
    local = datetime.fromtimestamp(ms / 1000, CHINA_TZ)
    try:
        earlier = local.replace(year=local.year - 1)
    except ValueError:  # 29 February
        earlier = local.replace(year=local.year - 1, day=28)
    return int(earlier.timestamp() * 1000)


def previous_period(start_ms: int, end_ms: int) -> tuple[int, int]:
    """The period before [start, end): the previous calendar month(s) when the period is whole
    China-time months, else the same length just before."""
    s, e = datetime.fromtimestamp(start_ms / 1000, CHINA_TZ), datetime.fromtimestamp(end_ms / 1000, CHINA_TZ)
    whole = all(d.day == 1 and d.hour == d.minute == d.second == d.microsecond == 0 for d in (s, e))
    if whole:
        months = (e.year - s.year) * 12 + e.month - s.month
        first = s.year * 12 + s.month - 1 - months
        start = datetime(first // 12, first % 12 + 1, 1, tzinfo=CHINA_TZ)
        return int(start.timestamp() * 1000), start_ms
    return start_ms - (end_ms - start_ms), start_ms


def last_year_period(start_ms: int, end_ms: int) -> tuple[int, int]:
    """The same dates one year earlier (China time)."""
    return _year_before(start_ms), _year_before(end_ms)


@dataclass(frozen=True)
class PeriodFigures:
    """The indicators of one period, the period before and the same period last year, each
    as a city total and per district, department, class and source, with the ranking."""

    current: tuple[Indicators, dict[str, dict[str, Indicators]]]
    previous: tuple[Indicators, dict[str, dict[str, Indicators]]]
    last_year: tuple[Indicators, dict[str, dict[str, Indicators]]]
    revision: int
    seconds: float

    @property
    def city(self) -> Indicators:
        return self.current[0]

    def groups(self, key: str) -> dict[str, Indicators]:
        return self.current[1].get(key, {})

    def ranking(self) -> list[Ranked]:
        return rank_departments(self.groups("department"))


def compare(conn: psycopg.Connection, start_ms: int, end_ms: int, now_ms: int | None = None,
            by: Iterable[str] = GROUP_KEYS, revision_: int = 0) -> PeriodFigures:
    """The period's figures and those it is compared with. A period not over yet is compared as
    of the same point of the earlier periods (the previous one as of `as_of − (start − its start)`;
    last year's as of `as_of` a year earlier)."""
    began = time.perf_counter()
    by = tuple(by)
    as_of = _as_of(start_ms, end_ms, now_ms)
    ps, pe = previous_period(start_ms, end_ms)
    ys, ye = last_year_period(start_ms, end_ms)
    current = indicators_of_record(conn, start_ms, end_ms, as_of, by)
    previous = indicators_of_record(conn, ps, pe, min(pe, as_of - (start_ms - ps)), by)
    last_year = indicators_of_record(conn, ys, ye, min(ye, _year_before(as_of)), by)
    return PeriodFigures(current, previous, last_year, revision_, time.perf_counter() - began)


def change(now: float | None, before: float | None) -> float | None:
    """now − before (None when either is missing): rates in points, counts in cases."""
    return None if now is None or before is None else now - before
