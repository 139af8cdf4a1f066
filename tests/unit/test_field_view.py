"""The view model of the field pages (ioc.views.field): distances and their words, the inspector's
queues nearest first (by deadline without a position), a department's tasks by deadline, deadline
words, the phone's navigation links, the maps' view, the cards and the refusals' words."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from ioc.domain.access import Principal
from ioc.domain.cases import Case, CaseActionError, CasePermissionError
from ioc.domain.departments import FUNCTIONAL
from ioc.views import field as fv
from ioc.views.cases import action_error_text

CN = timezone(timedelta(hours=8))
H, M = 3_600_000, 60_000
NOW = int(datetime(2026, 3, 18, 10, 0, tzinfo=CN).timestamp() * 1000)
HERE = {"lat": 31.872, "lon": 120.556, "accuracy": 12.0, "at": NOW - 20_000}
DEPARTMENTS = {d.id: d for d in FUNCTIONAL}
DISTRICTS = {"yangshe": "杨舍镇", "jinfeng": "锦丰镇"}
INSPECTOR = Principal("li", frozenset({"inspector"}))
HANDLER = Principal("wang", frozenset({"handler"}), department="water_affairs")


def case(case_id: str, stage: str = "accepted", deadline: int = 0, lat: float = 31.872, lon: float = 120.556, **kw) -> Case:
    values = dict(class_code="10101", lat=lat, lon=lon, district="yangshe", source="inspector", created_at=NOW - 5 * H,
                  stage=stage, stage_deadline=deadline, urgent=True)
    values.update(kw)
    return Case(case_id, **values)


# ---- distance ------------------------------------------------------------------------------------

def test_the_distance_of_a_thousandth_of_a_degree_of_latitude_is_111_metres():
    assert fv.distance_m(31.872, 120.556, 31.873, 120.556) == pytest.approx(111.2, abs=0.5)
    assert fv.distance_m(31.872, 120.556, 31.872, 120.566) == pytest.approx(945, abs=5)  # a degree of longitude shrinks with cos(lat)


@pytest.mark.parametrize("metres, zh, en", [
    (4, "<10 米", "<10 m"), (111.2, "110 米", "110 m"), (995, "1000 米", "1000 m"), (1000, "1.0 公里", "1.0 km"),
    (3336, "3.3 公里", "3.3 km"), (12_400, "12 公里", "12 km"), (None, "", ""),
])
def test_a_distance_in_metres_under_a_kilometre_else_in_kilometres(metres, zh, en):
    assert fv.distance_text(metres, "zh") == zh and fv.distance_text(metres, "en") == en


@pytest.mark.parametrize("data", [None, {}, {"error": 1}, {"lat": "31.8", "lon": 120.5}, {"lat": 91, "lon": 0},
                                  {"lat": 31.8, "lon": float("nan")}, {"lat": True, "lon": 120.5}])
def test_no_position_from_a_store_holding_no_position_on_earth(data):
    assert fv.position_of(data) is None


def test_a_position_keeps_its_accuracy_and_time():
    assert fv.position_of({"lat": 31.8, "lon": 120.5, "accuracy": 8.4, "at": NOW}) == {"lat": 31.8, "lon": 120.5, "accuracy": 8.4, "at": NOW}
    assert fv.position_of({"lat": 31.8, "lon": 120.5})["accuracy"] is None


# ---- the inspector's queues ------------------------------------------------------------------------

def queue_sample() -> list[Case]:
    return [
        case("FAR", lat=31.902, deadline=NOW + H),  # ~3.3 km, the most pressing
        case("NEAR", lat=31.873, deadline=NOW + 5 * H),  # ~110 m
        case("MID", lon=120.566, deadline=NOW + 3 * H),  # ~950 m
        case("NONE", lat=31.874, deadline=0),  # ~220 m, no time limit
        case("HANDLED", stage="handled", deadline=NOW + 2 * H, department="water_affairs"),
        case("DISPATCHED", stage="dispatched", deadline=NOW - H, department="water_affairs"),
    ]


def test_the_verify_queue_is_nearest_first_when_the_phone_knows_where_it_is():
    assert [c.id for c in fv.inspection_queue(queue_sample(), "verify", HERE)] == ["NEAR", "NONE", "MID", "FAR"]


def test_without_a_position_the_verify_queue_is_by_deadline_and_a_case_without_one_last():
    assert [c.id for c in fv.inspection_queue(queue_sample(), "verify", None)] == ["FAR", "MID", "NEAR", "NONE"]


def test_the_check_queue_holds_the_handled_cases():
    assert [c.id for c in fv.inspection_queue(queue_sample(), "check", HERE)] == ["HANDLED"]


def test_the_sort_note_says_how_the_list_is_sorted_and_why_not_by_distance():
    assert fv.sort_note(HERE, HERE, NOW, "zh") == "按距离由近到远排列 · 已定位（精度 ±12 米，刚刚）"
    assert fv.sort_note(None, {"error": 1}, NOW, "zh").startswith("按时限排列（未允许使用位置")
    assert fv.sort_note(None, None, NOW, "en") == "Sorted by deadline (finding your position)"
    assert fv.sort_note(None, {"error": 3}, NOW, "en") == "Sorted by deadline (finding your position took too long)"
    old = dict(HERE, at=NOW - 7 * M)
    assert fv.sort_note(old, old, NOW, "en") == "Nearest first · Located (accuracy ±12 m, 7 min ago)"


# ---- a department's tasks ---------------------------------------------------------------------------

def tasks_sample() -> list[Case]:
    return [
        case("LATER", "dispatched", NOW + 8 * H, department="water_affairs", acknowledged_at=NOW - H),
        case("OVERDUE", "dispatched", NOW - 2 * H, department="water_affairs"),
        case("OPEN-ENDED", "dispatched", 0, department="water_affairs"),
        case("SOON", "dispatched", NOW + H, department="water_affairs"),
        case("OTHER", "dispatched", NOW - 3 * H, department="urban_management"),
        case("CHECK", "handled", NOW + H, department="water_affairs"),
    ]


def test_the_departments_tasks_are_its_dispatched_cases_the_most_pressing_first():
    assert [c.id for c in fv.department_tasks(tasks_sample(), "water_affairs")] == ["OVERDUE", "SOON", "LATER", "OPEN-ENDED"]
    assert fv.department_tasks(tasks_sample(), "") == []


def test_the_task_figures_count_open_overdue_unacknowledged_and_awaiting_check():
    assert fv.task_counts(tasks_sample(), "water_affairs", NOW) == {"open": 4, "overdue": 1, "unacked": 3, "handled": 1}
    assert fv.task_counts(tasks_sample(), "", NOW) == {"open": 0, "overdue": 0, "unacked": 0, "handled": 0}


# ---- deadlines ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("deadline, zh, en, overdue", [
    (NOW + 3 * H + 5 * M, "还剩 3 小时 5 分钟（03-18 13:05 前）", "3 h 5 min left (due 03-18 13:05)", False),
    (NOW + 2 * 24 * H + 3 * H, "还剩 2 天 3 小时（03-20 13:00 前）", "2 d 3 h left (due 03-20 13:00)", False),
    (NOW + 20_000, "还剩 1 分钟（03-18 10:00 前）", "1 min left (due 03-18 10:00)", False),
    (NOW - 25 * H, "已超期 1 天 1 小时", "Overdue by 1 d 1 h", True),
    (NOW - 40 * M, "已超期 40 分钟", "Overdue by 40 min", True),
    (0, "无时限", "No time limit", False),
])
def test_a_deadline_in_words(deadline, zh, en, overdue):
    assert fv.deadline_words(deadline, NOW, "zh") == (zh, overdue)
    assert fv.deadline_words(deadline, NOW, "en") == (en, overdue)


# ---- navigation -----------------------------------------------------------------------------------------

def test_the_geo_link_puts_a_pin_on_the_case():
    assert fv.geo_link(31.873, 120.556) == "geo:31.873000,120.556000?q=31.873000,120.556000"


def test_the_amap_link_routes_to_the_case_by_car_in_gps_coordinates():
    link = fv.amap_link(31.873, 120.556, "人民中路 88 号")
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "uri.amap.com", "/navigation")
    query = parse_qs(parts.query)
    assert query["to"] == ["120.556000,31.873000,人民中路 88 号"]  # lon first, then lat, then the name
    assert query["coordinate"] == ["wgs84"] and query["mode"] == ["car"] and query["callnative"] == ["1"]
    assert "to=120.556000,31.873000," in link and " " not in link


# ---- maps -------------------------------------------------------------------------------------------------

def test_the_map_view_shows_both_points_and_stays_within_the_maximum_zoom():
    center, zoom = fv.fit_view([(31.872, 120.556), (31.882, 120.556)], 340, 190)
    assert center == pytest.approx([31.877, 120.556], abs=1e-4)
    assert zoom == 14.25  # 1.1 km over the 166 px left between the paddings
    assert fv.fit_view([(31.872, 120.556), (31.87201, 120.556)], 340, 190, max_zoom=16)[1] == 16


# ---- cards and refusals --------------------------------------------------------------------------------------

def test_a_card_is_in_peoples_words():
    c = fv.card(case("NEAR", lat=31.873, deadline=NOW + H, address="人民中路 88 号", department="water_affairs", rework_count=1),
                NOW, "zh", DISTRICTS, DEPARTMENTS, HERE)
    assert (c["class"], c["address"], c["district"], c["distance"], c["distance_m"]) == ("井盖丢失", "人民中路 88 号", "杨舍镇", "110 米", 111)
    assert c["deadline"] == "还剩 1 小时（03-18 11:00 前）" and not c["overdue"]
    assert c["department"] == "市水务局" and c["rework"] == 1
    assert c["nav_geo"].startswith("geo:31.873000,120.556000") and "%E4%BA%BA%E6%B0%91" in c["nav_amap"]
    english = fv.card(case("X", address=""), NOW, "en", {"yangshe": "Yangshe"}, DEPARTMENTS, None)
    assert (english["class"], english["address"], english["distance"]) == ("Manhole cover missing", "Yangshe", "")


def test_the_sheet_offers_the_pages_actions_the_viewer_may_take():
    assert fv.sheet_actions(case("A"), INSPECTOR, "inspections") == ["verify", "void"]
    assert fv.sheet_actions(case("B", "handled", department="water_affairs"), INSPECTOR, "inspections") == ["check_pass", "check_fail"]
    fresh = case("C", "dispatched", department="water_affairs")
    assert fv.sheet_actions(fresh, HANDLER, "tasks")[:2] == ["acknowledge", "handle"]
    assert fv.sheet_actions(case("D", "dispatched", department="urban_management"), HANDLER, "tasks") == []


def refused(message: str, field: str, code: str, **values) -> CaseActionError:
    return CaseActionError(message, field, code, values)


@pytest.mark.parametrize("error, zh", [
    (refused("too far", "lat", "too_far", distance=1113, radius=300), "未能办理：您距案件位置约 1113 米，超出到场签到范围（300 米）"),
    (refused("ack first", "action", "not_acknowledged"), "未能办理：请先签收案件，再到场签到"),
    (refused("photo", "file", "after_photo_required"), "未能办理：处置完毕前请至少上传一张处置后照片"),
    (CaseActionError("void needs a note", "note"), "未能办理：请填写办理意见：此操作必须说明理由"),
    (CasePermissionError("not yours"), "未能办理：您的角色或部门不能办理此操作"),
])
def test_a_refusal_in_the_pages_language(error, zh):
    assert action_error_text(error, "zh") == zh  # the case page's words, on the field pages too
