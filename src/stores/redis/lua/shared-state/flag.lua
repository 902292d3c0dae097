-- Raise a flag until a time, unless it is already raised until then or later. Returns 1 if raised.
local flagKey = KEYS[1]
local untilText = ARGV[1]
local now = tonumber(ARGV[2])
local raisedUntil = tonumber(redis.call('GET', flagKey) or '0')
local untilMs = tonumber(untilText)
if raisedUntil >= untilMs then return 0 end
redis.call('SET', flagKey, untilText, 'PX', math.max(1, untilMs - now))
return 1
