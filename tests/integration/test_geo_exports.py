"""The GIS exports (`GET /api/v1/exports/…`) against a real record (PostgreSQL, filled with SQL
fixtures) and a real Redis: the files read back with geopandas hold the record's rows, at the
record's positions, in EPSG:4326, with people's words beside the codes; permissions and bad input."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

import geopandas as gpd
import pandas as pd
import psycopg
import pytest

from ioc.adapters.user_store import Actor
from ioc.domain.kinds import KINDS
from ioc.reports import geo
from tests import geo_rows
from tests.geo_rows import PERIOD

ADMIN = Actor("test", "admin")
ROLES = ("operator", "leader", "dispatcher", "inspector", "handler", "admin", "reporter")
EXPORTERS = ("leader", "dispatcher", "admin")


@pytest.fixture
def record(database_url):
    geo_rows.fill(database_url)
    return database_url


@pytest.fixture
def export_app(record_settings, redis_client):
    from ioc.web.app import create_app

    return create_app(record_settings)


@pytest.fixture
def client(export_app):
    return export_app.server.test_client()


@pytest.fixture
def tokens(export_app):
    users = export_app.server.extensions["ioc_users"]
    made = {}
    for role in ROLES:
        _, secret = users.create_token(f"gis-{role}", [role], ADMIN, department="water_affairs" if role == "handler" else "")
        made[role] = {"Authorization": f"Bearer {secret}"}
    return made


def download(client, tokens, name: str, period=PERIOD, who: str = "dispatcher"):
    return client.get(f"/api/v1/exports/{name}?from={period[0]}&to={period[1]}", headers=tokens[who])


def read_back(answer, fmt: str, layer: str) -> gpd.GeoDataFrame:
    """The downloaded file, read by geopandas from a file named as the download is (GDAL checks
    a GeoPackage's extension)."""
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"export.{fmt}"
        path.write_bytes(answer.data)
        return gpd.read_file(path, layer=layer if fmt == "gpkg" else None, engine="pyogrio")


def record_rows(url: str, sql: str) -> dict[str, tuple]:
    with psycopg.connect(url) as conn:
        return {row[0]: row[1:] for row in conn.execute(sql).fetchall()}


@pytest.mark.parametrize("fmt", ["gpkg", "geojson"])
def test_a_cases_export_holds_the_cases_created_in_the_period_at_their_recorded_positions(record, client, tokens, fmt):
    frame = read_back(download(client, tokens, f"cases.{fmt}"), fmt, "cases")
    expected = record_rows(record, "SELECT id, lon, lat FROM cases WHERE created_at >= '2026-11-01T00:00+08'"
                                   " AND created_at < '2026-12-01T00:00+08'")
    assert sorted(frame["id"]) == sorted(expected) and len(frame) == 5
    assert frame.crs.to_epsg() == 4326
    for case_id, geometry in zip(frame["id"], frame.geometry):
        lon, lat = expected[case_id]
        if lon is None:
            assert geometry is None
        else:
            assert (geometry.x, geometry.y) == (lon, lat)


@pytest.mark.parametrize("fmt", ["gpkg", "geojson"])
def test_a_cases_export_has_every_documented_column(client, tokens, fmt, record):
    frame = read_back(download(client, tokens, f"cases.{fmt}"), fmt, "cases")
    assert list(frame.columns) == [c.name for c in geo.COLUMNS["cases"]] + ["geometry"]


def test_a_cases_export_names_classes_districts_stages_and_departments_in_both_languages(client, tokens, record):
    frame = read_back(download(client, tokens, "cases.gpkg"), "gpkg", "cases").set_index("id")
    row = frame.loc["ZJG-20261103-000001"]
    assert (row.class_zh, row.class_en, row.major_zh, row.kind_zh) == ("井盖丢失", "Manhole cover missing", "公用设施", "部件")
    assert (row.district_zh, row.district_en, row.stage_zh, row.stage_en) == ("杨舍镇", "Yangshe", "派遣", "Dispatched")
    assert (row.department_zh, row.source_zh, bool(row.open)) == ("市水务局", "12345热线", True)
    closed = frame.loc["ZJG-20261104-000002"]
    assert (closed.stage_zh, bool(closed.open)) == ("办结", False)


@pytest.mark.parametrize("fmt", ["gpkg", "geojson"])
def test_times_in_an_export_are_the_records_instants(client, tokens, fmt, record):
    frame = read_back(download(client, tokens, f"cases.{fmt}"), fmt, "cases").set_index("id")
    created = pd.Timestamp(frame.loc["ZJG-20261103-000001", "created_at"])
    assert created == pd.Timestamp(geo_rows.at("2026-11-03", 9))
    assert created.utcoffset() == (timedelta(0) if fmt == "gpkg" else timedelta(hours=8))


def test_a_geopackage_documents_each_columns_chinese_name(client, tokens, record, tmp_path):
    path = tmp_path / "cases.gpkg"
    path.write_bytes(download(client, tokens, "cases.gpkg").data)
    aliases = geo.column_aliases(path, "cases")
    assert aliases == {c.name: c.zh for c in geo.COLUMNS["cases"]}
    assert (aliases["class_zh"], aliases["stage_zh"], aliases["district_zh"]) == ("小类", "阶段", "区镇")


@pytest.mark.parametrize("fmt", ["gpkg", "geojson"])
def test_a_devices_export_holds_the_devices_born_before_the_periods_end_with_their_alarms(client, tokens, fmt, record):
    frame = read_back(download(client, tokens, f"devices.{fmt}"), fmt, "devices").set_index("id")
    assert sorted(frame.index) == ["ml-002", "wl-001"]
    assert frame.crs.to_epsg() == 4326
    expected = record_rows(record, "SELECT id, lon, lat FROM devices")
    for device_id, geometry in frame.geometry.items():
        assert (geometry.x, geometry.y) == expected[device_id]
    assert (frame.loc["wl-001", "kind_zh"], frame.loc["wl-001", "state_zh"], int(frame.loc["wl-001", "alarms"])) == \
        (KINDS["water_level"].name_zh, "在线", 1)
    assert (frame.loc["ml-002", "state_en"], int(frame.loc["ml-002", "alarms"])) == ("Offline", 1)


@pytest.mark.parametrize("fmt", ["gpkg", "geojson"])
def test_an_alarms_export_places_each_alarm_at_its_devices_recorded_position(client, tokens, fmt, record):
    frame = read_back(download(client, tokens, f"alarms.{fmt}"), fmt, "alarms").set_index("alarm_id")
    assert sorted(frame.index) == ["ghost-9|noise_high", "ml-002|manhole_displaced", "wl-001|water_level_warning"]
    assert (frame.loc["wl-001|water_level_warning"].geometry.x, frame.loc["wl-001|water_level_warning"].geometry.y) == (120.6, 31.99)
    assert frame.loc["ghost-9|noise_high"].geometry is None  # the record does not know the device
    warning = frame.loc["wl-001|water_level_warning"]
    assert (warning.rule_zh, warning.severity_zh, warning.district_zh, float(warning.minutes)) == \
        ("水位超警戒", "重要", "锦丰镇", 120.0)
    assert pd.isna(frame.loc["ml-002|manhole_displaced", "minutes"])  # still active


def test_a_period_without_rows_gives_a_layer_with_its_columns_and_no_feature(client, tokens, record):
    frame = read_back(download(client, tokens, "cases.gpkg", ("2025-01-01", "2025-01-31")), "gpkg", "cases")
    assert len(frame) == 0 and list(frame.columns) == [c.name for c in geo.COLUMNS["cases"]] + ["geometry"]


def test_an_export_is_an_attachment_named_for_its_period(client, tokens, record):
    answer = download(client, tokens, "alarms.geojson")
    assert answer.headers["Content-Disposition"] == \
        "attachment; filename=zhangjiagang-alarms-2026-11-01_2026-11-30.geojson"
    assert answer.headers["X-Export-Rows"] == "3" and answer.mimetype == "application/geo+json"


def test_an_export_is_in_the_audit_log(export_app, client, tokens, record):
    download(client, tokens, "cases.gpkg", who="leader")
    entry = export_app.server.extensions["ioc_services"].audit.recent(1, action="report.")[0]
    assert (entry.actor, entry.action, entry.target, entry.detail["rows"]) == ("token:gis-leader", "report.export", "cases.gpkg", 5)


@pytest.mark.parametrize("role", EXPORTERS)
def test_the_roles_holding_report_export_may_download(client, tokens, role, record):
    assert download(client, tokens, "devices.geojson", who=role).status_code == 200


@pytest.mark.parametrize("role", sorted(set(ROLES) - set(EXPORTERS)))
def test_roles_without_report_export_get_403_and_no_data(client, tokens, role, record):
    answer = download(client, tokens, "cases.gpkg", who=role)
    assert answer.status_code == 403 and set(answer.get_json()) == {"error", "message"}


def test_an_anonymous_export_request_gets_401(client, record):
    answer = client.get("/api/v1/exports/cases.gpkg?from=2026-11-01&to=2026-11-30")
    assert answer.status_code == 401 and answer.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("query, field", [
    ("", "from"), ("from=2026-11-01", "to"), ("from=2026-11-1&to=2026-11-30", "from"), ("from=2026-13-01&to=2026-11-30", "from"),
    ("from=yesterday&to=2026-11-30", "from"), ("from=2026-11-30&to=2026-11-01", "to"), ("from=2020-01-01&to=2026-11-30", "to"),
])
def test_bad_dates_are_a_400_naming_the_parameter(client, tokens, query, field, record):
    answer = client.get(f"/api/v1/exports/cases.gpkg?{query}", headers=tokens["dispatcher"])
    assert answer.status_code == 400 and answer.get_json()["field"] == field and answer.get_json()["message"]


@pytest.mark.parametrize("name", ["users.gpkg", "cases.shp", "cases", "cases.gpkg.zip"])
def test_an_export_that_does_not_exist_is_a_404(client, tokens, name, record):
    answer = client.get(f"/api/v1/exports/{name}?from=2026-11-01&to=2026-11-30", headers=tokens["dispatcher"])
    assert answer.status_code == 404 and answer.get_json()["error"] == "not_found"


def test_without_a_record_an_export_is_a_503(settings, redis_client):
    from ioc.web.app import create_app

    app = create_app(settings)  # no DATABASE_URL
    _, secret = app.server.extensions["ioc_users"].create_token("gis-nodb", ["leader"], ADMIN)
    answer = app.server.test_client().get("/api/v1/exports/cases.gpkg?from=2026-11-01&to=2026-11-30",
                                          headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 503 and answer.get_json()["error"] == "unavailable"


def test_an_export_written_in_small_chunks_equals_one_written_at_once(record, tmp_path, city):
    from_ms, to_ms = (int(geo_rows.at(d, 0).timestamp() * 1000) for d in ("2026-11-01", "2026-12-01"))
    whole = geo.export("cases", "gpkg", record, from_ms, to_ms, city, tmp_path / "whole.gpkg")
    parts = geo.export("cases", "gpkg", record, from_ms, to_ms, city, tmp_path / "parts.gpkg", chunk=2)
    a = gpd.read_file(tmp_path / "whole.gpkg", layer="cases")
    b = gpd.read_file(tmp_path / "parts.gpkg", layer="cases")
    assert whole == parts == 5
    pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"))
    assert a.geometry.equals(b.geometry)
