-- A priority's ready score (-priority) as text (see addToIndex below).
local function readyScore(priority)
  if priority == '0' then return '0' end
  if string.sub(priority, 1, 1) == '-' then return string.sub(priority, 2) end
  return '-' .. priority
end
-- The lease index keeps one member longer than zset-max-listpack-value (64 bytes by default),
-- scored +inf, so Redis keeps it a skiplist: as a listpack every ZADD and ZREM scans and shifts the
-- whole index, ~11k instructions each at 50 leased jobs against ~3k (callgrind, Redis 7.0), and a
-- busy worker does both for every job. It starts with byte 255, which no UTF-8 text holds, so no
-- job id equals it. Readers of the lease index skip it: ranges by time never reach +inf, counts
-- subtract it.
local LEASE_ANCHOR = '\255~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~'
local function activeCount()
  local n = callRedis('ZCARD', keyBase .. LEASED)
  if n > 0 and callRedis('ZSCORE', keyBase .. LEASED, LEASE_ANCHOR) then n = n - 1 end
  return n
end
-- Batched index writes: key -> flat args, flushed in chunks (Lua's unpack has a stack limit).
-- Scores, like every argument of redis.call here, go in as text where possible: Redis turns a Lua
-- number argument into text with printf('%.17g'), ~4k instructions each (callgrind).
-- A script that writes one job (a lone add) sets writeDirectly: batching pays off over many
-- members, but for one its tables and flush cost more than they save (~15k of a lone add's ~155k,
-- callgrind).
-- The batched writes to one index (pendingAdds or pendingRemoves), made on first use. A loop over
-- many jobs takes it once and appends itself: addToIndex per job is a Lua call (~0.6k instructions).
local function pendingList(pending, key)
  local list = pending[key]
  if not list then list = {}; pending[key] = list; pendingWrites = true end
  return list
end
local function addToIndex(key, score, member)
  if writeDirectly then
    callRedis('ZADD', key, score, member)
    return
  end
  local args = pendingList(pendingAdds, key)
  local n = #args
  args[n + 1], args[n + 2] = score, member
end
local function removeFromIndex(key, member)
  if writeDirectly then
    callRedis('ZREM', key, member)
    return
  end
  local members = pendingList(pendingRemoves, key)
  members[#members + 1] = member
end
-- One index's batched writes: one call up to 4000 arguments (nearly always), in chunks past that.
local function writeIndex(command, key, list)
  local n = #list
  if n <= 4000 then
    callRedis(command, key, unpackArgs(list, 1, n))
    return
  end
  for i = 1, n, 4000 do callRedis(command, key, unpackArgs(list, i, math.min(i + 3999, n))) end
end
-- Tables are replaced only once used (pendingWrites): most flushes (a claim that finds nothing)
-- have nothing to write.
local function flushIndexWrites()
  if not pendingWrites then return end
  for key, members in pairs(pendingRemoves) do writeIndex('ZREM', key, members) end
  for key, args in pairs(pendingAdds) do writeIndex('ZADD', key, args) end
  pendingAdds, pendingRemoves, pendingWrites = {}, {}, false
end
-- Take a job out of its state's index, or put it in (each index needs only some of the fields).
local function unindexJob(id, state, seq)
  if state == 'queued' then removeFromIndex(keyBase .. READY, seq .. id)
  elseif state == 'scheduled' then removeFromIndex(keyBase .. SCHEDULED, id)
  elseif state == 'active' then removeFromIndex(keyBase .. LEASED, id)
  else removeFromIndex(keyBase .. FINISHED .. state, id) end
end
local function indexJob(id, state, seq, priority, runAt, endedAt, leaseUntil)
  if state == 'queued' then addToIndex(keyBase .. READY, readyScore(priority), seq .. id)
  elseif state == 'scheduled' then addToIndex(keyBase .. SCHEDULED, runAt, id)
  elseif state == 'active' then addToIndex(keyBase .. LEASED, leaseUntil, id)
  else addToIndex(keyBase .. FINISHED .. state, endedAt, id) end
end
