"""The desk pages in one language and in order (issue 13, items 8, 10 and 11), in a real headless
Chromium at 1920×1080: AG Grid's menus and paging in the page language, the stage words, the case
class in one language, the audit log in words, every district in the indicators table and that
table within 1920 px, an empty chart that says so, numeric headers with their filter button by
their label, admin columns sized by content, and the account page's password form."""

from __future__ import annotations

import time
from urllib.parse import urlparse

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from ioc.domain.access import Principal
from tests.conftest import browser_sign_in, browser_sign_out, wait_for

CLASS = "10101"  # 井盖丢失 (Manhole cover missing)
LAT, LON = 31.872, 120.556  # in yangshe (杨舍镇)
DISPATCHER = Principal("setup-dispatcher", frozenset({"dispatcher"}))
QUEUES_ZH = ["待受理", "待核实", "待派遣", "处置中", "待核查", "待结案"]
QUEUES_EN = ["Awaiting acceptance", "Awaiting verification", "Awaiting dispatch", "Being handled", "Awaiting check",
             "Awaiting closure"]
OPEN_STAGES = ("reported", "accepted", "verified", "dispatched", "handled", "checked")


@pytest.fixture
def portal(case_portal):
    return case_portal


def new_case(duo) -> str:
    case, _ = duo.cases.report(class_code=CLASS, lat=LAT, lon=LON, source="phone", actor="setup-dispatcher", role="dispatcher",
                               description="人民中路东侧")
    return case.id


def js(duo, script: str, *args):
    return duo.driver.execute_script(script, *args)


def text(duo, selector: str) -> str:
    return js(duo, "const e = document.querySelector(arguments[0]); return e ? e.innerText.trim() : '';", selector)


def cell(duo, grid: str, row_id: str, column: str) -> str:
    return text(duo, f'#{grid} .ag-row[row-id="{row_id}"] .ag-cell[col-id="{column}"]')


def switch_language(duo) -> None:
    duo.find_element("#lang-switch").click()


def open_filter(duo, grid: str, column: str) -> None:
    duo.find_element(f'#{grid} .ag-header-cell[col-id="{column}"] .ag-header-cell-filter-button').click()
    wait_for(lambda: duo.driver.find_elements(By.CSS_SELECTOR, ".ag-popup .ag-filter"), message="the filter menu")


def popup_whole_and_on_top(duo) -> bool:
    """The open filter menu lies inside the window and is the topmost element at its corners."""
    return js(duo, """
        const p = document.querySelector('.ag-popup .ag-filter');
        if (!p) return false;
        const r = p.getBoundingClientRect();
        if (r.top < 0 || r.left < 0 || r.bottom > window.innerHeight || r.right > window.innerWidth || r.height < 40) return false;
        return [[r.left + 4, r.top + 4], [r.right - 4, r.bottom - 4], [(r.left + r.right) / 2, (r.top + r.bottom) / 2]]
            .every(([x, y]) => p.contains(document.elementFromPoint(x, y)));
    """)


# ---- item 8: AG Grid in the page language ------------------------------------------------------

def test_a_grid_speaks_chinese_and_its_filter_menu_stays_whole_when_nothing_matches(portal, make_user):
    browser_sign_in(portal, *make_user("leader"), next_path="/audit")
    wait_for(lambda: portal.driver.find_elements(By.CSS_SELECTOR, "#audit-grid .ag-row"), message="the audit rows")
    paging = text(portal, "#audit-grid .ag-paging-panel")
    assert "每页行数" in paging and "至" in paging and "页" in paging, paging
    assert "Page" not in paging and " to " not in paging and " of " not in paging

    open_filter(portal, "audit-grid", "actor")
    options = text(portal, ".ag-popup .ag-filter")
    assert "包含" in options and "Contains" not in options
    portal.find_element(".ag-popup .ag-filter input[type='text']").send_keys("nobody-has-this-name")
    wait_for(lambda: text(portal, "#audit-grid .ag-overlay") == "没有符合筛选条件的行", message="the no-match overlay")
    assert popup_whole_and_on_top(portal)  # the empty grid does not cut its menu off
    assert portal.get_logs() == []


def test_the_grids_switch_to_english_with_the_page(portal, make_user):
    browser_sign_in(portal, *make_user("leader"), next_path="/audit")
    wait_for(lambda: "每页行数" in text(portal, "#audit-grid .ag-paging-panel"), message="the Chinese paging bar")
    switch_language(portal)
    wait_for(lambda: "Page Size" in text(portal, "#audit-grid .ag-paging-panel"), message="the English paging bar")
    assert " to " in text(portal, "#audit-grid .ag-paging-panel")
    open_filter(portal, "audit-grid", "actor")
    assert "Contains" in text(portal, ".ag-popup .ag-filter")
    assert portal.get_logs() == []


def test_an_empty_grid_says_so_in_the_page_language(portal, sign_in_as):
    sign_in_as("dispatcher", next_path="/cases")
    wait_for(lambda: text(portal, "#cases-grid .ag-overlay") == "暂无案件", message="the empty console")
    open_filter(portal, "cases-grid", "class")
    assert popup_whole_and_on_top(portal)
    assert "等于" in text(portal, ".ag-popup .ag-filter") or "包含" in text(portal, ".ag-popup .ag-filter")
    assert portal.get_logs() == []


# ---- item 8: the case class in one language; item 10: stage words ------------------------------

def test_the_console_cards_and_stage_column_name_each_queue_by_what_it_awaits(portal, sign_in_as):
    case_id = new_case(portal)
    sign_in_as("dispatcher", next_path="/cases")
    wait_for(lambda: text(portal, "#case-stage-reported-value") == "1", message="the count")
    assert [text(portal, f"#case-stage-{s} .kpi-label") for s in OPEN_STAGES] == QUEUES_ZH
    wait_for(lambda: cell(portal, "cases-grid", case_id, "stage") == "待受理", message="the stage column")
    switch_language(portal)
    wait_for(lambda: text(portal, "#case-stage-reported .kpi-label") == "Awaiting acceptance", message="the English cards")
    assert [text(portal, f"#case-stage-{s} .kpi-label") for s in OPEN_STAGES] == QUEUES_EN
    wait_for(lambda: cell(portal, "cases-grid", case_id, "stage") == "Awaiting acceptance", message="the English stage column")
    assert cell(portal, "cases-grid", case_id, "class") == "Manhole cover missing"
    assert portal.get_logs() == []


def test_the_case_page_names_the_class_in_one_language_and_an_urge_stays_in_its_stage(portal, sign_in_as):
    case_id = new_case(portal)
    portal.cases.act(case_id, "accept", DISPATCHER)
    sign_in_as("leader", next_path=f"/case/{case_id}")
    wait_for(lambda: text(portal, "#case-stage") == "待核实", message="the stage badge")
    facts = text(portal, "#case-facts")
    assert "10101 井盖丢失" in facts and "Manhole" not in facts
    wait_for(lambda: portal.find_element("#case-act-urge").is_displayed(), message="the urge button")
    portal.find_element("#case-act-urge").click()
    wait_for(lambda: text(portal, "#case-message").startswith("已办理：督办"), message="the urge confirmed")
    assert text(portal, "#case-message") == "已办理：督办（案件仍在「待核实」）"
    assert text(portal, "#case-stage") == "待核实"
    wait_for(lambda: cell(portal, "case-timeline", "2", "action") == "督办", message="the urge in the timeline")
    assert cell(portal, "case-timeline", "2", "transition") == "待核实"  # no stage change
    switch_language(portal)
    wait_for(lambda: "10101 Manhole cover missing" in text(portal, "#case-facts"), message="the English facts")
    assert "井盖" not in text(portal, "#case-facts")
    assert portal.get_logs() == []


def test_the_inspectors_and_tasks_pages_use_the_same_queue_words(portal, sign_in_as):
    sign_in_as("inspector", next_path="/inspections")
    wait_for(lambda: text(portal, "#insp-count-verify") == "（0）", message="the queue counts")
    assert [text(portal, f"#insp-tab-{q}") for q in ("verify", "check")] == ["待核实（0）", "待核查（0）"]
    browser_sign_out(portal)
    sign_in_as("handler", department="water_affairs", next_path="/tasks")
    wait_for(lambda: text(portal, "#tasks-count-open") == "0", message="the task counts")
    labels = [text(portal, f"#tasks-count-{k} + .field-figure-label") for k in ("open", "overdue", "unacked", "handled")]
    assert labels[0] == "处置中" and labels[3] == "待核查"
    assert portal.get_logs() == []


# ---- item 8: the audit log in words --------------------------------------------------------------

def test_the_audit_log_names_actions_and_reads_details(portal, make_user):
    case_id = new_case(portal)
    portal.cases.act(case_id, "accept", DISPATCHER)
    browser_sign_in(portal, *make_user("leader"), next_path="/audit")
    wait_for(lambda: "受理案件" in text(portal, "#audit-grid"), message="the case actions by name")
    grid = text(portal, "#audit-grid")
    assert "上报案件" in grid and "case.report" not in grid and "case.accept" not in grid
    assert "环节：待受理 → 待核实" in grid and '"from"' not in grid and "{" not in grid
    assert "调度员" in grid and "成功" in grid  # roles and outcomes as words
    assert portal.get_logs() == []


# ---- item 11: the indicators page ----------------------------------------------------------------

def test_the_indicators_table_lists_all_ten_districts_and_fits_1920(portal, sign_in_as, city):
    sign_in_as("leader", next_path="/indicators")
    rows = "#ind-district-grid .ag-center-cols-container .ag-row"
    wait_for(lambda: len(portal.driver.find_elements(By.CSS_SELECTOR, rows)) == 11, message="the city and ten districts")
    assert len(city.districts) == 10
    for d in city.districts:
        assert cell(portal, "ind-district-grid", d.id, "name") == d.name("zh")
        assert cell(portal, "ind-district-grid", d.id, "registered") == "0"
    assert js(portal, "return window.innerWidth") == 1920
    assert_fits_whole(portal)
    switch_language(portal)
    wait_for(lambda: cell(portal, "ind-district-grid", "yangshe", "name") == "Yangshe", message="the English table")
    assert_fits_whole(portal)  # longer words, longer district names
    assert portal.get_logs() == []


def misfits(duo) -> list[str]:
    """What does not fit on the indicators page: horizontal scrolling of the page or of an
    indicator table, header or cell texts cut ([] when everything fits)."""
    out = []
    if not js(duo, "return document.documentElement.scrollWidth <= document.documentElement.clientWidth"):
        out.append("the page scrolls")
    for grid in ("ind-district-grid", "ind-department-grid"):
        if not js(duo, """const v = document.querySelector('#' + arguments[0] + ' .ag-center-cols-viewport');
                          return v.scrollWidth <= v.clientWidth + 1;""", grid):
            out.append(f"{grid} scrolls")
    cut = js(duo, """return Array.from(document.querySelectorAll(
                         '#indicators-page .ag-header-cell-text, #indicators-page .ag-cell-value'))
                     .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.innerText);""")
    return out + [f"cut: {text}" for text in cut]


def assert_fits_whole(duo) -> None:
    """No horizontal scrolling on the page or in the indicator tables, no header or cell text cut,
    once the grids have sized their columns to the texts they were given."""
    deadline = time.monotonic() + 10
    while (problems := misfits(duo)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert problems == []


def test_an_empty_chart_says_no_data_without_axes(portal, sign_in_as):
    sign_in_as("leader", next_path="/indicators")
    wait_for(lambda: "暂无数据" in text(portal, "#ind-chart"), message="the no-data note")
    assert portal.driver.find_elements(By.CSS_SELECTOR, "#ind-chart .xtick") == []
    assert portal.driver.find_elements(By.CSS_SELECTOR, "#ind-chart .ytick") == []
    assert portal.get_logs() == []


def test_a_numeric_header_keeps_its_filter_button_by_its_own_label(portal, sign_in_as):
    sign_in_as("leader", next_path="/indicators")
    header = '#ind-district-grid .ag-header-cell[col-id="closed"]'
    wait_for(lambda: portal.driver.find_elements(By.CSS_SELECTOR, f"{header} .ag-header-cell-filter-button"), message="the header")
    cell_box, button, label = (js(portal, "return document.querySelector(arguments[0]).getBoundingClientRect().toJSON()", s)
                               for s in (header, f"{header} .ag-header-cell-filter-button", f"{header} .ag-header-cell-text"))
    assert label["right"] > cell_box["right"] - 24  # the label at the right, like the figures
    assert 0 <= label["left"] - button["right"] <= 8  # the button just before it
    assert button["left"] - cell_box["left"] > 16  # not at the previous column's edge
    assert portal.get_logs() == []


# ---- item 11: the admin page's columns by content ----------------------------------------------

def test_admin_columns_show_a_long_name_whole(portal, make_user, sign_in_as, user_store):
    long_name = "zhangjiagang-dispatcher-on-night-duty"
    make_user("dispatcher", name=long_name)
    sign_in_as("admin", next_path="/admin")
    selector = f'#admin-users-grid .ag-row[row-id="{long_name}"] .ag-cell[col-id="name"]'
    wait_for(lambda: cell(portal, "admin-users-grid", long_name, "name") == long_name, message="the user's row")
    wait_for(lambda: js(portal, "const c = document.querySelector(arguments[0]); return c.scrollWidth <= c.clientWidth;", selector),
             message="the name column as wide as the name")
    widths = js(portal, """return Object.fromEntries(Array.from(document.querySelectorAll('#admin-tokens-grid .ag-header-cell'))
                           .map(h => [h.getAttribute('col-id'), h.getBoundingClientRect().width]));""")
    assert widths["department"] < 200  # an empty column stays narrow
    assert portal.get_logs() == []


# ---- item 11: the account page's password form -------------------------------------------------

def test_the_password_form_submits_on_enter_and_refuses_a_mismatch(portal, make_user, user_store):
    name, password = make_user("dispatcher")
    browser_sign_in(portal, name, password, next_path="/account")
    portal.wait_for_element("#password-form", timeout=15)
    assert portal.find_element("#password-form").tag_name == "form"
    portal.find_element("#password-current").send_keys(password)
    portal.find_element("#password-new").send_keys("a-brand-new-secret")
    portal.find_element("#password-confirm").send_keys("a-different-secret" + Keys.ENTER)
    wait_for(lambda: text(portal, "#account-message") == "两次输入的新密码不一致", message="the mismatch refused")
    assert user_store.authenticate(name, password).user is not None  # unchanged

    portal.find_element("#password-confirm").send_keys("a-brand-new-secret" + Keys.ENTER)
    wait_for(lambda: text(portal, "#account-message") == "密码已修改", message="the change by Enter")
    assert user_store.authenticate(name, "a-brand-new-secret").user is not None
    assert urlparse(portal.driver.current_url).path == "/account"  # no page load
    assert [portal.find_element(f"#password-{f}").get_attribute("value") for f in ("current", "new", "confirm")] == ["", "", ""]
    assert portal.get_logs() == []


def test_a_refused_password_change_is_said_in_the_page_language(portal, make_user):
    name, password = make_user("dispatcher")
    browser_sign_in(portal, name, password, next_path="/account")
    portal.wait_for_element("#password-form", timeout=15)
    portal.find_element("#password-current").send_keys("not-the-password")
    portal.find_element("#password-new").send_keys("a-brand-new-secret")
    portal.find_element("#password-confirm").send_keys("a-brand-new-secret" + Keys.ENTER)
    wait_for(lambda: text(portal, "#account-message") == "当前密码不正确", message="the refusal in Chinese")
    assert portal.get_logs() == []


# ---- item 11: AQI as a whole number ------------------------------------------------------------

def test_the_district_ranking_shows_aqi_as_a_whole_number(dash_duo):
    """The ranking grid alone, in a bare Dash app with the portal's assets, fed one row."""
    from dash import Dash

    from ioc.settings import REPO_ROOT
    from layouts.district import districts_page

    page = districts_page("zh")
    grid = next(c for c in page.children if getattr(c, "id", None) == "ranking")
    grid.rowData = [{"id": "yangshe", "district": "杨舍镇", "devices": 3, "online_rate": 66.7, "alarms": 0, "critical": 0,
                     "cases": 0, "cases_overdue": 0, "aqi": 87.6}]
    app = Dash(__name__, assets_folder=str(REPO_ROOT / "assets"))
    app.layout = page
    dash_duo.start_server(app)
    wait_for(lambda: cell(dash_duo, "ranking", "yangshe", "aqi") == "88", message="the AQI rounded")
    assert dash_duo.get_logs() == []
