"""One read of everything the big screen shows, per tick: devices (position, district, online),
active alarms, counters and the most recent 1-minute rollups, in two pipelined round trips."""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
import redis

from . import redis_keys as keys
from .alarm_store import AlarmStore
from .snapshot_store import SnapshotStore


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
class CitySnapshot:
    now_ms: int
    devices: list[DeviceRow] = field(default_factory=list)
    alarms: list[dict] = field(default_factory=list)  # active alarms, each with its "ack" (dict or None)
    counters: dict[str, int] = field(default_factory=dict)
    recent: dict[str, float] = field(default_factory=dict)  # merged rollup of the last complete minute
    current: dict[str, float] = field(default_factory=dict)  # merged rollup of the minute in progress


def read_devices(client: redis.Redis, shards: int) -> list[DeviceRow]:
    pipe = client.pipeline(transaction=False)
    for shard in range(shards):
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


def read_city(client: redis.Redis, shards: int, now_ms: int) -> CitySnapshot:
    snapshot = SnapshotStore(client, shards)
    minute = now_ms // 60_000
    return CitySnapshot(
        now_ms=now_ms,
        devices=read_devices(client, shards),
        alarms=AlarmStore(client).active(),
        counters=snapshot.counters(),
        recent=snapshot.rollup(minute - 1),
        current=snapshot.rollup(minute),
    )
