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


def pick(duo, clock: str) -> None:
    """Open the control (it offers the record's last day) and show `clock` (China time) of that day."""
    duo.find_element("#rewind-open").click()
    until(lambda: "2026-12-01" in _text(duo, "#rewind-range"), timeout=10)
    field = duo.find_element("#rewind-time")
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(clock, Keys.ENTER)
    duo.find_element("#rewind-go").click()


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
