"""The users and API tokens page against a real Redis: its rows follow the store, and its
callbacks are guarded (reads `view:admin`, changes `user:manage` / `token:manage`)."""

from __future__ import annotations

import pytest

from ioc.adapters.user_store import Actor
from ioc.domain.departments import all_departments
from ioc.views.admin import token_rows, user_rows
from ioc.web.app import create_app
from ioc.web.dash_guard import CALLBACK_PERMISSIONS

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


def test_only_an_admin_may_load_the_tables(settings, user_store, make_user):
    name, _ = make_user("operator")
    client = create_app(settings).server.test_client()
    _, operator = user_store.create_token("ops system", ["operator"], ADMIN)
    _, admin = user_store.create_token("admin system", ["admin"], ADMIN)
    assert _load(client, operator).status_code == 403
    answer = _load(client, admin)
    assert answer.status_code == 200
    response = answer.get_json()["response"]
    assert name in [r["name"] for r in response["admin-users-grid"]["rowData"]]
    assert {r["name"] for r in response["admin-tokens-grid"]["rowData"]} == {"ops system", "admin system"}
    assert "secret_sha256" not in str(response) and "password_hash" not in str(response)
