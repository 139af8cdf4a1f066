"""The record's indicators (ioc.reports.indicators) against the domain's formulas on the same cases,
on a real PostgreSQL: every count, rate, stage mean and group equal `indicators_of`, for periods of
every kind, with the facts kept by the record's triggers and refreshed from the timelines."""

from __future__ import annotations

import time

import psycopg
import pytest

from ioc.domain.case_indicators import GROUP_KEYS, indicator_facts, indicators_of, period_bounds, rank_departments
from ioc.reports import indicators as ri
from ioc.reports import synth
from tests.conftest import drop_database, fresh_database

NOW = 1_790_000_000_000  # 2026-09-21, China time
DISTRICTS = ("yangshe", "jinfeng", "tangqiao", "fenghuang")
DEPARTMENTS = ("water_affairs", "street_lighting", "urban_management", "town_yangshe")


def cases(n=1500, seed=7):
    start, _ = period_bounds("year", NOW, -1)
    # reported up to a week after NOW's clock, so some cases are open (and some overdue) at NOW
    return list(synth.generate(n, start, NOW, NOW + 7 * 86_400_000, seed=seed, districts=DISTRICTS,
                               departments=DEPARTMENTS))


@pytest.fixture(scope="module")
def record(pg_server_proc, pg_template):
    """One record for the module (the tests only read it, but the last two, which change one case)."""
    url = fresh_database(pg_server_proc, pg_template)
    items = cases()
    with psycopg.connect(url) as conn:
        synth.ensure_partitions(conn, NOW - 800 * 86_400_000, NOW + 60 * 86_400_000)
        synth.write(conn, items, facts=False)  # the facts come from the triggers and refresh_facts
        ri.refresh_facts(conn)
        yield conn, items
    drop_database(pg_server_proc, url)


PERIODS = [("month", 0), ("month", -1), ("month", -7), ("year", 0), ("year", -1), ("quarter", -1), ("week", -2),
           ("day", -30)]


@pytest.mark.parametrize("kind,offset", PERIODS)
def test_the_record_gives_the_domains_indicators_for_every_group(record, kind, offset):
    conn, items = record
    facts = [indicator_facts(c, evs) for c, evs in items]
    start, end = period_bounds(kind, NOW, offset)
    assert ri.indicators_of_record(conn, start, end, NOW, by=GROUP_KEYS) == indicators_of(facts, start, end, NOW,
                                                                                          by=GROUP_KEYS)


def test_the_ranking_from_the_record_equals_the_domains(record):
    conn, items = record
    facts = [indicator_facts(c, evs) for c, evs in items]
    start, end = period_bounds("quarter", NOW, 0)
    ours = ri.indicators_of_record(conn, start, end, NOW, by=("department",))[1]["department"]
    theirs = indicators_of(facts, start, end, NOW, by=("department",))[1]["department"]
    assert rank_departments(ours) == rank_departments(theirs) and ours


def test_the_record_has_open_overdue_and_deferred_cases_to_count(record):
    conn, _ = record
    start, end = period_bounds("month", NOW, 0)
    city, _ = ri.indicators_of_record(conn, start, end, NOW)
    assert city.overdue > 0 and city.closed > 0 and city.registered > 0 and city.mean_stage_hours


def test_the_previous_period_of_a_month_is_the_month_before_and_last_year_the_same_month():
    start, end = period_bounds("month", NOW, 0)
    assert ri.previous_period(start, end) == period_bounds("month", NOW, -1)
    assert ri.last_year_period(start, end) == period_bounds("month", NOW, -12)


def test_the_previous_period_of_some_days_is_as_long_and_just_before():
    assert ri.previous_period(1_000_000, 4_000_000) == (-2_000_000, 1_000_000)


def test_compare_gives_the_period_the_one_before_and_last_years(record):
    conn, items = record
    facts = [indicator_facts(c, evs) for c, evs in items]
    start, end = period_bounds("month", NOW, -1)
    fig = ri.compare(conn, start, end, NOW, by=("district",))
    ps, pe = period_bounds("month", NOW, -2)
    assert fig.previous == indicators_of(facts, ps, pe, NOW, by=("district",))
    assert fig.current == indicators_of(facts, start, end, NOW, by=("district",))


def test_a_case_changed_in_the_record_is_marked_and_refreshed(record):
    conn, items = record
    case = items[0][0]
    conn.execute("UPDATE cases SET version = version + 1 WHERE id = %s", (case.id,))
    rev, pending = ri.revision(conn)
    assert pending
    assert ri.refresh_facts(conn) == 1
    assert ri.revision(conn) == (rev + 1, False)


def test_the_indicator_cache_answers_after_its_background_computation_and_equals_the_record(record):
    from ioc.reports.cache import IndicatorCache

    conn, _ = record
    url = f"postgresql://{conn.info.user}@{conn.info.host}:{conn.info.port}/{conn.info.dbname}"
    start, end = period_bounds("month", NOW, -1)
    cache = IndicatorCache(url, interval_s=3600, first_wait_s=0)
    first = cache.get(start, end, NOW)
    deadline = time.monotonic() + 30
    while cache.get(start, end, NOW) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first is None
    assert cache.get(start, end, NOW) == ri.indicators_of_record(conn, start, end, NOW, by=("district", "department"))


def test_the_web_workers_cache_of_the_record_waits_longer_for_a_new_period_than_the_redis_index_cache(record):
    # a month of the record comes within the first ask's wait (~0.4 s at a million cases): answered
    # at once instead of "being prepared"; the Redis index's first load (tens of seconds) is not waited for
    from ioc.reports.cache import RECORD_FIRST_WAIT_S, IndicatorCache, cache_for

    conn, _ = record
    url = f"postgresql://{conn.info.user}@{conn.info.host}:{conn.info.port}/{conn.info.dbname}"
    start, end = period_bounds("month", NOW, -1)
    cache = cache_for(url)
    assert cache.first_wait_s == RECORD_FIRST_WAIT_S > IndicatorCache(object()).first_wait_s
    cache.interval_s = 3600
    deadline = time.monotonic() + 30
    while cache.get(start, end, NOW) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cache.get(start, end, NOW) == ri.indicators_of_record(conn, start, end, NOW, by=("district", "department"))
