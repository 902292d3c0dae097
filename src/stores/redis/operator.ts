// Operator actions on one job (cancel, reschedule, promote, retry, remove: one job-op script each,
// its guard taken from the core state rules) and retention (clean).
import type { Job, JobState } from '../../core/job.js';
import { FINISHED_STATES, isFinished } from '../../core/job.js';
import { notFound } from '../../core/errors.js';
import type { CleanQuery, JobAction, RescheduleJob, RetryJob } from '../../core/store.js';
import { refusal, type OperatorAction } from '../../core/state-rules.js';
import { cleanScript, jobOpScript } from './script-calls.js';
import { rowToJob } from './codec.js';
import type { RedisContext } from './context.js';

/** Most jobs one clean script deletes, so retention never holds Redis for long. */
const CLEAN_SLICE = 500;

export class OperatorActions {
  constructor(private readonly ctx: RedisContext) {}

  /** One action on one job: the job after it, null once removed; not found and refusals thrown. */
  private async act(action: OperatorAction, id: string, now: number, argument: string | number = ''): Promise<Job | null> {
    const { ctx } = this;
    const queue = await ctx.locate(id);
    if (!queue) throw notFound('job', id);
    const answer = await ctx.run(jobOpScript({
      queueKeyBase: ctx.keys.queueKeyBase(queue), idIndexKey: ctx.keys.scriptIdIndex, channel: ctx.keys.scriptChannel, queue, now, action, id, argument,
    }));
    if (answer[0] === 'missing') throw notFound('job', id);
    if (answer[0] === 'conflict') throw refusal(action, id, answer[1] as JobState);
    if (answer[0] === 'removed') {
      await ctx.unindex([id]);
      return null;
    }
    return rowToJob(id, queue, answer[1])!;
  }

  async cancelJob({ id, now }: JobAction): Promise<Job> {
    return (await this.act('cancel', id, now))!;
  }

  async rescheduleJob({ id, runAt, now }: RescheduleJob): Promise<Job> {
    return (await this.act('reschedule', id, now, runAt))!;
  }

  async promoteJob({ id, now }: JobAction): Promise<Job> {
    return (await this.act('promote', id, now))!;
  }

  async retryJob({ id, now, ...opts }: RetryJob): Promise<Job> {
    return (await this.act('retry', id, now, opts.resetAttempts === false ? '0' : '1'))!;
  }

  async removeJob({ id, now }: JobAction): Promise<void> {
    await this.act('remove', id, now);
  }

  async cleanJobs(query: CleanQuery): Promise<number> {
    const { ctx } = this;
    const states = (query.states ?? FINISHED_STATES).filter((s) => isFinished(s));
    if (states.length === 0) return 0;
    const limit = Math.min(Math.max(query.limit ?? 1000, 1), 100_000);
    const queues = query.queue !== undefined ? [query.queue] : await ctx.allQueues();
    let removed = 0;
    for (const queue of queues) {
      while (removed < limit) {
        const slice = Math.min(limit - removed, CLEAN_SLICE);
        const ids = await ctx.run(cleanScript({
          queueKeyBase: ctx.keys.queueKeyBase(queue), idIndexKey: ctx.keys.scriptIdIndex, endedBefore: query.endedBefore, limit: slice, states,
        }));
        await ctx.unindex(ids);
        removed += ids.length;
        if (ids.length < slice) break;
      }
      if (removed >= limit) break;
    }
    return removed;
  }
}
