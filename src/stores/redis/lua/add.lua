-- Add jobs to one queue. The client writes the work message of the add (but for a plain add, below)
-- as if every job were created ({"q":queue,"a":now,"e":[["queued",id] or ["scheduled",id,runAt], ...]}, by the same
-- runAt > now test); only an add that finds some ids taken builds its own (cjson for those ids).
-- Returns the number of jobs when every one was created (a lone job handed at once to an idle
-- worker: that registration's token instead, see addLone); otherwise per job: 1 created, {0, row}
-- it exists in this queue, {2, queue} it exists in another. Costs are Redis instructions
-- (callgrind): every redis.call is ~5-8k and every argument ~1k, so a lone add makes as few as it
-- can, and a batch makes one call per job (its hash), the rest once per batch. The hash gets every
-- field, those at their default too (attempts, stalls, history, runAt, the limits), unless the
-- prefix is marked lean (jobFormat in lua/lib/keys.lua): this version reads a hash without them,
-- earlier ones do not, and both may share a Redis until the mark is set. The client reads the mark
-- and calls this script as 'add-lean' where it is set (scripts.ts: this text with lean true): no
-- read of it here, no argument for it (each costs ~1-5k instructions a call).
local lean = false
-- takeSeqs, seqHead, seqTail, loneSeqText, writeJob, publishWork, addLone and plainQueue:
-- lua/lib/new-jobs.lua. idleMarked: lua/lib/handoff.lua. queueKeys: lua/lib/keys.lua.

-- A plain add (lean prefixes only; four or five arguments, see plainAddScript in script-calls.ts):
-- one job, due, its runAt its createdAt, its limits at their default, an id that needs no escaping
-- in JSON. One key, KEYS[1]: the queue name and on a single Redis the id index (KEYS[2] of the
-- other forms) follow from it and the channel (plainQueue, kept across calls), and the work message
-- is built here. Each argument not sent spares Redis ~1.5k instructions; the client writes no message.
if #ARGV <= 5 then
  if not lean then error('a plain add needs a lean prefix') end
  local channel, nowText, id, staticJson, priority = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5] or DEFAULT_PRIORITY
  local plain = plainQueue(KEYS[1], channel)
  beginCall(KEYS[1], plain.idIndex)
  local now = timeOf(nowText)
  -- On Cluster, or where an idle worker may have registered (idleMarked, lua/lib/handoff.lua), addLone.
  if not (idIndex and idleMarked(now)) then
    return addLone(lean, channel, plain.queue, now, nowText, id, RUN_AT_CREATED, priority, ABSENT_MAX_ATTEMPTS, ABSENT_MAX_STALLS,
      staticJson, nil, plain.messageHead)
  end
  -- Else addLone's path with its branches decided and its writes made here: its thirteen arguments,
  -- hand-off and state tests, writeJob and publishWork cost ~4k Redis instructions of its ~83k
  -- (callgrind). Written here, not as helpers: as EVAL (Redis 6) each helper is made anew on every
  -- call, and those this path needed cost more than it saves there (+8k instructions, callgrind).
  local keys = QUEUE_KEYS[keyBase] or queueKeys()
  local key = keys.job .. id
  if callRedis('HSETNX', idIndex, id, plain.queue) == 0 then
    local existingQueue = callRedis('HGET', idIndex, id)
    if existingQueue ~= plain.queue then return {{2, existingQueue}} end
    return {{0, readJob(key)}}
  end
  local seqText = loneSeqText(takeSeqs(keys.meta, now, 1), now, nowText)
  callRedis('HSET', key, 'd', staticJson, 'st', 'queued', 'p', priority, 'sq', seqText)
  callRedis('ZADD', keys.ready, readyScore(priority), seqText .. id)
  callRedis('ZADD', keys.all, seqText, id)
  callRedis('PUBLISH', WORK_CHANNELS[channel] or workChannel(channel), plain.messageHead .. nowText .. ',"e":[["queued","' .. id .. '"]]}')
  return 1
end

local channel = ARGV[1]
local queue = ARGV[2]
local nowText = ARGV[3]
-- ARGV[4]: the work message. ARGV[5..8]: runAt, priority, maxAttempts and maxStalls, each the value
-- every job of the add shares (all four in a lone add, most columns of most batches) or '' where
-- each job brings its own. runAt may also be 'due': each job brings its own and every one is due
-- (runAt <= now, the client's test for the message), so none is compared here (tonumber is ~2k
-- instructions: strtod). A lean add's runAt is RUN_AT_CREATED where it equals the job's createdAt
-- and is due. Then per job: id, its own columns in that order, staticJson. Each argument a job does
-- not send spares Redis ~1.5k instructions (the parse, a Lua string with every byte hashed, the read).
local runAt, priority, maxAttempts, maxStalls = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local FIRST_JOB = 9
beginCall(KEYS[1], KEYS[2])    -- KEYS[2]: the id index, single Redis only: on Cluster the store writes it after
local now = timeOf(nowText)

-- A lone add (ten arguments: its job shares every column with itself; any batch sends more).
if #ARGV == FIRST_JOB + 1 then
  return addLone(lean, channel, queue, now, nowText, ARGV[9], runAt, priority, maxAttempts, maxStalls, ARGV[10], ARGV[4])
end

-- A batch.
local allDue = runAt == 'due'
local ownRunAt, ownPriority, ownMaxAttempts, ownMaxStalls = allDue or runAt == '', priority == '', maxAttempts == '', maxStalls == ''
local PER_JOB = 2 + (ownRunAt and 1 or 0) + (ownPriority and 1 or 0) + (ownMaxAttempts and 1 or 0) + (ownMaxStalls and 1 or 0)
-- The number of jobs comes from ARGV's length: an argument more costs ~1k instructions, its
-- tonumber ~2k (strtod).
local count = (#ARGV - FIRST_JOB + 1) / PER_JOB
-- Lua's unpack has a stack limit: at most 4000 arguments a call.
local function writeAll(command, key, args, n)
  local answer = 0
  for j = 1, n, 4000 do answer = answer + redis.call(command, key, unpack(args, j, math.min(j + 3999, n))) end
  return answer
end
-- On a single Redis the ids are looked up in the index all at once. If none is there they are
-- claimed in it at once, before the loop, and HSET's count of new fields says whether the batch
-- repeats an id: only if it does (or on Cluster, or some ids were there) does the loop keep the set
-- of ids it took and the index pairs to claim after it (a table write or two per job fewer).
local known, indexArgs, ni, checkRepeats, indexLeft = {}, {}, 0, true, idIndex
if idIndex then
  local ids, i = {}, FIRST_JOB
  for x = 1, count do ids[x] = ARGV[i]; i = i + PER_JOB end
  known = redis.call('HMGET', idIndex, unpack(ids))
  local anyKnown = false
  for x = 1, count do if known[x] then anyKnown = true; break end end
  if not anyKnown then
    for x = 1, count do indexArgs[2 * x - 1], indexArgs[2 * x] = ids[x], queue end
    checkRepeats = writeAll('HSET', idIndex, indexArgs, 2 * count) < count
    indexLeft = nil
  end
end
local first = takeSeqs(keyBase .. META, now, count)
local tail, head = first % 1000, seqHead(first)
-- out: per job answers, made at the first job not created (until then, every job was).
local out, created, taken = nil, 0, {}
local allArgs, readyArgs, scheduledArgs = {}, {}, {}
local na, nr, ns = 0, 0, 0
local jobKeyBase = keyBase .. JOB
-- A job's state and ready score follow from its runAt and priority, worked out again only when
-- those change from the job before (never, where the jobs share them).
local seenRunAt, queued, seenPriority, score
local i = FIRST_JOB
for x = 1, count do
  local id, k = ARGV[i], i + 1
  if ownRunAt then runAt, k = ARGV[k], k + 1 end
  if ownPriority then priority, k = ARGV[k], k + 1 end
  if ownMaxAttempts then maxAttempts, k = ARGV[k], k + 1 end
  if ownMaxStalls then maxStalls, k = ARGV[k], k + 1 end
  local staticJson = ARGV[k]
  if tail == 1000 then tail, head = 0, seqHead(first + x - 1) end
  local key = jobKeyBase .. id
  local existingQueue = known[x]
  if checkRepeats then
    if taken[id] then existingQueue = queue
    elseif not idIndex and redis.call('EXISTS', key) == 1 then existingQueue = queue end
  end
  if existingQueue then
    if not out then
      out = {}
      for k = 1, x - 1 do out[k] = 1 end
    end
    if existingQueue ~= queue then out[x] = {2, existingQueue} else out[x] = {0, readJob(key)} end
  else
    if checkRepeats then taken[id] = true end
    local seqText = head .. (SEQ_TAILS[tail] or seqTail(tail))
    if runAt ~= seenRunAt then seenRunAt, queued = runAt, allDue or runAt == RUN_AT_CREATED or runAt == nowText or tonumber(runAt) <= now end -- as for a lone add
    if queued then
      if priority ~= seenPriority then seenPriority, score = priority, readyScore(priority) end
      readyArgs[nr + 1], readyArgs[nr + 2] = score, seqText .. id
      nr = nr + 2
    else
      scheduledArgs[ns + 1], scheduledArgs[ns + 2] = runAt, id
      ns = ns + 2
    end
    writeJob(key, lean, staticJson, queued and 'queued' or 'scheduled', priority, seqText, runAt, maxAttempts, maxStalls)
    allArgs[na + 1], allArgs[na + 2] = seqText, id
    na = na + 2
    if indexLeft then
      indexArgs[ni + 1], indexArgs[ni + 2] = id, queue
      ni = ni + 2
    end
    created = created + 1
    if out then out[x] = 1 end
  end
  tail = tail + 1
  i = i + PER_JOB
end
if created == 0 then return out end
if indexLeft then writeAll('HSET', indexLeft, indexArgs, ni) end
writeAll('ZADD', keyBase .. ALL_JOBS, allArgs, na)
if ns > 0 then writeAll('ZADD', keyBase .. SCHEDULED, scheduledArgs, ns) end
if nr > 0 then
  writeAll('ZADD', keyBase .. READY, readyArgs, nr)
  handOff(channel, now, nowText, queue, takeRegistration(channel, now))
end
if created == count then
  publishWork(channel, queue, now, ARGV[4])
  return count
end
-- Some ids were taken: the message names only the jobs created.
local events = {}
i = FIRST_JOB
for x = 1, count do
  if out[x] == 1 then
    local idJson = cjson.encode(ARGV[i])
    if ownRunAt then runAt = ARGV[i + 1] end
    if allDue or runAt == RUN_AT_CREATED or runAt == nowText or tonumber(runAt) <= now then events[#events + 1] = '["queued",' .. idJson .. ']'
    else events[#events + 1] = '["scheduled",' .. idJson .. ',' .. runAt .. ']' end
  end
  i = i + PER_JOB
end
publishWork(channel, queue, now, '{"q":' .. cjson.encode(queue) .. ',"a":' .. nowText .. ',"e":[' .. table.concat(events, ',') .. ']}')
return out
