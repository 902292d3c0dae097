// A circuit breaker per destination host for requests to URLs Fusion did not choose (webhooks,
// their callbacks, job callbacks), shared by every worker of the store. Without it a partner whose
// endpoint hangs costs each of its queued jobs a worker slot for a whole timeout (15 s by default),
// and every other partner's jobs in the same lane wait behind them. After `threshold` timeouts or
// connection failures to one host within `windowMs`, the breaker opens: for `cooldownMs` its jobs
// fail at once, retryable, and come back no sooner than the breaker's cooldown and their own
// backoff. Then it is half open: probes try the host, at most one per probe spacing across every
// worker; an answer closes the breaker (and starts its count again), a failure opens it again for
// a cooldown, after which the next probe may go at once.
// A job's last attempt is always tried: no job fails for good without being sent.
import { backoffDelay } from '../../core/backoff.js';
import type { Clock } from '../../core/clock.js';
import { TimeoutError } from '../../core/errors.js';
import type { Job } from '../../core/job.js';
import type { Logger } from '../../core/logger.js';
import type { SharedState } from '../../core/store.js';
import type { BreakerState } from '../../core/events.js';
import type { HostBreakerConfig } from '../config-types.js';
import { ProviderError } from '../provider.js';

const HOST_BREAKER_DEFAULTS = { threshold: 5, windowMs: 60_000, cooldownMs: 30_000 } as const;

/** A breaker's settings: the config's, each at its default where the config has none. */
export function hostBreakerSettings(config: HostBreakerConfig | undefined): Required<HostBreakerConfig> {
  return {
    threshold: config?.threshold ?? HOST_BREAKER_DEFAULTS.threshold,
    windowMs: config?.windowMs ?? HOST_BREAKER_DEFAULTS.windowMs,
    cooldownMs: config?.cooldownMs ?? HOST_BREAKER_DEFAULTS.cooldownMs,
  };
}

/** How long this process trusts its own last look at a closed host before asking the store again. */
const LOCAL_LOOK_MS = 250;
/** How long a half-open host's probe is given to answer before the jobs that found it in flight come back. */
const PROBE_GRACE_MS = 1_000;
/** How far past its record's end failures may push an open breaker's end (a probe then decides). */
const MAX_EXTENSION_MS = 30 * 60_000;
/** How long a breaker's record outlives its window and cooldown (its generation with it). */
const KEPT_MS = 3_600_000;

/**
 * A host's record in the shared state. `generation` names the failure count and the probe slot in
 * use: a breaker that closes moves to the next, so failures from before it opened do not count
 * again, and so does one whose probe failed, so the next probe need not wait out the last one's
 * spacing.
 */
interface HostRecord {
  generation: number;
  /** Open until then; 0 once a probe's answer closed it. */
  openUntil: number;
}

/** What `admit` found: send as usual (`probe` false), or as a probe of a half-open host. */
export interface Admission {
  probe: boolean;
  generation: number;
}

type JobView = Pick<Job, 'attempts' | 'maxAttempts' | 'backoff'>;

/** The error a job to an open host fails with (retryable; retryAfterMs set). */
export class HostOpenError extends ProviderError {
  override name = 'HostOpenError';
}

export class HostBreaker {
  private readonly threshold: number;
  private readonly windowMs: number;
  private readonly cooldownMs: number;
  /** Hosts this process saw closed: when, and their generation (a store read at most every LOCAL_LOOK_MS per host). */
  private readonly seenClosed = new Map<string, { at: number; generation: number }>();

  constructor(private readonly shared: SharedState | undefined, config: HostBreakerConfig | undefined, private readonly logger: Logger) {
    const settings = hostBreakerSettings(config);
    this.threshold = settings.threshold;
    this.windowMs = settings.windowMs;
    this.cooldownMs = settings.cooldownMs;
  }

  private get on(): boolean {
    return this.shared !== undefined && this.threshold > 0;
  }

  /**
   * Before a request to `url`: admitted (send), or a HostOpenError thrown for the job to retry
   * later. `probeSpacingMs`: how long a request may take (probeSpacing), so probes seldom overlap.
   */
  async admit(url: string, job: JobView, now: number, probeSpacingMs: number): Promise<Admission> {
    if (!this.on) return { probe: false, generation: 0 };
    const host = hostOf(url);
    const seen = this.seenClosed.get(host);
    if (seen !== undefined && now - seen.at < LOCAL_LOOK_MS) return { probe: false, generation: seen.generation };
    const record = await this.shared!.get<HostRecord>(recordKey(host), now);
    const generation = record?.generation ?? 0;
    if (!record || record.openUntil === 0) {
      this.remember(host, now, generation);
      return { probe: false, generation };
    }
    this.seenClosed.delete(host);
    const lastAttempt = job.attempts >= job.maxAttempts;
    const openUntil = await this.openUntil(host, record, now);
    if (now < openUntil) {
      if (lastAttempt) return { probe: false, generation };
      throw this.openError(host, url, job, openUntil - now);
    }
    const wait = await this.shared!.take(probeKey(host, generation), 1000 / Math.max(1, probeSpacingMs), 0, now);
    if (wait >= 0) {
      // The slot is this request's now: a failing write of its start must not cost it the probe (an
      // admission lost to a store error would leave the breaker half open with its slot spent).
      await this.shared!.put(probeStartKey(host, generation), now, probeSpacingMs + this.cooldownMs, now).catch((e) => this.bookkeepingFailed(url, e));
      return { probe: true, generation };
    }
    if (lastAttempt) return { probe: false, generation };
    // A probe is in flight; the next slot is -wait ms away. A host that is back answers the probe
    // within moments and closes the breaker, so a job that finds it young comes back when it is
    // PROBE_GRACE_MS old (the backlog of a recovered host resumes then, not a whole spacing later);
    // one that finds it older waits for the next slot. So a job spends at most two attempts on one
    // probe. Its start is read, not worked out from -wait: a probe taken by a job of another timeout
    // (a webhook's own, a callback's 15 s) was spaced by that timeout, not this job's.
    // No start yet: the probe was granted a moment ago, and its start is still being written (or the
    // store failed that write: then waiting jobs come back every second, at their backoff's pace,
    // until the probe's slot frees).
    const probeStart = await this.shared!.get<number>(probeStartKey(host, generation), now);
    const probeAgeMs = now - (probeStart ?? now);
    throw this.openError(host, url, job, probeAgeMs < PROBE_GRACE_MS ? PROBE_GRACE_MS - probeAgeMs : -wait);
  }

  /**
   * `send` a request to `url` through the breaker: admitted (or HostOpenError thrown); its failure
   * counted when `isFailure` says it was the host's, and the attempt was not ended by us (a cancel,
   * a stop, a lost lease; its own timeout counts); a probe's answer closing the breaker. The
   * breaker's own reads and writes never decide the job: when the store fails them, the request
   * goes out (or its outcome stands) as if there were no breaker.
   */
  async around<T>(
    url: string, ctx: { job: JobView; signal: AbortSignal }, clock: Clock, probeSpacingMs: number,
    send: () => Promise<T>, isFailure: (err: unknown) => boolean = isHostFailure,
  ): Promise<T> {
    let admission: Admission | null = null;
    try {
      admission = await this.admit(url, ctx.job, clock.now(), probeSpacingMs);
    } catch (err) {
      if (err instanceof HostOpenError) throw err;
      this.bookkeepingFailed(url, err);
    }
    let out: T;
    try {
      out = await send();
    } catch (err) {
      const endedByUs = ctx.signal.aborted && !(ctx.signal.reason instanceof TimeoutError);
      if (admission && !endedByUs && isFailure(err)) await this.failed(url, admission, clock.now()).catch((e) => this.bookkeepingFailed(url, e));
      throw err;
    }
    if (admission) await this.answered(url, admission, clock.now()).catch((e) => this.bookkeepingFailed(url, e));
    return out;
  }

  /**
   * A request admitted as `admission` timed out or could not connect. At `threshold` failures of
   * its generation within the window the breaker opens; each one after, while it is open, pushes its
   * end on to now + cooldown. A failed probe opens it again under a new generation (a new count, a
   * new probe slot). Once half open, only the probe decides.
   */
  async failed(url: string, admission: Admission, now: number): Promise<void> {
    if (!this.on) return;
    const host = hostOf(url);
    const record = await this.current(host, admission, now);
    if (record === undefined) return;
    const open = record !== null && record.openUntil !== 0;
    // Half open: a request that was no probe (a last attempt, sent while the breaker was open) leaves
    // it to the probe.
    if (!admission.probe && open && (await this.openUntil(host, record, now)) <= now) return;
    const failures = await this.shared!.hit(failuresKey(host, admission.generation), this.windowMs, now);
    if (!admission.probe && failures < this.threshold) return;
    this.seenClosed.delete(host);
    if (!admission.probe && open) {
      // Open already: its end is pushed on under a key of this generation only (a flag: the later end
      // wins), never by writing the record, so a write landing after a failed probe's (which moved
      // the record to the next generation) cannot put the old generation, and its spent probe slot,
      // back. Pushed on at most MAX_EXTENSION_MS past the end the record gives: then a probe goes,
      // whose failure writes the record (and lists the host) anew, before the record could expire.
      const until = Math.min(now + this.cooldownMs, record.openUntil + MAX_EXTENSION_MS);
      if (until > now) await this.shared!.flag(extendedKey(host, admission.generation), until, now);
      return;
    }
    // A failed probe is over: it reopens the breaker under the next generation, whose probe slot is
    // fresh, so the next probe goes when this cooldown ends, not a whole probe spacing after this
    // one (40 s for a callback's 15 s timeout, where a refused connection fails in a millisecond).
    const generation = admission.probe ? admission.generation + 1 : admission.generation;
    await this.shared!.put(recordKey(host), { generation, openUntil: now + this.cooldownMs } satisfies HostRecord, this.keptMs, now);
    // Two workers may both cross the threshold and write the opening: the first to count it (hit is
    // atomic) reports it, once per generation, whichever failure it was.
    if ((await this.shared!.hit(openedKey(host, generation), this.keptMs, now)) !== 1) return;
    this.logger.warn({ host, failures, windowMs: this.windowMs, cooldownMs: this.cooldownMs, probe: admission.probe },
      'host breaker open: requests to this host fail at once until its cooldown ends');
    // Listed for GET /v1/breakers, /metrics and the dashboard (hostBreakers, below).
    await this.shared!.tally?.(indexKey(now), { [host]: 1 }, 2 * INDEX_BUCKET_MS, now);
  }

  /** A request admitted as `admission` got an answer: a probe's answer closes its host's breaker. */
  async answered(url: string, admission: Admission, now: number): Promise<void> {
    if (!this.on || !admission.probe) return;
    const host = hostOf(url);
    if ((await this.current(host, admission, now)) === undefined) return;
    const generation = admission.generation + 1;
    await this.shared!.put(recordKey(host), { generation, openUntil: 0 } satisfies HostRecord, this.keptMs, now);
    this.remember(host, now, generation);
    this.logger.info({ host }, 'host breaker closed: the host answered again');
  }

  /** When an open breaker's cooldown ends: its record's end, or later where failures since pushed it on. */
  private async openUntil(host: string, record: HostRecord, now: number): Promise<number> {
    return openUntilOf(this.shared!, host, record, now);
  }

  /**
   * The host's record (null: none) when it is still of the admission's generation; undefined when a
   * probe closed the breaker since (or its record expired): a request that began before says
   * nothing of the host now, and must neither count nor open or close anything. (Between this read
   * and the write after it another worker may still close or open the breaker: the store's shared
   * values have no compare-and-set; the window is one round trip.)
   */
  private async current(host: string, admission: Admission, now: number): Promise<HostRecord | null | undefined> {
    const record = await this.shared!.get<HostRecord>(recordKey(host), now);
    return (record?.generation ?? 0) === admission.generation ? record : undefined;
  }

  /** Long enough that a generation's failure window is over before its record could be forgotten. */
  private get keptMs(): number {
    return this.windowMs + this.cooldownMs + KEPT_MS;
  }

  private remember(host: string, now: number, generation: number): void {
    if (this.seenClosed.size >= 1000) this.seenClosed.clear();
    this.seenClosed.set(host, { at: now, generation });
  }

  private bookkeepingFailed(url: string, err: unknown): void {
    this.logger.warn({ host: hostOf(url), err: (err as Error)?.message ?? String(err) }, 'host breaker: the store did not answer; the request goes on without it');
  }

  private openError(host: string, url: string, job: JobView, openForMs: number): HostOpenError {
    // No sooner than the job's own backoff: an attempt is spent, as for any retry, so a long outage
    // spends attempts no faster than timeouts would have.
    const retryAfterMs = Math.max(openForMs, backoffDelay(job.backoff, job.attempts));
    return new HostOpenError(`${url}: not tried, ${host} is failing (its breaker opened after ${this.threshold} timeouts or connection failures within ${this.windowMs} ms); trying again in ${retryAfterMs} ms`, {
      code: 'host_unavailable', retryable: true, retryAfterMs,
    });
  }
}

/**
 * How far apart probes of one host start, for requests of this timeout: the connect timeout, the
 * wait for the answer's headers and one idle wait in its body. (A body that trickles in for longer,
 * or redirects, may still overlap the next probe.)
 */
export function probeSpacing(timeoutMs: number, connectTimeoutMs: number): number {
  return connectTimeoutMs + 2 * timeoutMs;
}

/** Whether a failed request counts against its host: a timeout or a connection failure, not an HTTP answer. */
export function isHostFailure(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return code === 'timeout' || code === 'network_error';
}

/** The host a breaker is kept for: the URL's host, with its port unless it is the scheme's default. */
export function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/**
 * The hosts whose breaker opened, one tally an hour (each host a field counting its openings; a tally
 * adds atomically, so two workers opening breakers of two hosts at once both stay listed, where a JSON
 * value written back would lose one). A report reads this hour's and the last: a host is listed for
 * one to two hours after it last opened, and the index holds no more hosts than opened in two hours.
 */
const INDEX_BUCKET_MS = 3_600_000;
const indexKey = (now: number) => `host:breakers:${Math.floor(now / INDEX_BUCKET_MS)}`;
/** At most this many hosts are read for a report: this hour's first, most opened first. */
const REPORT_HOSTS = 200;

/** One host's breaker, as GET /v1/breakers, /metrics, the dashboard and the breaker events show it. */
export type HostBreakerView = BreakerState;
export type HostBreakerState = BreakerState['state'];

/**
 * Every host whose breaker opened in the last one to two hours, open ones first: [] on a store without
 * shared state (or without tallies). Its state comes from the host's own record (closed once a probe
 * was answered, or once the record expired, an hour after its cooldown).
 */
export async function hostBreakers(shared: SharedState | undefined, now: number): Promise<HostBreakerView[]> {
  if (!shared?.tallies) return [];
  const [thisHour, lastHour] = await shared.tallies([indexKey(now), indexKey(now - INDEX_BUCKET_MS)], now);
  const opens = new Map<string, number>();
  const byOpens = (t: Record<string, number> | null | undefined) => Object.entries(t ?? {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  for (const [host, n] of [...byOpens(thisHour), ...byOpens(lastHour)]) opens.set(host, (opens.get(host) ?? 0) + n);
  const hosts = [...opens.keys()].slice(0, REPORT_HOSTS);
  const views = await Promise.all(hosts.map(async (host): Promise<HostBreakerView> => {
    const record = await shared.get<HostRecord>(recordKey(host), now);
    const openUntil = record && record.openUntil !== 0 ? await openUntilOf(shared, host, record, now) : 0;
    const state = openUntil === 0 ? 'closed' : openUntil > now ? 'open' : 'half-open';
    return { host, state, openUntil: openUntil === 0 ? null : openUntil, opens: opens.get(host)!, generation: record?.generation ?? 0 };
  }));
  const rank: Record<HostBreakerState, number> = { open: 0, 'half-open': 1, closed: 2 };
  return views.sort((a, b) => rank[a.state] - rank[b.state] || b.opens - a.opens || a.host.localeCompare(b.host));
}

/** When an open breaker's cooldown ends: its record's, or later where failures of its generation pushed it on. */
async function openUntilOf(shared: SharedState, host: string, record: HostRecord, now: number): Promise<number> {
  const extended = await shared.flagged(extendedKey(host, record.generation), now);
  return Math.max(record.openUntil, extended ?? 0);
}

const recordKey = (host: string) => `host:breaker:${host}`;
const failuresKey = (host: string, generation: number) => `host:failures:${host}:${generation}`;
const probeKey = (host: string, generation: number) => `host:probe:${host}:${generation}`;
const probeStartKey = (host: string, generation: number) => `host:probe-start:${host}:${generation}`;
const extendedKey = (host: string, generation: number) => `host:open-until:${host}:${generation}`;
const openedKey = (host: string, generation: number) => `host:opened:${host}:${generation}`;
