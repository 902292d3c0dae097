// A circuit breaker per destination host for requests to URLs Fusion did not choose (webhooks,
// their callbacks, job callbacks), shared by every worker of the store. Without it a partner whose
// endpoint hangs costs each of its queued jobs a worker slot for a whole timeout (15 s by default),
// and every other partner's jobs in the same lane wait behind them. After `threshold` timeouts or
// connection failures to one host within `windowMs`, the breaker opens: for `cooldownMs` its jobs
// fail at once, retryable, and come back no sooner than the breaker closes and their own backoff.
// Then it is half open: one request at a time (one per probe spacing, the request timeout) tries
// the host; a success closes the breaker, a failure opens it again.
import { backoffDelay } from '../../core/backoff.js';
import type { Clock } from '../../core/clock.js';
import type { Job } from '../../core/job.js';
import type { Logger } from '../../core/logger.js';
import type { SharedState } from '../../core/store.js';
import type { HostBreakerConfig } from '../config-types.js';
import { ProviderError } from '../provider.js';

export const HOST_BREAKER_DEFAULTS = { threshold: 5, windowMs: 60_000, cooldownMs: 30_000 } as const;

/** How long a tripped breaker's state is kept once its cooldown ends, waiting for a probe's answer. */
const HALF_OPEN_KEPT_MS = 3_600_000;
/** How long this process trusts its own last look at a closed host before asking the store again. */
const LOCAL_LOOK_MS = 250;

/** What `admit` found: send as usual, or send as the one probe of a half-open host. */
export type Admission = 'closed' | 'probe';

interface Tripped {
  openUntil: number;
}

/** The error a job to an open host fails with (retryable; retryAfterMs set). */
export class HostOpenError extends ProviderError {
  override name = 'HostOpenError';
}

export class HostBreaker {
  private readonly threshold: number;
  private readonly windowMs: number;
  private readonly cooldownMs: number;
  /** Hosts this process saw closed, and when: a store read at most every LOCAL_LOOK_MS per host. */
  private readonly seenClosed = new Map<string, number>();

  constructor(private readonly shared: SharedState | undefined, config: HostBreakerConfig | undefined, private readonly logger: Logger) {
    this.threshold = config?.threshold ?? HOST_BREAKER_DEFAULTS.threshold;
    this.windowMs = config?.windowMs ?? HOST_BREAKER_DEFAULTS.windowMs;
    this.cooldownMs = config?.cooldownMs ?? HOST_BREAKER_DEFAULTS.cooldownMs;
  }

  private get on(): boolean {
    return this.shared !== undefined && this.threshold > 0;
  }

  /**
   * Before a request to `url`: 'closed' (send), 'probe' (send: this is the half-open host's one
   * try), or a HostOpenError thrown for the job to retry later. `probeSpacingMs`: the request's
   * timeout, so one probe at a time is in flight per host across every worker.
   */
  async admit(url: string, job: Pick<Job, 'attempts' | 'backoff'>, now: number, probeSpacingMs: number): Promise<Admission> {
    if (!this.on) return 'closed';
    const host = hostOf(url);
    const seen = this.seenClosed.get(host);
    if (seen !== undefined && now - seen < LOCAL_LOOK_MS) return 'closed';
    const tripped = await this.shared!.get<Tripped>(tripKey(host), now);
    if (!tripped) {
      this.remember(host, now);
      return 'closed';
    }
    this.seenClosed.delete(host);
    if (now < tripped.openUntil) throw this.openError(host, url, job, tripped.openUntil - now);
    const wait = await this.shared!.take(probeKey(host), 1000 / Math.max(1, probeSpacingMs), 0, now);
    if (wait < 0) throw this.openError(host, url, job, -wait);
    return 'probe';
  }

  /**
   * `send` a request to `url` through the breaker: admitted (or HostOpenError thrown), its failure
   * counted when `isFailure` says it was the host's (not when the attempt itself was aborted), a
   * probe's answer closing the breaker.
   */
  async around<T>(
    url: string, ctx: { job: Pick<Job, 'attempts' | 'backoff'>; signal: AbortSignal }, clock: Clock, probeSpacingMs: number,
    send: () => Promise<T>, isFailure: (err: unknown) => boolean = isHostFailure,
  ): Promise<T> {
    const admission = await this.admit(url, ctx.job, clock.now(), probeSpacingMs);
    let out: T;
    try {
      out = await send();
    } catch (err) {
      if (!ctx.signal.aborted && isFailure(err)) await this.failed(url, admission, clock.now());
      throw err;
    }
    await this.answered(url, admission, clock.now());
    return out;
  }

  /** A request admitted as `admission` timed out or could not connect. */
  async failed(url: string, admission: Admission, now: number): Promise<void> {
    if (!this.on) return;
    const host = hostOf(url);
    const failures = await this.shared!.hit(failuresKey(host), this.windowMs, now);
    if (admission !== 'probe' && failures < this.threshold) return;
    this.seenClosed.delete(host);
    await this.shared!.put(tripKey(host), { openUntil: now + this.cooldownMs } satisfies Tripped, this.cooldownMs + HALF_OPEN_KEPT_MS, now);
    if (admission === 'probe' || failures === this.threshold) {
      this.logger.warn({ host, failures, windowMs: this.windowMs, cooldownMs: this.cooldownMs, probe: admission === 'probe' },
        'host breaker open: requests to this host fail at once until its cooldown ends');
    }
  }

  /** A request admitted as `admission` got an answer: a probe's answer closes its host's breaker. */
  async answered(url: string, admission: Admission, now: number): Promise<void> {
    if (!this.on || admission !== 'probe') return;
    const host = hostOf(url);
    // Kept for a millisecond: the store's shared values have no delete, and an expired one reads as none.
    await this.shared!.put(tripKey(host), null, 1, now);
    this.remember(host, now);
    this.logger.info({ host }, 'host breaker closed: the host answered again');
  }

  private remember(host: string, now: number): void {
    if (this.seenClosed.size >= 1000) this.seenClosed.clear();
    this.seenClosed.set(host, now);
  }

  private openError(host: string, url: string, job: Pick<Job, 'attempts' | 'backoff'>, openForMs: number): HostOpenError {
    // No sooner than the job's own backoff: an attempt is spent, as for any retry, so a long outage
    // spends attempts no faster than timeouts would have.
    const retryAfterMs = Math.max(openForMs, backoffDelay(job.backoff, job.attempts));
    return new HostOpenError(`${url}: not tried, ${host} is failing (its breaker opened after ${this.threshold} timeouts or connection failures within ${this.windowMs} ms); trying again in ${retryAfterMs} ms`, {
      code: 'host_unavailable', retryable: true, retryAfterMs,
    });
  }
}

/** Whether a failed request counts against its host: a timeout or a connection failure, not an HTTP answer. */
export function isHostFailure(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return code === 'timeout' || code === 'network_error';
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

const tripKey = (host: string) => `host:breaker:${host}`;
const failuresKey = (host: string) => `host:failures:${host}`;
const probeKey = (host: string) => `host:probe:${host}`;
