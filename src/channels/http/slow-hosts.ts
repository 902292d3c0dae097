// A slow destination host's share of this process's requests: one SlowHosts for webhooks and their
// callbacks (the webhook lane's), one for job callbacks (the callbacks lane's). A lane's slots are shared by
// every host its jobs go to: a partner that answers, but slowly (within its timeout), would
// otherwise hold every slot while its backlog drains, and every other partner's webhooks would wait a
// slow answer per round. The breaker (host-breaker.ts) does not help there: it counts timeouts and
// refused connections, and a slow answer is neither.
// A host is slow while one of its requests has been waiting for its answer for `afterMs`, and for
// SLOW_MEMORY_MS after an answer took that long. A slow host gets at most `limit` requests in flight;
// a job over it is snoozed (SnoozeError: no attempt spent). The wait is the host's (a second while
// few jobs wait, longer as its snoozes mount, so a big backlog costs the store a churn of claims and
// snoozes growing with the square root of the backlog, not one per job a second), halved for each
// snooze the job already had in a row (up to four), so jobs that have waited come back more often
// than new ones and take most freed slots: near first come, first served.
// A host that answers quickly is never limited.
import type { Clock } from '../../core/clock.js';
import { SnoozeError } from '../../core/errors.js';
import { snoozesInARow, type Job } from '../../core/job.js';
import type { SlowHostConfig } from '../config-types.js';
import { hostOf } from './host-breaker.js';

const SLOW_HOST_DEFAULTS = { limit: 5, afterMs: 2_000 } as const;
/** How long a host stays slow after an answer from it took afterMs or more. */
const SLOW_MEMORY_MS = 60_000;
/**
 * The host's wait: its snoozes in the last one or two SNOOZE_WINDOW_MS over SNOOZES_PER_SECOND, within
 * these bounds. The more jobs wait, the more snoozes, the longer each waits: the churn settles where
 * it grows with the square root of the jobs waiting (bench/slow-host.ts: 145 snoozes a second, and a
 * new job's first wait 9.7 s at the median, behind a burst of 1,000).
 */
const HOST_WAIT_MIN_MS = 1_000;
const HOST_WAIT_MAX_MS = 600_000;
const SNOOZE_WINDOW_MS = 10_000;
const SNOOZES_PER_SECOND = 50;
/** A job's wait: the host's halved for each snooze it had in a row, up to HALVINGS, no less than JOB_WAIT_MIN_MS; ±20%. */
const HALVINGS = 4;
const JOB_WAIT_MIN_MS = 500;
/** Past this many hosts kept, those with nothing in flight, not slow and not snoozing are let go. */
const HOSTS_KEPT = 1_000;

/** The limit's settings: the config's, each at its default where the config has none. */
export function slowHostSettings(config: SlowHostConfig | undefined): Required<SlowHostConfig> {
  return { limit: config?.limit ?? SLOW_HOST_DEFAULTS.limit, afterMs: config?.afterMs ?? SLOW_HOST_DEFAULTS.afterMs };
}

interface HostLoad {
  /** The requests admitted and not yet over (the limit counts these). */
  inFlight: Set<symbol>;
  /** When each exchange under way began, oldest first (a Map keeps insertion order, and each is inserted as it begins). */
  exchanging: Map<symbol, number>;
  /** Slow until then, from an answer that took afterMs or more. */
  slowUntil: number;
  /** Snoozes in the window beginning at windowStart, and in the window before it. */
  windowStart: number;
  snoozes: number;
  snoozesBefore: number;
}

/** Times a request's exchange with its host (the answer's wait, not the bookkeeping around it). */
export type Timed = <R>(exchange: () => Promise<R>) => Promise<R>;

type JobView = Pick<Job, 'history'>;

export class SlowHosts {
  private readonly limit: number;
  private readonly afterMs: number;
  private readonly hosts = new Map<string, HostLoad>();

  constructor(config: SlowHostConfig | undefined, private readonly clock: Clock, private readonly random: () => number = Math.random) {
    const settings = slowHostSettings(config);
    this.limit = settings.limit;
    this.afterMs = settings.afterMs;
  }

  /**
   * `send` a request to `url`, or throw a SnoozeError when its host is slow and already has `limit`
   * requests in flight here. `send` wraps its exchange in `timed`: only that is measured.
   */
  async around<T>(url: string, job: JobView, send: (timed: Timed) => Promise<T>): Promise<T> {
    if (this.limit === 0) return send((exchange) => exchange());
    const host = hostOf(url);
    const now = this.clock.now();
    const load = this.loadOf(host, now);
    if (load.inFlight.size >= this.limit && this.isSlow(load, now)) throw this.snooze(host, load, now, snoozesInARow(job));
    const ticket = Symbol(host);
    load.inFlight.add(ticket);
    try {
      return await send(async (exchange) => {
        const start = this.clock.now();
        load.exchanging.delete(ticket);
        load.exchanging.set(ticket, start);
        try {
          return await exchange();
        } finally {
          load.exchanging.delete(ticket);
          const end = this.clock.now();
          if (end - start >= this.afterMs) load.slowUntil = Math.max(load.slowUntil, end + SLOW_MEMORY_MS);
        }
      });
    } finally {
      load.inFlight.delete(ticket);
      load.exchanging.delete(ticket);
    }
  }

  /** Hosts this process is limiting now (for tests and logs). */
  slowNow(): string[] {
    const now = this.clock.now();
    return [...this.hosts].filter(([, load]) => this.isSlow(load, now)).map(([host]) => host);
  }

  /** How many hosts are kept (for tests). */
  get kept(): number {
    return this.hosts.size;
  }

  private loadOf(host: string, now: number): HostLoad {
    let load = this.hosts.get(host);
    if (load === undefined) {
      if (this.hosts.size >= HOSTS_KEPT) this.letGo(now);
      this.hosts.set(host, (load = { inFlight: new Set(), exchanging: new Map(), slowUntil: 0, windowStart: now, snoozes: 0, snoozesBefore: 0 }));
    }
    return load;
  }

  /** Forget hosts with nothing in flight, not slow and with no snooze in the last two windows. */
  private letGo(now: number): void {
    for (const [host, load] of this.hosts) {
      if (load.inFlight.size === 0 && load.slowUntil <= now && now - load.windowStart >= 2 * SNOOZE_WINDOW_MS) this.hosts.delete(host);
    }
  }

  private isSlow(load: HostLoad, now: number): boolean {
    if (now < load.slowUntil) return true;
    for (const startedAt of load.exchanging.values()) return now - startedAt >= this.afterMs; // the oldest
    return false;
  }

  private snooze(host: string, load: HostLoad, now: number, inARow: number): SnoozeError {
    if (now - load.windowStart >= SNOOZE_WINDOW_MS) {
      load.snoozesBefore = now - load.windowStart >= 2 * SNOOZE_WINDOW_MS ? 0 : load.snoozes;
      load.snoozes = 0;
      load.windowStart = now;
    }
    load.snoozes++;
    const hostWait = Math.min(HOST_WAIT_MAX_MS, Math.max(HOST_WAIT_MIN_MS, ((load.snoozes + load.snoozesBefore) / SNOOZES_PER_SECOND) * 1000));
    const wait = Math.max(JOB_WAIT_MIN_MS, hostWait / 2 ** Math.min(inARow, HALVINGS));
    const delay = Math.round(wait * (0.8 + 0.4 * this.random()));
    return new SnoozeError(delay, `host ${host} is slow: ${load.inFlight.size} requests in flight here, at most ${this.limit} while it is`);
  }
}
