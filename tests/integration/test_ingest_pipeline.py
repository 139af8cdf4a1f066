"""The happy path through real parts: MQTT publish -> ingest worker -> Redis."""

from __future__ import annotations

import time

import orjson
import pytest

from ioc.adapters import redis_keys as keys
from ioc.adapters.snapshot_store import SnapshotStore
from tests.conftest import wait_for

YANGSHE = (120.553, 31.870)  # lon, lat of the Yangshe seat
JINFENG = (120.615, 31.945)


def birth(publisher, kind, device, lonlat=YANGSHE, name="测试设备"):
    lon, lat = lonlat
    payload = orjson.dumps({"state": "online", "lat": lat, "lon": lon, "name": name})
    publisher.publish(f"ioc/v1/{kind}/{device}/status", payload, qos=1, retain=True).wait_for_publish(5)


def send(publisher, kind, device, **values):
    values.setdefault("ts", int(time.time() * 1000))
    publisher.publish(f"ioc/v1/{kind}/{device}/telemetry", orjson.dumps(values), qos=1).wait_for_publish(5)
    return values["ts"]


def counter(redis_client, name):
    return int(redis_client.hget(keys.METRICS, name) or 0)


@pytest.fixture
def snapshot(redis_client, settings):
    return SnapshotStore(redis_client, settings.redis_shards)


def test_birth_registers_the_device_with_its_district_cell_and_position(ingest, publisher, snapshot, city):
    birth(publisher, "air_quality", "aq-t-1", YANGSHE, "杨舍 空气质量监测点 1")
    device = wait_for(lambda: snapshot.device("aq-t-1"), message="device registered")
    assert device["state"] == "online"
    assert device["meta"]["district"] == "yangshe"
    assert device["meta"]["cell"] == city.cell_at(*YANGSHE)
    assert device["meta"]["name"] == "杨舍 空气质量监测点 1"
    assert device["meta"]["kind"] == "air_quality"


def test_telemetry_of_a_born_device_becomes_its_latest_state(ingest, publisher, snapshot):
    birth(publisher, "noise", "nz-t-1")
    ts = send(publisher, "noise", "nz-t-1", LAeq=55.5, LAmax=70.1)
    device = wait_for(lambda: (d := snapshot.device("nz-t-1")) and d["latest"] and d, message="latest state")
    assert device["latest"] == {"ts": ts, "LAeq": 55.5, "LAmax": 70.1}


def test_devices_are_in_the_geo_index(ingest, publisher, redis_client, settings):
    birth(publisher, "crowd", "cr-t-1", JINFENG)
    shard = keys.shard_of("cr-t-1", settings.redis_shards)
    wait_for(lambda: redis_client.geopos(keys.geo(shard), "cr-t-1")[0], message="geo index")
    near = redis_client.geosearch(keys.geo(shard), longitude=JINFENG[0], latitude=JINFENG[1], radius=100, unit="m")
    assert b"cr-t-1" in near


def test_readings_are_rolled_up_per_district_and_kind_per_minute(ingest, publisher, snapshot):
    birth(publisher, "water_level", "wl-t-1")
    now = int(time.time() * 1000)
    minute_start = now - now % 60_000
    send(publisher, "water_level", "wl-t-1", ts=minute_start + 1000, waterLevel=2.0)
    send(publisher, "water_level", "wl-t-1", ts=minute_start + 2000, waterLevel=3.0)
    minute = minute_start // 60_000
    roll = wait_for(lambda: (r := snapshot.rollup(minute)).get("yangshe|water_level|waterLevel:n") == 2 and r, message="rollup")
    assert roll["yangshe|water_level|waterLevel:s"] == pytest.approx(5.0)
    assert roll["yangshe|water_level|waterLevel:x"] == pytest.approx(3.0)
    assert roll["yangshe|water_level|_:n"] == 2


def test_enum_attributes_are_counted_per_value(ingest, publisher, snapshot):
    birth(publisher, "streetlight", "sl-t-1")
    ts = send(publisher, "streetlight", "sl-t-1", powerState="on", status="ok")
    roll = wait_for(lambda: (r := snapshot.rollup(ts // 60_000)).get("yangshe|streetlight|powerState=on:n") and r, message="enum rollup")
    assert roll["yangshe|streetlight|status=ok:n"] == 1


def test_rollup_buckets_expire_after_the_retention(ingest, publisher, redis_client, settings):
    birth(publisher, "noise", "nz-t-2")
    ts = send(publisher, "noise", "nz-t-2", LAeq=40.0)
    key = keys.rollup(ts // 60_000)
    ttl = wait_for(lambda: redis_client.ttl(key) > 0 and redis_client.ttl(key), message="rollup ttl")
    assert ttl <= settings.rollup_retention_hours * 3600


def test_last_will_marks_the_device_offline(ingest, publisher, snapshot, broker_proc):
    from ioc.adapters.mqtt import connect, make_client

    lon, lat = YANGSHE
    device = make_client(broker_proc.url, "pk-t-1-conn", will=("ioc/v1/parking/pk-t-1/status", b'{"state":"offline"}', 1, True))
    connect(device)
    device.publish("ioc/v1/parking/pk-t-1/status", orjson.dumps({"state": "online", "lat": lat, "lon": lon}), qos=1, retain=True).wait_for_publish(5)
    wait_for(lambda: (d := snapshot.device("pk-t-1")) and d["state"] == "online", message="online")
    device.loop_stop()
    device.socket().close()  # vanish without DISCONNECT: the broker publishes the will
    wait_for(lambda: snapshot.device("pk-t-1")["state"] == "offline", timeout=60, message="offline from last will")


def test_older_readings_never_overwrite_newer_latest_state(ingest, publisher, snapshot, redis_client):
    birth(publisher, "noise", "nz-t-3")
    now = int(time.time() * 1000)
    send(publisher, "noise", "nz-t-3", ts=now, LAeq=60.0)
    wait_for(lambda: (d := snapshot.device("nz-t-3")) and d["latest"], message="first reading")
    send(publisher, "noise", "nz-t-3", ts=now - 30_000, LAeq=42.0)
    wait_for(lambda: counter(redis_client, "messages:late") == 1, message="late reading counted")
    assert snapshot.device("nz-t-3")["latest"]["LAeq"] == 60.0


def test_accepted_messages_are_counted(ingest, publisher, redis_client):
    birth(publisher, "noise", "nz-t-4")
    send(publisher, "noise", "nz-t-4", LAeq=50.0)
    wait_for(lambda: counter(redis_client, "messages:accepted") == 2, message="two accepted")
    assert counter(redis_client, "accepted:noise") == 2
    assert counter(redis_client, "messages:rejected") == 0


def test_a_located_reading_registers_an_unknown_device(ingest, publisher, snapshot):
    lon, lat = JINFENG
    send(publisher, "traffic", "tf-t-1", lat=lat, lon=lon, intensity=120, averageVehicleSpeed=42.0)
    device = wait_for(lambda: snapshot.device("tf-t-1"), message="registered by a located reading")
    assert device["meta"]["district"] == "jinfeng"
    assert device["latest"]["intensity"] == 120
