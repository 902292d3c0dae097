// A slow destination host's share of this process's requests (webhooks, their callbacks, job
// callbacks). A lane's slots are shared by every host its jobs go to: a partner that answers, but
// slowly (within its timeout), would otherwise hold every slot while its backlog drains, and every
// other partner's webhooks would wait a slow answer per round. The breaker (host-breaker.ts) does
// not help there: it counts timeouts and refused connections, and a slow answer is neither.
// A host is slow while one of its requests has been in flight for `afterMs`, and for SLOW_MEMORY_MS
// after a request to it took that long. A slow host gets at most `limit` requests in flight in this
// process; a job over it is snoozed (SnoozeError: no attempt spent) and comes back later, each
// further snooze in a row waiting longer. A host that answers quickly is never limited.
import type { Clock } from '../../core/clock.js';
import { SnoozeError } from '../../core/errors.js';
import type { Job } from '../../core/job.js';
import type { SlowHostConfig } from '../config-types.js';
import { hostOf } from './host-breaker.js';

const SLOW_HOST_DEFAULTS = { limit: 5, afterMs: 2_000 } as const;
/** How long a host stays slow after a request to it took afterMs or more. */
const SLOW_MEMORY_MS = 60_000;
/** A snoozed job's first wait; each snooze in a row doubles it, up to SNOOZE_MAX_MS. */
const SNOOZE_FIRST_MS = 1_000;
const SNOOZE_MAX_MS = 30_000;

/** The limit's settings: the config's, each at its default where the config has none. */
export function slowHostSettings(config: SlowHostConfig | undefined): Required<SlowHostConfig> {
  return { limit: config?.limit ?? SLOW_HOST_DEFAULTS.limit, afterMs: config?.afterMs ?? SLOW_HOST_DEFAULTS.afterMs };
}

interface HostLoad {
  /** Start times of the requests in flight, oldest first (a Map keeps insertion order). */
  inFlight: Map<symbol, number>;
  /** Slow until then, from a request that took afterMs or more. */
  slowUntil: number;
}

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

  /** `send` a request to `url`, or throw a SnoozeError when its host is slow and already holds `limit` of this process's requests. */
  async around<T>(url: string, job: JobView, send: () => Promise<T>): Promise<T> {
    if (this.limit === 0) return send();
    const host = hostOf(url);
    const now = this.clock.now();
    let load = this.hosts.get(host);
    if (load === undefined) this.hosts.set(host, (load = { inFlight: new Map(), slowUntil: 0 }));
    if (load.inFlight.size >= this.limit && this.isSlow(load, now)) {
      throw new SnoozeError(this.snoozeMs(job), `host ${host} is slow: ${load.inFlight.size} requests in flight here, at most ${this.limit} while it is`);
    }
    const ticket = Symbol(host);
    load.inFlight.set(ticket, now);
    try {
      return await send();
    } finally {
      const end = this.clock.now();
      load.inFlight.delete(ticket);
      if (end - now >= this.afterMs) load.slowUntil = end + SLOW_MEMORY_MS;
      if (load.inFlight.size === 0 && load.slowUntil <= end) this.hosts.delete(host);
    }
  }

  /** Hosts this process is limiting now (for tests and logs). */
  slowNow(): string[] {
    const now = this.clock.now();
    return [...this.hosts].filter(([, load]) => this.isSlow(load, now)).map(([host]) => host);
  }

  private isSlow(load: HostLoad, now: number): boolean {
    if (now < load.slowUntil) return true;
    for (const startedAt of load.inFlight.values()) return now - startedAt >= this.afterMs; // the oldest
    return false;
  }

  /** SNOOZE_FIRST_MS, doubled for each snooze in a row before this one, at most SNOOZE_MAX_MS; jittered ±20%. */
  private snoozeMs(job: JobView): number {
    const { history } = job;
    // The attempt running now is the history's last entry, with no outcome yet; a run of snoozes
    // before it is one record counting them.
    let i = history.length - 1;
    if (i >= 0 && !history[i]!.outcome) i--;
    const before = history[i];
    const inARow = before?.outcome === 'snoozed' ? (before.snoozes ?? 1) : 0;
    const base = Math.min(SNOOZE_MAX_MS, SNOOZE_FIRST_MS * 2 ** Math.min(inARow, 16));
    return Math.round(base * (0.8 + 0.4 * this.random()));
  }
}
