"""The worker survives its servers: broker restarts and Redis restarts, reconnecting by itself,
saying so in its log, and losing nothing it had accepted."""

from __future__ import annotations

import logging
import time

import pytest

from ioc.adapters.embedded import redis_server
from ioc.adapters.redis_client import connect_redis
from ioc.adapters.snapshot_store import SnapshotStore
from tests.conftest import wait_for
from tests.integration.test_ingest_pipeline import birth, counter, send

pytestmark = pytest.mark.slow


def test_the_worker_reconnects_after_a_broker_restart(ingest, publisher, broker_proc, redis_client, caplog):
    caplog.set_level(logging.INFO)
    birth(publisher, "noise", "nz-r-1")
    wait_for(lambda: counter(redis_client, "messages:accepted") == 1, message="birth")
    acked = ingest.subacks.count
    broker_proc.restart()
    wait_for(lambda: ingest.worker.client.is_connected() and publisher.is_connected(), timeout=30, message="both reconnected")
    ingest.subacks.wait(acked + 1)  # subscribed again
    send(publisher, "noise", "nz-r-1", LAeq=45.0)
    wait_for(lambda: counter(redis_client, "messages:accepted") >= 2, timeout=30, message="reading after the restart")
    assert any("reconnected to broker" in r.getMessage() and "ingest" in r.getMessage() for r in caplog.records)


@pytest.fixture
def private_redis(tmp_path):
    server = redis_server(tmp_path / "redis").start()
    yield server
    server.stop()


def test_the_worker_holds_messages_while_redis_is_down_and_writes_them_after(start_ingest, settings, private_redis, publisher, caplog):
    caplog.set_level(logging.INFO)
    settings = settings.replace(redis_url=private_redis.url)
    start_ingest(settings)
    client = connect_redis(private_redis.url)
    snapshot = SnapshotStore(client, settings.redis_shards)
    birth(publisher, "noise", "nz-r-2")
    wait_for(lambda: snapshot.device("nz-r-2"), message="birth stored")
    time.sleep(1.5)  # appendfsync everysec: let the AOF reach the disk
    private_redis.kill()
    now = int(time.time() * 1000)
    send(publisher, "noise", "nz-r-2", ts=now, LAeq=61.0)
    wait_for(lambda: any("Redis unavailable" in r.getMessage() for r in caplog.records), timeout=30, message="worker notices")
    private_redis.start()
    device = wait_for(lambda: (d := _device(snapshot, "nz-r-2")) and d["latest"] and d, timeout=30, message="reading written after restart")
    assert device["latest"] == {"ts": now, "LAeq": 61.0}
    assert device["meta"]["district"] == "yangshe"  # the birth survived the restart (AOF)
    # said once the held batch is written: the reading may be read a moment before the line is logged
    wait_for(lambda: any("Redis is reachable again" in r.getMessage() for r in caplog.records), timeout=10,
             message="the worker says Redis is back")


def test_a_worker_stopped_while_redis_is_down_stops_and_says_what_it_did_not_write(start_ingest, settings, private_redis, publisher,
                                                                                  caplog):
    caplog.set_level(logging.INFO)
    running = start_ingest(settings.replace(redis_url=private_redis.url))
    private_redis.kill()
    birth(publisher, "noise", "nz-r-3")
    wait_for(lambda: any("Redis unavailable" in r.getMessage() for r in caplog.records), timeout=30, message="worker notices")
    running.stop()  # it does not wait for Redis to come back
    assert any("stopping while Redis is down: 1 messages not written" in r.getMessage() for r in caplog.records)


def _device(snapshot, device_id):
    try:
        return snapshot.device(device_id)
    except Exception:  # noqa: BLE001 - Redis still loading
        return None


def test_two_workers_on_a_shared_subscription_process_each_message_once(start_ingest, settings, publisher, redis_client):
    settings = settings.replace(device_max_rate=0)  # one device sends 400 readings at once: no rate limit
    a = start_ingest(settings.replace(ingest_group="ioc", ingest_client_id="ingest-a"))
    b = start_ingest(settings.replace(ingest_group="ioc", ingest_client_id="ingest-b"))
    birth(publisher, "noise", "nz-s-1")
    wait_for(lambda: counter(redis_client, "messages:accepted") == 1, message="birth")
    t0 = int(time.time() * 1000) - 100_000
    for i in range(400):
        send(publisher, "noise", "nz-s-1", ts=t0 + i * 10, LAeq=40.0 + i % 10)
    wait_for(lambda: counter(redis_client, "messages:accepted") + counter(redis_client, "messages:rejected") >= 401, message="all processed")
    wait_for(lambda: not any(w.worker.queue or w.worker.holding() for w in (a, b)), message="both workers' counts written")
    assert counter(redis_client, "messages:accepted") == 401
    assert counter(redis_client, "messages:rejected") == 0
    assert a.worker.processed > 0 and b.worker.processed > 0
    assert a.worker.processed + b.worker.processed == 401
