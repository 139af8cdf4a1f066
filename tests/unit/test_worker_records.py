"""What every worker records about itself, in one shape whoever writes it: dead letters
(ioc.adapters.deadletters), counters (ioc.adapters.counters), heartbeats (ioc.adapters.heartbeats)."""

from __future__ import annotations

from collections import Counter

import orjson

from ioc.adapters import counters, deadletters, heartbeats
from ioc.adapters import redis_keys as keys
from ioc.domain.telemetry import Rejection


class RecordingPipe:
    """Stands in for a redis-py client or pipeline: records the write commands."""

    def __init__(self):
        self.commands = []

    def __getattr__(self, name):
        return lambda *args, **kwargs: self.commands.append((name, args, kwargs))


def test_a_dead_letter_keeps_the_raw_payload_the_reason_and_the_worker():
    pipe = RecordingPipe()
    rejection = Rejection("not_json", "payload is not JSON", "ioc/v1/noise/nz-1/telemetry", b"{oops", 1_700_000_000_000, "nz-1")
    deadletters.add_in(pipe, rejection, "ioc-ingest-a", 10_000)
    ((command, args, kwargs),) = pipe.commands
    assert (command, args[0], kwargs) == ("xadd", keys.DEADLETTER, {"maxlen": 10_000, "approximate": True})
    assert args[1] == {"reason": "not_json", "detail": "payload is not JSON", "topic": "ioc/v1/noise/nz-1/telemetry",
                       "device": "nz-1", "payload": b"{oops", "received_ms": 1_700_000_000_000, "worker": "ioc-ingest-a"}


def test_rejections_count_in_total_and_per_reason():
    assert counters.rejections({"not_json": 2, "duplicate": 1, "outside_city": 0}) == Counter(
        {"messages:rejected": 3, "rejected:not_json": 2, "rejected:duplicate": 1})


def test_counters_skip_zero_increments():
    pipe = RecordingPipe()
    counters.add_in(pipe, {"cases:overdue_raised": 0, "cases:overdue_cleared": 2})
    assert pipe.commands == [("hincrby", (keys.METRICS, "cases:overdue_cleared", 2), {})]


def test_a_heartbeat_names_the_role_and_what_the_worker_holds():
    client = RecordingPipe()
    heartbeats.beat(client, "cases-h-1", "cases", 1_700_000_000_000, 12, 3, "ioc", mqtt=True)
    ((command, (key, worker, raw), _),) = client.commands
    beat = orjson.loads(raw)
    assert (command, key, worker) == ("hset", keys.WORKERS, "cases-h-1")
    assert {"role": "cases", "started_ms": 1_700_000_000_000, "processed": 12, "queued": 3, "group": "ioc", "mqtt": True}.items() <= beat.items()
    assert {"pid", "host", "seen_ms"} <= beat.keys()
