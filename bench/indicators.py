"""Scenario `indicators`: the case indicators of a year at a million cases, from the record.

A private PostgreSQL (the embedded one, fsync off) gets a year and a month of made-up cases with
their timelines (`ioc.reports.synth`: the workflow's own steps, seeded) and their `case_facts`;
then, several times each:

- `year indicators` — `indicators_of_record` for the current year, per district, department,
  class and source (target ≤ 1 s, the issue's);
- `year with comparisons` — the same plus the year before and last year's same period (`compare`,
  what the API and the report send);
- `month report` — the monthly assessment report's tables (`monthly_report`);
- baseline, same run: `COPY (the columns the counts need) TO STDOUT` of the same year's rows read
  by a bare psycopg loop — what moving the rows to pandas would cost before any counting.

Full run: 1,000,000 cases; quick: 50,000.
"""

from __future__ import annotations

import statistics
import time
from datetime import datetime

from bench.context import BenchContext
from bench.model import Measurement, ScenarioResult, at_most

CASES, QUICK_CASES = 1_000_000, 50_000
RUNS, QUICK_RUNS = 5, 3
TARGET_S = 1.0


def _timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        out.append(time.perf_counter() - began)
    return out


def run(ctx: BenchContext) -> ScenarioResult:
    import psycopg

    from ioc.adapters.embedded import postgres_server
    from ioc.adapters.geodata_files import load_city_map
    from ioc.domain.case_indicators import GROUP_KEYS, period_bounds
    from ioc.domain.clock import CHINA_TZ
    from ioc.record.migrate import upgrade
    from ioc.reports.indicators import compare, indicators_of_record
    from ioc.reports.monthly import monthly_report

    progress = ctx.progress
    n = ctx.scaled(CASES, QUICK_CASES)
    runs = QUICK_RUNS if ctx.quick else RUNS
    server = postgres_server(ctx.work_dir / "indicators-postgres", durable=False).start()
    try:
        upgrade(server.url)
        now = int(time.time() * 1000)
        month_start, _ = period_bounds("month", now, -1)
        city = load_city_map(ctx.settings().geodata_dir)
        written, load_s = write_cases(server.url, n, now, progress)
        start, end = now - 365 * 86_400_000, now + 1  # a year up to now
        with psycopg.connect(server.url) as conn:
            in_year = conn.execute("SELECT count(*) FROM case_facts WHERE created_at >= %s", (start,)).fetchone()[0]
            year = _timed(lambda: indicators_of_record(conn, start, end, now + 1, by=GROUP_KEYS), runs)
            both = _timed(lambda: compare(conn, start, end, now + 1, by=GROUP_KEYS), runs)
            last_month = datetime.fromtimestamp(month_start / 1000, CHINA_TZ).strftime("%Y-%m")
            month = _timed(lambda: monthly_report(conn, city, last_month, now, "zh"), runs)

            def copy_rows():
                rows = 0
                with conn.cursor().copy(
                        "COPY (SELECT district, department, class_code, source, created_at, updated_at, closed_at, due_at, "
                        "is_open, first_dispatch, first_deferral, first_check_fail, handled_at, stay_stage, stay_in, stay_out "
                        f"FROM case_facts WHERE created_at < {end}) TO STDOUT") as copy:
                    for _row in copy.rows():
                        rows += 1
                return rows

            baseline = _timed(copy_rows, max(1, runs - 2))
        size = _size(server.url)
    finally:
        server.stop()
    median = statistics.median(year)
    progress(f"  indicators: a year ({in_year:,} cases) p50 {median:.3f} s, max {max(year):.3f} s; with comparisons "
             f"{statistics.median(both):.3f} s; month report {statistics.median(month):.3f} s; "
             f"baseline COPY loop {statistics.median(baseline):.3f} s")
    detail = {"cases": written, "cases_in_year": in_year, "runs": runs, "load_s": round(load_s, 1), "record_bytes": size}
    return ScenarioResult([
        Measurement("indicators", "a year's indicators (per district, department, class, source) p50", median, "s",
                    f"≤ {TARGET_S:g} s", at_most(median, TARGET_S), {**detail, "samples": year}),
        Measurement("indicators", "a year's indicators, worst run", max(year), "s", f"≤ {TARGET_S:g} s",
                    at_most(max(year), TARGET_S), {"samples": year}),
        Measurement("indicators", "a year with the year before and last year's (compare) p50", statistics.median(both), "s",
                    "", None, {"samples": both}),
        Measurement("indicators", "monthly assessment report (tables) p50", statistics.median(month), "s", "", None,
                    {"samples": month}),
        Measurement("indicators", "baseline: COPY of the year's fact rows by a bare psycopg loop p50",
                    statistics.median(baseline), "s", "", None, {"samples": baseline}),
    ])


def write_cases(url: str, n: int, now: int, progress, label: str = "indicators") -> tuple[int, float]:
    """`n` made-up cases (`ioc.reports.synth`, seeded) reported over the year up to `now` and the
    month before it (the cases open when the year began), with their timelines and `case_facts`,
    COPYed into the record at `url` (migrated); (cases written, seconds)."""
    import psycopg

    from ioc.domain.case_indicators import period_bounds
    from ioc.reports import synth

    year_start, _ = period_bounds("year", now, 0)
    first = min(year_start - 31 * 86_400_000, now - 396 * 86_400_000)
    began = time.perf_counter()
    with psycopg.connect(url) as conn:
        synth.ensure_partitions(conn, first - 86_400_000, now + 86_400_000)
        conn.commit()
        written = synth.write(conn, _progressed(synth.generate(n, first, now, now, seed=17), n, progress, label), batch=50_000)
        conn.execute("ANALYZE")
        conn.commit()
        conn.execute("CHECKPOINT")  # a server killed later restarts without replaying the load's WAL
    load_s = time.perf_counter() - began
    progress(f"  {label}: {written:,} cases with their timelines and facts written in {load_s:.0f} s")
    return written, load_s


def _progressed(items, total: int, progress, label: str = "indicators"):
    step = max(1, total // 10)
    for i, item in enumerate(items, 1):
        if i % step == 0:
            progress(f"  {label}: {i:,} / {total:,} cases made")
        yield item


def _size(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        return int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])
