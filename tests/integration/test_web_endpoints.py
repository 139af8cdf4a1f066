"""`/healthz` and `/metrics` served by the web process, with figures read from Redis."""

from __future__ import annotations

import pytest

from ioc.adapters import redis_keys as keys
from ioc.web.app import create_app
from tests.conftest import wait_for
from tests.integration.test_ingest_pipeline import birth, counter, send


@pytest.fixture
def web(settings):
    return create_app(settings).server.test_client()


def test_healthz_is_ok_when_redis_and_the_broker_answer(web):
    response = web.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["checks"]["redis"]["ok"] and body["checks"]["mqtt"]["ok"]


def test_healthz_is_503_when_redis_is_unreachable(settings):
    from ioc.adapters.embedded import free_port

    web = create_app(settings.replace(redis_url=f"redis://127.0.0.1:{free_port()}/0")).server.test_client()
    response = web.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["redis"]["ok"] is False


def test_healthz_is_503_when_the_broker_is_unreachable(settings):
    from ioc.adapters.embedded import free_port

    web = create_app(settings.replace(mqtt_url=f"mqtt://127.0.0.1:{free_port()}")).server.test_client()
    response = web.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["mqtt"]["ok"] is False


def test_metrics_count_accepted_and_rejected_messages_by_reason(ingest, publisher, redis_client, web):
    birth(publisher, "noise", "nz-m-1")
    send(publisher, "noise", "nz-m-1", LAeq=50.0)
    publisher.publish("ioc/v1/noise/nz-m-1/telemetry", b"garbage", qos=1).wait_for_publish(5)
    wait_for(lambda: counter(redis_client, "messages:rejected") == 1 and counter(redis_client, "messages:accepted") == 2, message="counts")
    text = web.get("/metrics").get_data(as_text=True)
    assert 'ioc_ingest_messages_total{result="accepted"} 2.0' in text
    assert 'ioc_ingest_messages_total{result="rejected"} 1.0' in text
    assert 'ioc_ingest_rejected_total{reason="not_json"} 1.0' in text
    assert 'ioc_ingest_rejected_total{reason="duplicate"} 0.0' in text
    assert 'ioc_devices{state="online"} 1.0' in text


def test_metrics_add_up_across_workers(redis_client, web):
    redis_client.hincrby(keys.METRICS, "messages:accepted", 5)  # worker A's counter
    redis_client.hincrby(keys.METRICS, "messages:accepted", 7)  # worker B's counter
    assert 'ioc_ingest_messages_total{result="accepted"} 12.0' in web.get("/metrics").get_data(as_text=True)


def test_metrics_name_their_content_type_with_one_charset(web):
    response = web.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"


def test_metrics_are_503_while_redis_is_unreachable(settings):
    from ioc.adapters.embedded import free_port

    web = create_app(settings.replace(redis_url=f"redis://127.0.0.1:{free_port()}/0")).server.test_client()
    assert web.get("/metrics").status_code == 503
