-- Version 2: delayed jobs of a queue listed in their own order (the dashboard's "scheduled" tab)
-- without sorting the queue's whole set of scheduled jobs. Only scheduled rows enter it, so the
-- hot path (queued -> active -> completed) does not pay for it.
CREATE INDEX IF NOT EXISTS jobs_scheduled ON jobs (queue, seq) WHERE state = 'scheduled';
