-- Schedule the deliveries of one notification intent and acknowledge its outbox entry, together:
-- an intent is acknowledged only once every delivery it makes is a job (or recorded as silenced),
-- so a notifier killed at any point loses nothing and schedules nothing twice.
-- KEYS: 1 jobs hash, 2 pending zset, 3 sent hash, 4 sent_at zset, 5 log stream, 6 outbox stream,
--       7 the intent subject's notify stream
-- ARGV: 1 JSON {now, entry (outbox entry id or ""), group (consumer group), log_max, subject_max,
--       items: [{key, job (JSON), due, status ("send"|"held"|"silenced"), group_key ("" none), window_ms,
--                log: [field, value, …] (without `result`)}]}
-- Returns {scheduled, grouped, silenced, held, skipped}.
local a = cjson.decode(ARGV[1])
local scheduled, grouped, silenced, held, skipped = 0, 0, 0, 0, 0
local function log(fields, result)
  redis.call('XADD', KEYS[5], 'MAXLEN', '~', a.log_max, '*', 'result', result, unpack(fields))
  redis.call('XADD', KEYS[7], 'MAXLEN', '~', a.subject_max, '*', 'result', result, unpack(fields))
end
for _, d in ipairs(a.items) do
  if redis.call('HEXISTS', KEYS[3], d.key) == 1 or redis.call('HEXISTS', KEYS[1], d.key) == 1 then
    skipped = skipped + 1
  elseif d.status == 'silenced' then
    redis.call('HSET', KEYS[3], d.key, cjson.encode({at = a.now, status = 'silenced'}))
    redis.call('ZADD', KEYS[4], a.now, d.key)
    log(d.log, 'silenced')
    silenced = silenced + 1
  else
    local gk = 'g:' .. d.group_key
    local window = nil
    if d.group_key ~= '' and d.window_ms > 0 then
      local raw = redis.call('HGET', KEYS[1], gk)
      if raw then window = cjson.decode(raw) end
    end
    if window and tonumber(window.ends) > tonumber(d.due) then
      -- a window of this (route, recipient, channel) is open: the delivery joins its one message
      local items = window.items
      if type(items) ~= 'table' then items = {} end
      items[#items + 1] = d.key
      window.items = items
      redis.call('HSET', KEYS[1], gk, cjson.encode(window))
      redis.call('HSET', KEYS[1], d.key, d.job)
      log(d.log, 'grouped')
      grouped = grouped + 1
    else
      redis.call('HSET', KEYS[1], d.key, d.job)
      redis.call('ZADD', KEYS[2], d.due, d.key)
      if d.group_key ~= '' and d.window_ms > 0 and not window then
        local ends = tonumber(d.due) + tonumber(d.window_ms)
        redis.call('HSET', KEYS[1], gk, cjson.encode({type = 'group', group_key = d.group_key, ends = ends, items = {}, attempt = 0}))
        redis.call('ZADD', KEYS[2], ends, gk)
      end
      if d.status == 'held' then
        log(d.log, 'held')
        held = held + 1
      end
      scheduled = scheduled + 1
    end
  end
end
if a.entry ~= '' then redis.call('XACK', KEYS[6], a.group, a.entry) end
return {scheduled, grouped, silenced, held, skipped}
