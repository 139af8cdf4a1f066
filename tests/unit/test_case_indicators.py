"""Specification of the case evaluation indicators (ioc.domain.case_indicators): hand-computed
counts and rates for January 2026 (China time), stage times, grouping, periods and the ranking."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ioc.domain.case_indicators import (FORMULAS, Indicators, as_of_now, indicator_facts, indicator_facts_of_record,
                                        indicators, indicators_by, indicators_of, period_bounds,
                                        rank_departments, score)
from ioc.domain.cases import TRANSITIONS, Case, CaseEvent

CN = timezone(timedelta(hours=8))
H = 3_600_000


def at(month: int, day: int, hour: int = 0, year: int = 2026) -> int:
    """Epoch ms of a China-time instant."""
    return int(datetime(year, month, day, hour, tzinfo=CN).timestamp() * 1000)


JAN = (at(1, 1), at(2, 1))
ROLE = {"accept": "dispatcher", "reject": "dispatcher", "merge": "dispatcher", "dispatch": "dispatcher",
        "approve_deferral": "dispatcher", "deny_deferral": "dispatcher", "close": "dispatcher",
        "verify": "inspector", "void": "inspector", "check_pass": "inspector", "check_fail": "inspector",
        "urge": "leader"}
TO_DISPATCH = ("accept", "verify", "dispatch")


def make(case_id: str, created: int, steps, due_at: int = 0, district: str = "yangshe",
         department: str = "water_affairs", source: str = "hotline", class_code: str = "10105",
         report_event: bool = True) -> tuple[Case, list[CaseEvent]]:
    """A case and its timeline from (action, at) steps, stages following the workflow's TRANSITIONS."""
    stage = "reported"
    events = [CaseEvent(case_id, "report", "citizen", "public", "", "reported", created)] if report_event else []
    deferrals = 0
    for action, when in steps:
        to = TRANSITIONS[action].to_stage or stage
        events.append(CaseEvent(case_id, action, "u", ROLE.get(action, "handler"), stage, to, when))
        deferrals += action == "approve_deferral"
        stage = to
    closed_at = next((e.at for e in events if e.action == "close"), 0)
    case = Case(case_id, class_code, 31.87, 120.55, district, source, created, stage=stage, due_at=due_at,
                department=department if any(a == "dispatch" for a, _ in steps) else "", closed_at=closed_at,
                deferral_count=deferrals)
    return case, events


def dispatched(t0: int):
    """accept, verify, dispatch one hour apart from t0."""
    return [(a, t0 + i * H) for i, a in enumerate(TO_DISPATCH, 1)]


def closes(t0: int):
    """handle, check_pass, close one hour apart from t0."""
    return [("handle", t0), ("check_pass", t0 + H), ("close", t0 + 2 * H)]


def january_cases() -> tuple[list[Case], dict[str, list[CaseEvent]]]:
    """Nine cases, hand-counted for January:

    A closed on time · B closed late · C open past due · D open past due since December (backlog) ·
    E open under an approved deferral · F open, due in February · G closed in December ·
    H not accepted · I reworked once, then closed on time.
    """
    built = [
        make("A", at(1, 2), dispatched(at(1, 2)) + closes(at(1, 3)), due_at=at(1, 5)),
        make("B", at(1, 2), dispatched(at(1, 2)) + closes(at(1, 9)), due_at=at(1, 6)),
        make("C", at(1, 5), dispatched(at(1, 5)), due_at=at(1, 8)),
        make("D", at(12, 20, year=2025), dispatched(at(12, 20, year=2025)), due_at=at(12, 25, year=2025)),
        make("E", at(1, 20),
             dispatched(at(1, 20)) + [("request_deferral", at(1, 22)), ("approve_deferral", at(1, 22, 2))],
             due_at=at(2, 10)),
        make("F", at(1, 25), dispatched(at(1, 25)), due_at=at(2, 3)),
        make("G", at(12, 1, year=2025), dispatched(at(12, 1, year=2025)) + closes(at(12, 4, year=2025)),
             due_at=at(12, 6, year=2025)),
        make("H", at(1, 3), [("reject", at(1, 3, 1))]),
        make("I", at(1, 10), dispatched(at(1, 10)) + [("handle", at(1, 11)), ("check_fail", at(1, 12)),
                                                       ("handle", at(1, 13))] + closes(at(1, 14))[1:],
             due_at=at(1, 15)),
    ]
    return [c for c, _ in built], {c.id: evs for c, evs in built}


@pytest.fixture
def jan() -> Indicators:
    cases, events = january_cases()
    return indicators(cases, events, *JAN)


# --- counts (hand-computed for the nine January cases) ---------------------------------------

def test_registered_counts_the_cases_first_dispatched_in_the_period(jan):
    assert jan.registered == 6  # A B C E F I (D and G were dispatched in December, H never)


def test_due_is_closed_in_the_period_plus_open_past_due_plus_open_deferred(jan):
    assert jan.due == 6  # closed A B I + past due C D + deferred E


def test_closed_counts_the_closures_in_the_period(jan):
    assert jan.closed == 3  # A B I


def test_closed_on_time_counts_closures_at_or_before_the_due_time(jan):
    assert jan.closed_on_time == 2  # A I (B closed four days late)


def test_deferred_counts_open_cases_under_an_approved_deferral(jan):
    assert jan.deferred == 1  # E


def test_overdue_is_open_past_due_plus_closed_late(jan):
    assert jan.overdue == 3  # C D open past due, B closed late


def test_handled_counts_cases_reported_handled_in_the_period(jan):
    assert jan.handled == 3  # A B I (I handled twice, counted once)


def test_rework_counts_handled_cases_that_failed_a_check(jan):
    assert jan.rework == 1  # I


# --- rates --------------------------------------------------------------------------------

def test_closure_rate_is_closed_over_due_minus_deferred(jan):
    assert jan.closure_rate == pytest.approx(3 / 5)


def test_on_time_rate_is_closed_on_time_over_due_minus_deferred(jan):
    assert jan.on_time_rate == pytest.approx(2 / 5)


def test_overdue_rate_is_overdue_over_due_minus_deferred(jan):
    assert jan.overdue_rate == pytest.approx(3 / 5)


def test_on_time_and_overdue_rates_add_up_to_one(jan):
    assert jan.on_time_rate + jan.overdue_rate == pytest.approx(1.0)


def test_deferral_rate_is_deferred_over_due(jan):
    assert jan.deferral_rate == pytest.approx(1 / 6)


def test_rework_rate_is_rework_over_handled(jan):
    assert jan.rework_rate == pytest.approx(1 / 3)


# --- definitions at the edges ----------------------------------------------------------------

def test_a_case_closed_in_the_period_counts_even_when_due_later():
    case, events = make("X", at(1, 2), dispatched(at(1, 2)) + closes(at(1, 3)), due_at=at(3, 1))
    ind = indicators([case], events, *JAN)
    assert (ind.due, ind.closed, ind.closed_on_time) == (1, 1, 1)


def test_a_closure_exactly_at_the_due_time_is_on_time():
    case, events = make("X", at(1, 2), dispatched(at(1, 2)) + closes(at(1, 3)), due_at=at(1, 3, 2))
    assert indicators([case], events, *JAN).closed_on_time == 1


def test_a_closed_case_without_a_due_time_is_on_time():
    case, events = make("X", at(1, 2), dispatched(at(1, 2)) + closes(at(1, 3)), due_at=0)
    assert indicators([case], events, *JAN).closed_on_time == 1


def test_an_open_case_without_a_due_time_is_not_due():
    case, events = make("X", at(1, 2), dispatched(at(1, 2)), due_at=0)
    assert indicators([case], events, *JAN).due == 0


def test_a_case_closed_before_the_period_is_not_due_in_it():
    case, events = make("X", at(12, 1, year=2025), dispatched(at(12, 1, year=2025)) + closes(at(12, 2, year=2025)),
                        due_at=at(1, 10))
    assert indicators([case], events, *JAN).due == 0


def test_an_open_case_not_yet_due_is_not_due():
    case, events = make("X", at(1, 25), dispatched(at(1, 25)), due_at=at(2, 3))
    assert indicators([case], events, *JAN).due == 0


def test_a_backlog_case_due_before_the_period_counts_as_due_and_overdue():
    case, events = make("X", at(11, 1, year=2025), dispatched(at(11, 1, year=2025)), due_at=at(11, 2, year=2025))
    ind = indicators([case], events, *JAN)
    assert (ind.due, ind.overdue) == (1, 1)


@pytest.mark.parametrize("steps", [[("reject", at(1, 2, 1))], [("accept", at(1, 2, 1)), ("void", at(1, 2, 2))],
                                   [("merge", at(1, 2, 1))], [("accept", at(1, 2, 1))]])
def test_cases_never_dispatched_count_nowhere_but_stage_times(steps):
    case, events = make("X", at(1, 2), steps, due_at=at(1, 3))
    ind = indicators([case], events, *JAN)
    assert (ind.registered, ind.due, ind.overdue, ind.deferred) == (0, 0, 0, 0)


def test_a_case_deferred_twice_counts_once():
    steps = dispatched(at(1, 2)) + [("request_deferral", at(1, 3)), ("approve_deferral", at(1, 3, 1)),
                                    ("request_deferral", at(1, 10)), ("approve_deferral", at(1, 10, 1))]
    case, events = make("X", at(1, 2), steps, due_at=at(2, 20))
    assert indicators([case], events, *JAN).deferred == 1


def test_a_deferred_case_past_its_moved_due_time_is_overdue_not_deferred():
    steps = dispatched(at(1, 2)) + [("request_deferral", at(1, 3)), ("approve_deferral", at(1, 3, 1))]
    case, events = make("X", at(1, 2), steps, due_at=at(1, 20))
    ind = indicators([case], events, *JAN)
    assert (ind.deferred, ind.overdue, ind.due) == (0, 1, 1)


def test_a_deferred_case_closed_in_the_period_counts_as_closed_not_deferred():
    steps = dispatched(at(1, 2)) + [("request_deferral", at(1, 3)), ("approve_deferral", at(1, 3, 1))] \
        + closes(at(1, 9))
    case, events = make("X", at(1, 2), steps, due_at=at(1, 12))
    ind = indicators([case], events, *JAN)
    assert (ind.closed, ind.closed_on_time, ind.deferred) == (1, 1, 0)


def test_a_denied_deferral_does_not_defer():
    steps = dispatched(at(1, 2)) + [("request_deferral", at(1, 3)), ("deny_deferral", at(1, 3, 1))]
    case, events = make("X", at(1, 2), steps, due_at=at(2, 12))
    assert indicators([case], events, *JAN).deferred == 0


def test_a_returned_and_redispatched_case_is_registered_once():
    steps = dispatched(at(1, 2)) + [("return", at(1, 3)), ("dispatch", at(1, 4))]
    case, events = make("X", at(1, 2), steps, due_at=at(1, 10))
    ind = indicators([case], events, *JAN)
    assert (ind.registered, ind.due) == (1, 1)


def test_rework_counts_a_check_failed_before_the_period_when_handled_again_in_it():
    steps = dispatched(at(12, 28, year=2025)) + [
        ("handle", at(12, 29, year=2025)), ("check_fail", at(12, 30, year=2025)), ("handle", at(1, 2))]
    case, events = make("X", at(12, 28, year=2025), steps, due_at=at(1, 5))
    ind = indicators([case], events, *JAN)
    assert (ind.handled, ind.rework) == (1, 1)


# --- evaluated part-way through a period -------------------------------------------------------

def test_mid_period_an_open_case_due_later_in_the_period_is_not_yet_due():
    case, events = make("X", at(1, 2), dispatched(at(1, 2)), due_at=at(1, 20))
    ind = indicators([case], events, *JAN, now_ms=at(1, 10))
    assert (ind.due, ind.overdue, ind.as_of_ms) == (0, 0, at(1, 10))


def test_mid_period_a_closure_after_now_is_ignored():
    case, events = make("X", at(1, 2), dispatched(at(1, 2)) + closes(at(1, 15)), due_at=at(1, 5))
    ind = indicators([case], events, *JAN, now_ms=at(1, 10))
    assert (ind.closed, ind.overdue) == (0, 1)


def test_a_closure_in_the_millisecond_of_the_request_counts_as_of_that_request():
    case, events = make("X", at(1, 2), dispatched(at(1, 2)) + closes(at(1, 10)), due_at=at(1, 20))
    closed_at = at(1, 10) + 2 * H
    assert indicators([case], events, *JAN, now_ms=closed_at).closed == 0  # "as of" is exclusive
    assert indicators([case], events, *JAN, now_ms=as_of_now(closed_at)).closed_on_time == 1


def test_a_past_period_is_evaluated_at_its_end_whatever_now_is():
    cases, events = january_cases()
    assert indicators(cases, events, *JAN, now_ms=at(6, 1)) == indicators(cases, events, *JAN)


def test_a_period_that_ends_before_it_starts_is_refused():
    with pytest.raises(ValueError, match="must end after it starts"):
        indicators([], {}, JAN[1], JAN[0])


# --- inputs ---------------------------------------------------------------------------------

def test_a_flat_event_list_gives_the_same_indicators_as_a_dict(jan):
    cases, events = january_cases()
    flat = [e for evs in events.values() for e in reversed(evs)]  # order does not matter either
    assert indicators(cases, flat, *JAN) == jan


def test_a_case_without_a_timeline_is_registered_by_its_stage():
    case = Case("X", "10105", 31.87, 120.55, "yangshe", "hotline", at(1, 2), stage="dispatched",
                department="water_affairs", due_at=at(1, 5))
    ind = indicators([case], None, *JAN)
    assert (ind.registered, ind.due, ind.overdue) == (1, 1, 1)


def test_a_case_without_a_timeline_is_deferred_by_its_deferral_count():
    case = Case("X", "10105", 31.87, 120.55, "yangshe", "hotline", at(1, 2), stage="dispatched",
                department="water_affairs", due_at=at(2, 5), deferral_count=1)
    assert indicators([case], {}, *JAN).deferred == 1


# --- zero denominators -----------------------------------------------------------------------

def test_no_cases_give_zero_counts_and_no_rates():
    d = indicators([], {}, *JAN).to_dict()
    assert (d["due"], d["closure_rate"], d["on_time_rate"], d["overdue_rate"], d["deferral_rate"], d["rework_rate"]) \
        == (0, None, None, None, None, None)


def test_when_every_due_case_is_deferred_the_closure_rates_are_none_and_the_deferral_rate_is_one():
    steps = dispatched(at(1, 2)) + [("request_deferral", at(1, 3)), ("approve_deferral", at(1, 3, 1))]
    case, events = make("X", at(1, 2), steps, due_at=at(2, 20))
    ind = indicators([case], events, *JAN)
    assert (ind.closure_rate, ind.on_time_rate, ind.overdue_rate, ind.deferral_rate) == (None, None, None, 1.0)


def test_with_nothing_handled_the_rework_rate_is_none():
    case, events = make("X", at(1, 2), dispatched(at(1, 2)), due_at=at(1, 5))
    assert indicators([case], events, *JAN).rework_rate is None


# --- mean time per stage ---------------------------------------------------------------------

def test_mean_stage_hours_averages_the_stays_that_ended_in_the_period(jan):
    # dispatched stays: A 21 h, B 165 h, I 21 h then 24 h after the rework (C D E F still there,
    # G's ended in December) -> (21 + 165 + 21 + 24) / 4
    assert jan.mean_stage_hours["dispatched"] == pytest.approx(231 / 4)
    assert jan.stage_stays["dispatched"] == 4


def test_a_reworked_case_adds_a_second_stay_in_the_stage():
    steps = dispatched(at(1, 2)) + [("handle", at(1, 2, 5)), ("check_fail", at(1, 2, 7)), ("handle", at(1, 2, 10))]
    case, events = make("X", at(1, 2), steps, due_at=at(1, 5))
    ind = indicators([case], events, *JAN)
    assert (ind.stage_stays["handled"], ind.mean_stage_hours["handled"]) == (1, 2.0)
    assert (ind.stage_stays["dispatched"], ind.mean_stage_hours["dispatched"]) == (2, 2.5)  # 2 h, then 3 h


def test_the_first_stay_starts_at_the_report_event():
    case, events = make("X", at(1, 2), [("accept", at(1, 2, 4))], report_event=True)
    assert indicators([case], events, *JAN).mean_stage_hours == {"reported": 4.0}


def test_without_a_report_event_the_first_stay_starts_at_creation():
    case, events = make("X", at(1, 2), [("accept", at(1, 2, 6))], report_event=False)
    assert indicators([case], events, *JAN).mean_stage_hours == {"reported": 6.0}


def test_stays_not_yet_left_or_left_outside_the_period_are_not_averaged():
    case, events = make("X", at(12, 31, 20, year=2025), [("accept", at(12, 31, 22, year=2025))])
    assert indicators([case], events, *JAN).mean_stage_hours == {}


def test_actions_that_keep_the_stage_do_not_split_a_stay():
    steps = dispatched(at(1, 2)) + [("acknowledge", at(1, 2, 4)), ("urge", at(1, 2, 5)), ("handle", at(1, 2, 9))]
    case, events = make("X", at(1, 2), steps, due_at=at(1, 5))
    assert indicators([case], events, *JAN).mean_stage_hours["dispatched"] == 6.0


def test_mean_stage_hours_are_listed_in_workflow_order(jan):
    assert list(jan.mean_stage_hours) == ["reported", "accepted", "verified", "dispatched", "handled", "checked"]


# --- grouping --------------------------------------------------------------------------------

def test_indicators_by_district_splits_the_counts():
    a = make("A", at(1, 2), dispatched(at(1, 2)) + closes(at(1, 3)), due_at=at(1, 5), district="yangshe")
    b = make("B", at(1, 2), dispatched(at(1, 2)), due_at=at(1, 5), district="jingang")
    c = make("C", at(1, 2), dispatched(at(1, 2)) + closes(at(1, 9)), due_at=at(1, 5), district="yangshe")
    groups = indicators_by([a[0], b[0], c[0]], a[1] + b[1] + c[1], "district", *JAN)
    assert {k: (g.due, g.closed, g.closed_on_time, g.overdue) for k, g in groups.items()} == \
        {"jingang": (1, 0, 0, 1), "yangshe": (2, 2, 1, 1)}


def test_indicators_by_lists_the_groups_sorted_by_key():
    cases, events = january_cases()
    cases = [c if c.id != "B" else Case(**{**c.to_dict(), "media": (), "source": "camera"}) for c in cases]
    assert list(indicators_by(cases, events, "source", *JAN)) == ["camera", "hotline"]


def test_indicators_by_department_leaves_out_cases_with_no_department():
    cases, events = january_cases()
    assert list(indicators_by(cases, events, "department", *JAN)) == ["water_affairs"]  # H was never dispatched


def test_the_groups_add_up_to_the_whole():
    cases, events = january_cases()
    cases = [Case(**{**c.to_dict(), "media": (), "class_code": "A" if c.id in "ABCD" else "B"}) for c in cases]
    groups = indicators_by(cases, events, "class_code", *JAN)
    whole = indicators(cases, events, *JAN)
    assert sum(g.due for g in groups.values()) == whole.due
    assert sum(g.overdue for g in groups.values()) == whole.overdue


def test_grouping_by_an_unknown_key_is_refused():
    with pytest.raises(ValueError, match="group by one of"):
        indicators_by([], {}, "reporter", *JAN)


# --- periods (China time) --------------------------------------------------------------------

def test_a_day_runs_from_midnight_china_time():
    assert period_bounds("day", at(1, 15, 23)) == (at(1, 15), at(1, 16))


def test_just_after_utc_midnight_is_still_the_same_china_day():
    utc_0030 = int(datetime(2026, 1, 15, 0, 30, tzinfo=timezone.utc).timestamp() * 1000)  # 08:30 in China
    assert period_bounds("day", utc_0030) == (at(1, 15), at(1, 16))


def test_a_week_starts_on_monday():
    assert period_bounds("week", at(1, 15, 12)) == (at(1, 12), at(1, 19))  # Thursday 15 January 2026


def test_a_month_runs_from_the_first_to_the_first():
    assert period_bounds("month", at(1, 31, 23)) == JAN


def test_offset_minus_one_is_the_month_before_across_the_year():
    assert period_bounds("month", at(1, 15), offset=-1) == (at(12, 1, year=2025), at(1, 1))


def test_a_quarter_runs_over_three_calendar_months():
    assert period_bounds("quarter", at(5, 20)) == (at(4, 1), at(7, 1))


def test_a_year_runs_from_the_first_of_january():
    assert period_bounds("year", at(5, 20)) == (at(1, 1), at(1, 1, year=2027))


def test_an_unknown_period_is_refused():
    with pytest.raises(ValueError, match="periods are"):
        period_bounds("fortnight", at(1, 1))


# --- score and ranking -----------------------------------------------------------------------

def ind(due=10, closed=10, on_time=10, deferred=0, overdue=0, handled=10, rework=0) -> Indicators:
    return Indicators(*JAN, JAN[1], 0, due, closed, on_time, deferred, overdue, handled, rework)


def test_score_weights_on_time_40_closure_30_rework_20_overdue_10():
    # on time 8/10, closed 9/10, rework 1/4, overdue 2/10 -> 100 × (0.32 + 0.27 + 0.15 + 0.08)
    assert score(ind(closed=9, on_time=8, overdue=2, handled=4, rework=1)) == 82.0


def test_a_perfect_group_scores_100():
    assert score(ind()) == 100.0


def test_a_group_that_handled_nothing_counts_as_rework_free():
    assert score(ind(handled=0, rework=0)) == 100.0


def test_a_group_with_no_assessed_due_cases_has_no_score():
    assert score(ind(due=2, closed=0, on_time=0, deferred=2)) is None


def test_ranking_lists_the_best_score_first_with_rank_numbers():
    ranked = rank_departments({"a": ind(on_time=5, overdue=5), "b": ind(), "c": ind(on_time=8, overdue=2)})
    assert [(r.rank, r.key, r.score) for r in ranked] == [(1, "b", 100.0), (2, "c", 90.0), (3, "a", 75.0)]


def test_equal_scores_share_a_rank_listed_by_key_and_the_next_rank_skips():
    ranked = rank_departments({"z": ind(), "m": ind(on_time=5, overdue=5), "a": ind()})
    assert [(r.rank, r.key) for r in ranked] == [(1, "a"), (1, "z"), (3, "m")]


def test_groups_without_due_cases_are_ranked_last_with_no_score():
    ranked = rank_departments({"idle": ind(due=0, closed=0, on_time=0), "b": ind(on_time=5, overdue=5)})
    assert [(r.rank, r.key, r.score) for r in ranked] == [(1, "b", 75.0), (None, "idle", None)]


def test_ranking_takes_the_output_of_indicators_by_department():
    a = make("A", at(1, 2), dispatched(at(1, 2)) + closes(at(1, 3)), due_at=at(1, 5), department="lights")
    b = make("B", at(1, 2), dispatched(at(1, 2)), due_at=at(1, 5), department="water")
    ranked = rank_departments(indicators_by([a[0], b[0]], a[1] + b[1], "department", *JAN))
    assert [(r.rank, r.key, r.score) for r in ranked] == [(1, "lights", 100.0), (2, "water", 20.0)]
    assert ranked[0].to_dict()["indicators"]["closed"] == 1


# --- presentation ----------------------------------------------------------------------------

def test_to_dict_carries_counts_rates_and_stage_times(jan):
    d = jan.to_dict()
    assert (d["due"], d["assessed"], d["closure_rate"], d["stage_stays"]["dispatched"]) == (6, 5, pytest.approx(0.6), 4)


def test_every_indicator_in_to_dict_has_a_formula_in_chinese_and_english(jan):
    shown = set(jan.to_dict()) - {"start_ms", "end_ms", "as_of_ms", "assessed", "stage_stays"}
    assert shown <= set(FORMULAS)
    assert all(f["zh"] and f["en"] for f in FORMULAS.values())


# --- facts: one per case, computed once, any period from memory ----------------------------------

def test_one_pass_gives_the_whole_and_every_grouping_as_separate_calls_do():
    cases, events = january_cases()
    facts = [indicator_facts(c, events[c.id]) for c in cases]
    whole, groups = indicators_of(facts, *JAN, by=("district", "department", "source"))
    assert whole == indicators(cases, events, *JAN)
    for key in ("district", "department", "source"):
        assert groups[key] == indicators_by(cases, events, key, *JAN)


def test_the_facts_of_a_stored_case_dict_are_the_facts_of_the_case():
    cases, events = january_cases()
    for case in cases:
        assert indicator_facts_of_record(case.to_dict(), events[case.id]) == indicator_facts(case, events[case.id])
    assert indicator_facts_of_record(cases[0].to_dict()) == indicator_facts(cases[0])


def test_cases_reported_after_the_period_or_ended_before_it_add_nothing():
    cases, events = january_cases()
    facts = [indicator_facts(c, events[c.id]) for c in cases]
    relevant = [f for f in facts if f.id not in ("G",)]  # G closed in December
    assert indicators_of(facts, *JAN)[0] == indicators_of(relevant, *JAN)[0]
    assert indicators_of(facts, at(3, 1), at(4, 1))[0].due == 4  # C, D, E and F still open, past due, in March


def test_one_pass_refuses_an_unknown_grouping():
    with pytest.raises(ValueError, match="group by one of"):
        indicators_of([], *JAN, by=("colour",))
