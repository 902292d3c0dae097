-- A worker's claim (see workerClaim). Returns {claimed job rows, nextWakeAt or false,
-- registration or false, handed rows or false}.
local queueKeyBase = KEYS[1]
local channel = ARGV[1]
local queue = ARGV[2]
local nowText = ARGV[3]
local limit = tonumber(ARGV[4])
local leaseMs = ARGV[5]
local workerId = ARGV[6]
local token = ARGV[7]
local previous = ARGV[8]
local idleUntil = ARGV[9]
local forget = ARGV[10]
beginCall(queueKeyBase)
writeDirectly = limit <= 1
local now = tonumber(nowText)
local rows, wakeAt, registration, handed = workerClaim(channel, now, nowText, limit, leaseMs, workerId, token, previous, idleUntil, forget)
publishEvents(channel, queue, now)
return {rows, wakeAt, registration, handed}
