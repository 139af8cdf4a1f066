"""The case pages in a real headless Chromium: one case from report to close through the portal,
each step taken by the right role on the case page; the dispatch console's counts, grid and
phone-report form; a department handler who cannot see another department's case; the leaders'
indicators."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from ioc.domain.access import Principal
from tests.conftest import browser_sign_in, browser_sign_out, sign_in_with, wait_for
from tests.media_samples import phone_jpeg

CLASS = "10101"  # 井盖丢失, owned by water_affairs, urgent
LAT, LON = 31.872, 120.556  # in yangshe (杨舍镇)
DISPATCHER = Principal("setup-dispatcher", frozenset({"dispatcher"}))
INSPECTOR = Principal("setup-inspector", frozenset({"inspector"}))
HANDLER = Principal("setup-handler", frozenset({"handler"}), department="water_affairs")


@pytest.fixture
def portal(case_portal):
    return case_portal


def base(duo) -> str:
    return duo.server.url.rstrip("/")


def new_case(duo, description: str = "人民中路井盖丢失") -> str:
    case, created = duo.cases.report(class_code=CLASS, lat=LAT, lon=LON, source="phone", actor="setup-dispatcher",
                                     role="dispatcher", description=description)
    assert created
    return case.id


def text(duo, selector: str) -> str:
    """The rendered text of the first element matching `selector` ('' when there is none), read in
    one step in the page, so a grid re-rendering in between cannot leave a stale element."""
    return duo.driver.execute_script("const e = document.querySelector(arguments[0]); return e ? e.innerText.trim() : '';",
                                     selector)


def cell(duo, grid: str, row_id: str, column: str) -> str:
    return text(duo, f'#{grid} .ag-row[row-id="{row_id}"] .ag-cell[col-id="{column}"]')


def visible_buttons(duo) -> list[str]:
    return [b.get_attribute("id") for b in duo.driver.find_elements(By.CSS_SELECTOR, ".case-buttons button") if b.is_displayed()]


def take(duo, action: str, stage: str) -> None:
    """Click an action button on the case page and wait for the stage it leads to."""
    wait_for(lambda: f"case-act-{action}" in visible_buttons(duo), message=f"the {action} button")
    duo.find_element(f"#case-act-{action}").click()
    wait_for(lambda: text(duo, "#case-stage") == stage, message=f"the stage {stage} after {action}")


def open_case_as(duo, user: tuple[str, str], case_id: str, stage: str) -> None:
    browser_sign_in(duo, *user, next_path=f"/case/{case_id}")
    duo.wait_for_element("#case-page", timeout=15)
    wait_for(lambda: text(duo, "#case-stage") == stage, message=f"the case in stage {stage}")


def test_one_case_from_report_to_close_through_the_portal_as_the_right_roles(portal, make_user, tmp_path):
    dispatcher = make_user("dispatcher")
    inspector = make_user("inspector")
    handler = make_user("handler", department="water_affairs")
    case_id = new_case(portal)

    # the dispatcher accepts it: the facts, the countdown and only the dispatcher's actions are shown
    open_case_as(portal, dispatcher, case_id, "待受理")
    wait_for(lambda: "井盖丢失" in text(portal, "#case-facts") and "杨舍镇" in text(portal, "#case-facts"), message="the facts")
    assert "Manhole cover missing" not in text(portal, "#case-facts") and "市水务局" in text(portal, "#case-facts")
    wait_for(lambda: text(portal, "#case-countdown").startswith("剩余"), message="the countdown")
    assert set(visible_buttons(portal)) == {"case-act-accept", "case-act-reject", "case-act-merge"}
    portal.find_element("#case-act-reject").click()  # a rejection needs a note: refused with a message
    wait_for(lambda: "请填写办理意见" in text(portal, "#case-message"), message="the missing-note message")
    take(portal, "accept", "待核实")
    assert "已办理" in text(portal, "#case-message")
    assert portal.get_logs() == []
    browser_sign_out(portal)

    # the inspector verifies it on site
    open_case_as(portal, inspector, case_id, "待核实")
    take(portal, "verify", "待派遣")
    assert portal.get_logs() == []
    browser_sign_out(portal)

    # the dispatcher dispatches it to the suggested department (preselected)
    open_case_as(portal, dispatcher, case_id, "待派遣")
    wait_for(lambda: "市水务局" in text(portal, "#case-department"), message="the suggested department preselected")
    take(portal, "dispatch", "处置中")
    assert portal.cases.store.get(case_id).department == "water_affairs"
    assert portal.get_logs() == []
    browser_sign_out(portal)

    # the department's handler finds it on its task list, opens it, acknowledges and handles it
    browser_sign_in(portal, *handler)
    wait_for(lambda: urlparse(portal.driver.current_url).path == "/tasks", message="the handler's home page")
    wait_for(lambda: text(portal, f'#tasks-list [data-case="{case_id}"] .field-class') == "井盖丢失", message="the task in the list")
    wait_for(lambda: text(portal, "#tasks-count-open") == "1", message="the task count")
    assert text(portal, "#tasks-department") == "市水务局" and text(portal, "#tasks-count-unacked") == "1"
    portal.find_element(f'#tasks-list [data-case="{case_id}"] .field-open').click()
    wait_for(lambda: portal.find_element("#tasks-sheet-link").get_attribute("href").endswith(f"/case/{case_id}"),
             message="the task's sheet")
    portal.find_element("#tasks-sheet-link").click()
    wait_for(lambda: urlparse(portal.driver.current_url).path == f"/case/{case_id}", message="the case page")
    wait_for(lambda: text(portal, "#case-stage") == "处置中", message="the case page of the task")
    wait_for(lambda: "case-act-acknowledge" in visible_buttons(portal), message="the acknowledge button")
    portal.find_element("#case-act-acknowledge").click()
    wait_for(lambda: "签收" in text(portal, "#case-message"), message="the acknowledgement")
    wait_for(lambda: "case-act-acknowledge" not in visible_buttons(portal), message="acknowledged once")
    (tmp_path / "after.jpg").write_bytes(phone_jpeg())  # 处置完毕 needs an after photo (issue 16)
    portal.driver.find_element(By.CSS_SELECTOR, "#case-upload input[type=file]").send_keys(str(tmp_path / "after.jpg"))
    wait_for(lambda: text(portal, "#case-upload-message") == "已上传 1 张照片", message="the after photo")
    take(portal, "handle", "待核查")
    assert portal.get_logs() == []
    browser_sign_out(portal)

    # the inspector checks the work; the dispatcher closes the case
    open_case_as(portal, inspector, case_id, "待核查")
    take(portal, "check_pass", "待结案")
    assert portal.get_logs() == []
    browser_sign_out(portal)
    open_case_as(portal, dispatcher, case_id, "待结案")
    take(portal, "close", "已结案")
    wait_for(lambda: visible_buttons(portal) == [], message="no action left")
    assert portal.find_element("#case-no-actions").is_displayed()
    wait_for(lambda: len(portal.driver.find_elements(By.CSS_SELECTOR, "#case-timeline .ag-center-cols-container .ag-row")) == 9,
             message="the whole timeline")
    assert cell(portal, "case-timeline", "0", "action") == "上报" and cell(portal, "case-timeline", "8", "action") == "结案"
    assert cell(portal, "case-timeline", "3", "transition") == "待派遣 → 处置中"
    assert [e.action for e in portal.cases.store.timeline(case_id)] == [
        "report", "accept", "verify", "dispatch", "acknowledge", "attach", "handle", "check_pass", "close"]
    assert portal.get_logs() == []


def test_a_case_changed_by_someone_else_is_not_acted_on_twice(portal, make_user):
    case_id = new_case(portal)
    open_case_as(portal, make_user("dispatcher"), case_id, "待受理")
    wait_for(lambda: "case-act-accept" in visible_buttons(portal), message="the accept button")
    portal.cases.act(case_id, "accept", DISPATCHER)  # another dispatcher, a moment earlier
    portal.find_element("#case-act-accept").click()
    wait_for(lambda: "已被他人处理，请刷新" in text(portal, "#case-message"), message="the conflict message")
    assert [e.action for e in portal.cases.store.timeline(case_id)] == ["report", "accept"]
    portal.find_element("#case-refresh").click()
    wait_for(lambda: text(portal, "#case-stage") == "待核实", message="the refreshed stage")
    assert portal.get_logs() == []


def test_the_console_counts_and_lists_a_new_phone_report(portal, sign_in_as):
    existing = new_case(portal, "已有的上报")
    sign_in_as("dispatcher", next_path="/cases")
    portal.wait_for_element("#console-page", timeout=15)
    wait_for(lambda: text(portal, "#case-stage-reported-value") == "1", message="the count of reported cases")
    wait_for(lambda: cell(portal, "cases-grid", existing, "stage") == "待受理", message="the existing case in the grid")
    assert cell(portal, "cases-grid", existing, "deadline").startswith("剩余")
    assert portal.find_element("#case-new-form").is_displayed()

    # a phone call: category, position, description; the new case appears in the counts and the grid
    portal.select_dcc_dropdown("#case-new-class", value="10105 路灯损坏")
    portal.find_element("#case-new-lat").send_keys(str(LAT + 0.01))
    portal.find_element("#case-new-lon").send_keys(str(LON))
    portal.find_element("#case-new-reporter").send_keys("李女士 139****0000")
    portal.find_element("#case-new-description").send_keys("路灯不亮")
    portal.find_element("#case-new-submit").click()
    wait_for(lambda: "已登记案件" in text(portal, "#case-new-message"), message="the filed case")
    new_id = portal.find_element("#case-new-link").text
    case = portal.cases.store.get(new_id)
    assert (case.class_code, case.source, case.reporter, case.description, case.district) == (
        "10105", "phone", "李女士 139****0000", "路灯不亮", "yangshe")
    wait_for(lambda: text(portal, "#case-stage-reported-value") == "2", message="the count with the new case")
    wait_for(lambda: cell(portal, "cases-grid", new_id, "class") == "路灯损坏", message="the new case in the grid")
    assert cell(portal, "cases-grid", new_id, "source") == "电话登记"
    assert text(portal, "#case-stage-all-value") == "2"

    # a stage card filters the grid; clicking "all" shows every open case again
    portal.cases.act(existing, "accept", DISPATCHER)
    wait_for(lambda: text(portal, "#case-stage-accepted-value") == "1", message="the accepted count")
    portal.find_element("#case-stage-accepted").click()
    wait_for(lambda: cell(portal, "cases-grid", new_id, "class") == "", message="the grid filtered to accepted")
    assert cell(portal, "cases-grid", existing, "stage") == "待核实"
    portal.find_element("#case-stage-all").click()
    wait_for(lambda: cell(portal, "cases-grid", new_id, "class") == "路灯损坏", message="every open case again")

    # a filter that matches nothing empties the grid and the counts
    portal.select_dcc_dropdown("#case-filter-district", value="锦丰镇")
    wait_for(lambda: text(portal, "#case-stage-all-value") == "0", message="no case in jinfeng")
    portal.find_element("#case-filter-district").send_keys(Keys.ESCAPE)

    # the case number opens the case page
    portal.select_dcc_dropdown("#case-filter-district", value="杨舍镇")
    wait_for(lambda: cell(portal, "cases-grid", new_id, "class") == "路灯损坏", message="the case in yangshe")
    portal.find_element(f'#cases-grid .ag-row[row-id="{new_id}"] .ag-cell[col-id="link"] a').click()
    wait_for(lambda: text(portal, "#case-stage") == "待受理", message="the case page")
    assert new_id in text(portal, "#case-title")
    assert portal.get_logs() == []


def test_a_leader_watches_the_console_without_the_report_form(portal, sign_in_as):
    new_case(portal)
    sign_in_as("leader", next_path="/cases")
    wait_for(lambda: text(portal, "#case-stage-reported-value") == "1", message="the count")
    assert not portal.find_element("#case-new-form").is_displayed()
    assert portal.get_logs() == []


def test_a_handler_does_not_see_another_departments_case(portal, sign_in_as):
    case_id = new_case(portal)
    for action in ("accept", "verify"):
        portal.cases.act(case_id, action, DISPATCHER if action == "accept" else INSPECTOR)
    portal.cases.act(case_id, "dispatch", DISPATCHER, department="water_affairs")
    sign_in_as("handler", department="urban_management")
    wait_for(lambda: text(portal, "#tasks-department") == "市城市管理局", message="the handler's department")
    wait_for(lambda: text(portal, "#tasks-count-open") == "0", message="no task")
    assert text(portal, "#tasks-list") == "本部门暂无待处置的案件"
    portal.wait_for_page(url=f"{base(portal)}/case/{case_id}")
    portal.wait_for_element("#case-page", timeout=15)
    wait_for(lambda: portal.find_element("#case-missing").is_displayed(), message="not found")
    assert text(portal, "#case-missing") == "未找到该案件"
    assert not portal.find_element("#case-body").is_displayed()
    assert visible_buttons(portal) == []
    assert len(portal.driver.find_elements(By.CSS_SELECTOR, "#case-timeline .ag-center-cols-container .ag-row")) == 0
    assert portal.get_logs() == []


def test_an_inspector_sees_the_verify_and_check_queues(portal, sign_in_as):
    to_verify = new_case(portal, "待核实")
    portal.cases.act(to_verify, "accept", DISPATCHER)
    to_check = new_case(portal, "待核查")
    portal.cases.act(to_check, "accept", DISPATCHER)
    portal.cases.act(to_check, "verify", INSPECTOR)
    portal.cases.act(to_check, "dispatch", DISPATCHER)
    portal.cases.act(to_check, "handle", HANDLER)
    sign_in_as("inspector", next_path="/inspections")
    wait_for(lambda: text(portal, f'#insp-list [data-case="{to_verify}"] .field-class') == "井盖丢失", message="the verify queue")
    assert text(portal, f'#insp-list [data-case="{to_check}"]') == ""
    assert text(portal, "#insp-count-verify") == "（1）" and text(portal, "#insp-count-check") == "（1）"
    portal.find_element("#insp-tab-check").click()
    wait_for(lambda: "市水务局" in text(portal, f'#insp-list [data-case="{to_check}"] .field-chips'), message="the check queue")
    assert text(portal, f'#insp-list [data-case="{to_verify}"]') == ""
    assert portal.get_logs() == []


def test_the_indicators_page_renders_its_tables(portal, sign_in_as):
    case_id = new_case(portal)
    for action, who in (("accept", DISPATCHER), ("verify", INSPECTOR), ("dispatch", DISPATCHER), ("handle", HANDLER),
                        ("check_pass", INSPECTOR), ("close", DISPATCHER)):
        portal.cases.act(case_id, action, who)
    sign_in_as("leader", next_path="/indicators")
    portal.wait_for_element("#indicators-page", timeout=15)
    # computed in the background on the first ask ("being prepared"), then asked again every second
    wait_for(lambda: cell(portal, "ind-department-grid", "water_affairs", "name") == "市水务局", timeout=30,
             message="the department row")
    assert cell(portal, "ind-department-grid", "water_affairs", "closed") == "1"
    assert cell(portal, "ind-department-grid", "water_affairs", "on_time_rate") == "100.0%"
    assert cell(portal, "ind-department-grid", "water_affairs", "rework_rate") == "0.0%"
    wait_for(lambda: cell(portal, "ind-district-grid", "yangshe", "name") == "杨舍镇", message="the district row")
    assert cell(portal, "ind-district-grid", "_city", "name") == "全市"
    assert cell(portal, "ind-ranking-grid", "water_affairs", "rank") == "1"
    assert cell(portal, "ind-ranking-grid", "water_affairs", "score") == "100.0"
    wait_for(lambda: portal.driver.find_elements(By.CSS_SELECTOR, "#ind-chart .bars .point"), message="the bar chart")
    assert "按期结案率 = 按期结案数 ÷ (应结案数 − 延期数)" in text(portal, "#ind-formulas")
    assert "截至" in text(portal, "#ind-range")  # the period and the instant it is evaluated at
    portal.find_element("#ind-period input[value='last_month']").click()
    wait_for(lambda: cell(portal, "ind-department-grid", "water_affairs", "name") == "", timeout=30, message="last month: nothing")
    assert portal.get_logs() == []


def test_the_case_page_keeps_the_console_quiet(portal, make_user, verbose_browser):
    """The case map is centred on the case without dash-leaflet's debug lines ("ISSUE CENTER/ZOOM
    CHANGE"), and nothing else is logged at any level."""
    case_id = new_case(portal)
    driver = verbose_browser
    sign_in_with(driver, base(portal), *make_user("dispatcher"), next_path=f"/case/{case_id}")
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#case-map path.leaflet-interactive"), timeout=20, message="the case marker")
    wait_for(lambda: driver.execute_script(
        "const m = document.querySelector('#case-map'); return m && m.querySelector('.leaflet-control-zoom');"), message="the map")
    messages = [f"{e['level']}: {e['message']}" for e in driver.get_log("browser")]
    assert messages == []


def marker_offset(duo) -> list | None:
    """How far (px) the case's marker is from the middle of the case map, or None while the marker
    is not drawn where a person can see it (outside the map's box, or clipped away)."""
    return duo.driver.execute_script("""
        const map = document.querySelector('#case-map');
        const dot = map && Array.from(map.querySelectorAll('path.leaflet-interactive'))
            .find(p => ['#ff3b30', '#ffd60a'].includes(p.getAttribute('fill')));
        if (!dot) return null;
        const m = map.getBoundingClientRect(), d = dot.getBoundingClientRect();
        if (!d.width || d.left < m.left || d.right > m.right || d.top < m.top || d.bottom > m.bottom) return null;
        return [Math.round(d.left + d.width / 2 - (m.left + m.width / 2)), Math.round(d.top + d.height / 2 - (m.top + m.height / 2))];""")


def test_the_case_map_shows_the_case_in_its_middle(portal, make_user):
    case_id = new_case(portal)
    browser_sign_in(portal, *make_user("dispatcher"), next_path=f"/case/{case_id}")
    wait_for(lambda: marker_offset(portal) is not None, timeout=20, message="the case's marker inside the map")
    # Leaflet pans there (a quarter of a second): the marker ends in the middle and stays there
    wait_for(lambda: max(map(abs, marker_offset(portal) or [99])) <= 2, timeout=10, message="the marker in the map's middle")
    assert portal.get_logs() == []
