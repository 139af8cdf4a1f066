"""The monthly assessment report page `/reports` in a real headless Chromium on a real record: a
leader picks a month, sees the sections, builds the XLSX, watches it become ready and downloads it;
the file (fetched from the link's href with the browser's own session) is an XLSX with the sheets."""

from __future__ import annotations

import io
import time

import openpyxl
import psycopg
import pytest
import requests

from ioc.reports import synth
from ioc.reports.monthly import W, month_bounds
from tests.conftest import wait_for

MONTH = "2026-08"
SECTIONS_ZH = [W[k][0] for k in ("summary", "districts", "departments", "classes", "sources", "overdue", "deferrals",
                                  "stages", "events")]


@pytest.fixture
def reports_portal(dash_duo, record_settings):
    from ioc.web.app import create_app

    now = int(time.time() * 1000)
    start, _ = month_bounds("2025-06")
    with psycopg.connect(record_settings.database_url) as conn:
        synth.ensure_partitions(conn, start, now + 86_400_000)
        synth.write(conn, synth.generate(300, start, now - 86_400_000, now, seed=5,
                                         districts=("yangshe", "jinfeng"), departments=("water_affairs", "street_lighting")))
    app = create_app(record_settings)
    dash_duo.start_server(app, navigate=False)
    return dash_duo


def test_a_leader_picks_a_month_builds_the_xlsx_and_downloads_it(reports_portal, sign_in_as):
    duo = reports_portal
    sign_in_as("leader", next_path="/reports")
    duo.wait_for_element("#rep-month", timeout=15)
    duo.select_dcc_dropdown("#rep-month", value="2026年8月")
    wait_for(lambda: duo.driver.find_elements("css selector", "#rep-grid-districts .ag-row"), timeout=30,
             message="the districts table")
    titles = "return [...document.querySelectorAll('#rep-sections h3')].map(e => e.innerText.trim())"
    wait_for(lambda: duo.driver.execute_script(titles) == SECTIONS_ZH, timeout=30, message="every section")
    duo.find_element("#rep-xlsx").click()
    wait_for(lambda: duo.driver.find_element("css selector", "#rep-file").get_attribute("href").endswith("/file"),
             timeout=60, message="the report ready")
    assert "报告已生成" in duo.find_element("#rep-job-text").text
    href = duo.driver.find_element("css selector", "#rep-file").get_attribute("href")
    session = requests.Session()
    for cookie in duo.driver.get_cookies():
        session.cookies.set(cookie["name"], cookie["value"])
    answer = session.get(href, timeout=30)
    assert answer.status_code == 200 and answer.headers["Content-Type"].endswith("spreadsheetml.sheet")
    assert openpyxl.load_workbook(io.BytesIO(answer.content)).sheetnames == SECTIONS_ZH
    assert duo.get_logs() == []


def test_the_summary_shows_its_rates_as_percentages(reports_portal, sign_in_as):
    """The summary mixes counts and rates in a column: the rates read "54.1%" (or "—" without a
    base), never the grid's "Invalid Number"."""
    duo = reports_portal
    sign_in_as("leader", next_path="/reports")
    duo.wait_for_element("#rep-month", timeout=15)
    duo.select_dcc_dropdown("#rep-month", value="2026年8月")
    cells = "return [...document.querySelectorAll('#rep-grid-summary .ag-row .ag-cell')].map(e => e.innerText.trim())"
    shown = wait_for(lambda: [c for c in duo.driver.execute_script(cells) if c.endswith("%")], timeout=30,
                     message="the summary's rates")
    assert shown and not [c for c in duo.driver.execute_script(cells) if "Invalid" in c or c in ("NaN", "None", "null")]
    assert duo.get_logs() == []
