// The completer: stores the outcomes the executor decides, in batches, and frees each job's slot
// once its outcome is stored, so a claim never races its own finish. On a store with
// finishAndClaim a batch also claims the slots it frees, in the same call: a busy worker pays one
// round trip per cycle. Two implementations share the batching and the retries:
// - InlineCompleter: one batch in the air at a time (a local store such as SQLite answers at once).
// - PipelinedCompleter: several batches in the air (capabilities.pipelined: each call is a network
//   round trip), so the worker runs the jobs claimed with one batch while the store applies the other.
// A batch the store refuses is tried again while the jobs' leases last (heartbeats go on extending
// them), and given up only once they have ended, with an error line naming the jobs: never silently.
// Not the global `performance`: a getter run on every read (see executor.ts).
import { performance } from 'node:perf_hooks';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { ClaimResult, FinishAnswer, Outcome, Store } from '../store.js';
import type { Executor } from './executor.js';
import { isStoreFull } from '../store-errors.js';
import type { Producer } from './producer.js';

/** Past the leases' end, outcomes a full store refuses are tried this often, for this long. */
const FULL_STORE_RETRY_MS = 250;
const FULL_STORE_PATIENCE_MS = 60_000;

export interface Completer {
  /** Take an attempt's outcome; its job keeps its slot until the outcome is stored. */
  add(outcome: Outcome): void;
  /** Whether outcome batches are being stored now. */
  readonly inFlight: boolean;
  /** Resolves once every outcome taken is stored (or given up, loudly, after its leases ended). */
  drain(): Promise<void>;
  /** Moving mean of a batch's round trip (real ms; 0 before the first): how far ahead claims may reach. */
  readonly rttMs: number;
}

export interface CompleterOptions {
  store: Store;
  executor: Executor;
  producer: Producer;
  workerId: string;
  clock: Clock;
  log: Logger;
  /** Backoff between tries of a refused batch: doubling from firstMs, capped at maxMs. */
  outcomeRetry: { firstMs: number; maxMs: number };
}

/** The completer for this store: pipelined when more than one batch may be in the air. */
export function makeCompleter(o: CompleterOptions, batchesInFlight: number, held: number): Completer {
  return batchesInFlight > 1 ? new PipelinedCompleter(o, batchesInFlight, held) : new InlineCompleter(o);
}

/** How long a worker's chain of instant jobs may keep the event loop from turning. */
const MAX_RUN_WITHOUT_TURN_MS = 10;

/** Batching, storing with retries, and what happens when a batch lands; subclasses choose when batches go. */
abstract class BatchCompleter implements Completer {
  protected outbox: Outcome[] = [];
  /** Batches being stored now, and how many outcomes they carry. */
  protected flights = 0;
  private storing = 0;
  /** Slots promised to claims riding on batches in the air. */
  private reserved = 0;
  /** Batches in the air that carry a claim. */
  private claimsInFlight = 0;
  private flushPending = false;
  private landed: (() => void)[] = [];
  /** When the run of outcomes stored without an event-loop turn between them began (turnOverdue). */
  private runStartedAt = 0;
  private turnWatched = false;
  /** Moving mean of a batch's first-try round trip, in real time (ms). */
  rttMs = 0;

  /**
   * watchTurns: whether runs without an event-loop turn are watched (turnOverdue). A pipelined
   * store answers over the network, a turn of the loop each time, so only the inline completer does.
   */
  constructor(
    protected readonly o: CompleterOptions,
    private readonly maxFlights: number,
    private readonly watchTurns: boolean,
  ) {}

  get inFlight(): boolean {
    return this.flights > 0;
  }

  add(outcome: Outcome): void {
    // An indexed store, not push: the push, inlined where the outbox had held no outcome yet,
    // deoptimized ("not a Smi") at the first outcome it stored.
    this.outbox[this.outbox.length] = outcome;
    this.flush();
  }

  async drain(): Promise<void> {
    while (this.flights > 0 || this.outbox.length > 0) {
      const landed = new Promise<void>((r) => this.landed.push(r));
      if (this.flights === 0) this.launch();
      await landed;
    }
  }

  /** Send what is buffered, as batches are free: the one place the two implementations differ. */
  protected abstract launch(): void;

  private flush(): void {
    if (this.flushPending || this.flights >= this.maxFlights || this.outbox.length === 0) return;
    // One macrotask turn lets outcomes of jobs finishing together join this batch; not worth
    // waiting for when no handler is running, unless the event loop is overdue a turn.
    if (this.o.executor.busy > 0 || this.turnOverdue()) {
      this.flushPending = true;
      setImmediate(() => {
        this.flushPending = false;
        this.launch();
      });
    } else this.launch();
  }

  /**
   * Whether this worker has run for MAX_RUN_WITHOUT_TURN_MS without the event loop turning. A
   * store that answers at once (SQLite) with handlers that do too makes finish, claim and run one
   * chain of microtasks: without a break, draining a backlog held back every timer, heartbeat and
   * HTTP request of the process until the queue was empty (20,000 jobs: 3.7 s without a turn).
   */
  private turnOverdue(): boolean {
    if (!this.watchTurns) return false;
    if (!this.turnWatched) {
      this.turnWatched = true;
      this.runStartedAt = performance.now();
      setImmediate(() => {
        this.turnWatched = false;
      });
      return false;
    }
    return performance.now() - this.runStartedAt >= MAX_RUN_WITHOUT_TURN_MS;
  }

  protected async fly(batch: Outcome[]): Promise<void> {
    const { store, executor, producer, clock, log, workerId } = this.o;
    this.flights++;
    this.storing += batch.length;
    // Claim the batch's jobs' room again in the same store call, unless the producer is claiming
    // right now. The claim's room is reserved until it lands, so held - storing + reserved never
    // exceeds what the executor may hold (executor.room), however many batches are in the air.
    // On a store whose calls in flight may apply out of order (not capabilities.inOrder: a pool,
    // PostgreSQL), one claim at a time: two claims in the air could apply in one order and answer in
    // the other, starting the lower-priority job first. Outcome-only batches still overlap it.
    const { finishAndClaim, inOrder } = store.capabilities;
    const free = executor.room(this.rttMs) + this.storing - this.reserved;
    const limit = finishAndClaim && (inOrder || this.claimsInFlight === 0) ? producer.claimBeside(free) : 0;
    this.reserved += limit;
    if (limit > 0) this.claimsInFlight++;
    let claimed: ClaimResult | null = null;
    let applied: FinishAnswer[] | null = null;
    const sentAt = performance.now();
    let retried = false;
    for (let tries = 0; ; tries++) {
      try {
        if (limit > 0) {
          ({ applied, claim: claimed } = await finishAndClaim!({ outcomes: batch, claim: producer.claimRequest(limit, clock.now()) }));
        } else {
          applied = await store.finishJobs({ outcomes: batch });
        }
        producer.storeAnswered();
        break;
      } catch (err) {
        retried = true;
        // The leases still protect these jobs (heartbeats go on extending them): keep trying until the
        // store answers or the last of them ends. After that the store refuses the stale tokens anyway
        // and stall recovery takes the jobs back. But a full store (store_full) refuses recovery's
        // writes as it refuses ours, so past the end the jobs are in practice still this worker's:
        // it keeps trying, often, for a while, so the outcomes land before a sweep runs the jobs
        // again once the store has room (PostgreSQL on a full disk: measured below, docs/reliability.md).
        const leaseLeft = executor.leaseEnd(batch) - clock.now();
        const message = (err as Error)?.message;
        const full = isStoreFull(err);
        if (leaseLeft <= (full ? -FULL_STORE_PATIENCE_MS : 0)) {
          log.error(
            { workerId, err: message, outcomes: batch.length, jobIds: batch.map((o) => o.id), tries: tries + 1 },
            'gave up storing outcomes: their leases ended; recovery will take the jobs back',
          );
          break;
        }
        // At tries 1, 2, 3, 5, 9, 17, ...: a long refusal is not a line every 250 ms.
        if ((tries & (tries - 1)) === 0) log.warn({ workerId, err: message, outcomes: batch.length, tries: tries + 1 }, 'could not store outcomes; retrying');
        const { firstMs, maxMs } = this.o.outcomeRetry;
        const wait = leaseLeft > 0 ? Math.min(maxMs, firstMs * 2 ** Math.min(tries, 30), leaseLeft) : FULL_STORE_RETRY_MS;
        await new Promise((r) => setTimeout(r, wait));
      }
    }
    if (!retried) {
      const rtt = performance.now() - sentAt;
      this.rttMs = this.rttMs === 0 ? rtt : this.rttMs * 0.9 + rtt * 0.1;
    }
    this.flights--;
    this.storing -= batch.length;
    this.reserved -= limit;
    if (limit > 0) this.claimsInFlight--;
    // Free the whole batch's slots at once, so a claim after this takes one full batch. After a
    // combined claim the store has just said how much work there is: no extra claim unless it
    // filled every slot or a wake came meanwhile.
    if (applied?.includes('cancelled')) batch.forEach((o, k) => applied![k] === 'cancelled' && executor.cancelledInstead(o));
    for (const o of batch) executor.free(o.id);
    if (claimed) producer.took(claimed, limit);
    else producer.wake();
    for (const r of this.landed.splice(0)) r();
    this.flush();
    producer.resume();
  }
}

/** One batch in the air at a time, holding every outcome buffered when it goes. */
class InlineCompleter extends BatchCompleter {
  constructor(o: CompleterOptions) {
    super(o, 1, true);
  }

  protected launch(): void {
    if (this.flights > 0 || this.outbox.length === 0) return;
    const batch = this.outbox;
    this.outbox = [];
    void this.fly(batch);
  }
}

/**
 * Up to maxFlights batches in the air, each carrying at most its share of the concurrency. Batches
 * sent together reach Redis in one read and are answered together at the end of its event-loop turn;
 * they then land in one tick and, sent together again, stay in step, each waiting out the other's
 * script (25-30% of a busy worker's socket reads carried two answers). So when no batch is in the
 * air, the first goes now and the rest half a round trip later: the offset two alternating batches
 * keep by themselves (c=50 on Redis: +9% jobs/s over 16 paired runs).
 */
class PipelinedCompleter extends BatchCompleter {
  private readonly perBatch: number;
  /** A launch is waiting to space batches. */
  private spacing = false;

  /** held: the most jobs the worker holds at once (its concurrency and what it may claim ahead). */
  constructor(o: CompleterOptions, private readonly maxBatches: number, held: number) {
    super(o, maxBatches, false);
    this.perBatch = Math.ceil(held / maxBatches);
  }

  protected launch(): void {
    if (this.spacing) return;
    const per = this.perBatch;
    if (this.flights === 0 && this.outbox.length > per && this.rttMs > 0) {
      void this.fly(this.outbox.splice(0, per));
      this.spacing = true;
      after(this.rttMs / 2, () => {
        this.spacing = false;
        this.launch();
      });
      return;
    }
    while (this.outbox.length > 0 && this.flights < this.maxBatches) void this.fly(this.outbox.splice(0, per));
  }
}

/**
 * Run fn after ms of real time. Node's timers count whole milliseconds, so a shorter wait turns the
 * event loop with setImmediate until it is over; each turn still serves I/O.
 */
function after(ms: number, fn: () => void): void {
  if (ms >= 1) {
    setTimeout(fn, Math.min(ms, 50));
    return;
  }
  const until = performance.now() + ms;
  const turn = () => (performance.now() < until ? setImmediate(turn) : fn());
  setImmediate(turn);
}
