-- Scheduled jobs whose time has come go to queued. Returns how many moved.
local queueKeyBase = KEYS[1]
local channel = ARGV[1]
local queue = ARGV[2]
local nowText = ARGV[3]
local limitText = ARGV[4]
beginCall(queueKeyBase)
local moved = promoteDue(nowText, limitText)
publishEvents(channel, queue, tonumber(nowText))
return moved
