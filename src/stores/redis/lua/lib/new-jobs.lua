-- The add script's helpers (lua/add.lua). Defined here, in a function library they are made once;
-- defined in the script, each call made a closure of each (~0.5k instructions, and garbage).
-- seqs first..first+count-1 for an add: above every seq before and at least now in microseconds,
-- so newest-first lists can merge queues by seq. One HINCRBY: its step is worked out from the last
-- seq this library stored for the queue (LAST_SEQS, lua/lib/handoff.lua) to land at once where it
-- should, where a step of count fell below the floor on the first add of each millisecond and
-- needed an HSET after it (~6k Redis instructions; callgrind, where three adds in four crossed a
-- millisecond). The guess is checked by the answer (the value before the step is the answer less
-- the step): another writer since (another version's library, EVAL, a failover) makes it wrong, and
-- then the seq is set as before, from the value read. Still at least floor then: the step lifts the
-- guess to the floor and the value was at least the guess (seqs only grow); a value below the guess
-- (a meta hash deleted from outside Fusion) is corrected by the same check, at the next add that
-- makes the call (not those of the millisecond taken from the stored range, below).
-- Where the guess held, the add also stores the rest of its millisecond (up to floor + 999) as
-- taken, and later adds of that millisecond take their seqs from it with no call (TAKEN_SEQS: the
-- HINCRBY is ~6k of a lone add's ~83k Redis instructions; sequential adds come ~10 a millisecond).
-- Every writer steps above the stored seq, so no other add takes one of those seqs, and none is
-- ahead of its millisecond, as a seq taken one by one would be. What differs: an add of another
-- writer in that millisecond (another version during a rolling upgrade) takes a seq above those
-- this library has yet to give in it. Only where the guess held (never as EVAL, where LAST_SEQS
-- starts empty on every call) and only the add's own millisecond, so two writers taking turns
-- never push seqs ahead of the clock.
-- A queue written before seq was a plain integer holds it zero-padded, which HINCRBY refuses: read
-- once, then written plain. The step goes as text: Redis formats a Lua number argument with
-- printf('%.17g'), ~2k instructions.
local function takeSeqs(metaKey, now, count)
  local floor = now * 1000
  local wanted = floor + count - 1
  local guess = LAST_SEQS[metaKey]
  local step, first = count, nil
  if guess then
    -- The first add of a millisecond finds the floor above the guess (and so above the taken seq).
    first = floor
    if floor <= guess then
      first = TAKEN_SEQS[metaKey] + 1
      if first < floor then first = floor end
      if first + count - 1 <= guess then
        TAKEN_SEQS[metaKey] = first + count - 1
        return first
      end
    end
    local land = first + count - 1
    -- The rest of the millisecond kept where the seqs fall in it (floor whole: now in whole ms).
    if land < floor + 1000 and floor % 1000 == 0 then step = floor + 999 - guess else step = land - guess end
  end
  local last = pcallRedis('HINCRBY', metaKey, 'seq', step == 1 and '1' or formatText('%d', step))
  local stepped = typeOf(last) == 'number'
  local before
  if stepped then before = last - step else before = tonumber(callRedis('HGET', metaKey, 'seq')) end
  if before ~= guess or not stepped then
    local right = before + count
    if right < wanted then right = wanted end
    -- %d formats the number as an integer: far cheaper than %.0f, and exact below 2^53.
    if right ~= last then callRedis('HSET', metaKey, 'seq', formatText('%d', right)) end
    last, first = right, right - count + 1
  end
  -- Known: the entry is there (rememberSeq only counts new ones), one call fewer a lone add.
  if guess then LAST_SEQS[metaKey], TAKEN_SEQS[metaKey] = last, first + count - 1 else rememberSeq(metaKey, last) end
  return first
end
-- A seq as the 17-digit text the hash (sq) and the ready index hold: a 14-digit head (seqHead,
-- formatted once per thousand seqs) and a 3-digit tail from SEQ_TAILS, joined by one concatenation
-- where string.format ran sprintf for each job (~2.5k instructions against ~0.7k, callgrind).
-- SEQ_TAILS fills as tails are asked for (seqTail) and, where the scripts run as a function library,
-- stays: 1,000 short strings.
local SEQ_TAILS = {}
local function seqTail(tail)
  local text = formatText('%03d', tail)
  SEQ_TAILS[tail] = text
  return text
end
local function seqHead(seq) return formatText('%014d', math.floor(seq / 1000)) end
-- A lone add's seq as that text: the head kept from the add before while it is the same (the adds of
-- one millisecond share it: the seq is at least now in microseconds), one concatenation where
-- string.format('%017d') ran sprintf for every add (~1.7k instructions, callgrind). A seq that is not
-- an integer (a clock with fractions of a millisecond) is formatted, as before. A new head that is
-- now itself (the first add of a millisecond, where the seq is now in microseconds) is '0' .. nowText
-- where nowText has 13 digits (the client's clock until the year 2286): no sprintf (~2.3k
-- instructions with math.floor, callgrind), and a lone add of its own millisecond is the usual one.
local lastHead, lastHeadText = nil, nil
local function loneSeqText(seq, now, nowText)
  local tail = seq % 1000
  if tail % 1 ~= 0 then return formatText('%017d', seq) end
  local head = seq - tail
  if head ~= lastHead then
    if head == now * 1000 and #nowText == 13 then lastHeadText = '0' .. nowText else lastHeadText = seqHead(seq) end
    lastHead = head
  end
  return lastHeadText .. (SEQ_TAILS[tail] or seqTail(tail))
end
-- A new job's hash. lean: only d, st, p, sq and the fields not at their default (nonDefaultFields);
-- a plain job's four fields cost ~9k Redis instructions less than the ten (callgrind). Else every
-- field, those at their default too, for versions before this one (see the head of add.lua).
local function writeJob(key, lean, staticJson, state, priority, seqText, runAt, maxAttempts, maxStalls)
  if not lean then
    callRedis('HSET', key, 'd', staticJson, 'st', state, 'p', priority, 'sq', seqText, 'ra', runAt, 'at', '0',
      'ma', maxAttempts, 'sl', '0', 'ms', maxStalls, 'h', '[]')
  elseif runAt == RUN_AT_CREATED and maxAttempts == ABSENT_MAX_ATTEMPTS and maxStalls == ABSENT_MAX_STALLS then
    callRedis('HSET', key, 'd', staticJson, 'st', state, 'p', priority, 'sq', seqText)
  else
    local args = {'d', staticJson, 'st', state, 'p', priority, 'sq', seqText}
    callRedis('HSET', key, unpack(args, 1, nonDefaultFields(args, 8, runAt, maxAttempts, maxStalls)))
  end
end
-- An add's work message, then the events of jobs a hand-off claimed (active, promoted).
local function publishWork(channel, queue, now, text)
  callRedis('PUBLISH', WORK_CHANNELS[channel] or workChannel(channel), text)
  if #events > 0 then publishEvents(channel, queue, now) end
end
-- The events of a lone add's job handed over at once (handOffNew), instead of publishWork's: no
-- worker needs waking for a job already leased, so nothing goes on the work channel; its queued and
-- active events go in one message, in that order, to those who take every event, if anyone does.
local function publishHanded(channel, queue, now, id)
  if othersListening(channel) then
    callRedis('PUBLISH', channelName(channel), cjson.encode({q = queue, a = now, e = {{'queued', id}, {'active', id}}}))
  end
end
-- One job of a lone add: created (1; or, handed at once to an idle worker, that registration's
-- token, so a worker of the adding process starts it from this answer, which reaches that process
-- before the hand-off message: Redis writes a script's caller first), or the answer for an id
-- already taken ({{0, row}} in this queue, {{2, queue}} in another). message: the work message, or
-- with messageHead the job's escape-free id, which goes into the message built here (a plain add:
-- see lua/add.lua). add.lua repeats this function's queued path for a plain add whose queue has no
-- idle worker: a change to what a lone add writes, answers or publishes goes in both.
local function addLone(lean, channel, queue, now, nowText, id, runAt, priority, maxAttempts, maxStalls, staticJson, message, messageHead)
  local keys = QUEUE_KEYS[keyBase] or queueKeys()
  local key = keys.job .. id
  -- On a single Redis the index is exact: claiming the id in it (HSETNX) is the existence check.
  -- On Cluster the index lives in another slot and the job key decides.
  local existingQueue = false
  if idIndex then
    if callRedis('HSETNX', idIndex, id, queue) == 0 then existingQueue = callRedis('HGET', idIndex, id) end
  elseif callRedis('EXISTS', key) == 1 then existingQueue = queue end
  if existingQueue then
    if existingQueue ~= queue then return {{2, existingQueue}} end
    return {{0, readJob(key)}}
  end
  -- Queued if runAt is not after now. A job of an enqueue mostly has runAt = now, the text of
  -- nowText: Lua interns strings, so == is one comparison where tonumber runs strtod (~2k).
  local queued = runAt == RUN_AT_CREATED or runAt == nowText or tonumber(runAt) <= now
  local seqText, handed, handedTo
  if queued then
    -- Handed-off jobs reach their worker before the wake-up, which then finds its slots taken.
    local registration, lapsesAt, token, slots, leaseMs, worker, workerChannel = takeRegistration(channel, now)
    -- Handed at once: handOffNew wrote the job leased and gives its seq.
    handed = registration and handOffNew(channel, now, nowText, queue, key, lean, id, priority, runAt, maxAttempts, maxStalls, staticJson,
      token, leaseMs, worker, workerChannel)
    if handed then seqText, handedTo = handed, token
    else
      seqText = loneSeqText(takeSeqs(keys.meta, now, 1), now, nowText)
      writeJob(key, lean, staticJson, 'queued', priority, seqText, runAt, maxAttempts, maxStalls)
      callRedis('ZADD', keys.ready, readyScore(priority), seqText .. id)
      if registration then handOff(channel, now, nowText, queue, registration, lapsesAt, token, slots, leaseMs, worker, workerChannel) end
    end
  else
    seqText = loneSeqText(takeSeqs(keys.meta, now, 1), now, nowText)
    writeJob(key, lean, staticJson, 'scheduled', priority, seqText, runAt, maxAttempts, maxStalls)
    callRedis('ZADD', keys.scheduled, runAt, id)
  end
  callRedis('ZADD', keys.all, seqText, id)
  if handed then publishHanded(channel, queue, now, id)
  -- As addMessage (codec.ts) writes it: one concatenation.
  elseif messageHead then publishWork(channel, queue, now, messageHead .. nowText .. ',"e":[["queued","' .. id .. '"]]}')
  else publishWork(channel, queue, now, message) end
  return handedTo or 1
end
-- What a plain add (lua/add.lua) needs of its queue, from its hash-tag base ({prefix:queue}) and
-- channel ('?prefix:events' on a single Redis, 'prefix:events' on Cluster; a prefix never starts
-- with '?', store.ts): the queue name, the work message up to its time and on a single Redis the id
-- index ({prefix}:ids: the client sends it to other scripts as KEYS[2]; a plain add spares the
-- argument, ~1.5k instructions with its slot in KEYS, callgrind. On a single Redis a script may touch
-- keys of any slot, as it touches the job's keys built from KEYS[1]). Kept across calls where the
-- scripts run as a function library (a store sends the same two on every add), so the client sends
-- neither the queue nor the message; started over past 256 entries. Its keys: queueKeys (lua/lib/keys.lua).
local PLAIN_QUEUES, plainQueuesKept = {}, 0
local function plainQueue(base, channel)
  local plain = PLAIN_QUEUES[base]
  if plain and plain.channel == channel then return plain end
  if plainQueuesKept == 256 then PLAIN_QUEUES, plainQueuesKept = {}, 0 end
  local name, single = channelName(channel)
  local prefix = string.sub(name, 1, #name - #':events')
  local queue = string.sub(base, #prefix + 3, -2)
  plain = {channel = channel, queue = queue, messageHead = '{"q":' .. cjson.encode(queue) .. ',"a":',
    idIndex = single and '{' .. prefix .. '}' .. ID_INDEX or nil}
  PLAIN_QUEUES[base] = plain
  plainQueuesKept = plainQueuesKept + 1
  return plain
end
