"""Alarms in people's words through the real parts (MQTT, the ingest worker, Redis, the web app):
`/api/v1/alarms` keeps the raw fields and adds the display texts."""

from __future__ import annotations

import time

import pytest

from ioc.adapters.user_store import Actor
from tests.conftest import wait_for
from tests.integration.test_ingest_pipeline import birth, counter, send

YANGSHE = (120.556, 31.872)  # (lon, lat) in 杨舍镇


@pytest.fixture
def bearer(portal_client):
    _, secret = portal_client.users.create_token("wall", ["operator"], Actor("test", "admin"))
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def raised(ingest, publisher, redis_client):
    """A displaced manhole cover and a defective street lamp, each raised by two samples."""
    birth(publisher, "manhole", "mh-words-1", YANGSHE, "杨舍 井盖 1")
    birth(publisher, "streetlight", "sl-words-1", YANGSHE, "杨舍 路灯 53")
    wait_for(lambda: counter(redis_client, "messages:accepted") == 2, message="births")
    t0 = int(time.time() * 1000) - 10_000
    for i in range(2):
        send(publisher, "manhole", "mh-words-1", ts=t0 + i * 1000, displaced=True, tilt=3.0)
        send(publisher, "streetlight", "sl-words-1", ts=t0 + i * 1000, status="defectiveLamp", powerState="off")
    wait_for(lambda: counter(redis_client, "alarms:raised") == 2, message="two alarms")


def test_the_alarms_api_keeps_raw_values_and_adds_display_texts(raised, portal_client, bearer):
    answer = portal_client.get("/api/v1/alarms", headers=bearer)
    assert answer.status_code == 200
    items = {a["device_id"]: a for a in answer.get_json()["items"]}
    manhole, lamp = items["mh-words-1"], items["sl-words-1"]
    assert (manhole["attribute"], manhole["value"], lamp["value"]) == ("displaced", True, "defectiveLamp")
    assert (manhole["device_name"], lamp["device_name"]) == ("杨舍 井盖 1", "杨舍 路灯 53")
    assert (manhole["value_text_zh"], manhole["value_text_en"]) == ("井盖移位", "cover displaced")
    assert (lamp["value_text_zh"], lamp["value_text_en"]) == ("灯具故障", "defective lamp")
    assert lamp["text_zh"].endswith("杨舍 路灯 53（sl-words-1） · 灯具故障") and "杨舍镇" in lamp["text_zh"]
    assert manhole["text_en"].endswith("杨舍 井盖 1 (mh-words-1) · cover displaced")
    assert manhole["reading_text_zh"] == "井盖移位" and manhole["threshold_text_zh"] == ""
