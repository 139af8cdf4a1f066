-- Lease the due notification jobs: each due job's time moves to now + lease, so a second
-- notifier does not take it meanwhile, and a notifier killed while sending finds it due again
-- after the lease (the crash window of at-least-once delivery).
-- KEYS: 1 pending zset, 2 jobs hash
-- ARGV: 1 now (ms), 2 lease (ms), 3 at most this many
-- Returns {job id, job JSON, job id, job JSON, …}.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(due) do
  local job = redis.call('HGET', KEYS[2], id)
  if job then
    redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), id)
    out[#out + 1] = id
    out[#out + 1] = job
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
