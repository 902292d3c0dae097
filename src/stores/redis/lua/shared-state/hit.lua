-- Count a hit in a window that starts with the first. Returns the count so far.
local counterKey = KEYS[1]
local windowMs = ARGV[1]
local hits = redis.call('INCR', counterKey)
if hits == 1 then redis.call('PEXPIRE', counterKey, windowMs) end
return hits
