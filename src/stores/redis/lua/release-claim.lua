-- Jobs a claim leased under `token` whose answer never reached the client (the connection dropped
-- after the script ran): back to queued in their old place, as if never claimed (no attempt, no
-- stall, no history); cancelled if a cancel was asked meanwhile. A claim leases all its jobs in one
-- queue until one time, so the lease index finds them at once. Hand-off registrations the claim
-- left (their token is the claim's and REGISTRATION_MARK, lua/lib/handoff.lua) other than
-- keepRegistration go (a lost run may have left one the client never saw). With keepRegistration =
-- '' (the claim failed, or its answer named no registration), the client takes no message for that
-- token from now on (handoff.ts; one it took before a failure is in kept): jobs an add already leased
-- under it, other than kept, go back too.
-- Returns the released ids.
local queueKeyBase = KEYS[1]
local channel = ARGV[1]
local queue = ARGV[2]
local nowText = ARGV[3]
local token = ARGV[4]
local leaseUntilMin = ARGV[5]
local leaseUntilMax = ARGV[6]
local keepRegistration = ARGV[7]
local FIRST_KEPT = 8          -- then the ids the client did receive (kept)
beginCall(queueKeyBase)
local kept = {}
for i = FIRST_KEPT, #ARGV do kept[ARGV[i]] = true end
local registrationToken = token .. REGISTRATION_MARK
local idleKey, tokenLine = keyBase .. IDLE, registrationToken .. '\n'
for _, registration in ipairs(redis.call('ZRANGE', idleKey, '0', '-1')) do
  if registration ~= keepRegistration and string.sub(registration, 1, #tokenLine) == tokenLine then redis.call('ZREM', idleKey, registration) end
end
local ids = redis.call('ZRANGEBYSCORE', keyBase .. LEASED, leaseUntilMin, leaseUntilMax)
-- Ids from the registration's list, leased under its token, not the claim's.
local handed = {}
if keepRegistration == '' then
  local handedKey = keyBase .. HANDED .. registrationToken
  -- A handed row is the CLAIM_FIELDS values, then the id, on lines of their own (see claimJobs).
  local rowId = '^' .. string.rep('[^\n]*\n', #CLAIM_FIELDS) .. '(.*)$'
  for _, row in ipairs(redis.call('LRANGE', handedKey, '0', '-1')) do
    local id = string.match(row, rowId)
    ids[#ids + 1], handed[id] = id, true
  end
  redis.call('DEL', handedKey)
end
local released = {}
for _, id in ipairs(ids) do
  local key = jobKey(id)
  local fields = kept[id] and {} or redis.call('HMGET', key, 'tk', 'at', 'p', 'sq', 'cr')
  if fields[1] == (handed[id] and registrationToken or token) then
    local priority, seq, cancelRequested = fields[3], fields[4], fields[5]
    removeFromIndex(keyBase .. LEASED, id)
    local attempts = math.max(tonumber(fields[2]) - 1, 0)
    redis.call('HSET', key, 'at', attempts, 'tk', '', 'lu', '', 'w', '')
    if attempts == 0 then redis.call('HDEL', key, 'sa') end
    if cancelRequested == '1' then
      local errorJson = cjson.encode({message = 'cancelled before it started', retryable = false, name = 'CancelledError'})
      redis.call('HSET', key, 'st', 'cancelled', 'e', errorJson, 'ea', nowText, 'cr', '')
      indexJob(id, 'cancelled', seq, nil, nil, nowText)
      events[#events + 1] = {'cancelled', id}
    else
      redis.call('HSET', key, 'st', 'queued')
      indexJob(id, 'queued', seq, priority)
      events[#events + 1] = {'queued', id}
    end
    released[#released + 1] = id
  end
end
publishEvents(channel, queue, tonumber(nowText))
return released
