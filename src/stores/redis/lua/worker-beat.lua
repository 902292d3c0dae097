-- A worker's heartbeat: its info, live until expiresAt. Returns 1.
local globalKeyBase = KEYS[1]
local id = ARGV[1]
local infoJson = ARGV[2]
local expiresAt = tonumber(ARGV[3])
beginCall(globalKeyBase)
redis.call('HSET', keyBase .. WORKERS, id, infoJson)
redis.call('ZADD', keyBase .. WORKER_EXPIRY, expiresAt, id)
return 1
