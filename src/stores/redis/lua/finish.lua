-- Outcomes, then optionally the worker's next claim, in one script: a busy worker's cycle is one
-- round trip. After the fixed arguments come outcomeCount entries, numbered in the order their ids
-- come:
--   ('completed', c, token, at, result JSON, then c ids): completions that share lease token, end
--     time and result, as a batch of no-op or alike jobs does, so each costs one argument, not five;
--   ('clean', the same): completions of jobs whose claim under that token showed no error (its row's
--     e empty), which therefore have none to clear: e is written only by outcomes, recovery and
--     put-backs that take the token away (and a manual retry, of a job that holds none), so it stays
--     as the claim read it while the token holds (~1.8k Redis instructions a job, callgrind);
--   (kind, id, token, at, error JSON or '', error message as JSON or '', retryAt or '') for the
--     other kinds (retry, snoozed, released, failed, cancelled). The client sends the message apart: cjson
--     cannot decode every JSON.stringify output (a message cut through an emoji holds a lone
--     surrogate), and it is spliced into the history as it comes;
-- then outboxCount x (outcome number, outbox field, outbox entry): follow-up jobs, written only if
-- their outcome applies.
-- Returns {applied, claimed job rows, nextWakeAt or false, registration or false, handed rows or false},
-- applied the number of outcomes where every one applied as sent (nearly always), else per outcome 1,
-- 0 (not applied) or 2 (applied as a cancellation: FinishAnswer in core/store.ts); or
-- an idle worker's usual answer, every outcome applied and a registration made with nothing claimed,
-- nothing to wake for and nothing handed, as the registration alone (see the end).
local queueKeyBase = KEYS[1]
local channel = ARGV[1]
local queue = ARGV[2]
local outcomeCount = numberOf(ARGV[3])
local outboxCount = numberOf(ARGV[4])
local claimLimit = numberOf(ARGV[5])
local workerId = ARGV[6]
local token = ARGV[7]
local leaseMs = ARGV[8]
local nowText = ARGV[9]
local previous = ARGV[10]
local idleUntil = ARGV[11]
local forget = ARGV[12]
local FIRST_OUTCOME = 13
beginCall(queueKeyBase)
-- One outcome (one completed id: 18 arguments; another kind: 19): a concurrency-1 worker's cycle,
-- where batching the index writes costs more than it saves. The claim after it decides again (below).
writeDirectly = outboxCount == 0 and #ARGV <= 19
-- 1/0 per outcome, made at the first that does not apply (until then, each did): where all apply the
-- answer is their count, sparing the table and a reply element per outcome (~5k instructions a call,
-- ~0.3k an outcome; callgrind).
local out = nil
-- Outcome number x did not apply (0: its lease token is stale) or was applied as a cancellation (2,
-- below): from here on the answer is the table.
local function answerAt(x, answer)
  if not out then out = {}; for k = 1, x - 1 do out[k] = 1 end end
  out[x] = answer
end
-- The latest outcome time, and its text: the claim's now is mostly the same text, read once.
local lastAt, lastAtText = 0, nil
local leaseKey, completedKey = keyBase .. LEASED, keyBase .. FINISHED .. 'completed'
-- Outcome number x of a kind other than completed: `value` is the error JSON.
local function apply(x, kind, id, leaseToken, at, atText, value, messageJson, retryAt)
  local key = jobKey(id)
  if callRedis('HGET', key, 'tk') ~= leaseToken then
    answerAt(x, 0)
    return
  end
  if at > lastAt then lastAt, lastAtText = at, atText end
  removeFromIndex(leaseKey, id)
  -- An absent history is '[]' (closeAttempt).
  local fields = callRedis('HMGET', key, 'h', 'at', 'w', 'sa', 'p', 'sq', 'cr')
  local history, attempt, worker, startedAt, priority, seq = fields[1], fields[2], fields[3], fields[4], fields[5], fields[6]
  local answer = 1
  if fields[7] == '1' and YIELDS_TO_CANCEL[kind] then
    kind, value, messageJson, answer = 'cancelled', --[[$CANCELLED_AT_ATTEMPT_END]], --[[$CANCELLED_AT_ATTEMPT_END_MESSAGE]], 2
  end
  if kind == 'retry' then
    callRedis('HSET', key, 'st', 'scheduled', 'ra', retryAt, 'e', value,
      'h', closeAttempt(history, attempt, worker, startedAt, atText, 'retrying', messageJson), 'tk', '', 'lu', '', 'w', '', 'cr', '')
    addToIndex(keyBase .. SCHEDULED, retryAt, id)
    events[#events + 1] = {'retrying', id, tonumber(retryAt)}
  elseif kind == 'snoozed' then
    -- Put off by its handler: scheduled again, the attempt given back (its error, if any, kept).
    callRedis('HSET', key, 'st', 'scheduled', 'ra', retryAt, 'at', math.max(tonumber(attempt) - 1, 0),
      'h', closeSnooze(history, attempt, worker, startedAt, atText), 'tk', '', 'lu', '', 'w', '', 'cr', '')
    addToIndex(keyBase .. SCHEDULED, retryAt, id)
    events[#events + 1] = {'scheduled', id, tonumber(retryAt)}
  elseif kind == 'released' then
    callRedis('HSET', key, 'st', 'queued', 'at', math.max(tonumber(attempt) - 1, 0),
      'h', closeAttempt(history, attempt, worker, startedAt, atText, 'released'), 'tk', '', 'lu', '', 'w', '', 'cr', '')
    indexJob(id, 'queued', seq, priority)
    events[#events + 1] = {'queued', id}
  else
    callRedis('HSET', key, 'st', kind, 'ea', atText, 'h', closeAttempt(history, attempt, worker, startedAt, atText, kind, messageJson),
      'e', value, 'tk', '', 'lu', '', 'w', '')
    addToIndex(keyBase .. FINISHED .. kind, atText, id)
    events[#events + 1] = {kind, id}
  end
  if answer ~= 1 then answerAt(x, answer) elseif out then out[x] = 1 end
end
-- The completions of one entry (ARGV[from..to] their ids), the bulk of a busy worker's outcomes,
-- run inline rather than through apply: one Lua call and nine arguments fewer per job. Returns the
-- last outcome number.
local function complete(x, from, to, leaseToken, atText, result, clean)
  local jobPrefix = keyBase .. JOB
  -- Set at the first completion that applies: whether anyone takes the events, and the two
  -- indexes' batched writes (pendingList), appended here, or nil where a lone outcome writes directly.
  local applied, announce, unleased, done, nu, nd = false, false, nil, nil, 0, 0
  for j = from, to do
    x = x + 1
    local id = ARGV[j]
    local key = jobPrefix .. id
    if callRedis('HGET', key, 'tk') == leaseToken then
      if not applied then
        applied, announce = true, othersListening(channel)
        if not writeDirectly then
          unleased, done = pendingList(pendingRemoves, leaseKey), pendingList(pendingAdds, completedKey)
          nu, nd = #unleased, #done
        end
      end
      if unleased then unleased[nu + 1], nu = id, nu + 1 else removeFromIndex(leaseKey, id) end
      -- The history is left alone: the completing attempt is read from at, w, sa and ea (codec.ts).
      -- A null result is not written: r is '' or absent until a completion (a manual retry clears
      -- it), and both read as null; adding the field cost ~2.4k instructions a job (callgrind).
      -- lu is left as it is: a lease end means something only while the job is active (codec.ts),
      -- and tk '' already ends the lease for every token check (~1.8k instructions a job).
      if clean then
        if result == 'null' then callRedis('HSET', key, 'st', 'completed', 'ea', atText, 'tk', '')
        else callRedis('HSET', key, 'st', 'completed', 'ea', atText, 'r', result, 'tk', '') end
      elseif result == 'null' then callRedis('HSET', key, 'st', 'completed', 'ea', atText, 'e', '', 'tk', '')
      else callRedis('HSET', key, 'st', 'completed', 'ea', atText, 'r', result, 'e', '', 'tk', '') end
      if done then done[nd + 1], done[nd + 2], nd = atText, id, nd + 2 else addToIndex(completedKey, atText, id) end
      if announce then events[#events + 1] = {'completed', id} end
      if out then out[x] = 1 end
    else
      answerAt(x, 0)
    end
  end
  if applied then
    local at = tonumber(atText)
    if at > lastAt then lastAt, lastAtText = at, atText end
  end
  return x
end
local x, i = 0, FIRST_OUTCOME
for _ = 1, outcomeCount do
  local kind = ARGV[i]
  if kind == 'completed' or kind == 'clean' then
    local idCount = numberOf(ARGV[i + 1])
    x = complete(x, i + 5, i + 4 + idCount, ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], kind == 'clean')
    i = i + 5 + idCount
  else
    local messageJson = nil
    if ARGV[i + 5] ~= '' then messageJson = ARGV[i + 5] end
    x = x + 1
    apply(x, kind, ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3]), ARGV[i + 3], ARGV[i + 4], messageJson, ARGV[i + 6])
    i = i + 7
  end
end
for _ = 1, outboxCount do
  if not out or out[tonumber(ARGV[i])] == 1 then callRedis('HSET', keyBase .. OUTBOX, ARGV[i + 1], ARGV[i + 2]) end
  i = i + 3
end
local rows, wakeAt, registration, handed = {}, false, false, false
if claimLimit > 0 or previous ~= '' then
  flushIndexWrites()
  -- A claim of at most one job writes directly too; a larger one batches. A claim that finds the
  -- queue empty (an idle worker's claim-ahead) writes no index either way: deciding by the limit
  -- alone spares the ZCARD of the ready index that decided before (~6k instructions a finish).
  if claimLimit > 1 then writeDirectly = false end
  local now = nowText == lastAtText and lastAt or tonumber(nowText)
  rows, wakeAt, registration, handed = workerClaim(channel, now, nowText, claimLimit, leaseMs, workerId, token, previous, idleUntil, forget)
  if now > lastAt then lastAt = now end
else
  forgetHanded(forget)
end
publishEvents(channel, queue, lastAt)
-- A table answer costs Redis ~7k instructions more than a string (its elements turned into a
-- reply, callgrind); the client reads a string answer as {outcomes, {}, false, it, false}.
if registration and not out and not rows[1] and not wakeAt and not handed then return registration end
return {out or x, rows, wakeAt, registration, handed}
