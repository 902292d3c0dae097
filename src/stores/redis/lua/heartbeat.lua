-- Extend leases. Returns per lease: 0 lost, 1 held, 2 held and asked to cancel.
local queueKeyBase = KEYS[1]
local leaseUntilText = ARGV[1]
local count = tonumber(ARGV[2])
-- then count x (id, token) from ARGV[3]
beginCall(queueKeyBase)
local leaseUntil = tonumber(leaseUntilText)
local out = {}
for x = 1, count do
  local id, token = ARGV[1 + 2 * x], ARGV[2 + 2 * x]
  local key = jobKey(id)
  local fields = redis.call('HMGET', key, 'tk', 'cr')
  if fields[1] ~= token then out[x] = 0 else
    redis.call('HSET', key, 'lu', leaseUntilText)
    redis.call('ZADD', keyBase .. LEASED, leaseUntil, id)
    if fields[2] == '1' then out[x] = 2 else out[x] = 1 end
  end
end
return out
