-- Commit one case transition if the stored version is the one the caller read: the case, its
-- version, indexes, timeline event, audit entry, outbox message, notification intents and record
-- entry (`type` case) together, or nothing.
-- KEYS: 1 data, 2 version, 3 devices, 4 open, 5 geo, 6 timeline, 7 outbox, 8 audit, 9 revision,
--       10 changed, 11 notify outbox, 12 record stream
-- ARGV: 1 JSON {id, expected, version, case, open (bool), device_key, event, audit, outbox ([] or fields),
--       notify ([] or [[field, value, …], …]: the intents, `ioc.domain.notifications.flat_fields`),
--       at (the event's at, text), entry (the event's fields as a JSON object), maxlen (cap of the record stream)}
-- Returns {1, version} on success, {0, stored version} on a version conflict, {-1, 0} if unknown.
local a = cjson.decode(ARGV[1])
local stored = redis.call('HGET', KEYS[2], a.id)
if not stored then return {-1, 0} end
if tonumber(stored) ~= a.expected then return {0, tonumber(stored)} end
redis.call('HSET', KEYS[1], a.id, a.case)
redis.call('HSET', KEYS[2], a.id, a.version)
if not a.open then
  redis.call('ZREM', KEYS[4], a.id)
  redis.call('ZREM', KEYS[5], a.id)
  if a.device_key ~= '' and redis.call('HGET', KEYS[3], a.device_key) == a.id then
    redis.call('HDEL', KEYS[3], a.device_key)
  end
end
local entry_id = redis.call('XADD', KEYS[6], '*', unpack(a.event))
redis.call('XADD', KEYS[8], '*', unpack(a.audit))
redis.call('ZADD', KEYS[10], redis.call('INCR', KEYS[9]), a.id)
if #a.outbox > 0 then redis.call('XADD', KEYS[7], 'MAXLEN', '~', 100000, '*', unpack(a.outbox)) end
if a.notify then
  for _, intent in ipairs(a.notify) do redis.call('XADD', KEYS[11], 'MAXLEN', '~', 100000, '*', unpack(intent)) end
end
redis.call('XADD', KEYS[12], 'MAXLEN', '~', a.maxlen, '*', 'type', 'case', 'id', a.id, 'version', tostring(a.version),
           'at', a.at, 'case', a.case, 'entry_id', entry_id, 'entry', a.entry)
return {1, a.version}
