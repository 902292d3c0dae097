-- Per-call state, set by beginCall at the top of every script. Run as EVAL, these helpers run
-- again on each call; loaded as a function library they run once, and the functions share these.
-- keyBase: the hash tag every key of the call starts with ({prefix:queue}, or {prefix} for global
-- scripts). idIndex: the id -> queue hash, passed on a single Redis only (nil on Cluster).
-- events: {type, id, ...} to publish. pendingAdds, pendingRemoves: batched index writes (see
-- addToIndex). anyoneListening: nil until known (see othersListening). writeDirectly: see addToIndex.
-- The three tables are made anew only when the call before left something in them (or stopped
-- midway): most calls of a lone add or an idle worker use none, and three new tables a call are
-- garbage the collector then walks. pendingWrites: something went into pendingAdds or
-- pendingRemoves since they were made.
local keyBase, idIndex, anyoneListening, writeDirectly
local events, pendingAdds, pendingRemoves, pendingWrites = {}, {}, {}, false
-- redis.call, redis.pcall, string.format, type, string.sub and unpack for the paths run per job (adds,
-- claims, finishes, their index writes), as upvalues: a function library reads a global through its globals
-- table's __index (a miss, the metatable, then the real table), then the field: ~0.27k instructions
-- a use (callgrind). A library cannot take them as it loads (only redis.register_function and
-- redis.log are there then): the first call does.
local callRedis, pcallRedis, formatText, typeOf, subText, unpackArgs
local function beginCall(base, index)
  keyBase, idIndex, anyoneListening, writeDirectly = base, index, nil, false
  if not callRedis then
    callRedis, pcallRedis, formatText, typeOf, subText, unpackArgs = redis.call, redis.pcall, string.format, type, string.sub, unpack
  end
  if #events > 0 then events = {} end
  if pendingWrites then pendingAdds, pendingRemoves, pendingWrites = {}, {}, false end
end
-- now (milliseconds) from the text a script gets. The calls of one millisecond send the same text
-- (Lua interns strings: == is one comparison), where tonumber runs strtod (~1.5k instructions,
-- callgrind). Kept across calls where the scripts run as a function library.
local lastNowText, lastNow = nil, nil
local function timeOf(nowText)
  if nowText ~= lastNowText then lastNowText, lastNow = nowText, tonumber(nowText) end
  return lastNow
end
-- tonumber for texts that come again call after call (counts, lease lengths): a table lookup where
-- tonumber runs strtod (~1.5k Redis instructions each, callgrind; a worker's finish reads four or
-- five). Kept across calls where the scripts run as a function library; started over past 256
-- texts. Not for times, which rarely repeat.
local NUMBERS, numbersKept = {}, 0
local function numberOf(text)
  local n = NUMBERS[text]
  if n ~= nil then return n end
  n = tonumber(text)
  if n == nil then return nil end
  if numbersKept == 256 then NUMBERS, numbersKept = {}, 0 end
  NUMBERS[text] = n
  numbersKept = numbersKept + 1
  return n
end
