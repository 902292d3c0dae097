-- Files made before lists of one state paged in that state's own order (f3bc0e4) listed each state
-- by seq on a (queue, seq) index per state. Lists now page on the state's own index (001), and
-- counts read those, so the old indexes only cost every write. Nothing to do on a newer file.
DROP INDEX IF EXISTS jobs_queued;
DROP INDEX IF EXISTS jobs_scheduled;
DROP INDEX IF EXISTS jobs_completed;
DROP INDEX IF EXISTS jobs_failed;
DROP INDEX IF EXISTS jobs_cancelled;
