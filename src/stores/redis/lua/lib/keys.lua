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
-- except at and sl (absent = 0), h (absent = '[]'), ra (absent = the static JSON's createdAt), ma
-- and ms (absent = ABSENT_MAX_ATTEMPTS and ABSENT_MAX_STALLS, as text). Every reader takes absent
-- as the default. An add leaves those fields out (each field written costs ~2k instructions,
-- callgrind) only on a prefix whose FORMAT mark says lean: versions before this one read them
-- without a default, and until the mark is set one of them may share the prefix (jobFormat).
-- A hash's size tells a claim what it can hold (claimJobs reads by it), so every writer keeps these:
-- every add writes d, st, p and sq, and no field is ever deleted but sa (release-claim.lua, after a
-- claim has written at, w, tk, lu and sa); a claim leaves at least eight fields, a full add writes
-- ten or more. So a hash of four fields is d, st, p and sq alone, and one of at most seven was never
-- claimed and stored lean: no at, no h (nor sl, e, pg). A writer that adds a field to a job never
-- claimed must keep those two sentences true.
local JOB_FIELDS = {--[[$JOB_FIELDS]]}
local ABSENT_MAX_ATTEMPTS, ABSENT_MAX_STALLS = --[[$ABSENT_LIMITS]]
-- An add's runAt when it equals the job's createdAt and is due (the client's test): the hash then
-- leaves ra out (lean adds only).
local RUN_AT_CREATED = --[[$RUN_AT_CREATED]]
-- The priority a plain add (lua/add.lua) that sends none has: core's default.
local DEFAULT_PRIORITY = --[[$DEFAULT_PRIORITY]]
local function jobKey(id) return keyBase .. JOB .. id end
-- A job as rowToJob (codec.ts) reads it.
local function readJob(key) return redis.call('HMGET', key, unpack(JOB_FIELDS)) end
-- A lean hash's fields past d, st, p and sq (and a hand-off's lease fields): ra unless runAt is
-- RUN_AT_CREATED, the limits unless at their default; appended to args after n. Returns args' length.
local function nonDefaultFields(args, n, runAt, maxAttempts, maxStalls)
  if runAt ~= RUN_AT_CREATED then args[n + 1], args[n + 2], n = 'ra', runAt, n + 2 end
  if maxAttempts ~= ABSENT_MAX_ATTEMPTS then args[n + 1], args[n + 2], n = 'ma', maxAttempts, n + 2 end
  if maxStalls ~= ABSENT_MAX_STALLS then args[n + 1], args[n + 2], n = 'ms', maxStalls, n + 2 end
  return n
end
-- A queue's key names by its base (keyBase), for the add and hand-off paths, with the head of its
-- hand-off message once one was made (deliver, lua/lib/handoff.lua) and whether its last claim here
-- ran dry (ranDry: claimJobs, lua/lib/claim-jobs.lua): each concatenation is ~0.6k Redis
-- instructions (callgrind), and a lone add named four, a handed one six. Kept across calls where
-- the scripts run as a function library; started over past 256 queues.
local QUEUE_KEYS, queueKeysKept = {}, 0
local function queueKeys()
  if queueKeysKept == 256 then QUEUE_KEYS, queueKeysKept = {}, 0 end
  local keys = {job = keyBase .. JOB, meta = keyBase .. META, ready = keyBase .. READY, all = keyBase .. ALL_JOBS,
    scheduled = keyBase .. SCHEDULED, idle = keyBase .. IDLE, leased = keyBase .. LEASED, handed = keyBase .. HANDED,
    messageHead = nil}
  QUEUE_KEYS[keyBase] = keys
  queueKeysKept = queueKeysKept + 1
  return keys
end
-- Global keys: keyBase ({prefix}) followed by one of these (and OUTBOX, for schedules' jobs).
local SCHEDULE = ':sc:'     -- .. id: a schedule's hash
local ALL_SCHEDULES = ':sca' -- every schedule id
local DUE_SCHEDULES = ':scd' -- unpaused schedules by next run time
local WORKERS = ':w'        -- worker id -> info JSON
local WORKER_EXPIRY = ':we' -- worker ids by when they expire
local SWEEP_LOCK = ':sweep' -- the sweep lock (see sweep-lock.lua)
local QUEUE_NAMES = ':queues' -- every queue name (context.ts registers a queue before its first add)
local ID_INDEX = ':ids'     -- id -> queue
-- The job hash format of the prefix: LEAN, or absent (every field written). See jobFormat.
local FORMAT = ':format'
local LEAN = 'lean'
-- What a worker's info JSON holds when its process reads lean hashes (workers.ts).
local LEAN_READER = --[[$LEAN_READER]]
-- The prefix's job hash format (run with keyBase the global base). A prefix that holds nothing
-- yet (no queue ever registered, no schedule, no worker, no id: every job, schedule and worker of
-- any version passes through one of these keys first) is marked lean here: only processes of this
-- version or later can have used it. One with data and no mark stays full until an operator runs
-- `fusion store upgrade` (format-upgrade.lua). Returns LEAN or ''.
local function jobFormat()
  local formatKey = keyBase .. FORMAT
  local mark = redis.call('GET', formatKey)
  if mark then return mark end
  if redis.call('EXISTS', keyBase .. QUEUE_NAMES, keyBase .. ALL_SCHEDULES, keyBase .. WORKERS, keyBase .. ID_INDEX) > 0 then return '' end
  redis.call('SET', formatKey, LEAN)
  return LEAN
end
