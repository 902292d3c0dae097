-- Jobs whose lease ran out: back to queued with a stall counted, failed past maxStalls, or cancelled
-- if a cancel was asked. Returns {requeued ids, failed ids, cancelled ids}.
local queueKeyBase = KEYS[1]
local channel = ARGV[1]
local queue = ARGV[2]
local nowText = ARGV[3]
local limit = tonumber(ARGV[4])
beginCall(queueKeyBase)
local now = tonumber(nowText)
local expired = redis.call('ZRANGEBYSCORE', keyBase .. LEASED, '-inf', '(' .. nowText, 'LIMIT', 0, limit)
local requeued, failed, cancelled = {}, {}, {}
for _, id in ipairs(expired) do
  local key = jobKey(id)
  local f = redis.call('HMGET', key, 'cr', 'sl', 'ms', 'h', 'sq', 'p', 'at', 'w', 'sa')
  local cancelRequested, maxStalls, history, seq, priority, attempt, worker, startedAt = f[1], f[3], f[4], f[5], f[6], f[7], f[8], f[9]
  local stalls = tonumber(f[2]) + 1
  removeFromIndex(keyBase .. LEASED, id)
  if cancelRequested == '1' then
    local message = 'cancelled while its worker was lost'
    local errorJson = cjson.encode({message = message, retryable = false, name = 'CancelledError'})
    redis.call('HSET', key, 'st', 'cancelled', 'sl', stalls, 'e', errorJson, 'ea', nowText,
      'h', closeAttempt(history, attempt, worker, startedAt, nowText, 'stalled', cjson.encode(message)), 'tk', '', 'lu', '', 'w', '')
    indexJob(id, 'cancelled', seq, nil, nil, now)
    cancelled[#cancelled + 1] = id
    events[#events + 1] = {'cancelled', id}
  elseif stalls > tonumber(maxStalls) then
    local message = 'job stalled ' .. stalls .. ' times (limit ' .. maxStalls .. '): its worker lost the lease each time'
    local errorJson = cjson.encode({message = message, retryable = false, name = 'StalledError', code = 'stalled'})
    redis.call('HSET', key, 'st', 'failed', 'sl', stalls, 'e', errorJson, 'ea', nowText,
      'h', closeAttempt(history, attempt, worker, startedAt, nowText, 'stalled', cjson.encode(message)), 'tk', '', 'lu', '', 'w', '')
    indexJob(id, 'failed', seq, nil, nil, now)
    failed[#failed + 1] = id
    events[#events + 1] = {'stalled', id}
    events[#events + 1] = {'failed', id}
  else
    redis.call('HSET', key, 'st', 'queued', 'sl', stalls, 'at', math.max(tonumber(attempt) - 1, 0),
      'h', closeAttempt(history, attempt, worker, startedAt, nowText, 'stalled'), 'tk', '', 'lu', '', 'w', '')
    indexJob(id, 'queued', seq, priority)
    requeued[#requeued + 1] = id
    events[#events + 1] = {'stalled', id}
    events[#events + 1] = {'queued', id}
  end
end
publishEvents(channel, queue, now)
return {requeued, failed, cancelled}
