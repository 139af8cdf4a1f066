"""The desk pages on a 4K screen (3840×2160 at 100 %): each is its 1920×1080 layout twice as large
(assets/ioc.css zooms the page container), filling the screen's width, and a click on a map or a
grid still lands on what is under the pointer."""

from __future__ import annotations

import pytest
from dash.testing.wait import until

from tests.browser.screen import DESK, emulate, js, reset

UHD = (3840, 2160)
CLASS = "10101"  # 井盖丢失 (water_affairs)
LAT, LON = 31.872, 120.556  # in yangshe (杨舍镇)
# (path, what shows the page is filled, its container, its title)
PAGES = {
    "reports": ("/reports", "document.querySelector('#reports-page h2')", "#reports-page", "#reports-page h2"),
    "console": ("/cases", "document.querySelectorAll('#cases-grid .ag-row').length >= 1", "#console-page", "#console-page h2"),
    "district": ("/district/yangshe", "document.querySelector('#dmap path.leaflet-interactive')", "#page > .district-page",
                 ".district-head h2"),
}
MEASURE_JS = """
const box = e => { const r = document.querySelector(e).getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; };
return {page: box(arguments[0]), title: box(arguments[1]), main: box('#page')};
"""


@pytest.fixture
def portal(case_portal):
    yield case_portal
    reset(case_portal)


def open_page(duo, path: str, ready: str) -> None:
    duo.driver.get(duo.server.url.rstrip("/") + path)
    duo.wait_for_element("#page", timeout=20)
    until(lambda: js(duo, f"return !!({ready});"), timeout=30)
    js(duo, "return document.fonts.ready;")


def click_at(duo, x: float, y: float) -> None:
    """A real click at (x, y) of the viewport: the browser finds the element under the pointer."""
    for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
        duo.driver.execute_cdp_cmd("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})


def test_the_desk_pages_fill_a_4k_screen_at_twice_their_1080p_size(portal, sign_in_as):
    portal.cases.report(class_code=CLASS, lat=LAT, lon=LON, source="phone", actor="setup-dispatcher", role="dispatcher",
                        description="人民中路东侧", now_ms=1_780_000_000_000)
    sign_in_as("dispatcher", name="desk-4k", display_name="李调度", next_path="/cases")
    measured = {}
    for size in (DESK, UHD):
        emulate(portal, *size)
        for name, (path, ready, page, title) in PAGES.items():
            open_page(portal, path, ready)
            measured[size, name] = js(portal, MEASURE_JS, page, title)
    for name in PAGES:
        small, large = measured[DESK, name], measured[UHD, name]
        assert large["page"][2] >= 0.97 * large["main"][2], f"{name} fills the 4K screen's width"
        assert large["page"][2] == pytest.approx(2 * small["page"][2], rel=0.03), f"{name} is twice as wide as at 1080p"
        assert large["title"][3] >= 1.9 * small["title"][3], f"{name}'s title is twice as tall as at 1080p"
        assert large["title"][0] == pytest.approx(2 * small["title"][0], abs=3), f"{name}'s title sits where it did, twice as far"
    assert portal.get_logs() == []


def test_on_a_4k_screen_a_click_on_the_console_map_marks_the_point_under_the_pointer(portal, sign_in_as):
    sign_in_as("dispatcher", name="desk-4k-map", display_name="李调度", next_path="/cases")
    emulate(portal, *UHD)
    open_page(portal, "/cases", "document.querySelector('#case-new-map path.leaflet-interactive')")
    x, y, width, height = js(portal, "const m = document.querySelector('#case-new-map'); m.scrollIntoView({block: 'center'});"
                                     "const r = m.getBoundingClientRect(); return [r.x, r.y, r.width, r.height];")
    assert y >= 0 and y + height <= UHD[1], "the map is on screen"
    until(lambda: js(portal, "return getComputedStyle(document.querySelector('#case-new-form')).visibility === 'visible';"),
          timeout=15)
    target = (x + 0.62 * width, y + 0.45 * height)
    click_at(portal, *target)
    until(lambda: js(portal, "return document.querySelectorAll('#case-new-marker path, #case-new-map .leaflet-overlay-pane "
                             "path[fill=\"#ffd60a\"]').length > 0;"), timeout=30)
    cx, cy = js(portal, "const m = document.querySelector('#case-new-map .leaflet-overlay-pane path[fill=\"#ffd60a\"]');"
                        "const r = m.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2];")
    assert abs(cx - target[0]) <= 4 and abs(cy - target[1]) <= 4, f"marker at {(cx, cy)}, clicked at {target}"
    assert portal.get_logs() == []


def test_on_a_4k_screen_a_click_on_a_case_in_the_console_grid_opens_that_case(portal, sign_in_as):
    case, _ = portal.cases.report(class_code=CLASS, lat=LAT, lon=LON, source="phone", actor="setup-dispatcher",
                                  role="dispatcher", description="人民中路东侧", now_ms=1_780_000_000_000)
    sign_in_as("dispatcher", name="desk-4k-grid", display_name="李调度", next_path="/cases")
    emulate(portal, *UHD)
    open_page(portal, "/cases", "document.querySelectorAll('#cases-grid .ag-row a').length >= 1")
    x, y = js(portal, "const a = Array.from(document.querySelectorAll('#cases-grid .ag-row a'))"
                      ".find(a => a.textContent.trim() === arguments[0]); const r = a.getBoundingClientRect();"
                      "return [r.x + r.width / 2, r.y + r.height / 2];", case.id)
    click_at(portal, x, y)
    until(lambda: portal.driver.current_url.endswith(f"/case/{case.id}"), timeout=15)
    assert portal.get_logs() == []
