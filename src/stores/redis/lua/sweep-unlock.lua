-- Release the sweep lock, only if this sweep still holds it.
local globalKeyBase = KEYS[1]
local token = ARGV[1]
beginCall(globalKeyBase)
if redis.call('GET', keyBase .. SWEEP_LOCK) == token then return redis.call('DEL', keyBase .. SWEEP_LOCK) end
return 0
