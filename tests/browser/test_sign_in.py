"""Signing in and out, per-role navigation, the audit log and one's own account, in a real
headless Chromium against the real app."""

from __future__ import annotations

import pytest
from dash.testing.wait import until
from selenium.webdriver.common.by import By

from ioc.web.app import create_app
from tests.conftest import TEST_PASSWORD, browser_sign_in


@pytest.fixture
def portal(dash_duo, settings):
    dash_duo.start_server(create_app(settings), navigate=False)
    return dash_duo


def _base(duo) -> str:
    return duo.server.url.rstrip("/")


def _fill_login(duo, name: str, password: str) -> None:
    duo.driver.find_element(By.ID, "login-name").send_keys(name)
    duo.driver.find_element(By.ID, "login-password").send_keys(password)
    duo.driver.find_element(By.ID, "login-submit").click()


def _nav(duo) -> list[str]:
    return [a.get_attribute("id") for a in duo.driver.find_elements(By.CSS_SELECTOR, "#nav a")]


def test_an_anonymous_visitor_is_sent_to_the_sign_in_page(portal):
    portal.driver.get(_base(portal) + "/districts")
    until(lambda: "/login" in portal.driver.current_url, timeout=10)
    assert portal.driver.find_element(By.ID, "login-submit").text == "登录"
    assert "next=/districts" in portal.driver.current_url


def test_signing_in_opens_the_big_screen_and_signing_out_ends_the_session(portal, make_user):
    name, password = make_user("operator", display_name="值班员 王敏")
    portal.driver.get(_base(portal) + "/login")
    _fill_login(portal, name, "not-the-password")
    until(lambda: portal.driver.find_elements(By.ID, "login-error"), timeout=10)
    assert "用户名或密码错误" in portal.driver.find_element(By.ID, "login-error").text
    _fill_login(portal, "", password)  # the name stays filled in after a failure
    until(lambda: "/login" not in portal.driver.current_url, timeout=10)
    portal.wait_for_element("#bigscreen", timeout=15)
    until(lambda: "值班员 王敏" in portal.find_element("#user-badge").text, timeout=10)
    portal.find_element("#sign-out").click()
    until(lambda: "/login" in portal.driver.current_url, timeout=10)
    portal.driver.get(_base(portal) + "/")
    until(lambda: "/login" in portal.driver.current_url, timeout=10)  # the session is gone


def test_the_sign_in_page_switches_to_english(portal):
    portal.driver.get(_base(portal) + "/login")
    portal.driver.find_element(By.ID, "login-lang").click()
    until(lambda: portal.driver.find_element(By.ID, "login-submit").text == "Sign in", timeout=10)


def test_each_role_sees_only_its_views_in_the_navigation(portal, make_user):
    browser_sign_in(portal, *make_user("operator"))
    until(lambda: _nav(portal) == ["nav-bigscreen", "nav-districts", "nav-events", "nav-status", "nav-duty", "nav-account"],
          timeout=10)
    assert portal.get_logs() == []


def test_a_department_handler_lands_on_its_task_list(portal, make_user):
    browser_sign_in(portal, *make_user("handler", department="water_affairs"))
    portal.wait_for_element("#tasks-page", timeout=15)
    until(lambda: _nav(portal) == ["nav-tasks", "nav-events", "nav-account"], timeout=10)
    assert portal.get_logs() == []


def test_the_account_page_names_the_handlers_department(portal, make_user):
    browser_sign_in(portal, *make_user("handler", department="water_affairs"), next_path="/account")
    until(lambda: "市水务局" in portal.find_element("#account-facts").text, timeout=10)
    assert portal.get_logs() == []


def test_a_leader_reads_the_audit_log(portal, make_user):
    name, _ = make_user("leader")
    browser_sign_in(portal, name, TEST_PASSWORD, next_path="/audit")
    portal.wait_for_element("#audit-grid", timeout=15)
    until(lambda: "登录" in portal.find_element("#audit-grid").text, timeout=20)
    assert "auth.sign_in" not in portal.find_element("#audit-grid").text  # the action by its name, not its code
    assert name in portal.find_element("#audit-grid").text
    assert portal.get_logs() == []


def test_a_user_changes_their_own_password(portal, make_user, user_store):
    name, password = make_user("dispatcher")
    browser_sign_in(portal, name, password, next_path="/account")
    portal.wait_for_element("#password-change", timeout=15)
    portal.find_element("#password-current").send_keys(password)
    portal.find_element("#password-new").send_keys("a-brand-new-secret")
    portal.find_element("#password-confirm").send_keys("a-brand-new-secret")
    portal.find_element("#password-change").click()
    until(lambda: portal.find_element("#account-message").text == "密码已修改", timeout=10)
    assert user_store.authenticate(name, "a-brand-new-secret").user is not None
    assert portal.get_logs() == []
