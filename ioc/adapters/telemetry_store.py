"""Writing a batch of validated messages to Redis in two calls.

1. `apply()`: one Lua call per device shard, pipelined in one round trip. The script applies the
   shard's births, status changes and located readings first (in arrival order), then its plain
   readings (in arrival order): latest state (only when newer than the stored one; the same ts
   again is a duplicate), device registry and geo index, online/offline. It returns a verdict per
   item, the district it resolved, and the stored rule states of the devices whose newer readings
   the caller will run rules on (only devices with a non-quiet state have one).
2. `write_rollups()`: the batch's per-district, per-kind aggregates, summed by the caller over
   the whole batch, added to the 1-minute and 1-hour buckets by one script call queued on the
   caller's pipeline (all buckets share one hash tag).

Plain readings (no location: nearly all telemetry) travel as flat ARGV strings, so the script
decodes no JSON for them; births and located readings travel as one JSON array.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
import redis

from . import redis_keys as keys

# Per item verdicts returned by the script.
ACCEPTED, LATE, DUPLICATE, UNKNOWN_DEVICE = "a", "l", "d", "u"

_STATE_SCRIPT = r"""
-- KEYS: 1 latest, 2 ts, 3 meta, 4 district, 5 state, 6 geo, 7 rules, 8 registry version, 9 state version
-- ARGV: 1 JSON array of special items (births, status changes, located readings; see
--       ioc.ingest.batch), then 4 strings per plain reading: device, ts, latest JSON, rules flag
local specials = cjson.decode(ARGV[1])
local nplain = (#ARGV - 1) / 4
local verdicts, districts = {}, {}

-- 1. Read what the batch needs: districts and latest ts of every device in it.
local devs, seen = {}, {}
for _, it in ipairs(specials) do
  local dev = it[2]
  if not seen[dev] then seen[dev] = true; devs[#devs + 1] = dev end
end
for p = 0, nplain - 1 do
  local dev = ARGV[2 + p * 4]
  if not seen[dev] then seen[dev] = true; devs[#devs + 1] = dev end
end
local dist, cur_ts = {}, {}
local CHUNK = 4000
for c = 1, #devs, CHUNK do
  local part = {unpack(devs, c, math.min(c + CHUNK - 1, #devs))}
  local ds = redis.call('HMGET', KEYS[4], unpack(part))
  local ts = redis.call('HMGET', KEYS[2], unpack(part))
  for j, dev in ipairs(part) do
    dist[dev] = ds[j] or false
    cur_ts[dev] = tonumber(ts[j]) or -1
  end
end

local function locate(dev, kind, d, lon, lat, cell, name)
  dist[dev] = d
  redis.call('HSET', KEYS[4], dev, d)
  redis.call('GEOADD', KEYS[6], lon, lat, dev)
  local raw = redis.call('HGET', KEYS[3], dev)
  local m
  if raw then m = cjson.decode(raw) else m = {kind = kind, name = name} end
  m.lat = lat; m.lon = lon; m.district = d; m.cell = cell
  if name ~= '' then m.name = name end
  return m
end

-- 2. Apply every item; accumulate the latest-state writes.
local latest_out, ts_out, rule_devs, rule_seen = {}, {}, {}, {}

local function reading(i, dev, ts, latest, rules)
  local d = dist[dev]
  if not d then verdicts[i] = 'u'; districts[i] = ''; return end
  districts[i] = d
  local prev = cur_ts[dev]
  if ts == prev then verdicts[i] = 'd'; return end
  if ts > prev then
    latest_out[dev] = latest; ts_out[dev] = ts; cur_ts[dev] = ts
    verdicts[i] = 'a'
    if rules and not rule_seen[dev] then rule_seen[dev] = true; rule_devs[#rule_devs + 1] = dev end
  else
    verdicts[i] = 'l'
  end
end

local i = 0
local meta_changed, state_changed = false, false
for _, it in ipairs(specials) do
  i = i + 1
  local typ, dev, kind, d = it[1], it[2], it[3], it[5]
  if typ == 't' then
    -- ["t", device, kind, ts, district, lon, lat, cell, latest JSON, rules flag]
    local m = locate(dev, kind, d, it[6], it[7], it[8], '')
    if m.name == nil or m.name == '' then m.name = dev end
    redis.call('HSET', KEYS[3], dev, cjson.encode(m))
    if redis.call('HSETNX', KEYS[5], dev, 'online') == 1 then state_changed = true end
    meta_changed = true
    reading(i, dev, it[4], it[9], it[10] == 1)
  else
    -- ["s", device, kind, "online"|"offline", district ("" when unlocated), lon, lat, cell, name, extra JSON]
    if d ~= '' then
      local m = locate(dev, kind, d, it[6], it[7], it[8], it[9])
      for ek, ev in pairs(cjson.decode(it[10])) do m[ek] = ev end
      redis.call('HSET', KEYS[3], dev, cjson.encode(m))
      meta_changed = true
    else
      d = dist[dev]
    end
    if not d then
      verdicts[i] = 'u'; districts[i] = ''
    else
      districts[i] = d
      redis.call('HSET', KEYS[5], dev, it[4])
      state_changed = true
      verdicts[i] = 'a'
    end
  end
end
for p = 0, nplain - 1 do
  i = i + 1
  local base = 2 + p * 4
  reading(i, ARGV[base], tonumber(ARGV[base + 1]), ARGV[base + 2], ARGV[base + 3] == '1')
end

-- Web processes cache the registry per shard until these counters move.
if meta_changed then redis.call('INCR', KEYS[8]) end
if state_changed then redis.call('INCR', KEYS[9]) end

-- 3. Write in bulk.
local function hset_all(key, map)
  local args = {}
  for f, v in pairs(map) do
    args[#args + 1] = f; args[#args + 1] = v
    if #args >= CHUNK then redis.call('HSET', key, unpack(args)); args = {} end
  end
  if #args > 0 then redis.call('HSET', key, unpack(args)) end
end
hset_all(KEYS[1], latest_out)
hset_all(KEYS[2], ts_out)

-- 4. Stored rule states (device, JSON pairs) of the devices whose newer readings run rules.
local states = {}
for c = 1, #rule_devs, CHUNK do
  local part = {unpack(rule_devs, c, math.min(c + CHUNK - 1, #rule_devs))}
  local got = redis.call('HMGET', KEYS[7], unpack(part))
  for j, dev in ipairs(part) do
    if got[j] then states[#states + 1] = dev; states[#states + 1] = got[j] end
  end
end

return {table.concat(verdicts), districts, states}
"""

_ROLLUP_SCRIPT = r"""
-- KEYS: the rollup buckets of the batch (1-minute and 1-hour, one hash tag)
-- ARGV: 1 JSON array, per key: [ttl seconds, [[field, n], [field, n, sum, max], ...]]
local buckets = cjson.decode(ARGV[1])
for k, bucket in ipairs(buckets) do
  local key = KEYS[k]
  for _, f in ipairs(bucket[2]) do
    local name = f[1]
    redis.call('HINCRBY', key, name .. ':n', f[2])
    if f[3] then
      redis.call('HINCRBYFLOAT', key, name .. ':s', f[3])
      local cur = tonumber(redis.call('HGET', key, name .. ':x'))
      if cur == nil or f[4] > cur then redis.call('HSET', key, name .. ':x', f[4]) end
    end
  end
  redis.call('EXPIRE', key, bucket[1])
end
return #buckets
"""


@dataclass
class ShardResult:
    verdicts: str  # one letter per item: specials first, then plain readings
    districts: list[str]  # per item, "" for unknown devices
    rule_states: dict[str, str] = field(default_factory=dict)  # device -> stored rule-state JSON


def _text(v) -> str:
    return v.decode() if isinstance(v, bytes) else v


class TelemetryStore:
    """Applies prepared items to Redis. See `ioc.ingest.batch` for how items are built."""

    def __init__(self, client: redis.Redis, shards: int, retention_s: int, hourly_retention_s: int):
        self.client = client
        self.shards = shards
        self.retention_s = retention_s
        self.hourly_retention_s = hourly_retention_s
        self._sha: str | None = None  # loaded lazily, and again after a Redis restart (NOSCRIPT)

    def shard_keys(self, shard: int) -> list[str]:
        return [
            keys.latest(shard), keys.latest_ts(shard), keys.meta(shard), keys.district(shard),
            keys.state(shard), keys.geo(shard), keys.rules(shard), keys.registry_version(shard), keys.state_version(shard),
        ]

    def apply(self, per_shard: dict[int, tuple[list, list]]) -> dict[int, ShardResult]:
        """per_shard: shard -> (special items, flat plain-reading args). One round trip."""
        if not per_shard:
            return {}
        if self._sha is None:
            self._sha = self.client.script_load(_STATE_SCRIPT)
        try:
            order, raw = self._run(per_shard)
        except redis.exceptions.NoScriptError:
            # Redis restarted and lost its script cache; no call of this pipeline has run.
            self._sha = self.client.script_load(_STATE_SCRIPT)
            order, raw = self._run(per_shard)
        results = {}
        for shard, (verdicts, districts, states) in zip(order, raw):
            results[shard] = ShardResult(
                _text(verdicts), [_text(d) for d in districts],
                {_text(states[j]): _text(states[j + 1]) for j in range(0, len(states), 2)},
            )
        return results

    def _run(self, per_shard) -> tuple[list[int], list]:
        """EVALSHA per shard, pipelined (no SCRIPT EXISTS check per batch)."""
        pipe = self.client.pipeline(transaction=False)
        order = []
        for shard, (specials, plain) in per_shard.items():
            pipe.evalsha(self._sha, 9, *self.shard_keys(shard), orjson.dumps(specials), *plain)
            order.append(shard)
        return order, pipe.execute()

    def write_rollups(self, pipe, minutes: dict[int, dict], hours: dict[int, dict]) -> None:
        """Queue on `pipe` the batch's aggregates: bucket -> field -> [n] or [n, sum, max]."""
        if not minutes and not hours:
            return
        bucket_keys, args = [], []
        for bucket, fields in minutes.items():
            bucket_keys.append(keys.rollup(bucket))
            args.append([self.retention_s, [[f, *v] for f, v in fields.items()]])
        for bucket, fields in hours.items():
            bucket_keys.append(keys.rollup_hourly(bucket))
            args.append([self.hourly_retention_s, [[f, *v] for f, v in fields.items()]])
        # EVAL, not EVALSHA: the script text is small, and a pipeline never meets NOSCRIPT.
        pipe.eval(_ROLLUP_SCRIPT, len(bucket_keys), *bucket_keys, orjson.dumps(args))
