-- A schedule's run: advance it if it is still at expectedVersion. Its jobs go to the global outbox
-- in the same step; the store then delivers them to their queues (idempotent by id), and a
-- maintenance sweep redelivers if the process died between. Returns 1, or 0 on a version conflict.
local globalKeyBase = KEYS[1]
local id = ARGV[1]
local expectedVersion = ARGV[2]
local nextRunAt = ARGV[3]     -- '' for none
local runCount = ARGV[4]
local lastRunAt = ARGV[5]     -- '' for none
local nowText = ARGV[6]
local outboxField = ARGV[7]   -- '' when the run makes no jobs
local outboxEntry = ARGV[8]
beginCall(globalKeyBase)
local key = keyBase .. SCHEDULE .. id
local fields = redis.call('HMGET', key, 'v', 'pa')
if fields[1] ~= expectedVersion then return 0 end
redis.call('HSET', key, 'rc', runCount, 'ua', nowText, 'v', tonumber(expectedVersion) + 1)
if nextRunAt == '' then redis.call('HDEL', key, 'nx') else redis.call('HSET', key, 'nx', nextRunAt) end
if lastRunAt == '' then redis.call('HDEL', key, 'lr') else redis.call('HSET', key, 'lr', lastRunAt) end
if fields[2] == '0' and nextRunAt ~= '' then redis.call('ZADD', keyBase .. DUE_SCHEDULES, tonumber(nextRunAt), id)
else redis.call('ZREM', keyBase .. DUE_SCHEDULES, id) end
if outboxField ~= '' then redis.call('HSET', keyBase .. OUTBOX, outboxField, outboxEntry) end
return 1
