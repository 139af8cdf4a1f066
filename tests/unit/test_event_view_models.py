"""The view model of the linked events (ioc.views.events): what the events list, the event page,
the wall's event mode, a department's notices and the indicators show — in Chinese and English,
departments, plans, levels and districts by name, never ids."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ioc.domain.access import Principal
from ioc.domain.departments import FUNCTIONAL, Department
from ioc.domain.events import (Area, acknowledge_instruction, add_task, cancel, change_level, close, contain, instruct,
                               start_event, task_action, withdraw_task)
from ioc.domain.plans import builtin_plans
from ioc.views import events as ev

CN = timezone(timedelta(hours=8))
M = 60_000
NOW = int(datetime(2026, 7, 8, 14, 0, tzinfo=CN).timestamp() * 1000)
DEPARTMENTS = {d.id: d for d in FUNCTIONAL} | {
    "town_yangshe": Department("town_yangshe", "杨舍镇人民政府", "Yangshe Town Government", "territorial", "yangshe")}
DISTRICTS = {"yangshe": "杨舍镇", "jinfeng": "锦丰镇"}
PLANS = builtin_plans(frozenset(DEPARTMENTS))
DISPATCHER = Principal("lidiao", frozenset({"dispatcher"}), "李调度")
LEADER = Principal("chengang", frozenset({"leader"}), "陈刚")
OPERATOR = Principal("zhangsan", frozenset({"operator"}), "张三")
WATER = Principal("water-1", frozenset({"handler"}), "王水务", department="water_affairs")
URBAN = Principal("urban-1", frozenset({"handler"}), "赵城管", department="urban_management")
KIOSK = Principal("kiosk:wall", frozenset({"operator"}), "wall", "", "kiosk", True)


def flood(at: int = NOW - 30 * M, event_id: str = "EV-20260708-001", level: str = "IV"):
    """A flood event in 杨舍 at level IV: water affairs leads, city management and the town support."""
    return start_event(event_id=event_id, plan=PLANS["flood"], level=level, title="杨舍城区内涝", area=Area("district", district="yangshe"),
                       district="yangshe", districts=("yangshe", "jinfeng"), commander=DISPATCHER, now_ms=at)


# ---- words ------------------------------------------------------------------------------------

@pytest.mark.parametrize("minutes, zh, en", [(0, "0 分钟", "0 min"), (45, "45 分钟", "45 min"), (83, "1 小时 23 分", "1 h 23 min")])
def test_a_length_of_time_reads_in_hours_and_minutes(minutes, zh, en):
    assert (ev.minutes_text(minutes, "zh"), ev.minutes_text(minutes, "en")) == (zh, en)


def test_an_event_runs_until_now_while_open_and_until_its_end_once_closed():
    event = flood()
    assert ev.elapsed_text(event, NOW, "zh") == "30 分钟"
    ended = cancel(event, "误报", DISPATCHER, NOW - 10 * M)
    assert ev.elapsed_text(ended, NOW, "zh") == "20 分钟"


def test_the_headline_names_the_plan_and_the_level_in_the_language():
    assert ev.headline(flood(), PLANS, "zh") == "防汛 · Ⅳ级（一般）"
    assert ev.headline(flood(), PLANS, "en") == "Flood control · Level IV (General)"


# ---- the events list ----------------------------------------------------------------------------

def test_an_event_row_names_plan_level_status_districts_and_counts_tasks():
    row = ev.event_rows([flood()], PLANS, DISTRICTS, NOW, "zh")[0]
    assert row["link"] == "[EV-20260708-001](/event/EV-20260708-001)"
    assert (row["plan"], row["level"], row["status"], row["districts"]) == ("防汛", "Ⅳ级（一般）", "启动", "杨舍镇、锦丰镇")
    assert (row["commander"], row["tasks"], row["elapsed"]) == ("李调度", "0/3", "30 分钟")


def test_the_overdue_column_counts_tasks_past_a_limit():
    # level IV: water affairs acknowledges within 10 min, the others within 15; 30 minutes have passed
    assert ev.event_rows([flood()], PLANS, DISTRICTS, NOW, "zh")[0]["overdue"] == 3
    fresh = flood(at=NOW - 5 * M)
    assert ev.event_rows([fresh], PLANS, DISTRICTS, NOW, "zh")[0]["overdue"] == 0


def test_the_live_filter_keeps_open_events_most_severe_first():
    low, high = flood(event_id="EV-1"), flood(event_id="EV-2", level="III")
    ended = cancel(flood(event_id="EV-3"), "误报", DISPATCHER, NOW)
    assert [e.id for e in ev.filter_events([low, ended, high], ev.LIVE_FILTER)] == ["EV-2", "EV-1"]
    assert [e.id for e in ev.filter_events([low, ended, high], "cancelled")] == ["EV-3"]


def test_a_district_filter_matches_every_district_the_area_touches():
    assert [e.id for e in ev.filter_events([flood()], district="jinfeng")] == ["EV-20260708-001"]
    assert ev.filter_events([flood()], district="tangqiao") == []


def test_the_start_form_offers_only_the_plans_own_levels():
    hazmat = PLANS["hazmat"]
    assert [o["value"] for o in ev.level_options(hazmat, "zh")] == list(hazmat.level_ids)
    assert ev.level_options(None, "zh") == []


# ---- one event ----------------------------------------------------------------------------------

def test_the_banner_says_plan_level_status_elapsed_and_commander():
    b = ev.banner(flood(), PLANS, DISTRICTS, NOW, "zh")
    assert (b.headline, b.title, b.status, b.elapsed, b.commander) == ("防汛 · Ⅳ级（一般）", "杨舍城区内涝", "启动", "已持续 30 分钟", "李调度")
    assert ev.banner(flood(), PLANS, DISTRICTS, NOW, "en").status == "Started"


def test_the_task_board_puts_the_lead_first_and_names_departments():
    rows = ev.task_rows(flood(at=NOW - 5 * M), DEPARTMENTS, NOW, "zh")
    assert [r["name"] for r in rows[:1]] == ["市水务局"]
    assert {r["name"] for r in rows} == {"市水务局", "市城市管理局", "杨舍镇人民政府"}
    assert rows[0]["role_name"] == "牵头" and all(r["role_name"] == "配合" for r in rows[1:])


def test_a_task_within_its_limit_says_when_its_step_is_due_and_how_long_is_left():
    row = ev.task_rows(flood(at=NOW - 5 * M), DEPARTMENTS, NOW, "zh")[0]
    assert row["status_name"] == "已下达" and row["since_text"] == "下达 5 分钟"
    assert row["deadline"] == "签收时限 14:05（剩 5 分钟）" and row["overdue"] is False


def test_a_task_past_its_limit_is_overdue_with_the_minutes_late():
    row = ev.task_rows(flood(), DEPARTMENTS, NOW, "en")[0]
    assert row["deadline"] == "Acknowledge 20 min overdue" and row["overdue"] is True
    assert row["overdue_steps"] == ["acknowledge"]


def test_a_request_for_support_is_flagged_on_the_board():
    event = task_action(flood(), "water_affairs", "acknowledge", WATER, NOW - 25 * M)
    event = task_action(event, "water_affairs", "support", WATER, NOW - 20 * M, note="需要 2 台移动泵车")
    row = ev.task_rows(event, DEPARTMENTS, NOW, "zh")[0]
    assert row["needs_support"] is True and row["support_note"] == "需要 2 台移动泵车"


def test_a_finished_task_is_no_longer_overdue_and_says_when_it_finished():
    event = flood()
    for action, at in (("acknowledge", 28), ("arrive", 20), ("done", 10)):
        event = task_action(event, "water_affairs", action, WATER, NOW - at * M, note="已排除" if action == "done" else "")
    row = ev.task_rows(event, DEPARTMENTS, NOW, "zh")
    done = next(r for r in row if r["department"] == "water_affairs")
    assert (done["status_name"], done["deadline"], done["overdue"]) == ("已完成", "已完成 13:50", False)


# ---- the log --------------------------------------------------------------------------------------

def worked_event():
    event = flood(at=NOW - 60 * M)
    event = task_action(event, "water_affairs", "acknowledge", WATER, NOW - 55 * M)
    event = change_level(event, PLANS["flood"], "III", "水位持续上涨", DISPATCHER, NOW - 50 * M)
    event = instruct(event, "务必确保群众安全", LEADER, NOW - 45 * M)
    event = task_action(event, "water_affairs", "arrive", WATER, NOW - 40 * M)
    event = task_action(event, "water_affairs", "report", WATER, NOW - 35 * M, note="泵站全开")
    event = acknowledge_instruction(event, "I1", "water_affairs", WATER, NOW - 30 * M)
    return event


def test_the_log_says_who_did_what_with_names_never_ids():
    rows = ev.log_rows(worked_event(), PLANS, DEPARTMENTS, DISTRICTS, "zh", newest_first=False)
    texts = [r["what"] for r in rows]
    assert texts[0] == "启动防汛Ⅳ级（一般）响应，范围杨舍镇、锦丰镇"
    assert "向市水务局下达任务（牵头）" in texts
    assert "市水务局签收任务" in texts
    assert "由Ⅳ级（一般）升级为Ⅲ级（较大）：水位持续上涨" in texts
    assert "向市交通运输局下达任务（配合）" in texts
    assert "批示：务必确保群众安全" in texts
    assert "市水务局报告进展：泵站全开" in texts
    assert "市水务局确认批示" in texts
    assert not any("water_affairs" in t or "town_" in t or "flood" in t for t in texts)
    assert rows[0]["who"] == "李调度（调度员）"


def test_the_log_reads_in_english_too():
    rows = ev.log_rows(worked_event(), PLANS, DEPARTMENTS, DISTRICTS, "en", newest_first=False)
    texts = [r["what"] for r in rows]
    assert "Raised from Level IV (General) to Level III (Significant): 水位持续上涨" in texts
    assert "Water Affairs Bureau acknowledged its task" in texts
    assert rows[0]["who"] == "李调度 (Dispatcher)"


def test_the_log_is_newest_first_by_default_and_can_be_cut():
    rows = ev.log_rows(worked_event(), PLANS, DEPARTMENTS, DISTRICTS, "zh", limit=2)
    assert [r["what"] for r in rows] == ["市水务局确认批示", "市水务局报告进展：泵站全开"]


def test_a_department_systems_entry_names_the_department():
    event = task_action(flood(), "water_affairs", "acknowledge",
                        Principal("dept:water_affairs", frozenset({"handler"}), department="water_affairs", kind="token"), NOW)
    assert ev.log_rows(event, PLANS, DEPARTMENTS, DISTRICTS, "zh")[0]["who"] == "市水务局业务系统"


def test_withdrawals_say_why():
    event = change_level(change_level(flood(at=NOW - 60 * M), PLANS["flood"], "III", "上涨", DISPATCHER, NOW - 50 * M),
                         PLANS["flood"], "IV", "回落", DISPATCHER, NOW - 40 * M)
    texts = [r["what"] for r in ev.log_rows(event, PLANS, DEPARTMENTS, DISTRICTS, "zh")]
    assert "随级别调整撤回市交通运输局的任务" in texts
    cancelled = cancel(flood(), "误报", DISPATCHER, NOW)
    assert "取消事件：误报" in [r["what"] for r in ev.log_rows(cancelled, PLANS, DEPARTMENTS, DISTRICTS, "zh")]


def test_an_instruction_lists_who_has_and_has_not_acknowledged():
    rows = ev.instruction_rows(worked_event(), DEPARTMENTS, "zh")
    assert rows[0]["text"] == "务必确保群众安全" and rows[0]["by"] == "陈刚"
    assert rows[0]["acked"] == ["市水务局"]
    assert set(rows[0]["pending"]) == {"市城市管理局", "杨舍镇人民政府", "市交通运输局", "市公安局"}


# ---- what each role may do -----------------------------------------------------------------------

def test_a_commander_gets_the_level_changes_add_withdraw_contain_and_cancel():
    c = ev.choices(flood(), DISPATCHER, PLANS["flood"], DEPARTMENTS, "zh")
    assert set(c.event_actions) == {"level", "add_task", "withdraw_task", "contain", "cancel"}
    assert [o["label"] for o in c.levels] == ["升级 → Ⅲ级（较大）", "升级 → Ⅱ级（重大）", "升级 → Ⅰ级（特别重大）"]
    assert {o["value"] for o in c.withdraw_departments} == {"urban_management", "town_yangshe"}
    assert "water_affairs" not in {o["value"] for o in c.add_departments}
    assert set(c.close_blocked) == {"市水务局", "市城市管理局", "杨舍镇人民政府"}


def test_a_leader_also_instructs_and_an_operator_or_kiosk_only_watches():
    assert "instruct" in ev.choices(flood(), LEADER, PLANS["flood"], DEPARTMENTS).event_actions
    assert not ev.choices(flood(), OPERATOR, PLANS["flood"], DEPARTMENTS).any
    assert not ev.choices(flood(), KIOSK, PLANS["flood"], DEPARTMENTS).any


def test_a_handler_gets_its_tasks_next_actions_and_its_instructions():
    c = ev.choices(worked_event(), URBAN, PLANS["flood"], DEPARTMENTS)
    assert c.task_actions == ("acknowledge", "return") and c.task.department == "urban_management"
    assert c.instructions == ("I1",) and c.event_actions == ()
    water = ev.choices(worked_event(), WATER, PLANS["flood"], DEPARTMENTS)
    assert water.task_actions == ("start", "report", "done", "support") and water.instructions == ()


def test_a_closed_event_offers_nothing():
    event = close(withdraw_task(withdraw_task(task_action(task_action(task_action(
        flood(), "water_affairs", "acknowledge", WATER, NOW), "water_affairs", "arrive", WATER, NOW),
        "water_affairs", "done", WATER, NOW, note="ok"), "urban_management", "无需", DISPATCHER, NOW),
        "town_yangshe", "无需", DISPATCHER, NOW), "已处置完毕", DISPATCHER, NOW)
    assert not ev.choices(event, DISPATCHER, PLANS["flood"], DEPARTMENTS).any


@pytest.mark.parametrize("kind, field, code, zh", [
    ("conflict", "", "", "事件已被他人更新，已重新载入最新内容，请核对后再操作"),
    ("forbidden", "", "", "未能办理：您无权办理此操作"),
    ("invalid", "reason", "", "未能办理：请检查“原因”"),
    ("invalid", "tasks", "tasks_live", "未能办理：事件当前状态不允许此操作"),
    ("not_found", "", "", "未能办理：未找到该事件"),
])
def test_a_refusal_is_worded_by_its_kind_and_field(kind, field, code, zh):
    assert ev.refusal_text(kind, field, code, "zh") == zh


# ---- timeline -------------------------------------------------------------------------------------

def test_the_timeline_has_a_level_band_and_a_row_per_department():
    figure = ev.timeline_figure(worked_event(), DEPARTMENTS, NOW, "zh")
    rows = figure["layout"]["yaxis"]["categoryarray"]
    assert rows[-1] == "响应级别" and "市水务局（牵头）" in rows
    levels = [b for b in figure["data"] if b["y"] and b["y"][0] == "响应级别"]
    assert sorted(x for b in levels for x in b["text"]) == ["Ⅲ级（较大）", "Ⅳ级（一般）"]


# ---- the wall ------------------------------------------------------------------------------------

def test_the_wall_rotates_through_live_events_and_keeps_a_picked_one():
    events = ev.wall_order([flood(event_id="EV-1"), flood(event_id="EV-2", level="III")])
    assert [e.id for e in events] == ["EV-2", "EV-1"]
    shown = {ev.wall_choice(events, None, NOW + i * 20_000, 20).id for i in range(2)}
    assert shown == {"EV-1", "EV-2"}
    assert ev.wall_choice(events, "EV-1", NOW, 20).id == "EV-1"
    assert ev.wall_choice(events, "EV-9", NOW, 20) is not None  # a picked event that ended: rotate again
    assert ev.wall_choice([], None, NOW) is None


def test_the_wall_tabs_show_plan_and_level_in_short():
    tabs = ev.wall_tabs([flood(event_id="EV-1")], "EV-1", PLANS, "zh")
    assert tabs == [{"id": "EV-1", "label": "防汛 Ⅳ级", "title": "杨舍城区内涝", "shown": True, "level": "IV"}]


# ---- notices, tasks page, district -----------------------------------------------------------------

def test_a_department_is_told_of_its_issued_task_until_it_acknowledges_it():
    notes = ev.notices([flood()], URBAN, PLANS, "zh")
    assert [n["kind"] for n in notes] == ["task"]
    assert notes[0]["text"] == "新联动任务：杨舍城区内涝（防汛Ⅳ级（一般），配合）"
    acked = task_action(flood(), "urban_management", "acknowledge", URBAN, NOW)
    assert ev.notices([acked], URBAN, PLANS, "zh") == []


def test_a_department_is_told_of_an_instruction_until_it_acknowledges_it():
    event = task_action(instruct(task_action(flood(), "water_affairs", "acknowledge", WATER, NOW), "注意安全", LEADER, NOW),
                        "urban_management", "acknowledge", URBAN, NOW)
    assert [n["kind"] for n in ev.notices([event], URBAN, PLANS, "zh")] == ["instruction"]
    done = acknowledge_instruction(event, "I1", "urban_management", URBAN, NOW)
    assert ev.notices([done], URBAN, PLANS, "zh") == []


def test_people_without_a_department_get_no_notices():
    assert ev.notices([flood()], DISPATCHER, PLANS) == [] and ev.notices([flood()], None, PLANS) == []


def test_the_tasks_page_lists_the_departments_tasks_with_their_actions():
    rows = ev.my_tasks([flood()], "water_affairs", DEPARTMENTS, PLANS, WATER, NOW, "zh")
    assert len(rows) == 1 and rows[0]["actions"] == ["acknowledge", "return"]
    assert rows[0]["headline"] == "防汛 · Ⅳ级（一般）" and rows[0]["title"] == "杨舍城区内涝"
    assert ev.my_tasks([flood()], "landscaping", DEPARTMENTS, PLANS, WATER, NOW) == []


def test_the_district_page_lists_the_open_events_touching_it():
    assert [e.id for e in ev.touching([flood()], "jinfeng")] == ["EV-20260708-001"]
    assert ev.touching([cancel(flood(), "误报", DISPATCHER, NOW)], "yangshe") == []


# ---- indicators -------------------------------------------------------------------------------------

def test_indicators_average_response_times_per_plan_and_department_against_limits():
    event = flood(at=NOW - 60 * M)
    event = task_action(event, "water_affairs", "acknowledge", WATER, NOW - 54 * M)  # 6 min, limit 10
    event = task_action(event, "water_affairs", "arrive", WATER, NOW - 10 * M)  # 50 min, limit 45
    event = task_action(event, "urban_management", "acknowledge", URBAN, NOW - 40 * M)  # 20 min, limit 15
    event = contain(event, DISPATCHER, NOW - 5 * M)
    plans, departments = ev.indicator_rows([event], PLANS, DEPARTMENTS, NOW, "zh")
    assert plans[0]["name"] == "防汛" and plans[0]["events"] == 1 and plans[0]["tasks"] == 3
    assert plans[0]["ack"] == 13.0 and plans[0]["ack_limit"] == "10–15" and plans[0]["contain"] == 55.0
    assert plans[0]["on_time"] == "50.0%"
    water = next(r for r in departments if r["key"] == "water_affairs")
    assert (water["name"], water["ack"], water["ack_limit"], water["arrive"], water["arrive_limit"]) == ("市水务局", 6.0, 10, 50.0, 45)
    assert water["late_arrive"] is True and water["late_ack"] is False


def test_withdrawn_tasks_do_not_count_in_the_indicators():
    event = withdraw_task(flood(), "urban_management", "不需要", DISPATCHER, NOW)
    _, departments = ev.indicator_rows([event], PLANS, DEPARTMENTS, NOW)
    assert "urban_management" not in {r["key"] for r in departments}


def test_an_added_task_is_worded_with_the_request_it_answers():
    event = task_action(task_action(flood(), "water_affairs", "acknowledge", WATER, NOW), "water_affairs", "support", WATER, NOW,
                        note="泵车")
    event = add_task(event, "transport", "调 2 台泵车", DISPATCHER, NOW, support_for="water_affairs")
    assert ev.log_rows(event, PLANS, DEPARTMENTS, DISTRICTS, "zh")[0]["what"] == "增派市交通运输局：调 2 台泵车（响应市水务局的支援请求）"



def test_a_title_left_blank_follows_the_events_level_and_the_pages_language():
    event = start_event(event_id="EV-20260708-009", plan=PLANS["flood"], level="IV", title="", area=Area("district", district="yangshe"),
                        district="yangshe", districts=("yangshe",), commander=DISPATCHER, now_ms=NOW)
    raised = change_level(event, PLANS["flood"], "II", "水位超保证", DISPATCHER, NOW + M)
    assert ev.title_of(raised, PLANS, "zh") == "防汛Ⅱ级响应"
    assert ev.title_of(raised, PLANS, "en") == "Flood control response, level II"
    assert ev.title_of(flood(), PLANS, "en") == "杨舍城区内涝"  # a title someone wrote is shown as written
