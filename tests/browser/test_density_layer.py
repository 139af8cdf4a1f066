"""The district page's case density layer in a real headless Chromium, read from a real record
(PostgreSQL filled with SQL fixtures): turned on in the map's layer control, the district's
cells with cases are coloured by count and the legend and figures appear; turned off, they go."""

from __future__ import annotations

import time
from datetime import timedelta

import psycopg
import pytest
from dash.testing.wait import until

from ioc.domain.clock import local_time
from ioc.reports.density import COLORS
from ioc.web.app import create_app
from tests import geo_rows

DARKEST, NEXT = COLORS[-1], COLORS[-2]  # the classes of 3 cases and of 1 (breaks 1, 2)


@pytest.fixture
def recent_cases(database_url):
    """Four cases of yesterday in Yangshe: three in one cell, one in its neighbour."""
    yesterday = (local_time(time.time() * 1000).date() - timedelta(days=1)).isoformat()
    rows = [(f"ZJG-T-{i}", "10101", "reported", "yangshe", cell, "", "hotline", lon, lat, (yesterday, 9 + i), None)
            for i, (cell, lon, lat) in enumerate([("320582100001618", 120.556, 31.872)] * 3
                                                 + [("320582100001719", 120.5662, 31.8741)])]
    with psycopg.connect(database_url) as conn:
        geo_rows.insert_cases(conn, rows)
    return database_url


@pytest.fixture
def district_screen(dash_duo, record_settings, recent_cases, sign_in_as):
    dash_duo.start_server(create_app(record_settings), navigate=False)
    sign_in_as("leader", next_path="/district/yangshe")
    dash_duo.wait_for_text_to_equal("#district-name", "杨舍镇")
    until(lambda: dash_duo.driver.execute_script("return document.querySelectorAll('#dmap path.leaflet-interactive').length") > 0,
          timeout=20)
    return dash_duo


def _filled(screen, color: str) -> int:
    return screen.driver.execute_script(f"return document.querySelectorAll('#dmap path[fill=\"{color}\"]').length")


def _toggle_density(screen) -> None:
    screen.driver.find_element("xpath", "//div[@id='dmap']//label[contains(., '案件密度')]//input").click()


def test_the_density_layer_toggle_colours_the_cells_by_case_count_with_a_legend(district_screen):
    screen = district_screen
    assert "勾选" in screen.find_element("#density-summary").text  # off at first: a hint, no legend
    assert _filled(screen, DARKEST) == 0
    _toggle_density(screen)
    until(lambda: _filled(screen, DARKEST) == 1 and _filled(screen, NEXT) == 1, timeout=20)
    until(lambda: "案件 4 件" in screen.find_element("#density-summary").text, timeout=10)
    assert [e.text for e in screen.find_elements("#density-legend .legend-item")] == ["1", "2+", "件 / 网格（约 1 km²）"]
    _toggle_density(screen)
    until(lambda: not screen.find_elements("#density-legend .legend-item"), timeout=10)
    assert _filled(screen, DARKEST) == 0
    assert screen.get_logs() == []


def test_a_leader_sees_the_export_links_of_the_period(district_screen):
    link = district_screen.wait_for_element("#export-cases-gpkg", timeout=10)
    assert "/api/v1/exports/cases.gpkg?from=" in link.get_attribute("href") and "district=yangshe" in link.get_attribute("href")
    assert district_screen.get_logs() == []
