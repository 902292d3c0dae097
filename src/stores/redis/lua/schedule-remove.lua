-- Remove a schedule. Returns 1 if it existed. With ARGV[2] and ARGV[3] (retention), only while its
-- version and creation time are still those: an update since keeps it.
local globalKeyBase = KEYS[1]
local id = ARGV[1]
local expectedVersion, expectedCreatedAt = ARGV[2], ARGV[3]
beginCall(globalKeyBase)
if expectedVersion then
  local stored = redis.call('HMGET', keyBase .. SCHEDULE .. id, 'v', 'ca')
  if tonumber(stored[1]) ~= tonumber(expectedVersion) or tonumber(stored[2]) ~= tonumber(expectedCreatedAt) then return 0 end
end
redis.call('ZREM', keyBase .. ALL_SCHEDULES, id)
redis.call('ZREM', keyBase .. DUE_SCHEDULES, id)
return redis.call('DEL', keyBase .. SCHEDULE .. id)
