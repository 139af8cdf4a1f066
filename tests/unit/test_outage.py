"""A Redis outage answered in one place (`ioc.web.outage`): the banner for a Dash callback, a 503
in the route family's shape for an HTTP route. No servers: the wrapper and the handler are
called directly, in a Flask request and a Dash callback context."""

from __future__ import annotations

from types import SimpleNamespace

import orjson
import pytest
import redis
from dash import no_update
from flask import Flask

from ioc.adapters.redis_client import REDIS_UNAVAILABLE
from ioc.i18n import t
from ioc.web.outage import BANNER, guard_callback, http_outage, install_error_handler, notice_in
from tests.conftest import dash_callback

DOWN = redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


@pytest.fixture
def server():
    """A Flask app with the one thing the answers read of the services: the default language."""
    app = Flask(__name__)
    app.extensions["ioc_services"] = SimpleNamespace(settings=SimpleNamespace(lang="zh"))
    return app


def failing(error: BaseException = DOWN):
    def callback(*_args):
        raise error

    return callback


# ---- Dash callbacks ----------------------------------------------------------------------------

@pytest.mark.parametrize("error_type", REDIS_UNAVAILABLE)
def test_a_read_that_meets_an_outage_shows_the_banner_and_keeps_its_outputs(server, error_type):
    with server.test_request_context(), dash_callback(lang="en") as sent:
        assert guard_callback(failing(error_type("down")))(1, "en") is no_update
    assert sent == {BANNER: {"children": t("data_unavailable", "en"), "className": "banner"}}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_action_that_meets_an_outage_says_it_was_not_carried_out_in_the_banner_and_its_message(server, lang):
    action = notice_in("admin-user-message")(failing())
    with server.test_request_context(), dash_callback(triggered="admin-user-add.n_clicks", lang=lang) as sent:
        assert guard_callback(action)(1) is no_update
    text = t("action_unavailable", lang)
    assert sent == {BANNER: {"children": text, "className": "banner"}, "admin-user-message": {"children": text}}
    assert ("操作未执行" if lang == "zh" else "not carried out") in text


def test_without_a_language_store_the_banner_speaks_the_process_default(server):
    server.extensions["ioc_services"].settings.lang = "en"
    with server.test_request_context(), dash_callback(lang="") as sent:
        guard_callback(failing())()
    assert sent[BANNER]["children"] == t("data_unavailable", "en")


def test_a_callback_without_outputs_returns_nothing_on_an_outage(server):
    with server.test_request_context(), dash_callback(outputs=0) as sent:
        assert guard_callback(failing())() is None
    assert BANNER in sent


def test_an_answer_without_an_outage_passes_through_untouched(server):
    with server.test_request_context(), dash_callback() as sent:
        assert guard_callback(lambda a, b: (a, b))(1, 2) == (1, 2)
    assert sent == {}


def test_other_errors_are_not_taken_for_an_outage(server):
    with server.test_request_context(), dash_callback(), pytest.raises(redis.ResponseError):
        guard_callback(failing(redis.ResponseError("WRONGTYPE")))()


def test_the_wrapped_callback_keeps_its_name_for_dash(server):
    def change_password():
        """Doc."""

    wrapped = guard_callback(change_password)
    assert (wrapped.__name__, wrapped.__doc__, wrapped.__wrapped__) == ("change_password", "Doc.", change_password)


# ---- HTTP routes -------------------------------------------------------------------------------

def answer(server, path: str):
    with server.test_request_context(path):
        return http_outage(DOWN)


@pytest.mark.parametrize("path", ["/api/v1/sensors", "/api/v1/map/devices", "/api/v1/map/devices/nz-1", "/api/v1/cases"])
def test_an_api_route_answers_503_unavailable_json_with_retry_after(server, path):
    response = answer(server, path)
    assert (response.status_code, response.mimetype, response.headers["Retry-After"]) == (503, "application/json", "5")
    assert orjson.loads(response.get_data()) == {"error": "unavailable", "message": f"Redis is unavailable: {DOWN}"}


def test_an_open311_route_answers_in_georeport_errors(server):
    response = answer(server, "/open311/v2/requests.json")
    assert (response.status_code, response.mimetype, response.headers["Retry-After"]) == (503, "application/json", "5")
    assert orjson.loads(response.get_data()) == [{"code": 503, "description": "the service is unavailable; try again shortly"}]


def test_metrics_answer_503_in_plain_text(server):
    response = answer(server, "/metrics")
    assert (response.status_code, response.mimetype) == (503, "text/plain")
    assert response.get_data(as_text=True) == f"Redis unavailable: {DOWN}\n"


def test_a_dash_request_answers_json_like_the_guard(server):
    response = answer(server, "/_dash-update-component")
    assert response.status_code == 503 and orjson.loads(response.get_data())["error"] == "unavailable"


def test_a_page_answers_the_unavailable_page_in_the_default_language(server):
    response = answer(server, "/cases")
    assert (response.status_code, response.mimetype, response.headers["Retry-After"]) == (503, "text/html", "5")
    assert t("data_unavailable", "zh") in response.get_data(as_text=True)


@pytest.mark.parametrize("error_type", REDIS_UNAVAILABLE)
def test_the_handler_is_registered_for_every_kind_of_outage(server, error_type):
    @server.get("/api/v1/down")
    def down():
        raise error_type("down")

    install_error_handler(server)
    response = server.test_client().get("/api/v1/down")
    assert response.status_code == 503 and response.get_json()["error"] == "unavailable"


def test_other_errors_stay_500(server):
    @server.get("/api/v1/broken")
    def broken():
        raise redis.ResponseError("WRONGTYPE")

    install_error_handler(server)
    assert server.test_client().get("/api/v1/broken").status_code == 500


def test_every_secured_callback_answers_an_outage_with_the_banner_on_the_wire():
    """Through Dash itself: a callback registered with `secured_callback` that meets an outage
    answers 200 with the banner as a side update and none of its own outputs."""
    import dash
    from dash import Input, Output, State, html

    from ioc.web.dash_guard import secured_callback

    app = dash.Dash(__name__)
    app.layout = html.Div([html.Div(id="banner"), html.Button(id="go"), html.Div(id="out")])
    secured_callback(app, "view:status", Output("out", "children"), Input("go", "n_clicks"), State("lang", "data"))(failing())
    body = {"output": "out.children", "outputs": {"id": "out", "property": "children"},
            "inputs": [{"id": "go", "property": "n_clicks", "value": 1}], "state": [{"id": "lang", "property": "data", "value": "en"}],
            "changedPropIds": ["go.n_clicks"]}
    response = app.server.test_client().post("/_dash-update-component", json=body)
    assert response.status_code == 200
    assert response.get_json()["sideUpdate"] == {BANNER: {"children": t("data_unavailable", "en"), "className": "banner"}}
    assert response.get_json()["response"] == {}
