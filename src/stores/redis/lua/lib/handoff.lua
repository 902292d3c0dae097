-- Idle hand-off. A worker whose claim finds the queue empty leaves a registration in the IDLE set:
-- member token (its own, see workerClaim), slots, leaseMs and worker id on lines of their own,
-- scored by when it lapses. The next add that queues work claims for the newest live registration
-- in the same script and publishes the jobs on that worker's channel, sparing an idle worker the
-- claim round trip after its wake-up. A registration serves one add. Its jobs also go to the list
-- HANDED .. token, from which the worker's next claim takes them if the message never came (its
-- event connection dropped meanwhile).
-- Queues (by keyBase) whose IDLE set an add found empty, with no registration made here since, and
-- until when (ms): their adds skip the ZPOPMAX (~3k Redis instructions of a lone add's ~100k,
-- callgrind) for IDLE_EMPTY_MS. Where the scripts run as a function library this stays across calls;
-- a registration written here (workerClaim, or handOff putting one back) clears its queue's mark.
-- Registrations this table cannot see (written by another version's library during a rolling
-- upgrade, by a worker calling the scripts as EVAL, or replicated here before a failover made this
-- node master) are missed by adds for at most IDLE_EMPTY_MS, and only as a hand-off: the job is
-- queued and its work message, which every worker subscribes to, wakes the worker, whose claim takes
-- the registration back. The second is by the adders' clocks (their `now`): an add whose clock is
-- behind the marker's pops, so skew does not stretch it. A fresh Lua state (restart, FUNCTION FLUSH)
-- starts with no marks, and as EVAL every call does: the set is then popped, as before. Started
-- over past 1,024 marks.
local IDLE_EMPTY, idleEmptyKept, IDLE_EMPTY_MS = {}, 0, 1000
local function markIdleEmpty(now)
  if IDLE_EMPTY[keyBase] == nil then
    if idleEmptyKept == 1024 then IDLE_EMPTY, idleEmptyKept = {}, 0 end
    idleEmptyKept = idleEmptyKept + 1
  end
  IDLE_EMPTY[keyBase] = now + IDLE_EMPTY_MS
end
-- Per channel as scripts get it: its name, whether it came marked '?' and the head of its workers'
-- channels (each string.sub or concatenation ~0.6-1k Redis instructions of a handed add, callgrind).
-- Kept across calls where the scripts run as a function library; started over past 256 entries.
-- The queue's keys the hand-off path names: queueKeys (lua/lib/keys.lua).
local HANDOFF_CHANNELS, handoffChannelsKept = {}, 0
local function handoffChannel(channel)
  if handoffChannelsKept == 256 then HANDOFF_CHANNELS, handoffChannelsKept = {}, 0 end
  local name, single = channelName(channel)
  local to = {name = name, single = single, workerHead = name .. ':h:'}
  HANDOFF_CHANNELS[channel] = to
  handoffChannelsKept = handoffChannelsKept + 1
  return to
end
-- Whether this queue's idle set is marked empty (markIdleEmpty) at now: within the second after the
-- mark by this add's clock; a clock behind the marker's is not (its add pops as before).
local function idleMarked(now)
  local skipUntil = IDLE_EMPTY[keyBase]
  return skipUntil ~= nil and now < skipUntil and now >= skipUntil - IDLE_EMPTY_MS
end
-- The newest live registration, popped: member, lapse time, token, slots, leaseMs, worker and the
-- worker's channel; nothing when there is none. A lapsed set goes whole (the newest lapsed first).
local function takeRegistration(channel, now)
  if idleMarked(now) then return end
  local idleKey = (QUEUE_KEYS[keyBase] or queueKeys()).idle
  while true do
    local popped = callRedis('ZPOPMAX', idleKey)
    if not popped[1] then
      markIdleEmpty(now)
      return
    end
    if tonumber(popped[2]) <= now then
      callRedis('DEL', idleKey)
      markIdleEmpty(now)
      return
    end
    local to = HANDOFF_CHANNELS[channel] or handoffChannel(channel)
    local registration = popped[1]
    local token, slots, leaseMs, worker = string.match(registration, '^([^\n]*)\n(%d+)\n(%d+)\n(.*)$')
    local workerChannel = to.workerHead .. worker
    -- On a single Redis, a worker that no longer listens (gone without saying so) is skipped. The
    -- same call counts the listeners of the other events, which the claim for it asks next
    -- (othersListening): one call, not two.
    if not to.single then return registration, popped[2], token, slots, leaseMs, worker, workerChannel end
    local counts = callRedis('PUBSUB', 'NUMSUB', workerChannel, to.name)
    if anyoneListening == nil then anyoneListening = counts[4] > 0 end
    if counts[2] > 0 then return registration, popped[2], token, slots, leaseMs, worker, workerChannel end
  end
end
-- Jobs leased under a registration (claim rows, queue order): kept under its token, then published
-- to its worker. The message is {"q":queue,"t":token,"a":"now","r":[rows]}, the JSON cjson wrote
-- for such a table before (releases before this one read it), joined here from the queue's head
-- and each value's JSON: a table and its encoding cost ~3k Redis instructions more (callgrind).
-- cjson.encode as an upvalue, taken at the first call for the reason callRedis is (lua/lib/call-state.lua).
local encodeJson
local function deliver(queue, nowText, token, leaseMs, workerChannel, rows)
  local keys = QUEUE_KEYS[keyBase] or queueKeys()
  local handedKey = keys.handed .. token
  callRedis('RPUSH', handedKey, unpack(rows))
  callRedis('PEXPIRE', handedKey, leaseMs)
  if not encodeJson then encodeJson = cjson.encode end
  local head = keys.messageHead
  if not head then
    head = '{"q":' .. encodeJson(queue) .. ',"t":'
    keys.messageHead = head
  end
  -- A lone row (the usual hand-off) as its string's JSON in brackets: the same text, without cjson
  -- walking a table to find it is an array.
  local rowsJson = rows[2] and encodeJson(rows) or '[' .. encodeJson(rows[1]) .. ']'
  callRedis('PUBLISH', workerChannel, head .. jsonString(token) .. ',"a":"' .. nowText .. '","r":' .. rowsJson .. '}')
end
-- The queued jobs an add just wrote to the registrations takeRegistration gives (the first one
-- passed in, taken by the caller), each claiming by the rules of a claim (claimJobs), until the
-- queue runs dry or no live registration is left.
local function handOff(channel, now, nowText, queue, registration, lapsesAt, token, slots, leaseMs, worker, workerChannel)
  while registration do
    local rows, _, dry = claimJobs(channel, now, nowText, numberOf(slots), numberOf(leaseMs), worker, token)
    flushIndexWrites()
    if #rows == 0 then
      redis.call('ZADD', keyBase .. IDLE, lapsesAt, registration)
      IDLE_EMPTY[keyBase] = nil
      return
    end
    deliver(queue, nowText, token, leaseMs, workerChannel, rows)
    if dry then return end
    registration, lapsesAt, token, slots, leaseMs, worker, workerChannel = takeRegistration(channel, now)
  end
end
-- Per queue (by meta key), kept across calls where the scripts run as a function library: the seq
-- this library last stored in the meta (LAST_SEQS) and the last one it gave a job (TAKEN_SEQS, at
-- most that). takeSeqs (lua/lib/new-jobs.lua) steps to the next seq in one call with the first and
-- checks it there, and gives the seqs between the two without a call (see there). Started over
-- past 1,024 queues, both at once.
local LAST_SEQS, TAKEN_SEQS, lastSeqsKept = {}, {}, 0
local function rememberSeq(metaKey, seq)
  if LAST_SEQS[metaKey] == nil then
    if lastSeqsKept == 1024 then LAST_SEQS, TAKEN_SEQS, lastSeqsKept = {}, {}, 0 end
    lastSeqsKept = lastSeqsKept + 1
  end
  LAST_SEQS[metaKey], TAKEN_SEQS[metaKey] = seq, seq
end
-- A lone add's job straight to a live registration, written once, already claimed: the usual idle
-- case, where handOff would write it queued, then pop it, read it back and rewrite it (5 Redis
-- calls of its ~20, callgrind). Only when a claim would take this job and nothing else: the queue
-- not paused, without a concurrency or rate limit to weigh, nothing queued and nothing due. Returns
-- the job's seq as text (taken here: the meta read that decides also reads the last seq, sparing
-- takeSeqs' HINCRBY), or false with nothing written: the caller then takes a seq, queues the job
-- and calls handOff, which decides by the claim's rules.
local function handOffNew(channel, now, nowText, queue, key, lean, id, priority, runAt, maxAttempts, maxStalls, staticJson,
                          token, leaseMs, worker, workerChannel)
  local keys = QUEUE_KEYS[keyBase] or queueKeys()
  local meta = callRedis('HMGET', keys.meta, 'paused', 'conc', 'rmax', 'seq')
  if meta[1] == '1' or meta[2] or meta[3] then return false end
  -- Nothing queued and nothing due. An idle queue has neither index (Redis deletes an empty one):
  -- one EXISTS, where ZCARD and ZCOUNT were two calls (~4k instructions, callgrind).
  if callRedis('EXISTS', keys.ready, keys.scheduled) > 0
    and (callRedis('ZCARD', keys.ready) > 0 or callRedis('ZCOUNT', keys.scheduled, '-inf', nowText) > 0) then return false end
  -- As takeSeqs: above the last seq (tonumber also reads one stored zero-padded) and at least now in
  -- microseconds. Where the stored seq is the one this library stored last (LAST_SEQS), it may hold
  -- the rest of a millisecond the adds before took (takeSeqs): the next seq of that range, and no
  -- write while it lasts, where stored + 1 put this job a millisecond ahead of its own.
  local stored = tonumber(meta[4]) or 0
  local ranged = LAST_SEQS[keys.meta] == stored
  local seq = (ranged and TAKEN_SEQS[keys.meta] or stored) + 1
  if seq < now * 1000 then seq = now * 1000 end
  -- %d, not %.0f: a whole number either way, and %.0f's float formatting cost ~5k Redis instructions
  -- (callgrind). The 17-digit seq of a 16-digit one (now in microseconds, until the year 2286) by
  -- one concatenation, not a second sprintf. A seq of now itself (the usual: the add before took an
  -- earlier millisecond) is nowText and '000' where nowText has 13 digits, without the sprintf.
  local seqDigits = seq == now * 1000 and #nowText == 13 and nowText .. '000' or formatText('%d', seq)
  local seqText = #seqDigits == 16 and '0' .. seqDigits or formatText('%017d', seq)
  if ranged and seq <= stored then TAKEN_SEQS[keys.meta] = seq
  else
    callRedis('HSET', keys.meta, 'seq', seqDigits)
    rememberSeq(keys.meta, seq)
  end
  -- As claimJobs leaves a first attempt: the fields an add writes (writeJob), then the claim's.
  local leaseUntilText = formatText('%d', now + numberOf(leaseMs))
  if not lean then
    callRedis('HSET', key, 'd', staticJson, 'st', 'active', 'p', priority, 'sq', seqText, 'ra', runAt, 'at', '1',
      'ma', maxAttempts, 'sl', '0', 'ms', maxStalls, 'h', '[]', 'w', worker, 'tk', token, 'lu', leaseUntilText, 'sa', nowText)
  elseif runAt == RUN_AT_CREATED and maxAttempts == ABSENT_MAX_ATTEMPTS and maxStalls == ABSENT_MAX_STALLS then
    callRedis('HSET', key, 'd', staticJson, 'st', 'active', 'p', priority, 'sq', seqText, 'at', '1', 'w', worker, 'tk', token,
      'lu', leaseUntilText, 'sa', nowText)
  else
    local args = {'d', staticJson, 'st', 'active', 'p', priority, 'sq', seqText, 'at', '1', 'w', worker, 'tk', token, 'lu', leaseUntilText, 'sa', nowText}
    callRedis('HSET', key, unpack(args, 1, nonDefaultFields(args, 18, runAt, maxAttempts, maxStalls)))
  end
  callRedis('ZADD', keys.leased, 'inf', LEASE_ANCHOR, leaseUntilText, id)
  -- Its claim row (claimJobs): d, p, ra, at, ma, sl, ms, h, e, pg, then the id ('' ra: the createdAt).
  if runAt == RUN_AT_CREATED then runAt = '' end
  local row = staticJson .. '\n' .. priority .. '\n' .. runAt .. '\n1\n' .. maxAttempts .. '\n0\n' .. maxStalls .. '\n[]\n\n\n' .. id
  deliver(queue, nowText, token, leaseMs, workerChannel, {row})
  return seqText
end
-- Delete the lists of registrations whose jobs reached their worker by message (space-separated tokens).
-- Most calls have none, and an idle worker's one (no whitespace): the gmatch is ~1.4k
-- instructions (callgrind), a find far less.
local function forgetHanded(tokens)
  if tokens == '' then return end
  if not string.find(tokens, '%s') then
    callRedis('DEL', keyBase .. HANDED .. tokens)
    return
  end
  for token in string.gmatch(tokens, '%S+') do callRedis('DEL', keyBase .. HANDED .. token) end
end
-- Ends a registration's token, after its claim's: the jobs an add hands over are leased under a
-- token no claim leased a job under (REGISTRATION_MARK in handoff.ts, which says why).
local REGISTRATION_MARK = --[[$REGISTRATION_MARK]]
-- A worker's claim with its hand-off bookkeeping. previous: the registration its last claim here
-- left whose jobs have not reached it, or ''; if an add took it, its jobs come back here (handed)
-- and count against the limit. idleUntil: register when the queue runs dry, or '' not to.
-- forget: see forgetHanded. Returns claimed rows, wake time as text or false, the registration
-- made or false, handed rows or false.
local function workerClaim(channel, now, nowText, limit, leaseMs, worker, token, previous, idleUntil, forget)
  forgetHanded(forget)
  local handed = false
  if previous ~= '' and callRedis('ZREM', keyBase .. IDLE, previous) == 0 then
    -- The list stays (the client forgets it once this answer lands, and it lapses with the lease):
    -- if this answer is lost and ioredis sends the call again, the resent claim hands the jobs over.
    handed = callRedis('LRANGE', keyBase .. HANDED .. string.match(previous, '^[^\n]*'), '0', '-1')
    limit = limit - #handed
  end
  local rows, wakeAt, dry = claimJobs(channel, now, nowText, limit, numberOf(leaseMs), worker, token)
  local registration = false
  if idleUntil ~= '' and dry and limit > #rows then
    local idleKey, head = keyBase .. IDLE, token .. REGISTRATION_MARK .. '\n'
    registration = head .. countText(limit - #rows) .. '\n' .. leaseMs .. '\n' .. worker
    -- A claim ioredis sent again (its answer lost) registers at the same idleUntil, and no token may
    -- have two registrations (an add taking both published two messages under one token; the client
    -- took the first, and the second's jobs waited out their lease). If the first run's is still
    -- there, it goes. If an add already took it (its jobs are listed under the token), this run
    -- registers nothing and answers with a registration under that token: the client takes that
    -- add's message for it.
    if callRedis('EXISTS', keyBase .. HANDED .. token .. REGISTRATION_MARK) == 0 then
      for _, member in ipairs(callRedis('ZRANGEBYSCORE', idleKey, idleUntil, idleUntil)) do
        if string.sub(member, 1, #head) == head then callRedis('ZREM', idleKey, member) end
      end
      callRedis('ZADD', idleKey, idleUntil, registration)
      callRedis('PEXPIREAT', idleKey, idleUntil)
      IDLE_EMPTY[keyBase] = nil
    end
  end
  if wakeAt then wakeAt = string.format('%.0f', wakeAt) end
  return rows, wakeAt, registration, handed
end
