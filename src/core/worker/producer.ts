// The producer: decides when the worker asks the store for jobs and asks. It wakes on store events
// (an add, a resume), on timers set to the store's own word of when the next delayed job comes due
// or a rate-limit window reopens, and on a poll fallback for changes made by other processes. Each
// claim orders the queues (given order, or a weighted draw for fairness) and asks for at most the
// free slots. On a store with `handoff`, jobs the store leases to this worker while it waits idle
// arrive without a claim at all.
import type { Job } from '../job.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { ClaimRequest, ClaimResult, Store, StoreEvent } from '../store.js';

export interface ProducerOptions {
  store: Store;
  workerId: string;
  queues: string[];
  /** Weighted fairness across queues; without it every claim takes the queues in the given order. */
  weights?: Record<string, number>;
  random: () => number;
  batchSize: number;
  leaseMs: number;
  pollMs: number;
  clock: Clock;
  log: Logger;
  /** Slots free for new jobs now. */
  freeSlots(): number;
  /** Whether outcome batches are being stored: they claim in the same call, so a claim waits for them. */
  outcomesInFlight(): boolean;
  /** Whether the worker takes new jobs (false once it stops). */
  accepting(): boolean;
  /** Whether this job already holds a slot here. */
  holds(id: string): boolean;
  /** Start a job the store leased to this worker. */
  run(job: Job): void;
  /** A cancel request for a job (it may run here). */
  cancel(id: string): void;
  /**
   * One of its queues was paused, or its limits changed: what waits here for a slot must not start
   * against the queue's rules of when it was claimed.
   */
  queueChanged(queue: string): void;
}

export class Producer {
  private claimingNow = false;
  /** The claim call in the air, if any: a stopping worker waits for its answer (stopClaiming). */
  private claimCall: Promise<ClaimResult> | null = null;
  /** A wake came while a claim was in the air, or the last claim filled every slot: claim again. */
  private pumpAgain = false;
  private pumpScheduled = false;
  private wakeTimer: { at: number; cancel: () => void } | null = null;
  private unsubscribe: (() => void) | null = null;
  private stopHandoff: (() => Promise<void>) | null = null;
  private storeErrors = 0;
  /** Ids of queued jobs heard of since the last look (onEvent). */
  private heard: string[] = [];
  private readonly queueSet: Set<string>;

  constructor(private readonly o: ProducerOptions) {
    this.queueSet = new Set(o.queues);
  }

  /** Whether a claim is in the air now. */
  get claiming(): boolean {
    return this.claimingNow;
  }

  /** Listen for store events, and register for the store's idle hand-off when it has one. */
  open(): void {
    const { store } = this.o;
    const onEvent = (e: StoreEvent) => this.onEvent(e);
    this.unsubscribe = store.capabilities.workEvents?.(onEvent) ?? store.subscribe(onEvent);
    // Jobs a store leases to this worker while it waits idle: they start without a claim round trip.
    this.stopHandoff = store.capabilities.handoff?.({ workerId: this.o.workerId, listener: (jobs) => this.adopt(jobs) }) ?? null;
  }

  /**
   * No more claims or timers; the store gives back what its hand-off had promised this worker.
   * Resolves once a claim already in the air has answered, so the jobs it leased reach the worker
   * (which gives them back: it is stopping) before the worker says it stopped; or once `bound`
   * resolves, whichever comes first (a claim the store never answers must not hold the stop).
   */
  async stopClaiming(bound: Promise<void>): Promise<void> {
    this.wakeTimer?.cancel();
    this.wakeTimer = null;
    const handoff = this.stopHandoff;
    this.stopHandoff = null;
    const answered = this.claimCall?.then(() => undefined, () => undefined);
    await Promise.all([handoff?.(), answered && Promise.race([answered, bound])]);
  }

  /** Stop listening for store events (cancel requests included: call once nothing runs). */
  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /** Ask for a claim soon; many wakes in one tick make one claim. */
  wake(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      void this.pump();
    });
  }

  /** Wake at this clock time, unless a wake is already set for then or sooner. */
  wakeAt(at: number): void {
    if (!this.o.accepting()) return;
    if (this.wakeTimer && this.wakeTimer.at <= at) return;
    this.wakeTimer?.cancel();
    const cancel = this.o.clock.at(at, () => {
      this.wakeTimer = null;
      this.wake();
    });
    this.wakeTimer = { at, cancel };
  }

  /**
   * How many jobs a batch of outcomes may claim in its own store call (finishAndClaim): none while a
   * claim of ours is in the air (it counted those slots already) or once the worker stops.
   */
  claimBeside(free: number): number {
    if (!this.o.accepting() || this.claimingNow || free <= 0) return 0;
    return Math.min(free, this.o.batchSize);
  }

  /** An idle worker claims again within pollMs, so a hand-off registration lasts two of them. */
  claimRequest(limit: number, now: number): ClaimRequest {
    const { workerId, leaseMs, pollMs } = this.o;
    return { queues: this.orderedQueues(), workerId, limit, leaseMs, now, idleMs: 2 * pollMs };
  }

  /** The store answered a call: the claim backoff after store errors starts over. */
  storeAnswered(): void {
    this.storeErrors = 0;
  }

  /**
   * Start the jobs a claim brought (one of ours, or one riding on an outcome batch). The store has
   * just said how much work there is: claim again only if it filled every slot asked for, else
   * sleep until its next due time or the poll period.
   */
  took(res: ClaimResult, limit: number): void {
    for (const job of res.jobs) this.o.run(job);
    if (res.jobs.length === limit) this.pumpAgain = true;
    else this.wakeAt(Math.min(res.nextWakeAt ?? Infinity, this.o.clock.now() + this.o.pollMs));
  }

  /** After outcome batches land: the claim that waited for them goes now. */
  resume(): void {
    if (this.pumpAgain) this.wake();
  }

  private onEvent(e: StoreEvent): void {
    if (e.type === 'cancel-requested' && e.jobId) {
      this.o.cancel(e.jobId);
      return;
    }
    if (!this.queueSet.has(e.queue) || !this.o.accepting()) return;
    // A pause, or new limits: jobs of the queue claimed ahead go back and are claimed again under
    // its rules now, so a lowered concurrency or rate limit holds for them too. A resume as well:
    // a process of an earlier version still tells of new limits as 'resumed'. Not on a resync after
    // a lost connection (missed: every queue at once, no change known): a claim counts against a
    // rate limit and a give-back does not undo it, so each job given back spent the window's budget
    // twice and waited out the window, on every worker at once.
    if (e.type === 'paused' || e.type === 'limits-changed' || (e.type === 'resumed' && !e.missed)) this.o.queueChanged(e.queue);
    if (e.type === 'paused') return;
    if (e.type === 'queued' && e.jobId !== undefined) {
      // A job handed to this worker at its add (capabilities.handoff) is already running here: no
      // claim for it. Nor for a delayed job our own claim promoted and took: the store tells of the
      // promotion before the claim's answer starts it here, so look again once the answers read
      // now are in (the next turn of the event loop); before, each delayed job cost a second claim.
      if (this.o.holds(e.jobId)) return;
      this.heard.push(e.jobId);
      if (this.heard.length === 1) setImmediate(() => this.wakeForHeard());
      return;
    }
    if (e.type === 'queued' || e.type === 'resumed' || e.type === 'limits-changed') this.wake();
    else if ((e.type === 'scheduled' || e.type === 'retrying') && e.runAt !== undefined) this.wakeAt(e.runAt);
  }

  /** Claim for the queued jobs heard of (onEvent) unless every one of them runs here by now. */
  private wakeForHeard(): void {
    const heard = this.heard;
    this.heard = [];
    if (this.o.accepting() && heard.some((id) => !this.o.holds(id))) this.wake();
  }

  /** Jobs the store leased to this worker on its own (capabilities.handoff): run like claimed ones. */
  private adopt(jobs: Job[]): void {
    for (const job of jobs) this.o.run(job);
  }

  private orderedQueues(): string[] {
    const { queues, weights, random } = this.o;
    if (!weights) return queues;
    // Weighted draw without replacement: a queue of weight 3 leads three times as often as one of weight 1.
    const pool = queues.map((q) => ({ q, w: Math.max(0, weights[q] ?? 1) }));
    const out: string[] = [];
    while (pool.length) {
      const total = pool.reduce((s, p) => s + p.w, 0);
      let x = random() * total;
      let i = 0;
      while (i < pool.length - 1 && x >= pool[i]!.w) x -= pool[i++]!.w;
      out.push(pool.splice(i, 1)[0]!.q);
    }
    return out;
  }

  private async pump(): Promise<void> {
    if (this.claimingNow) {
      this.pumpAgain = true;
      return;
    }
    this.claimingNow = true;
    try {
      do {
        this.pumpAgain = false;
        if (!this.o.accepting()) return;
        if (this.o.outcomesInFlight()) {
          // Claim after the batches land, never beside them (they claim in the same store call); their landing resumes us.
          this.pumpAgain = true;
          return;
        }
        const free = this.o.freeSlots();
        if (free <= 0) return;
        const limit = Math.min(free, this.o.batchSize);
        let res;
        try {
          res = await (this.claimCall = this.o.store.claimJobs(this.claimRequest(limit, this.o.clock.now())));
          this.storeErrors = 0;
        } catch (err) {
          this.onStoreError(err, 'claim');
          return;
        } finally {
          this.claimCall = null;
        }
        this.took(res, limit);
      } while (this.pumpAgain);
    } finally {
      this.claimingNow = false;
    }
  }

  private onStoreError(err: unknown, op: string): void {
    this.storeErrors++;
    const delay = Math.min(5000, 50 * 2 ** Math.min(this.storeErrors, 7));
    this.o.log.error({ workerId: this.o.workerId, op, err: (err as Error)?.message, retryInMs: delay }, 'store call failed');
    this.wakeAt(this.o.clock.now() + delay);
  }
}
