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
local function closeAttempt(history, attempt, worker, startedAt, endedAt, outcome, messageJson, snoozes)
  local record = '{"attempt":' .. attempt .. ',"workerId":' .. jsonString(worker or '') .. ',"startedAt":' .. jsonOrNull(startedAt)
    .. ',"endedAt":' .. endedAt .. ',"outcome":"' .. outcome .. '"'
  if messageJson then record = record .. ',"error":' .. messageJson end
  if snoozes then record = record .. ',"snoozes":' .. snoozes end
  record = record .. '}'
  if not history or history == '' or history == '[]' then return '[' .. record .. ']' end
  return string.sub(history, 1, -2) .. ',' .. record .. ']'
end
-- A run of snoozes is one record, the latest, counting them ("snoozes"): a snooze right after
-- another replaces its record, so a job put off for hours keeps a short history. The last record
-- starts at the last '{"attempt":' (a snooze's record holds no nested object, and inside a JSON
-- string those quotes would be escaped).
local function closeSnooze(history, attempt, worker, startedAt, endedAt)
  local snoozes = 1
  local before = history and string.match(history, '"outcome":"snoozed","snoozes":(%d+)}%]$')
  if before then
    snoozes = tonumber(before) + 1
    local last, from = nil, 1
    repeat
      local at = string.find(history, '{"attempt":', from, true)
      if at then last, from = at, at + 1 end
    until not at
    if last == 2 then history = '[]' else history = string.sub(history, 1, last - 2) .. ']' end
  end
  return closeAttempt(history, attempt, worker, startedAt, endedAt, 'snoozed', nil, snoozes)
end
