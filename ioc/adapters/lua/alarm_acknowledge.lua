-- Acknowledge an active alarm: the first acknowledgement wins; it is written with its
-- `acknowledged` event and its audit entry in the same step.
-- KEYS: 1 active hash, 2 acks hash, 3 events stream[, 4 audit stream]
-- ARGV: 1 alarm id, 2 ack JSON, 3 stream cap, 4 event JSON[, 5… audit field, value, …]
-- Returns the ack JSON in force, or nil when the alarm is not active.
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return false end
local existing = redis.call('HGET', KEYS[2], ARGV[1])
if existing then return existing end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 'event', 'acknowledged', 'alarm', ARGV[4])
if KEYS[4] then redis.call('XADD', KEYS[4], '*', unpack(ARGV, 5)) end
return ARGV[2]
