// Lua scripts of the Redis store. Each state change is one script, so it is atomic.
//
// KEYS[1] is always a hash-tag base: `{prefix:queue}` for queue scripts, `{prefix}` for global ones.
// Every other key a script touches is that base plus a suffix, so all of them share one slot and
// the scripts run unchanged on Redis Cluster. Standalone Redis may pass KEYS[2] = the id→queue
// index (another slot), which keeps that index exact; on Cluster the store writes it separately.
//
// Per-queue keys (T = KEYS[1]):
//   T:j:<id>  job hash        T:l:<id>  log lines       T:m  queue meta (paused, limits, seq)
//   T:a  every job by seq (newest-first lists)
//   T:r  queued: score -priority, member <17-digit seq><id> (equal scores sort by member: FIFO)
//   T:d  scheduled by runAt     T:k  active by leaseUntil     T:e:<state>  finished by endedAt
//   T:o  outbox of follow-up jobs
// Each state has exactly one index, so a transition is one ZREM + one ZADD, and counts are ZCARDs.
// Job hash fields (FIELDS order): d static JSON, st state, p priority, sq seq, ra runAt, at attempts,
//   ma maxAttempts, sl stalls, ms maxStalls, sa startedAt, ea endedAt, r result, e error, h history,
//   pg progress, cr cancel requested, w worker, tk lease token, lu lease until. '' or absent = null.
// Writes that touch many members of one index are batched into one ZADD/ZREM per script call.

import { createHash } from 'node:crypto';
import { WORK_EVENTS } from '../../core/store.js';
import { CLAIM_FIELDS, FIELDS } from './codec.js';

const luaList = (xs: readonly string[]) => xs.map((x) => `'${x}'`).join(', ');

const PRELUDE = `
-- Per-call state, set by begin(KEYS) at the top of every script. Run as EVAL the prelude is run
-- again on each call; loaded as a function library it runs once, and the functions share these.
local T, IDX, EV, ZA, ZR, STATUS, DIRECT
local function begin(keys)
  T, IDX, EV, ZA, ZR, STATUS, DIRECT = keys[1], keys[2], {}, {}, {}, nil, false
end
local CLAIM_FIELDS = {${luaList(CLAIM_FIELDS)}}
local function jk(id) return T .. ':j:' .. id end
local function row(k) return redis.call('HMGET', k, ${luaList(FIELDS)}) end
-- A priority's ready score (-priority) as text (see zadd below).
local function neg(p)
  if p == '0' then return '0' end
  if string.sub(p, 1, 1) == '-' then return string.sub(p, 2) end
  return '-' .. p
end
-- The lease index T:k keeps one member longer than zset-max-listpack-value (64 bytes by default),
-- scored +inf, so Redis keeps it a skiplist: as a listpack every ZADD and ZREM scans and shifts the
-- whole index, ~11k instructions each at 50 leased jobs against ~3k (callgrind, Redis 7.0), and a
-- busy worker does both for every job. It starts with byte 255, which no UTF-8 text holds, so no
-- job id equals it. Readers of T:k skip it: ranges by time never reach +inf, counts subtract it.
local ANCHOR = '\\255${'~'.repeat(80)}'
local function activeCount()
  local n = redis.call('ZCARD', T .. ':k')
  if n > 0 and redis.call('ZSCORE', T .. ':k', ANCHOR) then n = n - 1 end
  return n
end
-- Batched index writes: key -> flat args, flushed in chunks (Lua's unpack has a stack limit).
-- Scores, like every argument of redis.call here, go in as text where possible: Redis turns a Lua
-- number argument into text with printf('%.17g'), ~4k instructions each (callgrind).
-- A script that writes one job (a lone add) sets DIRECT: batching pays off over many members, but
-- for one its tables and flush cost more than they save (~15k of a lone add's ~155k, callgrind).
local function zadd(key, score, member)
  if DIRECT then
    redis.call('ZADD', key, score, member)
    return
  end
  local t = ZA[key]
  if not t then t = {}; ZA[key] = t end
  t[#t + 1] = score
  t[#t + 1] = member
end
local function zrem(key, member)
  if DIRECT then
    redis.call('ZREM', key, member)
    return
  end
  local t = ZR[key]
  if not t then t = {}; ZR[key] = t end
  t[#t + 1] = member
end
local function flush()
  for key, t in pairs(ZR) do
    for i = 1, #t, 4000 do redis.call('ZREM', key, unpack(t, i, math.min(i + 3999, #t))) end
  end
  for key, t in pairs(ZA) do
    for i = 1, #t, 4000 do redis.call('ZADD', key, unpack(t, i, math.min(i + 3999, #t))) end
  end
  ZA, ZR = {}, {}
end
local function unindex(id, st, sq)
  if st == 'queued' then zrem(T .. ':r', sq .. id)
  elseif st == 'scheduled' then zrem(T .. ':d', id)
  elseif st == 'active' then zrem(T .. ':k', id)
  else zrem(T .. ':e:' .. st, id) end
end
local function index(id, st, sq, p, ra, ea, lu)
  if st == 'queued' then zadd(T .. ':r', neg(p), sq .. id)
  elseif st == 'scheduled' then zadd(T .. ':d', ra, id)
  elseif st == 'active' then zadd(T .. ':k', lu, id)
  else zadd(T .. ':e:' .. st, ea, id) end
end
-- A JSON string literal. Ids are nearly always plain, so encoding is rarely needed.
local function jstr(s)
  if string.find(s, '[%c"\\\\]') then return cjson.encode(s) end
  return '"' .. s .. '"'
end
local function jraw(v)
  if not v or v == '' then return 'null' end
  return v
end
-- Append the attempt that ends now to a history JSON array (ended attempts only: the open one is
-- read from at, w and sa) without decoding it. A job claimed by a version that wrote the open
-- attempt into the history still has it there, last and without endedAt (so the array ends in a
-- digit and '}]', where an ended one ends in a string): it is replaced.
local function closeAttempt(h, att, w, sa, at, outcome, msgJson)
  local rec = '{"attempt":' .. att .. ',"workerId":' .. jstr(w or '') .. ',"startedAt":' .. jraw(sa) .. ',"endedAt":' .. at
    .. ',"outcome":"' .. outcome .. '"'
  if msgJson then rec = rec .. ',"error":' .. msgJson end
  rec = rec .. '}'
  if h == '[]' then return '[' .. rec .. ']' end
  local c = string.byte(h, -3)
  if c >= 48 and c <= 57 then
    local open = string.match(h, '.*(){"attempt":')
    if open == 2 then return '[' .. rec .. ']' end
    h = string.sub(h, 1, open - 2) .. ']'
  end
  return string.sub(h, 1, -2) .. ',' .. rec .. ']'
end
-- Events a worker acts on go to chan .. ':w', the rest to chan, so an idle-or-busy worker reads
-- only what wakes it (WORK_EVENTS in core/store.ts, written in here). Runs of one kind go out as one message each, in order.
local WORK = {${[...WORK_EVENTS].map((e) => `['${e}'] = true`).join(', ')}}
-- A channel given as '?name' (single Redis only, where PUBSUB NUMSUB sees every subscriber) sends
-- the other events only if someone subscribes to them: a deployment of workers alone, which read
-- only work events, pays nothing for the rest. STATUS: nil until known for this call.
local function listening(chan)
  if STATUS == nil then
    if string.sub(chan, 1, 1) == '?' then STATUS = redis.call('PUBSUB', 'NUMSUB', string.sub(chan, 2))[2] > 0
    else STATUS = true end
  end
  return STATUS
end
local function publish(arg, queue, at)
  flush()
  local chan = arg
  if string.sub(chan, 1, 1) == '?' then chan = string.sub(chan, 2) end
  local run, runWork = {}, nil
  for _, e in ipairs(EV) do
    local w = WORK[e[1]] == true
    -- Asked only when a non-work event is there: an add or a promote never pays for PUBSUB NUMSUB.
    if w or listening(arg) then
      if w ~= runWork and #run > 0 then
        redis.call('PUBLISH', runWork and (chan .. ':w') or chan, cjson.encode({q = queue, a = at, e = run}))
        run = {}
      end
      runWork = w
      run[#run + 1] = e
    end
  end
  if #run > 0 then redis.call('PUBLISH', runWork and (chan .. ':w') or chan, cjson.encode({q = queue, a = at, e = run})) end
end
-- scheduled → queued for due jobs; returns how many moved.
local function promoteDue(nowS, limitS)
  local due = redis.call('ZRANGEBYSCORE', T .. ':d', '-inf', nowS, 'LIMIT', '0', limitS)
  if #due == 0 then return 0 end
  for _, id in ipairs(due) do
    local k = jk(id)
    local f = redis.call('HMGET', k, 'p', 'sq')
    redis.call('HSET', k, 'st', 'queued')
    zrem(T .. ':d', id)
    zadd(T .. ':r', neg(f[1]), f[2] .. id)
    EV[#EV + 1] = {'queued', id}
  end
  flush()
  return #due
end
-- Promote due jobs, then take up to \`limit\` queued jobs (priority, FIFO) as active under \`token\`.
-- Returns one string per claimed job: its CLAIM_FIELDS values (attempts already counted up, '' for
-- none), then its id, joined by newlines (JSON from JSON.stringify holds no raw newline; an id may,
-- so it goes last). table.concat runs in C: building JSON text here cost ~2 us a job (measured),
-- and one string per job is far cheaper for the client to read than a row of fields. The caller
-- adds state, worker, token, times and the open attempt, the same for all. Also returns the
-- earliest wake time or false, and whether the ready queue ran dry (fewer jobs there than asked).
local function claimJobs(chan, now, nowS, limit, leaseMs, worker, token)
  local meta = T .. ':m'
  local m = redis.call('HMGET', meta, 'paused', 'conc', 'rmax', 'rwin', 'rs', 'rc')
  if m[1] == '1' then return {}, false, false end
  promoteDue(nowS, '1000')
  local wake = false
  local first = redis.call('ZRANGE', T .. ':d', '0', '0', 'WITHSCORES')
  if first[2] then wake = tonumber(first[2]) end
  local n = limit
  if m[2] then n = math.min(n, tonumber(m[2]) - activeCount()) end
  local rmax = tonumber(m[3])
  local ws, used
  if rmax then
    local win = tonumber(m[4])
    ws, used = tonumber(m[5] or '0'), tonumber(m[6] or '0')
    if now >= ws + win then ws, used = now, 0 end
    local left = rmax - used
    if left <= n and (not wake or ws + win < wake) then wake = ws + win end
    n = math.min(n, left)
  end
  if n <= 0 then return {}, wake, false end
  local rows = {}
  local lu = now + leaseMs
  local luS = string.format('%.0f', lu)
  -- ZRANGE then ZREMRANGEBYRANK rather than ZPOPMIN, whose reply formats every score as text.
  local popped = redis.call('ZRANGE', T .. ':r', '0', string.format('%d', n - 1))
  if #popped == 0 then return rows, wake, true end
  redis.call('ZREMRANGEBYRANK', T .. ':r', '0', string.format('%d', #popped - 1))
  local leaseKey = T .. ':k'
  zadd(leaseKey, 'inf', ANCHOR)
  for j = 1, #popped do
    local id = string.sub(popped[j], 18)
    local k = jk(id)
    local f = redis.call('HMGET', k, unpack(CLAIM_FIELDS, 1, 8))
    -- An id without its hash is skipped, not an error: past the pop, a script that stops keeps its
    -- writes so far (the jobs before this one would be active with no worker holding them).
    if f[1] then
      -- The last two fields, error and progress, only a job that ran before can have, and its
      -- history then is not '[]': a first attempt reads 8 fields, not 10 (each field read costs
      -- ~2k instructions, most of it turning the reply into Lua values; callgrind).
      if f[8] ~= '[]' then
        local g = redis.call('HMGET', k, CLAIM_FIELDS[9], CLAIM_FIELDS[10])
        f[9], f[10] = g[1], g[2]
      end
      local at = string.format('%d', tonumber(f[4]) + 1)
      f[4] = at
      redis.call('HSET', k, 'st', 'active', 'at', at, 'w', worker, 'tk', token, 'lu', luS, 'sa', nowS)
      zadd(leaseKey, luS, id)
      if listening(chan) then EV[#EV + 1] = {'active', id} end
      -- Absent fields (no error, no progress) go as '' (table.concat stops at false, as above).
      for x = 1, #CLAIM_FIELDS do if not f[x] then f[x] = '' end end
      f[#CLAIM_FIELDS + 1] = id
      rows[#rows + 1] = table.concat(f, '\\n')
    end
  end
  if rmax then redis.call('HSET', meta, 'rs', string.format('%.0f', ws), 'rc', used + #rows) end
  return rows, wake, #popped < n
end
-- Idle hand-off. A worker whose claim finds the queue empty leaves a registration in T:i: member
-- token, slots, leaseMs and worker id on lines of their own, scored by when it lapses. The next add
-- that queues work claims for the newest live registration in the same script and publishes the
-- jobs on that worker's channel, sparing an idle worker the claim round trip after its wake-up.
-- A registration serves one add. Its jobs also go to the list T:h:<token>, from which the worker's
-- next claim takes them if the message never came (its event connection dropped meanwhile).
local function handOff(chan, now, nowS, queue)
  local ik = T .. ':i'
  local base = chan
  local single = string.sub(chan, 1, 1) == '?'
  if single then base = string.sub(chan, 2) end
  while true do
    local r = redis.call('ZPOPMAX', ik)
    if not r[1] then return end
    if tonumber(r[2]) <= now then
      redis.call('DEL', ik)
      return
    end
    local token, slots, leaseMs, worker = string.match(r[1], '^([^\\n]*)\\n(%d+)\\n(%d+)\\n(.*)$')
    local wchan = base .. ':h:' .. worker
    -- On a single Redis, a worker that no longer listens (gone without saying so) is skipped.
    if not single or redis.call('PUBSUB', 'NUMSUB', wchan)[2] > 0 then
      local rows, _, dry = claimJobs(chan, now, nowS, tonumber(slots), tonumber(leaseMs), worker, token)
      flush()
      if #rows == 0 then
        redis.call('ZADD', ik, r[2], r[1])
        return
      end
      local hk = T .. ':h:' .. token
      redis.call('RPUSH', hk, unpack(rows))
      redis.call('PEXPIRE', hk, leaseMs)
      redis.call('PUBLISH', wchan, cjson.encode({q = queue, t = token, a = nowS, r = rows}))
      if dry then return end
    end
  end
end
-- Delete the lists of registrations whose jobs reached their worker by message (space-separated tokens).
local function forgetHanded(forget)
  for tok in string.gmatch(forget, '%S+') do redis.call('DEL', T .. ':h:' .. tok) end
end
-- A worker's claim with its hand-off bookkeeping. prev: the registration its last claim here left
-- whose jobs have not reached it, or ''; if an add took it, its jobs come back here (handed) and
-- count against the limit. idleUntil: register when the queue runs dry, or '' not to. forget: see
-- forgetHanded.
local function claimIdle(chan, now, nowS, limit, leaseMs, worker, token, prev, idleUntil, forget)
  forgetHanded(forget)
  local handed = false
  if prev ~= '' and redis.call('ZREM', T .. ':i', prev) == 0 then
    -- The list stays (the client forgets it once this answer lands, and it lapses with the lease):
    -- if this answer is lost and ioredis sends the call again, the resent claim hands the jobs over.
    handed = redis.call('LRANGE', T .. ':h:' .. string.match(prev, '^[^\\n]*'), '0', '-1')
    limit = limit - #handed
  end
  local jobs, wake, dry = claimJobs(chan, now, nowS, limit, tonumber(leaseMs), worker, token)
  local reg = false
  if idleUntil ~= '' and dry and limit > #jobs then
    reg = token .. '\\n' .. (limit - #jobs) .. '\\n' .. leaseMs .. '\\n' .. worker
    redis.call('ZADD', T .. ':i', idleUntil, reg)
    redis.call('PEXPIREAT', T .. ':i', idleUntil)
  end
  if wake then wake = string.format('%.0f', wake) end
  return jobs, wake, reg, handed
end
`;

/**
 * KEYS: T [, idx]. ARGV: chan, queue, queue as JSON, now, n, then n × (id, runAt, priority,
 * maxAttempts, maxStalls, d, the job's event as JSON). The client writes each event (["queued", id]
 * or ["scheduled", id, runAt], by the same runAt > now test): encoding it here with cjson was the
 * largest part of a one-job add (~20k of ~170k instructions, callgrind).
 */
const ADD = `
local chan, queue, qJson, nowS, n = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local now = tonumber(nowS)
DIRECT = n == 1
local meta = T .. ':m'
local seq = tonumber(redis.call('HGET', meta, 'seq') or '0')
local base = now * 1000
local out, events = {}, {}
local sq
local queuedAny = false
local i = 6
for x = 1, n do
  local id, raS, p, ma, ms, d = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  local k = jk(id)
  -- On a single Redis the index is exact: claiming the id in it (HSETNX) is the existence check.
  -- On Cluster the index lives in another slot and the job key decides.
  local other = false
  if IDX then
    if redis.call('HSETNX', IDX, id, queue) == 0 then other = redis.call('HGET', IDX, id) end
  elseif redis.call('EXISTS', k) == 1 then other = queue end
  if other and other ~= queue then
    out[x] = {2, other}
  elseif other then
    out[x] = {0, row(k)}
  else
    seq = math.max(seq + 1, base)
    -- %d formats the number as an integer: far cheaper than %.0f, and exact below 2^53.
    sq = string.format('%017d', seq)
    local st = 'queued'
    if tonumber(raS) > now then st = 'scheduled' else queuedAny = true end
    redis.call('HSET', k, 'd', d, 'st', st, 'p', p, 'sq', sq, 'ra', raS, 'at', '0', 'ma', ma, 'sl', '0', 'ms', ms, 'h', '[]')
    zadd(T .. ':a', sq, id)
    index(id, st, sq, p, raS)
    events[#events + 1] = ARGV[i + 6]
    out[x] = 1
  end
  i = i + 7
end
flush()
if sq then
  redis.call('HSET', meta, 'seq', sq)
  -- Handed-off jobs reach their worker before the wake-up, which then finds its slots taken.
  if queuedAny then handOff(chan, now, nowS, queue) end
  local wchan = chan
  if string.sub(chan, 1, 1) == '?' then wchan = string.sub(chan, 2) end
  redis.call('PUBLISH', wchan .. ':w', '{"q":' .. qJson .. ',"a":' .. nowS .. ',"e":[' .. table.concat(events, ',') .. ']}')
  if #EV > 0 then publish(chan, queue, now) end
end
return out
`;

/**
 * KEYS: T. ARGV: chan, queue, now, limit, leaseMs, workerId, token, prev, idleUntil, forget (see
 * claimIdle). Returns {claimed job rows, nextWakeAt|false, registration|false, handed rows|false}.
 */
const CLAIM = `
local chan, queue, nowS = ARGV[1], ARGV[2], ARGV[3]
DIRECT = tonumber(ARGV[4]) <= 1
local jobs, wake, reg, handed = claimIdle(chan, tonumber(nowS), nowS, tonumber(ARGV[4]), ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10])
publish(chan, queue, tonumber(nowS))
return {jobs, wake, reg, handed}
`;

/**
 * Outcomes, then optionally the worker's next claim, in one script: a busy worker's cycle is one
 * round trip. KEYS: T. ARGV: chan, queue, n, m, claimLimit, workerId, token, leaseMs, now, prev,
 *   idleUntil, forget (see claimIdle), then n entries: (completed, c, token, at, result JSON, then
 *   c ids): completions that share lease token, end time and result, as a batch of no-op or alike
 *   jobs does, so each costs one argument, not five; or (kind, id, token, at, error JSON or '',
 *   error message as JSON or '', retryAt or ''); then m × (outcome index, outbox field, outbox entry). Outcomes are numbered
 *   in the order their ids come. The client sends the message apart: cjson cannot decode every
 *   JSON.stringify output (a message cut through an emoji holds a lone surrogate), and it is
 *   spliced into the history as it comes.
 * Returns {1/0 per outcome, claimed job rows, nextWakeAt|false, registration|false, handed rows|false}.
 */
const FINISH = `
local chan, queue, n, m = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local claimLimit = tonumber(ARGV[5])
-- One outcome (one completed id: 18 arguments; another kind: 19) and a claim of at most one job: a
-- concurrency-1 worker's cycle, where batching the index writes costs more than it saves.
DIRECT = claimLimit <= 1 and m == 0 and #ARGV <= 19
local out = {}
local lastAt = 0
local leaseKey, completedKey = T .. ':k', T .. ':e:completed'
local function apply(x, kind, id, token, at, atS, a, msgJson, b)
  local k = jk(id)
  if redis.call('HGET', k, 'tk') ~= token then
    out[x] = 0
    return
  end
  if at > lastAt then lastAt = at end
  zrem(leaseKey, id)
  if kind == 'completed' then
    -- The history is left alone: the completing attempt is read from at, w, sa and ea (codec.ts).
    redis.call('HSET', k, 'st', 'completed', 'ea', atS, 'r', a, 'e', '', 'tk', '', 'lu', '')
    zadd(completedKey, atS, id)
    if listening(chan) then EV[#EV + 1] = {'completed', id} end
  else
    local f = redis.call('HMGET', k, 'h', 'at', 'w', 'sa', 'p', 'sq')
    if kind == 'retry' then
      redis.call('HSET', k, 'st', 'scheduled', 'ra', b, 'e', a, 'h', closeAttempt(f[1], f[2], f[3], f[4], atS, 'retrying', msgJson), 'tk', '', 'lu', '', 'w', '', 'cr', '')
      zadd(T .. ':d', b, id)
      EV[#EV + 1] = {'retrying', id, tonumber(b)}
    elseif kind == 'released' then
      redis.call('HSET', k, 'st', 'queued', 'at', math.max(tonumber(f[2]) - 1, 0), 'h', closeAttempt(f[1], f[2], f[3], f[4], atS, 'released'), 'tk', '', 'lu', '', 'w', '', 'cr', '')
      index(id, 'queued', f[6], f[5])
      EV[#EV + 1] = {'queued', id}
    else
      redis.call('HSET', k, 'st', kind, 'ea', atS, 'h', closeAttempt(f[1], f[2], f[3], f[4], atS, kind, msgJson), 'e', a, 'tk', '', 'lu', '', 'w', '')
      zadd(T .. ':e:' .. kind, atS, id)
      EV[#EV + 1] = {kind, id}
    end
  end
  out[x] = 1
end
local x, i = 0, 13
for _ = 1, n do
  local kind = ARGV[i]
  if kind == 'completed' then
    local c, token, atS, a = tonumber(ARGV[i + 1]), ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
    local at = tonumber(atS)
    for j = i + 5, i + 4 + c do
      x = x + 1
      apply(x, kind, ARGV[j], token, at, atS, a)
    end
    i = i + 5 + c
  else
    local msgJson = nil
    if ARGV[i + 5] ~= '' then msgJson = ARGV[i + 5] end
    x = x + 1
    apply(x, kind, ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3]), ARGV[i + 3], ARGV[i + 4], msgJson, ARGV[i + 6])
    i = i + 7
  end
end
for y = 1, m do
  local x = tonumber(ARGV[i])
  if out[x] == 1 then redis.call('HSET', T .. ':o', ARGV[i + 1], ARGV[i + 2]) end
  i = i + 3
end
local jobs, wake, reg, handed = {}, false, false, false
if claimLimit > 0 or ARGV[10] ~= '' then
  flush()
  jobs, wake, reg, handed = claimIdle(chan, tonumber(ARGV[9]), ARGV[9], claimLimit, ARGV[8], ARGV[6], ARGV[7], ARGV[10], ARGV[11], ARGV[12])
  if tonumber(ARGV[9]) > lastAt then lastAt = tonumber(ARGV[9]) end
else
  forgetHanded(ARGV[12])
end
publish(chan, queue, lastAt)
return {out, jobs, wake, reg, handed}
`;

/** KEYS: T. ARGV: leaseUntil, n, n × (id, token). Returns 0 lost, 1 held, 2 held and asked to cancel. */
const HEARTBEAT = `
local luS, n = ARGV[1], tonumber(ARGV[2])
local lu = tonumber(luS)
local out = {}
for x = 1, n do
  local id, token = ARGV[1 + 2 * x], ARGV[2 + 2 * x]
  local k = jk(id)
  local f = redis.call('HMGET', k, 'tk', 'cr')
  if f[1] ~= token then out[x] = 0 else
    redis.call('HSET', k, 'lu', luS)
    redis.call('ZADD', T .. ':k', lu, id)
    if f[2] == '1' then out[x] = 2 else out[x] = 1 end
  end
end
return out
`;

/** KEYS: T. ARGV: chan, queue, now, id, token, progress JSON. */
const PROGRESS = `
local chan, queue, now, id, token, pg = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6]
local k = jk(id)
if redis.call('HGET', k, 'tk') ~= token then return 0 end
redis.call('HSET', k, 'pg', pg)
EV[1] = {'progress', id, false, pg}
publish(chan, queue, now)
return 1
`;

/** KEYS: T. ARGV: chan, queue, now, limit. Returns {requeued, failed, cancelled}. */
const RECOVER = `
local chan, queue, nowS, limit = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local now = tonumber(nowS)
local expired = redis.call('ZRANGEBYSCORE', T .. ':k', '-inf', '(' .. nowS, 'LIMIT', 0, limit)
local rq, fl, cn = {}, {}, {}
for _, id in ipairs(expired) do
  local k = jk(id)
  local f = redis.call('HMGET', k, 'cr', 'sl', 'ms', 'h', 'sq', 'p', 'at', 'w', 'sa')
  local sl = tonumber(f[2]) + 1
  zrem(T .. ':k', id)
  if f[1] == '1' then
    local msg = 'cancelled while its worker was lost'
    local e = cjson.encode({message = msg, retryable = false, name = 'CancelledError'})
    redis.call('HSET', k, 'st', 'cancelled', 'sl', sl, 'e', e, 'ea', nowS, 'h', closeAttempt(f[4], f[7], f[8], f[9], nowS, 'stalled', cjson.encode(msg)), 'tk', '', 'lu', '', 'w', '')
    index(id, 'cancelled', f[5], nil, nil, now)
    cn[#cn + 1] = id
    EV[#EV + 1] = {'cancelled', id}
  elseif sl > tonumber(f[3]) then
    local msg = 'job stalled ' .. sl .. ' times (limit ' .. f[3] .. '): its worker lost the lease each time'
    local e = cjson.encode({message = msg, retryable = false, name = 'StalledError', code = 'stalled'})
    redis.call('HSET', k, 'st', 'failed', 'sl', sl, 'e', e, 'ea', nowS, 'h', closeAttempt(f[4], f[7], f[8], f[9], nowS, 'stalled', cjson.encode(msg)), 'tk', '', 'lu', '', 'w', '')
    index(id, 'failed', f[5], nil, nil, now)
    fl[#fl + 1] = id
    EV[#EV + 1] = {'stalled', id}
    EV[#EV + 1] = {'failed', id}
  else
    redis.call('HSET', k, 'st', 'queued', 'sl', sl, 'at', math.max(tonumber(f[7]) - 1, 0), 'h', closeAttempt(f[4], f[7], f[8], f[9], nowS, 'stalled'), 'tk', '', 'lu', '', 'w', '')
    index(id, 'queued', f[5], f[6])
    rq[#rq + 1] = id
    EV[#EV + 1] = {'stalled', id}
    EV[#EV + 1] = {'queued', id}
  end
end
publish(chan, queue, now)
return {rq, fl, cn}
`;

/** KEYS: T. ARGV: chan, queue, now, limit. */
const PROMOTE_DUE = `
local n = promoteDue(ARGV[3], ARGV[4])
publish(ARGV[1], ARGV[2], tonumber(ARGV[3]))
return n
`;

/**
 * Operator actions on one job. KEYS: T [, idx]. ARGV: chan, queue, now, op, id, x.
 * Returns {'ok', row} | {'missing'} | {'conflict', state} | {'removed'}.
 */
const JOB_OP = `
local chan, queue, nowS, op, id, x = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local now = tonumber(nowS)
local k = jk(id)
local f = redis.call('HMGET', k, 'st', 'sq', 'p', 'at', 'ma')
local st = f[1]
if not st then return {'missing'} end
local sq, p = f[2], f[3]
if op == 'cancel' then
  if st == 'active' then
    redis.call('HSET', k, 'cr', '1')
    EV[1] = {'cancel-requested', id}
  elseif st == 'scheduled' or st == 'queued' then
    unindex(id, st, sq)
    redis.call('HSET', k, 'st', 'cancelled', 'ea', nowS, 'cr', '')
    index(id, 'cancelled', sq, p, nil, now)
    EV[1] = {'cancelled', id}
  else return {'conflict', st} end
elseif op == 'reschedule' then
  if st ~= 'scheduled' and st ~= 'queued' then return {'conflict', st} end
  local ra = tonumber(x)
  local ns = 'queued'
  if ra > now then ns = 'scheduled' end
  unindex(id, st, sq)
  redis.call('HSET', k, 'st', ns, 'ra', x, 'ea', '', 'cr', '')
  index(id, ns, sq, p, ra)
  EV[1] = {ns, id, ra}
elseif op == 'promote' then
  if st ~= 'scheduled' then return {'conflict', st} end
  unindex(id, st, sq)
  redis.call('HSET', k, 'st', 'queued', 'ra', nowS, 'ea', '', 'cr', '')
  index(id, 'queued', sq, p)
  EV[1] = {'queued', id}
elseif op == 'retry' then
  if st ~= 'failed' and st ~= 'cancelled' then return {'conflict', st} end
  unindex(id, st, sq)
  redis.call('HSET', k, 'st', 'queued', 'ra', nowS, 'sl', 0, 'ea', '', 'e', '', 'r', '', 'cr', '')
  if x == '1' then redis.call('HSET', k, 'at', 0)
  else redis.call('HSET', k, 'ma', math.max(tonumber(f[5]), tonumber(f[4]) + 1)) end
  index(id, 'queued', sq, p)
  EV[1] = {'queued', id}
elseif op == 'remove' then
  if st == 'active' then return {'conflict', st} end
  unindex(id, st, sq)
  zrem(T .. ':a', id)
  redis.call('DEL', k, T .. ':l:' .. id)
  if IDX then redis.call('HDEL', IDX, id) end
  EV[1] = {'removed', id}
  publish(chan, queue, now)
  return {'removed'}
end
publish(chan, queue, now)
return {'ok', row(k)}
`;

/** KEYS: T [, idx]. ARGV: endedBefore, limit, states... Returns removed ids. */
const CLEAN = `
local before, limit = ARGV[1], tonumber(ARGV[2])
local removed = {}
for s = 3, #ARGV do
  local st = ARGV[s]
  local left = limit - #removed
  if left <= 0 then break end
  local ids = redis.call('ZRANGEBYSCORE', T .. ':e:' .. st, '-inf', '(' .. before, 'LIMIT', 0, left)
  for _, id in ipairs(ids) do
    zrem(T .. ':e:' .. st, id)
    zrem(T .. ':a', id)
    redis.call('DEL', jk(id), T .. ':l:' .. id)
    removed[#removed + 1] = id
  end
end
flush()
if IDX and #removed > 0 then redis.call('HDEL', IDX, unpack(removed)) end
return removed
`;

/** KEYS: T. ARGV: chan, queue, now, event type ('' for none), then field/value pairs; '' deletes a field. */
const QUEUE_SET = `
local meta = T .. ':m'
for i = 5, #ARGV, 2 do
  if ARGV[i + 1] == '' then redis.call('HDEL', meta, ARGV[i]) else redis.call('HSET', meta, ARGV[i], ARGV[i + 1]) end
end
if ARGV[4] ~= '' then EV[1] = {ARGV[4]} end
publish(ARGV[1], ARGV[2], tonumber(ARGV[3]))
return 1
`;

/**
 * KEYS: T. Reads meta, counts (in JOB_STATES order) and the static JSON of the oldest queued job:
 * the oldest of each priority is the head of its score band, and a queue has few priorities.
 */
const QUEUE_INFO = `
local counts = {
  redis.call('ZCARD', T .. ':d'), redis.call('ZCARD', T .. ':r'), activeCount(),
  redis.call('ZCARD', T .. ':e:completed'), redis.call('ZCARD', T .. ':e:failed'), redis.call('ZCARD', T .. ':e:cancelled'),
}
local oldest, oldestSq = false, nil
local min = '-inf'
for _ = 1, 64 do
  local head = redis.call('ZRANGEBYSCORE', T .. ':r', min, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if not head[1] then break end
  local sq = string.sub(head[1], 1, 17)
  if not oldestSq or sq < oldestSq then oldestSq, oldest = sq, string.sub(head[1], 18) end
  min = '(' .. head[2]
end
if oldest then oldest = redis.call('HGET', jk(oldest), 'd') or false end
return {redis.call('HGETALL', T .. ':m'), counts, oldest}
`;

/** KEYS: T. ARGV: state, offset, count, reverse (1/0). A page of one state's index, in that index's order. */
const STATE_PAGE = `
local st, off, cnt, rev = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == '1'
local key
if st == 'queued' then key = T .. ':r' elseif st == 'scheduled' then key = T .. ':d'
elseif st == 'active' then key = T .. ':k' else key = T .. ':e:' .. st end
local r
if rev then r = redis.call('ZREVRANGE', key, off, off + cnt - 1, 'WITHSCORES')
else r = redis.call('ZRANGE', key, off, off + cnt - 1, 'WITHSCORES') end
if st == 'queued' then
  -- Ready members carry their seq; the score the caller merges by is the run order (priority, seq).
  for i = 1, #r, 2 do r[i + 1] = r[i + 1] .. ':' .. string.sub(r[i], 1, 17); r[i] = string.sub(r[i], 18) end
elseif st == 'active' then
  local out = {}
  for i = 1, #r, 2 do
    if r[i] ~= ANCHOR then out[#out + 1] = r[i]; out[#out + 1] = r[i + 1] end
  end
  r = out
end
return r
`;

/** KEYS: T. ARGV: id, at, message. Appends a log line only if the job exists. */
const LOG = `
if redis.call('EXISTS', jk(ARGV[1])) == 0 then return 0 end
redis.call('RPUSH', T .. ':l:' .. ARGV[1], ARGV[2] .. ' ' .. ARGV[3])
return 1
`;

/** KEYS: G. ARGV: id, spec, nextRunAt|'', paused 0/1, runCount|'', lastRunAt|'' ('-' = null), now, expectedVersion|''. Answers the hash, or {'!conflict', version} when the version check fails. */
const SCHEDULE_UPSERT = `
local id, spec, nx, pa, rc, lr, now, want = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local k = T .. ':sc:' .. id
local ex = redis.call('HMGET', k, 'v', 'ca')
-- The caller's version check (SaveSchedule.expectedVersion; '' for none). No hash field starts with '!'.
if want ~= nil and want ~= '' and (tonumber(ex[1]) or 0) ~= tonumber(want) then return {'!conflict', tostring(tonumber(ex[1]) or 0)} end
redis.call('HSET', k, 'spec', spec, 'pa', pa, 'ua', now, 'v', (tonumber(ex[1]) or 0) + 1, 'ca', ex[2] or now)
if not ex[1] then redis.call('HSET', k, 'rc', 0) end
if nx == '' then redis.call('HDEL', k, 'nx') else redis.call('HSET', k, 'nx', nx) end
if rc ~= '' then redis.call('HSET', k, 'rc', rc) end
if lr == '-' then redis.call('HDEL', k, 'lr') elseif lr ~= '' then redis.call('HSET', k, 'lr', lr) end
redis.call('ZADD', T .. ':sca', 0, id)
if pa == '0' and nx ~= '' then redis.call('ZADD', T .. ':scd', tonumber(nx), id) else redis.call('ZREM', T .. ':scd', id) end
return redis.call('HGETALL', k)
`;

/** KEYS: G. ARGV: id. */
const SCHEDULE_REMOVE = `
local id = ARGV[1]
redis.call('ZREM', T .. ':sca', id)
redis.call('ZREM', T .. ':scd', id)
return redis.call('DEL', T .. ':sc:' .. id)
`;

/**
 * KEYS: G. ARGV: id, expectedVersion, nextRunAt|'', runCount, lastRunAt|'', now, outboxField, outboxEntry.
 * The schedule's jobs go to the global outbox in the same step; the store then delivers them to
 * their queues (idempotent by id), and a maintenance sweep redelivers if the process died between.
 */
const SCHEDULE_ADVANCE = `
local id, ver, nx, rc, lr, now, of, oe = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local k = T .. ':sc:' .. id
local f = redis.call('HMGET', k, 'v', 'pa')
if f[1] ~= ver then return 0 end
redis.call('HSET', k, 'rc', rc, 'ua', now, 'v', tonumber(ver) + 1)
if nx == '' then redis.call('HDEL', k, 'nx') else redis.call('HSET', k, 'nx', nx) end
if lr == '' then redis.call('HDEL', k, 'lr') else redis.call('HSET', k, 'lr', lr) end
if f[2] == '0' and nx ~= '' then redis.call('ZADD', T .. ':scd', tonumber(nx), id) else redis.call('ZREM', T .. ':scd', id) end
if of ~= '' then redis.call('HSET', T .. ':o', of, oe) end
return 1
`;

/** KEYS: G. ARGV: id, info JSON, expiresAt. */
const WORKER_BEAT = `
redis.call('HSET', T .. ':w', ARGV[1], ARGV[2])
redis.call('ZADD', T .. ':we', tonumber(ARGV[3]), ARGV[1])
return 1
`;

/** KEYS: G. ARGV: now. Forgets expired workers (bounded), returns live ones. */
const WORKERS_LIVE = `
local gone = redis.call('ZRANGEBYSCORE', T .. ':we', '-inf', '(' .. ARGV[1], 'LIMIT', 0, 1000)
for _, id in ipairs(gone) do
  redis.call('HDEL', T .. ':w', id)
  redis.call('ZREM', T .. ':we', id)
end
local live = redis.call('ZRANGEBYSCORE', T .. ':we', ARGV[1], '+inf', 'LIMIT', 0, 10000)
if #live == 0 then return {} end
return redis.call('HMGET', T .. ':w', unpack(live))
`;

/** KEYS: G. ARGV: id. */
const WORKER_GONE = `
redis.call('HDEL', T .. ':w', ARGV[1])
return redis.call('ZREM', T .. ':we', ARGV[1])
`;

/**
 * Jobs a claim leased under \`token\` whose answer never reached the client (the connection dropped
 * after the script ran): back to queued in their old place, as if never claimed (no attempt, no
 * stall, no history); cancelled if a cancel was asked meanwhile. A claim leases all its jobs in one
 * queue until one time, so the lease index finds them at once. Hand-off registrations under the
 * token other than \`keepReg\` go (a lost run may have left one the client never saw); with
 * \`handed\` = '1' (the claim failed: the client forgot the token), jobs an add already leased
 * under one of them go back too. KEYS: T. ARGV: chan, queue, now, token, lease-until range (min,
 * max), keepReg, handed, then ids the client did receive (kept). Returns released ids.
 */
const RELEASE_CLAIM = `
local chan, queue, nowS, token, keepReg = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[7]
local keep = {}
for i = 9, #ARGV do keep[ARGV[i]] = true end
local ik, pre = T .. ':i', token .. '\\n'
for _, m in ipairs(redis.call('ZRANGE', ik, '0', '-1')) do
  if m ~= keepReg and string.sub(m, 1, #pre) == pre then redis.call('ZREM', ik, m) end
end
local ids = redis.call('ZRANGEBYSCORE', T .. ':k', ARGV[5], ARGV[6])
if ARGV[8] == '1' then
  local hk = T .. ':h:' .. token
  for _, r in ipairs(redis.call('LRANGE', hk, '0', '-1')) do
    ids[#ids + 1] = string.match(r, '^${'[^\\n]*\\n'.repeat(CLAIM_FIELDS.length)}(.*)$')
  end
  redis.call('DEL', hk)
end
local out = {}
for _, id in ipairs(ids) do
  local k = jk(id)
  local f = keep[id] and {} or redis.call('HMGET', k, 'tk', 'at', 'p', 'sq', 'cr')
  if f[1] == token then
    zrem(T .. ':k', id)
    local at = math.max(tonumber(f[2]) - 1, 0)
    redis.call('HSET', k, 'at', at, 'tk', '', 'lu', '', 'w', '')
    if at == 0 then redis.call('HDEL', k, 'sa') end
    if f[5] == '1' then
      local e = cjson.encode({message = 'cancelled before it started', retryable = false, name = 'CancelledError'})
      redis.call('HSET', k, 'st', 'cancelled', 'e', e, 'ea', nowS, 'cr', '')
      index(id, 'cancelled', f[4], nil, nil, nowS)
      EV[#EV + 1] = {'cancelled', id}
    else
      redis.call('HSET', k, 'st', 'queued')
      index(id, 'queued', f[4], f[3])
      EV[#EV + 1] = {'queued', id}
    end
    out[#out + 1] = id
  end
end
publish(chan, queue, tonumber(nowS))
return out
`;

/**
 * Take or keep the sweep lock. KEYS: G. ARGV: token, ttl ms. Returns 1 if this token holds it now
 * (taken, or already held and extended), 0 if another does. Holding it already counts as taking
 * it, so a call whose answer was lost and that ioredis sends again still says 1 to its taker.
 */
const SWEEP_LOCK = `
local k = T .. ':sweep'
local v = redis.call('GET', k)
if v == ARGV[1] then
  redis.call('PEXPIRE', k, ARGV[2])
  return 1
end
if v then return 0 end
redis.call('SET', k, ARGV[1], 'PX', ARGV[2])
return 1
`;

/** KEYS: G. ARGV: token. Releases the sweep lock only if this sweep still holds it. */
const UNLOCK = `
if redis.call('GET', T .. ':sweep') == ARGV[1] then return redis.call('DEL', T .. ':sweep') end
return 0
`;

export const SCRIPTS = {
  fusionAdd: ADD,
  fusionClaim: CLAIM,
  fusionFinish: FINISH,
  fusionHeartbeat: HEARTBEAT,
  fusionProgress: PROGRESS,
  fusionRecover: RECOVER,
  fusionPromoteDue: PROMOTE_DUE,
  fusionJobOp: JOB_OP,
  fusionClean: CLEAN,
  fusionQueueSet: QUEUE_SET,
  fusionQueueInfo: QUEUE_INFO,
  fusionStatePage: STATE_PAGE,
  fusionLog: LOG,
  fusionScheduleUpsert: SCHEDULE_UPSERT,
  fusionScheduleRemove: SCHEDULE_REMOVE,
  fusionScheduleAdvance: SCHEDULE_ADVANCE,
  fusionWorkerBeat: WORKER_BEAT,
  fusionWorkersLive: WORKERS_LIVE,
  fusionWorkerGone: WORKER_GONE,
  fusionUnlock: UNLOCK,
  fusionSweepLock: SWEEP_LOCK,
  fusionReleaseClaim: RELEASE_CLAIM,
} as const;

export type ScriptName = keyof typeof SCRIPTS;

/** A top-level definition of the prelude: its text (with the comment above it) and the names it defines. */
interface Unit {
  text: string;
  names: string[];
}

/** The prelude cut at each top-level `local`, comments going with the definition below them. */
function preludeUnits(): Unit[] {
  const units: Unit[] = [];
  let pending: string[] = [];
  for (const line of PRELUDE.split('\n')) {
    if (line.startsWith('local ')) {
      const fn = /^local function (\w+)/.exec(line);
      const eq = line.indexOf('=');
      const names = fn ? [fn[1]!] : line.slice(6, eq >= 0 ? eq : undefined).split(',').map((n) => n.trim());
      units.push({ text: '', names });
      units[units.length - 1]!.text = [...pending, line].join('\n');
      pending = [];
    } else if (units.length && !line.startsWith('--') && line !== '') {
      units[units.length - 1]!.text += '\n' + line;
    } else if (line !== '') pending.push(line);
  }
  return units;
}

const uses = (text: string, name: string) => new RegExp(`\\b${name}\\b`).test(text);

/**
 * A script with only the prelude definitions it uses, directly or through another: Redis runs the
 * whole prelude on every call, and a call that defines twenty functions to use three pays for it,
 * most of all on one-job calls (a single enqueue) where little else happens.
 */
export function scriptSource(name: ScriptName): string {
  const units = preludeUnits();
  const body = `begin(KEYS)\n${SCRIPTS[name]}`;
  const needed = new Set<Unit>();
  let grew = true;
  while (grew) {
    grew = false;
    const texts = [body, ...[...needed].map((u) => u.text)].join('\n');
    for (const u of units) {
      if (!needed.has(u) && u.names.some((n) => uses(texts, n))) {
        needed.add(u);
        grew = true;
      }
    }
  }
  return '\n' + units.filter((u) => needed.has(u)).map((u) => u.text).join('\n') + '\n' + body;
}

/**
 * Every script as one Redis function library (Redis 7+), loaded once with FUNCTION LOAD and run with
 * FCALL. EVAL runs a script's whole prelude on each call: each of its functions is a new closure
 * whose upvalues are looked up one by one, ~20k instructions of a lone add (callgrind); a library
 * runs it once. The name carries a hash of the text, so stores of different versions on one Redis
 * each find their own.
 */
export function functionLibrary(): { source: string; names: Record<ScriptName, string> } {
  const lib = `fusion_${createHash('sha1').update(PRELUDE + JSON.stringify(SCRIPTS)).digest('hex').slice(0, 16)}`;
  const names = {} as Record<ScriptName, string>;
  const fns = (Object.keys(SCRIPTS) as ScriptName[]).map((name) => {
    names[name] = `${lib}_${name}`;
    return `redis.register_function('${names[name]}', function(KEYS, ARGV)\nbegin(KEYS)\n${SCRIPTS[name]}\nend)`;
  });
  return { source: `#!lua name=${lib}\n${PRELUDE}\n${fns.join('\n')}\n`, names };
}
