// What every part of the Redis store shares: the command connection, the key names, the script
// runner, and what this process knows about queues and jobs (which queues it registered, which
// queue each job it claimed is in). The parts (jobs-in.ts, claim.ts, operator.ts, ...) each take
// one of these; the store class wires them together.
import { SharedClock } from '../../core/shared-clock.js';
import type { ScriptRunner } from './runner.js';
import { jobFormatScript, type ScriptCall } from './script-calls.js';
import type { RedisClient } from './connect.js';
import type { RedisKeys } from './keys.js';

/**
 * A field of the id index that keeps it a hash table from its first job. As a listpack (up to
 * hash-max-listpack-entries, 512 by default) every add's HSETNX scans it: ~25k instructions per add
 * on average over ids 200-512 (callgrind), for good in a deployment whose retention keeps it small.
 * A field longer than hash-max-listpack-value converts it. It starts with byte 255, which no UTF-8
 * id holds, and no reader enumerates the index.
 */
const ID_INDEX_ANCHOR = Buffer.concat([Buffer.from([255]), Buffer.from('~'.repeat(80))]);
/** Most ids the job → queue cache holds; the oldest go first. */
const QUEUE_CACHE_SIZE = 100_000;
/** The server's clock. Run with a key, so that on Cluster every process reads the same master's. */
const SERVER_TIME_SCRIPT = "return redis.call('TIME')";

export class RedisContext {
  /** The last connection or background error seen, for diagnostics. */
  lastError: Error | null = null;
  closed = false;
  /** A subscription being made: calls wait for it, so a listener that just subscribed sees their events (pubsub.ts). */
  subscribing: Promise<void> | null = null;
  /** Queues this process has registered in the queue set (cleared when Redis comes back without its data). */
  readonly registeredQueues = new Set<string>();
  /** Queues this process's workers claim from: they get a wake after an event-connection reconnect. */
  readonly claimedQueues = new Set<string>();
  /** Counters for diagnostics and tests: lost claims put back (and their jobs), sweep lock renewals. */
  readonly stats = { lostClaims: 0, releasedJobs: 0, sweepRenewals: 0 };
  /** The time every process of this store agrees on: the server's (first read when the store opens: stores/index.ts, Fusion.open). */
  readonly clock = new SharedClock(() => this.serverTime());
  /**
   * Whether adds write lean job hashes (only fields not at their default): the prefix's format mark
   * (jobFormat in lua/lib/keys.lua), read before this process first writes (knowFormat) and again
   * on each worker beat. Full until known: a full hash every version reads.
   */
  leanJobs = false;
  /** The format read under way or done on this connection (null: to read; cleared on reconnect). */
  private formatRead: Promise<void> | null = null;
  /** id → queue for jobs this process claimed: spares an index lookup on heartbeat and finish. */
  private readonly queueOfJob = new Map<string, string>();

  /**
   * `addScripts`: where adds run when they wait for replicas (`?waitReplicas=`), on a connection of
   * their own, as WAIT holds up every call behind it on its connection (else `scripts`).
   */
  constructor(
    readonly client: RedisClient,
    readonly keys: RedisKeys,
    readonly cluster: boolean,
    private readonly scripts: ScriptRunner,
    private readonly addScripts: ScriptRunner = scripts,
  ) {}

  /** Whether adds wait for replicas (`?waitReplicas=`). */
  get addsWait(): boolean {
    return this.addScripts !== this.scripts;
  }

  /** The server's clock, epoch ms: on Cluster the master of the global keys' slot. */
  private async serverTime(): Promise<number> {
    const [seconds, micros] = (await this.client.eval(SERVER_TIME_SCRIPT, 1, this.keys.queueNames)) as [string, string];
    return Number(seconds) * 1000 + Number(micros) / 1000;
  }

  run<T>(call: ScriptCall<T>): Promise<T> {
    if (this.subscribing) return this.subscribing.then(() => this.scripts.call(call));
    return this.scripts.call(call);
  }

  /**
   * An add script: answered once stored, and where adds wait for replicas, once they hold it.
   * `wrote`: whether an answer says it created a job (one that created none needs a check write).
   */
  runAdd<T>(call: ScriptCall<T>, wrote: (answer: T) => boolean): Promise<T> {
    if (this.subscribing) return this.subscribing.then(() => this.addScripts.call(call, wrote));
    return this.addScripts.call(call, wrote);
  }

  rememberQueue(id: string, queue: string): void {
    if (this.queueOfJob.size >= QUEUE_CACHE_SIZE) this.queueOfJob.delete(this.queueOfJob.keys().next().value!);
    this.queueOfJob.set(id, queue);
  }

  /** A job this process will not report on again (it ended). */
  forgetQueue(id: string): void {
    this.queueOfJob.delete(id);
  }

  /** Jobs deleted: out of the cache, and on Cluster out of the id index (scripts do it on a single Redis). */
  async unindex(ids: string[]): Promise<void> {
    for (const id of ids) this.queueOfJob.delete(id);
    if (this.cluster && ids.length) await this.client.hdel(this.keys.idIndex, ...ids);
  }

  /**
   * Read the prefix's job hash format, once per connection, before this process first writes a
   * queue, schedule or worker: the read marks a prefix that holds nothing yet lean, which it no
   * longer could once this process's own write landed.
   */
  knowFormat(): Promise<void> {
    this.formatRead ??= this.run(jobFormatScript({ globalKeyBase: this.keys.globalKeyBase })).then(
      (format) => this.setFormat(format),
      (err: unknown) => {
        this.formatRead = null;
        throw err;
      },
    );
    return this.formatRead;
  }

  /** A format the scripts answered ('lean' or ''). */
  setFormat(format: string): void {
    this.leanJobs = format === 'lean';
  }

  /** The connection came back: Redis may have restarted without its data (and its mark). */
  reconnected(): void {
    this.registeredQueues.clear();
    this.formatRead = null;
  }

  async registerQueue(queue: string): Promise<void> {
    if (this.registeredQueues.has(queue)) return;
    await this.knowFormat();
    await Promise.all([this.client.sadd(this.keys.queueNames, queue), this.client.hsetnx(this.keys.idIndex, ID_INDEX_ANCHOR, '1')]);
    this.registeredQueues.add(queue);
  }

  async allQueues(): Promise<string[]> {
    return (await this.client.smembers(this.keys.queueNames)).sort();
  }

  /** The queue of each id, from the cache, then the index; null if unknown. */
  async queuesOf(ids: string[]): Promise<(string | null)[]> {
    const out = ids.map((id) => this.queueOfJob.get(id) ?? null);
    const missing = ids.filter((_, i) => out[i] === null);
    if (missing.length) {
      const found = await this.client.hmget(this.keys.idIndex, ...missing);
      let next = 0;
      for (let i = 0; i < ids.length; i++) if (out[i] === null) out[i] = found[next++] ?? null;
    }
    return out;
  }

  /** The queue of one job, or null if it does not exist. */
  async locate(id: string): Promise<string | null> {
    const [queue] = await this.queuesOf([id]);
    if (queue) return queue;
    if (!this.cluster) return null;
    // On Cluster the index is written after the job (another slot): look in every queue before saying no.
    for (const candidate of await this.allQueues()) {
      if (await this.client.exists(this.keys.job(candidate, id))) return candidate;
    }
    return null;
  }

  /** Positions of items grouped by the queue of their job id; unknown ids go to `unknown`. */
  async groupByQueue<T extends { id: string }>(items: T[]): Promise<{ groups: Map<string, number[]>; unknown: number[] }> {
    const queues = await this.queuesOf(items.map((x) => x.id));
    const groups = new Map<string, number[]>();
    const unknown: number[] = [];
    queues.forEach((queue, i) => {
      if (queue === null) return void unknown.push(i);
      const list = groups.get(queue);
      if (list) list.push(i);
      else groups.set(queue, [i]);
    });
    return { groups, unknown };
  }
}

/** Positions of items grouped by a key, in first-seen order. */
export function groupPositions<T>(items: T[], keyOf: (item: T) => string): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  items.forEach((item, i) => {
    const key = keyOf(item);
    const list = groups.get(key);
    if (list) list.push(i);
    else groups.set(key, [i]);
  });
  return groups;
}
