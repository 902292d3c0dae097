-- Version 5: a list of one state comes in that state's own order on every store (src/stores/list-order.ts):
-- queued in run order (jobs_ready), scheduled by due time (jobs_due), active by lease (jobs_active),
-- finished states latest end first, on the (queue, ended_at, seq) indexes below. The per-state
-- (queue, seq) indexes stay: counts and the one-queue, every-state listing read them.
CREATE INDEX IF NOT EXISTS jobs_completed_end ON jobs (queue, ended_at DESC, seq DESC) WHERE state = 'completed';
CREATE INDEX IF NOT EXISTS jobs_failed_end ON jobs (queue, ended_at DESC, seq DESC) WHERE state = 'failed';
CREATE INDEX IF NOT EXISTS jobs_cancelled_end ON jobs (queue, ended_at DESC, seq DESC) WHERE state = 'cancelled';
