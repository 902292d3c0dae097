// A request to a partner's host through both guards kept per host: its share of this process's
// requests while it is slow (slow-hosts.ts: the job snoozed past it) and its breaker
// (host-breaker.ts: failed at once while open). Only the exchange is timed for the slow-host test,
// not the breaker's store calls around it.
import type { Clock } from '../../core/clock.js';
import type { Job } from '../../core/job.js';
import type { HostBreaker } from './host-breaker.js';
import type { SlowHosts } from './slow-hosts.js';

export interface HostGuards {
  slowHosts: SlowHosts;
  breaker: HostBreaker;
}

export function throughHostGuards<T>(
  guards: HostGuards, url: string, ctx: { job: Pick<Job, 'attempts' | 'maxAttempts' | 'backoff' | 'history'>; signal: AbortSignal },
  clock: Clock, probeSpacingMs: number,
  exchange: () => Promise<T>, isFailure?: (err: unknown) => boolean,
): Promise<T> {
  return guards.slowHosts.around(url, ctx.job, (timed) => guards.breaker.around(url, ctx, clock, probeSpacingMs, () => timed(exchange), isFailure));
}
