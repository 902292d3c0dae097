-- Create or update a schedule. Returns its hash (HGETALL), or {'!conflict', version} when the
-- caller's version check fails (no hash field starts with '!').
local globalKeyBase = KEYS[1]
local id = ARGV[1]
local specJson = ARGV[2]
local nextRunAt = ARGV[3]     -- '' for none
local paused = ARGV[4]        -- '1' or '0'
local runCount = ARGV[5]      -- '' to keep
local lastRunAt = ARGV[6]     -- '' to keep, '-' for none
local nowText = ARGV[7]
local expectedVersion = ARGV[8] -- '' for no check (SaveSchedule.expectedVersion; 0: create only)
local expectedCreatedAt = ARGV[9] -- absent: not compared (SaveSchedule.expectedCreatedAt)
beginCall(globalKeyBase)
local key = keyBase .. SCHEDULE .. id
local existing = redis.call('HMGET', key, 'v', 'ca')
local version = tonumber(existing[1]) or 0
if expectedVersion ~= nil and expectedVersion ~= '' then
  -- A schedule removed and created again starts at version 1 again: its creation time tells them apart.
  if version ~= tonumber(expectedVersion)
    or (version > 0 and expectedCreatedAt ~= nil and tonumber(existing[2]) ~= tonumber(expectedCreatedAt)) then
    return {'!conflict', tostring(version)}
  end
end
redis.call('HSET', key, 'spec', specJson, 'pa', paused, 'ua', nowText, 'v', version + 1, 'ca', existing[2] or nowText)
if not existing[1] then redis.call('HSET', key, 'rc', 0) end
if nextRunAt == '' then redis.call('HDEL', key, 'nx') else redis.call('HSET', key, 'nx', nextRunAt) end
if runCount ~= '' then redis.call('HSET', key, 'rc', runCount) end
if lastRunAt == '-' then redis.call('HDEL', key, 'lr') elseif lastRunAt ~= '' then redis.call('HSET', key, 'lr', lastRunAt) end
redis.call('ZADD', keyBase .. ALL_SCHEDULES, 0, id)
if paused == '0' and nextRunAt ~= '' then redis.call('ZADD', keyBase .. DUE_SCHEDULES, tonumber(nextRunAt), id)
else redis.call('ZREM', keyBase .. DUE_SCHEDULES, id) end
return redis.call('HGETALL', key)
