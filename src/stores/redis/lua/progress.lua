-- Record a leased job's progress. Returns 1, or 0 if the lease is not held.
local queueKeyBase = KEYS[1]
local channel = ARGV[1]
local queue = ARGV[2]
local now = tonumber(ARGV[3])
local id = ARGV[4]
local token = ARGV[5]
local progressJson = ARGV[6]
beginCall(queueKeyBase)
local key = jobKey(id)
if redis.call('HGET', key, 'tk') ~= token then return 0 end
redis.call('HSET', key, 'pg', progressJson)
events[1] = {'progress', id, false, progressJson}
publishEvents(channel, queue, now)
return 1
