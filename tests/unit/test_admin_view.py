"""Pure functions behind the users and API tokens page."""

from __future__ import annotations

from ioc.domain.accounts import ApiToken, User
from ioc.domain.departments import FUNCTIONAL
from ioc.views.admin import (department_for, fmt_time, kiosk_link, role_label, role_options, selected, self_lockout,
                             token_rows, user_rows)

DEPARTMENTS = {d.id: d for d in FUNCTIONAL}
T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC = 08:00 China time


def test_times_are_china_time_to_the_minute():
    assert fmt_time(T0) == "2026-01-01 08:00"
    assert fmt_time(0) == ""


def test_roles_are_named_in_the_page_language_in_a_fixed_order():
    assert role_label(("leader", "dispatcher"), "zh") == "领导、调度员"
    assert role_label(("admin",), "en") == "Administrator"
    assert [o["value"] for o in role_options("zh")][0] == "operator"


def test_user_rows_show_names_roles_department_and_status():
    users = [User("wang", ("handler",), "hash", "王工", "water_affairs", False, 1, T0, T0 + 60_000),
             User("li", ("operator", "leader"), "hash", "", "", True, 2, T0, T0)]
    zh, en = user_rows(users, DEPARTMENTS, "zh"), user_rows(users, DEPARTMENTS, "en")
    assert zh[0] == {"name": "wang", "display_name": "王工", "roles": "处置部门", "department": "市水务局", "status": "启用",
                     "created": "2026-01-01 08:00", "updated": "2026-01-01 08:01", "role_ids": ["handler"],
                     "department_id": "water_affairs", "disabled": False}
    assert zh[1]["status"] == "已停用" and zh[1]["department"] == ""
    assert en[0]["department"] == "Water Affairs Bureau" and en[1]["roles"] == "Operator、Leader"
    assert "password_hash" not in zh[0] and "hash" not in zh[0].values()


def test_token_rows_show_kiosk_and_revocation():
    tokens = [ApiToken("ab12cd34", "wall 1", ("operator",), "", True, "root", T0, 0, "", "sha"),
              ApiToken("ef56ab78", "water system", ("handler",), "water_affairs", False, "root", T0, T0 + 120_000, "root", "sha")]
    rows = token_rows(tokens, DEPARTMENTS, "zh")
    assert rows[0]["kiosk"] == "是" and rows[0]["status"] == "有效" and rows[0]["active"] is True
    assert rows[1]["kiosk"] == "否" and rows[1]["status"] == "已撤销 2026-01-01 08:02" and rows[1]["department"] == "市水务局"
    assert all("sha" not in r.values() for r in rows)


def test_only_a_handler_keeps_the_chosen_department():
    assert department_for(["handler"], "water_affairs") == "water_affairs"
    assert department_for(["operator"], "water_affairs") == ""
    assert department_for(None, None) == ""


def test_selected_row_key():
    assert selected([{"name": "wang"}], "name") == "wang"
    assert selected([], "name") == selected(None, "id") == ""


def test_an_admin_may_not_lock_themself_out():
    assert self_lockout("root", "root", "disable")
    assert self_lockout("root", "root", "save", ["operator"])
    assert not self_lockout("root", "root", "save", ["admin", "leader"])
    assert not self_lockout("root", "root", "reset")
    assert not self_lockout("root", "wang", "disable")


def test_kiosk_link():
    assert kiosk_link("http://ioc.example:8050/", "ioc_x_y") == "http://ioc.example:8050/kiosk/ioc_x_y"


def test_a_refused_account_change_is_said_in_the_page_language_by_its_code():
    from ioc.domain.accounts import AccountError, validate_password
    from ioc.views.admin import account_error_text
    try:
        validate_password("short")
    except AccountError as e:
        assert account_error_text(e, "zh") == "密码至少 8 位" and account_error_text(e, "en") == "The password needs at least 8 characters"
    assert account_error_text(AccountError("x", "user_exists"), "zh") == "该用户名已存在"
    assert account_error_text(AccountError("something new"), "en") == "The request was not accepted"
    assert account_error_text(ValueError("no code"), "zh") == "请求未被接受"
