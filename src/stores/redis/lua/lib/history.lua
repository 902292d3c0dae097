-- A JSON string literal. Ids are nearly always plain, so encoding is rarely needed.
local function jsonString(s)
  if string.find(s, '[%c"\\]') then return cjson.encode(s) end
  return '"' .. s .. '"'
end
-- A stored JSON value, or null for none.
local function jsonOrNull(v)
  if not v or v == '' then return 'null' end
  return v
end
-- Append the attempt that ends now to a history JSON array (ended attempts only: the open one is
-- read from the at, w and sa fields) without decoding it. An absent or empty history is '[]' (an add
-- may leave default fields out of the hash).
local function closeAttempt(history, attempt, worker, startedAt, endedAt, outcome, messageJson)
  local record = '{"attempt":' .. attempt .. ',"workerId":' .. jsonString(worker or '') .. ',"startedAt":' .. jsonOrNull(startedAt)
    .. ',"endedAt":' .. endedAt .. ',"outcome":"' .. outcome .. '"'
  if messageJson then record = record .. ',"error":' .. messageJson end
  record = record .. '}'
  if not history or history == '' or history == '[]' then return '[' .. record .. ']' end
  return string.sub(history, 1, -2) .. ',' .. record .. ']'
end
