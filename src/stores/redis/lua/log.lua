-- Append a log line, only if the job exists. Returns 1, or 0 if it does not.
local queueKeyBase = KEYS[1]
local id = ARGV[1]
local at = ARGV[2]
local message = ARGV[3]
beginCall(queueKeyBase)
if redis.call('EXISTS', jobKey(id)) == 0 then return 0 end
redis.call('RPUSH', keyBase .. JOB_LOG .. id, at .. ' ' .. message)
return 1
