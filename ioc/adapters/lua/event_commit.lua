-- Commit one linked-event change if the stored version is the one the caller read (expected 0:
-- create, only if the id is free): the event, its version, the active index, the revision, the
-- audit entry, the outbox messages, the notification intents and the record entry (`type` event)
-- together, or nothing.
-- KEYS: 1 data, 2 version, 3 active, 4 outbox, 5 audit, 6 revision, 7 changed, 8 proposals, 9 notify outbox,
--       10 record stream
-- ARGV: 1 JSON {id, expected, version, active (bool), started_at (string), audit: [field, value, …],
--       outbox: [[field, value, …], …], proposal (id to clear, or ""),
--       notify: [[field, value, …], …] (the intents, `ioc.domain.notifications.flat_fields`),
--       record: [field, value, …] (the record entry without the event), maxlen (cap of the record stream)},
--       2 the event JSON
-- Returns {1, version} on success, {0, stored version} on a version conflict (or an id already
-- taken), {-1, 0} for an unknown event.
local a = cjson.decode(ARGV[1])
local stored = redis.call('HGET', KEYS[2], a.id)
if a.expected == 0 then
  if stored then return {0, tonumber(stored)} end
else
  if not stored then return {-1, 0} end
  if tonumber(stored) ~= a.expected then return {0, tonumber(stored)} end
end
redis.call('HSET', KEYS[1], a.id, ARGV[2])
redis.call('HSET', KEYS[2], a.id, a.version)
if a.active then
  redis.call('ZADD', KEYS[3], a.started_at, a.id)
else
  redis.call('ZREM', KEYS[3], a.id)
end
redis.call('XADD', KEYS[5], '*', unpack(a.audit))
for _, message in ipairs(a.outbox) do
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', 100000, '*', unpack(message))
end
if a.notify then
  for _, intent in ipairs(a.notify) do redis.call('XADD', KEYS[9], 'MAXLEN', '~', 100000, '*', unpack(intent)) end
end
if a.proposal ~= '' then redis.call('HDEL', KEYS[8], a.proposal) end
redis.call('ZADD', KEYS[7], redis.call('INCR', KEYS[6]), a.id)
local record = a.record
record[#record + 1] = 'event'; record[#record + 1] = ARGV[2]
redis.call('XADD', KEYS[10], 'MAXLEN', '~', a.maxlen, '*', unpack(record))
return {1, a.version}
