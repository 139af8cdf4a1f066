"""Fault: one device floods the broker (a firmware bug, a stuck loop, an attacker with one
device's credentials). The ingest limits each device to IOC_DEVICE_MAX_RATE messages per second;
the rest of the city is unaffected and the excess is counted as `rejected:rate_limited`."""

from __future__ import annotations

import math
import time

import pytest

from ioc.adapters import redis_keys as keys
from ioc.adapters.snapshot_store import SnapshotStore
from tests.conftest import wait_for
from tests.resilience.conftest import Feed, birth, births, counter, settle

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LIMIT = 50  # IOC_DEVICE_MAX_RATE for this test
FLOOD_RATE = 2000
DURATION_S = 3.0


def test_a_flooding_device_is_rate_limited_and_the_rest_of_the_city_is_unaffected(stack, spawn, mqtt):
    """One crowd counter publishes ~2,000 readings a second for 3 s while 50 noise sensors
    publish 2 a second each, through one ingest process with IOC_DEVICE_MAX_RATE=50.

    * every reading of the 50 others is accepted and each ends with its newest reading;
    * the flooder gets about the limit × the seconds it flooded: the limit counts messages per
      device per wall-clock second of the worker's receive time, so a flood spanning D seconds
      touches between floor(D) and ceil(D) + 1 such windows;
    * everything else it sent is counted in `rejected:rate_limited` (and nothing under any other
      reason), with a sample in the dead-letter stream rather than thousands of entries.
    """
    redis = stack.client()
    spawn("ingest", IOC_INGEST_CLIENT_ID="fault-ingest-flood", IOC_DEVICE_MAX_RATE=str(LIMIT))
    city = [f"nz-f-{i:02d}" for i in range(50)]
    pub, flood_pub = mqtt(), mqtt()
    births(pub, "noise", city)
    birth(flood_pub, "crowd", "cr-flood")
    wait_for(lambda: counter(redis, "messages:accepted") == len(city) + 1, message="the births")

    normal = Feed(pub, city, 100).start()  # 2 readings a second per device
    flood = Feed(flood_pub, ["cr-flood"], FLOOD_RATE, kind="crowd", values=lambda i: {"peopleCount": i % 5000}).start()
    time.sleep(DURATION_S)
    flooded = flood.stop()
    normal_sent = normal.stop()
    span_s = flood.sent_at[-1] - flood.sent_at[0]
    assert flooded > FLOOD_RATE * DURATION_S * 0.5, f"the test publisher only managed {flooded} messages"

    settle(lambda: counter(redis, "messages:accepted") + counter(redis, "messages:rejected"))
    assert counter(redis, "accepted:noise") == len(city) + normal_sent  # births + every normal reading
    snapshot = SnapshotStore(redis, 8)
    newest = {}
    for i in range(normal_sent):
        newest[city[i % len(city)]] = i
    for d in city[:10]:
        assert snapshot.device(d)["latest"]["LAeq"] == 40.0 + newest[d] % 30

    flood_accepted = counter(redis, "accepted:crowd") - 1  # without its birth
    lo, hi = LIMIT * math.floor(span_s), LIMIT * (math.ceil(span_s) + 1)
    assert lo <= flood_accepted <= hi, f"flooder accepted {flood_accepted}, expected {lo}..{hi} over {span_s:.2f}s"
    assert counter(redis, "rejected:rate_limited") == flooded - flood_accepted
    assert counter(redis, "messages:rejected") == counter(redis, "rejected:rate_limited")
    samples = [f for _i, f in redis.xrange(keys.DEADLETTER)]
    assert 1 <= len(samples) <= math.ceil(span_s) + 1
    assert all(f[b"reason"] == b"rate_limited" and f[b"device"] == b"cr-flood" for f in samples)
