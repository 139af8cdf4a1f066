"""Writing a batch of validated messages to Redis in two calls.

1. `apply()`: one Lua call per device shard, pipelined in one round trip. The script applies the
   shard's births, status changes and located readings first (in arrival order), then its plain
   readings (in arrival order): latest state (only when newer than the stored one; the same ts
   again is a duplicate), device registry and geo index, online/offline. It returns a verdict per
   item, the district it resolved, and the stored rule states of the devices whose newer readings
   the caller will run rules on (only devices with a non-quiet state have one).
2. `write_rollups()`: the batch's per-district, per-kind aggregates, summed by the caller over
   the whole batch, added to the 1-minute and 1-hour buckets by one script call queued on the
   caller's pipeline (all buckets share one hash tag). A bucket lives its retention counted from
   the bucket's own time (not from the write): a bucket already past its retention (the demo's
   seven days of history, `simulators.history`) is not written, so old minute buckets never sit
   in Redis for another 48 hours; the record keeps them (computed by the recorder).
3. `write_rule_states()`: the rule states the caller's rules left (or dropped), queued on the
   caller's pipeline.
4. `write_readings()`: the batch's accepted readings (late ones included: they count in the
   rollups too), one entry per shard on `ioc:{sN}:readings` (field `r`, a JSON array of
   `[device, kind, district, ts ms, {attribute: value, …}]`), queued on the caller's pipeline
   with the rule states. The registry changes (births, online/offline, moves) go on
   `ioc:{sN}:registry` from the script of step 1, in the same step as the change. Both streams are
   capped at about `stream_maxlen` entries (IOC_RECORD_READINGS_MAXLEN) and read by the recorder.

Plain readings (no location: nearly all telemetry) travel as flat ARGV strings, so the script
decodes no JSON for them; births and located readings travel as one JSON array.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import orjson
import redis

from . import redis_keys as keys
from . import scripts

STREAM_MAXLEN = 100_000  # default cap of the registry and readings streams (settings.record_readings_maxlen's default)

# Per item verdicts returned by the script.
ACCEPTED, LATE, DUPLICATE, UNKNOWN_DEVICE = "a", "l", "d", "u"


@dataclass
class ShardResult:
    verdicts: str  # one letter per item: specials first, then plain readings
    districts: list[str]  # per item, "" for unknown devices
    rule_states: dict[str, str] = field(default_factory=dict)  # device -> stored rule-state JSON


def bucket_ttl(end_ms: int, retention_s: int, now_ms: int) -> int:
    """Seconds a rollup bucket ending at `end_ms` has left of its retention (counted from its
    end, at most `retention_s`); 0 or less: past it, not worth writing."""
    return min(retention_s, retention_s - (now_ms - end_ms) // 1000)


def _text(v) -> str:
    return v.decode() if isinstance(v, bytes) else v


def trim_recorded(client, shard: int, stream: str, upto_id: str) -> int:
    """Drop the entries of the shard's `stream` ("registry" or "readings") before `upto_id` (the
    recorder's committed offset: they are in PostgreSQL), so that Redis holds only what is not yet
    recorded; approximate (whole stream nodes). Returns how many went."""
    key = {"registry": keys.registry_stream, "readings": keys.readings_stream}[stream](shard)
    return int(client.xtrim(key, minid=upto_id, approximate=True))


class TelemetryStore:
    """Applies prepared items to Redis. See `ioc.ingest.batch` for how items are built."""

    def __init__(self, client: redis.Redis, shards: int, retention_s: int, hourly_retention_s: int,
                 stream_maxlen: int = STREAM_MAXLEN):
        """`stream_maxlen`: the cap of the registry and readings streams (settings.record_readings_maxlen)."""
        self.client = client
        self.shards = shards
        self.retention_s = retention_s
        self.hourly_retention_s = hourly_retention_s
        self.stream_maxlen = int(stream_maxlen)

    def shard_keys(self, shard: int) -> list[str]:
        return [
            keys.latest(shard), keys.latest_ts(shard), keys.meta(shard), keys.district(shard),
            keys.state(shard), keys.geo(shard), keys.rules(shard), keys.registry_version(shard), keys.state_version(shard),
            keys.registry_stream(shard),
        ]

    def apply(self, per_shard: dict[int, tuple[list, list]]) -> dict[int, ShardResult]:
        """per_shard: shard -> (special items, flat plain-reading args). One round trip."""
        if not per_shard:
            return {}
        order = list(per_shard)
        cap = self.stream_maxlen
        raw = scripts.run_batch(self.client, scripts.TELEMETRY_APPLY, (
            (self.shard_keys(shard), (orjson.dumps(per_shard[shard][0]), cap, *per_shard[shard][1])) for shard in order))
        results = {}
        for shard, (verdicts, districts, states) in zip(order, raw):
            results[shard] = ShardResult(
                _text(verdicts), [_text(d) for d in districts],
                {_text(states[j]): _text(states[j + 1]) for j in range(0, len(states), 2)},
            )
        return results

    def write_rollups(self, pipe, minutes: dict[int, dict], hours: dict[int, dict], now_ms: int | None = None) -> None:
        """Queue on `pipe` the batch's aggregates: bucket -> field -> [n] or [n, sum, max]. Each
        bucket expires its retention after the bucket's end (`bucket_ttl`); one already past it
        is left out."""
        if not minutes and not hours:
            return
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        bucket_keys, args = [], []
        for bucket, fields in minutes.items():
            ttl = bucket_ttl((bucket + 1) * 60_000, self.retention_s, now_ms)
            if ttl > 0:
                bucket_keys.append(keys.rollup(bucket))
                args.append([ttl, [[f, *v] for f, v in fields.items()]])
        for bucket, fields in hours.items():
            ttl = bucket_ttl((bucket + 1) * 3_600_000, self.hourly_retention_s, now_ms)
            if ttl > 0:
                bucket_keys.append(keys.rollup_hourly(bucket))
                args.append([ttl, [[f, *v] for f, v in fields.items()]])
        if not bucket_keys:
            return
        # EVAL, not EVALSHA: the script text is small, and a pipeline never meets NOSCRIPT.
        scripts.queue(pipe, scripts.ROLLUP_ADD, bucket_keys, [orjson.dumps(args)])

    def write_readings(self, pipe, readings: dict[int, list]) -> None:
        """Queue on `pipe` one readings-stream entry per shard: shard -> [[device, kind, district,
        ts ms, values], …] (the accepted readings of the batch)."""
        for shard, rows in readings.items():
            if rows:
                pipe.xadd(keys.readings_stream(shard), {"r": orjson.dumps(rows)}, maxlen=self.stream_maxlen, approximate=True)

    @staticmethod
    def write_rule_states(pipe, states: dict[int, dict[str, str]], quiet: dict[int, list[str]]) -> None:
        """Queue on `pipe` the rule states to keep (shard -> device -> JSON) and drop the stored
        states of the devices whose rules all went quiet (shard -> devices)."""
        for shard, by_device in states.items():
            pipe.hset(keys.rules(shard), mapping=by_device)
        for shard, devices in quiet.items():
            pipe.hdel(keys.rules(shard), *devices)
