-- Operator actions on one job: cancel, reschedule (argument: the new runAt), promote, retry
-- (argument: '1' to reset attempts, '0' to raise maxAttempts past them instead), remove.
-- Returns {'ok', row} | {'missing'} | {'conflict', state} | {'removed'}.
local queueKeyBase = KEYS[1]
local idIndexKey = KEYS[2]    -- single Redis only: on Cluster the store updates the index after
local channel = ARGV[1]
local queue = ARGV[2]
local nowText = ARGV[3]
local action = ARGV[4]
local id = ARGV[5]
local argument = ARGV[6]
beginCall(queueKeyBase, idIndexKey)
local now = tonumber(nowText)
local key = jobKey(id)
local f = redis.call('HMGET', key, 'st', 'sq', 'p', 'at', 'ma')
local state = f[1]
if not state then return {'missing'} end
local seq, priority, attempts, maxAttempts = f[2], f[3], f[4], f[5]
if action == 'cancel' then
  if state == 'active' then
    redis.call('HSET', key, 'cr', '1')
    events[1] = {'cancel-requested', id}
  elseif state == 'scheduled' or state == 'queued' then
    unindexJob(id, state, seq)
    redis.call('HSET', key, 'st', 'cancelled', 'ea', nowText, 'cr', '')
    indexJob(id, 'cancelled', seq, priority, nil, now)
    events[1] = {'cancelled', id}
  else return {'conflict', state} end
elseif action == 'reschedule' then
  if state ~= 'scheduled' and state ~= 'queued' then return {'conflict', state} end
  local runAt = tonumber(argument)
  local newState = 'queued'
  if runAt > now then newState = 'scheduled' end
  unindexJob(id, state, seq)
  redis.call('HSET', key, 'st', newState, 'ra', argument, 'ea', '', 'cr', '')
  indexJob(id, newState, seq, priority, runAt)
  events[1] = {newState, id, runAt}
elseif action == 'promote' then
  if state ~= 'scheduled' then return {'conflict', state} end
  unindexJob(id, state, seq)
  redis.call('HSET', key, 'st', 'queued', 'ra', nowText, 'ea', '', 'cr', '')
  indexJob(id, 'queued', seq, priority)
  events[1] = {'queued', id}
elseif action == 'retry' then
  if state ~= 'failed' and state ~= 'cancelled' then return {'conflict', state} end
  unindexJob(id, state, seq)
  redis.call('HSET', key, 'st', 'queued', 'ra', nowText, 'sl', 0, 'ea', '', 'e', '', 'r', '', 'cr', '')
  if argument == '1' then redis.call('HSET', key, 'at', 0)
  else redis.call('HSET', key, 'ma', math.max(tonumber(maxAttempts), tonumber(attempts) + 1)) end
  indexJob(id, 'queued', seq, priority)
  events[1] = {'queued', id}
elseif action == 'remove' then
  if state == 'active' then return {'conflict', state} end
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
