"""The demo's backfill of the past (simulators.backfill) goes through the real ingest: births,
validation, rollups into each reading's own hour; the past readings arrive late, so they never
become a device's latest state."""

from __future__ import annotations

import time

import orjson
import pytest

from ioc.adapters import redis_keys as keys
from ioc.adapters.snapshot_store import SnapshotStore
from ioc.views.trends import TREND_PANELS, panel_series
from simulators.backfill import BACKFILL_KINDS, backfill_devices, run_backfill
from simulators.fleet import build_fleet
from tests.conftest import wait_for

HOURS = 6


@pytest.fixture(scope="module")
def small_fleet(city):
    return build_fleet(city, 300, seed=7)


@pytest.fixture
def backfilled(settings, ingest, redis_client, small_fleet):
    """Six hours backfilled through a running ingest; (now, readings sent, metrics)."""
    now = time.time()
    sent = run_backfill(settings.mqtt_url, small_fleet, now - HOURS * 3600, now, step_s=600.0,
                        max_age_s=settings.ingest_max_age_s, device_max_rate=settings.device_max_rate)
    devices = len(backfill_devices(small_fleet))

    def metrics():
        m = {k.decode(): int(v) for k, v in redis_client.hgetall(keys.METRICS).items()}
        return m if m.get("messages:accepted", 0) >= sent + 2 * devices else None  # births, "now" readings, the past

    return now, sent, wait_for(metrics, timeout=60, message="the backfill through the ingest")


def test_the_backfill_fills_every_hour_of_the_trend_panels(backfilled, settings, redis_client, small_fleet):
    now, sent, _ = backfilled
    assert sent > 0
    hour = int(now // 3600)
    buckets = SnapshotStore(redis_client, settings.redis_shards).rollup_series("hour", hour - HOURS + 1, hour + 1)
    hotspots = len(small_fleet.of_kind("crowd"))
    for panel in TREND_PANELS:
        series = panel_series(panel, buckets, devices=hotspots)
        assert None not in series.y, panel.key
    assert {p.kind for p in TREND_PANELS} <= set(BACKFILL_KINDS)


def test_the_backfill_passes_validation_and_arrives_late(backfilled):
    _, sent, metrics = backfilled
    assert metrics.get("messages:rejected", 0) == 0, metrics
    assert metrics["messages:late"] >= sent


def test_the_backfill_leaves_each_device_with_its_current_reading(backfilled, settings, redis_client, small_fleet):
    now, _, _ = backfilled
    for device in backfill_devices(small_fleet)[:20]:
        raw = redis_client.hget(keys.latest(keys.shard_of(device.id, settings.redis_shards)), device.id)
        assert orjson.loads(raw)["ts"] >= int(now * 1000) - 1000, device.id
