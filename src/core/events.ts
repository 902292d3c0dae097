// The live event stream behind GET /v1/events and fusion.events(): one store subscription fanned
// out to any number of viewers, each with its own filter and a bounded backlog, and a ring buffer
// of recent events so a viewer that reconnects resumes where it left off (or is told it cannot).
//
// Cost when nobody watches: nothing (the hub subscribes on the first viewer and lets go lingerMs
// after the last). Cost per event while someone watches: one object, one ring slot, one filter test
// per viewer; serialising and writing happen later, off the store's emit path.
import { randomBytes } from 'node:crypto';
import type { ScheduleRecord, Store, StoreEvent, WorkerInfo } from './store.js';
import type { AttemptEnd, Lifecycle } from './lifecycle.js';

export type HubEventType =
  | `job.${Exclude<StoreEvent['type'], QueueEventType>}`
  | `queue.${QueueEventType}`
  | 'worker.joined' | 'worker.left'
  | 'schedule.created' | 'schedule.updated' | 'schedule.fired' | 'schedule.removed'
  | 'provider.demoted' | 'provider.restored'
  | 'breaker.opened' | 'breaker.closed'
  /** Not an event: the viewer missed events (buffer gap or its backlog overflowed) and must reload its state. */
  | 'reset';

/** Store events about a queue, not a job: each shows as `queue.<type>`. */
type QueueEventType = 'paused' | 'resumed' | 'limits-changed';
const QUEUE_EVENTS: ReadonlySet<StoreEvent['type']> = new Set<QueueEventType>(['paused', 'resumed', 'limits-changed']);

export interface HubEvent {
  /** `<epoch>-<seq>`: epoch names this hub's life, so an id from another server or run is recognised as foreign. */
  id: string;
  seq: number;
  type: HubEventType;
  at: number;
  queue?: string;
  jobId?: string;
  /** The job's task when known (always when the viewer filters by task). */
  task?: string;
  runAt?: number;
  progress?: unknown;
  /** For an attempt's end (completed, retrying, failed, cancelled) run by this process's workers: which attempt, and its handler time. */
  attempt?: number;
  durationMs?: number;
  worker?: Omit<WorkerInfo, 'running'> & { runningCount: number };
  schedule?: { id: string; task: string | null; paused: boolean; runCount: number; lastRunAt: number | null; nextRunAt: number | null };
  /** For provider events: which provider, and until when it is skipped (null once restored). */
  provider?: { channel: string; name: string; type: string; demotedUntil: number | null };
  /** For breaker events: the destination host of webhooks and callbacks, and its breaker as the hub's look found it. */
  breaker?: Omit<BreakerState, 'generation'>;
  /** For 'reset': why ('gap': the id is older than the buffer or unknown; 'overflow': the viewer fell behind). */
  reason?: 'gap' | 'overflow';
}

/** A delivery provider's demotion, as the channels layer reports it (core knows no channels). */
export interface ProviderState {
  channel: string;
  name: string;
  type: string;
  /** The queue of the provider's channel, so queue filters apply. */
  queue: string;
  demotedUntil: number | null;
}

/** A breaker per destination host, as the channels layer reports it (src/channels/http/host-breaker.ts). */
export interface BreakerState {
  /** The URL's host, with its port unless it is the scheme's default. */
  host: string;
  /** open: its jobs fail at once until openUntil; half-open: the next request probes it; closed: requests go out. */
  state: 'open' | 'half-open' | 'closed';
  /** The end of its cooldown (open), or when that ended (half-open); null when closed. */
  openUntil: number | null;
  /** How often it opened (a failed probe opens it again) this hour and the last. */
  opens: number;
  /** Names the breaker's current round (a probe's answer or failure starts the next): for the hub's comparisons, not shown. */
  generation: number;
}

export interface EventFilter {
  queues?: string[];
  tasks?: string[];
  /** Exact types (`job.completed`), families (`job`, `worker`), or a job state alone (`failed`). */
  types?: string[];
}

export interface EventHubOptions {
  /** Recent events kept for resume. Default 10,000. */
  bufferSize?: number;
  /** Events one viewer may have waiting; past it the backlog is dropped for one reset. Default 5,000. */
  maxBacklog?: number;
  /** How often workers and schedules are compared for arrivals, departures and firings. Default 2,000 ms. */
  pollMs?: number;
  /** Keep recording this long after the last viewer leaves, so a reconnect can resume. Default 5 min. */
  lingerMs?: number;
  now?: () => number;
  /** Provider demotions to compare at each poll (provider.demoted / provider.restored); Fusion sets it. */
  providers?: (now: number) => Promise<ProviderState[]>;
  /** Breakers per destination host to compare at each poll (breaker.opened / breaker.closed); Fusion sets it. */
  breakers?: (now: number) => Promise<BreakerState[]>;
  /** This process's lifecycle events: attempts its workers ran add their attempt number and duration to their job events. Fusion sets it. */
  lifecycle?: Lifecycle;
}

interface Compiled {
  queues: Set<string> | null;
  tasks: Set<string> | null;
  types: string[] | null;
}

function compile(f: EventFilter): Compiled {
  const nonEmpty = (xs?: string[]) => (xs && xs.length ? xs : null);
  const q = nonEmpty(f.queues);
  const t = nonEmpty(f.tasks);
  return { queues: q && new Set(q), tasks: t && new Set(t), types: nonEmpty(f.types) };
}

// Every type, checked complete by the compiler: a filter is checked against them.
const TYPE_SET: Record<Exclude<HubEventType, 'reset'>, true> = {
  'job.queued': true, 'job.scheduled': true, 'job.active': true, 'job.progress': true, 'job.completed': true,
  'job.retrying': true, 'job.failed': true, 'job.cancelled': true, 'job.cancel-requested': true, 'job.stalled': true,
  'job.removed': true, 'queue.paused': true, 'queue.resumed': true, 'queue.limits-changed': true, 'worker.joined': true, 'worker.left': true,
  'schedule.created': true, 'schedule.updated': true, 'schedule.fired': true, 'schedule.removed': true,
  'provider.demoted': true, 'provider.restored': true, 'breaker.opened': true, 'breaker.closed': true,
};
export const HUB_EVENT_TYPES = Object.keys(TYPE_SET) as Exclude<HubEventType, 'reset'>[];

/** The entries of a type filter that match no event (a typo would otherwise give a stream that stays silent). */
export function unknownTypes(types: string[]): string[] {
  return types.filter((t) => !HUB_EVENT_TYPES.some((type) => typeMatches([t], type)));
}

function typeMatches(types: string[], type: string): boolean {
  for (const t of types) if (type === t || type.startsWith(t + '.') || type === 'job.' + t) return true;
  return false;
}

/** Everything but the task: that may need a store read, done by the consumer (take) rather than the emitter. */
function matchesSync(f: Compiled, e: HubEvent): boolean {
  if (e.type === 'reset') return true;
  if (f.types && !typeMatches(f.types, e.type)) return false;
  if (f.queues) {
    if (e.worker) return e.worker.queues.some((q) => f.queues!.has(q));
    if (e.queue === undefined || !f.queues.has(e.queue)) return false;
  }
  if (f.tasks && e.schedule) return e.schedule.task !== null && f.tasks.has(e.schedule.task);
  if (f.tasks && !e.jobId) return false;
  return true;
}

const immediate = () => new Promise<void>((r) => setImmediate(r));

/** One viewer: a filtered, bounded queue of events. Also an async iterator for library users. */
export class Subscription implements AsyncIterable<HubEvent> {
  private queue: HubEvent[] = [];
  private wake: (() => void) | null = null;
  private closed = false;
  /** Times this viewer's backlog was dropped for a reset. */
  overflows = 0;

  /** @internal */
  constructor(private readonly hub: EventHub, private readonly filter: Compiled, private readonly maxBacklog: number) {}

  /** @internal */
  offer(e: HubEvent): void {
    if (this.closed || !matchesSync(this.filter, e)) return;
    if (this.queue.length >= this.maxBacklog && e.type !== 'reset') {
      // The viewer is not keeping up: what it missed is gone, it reloads from the reset on.
      this.overflows++;
      this.queue = [this.hub.marker('overflow', e.seq)];
    } else this.queue.push(e);
    const w = this.wake;
    if (w) {
      this.wake = null;
      w();
    }
  }

  get backlog(): number {
    return this.queue.length;
  }

  /** The next events, in order, as one batch; null once closed. Waits a turn after waking so a burst comes as one batch. */
  async take(): Promise<HubEvent[] | null> {
    for (;;) {
      if (this.closed) return null;
      if (this.queue.length === 0) {
        await new Promise<void>((r) => (this.wake = r));
        await immediate();
        continue;
      }
      const batch = this.queue;
      this.queue = [];
      const out = this.filter.tasks ? await this.hub.byTask(batch, this.filter.tasks) : batch;
      if (out.length) return out;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.hub.drop(this);
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<HubEvent> {
    try {
      for (;;) {
        const batch = await this.take();
        if (!batch) return;
        for (const e of batch) yield e;
      }
    } finally {
      this.close();
    }
  }
}

const TASK_CACHE = 100_000;
/** Store events that end an attempt (a retry is stored as `retrying`). */
const ENDS_ATTEMPT = new Set<StoreEvent['type']>(['completed', 'retrying', 'failed', 'cancelled']);

export class EventHub {
  readonly epoch = randomBytes(4).toString('hex');
  private readonly ring: (HubEvent | undefined)[];
  private head = 0;
  private count = 0;
  private seq = 0;
  /** First seq of the current recording; ids before it belong to a recording with a gap after it. */
  private base = 1;
  private subs = new Set<Subscription>();
  private unsubscribe: (() => void) | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private lingerTimer: NodeJS.Timeout | null = null;
  private polling = false;
  private workers: Map<string, WorkerInfo> | null = null;
  private schedules: Map<string, ScheduleRecord> | null = null;
  private providers: Map<string, ProviderState> | null = null;
  private readonly lookProviders: ((now: number) => Promise<ProviderState[]>) | null;
  private breakers: Map<string, BreakerState> | null = null;
  private readonly lookBreakers: ((now: number) => Promise<BreakerState[]>) | null;
  private readonly lifecycle: Lifecycle | null;
  private tasks = new Map<string, string>();
  /** Attempts this process ran, by job id, from their lifecycle event until their store event comes (just after). */
  private attempts = new Map<string, AttemptEnd>();
  private stopAttempts: (() => void) | null = null;
  private closed = false;
  private readonly size: number;
  private readonly maxBacklog: number;
  private readonly pollMs: number;
  private readonly lingerMs: number;
  private readonly now: () => number;

  constructor(private readonly store: Store, opts: EventHubOptions = {}) {
    this.size = Math.max(1, opts.bufferSize ?? 10_000);
    this.ring = new Array(this.size);
    this.maxBacklog = Math.max(1, opts.maxBacklog ?? 5_000);
    this.pollMs = opts.pollMs ?? 2_000;
    this.lingerMs = opts.lingerMs ?? 300_000;
    this.now = opts.now ?? Date.now;
    this.lookProviders = opts.providers ?? null;
    this.lookBreakers = opts.breakers ?? null;
    this.lifecycle = opts.lifecycle ?? null;
  }

  /** The id of the latest event (where a fresh viewer starts). */
  get lastId(): string {
    return `${this.epoch}-${this.seq}`;
  }

  get viewers(): number {
    return this.subs.size;
  }

  /** Events waiting per viewer (each stays at most maxBacklog). */
  get backlogs(): number[] {
    return [...this.subs].map((s) => s.backlog);
  }

  /**
   * A viewer. With `after` (a previous event id), the events since it come first when the buffer
   * still holds them all, or a 'reset' when it does not.
   */
  subscribe(filter: EventFilter = {}, after?: string | null): Subscription {
    if (this.closed) throw new Error('the event hub is closed');
    this.start();
    const sub = new Subscription(this, compile(filter), this.maxBacklog);
    if (after) {
      const missed = this.since(after);
      if (missed === null) sub.offer(this.marker('gap', this.seq));
      else for (const e of missed) sub.offer(e);
    }
    this.subs.add(sub);
    return sub;
  }

  /** Events after `id` from the buffer, or null when some of them are gone (or the id is not one of ours). */
  since(id: string): HubEvent[] | null {
    const m = /^([0-9a-f]+)-(\d+)$/.exec(id.trim());
    if (!m || m[1] !== this.epoch) return null;
    const after = Number(m[2]);
    if (after > this.seq || after < this.base - 1 || after < this.seq - this.count) return null;
    const out: HubEvent[] = [];
    for (let s = after + 1; s <= this.seq; s++) out.push(this.ring[(this.head - (this.seq - s) - 1 + this.size) % this.size]!);
    return out;
  }

  /** @internal A reset marker carrying the id of the latest event it stands for. */
  marker(reason: 'gap' | 'overflow', seq: number): HubEvent {
    return { id: `${this.epoch}-${seq}`, seq, type: 'reset', at: this.now(), reason };
  }

  /** @internal */
  drop(sub: Subscription): void {
    if (!this.subs.delete(sub) || this.subs.size > 0 || this.closed) return;
    this.lingerTimer = setTimeout(() => this.stop(), this.lingerMs);
    this.lingerTimer.unref();
  }

  /** @internal Keep the events whose job runs one of `tasks`, reading unknown tasks from the store once each. */
  async byTask(batch: HubEvent[], tasks: Set<string>): Promise<HubEvent[]> {
    const missing = new Set<string>();
    for (const e of batch) {
      if (e.jobId && e.task === undefined) {
        const t = this.tasks.get(e.jobId);
        if (t !== undefined) e.task = t;
        else missing.add(e.jobId);
      }
    }
    if (missing.size) {
      await Promise.all([...missing].map(async (id) => {
        const j = await this.store.getJob({ id }).catch(() => null);
        if (j) this.remember(id, j.task);
      }));
      for (const e of batch) if (e.jobId && e.task === undefined) e.task = this.tasks.get(e.jobId);
    }
    return batch.filter((e) => e.type === 'reset' || (e.task !== undefined && tasks.has(e.task)) || (e.schedule !== undefined));
  }

  private remember(jobId: string, task: string): void {
    this.tasks.set(jobId, task);
    if (this.tasks.size > TASK_CACHE) this.tasks.delete(this.tasks.keys().next().value!);
  }

  private record(e: Omit<HubEvent, 'id' | 'seq'>): void {
    const seq = ++this.seq;
    const ev = e as HubEvent;
    ev.seq = seq;
    ev.id = `${this.epoch}-${seq}`;
    this.ring[this.head] = ev;
    this.head = (this.head + 1) % this.size;
    if (this.count < this.size) this.count++;
    for (const s of this.subs) s.offer(ev);
  }

  private onStore = (e: StoreEvent): void => {
    if (e.missed) {
      // The store's event connection was down: what it published meanwhile is gone, so every viewer
      // (and one resuming from before) reloads. In the ring, so a resume across it meets it too;
      // once for the burst the store sends (one per queue, all at one time).
      const last = this.count > 0 ? this.ring[(this.head - 1 + this.size) % this.size] : undefined;
      if (last?.type !== 'reset' || last.at !== e.at) this.record({ type: 'reset', at: e.at, reason: 'gap' });
      return;
    }
    const type = (QUEUE_EVENTS.has(e.type) ? `queue.${e.type}` : `job.${e.type}`) as HubEventType;
    const ev: Omit<HubEvent, 'id' | 'seq'> = { type, at: e.at, queue: e.queue };
    if (e.jobId !== undefined) {
      ev.jobId = e.jobId;
      const task = e.task ?? this.tasks.get(e.jobId);
      if (task !== undefined) ev.task = task;
    }
    if (e.runAt !== undefined) ev.runAt = e.runAt;
    if (e.progress !== undefined) ev.progress = e.progress;
    if (this.attempts.size > 0 && e.jobId !== undefined && ENDS_ATTEMPT.has(e.type)) {
      const ran = this.attempts.get(e.jobId);
      if (ran) {
        this.attempts.delete(e.jobId);
        ev.attempt = ran.attempt;
        ev.durationMs = ran.durationMs;
      }
    }
    this.record(ev);
  };

  /** Remember the attempts this process's workers end, for their store events. */
  private watchAttempts(lifecycle: Lifecycle): () => void {
    const ran = (e: AttemptEnd) => {
      // Each store event takes its entry at once; a cap guards against outcomes the store refused.
      if (this.attempts.size >= TASK_CACHE) this.attempts.clear();
      this.attempts.set(e.job.id, e);
    };
    const offs = (['job.completed', 'job.retrying', 'job.failed', 'job.cancelled'] as const).map((name) => lifecycle.on(name, ran));
    return () => {
      offs.forEach((off) => off());
      this.attempts.clear();
    };
  }

  private start(): void {
    if (this.lingerTimer) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = null;
    }
    if (this.unsubscribe) return;
    // A new recording: skip one id so no id handed out before the gap can pass for one after it.
    // The ring restarts with it: what it held lies before the gap.
    this.seq++;
    this.base = this.seq + 1;
    this.head = 0;
    this.count = 0;
    this.ring.fill(undefined);
    this.unsubscribe = this.store.subscribe(this.onStore);
    if (this.lifecycle) this.stopAttempts = this.watchAttempts(this.lifecycle);
    this.workers = null;
    this.schedules = null;
    this.providers = null;
    this.breakers = null;
    void this.poll();
    if (this.pollMs > 0) {
      this.pollTimer = setInterval(() => void this.poll(), this.pollMs);
      this.pollTimer.unref();
    }
  }

  private stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.stopAttempts?.();
    this.stopAttempts = null;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = null;
  }

  /** Workers and schedules have no store events: compare with the last look. The first look only sets the baseline. */
  async poll(): Promise<void> {
    if (this.polling || !this.unsubscribe) return;
    this.polling = true;
    try {
      const now = this.now();
      // A failed look at providers or breakers skips their comparison only (workers and schedules go on).
      const [workers, schedules, providers, breakers] = await Promise.all([
        this.store.listWorkers({ now }), this.store.listSchedules(), this.lookProviders ? this.lookProviders(now).catch(() => null) : null,
        this.lookBreakers ? this.lookBreakers(now).catch(() => null) : null,
      ]);
      if (!this.unsubscribe) return;
      if (providers) this.compareProviders(providers, now);
      if (breakers) this.compareBreakers(breakers, now);
      const wNext = new Map(workers.map((w) => [w.id, w]));
      if (this.workers) {
        for (const [id, w] of wNext) if (!this.workers.has(id)) this.record({ type: 'worker.joined', at: w.startedAt, worker: workerView(w) });
        for (const [id, w] of this.workers) if (!wNext.has(id)) this.record({ type: 'worker.left', at: now, worker: workerView(w) });
      }
      this.workers = wNext;
      const sNext = new Map(schedules.map((s) => [s.id, s]));
      if (this.schedules) {
        for (const [id, s] of sNext) {
          const prev = this.schedules.get(id);
          const queue = scheduleQueue(s);
          const base = { queue, schedule: scheduleView(s) };
          if (!prev) this.record({ type: 'schedule.created', at: s.createdAt, ...base });
          else if (s.runCount > prev.runCount || (s.lastRunAt ?? 0) > (prev.lastRunAt ?? 0)) this.record({ type: 'schedule.fired', at: s.lastRunAt ?? now, ...base });
          else if (s.version !== prev.version) this.record({ type: 'schedule.updated', at: s.updatedAt, ...base });
        }
        for (const [id, s] of this.schedules) if (!sNext.has(id)) this.record({ type: 'schedule.removed', at: now, queue: scheduleQueue(s), schedule: scheduleView(s) });
      }
      this.schedules = sNext;
    } catch {
      // A failed look is retried at the next tick; the stream itself goes on.
    } finally {
      this.polling = false;
    }
  }

  /** A provider demoted since the last look (or demoted again after its cooldown ended) or restored. */
  private compareProviders(list: ProviderState[], now: number): void {
    const next = new Map(list.map((p) => [`${p.channel}\0${p.name}`, p]));
    if (this.providers) {
      for (const [k, p] of next) {
        const was = this.providers.get(k)?.demotedUntil ?? null;
        const view = { channel: p.channel, name: p.name, type: p.type, demotedUntil: p.demotedUntil };
        if (p.demotedUntil !== null && (was === null || p.demotedUntil > was)) this.record({ type: 'provider.demoted', at: now, queue: p.queue, provider: view });
        else if (p.demotedUntil === null && was !== null) this.record({ type: 'provider.restored', at: now, queue: p.queue, provider: view });
      }
    }
    this.providers = next;
  }

  /**
   * A host's breaker opened since the last look, or closed (a probe was answered), told by its state
   * and its generation (which a probe's answer or failure moves on), not by its count of openings,
   * which falls when an hour of them is forgotten. Both between two looks: both events, in order.
   * Half open is no event: it is the cooldown running out. (After the first look only: a host
   * listed then is the baseline.)
   */
  private compareBreakers(list: BreakerState[], now: number): void {
    const next = new Map(list.map((b) => [b.host, b]));
    if (this.breakers) {
      for (const [host, b] of next) {
        const was = this.breakers.get(host);
        // Listed since the last look: it opened since (and may have closed again).
        const isNew = was === undefined;
        const moved = !isNew && b.generation !== was.generation;
        const opened = isNew || (was.state === 'closed' ? b.state !== 'closed' || moved : moved && b.state !== 'closed');
        const closed = b.state === 'closed' && (isNew || was.state !== 'closed' || moved);
        const breaker = { host: b.host, state: b.state, openUntil: b.openUntil, opens: b.opens };
        if (opened) this.record({ type: 'breaker.opened', at: now, breaker });
        if (closed) this.record({ type: 'breaker.closed', at: now, breaker });
      }
    }
    this.breakers = next;
  }

  close(): void {
    this.closed = true;
    this.stop();
    for (const s of [...this.subs]) s.close();
  }
}

function workerView(w: WorkerInfo): HubEvent['worker'] {
  return { id: w.id, host: w.host, pid: w.pid, queues: w.queues, concurrency: w.concurrency, runningCount: w.running.length, startedAt: w.startedAt, lastSeenAt: w.lastSeenAt };
}

function templateOf(s: ScheduleRecord): { task?: string; queue?: string } {
  const t = (s.spec as { template?: { task?: unknown; queue?: unknown } } | null)?.template;
  return { task: typeof t?.task === 'string' ? t.task : undefined, queue: typeof t?.queue === 'string' ? t.queue : undefined };
}

function scheduleQueue(s: ScheduleRecord): string | undefined {
  return templateOf(s).queue;
}

function scheduleView(s: ScheduleRecord): NonNullable<HubEvent['schedule']> {
  return { id: s.id, task: templateOf(s).task ?? null, paused: s.paused, runCount: s.runCount, lastRunAt: s.lastRunAt, nextRunAt: s.nextRunAt };
}
