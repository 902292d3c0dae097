-- A page of one state's index, in that index's order, after a position: member, score pairs. The
-- position is the (score, member) of the last row a previous page held, so a page starts where the
-- last one ended whatever came or went since (an offset would repeat or skip jobs). A queued job's
-- member is its 17-digit seq then its id (run order within a priority).
local queueKeyBase = KEYS[1]
local state = ARGV[1]
local count = tonumber(ARGV[2])
local reverse = ARGV[3] == '1'
local afterScore = ARGV[4]   -- '' for the first page
local afterMember = ARGV[5]
local inclusive = ARGV[6] == '1' -- rows equal to the position come too (another queue's cursor)
beginCall(queueKeyBase)
local key
if state == 'queued' then key = keyBase .. READY elseif state == 'scheduled' then key = keyBase .. SCHEDULED
elseif state == 'active' then key = keyBase .. LEASED else key = keyBase .. FINISHED .. state end
-- Byte order, as Redis orders members of equal score (Lua's < follows the server's locale).
local function byteCompare(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y and -1 or 1 end
  end
  return #a == #b and 0 or (#a < #b and -1 or 1)
end
local start = 0
if afterScore ~= '' then
  -- Rows before the position's score, then a binary search among the rows of its score (a run in member order).
  local lo, n
  if reverse then
    lo = redis.call('ZCOUNT', key, '(' .. afterScore, '+inf')
  else
    lo = redis.call('ZCOUNT', key, '-inf', '(' .. afterScore)
  end
  n = redis.call('ZCOUNT', key, afterScore, afterScore)
  local hi = lo + n
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    local m = (reverse and redis.call('ZREVRANGE', key, mid, mid) or redis.call('ZRANGE', key, mid, mid))[1]
    local c = byteCompare(m, afterMember)
    if reverse then c = -c end
    -- Is the row at mid still before where the page starts?
    if c < 0 or (c == 0 and not inclusive) then lo = mid + 1 else hi = mid end
  end
  start = lo
end
local page
if reverse then page = redis.call('ZREVRANGE', key, start, start + count - 1, 'WITHSCORES')
else page = redis.call('ZRANGE', key, start, start + count - 1, 'WITHSCORES') end
if state == 'active' then
  local out = {}
  for i = 1, #page, 2 do
    if page[i] ~= LEASE_ANCHOR then out[#out + 1] = page[i]; out[#out + 1] = page[i + 1] end
  end
  page = out
end
return page
