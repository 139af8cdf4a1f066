"""The wall and the desk pages at 1920×1080 look exactly as before the phone layout (issue 16):
the boxes and a few computed styles of each page's key elements are compared with the values
recorded from `main` before the change (tests/browser/desktop_layout.json, within 1 px).

The values were recorded by this very test with `IOC_RECORD_DESKTOP=1` on the tree before the
phone CSS, the menu button and the cockpit existed; recording again overwrites them (do that only
for a deliberate desktop change). They depend on Chromium's fonts: a machine with other CJK
fonts records its own."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from dash.testing.wait import until

from ioc.web.app import create_app

from tests.browser.screen import DESK, emulate, reset

GOLDEN = Path(__file__).with_name("desktop_layout.json")
# desk pages whose content other pieces of the same issue change (the case page's photo panel, new
# navigation entries, new sections): their elements keep their left edge, width and styles; their
# heights and tops may follow new content. The wall and the district pages keep every box.
FLOWING = frozenset({"console", "case", "indicators", "events", "status", "admin", "audit"})
NAV_GROWS = frozenset({"#nav"})  # new pages add navigation entries: the centred nav grows (x, width); its row and height stay
RECORD = bool(os.environ.get("IOC_RECORD_DESKTOP"))
TOLERANCE_PX = 1.0
CLASS = "10101"  # 井盖丢失 (water_affairs)
LAT, LON = 31.872, 120.556  # in yangshe (杨舍镇)

FRAME = ("header.topbar", "#app-title", "#nav", ".topbar-right", "#clock", "#lang-switch", "#user-badge", "#page")
# (name, role, path, language, ready JS, key elements): the dispatcher's nav is the same before and after
PAGES = (
    ("wall", "operator", "/", "zh", "document.querySelector('#map path.leaflet-interactive')",
     (".bigscreen", ".column.left", ".column.center", ".column.right", "#map", ".kpi-card", ".trends", ".board-box",
      ".map-head", ".ticker-box")),
    ("wall-en", "operator", "/", "en", "document.querySelector('#map path.leaflet-interactive')",
     (".bigscreen", ".column.left", ".column.center", ".column.right", "#map", ".kpi-card", ".board-box")),
    ("district", "dispatcher", "/district/yangshe", "zh", "document.querySelector('#dmap path.leaflet-interactive')",
     (".district-head", ".bigscreen", ".column.left", ".column.center", ".column.right", ".kpi-card")),
    ("districts", "dispatcher", "/districts", "zh", "document.querySelectorAll('#ranking .ag-row').length >= 5",
     ("#ranking", "#ranking .ag-header", "#ranking .ag-row")),
    ("console", "dispatcher", "/cases", "zh", "document.querySelectorAll('#cases-grid .ag-row').length >= 1",
     ("#console-page", ".case-cards", ".case-card", "#console-page .form-row", "#cases-grid", "#cases-grid .ag-row",
      "#cases-grid .ag-header-cell")),
    ("case", "dispatcher", "/case/{case}", "zh", "document.querySelectorAll('#case-timeline .ag-row').length >= 1",
     (".case-head", "#case-body", ".case-col", ".case-facts", ".case-actions", "#case-map", "#case-timeline",
      "#case-act-accept", "#case-refresh")),
    ("indicators", "dispatcher", "/indicators", "zh", "document.querySelectorAll('#indicators-page .ag-row').length >= 3",
     ("#indicators-page", "#ind-district-grid", "#ind-department-grid", ".case-ranking-row")),
    ("events", "dispatcher", "/events", "zh", "document.querySelector('#events-page')",
     ("#events-page", "#events-grid")),
    ("status", "dispatcher", "/status", "zh", "document.querySelector('#kind-table')", ("#page .page", "#kind-table")),
    ("admin", "admin", "/admin", "zh", "document.querySelectorAll('#admin-page .ag-row').length >= 1",
     ("#admin-page", "#admin-page .form-row", "#admin-page .ag-root-wrapper")),
    ("audit", "admin", "/audit", "zh", "document.querySelectorAll('#audit-grid .ag-row').length >= 1",
     ("#audit-page", "#audit-grid")),
)
STYLES = ("display", "position", "fontSize", "paddingTop", "paddingLeft", "marginTop", "flexDirection", "gridTemplateColumns",
          "whiteSpace", "overflowY")
MEASURE_JS = """
const styles = arguments[1];
const out = {};
for (const sel of arguments[0]) {
  const found = Array.from(document.querySelectorAll(sel)).slice(0, 6);
  out[sel] = found.map(e => {
    const r = e.getBoundingClientRect(), cs = getComputedStyle(e);
    const s = {};
    for (const k of styles) s[k] = cs[k];
    return {box: [r.x, r.y, r.width, r.height].map(v => Math.round(v * 10) / 10), style: s};
  });
}
return out;
"""


@pytest.fixture
def portal(dash_duo, settings):
    app = create_app(settings)
    dash_duo.start_server(app, navigate=False)
    dash_duo.cases = app.server.extensions["ioc_cases"]
    emulate(dash_duo, *DESK)
    yield dash_duo
    reset(dash_duo)


def measure(duo, selectors) -> dict:
    return duo.driver.execute_script(MEASURE_JS, list(selectors), list(STYLES))


def differences(recorded: dict, now: dict, flowing: bool = False) -> list[str]:
    """What changed: the boxes [x, y, width, height] (of a flowing page: x and width) and the styles."""
    out = []
    for sel, elements in recorded.items():
        got = now.get(sel, [])
        if len(got) != len(elements):
            out.append(f"{sel}: {len(elements)} elements before, {len(got)} now")
            continue
        compared = [1, 3] if sel in NAV_GROWS else ([0, 2] if flowing and sel not in FRAME else [0, 1, 2, 3])
        for i, (a, b) in enumerate(zip(elements, got)):
            if any(abs(a["box"][k] - b["box"][k]) > TOLERANCE_PX for k in compared):
                out.append(f"{sel}[{i}] box {a['box']} -> {b['box']}")
            for k, v in a["style"].items():
                if b["style"].get(k) != v:
                    out.append(f"{sel}[{i}] {k} {v!r} -> {b['style'].get(k)!r}")
    return out


def show(duo, path: str, lang: str, ready: str) -> None:
    base = duo.server.url.rstrip("/")
    duo.driver.get(base + path)
    duo.wait_for_element("#page", timeout=15)
    if lang == "en":
        duo.driver.execute_script("localStorage.setItem('lang', JSON.stringify('en'));")
        duo.driver.get(base + path)
        duo.wait_for_element("#page", timeout=15)
    until(lambda: duo.driver.execute_script(f"return !!({ready});"), timeout=20)
    until(lambda: duo.driver.execute_script("const c = document.querySelector('#clock'); return c && c.textContent !== '—';"),
          timeout=10)
    duo.driver.execute_script("return document.fonts.ready;")
    import time
    time.sleep(1.0)  # a tick's redraw and the grids' column sizing settle


@pytest.mark.parametrize("name", [p[0] for p in PAGES])
def test_the_desk_and_wall_pages_keep_their_layout_at_1920x1080(portal, sign_in_as, name):
    _, role, path, lang, ready, selectors = next(p for p in PAGES if p[0] == name)
    case, _ = portal.cases.report(class_code=CLASS, lat=LAT, lon=LON, source="phone", actor="setup-dispatcher", role="dispatcher",
                                  description="人民中路东侧", now_ms=1_780_000_000_000)
    path = path.format(case=case.id)
    display = {"operator": "张值班", "dispatcher": "李调度", "admin": "赵管理"}[role]
    sign_in_as(role, name=f"desk-{role}", display_name=display, next_path=path)
    show(portal, path, lang, ready)
    assert portal.driver.execute_script("return [innerWidth, innerHeight]") == [1920, 1080]
    now = measure(portal, FRAME + selectors)
    recorded = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
    if RECORD:
        recorded[name] = now
        GOLDEN.write_text(json.dumps(recorded, ensure_ascii=False, indent=1, sort_keys=True) + "\n")
    else:
        assert name in recorded, f"no recorded layout for {name}: record it on main with IOC_RECORD_DESKTOP=1"
        changed = differences(recorded[name], now, flowing=name in FLOWING)
        assert changed == [], "\n".join(changed)
    assert portal.get_logs() == []
