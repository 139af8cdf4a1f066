"""`GET /api/v1/map/devices`: the map's device layer, fetched by the browser itself and served
from the process's registry cache (gzip, ETag), never through a Dash callback."""

from __future__ import annotations

import gzip

import orjson
import pytest

from ioc.adapters import redis_keys as keys
from ioc.adapters.user_store import Actor
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
