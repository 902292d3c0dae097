-- A worker that stopped. Returns 1 if it was known.
local globalKeyBase = KEYS[1]
local id = ARGV[1]
beginCall(globalKeyBase)
redis.call('HDEL', keyBase .. WORKERS, id)
return redis.call('ZREM', keyBase .. WORKER_EXPIRY, id)
