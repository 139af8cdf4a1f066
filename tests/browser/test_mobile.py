"""Every role's pages on a phone (390×844) and a tablet (768×1024), in a real headless Chromium
emulating the device (issue 16): the top bar's menu, nothing to scroll sideways, touch targets of
at least 44 px, grids as cards, the case page's actions in a bar at the bottom of the screen, and
the leader cockpit's 督办 in one tap.

With IOC_SCREENSHOTS=1 the tests leave /tmp/mobile-<name>.png to look at."""

from __future__ import annotations

import os
import time

import pytest
from dash.testing.wait import until

from ioc.domain.access import Principal
from ioc.web.app import create_app
from tests.browser.screen import PHONE, TABLET, emulate, js, reset, text
from tests.browser.test_wall import Wall
from tests.conftest import wait_for

CLASS = "10101"  # 井盖丢失, water_affairs
LAT, LON = 31.872, 120.556  # in yangshe (杨舍镇)
H = 3_600_000
DISPATCHER = Principal("setup-dispatcher", frozenset({"dispatcher"}), "李调度")
INSPECTOR = Principal("setup-inspector", frozenset({"inspector"}), "赵监督")
HANDLER = Principal("setup-handler", frozenset({"handler"}), "王水务", department="water_affairs")
USERS = {  # role -> (login, display name, department)
    "operator": ("m-operator", "王值班", ""), "leader": ("m-leader", "陈刚", ""), "dispatcher": ("m-dispatcher", "李调度", ""),
    "inspector": ("m-inspector", "赵监督", ""), "handler": ("m-handler", "王水务", "water_affairs"),
    "admin": ("m-admin", "系统管理员", ""),
}
SIZES = {"phone": PHONE, "tablet": TABLET}

# the measurements, in the page, in one step
LAYOUT_JS = """
const visible = e => { const r = e.getBoundingClientRect(), s = getComputedStyle(e);
  return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.opacity !== '0' && s.pointerEvents !== 'none'; };
const target = e => (e.matches('input[type=checkbox], input[type=radio]') && e.closest('label')) || e;
// a map's markers are the data's positions, not controls (the map's own controls are checked)
const exempt = e => e.closest('.leaflet-control-attribution, .leaflet-marker-pane, .leaflet-overlay-pane, .ag-header, .ag-paging-page-size');
const small = [];
for (const e of document.querySelectorAll('#app-title ~ *, header button, header a, #page button, #page a, #page input, #page select, #page textarea, #page [role=button], #page .Select-control, #page .dash-dropdown')) {
  if (!visible(e) || exempt(e)) continue;
  const r = target(e).getBoundingClientRect();
  if (r.height < 43.5 || r.width < 43.5) small.push(`${e.tagName}#${e.id}.${e.className} ${Math.round(r.width)}x${Math.round(r.height)} ${(e.innerText || e.value || '').slice(0, 24)}`);
}
const wide = Array.from(document.querySelectorAll('body *')).filter(e => {
  const r = e.getBoundingClientRect();
  return r.width > 0 && r.right > innerWidth + 1 && !e.closest('.leaflet-container, .ag-center-cols-viewport, .ag-header-viewport, .ag-body-horizontal-scroll, .ag-pinned-left-cols-container');
}).slice(0, 5).map(e => `${e.tagName}#${e.id}.${e.className}`);
return {inner: innerWidth, scroll: document.documentElement.scrollWidth, small: small.slice(0, 10), wide: wide};
"""


@pytest.fixture
def portal(dash_duo, settings):
    app = create_app(settings)
    dash_duo.start_server(app, navigate=False)
    dash_duo.cases = app.server.extensions["ioc_cases"]
    dash_duo.events = app.server.extensions["ioc_services"].events
    yield dash_duo
    reset(dash_duo)


def shown(duo, selector: str) -> bool:
    return js(duo, "const e = document.querySelector(arguments[0]); return !!e && e.getClientRects().length > 0;", selector)


def click(duo, selector: str) -> None:
    until(lambda: js(duo, "const e = document.querySelector(arguments[0]); if (!e || !e.getClientRects().length) return false;"
                          " e.click(); return true;", selector), timeout=15)


def screenshot(duo, name: str) -> None:
    if os.environ.get("IOC_SCREENSHOTS"):
        duo.driver.save_screenshot(f"/tmp/mobile-{name}.png")


def sign_in(duo, sign_in_as, role: str, path: str, size=PHONE) -> None:
    emulate(duo, *size)
    login, display, department = USERS[role]
    sign_in_as(role, name=login, display_name=display, department=department, next_path=path)
    open_page(duo, path)


def open_page(duo, path: str) -> None:
    base = duo.server.url.rstrip("/")
    if not duo.driver.current_url.startswith(base) or duo.driver.current_url.removeprefix(base) != path:
        duo.driver.get(base + path)
    duo.wait_for_element("#page > *", timeout=15)
    until(lambda: text(duo, "#clock") not in ("", "—"), timeout=10)


def settle(duo, ready: str | None = None) -> None:
    if ready:
        until(lambda: js(duo, f"return !!({ready});"), timeout=20)
    time.sleep(0.6)  # the grids' switch to cards, a chart's redraw at its width


def layout_problems(duo, width: int) -> list[str]:
    found = js(duo, LAYOUT_JS)
    problems = []
    if found["inner"] != width or found["scroll"] > found["inner"]:
        problems.append(f"sideways: page {found['scroll']} px in a {found['inner']} px window, widest {found['wide']}")
    problems += [f"small target: {s}" for s in found["small"]]
    return problems


def new_case(duo, *, now_ms: int | None = None, description: str = "人民中路东侧井盖缺失") -> str:
    case, _ = duo.cases.report(class_code=CLASS, lat=LAT, lon=LON, source="phone", actor="setup-dispatcher", role="dispatcher",
                               description=description, address="人民中路 18 号", now_ms=now_ms)
    return case.id


def case_at(duo, stage: str, now_ms: int | None = None) -> str:
    """A case brought to `stage` (accepted, dispatched) by the setup users."""
    case_id = new_case(duo, now_ms=now_ms)
    steps = {"accepted": [("accept", DISPATCHER)],
             "dispatched": [("accept", DISPATCHER), ("verify", INSPECTOR), ("dispatch", DISPATCHER)]}[stage]
    for action, who in steps:
        duo.cases.act(case_id, action, who, department="water_affairs" if action == "dispatch" else "", now_ms=now_ms)
    return case_id


# ---- every role's main pages fit a phone and a tablet ---------------------------------------------

# role -> [(path, what shows the page is drawn)]; `{case}`: a case of the role's stage
PAGES = {
    "operator": [("/", "document.querySelector('#map path.leaflet-interactive')"), ("/districts", "document.querySelector('#ranking .ag-row')"),
                 ("/events", "document.querySelector('#events-page')"), ("/status", "document.querySelector('#kind-table')"),
                 ("/account", "document.querySelector('#account-page')")],
    "leader": [("/cockpit", "document.querySelector('#cockpit-city .kpi-card')"),
               ("/district/yangshe", "document.querySelector('#dmap path.leaflet-interactive')"),
               ("/cases", "document.querySelector('#cases-grid .ioc-card')"),
               ("/indicators", "document.querySelector('#ind-district-grid .ioc-card')"),
               ("/audit", "document.querySelector('#audit-grid .ioc-card')")],
    "dispatcher": [("/cases", "document.querySelector('#cases-grid .ioc-card')"),
                   ("/case/{case}", "document.querySelector('#case-facts dd')"),
                   ("/events", "document.querySelector('#events-page')")],
    "inspector": [("/inspections", "document.querySelector('#insp-list .field-card .leaflet-container')"),
                  ("/case/{case}", "document.querySelector('#case-facts dd')")],
    "handler": [("/tasks", "document.querySelector('#tasks-list .field-card .leaflet-container')"),
                ("/case/{case}", "document.querySelector('#case-facts dd')")],
    "admin": [("/admin", "document.querySelector('#admin-page .ioc-card')"), ("/audit", "document.querySelector('#audit-grid .ioc-card')"),
              ("/status", "document.querySelector('#kind-table')")],
}
ROLE_STAGE = {"operator": "accepted", "leader": "dispatched", "dispatcher": "accepted", "inspector": "accepted",
              "handler": "dispatched", "admin": "accepted"}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("role", PAGES)
def test_each_roles_pages_need_no_sideways_scrolling_and_have_touch_sized_targets(portal, sign_in_as, redis_client, settings,
                                                                                   city, role, size):
    Wall(redis_client, settings, city).raise_alarms(6)
    case_id = case_at(portal, ROLE_STAGE[role])
    width, _ = SIZES[size]
    first, _ = PAGES[role][0]
    sign_in(portal, sign_in_as, role, first.format(case=case_id), SIZES[size])
    problems = {}
    for path, ready in PAGES[role]:
        path = path.format(case=case_id)
        open_page(portal, path)
        settle(portal, ready)
        screenshot(portal, f"{role}-{size}{path.replace('/', '-')}")
        found = layout_problems(portal, width)
        if found:
            problems[path] = found
    assert problems == {}
    assert portal.get_logs() == []


# ---- the menu ------------------------------------------------------------------------------------

@pytest.mark.parametrize("size", SIZES)
def test_the_menu_button_opens_the_navigation_as_a_list_and_a_pick_closes_it(portal, sign_in_as, size):
    sign_in(portal, sign_in_as, "leader", "/cockpit", SIZES[size])
    settle(portal, "document.querySelector('#nav a')")
    assert shown(portal, "#menu-toggle") and not shown(portal, "#nav") and not shown(portal, "#lang-switch")
    # title, clock and user on one line
    tops = js(portal, "return ['#menu-toggle', '#app-title', '#clock', '#user-badge'].map(s => {"
                      " const r = document.querySelector(s).getBoundingClientRect(); return [r.top, r.bottom]; });")
    assert max(t for t, _ in tops) < min(b for _, b in tops), tops
    click(portal, "#menu-toggle")
    wait_for(lambda: shown(portal, "#nav"), message="the navigation")
    assert portal.find_element("#menu-toggle").get_attribute("aria-expanded") == "true"
    links = js(portal, "return Array.from(document.querySelectorAll('#nav a')).map(a => { const r = a.getBoundingClientRect();"
                       " return [a.id, r.left, r.top, r.height]; });")
    assert [link[0] for link in links][:3] == ["nav-bigscreen", "nav-cockpit", "nav-districts"]
    assert len({round(link[1]) for link in links}) == 1  # one column
    assert all(b[2] > a[2] for a, b in zip(links, links[1:])) and all(link[3] >= 44 for link in links)
    assert shown(portal, "#lang-switch") and shown(portal, "#sign-out")
    screenshot(portal, f"menu-{size}")
    click(portal, "#nav-districts")
    wait_for(lambda: portal.driver.current_url.endswith("/districts"), message="the districts page")
    wait_for(lambda: not shown(portal, "#nav"), message="the menu to close")
    assert portal.find_element("#menu-toggle").get_attribute("aria-expanded") == "false"
    assert portal.get_logs() == []


def test_the_language_switch_in_the_menu_changes_the_page_to_english(portal, sign_in_as):
    sign_in(portal, sign_in_as, "leader", "/cockpit")
    settle(portal, "document.querySelector('#cockpit-city .kpi-card')")
    click(portal, "#menu-toggle")
    click(portal, "#lang-switch")
    wait_for(lambda: text(portal, "#cockpit-page h2") == "Leader cockpit", message="the cockpit in English")
    assert text(portal, "#app-title") == "ZJG City Ops"
    assert portal.get_logs() == []


# ---- grids as cards -----------------------------------------------------------------------------

def test_a_grid_is_a_list_of_cards_on_a_phone_and_its_table_again_on_a_desk(portal, sign_in_as):
    case_id = new_case(portal)
    sign_in(portal, sign_in_as, "dispatcher", "/cases")
    settle(portal, "document.querySelector('#cases-grid .ioc-card')")
    card = text(portal, f'#cases-grid .ag-row[row-id="{case_id}"] .ioc-card')
    assert card.startswith(case_id) and "井盖丢失" in card and "杨舍镇" in card and "待受理" in card
    assert not shown(portal, "#cases-grid .ag-header-cell")
    emulate(portal, 1920, 1080)
    wait_for(lambda: shown(portal, '#cases-grid .ag-header-cell[col-id="class"]'), message="the table's columns")
    assert text(portal, f'#cases-grid .ag-row[row-id="{case_id}"] .ag-cell[col-id="class"]') == "井盖丢失"
    assert not shown(portal, "#cases-grid .ioc-card")
    assert portal.get_logs() == []


def test_a_cards_link_opens_the_case_inside_the_portal(portal, sign_in_as):
    case_id = new_case(portal)
    sign_in(portal, sign_in_as, "dispatcher", "/cases")
    settle(portal, "document.querySelector('#cases-grid .ioc-card')")
    js(portal, "window.__same_page = true;")
    click(portal, f'#cases-grid .ag-row[row-id="{case_id}"] a.ioc-card-link')
    wait_for(lambda: text(portal, "#case-facts"), message="the case page")
    assert portal.driver.current_url.endswith(f"/case/{case_id}") and js(portal, "return window.__same_page === true;")
    assert portal.get_logs() == []


# ---- the case page ------------------------------------------------------------------------------

@pytest.mark.parametrize("role, stage, buttons", [
    ("handler", "dispatched", {"case-act-acknowledge", "case-act-return", "case-act-handle", "case-act-request_deferral"}),
    ("inspector", "accepted", {"case-act-verify", "case-act-void"}),
])
@pytest.mark.parametrize("size", SIZES)
def test_the_case_page_is_one_column_with_its_actions_in_a_bar_at_the_bottom(portal, sign_in_as, role, stage, buttons, size):
    case_id = case_at(portal, stage)
    width, height = SIZES[size]
    sign_in(portal, sign_in_as, role, f"/case/{case_id}", SIZES[size])
    settle(portal, "document.querySelector('#case-facts dd')")
    wait_for(lambda: {b.get_attribute("id") for b in portal.driver.find_elements("css selector", ".case-bar button")
                      if b.is_displayed()} == buttons, message="the actions")
    columns = js(portal, "return Array.from(document.querySelectorAll('#case-body > .case-col')).map(c => {"
                         " const r = c.getBoundingClientRect(); return [r.left, r.width]; });")
    assert len({round(c[0]) for c in columns}) == 1 and all(c[1] > width - 40 for c in columns)  # one column
    bar = js(portal, "const r = document.querySelector('.case-bar').getBoundingClientRect(); return [r.left, r.right, r.bottom, r.height];")
    assert bar[0] == 0 and bar[1] == width and abs(bar[2] - height) <= 1 and bar[3] < height / 3
    screenshot(portal, f"case-{role}-{size}-top")
    # the bar stays at the bottom while the page scrolls, and every action in it is in view and large enough
    js(portal, "window.scrollTo(0, document.documentElement.scrollHeight);")
    time.sleep(0.3)
    assert js(portal, "return document.querySelector('.case-bar').getBoundingClientRect().bottom;") == pytest.approx(height, abs=1)
    boxes = js(portal, "return Array.from(document.querySelectorAll('.case-bar button')).filter(b => b.offsetParent)"
                       ".map(b => { const r = b.getBoundingClientRect(); return [r.top, r.bottom, r.height]; });")
    assert len(boxes) == len(buttons) and all(h >= 44 and top >= 0 and bottom <= height for top, bottom, h in boxes), boxes
    screenshot(portal, f"case-{role}-{size}")
    assert layout_problems(portal, width) == []
    assert portal.get_logs() == []


def test_a_handler_acknowledges_from_the_bar_and_reads_the_result_in_it(portal, sign_in_as):
    case_id = case_at(portal, "dispatched")
    sign_in(portal, sign_in_as, "handler", f"/case/{case_id}")
    settle(portal, "document.querySelector('#case-act-acknowledge') && document.querySelector('#case-act-acknowledge').offsetParent")
    click(portal, "#case-act-acknowledge")
    wait_for(lambda: "签收" in text(portal, ".case-bar .message"), message="the result in the bar")
    assert portal.cases.case_for(case_id, HANDLER).acknowledged_at > 0
    assert portal.get_logs() == []


# ---- the leader cockpit ----------------------------------------------------------------------------

def seed_city(portal, redis_client, settings, city) -> tuple[str, str]:
    """Six active alarms, a flood event started from the first, an overdue dispatched case; (alarm, case)."""
    alarm_ids = Wall(redis_client, settings, city).raise_alarms(6)
    portal.events.start(DISPATCHER, plan="flood", level="IV", title="杨舍城区内涝", alarm_id=alarm_ids[0])
    overdue = case_at(portal, "dispatched", now_ms=int(time.time() * 1000) - 72 * H)  # three days ago: long overdue
    return alarm_ids[0], overdue


def test_the_leader_urges_an_overdue_case_in_one_tap_and_reads_the_result(portal, sign_in_as, redis_client, settings, city):
    _, case_id = seed_city(portal, redis_client, settings, city)
    sign_in(portal, sign_in_as, "leader", "/cockpit")
    button = f'#cockpit-case-{case_id} button.cockpit-urge'
    settle(portal, f"document.querySelector('{button}')")
    card = text(portal, f"#cockpit-case-{case_id}")
    assert "井盖丢失" in card and "杨舍镇" in card and "超期" in card and "已督办 0 次" in card and "水务" in card
    assert portal.find_element(button).rect["height"] >= 44
    click(portal, button)
    wait_for(lambda: text(portal, "#cockpit-message").startswith(f"已督办 {case_id}"), message="the confirmation")
    assert "第 1 次督办" in text(portal, "#cockpit-message")
    message = portal.find_element("#cockpit-message").rect
    assert 0 <= message["y"] and message["y"] + message["height"] <= PHONE[1]  # in view where the thumb is
    assert portal.cases.case_for(case_id, Principal("x", frozenset({"leader"}))).urge_count == 1
    wait_for(lambda: "已督办 1 次" in text(portal, f"#cockpit-case-{case_id}"), message="the card's count")
    screenshot(portal, "cockpit-urged")
    assert portal.get_logs() == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_cockpit_shows_the_city_the_districts_the_alarms_with_their_event_and_the_overdue_cases(
        portal, sign_in_as, redis_client, settings, city, lang):
    alarm_id, case_id = seed_city(portal, redis_client, settings, city)
    sign_in(portal, sign_in_as, "leader", "/cockpit")
    if lang == "en":
        js(portal, "localStorage.setItem('lang', JSON.stringify('en'));")
        portal.driver.refresh()
    settle(portal, "document.querySelectorAll('#cockpit-alarms .cockpit-alarm').length >= 6 && "
                   "document.querySelector('#cockpit-events .cockpit-event')")
    figures = text(portal, "#cockpit-city")
    assert ("当前告警" if lang == "zh" else "Active alarms") in figures
    assert text(portal, "#cockpit-kpi_alarms").split("\n")[1] == "6"
    districts = [e.get_attribute("id") for e in portal.driver.find_elements("css selector", "#cockpit-districts .cockpit-district")]
    assert len(districts) == len(city.districts)
    event = text(portal, "#cockpit-events .cockpit-event")
    assert ("防汛 · Ⅳ级" if lang == "zh" else "Flood control · Level IV") in event and "杨舍城区内涝" in event and "李调度" in event
    assert ("已纳入联动事件" if lang == "zh" else "Part of linked event") in text(portal, "#cockpit-alarms")
    assert case_id in text(portal, "#cockpit-cases")
    assert ("超期案件 1 件" if lang == "zh" else "Overdue cases: 1") in text(portal, "#cockpit-summary")
    screenshot(portal, f"cockpit-{lang}")
    assert layout_problems(portal, PHONE[0]) == []
    emulate(portal, *TABLET)
    time.sleep(0.5)
    screenshot(portal, f"cockpit-tablet-{lang}")
    assert layout_problems(portal, TABLET[0]) == []
    assert portal.get_logs() == []
