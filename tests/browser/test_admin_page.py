"""The users and API tokens page (/admin) in a real headless Chromium, signed in as an admin."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from ioc.web.app import create_app
from tests.conftest import browser_sign_in, wait_for


@pytest.fixture
def admin(dash_duo, settings, sign_in_as):
    """dash_duo on /admin, signed in as the module's admin; `.admin_name` is who."""
    dash_duo.start_server(create_app(settings), navigate=False)
    name = sign_in_as("admin", next_path="/admin").name
    dash_duo.wait_for_element("#admin-page", timeout=15)
    dash_duo.wait_for_element(f'#admin-users-grid .ag-row[row-id="{name}"]', timeout=15)
    dash_duo.admin_name = name
    return dash_duo


def cell(duo, grid: str, row_id: str, column: str) -> str:
    """The text of one cell of an ag-grid, '' while the row is not there."""
    found = duo.driver.find_elements(By.CSS_SELECTOR, f'#{grid} .ag-row[row-id="{row_id}"] .ag-cell[col-id="{column}"]')
    return found[0].text if found else ""


def select_row(duo, grid: str, row_id: str, shown_in: str) -> None:
    """Click a row (its first cell) and wait until the page shows it as selected."""
    duo.find_element(f'#{grid} .ag-row[row-id="{row_id}"] .ag-cell').click()
    duo.wait_for_text_to_equal(shown_in, row_id)


def pick(duo, dropdown: str, label: str) -> None:
    duo.select_dcc_dropdown(dropdown, value=label)
    duo.find_element(dropdown).send_keys(Keys.ESCAPE)


def test_adding_a_user_shows_its_password_once_and_lists_the_user(admin, user_store):
    admin.find_element("#admin-user-name").send_keys("zhang.san")
    admin.find_element("#admin-user-display").send_keys("张三")
    pick(admin, "#admin-user-roles", "值班员")
    admin.find_element("#admin-user-add").click()

    admin.wait_for_element("#admin-user-secret .secret-value", timeout=15)
    password = admin.find_element("#admin-user-secret .secret-value").text
    assert "zhang.san" in admin.find_element("#admin-user-secret").text
    assert "不再显示" in admin.find_element("#admin-user-secret").text
    assert "secret" in admin.find_element("#admin-user-secret").get_attribute("class")
    assert user_store.authenticate("zhang.san", password).user is not None  # the shown password is the real one
    wait_for(lambda: cell(admin, "admin-users-grid", "zhang.san", "roles") == "值班员", message="the new user in the table")
    assert cell(admin, "admin-users-grid", "zhang.san", "display_name") == "张三"
    assert "zhang.san" in admin.find_element("#admin-user-message").text

    # the next change hides it: it is shown once
    select_row(admin, "admin-users-grid", "zhang.san", "#admin-user-selected")
    admin.find_element("#admin-user-enable").click()
    wait_for(lambda: not admin.driver.find_elements(By.CSS_SELECTOR, "#admin-user-secret .secret-value"), message="the secret to go")
    assert not admin.find_element("#admin-user-secret").is_displayed()
    assert admin.get_logs() == []


def test_a_bad_user_is_refused_with_a_message(admin, user_store):
    admin.find_element("#admin-user-name").send_keys("li.si")
    pick(admin, "#admin-user-roles", "处置部门")  # a handler without a department
    admin.find_element("#admin-user-add").click()
    wait_for(lambda: "处置部门角色须选择所属部门" in admin.find_element("#admin-user-message").text, message="the error message")
    assert user_store.get("li.si") is None
    assert admin.driver.find_elements(By.CSS_SELECTOR, "#admin-user-secret .secret-value") == []
    assert admin.get_logs() == []


def test_disabling_a_user(admin, make_user, user_store):
    name, _ = make_user("operator")
    admin.find_element("#admin-refresh").click()
    wait_for(lambda: cell(admin, "admin-users-grid", name, "status") == "启用", message="the user in the table")
    select_row(admin, "admin-users-grid", name, "#admin-user-selected")
    admin.find_element("#admin-user-disable").click()
    wait_for(lambda: cell(admin, "admin-users-grid", name, "status") == "已停用", message="the user shown disabled")
    assert user_store.get(name).disabled
    assert name in admin.find_element("#admin-user-message").text

    # an admin may not disable themself
    select_row(admin, "admin-users-grid", admin.admin_name, "#admin-user-selected")
    admin.find_element("#admin-user-disable").click()
    admin.wait_for_contains_text("#admin-user-message", "不能停用自己")
    assert not user_store.get(admin.admin_name).disabled
    assert admin.get_logs() == []


def test_a_kiosk_link_is_shown_once_and_can_be_revoked(admin, user_store):
    admin.find_element("#admin-token-name").send_keys("大厅大屏")
    admin.find_element("#admin-token-kiosk input").click()
    admin.find_element("#admin-token-create").click()

    admin.wait_for_element("#admin-token-secret .secret-value", timeout=15)
    link = admin.find_element("#admin-token-secret .secret-value").text
    assert "/kiosk/ioc_" in link
    assert link.startswith(admin.server_url.rstrip("/") + "/kiosk/ioc_")
    (token,) = user_store.tokens()
    assert token.kiosk and token.active and user_store.token_for_secret(link.rsplit("/", 1)[1]) == token
    wait_for(lambda: cell(admin, "admin-tokens-grid", token.id, "kiosk") == "是", message="the token in the table")
    assert cell(admin, "admin-tokens-grid", token.id, "status") == "有效"

    select_row(admin, "admin-tokens-grid", token.id, "#admin-token-selected")
    revoke = admin.find_element("#admin-token-revoke")
    assert "danger" in revoke.get_attribute("class")
    revoke.click()
    wait_for(lambda: cell(admin, "admin-tokens-grid", token.id, "status").startswith("已撤销"), message="the token shown revoked")
    assert not user_store.token(token.id).active
    assert admin.driver.find_elements(By.CSS_SELECTOR, "#admin-token-secret .secret-value") == []
    assert admin.get_logs() == []


def test_a_non_admin_is_sent_away_from_the_admin_page(dash_duo, settings, make_user):
    name, password = make_user("operator")
    dash_duo.start_server(create_app(settings), navigate=False)
    browser_sign_in(dash_duo, name, password, next_path="/admin")
    assert urlparse(dash_duo.driver.current_url).path == "/"
    dash_duo.driver.get(f"{dash_duo.server_url}/admin")
    wait_for(lambda: urlparse(dash_duo.driver.current_url).path == "/", message="the redirect home")
    dash_duo.wait_for_element("#page", timeout=15)
    assert dash_duo.driver.find_elements(By.ID, "admin-page") == []
    assert dash_duo.get_logs() == []
