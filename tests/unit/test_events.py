"""Specification of linked events (ioc.domain.events): starting from a plan, the task and event
state machines, level changes, instructions, closing, timing, figures and who may do what."""

from __future__ import annotations

import copy
import json
from dataclasses import replace

import pytest

from ioc.domain.access import Principal
from ioc.domain.departments import department_ids
from ioc.domain.events import (EVENT_ACTIONS, TASK_ACTIONS, TASK_STATUSES, TASK_STEPS, Area, Event, EventError,
                               EventPermissionError, acknowledge_instruction, add_task, allowed_event_actions,
                               allowed_task_actions, cancel, change_level, check_may_take, check_may_take_task, close,
                               contain, figures, instruct, link, overdue, resolve_department, start_event, task_action,
                               task_deadline, visible_to, withdraw_task)
from ioc.domain.plans import BUILTIN_PLANS_DATA, builtin_plans, validate_plans

T0 = 1_764_000_000_000
MIN = 60_000
DISPATCHER = Principal("li", frozenset({"dispatcher"}), display_name="李娜")
LEADER = Principal("chen", frozenset({"leader"}), display_name="陈局长")
OPERATOR = Principal("wang", frozenset({"operator"}))
INSPECTOR = Principal("zhao", frozenset({"inspector"}))
ADMIN = Principal("root", frozenset({"admin"}))
REPORTER = Principal("token:12345", frozenset({"reporter"}), kind="token")
KIOSK = Principal("kiosk:wall", frozenset({"operator"}), kind="kiosk", read_only=True)
WATER = Principal("h-water", frozenset({"handler"}), display_name="水务值班", department="water_affairs")
WATER_SYSTEM = Principal("token:water-scada", frozenset({"handler"}), department="water_affairs", kind="token")
URBAN = Principal("h-urban", frozenset({"handler"}), department="urban_management")
TOWN = Principal("h-yangshe", frozenset({"handler"}), department="town_yangshe")
POLICE = Principal("h-police", frozenset({"handler"}), department="public_security")
TRANSPORT = Principal("h-transport", frozenset({"handler"}), department="transport")
TREES = Principal("h-trees", frozenset({"handler"}), department="landscaping")
HANDLERS = {p.department: p for p in (WATER, URBAN, TOWN, POLICE, TRANSPORT, TREES)}
NOT_COMMANDERS = [OPERATOR, INSPECTOR, ADMIN, REPORTER, WATER, KIOSK]


@pytest.fixture(scope="module")
def departments(city):
    return department_ids(city)


@pytest.fixture(scope="module")
def plans(departments):
    return builtin_plans(departments)


@pytest.fixture(scope="module")
def flood(plans):
    return plans["flood"]


@pytest.fixture
def event(flood) -> Event:
    """A flood event at level IV in Yangshe: water affairs (lead), city management, the town."""
    return start_event(event_id="EV-20251124-001", plan=flood, level="IV", title="杨舍城区内涝",
                       area=Area("district", district="yangshe"), district="yangshe", districts=("yangshe", "jingang"),
                       commander=DISPATCHER, now_ms=T0)


def at(minutes: float) -> int:
    return T0 + int(minutes * MIN)


def work(event: Event, *steps) -> Event:
    """Take (department, action[, note]) task steps one minute apart after the last change."""
    for step in steps:
        department, action, note = (step + ("",))[:3]
        event = task_action(event, department, action, HANDLERS[department], event.updated_at + MIN, note)
    return event


def with_status(event: Event, department: str, status: str) -> Event:
    """The event with one task put straight into `status` (to test what may follow it)."""
    task = event.task(department)
    return replace(event, tasks=tuple(replace(t, status=status) if t is task else t for t in event.tasks))


def finish(event: Event, department: str) -> Event:
    return work(event, (department, "acknowledge"), (department, "arrive"), (department, "done", "处置完毕"))


# --- starting -------------------------------------------------------------------------------------

def test_starting_issues_the_levels_tasks_with_the_district_government_for_the_territory(event, flood):
    assert [(t.department, t.role, t.status) for t in event.tasks] == [
        ("water_affairs", "lead", "issued"), ("urban_management", "support", "issued"),
        ("town_yangshe", "support", "issued")]
    lead = flood.level("IV").lead
    assert (event.lead.text_zh, event.lead.ack_min, event.lead.arrive_min, event.lead.report_min) == \
        (lead.text_zh, lead.ack_min, lead.arrive_min, lead.report_min)
    assert all(t.issued_at == T0 and t.version == 1 and t.id == t.department for t in event.tasks)


def test_a_new_event_is_active_at_version_one_under_its_commander(event):
    assert (event.status, event.version, event.plan, event.level) == ("active", 1, "flood", "IV")
    assert (event.commander, event.commander_label, event.started_at, event.updated_at) == ("li", "李娜", T0, T0)
    assert event.districts == ("yangshe", "jingang")


def test_starting_logs_the_start_and_each_issued_task(event):
    assert [e.kind for e in event.log] == ["started", "task_issued", "task_issued", "task_issued"]
    started = event.log[0]
    assert (started.actor, started.actor_label, started.role, started.at) == ("li", "李娜", "dispatcher", T0)
    assert started.params["plan"] == "flood" and started.params["level"] == "IV"
    assert event.log[3].params == {"department": "town_yangshe", "role": "support", "level": "IV"}


def test_an_event_without_a_title_is_named_after_its_plan_and_level(flood):
    event = start_event(event_id="EV-1", plan=flood, level="III", title=" ", area=Area("district", district="leyu"),
                        district="leyu", commander=LEADER, now_ms=T0)
    assert event.title == "防汛Ⅲ级响应" and event.districts == ("leyu",)
    assert event.log[0].role == "leader"


def test_the_primary_district_comes_first_among_the_districts_touched(flood):
    event = start_event(event_id="EV-1", plan=flood, level="IV", title="", area=Area("circle", (120.55, 31.87), 800),
                        district="yangshe", districts=("jingang", "yangshe"), commander=DISPATCHER, now_ms=T0)
    assert event.districts == ("yangshe", "jingang")


def test_an_event_started_from_an_alarm_a_case_or_a_proposal_keeps_the_link(flood):
    event = start_event(event_id="EV-1", plan=flood, level="IV", title="", area=Area("district", district="yangshe"),
                        district="yangshe", commander=DISPATCHER, now_ms=T0, alarms=("A7",), cases=("C3",),
                        proposal="flood:IV", note="雨量站数据确认")
    assert (event.alarms, event.cases, event.proposal) == (("A7",), ("C3",), "flood:IV")
    assert event.log[0].params["note"] == "雨量站数据确认"


def test_a_level_the_plan_lacks_is_refused(departments):
    raw = copy.deepcopy(BUILTIN_PLANS_DATA)
    raw[0]["levels"] = raw[0]["levels"][:2]
    short = validate_plans(raw, departments)["flood"]
    with pytest.raises(EventError, match="no level 'I'") as caught:
        start_event(event_id="EV-1", plan=short, level="I", title="", area=Area("district", district="yangshe"),
                    district="yangshe", commander=DISPATCHER, now_ms=T0)
    assert caught.value.field == "level"


def test_a_title_longer_than_a_line_is_refused(flood):
    with pytest.raises(EventError) as caught:
        start_event(event_id="EV-1", plan=flood, level="IV", title="内涝" * 51, area=Area("district", district="leyu"),
                    district="leyu", commander=DISPATCHER, now_ms=T0)
    assert caught.value.field == "title"


@pytest.mark.parametrize("actor", NOT_COMMANDERS, ids=lambda p: p.name)
def test_only_a_dispatcher_or_a_leader_starts_an_event(flood, actor):
    with pytest.raises(EventPermissionError):
        start_event(event_id="EV-1", plan=flood, level="IV", title="", area=Area("district", district="yangshe"),
                    district="yangshe", commander=actor, now_ms=T0)


def test_the_territory_is_the_government_of_the_events_district():
    assert resolve_department("territory", "leyu") == "town_leyu"
    assert resolve_department("transport", "leyu") == "transport"


# --- every change -----------------------------------------------------------------------------

def test_every_change_bumps_the_event_version_and_appends_to_the_log(event):
    changed = task_action(event, "water_affairs", "acknowledge", WATER, at(3))
    assert (changed.version, changed.updated_at, len(changed.log)) == (2, at(3), len(event.log) + 1)
    entry = changed.log[-1]
    assert (entry.kind, entry.actor, entry.actor_label, entry.role, entry.at) == \
        ("task_acknowledge", "h-water", "水务值班", "handler", at(3))
    assert entry.params == {"department": "water_affairs", "from": "issued", "to": "acknowledged"}


def test_a_change_bumps_only_the_version_of_the_task_it_changes(event):
    changed = task_action(event, "water_affairs", "acknowledge", WATER, at(3))
    assert [t.version for t in changed.tasks] == [2, 1, 1]


# --- the task state machine -------------------------------------------------------------------

def test_a_task_runs_from_issued_to_done_recording_each_moment(event):
    event = work(event, ("water_affairs", "acknowledge"), ("water_affairs", "arrive"), ("water_affairs", "start"),
                 ("water_affairs", "done", "泵站全部开启，积水已退"))
    task = event.task("water_affairs")
    assert task.status == "done" and task.version == 5
    assert (task.acknowledged_at, task.arrived_at, task.started_at, task.done_at) == (at(1), at(2), at(3), at(4))
    assert task.closed_note == "泵站全部开启，积水已退"


def test_a_short_job_is_done_straight_from_on_site(event):
    event = work(event, ("urban_management", "acknowledge"), ("urban_management", "arrive"),
                 ("urban_management", "done", "雨水口已清理"))
    assert event.task("urban_management").status == "done"


def test_the_first_acknowledgement_puts_the_event_in_response(event):
    event = work(event, ("urban_management", "acknowledge"))
    assert event.status == "responding"
    assert work(event, ("water_affairs", "acknowledge")).status == "responding"


def test_a_progress_report_resets_the_report_clock_without_moving_the_task(event):
    event = work(event, ("water_affairs", "acknowledge"), ("water_affairs", "arrive"),
                 ("water_affairs", "report", "3 座泵站已开启"))
    task = event.task("water_affairs")
    assert (task.status, task.last_report_at) == ("on_site", event.updated_at)
    assert event.log[-1].params["note"] == "3 座泵站已开启"


@pytest.mark.parametrize("start", ["issued", "acknowledged"])
def test_a_department_that_cannot_do_its_task_returns_it_with_a_reason(event, start):
    event = with_status(event, "town_yangshe", start)
    event = work(event, ("town_yangshe", "return", "人员已全部派出防台"))
    task = event.task("town_yangshe")
    assert (task.status, task.return_reason) == ("returned", "人员已全部派出防台")


def test_a_department_asks_for_support_without_leaving_its_step(event):
    event = work(event, ("water_affairs", "acknowledge"), ("water_affairs", "arrive"),
                 ("water_affairs", "support", "需要移动泵车 2 台"))
    task = event.task("water_affairs")
    assert (task.status, task.needs_support, task.support_note) == ("on_site", True, "需要移动泵车 2 台")


def test_finishing_a_task_clears_its_request_for_support(event):
    event = work(event, ("water_affairs", "acknowledge"), ("water_affairs", "arrive"),
                 ("water_affairs", "support", "需要移动泵车"), ("water_affairs", "done", "已处置"))
    assert event.task("water_affairs").needs_support is False


OUT_OF_ORDER = [(status, action) for action, step in TASK_STEPS.items() for status in TASK_STATUSES
                if status not in step.from_statuses]


@pytest.mark.parametrize("status, action", OUT_OF_ORDER)
def test_a_task_action_out_of_order_is_refused(event, status, action):
    event = with_status(event, "urban_management", status)
    with pytest.raises(EventError, match=f"a task {status} cannot {action}") as caught:
        task_action(event, "urban_management", action, URBAN, at(5), "备注")
    assert caught.value.field == "action"


def test_a_repeated_action_is_told_apart_from_one_out_of_order(event):
    event = work(event, ("water_affairs", "acknowledge"))
    with pytest.raises(EventError) as repeated:
        work(event, ("water_affairs", "acknowledge"))
    with pytest.raises(EventError) as early:
        work(event, ("water_affairs", "done", "完成"))
    assert (repeated.value.code, early.value.code) == ("repeat", "")


@pytest.mark.parametrize("action, status", [("report", "on_site"), ("done", "working"), ("return", "issued"),
                                            ("support", "acknowledged")])
def test_a_report_a_result_a_return_and_a_request_for_support_need_a_note(event, action, status):
    event = with_status(event, "water_affairs", status)
    with pytest.raises(EventError) as caught:
        task_action(event, "water_affairs", action, WATER, at(5), "  ")
    assert caught.value.field == "note"


def test_a_note_longer_than_a_thousand_characters_is_refused(event):
    event = with_status(event, "water_affairs", "on_site")
    with pytest.raises(EventError, match="at most 1000") as caught:
        task_action(event, "water_affairs", "report", WATER, at(5), "水" * 1001)
    assert caught.value.field == "note"


def test_a_handler_works_only_its_own_departments_task(event):
    with pytest.raises(EventPermissionError, match="water_affairs's, not urban_management's"):
        task_action(event, "water_affairs", "acknowledge", URBAN, at(1))


def test_a_departments_own_system_works_its_task_with_a_handler_token(event):
    event = task_action(event, "water_affairs", "acknowledge", WATER_SYSTEM, at(1))
    assert event.task("water_affairs").status == "acknowledged" and event.log[-1].actor == "token:water-scada"


def test_a_handler_whose_department_has_no_task_is_told_so(event):
    with pytest.raises(EventError, match="no task for landscaping") as caught:
        task_action(event, "landscaping", "acknowledge", TREES, at(1))
    assert (caught.value.field, caught.value.code) == ("department", "not_found")


@pytest.mark.parametrize("actor", [DISPATCHER, LEADER, OPERATOR, INSPECTOR, KIOSK], ids=lambda p: p.name)
def test_only_a_department_handler_takes_task_actions(event, actor):
    with pytest.raises(EventPermissionError):
        task_action(event, "water_affairs", "acknowledge", actor, at(1))


def test_a_read_only_session_takes_no_task_action_even_as_a_handler(event):
    with pytest.raises(EventPermissionError, match="read-only"):
        task_action(event, "water_affairs", "acknowledge", replace(WATER, read_only=True), at(1))


def test_an_unknown_task_action_is_refused(event):
    with pytest.raises(EventError, match="unknown task action") as caught:
        task_action(event, "water_affairs", "escalate", WATER, at(1))
    assert caught.value.field == "action"


# --- level changes ------------------------------------------------------------------------------

def test_a_level_up_issues_the_new_levels_tasks_and_keeps_what_was_done(event, flood):
    event = finish(event, "urban_management")
    event = work(event, ("water_affairs", "acknowledge"), ("water_affairs", "arrive"))
    up = change_level(event, flood, "III", "河道水位超 4.50 m", DISPATCHER, at(30))
    assert up.level == "III"
    assert {t.department: t.status for t in up.tasks} == {
        "water_affairs": "on_site", "urban_management": "done", "town_yangshe": "issued",
        "transport": "issued", "public_security": "issued"}
    assert up.task("urban_management") == event.task("urban_management")
    assert up.task("transport").issued_at == at(30)


def test_a_kept_task_takes_the_new_levels_text_and_limits_and_keeps_its_clocks(event, flood):
    event = work(event, ("water_affairs", "acknowledge"))
    kept = change_level(event, flood, "III", "水位上涨", DISPATCHER, at(30)).task("water_affairs")
    lead = flood.level("III").lead
    assert (kept.status, kept.issued_at, kept.acknowledged_at) == ("acknowledged", T0, at(1))
    assert (kept.ack_min, kept.arrive_min, kept.report_min) == (lead.ack_min, lead.arrive_min, lead.report_min)
    assert kept.version == event.task("water_affairs").version + 1


def test_a_level_up_issues_a_withdrawn_task_again(event, flood):
    event = change_level(event, flood, "III", "水位上涨", DISPATCHER, at(10))
    event = withdraw_task(event, "transport", "道路暂无积水", DISPATCHER, at(20))
    event = change_level(event, flood, "II", "多个区镇超保证水位", LEADER, at(40))
    transport = event.task("transport")
    assert (transport.status, transport.issued_at, transport.version) == ("issued", at(40), 3)
    assert event.log[-4].params["reissued"] == ["transport"]


def test_a_level_up_leaves_a_returned_task_to_the_commander(event, flood):
    event = work(event, ("town_yangshe", "return", "人员不足"))
    up = change_level(event, flood, "III", "水位上涨", DISPATCHER, at(10))
    assert up.task("town_yangshe").status == "returned"


def test_a_level_down_withdraws_the_live_tasks_the_lower_level_lacks(event, flood):
    event = change_level(event, flood, "III", "水位上涨", DISPATCHER, at(10))
    event = finish(event, "public_security")
    down = change_level(event, flood, "IV", "水位回落至 4.30 m", DISPATCHER, at(60))
    assert {t.department: t.status for t in down.tasks} == {
        "water_affairs": "issued", "urban_management": "issued", "town_yangshe": "issued",
        "transport": "withdrawn", "public_security": "done"}
    assert [e.kind for e in down.log[-2:]] == ["level_down", "task_withdrawn"]
    assert down.log[-1].params == {"department": "transport", "cause": "level", "reason": "水位回落至 4.30 m"}


def test_a_level_down_withdraws_a_task_the_commander_added(event, flood):
    event = add_task(event, "landscaping", "清理倒伏树木", DISPATCHER, at(5))
    down_from_iii = change_level(change_level(event, flood, "III", "上涨", DISPATCHER, at(6)), flood, "IV", "回落",
                                 DISPATCHER, at(7))
    assert down_from_iii.task("landscaping").status == "withdrawn"


def test_a_level_up_withdraws_nothing_even_where_the_higher_level_lacks_a_department(event, departments):
    raw = copy.deepcopy(BUILTIN_PLANS_DATA)
    raw[0]["levels"][1]["tasks"][1]["department"] = "landscaping"  # III without city management
    odd = validate_plans(raw, departments)["flood"]
    assert change_level(event, odd, "III", "上涨", DISPATCHER, at(5)).task("urban_management").status == "issued"


def test_a_level_up_brings_a_contained_event_back_into_response(event, flood):
    event = contain(work(event, ("water_affairs", "acknowledge")), DISPATCHER, at(20))
    up = change_level(event, flood, "III", "再次降雨", DISPATCHER, at(40))
    assert (up.status, up.contained_at) == ("responding", 0)


def test_a_level_down_leaves_a_contained_event_contained(event, flood):
    event = change_level(event, flood, "III", "水位上涨", DISPATCHER, at(10))
    event = contain(event, DISPATCHER, at(20))
    assert change_level(event, flood, "IV", "水位回落", DISPATCHER, at(30)).status == "contained"


def test_a_level_change_is_logged_with_its_reason_and_the_tasks_it_moved(event, flood):
    up = change_level(event, flood, "III", "河道水位超 4.50 m", LEADER, at(30))
    entry = up.log[-3]
    assert (entry.kind, entry.role) == ("level_up", "leader")
    assert entry.params == {"from": "IV", "to": "III", "reason": "河道水位超 4.50 m",
                            "issued": ["transport", "public_security"], "reissued": [], "withdrawn": []}
    assert [e.params["department"] for e in up.log[-2:]] == ["transport", "public_security"]


def test_a_level_change_needs_a_reason(event, flood):
    with pytest.raises(EventError) as caught:
        change_level(event, flood, "III", "", DISPATCHER, at(5))
    assert caught.value.field == "reason"


@pytest.mark.parametrize("level", ["IV", "V", None])
def test_a_level_change_needs_another_level_of_the_plan(event, flood, level):
    with pytest.raises(EventError) as caught:
        change_level(event, flood, level, "调整", DISPATCHER, at(5))
    assert caught.value.field == "level"


def test_a_level_change_follows_the_events_own_plan(event, plans):
    with pytest.raises(EventError, match="follows plan flood") as caught:
        change_level(event, plans["crowd"], "III", "调整", DISPATCHER, at(5))
    assert caught.value.field == "plan"


@pytest.mark.parametrize("actor", NOT_COMMANDERS, ids=lambda p: p.name)
def test_only_a_dispatcher_or_a_leader_changes_the_level(event, flood, actor):
    with pytest.raises(EventPermissionError):
        change_level(event, flood, "III", "调整", actor, at(5))


# --- instructions ------------------------------------------------------------------------------

def test_a_leaders_instruction_is_addressed_to_every_department_with_a_live_task(event):
    event = finish(event, "urban_management")
    event = instruct(event, "确保低洼地区群众全部转移", LEADER, at(10))
    item = event.instructions[0]
    assert (item.id, item.by, item.by_label, item.at) == ("I1", "chen", "陈局长", at(10))
    assert item.required == ("water_affairs", "town_yangshe") and item.acknowledged == {}
    assert event.log[-1].params == {"instruction": "I1", "text": "确保低洼地区群众全部转移",
                                    "required": ["water_affairs", "town_yangshe"]}


def test_instructions_are_numbered_in_order(event):
    event = instruct(instruct(event, "注意安全", LEADER, at(1)), "每半小时报告一次", LEADER, at(2))
    assert [i.id for i in event.instructions] == ["I1", "I2"]


def test_each_department_acknowledges_an_instruction_for_itself(event):
    event = instruct(event, "注意安全", LEADER, at(1))
    event = acknowledge_instruction(event, "I1", "water_affairs", WATER, at(2))
    assert event.instructions[0].acknowledged == {"water_affairs": at(2)}
    assert event.instructions[0].pending == ("urban_management", "town_yangshe")
    assert event.pending_instructions("water_affairs") == ()
    assert [i.id for i in event.pending_instructions("town_yangshe")] == ["I1"]
    assert event.log[-1].params == {"instruction": "I1", "department": "water_affairs"}


def test_a_department_whose_task_ended_is_no_longer_asked_to_acknowledge(event):
    event = instruct(event, "注意安全", LEADER, at(1))
    event = work(event, ("town_yangshe", "return", "人员不足"))
    assert event.pending_instructions("town_yangshe") == ()


def test_an_instruction_acknowledged_twice_is_a_repeat(event):
    event = acknowledge_instruction(instruct(event, "注意安全", LEADER, at(1)), "I1", "water_affairs", WATER, at(2))
    with pytest.raises(EventError) as caught:
        acknowledge_instruction(event, "I1", "water_affairs", WATER, at(3))
    assert caught.value.code == "repeat"


def test_an_instruction_is_acknowledged_only_by_a_department_it_was_addressed_to(event, flood):
    event = instruct(event, "注意安全", LEADER, at(1))
    event = change_level(event, flood, "III", "上涨", DISPATCHER, at(2))
    with pytest.raises(EventError, match="not addressed to transport") as caught:
        acknowledge_instruction(event, "I1", "transport", TRANSPORT, at(3))
    assert caught.value.field == "department"


def test_a_handler_acknowledges_no_instruction_for_another_department(event):
    event = instruct(event, "注意安全", LEADER, at(1))
    with pytest.raises(EventPermissionError):
        acknowledge_instruction(event, "I1", "water_affairs", URBAN, at(2))


def test_an_unknown_instruction_is_not_found(event):
    with pytest.raises(EventError) as caught:
        acknowledge_instruction(event, "I9", "water_affairs", WATER, at(2))
    assert (caught.value.field, caught.value.code) == ("instruction_id", "not_found")


@pytest.mark.parametrize("actor", [DISPATCHER, OPERATOR, INSPECTOR, WATER, KIOSK], ids=lambda p: p.name)
def test_only_a_leader_gives_instructions(event, actor):
    with pytest.raises(EventPermissionError):
        instruct(event, "注意安全", actor, at(1))


def test_an_instruction_needs_its_text(event):
    with pytest.raises(EventError) as caught:
        instruct(event, " ", LEADER, at(1))
    assert caught.value.field == "text"


# --- adding and withdrawing tasks ------------------------------------------------------------------

def test_the_commander_adds_a_supporting_task(event):
    event = add_task(event, "landscaping", "清理倒伏树木", DISPATCHER, at(5), ack_min=10, arrive_min=40, report_min=60)
    task = event.task("landscaping")
    assert (task.role, task.status, task.version, task.issued_at) == ("support", "issued", 1, at(5))
    assert (task.text_zh, task.text_en, task.ack_min, task.arrive_min, task.report_min) == \
        ("清理倒伏树木", "清理倒伏树木", 10, 40, 60)
    assert event.log[-1].kind == "task_added" and event.log[-1].params["department"] == "landscaping"


def test_an_added_task_has_default_limits(event):
    task = add_task(event, "transport", "积水路段绕行", DISPATCHER, at(5)).task("transport")
    assert (task.ack_min, task.arrive_min, task.report_min) == (15, 60, 60)


def test_an_added_task_for_the_territory_goes_to_the_district_government(flood):
    event = start_event(event_id="EV-2", plan=flood, level="IV", title="", area=Area("district", district="leyu"),
                        district="leyu", commander=DISPATCHER, now_ms=T0)
    event = withdraw_task(event, "town_leyu", "误派", DISPATCHER, at(1))
    assert add_task(event, "territory", "转移群众", DISPATCHER, at(2)).task("town_leyu").status == "issued"


def test_a_department_with_a_task_under_way_gets_no_second_one(event):
    with pytest.raises(EventError, match="already has a task") as caught:
        add_task(event, "urban_management", "再派一队", DISPATCHER, at(5))
    assert caught.value.field == "department"


def test_a_returned_task_is_issued_again_with_fresh_clocks_and_its_role(event):
    event = work(event, ("water_affairs", "acknowledge"), ("water_affairs", "return", "泵车全部外派"))
    event = add_task(event, "water_affairs", "调用备用泵车", DISPATCHER, at(10))
    task = event.task("water_affairs")
    assert (task.status, task.role, task.issued_at, task.acknowledged_at, task.return_reason) == \
        ("issued", "lead", at(10), 0, "")
    assert task.version == 4 and event.log[-1].params["reissued"] is True


def test_a_task_added_in_answer_to_a_request_for_support_clears_it(event):
    event = work(event, ("water_affairs", "acknowledge"), ("water_affairs", "support", "需要交通管制"))
    event = add_task(event, "transport", "积水路段交通管制", DISPATCHER, at(10), support_for="water_affairs")
    assert event.task("water_affairs").needs_support is False
    assert event.log[-1].params["support_for"] == "water_affairs"


def test_a_task_cannot_answer_a_request_for_support_never_made(event):
    with pytest.raises(EventError) as caught:
        add_task(event, "transport", "交通管制", DISPATCHER, at(10), support_for="water_affairs")
    assert caught.value.field == "support_for"


@pytest.mark.parametrize("limits, field", [({"ack_min": 0}, "ack_min"), ({"report_min": 1441}, "report_min"),
                                           ({"ack_min": 30, "arrive_min": 20}, "arrive_min"),
                                           ({"arrive_min": "60"}, "arrive_min")])
def test_an_added_tasks_limits_are_whole_minutes_with_arrival_after_acknowledgement(event, limits, field):
    with pytest.raises(EventError) as caught:
        add_task(event, "transport", "交通管制", DISPATCHER, at(5), **limits)
    assert caught.value.field == field


@pytest.mark.parametrize("department", ["", "Fire Brigade", None])
def test_an_added_task_needs_a_department_id(event, department):
    with pytest.raises(EventError) as caught:
        add_task(event, department, "支援", DISPATCHER, at(5))
    assert caught.value.field == "department"


def test_the_commander_withdraws_a_supporting_task_with_a_reason(event):
    event = withdraw_task(event, "urban_management", "积水已自然消退", DISPATCHER, at(5))
    assert event.task("urban_management").status == "withdrawn"
    assert event.log[-1].params == {"department": "urban_management", "cause": "commander", "reason": "积水已自然消退"}


def test_the_lead_task_is_not_withdrawn(event):
    with pytest.raises(EventError, match="lead") as caught:
        withdraw_task(event, "water_affairs", "不需要", DISPATCHER, at(5))
    assert caught.value.code == "lead"


def test_a_finished_task_is_not_withdrawn(event):
    event = finish(event, "urban_management")
    with pytest.raises(EventError, match="only a live task"):
        withdraw_task(event, "urban_management", "不需要", DISPATCHER, at(9))


def test_withdrawing_needs_a_reason(event):
    with pytest.raises(EventError) as caught:
        withdraw_task(event, "urban_management", "", DISPATCHER, at(5))
    assert caught.value.field == "reason"


@pytest.mark.parametrize("actor", NOT_COMMANDERS, ids=lambda p: p.name)
def test_only_a_dispatcher_or_a_leader_adds_or_withdraws_tasks(event, actor):
    with pytest.raises(EventPermissionError):
        add_task(event, "transport", "交通管制", actor, at(5))
    with pytest.raises(EventPermissionError):
        withdraw_task(event, "urban_management", "不需要", actor, at(5))


# --- containing, closing, cancelling --------------------------------------------------------------

def test_the_commander_declares_the_event_contained(event):
    event = contain(work(event, ("water_affairs", "acknowledge")), DISPATCHER, at(45))
    assert (event.status, event.contained_at, event.log[-1].kind) == ("contained", at(45), "contained")


def test_containing_twice_is_a_repeat(event):
    with pytest.raises(EventError) as caught:
        contain(contain(event, DISPATCHER, at(5)), DISPATCHER, at(6))
    assert caught.value.code == "repeat"


def test_closing_is_refused_while_a_task_is_live_naming_the_departments(event):
    event = finish(event, "water_affairs")
    with pytest.raises(EventError, match="urban_management, town_yangshe") as caught:
        close(event, "内涝已消除", DISPATCHER, at(90))
    assert (caught.value.field, caught.value.code) == ("tasks", "tasks_live")


def test_closing_needs_a_summary(event):
    event = cancel_tasks(event)
    with pytest.raises(EventError) as caught:
        close(event, "   ", DISPATCHER, at(90))
    assert caught.value.field == "summary"


def cancel_tasks(event: Event) -> Event:
    """Every task ended one way or another: done, returned, withdrawn."""
    event = finish(event, "water_affairs")
    event = work(event, ("town_yangshe", "return", "人员不足"))
    return withdraw_task(event, "urban_management", "不需要", DISPATCHER, event.updated_at + MIN)


def test_an_event_closes_once_every_task_is_done_withdrawn_or_returned(event):
    event = cancel_tasks(event)
    closed = close(event, "强降雨结束，积水全部排除，无人员伤亡", LEADER, at(120))
    assert (closed.status, closed.closed_at, closed.summary) == ("closed", at(120), "强降雨结束，积水全部排除，无人员伤亡")
    assert closed.log[-1].kind == "closed" and not closed.is_open


def test_cancelling_withdraws_the_live_tasks_and_keeps_the_done_ones(event):
    event = finish(event, "urban_management")
    cancelled = cancel(event, "误报：水位计故障", DISPATCHER, at(20))
    assert (cancelled.status, cancelled.summary, cancelled.closed_at) == ("cancelled", "误报：水位计故障", at(20))
    assert {t.department: t.status for t in cancelled.tasks} == {
        "water_affairs": "withdrawn", "urban_management": "done", "town_yangshe": "withdrawn"}
    assert [e.kind for e in cancelled.log[-3:]] == ["cancelled", "task_withdrawn", "task_withdrawn"]


def test_cancelling_needs_a_reason(event):
    with pytest.raises(EventError) as caught:
        cancel(event, "", DISPATCHER, at(5))
    assert caught.value.field == "reason"


@pytest.mark.parametrize("actor", NOT_COMMANDERS, ids=lambda p: p.name)
@pytest.mark.parametrize("action", ["contain", "close", "cancel"])
def test_only_a_dispatcher_or_a_leader_contains_closes_or_cancels(event, actor, action):
    taken = {"contain": lambda: contain(event, actor, at(5)), "close": lambda: close(event, "总结", actor, at(5)),
             "cancel": lambda: cancel(event, "误报", actor, at(5))}
    with pytest.raises(EventPermissionError):
        taken[action]()


@pytest.mark.parametrize("ended", ["closed", "cancelled"])
def test_an_ended_event_takes_no_more_actions(event, flood, ended):
    event = cancel(event, "误报", DISPATCHER, at(5)) if ended == "cancelled" else \
        close(cancel_tasks(event), "结束", DISPATCHER, at(90))
    attempts = [lambda: change_level(event, flood, "III", "上涨", DISPATCHER, at(100)),
                lambda: instruct(event, "注意", LEADER, at(100)),
                lambda: add_task(event, "landscaping", "支援", DISPATCHER, at(100)),
                lambda: contain(event, DISPATCHER, at(100)),
                lambda: close(event, "再次结束", DISPATCHER, at(100)),
                lambda: cancel(event, "取消", DISPATCHER, at(100)),
                lambda: task_action(event, "water_affairs", "report", WATER, at(100), "续报")]
    for attempt in attempts:
        with pytest.raises(EventError) as caught:
            attempt()
        assert caught.value.field == "status"
    assert allowed_event_actions(event, DISPATCHER) == [] and allowed_task_actions(event, "water_affairs", WATER) == []


def test_alarms_and_cases_found_later_are_linked_once(event):
    event = link(event, DISPATCHER, at(5), alarms=("A1", "A2"), cases=("C9",))
    event = link(event, DISPATCHER, at(6), alarms=("A2", "A3"))
    assert (event.alarms, event.cases) == (("A1", "A2", "A3"), ("C9",))
    assert event.log[-1].params == {"alarms": ["A3"], "cases": []}
    with pytest.raises(EventError) as caught:
        link(event, DISPATCHER, at(7), alarms=("A1",))
    assert caught.value.code == "repeat"


# --- timing -----------------------------------------------------------------------------------

def test_an_unacknowledged_task_is_overdue_after_its_acknowledgement_limit(event):
    lead = event.task("water_affairs")  # flood IV lead: acknowledge within 10, arrive within 45
    assert overdue(lead, at(10)) == ()
    assert overdue(lead, at(10) + 1) == ("acknowledge",)
    assert overdue(lead, at(45) + 1) == ("acknowledge", "arrive")


def test_an_acknowledged_task_is_overdue_only_to_arrive(event):
    lead = work(event, ("water_affairs", "acknowledge")).task("water_affairs")
    assert overdue(lead, at(44)) == () and overdue(lead, at(46)) == ("arrive",)


def test_a_task_on_site_is_overdue_to_report_after_its_report_interval(event):
    event = work(event, ("water_affairs", "acknowledge"), ("water_affairs", "arrive"))  # arrived at minute 2
    assert overdue(event.task("water_affairs"), at(62) + 1) == ("report",)
    reported = work(event, ("water_affairs", "report", "水位稳定")).task("water_affairs")  # minute 3
    assert overdue(reported, at(62) + 1) == () and overdue(reported, at(63) + 1) == ("report",)


@pytest.mark.parametrize("status", ["done", "returned", "withdrawn"])
def test_an_ended_task_is_never_overdue(event, status):
    assert overdue(with_status(event, "water_affairs", status).task("water_affairs"), at(10_000)) == ()


def test_a_tasks_deadline_is_that_of_its_current_step(event):
    assert task_deadline(event.task("water_affairs")) == at(10)
    event = work(event, ("water_affairs", "acknowledge"))
    assert task_deadline(event.task("water_affairs")) == at(45)
    event = work(event, ("water_affairs", "arrive"))
    assert task_deadline(event.task("water_affairs")) == at(2 + 60)
    assert task_deadline(finish(event, "urban_management").task("urban_management")) == 0


# --- figures ----------------------------------------------------------------------------------

def test_figures_give_each_departments_minutes_to_acknowledge_arrive_and_finish(event):
    event = task_action(event, "water_affairs", "acknowledge", WATER, at(4))
    event = task_action(event, "water_affairs", "arrive", WATER, at(50))
    event = task_action(event, "water_affairs", "done", WATER, at(80), "已处置")
    event = task_action(event, "urban_management", "acknowledge", URBAN, at(20))
    lead = figures(event, at(90)).departments[0]
    assert (lead.department, lead.to_acknowledge, lead.to_arrive, lead.to_done) == ("water_affairs", 4.0, 50.0, 80.0)
    assert (lead.ack_min, lead.arrive_min, lead.late, lead.overdue) == (10, 45, ("arrive",), ())
    urban = figures(event, at(90)).departments[1]
    assert (urban.to_acknowledge, urban.to_arrive, urban.late, urban.overdue) == (20.0, None, ("acknowledge",),
                                                                                  ("arrive",))


def test_figures_give_the_minutes_to_contain_and_the_tasks_done(event):
    event = finish(event, "water_affairs")
    event = withdraw_task(event, "urban_management", "不需要", DISPATCHER, at(10))
    event = contain(event, DISPATCHER, at(35))
    result = figures(event, at(50))
    assert (result.to_contain, result.duration, result.tasks_done, result.tasks_total) == (35.0, 50.0, 1, 2)


def test_an_ended_events_duration_stops_at_its_end(event):
    result = figures(cancel(event, "误报", DISPATCHER, at(12)), at(500))
    assert (result.to_contain, result.duration, result.tasks_done, result.tasks_total) == (None, 12.0, 0, 0)


def test_figures_are_plain_data(event):
    data = figures(work(event, ("water_affairs", "acknowledge")), at(30)).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["departments"][0]["department"] == "water_affairs"


# --- who sees and who acts ---------------------------------------------------------------------

@pytest.mark.parametrize("reader", [OPERATOR, LEADER, DISPATCHER, INSPECTOR, KIOSK], ids=lambda p: p.name)
def test_the_operations_centre_reads_every_event(event, reader):
    assert visible_to(event, reader)


def test_a_handler_reads_the_events_its_department_has_a_task_in(event):
    assert visible_to(event, WATER) and visible_to(event, WATER_SYSTEM)
    assert not visible_to(event, TREES)
    assert visible_to(withdraw_task(event, "urban_management", "不需要", DISPATCHER, at(1)), URBAN)


@pytest.mark.parametrize("reader", [ADMIN, REPORTER, None], ids=str)
def test_others_read_no_event(event, reader):
    assert not visible_to(event, reader)


def test_the_actions_offered_follow_the_role_and_the_events_state(event):
    assert allowed_event_actions(event, DISPATCHER) == ["level", "add_task", "withdraw_task", "contain", "cancel"]
    assert allowed_event_actions(event, LEADER) == ["level", "instruct", "add_task", "withdraw_task", "contain",
                                                    "cancel"]
    assert allowed_event_actions(event, WATER) == [] and allowed_event_actions(event, KIOSK) == []
    assert allowed_event_actions(instruct(event, "注意安全", LEADER, at(1)), WATER) == ["acknowledge_instruction"]
    assert "close" in allowed_event_actions(cancel_tasks(event), DISPATCHER)


def test_the_task_actions_offered_follow_the_department_and_the_tasks_step(event):
    assert allowed_task_actions(event, "water_affairs", WATER) == ["acknowledge", "return"]
    assert allowed_task_actions(event, "water_affairs", URBAN) == []
    assert allowed_task_actions(event, "water_affairs", DISPATCHER) == []
    on_site = work(event, ("water_affairs", "acknowledge"), ("water_affairs", "arrive"))
    assert allowed_task_actions(on_site, "water_affairs", WATER) == ["start", "report", "done", "support"]


def test_who_may_ever_take_an_action_is_checked_before_any_event(event):
    check_may_take("level", DISPATCHER)
    check_may_take("instruct", LEADER)
    check_may_take_task("acknowledge", WATER)
    with pytest.raises(EventPermissionError):
        check_may_take("instruct", DISPATCHER)
    with pytest.raises(EventPermissionError, match="read-only"):
        check_may_take("contain", replace(DISPATCHER, read_only=True))
    with pytest.raises(EventPermissionError, match="sign in"):
        check_may_take_task("done", None)
    with pytest.raises(EventError) as caught:
        check_may_take("explode", DISPATCHER)
    assert caught.value.field == "action"


def test_every_event_and_task_action_has_its_roles():
    for action in EVENT_ACTIONS:
        check_may_take(action, Principal("all", frozenset({"dispatcher", "leader", "handler"}), department="x"))
    for action in TASK_ACTIONS:
        check_may_take_task(action, WATER)


# --- plain data -------------------------------------------------------------------------------

def test_an_event_survives_a_round_trip_through_plain_json(event, flood):
    event = change_level(event, flood, "III", "水位超 4.50 m", DISPATCHER, at(10))
    event = work(event, ("water_affairs", "acknowledge"), ("water_affairs", "arrive"),
                 ("water_affairs", "support", "需要泵车"))
    event = instruct(event, "确保群众安全", LEADER, at(20))
    event = acknowledge_instruction(event, "I1", "water_affairs", WATER, at(21))
    event = withdraw_task(event, "transport", "道路通畅", DISPATCHER, at(22))
    event = link(event, DISPATCHER, at(23), alarms=("A1",), cases=("C1",))
    data = json.loads(json.dumps(event.to_dict(), ensure_ascii=False))
    assert data == event.to_dict()
    assert Event.from_dict(data) == event


@pytest.mark.parametrize("area", [Area("circle", (120.55, 31.87), 800.0),
                                  Area("polygon", ring=((120.5, 31.8), (120.6, 31.8), (120.6, 31.9), (120.5, 31.8))),
                                  Area("district", district="yangshe")], ids=lambda a: a.kind)
def test_an_area_survives_a_round_trip_through_its_geojson_like_dict(area):
    data = json.loads(json.dumps(area.to_dict()))
    assert Area.from_dict(data) == area


def test_a_polygon_area_is_stored_as_geojson():
    assert Area("polygon", ring=((1.0, 2.0), (3.0, 4.0), (5.0, 2.0))).to_dict() == \
        {"type": "Polygon", "coordinates": [[[1.0, 2.0], [3.0, 4.0], [5.0, 2.0]]]}


@pytest.mark.parametrize("data", [{}, {"type": "circle", "center": [120.5]}, {"type": "Polygon"},
                                  {"type": "district", "district": ""}, {"type": "hexagon"}], ids=str)
def test_something_that_is_not_an_area_is_refused(data):
    with pytest.raises(EventError) as caught:
        Area.from_dict(data)
    assert caught.value.field == "area"
