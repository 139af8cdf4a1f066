-- Record the outcome of sending one job, together: the dedupe entries of what was delivered
-- (or given up), the jobs dropped or put back (a retry, a repeat), the delivery log and the
-- subjects' timelines (notify stream per subject, case timeline, alarm events), and for each case
-- timeline entry a `type=timeline` entry on the record stream. Nothing is recorded when the job is
-- no longer there (another notifier recorded it after a lease ran out).
-- KEYS: 1 jobs hash, 2 pending zset, 3 sent hash, 4 sent_at zset, 5.. streams named by index below,
--       last: the record stream
-- ARGV: 1 JSON {job (the job id, "" for none), now, drop: [job id, …], put: [[job id, job JSON, due], …],
--       sent: [[dedupe key, JSON], …], streams: [[key index, maxlen (0: no cap), [field, value, …],
--       record (optional, for a case timeline entry: [field, value, …] of its record entry without
--       entry_id)], …], record_max (cap of the record stream)}
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
    local entry_id = redis.call('XADD', KEYS[x[1]], '*', unpack(x[3]))  -- a case timeline: never trimmed
    if x[4] then
      local record = x[4]
      record[#record + 1] = 'entry_id'; record[#record + 1] = entry_id
      redis.call('XADD', KEYS[#KEYS], 'MAXLEN', '~', a.record_max, '*', unpack(record))
    end
  end
end
return 1
