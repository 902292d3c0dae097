// The PostgreSQL store: a pool of connections, every contract operation one statement (a function
// of the schema for the multi-step ones: claim, finish, the worker's cycle, lease recovery) or one
// short transaction with row locks (operator actions). Claims take rows with FOR UPDATE SKIP LOCKED
// from partial indexes; outcomes travel as one JSON array applied in one UPDATE. Other processes
// learn of new work through LISTEN/NOTIFY on a connection of its own (see listen.ts).
import { guardAction } from '../../core/state-rules.js';
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import type { Job, JobState, NewJob, LogLine } from '../../core/job.js';
import { FINISHED_STATES, isFinished, newJobView, JOB_STATES } from '../../core/job.js';
import { conflict, notFound, FusionError } from '../../core/errors.js';
import type {
  ClaimRequest, ClaimResult, CleanQuery, HeartbeatResult, ListQuery, Outcome, Page, QueueInfo, RecoverResult,
  ScheduleRecord, StateCounts, Store, StoreEvent, StoreListener, WorkerInfo, SharedState,
} from '../../core/store.js';
import type {
  AddJobs, AdvanceSchedule, BeatWorker, CountJobs, DueSchedules, FinishAndClaimJobs, FinishJobs,
  HeartbeatJobs, JobAction, JobRef, ListWorkers, LogJob, ProgressJob, PromoteDueJobs, QueueAction,
  RecoverExpiredJobs, RescheduleJob, RetryJob, SaveSchedule, ScheduleRef, SetQueueOptions, WorkerRef,
  StoreCapabilities,
} from '../../core/store.js';
import { ScheduleConflict, WORK_EVENTS, emptyCounts } from '../../core/store.js';
import { TYPES, parsePostgresUrl, redact } from './connect.js';
import { migrate, schemaVersion } from './migrate.js';
import { quoteIdent } from './sql.js';
import { rowToJob, rowToSchedule, num, numOrNull, type JobRow, type ScheduleRow } from './rows.js';
import { Listener } from './listen.js';
import { PostgresSharedState } from './shared-state.js';
import { encodeJobs } from './encode.js';
import { addOneText, addOneValues } from './add-one.js';
import { addManyText } from './add-many.js';
import { WaitMarks } from './wait-marks.js';
import { afterCursor, orderBy, parseStateCursor, stateCursor } from '../list-order.js';

export interface PostgresStoreOptions {
  /** Schema (namespace) of the store's tables; default "fusion", or ?schema= in the URL. */
  schema?: string;
  /** Pool size; default 10, or ?max= in the URL. */
  max?: number;
  /** Apply pending migrations at open (default true). */
  migrate?: boolean;
}

type Queryable = pg.Pool | pg.PoolClient | pg.ClientBase;

/** A worker's wait mark lasts its idleMs (two of its polls); this when a claim does not say. */
const DEFAULT_IDLE_MS = 2000;
/** Shorter marks would need the barrier at nearly every short claim (tests poll every 50 ms). */
const MIN_MARK_MS = 1000;
/** A worker whose wait mark could not be written claims again this soon instead of at its poll. */
const UNMARKED_RETRY_MS = 200;

export class PostgresStore implements Store {
  readonly capabilities: StoreCapabilities = {
    finishAndClaim: (p) => this.finishAndClaimJobs(p),
    /** Each call is a network round trip: workers keep two outcome batches in flight. */
    pipelined: true,
    /** addJobs takes { tx }: a caller's pg client inside its own transaction. */
    transactions: true,
  };
  readonly pool: pg.Pool;
  readonly schema: string;
  /** Marks this store's notifications, so its own events are not emitted twice. */
  readonly origin = randomBytes(6).toString('base64url');
  private tokenSeq = 0;
  private listeners = new Set<StoreListener>();
  private listener: Listener | null = null;
  /** Subscribers that want every event, not only a worker's (they hold the '*' wait mark). */
  private everyEventListeners = 0;
  private readonly marks: WaitMarks;
  /**
   * Queues this store has seen have a row (an add to them went through): queue rows are never
   * deleted, so a single add to one of them skips the look at `queues`. Rows are made by adds and
   * ensureQueue only; a change that ever deletes queue rows must drop this.
   */
  private readonly queuesWithRow = new Set<string>();
  private closed = false;
  lastError: Error | null = null;
  private readonly S: string;
  private readonly sql: ReturnType<PostgresStore['statements']>;

  private constructor(readonly connectionString: string, schema: string, max: number) {
    this.schema = schema;
    this.S = quoteIdent(schema);
    // Short statements only: JIT compiling a plan (when a big table's estimate crosses jit_above_cost)
    // costs far more than it saves, e.g. a second for a 50 ms count over 100k jobs. An ?options=
    // in the URL replaces this.
    this.pool = new pg.Pool({ connectionString, max, types: TYPES, keepAlive: true, options: '-c jit=off' });
    // An idle connection that dies (server restart, pg_terminate_backend) must not crash the
    // process: the pool drops it and the next call opens another.
    this.pool.on('error', (err) => (this.lastError = err));
    this.sql = this.statements();
    this.marks = new WaitMarks(this.pool, this.S, this.origin);
  }

  /** Open a store from a postgres:// URL and bring its schema up to date. */
  static async open(url: string, opts: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const p = parsePostgresUrl(url);
    const store = new PostgresStore(p.connectionString, opts.schema ?? p.schema, opts.max ?? p.max);
    if (opts.migrate !== false) {
      try {
        const c = await store.pool.connect();
        try {
          await migrate(c, store.schema);
        } finally {
          c.release();
        }
      } catch (err) {
        await store.pool.end().catch(() => {});
        throw new FusionError('store_unavailable', `could not open the PostgreSQL store at ${redact(url)}: ${(err as Error).message}`, {});
      }
    }
    return store;
  }

  private sharedState?: PostgresSharedState;
  /** Provider health, send slots and delivery status, agreed on by every process of this schema. */
  get shared(): SharedState {
    return (this.sharedState ??= new PostgresSharedState(this.pool, this.S));
  }

  /** The schema's version (highest migration applied). */
  schemaVersion(): Promise<number> {
    return schemaVersion(this.pool, this.schema);
  }

  private statements() {
    const S = this.S;
    const st = (name: string, text: string) => ({ name: `${name}`, text });
    return {
      // Through this store's connections: notify only other stores that wait (wait-marks.ts).
      addMany: st('fusion_add_many', addManyText(S, true)),
      addOne: st('fusion_add_one', addOneText(S, true)),
      addOneKnownQueue: st('fusion_add_one_known_queue', addOneText(S, true, false)),
      // In a caller's transaction (`{ tx }`), on its client: always notify, and leave `waiting`
      // unlocked (a long transaction of theirs would hold up a worker's mark_waiting barrier).
      // Statement names are per connection: such a client may serve stores of other schemas too.
      addManyTx: st(`fusion_add_many_${this.schema}`, addManyText(S, false)),
      addOneTx: st(`fusion_add_one_${this.schema}`, addOneText(S, false)),
      claim: st('fusion_claim', `SELECT * FROM ${S}.claim_jobs($1, $2, $3, $4, $5, $6)`),
      finish: st('fusion_finish', `SELECT * FROM ${S}.finish_jobs($1, $2, $3)`),
      finishClaim: st('fusion_finish_claim', `SELECT * FROM ${S}.finish_claim($1, $2, $3, $4, $5, $6, $7, $8, $9)`),
      heartbeat: st('fusion_heartbeat', `UPDATE ${S}.jobs j SET lease_until = $1 FROM unnest($2::text[], $3::text[]) AS l(id, token)
        WHERE j.id = l.id AND j.lease_token = l.token AND j.state = 'active' RETURNING j.id, j.cancel_requested`),
      progress: st('fusion_progress', `UPDATE ${S}.jobs SET progress = $1 WHERE id = $2 AND lease_token = $3 AND state = 'active' RETURNING queue`),
      log: st('fusion_log', `INSERT INTO ${S}.job_logs (job_id, at, message) VALUES ($1, $2, $3)`),
      logs: st('fusion_logs', `SELECT at, message FROM ${S}.job_logs WHERE job_id = $1 ORDER BY n`),
      recover: st('fusion_recover', `SELECT * FROM ${S}.recover_expired($1, $2, $3)`),
      promoteDue: st('fusion_promote_due', `WITH p AS (
          UPDATE ${S}.jobs SET state = 'queued' WHERE seq = ANY (ARRAY(SELECT seq FROM ${S}.jobs
            WHERE state = 'scheduled' AND run_at <= $1 ORDER BY run_at LIMIT $2 FOR UPDATE SKIP LOCKED))
          RETURNING id, queue
        ), w AS (SELECT ${S}.wake($3, 'queued', queue, NULL, NULL) FROM p GROUP BY queue)
        SELECT p.id, p.queue FROM p, (SELECT count(*) FROM w) c`),
      get: st('fusion_get', `SELECT * FROM ${S}.jobs WHERE id = $1`),
      lock: `SELECT * FROM ${S}.jobs WHERE id = $1 FOR UPDATE`,
      wake: `SELECT ${S}.wake($1, $2, $3, $4, $5)`,
      // One count per state, each from that state's partial index (queue leads every one of them):
      // index-only scans of the state's entries, never a pass over the whole table's rows.
      counts: st('fusion_counts', JOB_STATES.map((x) =>
        `SELECT queue, '${x}' AS state, count(*)::integer AS n FROM ${S}.jobs WHERE state = '${x}' GROUP BY queue`).join(' UNION ALL ')),
      countsOf: st('fusion_counts_of', JOB_STATES.map((x) =>
        `SELECT '${x}' AS state, count(*)::integer AS n FROM ${S}.jobs WHERE state = '${x}' AND queue = $1`).join(' UNION ALL ')),
      // Per queue through the ready index: only that queue's queued jobs are read.
      oldestQueued: `SELECT q.name AS queue, o.t FROM ${S}.queues q
        CROSS JOIN LATERAL (SELECT min(created_at) AS t FROM ${S}.jobs WHERE state = 'queued' AND queue = q.name) o WHERE o.t IS NOT NULL`,
      ensureQueue: `INSERT INTO ${S}.queues (name) VALUES ($1) ON CONFLICT (name) DO NOTHING`,
      allQueues: `SELECT * FROM ${S}.queues ORDER BY name COLLATE "C"`,
      queueNames: `SELECT name FROM ${S}.queues`,
      schedGet: st('fusion_sched_get', `SELECT * FROM ${S}.schedules WHERE id = $1`),
      schedAll: `SELECT * FROM ${S}.schedules ORDER BY id COLLATE "C"`,
      schedUpsert: st('fusion_sched_upsert', `INSERT INTO ${S}.schedules AS s (id, spec, next_run_at, paused, run_count, last_run_at,
          created_at, updated_at, version) VALUES ($1, $2, $3, $4, coalesce($5::integer, 0), $6, $7, $7, 1)
        ON CONFLICT (id) DO UPDATE SET spec = excluded.spec, next_run_at = excluded.next_run_at, paused = excluded.paused,
          run_count = coalesce($5::integer, s.run_count), last_run_at = coalesce($6::bigint, s.last_run_at),
          updated_at = excluded.updated_at, version = s.version + 1
        RETURNING *`),
      schedRemove: `DELETE FROM ${S}.schedules WHERE id = $1`,
      schedDue: st('fusion_sched_due', `SELECT * FROM ${S}.schedules WHERE NOT paused AND next_run_at IS NOT NULL AND next_run_at <= $1
        ORDER BY next_run_at, id COLLATE "C" LIMIT $2`),
      schedNext: st('fusion_sched_next', `SELECT min(next_run_at) AS t FROM ${S}.schedules WHERE NOT paused AND next_run_at IS NOT NULL`),
      schedAdvance: `UPDATE ${S}.schedules SET next_run_at = $3, run_count = $4, last_run_at = $5, updated_at = $6,
        version = version + 1 WHERE id = $1 AND version = $2`,
      workerBeat: st('fusion_worker_beat', `INSERT INTO ${S}.workers (id, info, expires_at) VALUES ($1, $2, $3)
        ON CONFLICT (id) DO UPDATE SET info = excluded.info, expires_at = excluded.expires_at`),
      workerGone: `DELETE FROM ${S}.workers WHERE id = $1`,
      workersLive: `WITH gone AS (DELETE FROM ${S}.workers WHERE expires_at < $1)
        SELECT info FROM ${S}.workers WHERE expires_at >= $1 ORDER BY id COLLATE "C"`,
    };
  }

  private emit(events: StoreEvent[]): void {
    if (this.listeners.size === 0 || events.length === 0) return;
    for (const l of this.listeners) for (const e of events) l(e);
  }

  /** One transaction on a pooled connection. A connection that failed is dropped, not reused. */
  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (err) {
      try {
        await c.query('ROLLBACK');
      } catch {
        broken = err as Error;
      }
      throw err;
    } finally {
      c.release(broken);
    }
  }

  private nextToken(): string {
    return `${this.origin}.${(this.tokenSeq++).toString(36)}`;
  }

  /**
   * Insert through `db` (the pool, one of its connections, or a caller's client: origin '');
   * events for the created ones go to `events`.
   */
  private async insertJobs(db: Queryable, jobs: NewJob[], now: number, origin: string, events: StoreEvent[] | null) {
    if (jobs.length === 0) return [];
    if (jobs.length === 1) return [await this.insertOne(db, jobs[0]!, now, origin, events)];
    const [doc, base] = encodeJobs(jobs);
    const { rows: [answer] } = await db.query<{ existing: string[] | null }>({
      ...(origin === '' ? this.sql.addManyTx : this.sql.addMany), values: [doc, base, now, `${this.schema}:work`, origin],
    });
    const existing = new Map<string, JobRow>();
    if (answer?.existing?.length) {
      // Ids that existed: their rows, committed by now, as the caller gets them back.
      const { rows } = await db.query<JobRow>(`SELECT * FROM ${this.S}.jobs WHERE id = ANY ($1::text[])`, [answer.existing]);
      for (const r of rows) existing.set(r.id, r);
    }
    const out: { job: Job; created: boolean }[] = [];
    const made = new Map<string, Job>();
    for (const j of jobs) {
      const row = existing.get(j.id);
      if (row) {
        out.push({ job: rowToJob(row), created: false });
        continue;
      }
      const first = made.get(j.id);
      if (first) {
        // The same id twice in one call is one job: the first made it.
        out.push({ job: first, created: false });
        continue;
      }
      const state: JobState = j.runAt > now ? 'scheduled' : 'queued';
      const job = newJobView(j, state);
      made.set(j.id, job);
      out.push({ job, created: true });
      events?.push({ type: state, queue: j.queue, jobId: j.id, at: now, runAt: j.runAt });
    }
    return out;
  }

  /** One job through its own statement (add-one.ts); an id that exists answers with its row. */
  private async insertOne(db: Queryable, j: NewJob, now: number, origin: string, events: StoreEvent[] | null) {
    const state: JobState = j.runAt > now ? 'scheduled' : 'queued';
    const ours = origin !== '';
    const statement = !ours ? this.sql.addOneTx : this.queuesWithRow.has(j.queue) ? this.sql.addOneKnownQueue : this.sql.addOne;
    const values = addOneValues(j, state, `${this.schema}:work`, origin, ours);
    // Not made: the id exists. Read it; should it be removed in between, the insert goes again.
    for (let attempt = 0; attempt < 3; attempt++) {
      const { rowCount } = await db.query({ ...statement, values });
      if (rowCount === 1) {
        // Made and committed (the pool's statements commit on their own): so is its queue's row.
        if (db === this.pool) this.knowQueue(j.queue);
        events?.push({ type: state, queue: j.queue, jobId: j.id, at: now, runAt: j.runAt });
        return { job: newJobView(j, state), created: true };
      }
      const { rows } = await db.query<JobRow>(`SELECT * FROM ${this.S}.jobs WHERE id = $1`, [j.id]);
      if (rows[0]) return { job: rowToJob(rows[0]), created: false };
    }
    throw conflict(`job ${j.id} exists and is removed again each time it is read`, { id: j.id });
  }

  private knowQueue(queue: string): void {
    // Bounded: a store fed endless queue names forgets and looks again.
    if (this.queuesWithRow.size >= 10_000) this.queuesWithRow.clear();
    this.queuesWithRow.add(queue);
  }

  async addJobs({ jobs, now, ...opts }: AddJobs) {
    if (opts.tx !== undefined) {
      // The caller's transaction: its commit publishes the jobs, and their notification reaches
      // every store's listener (this one's too, so origin '' is used), a rollback neither.
      const client = opts.tx as pg.ClientBase;
      if (!client || typeof client.query !== 'function') {
        throw new FusionError('invalid_tx', 'tx must be a pg client (PoolClient or Client) inside a transaction', {});
      }
      return this.insertJobs(client, jobs, now, '', null);
    }
    const events: StoreEvent[] = [];
    const out = await this.insertJobs(this.pool, jobs, now, this.origin, events);
    this.emit(events);
    return out;
  }

  async claimJobs(req: ClaimRequest): Promise<ClaimResult> {
    const { rows } = await this.pool.query<JobRow>({
      ...this.sql.claim,
      values: [req.queues, req.workerId, this.nextToken(), req.limit, req.leaseMs, req.now],
    });
    const events: StoreEvent[] = [];
    const result = this.readClaim(rows, 0, req.now, events);
    this.emit(events);
    return this.beforeSleep(req, result);
  }

  /**
   * A claim that came up short: its worker sleeps until woken, so other stores' adds to these
   * queues must notify from now on (wait-marks.ts). When the mark was made live just now, claim
   * once more: an add that committed around the first claim without seeing a mark is found then.
   * Only for a store that listens (a worker's subscribes before its first claim).
   */
  private async beforeSleep(req: ClaimRequest, result: ClaimResult): Promise<ClaimResult> {
    if (result.jobs.length >= req.limit || !this.listener || this.closed) return result;
    const ttl = Math.max(req.idleMs ?? DEFAULT_IDLE_MS, MIN_MARK_MS);
    if (result.jobs.length > 0) {
      // Jobs to start: they do not wait for the mark's commit. Should the mark have been made live
      // just now, the claim once more comes from the worker, woken by an event for its queues.
      void this.marks.waitOn(req.queues, ttl).then(
        (madeLive) => madeLive && this.wakeQueues(req.queues),
        (err: Error) => {
          this.lastError = err;
          this.wakeQueues(req.queues);
        },
      );
      return result;
    }
    try {
      if (!(await this.marks.waitOn(req.queues, ttl))) return result;
      const { rows } = await this.pool.query<JobRow>({
        ...this.sql.claim,
        values: [req.queues, req.workerId, this.nextToken(), req.limit - result.jobs.length, req.leaseMs, req.now],
      });
      const events: StoreEvent[] = [];
      const more = this.readClaim(rows, 0, req.now, events);
      this.emit(events);
      const due = [result.nextWakeAt, more.nextWakeAt].filter((t): t is number => t !== null);
      return { jobs: [...result.jobs, ...more.jobs], nextWakeAt: due.length ? Math.min(...due) : null };
    } catch (err) {
      // Not marked (or not claimed again): adds may not wake this worker, so it looks again soon.
      this.lastError = err as Error;
      return { jobs: result.jobs, nextWakeAt: Math.min(result.nextWakeAt ?? Infinity, req.now + UNMARKED_RETRY_MS) };
    }
  }

  /** Tell this process's workers to claim on `queues` again (what a notification would do). */
  private wakeQueues(queues: string[]): void {
    if (this.closed) return;
    const at = Date.now();
    this.emit(queues.map((queue) => ({ type: 'queued', queue, at })));
  }

  private readClaim(rows: JobRow[], from: number, now: number, events: StoreEvent[]): ClaimResult {
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

  /** The finish arguments: outcomes as JSON (without their follow-ups), follow-ups apart with their owner. */
  private finishArgs(outcomes: Outcome[]): [string, string | null] {
    let follow: unknown[] | null = null;
    outcomes.forEach((o, i) => {
      if (o.enqueue?.length) for (const j of o.enqueue) (follow ??= []).push({ ...j, owner: i + 1, now: o.at });
    });
    const plain = follow === null ? outcomes : outcomes.map(({ enqueue: _e, ...o }) => o);
    return [JSON.stringify(plain), follow === null ? null : JSON.stringify(follow)];
  }

  /** Read '#applied' rows into per-outcome answers and events; returns where the claim's rows begin. */
  private readApplied(rows: JobRow[], outcomes: Outcome[], applied: boolean[], events: StoreEvent[]): number {
    const queues: (string | undefined)[] = new Array(outcomes.length);
    let i = 0;
    for (; i < rows.length && rows[i]!.state === '#applied'; i++) queues[rows[i]!.attempts - 1] = rows[i]!.queue;
    outcomes.forEach((o, k) => {
      const queue = queues[k];
      applied[k] = queue !== undefined;
      if (queue === undefined) return;
      const type = o.kind === 'retry' ? 'retrying' : o.kind === 'released' ? 'queued' : o.kind;
      events.push({ type, queue, jobId: o.id, at: o.at, runAt: o.kind === 'retry' ? o.retryAt : undefined });
      if (o.enqueue) {
        for (const j of o.enqueue) {
          const state = j.runAt > o.at ? 'scheduled' : 'queued';
          events.push({ type: state, queue: j.queue, jobId: j.id, at: o.at, runAt: j.runAt });
        }
      }
    });
    return i;
  }

  async finishJobs({ outcomes }: FinishJobs): Promise<boolean[]> {
    if (outcomes.length === 0) return [];
    const [doc, follow] = this.finishArgs(outcomes);
    const { rows } = await this.pool.query<JobRow>({ ...this.sql.finish, values: [doc, follow, this.origin] });
    const applied: boolean[] = new Array(outcomes.length);
    const events: StoreEvent[] = [];
    this.readApplied(rows, outcomes, applied, events);
    this.emit(events);
    return applied;
  }

  /** Outcomes and the next claim in one call: one round trip and one commit per worker cycle. */
  async finishAndClaimJobs({ outcomes, claim: req }: FinishAndClaimJobs): Promise<{ applied: boolean[]; claim: ClaimResult }> {
    const [doc, follow] = this.finishArgs(outcomes);
    const { rows } = await this.pool.query<JobRow>({
      ...this.sql.finishClaim,
      values: [doc, follow, this.origin, req.queues, req.workerId, this.nextToken(), req.limit, req.leaseMs, req.now],
    });
    const applied: boolean[] = new Array(outcomes.length);
    const events: StoreEvent[] = [];
    const from = this.readApplied(rows, outcomes, applied, events);
    const claim = this.readClaim(rows, from, req.now, events);
    this.emit(events);
    return { applied, claim: await this.beforeSleep(req, claim) };
  }

  async heartbeatJobs({ leases, leaseMs, now }: HeartbeatJobs): Promise<HeartbeatResult[]> {
    if (leases.length === 0) return [];
    const { rows } = await this.pool.query<{ id: string; cancel_requested: boolean }>({
      ...this.sql.heartbeat,
      values: [now + leaseMs, leases.map((l) => l.id), leases.map((l) => l.token)],
    });
    const held = new Map(rows.map((r) => [r.id, r.cancel_requested]));
    return leases.map((l) => ({ id: l.id, ok: held.has(l.id), cancelRequested: held.get(l.id) ?? false }));
  }

  async progressJob({ lease, progress, now }: ProgressJob): Promise<boolean> {
    const { rows } = await this.pool.query<{ queue: string }>({
      ...this.sql.progress,
      values: [JSON.stringify(progress ?? null), lease.id, lease.token],
    });
    if (rows[0]) this.emit([{ type: 'progress', queue: rows[0].queue, jobId: lease.id, at: now, progress }]);
    return rows.length > 0;
  }

  async logJob({ id, message, now }: LogJob): Promise<void> {
    await this.pool.query({ ...this.sql.log, values: [id, now, message] });
  }

  async jobLogs({ id }: JobRef): Promise<LogLine[]> {
    const { rows } = await this.pool.query<{ at: number; message: string }>({ ...this.sql.logs, values: [id] });
    return rows.map((r) => ({ at: num(r.at), message: r.message }));
  }

  async recoverExpiredJobs({ now, limit = 1000 }: RecoverExpiredJobs): Promise<RecoverResult> {
    const { rows } = await this.pool.query<JobRow>({ ...this.sql.recover, values: [now, limit, this.origin] });
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
    this.emit(events);
    return res;
  }

  async promoteDueJobs({ now, limit = 10_000 }: PromoteDueJobs): Promise<number> {
    const { rows } = await this.pool.query<{ id: string; queue: string }>({ ...this.sql.promoteDue, values: [now, limit, this.origin] });
    this.emit(rows.map((r) => ({ type: 'queued', queue: r.queue, jobId: r.id, at: now })));
    return rows.length;
  }

  async getJob({ id }: JobRef): Promise<Job | null> {
    const { rows } = await this.pool.query<JobRow>({ ...this.sql.get, values: [id] });
    return rows[0] ? rowToJob(rows[0]) : null;
  }

  async listJobs(q: ListQuery): Promise<Page<Job>> {
    const where: string[] = [];
    const args: unknown[] = [];
    const arg = (v: unknown) => (args.push(v), `$${args.length}`);
    if (q.queue !== undefined) where.push(`queue = ${arg(q.queue)}`);
    // A known state is written as a literal: only then may the plan use that state's partial index.
    const known = q.state !== undefined && (JOB_STATES as readonly string[]).includes(q.state);
    if (q.state !== undefined) where.push(known ? `state = '${q.state}'` : `state = ${arg(q.state)}`);
    if (q.task !== undefined) where.push(`task = ${arg(q.task)}`);
    // One state: that state's own order (list-order.ts); otherwise newest first by seq.
    const state = known ? q.state! : null;
    if (q.cursor !== undefined) {
      if (state) where.push(afterCursor(state, arg, parseStateCursor(q.cursor)));
      else {
        const seq = Number.parseInt(q.cursor, 36);
        if (!Number.isFinite(seq)) throw new FusionError('invalid_cursor', 'cursor is not one this store gave', { cursor: q.cursor });
        where.push(`seq < ${arg(seq)}`);
      }
    }
    const limit = Math.min(Math.max(q.limit ?? 50, 1), 1000);
    let sql = `SELECT * FROM ${this.S}.jobs ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY ${state ? orderBy(state) : 'seq DESC'} LIMIT ${limit + 1}`;
    if (q.queue !== undefined && q.state === undefined) {
      // One queue, every state: walking the seq index from the newest job would pass over every
      // other queue's jobs. Each state's partial index leads with the queue instead: take the newest
      // of each, then the newest of those.
      const rest = where.join(' AND ');
      sql = `SELECT * FROM (${JOB_STATES.map((x) =>
        `(SELECT * FROM ${this.S}.jobs WHERE state = '${x}' AND ${rest} ORDER BY seq DESC LIMIT ${limit + 1})`).join(' UNION ALL ')}) u
        ORDER BY seq DESC LIMIT ${limit + 1}`;
    }
    const { rows } = await this.pool.query<JobRow>(sql, args);
    const more = rows.length > limit;
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { items: page.map(rowToJob), nextCursor: more && last ? (state ? stateCursor(last as unknown as { seq: number }, state) : num(last.seq).toString(36)) : null };
  }

  async countJobs({ queue }: CountJobs = {}): Promise<Record<string, StateCounts>> {
    const out: Record<string, StateCounts> = {};
    if (queue !== undefined) {
      out[queue] = emptyCounts();
      const { rows } = await this.pool.query<{ state: JobState; n: number }>({ ...this.sql.countsOf, values: [queue] });
      for (const r of rows) out[queue][r.state] = r.n;
      return out;
    }
    const { rows } = await this.pool.query<{ queue: string; state: JobState; n: number }>(this.sql.counts);
    for (const r of rows) (out[r.queue] ??= emptyCounts())[r.state] = r.n;
    return out;
  }

  /** Lock one job for an operator action; not found is a 404. */
  private async lockJob(c: pg.PoolClient, id: string): Promise<JobRow> {
    const { rows } = await c.query<JobRow>(this.sql.lock, [id]);
    if (!rows[0]) throw notFound('job', id);
    return rows[0];
  }

  /** Tell other processes' workers, at commit. */
  private share(c: pg.PoolClient, e: StoreEvent): Promise<unknown> {
    return c.query(this.sql.wake, [this.origin, e.type, e.queue, e.runAt ?? null, e.type === 'cancel-requested' ? e.jobId ?? null : null]);
  }

  /**
   * An operator action on one job: lock its row, let `act` check the state and change it, then send
   * the event it answers to this process's listeners and, when it brings work, to other processes
   * (NOTIFY, at commit).
   */
  private async actOnJob(id: string, act: (c: pg.PoolClient, row: JobRow) => Promise<{ row: JobRow; event: StoreEvent }>): Promise<Job> {
    let event: StoreEvent | undefined;
    const job = await this.tx(async (c) => {
      const done = await act(c, await this.lockJob(c, id));
      if (WORK_EVENTS.has(done.event.type)) await this.share(c, done.event);
      event = done.event;
      return rowToJob(done.row);
    });
    this.emit([event!]);
    return job;
  }

  async cancelJob({ id, now }: JobAction): Promise<Job> {
    return this.actOnJob(id, async (c, row) => {
      if (row.state === 'active') {
        const { rows } = await c.query<JobRow>(`UPDATE ${this.S}.jobs SET cancel_requested = true WHERE id = $1 RETURNING *`, [id]);
        return { row: rows[0]!, event: { type: 'cancel-requested', queue: row.queue, jobId: id, at: now } };
      }
      guardAction('cancel', id, row.state as JobState);
      const { rows } = await c.query<JobRow>(
        `UPDATE ${this.S}.jobs SET state = 'cancelled', ended_at = $2, cancel_requested = false WHERE id = $1 RETURNING *`, [id, now]);
      return { row: rows[0]!, event: { type: 'cancelled', queue: row.queue, jobId: id, at: now } };
    });
  }

  async rescheduleJob({ id, runAt, now }: RescheduleJob): Promise<Job> {
    return this.actOnJob(id, async (c, row) => {
      guardAction('reschedule', id, row.state as JobState);
      const state = runAt > now ? 'scheduled' : 'queued';
      const { rows } = await c.query<JobRow>(
        `UPDATE ${this.S}.jobs SET state = $2, run_at = $3, ended_at = NULL, cancel_requested = false WHERE id = $1 RETURNING *`,
        [id, state, runAt]);
      return { row: rows[0]!, event: { type: state, queue: row.queue, jobId: id, at: now, runAt } };
    });
  }

  async promoteJob({ id, now }: JobAction): Promise<Job> {
    return this.actOnJob(id, async (c, row) => {
      guardAction('promote', id, row.state as JobState);
      const { rows } = await c.query<JobRow>(`UPDATE ${this.S}.jobs SET state = 'queued', run_at = $2 WHERE id = $1 RETURNING *`, [id, now]);
      return { row: rows[0]!, event: { type: 'queued', queue: row.queue, jobId: id, at: now } };
    });
  }

  async retryJob({ id, now, ...opts }: RetryJob): Promise<Job> {
    return this.actOnJob(id, async (c, row) => {
      guardAction('retry', id, row.state as JobState);
      const { rows } = await c.query<JobRow>(
        `UPDATE ${this.S}.jobs SET state = 'queued', run_at = $2, ended_at = NULL, error = NULL, result = NULL,
          cancel_requested = false, stalls = 0, attempts = CASE WHEN $3 THEN 0 ELSE attempts END,
          max_attempts = CASE WHEN $3 THEN max_attempts ELSE greatest(max_attempts, attempts + 1) END
        WHERE id = $1 RETURNING *`,
        [id, now, opts.resetAttempts !== false]);
      return { row: rows[0]!, event: { type: 'queued', queue: row.queue, jobId: id, at: now } };
    });
  }

  async removeJob({ id, now }: JobAction): Promise<void> {
    const events: StoreEvent[] = [];
    await this.tx(async (c) => {
      const row = await this.lockJob(c, id);
      guardAction('remove', id, row.state as JobState);
      await c.query(`DELETE FROM ${this.S}.jobs WHERE id = $1`, [id]);
      await c.query(`DELETE FROM ${this.S}.job_logs WHERE job_id = $1`, [id]);
      events.push({ type: 'removed', queue: row.queue, jobId: id, at: now });
    });
    this.emit(events);
  }

  /** Finished jobs removed in one bounded statement (with their log lines): retention never holds the table for long. */
  async cleanJobs(q: CleanQuery): Promise<number> {
    const states = (q.states ?? FINISHED_STATES).filter((s) => isFinished(s));
    if (states.length === 0) return 0;
    const limit = Math.min(Math.max(q.limit ?? 1000, 1), 100_000);
    const args: unknown[] = [states, q.endedBefore, limit];
    let queue = '';
    if (q.queue !== undefined) (args.push(q.queue), (queue = 'AND queue = $4'));
    const { rows } = await this.pool.query<{ n: number }>(
      `WITH d AS (
         DELETE FROM ${this.S}.jobs WHERE seq = ANY (ARRAY(SELECT seq FROM ${this.S}.jobs
           WHERE state = ANY ($1::text[]) AND ended_at IS NOT NULL AND ended_at < $2 ${queue} LIMIT $3 FOR UPDATE SKIP LOCKED))
         RETURNING id
       ), l AS (DELETE FROM ${this.S}.job_logs WHERE job_id IN (SELECT id FROM d))
       SELECT count(*)::integer AS n FROM d`,
      args,
    );
    return rows[0]!.n;
  }

  async pauseQueue({ queue, now }: QueueAction): Promise<void> {
    await this.pool.query(`INSERT INTO ${this.S}.queues (name, paused) VALUES ($1, true) ON CONFLICT (name) DO UPDATE SET paused = true`, [queue]);
    this.emit([{ type: 'paused', queue, at: now }]);
  }

  async resumeQueue({ queue, now }: QueueAction): Promise<void> {
    const e: StoreEvent = { type: 'resumed', queue, at: now };
    await this.tx(async (c) => {
      await c.query(`INSERT INTO ${this.S}.queues (name, paused) VALUES ($1, false) ON CONFLICT (name) DO UPDATE SET paused = false`, [queue]);
      await this.share(c, e);
    });
    this.emit([e]);
  }

  async setQueueOptions({ queue, options: opts, now }: SetQueueOptions): Promise<void> {
    // Options can open room (higher limits): let idle workers, here and in other processes, look again.
    const e: StoreEvent = { type: 'resumed', queue, at: now };
    await this.tx(async (c) => {
      await c.query(this.sql.ensureQueue, [queue]);
      if (opts.rateLimit !== undefined) {
        await c.query(`UPDATE ${this.S}.queues SET rate_max = $2, rate_window_ms = $3, rate_window_start = 0, rate_count = 0 WHERE name = $1`,
          [queue, opts.rateLimit?.max ?? null, opts.rateLimit?.windowMs ?? null]);
      }
      if (opts.concurrency !== undefined) {
        await c.query(`UPDATE ${this.S}.queues SET concurrency = $2 WHERE name = $1`, [queue, opts.concurrency]);
      }
      await this.share(c, e);
    });
    this.emit([e]);
  }

  async listQueues(): Promise<QueueInfo[]> {
    const [counts, oldest, all] = await Promise.all([
      this.countJobs(),
      this.pool.query<{ queue: string; t: number }>(this.sql.oldestQueued),
      this.pool.query<{ name: string; paused: boolean; rate_max: number | null; rate_window_ms: number | null; concurrency: number | null }>(this.sql.allQueues),
    ]);
    const first = new Map(oldest.rows.map((r) => [r.queue, num(r.t)]));
    return all.rows.map((q) => ({
      name: q.name,
      paused: q.paused,
      rateLimit: q.rate_max != null ? { max: q.rate_max, windowMs: num(q.rate_window_ms!) } : null,
      concurrency: q.concurrency ?? null,
      counts: counts[q.name] ?? emptyCounts(),
      oldestQueuedAt: first.get(q.name) ?? null,
    }));
  }

  async saveSchedule({ schedule: rec, now, expectedVersion }: SaveSchedule): Promise<ScheduleRecord> {
    const values = [rec.id, JSON.stringify(rec.spec), rec.nextRunAt, rec.paused, rec.runCount ?? null, rec.lastRunAt ?? null, now];
    if (expectedVersion === undefined) {
      const { rows } = await this.pool.query<ScheduleRow>({ ...this.sql.schedUpsert, values });
      return rowToSchedule(rows[0]!);
    }
    // One statement either way, so the check and the write are one atomic step: create only if
    // absent (version 0), else update only the version that was read.
    const { rows } = expectedVersion === 0
      ? await this.pool.query<ScheduleRow>(`INSERT INTO ${this.S}.schedules (id, spec, next_run_at, paused, run_count, last_run_at,
          created_at, updated_at, version) VALUES ($1, $2, $3, $4, coalesce($5::integer, 0), $6, $7, $7, 1)
          ON CONFLICT (id) DO NOTHING RETURNING *`, values)
      : await this.pool.query<ScheduleRow>(`UPDATE ${this.S}.schedules SET spec = $2, next_run_at = $3, paused = $4,
          run_count = coalesce($5::integer, run_count), last_run_at = coalesce($6::bigint, last_run_at), updated_at = $7,
          version = version + 1 WHERE id = $1 AND version = $8 RETURNING *`, [...values, expectedVersion]);
    if (rows[0]) return rowToSchedule(rows[0]);
    const current = await this.getSchedule({ id: rec.id });
    throw new ScheduleConflict(rec.id, expectedVersion, current?.version ?? 0);
  }

  async getSchedule({ id }: ScheduleRef): Promise<ScheduleRecord | null> {
    const { rows } = await this.pool.query<ScheduleRow>({ ...this.sql.schedGet, values: [id] });
    return rows[0] ? rowToSchedule(rows[0]) : null;
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    return (await this.pool.query<ScheduleRow>(this.sql.schedAll)).rows.map(rowToSchedule);
  }

  async removeSchedule({ id }: ScheduleRef): Promise<boolean> {
    return ((await this.pool.query(this.sql.schedRemove, [id])).rowCount ?? 0) === 1;
  }

  async dueSchedules({ now, limit }: DueSchedules): Promise<ScheduleRecord[]> {
    return (await this.pool.query<ScheduleRow>({ ...this.sql.schedDue, values: [now, limit] })).rows.map(rowToSchedule);
  }

  async nextScheduleAt(): Promise<number | null> {
    const { rows } = await this.pool.query<{ t: number | null }>(this.sql.schedNext);
    return numOrNull(rows[0]?.t ?? null);
  }

  /** Compare-and-set on the version, and the jobs, in one transaction: an occurrence fires once. */
  async advanceSchedule({ id, expectedVersion, next, jobs, now }: AdvanceSchedule): Promise<boolean> {
    const events: StoreEvent[] = [];
    const ok = await this.tx(async (c) => {
      const r = await c.query(this.sql.schedAdvance, [id, expectedVersion, next.nextRunAt, next.runCount, next.lastRunAt, now]);
      if (r.rowCount !== 1) return false;
      if (jobs.length) await this.insertJobs(c, jobs, now, this.origin, events);
      return true;
    });
    this.emit(events);
    return ok;
  }

  async beatWorker({ worker: info, ttlMs }: BeatWorker): Promise<void> {
    await this.pool.query({ ...this.sql.workerBeat, values: [info.id, JSON.stringify(info), info.lastSeenAt + ttlMs] });
  }

  async removeWorker({ id }: WorkerRef): Promise<void> {
    await this.pool.query(this.sql.workerGone, [id]);
  }

  async listWorkers({ now }: ListWorkers): Promise<WorkerInfo[]> {
    const { rows } = await this.pool.query<{ info: WorkerInfo }>(this.sql.workersLive, [now]);
    return rows.map((r) => r.info);
  }

  /**
   * A worker's subscription (workOnly) needs notifications only while it sleeps, which its short
   * claims mark; any other (event streams, dashboards) needs every add's, so it holds the '*' mark.
   */
  subscribe(listener: StoreListener, opts: { workOnly?: boolean } = {}): () => void {
    this.listeners.add(listener);
    const everyEvent = !opts.workOnly && !this.closed;
    if (everyEvent && this.everyEventListeners++ === 0) {
      void this.marks.holdEveryQueue((err) => (this.lastError = err));
    }
    if (!this.listener && !this.closed) {
      this.listener = new Listener(this.connectionString, `${this.schema}:work`, this.origin, {
        event: (e) => this.emit([e]),
        // Notifications sent while the connection was down are lost: wake every queue once.
        resync: async () => {
          const { rows } = await this.pool.query<{ name: string }>(this.sql.queueNames);
          const at = Date.now();
          this.emit(rows.map((r) => ({ type: 'resumed', queue: r.name, at })));
        },
        error: (err) => (this.lastError = err),
      });
    }
    let subscribed = true;
    return () => {
      this.listeners.delete(listener);
      if (everyEvent && subscribed && --this.everyEventListeners === 0) this.marks.releaseEveryQueue();
      subscribed = false;
    };
  }

  /**
   * Resolves once this store's LISTEN connection is in place (after a first subscribe) and, for a
   * subscriber of every event, its wait mark: adds committed after that reach it.
   */
  async listening(): Promise<void> {
    await this.listener?.ready;
    if (this.everyEventListeners > 0) await this.marks.holdEveryQueue((err) => (this.lastError = err));
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    await this.listener?.close();
    this.listener = null;
    await this.marks.close();
    await this.pool.end();
  }
}
