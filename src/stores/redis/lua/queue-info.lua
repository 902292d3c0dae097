-- A queue's meta, counts (in JOB_STATES order) and the static JSON of its oldest queued job: the
-- oldest of each priority is the head of its score band, and a queue has few priorities.
local queueKeyBase = KEYS[1]
beginCall(queueKeyBase)
local readyKey = keyBase .. READY
local counts = {
  redis.call('ZCARD', keyBase .. SCHEDULED), redis.call('ZCARD', readyKey), activeCount(),
  redis.call('ZCARD', keyBase .. FINISHED .. 'completed'), redis.call('ZCARD', keyBase .. FINISHED .. 'failed'),
  redis.call('ZCARD', keyBase .. FINISHED .. 'cancelled'),
}
local oldest, oldestSeq = false, nil
local minScore = '-inf'
for _ = 1, 64 do
  local head = redis.call('ZRANGEBYSCORE', readyKey, minScore, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if not head[1] then break end
  local seq = string.sub(head[1], 1, 17)
  if not oldestSeq or seq < oldestSeq then oldestSeq, oldest = seq, string.sub(head[1], 18) end
  minScore = '(' .. head[2]
end
if oldest then oldest = redis.call('HGET', jobKey(oldest), 'd') or false end
return {redis.call('HGETALL', keyBase .. META), counts, oldest}
