"""A Redis outage met by a case or alarm action, or by their routes, is answered in one place
(`ioc.web.outage`): no callback or route of the case pages, the big screen, the cases API, the
alarm routes or Open311 catches it itself.

- An action callback (a case action, a phone report, an alarm's acknowledgement or hand clear),
  as `secured_callback` registers it: the banner and the action's own message line say the
  action was not carried out; nothing else changes.
- A page's read: the banner only; the page keeps what it shows.
- An HTTP route: 503 with `Retry-After`, in its family's shape.
"""

from __future__ import annotations

import pytest
import redis
from dash import no_update

from callbacks import bigscreen, cases
from ioc.adapters.user_store import Actor
from ioc.i18n import t
from ioc.web.outage import guard_callback

UNKNOWN = "ZJG-19990101-000001"


def down(*_args, **_kwargs):
    raise redis.ConnectionError("Redis is down")


# (callback, its arguments, the button that fired it, its message line, the service and method that meets the outage)
ACTIONS = {
    "case action": (cases.act, [None] * len(cases.ACTIONS) + [UNKNOWN, 1, "", "", None, "", 0, "en"], "case-act-accept.n_clicks",
                    "case-message", ("cases", "act")),
    "phone report": (cases.report, [1, "10101", 31.872, 120.556, "", "", "井盖丢失", 0, "en"], "case-new-submit.n_clicks",
                     "case-new-message", ("cases", "report")),
    "acknowledge": (bigscreen.acknowledge, [[], 1, None, "wl-1|water_level_warning", "en"], "popup-ack.n_clicks", "ack-message",
                    ("alarms", "acknowledge")),
    "clear": (bigscreen.confirm_clear, [1, None, "wl-1|water_level_warning", "现场已处置", "en"], "clear-confirm.n_clicks",
              "clear-error", ("alarms", "clear")),
}


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_an_action_during_an_outage_says_in_its_own_line_that_it_was_not_carried_out(signed_in, portal_app, monkeypatch, name):
    callback, args, triggered, line, (service, method) = ACTIONS[name]
    monkeypatch.setattr(getattr(portal_app.server.extensions["ioc_services"], service), method, down)
    with signed_in("dispatcher", triggered=triggered, lang="en", outputs=3) as sent:
        assert guard_callback(callback)(*args) is no_update  # as `secured_callback` registers it
    text = t("action_unavailable", "en")
    assert sent == {"banner": {"children": text, "className": "banner"}, line: {"children": text}}


def test_a_case_page_that_meets_an_outage_keeps_what_it_shows(signed_in, portal_app, monkeypatch):
    monkeypatch.setattr(portal_app.server.extensions["ioc_services"].case_index, "_sync", down)  # its read of Redis
    with signed_in("dispatcher", lang="en", outputs=3) as sent:
        assert guard_callback(cases.console)(1, "", "", "", "", "", [], 0, "en", None) is no_update
    assert sent == {"banner": {"children": t("data_unavailable", "en"), "className": "banner"}}


@pytest.fixture
def dispatcher_token(portal_app):
    _token, secret = portal_app.server.extensions["ioc_services"].users.create_token("outage", ["dispatcher"], Actor("test", "admin"))
    return {"Authorization": f"Bearer {secret}"}


@pytest.mark.parametrize("service, method, path, body", [
    ("cases", "act", f"/api/v1/cases/{UNKNOWN}/actions", {"action": "accept"}),
    ("cases", "report", "/api/v1/cases", {"category": "10101", "lat": 31.872, "lon": 120.556}),
    ("cases", "cases_for", "/api/v1/cases", None),
    ("alarms", "acknowledge", "/api/v1/alarms/wl-1%7Cwater_level_warning/acknowledge", {}),
    ("alarms", "clear", "/api/v1/alarms/wl-1%7Cwater_level_warning/clear", {"note": "现场已处置"}),
])
def test_an_api_route_during_an_outage_answers_503_unavailable(portal_app, dispatcher_token, monkeypatch, service, method, path, body):
    monkeypatch.setattr(getattr(portal_app.server.extensions["ioc_services"], service), method, down)
    client = portal_app.server.test_client()
    answer = client.get(path, headers=dispatcher_token) if body is None else client.post(path, json=body, headers=dispatcher_token)
    assert (answer.status_code, answer.headers["Retry-After"], answer.get_json()["error"]) == (503, "5", "unavailable")


@pytest.mark.parametrize("method, path", [("POST", "/open311/v2/requests.json"), ("GET", "/open311/v2/requests.json"),
                                          ("GET", f"/open311/v2/requests/{UNKNOWN}.json")])
def test_an_open311_route_during_an_outage_answers_the_standard_503(portal_app, dispatcher_token, monkeypatch, method, path):
    services = portal_app.server.extensions["ioc_services"]
    for name in ("report", "cases_for", "case_for"):
        monkeypatch.setattr(services.cases, name, down)
    form = {"service_code": "10101", "lat": "31.872", "long": "120.556"}
    answer = portal_app.server.test_client().open(path, method=method, data=form if method == "POST" else None,
                                                  headers=dispatcher_token)
    assert (answer.status_code, answer.headers["Retry-After"]) == (503, "5")
    assert answer.get_json() == [{"code": 503, "description": "the service is unavailable; try again shortly"}]
