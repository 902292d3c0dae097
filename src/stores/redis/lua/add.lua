-- Add jobs to one queue. The client writes each job's event (["queued", id] or ["scheduled", id,
-- runAt], by the same runAt > now test): encoding it here with cjson was the largest part of a
-- one-job add (~20k of ~170k instructions, callgrind).
-- Returns per job: 1 created, {0, row} it exists in this queue, {2, queue} it exists in another.
local queueKeyBase = KEYS[1]
local idIndexKey = KEYS[2]    -- single Redis only: on Cluster the store writes the index after
local channel = ARGV[1]
local queue = ARGV[2]
local queueJson = ARGV[3]
local nowText = ARGV[4]
local count = tonumber(ARGV[5])
local FIRST_JOB, PER_JOB = 6, 7 -- then count x (id, runAt, priority, maxAttempts, maxStalls, staticJson, eventJson)
beginCall(queueKeyBase, idIndexKey)
local now = tonumber(nowText)
writeDirectly = count == 1
local metaKey = keyBase .. META
local seq = tonumber(redis.call('HGET', metaKey, 'seq') or '0')
local seqFloor = now * 1000
local out, jobEvents = {}, {}
local seqText
local queuedAny = false
local i = FIRST_JOB
for x = 1, count do
  local id, runAt, priority, maxAttempts, maxStalls, staticJson = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  local key = jobKey(id)
  -- On a single Redis the index is exact: claiming the id in it (HSETNX) is the existence check.
  -- On Cluster the index lives in another slot and the job key decides.
  local existingQueue = false
  if idIndex then
    if redis.call('HSETNX', idIndex, id, queue) == 0 then existingQueue = redis.call('HGET', idIndex, id) end
  elseif redis.call('EXISTS', key) == 1 then existingQueue = queue end
  if existingQueue and existingQueue ~= queue then
    out[x] = {2, existingQueue}
  elseif existingQueue then
    out[x] = {0, readJob(key)}
  else
    seq = math.max(seq + 1, seqFloor)
    -- %d formats the number as an integer: far cheaper than %.0f, and exact below 2^53.
    seqText = string.format('%017d', seq)
    local state = 'queued'
    if tonumber(runAt) > now then state = 'scheduled' else queuedAny = true end
    redis.call('HSET', key, 'd', staticJson, 'st', state, 'p', priority, 'sq', seqText, 'ra', runAt, 'at', '0', 'ma', maxAttempts,
      'sl', '0', 'ms', maxStalls, 'h', '[]')
    addToIndex(keyBase .. ALL_JOBS, seqText, id)
    indexJob(id, state, seqText, priority, runAt)
    jobEvents[#jobEvents + 1] = ARGV[i + 6]
    out[x] = 1
  end
  i = i + PER_JOB
end
flushIndexWrites()
if seqText then
  redis.call('HSET', metaKey, 'seq', seqText)
  -- Handed-off jobs reach their worker before the wake-up, which then finds its slots taken.
  if queuedAny then handOff(channel, now, nowText, queue) end
  local workChannel = channel
  if string.sub(channel, 1, 1) == '?' then workChannel = string.sub(channel, 2) end
  redis.call('PUBLISH', workChannel .. ':w', '{"q":' .. queueJson .. ',"a":' .. nowText .. ',"e":[' .. table.concat(jobEvents, ',') .. ']}')
  if #events > 0 then publishEvents(channel, queue, now) end
end
return out
