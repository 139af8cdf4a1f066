"""Case density from a real record (PostgreSQL filled with SQL fixtures): the tables the monthly
report embeds, and the district page's density and export callbacks called as plain functions."""

from __future__ import annotations

import contextlib

import pytest
from flask import g

from callbacks.district import density, exports
from ioc.domain.access import Principal
from ioc.reports.density import density_geojson, density_table
from ioc.reports.geo import days_ms
from tests import geo_rows
from tests.conftest import dash_callback

NOVEMBER = days_ms(*(geo_rows.at(d).date() for d in geo_rows.PERIOD))
FIRST, LAST = geo_rows.PERIOD


@pytest.fixture
def record(database_url):
    geo_rows.fill(database_url)
    return database_url


@pytest.fixture
def record_app(record_settings, redis_client, record):
    from ioc.web.app import create_app

    return create_app(record_settings)


@pytest.fixture
def as_role(record_app):
    @contextlib.contextmanager
    def enter(*roles: str, lang: str = "zh"):
        with record_app.server.test_request_context(), dash_callback("", lang, outputs=3):
            g.ioc_principal = Principal(f"{'-'.join(roles)}-test", frozenset(roles))
            yield

    return enter


def test_the_district_table_sums_to_the_cases_created_in_the_period(record, city):
    table = density_table(record, *NOVEMBER, city, by="district").set_index("district")
    assert table["cases"].sum() == 5  # the November cases of the fixtures, the day before and the midnight after left out
    assert (table.loc["yangshe", "cases"], table.loc["jingang", "cases"], table.loc["", "cases"]) == (3, 1, 1)


def test_the_cell_table_of_a_district_counts_its_cases_per_cell(record, city):
    table = density_table(record, *NOVEMBER, city, by="cell", district="yangshe").set_index("cell")
    assert (table.loc["320582100001618", "cases"], table.loc["320582100001719", "cases"]) == (2, 1)
    assert table["cases"].sum() == 3


def test_the_city_cell_table_sums_to_the_case_count_with_the_cases_outside_the_grid(record, city):
    table = density_table(record, *NOVEMBER, city, by="cell")
    assert table["cases"].sum() == 5 and table.set_index("cell").loc["", "cases"] == 2


def test_density_geojson_gives_the_cells_with_their_counts(record, city):
    collection = density_geojson(record, *NOVEMBER, city, by="cell", district="yangshe")
    counts = {f["id"]: f["properties"]["cases"] for f in collection["features"] if f["properties"]["cases"]}
    assert counts == {"320582100001618": 2, "320582100001719": 1}


def test_the_density_callback_reads_nothing_while_the_layer_is_off(as_role):
    with as_role("leader"):
        hideout, legend, summary = density(["区镇", "感知设备"], FIRST, LAST, "yangshe", "zh")
    assert hideout["values"] == {} and legend == [] and "勾选" in summary


def test_the_density_callback_colours_the_districts_cells_for_the_period(as_role):
    with as_role("leader"):
        hideout, legend, summary = density(["区镇", "案件密度"], FIRST, LAST, "yangshe", "zh")
    assert hideout["values"] == {"320582100001618": 2, "320582100001719": 1}
    assert len(legend) == len(hideout["breaks"]) + 1  # the classes and the unit
    assert summary.startswith("杨舍镇 2026-11-01 至 2026-11-30：案件 3 件")


def test_the_density_callback_says_when_the_period_is_reversed(as_role):
    with as_role("leader", lang="en"):
        hideout, _legend, summary = density(["Case density"], LAST, FIRST, "yangshe", "en")
    assert hideout["values"] == {} and summary.startswith("Pick a start and an end date")


@pytest.mark.parametrize("role, links", [("leader", 6), ("dispatcher", 6), ("operator", 0), ("inspector", 0)])
def test_export_links_are_offered_to_the_roles_holding_report_export(as_role, role, links):
    with as_role(role):
        children = exports(FIRST, LAST, "yangshe", "zh")
    assert sum(len(group.children) - 2 for group in children[1:]) == links
