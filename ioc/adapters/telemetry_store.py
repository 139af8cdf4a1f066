"""Writing a batch of validated messages to Redis: one Lua call per shard, pipelined.

The script applies, in order, each reading and status change of its shard: latest state (only
when newer than the stored one; the same ts again is a duplicate), device registry and geo index
from births and located readings, online/offline, and per-district/per-kind 1-minute rollups
(summed inside the script, written once per field per batch). It returns a verdict per item, the
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
local items = cjson.decode(ARGV[2])
local retention = tonumber(ARGV[1])
local verdicts, districts, rulestates = {}, {}, {}
local acc, maxes = {}, {}

local function locate(dev, kind, d, lon, lat, cell, name)
  redis.call('HSET', KEYS[4], dev, d)
  redis.call('GEOADD', KEYS[6], lon, lat, dev)
  local raw = redis.call('HGET', KEYS[3], dev)
  local m
  if raw then m = cjson.decode(raw) else m = {kind = kind, name = name} end
  m.lat = lat; m.lon = lon; m.district = d; m.cell = cell
  if name ~= '' then m.name = name end
  return m
end

for i, it in ipairs(items) do
  local typ, dev, kind = it[1], it[2], it[3]
  local d = it[5]
  if typ == 't' then
    if d ~= '' then
      local m = locate(dev, kind, d, it[6], it[7], it[8], '')
      if m.name == nil or m.name == '' then m.name = dev end
      redis.call('HSET', KEYS[3], dev, cjson.encode(m))
      redis.call('HSETNX', KEYS[5], dev, 'online')
    else
      d = redis.call('HGET', KEYS[4], dev)
    end
    if not d then
      verdicts[i] = 'u'; districts[i] = ''; rulestates[i] = ''
    else
      districts[i] = d
      local ts = it[4]
      local prev = tonumber(redis.call('HGET', KEYS[2], dev) or '-1')
      if ts == prev then
        verdicts[i] = 'd'; rulestates[i] = ''
      else
        if ts > prev then
          redis.call('HSET', KEYS[1], dev, it[9])
          redis.call('HSET', KEYS[2], dev, ts)
          verdicts[i] = 'a'
        else
          verdicts[i] = 'l'
        end
        local k = it[10]
        local a = acc[k]; if not a then a = {}; acc[k] = a end
        local mx = maxes[k]; if not mx then mx = {}; maxes[k] = mx end
        local prefix = d .. '|' .. kind .. '|'
        a[prefix .. '_:n'] = (a[prefix .. '_:n'] or 0) + 1
        for _, nv in ipairs(it[11]) do
          local f = prefix .. nv[1]
          local v = nv[2]
          a[f .. ':s'] = (a[f .. ':s'] or 0) + v
          a[f .. ':n'] = (a[f .. ':n'] or 0) + 1
          local x = mx[f .. ':x']
          if x == nil or v > x then mx[f .. ':x'] = v end
        end
        for _, c in ipairs(it[12]) do
          local f = prefix .. c .. ':n'
          a[f] = (a[f] or 0) + 1
        end
        if it[13] == 1 then
          rulestates[i] = redis.call('HGET', KEYS[7], dev) or '{}'
        else
          rulestates[i] = ''
        end
      end
    end
  else
    rulestates[i] = ''
    if d ~= '' then
      local m = locate(dev, kind, d, it[6], it[7], it[8], it[9])
      for ek, ev in pairs(cjson.decode(it[10])) do m[ek] = ev end
      redis.call('HSET', KEYS[3], dev, cjson.encode(m))
    else
      d = redis.call('HGET', KEYS[4], dev)
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

for k, a in pairs(acc) do
  local key = KEYS[k]
  for f, v in pairs(a) do
    if string.sub(f, -2) == ':n' then
      redis.call('HINCRBY', key, f, v)
    else
      redis.call('HINCRBYFLOAT', key, f, v)
    end
  end
  for f, v in pairs(maxes[k]) do
    local cur = tonumber(redis.call('HGET', key, f))
    if cur == nil or v > cur then redis.call('HSET', key, f, v) end
  end
  redis.call('EXPIRE', key, retention)
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

    FIXED_KEYS = 7  # latest, ts, meta, district, state, geo, rules; rollup buckets follow

    def __init__(self, client: redis.Redis, shards: int, retention_s: int):
        self.client = client
        self.shards = shards
        self.retention_s = retention_s
        self._sha: str | None = None  # loaded lazily, and again after a Redis restart (NOSCRIPT)

    def shard_keys(self, shard: int) -> list[str]:
        return [
            keys.latest(shard), keys.latest_ts(shard), keys.meta(shard), keys.district(shard),
            keys.state(shard), keys.geo(shard), keys.rules(shard),
        ]

    def apply(self, per_shard: dict[int, tuple[list[int], list[list]]]) -> dict[int, ShardResult]:
        """per_shard: shard -> (rollup minutes, items). Items refer to minutes by KEYS index."""
        if not per_shard:
            return {}
        if self._sha is None:
            self._sha = self.client.script_load(_SCRIPT)
        try:
            order, raw = self._run(per_shard)
        except redis.exceptions.NoScriptError:
            # Redis restarted and lost its script cache; no call of this pipeline has run.
            self._sha = self.client.script_load(_SCRIPT)
            order, raw = self._run(per_shard)
        results = {}
        for shard, (verdicts, districts, states) in zip(order, raw):
            results[shard] = ShardResult(
                verdicts.decode() if isinstance(verdicts, bytes) else verdicts,
                [d.decode() if isinstance(d, bytes) else d for d in districts],
                [s.decode() if isinstance(s, bytes) else s for s in states],
            )
        return results

    def _run(self, per_shard) -> tuple[list[int], list]:
        """One round trip: EVALSHA per shard, pipelined (no SCRIPT EXISTS check per batch)."""
        pipe = self.client.pipeline(transaction=False)
        order = []
        for shard, (minutes, items) in per_shard.items():
            script_keys = self.shard_keys(shard) + [keys.rollup(shard, m) for m in minutes]
            pipe.evalsha(self._sha, len(script_keys), *script_keys, self.retention_s, orjson.dumps(items))
            order.append(shard)
        return order, pipe.execute()
