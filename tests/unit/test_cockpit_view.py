"""The leader cockpit's view model (ioc.views.cockpit): the big screen's figures, the districts,
the alarms with their linked event, the live events and the overdue cases with the words a
leader urges them by — in Chinese and English, people, units, districts and departments by name."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from ioc.domain.access import Principal
from ioc.domain.cases import Case
from ioc.domain.city_state import CitySnapshot, DeviceRow
from ioc.domain.departments import FUNCTIONAL
from ioc.domain.events import Area, cancel, start_event
from ioc.domain.plans import builtin_plans
from ioc.views import cockpit
from ioc.views.bigscreen import district_ranking, kpi_texts, kpis

CN = timezone(timedelta(hours=8))
H = 3_600_000
M = 60_000
NOW = int(datetime(2026, 7, 8, 14, 0, tzinfo=CN).timestamp() * 1000)
DEPARTMENTS = {d.id: d for d in FUNCTIONAL}
DISTRICTS = {"yangshe": "杨舍镇", "jinfeng": "锦丰镇"}
PLANS = builtin_plans(frozenset(DEPARTMENTS))
DISPATCHER = Principal("lidiao", frozenset({"dispatcher"}), "李调度")
ALARM_ID = "wl-1|water_level_warning"


def case(case_id: str, deadline: int, **kw) -> Case:
    values = dict(class_code="10101", lat=31.872, lon=120.556, district="yangshe", source="phone", created_at=NOW - 5 * H,
                  stage="dispatched", stage_deadline=deadline, department="water_affairs", address="人民中路 18 号")
    values.update(kw)
    return Case(case_id, **values)


def snapshot() -> CitySnapshot:
    devices = [DeviceRow("wl-1", "water_level", "杨舍 水位站 1", 120.55, 31.87, "yangshe", True),
               DeviceRow("aq-1", "air_quality", "锦丰 空气站", 120.6, 31.9, "jinfeng", True)]
    alarms = [{"id": ALARM_ID, "device_id": "wl-1", "kind": "water_level", "severity": "critical", "district": "yangshe",
               "rule_id": "water_level_warning", "attribute": "waterLevel", "value": 4.8, "threshold": 4.2,
               "raised_at": NOW - 3 * M, "name_zh": "水位超警戒", "name_en": "Water level above warning line"}]
    cases = [case("ZJG-20260708-000001", NOW - 2 * H), case("ZJG-20260708-000002", NOW + H, district="jinfeng")]
    return CitySnapshot(NOW, devices, alarms, {}, {}, {}, cases=cases)


def flood(alarms=(ALARM_ID,)):
    event = start_event(event_id="EV-20260708-001", plan=PLANS["flood"], level="IV", title="杨舍城区内涝",
                        area=Area("district", district="yangshe"), district="yangshe", districts=("yangshe", "jinfeng"),
                        commander=DISPATCHER, now_ms=NOW - 30 * M)
    return replace(event, alarms=tuple(alarms))


# ---- the city's figures --------------------------------------------------------------------------

def test_the_city_figures_are_the_big_screens_cards_in_the_leaders_order():
    k = kpis(snapshot(), "zh")
    figures = cockpit.city_figures(k, "zh")
    assert [f.key for f in figures] == list(cockpit.CITY_FIGURES)
    texts = kpi_texts(k, "zh")
    assert all((f.value, f.sub) == texts[f.key] for f in figures)
    assert figures[0].label == "当前告警" and cockpit.city_figures(k, "en")[0].label == "Active alarms"


def test_a_critical_alarm_and_an_overdue_case_mark_their_figures():
    marked = {f.key for f in cockpit.city_figures(kpis(snapshot(), "zh"), "zh") if f.alert}
    assert {"kpi_alarms", "kpi_cases"} <= marked and "kpi_aqi" not in marked


# ---- the districts -------------------------------------------------------------------------------

def test_districts_with_critical_alarms_or_overdue_cases_come_first_and_link_to_their_page(city):
    cards = cockpit.district_cards(district_ranking(snapshot(), city, "zh"), "zh")
    assert len(cards) == len(city.districts)
    first = cards[0]
    assert (first["id"], first["href"], first["alert"]) == ("yangshe", "/district/yangshe", True)
    assert first["name"] == city.district("yangshe").name("zh")
    assert dict(first["figures"])["紧急告警"] == "1" and dict(first["figures"])["超期案件"] == "1"
    assert not any(c["alert"] for c in cards[1:])


def test_a_districts_figures_read_in_english(city):
    cards = cockpit.district_cards(district_ranking(snapshot(), city, "en"), "en")
    labels = [label for label, _ in cards[0]["figures"]]
    assert labels == ["Alarms", "Critical", "Open cases", "Overdue cases", "AQI", "Online"]


# ---- alarms and linked events -------------------------------------------------------------------

def board_row(**kw) -> dict:
    row = {"id": ALARM_ID, "severity": "critical", "rule": "水位超警戒", "device": "杨舍 水位站 1", "district": "杨舍镇",
           "reading": "水位 4.8 m", "since": "13:57:00", "escalation": "", "acked_by": "张三"}
    row.update(kw)
    return row


def test_an_alarm_card_names_the_linked_event_it_belongs_to():
    cards = cockpit.alarm_cards([board_row()], [flood()], "zh")
    assert (cards[0]["event_id"], cards[0]["event_href"]) == ("EV-20260708-001", "/event/EV-20260708-001")
    assert cards[0]["severity_text"] == "紧急" and cards[0]["acked_by"] == "张三"


def test_an_alarm_of_no_live_event_has_no_link():
    ended = cancel(flood(), "误报", DISPATCHER, NOW - 10 * M)
    assert cockpit.alarm_cards([board_row()], [ended], "en")[0]["event_href"] == ""
    assert cockpit.alarm_cards([board_row()], [flood(alarms=())], "en")[0]["event_id"] == ""


def test_the_alarm_list_keeps_the_boards_order_and_its_limit():
    rows = [board_row(id=f"a-{i}") for i in range(15)]
    assert [c["id"] for c in cockpit.alarm_cards(rows, [], "zh")] == [f"a-{i}" for i in range(cockpit.ALARM_LIMIT)]


def test_a_live_event_card_has_the_banners_words_tasks_and_links():
    card = cockpit.event_cards([flood()], PLANS, DISTRICTS, NOW, "zh", {"lidiao": "李调度"})[0]
    assert card["headline"] == "防汛 · Ⅳ级（一般）" and card["title"] == "杨舍城区内涝"
    assert card["commander"] == "李调度" and card["districts"] == "杨舍镇、锦丰镇" and card["href"] == "/event/EV-20260708-001"
    assert card["elapsed"] == "已持续 30 分钟"
    assert card["linked"] == "关联告警 1 · 关联案件 0"
    english = cockpit.event_cards([flood()], PLANS, DISTRICTS, NOW, "en")[0]
    assert english["headline"] == "Flood control · Level IV (General)" and english["tasks"].startswith("Tasks done 0/")


def test_an_ended_event_is_not_shown():
    assert cockpit.event_cards([cancel(flood(), "误报", DISPATCHER, NOW - 10 * M)], PLANS, DISTRICTS, NOW, "zh") == []


# ---- overdue cases and 督办 ----------------------------------------------------------------------

def test_only_overdue_cases_are_listed_the_longest_overdue_first():
    cases = [case("ZJG-1", NOW - H), case("ZJG-2", NOW - 3 * H), case("ZJG-3", NOW + H), case("ZJG-4", 0)]
    rows = cockpit.overdue_cases(cases, NOW, DISTRICTS, DEPARTMENTS, "zh")
    assert [r["id"] for r in rows] == ["ZJG-2", "ZJG-1"]


def test_an_overdue_case_reads_in_peoples_words_in_both_languages():
    c = case("ZJG-20260708-000001", NOW - int(1.5 * H), urge_count=2)
    zh = cockpit.overdue_cases([c], NOW, DISTRICTS, DEPARTMENTS, "zh")[0]
    assert (zh["class"], zh["district"], zh["department"], zh["over"], zh["urges"]) == (
        "井盖丢失", "杨舍镇", DEPARTMENTS["water_affairs"].name("zh"), "超期 1.5 小时", "已督办 2 次")
    assert zh["href"] == "/case/ZJG-20260708-000001" and zh["stage"] == "处置中"
    en = cockpit.overdue_cases([c], NOW, {"yangshe": "Yangshe"}, DEPARTMENTS, "en")[0]
    assert (en["class"], en["over"], en["urges"]) == ("Manhole cover missing", "Overdue by 1.5 h", "Urges so far: 2")


def test_an_overdue_case_not_yet_dispatched_says_so():
    row = cockpit.overdue_cases([case("ZJG-5", NOW - H, stage="verified", department="")], NOW, DISTRICTS, DEPARTMENTS, "zh")[0]
    assert row["department"] == "未派遣"


def test_the_urge_confirmation_names_the_case_its_department_and_the_count():
    urged = case("ZJG-20260708-000001", NOW - H, urge_count=3)
    assert cockpit.urge_done_text(urged, DEPARTMENTS, "zh") == (
        f"已督办 ZJG-20260708-000001（井盖丢失 · {DEPARTMENTS['water_affairs'].name('zh')}），第 3 次督办")
    assert cockpit.urge_done_text(urged, DEPARTMENTS, "en").startswith("Urged ZJG-20260708-000001 (Manhole cover missing · ")


def test_the_summary_counts_overdue_cases_and_live_events():
    assert cockpit.summary_line([{}, {}], [{}], "zh") == "超期案件 2 件 · 进行中的联动事件 1 起"
    assert cockpit.summary_line([], [], "en") == "Overdue cases: 0 · linked events under way: 0"
