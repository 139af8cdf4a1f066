-- Create a case with its `report` event, indexes, audit entry and record entry (`type` case),
-- unless its report id or its device (one open case per device and class) already has a case.
-- KEYS: 1 data, 2 version, 3 reports, 4 devices, 5 open, 6 geo, 7 timeline, 8 audit, 9 revision,
--       10 changed, 11 epoch, 12 record stream
-- ARGV: 1 JSON {id, case, report_id, device_key, created_at, lon, lat, event: [field, value, …],
--       audit: [...], epoch, at (the event's at, text), entry (the event's fields as a JSON object),
--       maxlen (cap of the record stream)}
-- Returns {1, id} when created, {0, existing id} when the report id or device already has a case.
local a = cjson.decode(ARGV[1])
if a.report_id ~= '' then
  local existing = redis.call('HGET', KEYS[3], a.report_id)
  if existing then return {0, existing} end
end
if a.device_key ~= '' then
  local open = redis.call('HGET', KEYS[4], a.device_key)
  if open then return {0, open} end
end
redis.call('HSET', KEYS[1], a.id, a.case)
redis.call('HSET', KEYS[2], a.id, 1)
if a.report_id ~= '' then redis.call('HSET', KEYS[3], a.report_id, a.id) end
if a.device_key ~= '' then redis.call('HSET', KEYS[4], a.device_key, a.id) end
redis.call('ZADD', KEYS[5], a.created_at, a.id)
redis.call('GEOADD', KEYS[6], a.lon, a.lat, a.id)
local entry_id = redis.call('XADD', KEYS[7], '*', unpack(a.event))
redis.call('XADD', KEYS[8], '*', unpack(a.audit))
redis.call('ZADD', KEYS[10], redis.call('INCR', KEYS[9]), a.id)
redis.call('SET', KEYS[11], a.epoch, 'NX')
redis.call('XADD', KEYS[12], 'MAXLEN', '~', a.maxlen, '*', 'type', 'case', 'id', a.id, 'version', '1', 'at', a.at,
           'case', a.case, 'entry_id', entry_id, 'entry', a.entry)
return {1, a.id}
