"""The big screen's callbacks called as plain functions (`signed_in`: a request of the app on the
test Redis with a signed-in principal, in a Dash callback context). Who may run each callback at
all is the guard's (tests/integration/test_access_matrix.py); these are the callbacks' own
decisions."""

from __future__ import annotations

import json
import time

import orjson
import pytest
from dash import no_update
from flask import g

from callbacks import bigscreen
from ioc.domain.access import Principal
from ioc.domain.alarms import Alarm
from ioc.domain.rules import RULES_BY_ID
from ioc.i18n import t
from ioc.views.bigscreen import INDICATORS

BOARD = 2 * len(bigscreen.KEYS) + 7  # the alarm board's place among the refresh's outputs
TICKER = 2 * len(bigscreen.KEYS) + 5  # the ticker's
KIOSK = Principal("kiosk:wall", frozenset({"operator"}), kind="kiosk", read_only=True)


@pytest.fixture
def water_alarm(portal_app):
    """An active water-level alarm in 杨舍, seen by the next snapshot of the app."""
    services = portal_app.server.extensions["ioc_services"]
    rule = RULES_BY_ID["water_level_warning"]
    alarm = Alarm("wl-board|water_level_warning", "wl-board", "water_level", rule.id, rule.severity, "yangshe", rule.attribute,
                  4.4, rule.threshold, int(time.time() * 1000) - 60_000, rule.name_zh, rule.name_en)
    assert services.alarms.raise_alarm(alarm)
    services.city_cache.invalidate()
    return alarm.id


def board_of(outputs) -> str:
    return json.dumps(orjson.loads(orjson.dumps(outputs[BOARD])), ensure_ascii=False)  # an orjson fragment, made once per snapshot


@pytest.mark.parametrize("who, ack, clear", [
    ("operator", True, False), ("leader", True, True), ("dispatcher", True, True), ("inspector", False, False), ("kiosk", False, False),
])
def test_the_alarm_board_has_buttons_only_for_what_the_viewer_may_do(signed_in, water_alarm, who, ack, clear):
    with signed_in("operator" if who == "kiosk" else who):
        if who == "kiosk":
            g.ioc_principal = KIOSK
        board = board_of(bigscreen.refresh(1, INDICATORS[0], "zh", [], [], None, None, "popup hidden", None))
    assert water_alarm in board
    assert ('"type": "ack"' in board) == ack, board[:500]
    assert ('"type": "clear"' in board) == clear, board[:500]


def test_a_screen_is_not_sent_again_the_big_parts_it_was_sent(signed_in, water_alarm):
    with signed_in("operator"):
        first = bigscreen.refresh(1, INDICATORS[0], "zh", [], [], None, None, "popup hidden", None, None)
        again = bigscreen.refresh(2, INDICATORS[0], "zh", [], [], None, None, "popup hidden", None, first[-1])
    assert water_alarm in board_of(first) and isinstance(first[-1], list)
    assert again[BOARD] is no_update and again[TICKER] is no_update and again[-1] is no_update


def test_the_ticker_waits_while_linked_events_hide_it(signed_in, water_alarm, portal_app):
    services = portal_app.server.extensions["ioc_services"]
    services.events.start(Principal("d", frozenset({"dispatcher"})), plan="flood", level="IV", district="yangshe")
    with signed_in("operator"):
        outputs = bigscreen.refresh(1, INDICATORS[0], "zh", [], [], None, None, "popup hidden", None, None)
    assert outputs[TICKER] is no_update and water_alarm in board_of(outputs)


def test_a_forged_indicator_is_the_first_one_not_an_error(signed_in, water_alarm):
    with signed_in("operator"):
        forged = bigscreen.refresh(1, "<script>", "zh", [], [], None, None, "popup hidden", None)
        first = bigscreen.refresh(1, INDICATORS[0], "zh", [], [], None, None, "popup hidden", None)
    assert board_of(forged) == board_of(first)


def test_the_popup_later_button_hides_the_popup_and_acknowledges_nothing(signed_in, portal_app, water_alarm):
    with signed_in("operator", triggered="popup-later.n_clicks"):
        assert bigscreen.acknowledge([], None, 1, water_alarm, "zh") == (no_update, "popup hidden")
    (active,) = portal_app.server.extensions["ioc_services"].alarms.active()
    assert active["ack"] is None


def test_acknowledging_an_alarm_that_is_gone_says_so(signed_in):
    with signed_in("operator", triggered="popup-ack.n_clicks"):
        message, popup = bigscreen.acknowledge([], 1, None, "wl-gone|water_level_warning", "zh")
    assert (message, popup) == (t("alarm_not_found", "zh"), "popup hidden")


def test_the_clear_dialog_opens_for_the_alarm_clicked(signed_in, water_alarm):
    triggered = json.dumps({"id": water_alarm, "type": "clear"}, separators=(",", ":")) + ".n_clicks"
    with signed_in("dispatcher", triggered=triggered):
        alarm_id, dialog, text, note, error = bigscreen.open_clear([1], "zh")
    assert (alarm_id, dialog, note, error) == (water_alarm, "clear-dialog", "", "")
    assert "wl-board" in json.dumps(orjson.loads(orjson.dumps(text)), ensure_ascii=False)


def test_a_hand_clear_without_a_note_keeps_the_dialog_open_and_asks_for_one(signed_in, portal_app, water_alarm):
    with signed_in("dispatcher", triggered="clear-confirm.n_clicks"):
        assert bigscreen.confirm_clear(1, None, water_alarm, "  ", "zh") == (no_update, t("alarm_note_required", "zh"), no_update)
    assert [a["id"] for a in portal_app.server.extensions["ioc_services"].alarms.active()] == [water_alarm]


def test_cancelling_the_clear_dialog_closes_it(signed_in, water_alarm):
    with signed_in("dispatcher", triggered="clear-cancel.n_clicks"):
        assert bigscreen.confirm_clear(None, 1, water_alarm, "", "zh") == ("clear-dialog hidden", "", no_update)


@pytest.mark.parametrize("triggered, args, path", [
    ("district-picker.value", (None, "yangshe"), "/district/yangshe"),
    ("map-districts.clickData", ({"properties": {"id": "jinfeng"}}, None), "/district/jinfeng"),
    ("district-picker.value", (None, None), no_update),
])
def test_a_district_picked_or_clicked_opens_its_page(signed_in, triggered, args, path):
    with signed_in("operator", triggered=triggered):
        assert bigscreen.drill_down(*args) == path
