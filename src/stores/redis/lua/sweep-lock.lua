-- Take or keep the sweep lock (one recoverExpired at a time across processes). Returns 1 if this
-- token holds it now (taken, or already held and extended), 0 if another does. Holding it already
-- counts as taking it, so a call whose answer was lost and that ioredis sends again still says 1
-- to its taker.
local globalKeyBase = KEYS[1]
local token = ARGV[1]
local ttlMs = ARGV[2]
beginCall(globalKeyBase)
local key = keyBase .. SWEEP_LOCK
local holder = redis.call('GET', key)
if holder == token then
  redis.call('PEXPIRE', key, ttlMs)
  return 1
end
if holder then return 0 end
redis.call('SET', key, token, 'PX', ttlMs)
return 1
