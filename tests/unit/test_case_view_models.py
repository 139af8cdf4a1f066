"""The view model of the case pages (ioc.views.cases): countdown texts, stage counts, filters,
rows of the case lists and the timeline, periods,
indicator rows, the ranking and the on-time chart."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import orjson
import pytest

from ioc.domain.access import Principal

from ioc.domain.case_indicators import FORMULAS, Indicators, indicators_by, rank_departments
from ioc.domain.cases import OPEN_STAGES, Case, CaseEvent
from ioc.domain.departments import FUNCTIONAL
from ioc.views.cases import (action_buttons, action_done_text, action_error_text, case_facts, case_id_of, case_link, case_rows, case_rows_json, category_options, class_name, class_options,
                             countdown, filter_cases, fmt_time, formula_lines, indicator_rows,
                             on_time_figure, overdue_count, percent, period_range, ranking_rows,
                             relevant_for_period, report_error_text, source_name, stage_counts, stage_name,
                             timeline_rows, transition_text)

CN = timezone(timedelta(hours=8))
H = 3_600_000
NOW = int(datetime(2026, 3, 18, 10, 0, tzinfo=CN).timestamp() * 1000)
DEPARTMENTS = {d.id: d for d in FUNCTIONAL}
DISTRICTS = {"yangshe": "杨舍镇", "jinfeng": "锦丰镇"}


def case(case_id: str, stage: str = "reported", deadline: int = 0, **kw) -> Case:
    values = dict(class_code="10101", lat=31.872, lon=120.556, district="yangshe", source="phone", created_at=NOW - 5 * H,
                  stage=stage, stage_deadline=deadline, urgent=True, suggested_department="water_affairs")
    values.update(kw)
    return Case(case_id, **values)


# ---- texts ------------------------------------------------------------------------------------

@pytest.mark.parametrize("deadline, zh, en, overdue", [
    (NOW + int(2.5 * H), "剩余 2.5 小时", "2.5 h left", False),
    (NOW - int(1.2 * H), "超期 1.2 小时", "Overdue by 1.2 h", True),
    (NOW, "剩余 0.0 小时", "0.0 h left", False),
    (0, "无时限", "No time limit", False),
])
def test_countdown_says_time_left_or_overdue(deadline, zh, en, overdue):
    assert countdown(deadline, NOW, "zh") == (zh, overdue)
    assert countdown(deadline, NOW, "en") == (en, overdue)


def test_names_in_both_languages_and_unknown_ones_as_they_are():
    assert class_name("10101") == "井盖丢失" and class_name("10101", "en") == "Manhole cover missing"
    assert class_name("99999") == "99999"
    assert source_name("phone") == "电话登记" and source_name("hotline", "en") == "12345 hotline"
    assert source_name("pager") == "pager"
    assert fmt_time(0) == "" and fmt_time(NOW) == "2026-03-18 10:00"
    assert transition_text("", "reported") == "待受理"
    assert transition_text("reported", "accepted") == "待受理 → 待核实"
    assert transition_text("dispatched", "dispatched", "en") == "Being handled"


def test_a_case_link_and_the_case_id_of_a_path():
    assert case_link("ZJG-20260318-000001") == "[ZJG-20260318-000001](/case/ZJG-20260318-000001)"
    assert case_id_of("/case/ZJG-20260318-000001") == "ZJG-20260318-000001"
    assert case_id_of("/case/ZJG-20260318-000001/") == "ZJG-20260318-000001"
    for path in ("/cases", "/case", "/case/a/b", "", None, "/"):
        assert case_id_of(path) == ""


def test_class_options_list_major_classes_then_every_minor_class():
    options = class_options("zh")
    assert options[0] == {"label": "101 公用设施", "value": "101"}
    assert {"label": "10101 井盖丢失 (紧急)", "value": "10101"} in options
    assert {"label": "10105 路灯损坏", "value": "10105"} in category_options("zh")
    assert all(len(o["value"]) == 5 for o in category_options("en"))


# ---- the console ------------------------------------------------------------------------------

def sample() -> list[Case]:
    return [
        case("A", "reported", NOW + H, created_at=NOW - 1 * H),
        case("B", "accepted", NOW - H, district="jinfeng", source="hotline", urgent=False, class_code="20101"),
        case("C", "dispatched", NOW + 3 * H, department="water_affairs", acknowledged_at=NOW - H),
        case("D", "dispatched", NOW - 2 * H, department="water_affairs"),
        case("E", "dispatched", NOW + H, department="urban_management"),
        case("F", "handled", 0, department="water_affairs", created_at=NOW - 2 * H),
        case("G", "closed", 0, department="water_affairs"),
    ]


def test_stage_counts_list_every_open_stage():
    counts = stage_counts(sample())
    assert list(counts) == list(OPEN_STAGES)
    assert counts == {"reported": 1, "accepted": 1, "verified": 0, "dispatched": 3, "handled": 1, "checked": 0}
    assert overdue_count(sample(), NOW) == 2


def test_filters_combine_and_the_most_pressing_case_comes_first():
    cases = sample()
    assert [c.id for c in filter_cases(cases, NOW)] == ["D", "B", "A", "E", "C", "F"]  # G is closed
    assert [c.id for c in filter_cases(cases, NOW, stage="dispatched")] == ["D", "E", "C"]
    assert [c.id for c in filter_cases(cases, NOW, district="jinfeng")] == ["B"]
    assert [c.id for c in filter_cases(cases, NOW, class_code="201")] == ["B"]  # a major class matches its minor ones
    assert [c.id for c in filter_cases(cases, NOW, class_code="10101", stage="dispatched")] == ["D", "E", "C"]
    assert [c.id for c in filter_cases(cases, NOW, source="hotline")] == ["B"]
    assert [c.id for c in filter_cases(cases, NOW, urgency="ordinary")] == ["B"]
    assert "B" not in [c.id for c in filter_cases(cases, NOW, urgency="urgent")]
    assert [c.id for c in filter_cases(cases, NOW, overdue_only=True)] == ["D", "B"]
    assert filter_cases(cases, NOW, district="jinfeng", overdue_only=True, stage="reported") == []


def test_case_rows_carry_the_link_names_and_a_red_countdown_when_overdue():
    rows = {r["id"]: r for r in case_rows(sample(), NOW, "zh", DISTRICTS, DEPARTMENTS)}
    d = rows["D"]
    assert d["link"] == "[D](/case/D)"
    assert (d["class"], d["district"], d["stage"], d["source"], d["department"]) == ("井盖丢失", "杨舍镇", "处置中", "电话登记", "市水务局")
    assert (d["deadline"], d["overdue"]) == ("超期 2.0 小时", True)
    assert (rows["C"]["deadline"], rows["C"]["overdue"]) == ("剩余 3.0 小时", False)
    assert rows["F"]["deadline"] == "无时限" and rows["A"]["department"] == ""
    assert rows["B"]["district"] == "锦丰镇" and rows["B"]["reported"] == "2026-03-18 05:00"
    en = case_rows([sample()[3]], NOW, "en", {}, DEPARTMENTS)[0]
    assert (en["class"], en["stage"], en["department"], en["district"]) == (
        "Manhole cover missing", "Being handled", "Water Affairs Bureau", "yangshe")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_rows_json_is_the_rows_also_when_made_again_from_the_kept_parts(lang):
    kept = {}
    first = case_rows_json(sample(), NOW, lang, DISTRICTS, DEPARTMENTS, kept)
    later = case_rows_json(sample(), NOW + 3 * H, lang, DISTRICTS, DEPARTMENTS, kept)
    assert orjson.loads(first) == case_rows(sample(), NOW, lang, DISTRICTS, DEPARTMENTS)
    assert orjson.loads(later) == case_rows(sample(), NOW + 3 * H, lang, DISTRICTS, DEPARTMENTS)
    assert case_rows_json([], NOW, lang, DISTRICTS, DEPARTMENTS, kept) == b"[]"


def test_the_rows_json_countdowns_are_exact_at_every_rounding_edge():
    edges = [k * H // 20 + d for k in range(-45, 45) for d in (-1, 0, 1)]  # around every half tenth of an hour
    cases = [case(f"E{k}", "dispatched", NOW + left) for k, left in enumerate(edges) if NOW + left]
    kept = {}
    for now in (NOW, NOW + 1):
        assert orjson.loads(case_rows_json(cases, now, "zh", DISTRICTS, DEPARTMENTS, kept)) == case_rows(
            cases, now, "zh", DISTRICTS, DEPARTMENTS)


def test_a_row_carries_its_id_and_the_consoles_columns_only():
    from layouts.cases import CASE_COLUMNS

    row = case_rows([sample()[2]], NOW, "zh", DISTRICTS, DEPARTMENTS)[0]
    assert set(row) == {"id", "overdue"} | {field for field, _, _ in CASE_COLUMNS}


def test_a_changed_case_gets_a_new_row_json():
    kept = {}
    before = orjson.loads(case_rows_json([case("A", "reported")], NOW, "zh", DISTRICTS, DEPARTMENTS, kept))
    after = orjson.loads(case_rows_json([case("A", "verified", version=2)], NOW, "zh", DISTRICTS, DEPARTMENTS, kept))
    assert (before[0]["stage"], after[0]["stage"]) == ("待受理", "待派遣")


# ---- one case ---------------------------------------------------------------------------------

def test_case_facts_name_the_class_in_the_page_language_only_and_the_departments():
    c = case("A", "verified", NOW + H, address="人民中路 1 号", reporter="王先生 138…", description="井盖不见了",
             due_at=NOW + 6 * H, pending_deferral={})
    facts = dict(case_facts(c, "zh", DISTRICTS, DEPARTMENTS))
    assert facts["案件类别"] == "10101 井盖丢失"
    assert facts["当前环节"] == "待派遣" and facts["所在区镇"] == "杨舍镇" and facts["来源"] == "电话登记"
    assert facts["建议处置部门"] == "市水务局" and facts["处置部门"] == "—"
    assert facts["上报人"] == "王先生 138…" and facts["地址"] == "人民中路 1 号" and facts["问题描述"] == "井盖不见了"
    assert facts["结案时限"] == fmt_time(NOW + 6 * H)
    assert "待批延期申请" not in facts
    waiting = case("B", "dispatched", department="water_affairs", pending_deferral={"hours": 12, "by": "h1", "note": "缺配件", "at": NOW})
    facts = dict(case_facts(waiting, "en", DISTRICTS, DEPARTMENTS))
    assert facts["Deferral request waiting"] == "12 h (by h1): 缺配件"
    assert facts["Class"] == "10101 Manhole cover missing"


def test_timeline_rows_in_time_order_with_labels_and_details():
    events = [
        CaseEvent("A", "dispatch", "d1", "dispatcher", "verified", "dispatched", NOW - H, "", {"department": "water_affairs"}),
        CaseEvent("A", "report", "d1", "dispatcher", "", "reported", NOW - 3 * H, "井盖不见了"),
        CaseEvent("A", "request_deferral", "h1", "handler", "dispatched", "dispatched", NOW, "缺配件", {"hours": 12}),
    ]
    rows = timeline_rows(events, "zh", DEPARTMENTS)
    assert [r["action"] for r in rows] == ["上报", "派遣", "申请延期"]
    assert [r["n"] for r in rows] == ["0", "1", "2"]
    assert rows[0]["transition"] == "待受理" and rows[0]["note"] == "井盖不见了" and rows[0]["role"] == "调度员"
    assert rows[1]["transition"] == "待派遣 → 处置中" and rows[1]["note"] == "市水务局"
    assert rows[2]["note"] == "12 h · 缺配件" and rows[2]["role"] == "处置部门"
    assert timeline_rows(events[:1], "en", DEPARTMENTS)[0]["action"] == "Dispatch"


def test_an_intake_systems_report_is_named_by_its_source_not_by_a_user_with_that_login():
    """The MQTT intake reports with the source as actor (`inspector`, role system): the demo's user
    `inspector` (监督员 赵强) did not report it."""
    report = CaseEvent("A", "report", "inspector", "system", "", "reported", NOW, "")
    dispatch = CaseEvent("A", "dispatch", "inspector", "dispatcher", "verified", "dispatched", NOW + H, "", {"department": "water_affairs"})
    rows = timeline_rows([report, dispatch], "zh", DEPARTMENTS, people={"inspector": "监督员 赵强"})
    assert rows[0]["actor"] == source_name("inspector", "zh") and rows[0]["role"] == "系统"
    assert rows[1]["actor"] == "监督员 赵强"


# ---- indicators -------------------------------------------------------------------------------

def test_period_range_of_each_choice():
    month = (int(datetime(2026, 3, 1, tzinfo=CN).timestamp() * 1000), int(datetime(2026, 4, 1, tzinfo=CN).timestamp() * 1000))
    assert period_range("this_month", NOW) == month
    assert period_range("last_month", NOW) == (int(datetime(2026, 2, 1, tzinfo=CN).timestamp() * 1000), month[0])
    monday = int(datetime(2026, 3, 16, tzinfo=CN).timestamp() * 1000)
    assert period_range("this_week", NOW) == (monday, monday + 7 * 24 * H)
    today = int(datetime(2026, 3, 18, tzinfo=CN).timestamp() * 1000)
    assert period_range("today", NOW) == (today, today + 24 * H)
    assert period_range("nonsense", NOW) == month


def test_only_cases_that_can_count_in_the_period_are_read():
    start, end = period_range("this_month", NOW)
    old_closed = case("old", "closed", created_at=start - 40 * 24 * H, updated_at=start - 20 * 24 * H, closed_at=start - 20 * 24 * H)
    old_open = case("open", "dispatched", created_at=start - 40 * 24 * H, updated_at=start - 30 * 24 * H)
    closed_now = case("now", "closed", created_at=start - 2 * 24 * H, updated_at=start + H, closed_at=start + H)
    future = case("future", created_at=end + H, updated_at=end + H)
    assert [c.id for c in relevant_for_period([old_closed, old_open, closed_now, future], start, end)] == ["open", "now"]


def test_indicator_rows_show_rates_as_percentages_and_stage_hours():
    ind = Indicators(0, 10, 10, registered=4, due=4, closed=3, closed_on_time=2, deferred=0, overdue=2, handled=4, rework=1,
                     mean_stage_hours={"reported": 0.254, "dispatched": 5.0}, stage_stays={"reported": 4, "dispatched": 3})
    (row,) = indicator_rows({"water_affairs": ind}, {"water_affairs": "市水务局"})
    assert (row["key"], row["name"], row["registered"], row["due"], row["closed"], row["overdue"], row["deferred"]) == (
        "water_affairs", "市水务局", 4, 4, 3, 2, 0)
    assert (row["closure_rate"], row["on_time_rate"], row["rework_rate"]) == (75.0, 50.0, 25.0)
    assert (row["hours_reported"], row["hours_dispatched"], row["hours_verified"]) == (0.3, 5.0, None)
    assert "hours_closed" not in row
    empty = indicator_rows({"x": Indicators(0, 10, 10)}, {})[0]
    assert (empty["name"], empty["closure_rate"], empty["rework_rate"]) == ("x", None, None)
    assert percent(None) is None and percent(2 / 3) == 66.7


def _groups():
    def c(case_id, department, closed_at, due_at):
        return Case(case_id, "10101", 31.87, 120.55, "yangshe", "phone", 0, stage="closed", department=department,
                    closed_at=closed_at, due_at=due_at)
    cases = [c("1", "water_affairs", 5, 10), c("2", "water_affairs", 8, 6), c("3", "transport", 4, 10), c("4", "transport", 5, 10)]
    return indicators_by(cases, None, "department", 0, 100, 100)


def test_the_ranking_rows_and_the_on_time_chart_best_first():
    groups = _groups()
    names = {"water_affairs": "市水务局", "transport": "市交通运输局"}
    rows = ranking_rows(rank_departments(groups), names)
    assert [(r["rank"], r["name"], r["on_time_rate"]) for r in rows] == [(1, "市交通运输局", 100.0), (2, "市水务局", 50.0)]
    assert rows[0]["score"] == 100.0
    figure = on_time_figure(groups | {"none": Indicators(0, 100, 100)}, names, "zh")
    bar = figure["data"][0]
    assert bar["type"] == "bar" and bar["x"] == ["市交通运输局", "市水务局"] and bar["y"] == [100.0, 50.0]
    assert figure["layout"]["title"]["text"] == "各部门按期结案率"


def test_every_formula_is_shown_in_both_languages():
    assert len(formula_lines("zh")) == len(FORMULAS)
    assert formula_lines("zh")[0].startswith("立案数") and formula_lines("en")[0].startswith("Registered")


def test_the_buttons_are_the_allowed_actions_without_a_second_acknowledgement():
    handler = Principal("h", frozenset({"handler"}), department="water_affairs")
    task = case("A", "dispatched", department="water_affairs")
    assert action_buttons(task, handler) == ["acknowledge", "return", "handle", "request_deferral"]
    assert action_buttons(replace(task, acknowledged_at=NOW), handler) == ["return", "handle", "request_deferral"]
    assert action_buttons(task, Principal("other", frozenset({"handler"}), department="transport")) == []
    assert action_buttons(task, None) == []


# ---- issue 13: stage words, confirmations and refusals in the page language --------------------

def test_each_open_stage_is_named_by_what_it_awaits_in_both_languages():
    assert [stage_name(s) for s in OPEN_STAGES] == ["待受理", "待核实", "待派遣", "处置中", "待核查", "待结案"]
    assert [stage_name(s, "en") for s in OPEN_STAGES] == [
        "Awaiting acceptance", "Awaiting verification", "Awaiting dispatch", "Being handled", "Awaiting check",
        "Awaiting closure"]
    assert [stage_name(s) for s in ("closed", "rejected", "voided", "merged")] == ["已结案", "不予受理", "已作废", "已并案"]
    assert stage_name("flying") == "flying"


def test_an_urge_is_confirmed_as_staying_in_its_stage_not_as_a_stage_change():
    assert action_done_text("urge", "dispatched") == "已办理：督办（案件仍在「处置中」）"
    assert action_done_text("urge", "dispatched", "en") == "Done: Urge (the case stays: Being handled)"
    assert "→" not in action_done_text("acknowledge", "dispatched")
    assert action_done_text("accept", "accepted") == "已办理：受理（送核实），案件转入「待核实」"


@pytest.mark.parametrize("stage, action, params, words", [
    ("reported", "reject", {"note": "  "}, "请填写办理意见"),
    ("reported", "reject", {"note": "x" * 1001}, "办理意见过长（最多 1000 字）"),
    ("dispatched", "request_deferral", {"note": "缺配件", "hours": 0}, "延期小时数须为 1 到 720 之间的整数"),
    ("dispatched", "request_deferral", {"note": "缺配件", "hours": 721}, "延期小时数须为 1 到 720 之间的整数"),
    ("reported", "merge", {"master_id": "A"}, "请填写一个在办的主案件编号"),
])
def test_the_workflows_refusals_of_an_input_are_worded_for_the_case_page(stage, action, params, words):
    """The page checks nothing itself: the workflow refuses, the page words the refusal."""
    from ioc.domain.cases import CaseActionError, apply

    who = Principal("x", frozenset({"dispatcher", "handler"}), department="water_affairs")
    with pytest.raises(CaseActionError) as refused:
        apply(case("A", stage, department="water_affairs"), action, who, 0, **params)
    assert action_error_text(refused.value).startswith(f"未能办理：{words}")


def test_workflow_refusals_are_said_in_the_page_language():
    from ioc.casework.service import CaseInputError
    from ioc.domain.cases import CaseActionError, CasePermissionError
    assert action_error_text(CasePermissionError("role dispatcher may not")) == "未能办理：您的角色或部门不能办理此操作"
    assert action_error_text(CaseInputError("department", "unknown department 'x'"), "en") == (
        "Not done: choose the department to dispatch to")
    assert action_error_text(CaseActionError("the department has already acknowledged this case", code="already_acknowledged")).endswith(
        "本部门已签收该案件")
    assert action_error_text(CaseActionError("a case in stage 'closed' cannot be 'accept'ed")).endswith("请刷新")
    assert report_error_text(CaseInputError("lat", "(1, 2) is outside the city")).startswith("未能登记：位置须在本市范围内")
    assert report_error_text(CaseInputError("description", "too long"), "en") == "Not filed: check “What is the problem”"


def test_every_district_has_an_indicator_row_with_zeros_when_it_has_no_case():
    ind = Indicators(0, 10, 10, registered=4, due=4, closed=3)
    rows = indicator_rows({"yangshe": ind}, DISTRICTS, ["jinfeng", "yangshe"], Indicators(0, 10, 10))
    assert [(r["key"], r["name"], r["registered"], r["closed"]) for r in rows] == [("jinfeng", "锦丰镇", 0, 0),
                                                                               ("yangshe", "杨舍镇", 4, 3)]
    assert rows[0]["closure_rate"] is None


def test_an_empty_on_time_chart_says_no_data_and_draws_no_axes():
    figure = on_time_figure({"none": Indicators(0, 100, 100)}, {}, "zh")
    assert figure["data"] == []
    assert figure["layout"]["annotations"][0]["text"] == "暂无数据"
    assert figure["layout"]["xaxis"]["visible"] is False and figure["layout"]["yaxis"]["visible"] is False
    assert on_time_figure({}, {}, "en")["layout"]["annotations"][0]["text"] == "No data yet"
