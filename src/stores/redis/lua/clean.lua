-- Remove finished jobs that ended before a time, up to a limit. Returns the removed ids.
local queueKeyBase = KEYS[1]
local idIndexKey = KEYS[2]    -- single Redis only: on Cluster the store updates the index after
local endedBefore = ARGV[1]
local limit = tonumber(ARGV[2])
local FIRST_STATE = 3         -- then the finished states to clean
beginCall(queueKeyBase, idIndexKey)
local removed = {}
for s = FIRST_STATE, #ARGV do
  local finishedKey = keyBase .. FINISHED .. ARGV[s]
  local left = limit - #removed
  if left <= 0 then break end
  local ids = redis.call('ZRANGEBYSCORE', finishedKey, '-inf', '(' .. endedBefore, 'LIMIT', 0, left)
  for _, id in ipairs(ids) do
    removeFromIndex(finishedKey, id)
    removeFromIndex(keyBase .. ALL_JOBS, id)
    redis.call('DEL', jobKey(id), keyBase .. JOB_LOG .. id)
    removed[#removed + 1] = id
  end
end
flushIndexWrites()
if idIndex and #removed > 0 then redis.call('HDEL', idIndex, unpack(removed)) end
return removed
