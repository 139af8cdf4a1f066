"""Fault tolerance by scale-out: two ingest worker processes on one MQTT shared subscription
(`IOC_INGEST_GROUP`) split the stream so that every message is processed exactly once.

tests/integration/test_recovery.py shows it for two in-process workers and one device's
telemetry; this runs two real `python -m ioc ingest` processes on a private Mosquitto with QoS 1
status messages (births, offline) and QoS 0 telemetry from hundreds of devices.
"""

from __future__ import annotations

import re
import time

import orjson
import pytest

from ioc.adapters.snapshot_store import SnapshotStore
from tests.conftest import wait_for
from tests.resilience.conftest import Feed, births, counter, settle

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_two_ingest_processes_on_a_shared_subscription_process_every_message_exactly_once(stack, spawn, mqtt):
    """300 births (QoS 1), ~4,000 readings (QoS 0, 2,000 msg/s) and 100 offline statuses (QoS 1)
    through two workers in group `ioc`: both take part; the messages each says it processed
    (its log line at a clean stop) add up to exactly what was published, so none was delivered
    to both and none to neither; every message is accepted once (a reading handled twice would be
    refused as a `duplicate`), and the registry agrees (300 devices, 100 of them offline)."""
    redis = stack.client()
    group = {"IOC_INGEST_GROUP": "ioc"}
    a = spawn("ingest", name="ingest-a", IOC_INGEST_CLIENT_ID="fault-ingest-a", **group)
    b = spawn("ingest", name="ingest-b", IOC_INGEST_CLIENT_ID="fault-ingest-b", **group)
    devices = [f"nz-s-{i:03d}" for i in range(300)]
    pub = mqtt()
    births(pub, "noise", devices)
    wait_for(lambda: counter(redis, "messages:accepted") == len(devices), message="the births")

    feed = Feed(pub, devices, 2000).start()  # ~7 msg/s per device: far under IOC_DEVICE_MAX_RATE
    time.sleep(2.0)
    readings = feed.stop()
    offline = [pub.publish(f"ioc/v1/noise/{d}/status", orjson.dumps({"state": "offline"}), qos=1, retain=True)
               for d in devices[:100]]
    for info in offline:
        info.wait_for_publish(10)
    published = len(devices) + readings + len(offline)

    processed = settle(lambda: counter(redis, "messages:accepted") + counter(redis, "messages:rejected"))
    assert processed == published, f"{processed} processed of {published} published"
    assert counter(redis, "messages:accepted") == published and counter(redis, "messages:rejected") == 0

    assert a.terminate() == 0 and b.terminate() == 0
    stopped = {p.name: int(re.search(r"stopped after (\d+) messages", p.log()).group(1)) for p in (a, b)}
    assert all(n > 0 for n in stopped.values()), stopped
    assert sum(stopped.values()) == published, stopped

    fleet = SnapshotStore(redis, 8).fleet()
    assert (fleet.devices, fleet.online) == (300, 200)
