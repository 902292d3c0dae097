-- Jobs whose lease ran out (stall recovery). Each counts one more stall, records its attempt as
-- 'stalled', and takes one of three branches, which the store passes from core's stallDecision
-- (src/core/state-rules.ts): asked to cancel; past its stall limit; any other. A branch is the
-- state it leaves the job in, '1' if the lost attempt counts (else attempts goes down by one), and
-- the error JSON and its message JSON ('' for none) the job ends with, where stallsMark and
-- limitMark stand for the job's stall count and limit. Returns {requeued ids, failed ids, cancelled ids}.
local queueKeyBase = KEYS[1]
local channel = ARGV[1]
local queue = ARGV[2]
local nowText = ARGV[3]
local limit = tonumber(ARGV[4])
local cancelRequestedBranch = {ARGV[5], ARGV[6], ARGV[7], ARGV[8]}
local pastLimitBranch = {ARGV[9], ARGV[10], ARGV[11], ARGV[12]}
local requeueBranch = {ARGV[13], ARGV[14], ARGV[15], ARGV[16]}
local stallsMark = ARGV[17]
local limitMark = ARGV[18]
beginCall(queueKeyBase)
local now = tonumber(nowText)
-- A branch's text with the job's numbers in; nil for ''.
local function fill(text, stalls, maxStalls)
  if text == '' then return nil end
  return (string.gsub(string.gsub(text, stallsMark, stalls), limitMark, maxStalls))
end
local expired = redis.call('ZRANGEBYSCORE', keyBase .. LEASED, '-inf', '(' .. nowText, 'LIMIT', 0, limit)
local byState = {queued = {}, failed = {}, cancelled = {}}
for _, id in ipairs(expired) do
  local key = jobKey(id)
  local fields = redis.call('HMGET', key, 'cr', 'sl', 'ms', 'h', 'sq', 'p', 'at', 'w', 'sa')
  local cancelRequested, maxStalls, history, seq, priority, attempt, worker, startedAt = fields[1], fields[3] or ABSENT_MAX_STALLS, fields[4], fields[5], fields[6], fields[7], fields[8], fields[9]
  -- An add may leave default fields out of the hash: no stalls is 0, no history '[]' (closeAttempt).
  local stalls = (tonumber(fields[2]) or 0) + 1
  removeFromIndex(keyBase .. LEASED, id)
  local branch = requeueBranch
  if cancelRequested == '1' then branch = cancelRequestedBranch
  elseif stalls > tonumber(maxStalls) then branch = pastLimitBranch end
  local state = branch[1]
  local attempts = attempt
  if branch[2] ~= '1' then attempts = math.max(tonumber(attempt) - 1, 0) end
  local errorJson, messageJson = fill(branch[3], stalls, maxStalls), fill(branch[4], stalls, maxStalls)
  local closed = closeAttempt(history, attempt, worker, startedAt, nowText, 'stalled', messageJson)
  if errorJson then
    redis.call('HSET', key, 'st', state, 'sl', stalls, 'at', attempts, 'e', errorJson, 'ea', nowText, 'h', closed, 'tk', '', 'lu', '', 'w', '')
  else
    redis.call('HSET', key, 'st', state, 'sl', stalls, 'at', attempts, 'h', closed, 'tk', '', 'lu', '', 'w', '')
  end
  indexJob(id, state, seq, priority, nil, now)
  local ids = byState[state]
  ids[#ids + 1] = id
  -- A job asked to cancel ends as the cancel asked: its event is 'cancelled' alone.
  if branch ~= cancelRequestedBranch then events[#events + 1] = {'stalled', id} end
  events[#events + 1] = {state, id}
end
publishEvents(channel, queue, now)
return {byState.queued, byState.failed, byState.cancelled}
