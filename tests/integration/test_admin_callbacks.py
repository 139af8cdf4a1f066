"""The users and API tokens page against a real Redis: its rows follow the store, its callbacks
are guarded (reads `view:admin`, changes `user:manage` / `token:manage`), and called as plain
functions (`signed_in`) they decide what the page shows."""

from __future__ import annotations

import pytest
import redis
from dash import no_update

from callbacks import admin
from ioc.adapters.user_store import Actor
from ioc.domain.departments import all_departments
from ioc.views.admin import token_rows, user_rows
from ioc.web.app import create_app
from ioc.i18n import t
from ioc.web.dash_guard import CALLBACK_PERMISSIONS
from ioc.web.outage import guard_callback

ADMIN = Actor("root", "admin", "127.0.0.1")
LOAD = "..admin-users-grid.rowData...admin-tokens-grid.rowData...admin-load-message.children.."


@pytest.fixture
def departments(city):
    return {d.id: d for d in all_departments(city)}


def test_rows_follow_user_and_token_changes(user_store, departments):
    user, password = user_store.add("wang.gong", ["handler"], ADMIN, display_name="王工", department="water_affairs")
    assert len(password) >= 8
    (row,) = [r for r in user_rows(user_store.list(), departments, "zh") if r["name"] == "wang.gong"]
    assert (row["roles"], row["department"], row["status"]) == ("处置部门", "市水务局", "启用")
    user_store.set_disabled("wang.gong", True, ADMIN)
    (row,) = [r for r in user_rows(user_store.list(), departments, "en") if r["name"] == "wang.gong"]
    assert row["status"] == "Disabled"

    token, secret = user_store.create_token("wall 1", [], ADMIN, kiosk=True)
    assert secret.startswith("ioc_")
    assert token_rows(user_store.tokens(), departments, "zh")[0]["status"] == "有效"
    user_store.revoke_token(token.id, ADMIN)
    (row,) = token_rows(user_store.tokens(), departments, "zh")
    assert (row["id"], row["kiosk"], row["created_by"]) == (token.id, "是", "root")
    assert row["status"].startswith("已撤销")


def test_admin_callbacks_are_registered_with_admin_permissions(settings):
    table = create_app(settings).server.extensions[CALLBACK_PERMISSIONS]
    admin = {cid: perm for cid, perm in table.items() if "admin-" in cid}
    assert admin[LOAD] == "view:admin"
    assert {perm for cid, perm in admin.items() if "admin-user-message" in cid} == {"user:manage"}
    assert {perm for cid, perm in admin.items() if "admin-token-message" in cid} == {"token:manage"}
    assert set(admin.values()) == {"view:admin", "user:manage", "token:manage"}


def _load(client, secret: str):
    body = {"output": LOAD, "outputs": [{"id": "admin-users-grid", "property": "rowData"},
                                        {"id": "admin-tokens-grid", "property": "rowData"},
                                        {"id": "admin-load-message", "property": "children"}],
            "inputs": [{"id": "admin-users-changed", "property": "data", "value": 0},
                       {"id": "admin-tokens-changed", "property": "data", "value": 0},
                       {"id": "admin-refresh", "property": "n_clicks", "value": 0}],
            "state": [{"id": "lang", "property": "data", "value": "zh"}], "changedPropIds": []}
    return client.post("/_dash-update-component", json=body, headers={"Authorization": f"Bearer {secret}"})


def test_only_an_admin_may_load_the_tables(settings, user_store):
    """The guard's job: the read callback runs for `view:admin` only."""
    client = create_app(settings).server.test_client()
    _, operator = user_store.create_token("ops system", ["operator"], ADMIN)
    _, admin = user_store.create_token("admin system", ["admin"], ADMIN)
    assert _load(client, operator).status_code == 403
    assert _load(client, admin).status_code == 200


def test_the_tables_list_users_and_tokens_without_their_secrets(signed_in, user_store, make_user):
    name, _ = make_user("operator")
    user_store.create_token("ops system", ["operator"], ADMIN)
    with signed_in("admin"):
        users, tokens, message = admin.load(0, 0, 0, "zh")
    assert name in [r["name"] for r in users] and message == ""
    assert {r["name"] for r in tokens} == {"ops system"}
    assert "secret_sha256" not in str((users, tokens)) and "password_hash" not in str((users, tokens))


def test_an_admin_adds_a_user_and_is_shown_the_password_once(signed_in, user_store):
    with signed_in("admin", name="root", triggered="admin-user-add.n_clicks"):
        message, box, style, password_field, changed = admin.change_user(
            1, None, None, None, None, "li.si", "李四", ["dispatcher"], None, "", [], 0, "zh")
    assert message == f"{t('admin_user_added', 'zh')}: li.si" and changed == 1
    assert style == admin.SHOWN and password_field == ""
    assert user_store.get("li.si").roles == ("dispatcher",) and user_store.get("li.si").display_name == "李四"


def test_an_admin_may_not_disable_themselves(signed_in, user_store):
    with signed_in("admin", name="root", triggered="admin-user-disable.n_clicks"):
        message, *_ = admin.change_user(None, None, None, None, 1, "root", "", ["admin"], None, "", [{"name": "root"}], 0, "en")
    assert message == t("admin_self_lockout", "en")


def test_an_action_during_a_redis_outage_says_it_was_not_carried_out(signed_in, portal_app, monkeypatch):
    def down(*_args, **_kwargs):
        raise redis.ConnectionError("Redis is down")

    monkeypatch.setattr(portal_app.server.extensions["ioc_services"].users, "create_token", down)
    with signed_in("admin", triggered="admin-token-create.n_clicks", lang="en") as sent:
        # as `secured_callback` registers it
        assert guard_callback(admin.change_token)(1, None, "wall", [], None, [], [], 0, "en") is no_update
    text = t("action_unavailable", "en")
    assert sent == {"banner": {"children": text, "className": "banner"}, "admin-token-message": {"children": text}}
