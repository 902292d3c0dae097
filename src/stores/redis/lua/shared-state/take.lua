-- Evenly spaced send slots (GCRA without burst): the key holds the next free slot's time. Returns
-- the wait in ms before the slot taken, or minus the wait if it is over maxWaitMs (none taken).
local slotKey = KEYS[1]
local now = tonumber(ARGV[1])
local intervalMs = tonumber(ARGV[2])
local maxWaitMs = tonumber(ARGV[3])
local nextFree = tonumber(redis.call('GET', slotKey) or '0')
local slot = math.max(nextFree, now)
local wait = slot - now
if wait > maxWaitMs then return -math.ceil(wait) end
local followingSlot = slot + intervalMs
redis.call('SET', slotKey, string.format('%.3f', followingSlot), 'PX', math.ceil(followingSlot - now) + 1000)
return math.ceil(wait)
