-- Per-call state, set by beginCall at the top of every script. Run as EVAL, these helpers run
-- again on each call; loaded as a function library they run once, and the functions share these.
-- keyBase: the hash tag every key of the call starts with ({prefix:queue}, or {prefix} for global
-- scripts). idIndex: the id -> queue hash, passed on a single Redis only (nil on Cluster).
-- events: {type, id, ...} to publish. pendingAdds, pendingRemoves: batched index writes (see
-- addToIndex). anyoneListening: nil until known (see othersListening). writeDirectly: see addToIndex.
local keyBase, idIndex, events, pendingAdds, pendingRemoves, anyoneListening, writeDirectly
local function beginCall(base, index)
  keyBase, idIndex, events, pendingAdds, pendingRemoves, anyoneListening, writeDirectly = base, index, {}, {}, {}, nil, false
end
