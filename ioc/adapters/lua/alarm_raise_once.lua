-- Raise an alarm unless it is already active: one `raised` event per activation, however many
-- workers saw the same breach or scanned at once.
-- KEYS: 1 active hash, 2 events stream
-- ARGV: 1 alarm id, 2 alarm JSON, 3 stream cap
-- Returns 1 if it raised the alarm, 0 if it was active already.
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'event', 'raised', 'alarm', ARGV[2])
return 1
