"""Page callbacks called as plain functions (`signed_in`: a request of the app on the test Redis
with a signed-in principal), and what an outage of Redis makes of them once registered."""

from __future__ import annotations

import orjson
import pytest
import redis
from dash import no_update

from callbacks import account, audit, district, shell, status
from ioc.adapters import redis_keys as keys
from ioc.i18n import t
from ioc.web.outage import guard_callback
from ioc.web.services import Services, current_services


def test_current_services_are_the_apps(signed_in, portal_app):
    with signed_in("operator"):
        assert current_services() is portal_app.server.extensions["ioc_services"]


def test_a_web_process_without_redis_stops_with_one_clear_error(settings):
    with pytest.raises(RuntimeError, match="REDIS_URL"):
        Services.from_settings(settings.replace(redis_url=""))


def test_the_frame_routes_a_principal_only_to_a_page_its_role_may_open(signed_in):
    with signed_in("operator"):
        status_page, admin_page = shell.route("/status", "zh"), shell.route("/admin", "zh")
    assert getattr(status_page, "id", None) != "forbidden" and admin_page.id == "forbidden"


def test_the_frame_shows_the_navigation_of_the_principals_role(signed_in):
    with signed_in("handler"):
        title, nav, *_ = shell.relabel("en")
    assert "nav-tasks" in str(nav) and "nav-admin" not in str(nav)


def test_the_heartbeat_hides_the_banner_while_redis_answers(signed_in):
    with signed_in("operator"):
        *_, banner_text, banner_class = shell.heartbeat(1, None, "zh")
    assert (banner_text, banner_class) == ("", "banner hidden")


def test_the_status_cards_count_the_accepted_messages(signed_in, redis_client):
    redis_client.hincrby(keys.METRICS, "messages:accepted", 1234)
    with signed_in("operator"):
        values = status.refresh(1, "en")
    assert values[status.CARDS.index("accepted")] == "1,234"


def test_the_district_ranking_links_every_district_to_its_page(signed_in, city):
    with signed_in("leader"):
        rows = district.ranking(1, "zh")
    rows = orjson.loads(orjson.dumps(rows))  # an orjson fragment, serialized once for every viewer
    assert {r["id"] for r in rows} == {d.id for d in city.districts}
    assert all(r["district"].endswith(f"(/district/{r['id']})") for r in rows)


def test_the_audit_log_lists_the_newest_entries_by_actor(signed_in, portal_app):
    audit_log = portal_app.server.extensions["ioc_services"].audit
    audit_log.record("wang.gong", "handler", "auth.sign_in", "wang.gong", "ok", "10.0.0.1")
    audit_log.record("li.si", "dispatcher", "auth.sign_in", "li.si", "ok", "10.0.0.2")
    with signed_in("leader", triggered="audit-actor.value"):
        rows, before = audit.load(1, "wang.gong", "", 0, None, None, "zh")
    assert [r["actor"] for r in rows] == ["wang.gong"] and before is None


@pytest.mark.parametrize("confirm, message", [("other", "password_mismatch"), ("", "password_mismatch")])
def test_a_new_password_must_be_typed_twice_alike(signed_in, make_user, confirm, message):
    name, password = make_user("operator")
    with signed_in("operator", name=name, triggered="password-change.n_clicks"):
        answer = account.change_password(1, password, "new-password-123", confirm, "zh")
    assert answer == (t(message, "zh"), no_update, no_update, "")


def test_a_password_change_during_an_outage_says_it_was_not_carried_out(signed_in, portal_app, make_user, monkeypatch):
    name, password = make_user("operator")

    def down(*_args, **_kwargs):
        raise redis.ConnectionError("Redis is down")

    monkeypatch.setattr(portal_app.server.extensions["ioc_services"].users, "change_own_password", down)
    with signed_in("operator", name=name, triggered="password-change.n_clicks") as sent:
        assert guard_callback(account.change_password)(1, password, "new-password-123", "new-password-123", "zh") is no_update
    assert sent["account-message"] == {"children": t("action_unavailable", "zh")}
    assert sent["banner"]["className"] == "banner"


def test_a_page_that_meets_an_outage_keeps_what_it_shows(signed_in, portal_app, monkeypatch):
    def down(*_args, **_kwargs):
        raise redis.ConnectionError("Redis is down")

    monkeypatch.setattr(portal_app.server.extensions["ioc_services"].snapshot, "counters", down)
    with signed_in("operator", lang="en") as sent:
        assert guard_callback(status.refresh)(1, "en") is no_update
    assert sent == {"banner": {"children": t("data_unavailable", "en"), "className": "banner"}}
