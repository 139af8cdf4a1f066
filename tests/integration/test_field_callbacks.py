"""The field pages' callbacks (callbacks/field.py) called as plain functions on the test Redis with
a signed-in principal: the inspector's queue nearest first (by deadline without a position), a
department's tasks, the work sheet, the check-in (refused too far, with the distance; accepted on
site), 处置完毕 only with an after photo, uploads and their refusals; /tasks keeps the linked
events' tasks."""

from __future__ import annotations

import base64
import json

import orjson
import pytest
from dash import no_update

from callbacks import field as cb
from ioc.domain.access import Principal
from ioc.i18n import t
from ioc.web.pages import PageContext, layout_for
from layouts.field import ACTIONS
from tests.media_samples import WINDOWS_EXE, phone_jpeg

HERE = {"lat": 31.872, "lon": 120.556, "accuracy": 10.0, "at": 1}
DISPATCHER = Principal("setup-dispatcher", frozenset({"dispatcher"}))
INSPECTOR = Principal("setup-inspector", frozenset({"inspector"}))
WATER = Principal("water-1", frozenset({"handler"}), department="water_affairs")
SHEET_VERSION, SHEET_WHERE, SHEET_STAGE, SHEET_ACTIONS = 8, 10, 11, 12  # places among the sheet's outputs


def services_of(portal_app):
    return portal_app.server.extensions["ioc_services"]


def text_of(value) -> str:
    return json.dumps(orjson.loads(orjson.dumps(value, default=lambda c: c.to_plotly_json())), ensure_ascii=False, default=str)


def card_ids(cards) -> list[str]:
    """The case of each card (a component, or a card serialized once: ioc/web/prejson.py)."""
    return [orjson.loads(orjson.dumps(c, default=lambda x: x.to_plotly_json()))["props"].get("data-case") for c in cards]


def new_case(portal_app, lat: float, lon: float, to: str = "accepted", address: str = "") -> str:
    service = services_of(portal_app).cases
    case, _ = service.report(class_code="10101", lat=lat, lon=lon, source="hotline", actor="hotline", address=address)
    steps = {"accepted": [("accept", DISPATCHER)],
             "dispatched": [("accept", DISPATCHER), ("verify", INSPECTOR), ("dispatch", DISPATCHER)]}[to]
    for action, who in steps:
        service.act(case.id, action, who)
    return case.id


def shown_actions(kind: str, outputs) -> list[str]:
    styles = outputs[SHEET_ACTIONS:SHEET_ACTIONS + len(ACTIONS[kind])]
    return [a for a, style in zip(ACTIONS[kind], styles) if style == cb.SHOWN]


def data_url(data: bytes, kind: str = "image/jpeg") -> str:
    return f"data:{kind};base64,{base64.b64encode(data).decode()}"


# ---- the lists -----------------------------------------------------------------------------------------

def test_the_verify_queue_is_nearest_first_and_not_drawn_again_while_nothing_changed(signed_in, portal_app):
    far = new_case(portal_app, 31.902, 120.556)
    near = new_case(portal_app, 31.873, 120.556, address="人民中路 88 号")
    with signed_in("inspector"):
        cards, more, note, verify, check, *_tabs, key = cb.inspections_list(1, HERE, "verify", 0, "zh", None)
        again = cb.inspections_list(2, HERE, "verify", 0, "zh", key)
    assert card_ids(cards) == [near, far] and more == ""
    assert note.startswith("按距离由近到远排列") and (verify, check) == ("（2）", "（0）")
    assert "人民中路 88 号 · 杨舍镇" in text_of(cards[0]) and "110 米" in text_of(cards[0])
    assert again == [no_update] * 8


def test_without_a_position_the_queue_is_by_deadline_and_the_page_says_why(signed_in, portal_app):
    first = new_case(portal_app, 31.902, 120.556)
    second = new_case(portal_app, 31.873, 120.556)
    with signed_in("inspector"):
        cards, _more, note, *_ = cb.inspections_list(1, {"error": 1, "at": 1}, "verify", 0, "en", None)
    assert card_ids(cards) == [first, second]
    assert note == "Sorted by deadline (location not allowed: allow this site to use your location in the browser's settings)"


def test_the_check_queue_is_picked_by_its_tab(signed_in, portal_app):
    new_case(portal_app, 31.873, 120.556)
    with signed_in("inspector", triggered="insp-tab-check.n_clicks"):
        assert cb.pick_queue(0, 1) == "check"
    with signed_in("inspector"):
        cards, _more, _note, _v, _c, verify_tab, check_tab, _key = cb.inspections_list(1, HERE, "check", 0, "zh", None)
    assert text_of(cards).count("没有待核查的案件") == 1 and (verify_tab, check_tab) == ("field-tab", "field-tab active")


def test_a_handler_without_a_department_is_told_so_on_the_tasks_page(signed_in):
    with signed_in("handler"):
        cards, *_ = cb.tasks_list(1, HERE, 0, "zh", None)
    assert t("case_tasks_no_department", "zh") in text_of(cards)


def test_the_tasks_are_the_departments_dispatched_cases_with_its_figures(signed_in, portal_app):
    mine = new_case(portal_app, 31.873, 120.556, "dispatched")
    new_case(portal_app, 31.874, 120.556, "accepted")  # not dispatched yet
    with signed_in("handler", department="water_affairs"):
        cards, _more, note, open_, overdue, unacked, handled, department, _key = cb.tasks_list(1, HERE, 0, "zh", None)
    assert card_ids(cards) == [mine] and department == "市水务局"
    assert (open_, overdue, unacked, handled) == (1, 0, 1, 0) and note.startswith("按时限排列，最急的在前")
    with signed_in("handler", department="urban_management"):
        cards, *_ = cb.tasks_list(1, HERE, 0, "zh", None)
    assert card_ids(cards) == [None] and "本部门暂无待处置的案件" in text_of(cards)


def test_the_tasks_page_keeps_the_departments_linked_event_tasks(portal_app):
    services = services_of(portal_app)
    page = layout_for("/tasks", PageContext(services.city, "zh"))
    assert '"id": "tasks-events"' in text_of(page) and '"id": "tasks-list"' in text_of(page)


# ---- the sheet -------------------------------------------------------------------------------------------

def test_a_cards_button_opens_its_case_on_the_sheet(signed_in):
    trigger = json.dumps({"case": "ZJG-1", "type": "insp-open"}, separators=(",", ":")) + ".n_clicks"
    with signed_in("inspector", triggered=trigger):
        assert cb.open_case([0, 1]) == "ZJG-1"
    with signed_in("inspector", triggered=trigger):
        assert cb.open_case([0, 0]) is no_update  # a card drawn again, not a tap


def test_the_sheet_offers_the_handlers_actions_and_hides_another_departments_case(signed_in, portal_app):
    case_id = new_case(portal_app, 31.873, 120.556, "dispatched")
    with signed_in("handler", department="water_affairs"):
        outputs = cb.sheet_for("tasks")(case_id, 0, 0, HERE, "zh")
    assert outputs[0] == cb.SHOWN and outputs[1] == "井盖丢失" and outputs[SHEET_VERSION] == 4
    assert shown_actions("tasks", outputs) == ["acknowledge", "handle", "request_deferral", "return"]
    assert outputs[SHEET_WHERE].startswith("已定位（精度 ±10 米") and outputs[SHEET_STAGE] == "after"  # a handler's photos show the work
    with signed_in("handler", department="urban_management"):
        outputs = cb.sheet_for("tasks")(case_id, 0, 0, HERE, "zh")
    assert outputs[1] == t("fq_gone", "zh") and shown_actions("tasks", outputs) == []


# ---- the actions -------------------------------------------------------------------------------------------

def act(signed_in, kind: str, action: str, case_id: str, version: int, position=HERE, note: str = "", hours=24,
        department: str = "water_affairs"):
    role = "inspector" if kind == "inspections" else "handler"
    prefix = "insp" if kind == "inspections" else "tasks"
    with signed_in(role, name=f"{role}-1", department=department if role == "handler" else "",
                   triggered=f"{prefix}-act-{action}.n_clicks"):
        clicks = [1 if a == action else 0 for a in ACTIONS[kind]]
        return cb.act_for(kind)(*clicks, case_id, version, note, hours, position, 0, "zh")


def test_the_inspector_verifies_and_a_void_needs_a_note(signed_in, portal_app):
    case_id = new_case(portal_app, 31.873, 120.556)
    message, changed, note = act(signed_in, "inspections", "void", case_id, 2)
    assert message == "未能办理：请填写办理意见：此操作必须说明理由" and changed == 1 and note is no_update
    message, _changed, note = act(signed_in, "inspections", "verify", case_id, 2)
    assert message == "已办理：核实属实" and note == ""
    assert services_of(portal_app).cases.store.get(case_id).stage == "verified"


def test_a_check_in_too_far_is_refused_naming_the_distance_and_on_site_accepted(signed_in, portal_app):
    case_id = new_case(portal_app, 31.882, 120.556, "dispatched")  # ~1.1 km north of HERE
    store = services_of(portal_app).cases.store
    assert act(signed_in, "tasks", "arrive", case_id, 4)[0] == "未能办理：请先签收案件，再到场签到"
    assert act(signed_in, "tasks", "acknowledge", case_id, 4)[0] == "已办理：签收"
    message, *_ = act(signed_in, "tasks", "arrive", case_id, 5)
    assert message == "未能办理：您距案件位置约 1112 米，超出到场签到范围（300 米）"
    assert act(signed_in, "tasks", "arrive", case_id, 5, position=None)[0] == t("case_failed", "zh") + "：" + t(
        "case_err_position_required", "zh")
    on_site = {"lat": 31.8815, "lon": 120.556, "accuracy": 8.0, "at": 1}
    assert act(signed_in, "tasks", "arrive", case_id, 5, position=on_site)[0] == "已办理：到场签到"
    case = store.get(case_id)
    assert case.arrived_at and case.arrival["distance_m"] == pytest.approx(56, abs=1) and case.arrival["accuracy"] == 8.0


def test_handled_only_with_an_after_photo(signed_in, portal_app):
    case_id = new_case(portal_app, 31.873, 120.556, "dispatched")
    services = services_of(portal_app)
    message, *_ = act(signed_in, "tasks", "handle", case_id, 4)
    assert message == "未能办理：处置完毕前请至少上传一张处置后照片"
    with signed_in("handler", name="handler-1", department="water_affairs"):
        message, changed = cb.upload_for("tasks")([data_url(phone_jpeg())], ["IMG_0001.jpg"], case_id, "after", HERE, 0, "zh")
    assert message == "已上传 1 张照片" and changed == 1
    assert [a["stage"] for a in services.cases.store.get(case_id).attachments] == ["after"]
    assert act(signed_in, "tasks", "handle", case_id, 5)[0] == "已办理：处置完毕"
    assert services.cases.store.get(case_id).stage == "handled"


def test_a_deferral_asks_for_its_hours_and_a_note(signed_in, portal_app):
    case_id = new_case(portal_app, 31.873, 120.556, "dispatched")
    assert act(signed_in, "tasks", "request_deferral", case_id, 4)[0] == "未能办理：请填写办理意见：此操作必须说明理由"
    assert act(signed_in, "tasks", "request_deferral", case_id, 4, note="等配件", hours=48.0)[0] == "已办理：申请延期"
    assert services_of(portal_app).cases.store.get(case_id).pending_deferral["hours"] == 48


def test_a_file_that_is_no_photo_is_refused_and_nothing_is_attached(signed_in, portal_app):
    case_id = new_case(portal_app, 31.873, 120.556)
    with signed_in("inspector", name="inspector-1"):
        message, _changed = cb.upload_for("inspections")([data_url(WINDOWS_EXE, "image/jpeg")], ["photo.jpg"], case_id,
                                                         "before", HERE, 0, "zh")
    assert message == "未能上传：只接受 JPEG、PNG、WebP、HEIC 格式的照片"
    assert services_of(portal_app).cases.store.get(case_id).attachments == ()
