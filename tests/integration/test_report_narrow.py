"""The reports' narrow table (`case_facts_narrow`, migration 0005) against `case_facts` on a real
PostgreSQL: it mirrors every fact row (kept by the triggers and filled by the migration), and the
period counts it gives equal the domain's also for a case handled three times, whose middle handle
alone lies in the period (the one case where the narrow table reads its handle array)."""

from __future__ import annotations

import psycopg
import pytest

from ioc.domain.case_indicators import GROUP_KEYS, indicator_facts, indicators_of
from ioc.record.migrate import upgrade
from ioc.reports import indicators as ri
from ioc.reports import synth
from tests.conftest import drop_database, fresh_database
from tests.integration.test_report_indicators import NOW, cases

# what the narrow row of a fact row must be (the migration's and the trigger's expression)
_EXPECTED = """
SELECT f.case_id, f.created_at, greatest(f.updated_at, coalesce(f.closed_at, 0)), f.closed_at, f.due_at,
  f.first_dispatch, f.first_deferral, f.first_check_fail, f.handled_first, f.handled_last, f.stays_first,
  f.stays_last, f.ms_reported, f.ms_accepted, f.ms_verified, f.ms_dispatched, f.ms_handled, f.ms_checked,
  f.district, f.department, f.class_code, f.source,
  f.n_reported, f.n_accepted, f.n_verified, f.n_dispatched, f.n_handled, f.n_checked, f.is_open, f.stays_regular,
  CASE WHEN cardinality(f.handled_at) > 2 THEN f.handled_at END
FROM case_facts f"""
_NARROW = """
SELECT n.case_id, n.created_at, n.last_at, n.closed_at, n.due_at, n.first_dispatch, n.first_deferral,
  n.first_check_fail, n.handled_first, n.handled_last, n.stays_first, n.stays_last, n.ms_reported, n.ms_accepted,
  n.ms_verified, n.ms_dispatched, n.ms_handled, n.ms_checked, k.district, k.department, k.class_code, k.source,
  n.n_reported, n.n_accepted, n.n_verified, n.n_dispatched, n.n_handled, n.n_checked, n.is_open, n.stays_regular,
  n.handled_more
FROM case_facts_narrow n JOIN case_groups k USING (g)"""


def _differences(conn) -> int:
    return conn.execute(f"SELECT count(*) FROM (({_EXPECTED} EXCEPT ALL {_NARROW}) UNION ALL "
                        f"({_NARROW} EXCEPT ALL {_EXPECTED})) d").fetchone()[0]


@pytest.fixture(scope="module")
def record(pg_server_proc, pg_template):
    url = fresh_database(pg_server_proc, pg_template)
    items = cases(n=600, seed=11)
    with psycopg.connect(url) as conn:
        synth.ensure_partitions(conn, NOW - 800 * 86_400_000, NOW + 60 * 86_400_000)
        synth.write(conn, items, facts=False)
        ri.refresh_facts(conn)
        yield conn, items
    drop_database(pg_server_proc, url)


def test_the_narrow_table_mirrors_every_fact_row(record):
    conn, items = record
    assert conn.execute("SELECT count(*) FROM case_facts_narrow").fetchone()[0] == len(items)
    assert _differences(conn) == 0


def test_the_narrow_table_follows_a_refreshed_case(record):
    conn, items = record
    case = items[1][0]
    conn.execute("UPDATE cases SET version = version + 1 WHERE id = %s", (case.id,))
    conn.execute("UPDATE case_facts SET district = 'elsewhere' WHERE case_id = %s", (items[2][0].id,))
    assert ri.refresh_facts(conn) == 1
    assert _differences(conn) == 0
    conn.execute("UPDATE case_facts SET district = %s WHERE case_id = %s", (items[2][0].district, items[2][0].id))
    conn.commit()


def test_a_case_handled_three_times_counts_when_only_its_middle_handle_is_in_the_period(record):
    conn, items = record
    thrice = [(c, evs) for c, evs in items if sum(e.action == "handle" for e in evs) >= 3]
    if not thrice:  # this seed's sample has none: make some
        thrice = [(c, evs) for c, evs in cases(n=3000, seed=5) if sum(e.action == "handle" for e in evs) >= 3]
        synth.write(conn, thrice, facts=False)
        ri.refresh_facts(conn)
        items = items + thrice
    assert thrice
    facts = [indicator_facts(c, evs) for c, evs in items]
    for case, evs in thrice:
        handles = sorted(e.at for e in evs if e.action == "handle")
        start, end = handles[0] + 1, handles[1] + 1  # the middle handle alone
        ours = ri.indicators_of_record(conn, start, end, NOW, by=GROUP_KEYS)
        assert ours == indicators_of(facts, start, end, NOW, by=GROUP_KEYS)
        assert ours[0].handled >= 1


def test_the_migration_fills_the_narrow_table_from_the_facts_already_there(empty_database_url):
    upgrade(empty_database_url, target=4)
    items = cases(n=200, seed=3)
    with psycopg.connect(empty_database_url) as conn:
        synth.ensure_partitions(conn, NOW - 800 * 86_400_000, NOW + 60 * 86_400_000)
        synth.write(conn, items, facts=True)
        conn.commit()
    upgrade(empty_database_url)
    with psycopg.connect(empty_database_url) as conn:
        assert conn.execute("SELECT count(*) FROM case_facts_narrow").fetchone()[0] == len(items)
        assert _differences(conn) == 0


_DAYS_FROM_NARROW = """
SELECT v.dim, v.value, ((n.first_at + 28800000) / 86400000)::integer, ((n.last_ev + 28800000) / 86400000)::integer,
  count(*) FILTER (WHERE first_dispatch IS NOT NULL), sum(n_checked)::bigint, sum(ms_handled)::bigint
FROM case_facts_narrow n JOIN case_groups k USING (g),
  LATERAL (VALUES (0::smallint, k.district), (1::smallint, k.department), (2::smallint, k.class_code),
                  (3::smallint, k.source)) v(dim, value)
WHERE n.fast GROUP BY 1, 2, 3, 4"""
_DAYS = """SELECT dim, value, first_day, last_day, registered, n_checked, ms_handled FROM case_days
WHERE cases <> 0"""


def test_the_day_table_holds_the_sums_of_the_fast_cases_after_changes(record):
    conn, items = record
    conn.execute("UPDATE case_facts SET source = 'elsewhere' WHERE case_id = %s", (items[3][0].id,))
    assert sorted(conn.execute(_DAYS).fetchall()) == sorted(conn.execute(_DAYS_FROM_NARROW).fetchall())
    conn.execute("UPDATE case_facts SET source = %s WHERE case_id = %s", (items[3][0].source, items[3][0].id))
    conn.commit()
    assert sorted(conn.execute(_DAYS).fetchall()) == sorted(conn.execute(_DAYS_FROM_NARROW).fetchall())


def test_most_of_a_past_years_cases_are_summed_from_the_day_table_and_the_figures_stay_the_domains(record):
    from ioc.domain.case_indicators import period_bounds

    conn, items = record
    start, end = period_bounds("year", NOW, -1)
    frame, days = ri.parts(conn, start, end, NOW)
    summed = int(days[days["dim"] == 0]["registered"].sum())
    one_by_one = int(frame["registered"].sum())
    assert summed > 4 * one_by_one
    facts = [indicator_facts(c, evs) for c, evs in items]
    assert ri.indicators_of_record(conn, start, end, NOW, by=GROUP_KEYS) == indicators_of(facts, start, end, NOW,
                                                                                          by=GROUP_KEYS)
