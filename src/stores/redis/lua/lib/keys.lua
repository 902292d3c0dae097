-- A queue's keys: keyBase followed by one of these (the store's TypeScript side builds the same
-- names in keys.ts). Each state has exactly one index, so a
-- transition is one ZREM and one ZADD, and counts are ZCARDs.
local JOB = ':j:'           -- .. id: the job's hash (fields: FIELDS in codec.ts)
local JOB_LOG = ':l:'       -- .. id: its log lines
local META = ':m'           -- queue meta: paused, concurrency, rate limit and window, last seq
local ALL_JOBS = ':a'       -- every job, scored by seq (newest-first lists)
-- queued, scored -priority; member <17-digit seq><id>, so equal scores sort by seq (FIFO)
local READY = ':r'
local SCHEDULED = ':d'      -- scheduled, by runAt
local LEASED = ':k'         -- active, by lease end (and LEASE_ANCHOR)
local FINISHED = ':e:'      -- .. state: completed, failed or cancelled, by endedAt
local OUTBOX = ':o'         -- follow-up jobs written with an outcome, until delivered
local IDLE = ':i'           -- idle workers' hand-off registrations (see handOff)
local HANDED = ':h:'        -- .. token: jobs handed off under a registration
-- Job hash fields: d static JSON, st state, p priority, sq seq, ra runAt, at attempts,
-- ma maxAttempts, sl stalls, ms maxStalls, sa startedAt, ea endedAt, r result, e error, h history,
-- pg progress, cr cancel requested, w worker, tk lease token, lu lease until. '' or absent = null,
-- except at and sl (absent = 0), h (absent = '[]'), ma and ms (absent = ABSENT_MAX_ATTEMPTS and
-- ABSENT_MAX_STALLS, as text). Every reader takes absent as the default, so that a later version
-- may leave those fields out at add (each field written costs ~2k instructions, callgrind); this
-- one still writes them all, since versions before it read them without a default.
local JOB_FIELDS = {--[[$JOB_FIELDS]]}
local ABSENT_MAX_ATTEMPTS, ABSENT_MAX_STALLS = --[[$ABSENT_LIMITS]]
local function jobKey(id) return keyBase .. JOB .. id end
-- A job as rowToJob (codec.ts) reads it.
local function readJob(key) return redis.call('HMGET', key, unpack(JOB_FIELDS)) end
-- Global keys: keyBase ({prefix}) followed by one of these (and OUTBOX, for schedules' jobs).
local SCHEDULE = ':sc:'     -- .. id: a schedule's hash
local ALL_SCHEDULES = ':sca' -- every schedule id
local DUE_SCHEDULES = ':scd' -- unpaused schedules by next run time
local WORKERS = ':w'        -- worker id -> info JSON
local WORKER_EXPIRY = ':we' -- worker ids by when they expire
local SWEEP_LOCK = ':sweep' -- the sweep lock (see sweep-lock.lua)
