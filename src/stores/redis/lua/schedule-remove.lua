-- Remove a schedule. Returns 1 if it existed.
local globalKeyBase = KEYS[1]
local id = ARGV[1]
beginCall(globalKeyBase)
redis.call('ZREM', keyBase .. ALL_SCHEDULES, id)
redis.call('ZREM', keyBase .. DUE_SCHEDULES, id)
return redis.call('DEL', keyBase .. SCHEDULE .. id)
