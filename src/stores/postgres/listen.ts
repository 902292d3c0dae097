// Cross-process wake-ups: a dedicated connection LISTENs on the schema's channel. Notifications are
// small (origin, type, queue, due time; see wake() in the migrations) and become store events;
// this store's own are skipped (it emitted them already). A notification sent while the connection
// is down is lost, so after every reconnect the store wakes all queues once (resync); a worker's
// poll timer covers what falls between.
import pg from 'pg';
import type { StoreEvent } from '../../core/store.js';
import { quoteIdent } from './sql.js';
import { TYPES } from './connect.js';
import type { SilenceWatch } from './silence.js';

export interface ListenerHooks {
  event(e: StoreEvent): void;
  /** After a reconnect: on the new connection, known to answer (the pool's may be as silent as the old one was). */
  resync(client: pg.Client): Promise<void>;
  error(err: Error): void;
  /** The store's clock, for the time of each event. */
  now(): number;
  /** Watches this connection too: it owes nothing while it listens, so it gets a SELECT 1 now and then. */
  silence: SilenceWatch;
  /** The session's startup options: the keepalive probes, then the URL's own (context.ts sessionOptions). */
  options: string | undefined;
}

interface Wake {
  o: string;
  t: StoreEvent['type'];
  q: string;
  r: number | null;
  j: string | null;
}

/** The notification of jobs added to `queue` in `state` (due at `runAt`), as wake() in SQL writes it. */
export const wakeNote = (origin: string, state: 'queued' | 'scheduled', queue: string, runAt: number): string =>
  JSON.stringify({ o: origin, t: state, q: queue, r: runAt, j: null } satisfies Wake);

export class Listener {
  private client: pg.Client | null = null;
  private closed = false;
  private failures = 0;
  private timer: NodeJS.Timeout | null = null;
  private connecting: Promise<void> | null = null;
  /** Resolves once the first LISTEN is in place (tests wait on it). */
  readonly ready: Promise<void>;
  private markReady!: () => void;

  constructor(private connectionString: string, private applicationName: string, private channel: string, private origin: string, private hooks: ListenerHooks) {
    this.ready = new Promise((r) => (this.markReady = r));
    this.connecting = this.connect(false);
  }

  private async connect(reconnect: boolean): Promise<void> {
    const c = new pg.Client({
      connectionString: this.connectionString, application_name: this.applicationName, types: TYPES, keepAlive: true,
      connectionTimeoutMillis: this.hooks.silence.connectTimeoutMs, options: this.hooks.options,
    });
    c.on('error', (err) => this.hooks.error(err));
    c.on('notification', (m) => this.onNotification(m.payload));
    c.on('end', () => {
      this.hooks.silence.unwatch(c);
      if (this.client !== c) return;
      this.client = null;
      this.retry();
    });
    try {
      await c.connect();
      // Watched from its first statement: a path that goes silent under the LISTEN would otherwise
      // hold this connect, and close() behind it, until TCP gives up.
      this.hooks.silence.watch(c, true);
      await c.query(`LISTEN ${quoteIdent(this.channel)}`);
    } catch (err) {
      this.hooks.silence.unwatch(c);
      this.hooks.error(err as Error);
      void this.hooks.silence.end(c);
      this.retry();
      return;
    }
    if (this.closed) {
      this.hooks.silence.unwatch(c);
      await this.hooks.silence.end(c);
      return;
    }
    this.client = c;
    this.failures = 0;
    this.markReady();
    if (reconnect) await this.hooks.resync(c).catch((err: Error) => this.hooks.error(err));
  }

  private retry(): void {
    if (this.closed || this.timer) return;
    const delay = Math.min(2000, 50 * 2 ** Math.min(this.failures++, 6));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connecting = this.connect(true);
    }, delay);
    this.timer.unref();
  }

  private onNotification(payload: string | undefined): void {
    if (!payload) return;
    let w: Wake;
    try {
      w = JSON.parse(payload) as Wake;
    } catch {
      return;
    }
    if (w.o === this.origin) return;
    const e: StoreEvent = { type: w.t, queue: w.q, at: this.hooks.now() };
    if (w.r !== null && w.r !== undefined) e.runAt = w.r;
    if (w.j) e.jobId = w.j;
    this.hooks.event(e);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.connecting;
    const c = this.client;
    this.client = null;
    if (!c) return;
    this.hooks.silence.unwatch(c);
    await this.hooks.silence.end(c);
  }
}
