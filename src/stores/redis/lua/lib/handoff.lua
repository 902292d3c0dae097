-- Idle hand-off. A worker whose claim finds the queue empty leaves a registration in the IDLE set:
-- member token, slots, leaseMs and worker id on lines of their own, scored by when it lapses. The
-- next add that queues work claims for the newest live registration in the same script and
-- publishes the jobs on that worker's channel, sparing an idle worker the claim round trip after its
-- wake-up. A registration serves one add. Its jobs also go to the list HANDED .. token, from which
-- the worker's next claim takes them if the message never came (its event connection dropped
-- meanwhile).
local function handOff(channel, now, nowText, queue)
  local idleKey = keyBase .. IDLE
  local name, single
  while true do
    local popped = redis.call('ZPOPMAX', idleKey)
    if not popped[1] then return end
    if tonumber(popped[2]) <= now then
      redis.call('DEL', idleKey)
      return
    end
    -- Worked out only here: most adds find no registration, and each string.sub is ~1k instructions.
    if not name then name, single = channelName(channel) end
    local registration, lapsesAt = popped[1], popped[2]
    local token, slots, leaseMs, worker = string.match(registration, '^([^\n]*)\n(%d+)\n(%d+)\n(.*)$')
    local workerChannel = name .. ':h:' .. worker
    -- On a single Redis, a worker that no longer listens (gone without saying so) is skipped.
    if not single or redis.call('PUBSUB', 'NUMSUB', workerChannel)[2] > 0 then
      local rows, _, dry = claimJobs(channel, now, nowText, tonumber(slots), tonumber(leaseMs), worker, token)
      flushIndexWrites()
      if #rows == 0 then
        redis.call('ZADD', idleKey, lapsesAt, registration)
        return
      end
      local handedKey = keyBase .. HANDED .. token
      redis.call('RPUSH', handedKey, unpack(rows))
      redis.call('PEXPIRE', handedKey, leaseMs)
      redis.call('PUBLISH', workerChannel, cjson.encode({q = queue, t = token, a = nowText, r = rows}))
      if dry then return end
    end
  end
end
-- Delete the lists of registrations whose jobs reached their worker by message (space-separated tokens).
local function forgetHanded(tokens)
  for token in string.gmatch(tokens, '%S+') do redis.call('DEL', keyBase .. HANDED .. token) end
end
-- A worker's claim with its hand-off bookkeeping. previous: the registration its last claim here
-- left whose jobs have not reached it, or ''; if an add took it, its jobs come back here (handed)
-- and count against the limit. idleUntil: register when the queue runs dry, or '' not to.
-- forget: see forgetHanded. Returns claimed rows, wake time as text or false, the registration
-- made or false, handed rows or false.
local function workerClaim(channel, now, nowText, limit, leaseMs, worker, token, previous, idleUntil, forget)
  forgetHanded(forget)
  local handed = false
  if previous ~= '' and redis.call('ZREM', keyBase .. IDLE, previous) == 0 then
    -- The list stays (the client forgets it once this answer lands, and it lapses with the lease):
    -- if this answer is lost and ioredis sends the call again, the resent claim hands the jobs over.
    handed = redis.call('LRANGE', keyBase .. HANDED .. string.match(previous, '^[^\n]*'), '0', '-1')
    limit = limit - #handed
  end
  local rows, wakeAt, dry = claimJobs(channel, now, nowText, limit, tonumber(leaseMs), worker, token)
  local registration = false
  if idleUntil ~= '' and dry and limit > #rows then
    registration = token .. '\n' .. (limit - #rows) .. '\n' .. leaseMs .. '\n' .. worker
    redis.call('ZADD', keyBase .. IDLE, idleUntil, registration)
    redis.call('PEXPIREAT', keyBase .. IDLE, idleUntil)
  end
  if wakeAt then wakeAt = string.format('%.0f', wakeAt) end
  return rows, wakeAt, registration, handed
end
