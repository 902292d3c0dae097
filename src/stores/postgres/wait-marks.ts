// Who waits for new work (the `waiting` table, migration 006), so that an add sends its NOTIFY only
// when some other store would act on it. A NOTIFY holds a server-wide lock through its commit's
// flush: notifying commits queue one behind another instead of sharing a flush, which was the limit
// on single enqueues (docs/performance.md). Enqueue-only processes and busy workers send none.
//
// Marks are per queue and per store (origin), with an expiry on the server's clock:
// - a worker's claim that comes up short (it is about to sleep) marks the claim's queues for the
//   worker's idleMs (two polls: an idle worker claims again within one, renewing the mark);
// - a subscriber that is not a worker (event streams, dashboards) marks '*', every queue, renewed
//   on a timer while it is subscribed.
// An add notifies when a live mark of another store covers its queue (someoneWaits below); its own
// store's listeners hear of it in-process anyway. Making a mark live (absent or lapsed before) goes
// through mark_waiting's barrier and is followed by one more claim: the set-flag-then-recheck that
// makes sure an add racing the worker's fall asleep is either seen by that claim or notified. A
// claim that brought jobs returns them at once; its marking runs after, and if it made a mark live,
// an event wakes the worker to claim again (store.ts beforeSleep).
import type pg from 'pg';

/** SQL condition: a store other than `origin` waits, live, on `queue` (or on every queue). */
export function someoneWaits(S: string, queue: string, origin: string): string {
  return `EXISTS (SELECT 1 FROM ${S}.waiting w WHERE w.queue IN (${queue}, '*') AND w.until > statement_timestamp() AND w.origin <> ${origin})`;
}

/** A subscriber's '*' mark lasts this long and is renewed four times as often. */
const EVERY_QUEUE_TTL_MS = 10_000;
/** A mark renewed within this much of its end counts as lapsed (the renewal could commit after it). */
const LAPSE_MARGIN_MS = 100;

export class WaitMarks {
  /** The marks this store wrote: when (monotonic clock, taken before the write) and for how long. */
  private written = new Map<string, { at: number; ttl: number }>();
  private everyQueueTimer: NodeJS.Timeout | null = null;
  private everyQueue: Promise<void> | null = null;
  private marking: Promise<unknown> = Promise.resolve();

  constructor(private readonly pool: pg.Pool, private readonly quotedSchema: string, private readonly origin: string) {}

  /**
   * The store's claim on `queues` came up short: its worker sleeps until woken. Marks (or renews)
   * them; true when a mark was made live just now, after which the caller must claim once more
   * before its worker sleeps (jobs added before the mark may have gone un-notified).
   */
  waitOn(queues: string[], ttlMs: number): Promise<boolean> {
    // One at a time: a second call then finds the first one's marks fresh instead of writing again.
    const done = this.marking.then(() => this.markNow(queues, ttlMs));
    this.marking = done.catch(() => {});
    return done;
  }

  private async markNow(queues: string[], ttlMs: number): Promise<boolean> {
    const now = performance.now(); // local ages only: a step of the wall clock must not make a mark look fresh
    let state: 'fresh' | 'renew' | 'new' = 'fresh';
    for (const q of queues) {
      const w = this.written.get(q);
      // Written less than a quarter of its life ago: it outlives the next claim (within half of it).
      if (w && now < w.at + w.ttl / 4) continue;
      if (!w || now >= w.at + w.ttl - LAPSE_MARGIN_MS) {
        state = 'new';
        break;
      }
      state = 'renew';
    }
    if (state === 'fresh') return false;
    // Known live: renew without the barrier; should it have lapsed meanwhile, the barrier after all.
    let barrier = state === 'new';
    try {
      if (!barrier) barrier = await this.mark(queues, ttlMs, false);
      if (barrier) await this.mark(queues, ttlMs, true);
    } catch (err) {
      for (const q of queues) this.written.delete(q);
      throw err;
    }
    for (const q of queues) this.written.set(q, { at: now, ttl: ttlMs });
    return barrier;
  }

  /**
   * mark_waiting(); with `barrier` false, answers whether a mark had lapsed. Its commit does not
   * wait for the disk (synchronous_commit off for its own transaction, as a claim's): a mark is
   * seen by adds once committed, flushed or not, and one a server crash forgets is made again at
   * the worker's next renewal (found lapsed: the barrier and a claim once more), the poll covering
   * the time between. Waiting for the flush put an fsync between a worker's short claim and its
   * next one (its outcomes land only after the mark), and held every add behind a barrier's lock
   * for the length of an fsync: the tail of enqueue-to-start latency (docs/performance.md).
   */
  private async mark(queues: string[], ttlMs: number, barrier: boolean): Promise<boolean> {
    const { rows } = await this.pool.query<{ lapsed: boolean }>({
      name: 'fusion_mark_waiting',
      text: `SELECT ${this.quotedSchema}.mark_waiting($1, $2, $3, $4) AS lapsed FROM set_config('synchronous_commit', 'off', true) s`,
      values: [queues, this.origin, ttlMs, barrier],
    });
    return rows[0]?.lapsed === true;
  }

  /**
   * Hold the '*' mark while a subscriber needs every event: renewed on a timer. Resolves once it is
   * first in place (adds committed after that notify).
   */
  holdEveryQueue(onError: (err: Error) => void): Promise<void> {
    if (this.everyQueue) return this.everyQueue;
    const renew = () => this.waitOn(['*'], EVERY_QUEUE_TTL_MS).then(() => {}, onError);
    this.everyQueue = renew();
    this.everyQueueTimer = setInterval(renew, EVERY_QUEUE_TTL_MS / 4);
    this.everyQueueTimer.unref();
    return this.everyQueue;
  }

  /** No subscriber needs every event any more: stop renewing the '*' mark (it expires). */
  releaseEveryQueue(): void {
    if (this.everyQueueTimer) clearInterval(this.everyQueueTimer);
    this.everyQueueTimer = null;
    this.everyQueue = null;
  }

  /** The store closes: its marks go, so adds stop notifying for it at once. */
  async close(): Promise<void> {
    this.releaseEveryQueue();
    if (this.written.size === 0) return;
    this.written.clear();
    await this.pool.query(`DELETE FROM ${this.quotedSchema}.waiting WHERE origin = $1`, [this.origin]).catch(() => {});
  }
}
