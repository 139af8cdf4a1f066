-- Evict ended cases whose latest version and last timeline entry are in the record: the case,
-- its version and its timeline leave Redis (the report id -> case id mapping stays: a repeated
-- report still finds its case), the revision moves so every reader's case index sees the change.
-- KEYS: 1 data, 2 version, 3 changed, 4 revision, 5.. the timeline of each case of ARGV, in order
-- ARGV: 1 JSON [{id, version (the record's), last_entry (the record's last timeline entry id, "" if none)}, …]
-- Returns the ids evicted (a case whose Redis version or timeline is ahead of the record stays).
local cases = cjson.decode(ARGV[1])
local evicted = {}
for i, c in ipairs(cases) do
  local stored = redis.call('HGET', KEYS[2], c.id)
  if stored and tonumber(stored) <= tonumber(c.version) then
    local last = redis.call('XREVRANGE', KEYS[4 + i], '+', '-', 'COUNT', 1)
    local last_id = ''
    if #last > 0 then last_id = last[1][1] end
    if last_id == c.last_entry then
      redis.call('HDEL', KEYS[1], c.id)
      redis.call('HDEL', KEYS[2], c.id)
      redis.call('DEL', KEYS[4 + i])
      redis.call('ZREM', KEYS[3], c.id)
      evicted[#evicted + 1] = c.id
    end
  end
end
if #evicted > 0 then redis.call('INCR', KEYS[4]) end
return evicted
