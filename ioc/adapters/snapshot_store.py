"""Reading what the ingest workers wrote: counters, device registry, alarms, rollups, dead letters.

All reads go through here so that the web process, the CLI and the tests agree on key layout.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import orjson
import redis

from . import redis_keys as keys


@dataclass(frozen=True, slots=True)
class DeviceRow:
    id: str
    kind: str
    name: str
    lon: float
    lat: float
    district: str
    online: bool
    cell: str = ""


@dataclass
class FleetCounts:
    devices: int = 0
    online: int = 0
    by_kind: Counter = field(default_factory=Counter)
    online_by_kind: Counter = field(default_factory=Counter)
    by_district: Counter = field(default_factory=Counter)


def _s(v) -> str:
    return v.decode() if isinstance(v, bytes) else v


# Rollup resolution -> key function (shard, bucket) -> key.
ROLLUP_KEYS = {"minute": keys.rollup, "hour": keys.rollup_hourly}


def _merge(parts) -> dict[str, float]:
    """One bucket's shard hashes merged: sums and counts added, maxima (`:x`) maxed."""
    merged: dict[str, float] = defaultdict(float)
    for part in parts:
        for k, v in part.items():
            name, value = _s(k), float(v)
            if name.endswith(":x"):
                merged[name] = max(merged.get(name, value), value)
            else:
                merged[name] += value
    return dict(merged)


class SnapshotStore:
    def __init__(self, client: redis.Redis, shards: int):
        self.client = client
        self.shards = shards

    def ping(self) -> bool:
        return bool(self.client.ping())

    def counters(self) -> dict[str, int]:
        return {_s(k): int(v) for k, v in self.client.hgetall(keys.METRICS).items()}

    def device(self, device_id: str) -> dict | None:
        shard = keys.shard_of(device_id, self.shards)
        pipe = self.client.pipeline(transaction=False)
        pipe.hget(keys.meta(shard), device_id)
        pipe.hget(keys.latest(shard), device_id)
        pipe.hget(keys.state(shard), device_id)
        meta, latest, state = pipe.execute()
        if meta is None and latest is None:
            return None
        return {
            "id": device_id,
            "meta": orjson.loads(meta) if meta else {},
            "latest": orjson.loads(latest) if latest else None,
            "state": _s(state) if state else None,
        }

    def devices(self) -> list[DeviceRow]:
        """Every registered device with its position, district, cell and online state (sorted by id)."""
        pipe = self.client.pipeline(transaction=False)
        for shard in range(self.shards):
            pipe.hgetall(keys.meta(shard))
            pipe.hgetall(keys.state(shard))
        raw = pipe.execute()
        rows = []
        for i in range(0, len(raw), 2):
            metas, states = raw[i], raw[i + 1]
            for dev, m in metas.items():
                meta = orjson.loads(m)
                if "lat" not in meta or "lon" not in meta:
                    continue
                rows.append(DeviceRow(
                    dev.decode(), meta.get("kind", ""), meta.get("name") or dev.decode(), meta["lon"], meta["lat"],
                    meta.get("district", ""), states.get(dev) == b"online", meta.get("cell") or "",
                ))
        rows.sort(key=lambda r: r.id)
        return rows

    def fleet(self) -> FleetCounts:
        counts = FleetCounts()
        for d in self.devices():
            counts.devices += 1
            counts.by_kind[d.kind] += 1
            counts.by_district[d.district] += 1
            if d.online:
                counts.online += 1
                counts.online_by_kind[d.kind] += 1
        return counts

    def active_alarms(self) -> list[dict]:
        return [orjson.loads(v) for v in self.client.hvals(keys.ALARMS_ACTIVE)]

    def alarm_events(self, count: int = 50) -> list[dict]:
        out = []
        for entry_id, fields in self.client.xrevrange(keys.ALARMS_EVENTS, count=count):
            out.append({"id": _s(entry_id), "event": _s(fields[b"event"]), **orjson.loads(fields[b"alarm"])})
        return out

    def deadletters(self, count: int = 50) -> list[dict]:
        out = []
        for entry_id, fields in self.client.xrevrange(keys.DEADLETTER, count=count):
            entry = {_s(k): v for k, v in fields.items()}
            out.append({
                "id": _s(entry_id),
                "reason": _s(entry.get("reason", b"")),
                "detail": entry.get("detail", b"").decode("utf-8", "replace"),
                "topic": entry.get("topic", b"").decode("utf-8", "replace"),
                "device": _s(entry.get("device", b"")),
                "payload": entry.get("payload", b""),
                "received_ms": int(entry.get("received_ms", 0)),
            })
        return out

    def rollup(self, minute: int) -> dict[str, float]:
        """Merged fields of one 1-minute bucket across shards (sums and counts added, maxima maxed)."""
        pipe = self.client.pipeline(transaction=False)
        for shard in range(self.shards):
            pipe.hgetall(keys.rollup(shard, minute))
        return _merge(pipe.execute())

    def rollup_series(self, resolution: str, start: int, end: int) -> dict[int, dict[str, float]]:
        """Merged buckets `start` <= bucket < `end` (epoch minutes for "minute", epoch hours for
        "hour"), in one round trip. Every bucket of the range is a key; a missing one is {}."""
        key_of = ROLLUP_KEYS.get(resolution)
        if key_of is None:
            raise ValueError(f"resolution must be one of {sorted(ROLLUP_KEYS)}, not {resolution!r}")
        buckets = range(start, end)
        pipe = self.client.pipeline(transaction=False)
        for bucket in buckets:
            for shard in range(self.shards):
                pipe.hgetall(key_of(shard, bucket))
        raw = pipe.execute() if buckets else []
        n = self.shards
        return {bucket: _merge(raw[i * n:(i + 1) * n]) for i, bucket in enumerate(buckets)}

    def workers(self) -> dict[str, dict]:
        return {_s(k): orjson.loads(v) for k, v in self.client.hgetall(keys.WORKERS).items()}
