// What every part of the PostgreSQL store shares: the pool, the schema's names, the statements, this
// store's origin (the mark on its notifications and lease tokens), the listeners events go to, the
// waiting marks and the LISTEN connection. The parts (jobs-in.ts, claim.ts, operator.ts, ...) are
// functions of this context; PostgresStore (store.ts) is their facade.
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import type { StoreEvent, StoreListener } from '../../core/store.js';
import { SharedClock } from '../../core/shared-clock.js';
import { TYPES } from './connect.js';
import type { Listener } from './listen.js';
import { quoteIdent } from './sql.js';
import { SERVER_TIME_MS, storeStatements, type Statements } from './statements.js';
import { WaitMarks } from './wait-marks.js';
import { SilenceWatch } from './silence.js';

/** The pool, one of its connections, or a caller's client inside its own transaction. */
export type Queryable = pg.Pool | pg.PoolClient | pg.ClientBase;

/** Most queue names remembered as having a row; past this the set starts over. */
const KNOWN_QUEUES_MAX = 10_000;

const DEFAULT_APPLICATION_NAME = 'fusion';

export class PostgresContext {
  readonly pool: pg.Pool;
  /** The schema as an SQL identifier, quoted, for statement text (`schema` is the plain name). */
  readonly quotedSchema: string;
  /** The NOTIFY channel of this schema's work. */
  readonly workChannel: string;
  readonly statements: Statements;
  /** Marks this store's notifications, so its own events are not emitted twice. */
  readonly origin = randomBytes(6).toString('base64url');
  readonly listeners = new Set<StoreListener>();
  readonly marks: WaitMarks;
  /** The application_name of the store's connections: the URL's, or 'fusion'. */
  readonly applicationName: string;
  /** The URL without its ?options=, for the sessions given them after the store's own (sessionOptions). */
  readonly sessionUrl: string;
  /** The URL's ?options= (libpq's: -c settings, a cloud endpoint id), or ''. */
  private readonly urlOptions: string;
  /** Finds connections whose path went silent (silence.ts): the pool's, and the LISTEN connection. */
  readonly silence: SilenceWatch;
  /** The pool's connections now (what a late close destroys: silence.ts endPool). */
  readonly poolClients = new Set<pg.ClientBase>();
  /** The LISTEN connection, from the first subscribe on (events.ts). */
  listener: Listener | null = null;
  /** Subscribers that want every event, not only a worker's (they hold the '*' wait mark). */
  everyEventListeners = 0;
  closed = false;
  /** The last connection or background error seen, for diagnostics. */
  lastError: Error | null = null;
  /** The time every process of this store agrees on: the server's (first read when the store opens: stores/index.ts, Fusion.open). */
  readonly clock = new SharedClock(async () => {
    const { rows } = await this.pool.query<{ ms: number }>(SERVER_TIME_MS);
    return Number(rows[0]!.ms);
  });
  private tokenSeq = 0;
  /**
   * Queues this store has seen have a row (an add to them went through): queue rows are never
   * deleted, so a single add to one of them skips the look at `queues`. Rows are made by adds and
   * ensureQueue only; a change that ever deletes queue rows must drop this.
   */
  private readonly queuesWithRow = new Set<string>();

  constructor(readonly connectionString: string, readonly schema: string, max: number, socketTimeoutMs: number) {
    this.quotedSchema = quoteIdent(schema);
    this.workChannel = `${schema}:work`;
    // Operators see the store's sessions by name, and the silence watch ends only backends with it.
    const url = new URL(connectionString);
    this.applicationName = url.searchParams.get('application_name') ?? DEFAULT_APPLICATION_NAME;
    // pg lets the URL's options replace a config's: the sessions would lose the store's own
    // settings below (the silence guards among them). Both go, the URL's last so it may override.
    this.urlOptions = url.searchParams.get('options') ?? '';
    url.searchParams.delete('options');
    this.sessionUrl = url.toString();
    this.silence = new SilenceWatch(connectionString, this.applicationName, socketTimeoutMs, (err) => (this.lastError = err));
    // Short statements only: JIT compiling a plan (when a big table's estimate crosses jit_above_cost)
    // costs far more than it saves, e.g. a second for a 50 ms count over 100k jobs. A session idle in
    // a transaction past the silence watch's limit lost its client, and the server's keepalive ends
    // one whose client went silent while idle (silence.ts). An ?options= in the URL comes after them.
    const idleInTransaction = this.silence.idleInTransactionMs;
    const keepalive = this.silence.serverKeepaliveOptions;
    const options = `-c jit=off${idleInTransaction > 0 ? ` -c idle_in_transaction_session_timeout=${idleInTransaction}` : ''}${keepalive ? ` ${keepalive}` : ''}`;
    // The connect timeout on the connections only: as a pool option it would also end a call's wait
    // for a free connection.
    const connectTimeoutMs = this.silence.connectTimeoutMs;
    class TimedClient extends pg.Client {
      constructor(config: pg.ClientConfig = {}) {
        super({ ...config, connectionTimeoutMillis: connectTimeoutMs });
      }
    }
    this.pool = new pg.Pool({
      connectionString: this.sessionUrl, max, types: TYPES, keepAlive: true, options: this.sessionOptions(options),
      application_name: this.applicationName, Client: TimedClient,
    });
    // An idle connection that dies (server restart, pg_terminate_backend) must not crash the
    // process: the pool drops it and the next call opens another.
    this.pool.on('error', (err) => (this.lastError = err));
    this.pool.on('connect', (client) => {
      this.poolClients.add(client);
      this.silence.watch(client);
    });
    this.pool.on('remove', (client) => {
      this.poolClients.delete(client);
      this.silence.unwatch(client);
    });
    this.statements = storeStatements(this.quotedSchema, schema);
    this.marks = new WaitMarks(this.pool, this.quotedSchema, this.origin);
  }

  /** A session's startup options: the store's own, then the URL's; undefined when neither has any. */
  sessionOptions(own: string): string | undefined {
    return [own, this.urlOptions].filter((o) => o !== '').join(' ') || undefined;
  }

  emit(events: StoreEvent[]): void {
    if (this.listeners.size === 0 || events.length === 0) return;
    for (const l of this.listeners) for (const e of events) l(e);
  }

  /** One transaction on a pooled connection. A connection that failed is dropped, not reused. */
  async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (err) {
      try {
        await c.query('ROLLBACK');
      } catch {
        broken = err as Error;
      }
      throw err;
    } finally {
      c.release(broken);
    }
  }

  /** A lease token: this store's origin and a counter, unique without a round trip. */
  nextToken(): string {
    return `${this.origin}.${(this.tokenSeq++).toString(36)}`;
  }

  /** Tell other processes' workers of `e`, at the commit of `c`'s transaction. */
  share(c: pg.PoolClient, e: StoreEvent): Promise<unknown> {
    return c.query(this.statements.wake, [this.origin, e.type, e.queue, e.runAt ?? null, e.type === 'cancel-requested' ? e.jobId ?? null : null]);
  }

  hasQueueRow(queue: string): boolean {
    return this.queuesWithRow.has(queue);
  }

  knowQueue(queue: string): void {
    // Bounded: a store fed endless queue names forgets and looks again.
    if (this.queuesWithRow.size >= KNOWN_QUEUES_MAX) this.queuesWithRow.clear();
    this.queuesWithRow.add(queue);
  }
}
