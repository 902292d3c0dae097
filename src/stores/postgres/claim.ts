// A worker's side of the store: claim, finish, finish-and-claim (one round trip per cycle),
// heartbeat, progress, log lines, and the background sweeps (lease recovery, due jobs). Claim and
// finish are functions of the schema (migrations/*.sql); their answers carry marker rows
// ('#applied', '#promoted', '#wake') read here into results and events. A claim that comes up
// short writes its queues' waiting marks (wait-marks.ts) before its worker sleeps.
import type { Job } from '../../core/job.js';
import type {
  ClaimRequest, ClaimResult, FinishAnswer, HeartbeatResult, Lease, Outcome, RecoverResult, StoreEvent,
} from '../../core/store.js';
import { MAX_JOB_LOG_LINES, storedLogLine, storedProgress } from '../../core/store.js';
import { CANCELLED_AT_ATTEMPT_END, CANCELLED_WHILE_LOST, OUTCOME_RULES, outcomeEvent, stalledTooOften } from '../../core/state-rules.js';
import type { PostgresContext } from './context.js';
import { numOrNull, rowToJob, type JobRow } from './rows.js';
import { pgJsonText, withoutNul } from './text.js';

/**
 * Stall recovery's errors, from the core state rules: recover_expired (migration 007) writes them,
 * filling the stall count and limit into the template's placeholders.
 */
const CANCELLED_WHILE_LOST_JSON = JSON.stringify(CANCELLED_WHILE_LOST);
const STALLED_TOO_OFTEN_TEMPLATE = JSON.stringify(stalledTooOften('{stalls}', '{limit}'));

/** A worker's wait mark lasts its idleMs (two of its polls); this when a claim does not say. */
const DEFAULT_IDLE_MS = 2000;
/** Shorter marks would need the barrier at nearly every short claim (tests poll every 50 ms). */
const MIN_MARK_MS = 1000;
/** A worker whose wait mark could not be written claims again this soon instead of at its poll. */
const UNMARKED_RETRY_MS = 200;

export async function claimJobs(ctx: PostgresContext, req: ClaimRequest): Promise<ClaimResult> {
  const { rows } = await ctx.pool.query<JobRow>({
    ...ctx.statements.claim,
    values: [req.queues, req.workerId, ctx.nextToken(), req.limit, req.leaseMs, req.now],
  });
  const events: StoreEvent[] = [];
  const result = readClaim(rows, 0, req.now, events);
  ctx.emit(events);
  return beforeSleep(ctx, req, result);
}

/**
 * A claim that came up short: its worker sleeps until woken, so other stores' adds to these
 * queues must notify from now on (wait-marks.ts). When the mark was made live just now, claim
 * once more: an add that committed around the first claim without seeing a mark is found then.
 * Only for a store that listens (a worker's subscribes before its first claim).
 */
async function beforeSleep(ctx: PostgresContext, req: ClaimRequest, result: ClaimResult): Promise<ClaimResult> {
  if (result.jobs.length >= req.limit || !ctx.listener || ctx.closed) return result;
  const ttl = Math.max(req.idleMs ?? DEFAULT_IDLE_MS, MIN_MARK_MS);
  if (result.jobs.length > 0) {
    // Jobs to start: they do not wait for the mark's commit. Should the mark have been made live
    // just now, the claim once more comes from the worker, woken by an event for its queues.
    void ctx.marks.waitOn(req.queues, ttl).then(
      (madeLive) => madeLive && wakeQueues(ctx, req.queues),
      (err: Error) => {
        ctx.lastError = err;
        wakeQueues(ctx, req.queues);
      },
    );
    return result;
  }
  try {
    if (!(await ctx.marks.waitOn(req.queues, ttl))) return result;
    const { rows } = await ctx.pool.query<JobRow>({
      ...ctx.statements.claim,
      values: [req.queues, req.workerId, ctx.nextToken(), req.limit - result.jobs.length, req.leaseMs, req.now],
    });
    const events: StoreEvent[] = [];
    const more = readClaim(rows, 0, req.now, events);
    ctx.emit(events);
    const due = [result.nextWakeAt, more.nextWakeAt].filter((t): t is number => t !== null);
    return { jobs: [...result.jobs, ...more.jobs], nextWakeAt: due.length ? Math.min(...due) : null };
  } catch (err) {
    // Not marked (or not claimed again): adds may not wake this worker, so it looks again soon.
    ctx.lastError = err as Error;
    return { jobs: result.jobs, nextWakeAt: Math.min(result.nextWakeAt ?? Infinity, req.now + UNMARKED_RETRY_MS) };
  }
}

/** Tell this process's workers to claim on `queues` again (what a notification would do). */
function wakeQueues(ctx: PostgresContext, queues: string[]): void {
  if (ctx.closed) return;
  const at = ctx.clock.now();
  ctx.emit(queues.map((queue) => ({ type: 'queued', queue, at })));
}

function readClaim(rows: JobRow[], from: number, now: number, events: StoreEvent[]): ClaimResult {
  const jobs: Job[] = [];
  let nextWakeAt: number | null = null;
  for (let i = from; i < rows.length; i++) {
    const r = rows[i]!;
    if (r.state === '#wake') nextWakeAt = numOrNull(r.run_at);
    else if (r.state === '#promoted') events.push({ type: 'queued', queue: r.queue, jobId: r.id, at: now });
    else {
      jobs.push(rowToJob(r));
      events.push({ type: 'active', queue: r.queue, jobId: r.id, at: now });
    }
  }
  return { jobs, nextWakeAt };
}

/**
 * The finish arguments: outcomes as JSON (without their follow-ups), follow-ups apart with their
 * owner. An outcome that yields to a cancel request carries the error the job then ends with
 * (cancelError, migration 013).
 */
function finishArgs(outcomes: Outcome[]): [string, string | null] {
  let follow: unknown[] | null = null;
  let yielding = false;
  outcomes.forEach((o, i) => {
    if (o.enqueue?.length) for (const j of o.enqueue) (follow ??= []).push({ ...j, owner: i + 1, now: o.at });
    if (OUTCOME_RULES[o.kind].yieldsToCancel) yielding = true;
  });
  const plain = follow === null && !yielding ? outcomes : outcomes.map(({ enqueue: _e, ...o }) =>
    OUTCOME_RULES[o.kind].yieldsToCancel ? { ...o, cancelError: CANCELLED_AT_ATTEMPT_END } : o);
  // finish_jobs takes both documents apart: a NUL or a lone surrogate anywhere in them (a result,
  // an error's message or details) failed the whole batch, on every try until the leases ran out.
  return [pgJsonText(JSON.stringify(plain)), follow === null ? null : pgJsonText(JSON.stringify(follow))];
}

/** Read '#applied' rows into per-outcome answers and events; returns where the claim's rows begin. */
function readApplied(rows: JobRow[], outcomes: Outcome[], applied: FinishAnswer[], events: StoreEvent[]): number {
  const queues: (string | undefined)[] = new Array(outcomes.length);
  // Applied as a cancellation instead (FinishAnswer).
  const cancelled: boolean[] = new Array(outcomes.length);
  let i = 0;
  for (; i < rows.length && rows[i]!.state === '#applied'; i++) {
    queues[rows[i]!.attempts - 1] = rows[i]!.queue;
    cancelled[rows[i]!.attempts - 1] = rows[i]!.cancel_requested === true;
  }
  outcomes.forEach((o, k) => {
    const queue = queues[k];
    applied[k] = queue === undefined ? false : cancelled[k] ? 'cancelled' : true;
    if (queue === undefined) return;
    if (cancelled[k]) {
      // Ended cancelled instead: its follow-ups were not added (migration 013).
      events.push({ type: 'cancelled', queue, jobId: o.id, at: o.at });
      return;
    }
    events.push({ type: outcomeEvent(o.kind), queue, jobId: o.id, at: o.at, runAt: 'retryAt' in o ? o.retryAt : undefined });
    if (o.enqueue) {
      for (const j of o.enqueue) {
        const state = j.runAt > o.at ? 'scheduled' : 'queued';
        events.push({ type: state, queue: j.queue, jobId: j.id, at: o.at, runAt: j.runAt });
      }
    }
  });
  return i;
}

export async function finishJobs(ctx: PostgresContext, outcomes: Outcome[]): Promise<FinishAnswer[]> {
  if (outcomes.length === 0) return [];
  const [doc, follow] = finishArgs(outcomes);
  const { rows } = await ctx.pool.query<JobRow>({ ...ctx.statements.finish, values: [doc, follow, ctx.origin] });
  const applied: FinishAnswer[] = new Array(outcomes.length);
  const events: StoreEvent[] = [];
  readApplied(rows, outcomes, applied, events);
  ctx.emit(events);
  return applied;
}

/** Outcomes and the next claim in one call: one round trip and one commit per worker cycle. */
export async function finishAndClaimJobs(ctx: PostgresContext, outcomes: Outcome[], req: ClaimRequest): Promise<{ applied: FinishAnswer[]; claim: ClaimResult }> {
  const [doc, follow] = finishArgs(outcomes);
  const { rows } = await ctx.pool.query<JobRow>({
    ...ctx.statements.finishClaim,
    values: [doc, follow, ctx.origin, req.queues, req.workerId, ctx.nextToken(), req.limit, req.leaseMs, req.now],
  });
  const applied: FinishAnswer[] = new Array(outcomes.length);
  const events: StoreEvent[] = [];
  const from = readApplied(rows, outcomes, applied, events);
  const claim = readClaim(rows, from, req.now, events);
  ctx.emit(events);
  return { applied, claim: await beforeSleep(ctx, req, claim) };
}

export async function heartbeatJobs(ctx: PostgresContext, leases: Lease[], leaseMs: number, now: number): Promise<HeartbeatResult[]> {
  if (leases.length === 0) return [];
  const { rows } = await ctx.pool.query<{ id: string; cancel_requested: boolean }>({
    ...ctx.statements.heartbeat,
    values: [now + leaseMs, leases.map((l) => l.id), leases.map((l) => l.token)],
  });
  const held = new Map(rows.map((r) => [r.id, r.cancel_requested]));
  return leases.map((l) => ({ id: l.id, ok: held.has(l.id), cancelRequested: held.get(l.id) ?? false }));
}

export async function progressJob(ctx: PostgresContext, lease: Lease, progress: unknown, now: number): Promise<boolean> {
  const { rows } = await ctx.pool.query<{ queue: string }>({
    ...ctx.statements.progress,
    values: [storedProgress(progress), lease.id, lease.token],
  });
  if (rows[0]) ctx.emit([{ type: 'progress', queue: rows[0].queue, jobId: lease.id, at: now, progress }]);
  return rows.length > 0;
}

export async function logJob(ctx: PostgresContext, id: string, message: string, now: number): Promise<void> {
  // A NUL made the server refuse the line and ctx.log throw: the attempt failed over a log line.
  await ctx.pool.query({ ...ctx.statements.log, values: [id, now, withoutNul(storedLogLine(message)), MAX_JOB_LOG_LINES] });
}

/** Jobs whose lease ran out: requeued, failed (stalled too often) or cancelled (asked while lost). */
export async function recoverExpiredJobs(ctx: PostgresContext, now: number, limit: number): Promise<RecoverResult> {
  const { rows } = await ctx.pool.query<JobRow>({ ...ctx.statements.recover, values: [now, limit, ctx.origin, CANCELLED_WHILE_LOST_JSON, STALLED_TOO_OFTEN_TEMPLATE] });
  const res: RecoverResult = { requeued: [], failed: [], cancelled: [] };
  const events: StoreEvent[] = [];
  for (const r of rows) {
    if (r.state === 'cancelled') {
      res.cancelled.push(r.id);
      events.push({ type: 'cancelled', queue: r.queue, jobId: r.id, at: now });
    } else if (r.state === 'failed') {
      res.failed.push(r.id);
      events.push({ type: 'stalled', queue: r.queue, jobId: r.id, at: now }, { type: 'failed', queue: r.queue, jobId: r.id, at: now });
    } else {
      res.requeued.push(r.id);
      events.push({ type: 'stalled', queue: r.queue, jobId: r.id, at: now }, { type: 'queued', queue: r.queue, jobId: r.id, at: now });
    }
  }
  ctx.emit(events);
  return res;
}

/** Scheduled jobs whose time came, queued (and other processes' workers told). */
export async function promoteDueJobs(ctx: PostgresContext, now: number, limit: number): Promise<number> {
  const { rows } = await ctx.pool.query<{ id: string; queue: string }>({ ...ctx.statements.promoteDue, values: [now, limit, ctx.origin] });
  ctx.emit(rows.map((r) => ({ type: 'queued', queue: r.queue, jobId: r.id, at: now })));
  return rows.length;
}
