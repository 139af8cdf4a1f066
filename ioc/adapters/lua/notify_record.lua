-- Record the outcome of sending one job, together: the dedupe entries of what was delivered
-- (or given up), the jobs dropped or put back (a retry, a repeat), the delivery log and the
-- subjects' timelines (notify stream per subject, case timeline, alarm events). Nothing is
-- recorded when the job is no longer there (another notifier recorded it after a lease ran out).
-- KEYS: 1 jobs hash, 2 pending zset, 3 sent hash, 4 sent_at zset, 5.. streams named by index below
-- ARGV: 1 JSON {job (the job id, "" for none), now, drop: [job id, …], put: [[job id, job JSON, due], …],
--       sent: [[dedupe key, JSON], …], streams: [[key index, maxlen (0: no cap), [field, value, …]], …]}
-- Returns 1 if recorded, 0 if the job was gone.
local a = cjson.decode(ARGV[1])
if a.job ~= '' and redis.call('HEXISTS', KEYS[1], a.job) == 0 then return 0 end
for _, id in ipairs(a.drop) do
  redis.call('HDEL', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
end
for _, p in ipairs(a.put) do
  redis.call('HSET', KEYS[1], p[1], p[2])
  redis.call('ZADD', KEYS[2], p[3], p[1])
end
for _, s in ipairs(a.sent) do
  redis.call('HSET', KEYS[3], s[1], s[2])
  redis.call('ZADD', KEYS[4], a.now, s[1])
end
for _, x in ipairs(a.streams) do
  if tonumber(x[2]) > 0 then
    redis.call('XADD', KEYS[x[1]], 'MAXLEN', '~', x[2], '*', unpack(x[3]))
  else
    redis.call('XADD', KEYS[x[1]], '*', unpack(x[3]))  -- a case timeline: never trimmed
  end
end
return 1
