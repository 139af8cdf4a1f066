"""The time control (回溯) in a real headless Chromium: a record filled with SQL, a moment picked,
the banner and that moment's figures (the 24-hour trends too), then back to live."""

from __future__ import annotations

import pytest
from dash.testing.wait import until
from selenium.webdriver.common.keys import Keys

from ioc.adapters.geodata_files import load_city_map
from ioc.record import db
from ioc.web.app import create_app
from tests.browser.screen import js
from tests.browser.test_bigscreen import _text
from tests.integration.rewind_fixture import fill


@pytest.fixture
def recorded(record_settings):
    city = load_city_map(record_settings.geodata_dir)
    fill(record_settings.database_url, city.districts[0].id, city.districts[1].id)
    yield record_settings
    db.close_pools()


@pytest.fixture
def screen(dash_duo, recorded, sign_in_as):
    dash_duo.start_server(create_app(recorded), navigate=False)
    sign_in_as("operator", name="zhangsan", display_name="张三")
    return dash_duo


def pick(duo, clock: str, prefix: str = "") -> None:
    """Open the control (it offers the record's last day) and show `clock` (China time) of that day
    (`prefix`: the control of a district page, "d-")."""
    if not duo.find_element(f"#{prefix}rewind-panel").is_displayed():
        duo.find_element(f"#{prefix}rewind-open").click()
    until(lambda: "2026-12-01" in _text(duo, f"#{prefix}rewind-range"), timeout=10)
    field = duo.find_element(f"#{prefix}rewind-time")
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(clock, Keys.ENTER)
    duo.find_element(f"#{prefix}rewind-go").click()


def test_a_picked_moment_shows_the_replay_banner_and_its_figures(screen):
    until(lambda: screen.find_element("#rewind").is_displayed(), timeout=15)
    pick(screen, "16:16")  # 08:16 UTC: one alarm active, acknowledged; one case open
    until(lambda: _text(screen, "#rewind-banner-text") == "回放 · 2026-12-01 16:16:00 · 已暂停", timeout=15)
    until(lambda: _text(screen, "#value-kpi_alarms") == "1", timeout=15)
    until(lambda: "op1" in _text(screen, "#alarm-board"), timeout=15)
    assert _text(screen, "#value-kpi_cases") == "1"
    assert screen.get_logs() == []


def test_back_to_live_hides_the_banner_and_shows_the_live_city(screen):
    until(lambda: screen.find_element("#rewind").is_displayed(), timeout=15)
    pick(screen, "16:21")  # two alarms active
    until(lambda: _text(screen, "#value-kpi_alarms") == "2", timeout=15)
    screen.find_element("#rewind-live").click()
    until(lambda: not screen.find_element("#rewind-banner").is_displayed(), timeout=15)
    until(lambda: _text(screen, "#value-kpi_alarms") == "0", timeout=15)  # the live city has none
    assert screen.get_logs() == []


def test_a_language_switch_keeps_the_replayed_moment(screen):
    until(lambda: screen.find_element("#rewind").is_displayed(), timeout=15)
    pick(screen, "16:21")
    until(lambda: _text(screen, "#value-kpi_alarms") == "2", timeout=15)
    screen.find_element("#lang-switch").click()
    until(lambda: _text(screen, "#rewind-banner-text").startswith("Replay") and "2026-12-01 16:21:00" in _text(screen, "#rewind-banner-text"),
          timeout=15)
    until(lambda: _text(screen, "#value-kpi_alarms") == "2", timeout=15)  # that moment's figures, not the live city's
    screen.find_element("#rewind-live").click()
    until(lambda: not screen.find_element("#rewind-banner").is_displayed(), timeout=15)
    assert screen.get_logs() == []


def test_playback_goes_on_after_a_language_switch(screen):
    until(lambda: screen.find_element("#rewind").is_displayed(), timeout=15)
    pick(screen, "16:00")
    until(lambda: "16:00:00" in _text(screen, "#rewind-banner-text"), timeout=15)
    # 60x: a minute of the record a second, so the record's hour (to 16:59) outlasts a slow page rebuild
    screen.find_element("#rewind-speed-60").click()
    until(lambda: "16:00:00" not in _text(screen, "#rewind-banner-text"), timeout=15)
    screen.find_element("#lang-switch").click()
    until(lambda: _text(screen, "#rewind-banner-text").startswith("Replay"), timeout=15)
    first = _text(screen, "#rewind-banner-text")
    until(lambda: _text(screen, "#rewind-banner-text") != first, timeout=15)  # still moving
    assert screen.get_logs() == []


def trend(duo, panel: str) -> dict:
    """What a trend panel draws: its x axis's range, its annotations' words and its last value."""
    return js(duo, """const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
        if (!gd || !gd.layout || !gd.data) return {};
        const last = gd.data[gd.data.length - 1];
        return {range: (gd.layout.xaxis || {}).range || null, notes: (gd.layout.annotations || []).map(a => a.text),
                last: last && last.y.length ? last.y[last.y.length - 1] : null};""", panel)


def test_the_trends_show_the_24_hours_up_to_the_replayed_moment_then_live_again(screen):
    until(lambda: screen.find_element("#rewind").is_displayed(), timeout=15)
    pick(screen, "16:16")
    # the x axis ends at the moment, marked; the hour in progress counts its minutes up to it
    until(lambda: (trend(screen, "trend_aqi").get("range") or [None, None])[1] == "2026-12-01 16:16", timeout=20)
    aqi = trend(screen, "trend_aqi")
    assert aqi["notes"] == ["截至 16:16", "回放 16:16"]
    assert aqi["last"] == sum(100 + m for m in range(17)) / 34  # the stations' mean of 16:00–16:16
    assert "回放 16:16" in trend(screen, "trend_water")["notes"]
    screen.find_element("#rewind-live").click()
    until(lambda: not any("回放" in n for n in trend(screen, "trend_aqi").get("notes", ["回放"])), timeout=20)
    assert not (trend(screen, "trend_aqi")["range"] or [""])[-1].startswith("2026-12-01")
    assert screen.get_logs() == []


def test_the_control_is_hidden_from_an_inspector(dash_duo, recorded, sign_in_as):
    dash_duo.start_server(create_app(recorded), navigate=False)
    sign_in_as("inspector", name="lisi", display_name="李四")
    dash_duo.wait_for_element("#value-kpi_alarms", timeout=15)
    assert not dash_duo.find_element("#rewind").is_displayed()
    assert dash_duo.get_logs() == []


# ---- the map's open cases (在办案件) follow the moment shown --------------------------------------

CASE_MARKERS = """
var map = window.iocMap.maps[arguments[0]], out = [];
if (!map) { return out; }
map.eachLayer(function (l) {
  if (l.feature && /case-mark/.test((l.options && l.options.className) || "")) {
    var tip = l.getTooltip() ? l.getTooltip().getContent() : "";
    out.push([l.feature.properties.id, l.feature.properties.k, tip.replace(/<br>/g, "\\n").replace(/<[^>]+>/g, "")]);
  }
});
return out.sort();
"""


def case_markers(duo, map_id: str = "map") -> list:
    return js(duo, CASE_MARKERS, map_id)


@pytest.fixture
def live_case(case_service, recorded):
    """A case reported now in Yangshe (live only: the record of the test holds C1 alone)."""
    from tests.integration.test_ingest_pipeline import YANGSHE

    case, _ = case_service.report(class_code="10105", lat=YANGSHE[1], lon=YANGSHE[0], source="hotline", actor="hotline")
    return case


def test_the_map_shows_the_open_cases_live_and_in_replay_the_moments(screen, live_case):
    until(lambda: [m[0] for m in case_markers(screen)] == [live_case.id], timeout=20)
    pick(screen, "16:16")  # C1 open, dispatched, its deadline (16:22) not yet passed; the live case not yet reported
    until(lambda: case_markers(screen) == [["C1", "open", "案件 C1\n路灯损坏\n处置中 · 大新镇"]], timeout=20)
    assert js(screen, "return document.querySelector('#map path.case-open').getAttribute('fill')") == "#2ec4b6"
    pick(screen, "16:30")  # C1 past its deadline
    until(lambda: [m[:2] for m in case_markers(screen)] == [["C1", "overdue"]], timeout=20)
    assert case_markers(screen)[0][2].startswith("案件 C1 · 已超期")
    screen.find_element("#rewind-live").click()
    until(lambda: [m[0] for m in case_markers(screen)] == [live_case.id], timeout=20)
    assert screen.get_logs() == []


def test_a_district_pages_map_shows_that_districts_cases_of_the_moment(screen, live_case):
    screen.driver.get(screen.server.url.rstrip("/") + "/district/daxin")
    screen.wait_for_element("#d-rewind-open", timeout=15)
    until(lambda: js(screen, "return !!window.iocMap.maps['dmap']"), timeout=15)
    assert case_markers(screen, "dmap") == []  # the live case is in Yangshe
    pick(screen, "16:16", "d-")
    until(lambda: [m[0] for m in case_markers(screen, "dmap")] == ["C1"], timeout=20)
    assert screen.get_logs() == []


def test_a_click_on_a_case_marker_opens_the_case_for_who_may_read_cases(dash_duo, recorded, live_case, sign_in_as):
    dash_duo.start_server(create_app(recorded), navigate=False)
    sign_in_as("leader", name="wangwu", display_name="王五")
    until(lambda: [m[0] for m in case_markers(dash_duo)] == [live_case.id], timeout=20)
    assert case_markers(dash_duo)[0][2].endswith("点击打开案件")
    dash_duo.find_element("#map path.case-mark").click()
    until(lambda: dash_duo.driver.current_url.endswith(f"/case/{live_case.id}"), timeout=10)
    dash_duo.wait_for_contains_text("#page", live_case.id, timeout=15)
    assert dash_duo.get_logs() == []
