-- A page of one state's index, in that index's order: id, score pairs. A queued job's score is
-- "-priority:seq", the run order the caller merges queues by.
local queueKeyBase = KEYS[1]
local state = ARGV[1]
local offset = tonumber(ARGV[2])
local count = tonumber(ARGV[3])
local reverse = ARGV[4] == '1'
beginCall(queueKeyBase)
local key
if state == 'queued' then key = keyBase .. READY elseif state == 'scheduled' then key = keyBase .. SCHEDULED
elseif state == 'active' then key = keyBase .. LEASED else key = keyBase .. FINISHED .. state end
local page
if reverse then page = redis.call('ZREVRANGE', key, offset, offset + count - 1, 'WITHSCORES')
else page = redis.call('ZRANGE', key, offset, offset + count - 1, 'WITHSCORES') end
if state == 'queued' then
  -- Ready members carry their seq.
  for i = 1, #page, 2 do page[i + 1] = page[i + 1] .. ':' .. string.sub(page[i], 1, 17); page[i] = string.sub(page[i], 18) end
elseif state == 'active' then
  local out = {}
  for i = 1, #page, 2 do
    if page[i] ~= LEASE_ANCHOR then out[#out + 1] = page[i]; out[#out + 1] = page[i + 1] end
  end
  page = out
end
return page
