// A worker's side: claim (promoting due jobs first), finish, finish-and-claim in one commit,
// heartbeat, progress and logs; and the sweeps that keep leases and due jobs moving (recover,
// promote). The hot path is claim + finish: plain statements with literals, rows read as arrays.
import type { Job, JobError } from '../../core/job.js';
import { CANCELLED_AT_ATTEMPT_END, OUTCOME_RULES, outcomeEvent, stallDecision } from '../../core/state-rules.js';
import type {
  ClaimRequest, ClaimResult, FinishAnswer, HeartbeatResult, Lease, Outcome, RecoverResult, StoreEvent,
} from '../../core/store.js';
import { MAX_JOB_LOG_LINES, storedLogLine, storedProgress } from '../../core/store.js';
import type { SqliteConnection } from './connection.js';
import { insertJobs } from './jobs-in.js';
import { fromPicked, rowToJob, type JobRow, type QueueRow } from './rows.js';
import { CLAIM_LITERAL_MAX, pickSql, type Statement } from './statements.js';

/** A queue's row as a claim reads it (statements.ts, queueToClaim), with its next due time. */
function queueToClaim(packed: string): Omit<QueueRow, 'name'> & { due: number | null } {
  const a = JSON.parse(packed) as [number, number | null, number | null, number, number, number | null, number | null];
  return { paused: a[0], rate_max: a[1], rate_window_ms: a[2], rate_window_start: a[3], rate_count: a[4], concurrency: a[5], due: a[6] };
}

/** The claim pick with `limit` written in, prepared at its first use on this connection (see pickSql). */
function pickOf(conn: SqliteConnection, limit: number): Statement {
  let s = conn.picksBySize.get(limit);
  if (!s) {
    s = (conn.db.prepare(pickSql(String(limit))) as Statement).raw(true);
    conn.picksBySize.set(limit, s);
  }
  return s;
}

/** Inside a transaction: promote each queue's due jobs, then lease up to `req.limit` of its queued ones. */
export function claimIn(conn: SqliteConnection, req: ClaimRequest, events: StoreEvent[]): ClaimResult {
  const statements = conn.statements;
  const token = conn.nextLeaseToken();
  const jobs: Job[] = [];
  let nextWakeAt: number | null = null;
  const wakeAt = (t: number | null) => {
    if (t !== null && (nextWakeAt === null || t < nextWakeAt)) nextWakeAt = t;
  };
  for (const queue of req.queues) {
    const packed = statements.queueToClaim.get(queue) as string | undefined;
    if (packed === undefined) continue;
    const q = queueToClaim(packed);
    conn.knownQueues.add(queue);
    if (q.paused) continue;
    // Promote only when something is due: a read on the due index costs less than an UPDATE that
    // opens every index to change nothing, which is most claims.
    let due = q.due;
    if (due !== null && due <= req.now) {
      for (const r of statements.promoteDueInQueue.all(queue, req.now) as { id: string }[]) {
        events.push({ type: 'queued', queue, jobId: r.id, at: req.now });
      }
      due = (statements.nextDueAt.get(queue) as { t: number | null }).t;
    }
    wakeAt(due);
    let n = req.limit - jobs.length;
    if (n <= 0) continue;
    if (q.concurrency != null) {
      const active = (statements.activeInQueue.get(queue) as { n: number }).n;
      n = Math.min(n, q.concurrency - active);
    }
    let windowStart = q.rate_window_start;
    let used = q.rate_count;
    if (q.rate_max != null) {
      const win = q.rate_window_ms!;
      if (req.now >= windowStart + win) {
        windowStart = req.now;
        used = 0;
      }
      const left = q.rate_max - used;
      if (left <= n) wakeAt(windowStart + win);
      n = Math.min(n, left);
    }
    if (n <= 0) continue;
    const picked = (Number.isInteger(n) && n <= CLAIM_LITERAL_MAX ? pickOf(conn, n).all(queue) : statements.pickAnySize.all(queue, n)) as [string, string][];
    const until = req.now + req.leaseMs;
    // One loop over the picked rows, not a map into an array then a loop over it: the array that
    // optimized code's map made had another hidden class than the interpreter's, and the loop over
    // it was deoptimized ("wrong map") inside a timed row of the engine bench.
    for (const [payload, packed] of picked) {
      const r = fromPicked(queue, payload, packed);
      statements.leaseJob.run(req.workerId, token, until, req.now, r.seq);
      conn.noteLeased(r.id, r.seq, queue);
      // The row as the lease left it.
      r.state = 'active';
      r.attempts += 1;
      r.worker_id = req.workerId;
      r.lease_token = token;
      r.lease_until = until;
      r.started_at = req.now;
      r.cancel_requested = 0;
      // Indexed stores, not push: the push, optimized while claims were empty, deoptimized ("not a
      // Smi") at the first job it stored (c=50 row of the engine bench).
      jobs[jobs.length] = rowToJob(r);
      events[events.length] = { type: 'active', queue, jobId: r.id, at: req.now };
    }
    if (q.rate_max != null) statements.recordRateUse.run(windowStart, used + picked.length, queue);
    if (jobs.length >= req.limit) break;
  }
  return { jobs, nextWakeAt };
}

export function claimJobs(conn: SqliteConnection, req: ClaimRequest): ClaimResult {
  const events: StoreEvent[] = [];
  const result = conn.tx(() => claimIn(conn, req, events));
  conn.emit(events);
  return result;
}

/** The JSON of an error's structured details for the attempt history, or null. */
const detailsOf = (e: JobError | undefined | null): string | null => (e?.details ? JSON.stringify(e.details) : null);

/** Inside a transaction: apply each outcome under its lease (FinishAnswer: false where the lease no longer holds). */
export function finishIn(conn: SqliteConnection, outcomes: Outcome[], events: StoreEvent[]): FinishAnswer[] {
  const statements = conn.statements;
  return outcomes.map((o) => {
    // The job's seq and its queue (for the event).
    const found = conn.locateLeased(o.id);
    if (found === undefined) return false;
    const [seq, queue] = found;
    let changes = 0;
    switch (o.kind) {
      case 'completed':
        changes = statements.complete.run(o.result === undefined ? null : JSON.stringify(o.result), o.at, o.at, seq, o.token).changes;
        break;
      case 'retry':
        changes = statements.retryLater.run({
          seq, token: o.token, at: o.at, retryAt: o.retryAt, error: JSON.stringify(o.error), message: o.error.message, details: detailsOf(o.error),
        }).changes;
        break;
      case 'failed':
      case 'cancelled':
        changes = endJob(conn, o.kind, seq, o.token, o.at, o.error);
        break;
      case 'released':
        changes = statements.release.run({ seq, token: o.token, at: o.at }).changes;
        break;
      case 'snoozed':
        changes = statements.snooze.run({ seq, token: o.token, at: o.at, retryAt: o.retryAt }).changes;
        break;
    }
    if (changes === 0) {
      // A retry, snooze or release applies only where no cancel request came during the attempt.
      if (!OUTCOME_RULES[o.kind].yieldsToCancel || endJob(conn, 'cancelled', seq, o.token, o.at, CANCELLED_AT_ATTEMPT_END) === 0) return false;
      events.push({ type: 'cancelled', queue, jobId: o.id, at: o.at });
      return 'cancelled';
    }
    const event: StoreEvent = { type: outcomeEvent(o.kind), queue, jobId: o.id, at: o.at, runAt: 'retryAt' in o ? o.retryAt : undefined };
    events.push(event);
    // A job given back at shutdown is for the workers of other processes.
    if (o.kind === 'released') conn.shareWork([event]);
    if (o.enqueue?.length) insertJobs(conn, o.enqueue, o.at, events);
    return true;
  });
}

/** End a leased job failed or cancelled with this error; the number of rows changed (0: the lease no longer holds). */
function endJob(conn: SqliteConnection, kind: 'failed' | 'cancelled', seq: number, token: string, at: number, error: JobError | undefined): number {
  return conn.statements[kind === 'failed' ? 'fail' : 'cancel'].run({
    seq, token, at, error: error ? JSON.stringify(error) : null, message: error?.message ?? null, details: detailsOf(error),
  }).changes;
}

export function finishJobs(conn: SqliteConnection, outcomes: Outcome[]): FinishAnswer[] {
  const events: StoreEvent[] = [];
  const applied = conn.tx(() => finishIn(conn, outcomes, events));
  conn.emit(events);
  return applied;
}

/** Outcomes and the next claim in one transaction: one commit per worker cycle instead of two. */
export function finishAndClaimJobs(conn: SqliteConnection, outcomes: Outcome[], req: ClaimRequest): { applied: FinishAnswer[]; claim: ClaimResult } {
  const events: StoreEvent[] = [];
  const result = conn.tx(() => {
    const applied = finishIn(conn, outcomes, events);
    return { applied, claim: claimIn(conn, req, events) };
  });
  conn.emit(events);
  return result;
}

export function heartbeatJobs(conn: SqliteConnection, leases: Lease[], leaseMs: number, now: number): HeartbeatResult[] {
  return conn.tx(() =>
    leases.map((l) => {
      const seq = conn.locate(l.id)?.[0];
      const r = seq === undefined ? undefined : (conn.statements.extendLease.get(now + leaseMs, seq, l.token) as { cancel_requested: number } | undefined);
      return { id: l.id, ok: r !== undefined, cancelRequested: r ? r.cancel_requested === 1 : false };
    }),
  );
}

export function progressJob(conn: SqliteConnection, lease: Lease, progress: unknown, now: number): boolean {
  const seq = conn.locate(lease.id)?.[0];
  const r = seq === undefined ? undefined : (conn.statements.setProgress.get(storedProgress(progress), seq, lease.token) as { queue: string } | undefined);
  if (r) conn.emit([{ type: 'progress', queue: r.queue, jobId: lease.id, at: now, progress }]);
  return r !== undefined;
}

/** Jobs whose lease ran out (their worker presumed lost), each as stallDecision (core) says. */
export function recoverExpiredJobs(conn: SqliteConnection, now: number, limit: number): RecoverResult {
  const statements = conn.statements;
  const events: StoreEvent[] = [];
  const res: RecoverResult = { requeued: [], failed: [], cancelled: [] };
  conn.tx(() => {
    for (const r of statements.expiredLeases.all(now, limit) as JobRow[]) {
      const decision = stallDecision({ stalls: r.stalls, maxStalls: r.max_stalls, cancelRequested: r.cancel_requested === 1 });
      const countsAttempt = decision.countsAttempt ? 1 : 0;
      const at = { type: 'stalled' as const, queue: r.queue, jobId: r.id, at: now };
      if (decision.state === 'queued') {
        statements.requeueStalled.run({ seq: r.seq, at: now, countsAttempt });
        res.requeued.push(r.id);
        events.push(at, { ...at, type: 'queued' });
        continue;
      }
      const error = decision.error!;
      statements.endStalled.run({
        seq: r.seq, at: now, countsAttempt, state: decision.state, error: JSON.stringify(error), message: error.message, details: detailsOf(error),
      });
      // A job asked to cancel was not running for anyone: it ends cancelled, not as a stall.
      if (decision.state === 'cancelled') {
        res.cancelled.push(r.id);
        events.push({ ...at, type: 'cancelled' });
      } else {
        res.failed.push(r.id);
        events.push(at, { ...at, type: 'failed' });
      }
    }
    conn.shareWork(events);
  });
  conn.emit(events);
  return res;
}

/** Due scheduled jobs of every queue become queued (up to `limit`). */
export function promoteDueJobs(conn: SqliteConnection, now: number, limit: number): number {
  const statements = conn.statements;
  const events: StoreEvent[] = [];
  conn.tx(() => {
    for (const { name } of statements.queueNames.all() as { name: string }[]) {
      for (const r of statements.promoteDueInQueue.all(name, now) as { id: string }[]) {
        events.push({ type: 'queued', queue: name, jobId: r.id, at: now });
        if (events.length >= limit) return;
      }
    }
  });
  conn.emit(events);
  return events.length;
}

/**
 * A line for a job the file no longer holds is dropped: retention removes a job's lines with it, so
 * one written after (a delivery report comes up to 7 days after the send, the job goes after 24 h)
 * would stay for good, and show under a job added again with its id.
 */
export function logJob(conn: SqliteConnection, id: string, message: string, now: number): void {
  conn.tx(() => {
    if (conn.locate(id) === undefined) return;
    conn.statements.insertLog.run(id, now, storedLogLine(message));
    conn.statements.trimLogs.run({ id, keep: MAX_JOB_LOG_LINES });
  });
}
