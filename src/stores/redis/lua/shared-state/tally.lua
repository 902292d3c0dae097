-- Add to counters of one hash, which lives ttlMs after its last change. Returns 1.
local tallyKey = KEYS[1]
local ttlMs = ARGV[1]
local FIRST_FIELD = 2         -- then field/amount pairs
for i = FIRST_FIELD, #ARGV, 2 do redis.call('HINCRBY', tallyKey, ARGV[i], ARGV[i + 1]) end
redis.call('PEXPIRE', tallyKey, ttlMs)
return 1
