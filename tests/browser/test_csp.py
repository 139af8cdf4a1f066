"""The portal under its Content-Security-Policy in a real headless Chromium: the big screen (map,
KPI cards, trends, ticker) and the district ranking run without a single console error (a CSP
violation is logged as one), an injected inline script does not run, and the kiosk view can be
framed by an allowed origin while the sign-in page cannot."""

from __future__ import annotations

import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from dash.testing.wait import until
from selenium.webdriver.common.by import By

from ioc.adapters.embedded import free_port
from ioc.adapters.user_store import Actor
from ioc.web.app import create_app
from tests.conftest import browser_sign_in
from tests.integration.test_ingest_pipeline import JINFENG, YANGSHE, birth, send


@pytest.fixture
def feed(ingest, publisher):
    birth(publisher, "water_level", "wl-csp-1", YANGSHE, "杨舍 水位站 CSP")
    birth(publisher, "air_quality", "aq-csp-1", JINFENG)
    now = int(time.time() * 1000)
    send(publisher, "water_level", "wl-csp-1", ts=now - 2000, waterLevel=4.5)  # above the warning line twice: an alarm
    send(publisher, "water_level", "wl-csp-1", ts=now - 1000, waterLevel=4.6)
    send(publisher, "air_quality", "aq-csp-1", ts=now - 1000, airQualityIndex=70, pm25=40.0)
    return publisher


@pytest.fixture
def wall_origin():
    """A page on another origin of the same site as the portal (dash_duo serves it on localhost;
    another port is another origin, the same site) that frames the portal. It must be the same
    site: the session cookie is SameSite=Lax, so a cross-site frame would never be signed in."""
    port = free_port()
    return port, f"http://localhost:{port}"


def _base(duo) -> str:
    return duo.server.url.rstrip("/")


def _text(duo, selector) -> str:
    return duo.find_element(selector).text


def ticks(duo, n: int) -> None:
    """Wait until the page has run `n` more refresh ticks (each redraws the clock in the top bar)."""
    seen = [_text(duo, "#clock")]

    def ticked() -> bool:
        now = _text(duo, "#clock")
        if now != seen[-1]:
            seen.append(now)
        return len(seen) > n

    until(ticked, timeout=10 * n)


def test_the_big_screen_runs_under_the_policy_without_a_console_error(dash_duo, settings, make_user, feed):
    dash_duo.start_server(create_app(settings), navigate=False)
    policy = requests.get(_base(dash_duo) + "/login", timeout=10).headers["Content-Security-Policy"]
    assert "script-src 'self' 'sha256-" in policy and "'unsafe-eval'" not in policy
    browser_sign_in(dash_duo, *make_user("operator"))
    dash_duo.wait_for_element("#bigscreen", timeout=15)
    until(lambda: _text(dash_duo, "#value-kpi_alarms") == "1", timeout=30)  # KPI cards fed by callbacks
    until(lambda: len(dash_duo.driver.find_elements(By.CSS_SELECTOR, "#map path.leaflet-interactive")) >= 10, timeout=20)
    until(lambda: "水位超警戒" in _text(dash_duo, "#ticker"), timeout=20)
    until(lambda: dash_duo.driver.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .main-svg"), timeout=20)  # trends
    dash_duo.driver.find_element(By.CSS_SELECTOR, "#sound input").click()  # the chime, served under media-src 'self'
    ticks(dash_duo, 2)  # a few ticks under the policy
    assert dash_duo.get_logs() == []

    # the policy is enforced: an inline script injected into the page does not run, and the
    # violation is reported as a console error (which is what get_logs() above would have caught)
    dash_duo.driver.execute_script(
        "var s = document.createElement('script'); s.textContent = 'window.__injected = 1;'; document.body.appendChild(s);")
    assert dash_duo.driver.execute_script("return window.__injected === undefined")
    until(lambda: any("Content Security Policy" in e["message"] for e in dash_duo.get_logs() or []), timeout=5)


def test_the_district_ranking_grid_runs_under_the_policy(dash_duo, settings, make_user, feed):
    dash_duo.start_server(create_app(settings), navigate=False)
    browser_sign_in(dash_duo, *make_user("leader"), next_path="/districts")
    until(lambda: len(dash_duo.driver.find_elements(By.CSS_SELECTOR, "#ranking .ag-row")) >= 5, timeout=20)
    dash_duo.wait_for_page(url=_base(dash_duo) + "/district/yangshe")
    dash_duo.wait_for_text_to_equal("#district-name", "杨舍镇")
    ticks(dash_duo, 1)
    assert dash_duo.get_logs() == []


def test_an_allowed_origin_frames_the_kiosk_view_but_not_the_sign_in_page(dash_duo, settings, user_store, wall_origin, tmp_path):
    port, origin = wall_origin
    dash_duo.start_server(create_app(settings.replace(kiosk_frame_ancestors=origin)), navigate=False)
    _token, secret = user_store.create_token("framed wall", [], Actor("test", "admin"), kiosk=True)
    (tmp_path / "wall.html").write_text(
        f'<!doctype html><html><head><link rel="icon" href="data:,"></head><body style="margin:0">'
        f'<iframe id="kiosk" src="{_base(dash_duo)}/kiosk/{secret}" style="width:1900px;height:1000px;border:0"></iframe>'
        f'</body></html>')
    server = ThreadingHTTPServer(("127.0.0.1", port), partial(SimpleHTTPRequestHandler, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        driver = dash_duo.driver
        driver.get(f"{origin}/wall.html")
        driver.switch_to.frame(driver.find_element(By.ID, "kiosk"))
        until(lambda: driver.find_elements(By.ID, "bigscreen"), timeout=20)  # the wall session works inside the frame
        until(lambda: "大屏值守" in driver.find_element(By.ID, "user-badge").text, timeout=15)
        driver.switch_to.default_content()
        # then the sign-in page (not at the same time: a fresh sign-in page would replace the
        # browser's session cookie while the kiosk link is still opening its session)
        driver.execute_script(
            "var f = document.createElement('iframe'); f.id = 'login'; f.src = arguments[0]; document.body.appendChild(f);",
            f"{_base(dash_duo)}/login")
        logs = []
        until(lambda: logs.extend(dash_duo.get_logs() or []) or any("frame-ancestors" in e["message"] for e in logs),
              timeout=10)  # the refusal
        driver.switch_to.frame(driver.find_element(By.ID, "login"))
        assert driver.find_elements(By.ID, "login-submit") == []  # refused: frame-ancestors 'none'
        driver.switch_to.default_content()
        logs += dash_duo.get_logs() or []
        # exactly one error: the refused frame of the sign-in page (the kiosk frame raised none)
        assert len(logs) == 1 and "\"frame-ancestors 'none'\"" in logs[0]["message"], logs
    finally:
        server.shutdown()
