"""The leader cockpit's callbacks called as plain functions (`signed_in`: a request of the app on
the test Redis with a signed-in principal, in a Dash callback context): the cards of an overdue
case and 督办 in one tap through the case service."""

from __future__ import annotations

import json
import time

import pytest
from dash import no_update

from callbacks import cockpit
from ioc.domain.access import Principal
from ioc.i18n import t

YANGSHE = (31.872, 120.556)
DISPATCHER = Principal("setup-dispatcher", frozenset({"dispatcher"}))
INSPECTOR = Principal("setup-inspector", frozenset({"inspector"}))
H = 3_600_000
CASES = 3  # the place of the overdue cases' cards among refresh's outputs


@pytest.fixture
def overdue_case(portal_app):
    """A case in 杨舍 (class 10101: water affairs) dispatched three days ago: long overdue."""
    service = portal_app.server.extensions["ioc_services"].cases
    then = int(time.time() * 1000) - 72 * H
    case, _ = service.report(class_code="10101", lat=YANGSHE[0], lon=YANGSHE[1], source="hotline", actor="hotline", now_ms=then)
    for action, who in (("accept", DISPATCHER), ("verify", INSPECTOR), ("dispatch", DISPATCHER)):
        service.act(case.id, action, who, department="water_affairs" if action == "dispatch" else "", now_ms=then)
    return case.id


def urge_button(case_id: str) -> str:
    return json.dumps({"case": case_id, "type": "cockpit-urge"}, separators=(",", ":")) + ".n_clicks"


def test_the_cockpit_lists_an_overdue_case_with_its_urge_button(signed_in, overdue_case):
    with signed_in("leader", triggered="cockpit-tick.n_intervals"):
        outputs = cockpit.refresh(0, 0, "zh")
    cards = str(outputs[CASES])
    assert overdue_case in cards and "cockpit-urge" in cards and t("cockpit_urge", "zh") in cards
    assert outputs[1] == "超期案件 1 件 · 进行中的联动事件 0 起"


def test_one_tap_urges_the_case_and_says_so(signed_in, portal_app, overdue_case):
    with signed_in("leader", name="chengang", triggered=urge_button(overdue_case), lang="en"):
        message, changed = cockpit.urge([1], 4, "en")
    assert message.startswith(f"Urged {overdue_case} (Manhole cover missing · ") and message.endswith("urge no. 1")
    assert changed == 5
    case = portal_app.server.extensions["ioc_services"].cases.case_for(overdue_case, Principal("x", frozenset({"leader"})))
    assert case.urge_count == 1


def test_an_urge_of_a_case_that_is_gone_is_refused_in_words(signed_in):
    with signed_in("leader", triggered=urge_button("ZJG-20200101-999999")):
        message, changed = cockpit.urge([1], 0, "zh")
    assert message == t("case_not_found", "zh") and changed is no_update
