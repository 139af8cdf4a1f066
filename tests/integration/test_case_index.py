"""The web process's copy of the cases (`CaseIndex`) on a real Redis: it follows every create and
transition through the case revision, reads only what changed, computes the same indicators as
reading every case and timeline, and starts over when Redis is emptied."""

from __future__ import annotations

import time

import pytest

from ioc.adapters.case_index import CaseIndex
from ioc.adapters.case_store import STEPS_BATCH
from ioc.domain.access import Principal
from ioc.domain.case_indicators import as_of_now, indicator_facts, indicators, indicators_by, indicators_of, period_bounds

YANGSHE = (31.872, 120.556)
DISPATCHER = Principal("li", frozenset({"dispatcher"}))
INSPECTOR = Principal("zhao", frozenset({"inspector"}))


@pytest.fixture
def now():
    from datetime import datetime, timedelta, timezone

    return int(datetime(2026, 11, 25, 10, 0, tzinfo=timezone(timedelta(hours=8))).timestamp() * 1000)


@pytest.fixture
def index(redis_client):
    return CaseIndex(lambda: redis_client, load_wait_s=30)


def report(case_service, now, n=0):
    return case_service.report(class_code="10101", lat=YANGSHE[0] + n % 10 * 0.002, lon=YANGSHE[1], source="hotline",
                               actor="hotline", report_id=f"r-{n}", now_ms=now)[0]


def dispatched_case(case_service, now, n=0):
    case = report(case_service, now, n)
    case_service.act(case.id, "accept", DISPATCHER, now_ms=now + 1000)
    case_service.act(case.id, "verify", INSPECTOR, now_ms=now + 2000)
    return case_service.act(case.id, "dispatch", DISPATCHER, now_ms=now + 3000)


def test_a_new_case_is_among_the_open_cases_at_once(index, case_service, now):
    assert index.open_cases() == []
    case = report(case_service, now)
    assert [c.id for c in index.open_cases()] == [case.id]


def test_a_case_that_ends_leaves_the_open_cases_and_a_changed_one_is_shown_as_it_is_now(index, case_service, now):
    kept, ended = report(case_service, now, 1), report(case_service, now, 2)
    index.open_cases()
    case_service.act(ended.id, "reject", DISPATCHER, note="不属于受理范围", now_ms=now + 1000)
    accepted = case_service.act(kept.id, "accept", DISPATCHER, now_ms=now + 1000)
    assert index.open_cases() == [accepted]


def test_only_the_cases_changed_since_the_revision_held_are_read_again(index, case_service, case_store, now):
    cases = [report(case_service, now, n) for n in range(5)]
    index.open_cases()
    revision = case_store.revision()
    case_service.act(cases[3].id, "accept", DISPATCHER, now_ms=now + 1000)
    assert case_store.changed_since(revision) == [cases[3].id]


def test_the_facts_of_every_case_give_the_indicators_of_every_case_and_timeline(index, case_service, case_store, now):
    for n in range(6):
        case = dispatched_case(case_service, now, n)
        if n % 2:
            case_service.act(case.id, "handle", Principal("h", frozenset({"handler"}), department=case.department),
                             now_ms=now + 4000)
    report(case_service, now, 9)
    start, end = period_bounds("month", now)
    facts = index.facts()
    everything, timelines = case_store.all(), case_store.timelines(c.id for c in case_store.all())
    city, groups = indicators_of(facts.facts, start, end, now + 10_000, by=("district", "department"))
    assert city == indicators(everything, timelines, start, end, now + 10_000)
    assert groups["department"] == indicators_by(everything, timelines, "department", start, end, now + 10_000)
    assert city.registered == 6 and city.handled == 3


def test_facts_follow_a_transition_after_they_were_loaded(index, case_service, case_store, now):
    case = dispatched_case(case_service, now)
    before = {f.id: f for f in index.facts().facts}[case.id]
    handled = case_service.act(case.id, "handle", Principal("h", frozenset({"handler"}), department=case.department),
                               now_ms=now + 4000)
    after = {f.id: f for f in index.facts().facts}[case.id]
    assert before.handled_at == () and after.handled_at == (now + 4000,)
    assert after == indicator_facts(handled, case_store.timeline(case.id))


def test_an_emptied_redis_makes_the_index_start_over(index, case_service, redis_client, now):
    report(case_service, now, 1)
    assert len(index.facts().facts) == 1 and len(index.open_cases()) == 1
    redis_client.flushall()
    assert index.open_cases() == []
    assert index.facts().facts == ()


def test_steps_are_the_timeline_without_notes_across_script_batches(case_store, case_service, now):
    cases = [report(case_service, now, n) for n in range(STEPS_BATCH + 3)]
    case_service.act(cases[-1].id, "reject", DISPATCHER, note="重复 | 无效", now_ms=now + 1000)
    steps = case_store.steps(c.id for c in cases)
    assert len(steps) == len(cases)
    for case in (cases[0], cases[-1]):
        assert [(s.action, s.from_stage, s.to_stage, s.at) for s in steps[case.id]] == \
            [(e.action, e.from_stage, e.to_stage, e.at) for e in case_store.timeline(case.id)]


def test_redis_emptied_and_filled_again_to_the_same_revision_is_noticed(index, case_service, redis_client, now):
    first = report(case_service, now, 1)
    assert [c.id for c in index.open_cases()] == [first.id]
    redis_client.flushall()
    again = case_service.report(class_code="10105", lat=YANGSHE[0], lon=YANGSHE[1], source="phone", actor="hotline",
                                now_ms=now + 5000)[0]
    assert again.id == first.id  # the same id and revision, another case
    assert [c.class_code for c in index.open_cases()] == ["10105"]


def test_the_open_list_stays_oldest_first_as_cases_are_filed_changed_and_ended(index, case_service, now):
    cases = [report(case_service, now + 60_000 * (n % 3), n) for n in range(9)]
    index.open_cases()
    case_service.act(cases[4].id, "reject", DISPATCHER, note="不属于受理范围", now_ms=now + 300_000)
    case_service.act(cases[1].id, "accept", DISPATCHER, now_ms=now + 300_000)
    late = report(case_service, now - 60_000, 20)  # filed with an earlier time: its place is first
    listed = index.open_cases()
    assert listed == sorted(listed, key=lambda c: (c.created_at, c.id))
    assert {c.id for c in listed} == {c.id for c in cases if c.id != cases[4].id} | {late.id}
    assert listed[0].id == late.id


def test_the_open_changes_since_a_generation_name_the_cases_changed_and_the_ended_ones(index, case_service, now):
    kept, ended, untouched = report(case_service, now, 1), report(case_service, now, 2), report(case_service, now, 3)
    _, generation = index.open_state()
    assert index.open_changes_since(generation) == (generation, {})
    case_service.act(ended.id, "reject", DISPATCHER, note="不属于受理范围", now_ms=now + 1000)
    accepted = case_service.act(kept.id, "accept", DISPATCHER, now_ms=now + 1000)
    new = report(case_service, now, 4)
    listed, later = index.open_state()
    assert later > generation and untouched.id in {c.id for c in listed}
    assert index.open_changes_since(generation) == (later, {ended.id: None, kept.id: accepted, new.id: new})
    assert index.open_changes_since(later) == (later, {})


def test_changes_from_before_the_index_started_over_are_not_known(index, case_service, redis_client, now):
    report(case_service, now, 1)
    _, generation = index.open_state()
    redis_client.flushall()
    report(case_service, now, 2)
    index.open_state()
    assert index.open_changes_since(generation) is None


def test_without_a_record_the_indicator_cache_computes_from_the_index_in_the_background(index, case_service, now):
    from ioc.reports.cache import IndexSource, IndicatorCache

    for n in range(4):
        dispatched_case(case_service, now, n)
    start, end = period_bounds("month", now)
    cache = IndicatorCache(IndexSource(index), interval_s=3600, first_wait_s=0)
    first = cache.get(start, end, now + 10_000)
    deadline = time.monotonic() + 30
    while cache.get(start, end, now + 10_000) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first is None
    # the thread computes as of the clock: the fixture's month is over, so as of its end
    assert cache.get(start, end, now + 10_000) == indicators_of(index.facts().facts, start, end, as_of_now(end),
                                                                 by=("district", "department"))


def test_a_small_city_s_indicators_are_answered_at_the_first_ask(index, case_service, now):
    from ioc.reports.cache import IndexSource, IndicatorCache

    dispatched_case(case_service, now)
    start, end = period_bounds("month", now)
    cache = IndicatorCache(IndexSource(index), interval_s=3600, first_wait_s=30)  # waits at most this long
    assert cache.get(start, end, now + 10_000) == indicators_of(index.facts().facts, start, end, as_of_now(end),
                                                                by=("district", "department"))


def test_a_prepared_period_is_computed_once_and_kept_fresh_only_once_viewed(index, case_service, now):
    from ioc.reports.cache import IndexSource, IndicatorCache

    case = dispatched_case(case_service, now)
    start, end = period_bounds("month", now)
    cache = IndicatorCache(IndexSource(index), interval_s=3600, first_wait_s=0)
    cache.prepare(start, end)
    deadline = time.monotonic() + 30
    while cache.computed < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    case_service.act(case.id, "handle", Principal("h", frozenset({"handler"}), department=case.department), now_ms=now + 4000)
    assert cache.update(now + 10_000) == 0  # prepared, not viewed: not recomputed
    prepared = cache.get(start, end, now + 10_000)
    assert prepared is not None and prepared[0].handled == 0  # the first viewer has figures at once
    deadline = time.monotonic() + 30  # viewed: recomputed in the background
    while cache.get(start, end, now + 10_000)[0].handled != 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cache.get(start, end, now + 10_000)[0].handled == 1


def test_the_index_indicator_cache_recomputes_after_a_case_changed(index, case_service, now):
    from ioc.reports.cache import IndexSource, IndicatorCache

    case = dispatched_case(case_service, now)
    start, end = period_bounds("month", now)
    cache = IndicatorCache(IndexSource(index), interval_s=3600, first_wait_s=0)
    cache.get(start, end, now + 10_000)
    cache.update(now + 10_000)
    before = cache.get(start, end, now + 10_000)[0]
    case_service.act(case.id, "handle", Principal("h", frozenset({"handler"}), department=case.department), now_ms=now + 4000)
    assert cache.update(now + 10_000) == 1
    assert before.handled == 0 and cache.get(start, end, now + 10_000)[0].handled == 1
