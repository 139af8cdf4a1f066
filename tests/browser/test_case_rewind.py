"""回溯此案件 on the case page in a real headless Chromium: the case's steps from the record; a click
shows the case on the map and the city's figures as of that step."""

from __future__ import annotations

import json

import pytest
from dash.testing.wait import until

from ioc.adapters.geodata_files import load_city_map
from ioc.record import db
from ioc.web.app import create_app
from tests.browser.test_bigscreen import _text
from tests.integration.rewind_fixture import BASE, MIN, fill, ts


@pytest.fixture
def recorded(record_settings):
    city = load_city_map(record_settings.geodata_dir)
    d1 = city.districts[1].id
    fill(record_settings.database_url, city.districts[0].id, d1)
    case = {"id": "C1", "class_code": "0101", "lat": 30.3, "lon": 120.3, "district": d1, "source": "hotline",
            "created_at": BASE + 2 * MIN, "stage": "closed", "version": 3, "updated_at": BASE + 35 * MIN}
    with db.connection(record_settings.database_url) as conn:  # its latest version, as the recorder keeps it
        conn.execute("INSERT INTO cases (id, version, class_code, district, stage, created_at, updated_at, data)"
                     " VALUES ('C1', 3, '0101', %s, 'closed', %s, %s, %s)", (d1, ts(BASE + 2 * MIN), ts(BASE + 35 * MIN), json.dumps(case)))
    yield record_settings
    db.close_pools()


def test_a_clicked_step_shows_the_case_and_the_city_as_of_that_step(dash_duo, recorded, sign_in_as):
    dash_duo.start_server(create_app(recorded), navigate=False)
    sign_in_as("dispatcher", name="wangwu", display_name="王五", next_path="/case/C1")
    until(lambda: len(dash_duo.find_elements(".case-rewind-step")) == 3, timeout=20)
    assert "已结案" in _text(dash_duo, ".case-rewind-steps")
    dash_duo.find_elements(".case-rewind-step")[1].click()  # dispatched at +12 min: C1 open, not overdue yet
    until(lambda: "当时全市：在办案件 1（超期 0）" in _text(dash_duo, "#case-rewind-view"), timeout=20)
    until(lambda: len(dash_duo.find_elements("#case-map path.leaflet-interactive")) >= 1, timeout=10)
    dash_duo.find_elements(".case-rewind-step")[2].click()  # closed at +35 min: none open
    until(lambda: "当时全市：在办案件 0（超期 0）" in _text(dash_duo, "#case-rewind-view"), timeout=20)
    assert dash_duo.get_logs() == []
