-- The prefix's job hash format (jobFormat in lua/lib/keys.lua), marking an empty prefix lean.
-- Returns 'lean' or ''.
local globalKeyBase = KEYS[1]
beginCall(globalKeyBase)
return jobFormat()
