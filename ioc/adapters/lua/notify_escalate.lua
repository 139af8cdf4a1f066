-- Write an escalated alarm's notification intent once per (alarm, raise): a guard key set NX
-- (expiring) and the intent in the outbox together.
-- KEYS: 1 guard, 2 notify outbox
-- ARGV: 1 guard TTL (s), 2 outbox cap, 3.. intent fields [field, value, …]
-- Returns 1 if written, 0 if this raise's intent was written before.
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', tonumber(ARGV[1])) then return 0 end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 3))
return 1
