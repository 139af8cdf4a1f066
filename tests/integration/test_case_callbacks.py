"""The case pages' callbacks called as plain functions (`signed_in`: a request of the app on the
test Redis with a signed-in principal, in a Dash callback context). Who may run each callback at
all is the guard's (tests/integration/test_access_matrix.py); the refusals of an action, the
same through every door, are in tests/integration/test_one_rule_per_case_action.py."""

from __future__ import annotations

import orjson
import pytest
from dash import no_update

from callbacks import cases
from ioc.domain.access import Principal
from ioc.i18n import t
from layouts.cases import HIDDEN_LAID_OUT

YANGSHE = (31.872, 120.556)
DISPATCHER = Principal("setup-dispatcher", frozenset({"dispatcher"}))
INSPECTOR = Principal("setup-inspector", frozenset({"inspector"}))
MISSING, BODY = 3, 4  # the places of "no such case" and of the case's body among load_case's outputs


@pytest.fixture
def case_id(portal_app):
    """A fresh case in 杨舍 (class 10101: water affairs), dispatched to water affairs."""
    service = portal_app.server.extensions["ioc_services"].cases
    case, _ = service.report(class_code="10101", lat=YANGSHE[0], lon=YANGSHE[1], source="hotline", actor="hotline")
    for action, who in (("accept", DISPATCHER), ("verify", INSPECTOR), ("dispatch", DISPATCHER)):
        service.act(case.id, action, who)
    return case.id


def shown_actions(outputs) -> list[str]:
    styles = outputs[-len(cases.ACTIONS):]
    return [a for a, style in zip(cases.ACTIONS, styles) if style == cases.SHOWN]


@pytest.mark.parametrize("department, seen", [("water_affairs", True), ("street_lighting", False)])
def test_a_handler_sees_its_own_departments_case_only(signed_in, case_id, department, seen):
    with signed_in("handler", department=department, triggered="case-id.data"):
        outputs = cases.load_case(case_id, 0, 0, 0, "zh")
    assert (outputs[MISSING], outputs[BODY]) == ((cases.HIDDEN, cases.SHOWN) if seen else (cases.SHOWN, cases.HIDDEN))


def test_the_case_page_shows_the_buttons_of_the_actions_the_viewer_may_take_now(signed_in, case_id):
    with signed_in("handler", department="water_affairs", triggered="case-id.data"):
        assert shown_actions(cases.load_case(case_id, 0, 0, 0, "zh")) == ["acknowledge", "return", "handle", "request_deferral"]
    with signed_in("leader", triggered="case-id.data"):
        assert shown_actions(cases.load_case(case_id, 0, 0, 0, "zh")) == ["urge"]


def test_a_periodic_reread_keeps_the_department_the_user_picked(signed_in, case_id):
    with signed_in("dispatcher", triggered="case-tick.n_intervals"):
        outputs = cases.load_case(case_id, 0, 1, 0, "zh")
    department = next(i for i, o in enumerate(cases.LOAD_OUTPUTS) if o.component_id == "case-department")
    assert outputs[department] is no_update


@pytest.mark.parametrize("role, style", [("dispatcher", cases.SHOWN), ("leader", HIDDEN_LAID_OUT)])
def test_the_phone_report_form_is_for_those_who_may_file_one(signed_in, role, style):
    with signed_in(role):
        assert cases.show_report_form("console-page") == style


def test_a_stage_card_filters_by_its_stage_and_a_second_click_shows_all_again(signed_in):
    with signed_in("dispatcher", triggered="case-stage-dispatched.n_clicks"):
        picked = cases.pick_stage(*[None] * len(cases.STAGE_CARDS), "")
        again = cases.pick_stage(*[None] * len(cases.STAGE_CARDS), "dispatched")
    assert picked[0] == "dispatched" and picked[1 + cases.STAGE_CARDS.index("dispatched")].endswith(" active")
    assert again[0] == "" and again[1].endswith(" active")  # the "all" card


def test_a_phone_report_outside_the_city_is_refused_naming_the_position(signed_in, portal_app):
    with signed_in("dispatcher", triggered="case-new-submit.n_clicks"):
        message, created, description = cases.report(1, "10101", 0.0, 0.0, "", "", "井盖丢失", 0, "zh")
    assert (created, description) == (no_update, no_update) and message == t("case_err_report_position", "zh")
    assert portal_app.server.extensions["ioc_services"].cases.cases_for(Principal("l", frozenset({"leader"})), open_only=False) == []


def _report(portal_app, n: int):
    service = portal_app.server.extensions["ioc_services"].cases
    return service.report(class_code="10101", lat=YANGSHE[0] + n * 0.001, lon=YANGSHE[1], source="hotline", actor="hotline",
                          report_id=f"console-{n}")[0]


def test_the_console_counts_every_open_case_and_sends_the_most_pressing_rows(signed_in, portal_app, monkeypatch):
    ids = [_report(portal_app, n).id for n in range(3)]
    monkeypatch.setattr(cases, "CONSOLE_ROWS_MAX", 2)
    with signed_in("dispatcher", triggered="tick.n_intervals"):
        out = cases.console(1, "", None, None, None, None, [], 0, "zh", None)
    total, reported, *_rest = out
    rows, more, key = out[-3:]
    rows = orjson.loads(orjson.dumps(rows))  # sent as JSON made ahead (an orjson fragment)
    assert (total, reported) == (3, 3)
    assert len(rows) == 2 and {r["id"] for r in rows} <= set(ids)
    assert more == t("case_rows_more", "zh").format(shown="2", n="3")
    with signed_in("dispatcher", triggered="tick.n_intervals"):
        assert cases.console(2, "", None, None, None, None, [], 0, "zh", key) == [no_update] * len(out)


def test_the_console_has_no_more_line_when_every_matching_case_is_shown(signed_in, portal_app):
    _report(portal_app, 7)
    with signed_in("dispatcher", triggered="tick.n_intervals"):
        out = cases.console(1, "", None, None, None, None, [], 0, "en", None)
    assert out[0] == 1 and len(orjson.loads(orjson.dumps(out[-3]))) == 1 and out[-2] == ""
