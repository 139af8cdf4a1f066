"""`GET /api/v1/map/devices`: the map's device layer, fetched by the browser itself and served
from the process's registry cache (gzip, ETag), never through a Dash callback."""

from __future__ import annotations

import gzip

import orjson
import pytest

from ioc.adapters import redis_keys as keys
from ioc.adapters.user_store import Actor
from ioc.domain.access import Principal
from tests.conftest import wait_for
from tests.integration.test_ingest_pipeline import YANGSHE, birth

DAXIN = (120.545, 31.962)  # (lon, lat) inside Daxin


@pytest.fixture
def born(ingest, publisher, redis_client):
    birth(publisher, "noise", "nz-map-1", YANGSHE, name="杨舍 噪声 1")
    birth(publisher, "streetlight", "sl-map-2", DAXIN, name="大新 路灯 2")
    wait_for(lambda: sum(redis_client.hlen(keys.meta(s)) for s in range(8)) == 2, message="two devices registered")


@pytest.fixture
def client(portal_client):
    _token, bearer = portal_client.users.create_token("map wall", ["operator"], Actor("test", "admin"))
    portal_client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {bearer}"
    return portal_client


def features(response) -> dict[str, dict]:
    body = gzip.decompress(response.data) if response.headers.get("Content-Encoding") == "gzip" else response.data
    return {f["properties"]["id"]: f for f in orjson.loads(body)["features"]}


def test_the_device_layer_lists_every_located_device_as_geojson_points(born, client):
    response = client.get("/api/v1/map/devices")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    got = features(response)
    assert set(got) == {"nz-map-1", "sl-map-2"}
    assert got["nz-map-1"]["properties"] == {"id": "nz-map-1", "kind": "noise", "name": "杨舍 噪声 1"}
    assert got["nz-map-1"]["geometry"] == {"type": "Point", "coordinates": [round(YANGSHE[0], 5), round(YANGSHE[1], 5)]}


def test_one_districts_layer_holds_only_its_devices(born, client):
    assert set(features(client.get("/api/v1/map/devices?district=daxin"))) == {"sl-map-2"}


def test_an_unknown_district_is_404(born, client):
    response = client.get("/api/v1/map/devices?district=atlantis")
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"


def test_the_layer_is_sent_gzip_compressed_to_a_client_that_accepts_it(born, client):
    response = client.get("/api/v1/map/devices", headers={"Accept-Encoding": "gzip, br"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert set(features(response)) == {"nz-map-1", "sl-map-2"}


def test_a_new_device_joins_the_layer_within_about_a_second(born, client, publisher):
    assert "nz-map-3" not in features(client.get("/api/v1/map/devices"))
    birth(publisher, "noise", "nz-map-3", YANGSHE)
    # the process's registry cache follows the shard counters (refreshed about every second)
    wait_for(lambda: "nz-map-3" in features(client.get("/api/v1/map/devices")), message="the new device on the layer")


def test_anonymous_callers_get_401_and_no_layer(born, portal_client):
    response = portal_client.get("/api/v1/map/devices")
    assert response.status_code == 401 and b"features" not in response.data


def test_a_devices_tooltip_reading_is_in_words_in_the_asked_language(born, client, redis_client):
    shard = keys.shard_of("sl-map-2", 8)
    redis_client.hset(keys.latest(shard), "sl-map-2", orjson.dumps({"ts": 1_795_600_000_000, "powerState": "on", "status": "defectiveLamp"}))
    zh = orjson.loads(client.get("/api/v1/map/devices/sl-map-2?lang=zh").data)
    assert (zh["name"], zh["kind"], zh["lines"]) == ("大新 路灯 2", "路灯", ["亮灯状态 亮", "灯具故障"])
    en = orjson.loads(client.get("/api/v1/map/devices/sl-map-2?lang=en").data)
    assert (en["kind"], en["state"], en["lines"]) == ("Street light", "online", ["Lamp on", "defective lamp"])


def test_a_device_without_a_reading_says_so_and_an_unknown_one_is_404(born, client):
    body = orjson.loads(client.get("/api/v1/map/devices/nz-map-1").data)
    assert body["lines"] == [] and body["empty"] == "暂无读数"
    response = client.get("/api/v1/map/devices/no-such-device")
    assert response.status_code == 404 and orjson.loads(response.data)["error"] == "not_found"


# ---- GET /api/v1/map/cases: the open cases (在办案件), live and at a moment of the record -----------

@pytest.fixture
def reported(case_service):
    """Two open cases, one in Yangshe and one in Daxin, and a closed one (off the layer)."""
    made = {}
    for name, (lon, lat) in (("yangshe", YANGSHE), ("daxin", DAXIN), ("closed", YANGSHE)):
        made[name], _ = case_service.report(class_code="10101", lat=lat, lon=lon, source="hotline", actor="hotline")
    case_service.act(made["closed"].id, "reject", Principal("li", frozenset({"dispatcher"})), note="不属实")
    return made


def test_the_case_layer_lists_the_open_cases_as_compact_points_in_codes(reported, client):
    response = client.get("/api/v1/map/cases")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    got = features(response)
    assert set(got) == {reported["yangshe"].id, reported["daxin"].id}
    # a missing manhole cover is urgent by its class
    assert got[reported["daxin"].id]["properties"] == {"id": reported["daxin"].id, "c": "10101", "s": "reported", "d": "daxin", "k": "urgent"}
    assert got[reported["daxin"].id]["geometry"]["coordinates"] == [round(DAXIN[0], 5), round(DAXIN[1], 5)]


def test_one_districts_case_layer_holds_only_its_cases_and_an_unknown_district_is_404(reported, client):
    assert set(features(client.get("/api/v1/map/cases?district=daxin"))) == {reported["daxin"].id}
    response = client.get("/api/v1/map/cases?district=atlantis")
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"


def test_the_case_layer_is_gzip_compressed_for_a_client_that_accepts_it(reported, client):
    response = client.get("/api/v1/map/cases", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip" and len(features(response)) == 2


def test_a_moment_that_is_not_a_number_is_400_with_a_clear_message(client):
    response = client.get("/api/v1/map/cases?at=yesterday")
    assert response.status_code == 400 and "milliseconds" in response.get_json()["message"]


def test_a_moment_without_a_record_is_404(client):
    response = client.get("/api/v1/map/cases?at=1796112000000")
    assert response.status_code == 404 and response.get_json()["error"] == "no_record"


def test_anonymous_callers_get_401_and_no_case_layer(portal_client):
    response = portal_client.get("/api/v1/map/cases")
    assert response.status_code == 401 and b"features" not in response.data


@pytest.fixture
def recorded_client(record_settings, redis_client):
    """The portal on a record filled with SQL (tests/integration/rewind_fixture.py: case C1 open
    08:02–08:35 UTC, overdue from 08:22), signed in by an operator's token."""
    from ioc.adapters.geodata_files import load_city_map
    from ioc.record import db
    from ioc.web.app import create_app
    from tests.integration.rewind_fixture import fill

    city = load_city_map(record_settings.geodata_dir)
    fill(record_settings.database_url, city.districts[0].id, city.districts[1].id)
    app = create_app(record_settings)
    portal = app.server.test_client()
    portal.users = app.server.extensions["ioc_users"]
    _token, bearer = portal.users.create_token("map wall", ["operator"], Actor("test", "admin"))
    portal.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {bearer}"
    portal.districts = (city.districts[0].id, city.districts[1].id)
    yield portal
    db.close_pools()


def test_at_a_moment_the_layer_holds_the_cases_open_then_as_they_stood(recorded_client):
    from tests.integration.rewind_fixture import BASE, MIN

    assert features(recorded_client.get(f"/api/v1/map/cases?at={BASE + MIN}")) == {}  # before C1 was reported
    c1 = features(recorded_client.get(f"/api/v1/map/cases?at={BASE + 16 * MIN}"))["C1"]
    assert (c1["properties"]["s"], c1["properties"]["k"], c1["properties"]["d"]) == ("dispatched", "open", recorded_client.districts[1])
    assert features(recorded_client.get(f"/api/v1/map/cases?at={BASE + 30 * MIN}"))["C1"]["properties"]["k"] == "overdue"
    assert features(recorded_client.get(f"/api/v1/map/cases?at={BASE + 40 * MIN}")) == {}  # closed at 08:35
    assert features(recorded_client.get(f"/api/v1/map/cases?at={BASE + 16 * MIN}&district={recorded_client.districts[0]}")) == {}


def test_a_moment_is_refused_to_who_may_not_rewind(recorded_client):
    _token, bearer = recorded_client.users.create_token("inspector", ["inspector"], Actor("test", "admin"))
    response = recorded_client.get("/api/v1/map/cases?at=1796112000000", headers={"Authorization": f"Bearer {bearer}"})
    assert response.status_code == 403
