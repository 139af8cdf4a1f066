"""What a simulated device says on the broker about itself: its status topic and birth payload
(see the MQTT topics in the README). Shared by the live simulation (`run`) and the backfill."""

from __future__ import annotations

import orjson


def status_topic(kind: str, device_id: str) -> str:
    return f"ioc/v1/{kind}/{device_id}/status"


def birth_payload(device) -> bytes:
    return orjson.dumps({"state": "online", "lat": device.lat, "lon": device.lon, "name": device.name})
