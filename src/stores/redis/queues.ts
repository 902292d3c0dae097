// Queues: pause, resume and options (one queue-set script, which also publishes the event that
// wakes idle workers), and what each queue holds (counts, oldest queued job).
import type { StoreEventType, CountJobs, QueueAction, QueueInfo, SetQueueOptions, StateCounts } from '../../core/store.js';
import { emptyCounts } from '../../core/store.js';
import { JOB_STATES } from '../../core/job.js';
import type { Raw } from './runner.js';
import { queueInfoScript, queueSetScript } from './script-calls.js';
import type { RedisContext } from './context.js';

/** Fields of a queue's meta hash (META in lua/lib/keys.lua); the claim script reads them. */
const META = {
  paused: 'paused',
  concurrency: 'conc',
  rateMax: 'rmax',
  rateWindowMs: 'rwin',
  /** The current rate window's start and the claims made in it. */
  rateWindowStart: 'rs',
  rateWindowUsed: 'rc',
} as const;

export class Queues {
  constructor(private readonly ctx: RedisContext) {}

  async pauseQueue({ queue, now }: QueueAction): Promise<void> {
    await this.setMeta(queue, now, 'paused', [META.paused, '1']);
  }

  async resumeQueue({ queue, now }: QueueAction): Promise<void> {
    await this.setMeta(queue, now, 'resumed', [META.paused, '']);
  }

  async setQueueOptions({ queue, options, now }: SetQueueOptions): Promise<void> {
    const fields: Raw = [];
    // The window's start and count stay (as on every store): a limit saved again, or saved with the
    // concurrency as the dashboard does, opened a fresh window, and as many starts again at once.
    if (options.rateLimit !== undefined) fields.push(META.rateMax, options.rateLimit?.max ?? '', META.rateWindowMs, options.rateLimit?.windowMs ?? '');
    if (options.concurrency !== undefined) fields.push(META.concurrency, options.concurrency ?? '');
    // Options can open room (higher limits): let idle workers look again.
    await this.setMeta(queue, now, 'limits-changed', fields);
  }

  /** Set meta fields ('' deletes one) and publish `event` ('' for none). */
  private async setMeta(queue: string, now: number, event: StoreEventType | '', fields: Raw): Promise<void> {
    const { ctx } = this;
    await ctx.registerQueue(queue);
    await ctx.run(queueSetScript({ queueKeyBase: ctx.keys.queueKeyBase(queue), channel: ctx.keys.scriptChannel, queue, now, eventType: event, fields }));
  }

  async countJobs({ queue }: CountJobs = {}): Promise<Record<string, StateCounts>> {
    const queues = queue !== undefined ? [queue] : await this.ctx.allQueues();
    const infos = await Promise.all(queues.map((name) => this.queueInfo(name)));
    return Object.fromEntries(queues.map((name, i) => [name, infos[i]!.counts]));
  }

  async listQueues(): Promise<QueueInfo[]> {
    const names = await this.ctx.allQueues();
    const infos = await Promise.all(names.map((name) => this.queueInfo(name)));
    return names.map((name, i) => {
      const { meta, counts, oldestQueuedAt } = infos[i]!;
      return {
        name,
        paused: meta[META.paused] === '1',
        rateLimit: meta[META.rateMax] !== undefined ? { max: Number(meta[META.rateMax]), windowMs: Number(meta[META.rateWindowMs]) } : null,
        concurrency: meta[META.concurrency] !== undefined ? Number(meta[META.concurrency]) : null,
        counts,
        oldestQueuedAt,
      };
    });
  }

  private async queueInfo(queue: string): Promise<{ meta: Record<string, string>; counts: StateCounts; oldestQueuedAt: number | null }> {
    const [metaFlat, countList, oldest] = await this.ctx.run(queueInfoScript({ queueKeyBase: this.ctx.keys.queueKeyBase(queue) }));
    const meta: Record<string, string> = {};
    for (let i = 0; i < metaFlat.length; i += 2) meta[metaFlat[i]!] = metaFlat[i + 1]!;
    const counts = emptyCounts();
    JOB_STATES.forEach((state, i) => (counts[state] = countList[i]!));
    return { meta, counts, oldestQueuedAt: oldest ? (JSON.parse(oldest) as { createdAt: number }).createdAt : null };
  }
}
