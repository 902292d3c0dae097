-- `fusion store upgrade`: mark the prefix's job hashes lean (FORMAT), so adds leave default fields
-- out. Refused while a live worker does not say it reads lean hashes (its info JSON lacks
-- LEAN_READER: a worker of a version before the mark), unless forced. Checked and set in one
-- script, so no worker registers in between. Returns {outcome, ids of live workers that do not
-- read lean hashes}: outcome 'lean' (marked now), 'already' or 'refused'.
local globalKeyBase = KEYS[1]
local nowText = ARGV[1]
local force = ARGV[2] == '1'
beginCall(globalKeyBase)
local formatKey = keyBase .. FORMAT
local older = {}
local live = redis.call('ZRANGEBYSCORE', keyBase .. WORKER_EXPIRY, nowText, '+inf')
if #live > 0 then
  local infos = redis.call('HMGET', keyBase .. WORKERS, unpack(live))
  for i, id in ipairs(live) do
    if infos[i] and not string.find(infos[i], LEAN_READER, 1, true) then older[#older + 1] = id end
  end
end
if redis.call('GET', formatKey) == LEAN then return {'already', older} end
if #older > 0 and not force then return {'refused', older} end
redis.call('SET', formatKey, LEAN)
return {'lean', older}
