-- Append a log line, only if the job exists, keeping the job's last ARGV[4] lines. Returns 1, or 0 if it does not.
local queueKeyBase = KEYS[1]
local id = ARGV[1]
local at = ARGV[2]
local message = ARGV[3]
local keep = tonumber(ARGV[4])
beginCall(queueKeyBase)
if redis.call('EXISTS', jobKey(id)) == 0 then return 0 end
redis.call('RPUSH', keyBase .. JOB_LOG .. id, at .. ' ' .. message)
-- A job keeps its newest lines only (MAX_JOB_LOG_LINES).
redis.call('LTRIM', keyBase .. JOB_LOG .. id, -keep, -1)
return 1
