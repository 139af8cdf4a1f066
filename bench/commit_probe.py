"""Publish → committed in Redis, measured on a sample of devices.

The paced publisher sets each reading's `ts` to its publish time (epoch ms). This thread polls
the `ioc:{sN}:ts` hashes (latest ts per device, written by the ingest's batch script in the
same script call as the reading's state and rollups) for a fixed sample of devices spread over
every shard: one pipelined HMGET per shard, every millisecond. When a sampled device's ts
changes, the reading with that ts has just been committed: latency = now − ts. The polling
costs Redis a few thousand small commands per second; resolution is the poll period (~1 ms).
"""

from __future__ import annotations

import threading
import time

from ioc.adapters import redis_keys as keys


class CommitProbe(threading.Thread):
    def __init__(self, client, device_ids: list[str], shards: int, period_s: float = 0.001):
        super().__init__(daemon=True, name="commit-probe")
        self.client = client
        self.period = period_s
        self.by_shard: dict[int, list[str]] = {}
        for dev in device_ids:
            self.by_shard.setdefault(keys.shard_of(dev, shards), []).append(dev)
        self.last: dict[str, int] = {}
        self.samples: list[tuple[float, float]] = []  # (commit time s, latency ms)
        self.halt = threading.Event()
        self.polls = 0

    def _read(self) -> dict[str, int]:
        pipe = self.client.pipeline(transaction=False)
        order = []
        for shard, devs in self.by_shard.items():
            pipe.hmget(keys.latest_ts(shard), devs)
            order.append(devs)
        out = {}
        for devs, values in zip(order, pipe.execute()):
            for dev, v in zip(devs, values):
                out[dev] = int(v) if v is not None else -1
        return out

    def run(self) -> None:
        self.last = self._read()
        while not self.halt.is_set():
            t = time.time()
            current = self._read()
            seen = time.time()
            self.polls += 1
            for dev, ts in current.items():
                if ts > self.last.get(dev, -1):
                    self.samples.append((seen, seen * 1000 - ts))
            self.last = current
            rest = self.period - (time.time() - t)
            if rest > 0:
                time.sleep(rest)

    def take(self, since: float, until: float) -> list[float]:
        return [lat for t, lat in self.samples if since <= t <= until]

    def stop(self) -> None:
        self.halt.set()
        self.join(5)
