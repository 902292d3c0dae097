-- Set or delete queue meta fields ('' deletes), then publish an event about it. Returns 1.
local queueKeyBase = KEYS[1]
local channel = ARGV[1]
local queue = ARGV[2]
local now = tonumber(ARGV[3])
local eventType = ARGV[4]     -- '' for none
local FIRST_FIELD = 5         -- then field/value pairs
beginCall(queueKeyBase)
local metaKey = keyBase .. META
for i = FIRST_FIELD, #ARGV, 2 do
  if ARGV[i + 1] == '' then redis.call('HDEL', metaKey, ARGV[i]) else redis.call('HSET', metaKey, ARGV[i], ARGV[i + 1]) end
end
if eventType ~= '' then events[1] = {eventType} end
publishEvents(channel, queue, now)
return 1
