"""The guard, the Dash guard and the sign-in views are plain functions: called here inside a
request context of a small app (the guard, the sign-in blueprint, one secured callback; a user
store double), without a server, a browser or a forged HTTP round trip."""

from __future__ import annotations

from types import SimpleNamespace

import dash
import pytest
from dash import Input, Output
from flask import g, session
from flask_login import login_user
from redis.exceptions import ConnectionError as RedisConnectionError

from ioc.adapters.user_store import SignIn
from ioc.domain.accounts import User
from ioc.domain.access import Principal
from ioc.settings import Settings
from ioc.web import dash_guard, guard, sign_in
from ioc.web.auth import PortalUser
from ioc.web.dash_guard import secured_callback

KIOSK = Principal("kiosk:wall", frozenset({"operator"}), "wall", "", "kiosk", True)
OPERATOR = Principal("wang", frozenset({"operator"}))
HANDLER = Principal("li", frozenset({"handler"}), department="town_yangshe")
ACK = "ack-out.children"  # the secured callback's id (its one output)


class Audit:
    def __init__(self):
        self.entries: list[tuple] = []

    def record(self, actor, role, action, target, outcome, ip="", detail=None):
        self.entries.append((actor, action, target, outcome))


class Users:
    """The user store as the guard and the sign-in views use it: one user `zhao` / `right`."""

    def __init__(self):
        self.audit = Audit()
        self.user = User("zhao", ("dispatcher",), "-")
        self.down = False
        self.closed: list[str] = []

    def authenticate(self, name, password, ip=""):
        return SignIn(self.user) if (name, password) == ("zhao", "right") else SignIn(None, "failed")

    def open_session(self, subject, ttl_s):
        return "sid1"

    def close_session(self, sid):
        self.closed.append(sid)

    def session_user(self, sid, name):
        if self.down:
            raise RedisConnectionError("Redis is away")
        return self.user if (sid, name) == ("sid1", "zhao") else None

    def token_for_secret(self, secret):
        return None


@pytest.fixture
def app():
    settings = Settings(secret_key="unit-test-secret-key-0123456789abcdef")
    app = dash.Dash(__name__)
    app.server.extensions["ioc_services"] = SimpleNamespace(settings=settings, users=Users(), redis=None)
    guard.install(app.server, app.server.extensions["ioc_services"])
    app.server.register_blueprint(sign_in.blueprint)
    dash_guard.install(app)

    @secured_callback(app, "alarm:acknowledge", Output("ack-out", "children"), Input("ack", "n_clicks"))
    def acknowledge(n_clicks):
        return n_clicks

    return app


@pytest.fixture
def users(app) -> Users:
    return app.server.extensions["ioc_services"].users


def callback_request(app, output: str = ACK, **body):
    body = {"output": output, "outputs": {"id": "ack-out", "property": "children"},
            "inputs": [{"id": "ack", "property": "n_clicks", "value": 1}], "changedPropIds": ["ack.n_clicks"], **body}
    return app.server.test_request_context("/_dash-update-component", method="POST", json=body)


# ---- the request guard --------------------------------------------------------------------------

def test_an_anonymous_request_for_a_page_is_sent_to_sign_in(app):
    with app.server.test_request_context("/cases"):
        response = guard.guard()
    assert (response.status_code, response.location) == (302, "/login?next=/cases")


def test_an_anonymous_callback_request_gets_401_with_a_bearer_challenge(app):
    with callback_request(app):
        response = guard.guard()
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == 'Bearer realm="ioc"'


def test_a_page_outside_the_principals_views_redirects_to_its_home_page(app):
    with app.server.test_request_context("/cases"):
        g.ioc_principal = HANDLER
        response = guard.guard()
    assert (response.status_code, response.location) == (302, "/tasks")


def test_a_page_the_principal_may_open_passes(app):
    with app.server.test_request_context("/case/ZJG-20260101-000001/"):
        g.ioc_principal = HANDLER
        assert guard.guard() is None


def test_open_paths_need_no_principal(app):
    for path in ("/login", "/logout", "/healthz", "/kiosk/abc", "/assets/app.css"):
        with app.server.test_request_context(path):
            assert guard.guard() is None, path


# ---- the Dash guard -----------------------------------------------------------------------------

def test_a_kiosk_may_not_run_an_action_callback_and_the_refusal_is_audited(app, users):
    with callback_request(app):
        g.ioc_principal = KIOSK
        response = guard.guard()
    assert response.status_code == 403 and b"read-only kiosk" in response.data
    assert users.audit.entries == [("kiosk:wall", "access.denied", "alarm:acknowledge", "denied")]


def test_a_principal_holding_the_callbacks_permission_passes(app):
    with callback_request(app):
        g.ioc_principal = OPERATOR
        assert guard.guard() is None


def test_a_callback_registered_without_a_permission_is_refused_to_everybody(app):
    with callback_request(app, output="no-such-callback.children"):
        g.ioc_principal = Principal("root", frozenset({"operator", "leader", "admin"}))
        response = guard.guard()
    assert response.status_code == 403 and response.json["message"] == "unknown callback"


def test_a_callback_request_of_the_wrong_shape_gets_400(app):
    with callback_request(app, inputs=[]):
        g.ioc_principal = OPERATOR
        response = guard.guard()
    assert response.status_code == 400 and response.json["message"].startswith("malformed callback request: inputs")


# ---- principals from sessions -------------------------------------------------------------------

def test_a_session_stays_valid_through_a_short_redis_outage_but_none_is_admitted(app, users):
    with app.server.test_request_context("/"):
        session["exp_ms"] = 2**62
        assert guard.load_user("u|zhao|1|sid1").principal.name == "zhao"
        users.down = True
        assert guard.load_user("u|zhao|1|sid1").principal.name == "zhao"  # known a moment ago
        with pytest.raises(RedisConnectionError):
            guard.load_user("u|zhao|1|sid2")  # never seen: not admitted from the cache


def test_the_known_sessions_forget_a_session_after_the_grace_period():
    known = guard.KnownSessions(grace_s=0)
    known.remember("u|zhao|1|sid1", PortalUser(OPERATOR, "u|zhao|1|sid1"))
    assert known.recall("u|zhao|1|sid1") is None


# ---- the sign-in views --------------------------------------------------------------------------

def test_signing_in_opens_a_session_and_lands_on_the_home_page(app):
    with app.server.test_request_context("/login", method="POST", data={"name": "Zhao ", "password": "right"}):
        response = sign_in.login()
        assert session["_user_id"] == "u|zhao|1|sid1" and session["exp_ms"] > 0 and session["csrf"]
    assert (response.status_code, response.location) == (302, "/")  # a dispatcher's first view


def test_a_wrong_password_answers_the_sign_in_page_with_401(app):
    with app.server.test_request_context("/login", method="POST", data={"name": "zhao", "password": "wrong"}):
        response = sign_in.login()
        assert "_user_id" not in session
    assert response.status_code == 401 and response.mimetype == "text/html"


def test_a_sign_in_posted_from_another_site_is_refused(app):
    with app.server.test_request_context("/login", method="POST", data={"name": "zhao", "password": "right"},
                                         headers={"Origin": "https://evil.example"}):
        assert sign_in.login().status_code == 400


def test_signing_out_closes_the_server_side_session(app, users):
    with app.server.test_request_context("/logout"):
        g.ioc_principal = users.user.principal()
        login_user(PortalUser(users.user.principal(), "u|zhao|1|sid1"))
        response = sign_in.logout()
    assert users.closed == ["sid1"] and response.location == "/login"
    assert ("zhao", "auth.sign_out", "zhao", "ok") in users.audit.entries


def test_an_unknown_kiosk_link_is_refused_and_audited(app, users):
    with app.server.test_request_context("/kiosk/nope"):
        response = sign_in.kiosk("nope")
    assert response.status_code == 401
    assert users.audit.entries == [("-", "auth.kiosk", "", "failed")]


@pytest.mark.parametrize("target, expected", [
    ("/cases", "/cases"), ("/case/ZJG-1?x=1", "/case/ZJG-1?x=1"), ("", ""), (None, ""), ("https://evil.example/", ""),
    ("//evil.example", ""), ("/\t/evil.example", ""), ("/\\evil.example", ""), ("cases", ""),
])
def test_only_a_local_path_is_a_redirect_target_after_sign_in(target, expected):
    assert sign_in.safe_next(target) == expected
