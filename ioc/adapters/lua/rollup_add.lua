-- Add a batch's per-district, per-kind aggregates to the 1-minute and 1-hour rollup buckets.
-- KEYS: the rollup buckets of the batch (1-minute and 1-hour, one hash tag)
-- ARGV: 1 JSON array, per key: [ttl seconds, [[field, n], [field, n, sum, max], ...]]
local buckets = cjson.decode(ARGV[1])
for k, bucket in ipairs(buckets) do
  local key = KEYS[k]
  for _, f in ipairs(bucket[2]) do
    local name = f[1]
    redis.call('HINCRBY', key, name .. ':n', f[2])
    if f[3] then
      redis.call('HINCRBYFLOAT', key, name .. ':s', f[3])
      local cur = tonumber(redis.call('HGET', key, name .. ':x'))
      if cur == nil or f[4] > cur then redis.call('HSET', key, name .. ':x', f[4]) end
    end
  end
  redis.call('EXPIRE', key, bucket[1])
end
return #buckets
