-- Clear an active alarm, if it is still the one the caller read: drop it and its acknowledgement,
-- append one `cleared` event (and, for a hand clear, the audit entry in the same step).
-- KEYS: 1 active hash, 2 acks hash, 3 events stream[, 4 audit stream]
-- ARGV: 1 alarm id, 2 event JSON, 3 stream cap, 4 expected alarm JSON ("" = whatever is stored)
--       [, 5… audit field, value, … (ioc.adapters.audit_log.entry_fields)]
-- Returns 1 when it cleared the alarm, 0 when it was not there (or had changed).
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current or (ARGV[4] ~= '' and current ~= ARGV[4]) then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 'event', 'cleared', 'alarm', ARGV[2])
if KEYS[4] then redis.call('XADD', KEYS[4], '*', unpack(ARGV, 5)) end
return 1
