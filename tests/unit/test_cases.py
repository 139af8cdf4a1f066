"""Specification of the case workflow (ioc.domain.cases): seven stages, the real branches, and
who may take each action."""

from __future__ import annotations

import pytest

from ioc.domain.access import Principal
from ioc.domain.cases import (STAGES, TRANSITIONS, Case, CaseActionError, CasePermissionError, allowed_actions,
                              apply)

T0 = 1_764_000_000_000
DISPATCHER = Principal("li", frozenset({"dispatcher"}))
INSPECTOR = Principal("zhao", frozenset({"inspector"}))
LEADER = Principal("chen", frozenset({"leader"}))
OPERATOR = Principal("wang", frozenset({"operator"}))
WATER = Principal("h-water", frozenset({"handler"}), department="water_affairs")
LIGHTS = Principal("h-lights", frozenset({"handler"}), department="street_lighting")
KIOSK = Principal("kiosk:wall", frozenset({"operator"}), kind="kiosk", read_only=True)


@pytest.fixture
def case() -> Case:
    return Case("C1", "10105", 31.87, 120.55, "yangshe", "hotline", T0)


def run(case: Case, *steps) -> Case:
    """Apply (action, actor, params) steps one minute apart."""
    for i, (action, actor, params) in enumerate(steps, 1):
        case, _ = apply(case, action, actor, T0 + i * 60_000, **params)
    return case


def to_dispatched(case: Case, department: str = "water_affairs") -> Case:
    return run(case, ("accept", DISPATCHER, {}), ("verify", INSPECTOR, {}), ("dispatch", DISPATCHER, {"department": department}))


def test_the_main_line_runs_through_the_seven_stages(case):
    seen = [case.stage]
    for action, actor, params in (("accept", DISPATCHER, {}), ("verify", INSPECTOR, {}),
                                  ("dispatch", DISPATCHER, {"department": "water_affairs"}), ("handle", WATER, {}),
                                  ("check_pass", INSPECTOR, {}), ("close", DISPATCHER, {})):
        case, _ = apply(case, action, actor, T0 + len(seen) * 60_000, **params)
        seen.append(case.stage)
    assert tuple(seen) == STAGES
    assert case.closed_at == T0 + 6 * 60_000 and not case.is_open


def test_every_transition_bumps_the_version_and_records_an_event(case):
    changed, event = apply(case, "accept", DISPATCHER, T0 + 1000)
    assert changed.version == case.version + 1
    assert (event.action, event.actor, event.role, event.from_stage, event.to_stage, event.at) == \
        ("accept", "li", "dispatcher", "reported", "accepted", T0 + 1000)


def test_a_report_not_accepted_ends_as_rejected_with_its_reason(case):
    changed, event = apply(case, "reject", DISPATCHER, T0, note="不属于城管范围")
    assert changed.stage == "rejected" and not changed.is_open and event.note == "不属于城管范围"


def test_a_report_the_inspector_cannot_find_is_voided(case):
    case = run(case, ("accept", DISPATCHER, {}), ("void", INSPECTOR, {"note": "现场未发现"}))
    assert case.stage == "voided"


def test_a_department_returns_a_misdispatched_task_for_dispatch_again(case):
    case = to_dispatched(case, "street_lighting")
    case = run(case, ("return", LIGHTS, {"note": "非路灯问题"}))
    assert (case.stage, case.return_count, case.department) == ("verified", 1, "street_lighting")
    case = run(case, ("dispatch", DISPATCHER, {"department": "water_affairs"}), ("handle", WATER, {}))
    assert case.stage == "handled"


def test_a_failed_check_sends_the_case_back_to_the_department_and_counts_as_rework(case):
    case = run(to_dispatched(case), ("handle", WATER, {}), ("check_fail", INSPECTOR, {"note": "井盖仍松动"}))
    assert (case.stage, case.rework_count) == ("dispatched", 1)


def test_a_deferral_is_requested_by_the_department_and_approved_by_the_dispatcher(case):
    case = run(to_dispatched(case), ("request_deferral", WATER, {"note": "等待配件", "hours": 8}))
    assert case.pending_deferral["hours"] == 8
    case = run(case, ("approve_deferral", DISPATCHER, {}))
    assert (case.pending_deferral, case.deferral_count, case.deferred_hours) == ({}, 1, 8)


def test_a_denied_deferral_changes_no_deadline_count(case):
    case = run(to_dispatched(case), ("request_deferral", WATER, {"note": "等待配件", "hours": 8}),
               ("deny_deferral", DISPATCHER, {"note": "可先临时处置"}))
    assert (case.pending_deferral, case.deferral_count) == ({}, 0)


def test_only_one_deferral_request_waits_at_a_time(case):
    case = run(to_dispatched(case), ("request_deferral", WATER, {"note": "等待配件", "hours": 8}))
    with pytest.raises(CaseActionError, match="already waiting"):
        apply(case, "request_deferral", WATER, T0, note="again", hours=4)


@pytest.mark.parametrize("hours", [0, -1, 24 * 31, "8"])
def test_a_deferral_asks_for_a_sensible_number_of_hours(case, hours):
    with pytest.raises(CaseActionError, match="hours"):
        apply(to_dispatched(case), "request_deferral", WATER, T0, note="x", hours=hours)


def test_a_leader_urges_an_open_case_without_moving_it(case):
    changed, event = apply(case, "urge", LEADER, T0, note="请加快处置")
    assert (changed.stage, changed.urge_count, event.role) == ("reported", 1, "leader")


def test_a_duplicate_report_merges_into_its_master_case(case):
    changed, event = apply(case, "merge", DISPATCHER, T0, master_id="C0")
    assert (changed.stage, changed.master_id, event.detail) == ("merged", "C0", {"master_id": "C0"})


def test_a_case_cannot_merge_into_itself(case):
    with pytest.raises(CaseActionError, match="another case"):
        apply(case, "merge", DISPATCHER, T0, master_id="C1")


@pytest.mark.parametrize("action, params", [("reject", {}), ("void", {}), ("return", {}), ("check_fail", {}),
                                            ("request_deferral", {"hours": 4}), ("deny_deferral", {})])
def test_actions_that_turn_a_case_back_need_a_note(action, params):
    assert TRANSITIONS[action].note_required


def test_an_action_from_the_wrong_stage_is_refused_with_the_stages_that_allow_it(case):
    with pytest.raises(CaseActionError, match="only from handled"):
        apply(case, "check_pass", INSPECTOR, T0)


@pytest.mark.parametrize("actor", [OPERATOR, INSPECTOR, LEADER, WATER, KIOSK])
def test_only_a_dispatcher_accepts_a_report(case, actor):
    with pytest.raises(CasePermissionError):
        apply(case, "accept", actor, T0)


def test_a_handler_acts_only_on_its_own_departments_tasks(case):
    case = to_dispatched(case, "water_affairs")
    with pytest.raises(CasePermissionError, match="not to street_lighting"):
        apply(case, "handle", LIGHTS, T0)


def test_dispatch_needs_a_department(case):
    case = run(case, ("accept", DISPATCHER, {}), ("verify", INSPECTOR, {}))
    with pytest.raises(CaseActionError, match="department"):
        apply(case, "dispatch", DISPATCHER, T0)


def test_a_department_acknowledges_once(case):
    case = run(to_dispatched(case), ("acknowledge", WATER, {}))
    assert case.acknowledged_at and case.stage == "dispatched"
    with pytest.raises(CaseActionError, match="already acknowledged"):
        apply(case, "acknowledge", WATER, T0)


def test_an_ended_case_takes_no_action(case):
    case, _ = apply(case, "reject", DISPATCHER, T0, note="重复")
    for action in TRANSITIONS:
        assert action not in allowed_actions(case, Principal("all", frozenset({"dispatcher", "inspector", "leader"})))


def test_allowed_actions_lists_what_the_principal_may_do_now(case):
    assert set(allowed_actions(case, DISPATCHER)) == {"accept", "reject", "merge"}
    assert allowed_actions(case, LEADER) == ["urge"]
    assert allowed_actions(case, OPERATOR) == [] and allowed_actions(case, KIOSK) == []
    dispatched = to_dispatched(case)
    assert set(allowed_actions(dispatched, WATER)) == {"acknowledge", "return", "handle", "request_deferral"}
    assert allowed_actions(dispatched, LIGHTS) == []


def test_overdue_means_open_and_past_the_stage_deadline(case):
    from dataclasses import replace

    late = replace(case, stage_deadline=T0 + 1000)
    assert late.overdue(T0 + 1001) and not late.overdue(T0 + 999)
    assert not replace(late, stage="closed").overdue(T0 + 10**9)


def test_a_case_survives_a_round_trip_through_its_dict(case):
    case = run(to_dispatched(case), ("request_deferral", WATER, {"note": "等待配件", "hours": 8}))
    assert Case.from_dict(case.to_dict()) == case
