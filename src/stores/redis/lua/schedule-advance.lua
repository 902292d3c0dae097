-- A schedule's run: advance it if it is still at expectedVersion (and, given, expectedCreatedAt: a
-- schedule removed and created again starts at version 1 again, so the version alone would let a run
-- read from the old one advance the new one). Its jobs go to the global outbox in the same step; the
-- store then delivers them to their queues (idempotent by id), and a maintenance sweep redelivers if
-- the process died between. The outbox field names the run (id, version and creation time, so two
-- incarnations' runs at the same version do not overwrite each other's entry). Returns the field
-- ('' when the run makes no jobs), or 0 on a version or creation time mismatch.
local globalKeyBase = KEYS[1]
local id = ARGV[1]
local expectedVersion = ARGV[2]
local expectedCreatedAt = ARGV[3] -- '' not to compare
local nextRunAt = ARGV[4]     -- '' for none
local runCount = ARGV[5]
local lastRunAt = ARGV[6]     -- '' for none
local nowText = ARGV[7]
local outboxEntry = ARGV[8]   -- '' when the run makes no jobs
beginCall(globalKeyBase)
local key = keyBase .. SCHEDULE .. id
local fields = redis.call('HMGET', key, 'v', 'pa', 'ca')
if fields[1] ~= expectedVersion then return 0 end
if expectedCreatedAt ~= '' and tonumber(fields[3]) ~= tonumber(expectedCreatedAt) then return 0 end
redis.call('HSET', key, 'rc', runCount, 'ua', nowText, 'v', tonumber(expectedVersion) + 1)
if nextRunAt == '' then redis.call('HDEL', key, 'nx') else redis.call('HSET', key, 'nx', nextRunAt) end
if lastRunAt == '' then redis.call('HDEL', key, 'lr') else redis.call('HSET', key, 'lr', lastRunAt) end
if fields[2] == '0' and nextRunAt ~= '' then redis.call('ZADD', keyBase .. DUE_SCHEDULES, tonumber(nextRunAt), id)
else redis.call('ZREM', keyBase .. DUE_SCHEDULES, id) end
if outboxEntry == '' then return '' end
local outboxField = id .. '@' .. expectedVersion .. '@' .. (fields[3] or '')
redis.call('HSET', keyBase .. OUTBOX, outboxField, outboxEntry)
return outboxField
