"""Reading what the ingest workers wrote: counters, device registry, alarms, rollups, dead letters.

All reads go through here so that the web process, the CLI and the tests agree on key layout.
"""

from __future__ import annotations

import orjson
import redis

from ioc.domain.city_state import DeviceRow, FleetCounts

from . import counters, deadletters, heartbeats
from . import redis_keys as keys


def _s(v) -> str:
    return v.decode() if isinstance(v, bytes) else v


# Rollup resolution -> key function (bucket) -> key.
ROLLUP_KEYS = {"minute": keys.rollup, "hour": keys.rollup_hourly}


def numbers(fields) -> dict[str, float]:
    return {_s(k): float(v) for k, v in fields.items()}


def device_rows(metas: dict, states: dict) -> list[DeviceRow]:
    """Rows of the devices whose registry entry has a position, from a shard's meta and state hashes."""
    rows = []
    for dev, m in metas.items():
        meta = orjson.loads(m)
        if "lat" not in meta or "lon" not in meta:
            continue
        name = _s(dev)
        rows.append(DeviceRow(
            name, meta.get("kind", ""), meta.get("name") or name, meta["lon"], meta["lat"],
            meta.get("district", ""), states.get(dev) in (b"online", "online"), meta.get("cell") or "",
        ))
    return rows


class SnapshotStore:
    def __init__(self, client: redis.Redis, shards: int):
        self.client = client
        self.shards = shards

    def ping(self) -> bool:
        return bool(self.client.ping())

    def counters(self) -> dict[str, int]:
        return counters.read(self.client)

    def device_names(self, device_ids) -> dict[str, str]:
        """id -> registered name of the given devices (one round trip; unknown or unnamed ones left out)."""
        ids = sorted(set(device_ids))
        if not ids:
            return {}
        pipe = self.client.pipeline(transaction=False)
        for device_id in ids:
            pipe.hget(keys.meta(keys.shard_of(device_id, self.shards)), device_id)
        out = {}
        for device_id, meta in zip(ids, pipe.execute()):
            name = orjson.loads(meta).get("name") if meta else None
            if name:
                out[device_id] = str(name)
        return out

    def device_positions(self, device_ids) -> dict[str, tuple[float, float]]:
        """device id -> (lon, lat) of its registration (devices without a position left out), in
        one round trip."""
        ids = list(device_ids)
        pipe = self.client.pipeline(transaction=False)
        for device_id in ids:
            pipe.hget(keys.meta(keys.shard_of(device_id, self.shards)), device_id)
        out = {}
        for device_id, meta in zip(ids, pipe.execute() if ids else []):
            m = orjson.loads(meta) if meta else {}
            lon, lat = m.get("lon"), m.get("lat")
            if isinstance(lon, (int, float)) and isinstance(lat, (int, float)) and not isinstance(lon, bool):
                out[device_id] = (float(lon), float(lat))
        return out

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

    def latest_values(self, device_ids: list[str], attribute: str) -> dict[str, float]:
        """device id -> the numeric `attribute` of its latest reading (devices without one left
        out), in one round trip (one HMGET per shard)."""
        by_shard: dict[int, list[str]] = {}
        for device_id in device_ids:
            by_shard.setdefault(keys.shard_of(device_id, self.shards), []).append(device_id)
        if not by_shard:
            return {}
        pipe = self.client.pipeline(transaction=False)
        for shard, ids in by_shard.items():
            pipe.hmget(keys.latest(shard), ids)
        out = {}
        for ids, values in zip(by_shard.values(), pipe.execute()):
            for device_id, raw in zip(ids, values):
                if raw is None:
                    continue
                value = orjson.loads(raw).get(attribute)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    out[device_id] = float(value)
        return out

    def registry_size(self) -> int:
        """How many devices are registered (one HLEN per shard)."""
        pipe = self.client.pipeline(transaction=False)
        for shard in range(self.shards):
            pipe.hlen(keys.meta(shard))
        return sum(int(n) for n in pipe.execute())

    def devices(self) -> list[DeviceRow]:
        """Every registered device with its position, district, cell and online state (sorted by id)."""
        pipe = self.client.pipeline(transaction=False)
        for shard in range(self.shards):
            pipe.hgetall(keys.meta(shard))
            pipe.hgetall(keys.state(shard))
        raw = pipe.execute()
        rows = []
        for i in range(0, len(raw), 2):
            rows.extend(device_rows(raw[i], raw[i + 1]))
        rows.sort(key=lambda r: r.id)
        return rows

    def shard_devices(self, shard: int) -> list[DeviceRow]:
        """The registered devices of one shard (unsorted)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(keys.meta(shard))
        pipe.hgetall(keys.state(shard))
        metas, states = pipe.execute()
        return device_rows(metas, states)

    def shard_online(self, shard: int) -> set[str]:
        """Ids of the shard's devices whose state is online."""
        return {_s(dev) for dev, state in self.client.hgetall(keys.state(shard)).items() if state == b"online" or state == "online"}

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
        """The newest `count` raised / acknowledged / cleared events (a notifier's `notified`
        entries on the same stream are not alarm transitions: left out)."""
        out = []
        for entry_id, fields in self.client.xrevrange(keys.ALARMS_EVENTS, count=2 * count):
            if fields[b"event"] == b"notified":
                continue
            out.append({"id": _s(entry_id), "event": _s(fields[b"event"]), **orjson.loads(fields[b"alarm"])})
        return out[:count]

    def deadletters(self, count: int = 50) -> list[dict]:
        return deadletters.recent(self.client, count)

    def rollup(self, minute: int) -> dict[str, float]:
        """The fields of one 1-minute bucket as numbers (counts, sums, maxima)."""
        return numbers(self.client.hgetall(keys.rollup(minute)))

    def rollup_series(self, resolution: str, start: int, end: int) -> dict[int, dict[str, float]]:
        """Buckets `start` <= bucket < `end` (epoch minutes for "minute", epoch hours for
        "hour"), in one round trip. Every bucket of the range is a key; a missing one is {}."""
        key_of = ROLLUP_KEYS.get(resolution)
        if key_of is None:
            raise ValueError(f"resolution must be one of {sorted(ROLLUP_KEYS)}, not {resolution!r}")
        buckets = range(start, end)
        pipe = self.client.pipeline(transaction=False)
        for bucket in buckets:
            pipe.hgetall(key_of(bucket))
        raw = pipe.execute() if buckets else []
        return {bucket: numbers(fields) for bucket, fields in zip(buckets, raw)}

    def workers(self) -> dict[str, dict]:
        return heartbeats.read(self.client)
