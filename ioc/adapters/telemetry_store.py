"""Writing a batch of validated messages to Redis: one Lua call per shard, pipelined.

The script applies, in order, each reading and status change of its shard: latest state (only
when newer than the stored one; the same ts again is a duplicate), device registry and geo index
from births and located readings, online/offline, and per-district/per-kind 1-minute and
1-hour rollups (summed inside the script, written once per field per bucket per batch). It returns a verdict per item, the
district it resolved, and the rule states the caller asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
import redis

from . import redis_keys as keys

# Per item verdicts returned by the script.
ACCEPTED, LATE, DUPLICATE, UNKNOWN_DEVICE = "a", "l", "d", "u"

_SCRIPT = r"""
-- KEYS: 1 latest, 2 ts, 3 meta, 4 district, 5 state, 6 geo, 7 rules, 8.. minute buckets, then hour buckets
-- ARGV: 1 minute retention seconds, 2 JSON array of items (see ioc.ingest.batch.prepare),
--       3 hour retention seconds
local items = cjson.decode(ARGV[2])
local retention = tonumber(ARGV[1])
local retention_hourly = tonumber(ARGV[3])
local verdicts, districts, rulestates = {}, {}, {}

-- 1. Read what the batch needs in two calls: districts and latest ts of every device in it.
local devs, seen = {}, {}
for _, it in ipairs(items) do
  local dev = it[2]
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

-- 2. Apply every item in order; accumulate writes.
local latest_out, ts_out, rule_devs = {}, {}, {}
local acc = {}  -- rollup key index -> field -> {sum, count, max} (count only for categories)
local hourly = {}  -- rollup key indexes that are hour buckets

local function accumulate(k, prefix, it)
  local a = acc[k]; if not a then a = {}; acc[k] = a end
  local r = a[prefix .. '_']; if not r then r = {0, 0, false}; a[prefix .. '_'] = r end
  r[2] = r[2] + 1
  for _, nv in ipairs(it[11]) do
    local f = prefix .. nv[1]
    local v = nv[2]
    r = a[f]
    if not r then a[f] = {v, 1, v} else
      r[1] = r[1] + v; r[2] = r[2] + 1
      if v > r[3] then r[3] = v end
    end
  end
  for _, c in ipairs(it[12]) do
    local f = prefix .. c
    r = a[f]; if not r then a[f] = {0, 1, false} else r[2] = r[2] + 1 end
  end
end
for i, it in ipairs(items) do
  local typ, dev, kind = it[1], it[2], it[3]
  local d = it[5]
  rulestates[i] = ''
  if typ == 't' then
    if d ~= '' then
      local m = locate(dev, kind, d, it[6], it[7], it[8], '')
      if m.name == nil or m.name == '' then m.name = dev end
      redis.call('HSET', KEYS[3], dev, cjson.encode(m))
      redis.call('HSETNX', KEYS[5], dev, 'online')
    else
      d = dist[dev]
    end
    if not d then
      verdicts[i] = 'u'; districts[i] = ''
    else
      districts[i] = d
      local ts = it[4]
      local prev = cur_ts[dev]
      if ts == prev then
        verdicts[i] = 'd'
      else
        if ts > prev then
          latest_out[dev] = it[9]; ts_out[dev] = ts; cur_ts[dev] = ts
          verdicts[i] = 'a'
        else
          verdicts[i] = 'l'
        end
        local prefix = d .. '|' .. kind .. '|'
        accumulate(it[10], prefix, it)
        if it[14] then hourly[it[14]] = true; accumulate(it[14], prefix, it) end
        if it[13] == 1 then rule_devs[i] = dev end
      end
    end
  else
    if d ~= '' then
      local m = locate(dev, kind, d, it[6], it[7], it[8], it[9])
      for ek, ev in pairs(cjson.decode(it[10])) do m[ek] = ev end
      redis.call('HSET', KEYS[3], dev, cjson.encode(m))
    else
      d = dist[dev]
    end
    if not d then
      verdicts[i] = 'u'; districts[i] = ''
    else
      districts[i] = d
      redis.call('HSET', KEYS[5], dev, it[4])
      verdicts[i] = 'a'
    end
  end
end

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

for k, a in pairs(acc) do
  local key = KEYS[k]
  for f, r in pairs(a) do
    redis.call('HINCRBY', key, f .. ':n', r[2])
    if r[3] then
      redis.call('HINCRBYFLOAT', key, f .. ':s', r[1])
      local cur = tonumber(redis.call('HGET', key, f .. ':x'))
      if cur == nil or r[3] > cur then redis.call('HSET', key, f .. ':x', r[3]) end
    end
  end
  if hourly[k] then redis.call('EXPIRE', key, retention_hourly) else redis.call('EXPIRE', key, retention) end
end

-- 4. Rule states of the devices whose readings the caller will run rules on.
for i, dev in pairs(rule_devs) do
  rulestates[i] = redis.call('HGET', KEYS[7], dev) or '{}'
end

return {table.concat(verdicts), districts, rulestates}
"""


@dataclass
class ShardResult:
    verdicts: str
    districts: list[str]
    rule_states: list[str]


class TelemetryStore:
    """Applies prepared items to Redis. See `ioc.ingest.batch` for how items are built."""

    FIXED_KEYS = 7  # latest, ts, meta, district, state, geo, rules; minute then hour buckets follow

    def __init__(self, client: redis.Redis, shards: int, retention_s: int, hourly_retention_s: int):
        self.client = client
        self.shards = shards
        self.retention_s = retention_s
        self.hourly_retention_s = hourly_retention_s
        self._sha: str | None = None  # loaded lazily, and again after a Redis restart (NOSCRIPT)

    def shard_keys(self, shard: int) -> list[str]:
        return [
            keys.latest(shard), keys.latest_ts(shard), keys.meta(shard), keys.district(shard),
            keys.state(shard), keys.geo(shard), keys.rules(shard),
        ]

    def apply(self, per_shard: dict[int, tuple[list[int], list[list]]],
              hours: dict[int, list[int]] | None = None) -> dict[int, ShardResult]:
        """per_shard: shard -> (rollup minutes, items); hours: shard -> rollup hours. Items refer to
        their minute and hour buckets by KEYS index (minute buckets first, then hour buckets)."""
        if not per_shard:
            return {}
        hours = hours or {}
        if self._sha is None:
            self._sha = self.client.script_load(_SCRIPT)
        try:
            order, raw = self._run(per_shard, hours)
        except redis.exceptions.NoScriptError:
            # Redis restarted and lost its script cache; no call of this pipeline has run.
            self._sha = self.client.script_load(_SCRIPT)
            order, raw = self._run(per_shard, hours)
        results = {}
        for shard, (verdicts, districts, states) in zip(order, raw):
            results[shard] = ShardResult(
                verdicts.decode() if isinstance(verdicts, bytes) else verdicts,
                [d.decode() if isinstance(d, bytes) else d for d in districts],
                [s.decode() if isinstance(s, bytes) else s for s in states],
            )
        return results

    def _run(self, per_shard, hours) -> tuple[list[int], list]:
        """One round trip: EVALSHA per shard, pipelined (no SCRIPT EXISTS check per batch)."""
        pipe = self.client.pipeline(transaction=False)
        order = []
        for shard, (minutes, items) in per_shard.items():
            script_keys = (self.shard_keys(shard) + [keys.rollup(shard, m) for m in minutes]
                           + [keys.rollup_hourly(shard, h) for h in hours.get(shard, ())])
            pipe.evalsha(self._sha, len(script_keys), *script_keys, self.retention_s, orjson.dumps(items),
                         self.hourly_retention_s)
            order.append(shard)
        return order, pipe.execute()
