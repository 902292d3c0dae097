// The outbox: what a slot cannot hold atomically across queues (follow-up jobs of an outcome, jobs
// of a schedule run) is written as an entry in the source slot by the same script that records the
// outcome, delivered right after, then deleted. A sweep redelivers entries a process left when it
// died in between; delivery is idempotent by job id (an add of an existing id creates nothing).
// Where adds wait for replicas (`?waitReplicas=`), an entry whose jobs they did not confirm stays
// for the sweep: a failover then keeps the jobs or the entry that adds them again (on a Cluster the
// jobs' queue may be on another master than the entry).
import type { NewJob } from '../../core/job.js';
import type { Raw } from './runner.js';
import { addArgs } from './codec.js';
import type { RedisContext } from './context.js';
import type { JobsIn } from './jobs-in.js';
import { NotReplicatedError } from './replica-wait.js';
import { isRedisOutOfMemory } from '../../core/store-errors.js';

/** Jobs of one outbox entry: [queue, ...addArgs] each, added at `now`. */
interface OutboxEntry {
  now: number;
  jobs: [string, ...Raw][];
}

/** Entries one sweep redelivers per outbox. */
const DRAIN_COUNT = 100;
/** How long sweeps leave the outboxes alone after the replicas last did not confirm a delivery. */
const UNCONFIRMED_PAUSE_MS = 10_000;

export class Outbox {
  /** When (performance.now()) the replicas last did not confirm a delivery's jobs (`?waitReplicas=`). */
  private unconfirmedAt = -Infinity;

  constructor(private readonly ctx: RedisContext, private readonly jobsIn: JobsIn) {}

  /** The stored text of an entry holding `jobs`. */
  entry(jobs: NewJob[], now: number): string {
    const entry: OutboxEntry = { now, jobs: jobs.map((j) => [j.queue, ...addArgs(j)]) };
    return JSON.stringify(entry);
  }

  /**
   * Add an entry's jobs, then delete it from its outbox. Where adds wait for replicas and they did
   * not confirm every job of the entry, it stays for the sweep (each queue's jobs are tried) and
   * this answers false.
   */
  async deliver(outboxKey: string, field: string, text: string): Promise<boolean> {
    const entry = JSON.parse(text) as OutboxEntry;
    const byQueue = new Map<string, Raw[]>();
    for (const [queue, ...args] of entry.jobs) {
      const list = byQueue.get(queue);
      if (list) list.push(args);
      else byQueue.set(queue, [args]);
    }
    let confirmed = true;
    for (const [queue, rows] of byQueue) {
      try {
        await this.jobsIn.addRows(queue, rows, entry.now);
      } catch (err) {
        // Refused for memory (Redis at maxmemory), as for unconfirmed jobs: the entry stays for the
        // sweep, which leaves the outboxes alone a while; the outcome that wrote it stands.
        if (!(err instanceof NotReplicatedError) && !isRedisOutOfMemory(err)) throw err;
        confirmed = false;
        this.unconfirmedAt = performance.now();
      }
    }
    if (confirmed) await this.ctx.client.hdel(outboxKey, field);
    return confirmed;
  }

  /**
   * Deliver the entry an outcome or a schedule's run just wrote. Where adds wait for replicas, in
   * the background: a finish (and the claim that may ride with it) or the scheduler must not wait
   * for a replica; the entry stays until its jobs are confirmed, and a failed delivery leaves it for
   * the sweep.
   */
  async afterWrite(outboxKey: string, field: string, text: string): Promise<void> {
    if (!this.ctx.addsWait) {
      await this.deliver(outboxKey, field, text);
      return;
    }
    this.deliver(outboxKey, field, text).catch((err: unknown) => (this.ctx.lastError = err as Error));
  }

  /**
   * Redeliver entries left by a process that died between an outcome and its delivery, or whose
   * jobs the replicas did not confirm. While they are not confirming, the sweep does not wait on
   * them entry after entry: it leaves the outboxes until UNCONFIRMED_PAUSE_MS after the last refusal.
   */
  async drain(outboxKey: string): Promise<void> {
    if (performance.now() - this.unconfirmedAt < UNCONFIRMED_PAUSE_MS) return;
    const [, flat] = await this.ctx.client.hscan(outboxKey, '0', 'COUNT', DRAIN_COUNT);
    for (let i = 0; i < flat.length; i += 2) {
      if (!(await this.deliver(outboxKey, flat[i]!, flat[i + 1]!))) return;
    }
  }
}
