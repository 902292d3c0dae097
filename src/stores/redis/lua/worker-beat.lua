-- A worker's heartbeat: its info, live until expiresAt. Returns the prefix's job hash format
-- (jobFormat, before the worker is written: a worker's first beat on an empty prefix marks it
-- lean), so a process picks up `fusion store upgrade` within a beat.
local globalKeyBase = KEYS[1]
local id = ARGV[1]
local infoJson = ARGV[2]
local expiresAt = tonumber(ARGV[3])
beginCall(globalKeyBase)
local format = jobFormat()
redis.call('HSET', keyBase .. WORKERS, id, infoJson)
redis.call('ZADD', keyBase .. WORKER_EXPIRY, expiresAt, id)
return format
