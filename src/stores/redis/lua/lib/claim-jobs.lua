-- scheduled -> queued for due jobs; returns how many moved.
local function promoteDue(nowText, limitText)
  local due = callRedis('ZRANGEBYSCORE', keyBase .. SCHEDULED, '-inf', nowText, 'LIMIT', '0', limitText)
  if #due == 0 then return 0 end
  for _, id in ipairs(due) do
    local key = jobKey(id)
    local fields = callRedis('HMGET', key, 'p', 'sq')
    callRedis('HSET', key, 'st', 'queued')
    removeFromIndex(keyBase .. SCHEDULED, id)
    addToIndex(keyBase .. READY, readyScore(fields[1]), fields[2] .. id)
    events[#events + 1] = {'queued', id}
  end
  flushIndexWrites()
  return #due
end
-- The fields a claim reads of each job (CLAIM_FIELDS in codec.ts), in the order of a claim row.
-- claimJobs names them in its reads and spells out a row's ten values one by one: a change to the
-- list must change it too.
local CLAIM_FIELDS = {--[[$CLAIM_FIELDS]]}
local CLAIM_ROW = {'d', 'p', 'ra', 'at', 'ma', 'sl', 'ms', 'h', 'e', 'pg'}
for k = 1, 10 do if CLAIM_FIELDS[k] ~= CLAIM_ROW[k] or #CLAIM_FIELDS ~= 10 then error('claimJobs reads and builds rows of the CLAIM_FIELDS d,p,ra,at,ma,sl,ms,h,e,pg') end end
-- The attempt number after a stored one, as text, for the first few (a library's
-- load has no tostring to build it): string.format costs more than a table lookup.
local NEXT_ATTEMPT = {['0'] = '1', ['1'] = '2', ['2'] = '3', ['3'] = '4', ['4'] = '5', ['5'] = '6', ['6'] = '7', ['7'] = '8', ['8'] = '9', ['9'] = '10'}
-- A small count as text (a claim's last rank, a registration's slots): a table lookup where
-- string.format or Lua's own number-to-text conversion runs sprintf (~2-3k instructions).
local SMALL_COUNTS = {[0] = '0', '1', '2', '3', '4', '5', '6', '7', '8', '9'}
local function countText(n) return SMALL_COUNTS[n] or string.format('%d', n) end
-- A claim row's values between the priority and the id for a job of only d, st, p and sq: no runAt
-- (its createdAt), attempt 1, no limits (the defaults), no stalls, history '[]', no error or progress.
local PLAIN_ROW_MIDDLE = '\n\n1\n\n\n\n[]\n\n\n'
-- Promote due jobs, then take up to `limit` queued jobs (priority, FIFO) as active under `token`.
-- Returns one string per claimed job: its CLAIM_FIELDS values (attempts already counted up, '' for
-- none), then its id, joined by newlines (JSON from JSON.stringify holds no raw newline; an id may,
-- so it goes last), built by one concatenation: building JSON text here cost ~2 us a job (measured),
-- and one string per job is far cheaper for the client to read than a row of fields. The caller
-- adds state, worker, token, times and the open attempt, the same for all. Also returns the
-- earliest wake time or false, and whether the ready queue ran dry (fewer jobs there than asked).
-- What claimJobs reads of a queue meta holding one field or none (NO_LIMITS): never written to.
local NO_LIMITS = {}
local function claimJobs(channel, now, nowText, limit, leaseMs, worker, token)
  local metaKey = keyBase .. META
  -- A queue's meta holds its last seq (every add of every version writes it there) and only where
  -- set paused, conc and the rate fields: a meta of one field or none has none of them to read, known
  -- by one HLEN (~2.6k instructions) where their HMGET is ~7.3k (callgrind). The one field of a queue
  -- that never had a job (no seq yet) may be paused or conc: it has nothing to claim either, and the
  -- hand-off an idle worker's registration waits for claims by a meta read again, the seq then there
  -- (handOffNew, handOff). The rate window's fields only where a rate is set: a field read is ~1.1k.
  local meta = NO_LIMITS
  if callRedis('HLEN', metaKey) > 1 then meta = callRedis('HMGET', metaKey, 'paused', 'conc', 'rmax') end
  if meta[1] == '1' then return {}, false, false end
  -- A queue whose last claim here ran dry (ranDry in its QUEUE_KEYS entry, lua/lib/keys.lua: an
  -- idle worker's claim, mostly, whose next claim follows a job an add handed straight to it) is
  -- first asked whether it holds anything queued or scheduled at all: one EXISTS (Redis deletes an
  -- empty index) where finding nothing took the two ZRANGEs below (~4k Redis instructions,
  -- callgrind). Only without conc and rate, whose reads below can answer otherwise (a wake time,
  -- or not dry). The mark is a guess kept where the scripts run as a function library, in the
  -- entry the queue's adds made: where it is wrong, the EXISTS is the only cost. As EVAL there is none.
  local keys = QUEUE_KEYS[keyBase]
  if keys and keys.ranDry and not meta[2] and not meta[3] and callRedis('EXISTS', keys.ready, keys.scheduled) == 0 then
    return {}, false, true
  end
  -- The first scheduled job says both whether any is due and when to wake: promoted only if it is
  -- due, so a claim with nothing due makes one call here, not two (~6k instructions, callgrind).
  local wakeAt = false
  local firstScheduled = callRedis('ZRANGE', keyBase .. SCHEDULED, '0', '0', 'WITHSCORES')
  if firstScheduled[2] then
    wakeAt = tonumber(firstScheduled[2])
    if wakeAt <= now then
      promoteDue(nowText, '1000')
      firstScheduled = callRedis('ZRANGE', keyBase .. SCHEDULED, '0', '0', 'WITHSCORES')
      wakeAt = firstScheduled[2] and tonumber(firstScheduled[2]) or false
    end
  end
  local room = limit
  if meta[2] then room = math.min(room, tonumber(meta[2]) - activeCount()) end
  local rateMax = meta[3] and tonumber(meta[3])
  local windowStart, usedInWindow
  if rateMax then
    local rate = callRedis('HMGET', metaKey, 'rwin', 'rs', 'rc')
    local window = tonumber(rate[1])
    windowStart, usedInWindow = tonumber(rate[2] or '0'), tonumber(rate[3] or '0')
    if now >= windowStart + window then windowStart, usedInWindow = now, 0 end
    local left = rateMax - usedInWindow
    if left <= room and (not wakeAt or windowStart + window < wakeAt) then wakeAt = windowStart + window end
    room = math.min(room, left)
  end
  if room <= 0 then return {}, wakeAt, false end
  local rows = {}
  -- ZRANGE then ZREMRANGEBYRANK rather than ZPOPMIN, whose reply formats every score as text.
  local popped = callRedis('ZRANGE', keyBase .. READY, '0', countText(room - 1))
  if #popped == 0 then
    if keys then keys.ranDry = true end
    return rows, wakeAt, true
  end
  callRedis('ZREMRANGEBYRANK', keyBase .. READY, '0', countText(#popped - 1))
  -- Formatted only once a job is there: an idle worker's claims find none. %d, not %.0f (~1.9k
  -- instructions against ~4.6k, callgrind): now and leaseMs are whole milliseconds.
  local leaseUntilText = formatText('%d', now + leaseMs)
  local leaseKey = keyBase .. LEASED
  -- The lease index's batched writes, appended here (pendingList); written directly (a claim of at
  -- most one job), each job goes with the anchor in one ZADD.
  local leases, nl = nil, 0
  if not writeDirectly then
    leases = pendingList(pendingAdds, leaseKey)
    nl = #leases
    leases[nl + 1], leases[nl + 2], nl = 'inf', LEASE_ANCHOR, nl + 2
  end
  local jobPrefix = keyBase .. JOB
  -- Asked once here, not per job: each Lua call is ~0.3k instructions.
  local announce = othersListening(channel)
  local nr = 0
  for j = 1, #popped do
    local id = subText(popped[j], 18)
    local key = jobPrefix .. id
    -- A job hash's size says which claim fields it can hold (the job hash sizes, lua/lib/keys.lua): four
    -- fields are d, st, p and sq alone (a lean add's usual job: every other claim field at its
    -- default); up to seven, it was never claimed (no at, no history); past that, anything. One
    -- HLEN and a read of 2 fields (or 5) cost less than reading all 7 (~4k Redis instructions a job,
    -- callgrind: each field read turns into a Lua table element), at the price of the HLEN (~2.6k)
    -- for a job claimed before or stored in full. An id without its hash (size 0) is skipped, not
    -- an error: past the pop, a script that stops keeps its writes so far (the jobs before this
    -- one would be active with no worker holding them).
    local size = callRedis('HLEN', key)
    local d, priority, runAt, attempts, maxAttempts, maxStalls, history
    if size == 4 then
      local fields = callRedis('HMGET', key, 'd', 'p')
      d, priority = fields[1], fields[2]
    elseif size > 7 then
      local fields = callRedis('HMGET', key, 'd', 'p', 'ra', 'at', 'ma', 'ms', 'h')
      d, priority, runAt, attempts, maxAttempts, maxStalls, history = fields[1], fields[2], fields[3], fields[4], fields[5], fields[6], fields[7]
    elseif size > 0 then
      local fields = callRedis('HMGET', key, 'd', 'p', 'ra', 'ma', 'ms')
      d, priority, runAt, maxAttempts, maxStalls = fields[1], fields[2], fields[3], fields[4], fields[5]
    end
    if d then
      -- Stalls, error and progress count only past an ended attempt, when the history is not
      -- '[]' (recover writes stalls with the stalled attempt closed into it, finish and recover an
      -- error with the failed one; a manual retry writes stalls 0): a job that never ended an
      -- attempt, lean or full, reads 7 fields at most, not 10 (each field read costs ~1.2k
      -- instructions, most of it turning the reply into Lua values; callgrind). No history stored is '[]'.
      local stalls, lastError, progress = nil, nil, nil
      if not history or history == '' then history = '[]'
      elseif history ~= '[]' then
        local ran = callRedis('HMGET', key, 'sl', 'e', 'pg')
        stalls, lastError, progress = ran[1], ran[2], ran[3]
      end
      local attempt = NEXT_ATTEMPT[attempts or '0'] or string.format('%d', (tonumber(attempts) or 0) + 1)
      callRedis('HSET', key, 'st', 'active', 'at', attempt, 'w', worker, 'tk', token, 'lu', leaseUntilText, 'sa', nowText)
      if leases then leases[nl + 1], leases[nl + 2], nl = leaseUntilText, id, nl + 2
      else callRedis('ZADD', leaseKey, 'inf', LEASE_ANCHOR, leaseUntilText, id) end
      if announce then events[#events + 1] = {'active', id} end
      -- The row: one value per CLAIM_FIELDS entry, in its order, '' for an absent one (no error, no
      -- progress), then the id. One concatenation of 21 pieces: filling the gaps in a loop and
      -- table.concat cost ~5k instructions a job more (callgrind, claims of 50); of 5 for a job of
      -- four fields, whose others are known.
      nr = nr + 1
      if size == 4 then rows[nr] = d .. '\n' .. priority .. PLAIN_ROW_MIDDLE .. id
      else
        rows[nr] = d .. '\n' .. (priority or '') .. '\n' .. (runAt or '') .. '\n' .. attempt .. '\n' .. (maxAttempts or '') .. '\n' .. (stalls or '') .. '\n' .. (maxStalls or '') .. '\n' .. history .. '\n' .. (lastError or '') .. '\n' .. (progress or '') .. '\n' .. id
      end
    end
  end
  if rateMax then callRedis('HSET', metaKey, 'rs', string.format('%.0f', windowStart), 'rc', usedInWindow + #rows) end
  -- Not marked dry after a claim that took some: a busy, shallow queue refilled between claims
  -- would pay the EXISTS on every claim.
  if keys then keys.ranDry = false end
  return rows, wakeAt, #popped < room
end
