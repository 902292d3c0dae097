// The enqueue funnel: every job enters the store here, whatever made it (the HTTP API's native and
// compatibility routes, fusion.enqueue and enqueueMany, a schedule's runNow, a channel's follow-up
// job). It turns specs into jobs (spec.ts: the task's defaults, its payload check, the id) and
// coalesces adds that arrive together into one store add: one transaction on SQLite and PostgreSQL,
// one script per queue on Redis. Each caller's jobs stay in one add (atomic as the store's add is)
// and each caller gets exactly its own results back. A schedule's occurrences are the one exception
// to "enters here": the store adds them in the same atomic step as the schedule's advance, from jobs
// prepared with the same resolveSpec.
import { FusionError } from './errors.js';
import type { Job, JobSpec, NewJob } from './job.js';
import { systemClock, type Clock } from './clock.js';
import type { TaskRegistry } from './registry.js';
import type { AddOptions, Store } from './store.js';
import { resolveSpec } from './spec.js';
import { isUnavailable } from './store-errors.js';

export type Added = { job: Job; created: boolean }[];

export interface FunnelAddOptions extends AddOptions {
  /**
   * Group commit: wait for the end of this event-loop turn, so the adds arriving in it share one
   * store add (the HTTP API's requests: one request per I/O callback). Without it a lone add goes
   * at once, and adds share a store add only when they arrive while the slots are busy: an
   * embedded store (SQLite) works inside the call, so a caller awaiting each add in turn never
   * pays for a turn.
   */
  groupCommit?: boolean;
}

export interface EnqueuerOptions {
  clock?: Clock;
  /** Task defaults and payload checks come from here. */
  registry?: TaskRegistry;
  /** Shared adds in the air at once (default 3 on a remote store, 1 on an embedded one). */
  inFlight?: number;
  /** Most jobs in one shared add (default 2000); a single larger add still goes whole, alone. */
  maxBatchJobs?: number;
}

/** An add waiting for a shared store add: answered with its part of the answer, or (`one`) its job. */
type Waiting = { jobs: NewJob[]; reject(e: unknown): void } & ({ one: false; resolve(r: Added): void } | { one: true; resolve(r: Job): void });

/** The job of a one-job add's answer. */
const firstJob = (added: Added) => added[0]!.job;

/** The fewest jobs worth a shared add of their own when waiting adds are spread over free slots. */
const MIN_SPLIT = 16;

export class Enqueuer {
  readonly clock: Clock;
  readonly registry?: TaskRegistry;
  /** Shared adds that failed and were split, each caller retried alone (for tests and logs). */
  splits = 0;
  /** Store adds made, shared or not (for tests). */
  storeAdds = 0;
  private readonly maxInFlight: number;
  private readonly maxBatchJobs: number;
  private waiting: Waiting[] = [];
  private inFlight = 0;
  /** Jobs in the adds in the air. */
  private inFlightJobs = 0;
  /** Until the next macrotask turn: adds keep gathering (see landed). */
  private held = false;
  /** A lone one-job add is done (add). */
  private readonly landedOne = () => this.landed(1, 1);
  /** enqueueOne's lone add is done: its slot freed and its job picked in one handler. */
  private readonly jobOfLoneAdd = (added: Added) => {
    this.landed(1, 1);
    return added[0]!.job;
  };
  private readonly loneAddFailed = (err: unknown): never => {
    this.landed(1, 1);
    throw err;
  };

  constructor(readonly store: Store, opts: EnqueuerOptions = {}) {
    this.clock = opts.clock ?? store.clock ?? systemClock; // a shared store's: its server's time
    this.registry = opts.registry;
    this.maxInFlight = Math.max(1, opts.inFlight ?? (store.capabilities.pipelined ? 3 : 1));
    this.maxBatchJobs = opts.maxBatchJobs ?? 2000;
  }

  /** A spec as the job it makes: defaults applied, payload checked, id given. Throws FusionError naming the field. */
  prepare(spec: JobSpec, now = this.clock.now(), idTime?: number): NewJob {
    return resolveSpec(spec, now, this.registry, idTime);
  }

  /** Prepare specs and add them atomically (all or none). With `tx` (PostgreSQL), inside the caller's transaction. */
  enqueue(specs: JobSpec[], opts?: FunnelAddOptions): Promise<Added> {
    let jobs: NewJob[];
    const now = this.clock.now();
    try {
      this.checkTx(opts);
      // The ids of one call carry one time (newId): the system clock read once, not per job.
      const idTime = this.idTime(now);
      // A loop into a literal, not specs.map. The array that optimized code's map made for a large
      // batch had another hidden class than a lone add's. So the add path, optimized on lone adds,
      // was deoptimized ("wrong map" at jobs.length and at insertJobs' loop) by the first batch,
      // and compiled again later, inside the next timed row (docs/performance.md, SQLite).
      // One spec: a literal of one, not [] grown to a backing store of 17 slots (~150 bytes a lone add).
      // Its map is the grown one's (packed, objects), so the add path sees one hidden class still.
      if (specs.length === 1) jobs = [this.prepare(specs[0]!, now, idTime)];
      else {
        jobs = [];
        for (let i = 0; i < specs.length; i++) jobs[i] = this.prepare(specs[i]!, now, idTime);
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return this.add(jobs, opts, now);
  }

  /**
   * One spec's job, added as enqueue([spec]) adds it, answered with its job (created or found).
   * When the add goes alone, one handler on the store's promise frees the slot and picks the job:
   * not one to free the slot and the caller's to pick the job, a promise and a microtask more per
   * add (a caller awaiting each add on SQLite: the funnel's share of its garbage and CPU).
   */
  enqueueOne(spec: JobSpec, opts?: FunnelAddOptions): Promise<Job> {
    let job: NewJob;
    const now = this.clock.now();
    try {
      this.checkTx(opts);
      job = this.prepare(spec, now, this.idTime(now));
    } catch (err) {
      return Promise.reject(err);
    }
    if (opts?.tx !== undefined) return this.add([job], opts, now).then(firstJob);
    if (this.goesAlone(opts)) return this.sendAlone([job], now).then(this.jobOfLoneAdd, this.loneAddFailed);
    // Waiting, it is answered with its job: not add's list and a then to pick the job from it, a
    // promise, an array and a microtask more per add (100 callers in flight on Redis).
    return new Promise<Job>((resolve, reject) => this.wait({ jobs: [job], one: true, resolve, reject }));
  }

  /**
   * The epoch ms the ids of an add made at `now` carry: the system clock's, which is `now` itself
   * when the clock is the system clock (Date.now() is a call into V8's runtime, ~0.5% of a lone add
   * on SQLite, perf).
   */
  private idTime(now: number): number {
    return this.clock === systemClock ? now : Date.now();
  }

  /**
   * Add prepared jobs atomically (all or none), with the adds arriving at the same time. A job
   * whose id exists comes back with created=false. With `tx`, alone: a caller's transaction is
   * its own and cannot hold others' jobs. `preparedAt`: the time the jobs were prepared at, the
   * store add's now when they go alone (default the clock's): a job without a runAt of its own
   * then has runAt equal to it, which the Redis add script tells queued by comparing text.
   */
  add(jobs: NewJob[], opts?: FunnelAddOptions, preparedAt?: number): Promise<Added> {
    if (jobs.length === 0) return Promise.resolve([]);
    if (opts?.tx !== undefined) {
      if (!this.store.capabilities.transactions) return Promise.reject(this.txUnsupported());
      this.storeAdds++;
      return this.store.addJobs({ jobs, now: preparedAt ?? this.clock.now(), tx: opts.tx });
    }
    if (this.goesAlone(opts)) {
      const out = this.sendAlone(jobs, preparedAt);
      // A one-job add's handler is made once (landedOne), not a closure per add.
      if (jobs.length === 1) out.then(this.landedOne, this.landedOne);
      else {
        const landed = () => this.landed(1, jobs.length);
        out.then(landed, landed);
      }
      return out;
    }
    return new Promise<Added>((resolve, reject) => this.wait({ jobs, one: false, resolve, reject }));
  }

  private wait(w: Waiting): void {
    this.waiting.push(w);
    if (!this.held && this.inFlight < this.maxInFlight) this.holdThenDrain(); // group commit
  }

  /** A waiting add's answer, from the shared add's: its jobs' part, which starts at `at`. */
  private answer(w: Waiting, out: Added, at: number, whole: boolean): void {
    if (w.one) w.resolve(out[at]!.job);
    else w.resolve(whole ? out : out.slice(at, at + w.jobs.length));
  }

  /**
   * Whether an add goes straight to the store: a lone add with a free slot (a caller awaiting each
   * add pays nothing for the funnel). Not while a shared add is in the air: its callers come back
   * together and add again, and this add goes with them.
   */
  private goesAlone(opts?: FunnelAddOptions): boolean {
    return !opts?.groupCommit && !this.held && this.inFlight < this.maxInFlight && this.waiting.length === 0 && this.inFlightJobs < MIN_SPLIT;
  }

  /** A lone add in a slot of its own; its caller frees the slot when it lands (landed). */
  private sendAlone(jobs: NewJob[], now?: number): Promise<Added> {
    this.inFlight++;
    this.inFlightJobs += jobs.length;
    return this.addAlone(jobs, now);
  }

  private txUnsupported(): FusionError {
    return new FusionError('tx_unsupported', 'enqueue inside a caller transaction ({ tx }) needs the PostgreSQL store', {}, 400);
  }

  private checkTx(opts?: AddOptions): void {
    if (opts?.tx !== undefined && !this.store.capabilities.transactions) throw this.txUnsupported();
  }

  private addAlone(jobs: NewJob[], now = this.clock.now()): Promise<Added> {
    this.storeAdds++;
    return this.store.addJobs({ jobs, now });
  }

  /** Send waiting adds, whole and in arrival order, up to `budget` jobs (at least one add), as one store add. */
  private send(budget: number): void {
    const batch: Waiting[] = [];
    let n = 0;
    while (this.waiting.length) {
      const size = this.waiting[0]!.jobs.length;
      if (n > 0 && (n + size > budget || n + size > this.maxBatchJobs)) break;
      batch.push(this.waiting.shift()!);
      n += size;
    }
    this.inFlight++;
    this.inFlightJobs += n;
    // A loop, not batch.flatMap: flatMap went through the runtime for every add (~0.1 µs a request).
    let jobs = batch[0]!.jobs;
    if (batch.length > 1) {
      jobs = [];
      for (const w of batch) for (const j of w.jobs) jobs.push(j);
    }
    this.addAlone(jobs).then(
      (out) => {
        let i = 0;
        for (const w of batch) {
          this.answer(w, out, i, batch.length === 1);
          i += w.jobs.length;
        }
      },
      (err: unknown) => this.split(batch, err),
    ).finally(() => this.landed(batch.length, n));
  }

  /** A shared add failed. One caller's jobs may be what the store refused: retry each alone, in order, so only it fails. */
  private async split(batch: Waiting[], err: unknown): Promise<void> {
    if (batch.length === 1 || isUnavailable(err)) {
      for (const w of batch) w.reject(err);
      return;
    }
    this.splits++;
    for (const w of batch) await this.addAlone(w.jobs).then((out) => this.answer(w, out, 0, true), w.reject);
  }

  /**
   * A shared add is done. When it held several callers, they come back one by one over the next
   * microtasks and may add again; sending at once would take the first alone and queue the rest
   * behind it. So the funnel holds until the next macrotask turn, then spreads what gathered over
   * the free slots (with 100 callers in flight on Redis: 29,000-42,000 jobs/s with one add in the
   * air, 50,000-58,000 with up to three of at least 16 jobs).
   */
  private landed(callers: number, jobs: number): void {
    this.inFlight--;
    this.inFlightJobs -= jobs;
    if (this.held) return;
    // Its callers have not added again yet (they come back over the next microtasks): hold even
    // with nothing waiting, or the first to come back would go alone.
    if (callers > 1) this.holdThenDrain();
    else if (this.waiting.length) this.drain();
  }

  private holdThenDrain(): void {
    this.held = true;
    setImmediate(() => {
      this.held = false;
      this.drain();
    });
  }

  /**
   * Spread the waiting adds over the free slots, in order, in parts of at least MIN_SPLIT jobs.
   * Fewer jobs than that wait while a shared add of at least as many is in the air: its callers,
   * when it lands, add again and take them along. Sent at once instead, they would take a slot of
   * their own, and a caller answered alone adds alone again: with 100 callers in flight on Redis
   * 777 of 975 store adds held one job; now each slot carries about a third of them.
   */
  private drain(): void {
    const free = this.maxInFlight - this.inFlight;
    if (this.waiting.length === 0 || free <= 0) return;
    const total = this.waiting.reduce((t, w) => t + w.jobs.length, 0);
    if (total < MIN_SPLIT && this.inFlightJobs >= MIN_SPLIT) return;
    const parts = Math.max(1, Math.min(free, Math.floor(total / MIN_SPLIT)));
    const budget = Math.ceil(total / parts);
    for (let p = 0; p < parts && this.waiting.length; p++) this.send(budget);
  }
}
