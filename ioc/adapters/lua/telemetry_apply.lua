-- Apply one shard's part of an ingest batch (see ioc.adapters.telemetry_store): births, status
-- changes and located readings, then plain readings; returns a verdict per item, the districts,
-- and the stored rule states of the devices whose newer readings run rules. The registry changes
-- (births, online/offline, moves) go on the shard's registry stream as one entry (field `d`, a
-- JSON array of [device, event, at ms, online (true/false/null), meta after the change]).
-- KEYS: 1 latest, 2 ts, 3 meta, 4 district, 5 state, 6 geo, 7 rules, 8 registry version, 9 state version,
--       10 registry stream
-- ARGV: 1 JSON array of special items (births, status changes, located readings; see
--       ioc.ingest.batch), 2 cap of the registry stream (MAXLEN ~), then 4 strings per plain
--       reading: device, ts, latest JSON, rules flag
local specials = cjson.decode(ARGV[1])
local reg_max = ARGV[2]
local P0 = 3  -- the first plain reading's ARGV index
local nplain = (#ARGV - P0 + 1) / 4
local verdicts, districts = {}, {}

-- 1. Read what the batch needs: districts and latest ts of every device in it.
local devs, seen = {}, {}
for _, it in ipairs(specials) do
  local dev = it[2]
  if not seen[dev] then seen[dev] = true; devs[#devs + 1] = dev end
end
for p = 0, nplain - 1 do
  local dev = ARGV[P0 + p * 4]
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

-- Returns the meta after the change, whether the device is new (no meta before), and whether it moved.
local function locate(dev, kind, d, lon, lat, cell, name)
  dist[dev] = d
  redis.call('HSET', KEYS[4], dev, d)
  redis.call('GEOADD', KEYS[6], lon, lat, dev)
  local raw = redis.call('HGET', KEYS[3], dev)
  local m
  local moved = false
  if raw then
    m = cjson.decode(raw)
    -- compared as stored (JSON numbers keep 14 digits): a device seen again in place has not moved
    moved = cjson.encode({m.lat, m.lon}) ~= cjson.encode({lat, lon}) or m.district ~= d or m.cell ~= cell
  else
    m = {kind = kind, name = name}
  end
  m.lat = lat; m.lon = lon; m.district = d; m.cell = cell
  if name ~= '' then m.name = name end
  return m, not raw, moved
end
local registry = {}  -- [device, event, at, online, meta] per registry change
local function changed(dev, event, at, online, m)
  registry[#registry + 1] = {dev, event, at, online, m}
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
    local m, new, moved = locate(dev, kind, d, it[6], it[7], it[8], '')
    if m.name == nil or m.name == '' then m.name = dev end
    redis.call('HSET', KEYS[3], dev, cjson.encode(m))
    local online = cjson.null
    if redis.call('HSETNX', KEYS[5], dev, 'online') == 1 then state_changed = true; online = true end
    meta_changed = true
    if new then changed(dev, 'birth', it[4], online, m)
    elseif moved then changed(dev, 'moved', it[4], online, m) end
    reading(i, dev, it[4], it[9], it[10] == 1)
  else
    -- ["s", device, kind, "online"|"offline", district ("" when unlocated), lon, lat, cell, name, extra JSON,
    --  received ms]
    local m, new = nil, false
    if d ~= '' then
      m, new = locate(dev, kind, d, it[6], it[7], it[8], it[9])
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
      if not m then
        local raw = redis.call('HGET', KEYS[3], dev)
        if raw then m = cjson.decode(raw) else m = {kind = kind, district = d} end
      end
      changed(dev, new and 'birth' or it[4], it[11], it[4] == 'online', m)
    end
  end
end
for p = 0, nplain - 1 do
  i = i + 1
  local base = P0 + p * 4
  reading(i, ARGV[base], tonumber(ARGV[base + 1]), ARGV[base + 2], ARGV[base + 3] == '1')
end

-- Web processes cache the registry per shard until these counters move.
if meta_changed then redis.call('INCR', KEYS[8]) end
if state_changed then redis.call('INCR', KEYS[9]) end
if #registry > 0 then redis.call('XADD', KEYS[10], 'MAXLEN', '~', reg_max, '*', 'd', cjson.encode(registry)) end

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
