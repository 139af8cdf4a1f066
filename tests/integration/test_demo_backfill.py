"""`python -m ioc demo` fills the trend panels' past 24 hours through the real ingest at its first
start, and not again when it restarts on data that already holds them."""

from __future__ import annotations

import os
import re
import signal
import time

import pytest
import redis

from ioc.adapters.embedded import free_port
from ioc.adapters.snapshot_store import SnapshotStore
from ioc.views.trends import TREND_PANELS, panel_series
from tests.conftest import wait_for
from tests.integration.test_redis_loading import run_demo

pytestmark = pytest.mark.slow


def banner_redis_url(log: str) -> str:
    return re.search(r"Redis:\s+(redis://\S+)", log).group(1)


def test_a_fresh_demo_fills_the_last_24_hours_once(tmp_path):
    port = free_port()
    procs = []
    try:
        first, out = run_demo(tmp_path, port, "first.log")
        procs.append((first, out))
        log_path = tmp_path / "first.log"
        wait_for(lambda: "100 %" in log_path.read_text() or first.poll() is not None, timeout=180,
                 message="the backfill's progress bar at 100 %")
        assert first.poll() is None, log_path.read_text()
        log = log_path.read_text()
        assert "Trends: filling the past from" in log and re.search(r"backfill 2\d h \[#+\] 100 %", log)
        client = redis.Redis.from_url(banner_redis_url(log))
        hour = int(time.time() // 3600)

        def full_day():
            buckets = SnapshotStore(client, 8).rollup_series("hour", hour - 23, hour + 1)
            return all(None not in panel_series(panel, buckets, devices=1).y for panel in TREND_PANELS)

        wait_for(full_day, timeout=60, message="24 hours in every trend panel")
        client.close()
        os.kill(first.pid, signal.SIGINT)
        assert first.wait(timeout=30) == 0

        second, out = run_demo(tmp_path, port, "second.log")
        procs.append((second, out))
        second_log = tmp_path / "second.log"
        wait_for(lambda: "Trends:" in second_log.read_text() or second.poll() is not None, timeout=60, message="banner")
        assert "the data already holds the last 24 hours: no backfill" in second_log.read_text()
        os.kill(second.pid, signal.SIGINT)
        assert second.wait(timeout=30) == 0
        assert "backfill" not in second_log.read_text().split("Trends:", 1)[1].split("\n", 1)[1]
    finally:
        for proc, out in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            out.close()
