-- Raise an alarm unless it is already active: one `raised` event per activation, however many
-- workers saw the same breach or scanned at once. With a third key, the notification intent
-- given in ARGV 4.. is appended to the notify outbox in the same step (the case worker's overdue
-- alarms: the intent exactly when the alarm is raised).
-- KEYS: 1 active hash, 2 events stream, (3 notify outbox)
-- ARGV: 1 alarm id, 2 alarm JSON, 3 stream cap, (4.. intent fields [field, value, …])
-- Returns 1 if it raised the alarm, 0 if it was active already.
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'event', 'raised', 'alarm', ARGV[2])
if #KEYS >= 3 and #ARGV > 3 then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', unpack(ARGV, 4))
end
return 1
