-- Add jobs to one queue. The client writes the work message of the add as if every job were
-- created ({"q":queue,"a":now,"e":[["queued",id] or ["scheduled",id,runAt], ...]}, by the same
-- runAt > now test); only an add that finds some ids taken builds its own (cjson for those ids).
-- Returns the number of jobs when every one was created; otherwise per job: 1 created, {0, row}
-- it exists in this queue, {2, queue} it exists in another. Costs are Redis instructions
-- (callgrind): every redis.call is ~5-8k and every argument ~1k, so a lone add makes as few as it
-- can, and a batch makes one call per job (its hash), the rest once per batch. The hash gets every
-- field, those at their default too (attempts, stalls, history, the limits): this version reads a
-- hash without them, earlier ones do not, and both may share a Redis (lua/lib/keys.lua).
local queueKeyBase = KEYS[1]
local idIndexKey = KEYS[2]    -- single Redis only: on Cluster the store writes the index after
local channel = ARGV[1]
local queue = ARGV[2]
local nowText = ARGV[3]
local message = ARGV[4]
local FIRST_JOB, PER_JOB = 5, 6 -- then per job: id, runAt, priority, maxAttempts, maxStalls, staticJson
-- The number of jobs comes from ARGV's length: an argument more costs ~1k instructions, its
-- tonumber ~2k (strtod).
local count = (#ARGV - FIRST_JOB + 1) / PER_JOB
beginCall(queueKeyBase, idIndexKey)
local now = tonumber(nowText)
local metaKey = keyBase .. META
-- takeSeqs, writeJob and publishWork: lua/lib/new-jobs.lua.

if count == 1 then
  local id, runAt, priority = ARGV[5], ARGV[6], ARGV[7]
  local key = keyBase .. JOB .. id
  -- On a single Redis the index is exact: claiming the id in it (HSETNX) is the existence check.
  -- On Cluster the index lives in another slot and the job key decides.
  local existingQueue = false
  if idIndex then
    if redis.call('HSETNX', idIndex, id, queue) == 0 then existingQueue = redis.call('HGET', idIndex, id) end
  elseif redis.call('EXISTS', key) == 1 then existingQueue = queue end
  if existingQueue then
    if existingQueue ~= queue then return {{2, existingQueue}} end
    return {{0, readJob(key)}}
  end
  -- Queued if runAt is not after now. A job of an enqueue mostly has runAt = now, the text of
  -- nowText: Lua interns strings, so == is one comparison where tonumber runs strtod (~2k).
  local queued = runAt == nowText or tonumber(runAt) <= now
  local seqText, handed
  if queued then
    -- Handed-off jobs reach their worker before the wake-up, which then finds its slots taken.
    local registration, lapsesAt, token, slots, leaseMs, worker, workerChannel = takeRegistration(channel, now)
    -- Handed at once: handOffNew wrote the job leased and gives its seq.
    handed = registration and handOffNew(channel, now, nowText, queue, key, id, priority, runAt, ARGV[8], ARGV[9], ARGV[10],
      token, leaseMs, worker, workerChannel)
    if handed then seqText = handed
    else
      seqText = string.format('%017d', takeSeqs(metaKey, now, count))
      writeJob(key, ARGV[10], 'queued', priority, seqText, runAt, ARGV[8], ARGV[9])
      redis.call('ZADD', keyBase .. READY, readyScore(priority), seqText .. id)
      handOff(channel, now, nowText, queue, registration, lapsesAt, token, slots, leaseMs, worker, workerChannel)
    end
  else
    seqText = string.format('%017d', takeSeqs(metaKey, now, count))
    writeJob(key, ARGV[10], 'scheduled', priority, seqText, runAt, ARGV[8], ARGV[9])
    redis.call('ZADD', keyBase .. SCHEDULED, runAt, id)
  end
  redis.call('ZADD', keyBase .. ALL_JOBS, seqText, id)
  if handed then publishHanded(channel, queue, now, id) else publishWork(channel, queue, now, message) end
  return 1
end

-- A batch. Ids are looked up in the index all at once, then claimed in it all at once.
local known = {}
if idIndex then
  local ids = {}
  for x = 1, count do ids[x] = ARGV[FIRST_JOB + (x - 1) * PER_JOB] end
  known = redis.call('HMGET', idIndex, unpack(ids))
end
local first = takeSeqs(metaKey, now, count)
local out, created, taken = {}, 0, {}
local allArgs, readyArgs, scheduledArgs, indexArgs = {}, {}, {}, {}
local na, nr, ns, ni = 0, 0, 0, 0
local i = FIRST_JOB
for x = 1, count do
  local id, runAt, priority = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local key = keyBase .. JOB .. id
  local existingQueue = known[x]
  if taken[id] then existingQueue = queue
  elseif not idIndex and redis.call('EXISTS', key) == 1 then existingQueue = queue end
  if existingQueue then
    if existingQueue ~= queue then out[x] = {2, existingQueue} else out[x] = {0, readJob(key)} end
  else
    taken[id] = true
    local seqText = string.format('%017d', first + x - 1)
    local state = 'scheduled'
    if runAt == nowText or tonumber(runAt) <= now then -- as for a lone add
      state = 'queued'
      readyArgs[nr + 1], readyArgs[nr + 2] = readyScore(priority), seqText .. id
      nr = nr + 2
    else
      scheduledArgs[ns + 1], scheduledArgs[ns + 2] = runAt, id
      ns = ns + 2
    end
    writeJob(key, ARGV[i + 5], state, priority, seqText, runAt, ARGV[i + 3], ARGV[i + 4])
    allArgs[na + 1], allArgs[na + 2] = seqText, id
    na = na + 2
    indexArgs[ni + 1], indexArgs[ni + 2] = id, queue
    ni = ni + 2
    created = created + 1
    out[x] = 1
  end
  i = i + PER_JOB
end
if created == 0 then return out end
-- Lua's unpack has a stack limit: at most 4000 arguments a call.
local function writeAll(command, key, args, n)
  for j = 1, n, 4000 do redis.call(command, key, unpack(args, j, math.min(j + 3999, n))) end
end
if idIndex then writeAll('HSET', idIndex, indexArgs, ni) end
writeAll('ZADD', keyBase .. ALL_JOBS, allArgs, na)
if ns > 0 then writeAll('ZADD', keyBase .. SCHEDULED, scheduledArgs, ns) end
if nr > 0 then
  writeAll('ZADD', keyBase .. READY, readyArgs, nr)
  handOff(channel, now, nowText, queue, takeRegistration(channel, now))
end
if created == count then
  publishWork(channel, queue, now, message)
  return count
end
-- Some ids were taken: the message names only the jobs created.
local events = {}
i = FIRST_JOB
for x = 1, count do
  if out[x] == 1 then
    local idJson = cjson.encode(ARGV[i])
    local runAt = ARGV[i + 1]
    if runAt == nowText or tonumber(runAt) <= now then events[#events + 1] = '["queued",' .. idJson .. ']'
    else events[#events + 1] = '["scheduled",' .. idJson .. ',' .. runAt .. ']' end
  end
  i = i + PER_JOB
end
publishWork(channel, queue, now, '{"q":' .. cjson.encode(queue) .. ',"a":' .. nowText .. ',"e":[' .. table.concat(events, ',') .. ']}')
return out
