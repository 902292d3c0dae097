-- Forget expired workers (bounded), return the info JSON of live ones.
local globalKeyBase = KEYS[1]
local nowText = ARGV[1]
beginCall(globalKeyBase)
local workersKey, expiryKey = keyBase .. WORKERS, keyBase .. WORKER_EXPIRY
local gone = redis.call('ZRANGEBYSCORE', expiryKey, '-inf', '(' .. nowText, 'LIMIT', 0, 1000)
for _, id in ipairs(gone) do
  redis.call('HDEL', workersKey, id)
  redis.call('ZREM', expiryKey, id)
end
local live = redis.call('ZRANGEBYSCORE', expiryKey, nowText, '+inf', 'LIMIT', 0, 10000)
if #live == 0 then return {} end
return redis.call('HMGET', workersKey, unpack(live))
