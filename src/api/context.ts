// What every route module gets: the engine pieces and the server's shared services.
import type { FastifyRequest } from 'fastify';
import type { Fusion } from '../fusion.js';
import type { Job, JobSpec, NewJob } from '../core/job.js';
import type { Store } from '../core/store.js';
import { FusionError } from '../core/errors.js';
import { resolveSpec } from '../core/queue.js';
import { apiError } from './errors.js';
import type { ApiMetrics } from './metrics.js';
import type { JobWatcher } from './watcher.js';
import type { ConsentStore } from './consent.js';
import type { TimeWindow } from './times.js';
import type { JobBatcher } from './batcher.js';
import type { SchedulerLike } from './scheduler-port.js';

import { CHANNEL_TASKS } from '../channels/queues.js';

/** The channels' task names: known before their handlers are registered, so their jobs can wait in queue. */
export { CHANNEL_TASKS };

export interface ApiContext {
  fusion: Fusion;
  store: Store;
  window: TimeWindow;
  sensitive: string[];
  metrics: ApiMetrics;
  watcher: JobWatcher;
  consent: ConsentStore;
  batcher: JobBatcher;
  scheduler: SchedulerLike | null;
  extraTasks: ReadonlySet<string>;
  now(): number;
  principalOf(req: FastifyRequest): string;
}

export function isKnownTask(ctx: ApiContext, task: string): boolean {
  return ctx.fusion.registry.has(task) || (CHANNEL_TASKS as readonly string[]).includes(task) || ctx.extraTasks.has(task);
}

export function unknownTask(field: string, task: string) {
  return apiError(422, 'unknown_task', `no handler is registered for task "${task}"`, { field, task });
}

/** resolveSpec with its error re-pointed at the field's full path (e.g. jobs[2].priority). */
export function resolve(ctx: ApiContext, spec: JobSpec, now: number, prefix = ''): NewJob {
  try {
    return resolveSpec(spec, now, ctx.fusion.registry);
  } catch (e) {
    if (e instanceof FusionError && typeof e.details.field === 'string') {
      throw new FusionError(e.code, e.message, { ...e.details, field: `${prefix}${e.details.field}` }, e.status);
    }
    throw e;
  }
}

/** Add resolved jobs through the shared batcher and count the new ones. */
export async function createJobs(ctx: ApiContext, jobs: NewJob[]): Promise<{ job: Job; created: boolean }[]> {
  const out = await ctx.batcher.add(jobs);
  for (const r of out) if (r.created) ctx.metrics.created(r.job.queue, r.job.task, r.job.id);
  return out;
}
