-- A channel as scripts get it ('?name' or 'name'): its name, and whether it came marked '?'.
local function channelName(channel)
  if string.sub(channel, 1, 1) == '?' then return string.sub(channel, 2), true end
  return channel, false
end
-- Work channels (name .. ':w') by the channel scripts get, kept across calls where the scripts run
-- as a function library (a store sends the same channel on every call): string.sub and a
-- concatenation are ~2.5k instructions of a lone add's ~125k (callgrind). A Redis that many
-- prefixes share starts the table over past 256 of them.
local WORK_CHANNELS, workChannelsKept = {}, 0
local function workChannel(channel)
  local name = WORK_CHANNELS[channel]
  if name then return name end
  if workChannelsKept == 256 then WORK_CHANNELS, workChannelsKept = {}, 0 end
  name = channelName(channel) .. ':w'
  WORK_CHANNELS[channel] = name
  workChannelsKept = workChannelsKept + 1
  return name
end
-- Events a worker acts on go to channel .. ':w', the rest to channel, so an idle-or-busy worker
-- reads only what wakes it (WORK_EVENTS in core/store.ts, written in here). Runs of one kind go out
-- as one message each, in order.
local WORK_EVENTS = {--[[$WORK_EVENTS]]}
-- The outcome kinds that yield to a cancel request made during the attempt (yieldsToCancel in the
-- core state rules): finish.lua ends such a job cancelled instead.
local YIELDS_TO_CANCEL = {--[[$YIELDS_TO_CANCEL]]}
-- A channel given as '?name' (single Redis only, where PUBSUB NUMSUB sees every subscriber) sends
-- the other events only if someone subscribes to them: a deployment of workers alone, which read
-- only work events, pays nothing for the rest. Asked once per call.
local function othersListening(channel)
  if anyoneListening == nil then
    if subText(channel, 1, 1) == '?' then anyoneListening = callRedis('PUBSUB', 'NUMSUB', subText(channel, 2))[2] > 0
    else anyoneListening = true end
  end
  return anyoneListening
end
-- Flush the index writes, then publish this call's events as {q = queue, a = at, e = events}.
-- A call with none (a worker's finish and claim when nobody takes the other events) stops after the
-- flush: the run table, the channel's name and the loop cost ~3k instructions (callgrind).
local function publishEvents(channel, queue, at)
  flushIndexWrites()
  if not events[1] then return end
  local name = channelName(channel)
  local run, runIsWork = {}, nil
  for _, event in ipairs(events) do
    local isWork = WORK_EVENTS[event[1]] == true
    -- Asked only when a non-work event is there: an add or a promote never pays for PUBSUB NUMSUB.
    if isWork or othersListening(channel) then
      if isWork ~= runIsWork and #run > 0 then
        redis.call('PUBLISH', runIsWork and workChannel(channel) or name, cjson.encode({q = queue, a = at, e = run}))
        run = {}
      end
      runIsWork = isWork
      run[#run + 1] = event
    end
  end
  if #run > 0 then redis.call('PUBLISH', runIsWork and workChannel(channel) or name, cjson.encode({q = queue, a = at, e = run})) end
end
