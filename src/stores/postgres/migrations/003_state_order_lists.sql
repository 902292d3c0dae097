-- Version 3: a list of one state comes in that state's own order on every store (src/stores/list-order.ts):
-- queued in run order (jobs_ready), scheduled by due time (jobs_due), active by lease (jobs_active),
-- finished states latest end first, on the (queue, ended_at, seq) indexes below. The (queue, seq)
-- indexes the lists used before go: nothing else reads them, and every state change paid for them.
CREATE INDEX IF NOT EXISTS jobs_completed_end ON jobs (queue, ended_at DESC, seq DESC) WHERE state = 'completed';
CREATE INDEX IF NOT EXISTS jobs_failed_end ON jobs (queue, ended_at DESC, seq DESC) WHERE state = 'failed';
CREATE INDEX IF NOT EXISTS jobs_cancelled_end ON jobs (queue, ended_at DESC, seq DESC) WHERE state = 'cancelled';
DROP INDEX IF EXISTS jobs_completed;
DROP INDEX IF EXISTS jobs_failed;
DROP INDEX IF EXISTS jobs_cancelled;
DROP INDEX IF EXISTS jobs_scheduled;
