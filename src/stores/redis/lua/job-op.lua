-- Operator actions on one job: cancel, reschedule (argument: the new runAt), promote, retry
-- (argument: '1' to reset attempts, '0' to raise maxAttempts past them instead), remove.
-- The states the action is allowed from come from the core table (src/core/state-rules.ts) as
-- ',a,b,'; any other state is a conflict. Returns {'ok', row} | {'missing'} | {'conflict', state} | {'removed'}.
local queueKeyBase = KEYS[1]
local idIndexKey = KEYS[2]    -- single Redis only: on Cluster the store updates the index after
local channel = ARGV[1]
local queue = ARGV[2]
local nowText = ARGV[3]
local action = ARGV[4]
local id = ARGV[5]
local argument = ARGV[6]
local allowedFrom = ARGV[7]
beginCall(queueKeyBase, idIndexKey)
local now = tonumber(nowText)
local key = jobKey(id)
local fields = redis.call('HMGET', key, 'st', 'sq', 'p', 'at', 'ma')
local state = fields[1]
if not state then return {'missing'} end
local seq, priority, attempts, maxAttempts = fields[2], fields[3], fields[4], fields[5]
if not string.find(allowedFrom, ',' .. state .. ',', 1, true) then return {'conflict', state} end
if action == 'cancel' then
  if state == 'active' then
    redis.call('HSET', key, 'cr', '1')
    events[1] = {'cancel-requested', id}
  else
    unindexJob(id, state, seq)
    redis.call('HSET', key, 'st', 'cancelled', 'ea', nowText, 'cr', '')
    indexJob(id, 'cancelled', seq, priority, nil, now)
    events[1] = {'cancelled', id}
  end
elseif action == 'reschedule' then
  local runAt = tonumber(argument)
  local newState = 'queued'
  if runAt > now then newState = 'scheduled' end
  unindexJob(id, state, seq)
  redis.call('HSET', key, 'st', newState, 'ra', argument, 'ea', '', 'cr', '')
  indexJob(id, newState, seq, priority, runAt)
  events[1] = {newState, id, runAt}
elseif action == 'promote' then
  unindexJob(id, state, seq)
  redis.call('HSET', key, 'st', 'queued', 'ra', nowText, 'ea', '', 'cr', '')
  indexJob(id, 'queued', seq, priority)
  events[1] = {'queued', id}
elseif action == 'retry' then
  unindexJob(id, state, seq)
  redis.call('HSET', key, 'st', 'queued', 'ra', nowText, 'sl', 0, 'ea', '', 'e', '', 'r', '', 'cr', '')
  if argument == '1' then redis.call('HSET', key, 'at', 0)
  else redis.call('HSET', key, 'ma', math.max(tonumber(maxAttempts), (tonumber(attempts) or 0) + 1)) end
  indexJob(id, 'queued', seq, priority)
  events[1] = {'queued', id}
elseif action == 'remove' then
  unindexJob(id, state, seq)
  removeFromIndex(keyBase .. ALL_JOBS, id)
  redis.call('DEL', key, keyBase .. JOB_LOG .. id)
  if idIndex then redis.call('HDEL', idIndex, id) end
  events[1] = {'removed', id}
  publishEvents(channel, queue, now)
  return {'removed'}
end
publishEvents(channel, queue, now)
return {'ok', readJob(key)}
